/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What one pass of the audit hands from stage to stage. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "fields.h"
#include "sources.h"

/* What the rollup is held against: it was read between two reads of smaps. */
struct sa_rollup_window {
        const struct sa_smaps_vma *rollup;
        struct sa_smaps_vma before, after;     /* the per-VMA lines summed, on each side */
        uint64_t allowance_kb[SA_PRIVATE + 1]; /* what the target's own changes can explain, both ways */
        uint64_t over_kb, under_kb;            /* and its page faults, for each direction */
        uint64_t fault_kb;                     /* a page per fault the target took during the pass, a PMD per THP event */
        uint64_t stable;                       /* fields to judge */
        uint64_t pss_slack_kb;                 /* per-VMA truncation of the PSS family */
        bool walk_comparable;                  /* nothing moved: rollup-only fields against the walk */
        const struct sa_status *status_before; /* status read before the walk, when its counters moved */
        uint64_t status_anon_kb, status_file_kb; /* and what the window's events could move them by */
};
