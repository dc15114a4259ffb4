/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "ratelimit.h"
#include "test.h"

int main(void) {
        RateLimit rl = { .interval_usec = 10 * USEC, .burst = 3 };
        RateLimit off = { .interval_usec = 0, .burst = 3 };
        unsigned suppressed, allowed = 0;

        /* Three in a window, then nothing until it ends; the next window says how many were refused. */
        for (unsigned i = 0; i < 5; i++) {
                allowed += ratelimit_below(&rl, 100 * USEC + i, &suppressed);
                CHECK(suppressed == 0);
        }
        CHECK(allowed == 3 && rl.suppressed == 2);
        CHECK(!ratelimit_below(&rl, 109 * USEC, &suppressed) && suppressed == 0);
        CHECK(ratelimit_below(&rl, 110 * USEC, &suppressed) && suppressed == 3);
        CHECK(ratelimit_below(&rl, 111 * USEC, &suppressed) && suppressed == 0);

        /* A clock that went back starts a new window rather than refusing forever. */
        CHECK(ratelimit_below(&rl, 50 * USEC, &suppressed));

        for (unsigned i = 0; i < 100; i++)
                CHECK(ratelimit_below(&off, i, &suppressed) && suppressed == 0);
        return test_summary("ratelimit");
}
