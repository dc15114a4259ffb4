/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A bus caller's identity from the bus daemon, and the grant its own opens of a process's files
 * give it (access.c); nothing here reads the manager. */
#include <errno.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include "bus-caller.h"
#include "log.h"
#include "macro.h"

void caller_done(Caller *c) {
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

int caller_get(sd_bus_message *message, Caller *ret) {
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

bool caller_may_audit_any(const Caller *c) {
        return c->euid == 0 || c->cap_sys_ptrace;
}

bool caller_may_see_pfns(const Caller *c) {
        return c->euid == 0;
}

int caller_not_readable(sd_bus_error *error, pid_t pid, const Caller *c) {
        return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                 "uid %u cannot read the memory of process %d, or there is no such process: the "
                                 "daemon audits what the kernel lets you read (/proc/%d/smaps opened as you).",
                                 (unsigned) c->euid, (int) pid, (int) pid);
}

int caller_check_access(pid_t pid, const Caller *c, Grant *grant, sd_bus_error *error) {
        int r;

        if (!c->have_as)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "The bus did not say which groups uid %u has: only root may audit "
                                         "through the daemon then.", (unsigned) c->euid);
        r = grant_open(pid, &c->as, grant);
        if (r == -EACCES || r == -EPERM || r == -ESRCH)
                return caller_not_readable(error, pid, c);
        if (r < 0) {
                log_warning_errno(r, "Failed to open process %d's files as uid %u: %m", (int) pid, (unsigned) c->euid);
                return sd_bus_error_set_errnof(error, r, "Could not open process %d's files as uid %u: %m",
                                               (int) pid, (unsigned) c->euid);
        }
        return 1;
}
