/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The comparison rules: sa_field_to_kb() truncation, sa_compare_vma()
 * verdicts for a kernel value below, inside and above the walk's range,
 * stability and rollup-only fields, numa_maps per node, the disagreement
 * mask, the totals against smaps_rollup and status, and the findings.
 */
#include "judge.h"
#include "pass.h"
#include "tap.h"

#define KIB 1024ULL
#define PSS(kb) (((uint64_t) (kb) * KIB) << SA_PSS_SHIFT)

static void test_to_kb(void) {
        is_u64(sa_field_to_kb(SA_RSS, 8192 * KIB), 8192, "Rss bytes -> kB");
        is_u64(sa_field_to_kb(SA_RSS, 4095), 3, "Rss 4095 bytes truncates to 3 kB");
        is_u64(sa_field_to_kb(SA_PSS, PSS(4)), 4, "Pss 4 kB << 12");
        is_u64(sa_field_to_kb(SA_PSS, PSS(4) - 1), 3, "Pss one unit under 4 kB prints 3");
        is_u64(sa_field_to_kb(SA_PSS, 3 * ((4096ULL << 12) / 3)), 3,
               "three thirds of a page (16777215) print as 3 kB, not 4");
        is_u64(sa_field_to_kb(SA_PSS, (4096ULL << 12) / 3), 1, "one third of a page prints as 1 kB");
        is_u64(sa_field_to_kb(SA_PSS_ANON, PSS(2048)), 2048, "Pss_Anon is a PSS unit");
        is_u64(sa_field_to_kb(SA_SWAP_PSS, PSS(12)), 12, "SwapPss is a PSS unit");
        is_u64(sa_field_to_kb(SA_LOCKED, PSS(8)), 8, "Locked is a PSS unit (it is Pss of locked VMAs)");
        is_u64(sa_field_to_kb(SA_ANON_HUGE, 2 << 20), 2048, "AnonHugePages bytes");
        is_u64(sa_field_to_kb(SA_ST_RSS, 4096), 4, "status VmRSS bytes");
        is_i64(sa_field_from_name("AnonHugePages"), SA_ANON_HUGE, "field by name");
        is_i64(sa_field_from_name("Pss_Shmem"), SA_PSS_SHMEM, "Pss_Shmem by name");
        is_i64(sa_field_from_name("VmRSS"), SA_ST_RSS, "status field by name");
        is_i64(sa_field_from_name("Nonsense"), -ENOENT, "unknown name");
        ok(sa_fields[SA_PSS_ANON].rollup_only && !sa_fields[SA_PSS].rollup_only, "Pss_Anon only in the rollup");
}

static void set_kernel(struct sa_vma_report *v, enum sa_field f, uint64_t kb) {
        v->kernel.kb[f] = kb;
        v->kernel.have |= 1ULL << f;
}

static void set_walk(struct sa_vma_report *v, enum sa_field f, uint64_t lo, uint64_t hi) {
        v->walk.f[f].lo = lo;
        v->walk.f[f].hi = hi;
}

static void test_vma(void) {
        struct sa_vma_report v = {};
        const uint64_t all = ~0ULL;

        v.kernel.start = 0x7f0000000000;
        v.kernel.end = 0x7f0001000000;
        set_kernel(&v, SA_RSS, 16384);
        set_kernel(&v, SA_ANON_HUGE, 16384);
        set_kernel(&v, SA_PSS, 16384);
        set_walk(&v, SA_RSS, 16384 * KIB, 16384 * KIB);
        set_walk(&v, SA_ANON_HUGE, 16384 * KIB, 16384 * KIB);
        set_walk(&v, SA_PSS, PSS(16384), PSS(16384));
        sa_compare_vma(&v, all, false);
        is_i64(v.verdict, SMAPSAUDIT_CONSISTENT, "kernel = walk: consistent");
        ok(v.cmp[SA_RSS].judged, "Rss judged");
        ok(!v.cmp[SA_KSM].judged, "a field the kernel did not print is not judged");
        is_u64(v.cmp[SA_RSS].kernel_kb, 16384, "kernel_kb kept");
        is_u64(v.cmp[SA_RSS].walk_lo_kb, 16384, "walk_lo_kb");

        /* the 6.1 bug: PROT_NONE PMD THPs missing from smaps */
        set_kernel(&v, SA_RSS, 0);
        set_kernel(&v, SA_ANON_HUGE, 0);
        sa_compare_vma(&v, all, false);
        is_i64(v.verdict, SMAPSAUDIT_UNDER_ACCOUNTED, "kernel below the walk: under-accounted");
        is_i64(v.cmp[SA_RSS].verdict, SMAPSAUDIT_UNDER_ACCOUNTED, "Rss under");
        is_i64(v.cmp[SA_ANON_HUGE].verdict, SMAPSAUDIT_UNDER_ACCOUNTED, "AnonHugePages under");
        is_i64(v.cmp[SA_PSS].verdict, SMAPSAUDIT_CONSISTENT, "Pss still consistent");
        {
                uint64_t m = sa_disagreements(v.cmp, _SA_FIELD_MAX);
                is_hex(m, (1ULL << SA_RSS) | (1ULL << SA_ANON_HUGE), "disagreement mask: Rss and AnonHugePages under");
        }

        /* unstable fields are not judged */
        sa_compare_vma(&v, all & ~((1ULL << SA_RSS) | (1ULL << SA_ANON_HUGE)), false);
        is_i64(v.verdict, SMAPSAUDIT_CONSISTENT, "unstable fields are never a verdict");
        ok(!v.cmp[SA_RSS].judged, "unstable Rss not judged");

        /* above the range */
        set_kernel(&v, SA_RSS, 16388);
        set_kernel(&v, SA_ANON_HUGE, 16384);
        sa_compare_vma(&v, all, false);
        is_i64(v.verdict, SMAPSAUDIT_OVER_ACCOUNTED, "kernel above the walk: over-accounted");
        is_hex(sa_disagreements(v.cmp, _SA_FIELD_MAX), 1ULL << (SA_RSS + 32), "mask: Rss over (bit f + 32)");

        /* under beats over */
        set_kernel(&v, SA_ANON_HUGE, 2048);
        sa_compare_vma(&v, all, false);
        is_i64(v.verdict, SMAPSAUDIT_UNDER_ACCOUNTED, "one field under, one over: under-accounted");

        /* inside a range: approximate fields */
        set_kernel(&v, SA_RSS, 16384);
        set_kernel(&v, SA_ANON_HUGE, 16384);
        set_kernel(&v, SA_PRIVATE_DIRTY, 100);
        set_walk(&v, SA_PRIVATE_DIRTY, 0, 16384 * KIB);
        set_kernel(&v, SA_REFERENCED, 16384);
        set_walk(&v, SA_REFERENCED, 4 * KIB, 16384 * KIB);
        sa_compare_vma(&v, all, false);
        is_i64(v.verdict, SMAPSAUDIT_CONSISTENT, "kernel inside [lo, hi]: consistent");
        is_i64(v.cmp[SA_PRIVATE_DIRTY].verdict, SMAPSAUDIT_CONSISTENT, "Private_Dirty within range");
        set_kernel(&v, SA_REFERENCED, 0);
        sa_compare_vma(&v, all, false);
        is_i64(v.cmp[SA_REFERENCED].verdict, SMAPSAUDIT_UNDER_ACCOUNTED, "Referenced below its lower bound");
        set_kernel(&v, SA_REFERENCED, 16384);

        /* PSS truncation: three thirds of a page are 3 kB in both */
        set_kernel(&v, SA_PSS, 3);
        set_walk(&v, SA_PSS, 3 * ((4096ULL << 12) / 3), 3 * ((4096ULL << 12) / 3));
        sa_compare_vma(&v, all, false);
        is_i64(v.cmp[SA_PSS].verdict, SMAPSAUDIT_CONSISTENT, "Pss 3 kB vs three thirds of a page: consistent");
        set_kernel(&v, SA_PSS, 4);
        sa_compare_vma(&v, all, false);
        is_i64(v.cmp[SA_PSS].verdict, SMAPSAUDIT_OVER_ACCOUNTED, "Pss 4 kB vs three thirds: over");
        set_kernel(&v, SA_PSS, 16384);
        set_walk(&v, SA_PSS, PSS(16384), PSS(16384));

        /* rollup-only fields are not judged per VMA */
        set_kernel(&v, SA_PSS_ANON, 1);
        sa_compare_vma(&v, all, false);
        ok(!v.cmp[SA_PSS_ANON].judged, "Pss_Anon not judged per VMA");

        /* Shared and Private are sums of two kernel lines */
        set_kernel(&v, SA_PRIVATE_CLEAN, 0);
        set_kernel(&v, SA_PRIVATE_DIRTY, 16384);
        set_walk(&v, SA_PRIVATE, 16384 * KIB, 16384 * KIB);
        set_walk(&v, SA_PRIVATE_DIRTY, 0, 16384 * KIB);
        sa_compare_vma(&v, all, false);
        ok(v.cmp[SA_PRIVATE].judged, "Private judged from Private_Clean + Private_Dirty");
        is_u64(v.cmp[SA_PRIVATE].kernel_kb, 16384, "Private kernel value is the sum");
        is_i64(v.cmp[SA_PRIVATE].verdict, SMAPSAUDIT_CONSISTENT, "Private consistent");
        ok(!v.cmp[SA_SHARED].judged, "Shared not judged without its two lines");
        sa_vma_report_done(&v);
}

static void test_numa(void) {
        struct sa_vma_report v = {};
        struct sa_node_count kernel[2] = { { 0, 100 }, { 1, 28 } };

        set_kernel(&v, SA_RSS, 512);
        set_walk(&v, SA_RSS, 512 * KIB, 512 * KIB);
        sa_acc_add_node(&v.walk, 0, 100);
        sa_acc_add_node(&v.walk, 1, 28);
        v.numa_kernel = kernel;
        v.n_numa_kernel = 2;
        v.have_numa_kernel = true;

        sa_compare_vma(&v, ~0ULL, true);
        ok(v.numa_judged, "numa_maps judged");
        is_i64(v.numa_verdict, SMAPSAUDIT_CONSISTENT, "same pages per node: consistent");

        sa_compare_vma(&v, ~0ULL, false);
        ok(!v.numa_judged, "no node map: not judged");

        kernel[1].pages = 20;
        sa_compare_vma(&v, ~0ULL, true);
        is_i64(v.numa_verdict, SMAPSAUDIT_UNDER_ACCOUNTED, "N1 below the walk: under");
        is_i64(v.verdict, SMAPSAUDIT_UNDER_ACCOUNTED, "and the VMA is under");
        ok(sa_disagreements(v.cmp, _SA_FIELD_MAX) == 0, "the field mask does not carry numa_maps");

        kernel[1].pages = 40;
        sa_compare_vma(&v, ~0ULL, true);
        is_i64(v.numa_verdict, SMAPSAUDIT_OVER_ACCOUNTED, "N1 above the walk: over");

        v.n_numa_kernel = 1;
        sa_compare_vma(&v, ~0ULL, true);
        is_i64(v.numa_verdict, SMAPSAUDIT_UNDER_ACCOUNTED, "a node the kernel does not print: under");

        v.n_numa_kernel = 2;
        kernel[1].pages = 28;
        v.walk.numa_unknown_pages = 1;
        sa_compare_vma(&v, ~0ULL, true);
        ok(!v.numa_judged, "pages of unknown node: not judged");
        v.walk.numa_unknown_pages = 0;
        v.walk.migration_pages = 1;
        sa_compare_vma(&v, ~0ULL, true);
        ok(!v.numa_judged, "migration entries: not judged");

        v.numa_kernel = NULL;
        sa_vma_report_done(&v);
}

static void test_stable(void) {
        struct sa_smaps_vma a = {}, b = {};

        a.kb[SA_RSS] = b.kb[SA_RSS] = 8;
        a.kb[SA_PSS] = 8;
        b.kb[SA_PSS] = 4;
        a.have = b.have = (1ULL << SA_RSS) | (1ULL << SA_PSS);
        {
                uint64_t m = sa_stable_fields(&a, &b);
                ok(m & (1ULL << SA_RSS), "unchanged Rss is stable");
                ok(!(m & (1ULL << SA_PSS)), "changed Pss is not");
                ok(m & (1ULL << SA_KSM), "a field absent from both reads is stable");
        }
        b.have |= 1ULL << SA_KSM;
        ok(!(sa_stable_fields(&a, &b) & (1ULL << SA_KSM)), "a field printed in one read only is not stable");
}

/* A rollup read between two identical smaps reads, nothing moving. */
static void window(struct sa_rollup_window *w, const struct sa_smaps_vma *rollup, const struct sa_smaps_vma *sum,
                   uint64_t stable, uint64_t pss_slack_kb) {
        memset(w, 0, sizeof(*w));
        w->rollup = rollup;
        if (sum)
                w->before = w->after = *sum;
        w->stable = stable;
        w->pss_slack_kb = pss_slack_kb;
        w->walk_comparable = true;
}

static void test_totals(void) {
        struct smapsaudit_report *r = NULL;
        struct sa_smaps_vma rollup = {}, sum = {};
        struct sa_rollup_window w;
        struct sa_acc walk = {};
        struct sa_status st = {};
        struct sa_kernel k618 = { .major = 6, .minor = 18, .nr_cpus = 2 };
        struct sa_kernel k61 = { .major = 6, .minor = 1, .nr_cpus = 2 };

        is_i64(sa_report_new(1234, &r), 0, "report");
        rollup.have = sum.have = (1ULL << SA_RSS) | (1ULL << SA_PSS) | (1ULL << SA_PSS_ANON);
        rollup.kb[SA_RSS] = sum.kb[SA_RSS] = 26252;
        rollup.kb[SA_PSS] = 20707;
        sum.kb[SA_PSS] = 20705;
        rollup.kb[SA_PSS_ANON] = 16516;
        walk.f[SA_RSS].lo = walk.f[SA_RSS].hi = 26252 * KIB;
        walk.f[SA_PSS_ANON].lo = walk.f[SA_PSS_ANON].hi = PSS(16516);
        walk.f[SA_ST_RSS].lo = walk.f[SA_ST_RSS].hi = 26252 * KIB;
        st.vm_rss = 26252;
        st.have = SA_STATUS_VM_RSS;
        st.threads = 1;

        window(&w, &rollup, &sum, ~0ULL, 35);
        sa_compare_totals(r, &w, &walk, &st, &k618);
        is_i64(r->rollup_cmp[SA_RSS].verdict, SMAPSAUDIT_CONSISTENT, "rollup Rss = sum of smaps");
        is_i64(r->rollup_cmp[SA_PSS].verdict, SMAPSAUDIT_CONSISTENT,
               "rollup Pss 20707 within sum 20705 + per-VMA truncation slack");
        is_i64(r->rollup_cmp[SA_PSS_ANON].verdict, SMAPSAUDIT_CONSISTENT, "rollup-only Pss_Anon against the walk");
        is_i64(r->status_cmp[SA_ST_RSS].verdict, SMAPSAUDIT_CONSISTENT, "status VmRSS = walk");
        is_u64(r->status_slack_kb, 0, "6.18 sums the RSS counters: no slack");

        window(&w, &rollup, &sum, ~0ULL, 1);
        sa_compare_totals(r, &w, &walk, &st, &k618);
        is_i64(r->rollup_cmp[SA_PSS].verdict, SMAPSAUDIT_OVER_ACCOUNTED, "Pss beyond the slack: over");

        /* the 6.1-6.9 rollup bug: VMAs skipped after a lock drop */
        rollup.kb[SA_RSS] = 14000;
        window(&w, &rollup, &sum, ~0ULL, 35);
        sa_compare_totals(r, &w, &walk, &st, &k618);
        is_i64(r->rollup_cmp[SA_RSS].verdict, SMAPSAUDIT_UNDER_ACCOUNTED, "rollup Rss below the sum: under");
        is_i64(sa_findings_from_totals(r, ~0ULL, ~0ULL), 0, "findings from totals");
        if (is_u64(r->n_findings, 1, "one finding: Rss (Pss is within its slack)")) {
                const struct smapsaudit_finding *f = &r->findings[0];
                is_str(f->source, "smaps_rollup", "source smaps_rollup");
                is_str(f->field, "Rss", "field Rss");
                is_i64(f->delta_kb, 14000 - 26252, "delta = kernel - walk");
                ok(f->explanation && strstr(f->explanation, "6d065f507d82"), "explanation names the fix");
        }

        window(&w, &rollup, &sum, ~(1ULL << SA_RSS), 35);
        sa_compare_totals(r, &w, &walk, &st, &k618);
        ok(!r->rollup_cmp[SA_RSS].judged, "rollup Rss that changed between reads: not judged");

        /* a target that mapped, faulted and unmapped meanwhile moves the rollup within its allowance */
        rollup.kb[SA_RSS] = 26252 + 4;
        window(&w, &rollup, &sum, ~0ULL, 35);
        sa_compare_totals(r, &w, &walk, &st, &k618);
        is_i64(r->rollup_cmp[SA_RSS].verdict, SMAPSAUDIT_OVER_ACCOUNTED, "one page more, nothing moving: over");
        w.allowance_kb[SA_RSS] = 4;
        sa_compare_totals(r, &w, &walk, &st, &k618);
        is_i64(r->rollup_cmp[SA_RSS].verdict, SMAPSAUDIT_CONSISTENT, "one page more, one fault meanwhile: consistent");
        rollup.kb[SA_RSS] = 26252 - 16 * 1024;
        w.allowance_kb[SA_RSS] = 128;
        sa_compare_totals(r, &w, &walk, &st, &k618);
        is_i64(r->rollup_cmp[SA_RSS].verdict, SMAPSAUDIT_UNDER_ACCOUNTED, "whole VMAs missing beyond the allowance: under");
        w.before.kb[SA_RSS] = 26252 - 200;
        rollup.kb[SA_RSS] = 26252 - 100;
        w.allowance_kb[SA_RSS] = 0;
        sa_compare_totals(r, &w, &walk, &st, &k618);
        is_i64(r->rollup_cmp[SA_RSS].verdict, SMAPSAUDIT_CONSISTENT, "between the sums read before and after: consistent");

        /* 6.1: per-thread counter caching allows slack */
        rollup.kb[SA_RSS] = 26252;
        st.vm_rss = 26252 - 200;
        window(&w, &rollup, &sum, ~0ULL, 35);
        sa_compare_totals(r, &w, &walk, &st, &k61);
        /* VmRSS: 65 anon pages per thread (+1 for fork), 16 times that for file and shmem each */
        is_u64(r->status_slack_kb, (2 * 65 + 2 * 2 * 65 * 16) * 4, "6.1 single thread: VmRSS slack");
        is_i64(r->status_cmp[SA_ST_RSS].verdict, SMAPSAUDIT_CONSISTENT, "VmRSS 200 kB low within 6.1 slack");
        sa_compare_totals(r, &w, &walk, &st, &k618);
        is_i64(r->status_cmp[SA_ST_RSS].verdict, SMAPSAUDIT_UNDER_ACCOUNTED, "the same on 6.18: under");

        window(&w, NULL, NULL, ~0ULL, 0);
        sa_compare_totals(r, &w, &walk, NULL, &k618);
        ok(!r->rollup_cmp[SA_RSS].judged && !r->status_cmp[SA_ST_RSS].judged, "nothing to compare: nothing judged");
        smapsaudit_report_unref(r);
}

static void test_findings(void) {
        struct smapsaudit_report *r = NULL;
        struct sa_vma_report v = {};

        sa_report_new(1, &r);
        snprintf(r->kernel, sizeof(r->kernel), "6.1.0-13-amd64");
        v.kernel.start = 0x7f3a41000000;
        v.kernel.end = 0x7f3a42000000;
        v.tags = SMAPSAUDIT_TAG_PROT_NONE | SMAPSAUDIT_TAG_THP;
        set_kernel(&v, SA_ANON_HUGE, 0);
        set_walk(&v, SA_ANON_HUGE, 16384 * KIB, 16384 * KIB);
        sa_compare_vma(&v, ~0ULL, false);
        is_i64(sa_findings_from_vma(r, &v, 0), 0, "nothing confirmed");
        is_u64(r->n_findings, 0, "no finding without confirmation");
        is_i64(sa_findings_from_vma(r, &v, sa_disagreements(v.cmp, _SA_FIELD_MAX)), 0, "confirmed");
        if (is_u64(r->n_findings, 1, "one finding")) {
                const struct smapsaudit_finding *f = &r->findings[0];
                is_i64(f->kind, SMAPSAUDIT_UNDER_ACCOUNTED, "under-accounted");
                is_str(f->field, "AnonHugePages", "field");
                is_str(f->source, "smaps", "source");
                is_hex(f->vma_start, 0x7f3a41000000, "vma start");
                is_i64(f->kernel_kb, 0, "kernel_kb");
                is_i64(f->walk_kb, 16384, "walk_kb");
                is_i64(f->delta_kb, -16384, "delta_kb");
                is_u64(f->tags, SMAPSAUDIT_TAG_PROT_NONE | SMAPSAUDIT_TAG_THP, "tags");
                ok(f->explanation && strstr(f->explanation, "PROT_NONE"), "explanation: PROT_NONE bug pattern");
        }
        sa_vma_report_done(&v);
        smapsaudit_report_unref(r);
}

/* A crafted capture may print any u64: findings clamp to int64 rather than turn negative. */
static void test_huge_values(void) {
        struct smapsaudit_report *r = NULL;
        struct sa_vma_report v = {};

        sa_report_new(1, &r);
        v.kernel.start = 0x1000;
        v.kernel.end = 0x2000;
        set_kernel(&v, SA_RSS, 0x8000000000000005ULL);
        set_walk(&v, SA_RSS, 10 * KIB, 10 * KIB);
        sa_compare_vma(&v, ~0ULL, false);
        is_i64(v.cmp[SA_RSS].verdict, SMAPSAUDIT_OVER_ACCOUNTED, "2^63 + 5 kB against 10 kB: over-accounted");
        is_i64(sa_findings_from_vma(r, &v, sa_disagreements(v.cmp, _SA_FIELD_MAX)), 0, "confirmed");
        if (is_u64(r->n_findings, 1, "one finding")) {
                is_i64(r->findings[0].kernel_kb, INT64_MAX, "kernel_kb clamped to INT64_MAX");
                is_i64(r->findings[0].delta_kb, INT64_MAX - 10, "delta_kb from the clamped value");
        }
        sa_vma_report_done(&v);

        smapsaudit_report_unref(r);
}

int main(void) {
        test_huge_values();
        test_to_kb();
        test_vma();
        test_numa();
        test_stable();
        test_totals();
        test_findings();
        return tap_done();
}
