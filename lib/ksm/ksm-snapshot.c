/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What `smapsaudit ksm` reads in one round: every process's ksm_stat,
 * smaps and mergeable VMAs walked with the PFN join (KPF_KSM pages and
 * their kpagecount, zero-page PTEs), between two reads of the globals.
 * ksm-rounds.c repeats the rounds until the invariants (ksm-invariants.c)
 * are confirmed or settled.
 */
#include <time.h>

#include "ctx.h"
#include "ksm.h"
#include "missing.h"
#include "procfs.h"

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
                        y = sa_smaps_find(&b, x->start, x->end);
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
 * Every process, sorted by PID, as smapsaudit_list_processes() gives them:
 * on a live system it skips kernel threads and processes without memory; a
 * capture has only the PID directories below its proc root.
 */
static int list_pids(struct smapsaudit_ctx *ctx, pid_t **ret, size_t *n) {
        _cleanup_free_ struct smapsaudit_proc *list = NULL;
        _cleanup_free_ pid_t *pids = NULL;
        size_t m = 0;
        int r;

        r = smapsaudit_list_processes(ctx, &list, &m);
        if (r < 0)
                return r;
        pids = calloc(m ? m : 1, sizeof(*pids));
        if (!pids)
                return -ENOMEM;
        for (size_t i = 0; i < m; i++)
                pids[i] = list[i].pid;
        if (m)
                qsort(pids, m, sizeof(*pids), cmp_pid);
        *ret = TAKE_PTR(pids);
        *n = m;
        return 0;
}

static int cmp_pfn_count(const void *a, const void *b) {
        const struct sa_ksm_pfn *x = a, *y = b;
        return x->pfn < y->pfn ? -1 : x->pfn > y->pfn;
}

void sa_ksm_snap_done(struct sa_ksm_snap *s) {
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

int sa_ksm_snap_take(struct sa_ksm_run *run, pid_t pid, struct sa_ksm_snap *s) {
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
