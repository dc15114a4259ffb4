/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * KSM's books, checked from three sides (ACCOUNTING.md §3): the per-mm
 * counters of /proc/PID/ksm_stat, the global ones of /sys/kernel/mm/ksm,
 * and what the walk sees (KPF_KSM pages, their kpagecount, zero-page PTEs).
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
 * no KSM page copied on write in between.
 *
 * Layout: the pure rules first (no I/O), then reading, then the rounds,
 * then JSON and text. Merge coverage lives in ksm-coverage.c.
 */
#include <dirent.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <time.h>

#include "internal.h"
#include "missing.h"

/* sizeof(struct ksm_rmap_item) on 64-bit kernels, 6.1 to 6.18 (mm/ksm.c) */
#define RMAP_ITEM_SIZE 64
#define DEFAULT_MAX_PAGES (1ULL << 22)      /* pages walked or hashed per run: 16 GiB */
#define DEFAULT_WAIT_MSEC 60000u
#define MAX_ROUNDS 6
#define SCHEMA "smapsaudit.ksm/1"

/* ================================================================ pure rules */

enum dir_rule {
        DIR_ALLOWED,  /* a difference this way is normal */
        DIR_STRICT,   /* impossible on a correct kernel */
        DIR_SETTLES,  /* normal until ksmd has made a full scan */
};

enum inv_verdict {
        INV_HOLDS,
        INV_VIOLATED,
        INV_LAG,          /* a difference ksmd's next full scan settles */
        INV_STALE,        /* a difference that stays while ksmd is stopped */
        INV_NOT_JUDGED,   /* a number is missing (old kernel, no PFNs, a capture) */
        INV_INCONCLUSIVE, /* the readings never held still long enough */
};

static const char *const inv_verdict_names[] = {
        [INV_HOLDS] = "holds", [INV_VIOLATED] = "violated", [INV_LAG] = "lag", [INV_STALE] = "stale",
        [INV_NOT_JUDGED] = "not-judged", [INV_INCONCLUSIVE] = "inconclusive",
};

struct ksm_inv {
        const char *name;
        const char *field, *source;   /* the counter a violation implicates, and the view printing it */
        const char *other_name;       /* what it is held against */
        const char *unit;             /* "pages", "kB", "bytes" */
        pid_t pid;                    /* 0: global */
        int64_t kernel, other;
        int64_t tol_over, tol_under;  /* pages in flight either way */
        enum dir_rule over, under;    /* kernel > other, kernel < other */
        enum inv_verdict settle;      /* INV_LAG or INV_STALE */
        bool judgeable, stable;
        const char *why_not;
        const char *why_over, *why_under;
        /* resolution */
        int dir;
        bool candidate;
        enum inv_verdict verdict;
        const char *note;
};

/* What a process's counters and walk say, as one round read them. */
struct ksm_proc {
        pid_t pid;
        char comm[64];
        struct sa_ksm_stat stat;      /* the read after the walk */
        bool gone;
        bool active;                  /* mergeable, or any KSM counter not 0 */
        bool stat_stable;             /* ksm_stat read the same before and after the walk */
        bool walked;                  /* every mergeable VMA walked with the PFN join */
        bool smaps_stable;            /* smaps KSM of the mergeable VMAs unchanged across the walk */
        bool have_smaps_ksm;
        const char *not_walked;
        uint64_t mergeable_vmas, present_pages, ksm_pages, zero_pages, swap_pages;
        uint64_t smaps_ksm_kb;
};

struct pfn_count {
        uint64_t pfn, kpc;
};

struct ksm_snap {
        struct sa_ksm_globals g0, g1;  /* before and after the processes were read */
        bool stable;
        bool global;                   /* global invariants wanted (pid 0) */
        bool all_processes;            /* the system's processes, not a capture's few */
        bool complete;                 /* ... every one read, every active one walked */
        bool capped;
        struct ksm_proc *procs;
        size_t n_procs;
        struct pfn_count *pfns;
        size_t n_pfns, cap_pfns;
        uint64_t walked_pages;
        uint64_t n_active;
        /* sums */
        uint64_t sum_merging, sum_rmap, sum_ksm_pages, sum_swap, sum_unscanned;
        int64_t sum_zero;
        uint64_t distinct_pfns, sum_kpc;
        bool have_merging, have_rmap, have_zero;
};

struct ksm_env {
        int64_t page_size, rmap_item_size;
        bool ksmd_running;
};

static int64_t sys_value(const struct sa_ksm_globals *g, uint64_t bit, const int64_t *v, bool *have) {
        if (!(g->sys.have & bit))
                *have = false;
        return *v;
}

static const char *relation_of(const struct ksm_inv *v) {
        if (v->over == DIR_ALLOWED && v->under != DIR_ALLOWED)
                return ">=";
        if (v->under == DIR_ALLOWED && v->over != DIR_ALLOWED)
                return "<=";
        return "==";
}

/* One round's judgement of one invariant. */
static void inv_judge(struct ksm_inv *v, bool ksmd_running) {
        enum dir_rule rule;
        int64_t d = v->kernel - v->other;

        v->candidate = false;
        v->dir = d > v->tol_over ? 1 : d < -v->tol_under ? -1 : 0;
        if (!v->judgeable) {
                v->verdict = INV_NOT_JUDGED;
                return;
        }
        if (!v->stable) {
                v->verdict = INV_INCONCLUSIVE;
                v->note = "the counters moved while they were read";
                return;
        }
        rule = v->dir > 0 ? v->over : v->dir < 0 ? v->under : DIR_ALLOWED;
        if (rule == DIR_ALLOWED) {
                v->verdict = INV_HOLDS;
                return;
        }
        if (rule == DIR_SETTLES && !ksmd_running) {
                v->verdict = v->settle;
                v->note = v->settle == INV_STALE ? "ksmd is stopped: the difference stays until it runs again"
                                                 : "ksmd is stopped: the counters follow when it next visits the mm";
                return;
        }
        v->candidate = true;
        v->verdict = INV_INCONCLUSIVE;
        v->note = "seen once: not confirmed by a second reading";
}

/*
 * Confirms a candidate with an earlier sighting: the same numbers again (a
 * bug's numbers stay; a race's do not repeat to the page). Strict: that is
 * all. Settling: also a complete full scan in between, with no KSM page
 * copied on write meanwhile.
 */
static void inv_confirm(struct ksm_inv *cur, const struct ksm_inv *prev, bool scanned_between, bool cow_between) {
        enum dir_rule rule;

        if (!cur->candidate || !prev || !prev->candidate || prev->dir != cur->dir || cur->kernel != prev->kernel ||
            cur->other != prev->other)
                return;
        rule = cur->dir > 0 ? cur->over : cur->under;
        if (rule == DIR_STRICT) {
                cur->verdict = INV_VIOLATED;
                cur->candidate = false;
                cur->note = NULL;
                return;
        }
        if (scanned_between && !cow_between) {
                cur->verdict = INV_VIOLATED;
                cur->candidate = false;
                cur->note = "unchanged after a complete full scan of ksmd";
        }
}

/* What is left unconfirmed when no more rounds can be read. */
static void inv_finish(struct ksm_inv *v) {
        enum dir_rule rule;

        if (!v->candidate)
                return;
        rule = v->dir > 0 ? v->over : v->under;
        v->candidate = false;
        if (rule == DIR_SETTLES) {
                v->verdict = v->settle;
                v->note = "did not settle within the wait for ksmd's full scans";
        } else {
                v->verdict = INV_INCONCLUSIVE;
                v->note = "seen in one stable reading only";
        }
}

#define MAX_PROC_INVS 5
#define MAX_GLOBAL_INVS 5

/*
 * The per-process invariants. They need the process's own counters to hold
 * still across its walk, and ksmd not to have been started or stopped
 * meanwhile (run_steady); what other processes do to the globals does not
 * matter here.
 */
static size_t judge_process(const struct ksm_proc *p, const struct ksm_env *env, bool run_steady, struct ksm_inv *out) {
        const struct sa_ksm_stat *s = &p->stat;
        bool m = s->have & SA_KSM_STAT_MERGING, rm = s->have & SA_KSM_STAT_RMAP_ITEMS,
             z = s->have & SA_KSM_STAT_ZERO_PAGES, pr = s->have & SA_KSM_STAT_PROFIT;
        bool stable = p->stat_stable && run_steady;
        size_t n = 0;

        out[n++] = (struct ksm_inv) {
                .name = "smaps_ksm", .field = "KSM", .source = "smaps", .unit = "kB",
                .other_name = "walk: KPF_KSM pages in the mergeable VMAs",
                .pid = p->pid, .kernel = (int64_t) p->smaps_ksm_kb, .other = (int64_t) p->ksm_pages * (env->page_size / 1024),
                .over = DIR_STRICT, .under = DIR_STRICT,
                .judgeable = p->walked && p->have_smaps_ksm, .stable = p->smaps_stable,
                .why_not = !p->walked ? p->not_walked : "smaps has no KSM line (kernel < 6.6)",
                .why_over = "smaps counts KSM pages the page tables do not map",
                .why_under = "smaps misses KSM pages the page tables map (the walk skipped entries)",
        };
        out[n++] = (struct ksm_inv) {
                .name = "merging_le_rmap_items", .field = "ksm_merging_pages", .source = "ksm_stat",
                .other_name = "ksm_rmap_items", .unit = "pages",
                .pid = p->pid, .kernel = s->merging_pages, .other = s->rmap_items,
                .over = DIR_STRICT, .under = DIR_ALLOWED,
                .judgeable = m && rm, .stable = stable,
                .why_not = "ksm_stat has no ksm_rmap_items (kernel < 6.1) or no merging count",
                .why_over = "every merging page is an rmap_item in the stable tree: more merging pages than "
                            "rmap_items means a per-mm counter is wrong (inherited across fork before 4d6fc29f3634)",
        };
        out[n++] = (struct ksm_inv) {
                .name = "merging_le_mapped", .field = "ksm_merging_pages", .source = "ksm_stat",
                .other_name = "walk: KPF_KSM pages mapped in the mergeable VMAs", .unit = "pages",
                .pid = p->pid, .kernel = s->merging_pages, .other = (int64_t) p->ksm_pages,
                .tol_over = (int64_t) p->swap_pages,
                .over = DIR_SETTLES, .under = DIR_ALLOWED, .settle = INV_LAG,
                .judgeable = m && p->walked, .stable = stable,
                .why_not = !m ? "no ksm_merging_pages (kernel < 5.19)" : p->not_walked,
                .why_over = "the mm counts more merged pages than it maps KSM pages, and the difference outlived "
                            "a full scan (on 6.1 without 4d6fc29f3634 a forked child adds its own merges to "
                            "the count it inherited)",
        };
        out[n++] = (struct ksm_inv) {
                .name = "zero_pages_le_mapped", .field = "ksm_zero_pages", .source = "ksm_stat",
                .other_name = "walk: zero-page PTEs in the mergeable VMAs", .unit = "pages",
                .pid = p->pid, .kernel = s->zero_pages, .other = (int64_t) p->zero_pages,
                .over = DIR_STRICT, .under = s->zero_pages < 0 ? DIR_STRICT : DIR_ALLOWED,
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
        out[n++] = (struct ksm_inv) {
                .name = "process_profit", .field = "ksm_process_profit", .source = "ksm_stat",
                .other_name = "(ksm_merging_pages + ksm_zero_pages) * page size - ksm_rmap_items * 64",
                .unit = "bytes", .pid = p->pid, .kernel = s->process_profit,
                .other = ((m ? s->merging_pages : 0) + (z ? s->zero_pages : 0)) * env->page_size -
                         (rm ? s->rmap_items : 0) * env->rmap_item_size,
                .over = DIR_STRICT, .under = DIR_STRICT,
                .judgeable = pr && m && rm, .stable = stable,
                .why_not = "ksm_stat has no ksm_process_profit (kernel < 6.4)",
                .why_over = "ksm_process_profit is not the kernel's own formula of the counters printed beside it",
                .why_under = "ksm_process_profit is not the kernel's own formula of the counters printed beside it",
        };
        return n;
}

/* The global invariants, over the processes the round read. */
static size_t judge_global(const struct ksm_snap *s, const struct ksm_env *env, struct ksm_inv *out) {
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

        out[n++] = (struct ksm_inv) {
                .name = "sum_merging_pages", .field = "ksm_merging_pages", .source = "ksm_stat",
                .other_name = "pages_shared + pages_sharing", .unit = "pages",
                .kernel = (int64_t) s->sum_merging, .other = shared + sharing,
                .over = DIR_STRICT, .under = complete ? DIR_SETTLES : DIR_ALLOWED, .settle = INV_STALE,
                .judgeable = have_ss && s->have_merging, .stable = s->stable,
                .why_not = "no per-process ksm_merging_pages or no pages_shared/pages_sharing",
                .why_over = "the processes count more merged pages than the stable tree holds rmap_items: a per-mm "
                            "counter is inflated (a fork copied it before 4d6fc29f3634)",
                .why_under = "the stable tree holds rmap_items no living process counts, and ksmd's full scan did not "
                             "free them",
                .note = complete ? NULL : subset,
        };
        out[n++] = (struct ksm_inv) {
                .name = "ksm_pfns", .field = "pages_shared", .source = "ksm_sysfs",
                .other_name = "walk: distinct KPF_KSM frames mapped", .unit = "pages",
                .kernel = shared, .other = (int64_t) s->distinct_pfns,
                .tol_over = (int64_t) s->sum_swap,
                .over = DIR_SETTLES, .under = DIR_SETTLES, .settle = INV_LAG,
                .judgeable = have_ss && complete, .stable = s->stable,
                .why_not = complete ? "no pages_shared" : "not every process was walked (a capture, no PFNs, or the page cap)",
                .why_over = "stable nodes whose KSM page no process maps, after a full scan",
                .why_under = "KSM pages mapped without a stable node, after a full scan",
        };
        out[n++] = (struct ksm_inv) {
                .name = "ksm_mappings", .field = "pages_sharing", .source = "ksm_sysfs",
                .other_name = "walk: sum of kpagecount over the KPF_KSM frames", .unit = "pages",
                .kernel = shared + sharing, .other = (int64_t) s->sum_kpc,
                .tol_over = (int64_t) s->sum_swap,
                .over = DIR_SETTLES, .under = DIR_SETTLES, .settle = INV_LAG,
                .judgeable = have_ss && complete, .stable = s->stable,
                .why_not = complete ? "no pages_shared/pages_sharing" : "not every process was walked",
                .why_over = "rmap_items in the stable tree without a mapping, after a full scan",
                .why_under = "KSM mappings without an rmap_item after a full scan (a forked child maps them until "
                             "ksmd visits it)",
        };
        out[n++] = (struct ksm_inv) {
                .name = "sum_zero_pages", .field = "ksm_zero_pages", .source = "ksm_sysfs",
                .other_name = "sum of the processes' ksm_zero_pages", .unit = "pages",
                .kernel = zero, .other = s->sum_zero,
                .over = complete ? DIR_STRICT : DIR_ALLOWED, .under = DIR_STRICT,
                .judgeable = have_z && s->have_zero, .stable = s->stable,
                .why_not = "no ksm_zero_pages (kernel < 6.6)",
                .why_over = "the global count of KSM zero pages is more than all processes map",
                .why_under = "the processes count KSM zero pages the global count lacks (a fork inherited them "
                             "without adding them to it before 4d6fc29f3634)",
                .note = complete ? NULL : subset,
        };
        out[n++] = (struct ksm_inv) {
                .name = "general_profit", .field = "general_profit", .source = "ksm_sysfs",
                .other_name = "(pages_sharing + ksm_zero_pages) * page size - sum(ksm_rmap_items) * 64",
                .unit = "bytes", .kernel = profit,
                .other = (sharing + (have_z ? zero : 0)) * env->page_size - (int64_t) s->sum_rmap * env->rmap_item_size,
                .over = DIR_STRICT, .under = complete ? DIR_SETTLES : DIR_ALLOWED, .settle = INV_STALE,
                .judgeable = have_p && have_ss && s->have_rmap, .stable = s->stable,
                .why_not = "no general_profit (kernel < 6.6) or no per-process ksm_rmap_items",
                .why_over = "the processes count more rmap_items than ksmd has (ksm_rmap_items inherited across fork "
                            "before 4d6fc29f3634)",
                .why_under = "ksmd holds rmap_items no living process counts, after a full scan",
                .note = complete ? NULL : subset,
        };
        return n;
}

/* ================================================================ reading */

/* The readers of KSM's books are in source-ksm.c. */

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

        return x->have == y->have && x->run == y->run && y->full_scans >= x->full_scans &&
               x->pages_shared == y->pages_shared && x->pages_sharing == y->pages_sharing &&
               x->ksm_zero_pages == y->ksm_zero_pages && x->general_profit == y->general_profit &&
               x->stable_node_chains == y->stable_node_chains && x->stable_node_dups == y->stable_node_dups &&
               x->max_page_sharing == y->max_page_sharing && x->use_zero_pages == y->use_zero_pages &&
               x->merge_across_nodes == y->merge_across_nodes;
}

static bool stat_equal(const struct sa_ksm_stat *a, const struct sa_ksm_stat *b) {
        return a->have == b->have && a->rmap_items == b->rmap_items && a->zero_pages == b->zero_pages &&
               a->merging_pages == b->merging_pages && a->process_profit == b->process_profit;
}

static bool stat_active(const struct sa_ksm_stat *s) {
        if (!(s->have & SA_KSM_STAT_MERGEABLE))
                return true;   /* cannot tell without reading smaps */
        return s->mergeable > 0 || s->merge_any > 0 || s->rmap_items || s->merging_pages || s->zero_pages;
}

struct ksm_run {
        struct smapsaudit_ctx *ctx;
        uint64_t max_pages;
        uint64_t deadline;
        struct ksm_env env;
};

static int push_pfn(struct ksm_snap *s, uint64_t pfn, uint64_t kpc) {
        if (s->n_pfns == s->cap_pfns) {
                size_t nc = s->cap_pfns ? s->cap_pfns * 2 : 4096;
                struct pfn_count *np = realloc(s->pfns, nc * sizeof(*np));
                if (!np)
                        return -ENOMEM;
                s->pfns = np;
                s->cap_pfns = nc;
        }
        s->pfns[s->n_pfns++] = (struct pfn_count) { pfn, kpc };
        return 0;
}

struct walk_state {
        struct ksm_snap *snap;
        struct ksm_proc *proc;
};

static int on_pages(void *userdata, const struct sa_page *pages, size_t n) {
        struct walk_state *w = userdata;
        struct ksm_proc *p = w->proc;
        int r;

        for (size_t i = 0; i < n; i++) {
                const struct sa_page *pg = &pages[i];

                if (!(pg->pme & PM_PRESENT)) {
                        /* swapped or migrating: a KSM page may hide there (pages in flight) */
                        if ((pg->pme & PM_SWAP) && !(pg->pme & PM_GUARD_REGION))
                                p->swap_pages++;
                        continue;
                }
                p->present_pages++;
                if (pg->pfn_zero || (pg->joined && (pg->kpf & KPF(KPF_ZERO_PAGE)))) {
                        p->zero_pages++;
                        continue;
                }
                if (pg->joined && (pg->kpf & KPF(KPF_KSM))) {
                        p->ksm_pages++;
                        if (w->snap) {
                                r = push_pfn(w->snap, pg->pme & PM_PFN_MASK, pg->kpc);
                                if (r < 0)
                                        return r;
                        }
                }
        }
        return 0;
}

/* VmFlags mg, below TASK_SIZE: where ksmd looks (it never sets mg on hugetlb or PFN maps). */
bool sa_ksm_vma_mergeable(const struct sa_smaps_vma *v) {
        return (v->vmflags & SA_VMF(SA_VM_MG)) && v->start < 0x800000000000ULL &&
               !(v->vmflags & (SA_VMF(SA_VM_HT) | SA_VMF(SA_VM_PF) | SA_VMF(SA_VM_IO)));
}

static const struct sa_smaps_vma *smaps_find(const struct sa_smaps *s, uint64_t start, uint64_t end) {
        for (size_t i = 0; i < s->n; i++)
                if (s->vmas[i].start == start && s->vmas[i].end == end)
                        return &s->vmas[i];
        return NULL;
}

void sa_ksm_read_comm(struct smapsaudit_ctx *ctx, pid_t pid, char *comm, size_t size) {
        _cleanup_free_ char *buf = NULL;

        comm[0] = 0;
        if (sa_read_pid_file(ctx, pid, "comm", &buf, NULL) < 0)
                return;
        buf[strcspn(buf, "\n")] = 0;
        snprintf(comm, size, "%s", buf);
}

/*
 * Reads one process: ksm_stat, smaps, the walk of its mergeable VMAs, smaps
 * and ksm_stat again. A process without KSM activity is walked only when
 * asked for by PID.
 */
static int collect_proc(struct ksm_run *run, struct ksm_snap *snap, struct ksm_proc *p, bool always) {
        struct smapsaudit_ctx *ctx = run->ctx;
        _cleanup_free_ char *buf = NULL;
        struct sa_smaps a = {}, b = {};
        struct sa_ksm_stat before;
        struct sa_walker *w = NULL;
        struct walk_state ws = { snap, p };
        bool all = true;
        int r;

        r = sa_ksm_stat_read(ctx, p->pid, &before);
        if (r == -ESRCH || (r >= 0 && before.have == 0)) {
                /* gone, or a zombie whose mm is gone */
                p->gone = true;
                return 0;
        }
        if (r < 0)
                return r;
        p->stat = before;
        p->stat_stable = true;
        p->active = stat_active(&before);
        if (!p->comm[0])
                sa_ksm_read_comm(ctx, p->pid, p->comm, sizeof(p->comm));
        if (!p->active && !always)
                return 0;

        p->not_walked = "not walked";
        r = sa_read_pid_file(ctx, p->pid, "smaps", &buf, NULL);
        if (r < 0) {
                p->gone = r == -ENOENT || r == -ESRCH;
                return p->gone ? 0 : r;
        }
        r = sa_smaps_parse(buf, &a);
        free(TAKE_PTR(buf));
        if (r < 0)
                return r;

        r = sa_walker_new(ctx, p->pid, 0, &w);
        if (r < 0) {
                p->gone = r == -ENOENT || r == -ESRCH;
                p->not_walked = "pagemap not readable";
                goto out;
        }
        if (!(sa_walker_mode(w) & SA_WALK_KPAGE)) {
                p->not_walked = "no PFN join: needs CAP_SYS_ADMIN and readable kpageflags/kpagecount";
                all = false;
        }
        for (size_t i = 0; all && i < a.n; i++) {
                const struct sa_smaps_vma *v = &a.vmas[i];
                uint64_t pages = (v->end - v->start) / SA_PAGE_SIZE;

                if (!sa_ksm_vma_mergeable(v))
                        continue;
                p->mergeable_vmas++;
                if (snap->walked_pages + pages > run->max_pages) {
                        snap->capped = true;
                        p->not_walked = "the page cap of this run was reached";
                        all = false;
                        break;
                }
                snap->walked_pages += pages;
                r = sa_walk_range(w, v->start, v->end, false, on_pages, &ws);
                if (r < 0) {
                        p->gone = r == -ENOENT || r == -ESRCH || r == -EIO;
                        if (!p->gone)
                                goto out;
                        r = 0;
                        all = false;
                        p->not_walked = "the process exited during the walk";
                        break;
                }
        }
        p->walked = all && !p->gone;

        if (sa_read_pid_file(ctx, p->pid, "smaps", &buf, NULL) >= 0 && sa_smaps_parse(buf, &b) >= 0) {
                p->smaps_stable = true;
                for (size_t i = 0; i < a.n; i++) {
                        const struct sa_smaps_vma *x = &a.vmas[i], *y;
                        if (!sa_ksm_vma_mergeable(x))
                                continue;
                        y = smaps_find(&b, x->start, x->end);
                        if (!y || y->kb[SA_KSM] != x->kb[SA_KSM] || y->vmflags != x->vmflags)
                                p->smaps_stable = false;
                        p->have_smaps_ksm = x->have & (1ULL << SA_KSM);
                        p->smaps_ksm_kb += y ? y->kb[SA_KSM] : x->kb[SA_KSM];
                }
                if (p->mergeable_vmas == 0)
                        p->have_smaps_ksm = a.n > 0 && (a.vmas[0].have & (1ULL << SA_KSM));
        }
        if (sa_ksm_stat_read(ctx, p->pid, &p->stat) < 0 || p->stat.have == 0) {
                p->gone = true;
                p->walked = false;
        } else
                p->stat_stable = stat_equal(&before, &p->stat);
        r = 0;
out:
        sa_walker_free(w);
        sa_smaps_done(&a);
        sa_smaps_done(&b);
        return r;
}

static int cmp_pid(const void *a, const void *b) {
        pid_t x = *(const pid_t *) a, y = *(const pid_t *) b;
        return x < y ? -1 : x > y;
}

/* Every process: libproc2 on a live system, the PID directories of a capture. */
static int list_pids(struct smapsaudit_ctx *ctx, pid_t **ret, size_t *n) {
        _cleanup_free_ pid_t *pids = NULL;
        size_t count = 0;

        if (ctx->live) {
                struct smapsaudit_proc *list = NULL;
                size_t m = 0;
                int r = smapsaudit_list_processes(ctx, &list, &m);
                if (r < 0)
                        return r;
                pids = calloc(m ? m : 1, sizeof(*pids));
                if (!pids) {
                        free(list);
                        return -ENOMEM;
                }
                for (size_t i = 0; i < m; i++)
                        pids[count++] = list[i].pid;
                free(list);
        } else {
                DIR *d = opendir(ctx->proc_root);
                struct dirent *de;

                if (!d)
                        return negative_errno();
                while ((de = readdir(d))) {
                        pid_t *np;
                        char *end;
                        long v = strtol(de->d_name, &end, 10);
                        if (*end || end == de->d_name || v <= 0)
                                continue;
                        np = realloc(pids, (count + 1) * sizeof(*np));
                        if (!np) {
                                closedir(d);
                                return -ENOMEM;
                        }
                        pids = np;
                        pids[count++] = (pid_t) v;
                }
                closedir(d);
        }
        if (count)
                qsort(pids, count, sizeof(*pids), cmp_pid);
        *ret = TAKE_PTR(pids);
        *n = count;
        return 0;
}

static int cmp_pfn_count(const void *a, const void *b) {
        const struct pfn_count *x = a, *y = b;
        return x->pfn < y->pfn ? -1 : x->pfn > y->pfn;
}

static void snap_done(struct ksm_snap *s) {
        free(s->procs);
        free(s->pfns);
        memset(s, 0, sizeof(*s));
}

static void snap_sums(struct ksm_snap *s) {
        s->have_merging = s->have_rmap = s->have_zero = s->n_procs > 0;
        for (size_t i = 0; i < s->n_procs; i++) {
                const struct ksm_proc *p = &s->procs[i];
                if (p->gone)
                        continue;
                s->have_merging &= (p->stat.have & SA_KSM_STAT_MERGING) != 0;
                s->have_rmap &= (p->stat.have & SA_KSM_STAT_RMAP_ITEMS) != 0;
                s->have_zero &= (p->stat.have & SA_KSM_STAT_ZERO_PAGES) != 0;
                s->sum_merging += (uint64_t) MAX(p->stat.merging_pages, 0);
                s->sum_rmap += (uint64_t) MAX(p->stat.rmap_items, 0);
                s->sum_zero += p->stat.zero_pages;
                s->sum_ksm_pages += p->ksm_pages;
                s->sum_swap += p->swap_pages;
                if (p->walked && (int64_t) p->ksm_pages > p->stat.merging_pages)
                        s->sum_unscanned += p->ksm_pages - (uint64_t) MAX(p->stat.merging_pages, 0);
                if (p->active) {
                        s->n_active++;
                        if (!p->walked)
                                s->complete = false;
                }
        }
        if (s->n_pfns)
                qsort(s->pfns, s->n_pfns, sizeof(*s->pfns), cmp_pfn_count);
        for (size_t i = 0; i < s->n_pfns; i++) {
                if (i > 0 && s->pfns[i].pfn == s->pfns[i - 1].pfn)
                        continue;
                s->distinct_pfns++;
                s->sum_kpc += s->pfns[i].kpc;
        }
        if (s->capped)
                s->complete = false;
}

/* ksmd was neither started nor stopped while the round was read. */
static bool run_steady(const struct ksm_snap *s) {
        return s->g0.sys.run == s->g1.sys.run && s->g1.sys.full_scans >= s->g0.sys.full_scans;
}

static int take_snapshot(struct ksm_run *run, pid_t pid, struct ksm_snap *s) {
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        int r;

        r = sa_ksm_globals_read(run->ctx, &s->g0);
        if (r < 0)
                return r == -ENOENT ? -EOPNOTSUPP : r;
        s->global = pid == 0;
        if (pid > 0) {
                pids = malloc(sizeof(*pids));
                if (!pids)
                        return -ENOMEM;
                pids[0] = pid;
                n = 1;
        } else {
                r = list_pids(run->ctx, &pids, &n);
                if (r < 0)
                        return r;
                s->all_processes = run->ctx->live;
        }
        s->complete = s->all_processes;
        s->procs = calloc(n ? n : 1, sizeof(*s->procs));
        if (!s->procs)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct ksm_proc *p = &s->procs[s->n_procs++];
                p->pid = pids[i];
                r = collect_proc(run, s, p, pid > 0);
                if (r < 0 && r != -EACCES && r != -EPERM)
                        return r;
                if (r < 0) {
                        /* another user's process we may not read: the sums lose it */
                        p->gone = true;
                        s->complete = false;
                }
        }
        if (pid > 0 && s->procs[0].gone)
                return -ESRCH;
        r = sa_ksm_globals_read(run->ctx, &s->g1);
        if (r < 0)
                return r;
        /*
         * One process: its own counters and smaps held still. Every process:
         * the globals held still (other processes move them too, 7c).
         */
        if (pid > 0)
                s->stable = run_steady(s) && s->procs[0].stat_stable && s->procs[0].smaps_stable;
        else
                s->stable = sa_ksm_globals_stable(&s->g0, &s->g1);
        snap_sums(s);
        return 0;
}

/* ================================================================ rounds */

struct ksm_result {
        struct ksm_snap snap;          /* the last stable round, else the last one */
        struct ksm_inv *invs;
        size_t n_invs;
        unsigned rounds, stable_rounds;
        int64_t first_full_scans, last_full_scans;
        bool waited_out;
};

static int judge_snapshot(const struct ksm_snap *s, const struct ksm_env *env, struct ksm_inv **ret, size_t *n) {
        size_t cap = MAX_GLOBAL_INVS + s->n_procs * MAX_PROC_INVS, k = 0;
        struct ksm_inv *invs = calloc(cap ? cap : 1, sizeof(*invs));
        bool running = sa_ksm_running(&s->g0) && sa_ksm_running(&s->g1);

        if (!invs)
                return -ENOMEM;
        if (s->global)
                k += judge_global(s, env, invs + k);
        for (size_t i = 0; i < s->n_procs; i++) {
                const struct ksm_proc *p = &s->procs[i];
                if (p->gone || (s->global && !p->active))
                        continue;
                k += judge_process(p, env, run_steady(s), invs + k);
        }
        for (size_t i = 0; i < k; i++) {
                const char *pending = invs[i].note;
                inv_judge(&invs[i], running);
                /* keep the subset remark where the judgement left no note of its own */
                if (!invs[i].note)
                        invs[i].note = pending;
        }
        *ret = invs;
        *n = k;
        return 0;
}

static const struct ksm_inv *find_inv(const struct ksm_inv *invs, size_t n, const struct ksm_inv *v) {
        for (size_t i = 0; i < n; i++)
                if (invs[i].pid == v->pid && streq(invs[i].name, v->name))
                        return &invs[i];
        return NULL;
}

static bool any_candidate(const struct ksm_inv *invs, size_t n, bool *settling) {
        bool any = false;

        *settling = false;
        for (size_t i = 0; i < n; i++)
                if (invs[i].candidate) {
                        any = true;
                        *settling |= (invs[i].dir > 0 ? invs[i].over : invs[i].under) == DIR_SETTLES;
                }
        return any;
}

/*
 * A capture is one reading, held still by the capture's own sandwich: its
 * strict differences stand as they are. A difference that must outlive a
 * full scan is held against the first reading the capture's KSM hashes file
 * recorded, across the full scans the capture waited for.
 */
static void confirm_from_capture(struct ksm_run *run, const struct ksm_snap *s, struct ksm_inv *invs, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (invs[i].candidate && (invs[i].dir > 0 ? invs[i].over : invs[i].under) == DIR_STRICT) {
                        invs[i].verdict = INV_VIOLATED;
                        invs[i].candidate = false;
                        invs[i].note = "a capture is one reading: its own sandwich held it still";
                }
        for (size_t pi = 0; pi < s->n_procs; pi++) {
                const struct ksm_proc *p = &s->procs[pi];
                struct sa_ksm_capture_reading first;
                struct ksm_inv prev[MAX_PROC_INVS];
                struct ksm_proc fp;
                bool scanned, cow;
                size_t m;

                if (p->gone || sa_ksm_capture_readings(run->ctx, p->pid, &first) < 0)
                        continue;
                fp = (struct ksm_proc) {
                        .pid = p->pid, .stat = first.stat, .stat_stable = true, .walked = first.walked,
                        .ksm_pages = first.ksm_pages, .zero_pages = first.zero_pages, .swap_pages = first.swap_pages,
                        .smaps_stable = true,
                };
                m = judge_process(&fp, &run->env, true, prev);
                for (size_t i = 0; i < m; i++)
                        inv_judge(&prev[i], true);
                scanned = s->g0.sys.full_scans >= first.after.sys.full_scans + 2;
                cow = first.before.cow_ksm >= 0 && s->g1.cow_ksm >= 0 && first.before.cow_ksm != s->g1.cow_ksm;
                for (size_t i = 0; i < n; i++)
                        if (invs[i].pid == p->pid)
                                inv_confirm(&invs[i], find_inv(prev, m, &invs[i]), scanned, cow);
        }
}

static int run_rounds(struct ksm_run *run, pid_t pid, struct ksm_result *res) {
        struct ksm_snap prev = {};
        struct ksm_inv *prev_invs = NULL;
        size_t n_prev = 0;
        bool have_prev = false;
        int r = 0;

        for (unsigned round = 0; round < MAX_ROUNDS; round++) {
                struct ksm_snap s = {};
                struct ksm_inv *invs = NULL;
                size_t n = 0;
                bool settling, pending;

                r = take_snapshot(run, pid, &s);
                if (r < 0) {
                        snap_done(&s);
                        goto out;
                }
                res->rounds++;
                if (res->rounds == 1)
                        res->first_full_scans = s.g0.sys.full_scans;
                res->last_full_scans = s.g1.sys.full_scans;
                r = judge_snapshot(&s, &run->env, &invs, &n);
                if (r < 0) {
                        snap_done(&s);
                        goto out;
                }
                if (!s.stable) {
                        /* keep the last stable round's results; else these, inconclusive */
                        if (!have_prev) {
                                snap_done(&res->snap);
                                free(res->invs);
                                res->snap = s;
                                res->invs = invs;
                                res->n_invs = n;
                        } else {
                                snap_done(&s);
                                free(invs);
                        }
                        if (!run->ctx->live || sa_ksm_now_usec() >= run->deadline)
                                break;
                        nanosleep(&(struct timespec) { 0, 100 * 1000 * 1000 }, NULL);
                        continue;
                }
                res->stable_rounds++;
                if (have_prev) {
                        /* a complete full scan lies between the two rounds */
                        bool scanned = s.g0.sys.full_scans >= prev.g1.sys.full_scans + 2;
                        bool cow = s.g1.cow_ksm != prev.g0.cow_ksm;
                        for (size_t i = 0; i < n; i++)
                                inv_confirm(&invs[i], find_inv(prev_invs, n_prev, &invs[i]), scanned, cow);
                }
                if (!run->ctx->live)
                        confirm_from_capture(run, &s, invs, n);
                pending = any_candidate(invs, n, &settling);
                snap_done(&res->snap);
                free(res->invs);
                res->snap = s;
                res->invs = invs;
                res->n_invs = n;
                if (!pending || !run->ctx->live)
                        break;
                /* keep this round to confirm against */
                snap_done(&prev);
                free(prev_invs);
                prev = (struct ksm_snap) { .g0 = s.g0, .g1 = s.g1 };
                prev_invs = malloc(n * sizeof(*prev_invs));
                if (!prev_invs) {
                        r = -ENOMEM;
                        goto out;
                }
                memcpy(prev_invs, invs, n * sizeof(*prev_invs));
                n_prev = n;
                have_prev = true;
                if (settling && sa_ksm_running(&s.g1)) {
                        r = sa_ksm_wait_full_scans(run->ctx, s.g1.sys.full_scans + 2, run->deadline, NULL);
                        if (r < 0)
                                goto out;
                        if (r == 0) {
                                res->waited_out = true;
                                /* one more round can still confirm strict differences */
                        }
                }
                if (sa_ksm_now_usec() >= run->deadline && res->waited_out)
                        break;
        }
        r = 0;
        for (size_t i = 0; i < res->n_invs; i++)
                inv_finish(&res->invs[i]);
out:
        snap_done(&prev);
        free(prev_invs);
        return r;
}

/* ================================================================ JSON */

static void add_i64(json_object *o, const char *k, int64_t v) {
        json_object_object_add(o, k, json_object_new_int64(v));
}

static int64_t to_kb(const struct ksm_inv *v, int64_t x, int64_t page_size) {
        if (streq(v->unit, "pages"))
                return x * (page_size / 1024);
        if (streq(v->unit, "bytes"))
                return x / 1024;
        return x;
}

static json_object *inv_object(const struct ksm_inv *v, int64_t page_size) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "name", json_object_new_string(v->name));
        json_object_object_add(o, "scope", json_object_new_string(v->pid ? "process" : "global"));
        if (v->pid)
                add_i64(o, "pid", v->pid);
        json_object_object_add(o, "field", json_object_new_string(v->field));
        json_object_object_add(o, "source", json_object_new_string(v->source));
        json_object_object_add(o, "against", json_object_new_string(v->other_name));
        json_object_object_add(o, "relation", json_object_new_string(relation_of(v)));
        json_object_object_add(o, "unit", json_object_new_string(v->unit));
        if (v->verdict != INV_NOT_JUDGED || v->judgeable) {
                add_i64(o, "kernel", v->kernel);
                add_i64(o, "walk", v->other);
        }
        add_i64(o, "tolerance", v->dir < 0 ? v->tol_under : v->tol_over);
        json_object_object_add(o, "verdict", json_object_new_string(inv_verdict_names[v->verdict]));
        if (v->verdict == INV_NOT_JUDGED && v->why_not)
                json_object_object_add(o, "why", json_object_new_string(v->why_not));
        else if (v->note)
                json_object_object_add(o, "why", json_object_new_string(v->note));
        (void) page_size;
        return o;
}

static json_object *finding_object(const struct ksm_inv *v, int64_t page_size) {
        json_object *o = json_object_new_object();
        int64_t k = to_kb(v, v->kernel, page_size), w = to_kb(v, v->other, page_size);

        json_object_object_add(o, "kind", json_object_new_string(smapsaudit_verdict_to_string(
                v->dir > 0 ? SMAPSAUDIT_OVER_ACCOUNTED : SMAPSAUDIT_UNDER_ACCOUNTED)));
        json_object_object_add(o, "field", json_object_new_string(v->field));
        json_object_object_add(o, "vma", NULL);
        if (v->pid)
                add_i64(o, "pid", v->pid);
        add_i64(o, "kernel_kb", k);
        add_i64(o, "walk_kb", w);
        add_i64(o, "delta_kb", k - w);
        add_i64(o, "kernel", v->kernel);
        add_i64(o, "walk", v->other);
        json_object_object_add(o, "unit", json_object_new_string(v->unit));
        json_object_object_add(o, "source", json_object_new_string(v->source));
        json_object_object_add(o, "invariant", json_object_new_string(v->name));
        json_object_object_add(o, "tags", json_object_new_array());
        json_object_object_add(o, "explanation", json_object_new_string(v->dir > 0 ? v->why_over : v->why_under));
        return o;
}

static json_object *globals_object(const struct sa_ksm_globals *g) {
        static const struct {
                const char *name;
                uint64_t bit;
                size_t offset;
        } fields[] = {
#define F(n, b) { #n, b, offsetof(struct sa_ksm_sys, n) }
                F(pages_shared, SA_KSM_SYS_PAGES_SHARED), F(pages_sharing, SA_KSM_SYS_PAGES_SHARING),
                F(pages_unshared, SA_KSM_SYS_PAGES_UNSHARED), F(pages_volatile, SA_KSM_SYS_PAGES_VOLATILE),
                F(ksm_zero_pages, SA_KSM_SYS_ZERO_PAGES), F(general_profit, SA_KSM_SYS_GENERAL_PROFIT),
                F(stable_node_chains, SA_KSM_SYS_CHAINS), F(stable_node_dups, SA_KSM_SYS_DUPS),
                F(pages_scanned, SA_KSM_SYS_PAGES_SCANNED), F(full_scans, SA_KSM_SYS_FULL_SCANS),
#undef F
        };
        json_object *o = json_object_new_object();

        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                if (g->sys.have & fields[i].bit)
                        add_i64(o, fields[i].name, *(const int64_t *) ((const char *) &g->sys + fields[i].offset));
        if (g->pages_skipped >= 0)
                add_i64(o, "pages_skipped", g->pages_skipped);
        if (g->cow_ksm >= 0)
                add_i64(o, "cow_ksm", g->cow_ksm);
        return o;
}

static json_object *ksmd_object(const struct ksm_result *res) {
        const struct sa_ksm_globals *g = &res->snap.g1;
        json_object *o = json_object_new_object();

        if (g->sys.have & SA_KSM_SYS_RUN)
                add_i64(o, "run", g->sys.run);
        json_object_object_add(o, "running", json_object_new_boolean(sa_ksm_running(g)));
        if (g->sys.have & SA_KSM_SYS_SLEEP)
                add_i64(o, "sleep_millisecs", g->sys.sleep_millisecs);
        if (g->sys.have & SA_KSM_SYS_PAGES_TO_SCAN)
                add_i64(o, "pages_to_scan", g->sys.pages_to_scan);
        if (g->sys.have & SA_KSM_SYS_MAX_PAGE_SHARING)
                add_i64(o, "max_page_sharing", g->sys.max_page_sharing);
        if (g->sys.have & SA_KSM_SYS_USE_ZERO_PAGES)
                add_i64(o, "use_zero_pages", g->sys.use_zero_pages);
        if (g->sys.have & SA_KSM_SYS_MERGE_ACROSS_NODES)
                add_i64(o, "merge_across_nodes", g->sys.merge_across_nodes);
        if (g->smart_scan >= 0)
                add_i64(o, "smart_scan", g->smart_scan);
        add_i64(o, "full_scans_first", res->first_full_scans);
        add_i64(o, "full_scans_last", res->last_full_scans);
        add_i64(o, "rounds", res->rounds);
        add_i64(o, "stable_rounds", res->stable_rounds);
        json_object_object_add(o, "stable", json_object_new_boolean(res->snap.stable));
        return o;
}

/* ksm_stat as the kernel printed it: the lines it had. */
static json_object *ksm_stat_object(const struct sa_ksm_stat *s) {
        json_object *st = json_object_new_object();

        if (s->have & SA_KSM_STAT_RMAP_ITEMS)
                add_i64(st, "ksm_rmap_items", s->rmap_items);
        if (s->have & SA_KSM_STAT_ZERO_PAGES)
                add_i64(st, "ksm_zero_pages", s->zero_pages);
        if (s->have & SA_KSM_STAT_MERGING)
                add_i64(st, "ksm_merging_pages", s->merging_pages);
        if (s->have & SA_KSM_STAT_PROFIT)
                add_i64(st, "ksm_process_profit", s->process_profit);
        if (s->have & SA_KSM_STAT_MERGE_ANY)
                json_object_object_add(st, "ksm_merge_any", json_object_new_boolean(s->merge_any > 0));
        if (s->have & SA_KSM_STAT_MERGEABLE)
                json_object_object_add(st, "ksm_mergeable", json_object_new_boolean(s->mergeable > 0));
        return st;
}

static json_object *proc_object(const struct ksm_proc *p, const struct ksm_inv *invs, size_t n, int64_t page_size) {
        json_object *o = json_object_new_object(), *w = json_object_new_object(), *a;
        const struct sa_ksm_stat *s = &p->stat;

        add_i64(o, "pid", p->pid);
        json_object_object_add(o, "comm", json_object_new_string(p->comm));
        json_object_object_add(o, "ksm_stat", ksm_stat_object(s));
        json_object_object_add(w, "walked", json_object_new_boolean(p->walked));
        if (!p->walked && p->not_walked)
                json_object_object_add(w, "why", json_object_new_string(p->not_walked));
        add_i64(w, "mergeable_vmas", (int64_t) p->mergeable_vmas);
        add_i64(w, "present_pages", (int64_t) p->present_pages);
        add_i64(w, "ksm_pages", (int64_t) p->ksm_pages);
        add_i64(w, "zero_pages", (int64_t) p->zero_pages);
        add_i64(w, "swap_pages", (int64_t) p->swap_pages);
        if (p->have_smaps_ksm)
                add_i64(w, "smaps_ksm_kb", (int64_t) p->smaps_ksm_kb);
        if (p->walked && (int64_t) p->ksm_pages > s->merging_pages)
                add_i64(w, "unscanned_ksm_pages", (int64_t) p->ksm_pages - MAX(s->merging_pages, 0));
        json_object_object_add(o, "walk", w);
        a = json_object_new_array();
        for (size_t i = 0; i < n; i++)
                if (invs[i].pid == p->pid)
                        json_object_array_add(a, inv_object(&invs[i], page_size));
        json_object_object_add(o, "invariants", a);
        return o;
}

static json_object *result_json(struct smapsaudit_ctx *ctx, const struct ksm_result *res, const struct ksm_env *env,
                                pid_t pid, json_object *coverage, bool coverage_open, json_object *findings,
                                enum smapsaudit_verdict *verdict) {
        json_object *o = json_object_new_object(), *a, *g;
        const struct ksm_snap *s = &res->snap;
        bool over = false, under = false, open = coverage_open;
        json_object *notes = json_object_new_array();

        for (size_t i = 0; i < res->n_invs; i++) {
                const struct ksm_inv *v = &res->invs[i];
                if (v->verdict == INV_VIOLATED) {
                        json_object_array_add(findings, finding_object(v, env->page_size));
                        over |= v->dir > 0;
                        under |= v->dir < 0;
                } else if (v->verdict == INV_INCONCLUSIVE)
                        open = true;
        }
        for (size_t i = 0; i < json_object_array_length(findings); i++) {
                json_object *f = json_object_array_get_idx(findings, i), *k;
                if (json_object_object_get_ex(f, "kind", &k)) {
                        over |= streq(json_object_get_string(k), "over-accounted");
                        under |= streq(json_object_get_string(k), "under-accounted");
                }
        }

        json_object_object_add(o, "schema", json_object_new_string(SCHEMA));
        json_object_object_add(o, "kernel", json_object_new_string(sa_kernel_get(ctx)->release));
        if (pid)
                add_i64(o, "pid", pid);
        json_object_object_add(o, "scope", json_object_new_string(pid ? "process" : "global"));
        json_object_object_add(o, "ksmd", ksmd_object(res));

        if (s->global) {
                g = globals_object(&s->g1);
                add_i64(g, "processes", (int64_t) s->n_procs);
                add_i64(g, "active_processes", (int64_t) s->n_active);
                json_object_object_add(g, "all_processes", json_object_new_boolean(s->all_processes));
                json_object_object_add(g, "complete", json_object_new_boolean(s->complete));
                json_object_object_add(g, "capped", json_object_new_boolean(s->capped));
                add_i64(g, "walked_pages", (int64_t) s->walked_pages);
                add_i64(g, "sum_ksm_merging_pages", (int64_t) s->sum_merging);
                add_i64(g, "sum_ksm_rmap_items", (int64_t) s->sum_rmap);
                add_i64(g, "sum_ksm_zero_pages", s->sum_zero);
                add_i64(g, "ksm_pfns", (int64_t) s->distinct_pfns);
                add_i64(g, "ksm_pfn_mapcount", (int64_t) s->sum_kpc);
                add_i64(g, "ksm_pages_mapped", (int64_t) s->sum_ksm_pages);
                add_i64(g, "unscanned_ksm_pages", (int64_t) s->sum_unscanned);
                add_i64(g, "swap_pages", (int64_t) s->sum_swap);
                if ((s->g1.sys.have & SA_KSM_SYS_GENERAL_PROFIT) && (s->g1.sys.have & SA_KSM_SYS_PAGES_SHARING)) {
                        /* what the kernel's formula says ksm_rmap_items is */
                        int64_t num = (s->g1.sys.pages_sharing + s->g1.sys.ksm_zero_pages) * env->page_size -
                                      s->g1.sys.general_profit;
                        add_i64(g, "ksm_rmap_items_derived", num / env->rmap_item_size);
                }
                json_object_object_add(o, "global", g);
                a = json_object_new_array();
                for (size_t i = 0; i < res->n_invs; i++)
                        if (res->invs[i].pid == 0)
                                json_object_array_add(a, inv_object(&res->invs[i], env->page_size));
                json_object_object_add(o, "invariants", a);
                if (!s->all_processes)
                        json_object_array_add(notes, json_object_new_string(
                                "the processes of a capture are only some of the system's: global sums are judged "
                                "in the direction a subset cannot break"));
        }
        a = json_object_new_array();
        for (size_t i = 0; i < s->n_procs; i++) {
                const struct ksm_proc *p = &s->procs[i];
                if (p->gone || (s->global && !p->active))
                        continue;
                json_object_array_add(a, proc_object(p, res->invs, res->n_invs, env->page_size));
        }
        json_object_object_add(o, "processes", a);
        if (coverage)
                json_object_object_add(o, "coverage", coverage);
        if (res->stable_rounds == 0)
                json_object_array_add(notes, json_object_new_string(
                        "KSM's counters moved in every round: nothing was judged"));
        if (res->waited_out)
                json_object_array_add(notes, json_object_new_string(
                        "ksmd did not complete a full scan within the wait: differences that settle are reported "
                        "as lag, not as findings"));
        if (!sa_ksm_running(&s->g1))
                json_object_array_add(notes, json_object_new_string(
                        "ksmd is not running (run != 1): counters of exited processes and of unvisited mms stay "
                        "until it runs again (stale/lag, not findings)"));

        *verdict = over ? SMAPSAUDIT_OVER_ACCOUNTED : under ? SMAPSAUDIT_UNDER_ACCOUNTED
                         : open ? SMAPSAUDIT_INCONCLUSIVE : SMAPSAUDIT_CONSISTENT;
        if (over && under)
                *verdict = SMAPSAUDIT_UNDER_ACCOUNTED;
        json_object_object_add(o, "verdict", json_object_new_string(smapsaudit_verdict_to_string(*verdict)));
        json_object_object_add(o, "findings", json_object_get(findings));
        json_object_object_add(o, "notes", notes);
        return o;
}

/* ================================================================ text */

static const char *jstr(json_object *o, const char *k) {
        json_object *v;
        return json_object_object_get_ex(o, k, &v) && v ? json_object_get_string(v) : "";
}

static void text_invariants(FILE *f, json_object *a) {
        for (size_t i = 0; a && i < json_object_array_length(a); i++) {
                json_object *v = json_object_array_get_idx(a, i);
                fprintf(f, "  %-22s %-20s %14s %2s %-14s %-12s %s\n", jstr(v, "name"), jstr(v, "field"),
                        jstr(v, "kernel"), jstr(v, "relation"), jstr(v, "walk"), jstr(v, "verdict"), jstr(v, "why"));
        }
}

static int to_text(json_object *o, char **ret) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        json_object *a, *k;

        if (!f)
                return -ENOMEM;
        fprintf(f, "KSM on %s: %s\n", jstr(o, "kernel"), jstr(o, "verdict"));
        if (json_object_object_get_ex(o, "ksmd", &k))
                fprintf(f, "ksmd: run=%s full_scans %s..%s, %s stable round(s) of %s\n", jstr(k, "run"),
                        jstr(k, "full_scans_first"), jstr(k, "full_scans_last"), jstr(k, "stable_rounds"), jstr(k, "rounds"));
        if (json_object_object_get_ex(o, "global", &k))
                fprintf(f, "global: pages_shared %s pages_sharing %s ksm_zero_pages %s general_profit %s; %s processes, "
                           "%s active, complete %s\n", jstr(k, "pages_shared"), jstr(k, "pages_sharing"),
                        jstr(k, "ksm_zero_pages"), jstr(k, "general_profit"), jstr(k, "processes"),
                        jstr(k, "active_processes"), jstr(k, "complete"));
        fprintf(f, "  %-22s %-20s %14s %2s %-14s %-12s %s\n", "INVARIANT", "FIELD", "KERNEL", "", "WALK", "VERDICT", "WHY");
        if (json_object_object_get_ex(o, "invariants", &a))
                text_invariants(f, a);
        if (json_object_object_get_ex(o, "processes", &a))
                for (size_t i = 0; i < json_object_array_length(a); i++) {
                        json_object *p = json_object_array_get_idx(a, i), *inv;
                        fprintf(f, "PID %s (%s)\n", jstr(p, "pid"), jstr(p, "comm"));
                        if (json_object_object_get_ex(p, "invariants", &inv))
                                text_invariants(f, inv);
                }
        if (json_object_object_get_ex(o, "coverage", &k)) {
                fprintf(f, "coverage: %s%s%s; %s of %s candidate pages merged%s%s%s\n",
                        streq(jstr(k, "judged"), "true") ? "judged" : "not judged",
                        *jstr(k, "why") ? ": " : "", jstr(k, "why"), jstr(k, "merged"), jstr(k, "candidates"),
                        *jstr(k, "percent") ? " (" : "", jstr(k, "percent"), *jstr(k, "percent") ? "%)" : "");
                if (json_object_object_get_ex(k, "vmas", &a))
                        for (size_t i = 0; i < json_object_array_length(a); i++) {
                                json_object *v = json_object_array_get_idx(a, i);
                                fprintf(f, "  PID %s %s-%s %s %s merged %s/%s unmerged %s %s\n", jstr(v, "pid"),
                                        jstr(v, "start"), jstr(v, "end"), jstr(v, "perms"), jstr(v, "tags"),
                                        jstr(v, "merged"), jstr(v, "candidates"), jstr(v, "unmerged"), jstr(v, "verdict"));
                        }
        }
        if (json_object_object_get_ex(o, "findings", &a))
                for (size_t i = 0; i < json_object_array_length(a); i++) {
                        json_object *fi = json_object_array_get_idx(a, i);
                        fprintf(f, "finding: %s %s (%s)%s%s: kernel %s, walk %s %s: %s\n", jstr(fi, "kind"),
                                jstr(fi, "field"), jstr(fi, "source"), *jstr(fi, "pid") ? " PID " : "", jstr(fi, "pid"),
                                jstr(fi, "kernel"), jstr(fi, "walk"), jstr(fi, "unit"), jstr(fi, "explanation"));
                }
        if (json_object_object_get_ex(o, "notes", &a))
                for (size_t i = 0; i < json_object_array_length(a); i++)
                        fprintf(f, "note: %s\n", json_object_get_string(json_object_array_get_idx(a, i)));
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}

/* ================================================================ API */

static void env_init(struct smapsaudit_ctx *ctx, struct ksm_env *env) {
        long ps = ctx->live ? sysconf(_SC_PAGESIZE) : (long) SA_PAGE_SIZE;

        env->page_size = ps > 0 ? ps : (int64_t) SA_PAGE_SIZE;
        env->rmap_item_size = sizeof(void *) == 8 ? RMAP_ITEM_SIZE : 36;
}

_export_ int smapsaudit_ksm_check_opts(struct smapsaudit_ctx *ctx, pid_t pid, const struct smapsaudit_ksm_opts *opts,
                                       char **ret) {
        struct smapsaudit_ksm_opts o = opts ? *opts : (struct smapsaudit_ksm_opts) {}, cov_opts = o;
        struct ksm_run run = { .ctx = ctx };
        struct ksm_result res = {};
        struct sa_ksm_coverage *cov = NULL;
        json_object *doc = NULL, *findings = NULL, *covj = NULL;
        enum smapsaudit_verdict verdict;
        bool cov_open = false;
        const char *s;
        int r;

        if (pid < 0 || !ret)
                return -EINVAL;
        if (!o.max_pages)
                o.max_pages = DEFAULT_MAX_PAGES;
        if (!o.max_wait_msec)
                o.max_wait_msec = cov_opts.max_wait_msec = DEFAULT_WAIT_MSEC;
        run.max_pages = o.max_pages;
        run.deadline = sa_ksm_now_usec() + (uint64_t) o.max_wait_msec * 1000;
        env_init(ctx, &run.env);

        r = run_rounds(&run, pid, &res);
        if (r < 0)
                goto out;
        findings = json_object_new_array();
        if (!findings) {
                r = -ENOMEM;
                goto out;
        }
        if (o.flags & SMAPSAUDIT_KSM_COVERAGE) {
                _cleanup_free_ pid_t *pids = calloc(res.snap.n_procs ? res.snap.n_procs : 1, sizeof(*pids));
                size_t n = 0;
                unsigned nf = 0;

                if (!pids) {
                        r = -ENOMEM;
                        goto out;
                }
                for (size_t i = 0; i < res.snap.n_procs; i++)
                        if (!res.snap.procs[i].gone && res.snap.procs[i].active)
                                pids[n++] = res.snap.procs[i].pid;
                r = sa_ksm_coverage_run(ctx, pids, n, &cov_opts, &cov);
                if (r < 0)
                        goto out;
                covj = sa_ksm_coverage_json(cov, findings, &nf, &cov_open);
        }
        doc = result_json(ctx, &res, &run.env, pid, covj, cov_open, findings, &verdict);
        if (!doc) {
                r = -ENOMEM;
                goto out;
        }
        if (o.flags & SMAPSAUDIT_KSM_TEXT) {
                r = to_text(doc, ret);
                if (r < 0)
                        goto out;
        } else {
                s = json_object_to_json_string_ext(doc, (o.flags & SMAPSAUDIT_KSM_PRETTY)
                                                                ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                                                                : JSON_C_TO_STRING_PLAIN);
                *ret = s ? strdup(s) : NULL;
                if (!*ret) {
                        r = -ENOMEM;
                        goto out;
                }
        }
        r = (int) verdict;
out:
        json_object_put(doc);
        json_object_put(findings);
        sa_ksm_coverage_free(cov);
        snap_done(&res.snap);
        free(res.invs);
        return r;
}

_export_ int smapsaudit_ksm_check(struct smapsaudit_ctx *ctx, pid_t pid, unsigned flags, char **ret) {
        struct smapsaudit_ksm_opts o = { .flags = flags };

        return smapsaudit_ksm_check_opts(ctx, pid, &o, ret);
}

/* ================================================================ the audit's part */

/*
 * At the end of an audit: the report's walk is done, ksm_stat is read
 * twice around a read of the globals. Only what needs no waiting becomes a
 * finding here: the strict per-process rules on two equal reads. A
 * difference that a full scan may settle is a note pointing at
 * `smapsaudit ksm --pid`.
 */
int sa_ksm_audit(struct smapsaudit_ctx *ctx, pid_t pid, struct smapsaudit_report *r) {
        struct sa_ksm_globals g0 = {}, g1 = {};
        struct ksm_inv invs[MAX_PROC_INVS];
        struct ksm_proc p = { .pid = pid };
        struct sa_ksm_stat a;
        struct ksm_env env;
        bool have_g, running;
        size_t n;
        int ret;

        ret = sa_ksm_stat_read(ctx, pid, &a);
        if (ret == -EOPNOTSUPP || ret == -ENOENT)
                return 0;   /* no KSM in this kernel */
        if (ret < 0)
                return ret == -ESRCH ? 0 : ret;
        have_g = sa_ksm_globals_read(ctx, &g0) >= 0;
        ret = sa_ksm_stat_read(ctx, pid, &p.stat);
        if (ret < 0 || p.stat.have == 0)
                return ret == -ESRCH || ret >= 0 ? 0 : ret;
        if (have_g)
                have_g = sa_ksm_globals_read(ctx, &g1) >= 0;
        r->ksm_stat = p.stat;
        r->have_ksm_stat = true;

        env_init(ctx, &env);
        p.stat_stable = stat_equal(&a, &p.stat);
        p.walked = (r->walk_mode & SA_WALK_KPAGE) != 0;
        p.not_walked = "no PFN join";
        for (size_t i = 0; i < r->n_vmas; i++) {
                const struct sa_vma_report *v = &r->vmas[i];
                bool mg = (v->kernel.vmflags & SA_VMF(SA_VM_MG)) || (v->tags & SMAPSAUDIT_TAG_KSM_MERGEABLE);
                p.ksm_pages += v->walk.ksm_pages;
                if (mg) {
                        p.zero_pages += v->walk.zero_pages;
                        p.swap_pages += v->walk.swap_pages + v->walk.migration_pages;
                }
        }
        running = !have_g || (sa_ksm_running(&g0) && sa_ksm_running(&g1));
        n = judge_process(&p, &env, !have_g || g0.sys.run == g1.sys.run, invs);
        for (size_t i = 0; i < n; i++) {
                struct ksm_inv *v = &invs[i];
                enum dir_rule rule;

                /* smaps KSM against the walk is the audit's own field "KSM" */
                if (streq(v->name, "smaps_ksm"))
                        continue;
                /*
                 * The walk is older than these reads: ksmd may have added KSM
                 * zero pages since, so that rule is strict only while it is stopped.
                 */
                if (streq(v->name, "zero_pages_le_mapped") && running && v->kernel >= 0)
                        v->over = DIR_SETTLES;
                inv_judge(v, running);
                if (!v->candidate)
                        continue;
                rule = v->dir > 0 ? v->over : v->under;
                if (rule == DIR_STRICT) {
                        /* the two equal ksm_stat reads are the confirmation */
                        struct smapsaudit_finding f = {
                                .kind = v->dir > 0 ? SMAPSAUDIT_OVER_ACCOUNTED : SMAPSAUDIT_UNDER_ACCOUNTED,
                                .field = v->field, .source = v->source,
                                .kernel_kb = to_kb(v, v->kernel, env.page_size),
                                .walk_kb = to_kb(v, v->other, env.page_size),
                                .explanation = v->dir > 0 ? v->why_over : v->why_under,
                        };
                        f.delta_kb = f.kernel_kb - f.walk_kb;
                        ret = sa_report_add_finding(r, &f);
                        if (ret < 0)
                                return ret;
                } else
                        sa_report_note(r, "KSM: %s %" PRId64 " vs %s %" PRId64 " may be lag until ksmd's next full scan; "
                                          "smapsaudit ksm --pid %d confirms it", v->field, v->kernel, v->other_name,
                                       v->other, (int) pid);
        }
        return 0;
}

static json_object *report_inv(const char *name, const char *field, const char *against, const char *rel,
                               int64_t kernel, int64_t other, bool violated, bool holds) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "name", json_object_new_string(name));
        json_object_object_add(o, "field", json_object_new_string(field));
        json_object_object_add(o, "source", json_object_new_string("ksm_stat"));
        json_object_object_add(o, "against", json_object_new_string(against));
        json_object_object_add(o, "relation", json_object_new_string(rel));
        add_i64(o, "kernel", kernel);
        add_i64(o, "walk", other);
        json_object_object_add(o, "verdict", json_object_new_string(violated ? "violated" : holds ? "holds" : "lag"));
        return o;
}

/*
 * The report's "ksm" object, rebuilt from what the report holds (also
 * after a round trip through JSON): the counters, the walk's KSM and zero
 * pages, and which rules became findings.
 */
json_object *sa_ksm_report_json(const struct smapsaudit_report *r) {
        const struct sa_ksm_stat *s = &r->ksm_stat;
        json_object *o = json_object_new_object(), *w = json_object_new_object(), *a;
        uint64_t ksm = 0, zero = 0;
        bool walked = (r->walk_mode & SA_WALK_KPAGE) != 0;
        bool f_merging = false, f_zero = false, f_profit = false;
        int64_t expect;
        struct ksm_env env;

        if (!o || !w)
                return o;
        for (size_t i = 0; i < r->n_findings; i++) {
                const struct smapsaudit_finding *f = &r->findings[i];
                if (!f->source || !streq(f->source, "ksm_stat"))
                        continue;
                f_merging |= streq(f->field, "ksm_merging_pages");
                f_zero |= streq(f->field, "ksm_zero_pages");
                f_profit |= streq(f->field, "ksm_process_profit");
        }
        for (size_t i = 0; i < r->n_vmas; i++) {
                const struct sa_vma_report *v = &r->vmas[i];
                ksm += v->walk.ksm_pages;
                if ((v->kernel.vmflags & SA_VMF(SA_VM_MG)) || (v->tags & SMAPSAUDIT_TAG_KSM_MERGEABLE))
                        zero += v->walk.zero_pages;
        }
        json_object_object_add(o, "ksm_stat", ksm_stat_object(s));
        add_i64(w, "ksm_pages", (int64_t) ksm);
        add_i64(w, "zero_pages_mergeable", (int64_t) zero);
        json_object_object_add(o, "walk", w);

        a = json_object_new_array();
        if ((s->have & SA_KSM_STAT_MERGING) && (s->have & SA_KSM_STAT_RMAP_ITEMS))
                json_object_array_add(a, report_inv("merging_le_rmap_items", "ksm_merging_pages", "ksm_rmap_items", "<=",
                                                    s->merging_pages, s->rmap_items,
                                                    f_merging && s->merging_pages > s->rmap_items,
                                                    s->merging_pages <= s->rmap_items));
        if ((s->have & SA_KSM_STAT_MERGING) && walked)
                json_object_array_add(a, report_inv("merging_le_mapped", "ksm_merging_pages",
                                                    "walk: KPF_KSM pages mapped", "<=", s->merging_pages,
                                                    (int64_t) ksm, false, s->merging_pages <= (int64_t) ksm));
        if ((s->have & SA_KSM_STAT_ZERO_PAGES) && walked)
                json_object_array_add(a, report_inv("zero_pages_le_mapped", "ksm_zero_pages",
                                                    "walk: zero-page PTEs in the mergeable VMAs", "<=", s->zero_pages,
                                                    (int64_t) zero, f_zero,
                                                    s->zero_pages >= 0 && s->zero_pages <= (int64_t) zero));
        env.page_size = sysconf(_SC_PAGESIZE) > 0 ? sysconf(_SC_PAGESIZE) : (int64_t) SA_PAGE_SIZE;
        env.rmap_item_size = sizeof(void *) == 8 ? RMAP_ITEM_SIZE : 36;
        expect = ((s->have & SA_KSM_STAT_MERGING ? s->merging_pages : 0) +
                  (s->have & SA_KSM_STAT_ZERO_PAGES ? s->zero_pages : 0)) * env.page_size -
                 s->rmap_items * env.rmap_item_size;
        if ((s->have & SA_KSM_STAT_PROFIT) && (s->have & SA_KSM_STAT_RMAP_ITEMS))
                json_object_array_add(a, report_inv("process_profit", "ksm_process_profit",
                                                    "(merging + zero) * page size - rmap_items * 64", "==",
                                                    s->process_profit, expect, f_profit, s->process_profit == expect));
        json_object_object_add(o, "invariants", a);
        return o;
}
