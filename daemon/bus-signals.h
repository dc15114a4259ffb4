/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.smapsaudit.Auditor1's names, and what the daemon sends on the bus unasked: signals, and the
 * answers of Check calls once their audit ended. Called from the loop; nothing here reads the
 * manager. */
#pragma once

#include <systemd/sd-bus.h>

#include "finding.h"
#include "journal.h"
#include "worker.h"

#define BUS_NAME      "org.smapsaudit.Auditor1"
#define BUS_PATH      "/org/smapsaudit/Auditor1"
#define BUS_INTERFACE "org.smapsaudit.Auditor1"

#define BUS_ERROR_NO_SUCH_PROCESS "org.smapsaudit.Auditor1.Error.NoSuchProcess"
#define BUS_ERROR_BUSY            "org.smapsaudit.Auditor1.Error.Busy"
#define BUS_ERROR_AUDIT_FAILED    "org.smapsaudit.Auditor1.Error.AuditFailed"
#define BUS_ERROR_NO_PROBE        "org.smapsaudit.Auditor1.Error.NoProbe"

/* Answers one Check call with the job's report, or with why there is none. */
void bus_reply_audit(sd_bus_message *call, const Job *job);
void bus_emit_finding(sd_bus *bus, const JournalProcess *p, const OpenFinding *f, const char *json);
/* reason: "gone" or "exited". */
void bus_emit_resolved(sd_bus *bus, const JournalProcess *p, const OpenFinding *f, const char *reason,
                       const char *json);
void bus_emit_regression(sd_bus *bus, const char *previous, const char *current, const char *signature,
                         const JournalProcess *p, const OpenFinding *f, const char *json);
/* How far the audit that will answer call got, to the caller alone. */
void bus_emit_check_progress(sd_bus *bus, sd_bus_message *call, pid_t pid, unsigned pass, uint64_t pages_done,
                             uint64_t pages_total);
/* The sweep statistics, interval and StatusText changed. */
void bus_emit_sweep_changed(sd_bus *bus);
