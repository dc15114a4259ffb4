/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The shapes the probes audit, each built in a child process: in a process group of its own (so
 * that it and whatever it forked are killed together), dying with the probe (PR_SET_PDEATHSIG;
 * its own children do the same), nice'd with the probe. The child hands a struct shape_info back
 * through a pipe once its memory is ready, then waits to be killed.
 *
 * The memory helpers are also what tests/workload and tests/kernels/kworkload build their
 * shapes with.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "probe-internal.h"

#define SHAPES_MAX 8

static volatile pid_t shapes[SHAPES_MAX];

static void shapes_remember(pid_t pid) {
        for (size_t i = 0; i < SHAPES_MAX; i++)
                if (shapes[i] == 0) {
                        shapes[i] = pid;
                        return;
                }
}

/*
 * SIGKILL to the shape's process group, then reap all of it: the probe is a child subreaper
 * during the run, so what the shape forked is reaped here too, not left to PID 1.
 * Async-signal-safe.
 */
static void kill_group(pid_t pgid) {
        int saved = errno;

        (void) kill(-pgid, SIGKILL);
        while (waitpid(-pgid, NULL, 0) > 0 || errno == EINTR)
                ;
        errno = saved;
}

void shapes_kill_all(void) {
        for (size_t i = 0; i < SHAPES_MAX; i++)
                if (shapes[i] > 0) {
                        kill_group(shapes[i]);
                        shapes[i] = 0;
                }
}

int shape_fork_dying_with_parent(void) {
        pid_t parent = getpid(), pid;

        fflush(NULL);
        pid = fork();
        if (pid != 0)
                return pid < 0 ? negative_errno() : pid;
        /* the parent may have died between fork() and prctl() */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                _exit(0);
        return 0;
}

__attribute__((noreturn)) static void shape_child(shape_build_fn build, const void *arg, int fd) {
        struct shape_info info = {};
        sigset_t none;

        knobs_forget_in_child();
        for (size_t i = 0; i < SHAPES_MAX; i++)
                shapes[i] = 0;
        (void) setpgid(0, 0);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        /* the probe's handlers restore knobs: not a shape's business */
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        build(arg, &info);
        if (write(fd, &info, sizeof(info)) != (ssize_t) sizeof(info))
                _exit(1);
        close(fd);
        for (;;)
                pause();
}

pid_t shape_start(shape_build_fn build, const void *arg, struct shape_info *ret) {
        int p[2], r;
        pid_t pid;
        ssize_t n;

        if (pipe2(p, O_CLOEXEC) < 0)
                return negative_errno();
        r = shape_fork_dying_with_parent();
        if (r == 0) {
                close(p[0]);
                shape_child(build, arg, p[1]);
        }
        close(p[1]);
        if (r < 0) {
                close(p[0]);
                return r;
        }
        pid = r;
        /* also set here: the probe may kill the group before the child got to it */
        (void) setpgid(pid, pid);
        shapes_remember(pid);
        do
                n = read(p[0], ret, sizeof(*ret));
        while (n < 0 && errno == EINTR);
        close(p[0]);
        if (n != (ssize_t) sizeof(*ret)) {
                shape_stop(pid);
                return -EPIPE;
        }
        return pid;
}

void shape_stop(pid_t pid) {
        if (pid <= 0)
                return;
        kill_group(pid);
        for (size_t i = 0; i < SHAPES_MAX; i++)
                if (shapes[i] == pid)
                        shapes[i] = 0;
}

/* ---------------------------------------------------------------- memory */

void shape_fail(struct shape_info *info, int err, const char *fmt, ...) {
        va_list ap;

        info->error = err;
        va_start(ap, fmt);
        vsnprintf(info->why, sizeof(info->why), fmt, ap);
        va_end(ap);
}

bool shape_protnone_half(char *p, size_t len, struct shape_info *info) {
        size_t half = len / 2;

        if (mprotect(p + half, half, PROT_NONE) < 0) {
                shape_fail(info, errno, "mprotect(PROT_NONE): %s", strerror(errno));
                return false;
        }
        info->start[0] = (uintptr_t) p;
        info->end[0] = info->start[1] = (uintptr_t) (p + half);
        info->end[1] = (uintptr_t) (p + len);
        return true;
}

char *shape_thp(size_t len, struct shape_info *info) {
        char *p = shape_map_aligned(len, PROBE_THP, MADV_HUGEPAGE);
        int64_t huge;

        if (!p) {
                shape_fail(info, errno, "mmap/madvise(MADV_HUGEPAGE) of %zu kB: %s", len >> 10,
                           strerror(errno));
                return NULL;
        }
        shape_touch(p, len);
        /* while accessible and not NUMA-hinted, every kernel counts its THPs right */
        huge = proc_smaps_vma_kb(0, (uintptr_t) p, "AnonHugePages");
        if (huge != (int64_t) (len >> 10)) {
                shape_fail(info, ENOMEM, "THP unavailable: AnonHugePages %" PRId64 " kB of %zu kB after MADV_HUGEPAGE", huge,
                           len >> 10);
                return NULL;
        }
        return p;
}
