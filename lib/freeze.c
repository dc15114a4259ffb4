/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * --freeze: stop every thread of the target with PTRACE_SEIZE +
 * PTRACE_INTERRUPT for an exact snapshot, and let it go afterwards.
 * SEIZE, unlike ATTACH, sends no SIGSTOP that the target could observe.
 */
#include <dirent.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "internal.h"

struct sa_freeze {
        pid_t *tids;
        size_t n;
};

void sa_thaw(struct sa_freeze *f) {
        if (!f)
                return;
        for (size_t i = 0; i < f->n; i++)
                (void) ptrace(PTRACE_DETACH, f->tids[i], NULL, NULL);
        free(f->tids);
        free(f);
}

static int seize_one(struct sa_freeze *f, pid_t tid) {
        pid_t *nt;
        int status;

        for (size_t i = 0; i < f->n; i++)
                if (f->tids[i] == tid)
                        return 0;
        if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) < 0)
                return negative_errno();
        nt = realloc(f->tids, (f->n + 1) * sizeof(*nt));
        if (!nt) {
                (void) ptrace(PTRACE_DETACH, tid, NULL, NULL);
                return -ENOMEM;
        }
        f->tids = nt;
        f->tids[f->n++] = tid;
        if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) < 0)
                return negative_errno();
        if (waitpid(tid, &status, __WALL) < 0)
                return negative_errno();
        return 1;
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

int sa_freeze(pid_t pid, struct sa_freeze **ret) {
        struct sa_freeze *f;
        bool added;
        int r;

        r = is_traced(pid);
        if (r != 0)
                return r > 0 ? -EBUSY : r;
        f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        /* threads can be created while we seize: repeat until none is new */
        do {
                _cleanup_free_ char *dir = NULL;
                DIR *d;
                struct dirent *de;

                added = false;
                if (asprintf(&dir, "/proc/%d/task", (int) pid) < 0) {
                        r = -ENOMEM;
                        goto fail;
                }
                d = opendir(dir);
                if (!d) {
                        r = -ESRCH;
                        goto fail;
                }
                while ((de = readdir(d))) {
                        int tid = atoi(de->d_name);
                        if (tid <= 0)
                                continue;
                        r = seize_one(f, tid);
                        if (r == -ESRCH || (r == -EPERM && exited_thread(pid, tid)))
                                continue;
                        if (r < 0) {
                                closedir(d);
                                goto fail;
                        }
                        added |= r > 0;
                }
                closedir(d);
        } while (added);
        *ret = f;
        return 0;
fail:
        sa_thaw(f);
        return r;
}
