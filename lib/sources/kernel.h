/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the rules depend on: the kernel release and config (kernel.c), read once per context. */
#pragma once

#include <stdbool.h>

#include "fields.h"

struct smapsaudit_ctx;

enum sa_mapcount_mode {
        SA_MAPCOUNT_PRECISE, /* CONFIG_PAGE_MAPCOUNT: per-page mapcount */
        SA_MAPCOUNT_AVERAGE, /* CONFIG_NO_PAGE_MAPCOUNT: folio average, "maybe shared" */
};

struct sa_kernel {
        char release[128];
        unsigned major, minor, patch;
        enum sa_mapcount_mode mapcount;
        bool mapcount_known;
        unsigned nr_cpus;
};

const struct sa_kernel *sa_kernel_get(struct smapsaudit_ctx *ctx);
bool sa_kernel_at_least(const struct sa_kernel *k, unsigned major, unsigned minor);
int sa_kernel_parse_release(const char *release, unsigned *major, unsigned *minor, unsigned *patch);
/* How far a status RSS counter (SA_ST_*) may lag the page tables, in pages. */
uint64_t sa_kernel_status_slack_pages(const struct sa_kernel *k, unsigned threads, enum sa_field f);

/* What the system holds now that decides how the walk's bits read: read once per audit. */
struct sa_system_state {
        bool real_swap;    /* swap areas exist: PM_SWAP entries may be real swap */
        bool ksm_possible; /* KSM has a stable tree: KPF_KSM can be true */
};
void sa_system_state_read(struct smapsaudit_ctx *ctx, struct sa_system_state *ret);
