/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the bench helpers share: clocks, medians, dying with a reason. */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline uint64_t clock_ns(clockid_t clk) {
        struct timespec ts;
        clock_gettime(clk, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static inline uint64_t now_ns(void) {
        return clock_ns(CLOCK_MONOTONIC);
}

static inline int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

/* Sorts t in place. */
static inline uint64_t median_u64(uint64_t *t, size_t n) {
        if (n == 0)
                return 0;
        qsort(t, n, sizeof(*t), cmp_u64);
        return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

/* "prog: what: strerror(errno)", exit 1 */
static inline void die_errno(const char *prog, const char *what) {
        fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
        exit(1);
}

#endif
