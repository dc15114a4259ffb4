/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * smapsaudit probe: qualify a kernel. For each accounting bug of the catalogue (docs/kernel-bugs.md)
 * that a process can trigger on purpose, build its shape in a child process, audit the child with
 * libsmapsaudit, and say whether this kernel has the bug. Used by the CLI (`smapsaudit probe`); the
 * module relies on libsmapsaudit's public API only.
 */
#pragma once

#include <stdbool.h>
#include <stdio.h>

struct smapsaudit_ctx;
struct probe_result;

#define PROBE_SCHEMA "smapsaudit.probe/1"

enum probe_state {
        PROBE_ABSENT,
        PROBE_PRESENT,
        PROBE_NOT_TESTABLE,
        PROBE_ERROR,            /* the probe itself failed: exit status 2 */
        _PROBE_STATE_MAX,
};
const char *probe_state_to_string(enum probe_state s);

/* One entry of the catalogue. */
struct probe_bug {
        const char *id;           /* "thp-protnone": what --only and --report take */
        unsigned number;          /* the entry in docs/kernel-bugs.md */
        const char *title;
        bool bound;               /* a bound the audit respects, not a bug: never makes the exit status 1 */
        const char *introduced;
        const char *fixed;
        const char *affects;
        const char *measured;     /* what the qemu tests measured on Debian's kernels */
        const char *symptom;      /* one paragraph, for the report */
        const char *const *config; /* kernel config items that matter, NULL-terminated */
        const char *repro;        /* the standalone reproducer, relative to the repository */
        const char *message_id;   /* smapsauditd's journal entry when a probe finds it (systemd/smapsaudit.catalog);
                                   * NULL for a bound */
};

size_t probe_n_bugs(void);
const struct probe_bug *probe_bug_by_index(size_t i);
const struct probe_bug *probe_bug_by_id(const char *id);

enum probe_flags {
        PROBE_ALLOW_KNOBS = 1u << 0,  /* may switch THP, NUMA balancing and KSM on (always restored) */
};

/* Runs the bugs whose ids are in only (all when n_only is 0). Returns a negative errno only when
 * nothing could be run; each bug's trouble is in its outcome. */
int probe_run(struct smapsaudit_ctx *ctx, unsigned flags, const char *const *only, size_t n_only,
              struct probe_result **ret);
struct probe_result *probe_result_free(struct probe_result *r);

/* 0 no bug present, 1 a bug present, 2 a probe failed. */
int probe_result_exit_status(const struct probe_result *r);
/* JSON, schema smapsaudit.probe/1; *ret is malloc()ed. */
int probe_result_to_json(const struct probe_result *r, bool pretty, char **ret);
/* The JSON read back; bugs this catalogue does not have are left out. -EBADMSG: not such a document. */
int probe_result_from_json(const char *json, struct probe_result **ret);
const char *probe_result_release(const struct probe_result *r);
size_t probe_result_n(const struct probe_result *r);
const struct probe_bug *probe_result_bug(const struct probe_result *r, size_t i);
enum probe_state probe_result_state(const struct probe_result *r, size_t i);
/* The evidence in one line, or why the bug could not be tested; NULL when neither was said. */
const char *probe_result_summary(const struct probe_result *r, size_t i);
int probe_result_print_text(const struct probe_result *r, FILE *f);
/* The plain-text report for the mm list about one bug of this run. */
int probe_result_print_bug_report(const struct probe_result *r, const char *id, FILE *f);
