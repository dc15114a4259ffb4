/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One audit: sources → walk → account → compare, in sandwiched passes.
 *
 * A live process changes while it is read, and so do ksmd, khugepaged and
 * NUMA migration. Each pass reads the kernel's views, walks, and reads the
 * views again; a VMA whose exact fields moved between the two reads is
 * walked again in the next pass. A disagreement found on a stable VMA must
 * show again, same field and direction, in a later pass before it becomes
 * a finding. What is still undecided after the last pass is inconclusive,
 * never a finding.
 */
#include <inttypes.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <time.h>

#include "ctx.h"
#include "freeze.h"
#include "inflight.h"
#include "judge.h"
#include "ksm.h"
#include "missing.h"
#include "pass.h"
#include "pidfd-util.h"
#include "procfs.h"
#include "rollup-record.h"
#include "time-util.h"

#define DEFAULT_PASSES 5
/* the most --freeze=auto may keep the target stopped, per audit */
#define FREEZE_AUTO_BUDGET_USEC (50 * 1000)
#define NUMA_BIT (1ULL << 31)
/* what an audit may spend waiting for an exec or an unmap of the target to end before reading its views */
#define INFLIGHT_WAIT_USEC (50 * 1000)
/* how often an audit follows a target that execs again while its new image is read */
#define FOLLOW_EXEC_TRIES 5

struct views {
        struct sa_smaps smaps;
        struct sa_smaps rollup;
        struct sa_status status;
        bool have_status;
        struct sa_numa_maps numa;
        bool have_numa;
        struct sa_population population; /* forks and exits elsewhere move shared pages' mapcounts */
        struct sa_population population_end; /* the same, after the smaps and status reads */
        uint64_t faults;          /* the target's minflt + majflt */
        uint64_t rollup_faults_before, rollup_faults_after; /* around the rollup read */
        struct sa_events ev_start, ev_end; /* what could change the pages, before and after these reads */
        struct sa_events ev_rollup;        /* the same, just before the rollup read */
        bool have_rollup;         /* rollup and numa_maps are read once a pass, between the two smaps reads */
        struct sa_inflight inflight_before, inflight_after; /* the threads, before the smaps read and after status */
};

/* Mapcount fields of pages others can map are judged only in passes where this holds still. */
static bool population_moved(const struct views *A, const struct views *B) {
        return A->population.forks != B->population_end.forks || A->population.tasks != B->population_end.tasks;
}

enum vma_state {
        VMA_PENDING,
        VMA_DONE,
};

struct vma_track {
        enum vma_state state;
        bool seen_stable;
        bool core_ok;             /* stable and agreeing, but for mapcount fields that never held still */
        bool present;             /* in the latest views */
        uint64_t prev_mask;       /* disagreements seen in an earlier stable pass */
        struct sa_field_cmp prev_cmp[SA_PRIVATE + 1];
        struct sa_range prev_walk[SA_PRIVATE + 1]; /* unrounded: any mapcount change shows */
        uint64_t prev_numa;       /* numa_signature() of that pass */
        bool numa_settled;        /* numa_maps agreed in a stable pass, or has nothing to say */
        bool moved;               /* mapped, unmapped or changed between two views, or its walk disagreed */
        bool walk_exact;          /* settled with its walk matching the kernel without churn slack */
        bool moving_decided;      /* never held still, but agreed with the walk where no THP event could hide a bug */
};

struct audit {
        struct smapsaudit_ctx *ctx;
        pid_t pid;
        pid_t mm_pid;             /* whose /proc directory shows the mm: pid, or a live thread (sa_mm_pid) */
        const struct smapsaudit_audit_opts *opts;
        struct smapsaudit_report *r;
        struct sa_walker *walker;
        struct sa_account_rules rules;
        struct vma_track *track;  /* beside r->vmas, n_track_alloc of both allocated */
        size_t n_track_alloc;
        int pidfd;
        uint64_t start_time;
        bool totals_done;
        uint64_t prev_rollup_mask, prev_status_mask;
        struct sa_field_cmp prev_rollup_cmp[_SA_FIELD_MAX];
        struct sa_range prev_total[_SA_FIELD_MAX];
        bool rollup_done, status_done;
        bool rollup_churn;        /* the rollup disagreed only in mapcount fields, never twice alike */
        uint64_t rollup_sighted;  /* rollup disagreements in fields the target alone moves, any pass */
        bool rollup_agreed;       /* the rollup agreed in a pass after such a sighting */
        uint64_t transient_kb;    /* the most Rss in VMAs that changed between two views of a pass */
        uint64_t moving_kb;       /* Rss of VMAs stable in this pass that moved before */
        bool execed;              /* the process exec'ed during the audit: the walker was opened again */
        struct sa_smaps third;    /* smaps read a third time in a pass (third_smaps), if it was */
        bool have_third;
        unsigned progress_pass;
        uint64_t progress_done;   /* pages of this pass's walk before the VMA being walked */
        uint64_t progress_total;  /* pages this pass walks */
        uint64_t progress_next;   /* where inside a VMA the next report is due */
        struct sa_inflight_log inflight_log; /* passes whose status counters were not compared */
        uint64_t inflight_wait_usec;         /* left of the time to wait for such work to end */
        struct sa_rollup_record rollup_rec;  /* the rollup as the pass that settled it saw it */
        struct sa_fault_units units; /* what one fault can map, read each pass */
};

static bool rollup_sensitive(unsigned f) {
        return (MAPCOUNT_SENSITIVE & (1ULL << f)) || sa_fields[f].unit == SA_UNIT_PSS;
}

static void views_done(struct views *v) {
        sa_smaps_done(&v->smaps);
        sa_smaps_done(&v->rollup);
        sa_numa_maps_done(&v->numa);
        memset(v, 0, sizeof(*v));
}

/* /proc/PID/stat: start time (for PID reuse), page faults so far (for activity) and task flags. */
static int read_stat_flags(struct smapsaudit_ctx *ctx, pid_t pid, uint64_t *start_time, uint64_t *faults,
                           uint64_t *flags) {
        _cleanup_free_ char *buf = NULL;
        struct sa_stat st;
        int r;

        r = sa_read_pid_file(ctx, pid, "stat", &buf, NULL);
        if (r < 0)
                return r;
        r = sa_stat_parse(buf, &st);
        if (r < 0)
                return r;
        if (start_time)
                *start_time = st.start_time;
        if (faults)
                *faults = st.faults;
        if (flags)
                *flags = st.flags;
        return 0;
}

static int read_stat(struct smapsaudit_ctx *ctx, pid_t pid, uint64_t *start_time, uint64_t *faults) {
        return read_stat_flags(ctx, pid, start_time, faults, NULL);
}

/* The target is gone, or its PID now names another process. */
static bool target_gone(struct audit *a) {
        uint64_t st;

        if (pidfd_exited(a->pidfd))
                return true;
        if (!a->ctx->live)
                return false;
        return read_stat(a->ctx, a->pid, &st, NULL) < 0 || st != a->start_time;
}

static bool no_follow_exec(const struct audit *a) {
        return a->opts && (a->opts->flags & SMAPSAUDIT_AUDIT_NO_FOLLOW_EXEC);
}

static int exec_refused(struct audit *a) {
        return sa_error(a->ctx, -ESTALE, "process %d executed a new program during the audit; check again",
                        (int) a->pid);
}

/*
 * Why a process shows no VMAs. A dying process drops its mm (exit_mm) before
 * it becomes a zombie, so neither the pidfd nor the stat state says "exited"
 * yet: only PF_KTHREAD tells the one process that never had memory to audit.
 */
static int no_address_space(struct audit *a) {
        uint64_t flags;

        if (read_stat_flags(a->ctx, a->pid, NULL, NULL, &flags) < 0 || target_gone(a))
                return sa_error(a->ctx, -ESRCH, "PID %d exited during the audit", (int) a->pid);
        if (flags & SA_PF_KTHREAD)
                return sa_error(a->ctx, -ENODATA, "PID %d is a kernel thread: it has no address space to audit",
                                (int) a->pid);
        /* with bound files the mm they were opened on is gone while the process lives on: an exec */
        if (a->ctx->bound_pid != 0 && !(flags & SA_PF_EXITING))
                return exec_refused(a);
        return sa_error(a->ctx, -ESRCH, "PID %d is exiting: its address space is already gone", (int) a->pid);
}

/*
 * The views read on both sides of the walk: per-VMA smaps and status, whose
 * equality says the target held still. Each smaps read is a full page
 * table walk in the kernel, so the rollup and numa_maps are read once a
 * pass, inside that window (read_middle_views), not on both sides.
 */
static int read_views(struct audit *a, struct views *v) {
        _cleanup_free_ char *buf = NULL;
        int r;

        memset(v, 0, sizeof(*v));
        sa_inflight_settle(a->ctx, a->pid, &a->inflight_wait_usec, &v->inflight_before);
        sa_read_population(a->ctx, &v->population);
        sa_events_read(a->ctx, a->mm_pid, &v->ev_start);
        v->faults = v->ev_start.faults;
        r = sa_read_pid_file(a->ctx, a->mm_pid, "smaps", &buf, NULL);
        if (r == -ENOENT || r == -ESRCH)
                return sa_error(a->ctx, -ESRCH, "PID %d: no such process (no %s/%d/smaps)", (int) a->pid,
                                a->ctx->proc_root, (int) a->mm_pid);
        if (r < 0)
                return sa_error(a->ctx, r, "PID %d: cannot read %s/%d/smaps: %s", (int) a->pid, a->ctx->proc_root,
                                (int) a->mm_pid, strerror(-r));
        r = sa_smaps_parse(buf, &v->smaps);
        if (r < 0)
                return sa_error(a->ctx, r, "PID %d: cannot parse smaps: %s", (int) a->pid, strerror(-r));

        /* a missing file is an old or odd kernel; one that says nothing sensible is a broken capture */
        r = sa_status_read(a->ctx, a->mm_pid, &v->status);
        if (r == -EBADMSG)
                return sa_error(a->ctx, r, "PID %d: %s/%d/status is not a status file (empty, cut short, or "
                                "without Name, Uid or Threads)", (int) a->pid, a->ctx->proc_root, (int) a->mm_pid);
        v->have_status = r >= 0;
        if (!v->have_status)
                sa_report_note(a->r, "status not readable: its counters are not compared");
        sa_read_population(a->ctx, &v->population_end);
        sa_events_read(a->ctx, a->mm_pid, &v->ev_end);
        sa_inflight_sample(a->ctx, a->pid, &v->inflight_after);
        return 0;
}

/*
 * A view read between the smaps reads. Empty from a live process: its mm
 * went away, it is exiting. Unparseable: the file is broken (a capture),
 * and nothing said about it could be trusted.
 */
static int parse_middle_view(struct audit *a, const char *file, const char *buf, size_t len, void *ret,
                             int (*parse)(const char *buf, void *ret)) {
        int r;

        if (len == 0 && a->ctx->live)
                return -ESRCH;
        r = parse(buf, ret);
        if (r < 0)
                return sa_error(a->ctx, r, "PID %d: cannot parse %s/%d/%s: %s", (int) a->pid, a->ctx->proc_root,
                                (int) a->mm_pid, file, strerror(-r));
        return 0;
}

static int parse_rollup(const char *buf, void *ret) {
        return sa_smaps_parse(buf, ret);
}

static int parse_numa_maps(const char *buf, void *ret) {
        return sa_numa_maps_parse(buf, ret);
}

/* Only what is still undecided: each of these is a page-table walk in the kernel. */
static int read_middle_views(struct audit *a, struct views *v, bool rollup, bool numa) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r;

        v->have_rollup = rollup;
        sa_events_read(a->ctx, a->mm_pid, &v->ev_rollup);
        v->rollup_faults_before = v->ev_rollup.faults;
        if (rollup && sa_read_pid_file(a->ctx, a->mm_pid, "smaps_rollup", &buf, &len) >= 0) {
                r = parse_middle_view(a, "smaps_rollup", buf, len, &v->rollup, parse_rollup);
                if (r < 0)
                        return r;
        } else if (rollup)
                sa_report_note(a->r, "smaps_rollup not readable: the rollup is not compared");
        free(TAKE_PTR(buf));
        (void) read_stat(a->ctx, a->mm_pid, NULL, &v->rollup_faults_after);

        /* nothing to hold numa_maps against without the PFN → node map */
        if (!numa || !(a->r->walk_mode & SA_WALK_NODES))
                return 0;
        if (sa_read_pid_file(a->ctx, a->mm_pid, "numa_maps", &buf, &len) < 0) {
                sa_report_note(a->r, "numa_maps not readable (kernel without CONFIG_NUMA?): nodes are not compared");
                return 0;
        }
        r = parse_middle_view(a, "numa_maps", buf, len, &v->numa, parse_numa_maps);
        if (r < 0)
                return r;
        v->have_numa = true;
        return 0;
}

static const struct sa_smaps_vma *find_vma(const struct sa_smaps *s, uint64_t start, uint64_t end) {
        size_t lo = 0, hi = s->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (s->vmas[mid].start == start)
                        return s->vmas[mid].end == end ? &s->vmas[mid] : NULL;
                if (s->vmas[mid].start < start)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

static bool tracked_before(const struct sa_smaps_vma *t, const struct sa_smaps_vma *k) {
        return t->start < k->start || (t->start == k->start && t->end < k->end);
}

/* A VMA seen for the first time, tracked at position at of r->vmas. */
static int insert_vma(struct audit *a, size_t at, const struct sa_smaps_vma *k) {
        struct smapsaudit_report *r = a->r;
        char *name = strdup(k->name ? k->name : "");

        if (!name)
                return -ENOMEM;
        if (r->n_vmas == a->n_track_alloc) {
                size_t n = MAX(a->n_track_alloc * 2, (size_t) 16);
                struct sa_vma_report *nv = realloc(r->vmas, n * sizeof(*nv));
                struct vma_track *nt;

                if (!nv) {
                        free(name);
                        return -ENOMEM;
                }
                r->vmas = nv;
                nt = realloc(a->track, n * sizeof(*nt));
                if (!nt) {
                        free(name);
                        return -ENOMEM;
                }
                a->track = nt;
                a->n_track_alloc = n;
        }
        memmove(&r->vmas[at + 1], &r->vmas[at], (r->n_vmas - at) * sizeof(r->vmas[0]));
        memmove(&a->track[at + 1], &a->track[at], (r->n_vmas - at) * sizeof(a->track[0]));
        memset(&r->vmas[at], 0, sizeof(r->vmas[0]));
        r->vmas[at].kernel = *k;
        r->vmas[at].kernel.name = name;
        /* one that appears after the first view was mapped while we watched */
        a->track[at] = (struct vma_track) { .state = VMA_PENDING, .moved = r->passes > 1 };
        r->n_vmas++;
        return 0;
}

/*
 * Tracks every VMA of a view: idx[i] is where s->vmas[i] is in r->vmas.
 * Both are in address order (smaps lists VMAs so, and r->vmas is kept so),
 * so one merge pass does it, however many VMAs there are.
 */
static int track_view(struct audit *a, const struct sa_smaps *s, size_t *idx) {
        struct smapsaudit_report *r = a->r;
        size_t j = 0;
        int ret;

        for (size_t i = 0; i < s->n; i++) {
                const struct sa_smaps_vma *k = &s->vmas[i];

                while (j < r->n_vmas && tracked_before(&r->vmas[j].kernel, k))
                        j++;
                if (j == r->n_vmas || r->vmas[j].kernel.start != k->start || r->vmas[j].kernel.end != k->end) {
                        ret = insert_vma(a, j, k);
                        if (ret < 0)
                                return ret;
                }
                idx[i] = j++;
        }
        return 0;
}

/* FNV-1a over both sides' pages per node: equal only if nothing moved. */
static uint64_t numa_signature(const struct sa_vma_report *v) {
        uint64_t h = 1469598103934665603ULL;

        for (size_t i = 0; i < v->n_numa_kernel; i++)
                h = (h ^ (v->numa_kernel[i].pages * 131 + (uint64_t) v->numa_kernel[i].node)) * 1099511628211ULL;
        h = (h ^ 0xff) * 1099511628211ULL;
        for (size_t i = 0; i < v->walk.n_nodes; i++)
                h = (h ^ (v->walk.nodes[i].pages * 131 + (uint64_t) v->walk.nodes[i].node)) * 1099511628211ULL;
        return h;
}

static bool skip_walk(const struct sa_smaps_vma *k) {
        /* [vsyscall] lies above TASK_SIZE, outside pagemap */
        return streq(k->name ? k->name : "", "[vsyscall]") || k->start >= 0x800000000000ULL;
}

struct batch_ctx {
        const struct sa_account_rules *rules;
        const struct sa_vma_class *cls;
        struct sa_acc *acc;
        struct audit *a;
        uint64_t vma_start;
};

/* One VMA may be most of a process (a JVM heap, a database's buffer pool): inside it, progress is
 * reported every this many pages of address space. */
#define PROGRESS_PAGES (UINT64_C(128) << (20 - 12))

static int progress(struct audit *a, uint64_t done) {
        if (!a->opts || !a->opts->progress)
                return 0;
        /* second walks (walk_again) come after the pass's own: the pass stays done */
        return a->opts->progress(a->opts->progress_userdata, a->pid, a->progress_pass, MIN(done, a->progress_total),
                                 a->progress_total);
}

static int on_batch(void *userdata, const struct sa_page *pages, size_t n) {
        struct batch_ctx *b = userdata;
        uint64_t walked;

        for (size_t i = 0; i < n; i++)
                sa_account_page(b->rules, b->cls, &pages[i], b->acc);
        if (n == 0)
                return 0;
        walked = (pages[n - 1].addr + pages[n - 1].count * SA_PAGE_SIZE - b->vma_start) / SA_PAGE_SIZE;
        if (walked < b->a->progress_next)
                return 0;
        b->a->progress_next = walked + PROGRESS_PAGES;
        return progress(b->a, b->a->progress_done + walked);
}

static int walk_vma(struct audit *a, const struct sa_smaps_vma *k, struct sa_acc *acc) {
        struct sa_vma_class cls;
        struct batch_ctx b = { &a->rules, &cls, acc, a, k->start };
        int r;

        memset(acc, 0, sizeof(*acc));
        a->progress_next = PROGRESS_PAGES;
        sa_vma_classify(k, &cls);
        if (skip_walk(k) || cls.special)
                return 0;
        r = sa_walk_range(a->walker, k->start, k->end,
                          (cls.mergeable ? 0 : SA_RANGE_SKIP_EXCLUSIVE_ANON) | (cls.hugetlb ? 0 : SA_RANGE_PMD_FOLIOS),
                          on_batch, &b);
        if (r < 0)
                return r;
        sa_account_finish(&a->rules, &cls, acc);
        return 0;
}

/* numa_maps counts in the VMA's page size; the walk in 4 KiB pages. */
static int set_numa_kernel(struct sa_vma_report *v, const struct sa_numa_vma *nv) {
        uint64_t unit = nv->kernel_page_kb ? nv->kernel_page_kb / 4 : MAX(v->kernel.kernel_page_kb / 4, 1u);

        free(v->numa_kernel);
        v->numa_kernel = NULL;
        v->n_numa_kernel = 0;
        v->have_numa_kernel = true;
        if (!nv->n_nodes)
                return 0;
        v->numa_kernel = calloc(nv->n_nodes, sizeof(*v->numa_kernel));
        if (!v->numa_kernel)
                return -ENOMEM;
        for (size_t i = 0; i < nv->n_nodes; i++)
                v->numa_kernel[i] = (struct sa_node_count) { nv->nodes[i].node, nv->nodes[i].pages * unit };
        v->n_numa_kernel = nv->n_nodes;
        return 0;
}


static void load_numa_state(struct audit *a) {
        _cleanup_free_ char *buf = NULL;
        struct sa_sched_numa sched;

        a->r->numa.balancing = a->r->vmstat.numa_balancing;
        if (sa_read_pid_file(a->ctx, a->mm_pid, "sched", &buf, NULL) >= 0 && sa_sched_parse(buf, &sched) >= 0)
                a->r->numa.scan_seq = sched.numa_scan_seq;
        a->r->numa.threads = a->r->status.threads;
}

/* Every judged field of the VMA within the walk's own bounds, no slack needed. */
static bool walk_within_bounds(const struct sa_vma_report *v) {
        for (unsigned f = 0; f <= SA_PRIVATE; f++)
                if (v->cmp[f].judged && (v->cmp[f].kernel_kb < v->cmp[f].walk_lo_kb || v->cmp[f].kernel_kb > v->cmp[f].walk_hi_kb))
                        return false;
        return true;
}

/*
 * Walks the VMAs again and says which of `fields` came out other than in
 * `before`, the first walk's sum over the same VMAs: what moved under the
 * pass without any view seeing it.
 */
static int walk_again(struct audit *a, const struct sa_smaps_vma *vmas, size_t n, const struct sa_acc *before,
                      uint64_t fields, uint64_t *ret) {
        struct sa_acc again = {};
        int r = 0;

        *ret = 0;
        for (size_t i = 0; i < n && r >= 0; i++) {
                struct sa_acc one = {};

                r = walk_vma(a, &vmas[i], &one);
                if (r >= 0)
                        sa_acc_add(&again, &one);
                sa_acc_done(&one);
        }
        for (unsigned f = 0; f < _SA_FIELD_MAX && f < 64 && r >= 0; f++)
                if ((fields & (1ULL << f)) && (again.f[f].lo != before->f[f].lo || again.f[f].hi != before->f[f].hi))
                        *ret |= 1ULL << f;
        sa_acc_done(&again);
        return r < 0 ? r : 0;
}

/* smaps read a third time in this pass, once, for mapcounts_held(); NULL if it cannot be read. */
static const struct sa_smaps *third_smaps(struct audit *a) {
        _cleanup_free_ char *buf = NULL;

        if (!a->have_third) {
                a->have_third = true;
                if (sa_read_pid_file(a->ctx, a->mm_pid, "smaps", &buf, NULL) < 0 ||
                    sa_smaps_parse(buf, &a->third) < 0)
                        sa_smaps_done(&a->third);
        }
        return a->third.n ? &a->third : NULL;
}

/*
 * Whether the mapcounts of a VMA held still: a walk now gives the mapcount
 * fields of the walk before, and smaps read after that gives the kernel's
 * numbers of the two reads before. Processes that map and unmap the same
 * pages in a loop (an exec loop) move the counts with a period of their
 * own; only a disagreement that five reads in a row agree on stands.
 * 1 if so, 0 if not.
 */
static int mapcounts_held(struct audit *a, const struct sa_smaps_vma *k, const struct sa_acc *before) {
        const struct sa_smaps *third;
        const struct sa_smaps_vma *c;
        uint64_t moved;
        int r;

        r = walk_again(a, k, 1, before, MAPCOUNT_SENSITIVE, &moved);
        if (r < 0 || moved)
                return r < 0 ? r : 0;
        third = third_smaps(a);
        c = third ? find_vma(third, k->start, k->end) : NULL;
        return c && !(MAPCOUNT_SENSITIVE & ~sa_stable_fields(k, c));
}

/*
 * What the events between the read before the walk and the read after it
 * can explain in VMA v (judge.h), and how far each field fell between the
 * two reads: pages the target dropped need no event, but they were seen.
 */
static void set_vma_budget(struct audit *a, struct sa_vma_report *v, const struct views *A, const struct views *B,
                           const struct sa_smaps_vma *ka, struct sa_budget *ret) {
        struct sa_window w;
        struct sa_vma_class cls;

        sa_window_between(&A->ev_start, &B->ev_end, &w);
        sa_vma_classify(&v->kernel, &cls);
        sa_budget_for(&w, &a->units, &cls, ret);
        v->churn_kb = ret->page_kb;
        v->pmd_churn_kb = ret->pmd_kb;
        for (unsigned f = 0; f <= SA_PRIVATE; f++) {
                bool ha, hb;
                uint64_t x = sa_smaps_value(ka, f, &ha), y = sa_smaps_value(&v->kernel, f, &hb);
                v->dropped_kb[f] = ha && hb && x > y ? x - y : 0;
        }
}

#define CORE_BOTH_WAYS (CORE_FIELDS | (CORE_FIELDS << 32))

/*
 * Judges one tracked VMA with views A (before the walk) and B (after).
 * Returns true when the VMA was stable in this pass.
 *
 * Two reads that match do not say the VMA held still: a range unmapped and
 * mapped again with another shape between them (ABA) matches itself while
 * the walk saw the other shape. And one that never holds still (a busy heap)
 * may still show a disagreement no churn could produce. So every field is
 * held against the walk with the budget of the events in the window, in
 * moving VMAs too; a disagreement beyond it must show again in a later pass.
 */
static int judge_vma(struct audit *a, size_t i, const struct views *A, const struct views *B, struct sa_acc *walk) {
        struct sa_vma_report *v = &a->r->vmas[i];
        struct vma_track *t = &a->track[i];
        const struct sa_smaps_vma *ka = find_vma(&A->smaps, v->kernel.start, v->kernel.end);
        const struct sa_smaps_vma *kb = find_vma(&B->smaps, v->kernel.start, v->kernel.end);
        const struct sa_numa_vma *nb = B->have_numa ? sa_numa_maps_find(&B->numa, v->kernel.start) : NULL;
        uint64_t stable, mask, mapcount, confirmed;
        struct sa_budget budget;
        bool numa_ok;
        char *name;
        int r;

        if (!ka || !kb) {
                t->moved = true;
                return 0;
        }
        stable = sa_stable_fields(ka, kb);
        if (population_moved(A, B) && walk->shareable_pages)
                stable &= ~MAPCOUNT_SENSITIVE;
        mapcount = MAPCOUNT_FIELDS & sa_smaps_printed(kb);
        /* keep our copy of the name; take the fresh numbers */
        name = v->kernel.name;
        v->kernel = *kb;
        v->kernel.name = name;
        sa_acc_done(&v->walk);
        v->walk = *walk;
        memset(walk, 0, sizeof(*walk));
        v->tags = sa_vma_tags(&v->kernel, &v->walk, &a->r->numa);
        numa_ok = nb != NULL;
        v->have_numa_kernel = false;
        if (numa_ok) {
                r = set_numa_kernel(v, nb);
                if (r < 0)
                        return r;
        }
        set_vma_budget(a, v, A, B, ka, &budget);
        v->stable = sa_smaps_core_stable(ka, kb);
        /* the core fields only the target moves are judged against the budget even when they moved */
        if (!v->stable && A->ev_start.have_vmstat && B->ev_end.have_vmstat)
                stable |= CORE_FIELDS & sa_smaps_printed(ka) & sa_smaps_printed(kb);
        sa_compare_vma(v, stable, numa_ok && (a->r->walk_mode & SA_WALK_NODES));
        /*
         * Another process's exec (its old mm torn down, the new one mapping
         * the same libc) dips a shared page's mapcount and restores it within
         * a pass, without a fork or an exit to show in the population: both
         * smaps reads agree and the walk between them saw the dip. A
         * mapcount field that disagrees stands only if a second walk, after
         * the second smaps read, finds the same counts.
         */
        if (sa_disagreements(v->cmp, _SA_FIELD_MAX) & (MAPCOUNT_SENSITIVE | (MAPCOUNT_SENSITIVE << 32))) {
                r = mapcounts_held(a, kb, &v->walk);
                if (r < 0)
                        return r;
                if (r == 0) {
                        stable &= ~MAPCOUNT_SENSITIVE;
                        sa_compare_vma(v, stable, numa_ok && (a->r->walk_mode & SA_WALK_NODES));
                }
        }
        mask = sa_disagreements(v->cmp, _SA_FIELD_MAX);
        if (!v->stable) {
                if (!(stable & CORE_FIELDS))
                        return 0;
                mask &= CORE_BOTH_WAYS;
                if (mask == 0) {
                        t->prev_mask = 0;
                        if (sa_moving_vma_decided(&budget, mask))
                                t->moving_decided = true;
                        return 0;
                }
                t->moving_decided = false;
        } else {
                t->seen_stable = true;
                if (B->have_numa && (!nb || !v->numa_judged || v->numa_verdict == SMAPSAUDIT_CONSISTENT))
                        t->numa_settled = true;
                if (v->numa_judged && v->numa_verdict != SMAPSAUDIT_CONSISTENT)
                        mask |= NUMA_BIT;
                if (mask == 0) {
                        t->prev_mask = 0;
                        /* the mapcount fields get more passes to hold still; the rest is settled */
                        t->core_ok = true;
                        t->walk_exact = walk_within_bounds(v);
                        if ((stable & mapcount) == mapcount)
                                t->state = VMA_DONE;
                        return 1;
                }
        }
        t->moved = true;
        confirmed = t->prev_mask & mask;
        /* pages migrate between nodes at any time: the node counts must repeat exactly */
        if ((confirmed & NUMA_BIT) && numa_signature(v) != t->prev_numa)
                confirmed &= ~NUMA_BIT;
        /*
         * Other processes mapping and unmapping shared pages move the
         * mapcounts between any two reads, in both passes if they keep at
         * it. A real mapcount-field bug gives the same numbers every time;
         * churn does not, so those fields must repeat exactly.
         */
        for (unsigned f = 0; f <= SA_PRIVATE; f++)
                if ((MAPCOUNT_SENSITIVE & (1ULL << f)) &&
                    (v->cmp[f].kernel_kb != t->prev_cmp[f].kernel_kb || v->walk.f[f].lo != t->prev_walk[f].lo ||
                     v->walk.f[f].hi != t->prev_walk[f].hi))
                        confirmed &= ~((1ULL << f) | (1ULL << (f + 32)));
        t->core_ok = (mask & ~(MAPCOUNT_SENSITIVE | (MAPCOUNT_SENSITIVE << 32))) == 0;
        if (confirmed) {
                r = sa_findings_from_vma(a->r, v, confirmed);
                if (r < 0)
                        return r;
                t->state = VMA_DONE;
                t->core_ok = false;
                return v->stable;
        }
        /* first sighting: keep it for a confirming pass */
        t->prev_mask = mask;
        t->prev_numa = numa_signature(v);
        memcpy(t->prev_cmp, v->cmp, sizeof(t->prev_cmp));
        memcpy(t->prev_walk, v->walk.f, sizeof(t->prev_walk));
        return v->stable;
}

static void sum_smaps(const struct sa_smaps *s, struct sa_smaps_vma *sum) {
        memset(sum, 0, sizeof(*sum));
        for (size_t i = 0; i < s->n; i++) {
                for (unsigned f = 0; f < _SA_SMAPS_FIELD_MAX; f++)
                        sum->kb[f] += s->vmas[i].kb[f];
                sum->have |= s->vmas[i].have;
        }
}

/* The target's mappings held still around the walk. */
static bool layout_stable(const struct views *A, const struct views *B) {
        if (A->smaps.n != B->smaps.n)
                return false;
        for (size_t i = 0; i < A->smaps.n; i++)
                if (!sa_smaps_core_stable(&A->smaps.vmas[i], &B->smaps.vmas[i]))
                        return false;
        return true;
}

/* The same VMAs around the walk, whatever their pages did. */
static bool ranges_stable(const struct views *A, const struct views *B) {
        if (A->smaps.n != B->smaps.n)
                return false;
        for (size_t i = 0; i < A->smaps.n; i++) {
                const struct sa_smaps_vma *x = &A->smaps.vmas[i], *y = &B->smaps.vmas[i];
                if (x->start != y->start || x->end != y->end || !streq(x->perms, y->perms) || x->vmflags != y->vmflags)
                        return false;
        }
        return true;
}

/* Every status counter B printed was compared in this pass. */
static bool status_all_judged(const struct smapsaudit_report *r) {
        for (unsigned f = SA_ST_RSS; f < _SA_FIELD_MAX; f++)
                if (r->totals[f].have_status && !r->status_cmp[f].judged)
                        return false;
        return true;
}

static void add_vma_allowance(struct sa_rollup_window *w, const struct sa_smaps_vma *x, const struct sa_smaps_vma *y) {
        for (unsigned f = 0; f <= SA_PRIVATE; f++) {
                bool h;
                uint64_t vx = x ? sa_smaps_value(x, f, &h) : 0, vy = y ? sa_smaps_value(y, f, &h) : 0;
                w->allowance_kb[f] += MAX(vx, vy);
        }
}

/*
 * The rollup is read once, between the two smaps reads. A target that maps,
 * unmaps or faults meanwhile moves it by what it touched: allow for the
 * VMAs that changed. Above the sums, pages it faulted in and dropped again
 * before the second read: one per fault until the rollup was read. Below,
 * pages dropped and faulted back while the rollup was read: one per fault
 * during that read. A rollup that skips whole VMAs that never moved (the
 * 6.1 bug) falls outside, however busy a small churning region keeps the
 * target.
 */
static void rollup_window(const struct audit *a, const struct views *A, const struct views *B,
                          const struct sa_acc *total, struct sa_rollup_window *w) {
        const uint64_t kb = SA_PAGE_SIZE / 1024;
        struct sa_window over, under;

        memset(w, 0, sizeof(*w));
        w->rollup = B->rollup.n ? &B->rollup.vmas[0] : NULL;
        sum_smaps(&A->smaps, &w->before);
        sum_smaps(&B->smaps, &w->after);
        if (B->rollup_faults_after >= A->faults)
                w->over_kb = (B->rollup_faults_after - A->faults) * kb;
        if (B->rollup_faults_after >= B->rollup_faults_before)
                w->under_kb = (B->rollup_faults_after - B->rollup_faults_before) * kb;
        /*
         * A fault that maps a THP moves the sums by a PMD, not a page: above,
         * THPs mapped and dropped again after the first read; below, THPs
         * dropped before the rollup read and mapped again before the second.
         */
        sa_window_between(&A->ev_start, &B->ev_end, &over);
        sa_window_between(&B->ev_rollup, &B->ev_end, &under);
        if (over.known)
                w->over_kb += (MIN(over.thp_fault, over.faults) + over.thp_other) * a->units.pmd_kb;
        if (under.known)
                w->under_kb += (MIN(under.thp_fault, under.faults) + under.thp_other) * a->units.pmd_kb;
        for (size_t i = 0; i < A->smaps.n; i++) {
                const struct sa_smaps_vma *x = &A->smaps.vmas[i];
                const struct sa_smaps_vma *y = find_vma(&B->smaps, x->start, x->end);
                if (!y || !sa_smaps_core_stable(x, y))
                        add_vma_allowance(w, x, y);
        }
        for (size_t i = 0; i < B->smaps.n; i++)
                if (!find_vma(&A->smaps, B->smaps.vmas[i].start, B->smaps.vmas[i].end))
                        add_vma_allowance(w, NULL, &B->smaps.vmas[i]);
        w->stable = ~0ULL;
        if (population_moved(A, B) && total->shareable_pages)
                for (unsigned f = 0; f < _SA_FIELD_MAX && f < 64; f++)
                        if (rollup_sensitive(f))
                                w->stable &= ~(1ULL << f);
        w->pss_slack_kb = B->smaps.n;
        w->walk_comparable = B->faults == A->faults && layout_stable(A, B);
        w->fault_kb = B->faults > A->faults ? (B->faults - A->faults) * kb : 0;
        if (over.known) {
                struct sa_vma_class anon = {}, file = { .file = true };
                struct sa_budget b;

                w->fault_kb += (MIN(over.thp_fault, over.faults) + over.thp_other) * a->units.pmd_kb;
                sa_budget_for(&over, &a->units, &anon, &b);
                w->status_anon_kb = b.page_kb;
                sa_budget_for(&over, &a->units, &file, &b);
                w->status_file_kb = b.page_kb;
        }
}

static uint64_t rss_kb(const struct sa_smaps_vma *v) {
        bool have;

        return v ? sa_smaps_value(v, SA_RSS, &have) : 0;
}

/*
 * Which VMAs the target changes: one mapped, unmapped or changed between
 * any two views of the audit, or whose walk disagreed, may have been in
 * flux while the rollup was read; the others held still through every
 * view. The most Rss that changed between the two views of a pass says how
 * much a churning target keeps in flux at a time.
 */
static void note_vma_churn(struct audit *a, const struct views *A, const struct views *B, const size_t *idx) {
        uint64_t changed = 0, moving = 0;

        for (size_t i = 0; i < A->smaps.n; i++) {
                const struct sa_smaps_vma *x = &A->smaps.vmas[i], *y = find_vma(&B->smaps, x->start, x->end);
                struct vma_track *t = &a->track[idx[i]];

                if (!y || !sa_smaps_core_stable(x, y)) {
                        t->moved = true;
                        changed += MAX(rss_kb(x), rss_kb(y));
                } else if (t->moved)
                        moving += MAX(rss_kb(x), rss_kb(y));
        }
        for (size_t i = 0; i < B->smaps.n; i++)
                if (!find_vma(&A->smaps, B->smaps.vmas[i].start, B->smaps.vmas[i].end))
                        changed += rss_kb(&B->smaps.vmas[i]);
        a->transient_kb = MAX(a->transient_kb, changed);
        a->moving_kb = moving;
}

/* Whether what the previous pass saw in a rollup-sensitive field came back exactly. */
static bool rollup_repeats(const struct audit *a, const struct sa_acc *total, unsigned f) {
        const struct sa_field_cmp *c = &a->r->rollup_cmp[f], *p = &a->prev_rollup_cmp[f];

        return c->kernel_kb == p->kernel_kb && c->walk_lo_kb == p->walk_lo_kb && c->walk_hi_kb == p->walk_hi_kb &&
               total->f[f].lo == a->prev_total[f].lo && total->f[f].hi == a->prev_total[f].hi;
}

/* The rollup's Rss lies below both smaps sums around it: the window's slack was needed. */
static bool rollup_used_slack(const struct sa_rollup_window *w) {
        bool have;
        uint64_t rv = sa_smaps_value(w->rollup, SA_RSS, &have);

        return rv < MIN(sa_smaps_value(&w->before, SA_RSS, &have), sa_smaps_value(&w->after, SA_RSS, &have));
}

/* The total fields only the walk answers for: the rollup-only Pss fields, and the status counters. */
static uint64_t walk_held_disagreements(const struct smapsaudit_report *r, bool rollup, bool status) {
        uint64_t m = 0;

        for (unsigned f = 0; f < _SA_FIELD_MAX && f < 64; f++) {
                if (rollup && sa_fields[f].rollup_only && rollup_sensitive(f) && r->rollup_cmp[f].judged &&
                    r->rollup_cmp[f].verdict != SMAPSAUDIT_CONSISTENT)
                        m |= 1ULL << f;
                if (status && r->status_cmp[f].judged && r->status_cmp[f].verdict != SMAPSAUDIT_CONSISTENT)
                        m |= 1ULL << f;
        }
        return m;
}

static int judge_totals(struct audit *a, const struct views *A, const struct views *B, const struct sa_acc *total) {
        struct smapsaudit_report *r = a->r;
        struct sa_rollup_window w;
        struct sa_inflight_thread inflight = sa_inflight_window(&A->inflight_after, &B->inflight_before);
        const char *why[SA_PRIVATE + 1] = {};
        bool status_ok, status_moving, status_over;
        uint64_t mr, ms, cr, cs, moved;
        int ret;

        rollup_window(a, A, B, total, &w);
        /*
         * A page per fault during the rollup read bounds what it can have
         * missed while the target dropped and refaulted pages; but a thread
         * that maps and unmaps in a loop faults thousands of times a read,
         * enough to hide whole VMAs. Once such churn has been seen, what the
         * rollup can miss is bounded by the VMAs that moved and by the most
         * the target had in flux at once (twice that, for churn the views
         * did not catch at its peak): VMAs that held still through every view
         * and are missing from the rollup (the 6.1 bug) stand out.
         */
        if (a->transient_kb)
                w.under_kb = MIN(w.under_kb, 2 * (a->transient_kb + a->moving_kb));
        status_ok = A->have_status && B->have_status && layout_stable(A, B) &&
                    sa_status_counters_equal(&A->status, &B->status);
        /*
         * Counters that moved around the walk are held against it with the
         * window's budget, as moving VMAs are, as long as no VMA came or went:
         * below the walk beyond it is a sighting. Above it is not: kernel work
         * in flight (a zap after its VMA was detached, a fault before its PTE
         * is set) keeps status above the page tables for a while, so a moving
         * window settles status only when it agrees both ways.
         */
        status_moving = !status_ok && A->have_status && B->have_status && w.status_anon_kb != UINT64_MAX &&
                        ranges_stable(A, B);
        /* kernel work in flight in the target keeps status off the page tables, moving or not */
        if ((status_ok || status_moving) && !sa_inflight_status_comparable(&a->inflight_log, r->passes, &inflight))
                status_ok = status_moving = false;
        if (status_moving)
                w.status_before = &A->status;
        sa_compare_totals(r, &w, total, status_ok || status_moving ? &B->status : NULL, sa_kernel_get(a->ctx));
        /*
         * The rollup and status are read once each side of the walk, the walk
         * once between; where only the walk answers for a field, a page in
         * flux while it passed is a disagreement no second read shows. A
         * process sharing the target's pages that unmaps them (a forked
         * sibling exiting) moves the Pss the rollup reports, and says so in
         * the population counters only when it is reaped, which may be after
         * the pass. So those fields, when they disagree, stand only if a
         * second walk, after every view of the pass, finds the same.
         */
        moved = walk_held_disagreements(r, !a->rollup_done, !a->status_done);
        if (moved) {
                ret = walk_again(a, A->smaps.vmas, A->smaps.n, total, moved, &moved);
                if (ret < 0)
                        return ret;
                for (unsigned f = 0; f < _SA_FIELD_MAX && f < 64; f++)
                        if (moved & (1ULL << f)) {
                                r->rollup_cmp[f].judged = r->status_cmp[f].judged = false;
                                if (f <= SA_PRIVATE)
                                        why[f] = sa_rollup_why_walk_moved;
                        }
        }
        if (status_ok && sa_inflight_withdraw_over(&a->inflight_log, r->passes, &inflight, r))
                status_ok = false;
        /*
         * The rollup-only fields (Pss_Anon/File/Shmem) can only be held
         * against the walk; where VMAs already disagree, the per-VMA
         * findings say where, and the rollup repeating them adds nothing.
         */
        for (size_t i = 0; i < r->n_vmas; i++)
                if (a->track[i].present && (a->track[i].prev_mask || r->vmas[i].verdict == SMAPSAUDIT_UNDER_ACCOUNTED ||
                                            r->vmas[i].verdict == SMAPSAUDIT_OVER_ACCOUNTED))
                        for (unsigned f = 0; f <= SA_PRIVATE; f++)
                                if (sa_fields[f].rollup_only) {
                                        r->rollup_cmp[f].judged = false;
                                        why[f] = sa_rollup_why_vmas;
                                }
        r->totals_judged = true;
        mr = a->rollup_done ? 0 : sa_disagreements(r->rollup_cmp, _SA_FIELD_MAX);
        ms = a->status_done ? 0 : sa_disagreements(r->status_cmp, _SA_FIELD_MAX);
        /* in a moving window, over-accounted status is never a sighting (see status_moving) */
        status_over = status_moving && (ms >> 32);
        if (status_moving)
                ms &= 0xffffffffULL;

        /*
         * A kernel that drops VMAs from the rollup only under contention (6.1)
         * does so in most reads, not all: a disagreement in a field only the
         * target moves is confirmed by any later pass, not just the next one.
         */
        cr = (a->prev_rollup_mask | a->rollup_sighted) & mr;
        /* as for VMAs: what other processes' mapcounts move must repeat exactly */
        for (unsigned f = 0; f < _SA_FIELD_MAX && f < 32; f++)
                if (rollup_sensitive(f) && !rollup_repeats(a, total, f))
                        cr &= ~((1ULL << f) | (1ULL << (f + 32)));
        cs = a->prev_status_mask & ms;
        if (cr || cs) {
                ret = sa_findings_from_totals(r, cr, cs);
                if (ret < 0)
                        return ret;
        }
        /*
         * A rollup that agreed only thanks to the slack for the target's own
         * faults may still have skipped VMAs: it held, but later passes may
         * see it skip again, as may one that agreed after a sighting.
         */
        if (!a->rollup_done && w.rollup && (cr || (mr == 0 && !a->rollup_sighted && !rollup_used_slack(&w)))) {
                a->rollup_done = true;
                a->rollup_churn = false;
                sa_rollup_record_pass(&a->rollup_rec, r, r->passes, &w, why);
        } else if (!a->rollup_done && w.rollup && mr == 0) {
                a->rollup_agreed = true;
                sa_rollup_record_pass(&a->rollup_rec, r, r->passes, &w, why);
        } else if (!a->rollup_done) {
                a->rollup_churn = true;
                for (unsigned f = 0; f < _SA_FIELD_MAX && f < 32; f++)
                        if ((mr & ((1ULL << f) | (1ULL << (f + 32)))) && !rollup_sensitive(f))
                                a->rollup_churn = false;
        }
        if (!w.rollup)
                a->rollup_done = true;
        if (status_moving && (cs || (!status_over && ms == 0 && status_all_judged(r))))
                a->status_done = true;
        if (status_ok && (ms == 0 || cs))
                a->status_done = true;
        if (!B->have_status)
                a->status_done = true;
        a->totals_done = a->rollup_done && a->status_done;
        a->prev_rollup_mask = mr;
        for (unsigned f = 0; f < _SA_FIELD_MAX && f < 32; f++)
                if (!rollup_sensitive(f))
                        a->rollup_sighted |= mr & ((1ULL << f) | (1ULL << (f + 32)));
        a->prev_status_mask = status_ok || status_moving ? ms : a->prev_status_mask;
        memcpy(a->prev_rollup_cmp, r->rollup_cmp, sizeof(a->prev_rollup_cmp));
        memcpy(a->prev_total, total->f, sizeof(a->prev_total));
        return 0;
}

/*
 * A VMA walked in an earlier pass and unchanged since: its walk still stands for the totals,
 * unless it agreed only within the churn slack (the target remapped it under the walk), when
 * the walk saw something else than what stayed.
 */
static bool walk_stands(struct audit *a, size_t t, const struct sa_smaps_vma *now) {
        const struct sa_vma_report *done = &a->r->vmas[t];

        return a->track[t].walk_exact && sa_smaps_core_stable(&done->kernel, now) &&
               (sa_stable_fields(&done->kernel, now) & MAPCOUNT_FIELDS) == (MAPCOUNT_FIELDS & sa_smaps_printed(now));
}

static uint64_t vma_pages(const struct sa_smaps_vma *k) {
        return (k->end - k->start) / SA_PAGE_SIZE;
}

static int run_pass(struct audit *a, unsigned pass, struct views *A, struct views *B) {
        struct smapsaudit_report *r = a->r;
        _cleanup_free_ struct sa_acc *walks = NULL;
        _cleanup_free_ size_t *idx = NULL;
        struct sa_acc total = {};
        bool need_totals = !a->totals_done;
        int ret = 0;

        sa_smaps_done(&a->third);
        a->have_third = false;
        /*
         * What the walk relies on is read in the window of the pages it
         * describes, not once per audit: KSM's first merges can come at any
         * time (a guard read once would discard every real KSM page of every
         * pass), a swap area can be enabled, an mTHP size switched on.
         */
        sa_account_rules_init(a->ctx, sa_walker_mode(a->walker), &a->rules);
        if (A->ev_end.have_ksm)
                a->rules.ksm_possible = A->ev_end.ksm_pages > 0;
        sa_fault_units_read(a->ctx, &a->units);
        walks = calloc(A->smaps.n ? A->smaps.n : 1, sizeof(*walks));
        idx = calloc(A->smaps.n ? A->smaps.n : 1, sizeof(*idx));
        if (!walks || !idx)
                return -ENOMEM;
        for (size_t i = 0; i < r->n_vmas; i++)
                a->track[i].present = false;
        ret = track_view(a, &A->smaps, idx);
        if (ret < 0)
                goto out;
        for (size_t i = 0; i < A->smaps.n; i++)
                a->track[idx[i]].present = true;
        a->progress_pass = pass;
        a->progress_done = a->progress_total = 0;
        for (size_t i = 0; i < A->smaps.n; i++)
                if (a->track[idx[i]].state != VMA_DONE ||
                    (need_totals && !walk_stands(a, idx[i], &A->smaps.vmas[i])))
                        a->progress_total += vma_pages(&A->smaps.vmas[i]);
        for (size_t i = 0; i < A->smaps.n; i++) {
                if (a->track[idx[i]].state == VMA_DONE) {
                        if (!need_totals)
                                continue;
                        if (walk_stands(a, idx[i], &A->smaps.vmas[i])) {
                                sa_acc_add(&total, &r->vmas[idx[i]].walk);
                                continue;
                        }
                }
                ret = walk_vma(a, &A->smaps.vmas[i], &walks[i]);
                if (ret == -ENOENT || ret == -ESRCH || (ret < 0 && target_gone(a))) {
                        ret = -ESRCH;
                        goto out;
                }
                if (ret < 0) {
                        ret = sa_error(a->ctx, ret, "PID %d: walking VMA %" PRIx64 "-%" PRIx64 " in %s/%d/pagemap failed: %s%s",
                                       (int) a->pid, A->smaps.vmas[i].start, A->smaps.vmas[i].end, a->ctx->proc_root,
                                       (int) a->mm_pid, strerror(-ret),
                                       ret == -EBADMSG ? " (the file ends inside the VMA, or the kernel's answer made no sense)" : "");
                        goto out;
                }
                sa_acc_add(&total, &walks[i]);
                a->progress_done += vma_pages(&A->smaps.vmas[i]);
                ret = progress(a, a->progress_done);
                if (ret < 0)
                        goto out;
        }
        /* PAGEMAP_SCAN support is learned by trying it */
        r->walk_mode = sa_walker_mode(a->walker);
        {
                struct views middle = {};
                bool numa = false;

                for (size_t i = 0; i < A->smaps.n; i++)
                        numa |= a->track[idx[i]].state != VMA_DONE && !a->track[idx[i]].numa_settled;
                ret = read_middle_views(a, &middle, need_totals && !a->rollup_done, numa);
                if (ret >= 0)
                        ret = read_views(a, B);
                B->rollup = middle.rollup;
                B->numa = middle.numa;
                B->have_numa = middle.have_numa;
                B->have_rollup = middle.have_rollup;
                B->rollup_faults_before = middle.rollup_faults_before;
                B->ev_rollup = middle.ev_rollup;
                B->rollup_faults_after = middle.rollup_faults_after;
                if (ret < 0)
                        goto out;
        }
        if (B->have_status)
                r->status = B->status;
        for (size_t i = 0; i < A->smaps.n; i++) {
                if (a->track[idx[i]].state == VMA_DONE)
                        continue;
                ret = judge_vma(a, idx[i], A, B, &walks[i]);
                if (ret < 0)
                        goto out;
        }
        note_vma_churn(a, A, B, idx);
        if (need_totals) {
                ret = judge_totals(a, A, B, &total);
                if (ret < 0)
                        goto out;
        }
        r->walk_stats = *sa_walker_stats(a->walker);
out:
        for (size_t i = 0; i < A->smaps.n; i++)
                sa_acc_done(&walks[i]);
        sa_acc_done(&total);
        sa_smaps_done(&a->third);
        a->have_third = false;
        return ret;
}

static bool all_done(const struct audit *a) {
        if (!a->totals_done)
                return false;
        for (size_t i = 0; i < a->r->n_vmas; i++)
                if (a->track[i].present && a->track[i].state != VMA_DONE)
                        return false;
        return true;
}

/* Something is left that could make the report inconclusive. */
static bool undecided(const struct audit *a) {
        if (!a->totals_done)
                return true;
        for (size_t i = 0; i < a->r->n_vmas; i++)
                if (a->track[i].present && a->track[i].state != VMA_DONE && !a->track[i].core_ok &&
                    !a->track[i].moving_decided)
                        return true;
        return false;
}

/*
 * --freeze=auto: what churn left undecided is settled by passes with the
 * target stopped, where its own faults cannot move what is read. Only
 * when a pass fits the stop budget twice over, and never for a target
 * that is traced or stopped already. ksmd, khugepaged and migration still
 * run: the frozen passes are judged as any other.
 */
static int settle_frozen(struct audit *a, struct views *A, struct views *B, uint64_t pass_usec) {
        struct sa_freeze *f = NULL;
        uint64_t t0, stopped;
        unsigned n = 0;
        int r;

        if (!a->opts || !(a->opts->flags & SMAPSAUDIT_AUDIT_FREEZE_AUTO) || !a->ctx->live || a->r->frozen ||
            !undecided(a))
                return 0;
        if (2 * pass_usec > FREEZE_AUTO_BUDGET_USEC) {
                sa_report_note(a->r, "--freeze=auto did not stop the target: a pass takes %" PRIu64 " ms, "
                                     "more than half the %d ms budget", pass_usec / 1000, FREEZE_AUTO_BUDGET_USEC / 1000);
                return 0;
        }
        if (!sa_freeze_auto_allowed(a->pid)) {
                sa_report_note(a->r, "--freeze=auto did not stop the target: not root, or the target is traced "
                                     "or stopped");
                return 0;
        }
        t0 = now_usec(CLOCK_MONOTONIC);
        r = sa_freeze(a->pid, a->pidfd, &f, NULL);
        if (r < 0) {
                sa_report_note(a->r, "--freeze=auto could not stop the target: %s", strerror(-r));
                return 0;
        }
        views_done(A);
        views_done(B);
        r = read_views(a, A);
        while (r >= 0 && n < 2 && undecided(a) && now_usec(CLOCK_MONOTONIC) - t0 + pass_usec <= FREEZE_AUTO_BUDGET_USEC) {
                a->r->passes++;
                r = run_pass(a, a->r->passes - 1, A, B);
                if (r < 0)
                        break;
                views_done(A);
                *A = *B;
                memset(B, 0, sizeof(*B));
                n++;
        }
        sa_thaw(f);
        stopped = now_usec(CLOCK_MONOTONIC) - t0;
        sa_report_note(a->r, "--freeze=auto stopped the target for %" PRIu64 ".%01" PRIu64 " ms, %u pass(es), to "
                             "settle what churn left undecided", stopped / 1000, stopped % 1000 / 100, n);
        return r;
}

static void drop_vanished(struct audit *a) {
        struct smapsaudit_report *r = a->r;
        size_t j = 0;

        for (size_t i = 0; i < r->n_vmas; i++) {
                if (!a->track[i].present) {
                        sa_vma_report_done(&r->vmas[i]);
                        continue;
                }
                r->vmas[j] = r->vmas[i];
                a->track[j++] = a->track[i];
        }
        r->n_vmas = j;
}

static void decide_verdict(struct audit *a) {
        struct smapsaudit_report *r = a->r;
        bool rollup_held = a->rollup_done || a->rollup_churn || a->rollup_agreed;
        bool under = false, over = false, open = !rollup_held || !a->status_done;
        unsigned churn = 0, moving = 0;
        struct sa_coverage cov = {};

        for (size_t i = 0; i < r->n_findings; i++) {
                under |= r->findings[i].kind == SMAPSAUDIT_UNDER_ACCOUNTED;
                over |= r->findings[i].kind == SMAPSAUDIT_OVER_ACCOUNTED;
        }
        for (size_t i = 0; i < r->n_vmas; i++) {
                struct sa_vma_report *v = &r->vmas[i];
                if (a->track[i].state == VMA_DONE) {
                        bool found = false;
                        for (size_t k = 0; k < r->n_findings; k++)
                                found |= r->findings[k].vma_start == v->kernel.start &&
                                         r->findings[k].vma_end == v->kernel.end;
                        if (!found)
                                v->verdict = SMAPSAUDIT_CONSISTENT;
                        sa_coverage_add(&cov, rss_kb(&v->kernel), 0, true);
                        continue;
                }
                if (a->track[i].core_ok || a->track[i].moving_decided) {
                        v->verdict = SMAPSAUDIT_CONSISTENT;
                        if (a->track[i].core_ok)
                                churn++;
                        else
                                moving++;
                        sa_coverage_add(&cov, rss_kb(&v->kernel), 0, true);
                        continue;
                }
                v->verdict = SMAPSAUDIT_INCONCLUSIVE;
                r->unstable_vmas++;
                sa_coverage_add(&cov, rss_kb(&v->kernel), (v->kernel.end - v->kernel.start) / 1024, false);
        }
        r->decided_rss_kb = cov.decided_kb;
        r->undecided_rss_kb = cov.undecided_kb;
        /* what stayed undecided is too small to hide a bug the catalogue knows: judge the rest */
        open |= sa_coverage_open(&cov);
        if (moving)
                sa_report_note(r, "%u VMA(s) changed in every pass: decided from Rss, Anonymous, Swap, KSM and the "
                                  "PMD-mapped fields, each within what the events around the walk could move, in a "
                                  "pass without THP events; Pss and the shared/private split were not judged", moving);
        if (r->unstable_vmas && !sa_coverage_open(&cov))
                sa_report_note(r, "%u VMA(s) with %" PRIu64 " kB of Rss stayed undecided: none can hold a PMD THP and "
                                  "together they hold less than %llu kB, too little to hide a known kernel bug",
                               r->unstable_vmas, cov.undecided_kb, SA_UNDECIDED_BOUND_KB);
        if (churn)
                sa_report_note(r, "Pss and the shared/private split of %u VMA(s) were not judged: the mapcounts of "
                                  "their shared pages changed in every pass (other processes mapping and unmapping them)",
                               churn);
        if (under)
                r->verdict = SMAPSAUDIT_UNDER_ACCOUNTED;
        else if (over)
                r->verdict = SMAPSAUDIT_OVER_ACCOUNTED;
        else if (open)
                r->verdict = SMAPSAUDIT_INCONCLUSIVE;
        else
                r->verdict = SMAPSAUDIT_CONSISTENT;
        if (!a->rollup_done && !a->rollup_agreed && a->rollup_churn)
                sa_report_note(r, "the rollup's Pss fields were not judged: they moved with other processes' "
                                  "mapcounts in every pass");
        if (open)
                sa_report_note(r, "%u VMA(s) (%" PRIu64 " kB of Rss)%s kept changing or disagreed only once in %u "
                                  "passes: not judged",
                               r->unstable_vmas, cov.undecided_kb,
                               rollup_held && a->status_done ? "" : " and the process totals", r->passes);
}

static void describe_mode(struct audit *a) {
        struct smapsaudit_report *r = a->r;

        if (r->walk_mode & SA_WALK_FAST)
                sa_report_note(r, "fast tier: Rss, Anonymous, the PMD-mapped fields and swap are recomputed exactly, "
                                  "KSM in mergeable VMAs; Pss and the shared/private split are bounded and NUMA "
                                  "nodes are not compared");
        if (!(r->walk_mode & SA_WALK_PFN))
                sa_report_note(r, "no CAP_SYS_ADMIN: pagemap hides PFNs, so Pss, KSM, the NUMA nodes and the "
                                  "shared/private split are bounded, not recomputed");
        else if (!(r->walk_mode & SA_WALK_KPAGE))
                sa_report_note(r, "kpageflags/kpagecount not readable: Pss, KSM and NUMA nodes are bounded, not recomputed");
        if (!(r->walk_mode & SA_WALK_SCAN))
                sa_report_note(r, "no PAGEMAP_SCAN (kernel < 6.7 or captured files): PMD mappings are inferred "
                                  "from the folio layout");
        if (!(r->walk_mode & SA_WALK_NODES) && (r->walk_mode & SA_WALK_KPAGE))
                sa_report_note(r, "no PFN → node map: numa_maps is not compared");
        {
                uint64_t ignored = 0;
                for (size_t i = 0; i < r->n_vmas; i++)
                        ignored += r->vmas[i].walk.ksm_flag_ignored;
                if (ignored)
                        sa_report_note(r, "kpageflags sets KPF_KSM on %" PRIu64 " page(s) that KSM cannot have merged "
                                          "(outside mergeable VMAs, in large folios, or with no stable tree): not "
                                          "counted as KSM (the kpageflags bug of dee3d0bef2b0, e.g. Debian's 6.12.117)",
                                       ignored);
        }
        if (!sa_kernel_get(a->ctx)->mapcount_known)
                sa_report_note(r, "kernel config unknown: assuming per-page mapcount (CONFIG_PAGE_MAPCOUNT)");
}

/*
 * The mm the walker opened is gone but the process is not: it exec'ed (or
 * is exiting, which the next smaps read shows). Start over on its new mm;
 * what was seen of the old one no longer describes the process.
 */
static int follow_exec(struct audit *a, struct views *A, struct views *B) {
        int r;

        if (no_follow_exec(a))
                return exec_refused(a);
        views_done(A);
        views_done(B);
        sa_walker_free(a->walker);
        a->walker = NULL;
        a->mm_pid = sa_mm_pid(a->ctx, a->pid);
        r = sa_walker_new(a->ctx, a->mm_pid, a->opts ? a->opts->flags : 0, &a->walker);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        r = read_views(a, A);
        if (r < 0)
                return r;
        if (A->smaps.n == 0)
                return -ESRCH;
        if (!a->execed)
                sa_report_note(a->r, "the process exec'ed during the audit: what it mapped before was dropped");
        a->execed = true;
        for (size_t i = 0; i < a->r->n_vmas; i++)
                a->track[i].present = false;
        drop_vanished(a);
        /* nothing seen of the old mm may confirm, or settle, what the new one shows */
        a->prev_rollup_mask = a->prev_status_mask = a->rollup_sighted = 0;
        a->totals_done = a->rollup_done = a->status_done = a->rollup_agreed = a->rollup_churn = false;
        a->rollup_rec = (struct sa_rollup_record) {};
        return 0;
}

/*
 * A process that execs in a loop can exec again while its new image is
 * being read: the read comes back empty or ESRCH although the process
 * lives on. Follow it again, a few times, before calling it exited.
 */
static int follow_exec_again(struct audit *a, struct views *A, struct views *B) {
        int r = -ESRCH;

        for (unsigned tries = 0; tries < FOLLOW_EXEC_TRIES && r == -ESRCH && !target_gone(a); tries++)
                r = follow_exec(a, A, B);
        return r;
}

static int audit_run(struct audit *a) {
        struct smapsaudit_report *r = a->r;
        unsigned max_passes = a->opts && a->opts->max_passes ? a->opts->max_passes : DEFAULT_PASSES;
        struct views A = {}, B = {};
        uint64_t pass_usec = 0;
        int ret;

        ret = read_views(a, &A);
        if (ret < 0)
                goto out;
        /*
         * Every live mm has VMAs ([stack], [vdso]): none means a kernel thread,
         * an mm going away, an exec, or the thread we read it through gone
         * while the process runs on in others.
         */
        for (unsigned tries = 0; A.smaps.n == 0 && a->ctx->live && !no_follow_exec(a) && tries < 3 &&
                                 !target_gone(a); tries++) {
                /* a smaps read that began on an mm an exec then replaced comes back empty */
                a->mm_pid = sa_mm_pid(a->ctx, a->pid);
                views_done(&A);
                ret = read_views(a, &A);
                if (ret < 0)
                        goto out;
        }
        if (A.smaps.n == 0) {
                ret = no_address_space(a);
                goto out;
        }
        r->status = A.status;
        r->have_status = A.have_status;
        snprintf(r->comm, sizeof(r->comm), "%s", A.status.name);
        if (a->mm_pid != a->pid) {
                _cleanup_free_ char *comm = NULL;

                /* a thread's status names the thread; the process is named by its leader */
                if (sa_read_pid_file(a->ctx, a->pid, "comm", &comm, NULL) >= 0) {
                        comm[strcspn(comm, "\n")] = 0;
                        snprintf(r->comm, sizeof(r->comm), "%s", comm);
                }
                sa_report_note(r, "the main thread has exited (a zombie) while thread %d runs on: the memory "
                                  "is read through /proc/%d", (int) a->mm_pid, (int) a->mm_pid);
        }
        /* which service it is, while the PID is still this process */
        (void) sa_cgroup_read(a->ctx, a->pid, &r->cgroup, &r->unit);
        (void) sa_vmstat_read(a->ctx, &r->vmstat);
        load_numa_state(a);

        ret = sa_walker_new(a->ctx, a->mm_pid, a->opts ? a->opts->flags : 0, &a->walker);
        if (ret < 0) {
                ret = sa_error(a->ctx, ret, "PID %d: cannot open %s/%d/pagemap: %s", (int) a->pid, a->ctx->proc_root,
                               (int) a->mm_pid, strerror(-ret));
                goto out;
        }

        for (unsigned pass = 0; pass < max_passes; pass++) {
                uint64_t t0 = now_usec(CLOCK_MONOTONIC);

                r->passes = pass + 1;
                ret = run_pass(a, pass, &A, &B);
                pass_usec = now_usec(CLOCK_MONOTONIC) - t0;
                if (ret == -ESRCH && a->ctx->live && !target_gone(a)) {
                        ret = follow_exec_again(a, &A, &B);
                        if (ret == 0)
                                continue;
                }
                if (ret == -ESRCH || (ret < 0 && target_gone(a)))
                        break;
                if (ret < 0)
                        goto out;
                views_done(&A);
                A = B;
                memset(&B, 0, sizeof(B));
                /*
                 * An exiting process loses its mm before its pidfd says it is
                 * gone; one that exec'ed has another, which a read that
                 * started on the old one did not see.
                 */
                if (A.smaps.n == 0) {
                        ret = a->ctx->live && !target_gone(a) ? follow_exec_again(a, &A, &B) : -ESRCH;
                        if (ret < 0)
                                break;
                }
                if (all_done(a))
                        break;
        }
        if (ret >= 0)
                ret = settle_frozen(a, &A, &B, pass_usec);
        if (ret == -ESRCH || target_gone(a)) {
                r->error = strdup("process exited during the audit");
                r->verdict = SMAPSAUDIT_INCONCLUSIVE;
                ret = r->error ? 0 : -ENOMEM;
                goto out;
        }
        drop_vanished(a);
        describe_mode(a);
        if (!a->opts || !(a->opts->flags & SMAPSAUDIT_AUDIT_NO_KSM)) {
                ret = sa_ksm_audit(a->ctx, a->mm_pid, r);
                if (ret < 0)
                        goto out;
        }
        ret = sa_inflight_log_notes(&a->inflight_log, r);
        if (ret >= 0)
                ret = sa_rollup_record_apply(&a->rollup_rec, r);
        if (ret < 0)
                goto out;
        decide_verdict(a);
        ret = 0;
out:
        views_done(&A);
        views_done(&B);
        return ret;
}

_export_ int smapsaudit_audit_pid(struct smapsaudit_ctx *ctx, pid_t pid, const struct smapsaudit_audit_opts *opts,
                                  struct smapsaudit_report **ret) {
        struct audit a = { .ctx = ctx, .pid = pid, .mm_pid = pid, .opts = opts, .pidfd = -1,
                           .inflight_wait_usec = INFLIGHT_WAIT_USEC };
        struct sa_freeze *frozen = NULL;
        uint64_t cpu0 = now_usec(CLOCK_THREAD_CPUTIME_ID);
        pid_t stuck = 0;
        int r;

        ctx->last_error[0] = 0;
        if (pid <= 0)
                return sa_error(ctx, -EINVAL, "%d is not a process ID", (int) pid);
        if (ctx->live) {
                r = read_stat(ctx, pid, &a.start_time, NULL);
                if (r == -ENOENT || r == -ESRCH)
                        return sa_error(ctx, -ESRCH, "PID %d: no such process", (int) pid);
                if (r < 0)
                        return sa_error(ctx, r, "PID %d: cannot read %s/%d/stat: %s", (int) pid, ctx->proc_root,
                                        (int) pid, strerror(-r));
                a.pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
                a.mm_pid = sa_mm_pid(ctx, pid);
        }
        r = sa_report_new(pid, &a.r);
        if (r < 0)
                goto out;
        snprintf(a.r->kernel, sizeof(a.r->kernel), "%s", sa_kernel_get(ctx)->release);
        a.r->mapcount = sa_kernel_get(ctx)->mapcount;

        if (opts && (opts->flags & SMAPSAUDIT_AUDIT_FREEZE)) {
                if (!ctx->live) {
                        r = sa_error(ctx, -EINVAL, "PID %d: freezing needs a live process, not files below %s",
                                     (int) pid, ctx->proc_root);
                        goto out;
                }
                /* the pidfd names the process whose start time was read, or nothing is stopped */
                if (a.pidfd < 0 || target_gone(&a)) {
                        r = sa_error(ctx, -ESRCH, "PID %d: no such process", (int) pid);
                        goto out;
                }
                r = sa_freeze(pid, a.pidfd, &frozen, &stuck);
                if (r == -ETIMEDOUT)
                        r = sa_error(ctx, r, "PID %d: thread %d did not stop within 2 s (ptrace cannot stop a thread "
                                     "blocked in vfork()): every thread was let go, nothing was audited", (int) pid,
                                     (int) stuck);
                else if (r == -EBUSY)
                        r = sa_error(ctx, r, "PID %d is already being traced (TracerPid in status): it cannot be frozen",
                                     (int) pid);
                else if (r < 0)
                        r = sa_error(ctx, r, "PID %d: cannot freeze it with ptrace: %s", (int) pid, strerror(-r));
                if (r < 0)
                        goto out;
                a.r->frozen = true;
        }
        r = audit_run(&a);
        if (frozen)
                sa_thaw(frozen);
        if (r < 0 && target_gone(&a)) {
                /* whatever failed, it failed because the process went away */
                free(a.r->error);
                a.r->error = strdup("process exited during the audit");
                a.r->verdict = SMAPSAUDIT_INCONCLUSIVE;
                r = a.r->error ? 0 : -ENOMEM;
        }
        if (r < 0)
                goto out;
        a.r->cpu_usec = now_usec(CLOCK_THREAD_CPUTIME_ID) - cpu0;
        *ret = TAKE_PTR(a.r);
out:
        smapsaudit_report_unref(a.r);
        sa_walker_free(a.walker);
        free(a.track);
        if (a.pidfd >= 0)
                close(a.pidfd);
        return r;
}
