/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* check --comm/--unit: which processes of this machine a name stands for. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The PIDs, in increasing order, of the processes with an address space whose
 * name matches the extended regular expression comm (as pgrep(1) matches it)
 * and that belong to unit (their systemd unit, or user unit); either may be
 * NULL. This process is never one. Prints why it failed. */
int select_processes(const char *comm, const char *unit, pid_t **ret, size_t *ret_n);

/* The unit a process belongs to, as the library's reports name it (from its cgroup), or NULL.
 * malloc()ed. */
char *process_unit(pid_t pid);
/* Whether u names unit: "foo" is foo.service, as systemctl reads it. */
bool unit_name_matches(const char *u, const char *unit);
