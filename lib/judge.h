/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What churn can explain: the events a window between two reads of a
 * process's memory may contain, the budget they give each field, and the
 * verdicts drawn from it. Pure functions, no I/O (source-events.c reads the
 * counters), unit-tested in tests/unit/test-judge.c.
 */
#pragma once

#include "internal.h"

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

/* What happened between two reads of struct sa_events. */
struct sa_window {
        uint64_t faults, thp_fault, thp_other, moved_pages, ksm_pages;
        bool faults_known; /* the target's fault count was read on both edges */
        bool known;        /* and vmstat too: without it (a capture), a base page per fault, for every field */
};
void sa_window_between(const struct sa_events *a, const struct sa_events *b, struct sa_window *ret);

/* The most one fault maps at once. */
struct sa_fault_units {
        uint64_t anon_kb; /* anonymous: 4 kB, or the largest mTHP size enabled below the PMD */
        uint64_t file_kb; /* file and shmem: a whole large folio may be mapped at once, up to a PMD */
        uint64_t pmd_kb;
};

/* How far churn in a window can move a VMA's fields, either way, kB. */
struct sa_budget {
        uint64_t page_kb; /* fields counted in base pages: Rss, Anonymous, Swap, KSM, ... */
        uint64_t pmd_kb;  /* the PMD-mapped fields, which only THP events move */
};
void sa_budget_for(const struct sa_window *w, const struct sa_fault_units *u, const struct sa_vma_class *c,
                   struct sa_budget *ret);
bool sa_field_pmd_level(enum sa_field f);

/*
 * One field: the kernel read `before_kb` before the walk and `kernel_kb`
 * after it, the walk gave [lo_kb, hi_kb]. Pages the walk saw and the second
 * read did not were dropped after the walk (free: nothing counts a zap) but
 * must have been there at the first read or have come with an event; pages
 * the second read has and the walk did not came with an event.
 */
enum smapsaudit_verdict sa_judge_field(uint64_t before_kb, uint64_t kernel_kb, uint64_t lo_kb, uint64_t hi_kb,
                                       uint64_t budget_kb);

/*
 * Whether a VMA that did not hold still between the reads is decided
 * consistent by a pass where every judged core field agreed within its
 * budget: only if no THP event could have moved its PMD-mapped fields, so
 * what the budget may hide is smaller than any bug the catalogue knows.
 */
bool sa_moving_vma_decided(const struct sa_budget *b, uint64_t disagreements);

/* The Rss left undecided in a process, and whether it could hide a finding. */
struct sa_coverage {
        uint64_t decided_kb, undecided_kb;
        unsigned undecided_vmas, undecided_thp_vmas; /* the latter: large enough to hold a PMD THP */
};
#define SA_UNDECIDED_BOUND_KB 2048ULL
void sa_coverage_add(struct sa_coverage *c, uint64_t rss_kb, uint64_t size_kb, bool decided);
/* The undecided part could hold a disagreement of the size the catalogue's bugs produce. */
bool sa_coverage_open(const struct sa_coverage *c);

/* source-events.c: the counters above, read now; the fault sizes of this kernel, read once per audit. */
void sa_events_read(struct smapsaudit_ctx *ctx, pid_t pid, struct sa_events *ret);
void sa_fault_units_read(struct smapsaudit_ctx *ctx, struct sa_fault_units *ret);
