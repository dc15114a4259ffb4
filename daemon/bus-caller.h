/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Who is calling, as the bus says: never what the caller says of itself,
 * and nothing filled in from /proc (augmented), since a PID read there may
 * already belong to another process. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "access.h"

typedef struct Caller {
        uid_t euid;
        bool cap_sys_ptrace;
        sd_bus_creds *creds;
        gid_t *groups;
        size_t n_groups;
        CallerCreds as;            /* for the grant helper: valid when have_as */
        bool have_as;
} Caller;

int caller_get(sd_bus_message *message, Caller *ret);
void caller_done(Caller *c);
bool caller_may_audit_any(const Caller *c);
/* Frame numbers are for whoever the kernel would show them to in pagemap. */
bool caller_may_see_pfns(const Caller *c);
/* To a caller that is not root, a process it may not read and no process at all look alike:
 * whether a PID exists is what hidepid= keeps from it. */
int caller_not_readable(sd_bus_error *error, pid_t pid, const Caller *c);
/* For a caller that is not root: the grant is whatever its own opens of the process's files got.
 * 1 with the grant; otherwise the refusal, set in error and returned. */
int caller_check_access(pid_t pid, const Caller *c, Grant *grant, sd_bus_error *error);
