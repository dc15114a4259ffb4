/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The event budget (docs/report.md, "How noise is kept out"): a difference
 * between the walk and the kernel's reads is churn only if the events of the
 * window could have produced it. No I/O here.
 */
#include <stddef.h>

#include "judge.h"

/*
 * The vmstat events that can make a PMD mapping appear between two reads
 * (mm/vmstat.c vmstat_text, 6.1–6.18). Faults map a PMD folio with
 * thp_fault_alloc (anonymous), thp_file_alloc (shmem) or thp_file_mapped
 * (do_set_pmd); khugepaged and MADV_COLLAPSE with thp_collapse_alloc; a THP
 * migration hides one behind a PMD migration entry and maps it again.
 * Splits, whatever asks for them (ksmd before merging subpages, a partial
 * unmap, the deferred-split shrinker), and THP swap-out only take PMD
 * mappings away and add no page to any field (mm/huge_memory.c
 * __split_huge_pmd_locked and split_huge_page keep every page mapped or
 * behind a migration entry, which smaps and the walk both count as
 * resident; swap-out moves the pages to Swap, counted page by page in
 * pswpout): what fell between the reads was seen by the read before the
 * walk, so they need no budget and are not counted. Fallbacks and
 * failures change nothing.
 */
static const char *const thp_fault_events[] = { "thp_fault_alloc", "thp_file_alloc", "thp_file_mapped" };
static const char *const thp_other_events[] = { "thp_collapse_alloc", "thp_migration_success" };
/* base pages moved under the target without it faulting: swap and migration */
static const char *const moved_events[] = { "pswpin", "pswpout", "pgmigrate_success" };

static bool in_list(const char *key, size_t len, const char *const *list, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (strlen(list[i]) == len && strncmp(key, list[i], len) == 0)
                        return true;
        return false;
}

void sa_events_parse_vmstat(const char *buf, struct sa_events *ret) {
        ret->thp_fault = ret->thp_other = ret->moved_pages = 0;
        ret->have_vmstat = false;
        for (const char *p = buf; p && *p;) {
                const char *eol = strchr(p, '\n'), *sp = strchr(p, ' ');
                uint64_t v;

                if (sp && (!eol || sp < eol) && parse_u64_prefix(sp + 1, &v) >= 0) {
                        size_t len = (size_t) (sp - p);

                        if (in_list(p, len, thp_fault_events, ELEMENTSOF(thp_fault_events)))
                                ret->thp_fault += v;
                        else if (in_list(p, len, thp_other_events, ELEMENTSOF(thp_other_events)))
                                ret->thp_other += v;
                        else if (in_list(p, len, moved_events, ELEMENTSOF(moved_events)))
                                ret->moved_pages += v;
                        if (len == strlen("thp_fault_alloc") && strncmp(p, "thp_fault_alloc", len) == 0)
                                ret->have_vmstat = true;
                }
                p = eol ? eol + 1 : NULL;
        }
}

static uint64_t moved_by(uint64_t a, uint64_t b) {
        /* counters only grow; one that went back was reset (a capture, a reload): say it moved */
        return b >= a ? b - a : UINT64_MAX / 4;
}

static uint64_t moved_either_way(uint64_t a, uint64_t b) {
        return b >= a ? b - a : a - b;
}

void sa_window_between(const struct sa_events *a, const struct sa_events *b, struct sa_window *ret) {
        *ret = (struct sa_window) {
                .faults = moved_by(a->faults, b->faults),
                .thp_fault = moved_by(a->thp_fault, b->thp_fault),
                .thp_other = moved_by(a->thp_other, b->thp_other),
                .moved_pages = moved_by(a->moved_pages, b->moved_pages),
                /* merges add, unmerges and pruning take away */
                .ksm_pages = a->have_ksm && b->have_ksm ? moved_either_way(a->ksm_pages, b->ksm_pages) : 0,
                .faults_known = a->have_faults && b->have_faults,
                .known = a->have_faults && b->have_faults && a->have_vmstat && b->have_vmstat,
        };
}

static uint64_t sat_add(uint64_t a, uint64_t b) {
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t sat_mul(uint64_t a, uint64_t b) {
        return b && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

void sa_budget_for(const struct sa_window *w, const struct sa_fault_units *u, const struct sa_vma_class *c,
                   struct sa_budget *ret) {
        uint64_t unit, thps;

        if (!w->known) {
                uint64_t kb = w->faults_known ? sat_mul(w->faults, SA_PAGE_SIZE / 1024) : 0;
                *ret = (struct sa_budget) { kb, kb };
                return;
        }
        unit = c->hugetlb ? MAX(c->hugetlb_page_size / 1024, (uint64_t) 4) : c->file ? u->file_kb : u->anon_kb;
        /* vmstat counts every process's THP faults: the target's own cannot be more than its faults */
        thps = sat_add(MIN(w->thp_fault, w->faults), w->thp_other);
        ret->pmd_kb = sat_mul(thps, u->pmd_kb);
        ret->page_kb = sat_add(sat_add(sat_mul(w->faults, unit), ret->pmd_kb),
                               sat_mul(sat_add(w->moved_pages, w->ksm_pages), SA_PAGE_SIZE / 1024));
}

bool sa_field_pmd_level(enum sa_field f) {
        return f == SA_ANON_HUGE || f == SA_SHMEM_PMD || f == SA_FILE_PMD;
}

enum smapsaudit_verdict sa_judge_field(uint64_t before_kb, uint64_t kernel_kb, uint64_t lo_kb, uint64_t hi_kb,
                                       uint64_t budget_kb) {
        if (lo_kb > sat_add(MAX(before_kb, kernel_kb), budget_kb))
                return SMAPSAUDIT_UNDER_ACCOUNTED;
        if (kernel_kb > sat_add(hi_kb, budget_kb))
                return SMAPSAUDIT_OVER_ACCOUNTED;
        return SMAPSAUDIT_CONSISTENT;
}

bool sa_moving_vma_decided(const struct sa_budget *b, uint64_t disagreements) {
        return disagreements == 0 && b->pmd_kb == 0;
}

void sa_coverage_add(struct sa_coverage *c, uint64_t rss_kb, uint64_t size_kb, bool decided) {
        if (decided) {
                c->decided_kb += rss_kb;
                return;
        }
        c->undecided_kb += rss_kb;
        c->undecided_vmas++;
        if (size_kb >= SA_UNDECIDED_BOUND_KB)
                c->undecided_thp_vmas++;
}

bool sa_coverage_open(const struct sa_coverage *c) {
        return c->undecided_thp_vmas > 0 || c->undecided_kb >= SA_UNDECIDED_BOUND_KB;
}
