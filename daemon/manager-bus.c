/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.smapsaudit.Auditor1 on the system bus: its vtable, properties and the methods that only read
 * or start something; Check, the one that reaches processes, is manager-bus-check.c. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "bus-caller.h"
#include "config.h"
#include "daemon-config.h"
#include "log.h"
#include "macro.h"
#include "manager-bus.h"
#include "manager-bus-check.h"

static int method_sweep(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        int r;

        r = manager_sweep_now(m);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(message, NULL);
}

static int method_get_findings(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_free_ char *json = NULL;
        _cleanup_(caller_done) Caller caller = {};
        uint64_t since;
        int r;

        r = sd_bus_message_read(message, "t", &since);
        if (r < 0)
                return r;
        r = caller_get(message, &caller);
        if (r < 0)
                return r;

        /* Others' findings name their processes and addresses: only the
         * owner of a process sees its findings, unless privileged. */
        r = history_query(m->history, since, caller_may_audit_any(&caller), caller.euid, BUS_REPLY_MAX, &json);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(message, "s", json);
}

static int method_get_ksm_status(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_(caller_done) Caller caller = {};
        _cleanup_free_ char *json = NULL, *report = NULL;
        const char *reason;
        int r;

        /* The last check after a sweep, as the library answered it. Until there is one, say why
         * in the answer rather than fail: clients test "available". */
        if (m->ksm_json && m->ksm_status != KSM_STATUS_UNKNOWN) {
                r = caller_get(message, &caller);
                if (r < 0)
                        return r;
                if (!caller_may_audit_any(&caller) && !caller.have_as)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                                 "The bus did not say which groups uid %u has: only root may see "
                                                 "KSM's status then.", (unsigned) caller.euid);
                r = manager_ksm_report_for(m, caller_may_audit_any(&caller) ? NULL : &caller.as, &report);
                if (r < 0)
                        return r;
                if (asprintf(&json, "{\"available\":true,\"status\":\"%s\",\"checked_usec\":%" PRIu64
                             ",\"report\":%s}", ksm_status_to_string(m->ksm_status), m->ksm_checked_usec,
                             report) < 0)
                        return -ENOMEM;
                return sd_bus_reply_method_return(message, "s", json);
        }
        reason = !HAVE_SMAPSAUDIT_KSM_CHECK ? "this smapsauditd was built with a libsmapsaudit without a KSM check"
                 : m->ksm_checked_usec == 0 ? "no sweep has ended yet: KSM is checked after each sweep"
                 : "the last KSM check failed, or this kernel has no KSM";
        if (asprintf(&json, "{\"available\":false,\"status\":\"unknown\",\"reason\":\"%s\"}", reason) < 0)
                return -ENOMEM;
        return sd_bus_reply_method_return(message, "s", json);
}

/*
 * Anyone may read the probe: it says which known bugs the running kernel has, which is about the
 * kernel (its release is no secret either), not about anyone's processes. The only processes it
 * names are the probe's own shapes, gone since, and their reports were made without frame numbers.
 */
static int method_get_probe(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        const char *why;

        if (m->probe.json)
                return sd_bus_reply_method_return(message, "s", m->probe.json);
        switch (m->probe.state) {
        case PROBE_BOOT_RUNNING:
                why = "it is running";
                break;
        case PROBE_BOOT_DISABLED:
                why = "ProbeOnBoot=no";
                break;
        case PROBE_BOOT_UNAVAILABLE:
                why = "this daemon reads captured files, not a running kernel";
                break;
        default:
                why = "it failed (the journal says why); the next start of smapsauditd tries again";
        }
        return sd_bus_error_setf(error, BUS_ERROR_NO_PROBE, "No probe of kernel %s: %s.", m->probe.release ?: "unknown",
                                 why);
}

static int method_reload(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        int r;

        r = manager_reload(m);
        if (r < 0)
                return sd_bus_error_set_errnof(error, r, "Failed to read %s: %m", m->config_path);
        return sd_bus_reply_method_return(message, NULL);
}

static int property_get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
}

static int property_get_kernel_release(sd_bus *bus, const char *path, const char *interface, const char *property,
                                       sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;

        return sd_bus_message_append(reply, "s", smapsaudit_ctx_get_kernel_release(m->ctx) ?: "");
}

static int property_get_probe_state(sd_bus *bus, const char *path, const char *interface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;

        return sd_bus_message_append(reply, "s", probe_boot_state_to_string(m->probe.state));
}

static int property_get_sweep_covered(sd_bus *bus, const char *path, const char *interface, const char *property,
                                      sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;

        return sd_bus_message_append(reply, "b", (int) m->sweep_covered);
}

static int property_get_status_text(sd_bus *bus, const char *path, const char *interface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;

        return sd_bus_message_append(reply, "s", m->status_text ?: "");
}

static int property_get_interval(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;

        return sd_bus_message_append(reply, "t", m->config.interval_usec);
}

/* Sweep and Reload are for root only: the policy file says so for the bus,
 * and sd-bus checks it again for methods without UNPRIVILEGED. */
static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),

        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("KernelRelease", "s", property_get_kernel_release, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("LastSweepUSec", "t", NULL, offsetof(Manager, last_sweep_usec),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("SweepProcessesAudited", "t", NULL, offsetof(Manager, sweep_processes_audited),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("SweepFindings", "t", NULL, offsetof(Manager, sweep_findings),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("SweepUSec", "t", NULL, offsetof(Manager, sweep_usec), SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("SweepCPUUSec", "t", NULL, offsetof(Manager, sweep_cpu_usec),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("SweepCovered", "b", property_get_sweep_covered, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("SweepIntervalUSec", "t", property_get_interval, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("StatusText", "s", property_get_status_text, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ProbeState", "s", property_get_probe_state, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LastProbeUSec", "t", NULL, offsetof(Manager, probe.realtime_usec),
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),

        SD_BUS_METHOD_WITH_ARGS("Check",
                                SD_BUS_ARGS("u", pid, "a{sv}", options),
                                SD_BUS_RESULT("s", report_json),
                                bus_method_check,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Sweep", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_sweep, 0),
        SD_BUS_METHOD_WITH_ARGS("GetFindings",
                                SD_BUS_ARGS("t", since_usec_realtime),
                                SD_BUS_RESULT("s", findings_json),
                                method_get_findings,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetKSMStatus",
                                SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("s", ksm_json),
                                method_get_ksm_status,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetProbe",
                                SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("s", probe_json),
                                method_get_probe,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Reload", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, method_reload, 0),

        SD_BUS_SIGNAL_WITH_ARGS("Finding",
                                SD_BUS_ARGS("u", pid, "s", comm, "s", kind, "s", field,
                                            "t", vma_start, "t", vma_end, "x", delta_kb,
                                            "as", tags, "s", json),
                                0),
        SD_BUS_SIGNAL_WITH_ARGS("Resolved",
                                SD_BUS_ARGS("u", pid, "s", comm, "s", kind, "s", field,
                                            "t", vma_start, "t", vma_end, "x", delta_kb,
                                            "as", tags, "s", reason, "s", json),
                                0),
        SD_BUS_SIGNAL_WITH_ARGS("CheckProgress",
                                SD_BUS_ARGS("u", pid, "u", pass, "t", pages_done, "t", pages_total),
                                0),
        SD_BUS_SIGNAL_WITH_ARGS("Regression",
                                SD_BUS_ARGS("s", previous_release, "s", current_release, "s", signature,
                                            "s", kind, "s", field, "as", tags, "u", pid, "s", comm,
                                            "s", json),
                                0),

        SD_BUS_VTABLE_END
};

int manager_bus_connect(Manager *m) {
        int r;

        r = sd_bus_open_system(&m->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus: %m");

        r = sd_bus_add_object_vtable(m->bus, NULL, BUS_PATH, BUS_INTERFACE, manager_vtable, m);
        if (r < 0)
                return log_error_errno(r, "Failed to add the object vtable: %m");

        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus to the event loop: %m");

        /* Without the bus nobody can ask anything: stop, and let systemd restart us. */
        r = sd_bus_set_exit_on_disconnect(m->bus, true);
        if (r < 0)
                return log_error_errno(r, "Failed to set exit on disconnect: %m");

        r = sd_bus_request_name(m->bus, BUS_NAME, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to take the bus name %s: %m", BUS_NAME);

        return 0;
}
