/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The counters that say what could have changed a process's pages, and how
 * much one fault maps: read by source-events.c, weighed by judge.c.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct smapsaudit_ctx;

/* Counters that say what could have changed a process's pages, read at one moment. */
struct sa_events {
        uint64_t faults;      /* the target's minflt + majflt */
        uint64_t thp_fault;   /* vmstat: PMD-sized folios mapped by a fault */
        uint64_t thp_other;   /* vmstat: PMD mappings made or moved without a fault (not splits) */
        uint64_t moved_pages; /* vmstat: base pages swapped in or out, or migrated */
        uint64_t ksm_pages;   /* KSM's pages_shared + pages_sharing */
        bool have_faults, have_vmstat, have_ksm;
};

/* The vmstat part of struct sa_events, from /proc/vmstat's text. */
void sa_events_parse_vmstat(const char *buf, struct sa_events *ret);

/* The most one fault maps at once. */
struct sa_fault_units {
        uint64_t anon_kb; /* anonymous: 4 kB, or the largest mTHP size enabled below the PMD */
        uint64_t file_kb; /* file and shmem: a whole large folio may be mapped at once, up to a PMD */
        uint64_t pmd_kb;
};

/* The counters above, read now; the fault sizes of this kernel, read once per audit. */
void sa_events_read(struct smapsaudit_ctx *ctx, pid_t pid, struct sa_events *ret);
void sa_fault_units_read(struct smapsaudit_ctx *ctx, struct sa_fault_units *ret);
