/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* --freeze: the target stopped with ptrace while it is read, so that what churn left undecided settles. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct sa_freeze;
/* pidfd: the audit's, checked before each seize and after each stop. -ETIMEDOUT: a thread did not
 * stop in time (*ret_stuck_tid), and every thread was let go. */
int sa_freeze(pid_t pid, int pidfd, struct sa_freeze **ret, pid_t *ret_stuck_tid);
void sa_thaw(struct sa_freeze *f);
bool sa_freeze_auto_allowed(pid_t pid);
