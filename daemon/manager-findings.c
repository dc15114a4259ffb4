/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the daemon does with an audit's findings: a finding that the last
 * conclusive audit of the same process did not have is new (history line,
 * journal entry, Finding signal, counted in the metrics); once a second
 * sweep's conclusive audit of that process has it again it is confirmed, and
 * only then counted in the release's baseline, and a regression if the
 * previous release's baseline lacks its kind: one audit can catch the kernel
 * in the middle of work that leaves its counters behind for a moment. Only
 * sweeps feed the baseline: a Check audits what its caller picked, when it
 * picked it, which says nothing of the release as a whole, and a user must
 * not be able to teach the fleet's baseline. One that a later conclusive
 * audit no longer has, or whose process exited, is resolved (journal entry,
 * Resolved signal). Inconclusive audits change nothing: they cannot say that
 * a finding went away.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finding.h"
#include "journal.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "manager-bus.h"

static const char *release(Manager *m) {
        return smapsaudit_ctx_get_kernel_release(m->ctx);
}

void manager_error(Manager *m, DaemonError what, int error, const char *format, ...) {
        char message[1024];
        unsigned suppressed;
        int saved = errno;
        va_list ap;

        m->metrics.errors[what]++;
        /* The metrics show it with their next write; a failed write itself must not ask for
         * another, or a textfile that cannot be written would be retried (and counted) forever. */
        if (what != DAEMON_ERROR_TEXTFILE)
                manager_metrics_update(m);

        errno = error < 0 ? -error : error;
        va_start(ap, format);
        vsnprintf(message, sizeof(message), format, ap);
        va_end(ap);
        errno = saved;

        if (ratelimit_below(&m->error_limit, now_usec(CLOCK_MONOTONIC), &suppressed))
                (void) journal_error(daemon_error_to_string(what), error, "%s", message);
        if (suppressed > 0)
                log_warning("%u more errors of smapsauditd were not logged (rate limit).", suppressed);
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
        manager_bus_emit_regression(m, baseline_previous(m->baseline), release(m), sig, p, f, json);
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
        manager_bus_emit_finding(m, &p, f, json);
        if (finding_groups_add(&m->metrics.found, f, job->unit) < 0)
                log_error_errno(ENOMEM, "Failed to count a finding: %m");
}

/* A sweep's conclusive audit has this finding again after an earlier sweep's did: now it counts for the
 * release. */
static void confirm(Manager *m, const Job *job, OpenFinding *f, const char *explanation, bool sweep, uint64_t now) {
        JournalProcess p = {
                .pid = job->pid, .comm = job->comm, .kernel_release = release(m), .unit = job->unit,
                .object_pid = m->live,
        };
        _cleanup_free_ char *json = format_finding(m, job, f, explanation, sweep, now);

        f->confirmed = true;
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
        manager_bus_emit_resolved(m, &p, f, reason, json);
}

void manager_record_audit(Manager *m, const Job *job, bool sweep) {
        uint64_t now = now_usec(CLOCK_REALTIME);
        _cleanup_free_ OpenFinding *found = NULL;
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

        /* Too much churn to decide: what was open stays open. */
        if (job->verdict == SMAPSAUDIT_INCONCLUSIVE) {
                save_baseline(m, false);
                return;
        }

        if (job->n_findings > 0) {
                found = calloc(job->n_findings, sizeof(OpenFinding));
                if (!found) {
                        log_error_errno(ENOMEM, "Failed to record findings: %m");
                        return;
                }
        }

        for (size_t i = 0; i < job->n_findings; i++) {
                const OpenFinding *old;

                found[i] = job->findings[i].f;
                old = proc_state_find(s, found[i].key);
                if (old) {
                        /* The same finding again: not new, and it keeps whether it was logged. */
                        found[i].logged = old->logged;
                        found[i].confirmed = old->confirmed;
                        found[i].swept = old->swept || sweep;
                        if (!found[i].confirmed && sweep && old->swept)
                                confirm(m, job, &found[i], job->findings[i].explanation, sweep, now);
                        continue;
                }
                found[i].swept = sweep;
                announce_new(m, job, &found[i], job->findings[i].explanation, sweep, now);
        }

        for (size_t i = 0; i < s->n_findings; i++) {
                bool still = false;

                for (size_t j = 0; j < job->n_findings && !still; j++)
                        still = found[j].key == s->findings[i].key;
                if (!still)
                        announce_resolved(m, job->pid, job->owner_uid, job->comm, job->unit, &s->findings[i], "gone");
        }

        proc_state_set_findings(s, TAKE_PTR(found), job->n_findings);
        save_baseline(m, false);
}

void manager_on_process_gone(const ProcState *s, void *userdata) {
        Manager *m = userdata;

        for (size_t i = 0; i < s->n_findings; i++)
                announce_resolved(m, s->pid, (uid_t) -1, s->comm, s->unit, &s->findings[i], "exited");
        if (s->n_findings > 0)
                manager_metrics_update(m);
}
