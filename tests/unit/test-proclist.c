/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * smapsaudit_list_processes() on live processes: a process whose main thread
 * called pthread_exit() is a zombie leader with VmRSS absent from its status,
 * yet it has memory; the sweep must still list it. Needs root for nothing.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "macro.h"
#include "procfs.h"
#include "smapsaudit.h"
#include "tap.h"

static void *run_on(void *arg) {
        (void) arg;
        for (;;)
                pause();
        return NULL;
}

static void child(void) {
        pthread_t t;

        if (pthread_create(&t, NULL, run_on, NULL) != 0)
                _exit(1);
        pthread_exit(NULL);
}

static char state_of(pid_t pid) {
        _cleanup_free_ char *path = NULL;

        return asprintf(&path, "/proc/%d/stat", (int) pid) < 0 ? 0 : sa_stat_state(path);
}

static bool listed(struct smapsaudit_ctx *ctx, pid_t pid) {
        struct smapsaudit_proc *list = NULL;
        size_t n = 0;
        bool found = false;

        if (smapsaudit_list_processes(ctx, &list, &n) < 0)
                return false;
        for (size_t i = 0; i < n; i++)
                found |= list[i].pid == pid;
        free(list);
        return found;
}

int main(void) {
        struct smapsaudit_ctx *ctx = NULL;
        struct timespec pause_ts = { 0, 10 * 1000 * 1000 };
        pid_t pid;

        if (!ok(smapsaudit_ctx_new(&ctx) >= 0, "a context"))
                return tap_done();
        pid = fork();
        if (pid == 0)
                child();
        for (int i = 0; i < 500 && state_of(pid) != 'Z'; i++)
                nanosleep(&pause_ts, NULL);
        if (ok(state_of(pid) == 'Z', "the child's main thread exited, its other thread runs on")) {
                ok(listed(ctx, pid), "a zombie leader with live threads is listed");
                ok(sa_mm_pid(ctx, pid) != pid, "its mm is read through another thread");
        }
        ok(sa_mm_pid(ctx, getpid()) == getpid(), "a live leader is its own mm's reader");
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        ok(!listed(ctx, pid), "a reaped process is not listed");
        smapsaudit_ctx_unref(ctx);
        return tap_done();
}
