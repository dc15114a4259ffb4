/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ksm-helper: mergeable memory for the KSM tests, in the shapes tests/workload does not build.
 * test_ksm_common.py compiles and runs it; it prints its truth as one JSON line, like the
 * workload, and is killed by PID.
 *
 *   ksm-helper fork [MIB]      identical pages (0x5a), the second half PROT_NONE; on each SIGUSR1
 *                              a child that maps them too: {"pid": PID, "child_pid": N}
 *   ksm-helper volatile [MIB]  two regions rewritten without end: "volatile" gets a new counter in
 *                              every page about every millisecond, "rewrite" the same content again
 *                              every 50 ms (ksmd merges it, the next write copies it: cow_ksm)
 *
 * Each region lies between two PROT_READ guard pages, so that its VMA never merges with a
 * neighbour; MADV_NOHUGEPAGE keeps it in 4 KiB pages.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define PAGE ((size_t) 4096)
#define MIB ((size_t) 1 << 20)

static void die(const char *what) {
        fprintf(stderr, "ksm-helper: %s: %s\n", what, strerror(errno));
        exit(1);
}

static char *mergeable_region(size_t size) {
        char *base = mmap(NULL, size + 2 * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        char *p;

        if (base == MAP_FAILED)
                die("mmap");
        p = base + PAGE;
        if (mprotect(p, size, PROT_READ | PROT_WRITE) < 0)
                die("mprotect");
        if (madvise(p, size, MADV_NOHUGEPAGE) < 0)
                die("madvise(MADV_NOHUGEPAGE)");
        if (madvise(p, size, MADV_MERGEABLE) < 0)
                die("madvise(MADV_MERGEABLE)");
        return p;
}

static void region(const char *name, const char *p, size_t size, const char *perms, int last) {
        printf("{\"name\": \"%s\", \"start\": \"%p\", \"end\": \"%p\", \"perms\": \"%s\", \"pages\": %zu}%s", name,
               (const void *) p, (const void *) (p + size), perms, size / PAGE, last ? "" : ", ");
}

static void shape_fork(size_t size) {
        size_t half = size / 2;
        char *p = mergeable_region(size);
        pid_t parent = getpid();
        sigset_t usr1;
        int sig;

        sigemptyset(&usr1);
        sigaddset(&usr1, SIGUSR1);
        if (sigprocmask(SIG_BLOCK, &usr1, NULL) < 0)
                die("sigprocmask");
        memset(p, 0x5a, size);
        if (mprotect(p + half, half, PROT_NONE) < 0)
                die("mprotect(PROT_NONE)");
        printf("{\"pid\": %d, \"regions\": [", (int) parent);
        region("ksm-rw", p, half, "rw-p", 0);
        region("ksm-protnone", p + half, half, "---p", 1);
        printf("]}\n");
        fflush(stdout);
        while (sigwait(&usr1, &sig) == 0) {
                pid_t child = fork();

                if (child < 0)
                        die("fork");
                if (child == 0) {
                        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                                _exit(0);
                        for (;;)
                                pause();
                }
                printf("{\"pid\": %d, \"child_pid\": %d}\n", (int) parent, (int) child);
                fflush(stdout);
        }
        die("sigwait");
}

static double now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void shape_volatile(size_t size) {
        char *vol = mergeable_region(size), *rew = mergeable_region(size);
        const struct timespec ms = { 0, 1000 * 1000 };
        double last = now();

        memset(vol, 0x11, size);
        memset(rew, 0x22, size);
        printf("{\"pid\": %d, \"regions\": [", (int) getpid());
        region("volatile", vol, size, "rw-p", 0);
        region("rewrite", rew, size, "rw-p", 1);
        printf("]}\n");
        fflush(stdout);
        for (uint64_t n = 1;; n++) {
                for (size_t off = 0; off < size; off += PAGE)
                        memcpy(vol + off, &n, sizeof(n));
                if (now() - last >= 0.05) {
                        memset(rew, 0x22, size);
                        last = now();
                }
                nanosleep(&ms, NULL);
        }
}

int main(int argc, char *argv[]) {
        size_t size = (argc > 2 ? strtoul(argv[2], NULL, 10) : 8) * MIB;

        if (argc < 2 || size == 0) {
                fprintf(stderr, "usage: ksm-helper fork|volatile [MIB]\n");
                return 2;
        }
        if (strcmp(argv[1], "fork") == 0)
                shape_fork(size);
        else if (strcmp(argv[1], "volatile") == 0)
                shape_volatile(size);
        fprintf(stderr, "ksm-helper: no shape %s\n", argv[1]);
        return 2;
}
