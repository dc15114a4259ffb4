/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Whether a caller that is not root may audit a process is the kernel's to
 * say: a helper process with the caller's uid, gids and no capabilities opens
 * the process's files (smaps and pagemap are PTRACE_MODE_READ_FSCREDS) and
 * hands the fds back. The audit reads only through those: each stays bound
 * to the address space it was opened on, so what the grant covered is what
 * is audited, and an exec ends the audit instead of extending the grant.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "smapsaudit.h"

typedef struct CallerCreds {
        uid_t uid;
        gid_t gid;
        const gid_t *groups;    /* supplementary */
        size_t n_groups;
} CallerCreds;

typedef enum GrantFile {
        GRANT_SMAPS,
        GRANT_SMAPS_ROLLUP,
        GRANT_NUMA_MAPS,
        GRANT_PAGEMAP,
        GRANT_KSM_STAT,
        GRANT_KSM_MERGING_PAGES,
        _GRANT_FILE_MAX,
} GrantFile;

typedef struct Grant {
        int fds[_GRANT_FILE_MAX];     /* -1: the caller could not open it (or it does not exist) */
} Grant;

#define GRANT_NULL ((Grant) { .fds = { -1, -1, -1, -1, -1, -1 } })

/* Opens pid's files as the caller would. 0 with smaps and pagemap open, -EACCES or -EPERM when
 * the kernel refused them, -ESRCH when there is no such process. */
int grant_open(pid_t pid, const CallerCreds *c, Grant *ret);
bool grant_is_set(const Grant *g);

/* The most PIDs one probe answers for: one message of bools. */
#define GRANT_PROBE_MAX 4096u
/* Whether the caller could open each process's smaps now (the same rule as grant_open);
 * ret_readable all false when it cannot be said. */
int grant_probe(const pid_t *pids, size_t n, const CallerCreds *c, bool *ret_readable);
/* Hands the fds to ctx (smapsaudit_ctx_bind_pid_file), for auditing pid. */
int grant_bind(const Grant *g, struct smapsaudit_ctx *ctx, pid_t pid);
void grant_done(Grant *g);
