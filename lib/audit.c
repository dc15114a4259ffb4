/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One audit: passes, each a fixed pipeline (docs/design.md):
 *
 *   read views → walk → read views again → re-read or re-walk what the
 *   pre-judgement asks for → judge
 *
 * A live process changes while it is read, and so do ksmd, khugepaged and
 * NUMA migration. Each pass reads the kernel's views (sources/views.c),
 * walks the VMAs still undecided, and reads the views again, or only the
 * counters around them when the walk reproduced the first views exactly
 * (judge/prejudge.c). The pre-judgement then names what must be walked or
 * read once more; the judge (judge/) decides on the data alone. A VMA
 * whose exact fields moved is walked again in the next pass, alone. A
 * disagreement must show again in a later pass before it becomes a
 * finding; what is still undecided after the last pass is inconclusive,
 * never a finding. This file reads, walks and follows execs; it decides
 * nothing.
 */
#include <inttypes.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <time.h>

#include "audit.h"
#include "ctx.h"
#include "freeze.h"
#include "ksm.h"
#include "missing.h"
#include "time-util.h"

#define DEFAULT_PASSES 5
/* the most --freeze=auto may keep the target stopped, per audit */
#define FREEZE_AUTO_BUDGET_USEC (50 * 1000)
/* what an audit may spend waiting for an exec or an unmap of the target to end before reading its views */
#define INFLIGHT_WAIT_USEC (50 * 1000)
/* how often an audit follows a target that execs again while its new image is read */
#define FOLLOW_EXEC_TRIES 5

static bool target_gone(struct audit *a) {
        return sa_views_target_gone(a->ctx, a->pid, a->pidfd, a->start_time);
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
        struct sa_stat st;
        uint64_t flags;

        if (sa_views_read_stat(a->ctx, a->pid, &st) < 0 || target_gone(a))
                return sa_error(a->ctx, -ESRCH, "PID %d exited during the audit", (int) a->pid);
        flags = st.flags;
        if (flags & SA_PF_KTHREAD)
                return sa_error(a->ctx, -ENODATA, "PID %d is a kernel thread: it has no address space to audit",
                                (int) a->pid);
        /* with bound files the mm they were opened on is gone while the process lives on: an exec */
        if (sa_ctx_bound_pid(a->ctx) != 0 && !(flags & SA_PF_EXITING))
                return exec_refused(a);
        return sa_error(a->ctx, -ESRCH, "PID %d is exiting: its address space is already gone", (int) a->pid);
}

static void load_numa_state(struct audit *a) {
        struct sa_sched_numa sched;

        a->r->numa.balancing = a->r->vmstat.numa_balancing;
        if (sa_views_read_sched(a->ctx, a->src.mm_pid, &sched) >= 0)
                a->r->numa.scan_seq = sched.numa_scan_seq;
        a->r->numa.threads = a->r->status.threads;
}

/*
 * The views after the walk: the rollup and numa_maps where still needed,
 * then smaps and status again, unless the pre-judgement finds that the walk
 * and the rollup reproduced the first views exactly.
 */
static int read_second_views(struct audit *a, const struct sa_pass *p, struct sa_views *B) {
        const struct sa_views *A = p->A;
        struct sa_views middle = {};
        bool numa = false;
        int r;

        for (size_t i = 0; i < A->smaps.n; i++)
                numa |= a->j.track[p->idx[i]].state != SA_VMA_DONE && !a->j.track[p->idx[i]].numa_settled;
        r = sa_views_read_middle(&a->src, &middle, p->need_totals && !a->j.rollup_done, numa);
        if (r >= 0)
                r = sa_prejudge_second_views(&a->j, A, &middle, p);
        if (r > 0)
                r = sa_views_read(&a->src, B);
        else if (r == 0)
                sa_views_counters(&a->src, A, B);
        sa_views_take_middle(B, &middle);
        return r < 0 ? r : 0;
}

static int run_pass(struct audit *a, unsigned pass, struct sa_views *A, struct sa_views *B) {
        struct smapsaudit_report *r = a->r;
        size_t n = MAX(A->smaps.n, (size_t) 1);
        _cleanup_free_ struct sa_acc *walks = calloc(n, sizeof(struct sa_acc)), *again = NULL;
        _cleanup_free_ size_t *idx = calloc(n, sizeof(size_t));
        _cleanup_free_ bool *walked = calloc(n, sizeof(bool)), *rewalk = calloc(n, sizeof(bool));
        struct sa_pass p = { .A = A, .B = B, .need_totals = !a->j.totals_done };
        struct sa_request req = { .rewalk = rewalk };
        struct sa_smaps third = {};
        struct sa_system_state sys;
        int ret;

        if (!walks || !idx || !walked || !rewalk)
                return -ENOMEM;
        p.walks = walks;
        p.walked = walked;
        p.idx = idx;
        /*
         * What the walk relies on is read in the window of the pages it
         * describes, not once per audit: KSM's first merges can come at any
         * time (a guard read once would discard every real KSM page of every
         * pass), a swap area can be enabled, an mTHP size switched on.
         */
        sa_system_state_read(a->ctx, &sys);
        sa_account_rules_for(sa_kernel_get(a->ctx), &sys, sa_walker_mode(a->walker), &a->rules);
        if (A->ev_end.have_ksm)
                a->rules.ksm_possible = A->ev_end.ksm_pages > 0;
        sa_fault_units_read(a->ctx, &a->j.units);
        ret = sa_judge_track_view(&a->j, &A->smaps, idx);
        if (ret >= 0)
                ret = sa_audit_walk_pass(a, pass, &p, walked);
        if (ret >= 0)
                ret = read_second_views(a, &p, B);
        if (ret < 0)
                goto out;
        if (B->have_status)
                r->status = B->status;
        sa_prejudge(&a->j, &p, &req);
        ret = sa_audit_do_request(a, &p, &req, &again, &third);
        if (ret < 0)
                goto out;
        for (size_t i = 0; i < A->smaps.n && ret >= 0; i++)
                if (a->j.track[idx[i]].state != SA_VMA_DONE)
                        ret = sa_judge_vma(&a->j, &p, i);
        if (ret < 0)
                goto out;
        sa_judge_note_churn(&a->j, &p);
        if (p.need_totals)
                ret = sa_judge_totals(&a->j, &p);
        sa_judge_unmapped(&a->j, &p);
        r->walk_stats = *sa_walker_stats(a->walker);
out:
        /* only what was walked holds anything: the rest of a large array is never touched */
        for (size_t i = 0; i < A->smaps.n; i++) {
                if (walked[i])
                        sa_acc_done(&walks[i]);
                if (again && rewalk[i])
                        sa_acc_done(&again[i]);
        }
        sa_acc_done(&p.total);
        sa_acc_done(&p.total_again);
        sa_smaps_done(&third);
        return ret;
}

/*
 * The second views of a pass are the first of the next. Where they only
 * borrowed the first's smaps, the next pass needs its own, read now; after
 * the last pass, nothing reads them (--freeze=auto reads its own).
 */
static int next_views(struct audit *a, struct sa_views *A, struct sa_views *B, bool last) {
        if (B->smaps_borrowed) {
                sa_views_done(B);
                if (last || sa_judge_all_done(&a->j))
                        return 0;
                sa_views_done(A);
                return sa_views_read(&a->src, A);
        }
        sa_views_done(A);
        *A = *B;
        *B = (struct sa_views) {};
        return 0;
}

static int settle_frozen(struct audit *a, struct sa_views *A, struct sa_views *B, uint64_t pass_usec) {
        struct sa_freeze *f = NULL;
        uint64_t t0, stopped;
        unsigned n = 0;
        int r;

        if (!a->opts || !(a->opts->flags & SMAPSAUDIT_AUDIT_FREEZE_AUTO) || !sa_ctx_live(a->ctx) || a->r->frozen ||
            !sa_judge_undecided(&a->j))
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
        sa_views_done(A);
        sa_views_done(B);
        r = sa_views_read(&a->src, A);
        while (r >= 0 && n < 2 && sa_judge_undecided(&a->j) && now_usec(CLOCK_MONOTONIC) - t0 + pass_usec <= FREEZE_AUTO_BUDGET_USEC) {
                a->r->passes++;
                r = run_pass(a, a->r->passes - 1, A, B);
                if (r >= 0)
                        r = next_views(a, A, B, false);
                if (r < 0)
                        break;
                n++;
        }
        sa_thaw(f);
        stopped = now_usec(CLOCK_MONOTONIC) - t0;
        sa_report_note(a->r, "--freeze=auto stopped the target for %" PRIu64 ".%01" PRIu64 " ms, %u pass(es), to "
                             "settle what churn left undecided", stopped / 1000, stopped % 1000 / 100, n);
        return r;
}

/*
 * The mm the walker opened is gone but the process is not: it exec'ed (or
 * is exiting, which the next smaps read shows). Start over on its new mm;
 * what was seen of the old one no longer describes the process.
 */
static int follow_exec(struct audit *a, struct sa_views *A, struct sa_views *B) {
        int r;

        if (no_follow_exec(a))
                return exec_refused(a);
        sa_views_done(A);
        sa_views_done(B);
        sa_walker_free(a->walker);
        a->walker = NULL;
        a->src.mm_pid = sa_mm_pid(a->ctx, a->pid);
        r = sa_walker_new(a->ctx, a->src.mm_pid, a->opts ? a->opts->flags : 0, &a->walker);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        r = sa_views_read(&a->src, A);
        if (r < 0)
                return r;
        if (A->smaps.n == 0)
                return -ESRCH;
        if (!a->j.execed)
                sa_report_note(a->r, "the process exec'ed during the audit: what it mapped before was dropped");
        a->j.execed = true;
        sa_judge_forget(&a->j);
        return 0;
}

/*
 * A process that execs in a loop can exec again while its new image is
 * being read: the read comes back empty or ESRCH although the process
 * lives on. Follow it again, a few times, before calling it exited.
 */
static int follow_exec_again(struct audit *a, struct sa_views *A, struct sa_views *B) {
        int r = -ESRCH;

        for (unsigned tries = 0; tries < FOLLOW_EXEC_TRIES && r == -ESRCH && !target_gone(a); tries++)
                r = follow_exec(a, A, B);
        return r;
}

static int audit_run(struct audit *a) {
        struct smapsaudit_report *r = a->r;
        unsigned max_passes = a->opts && a->opts->max_passes ? a->opts->max_passes : DEFAULT_PASSES;
        struct sa_views A = {}, B = {};
        uint64_t pass_usec = 0;
        int ret;

        ret = sa_views_read(&a->src, &A);
        if (ret < 0)
                goto out;
        /*
         * Every live mm has VMAs ([stack], [vdso]): none means a kernel thread,
         * an mm going away, an exec, or the thread we read it through gone
         * while the process runs on in others.
         */
        for (unsigned tries = 0; A.smaps.n == 0 && sa_ctx_live(a->ctx) && !no_follow_exec(a) && tries < 3 &&
                                 !target_gone(a); tries++) {
                /* a smaps read that began on an mm an exec then replaced comes back empty */
                a->src.mm_pid = sa_mm_pid(a->ctx, a->pid);
                sa_views_done(&A);
                ret = sa_views_read(&a->src, &A);
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
        if (a->src.mm_pid != a->pid) {
                /* a thread's status names the thread; the process is named by its leader */
                (void) sa_views_read_comm(a->ctx, a->pid, r->comm, sizeof(r->comm));
                sa_report_note(r, "the main thread has exited (a zombie) while thread %d runs on: the memory "
                                  "is read through /proc/%d", (int) a->src.mm_pid, (int) a->src.mm_pid);
        }
        /* which service it is, while the PID is still this process */
        (void) sa_cgroup_read(a->ctx, a->pid, &r->cgroup, &r->unit);
        (void) sa_vmstat_read(a->ctx, &r->vmstat);
        load_numa_state(a);

        ret = sa_walker_new(a->ctx, a->src.mm_pid, a->opts ? a->opts->flags : 0, &a->walker);
        if (ret < 0) {
                ret = sa_error(a->ctx, ret, "PID %d: cannot open %s/%d/pagemap: %s", (int) a->pid, smapsaudit_ctx_get_proc_root(a->ctx),
                               (int) a->src.mm_pid, strerror(-ret));
                goto out;
        }

        for (unsigned pass = 0; pass < max_passes; pass++) {
                uint64_t t0 = now_usec(CLOCK_MONOTONIC);

                r->passes = pass + 1;
                ret = run_pass(a, pass, &A, &B);
                pass_usec = now_usec(CLOCK_MONOTONIC) - t0;
                if (ret >= 0)
                        ret = next_views(a, &A, &B, pass + 1 == max_passes);
                if (ret == -ESRCH && sa_ctx_live(a->ctx) && !target_gone(a)) {
                        ret = follow_exec_again(a, &A, &B);
                        if (ret == 0)
                                continue;
                }
                if (ret == -ESRCH || (ret < 0 && target_gone(a)))
                        break;
                if (ret < 0)
                        goto out;
                /*
                 * An exiting process loses its mm before its pidfd says it is
                 * gone; one that exec'ed has another, which a read that
                 * started on the old one did not see.
                 */
                if (A.smaps.n == 0) {
                        ret = sa_ctx_live(a->ctx) && !target_gone(a) ? follow_exec_again(a, &A, &B) : -ESRCH;
                        if (ret < 0)
                                break;
                }
                if (sa_judge_all_done(&a->j))
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
        sa_judge_drop_vanished(&a->j);
        sa_judge_describe_mode(&a->j);
        if (!a->opts || !(a->opts->flags & SMAPSAUDIT_AUDIT_NO_KSM)) {
                ret = sa_ksm_audit(a->ctx, a->src.mm_pid, r);
                if (ret < 0)
                        goto out;
        }
        ret = sa_inflight_log_notes(&a->j.inflight_log, r);
        if (ret >= 0)
                ret = sa_rollup_record_apply(&a->j.rollup_rec, r);
        if (ret < 0)
                goto out;
        sa_judge_verdict(&a->j);
        ret = 0;
out:
        sa_views_done(&A);
        sa_views_done(&B);
        return ret;
}

_export_ int smapsaudit_audit_pid(struct smapsaudit_ctx *ctx, pid_t pid, const struct smapsaudit_audit_opts *opts,
                                  struct smapsaudit_report **ret) {
        struct audit a = { .ctx = ctx, .pid = pid, .opts = opts, .pidfd = -1,
                           .src = { .ctx = ctx, .pid = pid, .mm_pid = pid, .inflight_wait_usec = INFLIGHT_WAIT_USEC } };
        struct sa_freeze *frozen = NULL;
        uint64_t cpu0 = now_usec(CLOCK_THREAD_CPUTIME_ID);
        pid_t stuck = 0;
        int r;

        sa_ctx_clear_error(ctx);
        if (pid <= 0)
                return sa_error(ctx, -EINVAL, "%d is not a process ID", (int) pid);
        if (sa_ctx_live(ctx)) {
                struct sa_stat st = {};

                r = sa_views_read_stat(ctx, pid, &st);
                a.start_time = st.start_time;
                if (r == -ENOENT || r == -ESRCH)
                        return sa_error(ctx, -ESRCH, "PID %d: no such process", (int) pid);
                if (r < 0)
                        return sa_error(ctx, r, "PID %d: cannot read %s/%d/stat: %s", (int) pid, smapsaudit_ctx_get_proc_root(ctx),
                                        (int) pid, strerror(-r));
                a.pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
                a.src.mm_pid = sa_mm_pid(ctx, pid);
        }
        r = sa_report_new(pid, &a.r);
        if (r < 0)
                goto out;
        a.src.r = a.j.r = a.r;
        a.j.kernel = sa_kernel_get(ctx);
        snprintf(a.r->kernel, sizeof(a.r->kernel), "%s", sa_kernel_get(ctx)->release);
        a.r->mapcount = sa_kernel_get(ctx)->mapcount;

        if (opts && (opts->flags & SMAPSAUDIT_AUDIT_FREEZE)) {
                if (!sa_ctx_live(ctx)) {
                        r = sa_error(ctx, -EINVAL, "PID %d: freezing needs a live process, not files below %s",
                                     (int) pid, smapsaudit_ctx_get_proc_root(ctx));
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
        sa_judge_done(&a.j);
        if (a.pidfd >= 0)
                close(a.pidfd);
        return r;
}
