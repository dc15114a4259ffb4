/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A capture's pagemap, kpageflags and kpagecount (capture-pages.c): the
 * entries the process maps, copied as sparse files, and whether the
 * mapcounts copied still hold.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ctx.h"
#include "sources.h"

/* Frames copied, as PFN ranges: their kpagecount is read again to see that it held. */
struct sa_capture_frames {
        struct frame_range {
                uint64_t pfn, n;
                size_t vma; /* the index in smaps of the VMA that maps them */
        } *v;
        size_t n, allocated;
        size_t vma;          /* the VMA being copied */
        uint64_t last_block; /* the 2 MiB block copied last, whole */
};

/* every VMA of s, or (copy_again) those of s that copy_again[] names, over what the capture holds */
int sa_capture_pages(struct smapsaudit_ctx *ctx, pid_t from, pid_t pid, int dfd, const struct sa_smaps *s,
                     const bool *copy_again, struct sa_capture_frames *done);
/* Marks in moved[] the VMAs whose copied frames' mapcounts moved since; returns how many. */
int sa_capture_frames_settled(struct smapsaudit_ctx *ctx, int dfd, const struct sa_capture_frames *f, bool *moved);
