/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * kworkload: the memory shapes the real-kernel tests need beyond tests/workload, and a probe that
 * measures smaps_rollup against the per-VMA smaps read around it. Runs inside the qemu guests
 * (tests/kernels/run) and on the host, as root.
 *
 *   kworkload rollup-churn [--vmas N] [--vma-kb K]
 *       N written anonymous VMAs of K KiB (default 2000 x 64), each followed by a hole so that no
 *       two merge, and one thread mapping, touching and unmapping 8 KiB in a tight loop: the
 *       writer that makes smaps_rollup's mmap_lock contended. SIGUSR1 stops the churn thread (the
 *       process then prints {"churn":"stopped"}); SIGTERM ends the process.
 *   kworkload rollup-probe PID [--reads N]
 *       N times: read /proc/PID/smaps, then smaps_rollup, then smaps again, and count the rollup
 *       reads whose Rss is below the sum over the VMAs that had the same start, end and Rss in
 *       both smaps reads by at least one VMA of rollup-churn (K KiB): only the churn thread's
 *       8 KiB can legitimately be missing (unmapped during the rollup read, mapped again at the
 *       same address before the second smaps read). Prints one JSON line with the counts.
 *   kworkload split-rss [--pages N] [--file PATH --file-faults M]
 *       Two threads, each writing N (default 60) fresh anonymous pages, the second then blocking:
 *       fewer faults than the 64 that make a 6.1 thread fold its cached RSS deltas into the mm, so
 *       status lags the page tables by up to 2 N pages there. With --file, the second thread
 *       also read-faults M times on PATH (created, 64 KiB apart: each fault maps up to 16 pages
 *       through fault-around), so one thread's cached delta reaches about 16 M + N pages.
 *   kworkload ksm-fork [--pages N] [--seconds S]
 *       N (default 1024) identical MADV_MERGEABLE pages; waits up to S seconds (default 60) for
 *       ksmd to merge all of them (/proc/self/ksm_merging_pages), prints the truth line, and on
 *       SIGUSR1 forks a child that maps the same pages and waits; prints {"child_pid":N}.
 *
 * Every shape prints one JSON line when its memory is ready and then waits for SIGTERM/SIGINT.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rollup.h"
#include "shape-memory.h"

#define PAGE_SZ ((size_t) 4096)
#define KSM_BYTE 0x5a

static sigset_t wait_signals;

static void die(const char *what) __attribute__((noreturn));
static void die(const char *what)
{
        fprintf(stderr, "kworkload: %s: %s\n", what, strerror(errno));
        exit(1);
}

static double now_seconds(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Waits for SIGTERM or SIGINT (returns) or SIGUSR1 (calls on_usr1 and keeps waiting). */
static void wait_for_stop(void (*on_usr1)(void))
{
        int sig;

        for (;;) {
                if (sigwait(&wait_signals, &sig) != 0)
                        continue;
                if (sig == SIGUSR1) {
                        if (on_usr1)
                                on_usr1();
                        continue;
                }
                return;
        }
}

/* ------------------------------------------------------------------ rollup-churn, rollup-probe */

/* The shape and the measurement are the probe's (probe/rollup.h): `smapsaudit probe` runs them too. */
static void stop_churn(void)
{
        static bool stopped;

        if (stopped)
                return;
        stopped = true;
        printf("{\"churn\":\"stopped\",\"rounds\":%lu}\n", rollup_churn_stop());
        fflush(stdout);
}

static int shape_rollup_churn(unsigned vmas, unsigned vma_kb)
{
        uintptr_t first, last_end;
        int r = rollup_churn_start(vmas, vma_kb, &first, &last_end);

        if (r < 0) {
                errno = -r;
                die("rollup-churn");
        }
        printf("{\"shape\":\"rollup-churn\",\"pid\":%d,\"vmas\":%u,\"vma_kb\":%u,\"first\":\"0x%" PRIxPTR
               "\",\"last_end\":\"0x%" PRIxPTR "\",\"stable_kb\":%llu,\"churn_kb\":%d}\n",
               (int) getpid(), vmas, vma_kb, first, last_end, (unsigned long long) vmas * vma_kb, ROLLUP_CHURN_KB);
        fflush(stdout);
        wait_for_stop(stop_churn);
        stop_churn();
        return 0;
}

static int probe(pid_t pid, unsigned reads, unsigned vma_kb)
{
        struct rollup_counts c;
        int r = rollup_sandwich(pid, reads, vma_kb, &c);

        printf("{\"probe\":\"rollup\",\"pid\":%d,\"reads\":%u,\"seconds\":%.2f,\"identical_sandwiches\":%u,"
               "\"below_stable_any\":%u,\"below_stable_by_a_vma\":%u,"
               "\"worst_below_stable_kb\":%llu,\"below_sandwich_by_a_vma\":%u,\"worst_below_sandwich_kb\":%llu,"
               "\"worst_below_sandwich_vmas\":%llu,\"rollup_min_kb\":%llu,\"rollup_max_kb\":%llu,\"stable_max_kb\":%llu}\n",
               (int) pid, c.reads, c.seconds, c.identical, c.below_any, c.below_by_a_vma,
               (unsigned long long) c.worst_below_kb, c.below_sandwich_by_a_vma,
               (unsigned long long) c.worst_below_sandwich_kb,
               (unsigned long long) (vma_kb ? c.worst_below_sandwich_kb / vma_kb : 0),
               (unsigned long long) c.rollup_min_kb, (unsigned long long) c.rollup_max_kb,
               (unsigned long long) c.stable_max_kb);
        return r < 0 || c.reads != reads ? 1 : 0;
}

/* ------------------------------------------------------------------ split-rss */

#define FAULT_AROUND ((size_t) 64 << 10)

static unsigned split_pages, split_file_faults;
static volatile char *split_file;
static pthread_mutex_t split_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t split_cond = PTHREAD_COND_INITIALIZER;
static bool split_ready;
static volatile char split_sink;

static void *split_thread(void *arg)
{
        char *p = arg;

        /* this thread's faults: stay below the 64 events that make 6.1 sync its counters */
        for (unsigned i = 0; i < split_file_faults; i++)
                split_sink += split_file[(size_t) i * FAULT_AROUND];
        shape_touch(p, (size_t) split_pages * PAGE_SZ);
        pthread_mutex_lock(&split_lock);
        split_ready = true;
        pthread_cond_broadcast(&split_cond);
        for (;;)        /* stay alive: a thread's exit folds its deltas into the mm */
                pthread_cond_wait(&split_cond, &split_lock);
        return NULL;
}

/* A file of faults x 64 KiB, written (so in the page cache) and mapped read-only. */
static void map_fault_file(const char *path, unsigned faults)
{
        size_t len = (size_t) faults * FAULT_AROUND;
        char *buf = malloc(FAULT_AROUND);
        FILE *f = fopen(path, "we");
        char *p;

        if (!buf || !f)
                die(path);
        memset(buf, 0x3c, FAULT_AROUND);
        for (unsigned i = 0; i < faults; i++)
                if (fwrite(buf, 1, FAULT_AROUND, f) != FAULT_AROUND)
                        die(path);
        if (fclose(f) != 0)
                die(path);
        free(buf);
        f = fopen(path, "re");
        if (!f)
                die(path);
        p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fileno(f), 0);
        if (p == MAP_FAILED)
                die("mmap file");
        fclose(f);
        split_file = p;
        split_file_faults = faults;
}

static int shape_split_rss(unsigned pages, const char *file, unsigned file_faults)
{
        size_t len = (size_t) pages * PAGE_SZ;
        char *mine = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        char *theirs = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        pthread_t t;
        int r;

        if (mine == MAP_FAILED || theirs == MAP_FAILED)
                die("mmap");
        if (madvise(mine, len, MADV_NOHUGEPAGE) < 0 || madvise(theirs, len, MADV_NOHUGEPAGE) < 0)
                die("madvise");
        split_pages = pages;
        if (file)
                map_fault_file(file, file_faults);
        r = pthread_create(&t, NULL, split_thread, theirs);
        if (r) {
                errno = r;
                die("pthread_create");
        }
        pthread_mutex_lock(&split_lock);
        while (!split_ready)
                pthread_cond_wait(&split_cond, &split_lock);
        pthread_mutex_unlock(&split_lock);
        shape_touch(mine, len);
        printf("{\"shape\":\"split-rss\",\"pid\":%d,\"threads\":2,\"pages_per_thread\":%u,"
               "\"file_faults\":%u,\"mine\":\"0x%" PRIxPTR "\",\"theirs\":\"0x%" PRIxPTR "\"}\n",
               (int) getpid(), pages, split_file_faults, (uintptr_t) mine, (uintptr_t) theirs);
        fflush(stdout);
        wait_for_stop(NULL);
        return 0;
}

/* ------------------------------------------------------------------ ksm-fork */

static pid_t ksm_child;

static void fork_child(void)
{
        pid_t parent = getpid(), c;

        if (ksm_child > 0)
                return;
        fflush(NULL);
        c = fork();
        if (c < 0)
                die("fork");
        if (c == 0) {
                int sig;
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                        _exit(0);
                while (sigwait(&wait_signals, &sig) != 0 || sig == SIGUSR1)
                        ;
                _exit(0);
        }
        ksm_child = c;
        printf("{\"child_pid\":%d}\n", (int) c);
        fflush(stdout);
}

static int shape_ksm_fork(unsigned pages, unsigned seconds)
{
        size_t len = (size_t) pages * PAGE_SZ;
        char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        double deadline = now_seconds() + seconds;
        long merged;

        if (p == MAP_FAILED)
                die("mmap");
        if (madvise(p, len, MADV_NOHUGEPAGE) < 0 || madvise(p, len, MADV_MERGEABLE) < 0)
                die("madvise(MADV_MERGEABLE)");
        memset(p, KSM_BYTE, len);
        while ((merged = proc_ksm_merging_pages(0)) < (long) pages && now_seconds() < deadline)
                usleep(50 * 1000);
        printf("{\"shape\":\"ksm-fork\",\"pid\":%d,\"start\":\"0x%" PRIxPTR "\",\"end\":\"0x%" PRIxPTR
               "\",\"pages\":%u,\"merged\":%ld%s}\n",
               (int) getpid(), (uintptr_t) p, (uintptr_t) (p + len), pages, merged,
               merged < (long) pages ? ",\"skip\":\"ksmd did not merge every page in time\"" : "");
        fflush(stdout);
        wait_for_stop(fork_child);
        if (ksm_child > 0) {
                kill(ksm_child, SIGKILL);
                waitpid(ksm_child, NULL, 0);
        }
        return 0;
}

/* ------------------------------------------------------------------ main */

static void usage(FILE *f)
{
        fputs("usage: kworkload rollup-churn [--vmas N] [--vma-kb K]\n"
              "       kworkload rollup-probe PID [--reads N] [--vma-kb K]\n"
              "       kworkload split-rss [--pages N] [--file PATH --file-faults M]\n"
              "       kworkload ksm-fork [--pages N] [--seconds S]\n", f);
}

static unsigned number(const char *s, const char *what)
{
        char *end;
        unsigned long v = strtoul(s, &end, 10);

        if (*end || end == s || v == 0 || v > 1000000) {
                fprintf(stderr, "kworkload: bad %s '%s'\n", what, s);
                exit(2);
        }
        return (unsigned) v;
}

int main(int argc, char **argv)
{
        static const struct option longopts[] = {
                { "vmas", required_argument, NULL, 'n' },
                { "vma-kb", required_argument, NULL, 'k' },
                { "reads", required_argument, NULL, 'r' },
                { "pages", required_argument, NULL, 'p' },
                { "seconds", required_argument, NULL, 's' },
                { "file", required_argument, NULL, 'f' },
                { "file-faults", required_argument, NULL, 'F' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        unsigned vmas = 2000, vma_kb = 64, reads = 100, pages = 0, seconds = 60, file_faults = 0;
        const char *shape, *file = NULL;
        int c;

        while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1)
                switch (c) {
                case 'n': vmas = number(optarg, "--vmas"); break;
                case 'k': vma_kb = number(optarg, "--vma-kb"); break;
                case 'r': reads = number(optarg, "--reads"); break;
                case 'p': pages = number(optarg, "--pages"); break;
                case 's': seconds = number(optarg, "--seconds"); break;
                case 'f': file = optarg; break;
                case 'F': file_faults = number(optarg, "--file-faults"); break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        if (optind >= argc) {
                usage(stderr);
                return 2;
        }
        shape = argv[optind];
        if (vma_kb % 4) {
                fprintf(stderr, "kworkload: --vma-kb must be a multiple of 4\n");
                return 2;
        }

        /* blocked before any thread exists, so that only sigwait() sees them */
        sigemptyset(&wait_signals);
        sigaddset(&wait_signals, SIGTERM);
        sigaddset(&wait_signals, SIGINT);
        sigaddset(&wait_signals, SIGUSR1);
        sigprocmask(SIG_BLOCK, &wait_signals, NULL);

        if (strcmp(shape, "rollup-probe") == 0) {
                if (optind + 2 != argc) {
                        usage(stderr);
                        return 2;
                }
                sigprocmask(SIG_UNBLOCK, &wait_signals, NULL);
                return probe((pid_t) number(argv[optind + 1], "PID"), reads, vma_kb);
        }
        if (optind + 1 != argc) {
                usage(stderr);
                return 2;
        }
        if (strcmp(shape, "rollup-churn") == 0)
                return shape_rollup_churn(vmas, vma_kb);
        if (strcmp(shape, "split-rss") == 0)
                return shape_split_rss(pages ? pages : 60, file, file ? (file_faults ? file_faults : 40) : 0);
        if (strcmp(shape, "ksm-fork") == 0)
                return shape_ksm_fork(pages ? pages : 1024, seconds);
        fprintf(stderr, "kworkload: unknown shape %s\n", shape);
        usage(stderr);
        return 2;
}
