/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "test.h"
#include "user-cpu.h"

int main(void) {
        UserCPUTable t = {};
        uint64_t used, window = 600 * USEC, budget = 60 * USEC;

        /* Nothing charged: free to go. */
        CHECK(user_cpu_wait_usec(&t, 1000, 5 * USEC, budget, window, &used) == 0 && used == 0);

        /* Under the budget: free; the audit that crosses it is charged whole, and the uid then
         * waits for the end of the window that its first audit started. */
        CHECK(user_cpu_charge(&t, 1000, 40 * USEC, 100 * USEC, window) == 0);
        CHECK(user_cpu_wait_usec(&t, 1000, 110 * USEC, budget, window, &used) == 0 && used == 40 * USEC);
        CHECK(user_cpu_charge(&t, 1000, 45 * USEC, 150 * USEC, window) == 0);
        CHECK(user_cpu_wait_usec(&t, 1000, 160 * USEC, budget, window, &used) == 540 * USEC);
        CHECK(used == 85 * USEC);

        /* Another uid has its own window. */
        CHECK(user_cpu_wait_usec(&t, 1001, 160 * USEC, budget, window, &used) == 0 && used == 0);
        CHECK(user_cpu_charge(&t, 1001, 1 * USEC, 160 * USEC, window) == 0);
        CHECK(t.n == 2);

        /* The window ends: free again, and the next charge starts a new one and forgets ended ones. */
        CHECK(user_cpu_wait_usec(&t, 1000, 700 * USEC, budget, window, &used) == 0 && used == 0);
        CHECK(user_cpu_charge(&t, 1002, 1 * USEC, 761 * USEC, window) == 0);
        CHECK(t.n == 1 && t.users[0].uid == 1002);
        CHECK(user_cpu_charge(&t, 1000, 70 * USEC, 800 * USEC, window) == 0);
        CHECK(user_cpu_wait_usec(&t, 1000, 801 * USEC, budget, window, &used) == 599 * USEC);

        /* A clock that went back ends the window rather than holding the uid. */
        CHECK(user_cpu_wait_usec(&t, 1000, 10 * USEC, budget, window, &used) == 0);

        user_cpu_done(&t);
        return test_summary("user-cpu");
}
