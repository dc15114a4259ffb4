/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The audits that wait for a thread or run in one, Check's and the sweep's alike, and the rules
 * that hand out the threads: manager-audit.c. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "manager.h"

/* One audit of one PID, and everyone who waits for it. */
struct Audit {
        Audit *next;
        Manager *manager;
        Job *job;
        bool submitted;           /* false: another audit of this PID runs first, or the users' thread is taken */
        bool sweep;
        bool user;                /* a Check of a caller that is not root: uid's, with its grant */
        uid_t uid;
        sd_bus_message **calls;   /* Check calls answered by this audit's report */
        size_t n_calls;
        uint64_t progress_sent;   /* pages done, as the last CheckProgress said */
        unsigned pass_sent;
        sd_bus_track *track;      /* their senders: when all have left the bus, the audit is cancelled */
};

/* It takes pidfd, and closes it when out of memory. */
Audit *audit_new(pid_t pid, int pidfd, unsigned audit_flags, unsigned report_flags, bool want_json);
void audit_free(Manager *m, Audit *a);
void audit_unlink(Manager *m, Audit *a);
/* Last in the queue; it gets a thread as soon as the rules allow, maybe at once. */
void audit_queue(Manager *m, Audit *a);
/* Its job came back from a thread: the audits that waited for that thread or its PID get one, and
 * the report is recorded and answers the audit's callers. The caller frees a. */
void audit_ended(Manager *m, Audit *a);

/* An audit of pid waits or runs. */
bool manager_pid_busy(Manager *m, pid_t pid);
/* How long uid's Checks must wait until the CPU time of its audits in this window allows another,
 * 0: none; *ret_used_usec, if not NULL, what they used. */
uint64_t manager_user_cpu_wait(Manager *m, uid_t uid, uint64_t *ret_used_usec);
