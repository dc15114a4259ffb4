/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Decimal numbers, as procfs prints them and as users and configuration
 * files give them: digits only. No sign, no space, no "0x", and never
 * wrapped: strtoull() would take "-1" for 2^64-1. Linked into the library,
 * the CLI and the daemon, so that all of them read numbers alike.
 */
#pragma once

#include <stdint.h>

/* The digits at the start of s, up to the first non-digit ("12 kB", "3\n"):
 * -EINVAL when s does not start with one, -ERANGE beyond UINT64_MAX. */
int parse_u64_prefix(const char *s, uint64_t *ret);

/* All of s is one number, from min to max: -EINVAL when it is not a number
 * (empty, a sign, trailing junk), -ERANGE when it is outside. *ret is only
 * set on success. */
int parse_u64_range(const char *s, uint64_t min, uint64_t max, uint64_t *ret);

static inline int parse_u64(const char *s, uint64_t *ret) {
        return parse_u64_range(s, 0, UINT64_MAX, ret);
}
