/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * spawn-at-pid PID PROGRAM [ARGS...]: runs PROGRAM as a new process whose PID is PID
 * (clone3() with set_tid, which needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE), so that a test
 * can make a PID it just freed name another process at once. The child dies with this process
 * (PR_SET_PDEATHSIG); this process waits for it and exits as it did.
 *
 * Exits 75 when PID is taken (EEXIST: try again), 77 when the kernel or the caller cannot
 * choose PIDs (ENOSYS, EPERM, EINVAL), 127 when PROGRAM cannot be run.
 */
#include <errno.h>
#include <limits.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_clone3
#define SYS_clone3 435
#endif

int main(int argc, char *argv[]) {
        struct clone_args args = { .exit_signal = SIGCHLD };
        pid_t want, parent = getpid();
        char *end;
        long v;
        int status;
        long pid;

        if (argc < 3) {
                fprintf(stderr, "usage: spawn-at-pid PID PROGRAM [ARGS...]\n");
                return 2;
        }
        errno = 0;
        v = strtol(argv[1], &end, 10);
        if (errno || *end || v <= 1 || v > INT_MAX) {
                fprintf(stderr, "spawn-at-pid: '%s' is not a PID\n", argv[1]);
                return 2;
        }
        want = (pid_t) v;
        args.set_tid = (uint64_t) (uintptr_t) &want;
        args.set_tid_size = 1;

        pid = syscall(SYS_clone3, &args, sizeof(args));
        if (pid < 0) {
                int e = errno;
                fprintf(stderr, "spawn-at-pid: clone3 with PID %d: %s\n", (int) want, strerror(e));
                return e == EEXIST ? 75 : (e == ENOSYS || e == EPERM || e == EINVAL || e == E2BIG) ? 77 : 1;
        }
        if (pid == 0) {
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                        _exit(1);
                execvp(argv[2], argv + 2);
                fprintf(stderr, "spawn-at-pid: cannot run %s: %s\n", argv[2], strerror(errno));
                _exit(127);
        }

        while (waitpid((pid_t) pid, &status, 0) < 0)
                if (errno != EINTR) {
                        perror("spawn-at-pid: waitpid");
                        return 1;
                }
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        return WEXITSTATUS(status);
}
