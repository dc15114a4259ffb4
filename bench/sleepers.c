/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sleepers: many small processes for the daemon's sweep to go through.
 *
 *   sleepers [-n N] [-p PAGES]
 *
 * Forks N (default 2000) children; each touches PAGES (default 4) private
 * anonymous pages with distinct contents, so that it has memory of its own
 * to audit, and pauses. Prints "ready N" once every child has touched its
 * pages. On SIGTERM or SIGINT it kills its children, reaps them and exits;
 * a child also dies when the parent does (PR_SET_PDEATHSIG), so that
 * nothing is left behind if the parent is killed outright.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-util.h"

#define PAGE 4096UL

static void die(const char *what) {
        die_errno("sleepers", what);
}

static void child(int ready_fd, pid_t parent, size_t pages) {
        char *p;

        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                _exit(1);
        if (getppid() != parent)   /* the parent died before the prctl */
                _exit(0);
        p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
                _exit(1);
        for (size_t i = 0; i < pages; i++)
                snprintf(p + i * PAGE, PAGE, "sleeper %d page %zu", (int) getpid(), i);
        if (write(ready_fd, "", 1) != 1)
                _exit(1);
        close(ready_fd);
        for (;;)
                pause();
}

int main(int argc, char **argv) {
        unsigned long n = 2000, pages = 4;
        int fds[2], opt;
        pid_t *kids, self = getpid();
        sigset_t stop, old;
        size_t got = 0;

        while ((opt = getopt(argc, argv, "n:p:")) != -1)
                switch (opt) {
                case 'n': n = strtoul(optarg, NULL, 10); break;
                case 'p': pages = strtoul(optarg, NULL, 10); break;
                default:
                        fprintf(stderr, "usage: sleepers [-n N] [-p PAGES]\n");
                        return 2;
                }
        if (pages == 0)
                pages = 1;

        kids = calloc(n ? n : 1, sizeof(pid_t));
        if (!kids)
                die("calloc");
        /* SIGTERM and SIGINT wait for sigwait below: the children start with
         * them blocked and unblock them, so their default action kills them. */
        sigemptyset(&stop);
        sigaddset(&stop, SIGTERM);
        sigaddset(&stop, SIGINT);
        if (sigprocmask(SIG_BLOCK, &stop, &old) < 0)
                die("sigprocmask");
        if (pipe(fds) < 0)
                die("pipe");

        for (unsigned long i = 0; i < n; i++) {
                pid_t pid = fork();

                if (pid < 0) {
                        fprintf(stderr, "sleepers: fork %lu of %lu: %s\n", i + 1, n, strerror(errno));
                        n = i;   /* kill the ones there are, below */
                        goto stop;
                }
                if (pid == 0) {
                        sigprocmask(SIG_SETMASK, &old, NULL);
                        close(fds[0]);
                        child(fds[1], self, pages);
                }
                kids[i] = pid;
        }
        close(fds[1]);

        while (got < n) {
                char buf[256];
                ssize_t k = read(fds[0], buf, sizeof(buf));

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        fprintf(stderr, "sleepers: %zu of %lu children ready, then: %s\n", got, n,
                                k < 0 ? strerror(errno) : "a child exited");
                        goto stop;
                }
                got += (size_t) k;
        }
        close(fds[0]);
        printf("ready %lu\n", n);
        fflush(stdout);

        for (int sig = 0; sigwait(&stop, &sig) != 0;)
                ;
        got = n;
stop:
        for (unsigned long i = 0; i < n; i++)
                kill(kids[i], SIGKILL);
        for (unsigned long i = 0; i < n; i++)
                while (waitpid(kids[i], NULL, 0) < 0 && errno == EINTR)
                        ;
        return got == n ? 0 : 1;
}
