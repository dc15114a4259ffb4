/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Check calls: each becomes an audit in manager-audit.c's queue, or rides on one of the same PID
 * and options that has not ended (its report is as fresh), within the limits on waiting calls;
 * their callers hear how far it got, and an audit whose callers all left the bus is cancelled.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "bus-signals.h"
#include "log.h"
#include "manager-audit.h"

static int audit_add_call(Manager *m, Audit *a, sd_bus_message *call) {
        sd_bus_message **calls;

        calls = realloc(a->calls, (a->n_calls + 1) * sizeof(sd_bus_message *));
        if (!calls)
                return -ENOMEM;
        a->calls = calls;
        a->calls[a->n_calls++] = sd_bus_message_ref(call);
        m->n_check_calls++;
        return sd_bus_track_add_sender(a->track, call);
}

/* Every caller of an audit has left the bus: nobody waits for its report. */
static int on_callers_gone(sd_bus_track *track, void *userdata) {
        Audit *a = userdata;
        Manager *m = a->manager;

        log_info("Cancelled the audit of process %d: its caller%s left the bus.", (int) a->job->pid,
                 a->n_calls > 1 ? "s" : "");
        if (a->submitted) {
                /* the thread stops at its next progress callback and hands the job back */
                atomic_store(&a->job->cancelled, true);
                return 0;
        }
        audit_unlink(m, a);
        audit_free(m, a);
        return 0;
}

/*
 * A Check of a large process takes up to minutes: its callers hear how far it got, from the
 * library's progress that the worker thread leaves in the job, twice a second while it changes.
 */
static void progress_timer_arm(Manager *m) {
        int enabled;

        if (!m->progress_timer || (sd_event_source_get_enabled(m->progress_timer, &enabled) >= 0 &&
                                   enabled != SD_EVENT_OFF))
                return;
        (void) sd_event_source_set_time_relative(m->progress_timer, CHECK_PROGRESS_USEC);
        (void) sd_event_source_set_enabled(m->progress_timer, SD_EVENT_ONESHOT);
}

static int on_progress_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        bool waiting = false;

        for (Audit *a = m->audits; a; a = a->next) {
                uint64_t done = atomic_load(&a->job->progress_done), total = atomic_load(&a->job->progress_total);
                unsigned pass = atomic_load(&a->job->progress_pass);

                if (a->n_calls == 0)
                        continue;
                waiting = true;
                if (!a->submitted || total == 0 || (done == a->progress_sent && pass == a->pass_sent))
                        continue;
                for (size_t i = 0; i < a->n_calls; i++)
                        bus_emit_check_progress(m->bus, a->calls[i], a->job->pid, pass, done, total);
                a->progress_sent = done;
                a->pass_sent = pass;
        }
        if (waiting)
                progress_timer_arm(m);
        return 0;
}

static size_t user_calls(Manager *m, uid_t uid) {
        size_t n = 0;

        for (Audit *a = m->audits; a; a = a->next)
                if (a->user && a->uid == uid)
                        n += a->n_calls;
        return n;
}

int manager_check(Manager *m, sd_bus_message *call, pid_t pid, int pidfd, Grant *grant, uid_t uid,
                  unsigned audit_flags, unsigned max_passes, unsigned report_flags) {
        bool user = grant_is_set(grant);
        int r = 0;
        Audit *a;

        if (m->n_check_calls >= CHECK_CALLS_MAX)
                r = -EBUSY;
        else if (user && user_calls(m, uid) >= m->config.checks_per_user)
                r = -EUSERS;
        else if (user && manager_user_cpu_wait(m, uid, NULL) > 0)
                r = -EDQUOT;
        if (r < 0) {
                if (pidfd >= 0)
                        close(pidfd);
                grant_done(grant);
                return r;
        }

        /* An audit of the same PID with the same options that has not
         * finished yet answers this call too: its report is as fresh. A
         * caller's grant is its own: its audit answers no one else, and it
         * never rides on an audit that reads beyond what it was granted. */
        for (a = m->audits; a && !user; a = a->next)
                if (a->job->pid == pid && !a->sweep && !a->user && a->job->audit_flags == audit_flags &&
                    a->job->max_passes == max_passes && a->job->report_flags == report_flags) {
                        if (pidfd >= 0)
                                close(pidfd);
                        progress_timer_arm(m);
                        return audit_add_call(m, a, call);
                }

        a = audit_new(pid, pidfd, audit_flags, report_flags, true);
        if (!a) {
                grant_done(grant);
                return -ENOMEM;
        }
        a->job->max_passes = max_passes;
        a->user = user;
        a->uid = uid;
        a->job->grant = *grant;
        *grant = GRANT_NULL;
        a->manager = m;
        if (user)
                a->job->deadline_span_usec = m->config.check_deadline_usec;
        r = sd_bus_track_new(m->bus, &a->track, on_callers_gone, a);
        if (r >= 0)
                r = audit_add_call(m, a, call);
        if (r < 0) {
                audit_free(m, a);
                return r;
        }
        audit_queue(m, a);
        progress_timer_arm(m);
        return 0;
}

int manager_check_start(Manager *m) {
        int r;

        r = sd_event_add_time(m->event, &m->progress_timer, CLOCK_MONOTONIC, UINT64_MAX, 0, on_progress_timer, m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the progress timer: %m");
        (void) sd_event_source_set_description(m->progress_timer, "check-progress");
        (void) sd_event_source_set_enabled(m->progress_timer, SD_EVENT_OFF);
        return 0;
}
