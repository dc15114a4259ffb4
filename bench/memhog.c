/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memhog: the benchmark's target process.
 *
 *   memhog [-g GIB] [-p 4k|thp] [-v NVMAS] [-k VMA_KIB] [-c]
 *
 * Maps GIB (default 4, fractions allowed, 0 for none) of private anonymous
 * memory as 4 KiB pages (MADV_NOHUGEPAGE) or as 2 MiB THPs (2 MiB-aligned,
 * MADV_HUGEPAGE), touches every page, optionally adds NVMAS small VMAs of
 * VMA_KIB each (default 64; every other one made read-only after the touch
 * so that neighbours cannot merge), prints "ready" and waits.
 *
 * -c starts a churn thread that maps, touches and unmaps one page in a
 * loop and times each mmap and munmap (both take the mmap lock for
 * writing, so their latency is the stall a reader of the address space
 * imposes). The thread runs SCHED_FIFO when allowed and sleeps 50 us
 * between rounds, so that what it measures is waiting for the lock, not
 * waiting for a CPU on a busy machine (the first line says which).
 * Control from outside by signal, answered on stdout:
 *   SIGUSR1  reset the churn statistics
 *   SIGUSR2  print "churn ops=N max_ns=N p999_ns=N p99_ns=N"
 *   SIGTERM/SIGINT  exit
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bench-util.h"

#define PMD_SIZE (2UL << 20)
#define PAGE 4096UL
#define NBUCKETS 64 /* log2(ns) histogram */

static atomic_uint_fast64_t churn_ops, churn_max_ns, churn_gen;
static atomic_uint_fast64_t churn_hist[NBUCKETS];

static void die(const char *what) {
        die_errno("memhog", what);
}

static void record(uint64_t ns) {
        uint64_t m = atomic_load(&churn_max_ns);
        unsigned b = 0;

        while (ns > m && !atomic_compare_exchange_weak(&churn_max_ns, &m, ns))
                ;
        while (b + 1 < NBUCKETS && (1ULL << (b + 1)) <= ns)
                b++;
        atomic_fetch_add(&churn_hist[b], 1);
        atomic_fetch_add(&churn_ops, 1);
}

static void *churn(void *unused) {
        const struct timespec gap = { 0, 50000 };

        (void) unused;
        for (;;) {
                uint64_t t0 = now_ns(), t1, t2;
                char *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                t1 = now_ns();
                if (p == MAP_FAILED)
                        die("churn mmap");
                *(volatile char *) p = 1;
                t2 = now_ns();
                munmap(p, PAGE);
                record(t1 - t0);
                record(now_ns() - t2);
                nanosleep(&gap, NULL);
        }
        return NULL;
}

/* upper bound (ns) of the bucket holding the q-quantile */
static uint64_t quantile(double q) {
        uint64_t total = 0, seen = 0;

        for (unsigned b = 0; b < NBUCKETS; b++)
                total += atomic_load(&churn_hist[b]);
        for (unsigned b = 0; b < NBUCKETS; b++) {
                seen += atomic_load(&churn_hist[b]);
                if (total && (double) seen >= q * (double) total)
                        return 1ULL << (b + 1);
        }
        return 0;
}

static void touch(char *p, size_t len) {
        for (size_t o = 0; o < len; o += PAGE)
                p[o] = (char) (o / PAGE + 1); /* distinct contents: nothing for KSM to merge */
}

int main(int argc, char *argv[]) {
        double gib = 4;
        const char *mode = "4k";
        long nvmas = 0, vma_kib = 64;
        int c, do_churn = 0;
        sigset_t set;
        pthread_t th;

        while ((c = getopt(argc, argv, "g:p:v:k:ch")) >= 0) {
                switch (c) {
                case 'g': gib = strtod(optarg, NULL); break;
                case 'p': mode = optarg; break;
                case 'v': nvmas = strtol(optarg, NULL, 10); break;
                case 'k': vma_kib = strtol(optarg, NULL, 10); break;
                case 'c': do_churn = 1; break;
                default:
                        fprintf(stderr, "usage: memhog [-g GIB] [-p 4k|thp] [-v NVMAS] [-k VMA_KIB] [-c]\n");
                        return c == 'h' ? 0 : 2;
                }
        }
        if (strcmp(mode, "4k") && strcmp(mode, "thp")) {
                fprintf(stderr, "memhog: -p takes 4k or thp\n");
                return 2;
        }

        if (gib > 0) {
                size_t len = (size_t) (gib * (1UL << 30)) / PMD_SIZE * PMD_SIZE;
                int thp = !strcmp(mode, "thp");
                char *raw = mmap(NULL, len + PMD_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                                 -1, 0);
                char *p;

                if (raw == MAP_FAILED)
                        die("mmap");
                p = (char *) (((uintptr_t) raw + PMD_SIZE - 1) & ~(PMD_SIZE - 1));
                /* trim the alignment slack so the region is exactly one VMA */
                if (p > raw)
                        munmap(raw, (size_t) (p - raw));
                if (p + len < raw + len + PMD_SIZE)
                        munmap(p + len, (size_t) (raw + len + PMD_SIZE - (p + len)));
                if (madvise(p, len, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) < 0)
                        die("madvise");
                touch(p, len);
        }

        if (nvmas > 0) {
                size_t each = (size_t) vma_kib * 1024;
                char *p = mmap(NULL, each * (size_t) nvmas, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

                if (p == MAP_FAILED)
                        die("mmap small VMAs");
                madvise(p, each * (size_t) nvmas, MADV_NOHUGEPAGE);
                touch(p, each * (size_t) nvmas);
                for (long i = 1; i < nvmas; i += 2)
                        if (mprotect(p + (size_t) i * each, each, PROT_READ) < 0)
                                die("mprotect");
        }

        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        sigaddset(&set, SIGUSR2);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by the churn thread */
        if (do_churn) {
                pthread_attr_t attr;
                struct sched_param sp = { .sched_priority = 10 };

                pthread_attr_init(&attr);
                pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
                pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
                pthread_attr_setschedparam(&attr, &sp);
                if (pthread_create(&th, &attr, churn, NULL) == 0)
                        printf("churn sched=fifo\n");
                else if ((errno = pthread_create(&th, NULL, churn, NULL)))
                        die("pthread_create");
                else
                        printf("churn sched=other\n");
        }

        printf("ready %d\n", (int) getpid());
        fflush(stdout);

        for (;;) {
                int sig = sigwaitinfo(&set, NULL);

                if (sig == SIGUSR1) {
                        atomic_fetch_add(&churn_gen, 1);
                        for (unsigned b = 0; b < NBUCKETS; b++)
                                atomic_store(&churn_hist[b], 0);
                        atomic_store(&churn_ops, 0);
                        atomic_store(&churn_max_ns, 0);
                        printf("reset %llu\n", (unsigned long long) atomic_load(&churn_gen));
                } else if (sig == SIGUSR2) {
                        printf("churn ops=%llu max_ns=%llu p999_ns=%llu p99_ns=%llu\n",
                               (unsigned long long) atomic_load(&churn_ops),
                               (unsigned long long) atomic_load(&churn_max_ns),
                               (unsigned long long) quantile(0.999), (unsigned long long) quantile(0.99));
                } else if (sig > 0)
                        return 0;
                fflush(stdout);
        }
}
