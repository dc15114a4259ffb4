/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What `smapsaudit ksm` reads, in rounds: every process's ksm_stat, smaps
 * and mergeable VMAs walked with the PFN join (KPF_KSM pages and their
 * kpagecount, zero-page PTEs), between two reads of the globals; then the
 * rounds that judge, wait for ksmd's full scans and confirm
 * (ksm-invariants.c holds the rules).
 */
#include <dirent.h>
#include <time.h>

#include "ctx.h"
#include "ksm.h"
#include "missing.h"
#include "procfs.h"

#define MAX_ROUNDS 6

/* ================================================================ the walk's view */

enum sa_ksm_page sa_ksm_page_of(const struct sa_page *p) {
        if (!(p->pme & PM_PRESENT))
                return SA_KSM_PAGE_NONE;
        if (p->pfn_zero || (p->joined && (p->kpf & KPF(KPF_ZERO_PAGE))))
                return SA_KSM_PAGE_ZERO;
        if (p->joined && (p->kpf & KPF(KPF_KSM)))
                return SA_KSM_PAGE_KSM;
        return SA_KSM_PAGE_PLAIN;
}

bool sa_ksm_page_in_flight(const struct sa_page *p) {
        return !(p->pme & PM_PRESENT) && (p->pme & PM_SWAP) && !(p->pme & PM_GUARD_REGION);
}

/* VmFlags mg, below TASK_SIZE: where ksmd looks (it never sets mg on hugetlb or PFN maps). */
bool sa_ksm_vma_mergeable(const struct sa_smaps_vma *v) {
        return (v->vmflags & SA_VMF(SA_VM_MG)) && v->start < 0x800000000000ULL &&
               !(v->vmflags & (SA_VMF(SA_VM_HT) | SA_VMF(SA_VM_PF) | SA_VMF(SA_VM_IO)));
}

void sa_ksm_read_comm(struct smapsaudit_ctx *ctx, pid_t pid, char *comm, size_t size) {
        _cleanup_free_ char *buf = NULL;

        comm[0] = 0;
        if (sa_read_pid_file(ctx, pid, "comm", &buf, NULL) < 0)
                return;
        buf[strcspn(buf, "\n")] = 0;
        snprintf(comm, size, "%s", buf);
}

/* ================================================================ one process */

static int push_pfn(struct sa_ksm_snap *s, uint64_t pfn, uint64_t kpc) {
        if (s->n_pfns == s->cap_pfns) {
                size_t nc = s->cap_pfns ? s->cap_pfns * 2 : 4096;
                struct sa_ksm_pfn *np = realloc(s->pfns, nc * sizeof(*np));
                if (!np)
                        return -ENOMEM;
                s->pfns = np;
                s->cap_pfns = nc;
        }
        s->pfns[s->n_pfns++] = (struct sa_ksm_pfn) { pfn, kpc };
        return 0;
}

struct walk_state {
        struct sa_ksm_snap *snap;
        struct sa_ksm_proc *proc;
};

static int on_pages(void *userdata, const struct sa_page *pages, size_t n) {
        struct walk_state *w = userdata;
        struct sa_ksm_proc *p = w->proc;
        int r;

        for (size_t i = 0; i < n; i++) {
                const struct sa_page *pg = &pages[i];

                switch (sa_ksm_page_of(pg)) {
                case SA_KSM_PAGE_NONE:
                        if (sa_ksm_page_in_flight(pg))
                                p->swap_pages++;
                        continue;
                case SA_KSM_PAGE_ZERO:
                        p->zero_pages++;
                        break;
                case SA_KSM_PAGE_KSM:
                        p->ksm_pages++;
                        if (w->snap) {
                                r = push_pfn(w->snap, pg->pme & PM_PFN_MASK, pg->kpc);
                                if (r < 0)
                                        return r;
                        }
                        break;
                case SA_KSM_PAGE_PLAIN:
                        break;
                }
                p->present_pages++;
        }
        return 0;
}

static const struct sa_smaps_vma *smaps_find(const struct sa_smaps *s, uint64_t start, uint64_t end) {
        for (size_t i = 0; i < s->n; i++)
                if (s->vmas[i].start == start && s->vmas[i].end == end)
                        return &s->vmas[i];
        return NULL;
}

/*
 * Reads one process: ksm_stat, smaps, the walk of its mergeable VMAs, smaps
 * and ksm_stat again. A process without KSM activity is walked only when
 * asked for by PID.
 */
static int collect_proc(struct sa_ksm_run *run, struct sa_ksm_snap *snap, struct sa_ksm_proc *p, bool always) {
        struct smapsaudit_ctx *ctx = run->ctx;
        _cleanup_free_ char *buf = NULL;
        struct sa_smaps a = {}, b = {};
        struct sa_ksm_stat before;
        struct sa_walker *w = NULL;
        struct walk_state ws = { snap, p };
        bool all = true;
        pid_t mm = sa_mm_pid(ctx, p->pid);  /* the mm's files, through a live thread if the leader exited */
        int r;

        r = sa_ksm_stat_read(ctx, mm, &before);
        if (r == -ESRCH || (r >= 0 && before.have == 0)) {
                /* gone, or a zombie whose mm is gone */
                p->gone = true;
                return 0;
        }
        if (r < 0)
                return r;
        p->stat = before;
        p->stat_stable = true;
        p->active = sa_ksm_stat_active(&before);
        if (!p->comm[0])
                sa_ksm_read_comm(ctx, p->pid, p->comm, sizeof(p->comm));
        if (!p->active && !always)
                return 0;

        p->not_walked = "not walked";
        r = sa_read_pid_file(ctx, mm, "smaps", &buf, NULL);
        if (r < 0) {
                p->gone = r == -ENOENT || r == -ESRCH;
                return p->gone ? 0 : r;
        }
        r = sa_smaps_parse(buf, &a);
        free(TAKE_PTR(buf));
        if (r < 0)
                return r;

        r = sa_walker_new(ctx, mm, 0, &w);
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
                r = sa_walk_range(w, v->start, v->end, 0, on_pages, &ws);
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

        if (sa_read_pid_file(ctx, mm, "smaps", &buf, NULL) >= 0 && sa_smaps_parse(buf, &b) >= 0) {
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
        if (sa_ksm_stat_read(ctx, mm, &p->stat) < 0 || p->stat.have == 0) {
                p->gone = true;
                p->walked = false;
        } else
                p->stat_stable = sa_ksm_stat_equal(&before, &p->stat);
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

/*
 * Every process, sorted by PID: smapsaudit_list_processes() on a live
 * system (it skips kernel threads and processes without memory); a capture
 * has no libproc2 to ask (that call is -EOPNOTSUPP there), only the PID
 * directories below its proc root.
 */
static int list_pids(struct smapsaudit_ctx *ctx, pid_t **ret, size_t *n) {
        _cleanup_free_ pid_t *pids = NULL;
        size_t count = 0;

        if (sa_ctx_live(ctx)) {
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
                DIR *d = opendir(smapsaudit_ctx_get_proc_root(ctx));
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
        const struct sa_ksm_pfn *x = a, *y = b;
        return x->pfn < y->pfn ? -1 : x->pfn > y->pfn;
}

static void snap_done(struct sa_ksm_snap *s) {
        free(s->procs);
        free(s->pfns);
        memset(s, 0, sizeof(*s));
}

static void snap_sums(struct sa_ksm_snap *s) {
        s->have_merging = s->have_rmap = s->have_zero = s->n_procs > 0;
        for (size_t i = 0; i < s->n_procs; i++) {
                const struct sa_ksm_proc *p = &s->procs[i];
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

static int take_snapshot(struct sa_ksm_run *run, pid_t pid, struct sa_ksm_snap *s) {
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
                s->all_processes = sa_ctx_live(run->ctx);
        }
        s->complete = s->all_processes;
        s->procs = calloc(n ? n : 1, sizeof(*s->procs));
        if (!s->procs)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct sa_ksm_proc *p = &s->procs[s->n_procs++];
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
                s->stable = sa_ksm_run_steady(&s->g0, &s->g1) && s->procs[0].stat_stable && s->procs[0].smaps_stable;
        else
                s->stable = sa_ksm_globals_stable(&s->g0, &s->g1);
        snap_sums(s);
        return 0;
}

/* ================================================================ rounds */

bool sa_ksm_snap_judges(const struct sa_ksm_snap *s, const struct sa_ksm_proc *p) {
        return !p->gone && (!s->global || p->active);
}

static int judge_snapshot(const struct sa_ksm_snap *s, const struct sa_ksm_env *env, struct sa_ksm_inv **ret,
                          size_t *n) {
        size_t cap = SA_KSM_GLOBAL_INVS + s->n_procs * SA_KSM_PROC_INVS, k = 0;
        struct sa_ksm_inv *invs = calloc(cap ? cap : 1, sizeof(*invs));
        bool running = sa_ksm_running(&s->g0) && sa_ksm_running(&s->g1);

        if (!invs)
                return -ENOMEM;
        if (s->global)
                k += sa_ksm_judge_global(s, env, invs + k);
        for (size_t i = 0; i < s->n_procs; i++)
                if (sa_ksm_snap_judges(s, &s->procs[i]))
                        k += sa_ksm_judge_process(&s->procs[i], env, sa_ksm_run_steady(&s->g0, &s->g1), invs + k);
        for (size_t i = 0; i < k; i++) {
                const char *pending = invs[i].note;
                sa_ksm_inv_judge(&invs[i], running);
                /* keep the subset remark where the judgement left no note of its own */
                if (!invs[i].note)
                        invs[i].note = pending;
        }
        *ret = invs;
        *n = k;
        return 0;
}

static const struct sa_ksm_inv *find_inv(const struct sa_ksm_inv *invs, size_t n, const struct sa_ksm_inv *v) {
        for (size_t i = 0; i < n; i++)
                if (invs[i].pid == v->pid && streq(invs[i].name, v->name))
                        return &invs[i];
        return NULL;
}

static bool any_candidate(const struct sa_ksm_inv *invs, size_t n, bool *settling) {
        bool any = false;

        *settling = false;
        for (size_t i = 0; i < n; i++)
                if (invs[i].candidate) {
                        any = true;
                        *settling |= sa_ksm_inv_rule(&invs[i]) == SA_KSM_SETTLES;
                }
        return any;
}

/*
 * A capture is one reading, held still by the capture's own sandwich: its
 * strict differences stand as they are. A difference that must outlive a
 * full scan is held against the first reading the capture's KSM hashes file
 * recorded, across the full scans the capture waited for.
 */
static void confirm_from_capture(struct sa_ksm_run *run, const struct sa_ksm_snap *s, struct sa_ksm_inv *invs, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (invs[i].candidate && sa_ksm_inv_rule(&invs[i]) == SA_KSM_STRICT) {
                        invs[i].verdict = SA_KSM_VIOLATED;
                        invs[i].candidate = false;
                        invs[i].note = "a capture is one reading: its own sandwich held it still";
                }
        for (size_t pi = 0; pi < s->n_procs; pi++) {
                const struct sa_ksm_proc *p = &s->procs[pi];
                struct sa_ksm_capture_reading first;
                struct sa_ksm_inv prev[SA_KSM_PROC_INVS];
                struct sa_ksm_proc fp;
                bool scanned, cow;
                size_t m;

                if (p->gone || sa_ksm_capture_readings(run->ctx, p->pid, &first) < 0)
                        continue;
                fp = (struct sa_ksm_proc) {
                        .pid = p->pid, .stat = first.reading.stat, .stat_stable = true, .walked = first.reading.walked,
                        .ksm_pages = first.reading.ksm_pages, .zero_pages = first.reading.zero_pages,
                        .swap_pages = first.reading.swap_pages, .smaps_stable = true,
                };
                m = sa_ksm_judge_process(&fp, &run->env, true, prev);
                for (size_t i = 0; i < m; i++)
                        sa_ksm_inv_judge(&prev[i], true);
                scanned = s->g0.sys.full_scans >= first.after.sys.full_scans + 2;
                cow = first.before.cow_ksm >= 0 && s->g1.cow_ksm >= 0 && first.before.cow_ksm != s->g1.cow_ksm;
                for (size_t i = 0; i < n; i++)
                        if (invs[i].pid == p->pid)
                                sa_ksm_inv_confirm(&invs[i], find_inv(prev, m, &invs[i]), scanned, cow);
        }
}

/* The result takes a round over: its snapshot and its judgements. */
static void result_keep(struct sa_ksm_result *res, struct sa_ksm_snap *s, struct sa_ksm_inv *invs, size_t n) {
        sa_ksm_result_done(res);
        res->snap = *s;
        res->invs = invs;
        res->n_invs = n;
}

void sa_ksm_result_done(struct sa_ksm_result *res) {
        snap_done(&res->snap);
        free(res->invs);
        res->invs = NULL;
        res->n_invs = 0;
}

int sa_ksm_run_rounds(struct sa_ksm_run *run, pid_t pid, struct sa_ksm_result *res) {
        struct sa_ksm_snap prev = {};
        struct sa_ksm_inv *prev_invs = NULL;
        size_t n_prev = 0;
        bool have_prev = false;
        int r = 0;

        for (unsigned round = 0; round < MAX_ROUNDS; round++) {
                struct sa_ksm_snap s = {};
                struct sa_ksm_inv *invs = NULL;
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
                        if (!have_prev)
                                result_keep(res, &s, invs, n);
                        else {
                                snap_done(&s);
                                free(invs);
                        }
                        if (!sa_ctx_live(run->ctx) || sa_ksm_now_usec() >= run->deadline)
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
                                sa_ksm_inv_confirm(&invs[i], find_inv(prev_invs, n_prev, &invs[i]), scanned, cow);
                }
                if (!sa_ctx_live(run->ctx))
                        confirm_from_capture(run, &s, invs, n);
                pending = any_candidate(invs, n, &settling);
                result_keep(res, &s, invs, n);
                if (!pending || !sa_ctx_live(run->ctx))
                        break;
                /* keep this round to confirm against */
                snap_done(&prev);
                free(prev_invs);
                prev = (struct sa_ksm_snap) { .g0 = s.g0, .g1 = s.g1 };
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
                sa_ksm_inv_finish(&res->invs[i]);
out:
        snap_done(&prev);
        free(prev_invs);
        return r;
}
