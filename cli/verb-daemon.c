/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The verbs that only ask smapsauditd: status, findings, watch, sweep. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bus-client.h"
#include "cli.h"
#include "findings.h"
#include "macro.h"
#include "output.h"
#include "time-util.h"

#define SWEEP_POLL_USEC 500000

static void print_usec(const char *label, uint64_t usec) {
        time_t t = (time_t) (usec / 1000000);
        char buf[64];

        if (usec == 0) {
                printf("%s never\n", label);
                return;
        }
        strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", localtime(&t));
        printf("%s %s\n", label, buf);
}

static int status_json(const BusStatus *st) {
        struct json_object *o = json_object_new_object();
        int r;

        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "version", json_object_new_string(st->version ?: ""));
        json_object_object_add(o, "kernel", json_object_new_string(st->kernel_release ?: ""));
        json_object_object_add(o, "status", json_object_new_string(st->status_text ?: ""));
        json_object_object_add(o, "last_sweep_usec", json_object_new_uint64(st->last_sweep_usec));
        json_object_object_add(o, "processes_audited", json_object_new_uint64(st->sweep_processes_audited));
        json_object_object_add(o, "findings", json_object_new_uint64(st->sweep_findings));
        json_object_object_add(o, "sweep_usec", json_object_new_uint64(st->sweep_usec));
        json_object_object_add(o, "sweep_cpu_usec", json_object_new_uint64(st->sweep_cpu_usec));
        json_object_object_add(o, "interval_usec", json_object_new_uint64(st->sweep_interval_usec));
        json_object_object_add(o, "covered", json_object_new_boolean(st->sweep_covered));
        r = output_json(o);
        json_object_put(o);
        return r;
}

int verb_status(void) {
        BusStatus st = {};
        int r = bus_status(&st);

        if (r < 0)
                return bus_failed(r, "status", NULL);
        if (arg.json != JSON_OFF)
                r = status_json(&st);
        else {
                printf("smapsauditd %s on kernel %s\n  %s\n", st.version, st.kernel_release, st.status_text);
                print_usec("  last sweep:", st.last_sweep_usec);
                printf("  processes audited: %" PRIu64 "\n  findings: %" PRIu64 "\n  sweep time: %.3f s (CPU %.3f s)\n"
                       "  interval: %" PRIu64 " s\n  covered all processes: %s\n",
                       st.sweep_processes_audited, st.sweep_findings, st.sweep_usec / 1e6, st.sweep_cpu_usec / 1e6,
                       st.sweep_interval_usec / 1000000, st.sweep_covered ? "yes" : "no (CPU budget)");
        }
        bus_status_done(&st);
        return r < 0 ? EXIT_TROUBLE : 0;
}

int verb_findings(void) {
        _cleanup_free_ char *out = NULL;
        struct json_object *all, *selected = NULL;
        FindingTable t = {};
        int r;

        r = bus_findings(arg.since_usec, &out);
        if (r < 0)
                return bus_failed(r, "findings", NULL);
        all = json_tokener_parse(out);
        if (!all || !json_object_is_type(all, json_type_array)) {
                json_object_put(all);
                fprintf(stderr, "smapsaudit: findings: the daemon's answer is not a JSON array\n");
                return EXIT_TROUBLE;
        }

        r = 0;
        if (arg.json != JSON_OFF && !(selected = json_object_new_array()))
                r = -ENOMEM;
        for (size_t i = 0; r >= 0 && i < json_object_array_length(all); i++) {
                struct json_object *f = json_object_array_get_idx(all, i);

                if (!finding_selected(f))
                        continue;
                if (selected)
                        r = json_object_array_add(selected, json_object_get(f));
                else
                        r = finding_table_add(&t, f);
        }
        if (r >= 0) {
                pager_open();
                if (selected)
                        r = output_json(selected);
                else {
                        finding_table_sort(&t);
                        if (t.n_rows > 0)
                                finding_table_print(&t, stdout, arg.legend, output_color());
                        if (arg.legend)
                                printf("%s%zu finding%s listed.\n", t.n_rows ? "\n" : "", t.n_rows,
                                       t.n_rows == 1 ? "" : "s");
                }
        }
        finding_table_done(&t);
        json_object_put(selected);
        json_object_put(all);
        if (r < 0) {
                fprintf(stderr, "smapsaudit: findings: %s\n", strerror(-r));
                return EXIT_TROUBLE;
        }
        return 0;
}

static int on_finding(void *userdata, const char *json) {
        FindingTable *t = userdata;
        struct json_object *f;
        int r = 0;

        f = json_tokener_parse(json);
        if (!f)
                return 0;   /* not ours to fail on a malformed signal */
        if (finding_selected(f)) {
                if (arg.json != JSON_OFF)
                        r = output_json(f);
                else {
                        r = finding_table_add(t, f);
                        if (r >= 0)
                                finding_table_flush(t, stdout, output_color());
                }
                fflush(stdout);
        }
        json_object_put(f);
        return r < 0 ? r : 0;
}

int verb_watch(void) {
        FindingTable t;
        int r;

        /* The bus policy withholds Finding signals from everyone but root: say so now rather
         * than wait for ever. Elsewhere (-H, -M) the remote side decides who we are. */
        if (!arg.host && !arg.machine && geteuid() != 0) {
                fprintf(stderr, "smapsaudit: watch: only root receives findings as they are raised (the bus "
                                "policy withholds them from other users); run 'sudo smapsaudit watch', or "
                                "'smapsaudit findings --since 600' for the findings about your own processes\n");
                return EXIT_TROUBLE;
        }

        finding_table_init_streaming(&t, !arg.host && !arg.machine);
        if (arg.json == JSON_OFF && arg.legend) {
                finding_table_print(&t, stdout, true, output_color());
                fflush(stdout);
        }
        r = bus_watch(on_finding, &t);
        finding_table_done(&t);
        return r < 0 ? bus_failed(r, "watch", NULL) : 0;
}

/* A sweep asked for while the kernel's probe runs starts when the probe ends. */
static bool sweeping(const BusStatus *st) {
        return st->status_text && (startswith(st->status_text, "Sweeping") || startswith(st->status_text, "Listing") ||
                                   startswith(st->status_text, "Probing"));
}

/* Until a sweep that ended after `after` is the daemon's last: its state on a terminal
 * meanwhile, with the time waited, since a sweep of every process takes minutes. */
static int wait_for_sweep(uint64_t after_usec, uint64_t started_usec) {
        bool tty = isatty(STDERR_FILENO);
        int r;

        for (;;) {
                BusStatus st = {};
                bool done;

                r = bus_status(&st);
                if (r < 0)
                        return bus_failed(r, "sweep", NULL);
                done = st.last_sweep_usec > after_usec && !sweeping(&st);
                if (tty && !done)
                        fprintf(stderr, "\r\033[K%s (%" PRIu64 " s)", st.status_text ?: "",
                                (now_usec(CLOCK_MONOTONIC) - started_usec) / 1000000);
                bus_status_done(&st);
                if (done)
                        break;
                if (arg.wait_sec && now_usec(CLOCK_MONOTONIC) - started_usec >= arg.wait_sec * UINT64_C(1000000)) {
                        fprintf(stderr, "%ssmapsaudit: sweep: still running after %u s; see smapsaudit status\n",
                                tty ? "\r\033[K" : "", arg.wait_sec);
                        return EXIT_TROUBLE;
                }
                usleep(SWEEP_POLL_USEC);
        }
        if (tty)
                fputs("\r\033[K", stderr);
        return verb_status();
}

int verb_sweep(void) {
        uint64_t before = 0, started = now_usec(CLOCK_MONOTONIC);
        int r;

        if (arg.wait) {
                BusStatus st = {};

                r = bus_status(&st);
                if (r < 0)
                        return bus_failed(r, "sweep", NULL);
                before = st.last_sweep_usec;
                bus_status_done(&st);
        }
        r = bus_sweep();
        if (r == -EACCES) {
                fprintf(stderr, "smapsaudit: sweep: only root may start a sweep; run 'sudo smapsaudit sweep'\n");
                return EXIT_TROUBLE;
        }
        if (r < 0)
                return bus_failed(r, "sweep", NULL);
        if (arg.wait)
                return wait_for_sweep(before, started);
        fprintf(stderr, "Sweep started; see smapsaudit status, or wait for it with sweep --wait.\n");
        return 0;
}
