/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>

#include "parse-number.h"

/* Digits from s on; *end: the first byte after them. */
static int parse_digits(const char *s, uint64_t *ret, const char **end) {
        uint64_t v = 0;

        if (!isdigit((unsigned char) *s))
                return -EINVAL;
        for (; isdigit((unsigned char) *s); s++) {
                unsigned d = (unsigned) (*s - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *ret = v;
        *end = s;
        return 0;
}

int parse_u64_prefix(const char *s, uint64_t *ret) {
        const char *end;

        return parse_digits(s, ret, &end);
}

int parse_u64_range(const char *s, uint64_t min, uint64_t max, uint64_t *ret) {
        const char *end;
        uint64_t v;
        int r;

        r = parse_digits(s, &v, &end);
        if (r < 0)
                return r;
        if (*end)
                return -EINVAL;
        if (v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}
