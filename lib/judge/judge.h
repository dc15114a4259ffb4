/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What churn can explain: the events a window between two reads of a
 * process's memory may contain, the budget they give each field, and the
 * verdicts drawn from it (judge.c); and the kernel's numbers held against
 * the walk's, field by field (compare.c). Pure functions, no I/O
 * (source-events.c reads the counters), unit-tested in tests/unit/.
 */
#pragma once

#include "account.h"
#include "events.h"
#include "fields.h"
#include "kernel.h"
#include "report.h"
#include "sources.h"

/* What happened between two reads of struct sa_events. */
struct sa_window {
        uint64_t faults, thp_fault, thp_other, moved_pages, ksm_pages;
        bool faults_known; /* the target's fault count was read on both edges */
        bool known;        /* and vmstat too: without it (a capture), a base page per fault, for every field */
};
void sa_window_between(const struct sa_events *a, const struct sa_events *b, struct sa_window *ret);

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

/* compare.c: the kernel's numbers held against the walk's, field by field. */

/*
 * Exact fields that only the target's own page tables move. The
 * mapcount-derived ones (Pss, the shared/private split, Locked) also move
 * whenever any other process maps or unmaps a shared page, which on a busy
 * machine is all the time: their instability says nothing about the target.
 */
#define CORE_FIELDS ((1ULL << SA_RSS) | (1ULL << SA_ANONYMOUS) | (1ULL << SA_KSM) | (1ULL << SA_ANON_HUGE) | \
                     (1ULL << SA_SHMEM_PMD) | (1ULL << SA_FILE_PMD) | (1ULL << SA_SHARED_HUGETLB) |            \
                     (1ULL << SA_PRIVATE_HUGETLB) | (1ULL << SA_SWAP))
#define MAPCOUNT_FIELDS ((1ULL << SA_PSS) | (1ULL << SA_SHARED) | (1ULL << SA_PRIVATE) | (1ULL << SA_LOCKED))
/* and every field whose range the shared/private decision moves */
#define MAPCOUNT_SENSITIVE (MAPCOUNT_FIELDS | (1ULL << SA_PSS_DIRTY) | (1ULL << SA_SHARED_CLEAN) |              \
                            (1ULL << SA_SHARED_DIRTY) | (1ULL << SA_PRIVATE_CLEAN) | (1ULL << SA_PRIVATE_DIRTY) | \
                            (1ULL << SA_SWAP_PSS))

/* A field as smaps printed it (kB), Shared and Private summed from their parts. */
uint64_t sa_smaps_value(const struct sa_smaps_vma *k, enum sa_field f, bool *have);
/* The fields a smaps entry printed, with the Shared/Private sums. */
uint64_t sa_smaps_printed(const struct sa_smaps_vma *k);
/* Same VMA, and its core fields held still between the two reads. */
bool sa_smaps_core_stable(const struct sa_smaps_vma *a, const struct sa_smaps_vma *b);
uint64_t sa_stable_fields(const struct sa_smaps_vma *a, const struct sa_smaps_vma *b);
void sa_compare_vma(struct sa_vma_report *v, uint64_t stable, bool nodes);
/* A disagreement mask: bit f under-, bit f+32 over-accounted; bit 31 numa_maps. */
uint64_t sa_disagreements(const struct sa_field_cmp *cmp, size_t n);
struct sa_rollup_window;
/* status is NULL when its counters moved around the walk. */
void sa_compare_totals(struct smapsaudit_report *r, const struct sa_rollup_window *w, const struct sa_acc *walk,
                       const struct sa_status *st, const struct sa_kernel *k);
int sa_findings_from_vma(struct smapsaudit_report *r, const struct sa_vma_report *v, uint64_t confirmed);
int sa_findings_from_totals(struct smapsaudit_report *r, uint64_t confirmed_rollup, uint64_t confirmed_status);
