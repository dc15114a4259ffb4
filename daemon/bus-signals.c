/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>

#include "bus-signals.h"
#include "log.h"
#include "macro.h"

void bus_reply_audit(sd_bus_message *call, const Job *job) {
        int r;

        if (job->r >= 0)
                r = sd_bus_reply_method_return(call, "s", job->json);
        else if (job->r == -ESRCH)
                r = sd_bus_reply_method_errorf(call, BUS_ERROR_NO_SUCH_PROCESS, "Process %d: %s.", (int) job->pid,
                                               job->error ?: "no such process");
        else if (job->r == -ECANCELED)
                r = sd_bus_reply_method_errorf(call, BUS_ERROR_AUDIT_FAILED, "smapsauditd is shutting down.");
        else if (job->r == -EMSGSIZE)
                r = sd_bus_reply_method_errorf(call, BUS_ERROR_AUDIT_FAILED, "Process %d: %s.", (int) job->pid,
                                               job->error ?: "its report is too large for D-Bus");
        else if (job->r == -ETIMEDOUT)
                r = sd_bus_reply_method_errorf(call, BUS_ERROR_AUDIT_FAILED,
                                               "Process %d: the audit ran past its deadline of %" PRIu64 " s "
                                               "(DeadlineSec= in [Check]) and was stopped.",
                                               (int) job->pid, job->deadline_span_usec / 1000000u);
        else if (job->r == -ESTALE)
                r = sd_bus_reply_method_errorf(call, BUS_ERROR_AUDIT_FAILED, "%s.",
                                               job->error ?: "The process executed a new program during the audit; check again");
        else if (job->r == -EDQUOT)
                r = sd_bus_reply_method_errorf(call, BUS_ERROR_BUSY, "%s.",
                                               job->error ?: "This uid used its CPU time for Check audits "
                                                             "(CPUPerUserSec= in [Check]); try again later");
        else if (job->r == -EBUSY)
                r = sd_bus_reply_method_errorf(call, BUS_ERROR_BUSY, "Process %d could not be frozen: %s.",
                                               (int) job->pid, job->error ?: "it is traced already");
        else
                r = sd_bus_reply_method_errnof(call, job->r, "Auditing process %d failed: %s%s%m",
                                               (int) job->pid, job->error ?: "", job->error ? ": " : "");
        if (r < 0)
                log_debug_errno(r, "Failed to answer a Check call: %m");
}

/* pid, comm, kind, field, vma_start, vma_end, delta_kb, tags: what Finding and Resolved begin with. */
static int append_finding(sd_bus_message *s, const JournalProcess *p, const OpenFinding *f) {
        FindingTags tags;
        int r;

        finding_tags(f->tags, &tags);
        r = sd_bus_message_append(s, "usssttx", (uint32_t) p->pid, p->comm ?: "",
                                  smapsaudit_verdict_to_string(f->kind), f->field,
                                  f->vma_start, f->vma_end, f->delta_kb);
        if (r >= 0)
                r = sd_bus_message_append_strv(s, (char **) tags.names);
        return r;
}

/* Sends s when r says it was built, and says so when it could not be. */
static void send_signal(sd_bus *bus, sd_bus_message *s, int r) {
        if (r >= 0)
                r = sd_bus_send(bus, s, NULL);
        if (r < 0)
                log_warning_errno(r, "Failed to send a %s signal: %m", sd_bus_message_get_member(s) ?: "");
}

/* Finding (reason NULL) or Resolved: the finding, then the reason it ended, then its JSON. */
static void emit_finding_signal(sd_bus *bus, const JournalProcess *p, const OpenFinding *f, const char *reason,
                                const char *json) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *s = NULL;
        const char *member = reason ? "Resolved" : "Finding";
        int r;

        r = sd_bus_message_new_signal(bus, &s, BUS_PATH, BUS_INTERFACE, member);
        if (r < 0)
                return (void) log_warning_errno(r, "Failed to make a %s signal: %m", member);
        r = append_finding(s, p, f);
        if (r >= 0 && reason)
                r = sd_bus_message_append(s, "s", reason);
        if (r >= 0)
                r = sd_bus_message_append(s, "s", json);
        send_signal(bus, s, r);
}

void bus_emit_finding(sd_bus *bus, const JournalProcess *p, const OpenFinding *f, const char *json) {
        emit_finding_signal(bus, p, f, NULL, json);
}

void bus_emit_resolved(sd_bus *bus, const JournalProcess *p, const OpenFinding *f, const char *reason,
                       const char *json) {
        emit_finding_signal(bus, p, f, reason, json);
}

void bus_emit_regression(sd_bus *bus, const char *previous, const char *current, const char *signature,
                         const JournalProcess *p, const OpenFinding *f, const char *json) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *s = NULL;
        FindingTags tags;
        int r;

        finding_tags(f->tags, &tags);
        r = sd_bus_message_new_signal(bus, &s, BUS_PATH, BUS_INTERFACE, "Regression");
        if (r < 0)
                return (void) log_warning_errno(r, "Failed to make a Regression signal: %m");
        r = sd_bus_message_append(s, "sssss", previous, current ?: "", signature,
                                  smapsaudit_verdict_to_string(f->kind), f->field);
        if (r >= 0)
                r = sd_bus_message_append_strv(s, (char **) tags.names);
        if (r >= 0)
                r = sd_bus_message_append(s, "uss", (uint32_t) p->pid, p->comm ?: "", json);
        send_signal(bus, s, r);
}

void bus_emit_check_progress(sd_bus *bus, sd_bus_message *call, pid_t pid, unsigned pass, uint64_t pages_done,
                             uint64_t pages_total) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *s = NULL;
        int r;

        /* Which process another user audits, and how large it is, is not for everyone: unicast. */
        r = sd_bus_message_new_signal(bus, &s, BUS_PATH, BUS_INTERFACE, "CheckProgress");
        if (r >= 0)
                r = sd_bus_message_set_destination(s, sd_bus_message_get_sender(call));
        if (r >= 0)
                r = sd_bus_message_append(s, "uutt", (uint32_t) pid, pass, pages_done, pages_total);
        if (r >= 0)
                r = sd_bus_send(bus, s, NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to send a CheckProgress signal: %m");
}

void bus_emit_sweep_changed(sd_bus *bus) {
        int r;

        r = sd_bus_emit_properties_changed(bus, BUS_PATH, BUS_INTERFACE,
                                           "LastSweepUSec", "SweepProcessesAudited", "SweepFindings",
                                           "SweepUSec", "SweepCPUUSec", "SweepCovered", "SweepIntervalUSec",
                                           "StatusText", NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to announce the sweep's results: %m");
}
