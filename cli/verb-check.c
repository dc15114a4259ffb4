/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The verbs that audit: check (through smapsauditd or in this process),
 * capture and ksm (always in this process).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "bus-client.h"
#include "cli.h"
#include "macro.h"
#include "output.h"
#include "select.h"
#include "smapsaudit.h"
#include "time-util.h"

#define PROGRESS_INTERVAL_USEC 200000

/* Pages walked of the pages to walk, on a terminal, for audits that take long enough to wonder:
 * a pass over a large process takes seconds. The library's report, in this process or (through
 * the daemon's CheckProgress signals) in smapsauditd. The line stays up between walks, while the
 * views are read again, until the audit ends (progress_end). */
static struct {
        uint64_t due_usec;
        bool shown;
} progress_line;

static void show_status(const char *text) {
        /* a pager owns the terminal now: a status line would land in the middle of its screen */
        if (pager_active())
                return;
        fprintf(stderr, "\r%s\033[K", text);
        progress_line.shown = true;
}

static int progress(_unused_ void *userdata, pid_t pid, unsigned pass, uint64_t done, uint64_t total) {
        uint64_t now = now_usec(CLOCK_MONOTONIC);
        char text[128];

        if (total == 0 || now < progress_line.due_usec)
                return 0;
        snprintf(text, sizeof(text), "PID %d: pass %u, %.1f of %.1f MiB walked (%" PRIu64 "%%)", (int) pid,
                 pass + 1, done / 256.0, total / 256.0, done * 100 / total);
        show_status(text);
        progress_line.due_usec = now + PROGRESS_INTERVAL_USEC;
        return 0;
}

/* Quick audits show nothing. */
static void progress_begin(void) {
        progress_line.due_usec = now_usec(CLOCK_MONOTONIC) + PROGRESS_INTERVAL_USEC;
}

static void progress_end(void) {
        if (progress_line.shown)
                fputs("\r\033[K", stderr);
        progress_line.shown = false;
}

/* The library's messages: what a long wait waits for (LOG_NOTICE) as the status line on a
 * terminal, the rest as lines from `shown` (a LOG_ priority) up. */
static void cli_log(void *userdata, int priority, const char *msg) {
        int shown = *(const int *) userdata;

        if (priority == LOG_NOTICE && isatty(STDERR_FILENO) && priority > shown) {
                show_status(msg);
                return;
        }
        if (priority > shown)
                return;
        progress_end();
        fprintf(stderr, "smapsaudit: %s\n", msg);
}

static int make_ctx(int shown, struct smapsaudit_ctx **ret) {
        static int log_shown;
        struct smapsaudit_ctx *ctx;
        int r;

        r = smapsaudit_ctx_new(&ctx);
        if (r < 0)
                return r;
        /* failures come back with context through smapsaudit_ctx_get_error() */
        log_shown = arg.verbose ? LOG_DEBUG : shown;
        smapsaudit_ctx_set_log_fn(ctx, cli_log, &log_shown);
        smapsaudit_ctx_set_log_priority(ctx, MAX(log_shown, LOG_NOTICE));
        if ((arg.proc_root && (r = smapsaudit_ctx_set_proc_root(ctx, arg.proc_root)) < 0) ||
            (arg.sys_root && (r = smapsaudit_ctx_set_sys_root(ctx, arg.sys_root)) < 0)) {
                smapsaudit_ctx_unref(ctx);
                return r;
        }
        *ret = ctx;
        return 0;
}

static unsigned report_flags(void) {
        unsigned f = arg.json == JSON_PRETTY ? SMAPSAUDIT_REPORT_PRETTY : 0;

        if (arg.all_vmas)
                f |= SMAPSAUDIT_REPORT_ALL_VMAS;
        if (output_color())
                f |= SMAPSAUDIT_REPORT_COLOR;
        return f;
}

static int report_exit_status(const struct smapsaudit_report *rep) {
        if (smapsaudit_report_get_error(rep))
                return EXIT_TROUBLE;
        return smapsaudit_verdict_to_exit_status(smapsaudit_report_get_verdict(rep));
}

static void print_summary(const struct smapsaudit_report *rep) {
        size_t n = smapsaudit_report_get_n_findings(rep);
        const char *error = smapsaudit_report_get_error(rep);

        printf("PID %d (%s): %s", (int) smapsaudit_report_get_pid(rep), smapsaudit_report_get_comm(rep),
               smapsaudit_verdict_to_string(smapsaudit_report_get_verdict(rep)));
        if (error)
                printf(" (%s)\n", error);
        else
                printf(", %zu finding%s, Rss %" PRIu64 " kB\n", n, n == 1 ? "" : "s",
                       smapsaudit_report_get_rss_kb(rep));
}

/* A report as text, or added to the JSON array that several PIDs make. */
static int output_report(struct smapsaudit_report *rep, bool summary, struct json_object *array) {
        if (arg.json != JSON_OFF && !array) {
                pager_open();
                /* written as it is made: a report of tens of thousands of VMAs runs to 100 MB and more;
                 * as with text, a reader that went away (-EIO) does not change the exit status */
                if (smapsaudit_report_write_json(rep, report_flags(), stdout) == -ENOMEM)
                        return EXIT_TROUBLE;
                putchar('\n');
        } else if (arg.json != JSON_OFF) {
                _cleanup_free_ char *json = NULL;
                struct json_object *o;

                if (smapsaudit_report_to_json(rep, report_flags(), &json) < 0)
                        return EXIT_TROUBLE;
                o = json_tokener_parse(json);
                if (!o || json_object_array_add(array, o) < 0) {
                        json_object_put(o);
                        return EXIT_TROUBLE;
                }
        } else if (summary)
                print_summary(rep);
        else {
                pager_open();
                smapsaudit_report_print_text(rep, stdout, report_flags());
        }
        return report_exit_status(rep);
}

/* Why the last check failed, for the JSON document that says so (output_json_failure). */
static char failure[600];

static int check_local(struct smapsaudit_ctx *ctx, pid_t pid, struct smapsaudit_report **ret) {
        struct smapsaudit_audit_opts opts = {
                .flags = (arg.freeze ? SMAPSAUDIT_AUDIT_FREEZE : 0) |
                         (arg.freeze_auto ? SMAPSAUDIT_AUDIT_FREEZE_AUTO : 0) |
                         (arg.no_scan ? SMAPSAUDIT_AUDIT_NO_SCAN : 0) | (arg.fast ? SMAPSAUDIT_AUDIT_FAST : 0),
                .max_passes = arg.passes,
                .progress = isatty(STDERR_FILENO) ? progress : NULL,
        };
        int r;

        progress_begin();
        r = smapsaudit_audit_pid(ctx, pid, &opts, ret);
        progress_end();
        if (r < 0 && smapsaudit_ctx_get_error(ctx))
                snprintf(failure, sizeof(failure), "%s", smapsaudit_ctx_get_error(ctx));
        else if (r < 0)
                snprintf(failure, sizeof(failure), "PID %d: %s", (int) pid, audit_error(r));
        if (r < 0)
                fprintf(stderr, "smapsaudit: %s\n", failure);
        return r;
}

static bool options_beyond_default(void) {
        return arg.freeze || arg.no_scan || arg.fast || arg.passes;
}

static int check_bus(pid_t pid, struct smapsaudit_report **ret) {
        _cleanup_free_ char *json = NULL, *msg = NULL;
        BusCheckOptions o = {
                .freeze = arg.freeze,
                .no_scan = arg.no_scan,
                .fast = arg.fast,
                .passes = arg.passes,
                .progress = isatty(STDERR_FILENO) ? progress : NULL,
        };
        int r;

        progress_begin();
        r = bus_check(pid, &o, &json, &msg);
        progress_end();
        if (r < 0) {
                if (bus_error_is_unreachable(r)) {
                        snprintf(failure, sizeof(failure), "smapsauditd is not reachable on the system bus (%s)",
                                 msg ?: strerror(-r));
                        (void) bus_failed(r, "check", msg);
                        return r;
                }
                snprintf(failure, sizeof(failure), "PID %d: %s", (int) pid, msg ?: audit_error(r));
                fprintf(stderr, "smapsaudit: %s\n", failure);
                /* The daemon decides from the bus's credentials what a caller may ask of it; in
                 * this process the kernel decides, with the caller's own rights. */
                if ((r == -EACCES && options_beyond_default()) || r == -EINVAL)
                        fprintf(stderr, "smapsaudit: the daemon refused these options for this caller; "
                                        "'smapsaudit check --local' audits in this process instead\n");
                return r;
        }
        r = smapsaudit_report_from_json(json, ret);
        if (r < 0) {
                snprintf(failure, sizeof(failure), "PID %d: the daemon's report could not be read: %s", (int) pid,
                         strerror(-r));
                fprintf(stderr, "smapsaudit: %s\n", failure);
        }
        return r;
}

int verb_check(int argc, char *argv[]) {
        _cleanup_free_ pid_t *pids = NULL;
        struct smapsaudit_ctx *ctx = NULL;
        struct json_object *array = NULL;
        bool local = arg.local || arg.proc_root || arg.sys_root, by_name = arg.comm || arg.unit;
        size_t n = 0;
        int worst = 0, r;

        if (by_name && argc > 0) {
                fprintf(stderr, "smapsaudit: check takes PIDs, or --comm/--unit, not both\n");
                return EXIT_TROUBLE;
        }
        if (by_name) {
                r = select_processes(arg.comm, arg.unit, &pids, &n);
                if (r < 0)
                        return EXIT_TROUBLE;
                if (n == 0) {
                        fprintf(stderr, "smapsaudit: no process matches%s%s%s%s\n", arg.comm ? " --comm " : "",
                                arg.comm ?: "", arg.unit ? " --unit " : "", arg.unit ?: "");
                        return EXIT_TROUBLE;
                }
        } else {
                if (argc < 1) {
                        fprintf(stderr, "smapsaudit: check needs at least one PID, or --comm/--unit\n");
                        return EXIT_TROUBLE;
                }
                pids = calloc(argc, sizeof(pid_t));
                if (!pids)
                        return EXIT_TROUBLE;
                for (n = 0; n < (size_t) argc; n++)
                        if (parse_pid(argv[n], &pids[n]) < 0)
                                return EXIT_TROUBLE;
        }

        /* the daemon's Check has no such mode: its callers are not root, and its sweeps never stop anyone */
        if (arg.freeze_auto && !local) {
                fprintf(stderr, "smapsaudit: --freeze=auto audits in this process: add --local\n");
                return EXIT_TROUBLE;
        }
        if (local) {
                r = make_ctx(LOG_ERR, &ctx);
                if (r < 0) {
                        fprintf(stderr, "smapsaudit: %s\n", strerror(-r));
                        return EXIT_TROUBLE;
                }
        }
        if (arg.json != JSON_OFF && n > 1 && !(array = json_object_new_array()))
                return EXIT_TROUBLE;

        for (size_t i = 0; i < n; i++) {
                struct smapsaudit_report *rep = NULL;
                int st;

                failure[0] = 0;
                r = local ? check_local(ctx, pids[i], &rep) : check_bus(pids[i], &rep);
                if (r < 0) {
                        if (arg.json != JSON_OFF && !array)
                                output_json_failure("smapsaudit.report/1", pids[i], "inconclusive",
                                                    failure[0] ? failure : audit_error(r));
                        if (bus_error_is_unreachable(r)) {
                                worst = EXIT_TROUBLE;
                                break;
                        }
                        st = EXIT_TROUBLE;
                } else {
                        st = output_report(rep, by_name, array);
                        smapsaudit_report_unref(rep);
                }
                worst = exit_status_worst(worst, st);
                fflush(stdout);
        }
        if (array) {
                pager_open();
                if (output_json(array) < 0)
                        worst = EXIT_TROUBLE;
                json_object_put(array);
        }
        smapsaudit_ctx_unref(ctx);
        return worst;
}

int verb_capture(int argc, char *argv[]) {
        struct smapsaudit_audit_opts opts = {
                .flags = (arg.freeze ? SMAPSAUDIT_AUDIT_FREEZE : 0) | (arg.freeze_auto ? SMAPSAUDIT_AUDIT_FREEZE_AUTO : 0),
        };
        struct smapsaudit_ctx *ctx;
        struct stat st;
        bool existed;
        pid_t pid;
        int r, k;

        if (argc != 1 || !arg.output) {
                fprintf(stderr, "smapsaudit: usage: capture PID -o DIR\n");
                return EXIT_TROUBLE;
        }
        if (parse_pid(argv[0], &pid) < 0)
                return EXIT_TROUBLE;
        /* a capture that could not settle says so: the replay may then disagree */
        r = make_ctx(LOG_WARNING, &ctx);
        if (r < 0)
                return EXIT_TROUBLE;
        existed = stat(arg.output, &st) >= 0;
        /* KSM page hashes first, read across ksmd's full scans; the files then are no older than they */
        k = smapsaudit_ksm_capture(ctx, pid, arg.output, &(struct smapsaudit_ksm_opts) { .max_wait_msec = arg.wait_sec * 1000 });
        progress_end();
        if (k < 0 && k != -ESRCH)
                fprintf(stderr, "smapsaudit: PID %d: no KSM page hashes in the capture (merge coverage cannot be "
                                "replayed): %s\n", (int) pid, strerror(-k));
        r = smapsaudit_capture_pid_opts(ctx, pid, arg.output, &opts);
        if (r < 0) {
                const char *why = smapsaudit_ctx_get_error(ctx);

                /* the library emptied it; one this command made goes too */
                if (!existed)
                        (void) rmdir(arg.output);
                fprintf(stderr, "smapsaudit: capture of PID %d into %s failed: %s\n", (int) pid, arg.output,
                        why ?: audit_error(r));
                smapsaudit_ctx_unref(ctx);
                return EXIT_TROUBLE;
        }
        smapsaudit_ctx_unref(ctx);
        /* pagemap is sparse with an apparent size of up to 256 GiB: copying it naively fills disks */
        fprintf(stderr, "Captured PID %d into %s; replay with:\n  smapsaudit check --local --proc-root %s/proc --sys-root %s/sys %d\n"
                        "Its pagemap is a sparse file: copy it with cp --sparse=always or tar --sparse, never plainly.\n",
                (int) pid, arg.output, arg.output, arg.output, (int) pid);
        return 0;
}

int verb_ksm(int argc, char *argv[]) {
        struct smapsaudit_ksm_opts opts = {
                .flags = (arg.coverage ? SMAPSAUDIT_KSM_COVERAGE : 0) |
                         (arg.json == JSON_PRETTY ? SMAPSAUDIT_KSM_PRETTY : arg.json == JSON_OFF ? SMAPSAUDIT_KSM_TEXT : 0),
                .max_pages = arg.max_pages,
                .max_wait_msec = arg.wait_sec * 1000,
        };
        struct smapsaudit_ctx *ctx;
        pid_t pid = arg.pid;
        _cleanup_free_ char *out = NULL;
        size_t len;
        int r;

        if (argc > 1 || (argc == 1 && (pid || parse_pid(argv[0], &pid) < 0))) {
                fprintf(stderr, "smapsaudit: usage: ksm [--pid PID] [--coverage] [--json]\n");
                return EXIT_TROUBLE;
        }
        r = make_ctx(LOG_ERR, &ctx);
        if (r < 0) {
                fprintf(stderr, "smapsaudit: %s\n", strerror(-r));
                return EXIT_TROUBLE;
        }
        r = smapsaudit_ksm_check_opts(ctx, pid, &opts, &out);
        progress_end();
        if (r < 0) {
                if (r == -EOPNOTSUPP)
                        snprintf(failure, sizeof(failure), "this kernel has no KSM (no /sys/kernel/mm/ksm)");
                else if (smapsaudit_ctx_get_error(ctx))
                        snprintf(failure, sizeof(failure), "%s", smapsaudit_ctx_get_error(ctx));
                else if (pid)
                        snprintf(failure, sizeof(failure), "PID %d: %s", (int) pid, audit_error(r));
                else
                        snprintf(failure, sizeof(failure), "ksm: %s", audit_error(r));
                smapsaudit_ctx_unref(ctx);
                fprintf(stderr, "smapsaudit: %s\n", failure);
                if (arg.json != JSON_OFF)
                        output_json_failure("smapsaudit.ksm/1", pid, "inconclusive", failure);
                return EXIT_TROUBLE;
        }
        smapsaudit_ctx_unref(ctx);
        pager_open();
        len = strlen(out);
        fputs(out, stdout);
        if (len == 0 || out[len - 1] != '\n')
                fputc('\n', stdout);
        return smapsaudit_verdict_to_exit_status((enum smapsaudit_verdict) r);
}
