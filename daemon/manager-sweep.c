/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sweep: on its timer (or Sweep), list the processes, plan this round (sweep.c) and audit the
 * plan one process at a time through manager-audit.c's queue, fast tier first, within the CPU
 * budget that sweep.c computes; at its end, the counts go out (properties, StatusText, baseline,
 * metrics) and the KSM check runs. The status text is the sweep's story, so it is set here.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/pidfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "bus-signals.h"
#include "log.h"
#include "macro.h"
#include "manager-audit.h"

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
                if (manager_pid_busy(m, pid) || (m->live && pid == getpid())) {
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
                 * The fast tier first; a discrepancy earns the full tier (manager_sweep_on_audited).
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

void manager_sweep_on_listed(Manager *m, const Job *job) {
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

void manager_sweep_on_audited(Manager *m, const Job *job) {
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


int manager_sweep_start(Manager *m) {
        int r;

        /* The first sweep runs at once; later ones an interval after the start of the previous. */
        r = sd_event_add_time_relative(m->event, &m->sweep_timer, CLOCK_MONOTONIC, 0, 1000000,
                                       on_sweep_timer, m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the sweep timer: %m");
        (void) sd_event_source_set_description(m->sweep_timer, "sweep");
        (void) sd_event_source_set_priority(m->sweep_timer, SD_EVENT_PRIORITY_IDLE);
        if (!m->live)
                (void) sd_event_source_set_enabled(m->sweep_timer, SD_EVENT_OFF);
        return 0;
}

void manager_sweep_reconfigure(Manager *m) {
        char interval[64];

        if (!m->sweep.running) {
                format_time_span(interval, sizeof(interval), m->config.interval_usec, 0);
                set_status(m, "Idle; interval %s, CPU budget %g%% of one core.",
                           interval, m->config.cpu_budget_percent);
                if (m->sweep_timer)
                        sweep_schedule(m);
        }
        if (m->bus)
                bus_emit_sweep_changed(m->bus);
}
