/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "bus-client.h"
#include "macro.h"

#define BUS_NAME      "org.smapsaudit.Auditor1"
#define BUS_PATH      "/org/smapsaudit/Auditor1"
#define BUS_INTERFACE "org.smapsaudit.Auditor1"

/* Audits of large processes take seconds, more with --freeze and when the
 * daemon is busy: longer than sd-bus's 25 s default would be wrong to
 * cut short. */
#define CHECK_TIMEOUT_USEC (5 * 60 * UINT64_C(1000000))

bool bus_error_is_unreachable(int r) {
        return r == -ENOENT || r == -ECONNREFUSED || r == -EHOSTDOWN;
}

static const char *target_host, *target_machine;

void bus_set_target(const char *host, const char *machine) {
        target_host = host;
        target_machine = machine;
}

static int bus_open(sd_bus **ret) {
        int r;

        if (target_host)
                r = sd_bus_open_system_remote(ret, target_host);
        else if (target_machine)
                r = sd_bus_open_system_machine(ret, target_machine);
        else
                r = sd_bus_open_system(ret);
        if (r < 0)
                return r == -EACCES ? -ECONNREFUSED : r;
        return 0;
}

/* Maps the daemon's and the bus's errors onto the errnos this file promises. */
static int map_error(const sd_bus_error *error, int r) {
        if (sd_bus_error_has_names(error, SD_BUS_ERROR_SERVICE_UNKNOWN, SD_BUS_ERROR_NAME_HAS_NO_OWNER,
                                   "org.freedesktop.systemd1.NoSuchUnit") ||
            (error->name && startswith(error->name, "org.freedesktop.DBus.Error.Spawn.")))
                return -EHOSTDOWN;
        if (sd_bus_error_has_name(error, "org.smapsaudit.Auditor1.Error.NoSuchProcess"))
                return -ESRCH;
        if (sd_bus_error_has_name(error, "org.smapsaudit.Auditor1.Error.Busy"))
                return -EBUSY;
        if (sd_bus_error_has_name(error, SD_BUS_ERROR_ACCESS_DENIED))
                return -EACCES;
        if (sd_bus_error_has_name(error, SD_BUS_ERROR_INVALID_ARGS))
                return -EINVAL;
        if (sd_bus_error_has_name(error, "org.smapsaudit.Auditor1.Error.NoProbe"))
                return -ENODATA;
        return r < 0 ? r : -EIO;
}

static int take_message(const sd_bus_error *error, char **ret_error_message) {
        if (!ret_error_message)
                return 0;
        *ret_error_message = NULL;
        if (error->message && !(*ret_error_message = strdup(error->message)))
                return -ENOMEM;
        return 0;
}

static int read_string_reply(sd_bus_message *reply, char **ret) {
        const char *s;
        int r;

        r = sd_bus_message_read(reply, "s", &s);
        if (r < 0)
                return r;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int append_check_options(sd_bus_message *m, const BusCheckOptions *o) {
        static const struct {
                const char *key;
                size_t offset;
        } flags[] = {
                { "freeze",  offsetof(BusCheckOptions, freeze)  },
                { "no_scan", offsetof(BusCheckOptions, no_scan) },
                { "fast",    offsetof(BusCheckOptions, fast)    },
        };
        int r;

        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        /* Only what differs from the default goes on the wire: an older daemon then
         * refuses only the options it cannot honour. */
        for (size_t i = 0; i < ELEMENTSOF(flags) && r >= 0; i++)
                if (*(const bool *) ((const char *) o + flags[i].offset))
                        r = sd_bus_message_append(m, "{sv}", flags[i].key, "b", 1);
        if (r >= 0 && o->passes)
                r = sd_bus_message_append(m, "{sv}", "passes", "u", (uint32_t) o->passes);
        if (r < 0)
                return r;
        return sd_bus_message_close_container(m);
}

/* Dispatches until *done. A signal (EINTR) ends the wait early when interruptible: 1 then. */
static int process_until(sd_bus *bus, const bool *done, bool interruptible) {
        int r;

        while (!*done) {
                r = sd_bus_process(bus, NULL);
                if (r < 0)
                        return r;
                if (r > 0)
                        continue;
                r = sd_bus_wait(bus, UINT64_MAX);
                if (r == -EINTR && interruptible)
                        return 1;
                if (r < 0 && r != -EINTR)
                        return r;
        }
        return 0;
}

typedef struct CheckCall {
        const BusCheckOptions *options;
        pid_t pid;
        sd_bus_message *reply;
        bool done;
} CheckCall;

static int on_check_progress(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        CheckCall *c = userdata;
        uint64_t done, total;
        uint32_t pid, pass;

        if (sd_bus_message_read(m, "uutt", &pid, &pass, &done, &total) < 0 || (pid_t) pid != c->pid)
                return 0;   /* not ours to fail on a malformed signal */
        (void) c->options->progress(c->options->progress_userdata, c->pid, pass, done, total);
        return 0;
}

static int on_check_reply(sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        CheckCall *c = userdata;

        c->reply = sd_bus_message_ref(reply);
        c->done = true;
        return 0;
}

/* The call, and the CheckProgress signals meant for it while it waits. */
static int call_check(sd_bus *bus, sd_bus_message *m, CheckCall *c) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *match = NULL, *call = NULL;
        int r;

        r = sd_bus_match_signal(bus, &match, BUS_NAME, BUS_PATH, BUS_INTERFACE, "CheckProgress", on_check_progress, c);
        if (r < 0)
                return r;
        r = sd_bus_call_async(bus, &call, m, on_check_reply, c, CHECK_TIMEOUT_USEC);
        if (r < 0)
                return r;
        return process_until(bus, &c->done, false);
}

int bus_check(pid_t pid, const BusCheckOptions *o, char **ret_json, char **ret_error_message) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        CheckCall c = { .options = o, .pid = pid };
        int r;

        if (ret_error_message)
                *ret_error_message = NULL;
        if (pid <= 0)
                return -EINVAL;

        r = bus_open(&bus);
        if (r < 0)
                return r;

        r = sd_bus_message_new_method_call(bus, &m, BUS_NAME, BUS_PATH, BUS_INTERFACE, "Check");
        if (r >= 0)
                r = sd_bus_message_append(m, "u", (uint32_t) pid);
        if (r >= 0)
                r = append_check_options(m, o ?: &(const BusCheckOptions) {});
        if (r < 0)
                return r;

        if (o && o->progress) {
                r = call_check(bus, m, &c);
                reply = c.reply;
                if (r < 0)
                        return r;
                /* an error reply (a timeout included) is the call's failure, as sd_bus_call() has it */
                r = sd_bus_error_copy(&error, sd_bus_message_get_error(reply));
        } else
                r = sd_bus_call(bus, m, CHECK_TIMEOUT_USEC, &error, &reply);
        if (r < 0) {
                int k = take_message(&error, ret_error_message);

                return k < 0 ? k : map_error(&error, r);
        }
        return read_string_reply(reply, ret_json);
}

/* ret_error_message, when not NULL, gets the daemon's reason on failure (or NULL). */
static int call_string(const char *member, char **ret_json, char **ret_error_message, const char *types, ...) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        va_list ap;
        int r;

        r = bus_open(&bus);
        if (r < 0)
                return r;

        r = sd_bus_message_new_method_call(bus, &m, BUS_NAME, BUS_PATH, BUS_INTERFACE, member);
        if (r < 0)
                return r;
        if (types) {
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
                if (r < 0)
                        return r;
        }

        r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r < 0) {
                int k = take_message(&error, ret_error_message);

                return k < 0 ? k : map_error(&error, r);
        }
        return ret_json ? read_string_reply(reply, ret_json) : 0;
}

int bus_findings(uint64_t since_usec, char **ret_json) {
        return call_string("GetFindings", ret_json, NULL, "t", since_usec);
}

int bus_sweep(void) {
        return call_string("Sweep", NULL, NULL, NULL);
}

int bus_ksm_status(char **ret_json) {
        return call_string("GetKSMStatus", ret_json, NULL, NULL);
}

int bus_probe(char **ret_json, char **ret_error_message) {
        return call_string("GetProbe", ret_json, ret_error_message, NULL);
}

static int read_property(sd_bus_message *reply, const char *name, BusStatus *s) {
        static const struct {
                const char *name;
                size_t offset;
        } u64[] = {
                { "LastSweepUSec",         offsetof(BusStatus, last_sweep_usec)         },
                { "SweepProcessesAudited", offsetof(BusStatus, sweep_processes_audited) },
                { "SweepFindings",         offsetof(BusStatus, sweep_findings)          },
                { "SweepUSec",             offsetof(BusStatus, sweep_usec)              },
                { "SweepCPUUSec",          offsetof(BusStatus, sweep_cpu_usec)          },
                { "SweepIntervalUSec",     offsetof(BusStatus, sweep_interval_usec)     },
        };
        static const struct {
                const char *name;
                size_t offset;
        } str[] = {
                { "Version",       offsetof(BusStatus, version)        },
                { "KernelRelease", offsetof(BusStatus, kernel_release) },
                { "StatusText",    offsetof(BusStatus, status_text)    },
        };

        for (size_t i = 0; i < ELEMENTSOF(u64); i++)
                if (streq(name, u64[i].name))
                        return sd_bus_message_read(reply, "v", "t", (uint64_t *) ((char *) s + u64[i].offset));

        for (size_t i = 0; i < ELEMENTSOF(str); i++)
                if (streq(name, str[i].name)) {
                        char **p = (char **) ((char *) s + str[i].offset);
                        const char *v;
                        int r;

                        r = sd_bus_message_read(reply, "v", "s", &v);
                        if (r < 0)
                                return r;
                        free(*p);
                        *p = strdup(v);
                        return *p ? 0 : -ENOMEM;
                }

        if (streq(name, "SweepCovered")) {
                int b;
                int r = sd_bus_message_read(reply, "v", "b", &b);

                if (r >= 0)
                        s->sweep_covered = b;
                return r;
        }

        /* A newer daemon's property: leave it to a newer client. */
        return sd_bus_message_skip(reply, "v");
}

int bus_status(BusStatus *ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        BusStatus s = {};
        int r;

        r = bus_open(&bus);
        if (r < 0)
                return r;

        r = sd_bus_call_method(bus, BUS_NAME, BUS_PATH, "org.freedesktop.DBus.Properties", "GetAll",
                               &error, &reply, "s", BUS_INTERFACE);
        if (r < 0)
                return map_error(&error, r);

        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                const char *name;

                r = sd_bus_message_read(reply, "s", &name);
                if (r >= 0)
                        r = read_property(reply, name, &s);
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
                if (r < 0)
                        break;
        }
        if (r < 0) {
                bus_status_done(&s);
                return r;
        }

        *ret = s;
        return 0;
}

void bus_status_done(BusStatus *s) {
        free(s->version);
        free(s->kernel_release);
        free(s->status_text);
        *s = (BusStatus) {};
}

typedef struct Watch {
        int (*cb)(void *userdata, const char *json);
        void *userdata;
        int result;
        bool done;
} Watch;

static int on_finding(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Watch *w = userdata;
        const char *json;
        int r;

        /* Skip to the last argument: the JSON carries everything the typed ones do. */
        r = sd_bus_message_skip(m, "usssttxas");
        if (r >= 0)
                r = sd_bus_message_read(m, "s", &json);
        if (r < 0)
                return 0;   /* not ours to fail on a malformed signal */

        r = w->cb(w->userdata, json);
        if (r != 0) {
                w->result = r < 0 ? r : 0;
                w->done = true;
        }
        return 0;
}

int bus_watch(int (*cb)(void *userdata, const char *json), void *userdata) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        Watch w = { .cb = cb, .userdata = userdata };
        int r;

        r = bus_open(&bus);
        if (r < 0)
                return r;

        r = sd_bus_match_signal(bus, NULL, BUS_NAME, BUS_PATH, BUS_INTERFACE, "Finding", on_finding, &w);
        if (r < 0)
                return r;

        /* Fail now, not never, when there is no daemon to hear from (and
         * start it, where the bus can activate it). */
        r = sd_bus_call_method(bus, BUS_NAME, BUS_PATH, "org.freedesktop.DBus.Peer", "Ping", &error, NULL, NULL);
        if (r < 0)
                return map_error(&error, r);

        r = process_until(bus, &w.done, true);
        if (r < 0)
                return r;
        return r > 0 ? 0 : w.result;
}
