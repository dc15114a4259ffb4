/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The CLI's D-Bus half: each verb that goes through smapsauditd is one call
 * here. No formatting: results come back as the daemon's JSON or as plain
 * values, and cli/smapsaudit.c prints them as it prints --local results.
 *
 * Every function returns a negative errno. bus_error_is_unreachable() tells
 * "no daemon to ask" (no system bus, bus refused us, nobody owns or can
 * activate org.smapsaudit.Auditor1) apart from an answer that says no.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* -ENOENT: no system bus socket; -ECONNREFUSED: nobody listens on it;
 * -EHOSTDOWN: the bus is up but nobody owns the name and it cannot be
 * activated. */
bool bus_error_is_unreachable(int r);

/* Where the system bus is: this machine's (both NULL), [USER@]HOST's over
 * ssh, or a local container's. Set once, before any other call. */
void bus_set_target(const char *host, const char *machine);

/* How far the daemon's audit got (its CheckProgress signals): pages_done of the
 * pages_total that pass `pass` walks. */
typedef int (*bus_progress_fn)(void *userdata, pid_t pid, unsigned pass, uint64_t pages_done,
                               uint64_t pages_total);

/* Check's options, as the daemon's a{sv} names them; 0 and false are the
 * daemon's defaults and are not sent. progress, when set, hears how far the
 * audit got while the call waits. */
typedef struct BusCheckOptions {
        bool freeze;
        bool no_scan;
        bool fast;
        unsigned passes;
        bus_progress_fn progress;
        void *progress_userdata;
} BusCheckOptions;

/* *ret_json: the daemon's report (schema smapsaudit.report/1). On failure
 * *ret_error_message, when not NULL, gets the daemon's reason (e.g. why
 * access was denied): -EACCES denied, -ESRCH no such process, -EBUSY the
 * daemon is busy or the process could not be frozen, -EINVAL an option the
 * daemon does not know. Both are malloc()ed. */
int bus_check(pid_t pid, const BusCheckOptions *o, char **ret_json, char **ret_error_message);

typedef struct BusStatus {
        char *version;
        char *kernel_release;
        char *status_text;
        uint64_t last_sweep_usec;      /* CLOCK_REALTIME, 0: no sweep yet */
        uint64_t sweep_processes_audited;
        uint64_t sweep_findings;
        uint64_t sweep_usec;           /* wall-clock time of the last sweep */
        uint64_t sweep_cpu_usec;       /* CPU time its audits used */
        uint64_t sweep_interval_usec;
        bool sweep_covered;
} BusStatus;

int bus_status(BusStatus *ret);
void bus_status_done(BusStatus *s);

/* A JSON array of finding objects (schema smapsaudit.finding/1) recorded at
 * or after since_usec (CLOCK_REALTIME; 0 for all). */
int bus_findings(uint64_t since_usec, char **ret_json);
int bus_sweep(void);
int bus_ksm_status(char **ret_json);
/* The daemon's probe of the running kernel (schema smapsaudit.probe/1); -ENODATA when it has none,
 * *ret_error_message saying why (ProbeOnBoot=no, still running, failed). */
int bus_probe(char **ret_json, char **ret_error_message);

/* Calls cb with each Finding signal's JSON as it arrives, until cb returns
 * non-zero (negative: that error) or a signal interrupts the wait (0).
 * Finding signals are delivered to root only (the bus policy). */
int bus_watch(int (*cb)(void *userdata, const char *json), void *userdata);
