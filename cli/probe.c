/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * smapsaudit probe: options in, probe/ run, output out. Which bugs there are, how each is
 * provoked and judged, lives in probe/.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <json-c/json.h>

#include "bus-client.h"
#include "cli.h"
#include "macro.h"
#include "probe-verb.h"
#include "probe.h"
#include "smapsaudit.h"

static void probe_help(void) {
        printf("Usage: smapsaudit probe [--json] [--allow-knobs] [--only BUG...]\n"
               "       smapsaudit probe --report BUG [--allow-knobs]\n"
               "       smapsaudit probe --daemon [--json]\n"
               "       smapsaudit probe --list\n"
               "\n"
               "Provoke each catalogued kernel accounting bug in a child process, audit it, and say\n"
               "whether this kernel has it: present, absent or not-testable (with the reason).\n"
               "\n"
               "  -j --json          JSON output (schema smapsaudit.probe/1)\n"
               "     --only BUG...   only these bugs (ids as --list prints them)\n"
               "     --list          the catalogue\n"
               "     --allow-knobs   switch THP, NUMA balancing and ksmd on where a probe needs it\n"
               "                     (restored at the end, whatever ends the probe)\n"
               "     --report BUG    probe BUG and print a report for the kernel's mm list\n"
               "     --daemon        what smapsauditd's probe of the running kernel found\n"
               "                     (ProbeOnBoot=): no probe here, any user may ask\n"
               "\n"
               "Exit status: 0 no bug present, 1 a bug present, 2 trouble.\n");
}

/*
 * Where systemd runs, the probe and its shapes go to a transient scope of their own, so that
 * their memory and CPU are accounted apart from the shell or service that started them, and at
 * a low CPU weight. Without systemd, or when the manager refuses, the probe runs where it is.
 */
static void enter_scope(void) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *m = NULL, *reply = NULL;
        sd_bus *bus = NULL;
        char name[64];
        int r;

        if (sd_booted() <= 0)
                return;
        snprintf(name, sizeof(name), "smapsaudit-probe-%d.scope", (int) getpid());
        r = sd_bus_open_system(&bus);
        if (r >= 0)
                r = sd_bus_message_new_method_call(bus, &m, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                                   "org.freedesktop.systemd1.Manager", "StartTransientUnit");
        if (r >= 0)
                r = sd_bus_message_append(m, "ssa(sv)a(sa(sv))", name, "fail", 4,
                                          "PIDs", "au", 1, (uint32_t) getpid(),
                                          "Description", "s", "smapsaudit probe",
                                          "CPUWeight", "t", (uint64_t) 20,
                                          "CollectMode", "s", "inactive-or-failed", 0);
        if (r >= 0)
                r = sd_bus_call(bus, m, 0, &error, &reply);
        if (r < 0)
                fprintf(stderr, "smapsaudit: probe: runs outside a scope of its own (%s: %s)\n", name,
                        error.message ?: strerror(-r));
        sd_bus_error_free(&error);
        sd_bus_message_unref(reply);
        sd_bus_message_unref(m);
        sd_bus_flush_close_unref(bus);
}

/* The daemon's probe, printed as a local one is; its exit status too. */
static int daemon_probe(bool json) {
        _cleanup_free_ char *doc = NULL, *message = NULL;
        struct probe_result *res = NULL;
        int r, st;

        r = bus_probe(&doc, &message);
        if (r < 0)
                return bus_failed(r, "probe", message);
        r = probe_result_from_json(doc, &res);
        if (r < 0) {
                fprintf(stderr, "smapsaudit: probe: smapsauditd's answer is not a %s document: %s\n", PROBE_SCHEMA,
                        strerror(-r));
                return EXIT_TROUBLE;
        }
        if (json) {
                struct json_object *o = json_tokener_parse(doc);

                puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED));
                json_object_put(o);
        } else
                (void) probe_result_print_text(res, stdout);
        st = probe_result_exit_status(res);
        probe_result_free(res);
        return st;
}

static int list_bugs(bool json) {
        struct json_object *o, *bugs;

        if (!json) {
                for (size_t i = 0; i < probe_n_bugs(); i++) {
                        const struct probe_bug *b = probe_bug_by_index(i);
                        printf("%-14s #%u %s\n  fixed by %s\n", b->id, b->number, b->title, b->fixed);
                }
                return 0;
        }
        o = json_object_new_object();
        bugs = json_object_new_array();
        if (!o || !bugs) {
                json_object_put(o);
                json_object_put(bugs);
                return EXIT_TROUBLE;
        }
        json_object_object_add(o, "schema", json_object_new_string(PROBE_SCHEMA));
        for (size_t i = 0; i < probe_n_bugs(); i++) {
                const struct probe_bug *b = probe_bug_by_index(i);
                struct json_object *e = json_object_new_object();

                json_object_object_add(e, "id", json_object_new_string(b->id));
                json_object_object_add(e, "number", json_object_new_int(b->number));
                json_object_object_add(e, "title", json_object_new_string(b->title));
                json_object_object_add(e, "introduced", json_object_new_string(b->introduced ?: ""));
                json_object_object_add(e, "fixed", json_object_new_string(b->fixed ?: ""));
                json_object_object_add(e, "affects", json_object_new_string(b->affects ?: ""));
                json_object_array_add(bugs, e);
        }
        json_object_object_add(o, "catalogue", bugs);
        puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                       JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return 0;
}

int verb_probe(int argc, char *argv[], bool json) {
        enum { ARG_ONLY = 0x100, ARG_LIST, ARG_ALLOW_KNOBS, ARG_REPORT, ARG_DAEMON };
        static const struct option options[] = {
                { "json", no_argument, NULL, 'j' },
                { "only", no_argument, NULL, ARG_ONLY },
                { "list", no_argument, NULL, ARG_LIST },
                { "allow-knobs", no_argument, NULL, ARG_ALLOW_KNOBS },
                { "report", required_argument, NULL, ARG_REPORT },
                { "daemon", no_argument, NULL, ARG_DAEMON },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        struct smapsaudit_ctx *ctx = NULL;
        struct probe_result *res = NULL;
        const char *report = NULL;
        char *report_only[1] = {};
        unsigned flags = 0;
        bool only = false, list = false, daemon = false;
        int c, r, st;

        optind = 0;
        opterr = 0;     /* getopt would name "probe", not smapsaudit */
        while ((c = getopt_long(argc, argv, "jh", options, NULL)) >= 0)
                switch (c) {
                case 'j': json = true; break;
                case ARG_ONLY: only = true; break;
                case ARG_LIST: list = true; break;
                case ARG_ALLOW_KNOBS: flags |= PROBE_ALLOW_KNOBS; break;
                case ARG_REPORT: report = report_only[0] = optarg; break;
                case ARG_DAEMON: daemon = true; break;
                case 'h': probe_help(); return 0;
                default:
                        fprintf(stderr, "smapsaudit: probe: unknown option or missing argument: %s\n", argv[optind - 1]);
                        return EXIT_TROUBLE;
                }
        argc -= optind;
        argv += optind;
        if (list)
                return list_bugs(json);
        if ((argc > 0 && !only) || (only && argc == 0) || (report && (only || json)) ||
            (daemon && (only || report || flags))) {
                fprintf(stderr, "smapsaudit: usage: probe [--json] [--allow-knobs] [--only BUG...] | --report BUG | "
                        "--daemon [--json] | --list\n");
                return EXIT_TROUBLE;
        }
        if (daemon)
                return daemon_probe(json);
        if (report) {
                argv = report_only;
                argc = 1;
        }
        for (int i = 0; i < argc; i++)
                if (!probe_bug_by_id(argv[i])) {
                        fprintf(stderr, "smapsaudit: probe: no bug '%s' in the catalogue (see smapsaudit probe --list)\n",
                                argv[i]);
                        return EXIT_TROUBLE;
                }
        r = smapsaudit_ctx_new(&ctx);
        if (r < 0) {
                fprintf(stderr, "smapsaudit: %s\n", strerror(-r));
                return EXIT_TROUBLE;
        }
        smapsaudit_ctx_set_log_priority(ctx, LOG_ERR);
        enter_scope();
        r = probe_run(ctx, flags, (const char *const *) argv, (size_t) argc, &res);
        smapsaudit_ctx_unref(ctx);
        if (r < 0) {
                fprintf(stderr, "smapsaudit: probe: %s\n", strerror(-r));
                return EXIT_TROUBLE;
        }
        if (report)
                r = probe_result_print_bug_report(res, report, stdout);
        else if (json) {
                char *s = NULL;
                r = probe_result_to_json(res, true, &s);
                if (r >= 0)
                        printf("%s\n", s);
                free(s);
        } else
                r = probe_result_print_text(res, stdout);
        st = r < 0 ? EXIT_TROUBLE : probe_result_exit_status(res);
        probe_result_free(res);
        return st;
}
