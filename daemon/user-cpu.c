/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "user-cpu.h"

void user_cpu_done(UserCPUTable *t) {
        free(t->users);
        *t = (UserCPUTable) {};
}

static bool window_ended(const UserCPU *u, uint64_t now_usec, uint64_t window_usec) {
        /* a clock that went back ends the window rather than holding the uid for ever */
        return now_usec < u->window_start_usec || now_usec - u->window_start_usec >= window_usec;
}

static UserCPU *find(const UserCPUTable *t, uid_t uid) {
        for (size_t i = 0; i < t->n; i++)
                if (t->users[i].uid == uid)
                        return &t->users[i];
        return NULL;
}

int user_cpu_charge(UserCPUTable *t, uid_t uid, uint64_t cpu_usec, uint64_t now_usec, uint64_t window_usec) {
        size_t kept = 0;
        UserCPU *u;

        for (size_t i = 0; i < t->n; i++)
                if (!window_ended(&t->users[i], now_usec, window_usec))
                        t->users[kept++] = t->users[i];
        t->n = kept;

        u = find(t, uid);
        if (!u) {
                UserCPU *n = realloc(t->users, (t->n + 1) * sizeof(UserCPU));

                if (!n)
                        return -ENOMEM;
                t->users = n;
                u = &t->users[t->n++];
                *u = (UserCPU) { .uid = uid, .window_start_usec = now_usec };
        }
        u->used_usec += cpu_usec;
        return 0;
}

uint64_t user_cpu_wait_usec(const UserCPUTable *t, uid_t uid, uint64_t now_usec, uint64_t budget_usec,
                            uint64_t window_usec, uint64_t *ret_used_usec) {
        const UserCPU *u = find(t, uid);

        if (!u || window_ended(u, now_usec, window_usec)) {
                *ret_used_usec = 0;
                return 0;
        }
        *ret_used_usec = u->used_usec;
        if (u->used_usec < budget_usec)
                return 0;
        return u->window_start_usec + window_usec - now_usec;
}
