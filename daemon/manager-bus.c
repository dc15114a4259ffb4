/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/capability.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <pwd.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include "access.h"
#include "config.h"
#include "daemon-config.h"
#include "finding.h"
#include "log.h"
#include "macro.h"
#include "manager-bus.h"
#include "pidfd-util.h"

/* Who is calling, as the bus says: never what the caller says of itself,
 * and nothing filled in from /proc (augmented), since a PID read there may
 * already belong to another process. */
typedef struct Caller {
        uid_t euid;
        bool cap_sys_ptrace;
        sd_bus_creds *creds;
        gid_t *groups;
        size_t n_groups;
        CallerCreds as;            /* for the grant helper: valid when have_as */
        bool have_as;
} Caller;

static void caller_done(Caller *c) {
        c->creds = sd_bus_creds_unref(c->creds);
        free(c->groups);
        c->groups = NULL;
}

/* The caller's groups as the bus daemon took them from its socket (SO_PEERGROUPS): this sd-bus
 * does not ask for them, so ask GetConnectionCredentials directly. */
static int bus_caller_groups(sd_bus_message *message, uid_t euid, gid_t **ret, size_t *ret_n) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_free_ gid_t *groups = NULL;
        bool have_groups = false, uid_ok = false;
        size_t n = 0;
        int r;

        r = sd_bus_call_method(sd_bus_message_get_bus(message), "org.freedesktop.DBus", "/org/freedesktop/DBus",
                               "org.freedesktop.DBus", "GetConnectionCredentials", NULL, &reply, "s",
                               sd_bus_message_get_sender(message));
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                const char *key;

                r = sd_bus_message_read(reply, "s", &key);
                if (r < 0)
                        return r;
                if (streq(key, "UnixGroupIDs")) {
                        const void *a;
                        size_t size;

                        r = sd_bus_message_enter_container(reply, 'v', "au");
                        if (r < 0)
                                return r;
                        r = sd_bus_message_read_array(reply, 'u', &a, &size);
                        if (r < 0)
                                return r;
                        free(groups);
                        groups = malloc(MAX(size, sizeof(gid_t)));
                        if (!groups)
                                return -ENOMEM;
                        memcpy(groups, a, size);
                        n = size / sizeof(uint32_t);
                        have_groups = true;
                        r = sd_bus_message_exit_container(reply);
                } else if (streq(key, "UnixUserID")) {
                        uint32_t u;

                        r = sd_bus_message_read(reply, "v", "u", &u);
                        uid_ok = r >= 0 && u == euid;
                } else
                        r = sd_bus_message_skip(reply, "v");
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        /* two answers of the bus daemon about one unique name: they must agree */
        if (!have_groups || !uid_ok)
                return -ENODATA;
        *ret = TAKE_PTR(groups);
        *ret_n = n;
        return 0;
}

/*
 * The bus daemon passes the caller's uid and its groups (primary and
 * supplementary together) but not which of them is its gid: that is the
 * user database's primary group, if the bus lists it among the caller's
 * groups. A caller whose groups the bus cannot say gets no grant at all.
 */
static void caller_resolve_as(sd_bus_message *message, Caller *c) {
        char buf[4096];
        struct passwd pw, *pwp = NULL;
        bool listed = false;
        gid_t egid;

        if (bus_caller_groups(message, c->euid, &c->groups, &c->n_groups) < 0)
                return;
        if (sd_bus_creds_get_egid(c->creds, &egid) < 0) {
                if (getpwuid_r(c->euid, &pw, buf, sizeof(buf), &pwp) != 0 || !pwp)
                        return;
                egid = pwp->pw_gid;
                for (size_t i = 0; i < c->n_groups; i++)
                        listed = listed || c->groups[i] == egid;
                if (!listed)
                        return;
        }
        c->as = (CallerCreds) { .uid = c->euid, .gid = egid, .groups = c->groups, .n_groups = c->n_groups };
        c->have_as = true;
}

static int caller_get(sd_bus_message *message, Caller *ret) {
        Caller c = {};
        int r;

        r = sd_bus_query_sender_creds(message, SD_BUS_CREDS_EUID | SD_BUS_CREDS_EGID | SD_BUS_CREDS_PID |
                                      SD_BUS_CREDS_EFFECTIVE_CAPS, &c.creds);
        if (r < 0)
                return r;
        r = sd_bus_creds_get_euid(c.creds, &c.euid);
        if (r < 0) {
                caller_done(&c);
                return r;
        }
        /* dbus-daemon does not pass capabilities: -ENODATA then, and a
         * non-root caller is treated as holding none. */
        c.cap_sys_ptrace = sd_bus_creds_has_effective_cap(c.creds, CAP_SYS_PTRACE) > 0;
        if (c.euid != 0)
                caller_resolve_as(message, &c);
        *ret = c;
        return 0;
}

static bool caller_may_audit_any(const Caller *c) {
        return c->euid == 0 || c->cap_sys_ptrace;
}

/* Frame numbers are for whoever the kernel would show them to in pagemap. */
static bool caller_may_see_pfns(const Caller *c) {
        return c->euid == 0;
}

static int no_such_process(sd_bus_error *error, pid_t pid) {
        return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_PROCESS, "No process with PID %d.", (int) pid);
}

/* To a caller that is not root, a process it may not read and no process at all look alike:
 * whether a PID exists is what hidepid= keeps from it. */
static int not_readable(sd_bus_error *error, pid_t pid, const Caller *c) {
        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                 "uid %u cannot read the memory of process %d, or there is no such process: the "
                                 "daemon audits what the kernel lets you read (/proc/%d/smaps opened as you).",
                                 (unsigned) c->euid, (int) pid, (int) pid);
}

/* For a caller that is not root: the grant is whatever its own opens of the process's files got. */
static int check_access(pid_t pid, const Caller *c, Grant *grant, sd_bus_error *error) {
        int r;

        if (!c->have_as)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "The bus did not say which groups uid %u has: only root may audit "
                                         "through the daemon then.", (unsigned) c->euid);
        r = grant_open(pid, &c->as, grant);
        if (r == -EACCES || r == -EPERM || r == -ESRCH)
                return not_readable(error, pid, c);
        if (r < 0) {
                log_warning_errno(r, "Failed to open process %d's files as uid %u: %m", (int) pid, (unsigned) c->euid);
                return sd_bus_error_set_errnof(error, r, "Could not open process %d's files as uid %u: %m",
                                               (int) pid, (unsigned) c->euid);
        }
        return 1;
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
        _cleanup_(caller_done) Caller caller = {};
        _cleanup_(grant_done) Grant grant = GRANT_NULL;
        unsigned flags = 0, max_passes = 0;
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
                        if (errno != ESRCH)
                                return -errno;
                        return caller_may_audit_any(&caller) ? no_such_process(error, (pid_t) pid)
                                                             : not_readable(error, (pid_t) pid, &caller);
                }
        }

        if (!caller_may_audit_any(&caller)) {
                if (!m->live)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                                 "This daemon audits captured files: only root may ask.");
                r = check_access((pid_t) pid, &caller, &grant, error);
                if (r <= 0)
                        return r;
                /* the grant was for the process the pidfd names, as long as it has not exited since */
                if (pidfd_exited(pidfd))
                        return not_readable(error, (pid_t) pid, &caller);
                /* Stopping the target and reading every pagemap entry of its reservations are
                 * the daemon's privileges, not the caller's; asked only once the caller may
                 * read the process, so that this refusal says nothing of others' PIDs. */
                if (flags & (SMAPSAUDIT_AUDIT_FREEZE | SMAPSAUDIT_AUDIT_NO_SCAN))
                        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                                 "Only root may ask for \"freeze\" or \"no_scan\".");
                /* and for the program it runs: after an exec the audit stops */
                flags |= SMAPSAUDIT_AUDIT_NO_FOLLOW_EXEC;
                if (grant.fds[GRANT_KSM_STAT] < 0)
                        flags |= SMAPSAUDIT_AUDIT_NO_KSM;
        }

        r = manager_check(m, message, (pid_t) pid, TAKE_FD(pidfd), &grant, caller.euid, flags, max_passes,
                          caller_may_see_pfns(&caller) ? 0 : SMAPSAUDIT_REPORT_NO_PFNS);
        if (r == -EBUSY)
                return sd_bus_error_setf(error, BUS_ERROR_BUSY,
                                         "%u audits are waiting already; try again later.", CHECK_CALLS_MAX);
        if (r == -EUSERS)
                return sd_bus_error_setf(error, BUS_ERROR_BUSY,
                                         "uid %u has %u Check calls waiting or running already (MaxPerUser= in "
                                         "[Check]); try again when one has been answered.",
                                         (unsigned) caller.euid, m->config.checks_per_user);
        if (r == -EDQUOT) {
                _cleanup_free_ char *why = NULL;

                (void) manager_user_cpu_refusal(m, caller.euid, &why);
                if (!why)
                        return -ENOMEM;
                return sd_bus_error_setf(error, BUS_ERROR_BUSY, "%s.", why);
        }
        if (r < 0)
                return r;

        /* Answered from the loop when the audit ends (bus_reply_audit). */
        return 1;
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
