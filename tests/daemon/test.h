/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The few lines the daemon's unit tests share: count checks, report them,
 * and close with the "N passed, N failed" line test harnesses read. */
#pragma once

#include <stdio.h>
#include <stdlib.h>

#include "macro.h"

#define USEC UINT64_C(1000000)

static unsigned test_passed, test_failed;

#define CHECK(expr)                                                                     \
        do {                                                                            \
                if (expr)                                                               \
                        test_passed++;                                                  \
                else {                                                                  \
                        test_failed++;                                                  \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr); \
                }                                                                       \
        } while (0)

static inline int test_summary(const char *name) {
        printf("%s: %u passed, %u failed\n", name, test_passed, test_failed);
        return test_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
