/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * smaps_rollup under mmap_lock contention: the shape (written VMAs and a churning thread) and the
 * kernel held against itself (each rollup read between two smaps reads). The probe uses both;
 * tests/kernels/kworkload runs them as its rollup-churn and rollup-probe.
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/* What the churn thread maps, touches and unmaps in a loop. */
#define ROLLUP_CHURN_KB 8

/* In this process: vmas written anonymous VMAs of vma_kb, each followed by a hole, and the churn
 * thread. The first VMA's start and the last one's end in *ret_first, *ret_last_end. */
int rollup_churn_start(unsigned vmas, unsigned vma_kb, uintptr_t *ret_first, uintptr_t *ret_last_end);
/* Stops the churn thread; how many rounds it made. */
unsigned long rollup_churn_stop(void);

struct rollup_counts {
        unsigned reads;
        unsigned identical;           /* reads whose two smaps reads had the same VMAs and Rss */
        unsigned below_any;           /* rollup reads below the VMAs stable around them at all */
        unsigned below_by_a_vma;      /* ... by at least vma_kb: VMAs were skipped */
        uint64_t worst_below_kb;
        unsigned below_sandwich_by_a_vma; /* rollup below both smaps totals by at least vma_kb */
        uint64_t worst_below_sandwich_kb;
        uint64_t stable_max_kb;
        uint64_t rollup_min_kb, rollup_max_kb;
        double seconds;
};

/* reads times: /proc/PID/smaps, smaps_rollup, smaps again. -ESRCH when the process went away. */
int rollup_sandwich(pid_t pid, unsigned reads, unsigned vma_kb, struct rollup_counts *c);
