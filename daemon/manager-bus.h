/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's face on the system bus: org.smapsaudit.Auditor1. */
#pragma once

#include <systemd/sd-bus.h>

#include "journal.h"
#include "manager.h"
#include "worker.h"

#define BUS_NAME      "org.smapsaudit.Auditor1"
#define BUS_PATH      "/org/smapsaudit/Auditor1"
#define BUS_INTERFACE "org.smapsaudit.Auditor1"

#define BUS_ERROR_NO_SUCH_PROCESS "org.smapsaudit.Auditor1.Error.NoSuchProcess"
#define BUS_ERROR_BUSY            "org.smapsaudit.Auditor1.Error.Busy"
#define BUS_ERROR_AUDIT_FAILED    "org.smapsaudit.Auditor1.Error.AuditFailed"
#define BUS_ERROR_NO_PROBE        "org.smapsaudit.Auditor1.Error.NoProbe"

int manager_bus_connect(Manager *m);
/* Answers one Check call with the job's report, or with why there is none. */
void manager_bus_reply_audit(sd_bus_message *call, const Job *job);
void manager_bus_emit_finding(Manager *m, const JournalProcess *p, const OpenFinding *f, const char *json);
/* reason: "gone" or "exited". */
void manager_bus_emit_resolved(Manager *m, const JournalProcess *p, const OpenFinding *f, const char *reason,
                               const char *json);
void manager_bus_emit_regression(Manager *m, const char *previous, const char *current, const char *signature,
                                 const JournalProcess *p, const OpenFinding *f, const char *json);
/* How far the audit that will answer call got, to the caller alone. */
void manager_bus_emit_check_progress(Manager *m, sd_bus_message *call, pid_t pid, unsigned pass, uint64_t pages_done,
                                     uint64_t pages_total);
/* The sweep statistics, interval and StatusText changed. */
void manager_bus_emit_sweep_changed(Manager *m);
