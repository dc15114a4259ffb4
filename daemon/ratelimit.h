/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* At most burst events per interval, as journald's own RateLimitBurst=:
 * the window starts with the first event after the last one ended, and
 * what was refused in a window is counted for whoever reports it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

typedef struct RateLimit {
        uint64_t interval_usec;   /* 0: no limit */
        unsigned burst;           /* 0: no limit */
        uint64_t begin_usec;      /* of the current window */
        unsigned n;               /* let through in it */
        unsigned suppressed;      /* refused in it */
} RateLimit;

/* True when the event may go. When a new window begins and the last one
 * refused some, *ret_suppressed is how many (else 0): say so once. */
bool ratelimit_below(RateLimit *rl, uint64_t now_usec, unsigned *ret_suppressed);
