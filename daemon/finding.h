/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A finding as the daemon publishes it: one JSON object (schema
 * smapsaudit.finding/1) that is both a history line and the Finding
 * signal's last argument, and its tags as a list of names. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "worker.h"

#define FINDING_TAGS_MAX 16

typedef struct FindingTags {
        char buf[256];
        const char *names[FINDING_TAGS_MAX + 1];  /* NULL-terminated */
} FindingTags;

void finding_tags(unsigned tags, FindingTags *ret);

/* origin: "sweep" or "check". *ret is malloc()ed, one line. */
int finding_to_json(const Job *job, const JobFinding *f, uint64_t realtime_usec,
                    const char *kernel_release, const char *origin, char **ret);
