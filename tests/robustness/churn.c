/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * churn: starts and ends short-lived processes as fast as it can, for a bounded time and a
 * bounded count, and measures the rate it held.
 *
 *   churn --seconds S --max N [--pool K] [--touch-kb KB] [--max-life-ms MS]
 *
 * Every other child exits at once; the others map and touch KB of anonymous memory (so that an
 * audit has pages to walk), wait, and are killed with SIGKILL after a random life of up to MS
 * milliseconds; at most K of those live at a time. Each child dies with this process
 * (PR_SET_PDEATHSIG), so none outlives a churn that was killed. SIGTERM or SIGINT end the run
 * early, cleanly.
 *
 * Prints a line a second on stderr and, at the end, one JSON line on stdout:
 *   {"started":N,"ended":N,"exited":N,"killed":N,"seconds":S,"rate":R,"worst_second":W}
 * where rate is ended/seconds and worst_second the fewest processes ended in one whole second.
 * Exits 0 when every child was reaped, 1 otherwise, 2 on bad arguments.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
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

#define POOL_MAX 1024

typedef struct Child {
        pid_t pid;
        uint64_t deadline_ns;  /* SIGKILL at this time; 0: exits by itself */
        bool killed;
} Child;

static volatile sig_atomic_t stop;

static void on_stop(int sig) {
        (void) sig;
        stop = 1;
}

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static unsigned long parse_ulong(const char *name, const char *s, unsigned long max) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || *end || end == s || v > max) {
                fprintf(stderr, "churn: --%s takes a number up to %lu, not '%s'\n", name, max, s);
                exit(2);
        }
        return v;
}

_Noreturn static void child_main(pid_t parent, bool lives, size_t touch_bytes) {
        char *p;

        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                _exit(0);
        if (!lives)
                _exit(0);
        p = mmap(NULL, touch_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p != MAP_FAILED)
                memset(p, 0x5a, touch_bytes);
        for (;;)
                pause();
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "seconds", required_argument, NULL, 's' },
                { "max", required_argument, NULL, 'n' },
                { "pool", required_argument, NULL, 'k' },
                { "touch-kb", required_argument, NULL, 't' },
                { "max-life-ms", required_argument, NULL, 'l' },
                {}
        };
        unsigned long seconds = 10, max = 20000, pool_max = 64, touch_kb = 256, max_life_ms = 20;
        static Child pool[POOL_MAX];
        size_t n_pool = 0;
        uint64_t started = 0, ended = 0, exited = 0, killed = 0, worst = UINT64_MAX;
        uint64_t t0, second_start, ended_at_second_start = 0, end_ns;
        unsigned second = 0;
        pid_t self = getpid();
        struct sigaction sa = { .sa_handler = on_stop };
        unsigned seed = (unsigned) now_ns();
        int c, ret = 0;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 's': seconds = parse_ulong("seconds", optarg, 3600); break;
                case 'n': max = parse_ulong("max", optarg, 10000000); break;
                case 'k': pool_max = parse_ulong("pool", optarg, POOL_MAX); break;
                case 't': touch_kb = parse_ulong("touch-kb", optarg, 1024 * 1024); break;
                case 'l': max_life_ms = parse_ulong("max-life-ms", optarg, 60000); break;
                default: return 2;
                }
        if (optind < argc || seconds == 0 || max == 0 || pool_max == 0) {
                fprintf(stderr, "usage: churn --seconds S --max N [--pool K] [--touch-kb KB] [--max-life-ms MS]\n");
                return 2;
        }

        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);

        t0 = second_start = now_ns();
        end_ns = t0 + seconds * 1000000000u;
        while (!stop) {
                uint64_t now = now_ns();
                size_t live = 0;
                pid_t pid;
                int status;

                if (now >= end_ns || started >= max)
                        break;

                /* the rate meter: processes ended in each whole second */
                if (now - second_start >= 1000000000u) {
                        uint64_t in_second = ended - ended_at_second_start;

                        second++;
                        fprintf(stderr, "churn: second %u: %" PRIu64 " processes ended\n", second, in_second);
                        if (in_second < worst)
                                worst = in_second;
                        ended_at_second_start = ended;
                        second_start += 1000000000u;
                }

                for (size_t i = 0; i < n_pool; i++)
                        if (!pool[i].killed && pool[i].deadline_ns && pool[i].deadline_ns <= now) {
                                (void) kill(pool[i].pid, SIGKILL);
                                pool[i].killed = true;
                        }

                while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
                        ended++;
                        if (WIFSIGNALED(status))
                                killed++;
                        else
                                exited++;
                        for (size_t i = 0; i < n_pool; i++)
                                if (pool[i].pid == pid) {
                                        pool[i] = pool[--n_pool];
                                        break;
                                }
                }

                for (size_t i = 0; i < n_pool; i++)
                        live += pool[i].deadline_ns != 0;
                if (n_pool >= POOL_MAX || live >= pool_max) {
                        (void) nanosleep(&(struct timespec) { .tv_nsec = 100000 }, NULL);
                        continue;
                }

                {
                        bool lives = started % 2 == 1;
                        uint64_t life_ns = max_life_ms ? (uint64_t) (rand_r(&seed) % (max_life_ms * 1000)) * 1000u : 0;

                        pid = fork();
                        if (pid < 0) {
                                if (errno == EAGAIN) {
                                        (void) nanosleep(&(struct timespec) { .tv_nsec = 1000000 }, NULL);
                                        continue;
                                }
                                perror("churn: fork");
                                ret = 1;
                                break;
                        }
                        if (pid == 0)
                                child_main(self, lives, (size_t) touch_kb * 1024);
                        started++;
                        pool[n_pool++] = (Child) { .pid = pid, .deadline_ns = lives ? now + life_ns + 1 : 0 };
                }
        }

        /* the end: kill what lives, reap everything */
        for (size_t i = 0; i < n_pool; i++)
                (void) kill(pool[i].pid, SIGKILL);
        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, 0);

                if (pid < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                ended++;
                if (WIFSIGNALED(status))
                        killed++;
                else
                        exited++;
        }
        if (ended != started) {
                fprintf(stderr, "churn: started %" PRIu64 " processes but reaped %" PRIu64 "\n", started, ended);
                ret = 1;
        }

        {
                double elapsed = (double) (now_ns() - t0) / 1e9;

                printf("{\"started\":%" PRIu64 ",\"ended\":%" PRIu64 ",\"exited\":%" PRIu64 ",\"killed\":%" PRIu64
                       ",\"seconds\":%.3f,\"rate\":%.1f,\"worst_second\":%" PRIu64 ",\"whole_seconds\":%u}\n",
                       started, ended, exited, killed, elapsed, elapsed > 0 ? (double) ended / elapsed : 0.0,
                       worst == UINT64_MAX ? 0 : worst, second);
        }
        return ret;
}
