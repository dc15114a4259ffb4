/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "conf-files.h"
#include "finding.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "bus-signals.h"
#include "strv.h"

/* Failures that say something about the process, not about us. */
#define IN_SET_AUDIT_ERROR_OF_PROCESS(r) \
        ((r) == -ESRCH || (r) == -ENOENT || (r) == -EACCES || (r) == -EPERM || (r) == -ECANCELED || (r) == -EBUSY || \
         (r) == -ENODATA || (r) == -ESTALE || (r) == -ETIMEDOUT)

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

static void set_status(Manager *m, const char *format, ...) _printf_(2, 3);
static void set_status(Manager *m, const char *format, ...) {
        char *s;
        va_list ap;
        int r;

        va_start(ap, format);
        r = vasprintf(&s, format, ap);
        va_end(ap);
        if (r < 0)
                return;

        free(m->status_text);
        m->status_text = s;
        (void) sd_notifyf(false, "STATUS=%s", s);
}

static void audit_free(Manager *m, Audit *a) {
        sd_bus_track_unref(a->track);
        for (size_t i = 0; i < a->n_calls; i++)
                sd_bus_message_unref(a->calls[i]);
        m->n_check_calls -= a->n_calls;
        free(a->calls);
        job_free(a->job);
        free(a);
}

static void audit_unlink(Manager *m, Audit *a) {
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

static bool pid_busy(Manager *m, pid_t pid) {
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

static uint64_t user_cpu_wait(Manager *m, uid_t uid, uint64_t *ret_used_usec) {
        uint64_t used_usec;

        return user_cpu_wait_usec(&m->user_cpu, uid, now_usec(CLOCK_MONOTONIC), m->config.check_cpu_per_user_usec,
                                  m->config.check_cpu_window_usec, ret_used_usec ?: &used_usec);
}

int manager_user_cpu_refusal(Manager *m, uid_t uid, char **ret) {
        char used[64], budget[64], window[64], wait[64];
        uint64_t used_usec, wait_usec;

        wait_usec = user_cpu_wait(m, uid, &used_usec);
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

static void audit_queue(Manager *m, Audit *a) {
        audit_append(m, a);
        submit_ready(m);
}

static Audit *audit_new(pid_t pid, int pidfd, unsigned audit_flags, unsigned report_flags, bool want_json) {
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
        else if (user && user_cpu_wait(m, uid, NULL) > 0)
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

/* Captured files do not change by themselves: a daemon that replays them sweeps when asked (Sweep),
 * not on a timer. */
static void sweep_schedule(Manager *m) {
        uint64_t next;
        int r;

        if (!m->live)
                return;
        next = m->last_started_usec == 0 ? now_usec(CLOCK_MONOTONIC)
                                         : m->last_started_usec + m->config.interval_usec;
        r = sd_event_source_set_time(m->sweep_timer, next);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->sweep_timer, SD_EVENT_ONESHOT);
        if (r < 0)
                log_error_errno(r, "Failed to schedule the next sweep: %m");
}

/* The daemon's CPU time less what Check calls took: what sweep budgets are held to. A Check's CPU
 * is counted when it ends, so the difference of two readings is held at 0 from below. */
static uint64_t sweep_cpu_usec(Manager *m) {
        uint64_t cpu = now_usec(CLOCK_PROCESS_CPUTIME_ID);

        return cpu > m->check_cpu_usec ? cpu - m->check_cpu_usec : 0;
}

static uint64_t sweep_cpu_since(Manager *m, uint64_t since) {
        uint64_t cpu = sweep_cpu_usec(m);

        return cpu > since ? cpu - since : 0;
}

static void sweep_finish(Manager *m) {
        char interval[64], cpu[64], budget[64], wall[64];
        SweepRun *s = &m->sweep;

        s->used_usec = sweep_cpu_since(m, s->cpu_start_usec);
        m->last_sweep_usec = now_usec(CLOCK_REALTIME);
        m->sweep_processes_audited = s->audited;
        m->sweep_findings = s->findings;
        m->sweep_usec = now_usec(CLOCK_MONOTONIC) - s->started_usec;
        m->sweep_cpu_usec = s->used_usec;
        m->sweep_covered = s->fresh_round && !s->stopped_by;
        m->round_done = !s->stopped_by;

        format_time_span(interval, sizeof(interval), m->config.interval_usec, 1000);
        format_time_span(cpu, sizeof(cpu), s->used_usec, 1000);
        format_time_span(budget, sizeof(budget), s->allowance_usec, 1000);
        format_time_span(wall, sizeof(wall), m->sweep_usec, 1000);

        if (m->sweep_covered)
                set_status(m, "Sweep covered all %zu processes (%" PRIu64 " audited, %" PRIu64 " skipped: exited, "
                           "unreadable or audited for a Check) in %s, CPU %s of %s budget, %" PRIu64 " findings; interval %s.",
                           s->n_listed, s->audited, s->skipped, wall, cpu, budget, s->findings, interval);
        else if (s->stopped_by)
                set_status(m, "Sweep did not cover all processes: %" PRIu64 " of %zu audited in %s, stopped by %s "
                           "at CPU %s of %s budget, %" PRIu64 " findings; the next sweep continues; interval %s.",
                           s->audited, s->n_listed, wall, s->stopped_by, cpu, budget, s->findings, interval);
        else
                set_status(m, "Sweep finished a round that earlier sweeps began, so not all processes in one "
                           "sweep: %" PRIu64 " audited in %s, CPU %s of %s budget, %" PRIu64 " findings; "
                           "interval %s.", s->audited, wall, cpu, budget, s->findings, interval);
        log_info("%s", m->status_text);

        free(s->plan);
        m->sweep = (SweepRun) {};
        bus_emit_sweep_changed(m->bus);
        manager_save_baseline(m);
        manager_metrics_update(m);
        manager_ksm_check(m);
        sweep_schedule(m);
}

static void sweep_next(Manager *m) {
        SweepRun *s = &m->sweep;

        while (s->next < s->n_plan) {
                pid_t pid = s->plan[s->next];
                const ProcState *st;
                int pidfd = -1;
                Audit *a;

                /* the daemon's CPU counts, listing and bookkeeping too, but not Check calls: one user's
                 * Checks must not silence the sweeps */
                s->used_usec = sweep_cpu_since(m, s->cpu_start_usec);
                if (s->used_usec >= s->allowance_usec) {
                        s->stopped_by = "the CPU budget (CPUBudgetPercent=)";
                        break;
                }
                if (m->config.max_processes_per_sweep > 0 && s->audited >= m->config.max_processes_per_sweep) {
                        s->stopped_by = "MaxProcessesPerSweep=";
                        break;
                }
                s->next++;

                /* Being audited for a Check already: that audit counts for the round.
                 * And not ourselves: our memory changes under our own audit. */
                if (pid_busy(m, pid) || (m->live && pid == getpid())) {
                        s->skipped++;
                        continue;
                }

                if (m->live) {
                        pidfd = pidfd_open(pid, 0);
                        if (pidfd < 0) {
                                if (errno != ESRCH)
                                        log_warning_errno(errno, "Failed to open process %d: %m", (int) pid);
                                s->skipped++;
                                continue;
                        }
                }

                /*
                 * The fast tier first; a discrepancy earns the full tier (sweep_on_audited).
                 * A process with open findings gets the full tier straight away: only it
                 * can tell that a finding on Pss or KSM has gone.
                 */
                st = proc_table_get(&m->procs, pid);
                a = audit_new(pid, pidfd, m->config.full_tier || (st && st->n_findings) ? 0 : SMAPSAUDIT_AUDIT_FAST,
                              SMAPSAUDIT_REPORT_NO_PFNS, false);
                if (!a) {
                        log_error_errno(ENOMEM, "Failed to start an audit: %m");
                        s->stopped_by = "lack of memory";
                        break;
                }
                a->sweep = true;
                audit_queue(m, a);
                return;
        }

        if (s->next >= s->n_plan || s->stopped_by)
                sweep_finish(m);
}

static void sweep_on_listed(Manager *m, Job *job) {
        SweepRun *s = &m->sweep;
        int r;

        if (m->stopping)
                return;
        if (job->r < 0) {
                log_error_errno(job->r, "Failed to list processes: %m");
                s->stopped_by = "an error listing processes";
                sweep_finish(m);
                return;
        }

        /* Replaying captured files (not live), a PID only Check has seen names files, not a process
         * the list could hold: it stays. */
        r = proc_table_sync(&m->procs, job->procs, job->n_procs, !m->live, manager_on_process_gone, m);
        if (r >= 0)
                r = sweep_plan(&m->procs, job->procs, job->n_procs, m->round, &s->plan, &s->n_plan);
        if (r >= 0 && s->n_plan == 0) {
                /* Everyone was audited in this round: start the next. */
                free(s->plan);
                s->plan = NULL;
                m->round++;
                r = sweep_plan(&m->procs, job->procs, job->n_procs, m->round, &s->plan, &s->n_plan);
        }
        if (r < 0) {
                log_error_errno(r, "Failed to plan the sweep: %m");
                s->stopped_by = "lack of memory";
                sweep_finish(m);
                return;
        }

        s->n_listed = job->n_procs;
        s->fresh_round = s->n_plan == job->n_procs;
        set_status(m, "Sweeping %zu of %zu processes.", s->n_plan, s->n_listed);
        sweep_next(m);
}

/*
 * The fast tier found a discrepancy: audit the process again in the full
 * tier, which recomputes every field and names every VMA; both tiers give
 * the same verdict on the same state, the full one says more.
 */
static int sweep_escalate(Manager *m, pid_t pid) {
        int pidfd = -1;
        Audit *a;

        if (m->live) {
                pidfd = pidfd_open(pid, 0);
                if (pidfd < 0)
                        return -errno;
        }
        a = audit_new(pid, pidfd, 0, SMAPSAUDIT_REPORT_NO_PFNS, false);
        if (!a) {
                if (pidfd >= 0)
                        close(pidfd);
                return -ENOMEM;
        }
        a->sweep = true;
        audit_queue(m, a);
        return 0;
}

static void sweep_on_audited(Manager *m, const Job *job) {
        SweepRun *s = &m->sweep;

        if (m->stopping)
                return;
        if (job->r >= 0 && job->n_findings > 0 && (job->audit_flags & SMAPSAUDIT_AUDIT_FAST) &&
            sweep_escalate(m, job->pid) >= 0)
                return;
        if (job->r >= 0) {
                s->audited++;
                s->findings += job->n_findings;
        } else {
                s->skipped++;
                if (job->r != -ESRCH)
                        log_debug_errno(job->r, "Sweep: could not audit process %d: %m", (int) job->pid);
        }
        sweep_next(m);
}

int manager_sweep_now(Manager *m) {
        uint64_t budget_usec, cpu;
        Job *job;

        if (m->sweep.running)
                return 1;
        if (probe_boot_running(&m->probe)) {
                m->probe.sweep_waiting = true;
                set_status(m, "Probing kernel %s; the sweep starts when the probe ends.", m->probe.release);
                return 1;
        }

        job = job_new(JOB_LIST_PROCESSES);
        if (!job)
                return -ENOMEM;

        budget_usec = sweep_budget_usec(m->config.interval_usec, m->config.cpu_budget_percent);
        /*
         * What the daemon spent since the last sweep started (that sweep, the
         * KSM check after it, metrics; not Check calls) is what the budget of
         * an interval is held to: more than the budget is owed by this sweep.
         */
        cpu = sweep_cpu_usec(m);
        if (m->cycle_cpu_usec)
                m->debt_usec = sweep_debt_usec(budget_usec, m->debt_usec, sweep_cpu_since(m, m->cycle_cpu_usec));
        m->cycle_cpu_usec = cpu;
        m->sweep = (SweepRun) {
                .running = true,
                .started_usec = now_usec(CLOCK_MONOTONIC),
                .cpu_start_usec = cpu,
                .allowance_usec = sweep_allowance_usec(budget_usec, m->debt_usec),
        };
        m->last_started_usec = m->sweep.started_usec;
        /* Only a round that a sweep stopped short of goes on; after one that was gone through,
         * processes that started since are in the next round with everyone else. */
        if (m->round_done) {
                m->round++;
                m->round_done = false;
        }
        (void) sd_event_source_set_enabled(m->sweep_timer, SD_EVENT_OFF);
        set_status(m, "Listing processes.");
        worker_pool_submit(m->pool, job);
        return 1;
}

static int on_sweep_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        int r;

        r = manager_sweep_now(m);
        if (r < 0)
                log_error_errno(r, "Failed to start a sweep: %m");
        return 0;
}

static void on_job_done(Job *job, void *userdata) {
        Manager *m = userdata;
        Audit *a;

        if (job->type == JOB_LIST_PROCESSES) {
                sweep_on_listed(m, job);
                job_free(job);
                return;
        }
        if (job->type == JOB_KSM) {
                manager_ksm_done(m, job);
                job_free(job);
                return;
        }

        a = job->userdata;
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
        if (a->sweep)
                sweep_on_audited(m, job);

        audit_free(m, a);
}

int manager_reload(Manager *m) {
        _cleanup_(strv_freep) char **dropins = NULL;
        _cleanup_free_ char *dropins_text = NULL;
        char interval[64];
        Config c;
        int r;

        r = config_load(m->config_path, &c, &dropins);
        if (r < 0)
                return r;
        config_done(&m->config);
        m->config = c;
        m->journal_limit.interval_usec = m->error_limit.interval_usec = c.journal_rate_interval_usec;
        m->journal_limit.burst = c.journal_rate_burst;
        m->error_limit.burst = c.journal_rate_burst > 0 ? MAX(c.journal_rate_burst / 10, 1u) : 0;

        format_time_span(interval, sizeof(interval), m->config.interval_usec, 0);
        dropins_text = strv_join(dropins, " ");
        log_info("Configuration loaded from %s%s%s: Interval=%s CPUBudgetPercent=%g MaxProcessesPerSweep=%u.",
                 m->config_path, dropins[0] ? " and " : "", dropins_text ?: "", interval,
                 m->config.cpu_budget_percent, m->config.max_processes_per_sweep);

        if (!m->sweep.running) {
                set_status(m, "Idle; interval %s, CPU budget %g%% of one core.",
                           interval, m->config.cpu_budget_percent);
                if (m->sweep_timer)
                        sweep_schedule(m);
        }
        if (m->bus)
                bus_emit_sweep_changed(m->bus);
        manager_metrics_reconfigure(m);
        return 0;
}

static char *state_dir_from_env(void) {
        const char *e = getenv("STATE_DIRECTORY");

        /* systemd passes a colon-separated list; ours is the first. */
        if (e && *e)
                return strndup(e, strcspn(e, ":"));
        return strdup(STATE_DIRECTORY_DEFAULT);
}

int manager_new(const ManagerOptions *o, Manager **ret) {
        Manager *m;
        int r;

        m = calloc(1, sizeof(Manager));
        if (!m)
                return -ENOMEM;
        m->round = 1;

        m->config_path = strdup(o->config_path ?: CONFIG_FILE_DEFAULT);
        m->state_dir = o->state_dir ? strdup(o->state_dir) : state_dir_from_env();
        if (!m->config_path || !m->state_dir ||
            (o->proc_root && !(m->proc_root = strdup(o->proc_root))) ||
            (o->sys_root && !(m->sys_root = strdup(o->sys_root)))) {
                r = -ENOMEM;
                goto fail;
        }
        m->live = !o->proc_root || streq(o->proc_root, "/proc");

        r = smapsaudit_ctx_new(&m->ctx);
        if (r >= 0 && m->proc_root)
                r = smapsaudit_ctx_set_proc_root(m->ctx, m->proc_root);
        if (r >= 0 && m->sys_root)
                r = smapsaudit_ctx_set_sys_root(m->ctx, m->sys_root);
        if (r < 0) {
                log_error_errno(r, "Failed to set up the audit library: %m");
                goto fail;
        }

        r = manager_reload(m);
        if (r < 0)
                goto fail;

        r = history_open(m->state_dir, HISTORY_MAX_DEFAULT, &m->history);
        if (r < 0)
                goto fail;

        m->metrics.start_usec = now_usec(CLOCK_REALTIME);
        r = baseline_open(m->state_dir, smapsaudit_ctx_get_kernel_release(m->ctx), m->metrics.start_usec,
                          &m->baseline);
        if (r < 0)
                goto fail;
        if (baseline_previous(m->baseline))
                log_info("Kernel %s follows %s: findings of kinds that %s's baseline (%" PRIu64 " audits) does not "
                         "have are regressions.", baseline_release(m->baseline), baseline_previous(m->baseline),
                         baseline_previous(m->baseline), baseline_audits(m->baseline, baseline_previous(m->baseline)));

        r = sd_event_default(&m->event);
        if (r < 0)
                goto fail;

        /* Now that there is someone to count errors. */
        if (baseline_dirty(m->baseline))
                manager_save_baseline(m);

        *ret = m;
        return 0;

fail:
        manager_free(m);
        return r;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;

        /* Threads first: their cancelled jobs still answer waiting callers,
         * and nothing new may start meanwhile. */
        m->stopping = true;
        m->pool = worker_pool_free(m->pool);
        manager_probe_stop(m);
        free(m->sweep.plan);

        /* The last counts, to disk. */
        if (m->baseline)
                manager_save_baseline(m);
        if (m->metrics_timer)
                manager_metrics_flush(m);
        manager_metrics_stop(m);

        sd_event_source_disable_unref(m->sweep_timer);
        sd_event_source_disable_unref(m->progress_timer);
        sd_bus_flush_close_unref(m->bus);
        sd_event_unref(m->event);

        baseline_free(m->baseline);
        metrics_done(&m->metrics);
        config_done(&m->config);
        free(m->ksm_json);
        manager_ksm_unpin(m);
        history_free(m->history);
        proc_table_done(&m->procs);
        user_cpu_done(&m->user_cpu);
        smapsaudit_ctx_unref(m->ctx);
        free(m->config_path);
        free(m->state_dir);
        free(m->proc_root);
        free(m->sys_root);
        free(m->status_text);
        free(m);
        return NULL;
}

int manager_start(Manager *m) {
        int r;

        r = worker_pool_new(m->event, AUDIT_THREADS, m->proc_root, m->sys_root, on_job_done, m, &m->pool);
        if (r < 0)
                return log_error_errno(r, "Failed to start the audit threads: %m");

        r = manager_metrics_start(m);
        if (r < 0)
                return r;

        r = manager_probe_start(m);
        if (r < 0)
                return r;

        /* The first sweep runs at once; later ones an interval after the start of the previous. */
        r = sd_event_add_time_relative(m->event, &m->sweep_timer, CLOCK_MONOTONIC, 0, 1000000,
                                       on_sweep_timer, m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the sweep timer: %m");
        (void) sd_event_source_set_description(m->sweep_timer, "sweep");
        (void) sd_event_source_set_priority(m->sweep_timer, SD_EVENT_PRIORITY_IDLE);
        if (!m->live)
                (void) sd_event_source_set_enabled(m->sweep_timer, SD_EVENT_OFF);

        r = sd_event_add_time(m->event, &m->progress_timer, CLOCK_MONOTONIC, UINT64_MAX, 0, on_progress_timer, m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the progress timer: %m");
        (void) sd_event_source_set_description(m->progress_timer, "check-progress");
        (void) sd_event_source_set_enabled(m->progress_timer, SD_EVENT_OFF);

        r = sd_event_set_watchdog(m->event, true);
        if (r < 0)
                log_warning_errno(r, "Failed to enable the watchdog: %m");

        return 0;
}
