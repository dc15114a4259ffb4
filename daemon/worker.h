/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The audit threads. Audits take seconds, so they never run on the event
 * loop: a job goes to a thread, the thread runs the library with its own
 * context, copies out what the loop needs as plain data, and hands the job
 * back through an eventfd that sd-event watches. Library objects never
 * leave the thread that made them, and sd-bus is only touched by the loop.
 */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "access.h"
#include "smapsaudit.h"
#include "sweep.h"

/* The largest JSON a reply carries: dbus-daemon disconnects a sender whose message is too large,
 * which would take the daemon off the bus for everyone. */
#define BUS_REPLY_MAX (16u << 20)

typedef enum JobType {
        JOB_LIST_PROCESSES,
        JOB_AUDIT,
        JOB_KSM,                /* KSM's global invariants: r is the verdict, json the library's answer */
} JobType;

typedef struct Job {
        struct Job *next;
        JobType type;

        /* In (JOB_AUDIT). */
        pid_t pid;
        int pidfd;              /* -1 when the PID names captured files, not a live process */
        Grant grant;            /* a caller's own opens, the only way the audit reads the process; unset for root */
        uint64_t deadline_span_usec;  /* how long the audit may run, 0: no deadline */
        atomic_bool cancelled;  /* its callers left the bus: stop at the next progress callback */
        unsigned audit_flags;   /* enum smapsaudit_audit_flags */
        unsigned max_passes;    /* 0: the library's default */
        unsigned report_flags;  /* enum smapsaudit_report_flags, for json */
        bool want_json;
        void *userdata;         /* the submitter's */

        /* Out. */
        int r;
        char *error;            /* why a report ended early, or NULL */
        char *json;             /* JOB_AUDIT with want_json, JOB_KSM */
        char comm[64];
        char unit[256];         /* UNIT_LABEL: its systemd unit, or its cgroup path where it has none */
        uid_t owner_uid;        /* of the audited process, (uid_t) -1 when unknown */
        unsigned tags;
        enum smapsaudit_verdict verdict;
        uint64_t cpu_usec;
        JobFinding *findings;
        size_t n_findings;
        struct smapsaudit_proc *procs;  /* JOB_LIST_PROCESSES */
        size_t n_procs;

        /* JOB_AUDIT while it runs: the library's last progress report, written by the
         * thread, read by the loop for CheckProgress. */
        _Atomic uint64_t progress_done, progress_total;
        _Atomic unsigned progress_pass;
} Job;

Job *job_new(JobType type);
Job *job_free(Job *job);

/* Called on the event loop with each finished job; it owns the job then. */
typedef void (*job_done_fn)(Job *job, void *userdata);

typedef struct WorkerPool WorkerPool;

int worker_pool_new(sd_event *event, unsigned n_threads, const char *proc_root, const char *sys_root,
                    job_done_fn done, void *userdata, WorkerPool **ret);
/* Cancels running audits, joins the threads, and hands every unfinished
 * job to done with r = -ECANCELED, so that callers waiting get an answer. */
WorkerPool *worker_pool_free(WorkerPool *p);
void worker_pool_submit(WorkerPool *p, Job *job);
