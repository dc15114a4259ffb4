/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A finding as the daemon publishes it: one JSON object (schema
 * smapsaudit.finding/1) that is both a history line and the last argument
 * of the Finding and Resolved signals, and its tags as a list of names. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "sweep.h"
#include "worker.h"

#define FINDING_TAGS_MAX 16

typedef struct FindingTags {
        char buf[256];
        const char *names[FINDING_TAGS_MAX + 1];  /* NULL-terminated */
} FindingTags;

void finding_tags(unsigned tags, FindingTags *ret);

typedef struct FindingContext {
        pid_t pid;
        uid_t uid;                 /* the process's owner, (uid_t) -1 when unknown */
        const char *comm;
        const char *unit;          /* the process's systemd unit, NULL when unknown */
        const char *kernel_release;
        uint64_t realtime_usec;
        const char *origin;        /* "sweep", "check" */
        const char *resolved;      /* NULL for a new finding; "gone" or "exited" when it ended */
} FindingContext;

/* *ret is malloc()ed, one line. explanation may be NULL. */
int finding_to_json(const FindingContext *c, const OpenFinding *f, const char *explanation, char **ret);
