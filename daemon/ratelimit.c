/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "ratelimit.h"

bool ratelimit_below(RateLimit *rl, uint64_t now_usec, unsigned *ret_suppressed) {
        *ret_suppressed = 0;

        if (rl->interval_usec == 0 || rl->burst == 0)
                return true;

        if (rl->begin_usec == 0 || now_usec < rl->begin_usec || now_usec - rl->begin_usec >= rl->interval_usec) {
                *ret_suppressed = rl->suppressed;
                rl->begin_usec = now_usec;
                rl->n = 0;
                rl->suppressed = 0;
        }

        if (rl->n < rl->burst) {
                rl->n++;
                return true;
        }
        rl->suppressed++;
        return false;
}
