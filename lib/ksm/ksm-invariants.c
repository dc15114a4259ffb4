/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * KSM's invariants and how a difference is judged: pure rules, no I/O.
 *
 * The counter rules come from mm/ksm.c (6.18): stable_tree_append() bumps
 * pages_shared (first rmap_item of a stable node) or pages_sharing, and the
 * mm's ksm_merging_pages, together; remove_rmap_item_from_tree() undoes all
 * of them together. rmap_items are freed only when ksmd next passes their
 * address, so after a COW break, an unmap or MADV_UNMERGEABLE the counters
 * lag until ksmd visits the mm again; an exited mm's items wait for ksmd
 * too (7a, 7b). ksm_zero_pages moves with the zero-page PTEs it counts
 * (ksm_map_zero_page / ksm_might_unmap_zero_page), globally and per mm. A
 * forked child starts at 0 merging pages and rmap_items (ksm_fork() since
 * 4d6fc29f3634) while it maps its parent's KSM pages. Profits:
 * ksm_process_profit() = (merging + zero) * PAGE_SIZE - rmap_items * 64,
 * general_profit = (pages_sharing + ksm_zero_pages) * PAGE_SIZE -
 * ksm_rmap_items * 64 (sizeof(struct ksm_rmap_item) on 64-bit).
 *
 * So every invariant says which way a difference may go: "strict" ones can
 * never differ that way on a correct kernel; "settling" ones may, until
 * ksmd has made a full scan (lag), or for as long as ksmd is stopped
 * (stale). A difference is judged only on a stable round (the globals read
 * before and after it agree; for one process, its own counters do), and
 * becomes a finding only when a later stable round shows the same numbers
 * again (strict), and for settling ones only after a complete full scan with
 * no KSM page copied on write in between (ksm-snapshot.c reads the rounds).
 */
#include "ctx.h"
#include "ksm.h"

void sa_ksm_env_init(struct smapsaudit_ctx *ctx, struct sa_ksm_env *env) {
        long ps = sa_ctx_live(ctx) ? sysconf(_SC_PAGESIZE) : (long) SA_PAGE_SIZE;

        env->page_size = ps > 0 ? ps : (int64_t) SA_PAGE_SIZE;
        env->rmap_item_size = sizeof(void *) == 8 ? SA_KSM_RMAP_ITEM_SIZE : 36;
}

static int64_t sys_value(const struct sa_ksm_globals *g, uint64_t bit, const int64_t *v, bool *have) {
        if (!(g->sys.have & bit))
                *have = false;
        return *v;
}

enum sa_ksm_dir sa_ksm_inv_rule(const struct sa_ksm_inv *v) {
        return v->dir > 0 ? v->over : v->dir < 0 ? v->under : SA_KSM_ALLOWED;
}

const char *sa_ksm_inv_relation(const struct sa_ksm_inv *v) {
        if (v->over == SA_KSM_ALLOWED && v->under != SA_KSM_ALLOWED)
                return ">=";
        if (v->under == SA_KSM_ALLOWED && v->over != SA_KSM_ALLOWED)
                return "<=";
        return "==";
}

/* One round's judgement of one invariant. */
void sa_ksm_inv_judge(struct sa_ksm_inv *v, bool ksmd_running) {
        enum sa_ksm_dir rule;
        int64_t d = v->kernel - v->other;

        v->candidate = false;
        v->dir = d > v->tol_over ? 1 : d < -v->tol_under ? -1 : 0;
        if (!v->judgeable) {
                v->verdict = SA_KSM_NOT_JUDGED;
                return;
        }
        if (!v->stable) {
                v->verdict = SA_KSM_INCONCLUSIVE;
                v->note = "the counters moved while they were read";
                return;
        }
        rule = sa_ksm_inv_rule(v);
        if (rule == SA_KSM_ALLOWED) {
                v->verdict = SA_KSM_HOLDS;
                return;
        }
        if (rule == SA_KSM_SETTLES && !ksmd_running) {
                v->verdict = v->settle;
                v->note = v->settle == SA_KSM_STALE ? "ksmd is stopped: the difference stays until it runs again"
                                                    : "ksmd is stopped: the counters follow when it next visits the mm";
                return;
        }
        v->candidate = true;
        v->verdict = SA_KSM_INCONCLUSIVE;
        v->note = "seen once: not confirmed by a second reading";
}

/*
 * Confirms a candidate with an earlier sighting: the same numbers again (a
 * bug's numbers stay; a race's do not repeat to the page). Strict: that is
 * all. Settling: also a complete full scan in between, with no KSM page
 * copied on write meanwhile.
 */
void sa_ksm_inv_confirm(struct sa_ksm_inv *cur, const struct sa_ksm_inv *prev, bool scanned_between, bool cow_between) {
        if (!cur->candidate || !prev || !prev->candidate || prev->dir != cur->dir || cur->kernel != prev->kernel ||
            cur->other != prev->other)
                return;
        if (sa_ksm_inv_rule(cur) == SA_KSM_STRICT) {
                cur->verdict = SA_KSM_VIOLATED;
                cur->candidate = false;
                cur->note = NULL;
                return;
        }
        if (scanned_between && !cow_between) {
                cur->verdict = SA_KSM_VIOLATED;
                cur->candidate = false;
                cur->note = "unchanged after a complete full scan of ksmd";
        }
}

/* What is left unconfirmed when no more rounds can be read. */
void sa_ksm_inv_finish(struct sa_ksm_inv *v) {
        if (!v->candidate)
                return;
        v->candidate = false;
        if (sa_ksm_inv_rule(v) == SA_KSM_SETTLES) {
                v->verdict = v->settle;
                v->note = "did not settle within the wait for ksmd's full scans";
        } else {
                v->verdict = SA_KSM_INCONCLUSIVE;
                v->note = "seen in one stable reading only";
        }
}

/*
 * The per-process invariants. They need the process's own counters to hold
 * still across its walk, and ksmd not to have been started or stopped
 * meanwhile (run_steady); what other processes do to the globals does not
 * matter here.
 */
size_t sa_ksm_judge_process(const struct sa_ksm_proc *p, const struct sa_ksm_env *env, bool run_steady,
                            struct sa_ksm_inv *out) {
        const struct sa_ksm_stat *s = &p->stat;
        bool m = s->have & SA_KSM_STAT_MERGING, rm = s->have & SA_KSM_STAT_RMAP_ITEMS,
             z = s->have & SA_KSM_STAT_ZERO_PAGES, pr = s->have & SA_KSM_STAT_PROFIT;
        bool stable = p->stat_stable && run_steady;
        size_t n = 0;

        out[n++] = (struct sa_ksm_inv) {
                .name = "smaps_ksm", .field = "KSM", .source = "smaps", .unit = "kB",
                .other_name = "walk: KPF_KSM pages in the mergeable VMAs",
                .pid = p->pid, .kernel = (int64_t) p->smaps_ksm_kb, .other = (int64_t) p->ksm_pages * (env->page_size / 1024),
                .over = SA_KSM_STRICT, .under = SA_KSM_STRICT,
                .judgeable = p->walked && p->have_smaps_ksm, .stable = p->smaps_stable,
                .why_not = !p->walked ? p->not_walked : "smaps has no KSM line (kernel < 6.6)",
                .why_over = "smaps counts KSM pages the page tables do not map",
                .why_under = "smaps misses KSM pages the page tables map (the walk skipped entries)",
        };
        out[n++] = (struct sa_ksm_inv) {
                .name = "merging_le_rmap_items", .field = "ksm_merging_pages", .source = "ksm_stat",
                .other_name = "ksm_rmap_items", .unit = "pages",
                .pid = p->pid, .kernel = s->merging_pages, .other = s->rmap_items,
                .over = SA_KSM_STRICT, .under = SA_KSM_ALLOWED,
                .judgeable = m && rm, .stable = stable,
                .why_not = "ksm_stat has no ksm_rmap_items (kernel < 6.1) or no merging count",
                .why_over = "every merging page is an rmap_item in the stable tree: more merging pages than "
                            "rmap_items means a per-mm counter is wrong (inherited across fork before 4d6fc29f3634)",
        };
        out[n++] = (struct sa_ksm_inv) {
                .name = "merging_le_mapped", .field = "ksm_merging_pages", .source = "ksm_stat",
                .other_name = "walk: KPF_KSM pages mapped in the mergeable VMAs", .unit = "pages",
                .pid = p->pid, .kernel = s->merging_pages, .other = (int64_t) p->ksm_pages,
                .tol_over = (int64_t) p->swap_pages,
                .over = SA_KSM_SETTLES, .under = SA_KSM_ALLOWED, .settle = SA_KSM_LAG,
                .judgeable = m && p->walked, .stable = stable,
                .why_not = !m ? "no ksm_merging_pages (kernel < 5.19)" : p->not_walked,
                .why_over = "the mm counts more merged pages than it maps KSM pages, and the difference outlived "
                            "a full scan (on 6.1 without 4d6fc29f3634 a forked child adds its own merges to "
                            "the count it inherited)",
        };
        out[n++] = (struct sa_ksm_inv) {
                .name = "zero_pages_le_mapped", .field = "ksm_zero_pages", .source = "ksm_stat",
                .other_name = "walk: zero-page PTEs in the mergeable VMAs", .unit = "pages",
                .pid = p->pid, .kernel = s->zero_pages, .other = (int64_t) p->zero_pages,
                .over = SA_KSM_STRICT, .under = s->zero_pages < 0 ? SA_KSM_STRICT : SA_KSM_ALLOWED,
                .judgeable = z && p->walked, .stable = stable,
                .why_not = !z ? "ksm_stat has no ksm_zero_pages (kernel < 6.6)" : p->not_walked,
                .why_over = "KSM zero pages are zero-page PTEs: the mm counts more than it maps",
                .why_under = "a negative count: the non-atomic updates fixed by c2dc78b86e08 (6.10)",
        };
        if (s->zero_pages < 0) {
                /* a negative count is the finding whatever the walk saw */
                out[n - 1].other = 0;
                out[n - 1].judgeable = z;
        }
        out[n++] = (struct sa_ksm_inv) {
                .name = "process_profit", .field = "ksm_process_profit", .source = "ksm_stat",
                .other_name = "(ksm_merging_pages + ksm_zero_pages) * page size - ksm_rmap_items * 64",
                .unit = "bytes", .pid = p->pid, .kernel = s->process_profit,
                .other = ((m ? s->merging_pages : 0) + (z ? s->zero_pages : 0)) * env->page_size -
                         (rm ? s->rmap_items : 0) * env->rmap_item_size,
                .over = SA_KSM_STRICT, .under = SA_KSM_STRICT,
                .judgeable = pr && m && rm, .stable = stable,
                .why_not = "ksm_stat has no ksm_process_profit (kernel < 6.4)",
                .why_over = "ksm_process_profit is not the kernel's own formula of the counters printed beside it",
                .why_under = "ksm_process_profit is not the kernel's own formula of the counters printed beside it",
        };
        return n;
}

/* The global invariants, over the processes the round read. */
size_t sa_ksm_judge_global(const struct sa_ksm_snap *s, const struct sa_ksm_env *env, struct sa_ksm_inv *out) {
        const struct sa_ksm_globals *g = &s->g1;
        bool have_ss = true, have_z = true, have_p = true;
        int64_t shared = sys_value(g, SA_KSM_SYS_PAGES_SHARED, &g->sys.pages_shared, &have_ss);
        int64_t sharing = sys_value(g, SA_KSM_SYS_PAGES_SHARING, &g->sys.pages_sharing, &have_ss);
        int64_t zero = sys_value(g, SA_KSM_SYS_ZERO_PAGES, &g->sys.ksm_zero_pages, &have_z);
        int64_t profit = sys_value(g, SA_KSM_SYS_GENERAL_PROFIT, &g->sys.general_profit, &have_p);
        bool complete = s->complete;
        const char *subset = "a capture or an incomplete walk holds only some processes: only the strict direction "
                             "is judged";
        size_t n = 0;

        out[n++] = (struct sa_ksm_inv) {
                .name = "sum_merging_pages", .field = "ksm_merging_pages", .source = "ksm_stat",
                .other_name = "pages_shared + pages_sharing", .unit = "pages",
                .kernel = (int64_t) s->sum_merging, .other = shared + sharing,
                .over = SA_KSM_STRICT, .under = complete ? SA_KSM_SETTLES : SA_KSM_ALLOWED, .settle = SA_KSM_STALE,
                .judgeable = have_ss && s->have_merging, .stable = s->stable,
                .why_not = "no per-process ksm_merging_pages or no pages_shared/pages_sharing",
                .why_over = "the processes count more merged pages than the stable tree holds rmap_items: a per-mm "
                            "counter is inflated (a fork copied it before 4d6fc29f3634)",
                .why_under = "the stable tree holds rmap_items no living process counts, and ksmd's full scan did not "
                             "free them",
                .note = complete ? NULL : subset,
        };
        out[n++] = (struct sa_ksm_inv) {
                .name = "ksm_pfns", .field = "pages_shared", .source = "ksm_sysfs",
                .other_name = "walk: distinct KPF_KSM frames mapped", .unit = "pages",
                .kernel = shared, .other = (int64_t) s->distinct_pfns,
                .tol_over = (int64_t) s->sum_swap,
                .over = SA_KSM_SETTLES, .under = SA_KSM_SETTLES, .settle = SA_KSM_LAG,
                .judgeable = have_ss && complete, .stable = s->stable,
                .why_not = complete ? "no pages_shared" : "not every process was walked (a capture, no PFNs, or the page cap)",
                .why_over = "stable nodes whose KSM page no process maps, after a full scan",
                .why_under = "KSM pages mapped without a stable node, after a full scan",
        };
        out[n++] = (struct sa_ksm_inv) {
                .name = "ksm_mappings", .field = "pages_sharing", .source = "ksm_sysfs",
                .other_name = "walk: sum of kpagecount over the KPF_KSM frames", .unit = "pages",
                .kernel = shared + sharing, .other = (int64_t) s->sum_kpc,
                .tol_over = (int64_t) s->sum_swap,
                .over = SA_KSM_SETTLES, .under = SA_KSM_SETTLES, .settle = SA_KSM_LAG,
                .judgeable = have_ss && complete, .stable = s->stable,
                .why_not = complete ? "no pages_shared/pages_sharing" : "not every process was walked",
                .why_over = "rmap_items in the stable tree without a mapping, after a full scan",
                .why_under = "KSM mappings without an rmap_item after a full scan (a forked child maps them until "
                             "ksmd visits it)",
        };
        out[n++] = (struct sa_ksm_inv) {
                .name = "sum_zero_pages", .field = "ksm_zero_pages", .source = "ksm_sysfs",
                .other_name = "sum of the processes' ksm_zero_pages", .unit = "pages",
                .kernel = zero, .other = s->sum_zero,
                .over = complete ? SA_KSM_STRICT : SA_KSM_ALLOWED, .under = SA_KSM_STRICT,
                .judgeable = have_z && s->have_zero, .stable = s->stable,
                .why_not = "no ksm_zero_pages (kernel < 6.6)",
                .why_over = "the global count of KSM zero pages is more than all processes map",
                .why_under = "the processes count KSM zero pages the global count lacks (a fork inherited them "
                             "without adding them to it before 4d6fc29f3634)",
                .note = complete ? NULL : subset,
        };
        out[n++] = (struct sa_ksm_inv) {
                .name = "general_profit", .field = "general_profit", .source = "ksm_sysfs",
                .other_name = "(pages_sharing + ksm_zero_pages) * page size - sum(ksm_rmap_items) * 64",
                .unit = "bytes", .kernel = profit,
                .other = (sharing + (have_z ? zero : 0)) * env->page_size - (int64_t) s->sum_rmap * env->rmap_item_size,
                .over = SA_KSM_STRICT, .under = complete ? SA_KSM_SETTLES : SA_KSM_ALLOWED, .settle = SA_KSM_STALE,
                .judgeable = have_p && have_ss && s->have_rmap, .stable = s->stable,
                .why_not = "no general_profit (kernel < 6.6) or no per-process ksm_rmap_items",
                .why_over = "the processes count more rmap_items than ksmd has (ksm_rmap_items inherited across fork "
                            "before 4d6fc29f3634)",
                .why_under = "ksmd holds rmap_items no living process counts, after a full scan",
                .note = complete ? NULL : subset,
        };
        return n;
}

/* ksmd was neither started nor stopped (nor reset: run=2 zeroes full_scans) between the reads. */
bool sa_ksm_run_steady(const struct sa_ksm_globals *a, const struct sa_ksm_globals *b) {
        return a->sys.run == b->sys.run && b->sys.full_scans >= a->sys.full_scans;
}

/*
 * Every counter the invariants use held still, and ksmd was neither started,
 * stopped nor reset (run=2 zeroes full_scans). A full scan that completed
 * meanwhile but moved no counter changed nothing that is summed: with a
 * fast ksmd and little to scan, scans end every few milliseconds and no
 * round over all processes would ever be "stable" if it had to fit between
 * two. What a race can still fake is caught by confirmation, which wants
 * the same numbers again.
 */
bool sa_ksm_globals_stable(const struct sa_ksm_globals *a, const struct sa_ksm_globals *b) {
        const struct sa_ksm_sys *x = &a->sys, *y = &b->sys;

        return x->have == y->have && sa_ksm_run_steady(a, b) && x->pages_shared == y->pages_shared &&
               x->pages_sharing == y->pages_sharing && x->ksm_zero_pages == y->ksm_zero_pages &&
               x->general_profit == y->general_profit &&
               x->stable_node_chains == y->stable_node_chains && x->stable_node_dups == y->stable_node_dups &&
               x->max_page_sharing == y->max_page_sharing && x->use_zero_pages == y->use_zero_pages &&
               x->merge_across_nodes == y->merge_across_nodes;
}

bool sa_ksm_stat_equal(const struct sa_ksm_stat *a, const struct sa_ksm_stat *b) {
        return a->have == b->have && a->rmap_items == b->rmap_items && a->zero_pages == b->zero_pages &&
               a->merging_pages == b->merging_pages && a->process_profit == b->process_profit;
}

bool sa_ksm_stat_active(const struct sa_ksm_stat *s) {
        if (!(s->have & SA_KSM_STAT_MERGEABLE))
                return true;   /* cannot tell without reading smaps */
        return s->mergeable > 0 || s->merge_any > 0 || s->rmap_items || s->merging_pages || s->zero_pages;
}

/*
 * Any violation makes the verdict, under-accounted first as an audit's
 * does; else a difference left unsettled makes it inconclusive.
 */
enum smapsaudit_verdict sa_ksm_verdict(const struct sa_ksm_inv *invs, size_t n, bool coverage_unmerged,
                                       bool coverage_unconfirmed) {
        bool over = false, under = coverage_unmerged, open = coverage_unconfirmed;

        for (size_t i = 0; i < n; i++) {
                if (invs[i].verdict == SA_KSM_VIOLATED) {
                        over |= invs[i].dir > 0;
                        under |= invs[i].dir < 0;
                } else if (invs[i].verdict == SA_KSM_INCONCLUSIVE)
                        open = true;
        }
        if (under)
                return SMAPSAUDIT_UNDER_ACCOUNTED;
        if (over)
                return SMAPSAUDIT_OVER_ACCOUNTED;
        return open ? SMAPSAUDIT_INCONCLUSIVE : SMAPSAUDIT_CONSISTENT;
}

/* Findings carry kB whatever the invariant counts. */
int64_t sa_ksm_inv_kb(const struct sa_ksm_inv *v, int64_t x, int64_t page_size) {
        if (streq(v->unit, "pages"))
                return x * (page_size / 1024);
        if (streq(v->unit, "bytes"))
                return x / 1024;
        return x;
}

