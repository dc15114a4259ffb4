/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Structured journal entries: one per finding, per resolved finding, per
 * regression, per change of the KSM invariants, per kernel bug the probe
 * found (each bug with a MESSAGE_ID of its own) and per daemon error, each
 * kind with its own MESSAGE_ID (systemd/smapsaudit.catalog explains them to
 * journalctl -x) and the finding's facts as fields, so that
 *   journalctl MESSAGE_ID=7ddd7618abbe4d7a918fd3e2dd9de5fb -o json
 * is a list of under-accounting bugs. Without journald (no socket) the
 * message goes to stderr as a plain line instead.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "log.h"
#include "sweep.h"

#define MESSAGE_ID_UNDER_ACCOUNTED "7ddd7618abbe4d7a918fd3e2dd9de5fb"
#define MESSAGE_ID_OVER_ACCOUNTED  "8909d48bf37545a2bed3837ab4232a3b"
#define MESSAGE_ID_RESOLVED        "0a43ff4ce5cb43968fee579dd35bb27e"
#define MESSAGE_ID_REGRESSION      "df96abcee88d4e4f8ff9167138373133"
#define MESSAGE_ID_KSM_INVARIANT   "ea3588fcf29842c09a90bf20328ea65d"
#define MESSAGE_ID_DAEMON_ERROR    "b701dac6f0b645f7825e3ea7841d5fb0"

/* Whose finding, on which kernel. */
typedef struct JournalProcess {
        pid_t pid;
        const char *comm;
        const char *kernel_release;
        /* Its systemd unit, or its cgroup path ("/...") where it has none; NULL or "" unknown. */
        const char *unit;
        /* pid is a live process of this machine: OBJECT_PID=, from which journald adds
         * OBJECT_SYSTEMD_UNIT= and the rest itself. Otherwise (it exited, or it is in a replayed
         * capture, whose PID names no process here) the unit or cgroup is sent as
         * OBJECT_SYSTEMD_UNIT= or OBJECT_SYSTEMD_CGROUP=. Either way journalctl -u UNIT finds it. */
        bool object_pid;
} JournalProcess;

/* origin: "sweep" or "check". */
int journal_finding(const JournalProcess *p, const OpenFinding *f, const char *origin);
/* reason: "gone" (a later audit no longer has it) or "exited". */
int journal_resolved(const JournalProcess *p, const OpenFinding *f, const char *reason);
/* f is the first finding of the new signature; p->kernel_release the new release. */
int journal_regression(const JournalProcess *p, const OpenFinding *f, const char *previous_release,
                       const char *signature);
/* status: "broken", "holds" (after "broken"), ... ; first names the first
 * violated invariant, or NULL. */
int journal_ksm(const char *status, const char *previous_status, const char *kernel_release,
                const char *first);
/* The probe found a catalogued kernel bug: message_id is the bug's own (probe/catalog.c), evidence
 * the probe's one line, NULL if it said none. */
int journal_kernel_bug(const char *message_id, const char *bug, const char *title, const char *release,
                       const char *evidence, const char *fixed_by);
/* what: the part that failed ("history", "baseline", "textfile", ...). */
int journal_error(const char *what, int error, const char *format, ...) _printf_(3, 4);
