/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/capability.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include "config.h"
#include "daemon-config.h"
#include "finding.h"
#include "log.h"
#include "macro.h"
#include "manager-bus.h"

/* Who is calling, as the bus says: never what the caller says of itself.
 * Only the EUID and PID the bus daemon took from the socket are used for
 * access decisions; nothing is filled in from /proc (augmented), since a
 * PID read there may already belong to another process. */
typedef struct Caller {
        uid_t euid;
        bool cap_sys_ptrace;
} Caller;

static int caller_get(sd_bus_message *message, Caller *ret) {
        _cleanup_(sd_bus_creds_unrefp) sd_bus_creds *creds = NULL;
        uid_t euid;
        int r;

        r = sd_bus_query_sender_creds(message, SD_BUS_CREDS_EUID | SD_BUS_CREDS_PID | SD_BUS_CREDS_EFFECTIVE_CAPS,
                                      &creds);
        if (r < 0)
                return r;
        r = sd_bus_creds_get_euid(creds, &euid);
        if (r < 0)
                return r;

        /* dbus-daemon does not pass capabilities: -ENODATA then, and a
         * non-root caller is treated as holding none. */
        r = sd_bus_creds_has_effective_cap(creds, CAP_SYS_PTRACE);
        *ret = (Caller) { .euid = euid, .cap_sys_ptrace = r > 0 };
        return 0;
}

static bool caller_may_audit_any(const Caller *c) {
        return c->euid == 0 || c->cap_sys_ptrace;
}

/* Frame numbers are for whoever the kernel would show them to in pagemap. */
static bool caller_may_see_pfns(const Caller *c) {
        return c->euid == 0;
}

static uid_t process_owner(Manager *m, pid_t pid) {
        char path[PATH_MAX];
        struct stat st;

        snprintf(path, sizeof(path), "%s/%d", smapsaudit_ctx_get_proc_root(m->ctx), (int) pid);
        return stat(path, &st) < 0 ? (uid_t) -1 : st.st_uid;
}

static int no_such_process(sd_bus_error *error, pid_t pid) {
        return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_PROCESS, "No process with PID %d.", (int) pid);
}

static int check_access(Manager *m, pid_t pid, const Caller *c, sd_bus_error *error) {
        uid_t owner;
        int r;

        if (caller_may_audit_any(c))
                return 1;

        r = smapsaudit_may_audit(m->ctx, pid, c->euid, c->cap_sys_ptrace);
        if (r > 0)
                return 1;
        if (r == -ESRCH)
                return no_such_process(error, pid);
        if (r == -ENOSYS)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "This libsmapsaudit cannot decide whether uid %u may read process %d "
                                         "(smapsaudit_may_audit() is not implemented); only root may audit "
                                         "through the daemon.", (unsigned) c->euid, (int) pid);
        if (r < 0 && r != -EPERM && r != -EACCES)
                return r;

        owner = process_owner(m, pid);
        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                 "uid %u may not read the memory of process %d (owned by uid %d): only its owner "
                                 "while it is dumpable, root, or a holder of CAP_SYS_PTRACE may audit it.",
                                 (unsigned) c->euid, (int) pid, owner == (uid_t) -1 ? -1 : (int) owner);
}

/* A boolean or a number, as the key wants it: anything else names the type it takes. */
static int read_option_value(sd_bus_message *message, const char *key, char type, void *ret, sd_bus_error *error) {
        const char contents[2] = { type, 0 };
        int r;

        r = sd_bus_message_enter_container(message, 'v', contents);
        if (r == -ENXIO)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "Option \"%s\" takes %s.", key,
                                         type == 'b' ? "a boolean (b)" : "an unsigned 32-bit number (u)");
        if (r < 0)
                return r;
        r = sd_bus_message_read_basic(message, type, ret);
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(message);
}

static int read_check_options(sd_bus_message *message, unsigned *flags, unsigned *max_passes, sd_bus_error *error) {
        int r;

        r = sd_bus_message_enter_container(message, 'a', "{sv}");
        if (r < 0)
                return r;

        while ((r = sd_bus_message_enter_container(message, 'e', "sv")) > 0) {
                const char *key;
                unsigned bit;
                uint32_t u;
                int b;

                r = sd_bus_message_read(message, "s", &key);
                if (r < 0)
                        return r;
                if (streq(key, "passes")) {
                        r = read_option_value(message, key, 'u', &u, error);
                        if (r < 0 || sd_bus_error_is_set(error))
                                return r;
                        /* The CLI's bounds: a caller may not make one audit run for ever. */
                        if (u < 1 || u > 100)
                                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                         "Option \"passes\" is %u; it takes 1 to 100.", u);
                        *max_passes = u;
                        r = sd_bus_message_exit_container(message);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (streq(key, "freeze"))
                        bit = SMAPSAUDIT_AUDIT_FREEZE;
                else if (streq(key, "no_scan"))
                        bit = SMAPSAUDIT_AUDIT_NO_SCAN;
                else if (streq(key, "fast"))
                        bit = SMAPSAUDIT_AUDIT_FAST;
                else
                        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                                 "Unknown option \"%s\": known are \"freeze\", \"no_scan\", "
                                                 "\"fast\" and \"passes\".", key);

                r = read_option_value(message, key, 'b', &b, error);
                if (r < 0 || sd_bus_error_is_set(error))
                        return r;
                r = sd_bus_message_exit_container(message);
                if (r < 0)
                        return r;

                if (b)
                        *flags |= bit;
                else
                        *flags &= ~bit;
        }
        if (r < 0)
                return r;

        return sd_bus_message_exit_container(message);
}

static int method_check(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_close_ int pidfd = -1;
        unsigned flags = 0, max_passes = 0;
        Caller caller;
        uint32_t pid;
        int r;

        r = sd_bus_message_read(message, "u", &pid);
        if (r < 0)
                return r;
        r = read_check_options(message, &flags, &max_passes, error);
        if (r < 0 || sd_bus_error_is_set(error))
                return r;
        if (pid == 0 || pid > INT_MAX)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "%u is not a PID.", pid);

        r = caller_get(message, &caller);
        if (r < 0)
                return r;

        /* Pin the process before deciding anything about it: if it exits,
         * its PID cannot silently become someone else's mid-check. */
        if (m->live) {
                pidfd = pidfd_open((pid_t) pid, 0);
                if (pidfd < 0) {
                        if (errno == ESRCH)
                                return no_such_process(error, (pid_t) pid);
                        return -errno;
                }
        }

        r = check_access(m, (pid_t) pid, &caller, error);
        if (r <= 0)
                return r;

        r = manager_check(m, message, (pid_t) pid, TAKE_FD(pidfd), flags, max_passes,
                          caller_may_see_pfns(&caller) ? 0 : SMAPSAUDIT_REPORT_NO_PFNS);
        if (r == -EBUSY)
                return sd_bus_error_setf(error, BUS_ERROR_BUSY,
                                         "%u audits are waiting already; try again later.", CHECK_CALLS_MAX);
        if (r < 0)
                return r;

        /* Answered from the loop when the audit ends (manager_bus_reply_audit). */
        return 1;
}

void manager_bus_reply_audit(sd_bus_message *call, const Job *job) {
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
        else if (job->r == -EBUSY)
                r = sd_bus_reply_method_errorf(call, BUS_ERROR_BUSY, "Process %d could not be frozen: %s.",
                                               (int) job->pid, job->error ?: "it is traced already");
        else
                r = sd_bus_reply_method_errnof(call, job->r, "Auditing process %d failed: %s%s%m",
                                               (int) job->pid, job->error ?: "", job->error ? ": " : "");
        if (r < 0)
                log_debug_errno(r, "Failed to answer a Check call: %m");
}

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
        uint64_t since;
        Caller caller;
        int r;

        r = sd_bus_message_read(message, "t", &since);
        if (r < 0)
                return r;
        r = caller_get(message, &caller);
        if (r < 0)
                return r;

        /* Others' findings name their processes and addresses: only the
         * owner of a process sees its findings, unless privileged. */
        r = history_query(m->history, since, caller_may_audit_any(&caller), caller.euid, &json);
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(message, "s", json);
}

static int method_get_ksm_status(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;
        _cleanup_free_ char *json = NULL;
        const char *reason;

        /* The last check after a sweep, as the library answered it. Until there is one, say why
         * in the answer rather than fail: clients test "available". */
        if (m->ksm_json && m->ksm_status != KSM_STATUS_UNKNOWN) {
                if (asprintf(&json, "{\"available\":true,\"status\":\"%s\",\"checked_usec\":%" PRIu64
                             ",\"report\":%s}", ksm_status_to_string(m->ksm_status), m->ksm_checked_usec,
                             m->ksm_json) < 0)
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

        SD_BUS_METHOD_WITH_ARGS("Check",
                                SD_BUS_ARGS("u", pid, "a{sv}", options),
                                SD_BUS_RESULT("s", report_json),
                                method_check,
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
static void send_signal(Manager *m, sd_bus_message *s, int r) {
        if (r >= 0)
                r = sd_bus_send(m->bus, s, NULL);
        if (r < 0)
                log_warning_errno(r, "Failed to send a %s signal: %m", sd_bus_message_get_member(s) ?: "");
}

void manager_bus_emit_finding(Manager *m, const JournalProcess *p, const OpenFinding *f, const char *json) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *s = NULL;
        int r;

        r = sd_bus_message_new_signal(m->bus, &s, BUS_PATH, BUS_INTERFACE, "Finding");
        if (r < 0)
                return (void) log_warning_errno(r, "Failed to make a Finding signal: %m");
        r = append_finding(s, p, f);
        if (r >= 0)
                r = sd_bus_message_append(s, "s", json);
        send_signal(m, s, r);
}

void manager_bus_emit_resolved(Manager *m, const JournalProcess *p, const OpenFinding *f, const char *reason,
                               const char *json) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *s = NULL;
        int r;

        r = sd_bus_message_new_signal(m->bus, &s, BUS_PATH, BUS_INTERFACE, "Resolved");
        if (r < 0)
                return (void) log_warning_errno(r, "Failed to make a Resolved signal: %m");
        r = append_finding(s, p, f);
        if (r >= 0)
                r = sd_bus_message_append(s, "ss", reason, json);
        send_signal(m, s, r);
}

void manager_bus_emit_regression(Manager *m, const char *previous, const char *current, const char *signature,
                                 const JournalProcess *p, const OpenFinding *f, const char *json) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *s = NULL;
        FindingTags tags;
        int r;

        finding_tags(f->tags, &tags);
        r = sd_bus_message_new_signal(m->bus, &s, BUS_PATH, BUS_INTERFACE, "Regression");
        if (r < 0)
                return (void) log_warning_errno(r, "Failed to make a Regression signal: %m");
        r = sd_bus_message_append(s, "sssss", previous, current ?: "", signature,
                                  smapsaudit_verdict_to_string(f->kind), f->field);
        if (r >= 0)
                r = sd_bus_message_append_strv(s, (char **) tags.names);
        if (r >= 0)
                r = sd_bus_message_append(s, "uss", (uint32_t) p->pid, p->comm ?: "", json);
        send_signal(m, s, r);
}

void manager_bus_emit_check_progress(Manager *m, sd_bus_message *call, pid_t pid, unsigned pass, uint64_t pages_done,
                                     uint64_t pages_total) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *s = NULL;
        int r;

        /* Which process another user audits, and how large it is, is not for everyone: unicast. */
        r = sd_bus_message_new_signal(m->bus, &s, BUS_PATH, BUS_INTERFACE, "CheckProgress");
        if (r >= 0)
                r = sd_bus_message_set_destination(s, sd_bus_message_get_sender(call));
        if (r >= 0)
                r = sd_bus_message_append(s, "uutt", (uint32_t) pid, pass, pages_done, pages_total);
        if (r >= 0)
                r = sd_bus_send(m->bus, s, NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to send a CheckProgress signal: %m");
}

void manager_bus_emit_sweep_changed(Manager *m) {
        int r;

        r = sd_bus_emit_properties_changed(m->bus, BUS_PATH, BUS_INTERFACE,
                                           "LastSweepUSec", "SweepProcessesAudited", "SweepFindings",
                                           "SweepUSec", "SweepCPUUSec", "SweepCovered", "SweepIntervalUSec",
                                           "StatusText", NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to announce the sweep's results: %m");
}

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
