/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * timeit: the benchmark's stopwatch (CLOCK_MONOTONIC).
 *
 *   timeit file [-n N] [-w W] PATH
 *       open, read to EOF (64 KiB reads) and close PATH N times after W
 *       untimed warm-up reads.
 *   timeit loop -t SECONDS PATH
 *       the same, back to back, for SECONDS.
 *   timeit cmd [-n N] [-w W] [-o OUT] -- COMMAND ARGS...
 *       run COMMAND N times (stdout to OUT, the last run's kept, else
 *       /dev/null), W untimed warm-up runs first.
 *
 * Prints one line of key=value pairs:
 *   n= median_us= min_us= max_us= cpu_us= [maxrss_kb= status=]
 * cpu_us is the median CPU time (user + system) of one read or one run:
 * unlike wall time it does not grow when other work competes for the
 * CPUs. maxrss_kb is the largest ru_maxrss of the timed children (wait4),
 * i.e. the command's own peak RSS; status is the last exit status.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench-util.h"

static uint64_t cpu_ns(void) {
        return clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

static uint64_t tv_ns(struct timeval tv) {
        return (uint64_t) tv.tv_sec * 1000000000u + (uint64_t) tv.tv_usec * 1000u;
}

static void usage(void) {
        fprintf(stderr, "usage: timeit file [-n N] [-w W] PATH\n"
                        "       timeit loop -t SECONDS PATH\n"
                        "       timeit cmd [-n N] [-w W] [-o OUT] -- COMMAND ARGS...\n");
        exit(2);
}

static int read_once(const char *path) {
        static char buf[65536];
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n;

        if (fd < 0) {
                fprintf(stderr, "timeit: %s: %s\n", path, strerror(errno));
                return -1;
        }
        while ((n = read(fd, buf, sizeof(buf))) > 0)
                ;
        close(fd);
        if (n < 0) {
                fprintf(stderr, "timeit: reading %s: %s\n", path, strerror(errno));
                return -1;
        }
        return 0;
}

static int run_once(char **cmd, const char *out, struct rusage *ru, int *status) {
        pid_t pid = fork();

        if (pid < 0)
                return -1;
        if (pid == 0) {
                int fd = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
                        _exit(127);
                execvp(cmd[0], cmd);
                fprintf(stderr, "timeit: %s: %s\n", cmd[0], strerror(errno));
                _exit(127);
        }
        if (wait4(pid, status, 0, ru) < 0)
                return -1;
        return 0;
}

static void print_stats(uint64_t *t, uint64_t *cpu, size_t n) {
        if (n == 0) {
                printf("n=0 median_us=0 min_us=0 max_us=0 cpu_us=0");
                return;
        }
        printf("n=%zu median_us=%.1f", n, median_u64(t, n) / 1e3);
        printf(" min_us=%.1f max_us=%.1f cpu_us=%.1f", t[0] / 1e3, t[n - 1] / 1e3, median_u64(cpu, n) / 1e3);
}

int main(int argc, char *argv[]) {
        const char *verb, *out = NULL;
        long n = 11, warm = 1;
        double secs = 1;
        uint64_t *t, *cpu;
        int c;

        if (argc < 2)
                usage();
        verb = argv[1];
        optind = 2;
        while ((c = getopt(argc, argv, "+n:w:t:o:")) >= 0) {
                switch (c) {
                case 'n': n = strtol(optarg, NULL, 10); break;
                case 'w': warm = strtol(optarg, NULL, 10); break;
                case 't': secs = strtod(optarg, NULL); break;
                case 'o': out = optarg; break;
                default: usage();
                }
        }
        if (optind >= argc || n <= 0)
                usage();

        if (!strcmp(verb, "file")) {
                t = calloc((size_t) n, sizeof(*t));
                cpu = calloc((size_t) n, sizeof(*cpu));
                for (long i = 0; i < warm; i++)
                        if (read_once(argv[optind]) < 0)
                                return 1;
                for (long i = 0; i < n; i++) {
                        uint64_t t0 = now_ns(), c0 = cpu_ns();
                        if (read_once(argv[optind]) < 0)
                                return 1;
                        t[i] = now_ns() - t0;
                        cpu[i] = cpu_ns() - c0;
                }
                print_stats(t, cpu, (size_t) n);
                printf("\n");
        } else if (!strcmp(verb, "loop")) {
                uint64_t end = now_ns() + (uint64_t) (secs * 1e9);
                size_t cap = 1024, k = 0;

                t = malloc(cap * sizeof(*t));
                cpu = malloc(cap * sizeof(*cpu));
                while (now_ns() < end) {
                        uint64_t t0 = now_ns(), c0 = cpu_ns();
                        if (read_once(argv[optind]) < 0)
                                return 1;
                        if (k == cap) {
                                cap *= 2;
                                t = realloc(t, cap * sizeof(*t));
                                cpu = realloc(cpu, cap * sizeof(*cpu));
                        }
                        cpu[k] = cpu_ns() - c0;
                        t[k++] = now_ns() - t0;
                }
                print_stats(t, cpu, k);
                printf("\n");
        } else if (!strcmp(verb, "cmd")) {
                struct rusage ru;
                long maxrss = 0;
                int status = 0;

                t = calloc((size_t) n, sizeof(*t));
                cpu = calloc((size_t) n, sizeof(*cpu));
                for (long i = 0; i < warm; i++)
                        if (run_once(argv + optind, NULL, &ru, &status) < 0)
                                return 1;
                for (long i = 0; i < n; i++) {
                        uint64_t t0 = now_ns();
                        if (run_once(argv + optind, out, &ru, &status) < 0)
                                return 1;
                        t[i] = now_ns() - t0;
                        cpu[i] = tv_ns(ru.ru_utime) + tv_ns(ru.ru_stime);
                        if (ru.ru_maxrss > maxrss)
                                maxrss = ru.ru_maxrss;
                }
                print_stats(t, cpu, (size_t) n);
                printf(" maxrss_kb=%ld status=%d\n", maxrss,
                       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        } else
                usage();
        return 0;
}
