/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the daemon does with the events of an audit's findings
 * (finding-events.c decides them): a new finding makes a history line, a
 * journal entry and a Finding signal, and is counted in the metrics; a
 * confirmed one counts in the release's baseline, and is a regression
 * (journal entry, Regression signal, metric) if the previous release's
 * baseline lacks its kind; a resolved one makes a Resolved signal, and a
 * journal entry if its beginning made one. Only sweeps confirm: a Check
 * audits what its caller picked, when it picked it, which says nothing of
 * the release as a whole, and no user may teach the fleet's baseline. This
 * file calls only the outputs (journal.c, history.c, bus-signals.c,
 * manager-metrics.c, baseline.c), never back into the manager.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finding-events.h"
#include "bus-signals.h"
#include "journal.h"
#include "log.h"
#include "macro.h"
#include "manager.h"

static const char *release(Manager *m) {
        return smapsaudit_ctx_get_kernel_release(m->ctx);
}

/* Whether this finding may make a journal entry now. */
static bool journal_allows(Manager *m) {
        unsigned suppressed;
        bool ok = ratelimit_below(&m->journal_limit, now_usec(CLOCK_MONOTONIC), &suppressed);

        if (suppressed > 0)
                log_notice("%u finding and resolved entries were not logged in the last rate-limit interval "
                           "([Journal] RateLimitBurst=%u); the history, signals and metrics have them all.",
                           suppressed, m->config.journal_rate_burst);
        return ok;
}

static void save_baseline(Manager *m, bool counts_too) {
        int r;

        if (!m->baseline || !(counts_too ? baseline_changed(m->baseline) : baseline_dirty(m->baseline)))
                return;
        r = baseline_save(m->baseline);
        if (r < 0)
                manager_error(m, DAEMON_ERROR_BASELINE, r, "Failed to save the baseline in %s: %m", m->state_dir);
}

void manager_save_baseline(Manager *m) {
        save_baseline(m, true);
}

static void regression(Manager *m, const JournalProcess *p, const OpenFinding *f, const char *json) {
        char sig[SIGNATURE_MAX];
        int r;

        finding_signature(f->kind, f->field, f->tags, sig, sizeof(sig));
        r = baseline_note_finding(m->baseline, sig, now_usec(CLOCK_REALTIME));
        if (r < 0) {
                log_error_errno(r, "Failed to count a finding in the baseline: %m");
                return;
        }
        save_baseline(m, false);
        if (r == 0)
                return;

        (void) journal_regression(p, f, baseline_previous(m->baseline), sig);
        bus_emit_regression(m->bus, baseline_previous(m->baseline), release(m), sig, p, f, json);
        manager_metrics_update(m);
}

static char *format_finding(Manager *m, const Job *job, const OpenFinding *f, const char *explanation, bool sweep,
                            uint64_t now) {
        FindingContext c = {
                .pid = job->pid, .uid = job->owner_uid, .comm = job->comm, .unit = job->unit,
                .kernel_release = release(m), .realtime_usec = now, .origin = sweep ? "sweep" : "check",
        };
        char *json = NULL;
        int r;

        r = finding_to_json(&c, f, explanation, &json);
        if (r < 0)
                log_error_errno(r, "Failed to format a finding: %m");
        return json;
}

static void announce_new(Manager *m, const Job *job, OpenFinding *f, const char *explanation, bool sweep,
                         uint64_t now) {
        JournalProcess p = {
                .pid = job->pid, .comm = job->comm, .kernel_release = release(m), .unit = job->unit,
                .object_pid = m->live,
        };
        _cleanup_free_ char *json = format_finding(m, job, f, explanation, sweep, now);
        int r;

        if (!json)
                return;

        if (journal_allows(m)) {
                (void) journal_finding(&p, f, sweep ? "sweep" : "check");
                f->logged = true;
        }
        r = history_append(m->history, now, job->owner_uid, json);
        if (r < 0)
                manager_error(m, DAEMON_ERROR_HISTORY, r, "Failed to save a finding to %s: %m", m->state_dir);
        bus_emit_finding(m->bus, &p, f, json);
        if (finding_groups_add(&m->metrics.found, f, job->unit) < 0)
                log_error_errno(ENOMEM, "Failed to count a finding: %m");
}

/* Only sweeps confirm: the finding counts for the release now. */
static void confirmed(Manager *m, const Job *job, const OpenFinding *f, const char *explanation, uint64_t now) {
        JournalProcess p = {
                .pid = job->pid, .comm = job->comm, .kernel_release = release(m), .unit = job->unit,
                .object_pid = m->live,
        };
        _cleanup_free_ char *json = format_finding(m, job, f, explanation, true, now);

        if (json)
                regression(m, &p, f, json);
}

static void announce_resolved(Manager *m, pid_t pid, uid_t uid, const char *comm, const char *unit,
                              const OpenFinding *f, const char *reason) {
        JournalProcess p = {
                .pid = pid, .comm = comm, .kernel_release = release(m), .unit = unit,
                .object_pid = m->live && !streq(reason, "exited"),
        };
        FindingContext c = {
                .pid = pid, .uid = uid, .comm = comm, .unit = unit, .kernel_release = release(m),
                .realtime_usec = now_usec(CLOCK_REALTIME), .resolved = reason,
        };
        _cleanup_free_ char *json = NULL;

        if (finding_to_json(&c, f, NULL, &json) < 0) {
                log_error_errno(ENOMEM, "Failed to format a resolved finding: %m");
                return;
        }
        /* Only what was logged is logged as ended: no ending without a beginning. */
        if (f->logged && journal_allows(m))
                (void) journal_resolved(&p, f, reason);
        bus_emit_resolved(m->bus, &p, f, reason, json);
}

static void emit(Manager *m, const Job *job, bool sweep, FindingEvent *events, size_t n, uint64_t now) {
        for (size_t i = 0; i < n; i++) {
                FindingEvent *e = &events[i];

                switch (e->type) {
                case FINDING_EVENT_NEW:
                        announce_new(m, job, e->open, e->explanation, sweep, now);
                        break;
                case FINDING_EVENT_CONFIRMED:
                        confirmed(m, job, e->open, e->explanation, now);
                        break;
                case FINDING_EVENT_RESOLVED:
                        announce_resolved(m, job->pid, job->owner_uid, job->comm, job->unit, &e->ended, e->reason);
                        break;
                }
        }
}

void manager_record_audit(Manager *m, const Job *job, bool sweep) {
        uint64_t now = now_usec(CLOCK_REALTIME);
        _cleanup_free_ FindingEvent *events = NULL;
        size_t n_events;
        ProcState *s;
        int r;

        if (job->verdict == SMAPSAUDIT_INCONCLUSIVE)
                m->metrics.audits_inconclusive++;
        else
                m->metrics.processes_audited++;
        if (m->baseline && sweep)
                baseline_count_audit(m->baseline, job->verdict == SMAPSAUDIT_INCONCLUSIVE, now);
        manager_metrics_update(m);

        r = proc_table_ensure(&m->procs, job->pid, &s);
        if (r < 0) {
                log_error_errno(r, "Failed to track process %d: %m", (int) job->pid);
                return;
        }
        s->tags = job->tags;
        s->round = m->round;
        snprintf(s->comm, sizeof(s->comm), "%s", job->comm);
        snprintf(s->unit, sizeof(s->unit), "%s", job->unit);

        if (job->verdict != SMAPSAUDIT_INCONCLUSIVE) {
                r = finding_events_record(s, job->findings, job->n_findings, sweep, &events, &n_events);
                if (r < 0)
                        log_error_errno(r, "Failed to record findings: %m");
                else
                        emit(m, job, sweep, events, n_events, now);
        }
        save_baseline(m, false);
}

void manager_on_process_gone(const ProcState *s, void *userdata) {
        _cleanup_free_ FindingEvent *events = NULL;
        Manager *m = userdata;
        size_t n;

        if (finding_events_exited(s, &events, &n) < 0) {
                log_error_errno(ENOMEM, "Failed to resolve the findings of process %d: %m", (int) s->pid);
                return;
        }
        for (size_t i = 0; i < n; i++)
                announce_resolved(m, s->pid, (uid_t) -1, s->comm, s->unit, &events[i].ended, events[i].reason);
        if (n > 0)
                manager_metrics_update(m);
}
