/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A finding as the daemon keeps and publishes it, and what makes two
 * findings the same. Identity comes at three grains, all defined here:
 *
 *   finding_key()       this finding of this process: kind, field, source and
 *                       VMA. An audit that has the key again repeats the
 *                       finding (not announced again); a conclusive one
 *                       without it resolves it.
 *   finding_class()     this kind of finding anywhere: kind, field, source and
 *                       tags, the labels the metrics group findings by.
 *   finding_signature() the class without its source, "kind/field/tags", by
 *                       which a kernel release's baseline knows findings and a
 *                       regression is named (baseline.json, the journal's
 *                       SIGNATURE=, the Regression signal).
 *
 * finding_to_json() writes one finding as the smapsaudit.finding/1 object
 * that is both a history line and the last argument of the Finding and
 * Resolved signals.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "smapsaudit.h"

/* A finding that the last conclusive audit of a process had: kept so that
 * repeats are not announced, its end is ("resolved"), and the metrics can
 * count what is open now. */
typedef struct OpenFinding {
        uint64_t key;             /* finding_key() */
        enum smapsaudit_verdict kind;
        char field[32];           /* the kernel's smaps keys are shorter */
        char source[16];
        uint64_t vma_start, vma_end;
        int64_t kernel_kb, walk_kb, delta_kb;
        unsigned tags;
        bool logged;              /* it made a journal entry, so its end makes one too */
        bool swept;               /* a sweep's audit had it */
        bool confirmed;           /* a later sweep had it too: counted in the baseline */
} OpenFinding;

/* A finding as an audit reported it: as the daemon keeps it, and the library's explanation. */
typedef struct JobFinding {
        OpenFinding f;
        char *explanation;
} JobFinding;

uint64_t finding_key(enum smapsaudit_verdict kind, const char *field, const char *source,
                     uint64_t vma_start, uint64_t vma_end);

typedef struct FindingClass {
        enum smapsaudit_verdict kind;
        char field[32];
        char source[16];
        char tags[128];           /* "prot_none,thp", or "none" */
} FindingClass;

void finding_class(const OpenFinding *f, FindingClass *ret);
bool finding_class_equal(const FindingClass *a, const FindingClass *b);

/* "kind/field/tags", with "none" for no tags. */
void finding_signature(enum smapsaudit_verdict kind, const char *field, unsigned tags, char *buf, size_t size);

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
        const char *unit;          /* its unit, or its cgroup path ("/..."); NULL or "" unknown */
        const char *kernel_release;
        uint64_t realtime_usec;
        const char *origin;        /* "sweep", "check" */
        const char *resolved;      /* NULL for a new finding; "gone" or "exited" when it ended */
} FindingContext;

/* *ret is malloc()ed, one line. explanation may be NULL. */
int finding_to_json(const FindingContext *c, const OpenFinding *f, const char *explanation, char **ret);
