/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The event budget (lib/judge.c): which walk-vs-kernel differences the
 * events of a window can explain, in the shapes the integration tests and
 * the kernel catalogue produce, and when what stays undecided leaves a
 * process inconclusive.
 */
#include "judge.h"
#include "tap.h"

static const struct sa_fault_units units = { .anon_kb = 4, .file_kb = 2048, .pmd_kb = 2048 };

static void test_vmstat(void) {
        static const char text[] =
                "nr_free_pages 1000\n"
                "pswpin 3\npswpout 4\npgmigrate_success 5\npgmigrate_fail 100\n"
                "thp_migration_success 1\nthp_fault_alloc 7\nthp_fault_fallback 900\nthp_collapse_alloc 2\n"
                "thp_file_alloc 1\nthp_file_mapped 1\nthp_split_pmd 3\nthp_zero_page_alloc 50\nthp_swpout 1\n"
                "thp_fault_alloc_x 99\n";
        struct sa_events e = {};

        sa_events_parse_vmstat(text, &e);
        ok(e.have_vmstat, "thp_fault_alloc present: vmstat known");
        is_u64(e.thp_fault, 9, "fault THPs: thp_fault_alloc + thp_file_alloc + thp_file_mapped");
        is_u64(e.thp_other, 3, "other THP events: migration, collapse; not splits, swap-out, fallbacks or zero page");
        is_u64(e.moved_pages, 12, "moved pages: pswpin + pswpout + pgmigrate_success");
        sa_events_parse_vmstat("nr_free_pages 1\n", &e);
        ok(!e.have_vmstat, "a vmstat without THP counters (no CONFIG_TRANSPARENT_HUGEPAGE) is not known");
}

static void test_window(void) {
        struct sa_events a = { .faults = 10, .thp_fault = 100, .ksm_pages = 50, .have_faults = true,
                               .have_vmstat = true, .have_ksm = true };
        struct sa_events b = a;
        struct sa_window w;

        b.faults = 13;
        b.thp_fault = 101;
        b.ksm_pages = 20;
        sa_window_between(&a, &b, &w);
        ok(w.known, "both edges read");
        is_u64(w.faults, 3, "faults in the window");
        is_u64(w.thp_fault, 1, "THP faults in the window");
        is_u64(w.ksm_pages, 30, "KSM pages unmerged count as movement too");
        b.faults = 5;
        sa_window_between(&a, &b, &w);
        ok(w.faults > 1000000, "a counter that went back (PID reuse, reset) explains anything");
        b = a;
        b.have_vmstat = false;
        sa_window_between(&a, &b, &w);
        ok(!w.known && w.faults_known, "vmstat missing on one edge: only faults known");
}

/* One row: a window's events, a VMA's class, the two kernel reads and the walk, the verdict expected. */
struct row {
        const char *what;
        struct sa_window w;
        bool file, hugetlb;
        enum sa_field f;
        uint64_t before_kb, kernel_kb, walk_kb;
        enum smapsaudit_verdict want;
};

#define W(faults_, thp_fault_, thp_other_, moved_, ksm_)                                                     \
        { .faults = faults_, .thp_fault = thp_fault_, .thp_other = thp_other_, .moved_pages = moved_,      \
          .ksm_pages = ksm_, .faults_known = true, .known = true }

static const struct row rows[] = {
        /* 17.1: the range mapped again with another shape between two reads that match */
        { "ABA: THP read twice, walk saw two pages, a THP fault after the walk", W(3, 1, 0, 0, 0), false, false,
          SA_ANON_HUGE, 2048, 2048, 0, SMAPSAUDIT_CONSISTENT },
        { "ABA: Rss of the same", W(3, 1, 0, 0, 0), false, false, SA_RSS, 2048, 2048, 8, SMAPSAUDIT_CONSISTENT },
        { "ABA: two pages read twice, walk saw a THP faulted before it", W(3, 1, 0, 0, 0), false, false,
          SA_ANON_HUGE, 0, 0, 2048, SMAPSAUDIT_CONSISTENT },
        { "ABA: THP before, two pages after: the fall was seen", W(2, 0, 0, 0, 0), false, false, SA_ANON_HUGE,
          2048, 0, 2048, SMAPSAUDIT_CONSISTENT },
        { "global THP faults are capped by the target's own faults", W(0, 40, 0, 0, 0), false, false,
          SA_ANON_HUGE, 0, 0, 2048, SMAPSAUDIT_UNDER_ACCOUNTED },
        /* 12: the busy heap, 64 MiB of NUMA-hinted THPs missing while the other half churns */
        { "busy heap on 6.1: 32 THPs missing, no THP event", W(2000, 0, 0, 0, 0), false, false, SA_ANON_HUGE,
          0, 0, 65536, SMAPSAUDIT_UNDER_ACCOUNTED },
        { "busy heap on 6.1: Rss 64 MiB short, 8 MiB of faults", W(2000, 0, 0, 0, 0), false, false, SA_RSS, 6868,
          6900, 72332, SMAPSAUDIT_UNDER_ACCOUNTED },
        { "busy heap on 6.1: two THP events do not explain 32 THPs", W(2000, 2, 0, 0, 0), false, false,
          SA_ANON_HUGE, 0, 0, 65536, SMAPSAUDIT_UNDER_ACCOUNTED },
        { "busy heap on 6.12: the churning half moved 400 kB", W(2000, 0, 0, 0, 0), false, false, SA_RSS, 72000,
          72400, 72332, SMAPSAUDIT_CONSISTENT },
        { "pages dropped after the walk: the kernel's own reads saw the fall", W(0, 0, 0, 0, 0), false, false,
          SA_RSS, 9000, 5000, 9000, SMAPSAUDIT_CONSISTENT },
        { "pages the walk saw that neither read had and no event made", W(0, 0, 0, 0, 0), false, false, SA_RSS,
          5000, 5000, 9000, SMAPSAUDIT_UNDER_ACCOUNTED },
        /* the catalogue on a process that holds still */
        { "PROT_NONE THPs missing (6.1-6.4), quiet", W(0, 0, 0, 0, 0), false, false, SA_ANON_HUGE, 0, 0, 16384,
          SMAPSAUDIT_UNDER_ACCOUNTED },
        { "kernel one page above a quiet walk", W(0, 0, 0, 0, 0), false, false, SA_RSS, 16388, 16388, 16384,
          SMAPSAUDIT_OVER_ACCOUNTED },
        { "kernel one page above, one fault in the window", W(1, 0, 0, 0, 0), false, false, SA_RSS, 16388, 16388,
          16384, SMAPSAUDIT_CONSISTENT },
        /* 17.2: KSM's first merges during a pass */
        { "KSM first merge: 1833 pages merged in the window", W(0, 0, 0, 0, 1833), false, false, SA_KSM, 0, 7332,
          0, SMAPSAUDIT_CONSISTENT },
        { "KSM over by 7332 kB with KSM quiet", W(0, 0, 0, 0, 0), false, false, SA_KSM, 7332, 7332, 0,
          SMAPSAUDIT_OVER_ACCOUNTED },
        /* what one fault maps */
        { "file fault maps a whole large folio", W(1, 0, 0, 0, 0), true, false, SA_RSS, 0, 2048, 0,
          SMAPSAUDIT_CONSISTENT },
        { "anonymous fault maps one page", W(1, 0, 0, 0, 0), false, false, SA_RSS, 0, 2048, 0,
          SMAPSAUDIT_OVER_ACCOUNTED },
        { "swap-out moves pages to Swap without a fault", W(0, 0, 0, 256, 0), false, false, SA_SWAP, 0, 1024, 0,
          SMAPSAUDIT_CONSISTENT },
        { "PMD fields ignore base-page faults", W(600, 0, 0, 0, 0), false, false, SA_ANON_HUGE, 2048, 2048, 0,
          SMAPSAUDIT_OVER_ACCOUNTED },
        { "khugepaged collapse explains a new THP", W(0, 0, 1, 0, 0), false, false, SA_ANON_HUGE, 0, 2048, 0,
          SMAPSAUDIT_CONSISTENT },
        { "hugetlb faults map a whole huge page", W(1, 0, 0, 0, 0), false, true, SA_RSS, 0, 2048, 0,
          SMAPSAUDIT_CONSISTENT },
};

static void test_rows(void) {
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                const struct row *r = &rows[i];
                struct sa_vma_class c = { .file = r->file, .hugetlb = r->hugetlb,
                                          .hugetlb_page_size = r->hugetlb ? 2 << 20 : 0 };
                struct sa_budget b;

                sa_budget_for(&r->w, &units, &c, &b);
                is_i64(sa_judge_field(r->before_kb, r->kernel_kb, r->walk_kb, r->walk_kb,
                                      sa_field_pmd_level(r->f) ? b.pmd_kb : b.page_kb),
                       r->want, "%s", r->what);
        }
}

static void test_budget(void) {
        struct sa_vma_class anon = {};
        struct sa_window w = W(10, 0, 0, 0, 0);
        struct sa_fault_units mthp = units;
        struct sa_budget b;

        sa_budget_for(&w, &units, &anon, &b);
        is_u64(b.page_kb, 40, "ten anonymous faults: 40 kB");
        is_u64(b.pmd_kb, 0, "no THP event: the PMD fields have no slack");
        ok(sa_moving_vma_decided(&b, 0), "agreeing without THP events: decided");
        ok(!sa_moving_vma_decided(&b, 1), "disagreeing: not decided");
        mthp.anon_kb = 64;
        sa_budget_for(&w, &mthp, &anon, &b);
        is_u64(b.page_kb, 640, "64 kB mTHP enabled: 64 kB a fault");
        w.thp_fault = 1;
        sa_budget_for(&w, &units, &anon, &b);
        is_u64(b.pmd_kb, 2048, "a THP fault: one PMD");
        is_u64(b.page_kb, 40 + 2048, "and the base-page fields get it too");
        ok(!sa_moving_vma_decided(&b, 0), "a THP event in the window: a moving VMA stays undecided");
        w = (struct sa_window) { .faults = 3, .faults_known = true };
        sa_budget_for(&w, &units, &anon, &b);
        is_u64(b.page_kb, 12, "a capture without vmstat: a page per fault");
        is_u64(b.pmd_kb, 12, "for the PMD fields too, as before the event budget");
}

static void test_coverage(void) {
        struct sa_coverage c = {};

        sa_coverage_add(&c, 70000, 131072, true);
        sa_coverage_add(&c, 256, 256, false);
        sa_coverage_add(&c, 1024, 1024, false);
        is_u64(c.decided_kb, 70000, "decided Rss");
        is_u64(c.undecided_kb, 1280, "undecided Rss");
        ok(!sa_coverage_open(&c), "two small undecided VMAs, 1280 kB: the rest is judged");
        sa_coverage_add(&c, 1024, 1024, false);
        ok(sa_coverage_open(&c), "undecided Rss reaches one PMD: inconclusive");
        c = (struct sa_coverage) {};
        sa_coverage_add(&c, 8, 2048, false);
        ok(sa_coverage_open(&c), "an undecided VMA that can hold a PMD THP: inconclusive");
}

/*
 * ksmd splits every THP it merges into, and other processes split theirs by partial
 * unmaps: vmstat counts them all. A split only takes PMD mappings away, so a busy
 * heap is still decided while they happen, and the 6.1 heap is still caught.
 */
static void test_splits(void) {
        static const char before[] = "thp_fault_alloc 5\nthp_collapse_alloc 1\nthp_migration_success 0\n"
                                     "thp_split_page 100\nthp_split_pmd 200\nthp_underused_split_page 3\n"
                                     "thp_migration_split 0\nthp_swpout 0\n";
        static const char splits[] = "thp_fault_alloc 5\nthp_collapse_alloc 1\nthp_migration_success 0\n"
                                     "thp_split_page 140\nthp_split_pmd 260\nthp_underused_split_page 9\n"
                                     "thp_migration_split 2\nthp_swpout 4\n";
        static const char collapse[] = "thp_fault_alloc 5\nthp_collapse_alloc 2\nthp_migration_success 0\n"
                                       "thp_split_page 100\nthp_split_pmd 200\nthp_underused_split_page 3\n"
                                       "thp_migration_split 0\nthp_swpout 0\n";
        struct sa_events a = { .faults = 100, .have_faults = true }, b = a;
        struct sa_vma_class anon = {};
        struct sa_window w;
        struct sa_budget budget;

        b.faults = 300;
        sa_events_parse_vmstat(before, &a);
        sa_events_parse_vmstat(splits, &b);
        sa_window_between(&a, &b, &w);
        sa_budget_for(&w, &units, &anon, &budget);
        is_u64(budget.pmd_kb, 0, "110 splits and 4 THP swap-outs: no PMD budget");
        is_u64(budget.page_kb, 800, "200 anonymous faults: 800 kB");
        ok(sa_moving_vma_decided(&budget, 0), "a moving heap that agrees is decided while ksmd splits THPs");
        is_i64(sa_judge_field(0, 0, 65536, 65536, budget.pmd_kb), SMAPSAUDIT_UNDER_ACCOUNTED,
               "busy heap on 6.1 while ksmd splits: 32 THPs missing still under-accounted");
        is_i64(sa_judge_field(4096, 0, 4096, 4096, budget.pmd_kb), SMAPSAUDIT_CONSISTENT,
               "THPs split after the walk: the read before it saw them");
        sa_events_parse_vmstat(collapse, &b);
        sa_window_between(&a, &b, &w);
        sa_budget_for(&w, &units, &anon, &budget);
        is_u64(budget.pmd_kb, 2048, "a collapse can map a PMD: one THP of budget");
        ok(!sa_moving_vma_decided(&budget, 0), "a window with a collapse decides no moving VMA");
}

int main(void) {
        test_vmstat();
        test_window();
        test_rows();
        test_budget();
        test_coverage();
        test_splits();
        return tap_done();
}
