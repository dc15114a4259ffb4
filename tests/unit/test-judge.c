/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The event budget (lib/judge/judge.c): which walk-vs-kernel differences the
 * events of a window can explain, in the shapes the integration tests and
 * the kernel catalogue produce, and when what stays undecided leaves a
 * process inconclusive. Then the judge on whole VMAs (judge-vma.c,
 * verdict.c): each replayed kernel bug of docs/kernel-bugs.md and each
 * noise shape of the integration tests as a row of smaps text, a walk and
 * a window's events, judged over two passes alike; and the KSM bugs the
 * replays show, as ksm-invariants.c judges a process over two rounds.
 */
#include "judge.h"
#include "ksm-coverage.h"
#include "ksm.h"
#include "pass.h"
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

/* One VMA over two passes alike: smaps before and after the walk, the walk, the window's events. */
struct vma_row {
        const char *what;
        const char *a, *b;
        uint64_t rss_kb, anon_huge_kb;  /* the walk: anonymous pages, so Anonymous = Rss */
        uint64_t faults, thp_fault;     /* the target's faults and THP faults between the two reads */
        bool numa_scanned;              /* NUMA balancing on, and it has scanned the mm */
        enum smapsaudit_verdict want;
        const char *want_field;         /* a finding on this field, or NULL for none */
        unsigned want_tags;
};

#define HDR_NONE "7f0000000000-7f0000400000 ---p 00000000 00:00 0 \nSize: 4096 kB\n"
#define HDR_RW "7f0000000000-7f0000400000 rw-p 00000000 00:00 0 \nSize: 4096 kB\n"
#define FLAGS_NONE "VmFlags: mr mw me ac \n"
#define FLAGS_RW "VmFlags: rd wr mr mw me ac \n"
#define ANON(rss, huge) "Rss: " #rss " kB\nAnonymous: " #rss " kB\nAnonHugePages: " #huge " kB\n"
#define THP SMAPSAUDIT_TAG_THP

static const struct vma_row vma_rows[] = {
        /* kernel bugs, as the replays of 6.1 captures show them (tests/replay/, docs/kernel-bugs.md) */
        { "bug 1 (replay-thp-protnone-6.1): smaps skips a PROT_NONE PMD THP", HDR_NONE ANON(0, 0) FLAGS_NONE,
          HDR_NONE ANON(0, 0) FLAGS_NONE, 2048, 2048, 0, 0, false, SMAPSAUDIT_UNDER_ACCOUNTED, "AnonHugePages",
          SMAPSAUDIT_TAG_PROT_NONE | THP },
        { "bug 2 (replay-numa-thp-6.1): smaps skips a NUMA-hinted PMD THP", HDR_RW ANON(4, 0) FLAGS_RW,
          HDR_RW ANON(4, 0) FLAGS_RW, 2052, 2048, 0, 0, true, SMAPSAUDIT_UNDER_ACCOUNTED, "Rss",
          SMAPSAUDIT_TAG_NUMA_HINTED | THP },
        { "bug 2 in a busy heap (qemu-busy-heap-6.1): the THP missing while base pages fault around it",
          HDR_RW ANON(400, 0) FLAGS_RW, HDR_RW ANON(440, 0) FLAGS_RW, 2468, 2048, 10, 0, true,
          SMAPSAUDIT_UNDER_ACCOUNTED, "AnonHugePages", SMAPSAUDIT_TAG_NUMA_HINTED | THP },
        /* noise the integration tests make (tests/integration/): no finding */
        { "consistent THP: nothing to say", HDR_RW ANON(2048, 2048) FLAGS_RW, HDR_RW ANON(2048, 2048) FLAGS_RW,
          2048, 2048, 0, 0, false, SMAPSAUDIT_CONSISTENT, NULL, THP },
        { "ABA (integration-churn): a THP faulted after the walk, both reads after it",
          HDR_RW ANON(2048, 2048) FLAGS_RW, HDR_RW ANON(2048, 2048) FLAGS_RW, 8, 0, 3, 1, false,
          SMAPSAUDIT_CONSISTENT, NULL, THP },
        { "a heap faulting in pages during the pass (integration-busy-heap): the walk between the reads",
          HDR_RW ANON(8, 0) FLAGS_RW, HDR_RW ANON(16, 0) FLAGS_RW, 12, 0, 2, 0, false, SMAPSAUDIT_CONSISTENT,
          NULL, 0 },
        { "pages dropped after the walk (integration-mremap-shrink, -remap): seen before, gone after",
          HDR_RW ANON(64, 0) FLAGS_RW, HDR_RW ANON(32, 0) FLAGS_RW, 64, 0, 0, 0, false, SMAPSAUDIT_CONSISTENT,
          NULL, 0 },
        { "THP faults elsewhere while the VMA moves: what a THP event may hide stays undecided",
          HDR_RW ANON(2048, 2048) FLAGS_RW, HDR_RW ANON(4096, 4096) FLAGS_RW, 2048, 2048, 1, 1, false,
          SMAPSAUDIT_INCONCLUSIVE, NULL, THP },
        { "NUMA hinting without a bug (integration-numa-thp on 6.18): the THP counted", HDR_RW ANON(2048, 2048) FLAGS_RW,
          HDR_RW ANON(2048, 2048) FLAGS_RW, 2048, 2048, 0, 0, true, SMAPSAUDIT_CONSISTENT, NULL,
          SMAPSAUDIT_TAG_NUMA_HINTED | THP },
};

static void walk_of(const struct vma_row *row, struct sa_acc *acc) {
        *acc = (struct sa_acc) {};
        acc->f[SA_RSS] = acc->f[SA_ANONYMOUS] = acc->f[SA_ST_RSS] = acc->f[SA_ST_RSS_ANON] =
                (struct sa_range) { row->rss_kb * 1024, row->rss_kb * 1024 };
        acc->f[SA_ANON_HUGE] = (struct sa_range) { row->anon_huge_kb * 1024, row->anon_huge_kb * 1024 };
        acc->pmd_thps = row->anon_huge_kb / 2048;
        acc->present_pages = row->rss_kb / 4;
}

static void judge_row(const struct vma_row *row) {
        static const struct sa_kernel k618 = { .major = 6, .minor = 18 };
        struct smapsaudit_report *r;
        struct sa_views A = {}, B = {};
        struct sa_judge j;
        size_t idx[1];
        bool walked[1] = { true }, found = false;
        unsigned kinds = 0;

        if (sa_report_new(1, &r) < 0 || sa_smaps_parse(row->a, &A.smaps) < 0 || sa_smaps_parse(row->b, &B.smaps) < 0 ||
            A.smaps.n != 1 || B.smaps.n != 1)
                abort();
        r->numa = (struct sa_numa_state) { .balancing = row->numa_scanned ? 1 : 0, .scan_seq = row->numa_scanned ? 4 : 0 };
        A.ev_start = (struct sa_events) { .have_faults = true, .have_vmstat = true };
        B.ev_end = (struct sa_events) { .faults = row->faults, .thp_fault = row->thp_fault, .have_faults = true,
                                        .have_vmstat = true };
        j = (struct sa_judge) { .r = r, .kernel = &k618, .rollup_done = true, .status_done = true, .units = units };
        if (sa_judge_track_view(&j, &A.smaps, idx) < 0)
                abort();
        for (unsigned pass = 1; pass <= 2; pass++) {
                struct sa_acc walk;
                struct sa_pass p = { .A = &A, .B = &B, .idx = idx, .walks = &walk, .walked = walked };

                walk_of(row, &walk);
                if (sa_judge_vma(&j, &p, 0) < 0)
                        abort();
                sa_acc_done(&walk);
        }
        sa_judge_verdict(&j);
        for (size_t i = 0; i < r->n_findings; i++) {
                kinds |= 1u << r->findings[i].kind;
                found |= row->want_field && streq(r->findings[i].field, row->want_field);
        }
        is_str(smapsaudit_verdict_to_string(r->vmas[0].verdict), smapsaudit_verdict_to_string(row->want), "%s", row->what);
        if (row->want_field)
                ok(found && kinds == 1u << row->want, "%s: a finding on %s", row->what, row->want_field);
        else
                is_u64(r->n_findings, 0, "%s: no finding", row->what);
        is_hex(r->vmas[0].tags, row->want_tags, "%s: tags", row->what);
        sa_judge_done(&j);
        sa_smaps_done(&A.smaps);
        sa_smaps_done(&B.smaps);
        smapsaudit_report_unref(r);
}

static void test_vma_rows(void) {
        for (size_t i = 0; i < ELEMENTSOF(vma_rows); i++)
                judge_row(&vma_rows[i]);
}

/* One process's KSM books over two stable rounds alike (ksm-invariants.c, as ksm-rounds.c runs them). */
struct ksm_row {
        const char *what;
        int64_t merging, rmap_items;     /* ksm_stat */
        uint64_t ksm_pages;              /* the walk: KPF_KSM pages mapped in the mergeable VMAs */
        bool running, scanned, cow;      /* ksmd runs; a full scan, a KSM copy on write between the rounds */
        const char *inv;
        enum sa_ksm_verdict want;
};

static const struct ksm_row ksm_rows[] = {
        /* bug 4: a forked child inherits its parent's ksm_merging_pages but maps no KSM page of its own */
        { "bug 4 (replay-ksm-fork-6.1): inherited merging pages, no full scan yet: a lag", 64, 64, 0, true, false,
          false, "merging_le_mapped", SA_KSM_LAG },
        { "bug 4 (replay-ksm-fork-scanned-6.1): the same after a complete full scan: violated", 64, 64, 0, true, true,
          false, "merging_le_mapped", SA_KSM_VIOLATED },
        { "ksmd stopped with the difference: stale or lagging, never a finding", 64, 64, 0, false, true, false,
          "merging_le_mapped", SA_KSM_LAG },
        /* noise the KSM integration tests make */
        { "merged pages all mapped (integration-ksm): holds", 64, 64, 64, true, true, false, "merging_le_mapped",
          SA_KSM_HOLDS },
        { "pages copied on write between the rounds (integration-ksm-volatile): not confirmed", 64, 64, 0, true,
          true, true, "merging_le_mapped", SA_KSM_LAG },
        { "more merging pages than rmap_items, twice alike: violated at once (strict)", 80, 64, 80, true, false,
          false, "merging_le_rmap_items", SA_KSM_VIOLATED },
};

static const struct sa_ksm_inv *inv_named(const struct sa_ksm_inv *invs, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (streq(invs[i].name, name))
                        return &invs[i];
        return NULL;
}

static void test_ksm_rows(void) {
        const struct sa_ksm_env env = { .page_size = 4096, .rmap_item_size = SA_KSM_RMAP_ITEM_SIZE };

        for (size_t i = 0; i < ELEMENTSOF(ksm_rows); i++) {
                const struct ksm_row *row = &ksm_rows[i];
                const struct sa_ksm_proc p = {
                        .pid = 1, .stat = { .merging_pages = row->merging, .rmap_items = row->rmap_items,
                                            .have = SA_KSM_STAT_MERGING | SA_KSM_STAT_RMAP_ITEMS },
                        .stat_stable = true, .walked = true, .smaps_stable = true, .active = true,
                        .ksm_pages = row->ksm_pages,
                };
                struct sa_ksm_inv first[SA_KSM_PROC_INVS], second[SA_KSM_PROC_INVS];
                size_t n = sa_ksm_judge_process(&p, &env, true, first);
                const struct sa_ksm_inv *v;

                for (size_t k = 0; k < n; k++)
                        sa_ksm_inv_judge(&first[k], row->running);
                is_u64(sa_ksm_judge_process(&p, &env, true, second), n, "%s: the same invariants each round", row->what);
                for (size_t k = 0; k < n; k++) {
                        sa_ksm_inv_judge(&second[k], row->running);
                        sa_ksm_inv_confirm(&second[k], inv_named(first, n, second[k].name), row->scanned, row->cow);
                        sa_ksm_inv_finish(&second[k]);
                }
                v = inv_named(second, n, row->inv);
                is_str(v ? sa_ksm_verdict_to_string(v->verdict) : "absent", sa_ksm_verdict_to_string(row->want), "%s",
                       row->what);
        }
}

/* Merge coverage of two identical pages of one VMA (ksm-coverage-judge.c), bug 3 and its noise. */
struct cov_row {
        const char *what;
        const char *perms;
        enum sa_ksm_page st2;            /* what the pages are at the second reading */
        int64_t scans;                   /* complete full scans between the readings */
        bool cow;                        /* cow_ksm moved, and the process's counters did not hold still */
        enum sa_cov_verdict want;
        unsigned want_tags;
};

static const struct cov_row cov_rows[] = {
        { "bug 3 (replay-ksm-coverage-6.1): identical PROT_NONE pages never merged", "---p", SA_KSM_PAGE_PLAIN, 3,
          false, SA_COV_UNMERGED, SMAPSAUDIT_TAG_PROT_NONE | SMAPSAUDIT_TAG_KSM_MERGEABLE },
        { "the same pages merged (6.12, host): complete", "---p", SA_KSM_PAGE_KSM, 3, false, SA_COV_COMPLETE,
          SMAPSAUDIT_TAG_PROT_NONE | SMAPSAUDIT_TAG_KSM | SMAPSAUDIT_TAG_KSM_MERGEABLE },
        { "one full scan only: not judged", "rw-p", SA_KSM_PAGE_PLAIN, 1, false, SA_COV_NOT_JUDGED,
          SMAPSAUDIT_TAG_KSM_MERGEABLE },
        { "merged and broken again meanwhile (integration-ksm-volatile): unconfirmed", "rw-p", SA_KSM_PAGE_PLAIN, 3,
          true, SA_COV_UNCONFIRMED, SMAPSAUDIT_TAG_KSM_MERGEABLE },
};

static void test_cov_rows(void) {
        for (size_t i = 0; i < ELEMENTSOF(cov_rows); i++) {
                const struct cov_row *row = &cov_rows[i];
                const pid_t pid = 1;
                struct sa_ksm_coverage *c;

                if (sa_cov_new(NULL, &pid, 1, NULL, &c) < 0 ||
                    sa_cov_add_vma(&c->procs[0], 0x7f0000000000, 0x7f0000002000, row->perms, SA_VMF(SA_VM_MG)) < 0)
                        abort();
                for (uint64_t k = 0; k < 2; k++) {
                        const struct sa_cov_page pg = {
                                .addr = 0x7f0000000000 + k * SA_PAGE_SIZE, .pfn1 = 0x1000 + k,
                                .pfn2 = row->st2 == SA_KSM_PAGE_KSM ? 0x5000 : 0x1000 + k, .kpc2 = 1, .h1 = 42, .h2 = 42,
                                .cls = 1, .node = 0, .st1 = SA_KSM_PAGE_PLAIN, .st2 = row->st2, .read1 = true,
                                .read2 = true,
                        };
                        if (sa_cov_push_page(c, &pg) < 0)
                                abort();
                }
                c->n_classes = 1;
                c->have_g = true;
                for (unsigned g = 0; g < 4; g++)
                        c->g[g] = (struct sa_ksm_globals) {
                                .sys = { .run = 1, .full_scans = 10 + (g >= 2 ? row->scans + 1 : 0),
                                         .have = SA_KSM_SYS_RUN | SA_KSM_SYS_FULL_SCANS },
                                .smart_scan = -1, .pages_skipped = -1, .cow_ksm = row->cow && g == 3 ? 1 : 0,
                        };
                sa_cov_evaluate(c);
                is_u64(c->procs[0].vmas[0].verdict, row->want, "%s", row->what);
                is_hex(c->procs[0].vmas[0].tags, row->want_tags, "%s: tags", row->what);
                sa_ksm_coverage_free(c);
        }
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
        test_vma_rows();
        test_ksm_rows();
        test_cov_rows();
        test_splits();
        return tap_done();
}
