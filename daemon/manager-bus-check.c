/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The Check method: its options, what the caller may ask of the process (root anything, others
 * what their own opens of its files got, never the daemon's privileges), then manager_check();
 * the call is answered when the audit ends. Its own file because it is the one method a user
 * reaches processes through, and so where most of the bus API's rules are.
 */
#include <errno.h>
#include <limits.h>
#include <sys/pidfd.h>

#include "bus-caller.h"
#include "bus-signals.h"
#include "log.h"
#include "macro.h"
#include "manager-bus-check.h"
#include "pidfd-util.h"

static int no_such_process(sd_bus_error *error, pid_t pid) {
        return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_PROCESS, "No process with PID %d.", (int) pid);
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

int bus_method_check(sd_bus_message *message, void *userdata, sd_bus_error *error) {
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
                                                             : caller_not_readable(error, (pid_t) pid, &caller);
                }
        }

        if (!caller_may_audit_any(&caller)) {
                if (!m->live)
                        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                                 "This daemon audits captured files: only root may ask.");
                r = caller_check_access((pid_t) pid, &caller, &grant, error);
                if (r <= 0)
                        return r;
                /* the grant was for the process the pidfd names, as long as it has not exited since */
                if (pidfd_exited(pidfd))
                        return caller_not_readable(error, (pid_t) pid, &caller);
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
