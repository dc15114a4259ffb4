/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The unit tests' whole harness: one TAP line per check ("ok N - what",
 * "not ok N - what" with the values on a "#" line), the plan at the end, and
 * exit status 1 when anything failed. meson runs them with protocol 'tap'.
 */
#pragma once

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned tap_count, tap_failed;

static inline bool tap_result(bool pass, const char *file, int line, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static inline bool tap_result(bool pass, const char *file, int line, const char *fmt, ...) {
        va_list ap;

        printf("%sok %u - ", pass ? "" : "not ", ++tap_count);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        putchar('\n');
        if (!pass) {
                tap_failed++;
                printf("#   failed at %s:%d\n", file, line);
        }
        fflush(stdout);
        return pass;
}

/* Each check is an expression, true when it passed. ok(condition, "description", ...) */
#define ok(cond, ...) tap_result(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

#define TAP_CMP(T, fmt, got, want, ...)                                                   \
        ({                                                                                \
                T _g = (T) (got), _w = (T) (want);                                        \
                bool _p = tap_result(_g == _w, __FILE__, __LINE__, __VA_ARGS__);          \
                if (!_p)                                                                  \
                        printf("#   got " fmt ", want " fmt " (%s)\n", _g, _w, #got);     \
                _p;                                                                       \
        })

#define is_u64(got, want, ...) TAP_CMP(uint64_t, "%" PRIu64, got, want, __VA_ARGS__)
#define is_i64(got, want, ...) TAP_CMP(int64_t, "%" PRId64, got, want, __VA_ARGS__)
#define is_hex(got, want, ...) TAP_CMP(uint64_t, "0x%" PRIx64, got, want, __VA_ARGS__)

#define is_str(got, want, ...)                                                            \
        ({                                                                                \
                const char *_g = (got), *_w = (want);                                     \
                bool _p = tap_result(_g && _w ? strcmp(_g, _w) == 0 : _g == _w, __FILE__, \
                                     __LINE__, __VA_ARGS__);                              \
                if (!_p)                                                                  \
                        printf("#   got \"%s\", want \"%s\"\n", _g ? _g : "(null)",       \
                               _w ? _w : "(null)");                                       \
                _p;                                                                       \
        })

/* A range [lo, hi] as account.c builds them. */
#define is_range(r, want_lo, want_hi, ...)                                                \
        ({                                                                                \
                uint64_t _l = (r).lo, _h = (r).hi;                                        \
                uint64_t _wl = (uint64_t) (want_lo), _wh = (uint64_t) (want_hi);          \
                bool _p = tap_result(_l == _wl && _h == _wh, __FILE__, __LINE__, __VA_ARGS__); \
                if (!_p)                                                                  \
                        printf("#   got [%" PRIu64 ", %" PRIu64 "], want [%" PRIu64 ", %" PRIu64 "]\n", \
                               _l, _h, _wl, _wh);                                         \
                _p;                                                                       \
        })

/* Prints the plan and gives main()'s exit status. */
static inline int tap_done(void) {
        printf("1..%u\n", tap_count);
        if (tap_failed)
                printf("# %u of %u failed\n", tap_failed, tap_count);
        return tap_failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* A fixture file under SA_FIXTURES (tests/unit/fixtures), NUL-terminated; aborts when missing. */
static inline char *tap_fixture(const char *name) {
        char path[4096];
        FILE *f;
        char *buf = NULL;
        size_t len = 0, cap = 0, n;

        snprintf(path, sizeof(path), "%s/%s", SA_FIXTURES, name);
        f = fopen(path, "re");
        if (!f) {
                printf("Bail out! cannot open fixture %s\n", path);
                exit(EXIT_FAILURE);
        }
        do {
                if (cap - len < 4097) {
                        cap = cap ? cap * 2 : 65536;
                        buf = realloc(buf, cap);
                        if (!buf) {
                                printf("Bail out! out of memory\n");
                                exit(EXIT_FAILURE);
                        }
                }
                n = fread(buf + len, 1, cap - len - 1, f);
                len += n;
        } while (n > 0);
        fclose(f);
        buf[len] = 0;
        return buf;
}

static inline const char *tap_fixture_path(const char *name) {
        static char path[4096];

        snprintf(path, sizeof(path), "%s/%s", SA_FIXTURES, name);
        return path;
}
