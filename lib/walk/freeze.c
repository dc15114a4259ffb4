/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * --freeze: stop every thread of the target with PTRACE_SEIZE +
 * PTRACE_INTERRUPT for an exact snapshot, and let it go afterwards.
 * SEIZE, unlike ATTACH, sends no SIGSTOP that the target could observe.
 *
 * The tracer is a thread of its own. A thread may never stop (one blocked
 * in vfork() until its child execs sleeps TASK_KILLABLE, which an interrupt
 * does not wake), and PTRACE_DETACH needs a stopped tracee: only the
 * tracer's exit lets go of a seized thread that has not stopped, and clears
 * the stop it still owes (exit_ptrace). So each stop is waited for with
 * WNOHANG up to a deadline, and on any failure the tracer thread exits,
 * which leaves every thread running.
 */
#include <dirent.h>
#include <pthread.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "freeze.h"
#include "macro.h"
#include "pidfd-util.h"
#include "procfs.h"
#include "sources.h"
#include "time-util.h"

/* The longest all of the target's threads may take to stop. */
#define FREEZE_TIMEOUT_USEC (2 * 1000000ULL)

struct sa_freeze {
        pid_t pid;
        int pidfd;               /* the audit's: the process the PID named when it began */
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool frozen_done;        /* r is set */
        bool thaw;               /* the audit is over: let go */
        int r;
        pid_t stuck_tid;         /* a thread that did not stop in time, for the error */
        pid_t *tids;
        size_t n;
};

/* The audit's process is still the one the PID names, and tid is still one of its threads. */
static bool still_ours(const struct sa_freeze *f, pid_t tid) {
        char path[64];
        struct stat st;

        if (f->pidfd < 0 || pidfd_exited(f->pidfd))
                return false;
        if (tid == 0)
                return true;
        snprintf(path, sizeof(path), "/proc/%d/task/%d", (int) f->pid, (int) tid);
        return stat(path, &st) == 0;
}

/* The stop PTRACE_INTERRUPT asked for, polled: 1 stopped, 0 not by the deadline. */
static int wait_stop(pid_t tid, uint64_t deadline) {
        for (useconds_t nap = 100;; nap = MIN(nap * 2, 10000u)) {
                int status;
                pid_t r = waitpid(tid, &status, __WALL | WNOHANG);

                if (r < 0)
                        return negative_errno();
                if (r == tid)
                        return WIFSTOPPED(status) ? 1 : -ESRCH;
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        return 0;
                usleep(nap);
        }
}

static int seize_one(struct sa_freeze *f, pid_t tid, uint64_t deadline) {
        pid_t *nt;
        int r;

        for (size_t i = 0; i < f->n; i++)
                if (f->tids[i] == tid)
                        return 0;
        if (!still_ours(f, 0))
                return -ESRCH;
        nt = realloc(f->tids, (f->n + 1) * sizeof(*nt));
        if (!nt)
                return -ENOMEM;
        f->tids = nt;
        if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) < 0)
                return negative_errno();
        f->tids[f->n++] = tid;
        if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) < 0)
                return negative_errno();
        r = wait_stop(tid, deadline);
        if (r == 0) {
                f->stuck_tid = tid;
                return -ETIMEDOUT;
        }
        if (r < 0)
                return r;
        /* the tid may have been reused by another process between the listing and the seize */
        return still_ours(f, tid) ? 1 : -ESRCH;
}

static int is_traced(pid_t pid) {
        _cleanup_free_ char *path = NULL, *buf = NULL;
        struct sa_status st;

        if (asprintf(&path, "/proc/%d/status", (int) pid) < 0)
                return -ENOMEM;
        if (sa_read_file(path, &buf, NULL) < 0)
                return -ESRCH;
        sa_status_parse(buf, &st);
        return st.tracer_pid > 0;
}

/* A leader that called pthread_exit() stays a zombie while the others run: nothing to stop, nor to seize. */
static bool exited_thread(pid_t pid, pid_t tid) {
        _cleanup_free_ char *path = NULL;
        char state;

        if (asprintf(&path, "/proc/%d/task/%d/stat", (int) pid, (int) tid) < 0)
                return false;
        state = sa_stat_state(path);
        return state == 'Z' || state == 'X';
}

/*
 * Whether --freeze=auto may stop pid: only as root (the caller asked for
 * an audit, not for the right to stop what it could not stop itself), and
 * never a target already traced (a debugger's) or in a stop of its own (a
 * job-control stop the thaw would end).
 */
bool sa_freeze_auto_allowed(pid_t pid) {
        _cleanup_free_ char *path = NULL;
        char state;

        if (geteuid() != 0 || is_traced(pid) != 0)
                return false;
        if (asprintf(&path, "/proc/%d/stat", (int) pid) < 0)
                return false;
        state = sa_stat_state(path);
        return state && !strchr("TtZX", state);
}

static int seize_all(struct sa_freeze *f) {
        uint64_t deadline = now_usec(CLOCK_MONOTONIC) + FREEZE_TIMEOUT_USEC;
        bool added;
        int r;

        /* threads can be created while we seize: repeat until none is new */
        do {
                _cleanup_free_ char *dir = NULL;
                DIR *d;
                struct dirent *de;

                added = false;
                if (asprintf(&dir, "/proc/%d/task", (int) f->pid) < 0)
                        return -ENOMEM;
                d = opendir(dir);
                if (!d)
                        return -ESRCH;
                while ((de = readdir(d))) {
                        int tid = atoi(de->d_name);
                        if (tid <= 0)
                                continue;
                        r = seize_one(f, tid, deadline);
                        if (r == -ESRCH && still_ours(f, 0))
                                continue;   /* that thread exited */
                        if (r == -EPERM && exited_thread(f->pid, tid))
                                continue;
                        if (r < 0) {
                                closedir(d);
                                return r;
                        }
                        added |= r > 0;
                }
                closedir(d);
        } while (added);
        return 0;
}

static void *tracer(void *userdata) {
        struct sa_freeze *f = userdata;
        int r;

        r = seize_all(f);
        pthread_mutex_lock(&f->lock);
        f->r = r;
        f->frozen_done = true;
        pthread_cond_broadcast(&f->cond);
        while (r >= 0 && !f->thaw)
                pthread_cond_wait(&f->cond, &f->lock);
        pthread_mutex_unlock(&f->lock);

        if (r >= 0)
                for (size_t i = 0; i < f->n; i++)
                        (void) ptrace(PTRACE_DETACH, f->tids[i], NULL, NULL);
        /* and whatever is seized still, stopped or not, the exit of this thread lets go */
        return NULL;
}

static void freeze_free(struct sa_freeze *f) {
        pthread_cond_destroy(&f->cond);
        pthread_mutex_destroy(&f->lock);
        free(f->tids);
        free(f);
}

void sa_thaw(struct sa_freeze *f) {
        if (!f)
                return;
        pthread_mutex_lock(&f->lock);
        f->thaw = true;
        pthread_cond_broadcast(&f->cond);
        pthread_mutex_unlock(&f->lock);
        pthread_join(f->thread, NULL);
        freeze_free(f);
}

int sa_freeze(pid_t pid, int pidfd, struct sa_freeze **ret, pid_t *ret_stuck_tid) {
        struct sa_freeze *f;
        int r;

        r = is_traced(pid);
        if (r != 0)
                return r > 0 ? -EBUSY : r;
        f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        f->pid = pid;
        f->pidfd = pidfd;
        pthread_mutex_init(&f->lock, NULL);
        pthread_cond_init(&f->cond, NULL);
        r = -pthread_create(&f->thread, NULL, tracer, f);
        if (r < 0) {
                freeze_free(f);
                return r;
        }

        pthread_mutex_lock(&f->lock);
        while (!f->frozen_done)
                pthread_cond_wait(&f->cond, &f->lock);
        r = f->r;
        pthread_mutex_unlock(&f->lock);
        if (r < 0) {
                /* the tracer has exited or is exiting: every thread it seized is let go */
                pthread_join(f->thread, NULL);
                if (ret_stuck_tid)
                        *ret_stuck_tid = f->stuck_tid;
                freeze_free(f);
                return r;
        }
        *ret = f;
        return 0;
}
