/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bus-flood: sends N Check calls to org.smapsaudit.Auditor1 at once, without waiting for any
 * answer before the last is sent, spread over C connections to the system bus, and prints what
 * came back for each, one line a call:
 *
 *   ok IDX PID MSEC JSON            the report (one line)
 *   err IDX PID MSEC NAME<TAB>MESSAGE
 *
 * then "done sent=N answered=M seconds=S". MSEC is the time from sending to the answer.
 *
 *   bus-flood [--connections C] [--timeout-sec T] N PID[:OPTION]...
 *
 * Call IDX goes to the IDX-th PID of the list, round robin. OPTION, if any, is KEY or KEY=TYPE:
 * one entry in the a{sv}, KEY with a variant of TYPE: b (true, the default), s ("yes"), u (1),
 * i (-1), t (1), d (1.0), ab ([true]). Calls not answered within T seconds (default 120) count
 * as unanswered: exit 1. Bad arguments exit 2.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <time.h>

#define CONNECTIONS_MAX 64

typedef struct Call {
        unsigned idx;
        uint32_t pid;
        char *option;       /* KEY, or NULL: an empty a{sv} */
        const char *type;   /* the variant's type */
        uint64_t sent_usec;
} Call;

static unsigned n_calls, n_answered;
static sd_event *event;

static uint64_t now_usec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static int on_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        Call *c = userdata;
        double msec = (double) (now_usec() - c->sent_usec) / 1000.0;
        const sd_bus_error *e = sd_bus_message_get_error(reply);

        if (e) {
                /* messages are one line, but make sure */
                printf("err %u %" PRIu32 " %.1f %s\t", c->idx, c->pid, msec, e->name);
                for (const char *p = e->message ?: ""; *p; p++)
                        putchar(*p == '\n' ? ' ' : *p);
                putchar('\n');
        } else {
                const char *json = NULL;
                int r = sd_bus_message_read(reply, "s", &json);

                if (r < 0)
                        printf("err %u %" PRIu32 " %.1f local.BadReply\t%s\n", c->idx, c->pid, msec, strerror(-r));
                else {
                        printf("ok %u %" PRIu32 " %.1f ", c->idx, c->pid, msec);
                        for (const char *p = json; *p; p++)
                                putchar(*p == '\n' ? ' ' : *p);
                        putchar('\n');
                }
        }
        if (++n_answered == n_calls)
                (void) sd_event_exit(event, 0);
        return 0;
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) s;
        (void) usec;
        (void) userdata;
        return sd_event_exit(event, 0);
}

static int append_option(sd_bus_message *m, const Call *c) {
        const char *t = c->type;
        int r;

        r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r < 0 || !c->option)
                return r < 0 ? r : sd_bus_message_close_container(m);
        r = sd_bus_message_open_container(m, 'e', "sv");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", c->option);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'v', t);
        if (r < 0)
                return r;
        if (strcmp(t, "b") == 0)
                r = sd_bus_message_append(m, "b", 1);
        else if (strcmp(t, "s") == 0)
                r = sd_bus_message_append(m, "s", "yes");
        else if (strcmp(t, "u") == 0)
                r = sd_bus_message_append(m, "u", (uint32_t) 1);
        else if (strcmp(t, "i") == 0)
                r = sd_bus_message_append(m, "i", (int32_t) -1);
        else if (strcmp(t, "t") == 0)
                r = sd_bus_message_append(m, "t", (uint64_t) 1);
        else if (strcmp(t, "d") == 0)
                r = sd_bus_message_append(m, "d", 1.0);
        else if (strcmp(t, "ab") == 0)
                r = sd_bus_message_append(m, "ab", 1, 1);
        else
                r = -EINVAL;
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

static int send_call(sd_bus *bus, Call *c) {
        sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(bus, &m, "org.smapsaudit.Auditor1", "/org/smapsaudit/Auditor1",
                                           "org.smapsaudit.Auditor1", "Check");
        if (r >= 0)
                r = sd_bus_message_append(m, "u", c->pid);
        if (r >= 0)
                r = append_option(m, c);
        if (r >= 0) {
                c->sent_usec = now_usec();
                r = sd_bus_call_async(bus, NULL, m, on_reply, c, 0);
        }
        sd_bus_message_unref(m);
        return r;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "connections", required_argument, NULL, 'c' },
                { "timeout-sec", required_argument, NULL, 't' },
                {}
        };
        sd_bus *buses[CONNECTIONS_MAX] = {};
        unsigned n_buses = 4, timeout_sec = 120, n_targets;
        Call *calls;
        uint64_t t0;
        int c, r, ret = 0;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'c': n_buses = (unsigned) atoi(optarg); break;
                case 't': timeout_sec = (unsigned) atoi(optarg); break;
                default: return 2;
                }
        if (argc - optind < 2 || n_buses == 0 || n_buses > CONNECTIONS_MAX || timeout_sec == 0) {
                fprintf(stderr, "usage: bus-flood [--connections C] [--timeout-sec T] N PID[:OPTION]...\n");
                return 2;
        }
        n_calls = (unsigned) atoi(argv[optind]);
        n_targets = (unsigned) (argc - optind - 1);
        if (n_calls == 0 || n_calls > 100000) {
                fprintf(stderr, "bus-flood: N must be 1..100000\n");
                return 2;
        }
        calls = calloc(n_calls, sizeof(Call));
        if (!calls)
                return 1;
        for (unsigned i = 0; i < n_calls; i++) {
                const char *spec = argv[optind + 1 + i % n_targets], *colon = strchr(spec, ':'), *eq;
                unsigned long long pid = strtoull(spec, NULL, 10);

                calls[i] = (Call) { .idx = i, .pid = (uint32_t) pid, .type = "b" };
                if (colon) {
                        eq = strchr(colon + 1, '=');
                        calls[i].option = eq ? strndup(colon + 1, (size_t) (eq - colon - 1)) : strdup(colon + 1);
                        if (!calls[i].option)
                                return 1;
                        if (eq)
                                calls[i].type = eq + 1;
                }
        }

        r = sd_event_new(&event);
        if (r < 0) {
                fprintf(stderr, "bus-flood: sd_event_new: %s\n", strerror(-r));
                return 1;
        }
        for (unsigned i = 0; i < n_buses; i++) {
                r = sd_bus_open_system(&buses[i]);
                if (r >= 0)
                        r = sd_bus_set_method_call_timeout(buses[i], (uint64_t) timeout_sec * 1000000u);
                if (r >= 0)
                        r = sd_bus_attach_event(buses[i], event, 0);
                if (r < 0) {
                        fprintf(stderr, "bus-flood: connection %u: %s\n", i, strerror(-r));
                        return 1;
                }
        }

        t0 = now_usec();
        for (unsigned i = 0; i < n_calls; i++) {
                r = send_call(buses[i % n_buses], &calls[i]);
                if (r < 0) {
                        fprintf(stderr, "bus-flood: call %u: %s\n", i, strerror(-r));
                        return 1;
                }
        }
        /* Everything is queued; flush so the daemon has every call before the first answer. */
        for (unsigned i = 0; i < n_buses; i++)
                (void) sd_bus_flush(buses[i]);

        r = sd_event_add_time_relative(event, NULL, CLOCK_MONOTONIC, ((uint64_t) timeout_sec + 5) * 1000000u, 0,
                                       on_deadline, NULL);
        if (r >= 0)
                r = sd_event_loop(event);
        if (r < 0) {
                fprintf(stderr, "bus-flood: event loop: %s\n", strerror(-r));
                ret = 1;
        }
        printf("done sent=%u answered=%u seconds=%.3f\n", n_calls, n_answered, (double) (now_usec() - t0) / 1e6);
        if (n_answered != n_calls)
                ret = 1;

        for (unsigned i = 0; i < n_buses; i++)
                sd_bus_flush_close_unref(buses[i]);
        sd_event_unref(event);
        for (unsigned i = 0; i < n_calls; i++)
                free(calls[i].option);
        free(calls);
        return ret;
}
