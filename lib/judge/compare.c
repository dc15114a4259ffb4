/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Why something is a finding: the kernel's number against the walk's range,
 * field by field, with the bounds docs/accounting.md documents, and the
 * explanation that names the known kernel bug where the pattern fits.
 * Whether a disagreement survives the noise is audit.c's business.
 */
#include <inttypes.h>

#include "judge.h"
#include "pass.h"

/* A capture is any file anyone wrote: its numbers may be as large as u64 goes, so sums saturate
 * rather than wrap, and kB values cross into the signed finding fields clamped. */
static uint64_t add_sat(uint64_t a, uint64_t b) {
        uint64_t s;

        return __builtin_add_overflow(a, b, &s) ? UINT64_MAX : s;
}

static uint64_t sub_floor(uint64_t a, uint64_t b) {
        return a > b ? a - b : 0;
}

static int64_t kb_signed(uint64_t kb) {
        return kb > (uint64_t) INT64_MAX ? INT64_MAX : (int64_t) kb;
}

static enum smapsaudit_verdict judge(uint64_t kernel, uint64_t lo, uint64_t hi) {
        if (kernel < lo)
                return SMAPSAUDIT_UNDER_ACCOUNTED;
        if (kernel > hi)
                return SMAPSAUDIT_OVER_ACCOUNTED;
        return SMAPSAUDIT_CONSISTENT;
}

static void set_cmp(struct sa_field_cmp *c, uint64_t kernel_kb, uint64_t lo_kb, uint64_t hi_kb, uint64_t slack_kb) {
        c->judged = true;
        c->kernel_kb = kernel_kb;
        c->walk_lo_kb = lo_kb;
        c->walk_hi_kb = hi_kb;
        c->verdict = judge(kernel_kb, sub_floor(lo_kb, slack_kb), add_sat(hi_kb, slack_kb));
}

uint64_t sa_smaps_value(const struct sa_smaps_vma *k, enum sa_field f, bool *have) {
        switch (f) {
        case SA_SHARED:
                *have = (k->have & (1ULL << SA_SHARED_CLEAN)) && (k->have & (1ULL << SA_SHARED_DIRTY));
                return k->kb[SA_SHARED_CLEAN] + k->kb[SA_SHARED_DIRTY];
        case SA_PRIVATE:
                *have = (k->have & (1ULL << SA_PRIVATE_CLEAN)) && (k->have & (1ULL << SA_PRIVATE_DIRTY));
                return k->kb[SA_PRIVATE_CLEAN] + k->kb[SA_PRIVATE_DIRTY];
        default:
                *have = f < _SA_SMAPS_FIELD_MAX && (k->have & (1ULL << f));
                return *have ? k->kb[f] : 0;
        }
}

/* Fields whose kernel value is the same in both reads around the walk. */
uint64_t sa_stable_fields(const struct sa_smaps_vma *a, const struct sa_smaps_vma *b) {
        uint64_t m = 0;

        /* the usual case, several times per VMA and pass: two reads that print the same */
        if (a->have == b->have && memcmp(a->kb, b->kb, sizeof(a->kb)) == 0)
                return (1ULL << (SA_PRIVATE + 1)) - 1;
        for (unsigned f = 0; f <= SA_PRIVATE; f++) {
                bool ha, hb;
                if (sa_smaps_value(a, f, &ha) == sa_smaps_value(b, f, &hb) && ha == hb)
                        m |= 1ULL << f;
        }
        return m;
}

uint64_t sa_smaps_printed(const struct sa_smaps_vma *k) {
        uint64_t m = k->have;

        if ((k->have & (1ULL << SA_SHARED_CLEAN)) && (k->have & (1ULL << SA_SHARED_DIRTY)))
                m |= 1ULL << SA_SHARED;
        if ((k->have & (1ULL << SA_PRIVATE_CLEAN)) && (k->have & (1ULL << SA_PRIVATE_DIRTY)))
                m |= 1ULL << SA_PRIVATE;
        return m;
}

bool sa_smaps_core_stable(const struct sa_smaps_vma *a, const struct sa_smaps_vma *b) {
        uint64_t core = CORE_FIELDS & sa_smaps_printed(b);

        return a->start == b->start && a->end == b->end && streq(a->perms, b->perms) && a->vmflags == b->vmflags &&
               (sa_stable_fields(a, b) & core) == core;
}

/*
 * Compare one VMA's smaps with its walk; fields not in stable are not
 * judged. What the window's events can explain (churn_kb, pmd_churn_kb,
 * dropped_kb) is no disagreement.
 */
void sa_compare_vma(struct sa_vma_report *v, uint64_t stable, bool nodes) {
        uint64_t under = 0, over = 0;

        v->verdict = SMAPSAUDIT_CONSISTENT;
        memset(v->cmp, 0, sizeof(v->cmp));
        for (unsigned f = 0; f <= SA_PRIVATE; f++) {
                bool have;
                uint64_t kv = sa_smaps_value(&v->kernel, f, &have);

                if (!have || sa_fields[f].rollup_only || !(stable & (1ULL << f)))
                        continue;
                v->cmp[f] = (struct sa_field_cmp) {
                        .judged = true,
                        .kernel_kb = kv,
                        .walk_lo_kb = sa_field_to_kb(f, v->walk.f[f].lo),
                        .walk_hi_kb = sa_field_to_kb(f, v->walk.f[f].hi),
                };
                v->cmp[f].verdict = sa_judge_field(kv + v->dropped_kb[f], kv, v->cmp[f].walk_lo_kb,
                                                   v->cmp[f].walk_hi_kb,
                                                   sa_field_pmd_level(f) ? v->pmd_churn_kb : v->churn_kb);
                if (v->cmp[f].verdict == SMAPSAUDIT_UNDER_ACCOUNTED)
                        v->verdict = SMAPSAUDIT_UNDER_ACCOUNTED;
                else if (v->cmp[f].verdict == SMAPSAUDIT_OVER_ACCOUNTED && v->verdict == SMAPSAUDIT_CONSISTENT)
                        v->verdict = SMAPSAUDIT_OVER_ACCOUNTED;
        }

        /* numa_maps: pages per node, in the VMA's page size; ours are 4 KiB pages */
        v->numa_judged = false;
        v->numa_verdict = SMAPSAUDIT_CONSISTENT;
        if (!nodes || !v->have_numa_kernel || v->walk.numa_unknown_pages || v->walk.migration_pages)
                return;
        v->numa_judged = true;
        /*
         * numa_maps is read once, between the smaps reads that bracket the
         * walk: a target that faulted meanwhile may have unmapped and mapped
         * the same range again, so per-node counts get its churn as slack too.
         */
        for (size_t i = 0; i < v->n_numa_kernel; i++) {
                uint64_t walk = 0;
                for (size_t j = 0; j < v->walk.n_nodes; j++)
                        if (v->walk.nodes[j].node == v->numa_kernel[i].node)
                                walk = v->walk.nodes[j].pages;
                if (v->numa_kernel[i].pages < walk)
                        under += walk - v->numa_kernel[i].pages;
                else
                        over += v->numa_kernel[i].pages - walk;
        }
        for (size_t j = 0; j < v->walk.n_nodes; j++) {
                bool found = false;
                for (size_t i = 0; i < v->n_numa_kernel; i++)
                        found |= v->numa_kernel[i].node == v->walk.nodes[j].node;
                if (!found)
                        under += v->walk.nodes[j].pages;
        }
        if (under * (SA_PAGE_SIZE / 1024) > v->churn_kb)
                v->numa_verdict = SMAPSAUDIT_UNDER_ACCOUNTED;
        else if (over * (SA_PAGE_SIZE / 1024) > v->churn_kb)
                v->numa_verdict = SMAPSAUDIT_OVER_ACCOUNTED;
        if (v->numa_verdict == SMAPSAUDIT_UNDER_ACCOUNTED)
                v->verdict = SMAPSAUDIT_UNDER_ACCOUNTED;
        else if (v->numa_verdict == SMAPSAUDIT_OVER_ACCOUNTED && v->verdict == SMAPSAUDIT_CONSISTENT)
                v->verdict = SMAPSAUDIT_OVER_ACCOUNTED;
}

/* Bit per field that disagrees, low half under-, high half over-accounted. */
uint64_t sa_disagreements(const struct sa_field_cmp *cmp, size_t n) {
        uint64_t m = 0;

        for (size_t f = 0; f < n && f < 32; f++) {
                if (!cmp[f].judged)
                        continue;
                if (cmp[f].verdict == SMAPSAUDIT_UNDER_ACCOUNTED)
                        m |= 1ULL << f;
                else if (cmp[f].verdict == SMAPSAUDIT_OVER_ACCOUNTED)
                        m |= 1ULL << (f + 32);
        }
        return m;
}

void sa_compare_totals(struct smapsaudit_report *r, const struct sa_rollup_window *w, const struct sa_acc *walk,
                       const struct sa_status *st, const struct sa_kernel *k) {
        uint64_t slack_kb;

        memset(r->rollup_cmp, 0, sizeof(r->rollup_cmp));
        memset(r->status_cmp, 0, sizeof(r->status_cmp));
        for (unsigned f = 0; f <= SA_PRIVATE; f++) {
                struct sa_total *t = &r->totals[f];
                bool have_r = false, have_a = false, have_b = false;
                uint64_t rv = w->rollup ? sa_smaps_value(w->rollup, f, &have_r) : 0;
                uint64_t sa = sa_smaps_value(&w->before, f, &have_a), sb = sa_smaps_value(&w->after, f, &have_b);
                uint64_t lo = MIN(sa, sb), hi = MAX(sa, sb);

                t->walk_lo_kb = sa_field_to_kb(f, walk->f[f].lo);
                t->walk_hi_kb = sa_field_to_kb(f, walk->f[f].hi);
                t->have_kernel = have_r;
                t->kernel_kb = rv;
                t->have_smaps_sum = have_b;
                t->smaps_sum_kb = sb;
                if (!have_r || !(w->stable & (1ULL << f)))
                        continue;
                if (sa_fields[f].rollup_only) {
                        /* no per-VMA line to sum: the rollup answers to the walk */
                        if (w->walk_comparable)
                                set_cmp(&r->rollup_cmp[f], rv, t->walk_lo_kb, t->walk_hi_kb, 0);
                } else if (have_a && have_b) {
                        /*
                         * The rollup was read between the two smaps reads: it must lie
                         * between their sums, give or take what the target itself
                         * changed meanwhile; per-VMA PSS lines are truncated before
                         * they are summed.
                         */
                        lo = sub_floor(lo, add_sat(w->allowance_kb[f], w->under_kb));
                        hi = add_sat(add_sat(hi, w->allowance_kb[f]),
                                     add_sat(w->over_kb, sa_fields[f].unit == SA_UNIT_PSS ? w->pss_slack_kb : 0));
                        set_cmp(&r->rollup_cmp[f], rv, lo, hi, 0);
                }
        }
        if (!st)
                return;
        {
                static const struct {
                        enum sa_field f;
                        size_t off;
                        uint64_t have;
                } map[] = {
                        { SA_ST_RSS, offsetof(struct sa_status, vm_rss), SA_STATUS_VM_RSS },
                        { SA_ST_RSS_ANON, offsetof(struct sa_status, rss_anon), SA_STATUS_RSS_ANON },
                        { SA_ST_RSS_FILE, offsetof(struct sa_status, rss_file), SA_STATUS_RSS_FILE },
                        { SA_ST_RSS_SHMEM, offsetof(struct sa_status, rss_shmem), SA_STATUS_RSS_SHMEM },
                        { SA_ST_SWAP, offsetof(struct sa_status, vm_swap), SA_STATUS_VM_SWAP },
                        { SA_ST_HUGETLB, offsetof(struct sa_status, hugetlb), SA_STATUS_HUGETLB },
                };
                slack_kb = sa_kernel_status_slack_pages(k, (unsigned) MAX(st->threads, 1), SA_ST_RSS) * 4;
                for (size_t i = 0; i < ELEMENTSOF(map); i++) {
                        struct sa_total *t = &r->totals[map[i].f];
                        int64_t v, before;
                        uint64_t lag_kb;

                        t->walk_lo_kb = sa_field_to_kb(map[i].f, walk->f[map[i].f].lo);
                        t->walk_hi_kb = sa_field_to_kb(map[i].f, walk->f[map[i].f].hi);
                        if (!(st->have & map[i].have))
                                continue;
                        memcpy(&v, (const char *) st + map[i].off, sizeof(v));
                        t->have_status = true;
                        t->status_kb = (uint64_t) MAX(v, 0);
                        lag_kb = sa_kernel_status_slack_pages(k, (unsigned) MAX(st->threads, 1), map[i].f) * 4;
                        if (!w->status_before) {
                                /* counters equal around the walk, yet a page may have gone and come back under it */
                                set_cmp(&r->status_cmp[map[i].f], t->status_kb, t->walk_lo_kb, t->walk_hi_kb,
                                        lag_kb + (map[i].f == SA_ST_HUGETLB ? 0 : w->fault_kb));
                                continue;
                        }
                        /* counters that moved: held against the walk with the window's budget */
                        memcpy(&before, (const char *) w->status_before + map[i].off, sizeof(before));
                        set_cmp(&r->status_cmp[map[i].f], t->status_kb, t->walk_lo_kb, t->walk_hi_kb, 0);
                        r->status_cmp[map[i].f].verdict = sa_judge_field(
                                (uint64_t) MAX(before, 0), t->status_kb, t->walk_lo_kb, t->walk_hi_kb,
                                lag_kb + (map[i].f == SA_ST_RSS_ANON || map[i].f == SA_ST_SWAP ? w->status_anon_kb
                                                                                            : w->status_file_kb));
                }
                r->status_slack_kb = slack_kb;
        }
}

static void explain(char *buf, size_t size, const struct smapsaudit_report *r, const char *source, enum sa_field f,
                    enum smapsaudit_verdict kind, unsigned tags, uint64_t kernel_kb, uint64_t lo_kb, uint64_t hi_kb) {
        const char *dir = kind == SMAPSAUDIT_UNDER_ACCOUNTED ? "below" : "above";
        const char *what = f < _SA_FIELD_MAX ? sa_fields[f].name : "pages per node";
        size_t len;

        if (lo_kb == hi_kb)
                len = (size_t) snprintf(buf, size, "%s reports %s %" PRIu64 " kB, %s the %" PRIu64 " kB that pagemap, kpageflags and kpagecount give",
                                        source, what, kernel_kb, dir, lo_kb);
        else
                len = (size_t) snprintf(buf, size, "%s reports %s %" PRIu64 " kB, %s the %" PRIu64 "–%" PRIu64 " kB the walk allows",
                                        source, what, kernel_kb, dir, lo_kb, hi_kb);
        if (len >= size)
                return;
        if (streq(source, "smaps") && kind == SMAPSAUDIT_UNDER_ACCOUNTED && (tags & SMAPSAUDIT_TAG_THP) &&
            (tags & (SMAPSAUDIT_TAG_PROT_NONE | SMAPSAUDIT_TAG_NUMA_HINTED))) {
                const struct sa_total *rss = &r->totals[SA_RSS], *st = &r->totals[SA_ST_RSS];
                len += (size_t) snprintf(buf + len, size - len,
                        "; PMD-mapped THPs in a %s VMA are missing, the pattern of the 6.1–6.4 bug where smaps skipped protnone PMDs (474098edac26, fixed by d74943a2f3cd and 8b9c1cc0418a)",
                        (tags & SMAPSAUDIT_TAG_PROT_NONE) ? "PROT_NONE" : "NUMA-hinted");
                if (len < size && rss->have_kernel && st->have_status)
                        snprintf(buf + len, size - len,
                                 "; smaps_rollup Rss %" PRIu64 " kB vs status VmRSS %" PRIu64 " kB (walk %" PRIu64 " kB)",
                                 rss->kernel_kb, st->status_kb, rss->walk_lo_kb);
        } else if (streq(source, "smaps_rollup") && kind == SMAPSAUDIT_UNDER_ACCOUNTED) {
                snprintf(buf + len, size - len,
                         "; the rollup is below the sum of the per-VMA smaps read around it: the 6.1–6.9 bug where smaps_rollup skipped VMAs after dropping a contended mmap_lock (c4c84f06285e, fixed by 6d065f507d82)");
        } else if (streq(source, "status")) {
                snprintf(buf + len, size - len, " (allowing %" PRIu64 " kB of counter lag for kernel %s)",
                         r->status_slack_kb, r->kernel);
        }
}

static int add_finding(struct smapsaudit_report *r, const char *source, enum sa_field f, const char *field_name,
                       const struct sa_field_cmp *c, uint64_t start, uint64_t end, unsigned tags, const char *churn) {
        char why[1024];
        size_t len;
        struct smapsaudit_finding fd = {
                .kind = c->verdict,
                .field = field_name,
                .source = source,
                .vma_start = start,
                .vma_end = end,
                .kernel_kb = kb_signed(c->kernel_kb),
                .walk_kb = kb_signed(c->verdict == SMAPSAUDIT_UNDER_ACCOUNTED ? c->walk_lo_kb : c->walk_hi_kb),
                .tags = tags,
                .explanation = why,
        };

        /* both are >= 0: the difference of two non-negative int64s cannot overflow */
        fd.delta_kb = fd.kernel_kb - fd.walk_kb;
        explain(why, sizeof(why), r, source, f, c->verdict, tags, c->kernel_kb, c->walk_lo_kb, c->walk_hi_kb);
        len = strlen(why);
        if (churn && len < sizeof(why))
                snprintf(why + len, sizeof(why) - len, "%s", churn);
        return sa_report_add_finding(r, &fd);
}

int sa_findings_from_vma(struct smapsaudit_report *r, const struct sa_vma_report *v, uint64_t confirmed) {
        int ret;

        for (unsigned f = 0; f <= SA_PRIVATE; f++) {
                if (!(confirmed & ((1ULL << f) | (1ULL << (f + 32)))) || !v->cmp[f].judged ||
                    v->cmp[f].verdict == SMAPSAUDIT_CONSISTENT)
                        continue;
                uint64_t budget = sa_field_pmd_level(f) ? v->pmd_churn_kb : v->churn_kb;
                uint64_t diff = v->cmp[f].verdict == SMAPSAUDIT_UNDER_ACCOUNTED ? v->cmp[f].walk_lo_kb - v->cmp[f].kernel_kb
                                                                               : v->cmp[f].kernel_kb - v->cmp[f].walk_hi_kb;
                char churn[256];

                snprintf(churn, sizeof(churn),
                         "; not churn: the events around the walk could move %s by %" PRIu64 " kB at most, and the "
                         "kernel's reads before and after it differed by %" PRIu64 " kB, against %" PRIu64 " kB",
                         sa_fields[f].name, budget, v->dropped_kb[f], diff);
                ret = add_finding(r, "smaps", f, sa_fields[f].name, &v->cmp[f], v->kernel.start, v->kernel.end, v->tags,
                                  churn);
                if (ret < 0)
                        return ret;
        }
        if (v->numa_judged && v->numa_verdict != SMAPSAUDIT_CONSISTENT && (confirmed & (1ULL << 31))) {
                uint64_t k = 0, w = 0;
                struct sa_field_cmp c = { .judged = true, .verdict = v->numa_verdict };
                for (size_t i = 0; i < v->n_numa_kernel; i++)
                        k += v->numa_kernel[i].pages;
                for (size_t j = 0; j < v->walk.n_nodes; j++)
                        w += v->walk.nodes[j].pages;
                c.kernel_kb = k * 4;
                c.walk_lo_kb = c.walk_hi_kb = w * 4;
                ret = add_finding(r, "numa_maps", _SA_FIELD_MAX, "N", &c, v->kernel.start, v->kernel.end, v->tags,
                                  NULL);
                if (ret < 0)
                        return ret;
        }
        return 0;
}

int sa_findings_from_totals(struct smapsaudit_report *r, uint64_t confirmed_rollup, uint64_t confirmed_status) {
        int ret;

        for (unsigned f = 0; f < _SA_FIELD_MAX && f < 31; f++) {
                const struct sa_field_cmp *c = &r->rollup_cmp[f];
                if (c->judged && c->verdict != SMAPSAUDIT_CONSISTENT &&
                    (confirmed_rollup & ((1ULL << f) | (1ULL << (f + 32))))) {
                        ret = add_finding(r, "smaps_rollup", f, sa_fields[f].name, c, 0, 0, 0, NULL);
                        if (ret < 0)
                                return ret;
                }
                c = &r->status_cmp[f];
                if (c->judged && c->verdict != SMAPSAUDIT_CONSISTENT &&
                    (confirmed_status & ((1ULL << f) | (1ULL << (f + 32))))) {
                        ret = add_finding(r, "status", f, sa_fields[f].name, c, 0, 0, 0, NULL);
                        if (ret < 0)
                                return ret;
                }
        }
        return 0;
}
