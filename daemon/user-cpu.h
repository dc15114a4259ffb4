/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The CPU time each uid other than root spends in its Check audits, held to
 * [Check] CPUPerUserSec= in each CPUWindowSec=: a uid's window starts with the
 * first audit charged after its last window ended. An audit's CPU is known
 * when it ends, so the audit that crosses the budget runs to its end (its
 * deadline bounds it) and the uid waits for its window to end.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct UserCPU {
        uid_t uid;
        uint64_t window_start_usec;  /* CLOCK_MONOTONIC */
        uint64_t used_usec;          /* in this window */
} UserCPU;

typedef struct UserCPUTable {
        UserCPU *users;              /* only uids whose window has not ended */
        size_t n;
} UserCPUTable;

void user_cpu_done(UserCPUTable *t);

/* Adds an audit's CPU to uid's window; windows that ended are forgotten. */
int user_cpu_charge(UserCPUTable *t, uid_t uid, uint64_t cpu_usec, uint64_t now_usec, uint64_t window_usec);

/* 0 when uid may start an audit now; otherwise how long until its window ends. *ret_used_usec is
 * what uid used in its window (0 without one). */
uint64_t user_cpu_wait_usec(const UserCPUTable *t, uid_t uid, uint64_t now_usec, uint64_t budget_usec,
                            uint64_t window_usec, uint64_t *ret_used_usec);
