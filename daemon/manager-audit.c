/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The queue of audits, whoever asked for them (a Check call, the sweep): when each gets one of the
 * worker threads, what uid's Checks cost against [Check] CPUPerUserSec=, and what happens to a
 * report when its audit ends. Check calls (manager-check.c) and the sweep (manager-sweep.c) put
 * audits in; this file calls neither of them back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bus-signals.h"
#include "log.h"
#include "macro.h"
#include "manager-audit.h"

/* Failures that say something about the process, not about us. */
#define IN_SET_AUDIT_ERROR_OF_PROCESS(r) \
        ((r) == -ESRCH || (r) == -ENOENT || (r) == -EACCES || (r) == -EPERM || (r) == -ECANCELED || (r) == -EBUSY || \
         (r) == -ENODATA || (r) == -ESTALE || (r) == -ETIMEDOUT)

void audit_free(Manager *m, Audit *a) {
        sd_bus_track_unref(a->track);
        for (size_t i = 0; i < a->n_calls; i++)
                sd_bus_message_unref(a->calls[i]);
        m->n_check_calls -= a->n_calls;
        free(a->calls);
        job_free(a->job);
        free(a);
}

void audit_unlink(Manager *m, Audit *a) {
        for (Audit **p = &m->audits; *p; p = &(*p)->next)
                if (*p == a) {
                        *p = a->next;
                        a->next = NULL;
                        return;
                }
}

static void audit_append(Manager *m, Audit *a) {
        Audit **p = &m->audits;

        while (*p)
                p = &(*p)->next;
        *p = a;
}

bool manager_pid_busy(Manager *m, pid_t pid) {
        for (Audit *a = m->audits; a; a = a->next)
                if (a->job->pid == pid)
                        return true;
        return false;
}

static bool pid_in_flight(Manager *m, pid_t pid) {
        for (Audit *a = m->audits; a; a = a->next)
                if (a->submitted && a->job->pid == pid)
                        return true;
        return false;
}

static size_t users_in_flight(Manager *m) {
        size_t n = 0;

        for (Audit *a = m->audits; a; a = a->next)
                n += a->submitted && a->user;
        return n;
}

uint64_t manager_user_cpu_wait(Manager *m, uid_t uid, uint64_t *ret_used_usec) {
        uint64_t used_usec;

        return user_cpu_wait_usec(&m->user_cpu, uid, now_usec(CLOCK_MONOTONIC), m->config.check_cpu_per_user_usec,
                                  m->config.check_cpu_window_usec, ret_used_usec ?: &used_usec);
}

int manager_user_cpu_refusal(Manager *m, uid_t uid, char **ret) {
        char used[64], budget[64], window[64], wait[64];
        uint64_t used_usec, wait_usec;

        wait_usec = manager_user_cpu_wait(m, uid, &used_usec);
        if (wait_usec == 0)
                return 0;
        if (asprintf(ret, "uid %u used %s of CPU time in its Check audits, and CPUPerUserSec=%s in [Check] allows "
                     "that much in each CPUWindowSec=%s; try again in %s", (unsigned) uid,
                     format_time_span(used, sizeof(used), used_usec, 1000),
                     format_time_span(budget, sizeof(budget), m->config.check_cpu_per_user_usec, 1000),
                     format_time_span(window, sizeof(window), m->config.check_cpu_window_usec, 1000),
                     format_time_span(wait, sizeof(wait), wait_usec + 999999, 1000000)) < 0)
                *ret = NULL;
        return -EDQUOT;
}

/* A Check audit that will not run: its callers hear why. */
static void audit_refuse(Manager *m, Audit *a, int r, char *why) {
        a->job->r = r;
        a->job->error = why;
        for (size_t i = 0; i < a->n_calls; i++)
                bus_reply_audit(a->calls[i], a->job);
        audit_unlink(m, a);
        audit_free(m, a);
}

/*
 * The rules that decide when an audit gets a thread: never while another
 * audit of its PID is in flight, and the Checks of callers that are not root
 * one at a time, whoever they are, so that root's Checks and the sweep
 * always find a thread of their own; a Check of a uid that used its CPU
 * time while it waited is refused. Oldest first otherwise.
 */
static void submit_ready(Manager *m) {
        size_t users = users_in_flight(m);

        for (Audit *a = m->audits, *next; a; a = next) {
                char *why = NULL;

                next = a->next;
                if (a->submitted || pid_in_flight(m, a->job->pid) || (a->user && users >= USER_AUDIT_THREADS))
                        continue;
                if (a->user && manager_user_cpu_refusal(m, a->uid, &why) < 0) {
                        audit_refuse(m, a, -EDQUOT, why);
                        continue;
                }
                a->submitted = true;
                users += a->user;
                worker_pool_submit(m->pool, a->job);
        }
}

void audit_queue(Manager *m, Audit *a) {
        audit_append(m, a);
        submit_ready(m);
}

Audit *audit_new(pid_t pid, int pidfd, unsigned audit_flags, unsigned report_flags, bool want_json) {
        Audit *a;

        a = calloc(1, sizeof(Audit));
        if (!a)
                goto fail;
        a->job = job_new(JOB_AUDIT);
        if (!a->job) {
                free(a);
                goto fail;
        }
        a->job->pid = pid;
        a->job->pidfd = pidfd;
        a->job->audit_flags = audit_flags;
        a->job->report_flags = report_flags;
        a->job->want_json = want_json;
        a->job->userdata = a;
        return a;

fail:
        if (pidfd >= 0)
                close(pidfd);
        return NULL;
}

void audit_ended(Manager *m, Audit *a) {
        Job *job = a->job;

        audit_unlink(m, a);
        if (!a->sweep)
                m->check_cpu_usec += job->cpu_usec;
        if (a->user && user_cpu_charge(&m->user_cpu, a->uid, job->cpu_usec, now_usec(CLOCK_MONOTONIC),
                                       m->config.check_cpu_window_usec) < 0)
                log_error_errno(ENOMEM, "Failed to count the CPU time of uid %u: %m", (unsigned) a->uid);
        submit_ready(m);

        /* a fast sweep audit that disagreed is redone in the full tier, which is the one recorded;
         * it did not fail */
        if (job->r >= 0 && !(a->sweep && (job->audit_flags & SMAPSAUDIT_AUDIT_FAST) && job->n_findings > 0))
                manager_record_audit(m, job, a->sweep);
        else if (job->r < 0 && !IN_SET_AUDIT_ERROR_OF_PROCESS(job->r) && !m->stopping)
                manager_error(m, DAEMON_ERROR_AUDIT, job->r, "Auditing process %d failed: %s%s%m", (int) job->pid,
                              job->error ?: "", job->error ? ": " : "");
        for (size_t i = 0; i < a->n_calls; i++)
                bus_reply_audit(a->calls[i], job);
}
