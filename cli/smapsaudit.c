/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * smapsaudit: verbs in, library or bus calls, output out. No accounting
 * logic lives here; reports come from libsmapsaudit, in-process with
 * --local or from smapsauditd over D-Bus.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "bus-client.h"
#include "parse-number.h"
#include "probe-verb.h"
#include "smapsaudit.h"

#define _unused_ __attribute__((unused))

#define EXIT_TROUBLE 2
#define USEC_PER_SEC UINT64_C(1000000)

static struct {
        bool local;
        bool json;
        bool freeze;
        bool all_vmas;
        bool no_scan;
        bool fast;
        bool verbose;
        bool color;
        unsigned passes;
        const char *proc_root;
        const char *sys_root;
        const char *output;
        uint64_t since_usec;
        pid_t ksm_pid;
        bool coverage;
        unsigned wait_sec;
        uint64_t max_pages;
} arg = { .color = true };

static void help(void) {
        printf("Usage: smapsaudit [OPTIONS] COMMAND ...\n"
               "\n"
               "Recompute a process's memory accounting from pagemap, kpageflags and kpagecount\n"
               "and report where /proc/PID/smaps, smaps_rollup, status and numa_maps disagree.\n"
               "\n"
               "Commands:\n"
               "  check PID...          audit processes (through smapsauditd, or --local)\n"
               "  capture PID -o DIR    copy a process's accounting state for offline replay\n"
               "  status                the daemon's state and sweep statistics\n"
               "  findings [--since T]  findings the daemon recorded (T: seconds ago, or @epoch)\n"
               "  watch                 follow the daemon's findings as they are raised\n"
               "  sweep                 ask the daemon to sweep all processes now\n"
               "  ksm [--pid PID] [--coverage]\n"
               "                        check KSM's counters against each other and the page tables\n"
               "                        (all processes, or one); --coverage: identical pages left unmerged\n"
               "  probe [--only BUG...] [--allow-knobs] [--report BUG] [--list]\n"
               "                        which catalogued kernel accounting bugs this kernel has\n"
               "  help                  this help\n"
               "\n"
               "Options:\n"
               "  -l --local            audit in this process instead of asking smapsauditd\n"
               "  -j --json             JSON output (schema smapsaudit.report/1)\n"
               "     --freeze           stop the target's threads during the audit (ptrace)\n"
               "  -a --all-vmas         show every VMA, not only those that disagree\n"
               "     --fast             fast tier: PAGEMAP_SCAN regions only (Rss, Anonymous, THP, swap exact)\n"
               "     --no-scan          read pagemap instead of using PAGEMAP_SCAN\n"
               "     --passes N         sandwich passes before giving up as inconclusive (default 5)\n"
               "     --proc-root DIR    read procfs below DIR (a live /proc or a capture)\n"
               "     --sys-root DIR     read sysfs below DIR\n"
               "  -o --output DIR       capture: where to write\n"
               "     --pid PID          ksm: one process instead of the whole system\n"
               "     --coverage         ksm: read the pages of mergeable VMAs twice, two full scans apart\n"
               "     --wait SEC         ksm, capture: the longest wait for ksmd's full scans (default 60, 30)\n"
               "     --max-pages N      ksm: pages walked, and pages hashed, per run\n"
               "     --no-color         no colors in text output\n"
               "  -v --verbose          log what the library does to stderr\n"
               "  -h --help             this help\n"
               "     --version          the version\n"
               "\n"
               "Exit status: 0 consistent, 1 a discrepancy was found, 2 trouble, 3 inconclusive.\n"
               "See smapsaudit(1).\n");
}

static int parse_pid(const char *s, pid_t *ret);

/* An option's number, from min to max; what it should have been when it is not. */
static int parse_number_arg(const char *option, const char *value, uint64_t min, uint64_t max, const char *what,
                            uint64_t *ret) {
        if (parse_u64_range(value, min, max, ret) < 0) {
                fprintf(stderr, "smapsaudit: %s takes %s, not '%s'\n", option, what, value);
                return -EINVAL;
        }
        return 0;
}

/* --since: seconds ago, or @ seconds since the epoch. */
static int parse_since(const char *value, uint64_t *ret_usec) {
        bool abs = value[0] == '@';
        uint64_t v, now = (uint64_t) time(NULL);

        if (parse_u64_range(value + abs, 0, UINT64_MAX / USEC_PER_SEC, &v) < 0) {
                fprintf(stderr, "smapsaudit: --since takes seconds ago or @EPOCH, not '%s'\n", value);
                return -EINVAL;
        }
        *ret_usec = (abs ? v : v < now ? now - v : 0) * USEC_PER_SEC;
        return 0;
}

static int parse_args(int argc, char *argv[], bool before_verb) {
        enum {
                ARG_FREEZE = 0x100, ARG_NO_SCAN, ARG_PASSES, ARG_PROC_ROOT, ARG_SYS_ROOT, ARG_NO_COLOR,
                ARG_VERSION, ARG_SINCE, ARG_FAST, ARG_PID, ARG_COVERAGE, ARG_WAIT, ARG_MAX_PAGES,
        };
        static const struct option options[] = {
                { "local", no_argument, NULL, 'l' },
                { "json", no_argument, NULL, 'j' },
                { "freeze", no_argument, NULL, ARG_FREEZE },
                { "all-vmas", no_argument, NULL, 'a' },
                { "no-scan", no_argument, NULL, ARG_NO_SCAN },
                { "fast", no_argument, NULL, ARG_FAST },
                { "passes", required_argument, NULL, ARG_PASSES },
                { "proc-root", required_argument, NULL, ARG_PROC_ROOT },
                { "sys-root", required_argument, NULL, ARG_SYS_ROOT },
                { "output", required_argument, NULL, 'o' },
                { "since", required_argument, NULL, ARG_SINCE },
                { "no-color", no_argument, NULL, ARG_NO_COLOR },
                { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "pid", required_argument, NULL, ARG_PID },
                { "coverage", no_argument, NULL, ARG_COVERAGE },
                { "wait", required_argument, NULL, ARG_WAIT },
                { "max-pages", required_argument, NULL, ARG_MAX_PAGES },
                {}
        };
        uint64_t v;
        int c;

        while ((c = getopt_long(argc, argv, before_verb ? "+ljao:vh" : "ljao:vh", options, NULL)) >= 0) {
                switch (c) {
                case 'l': arg.local = true; break;
                case 'j': arg.json = true; break;
                case ARG_FREEZE: arg.freeze = true; break;
                case 'a': arg.all_vmas = true; break;
                case ARG_NO_SCAN: arg.no_scan = true; break;
                case ARG_FAST: arg.fast = true; break;
                case ARG_PASSES:
                        if (parse_number_arg("--passes", optarg, 1, 100, "a number from 1 to 100", &v) < 0)
                                return -EINVAL;
                        arg.passes = (unsigned) v;
                        break;
                case ARG_PROC_ROOT: arg.proc_root = optarg; break;
                case ARG_SYS_ROOT: arg.sys_root = optarg; break;
                case 'o': arg.output = optarg; break;
                case ARG_SINCE:
                        if (parse_since(optarg, &arg.since_usec) < 0)
                                return -EINVAL;
                        break;
                case ARG_NO_COLOR: arg.color = false; break;
                case 'v': arg.verbose = true; break;
                case 'h': help(); exit(EXIT_SUCCESS);
                case ARG_VERSION: printf("smapsaudit %s\n", smapsaudit_version()); exit(EXIT_SUCCESS);
                case ARG_PID:
                        if (parse_pid(optarg, &arg.ksm_pid) < 0)
                                return -EINVAL;
                        break;
                case ARG_COVERAGE: arg.coverage = true; break;
                case ARG_WAIT:
                        if (parse_number_arg("--wait", optarg, 1, 86400, "a number of seconds from 1 to 86400", &v) < 0)
                                return -EINVAL;
                        arg.wait_sec = (unsigned) v;
                        break;
                case ARG_MAX_PAGES:
                        if (parse_number_arg("--max-pages", optarg, 1, UINT64_MAX, "a positive number", &arg.max_pages) < 0)
                                return -EINVAL;
                        break;
                default: return -EINVAL;
                }
        }
        return 0;
}

static int parse_pid(const char *s, pid_t *ret) {
        uint64_t v;

        if (parse_u64_range(s, 1, INT_MAX, &v) < 0) {
                fprintf(stderr, "smapsaudit: '%s' is not a process ID\n", s);
                return -EINVAL;
        }
        *ret = (pid_t) v;
        return 0;
}

static int make_ctx(struct smapsaudit_ctx **ret) {
        struct smapsaudit_ctx *ctx;
        int r;

        r = smapsaudit_ctx_new(&ctx);
        if (r < 0)
                return r;
        /* failures come back with context through smapsaudit_ctx_get_error() */
        smapsaudit_ctx_set_log_priority(ctx, arg.verbose ? LOG_DEBUG : LOG_ERR);
        if ((arg.proc_root && (r = smapsaudit_ctx_set_proc_root(ctx, arg.proc_root)) < 0) ||
            (arg.sys_root && (r = smapsaudit_ctx_set_sys_root(ctx, arg.sys_root)) < 0)) {
                smapsaudit_ctx_unref(ctx);
                return r;
        }
        *ret = ctx;
        return 0;
}

static int progress(_unused_ void *userdata, pid_t pid, unsigned pass, uint64_t done, uint64_t total) {
        if (total >= 64 && done % 64 == 0)
                fprintf(stderr, "\rPID %d: pass %u, %" PRIu64 "/%" PRIu64 " VMAs", (int) pid, pass + 1, done, total);
        else if (done == total && total >= 64)
                fprintf(stderr, "\r\033[K");
        return 0;
}

static const char *audit_error(int r) {
        switch (r) {
        case -ESRCH: return "no such process";
        case -ENODATA: return "a kernel thread: no address space to audit";
        case -EACCES:
        case -EPERM: return "permission denied (auditing another user's process needs root or CAP_SYS_PTRACE)";
        case -EBUSY: return "the process is already being traced; --freeze cannot stop it";
        default: return strerror(-r);
        }
}

static unsigned report_flags(void) {
        unsigned f = SMAPSAUDIT_REPORT_PRETTY;

        if (arg.all_vmas)
                f |= SMAPSAUDIT_REPORT_ALL_VMAS;
        if (arg.color && isatty(STDOUT_FILENO) && !getenv("NO_COLOR"))
                f |= SMAPSAUDIT_REPORT_COLOR;
        return f;
}

/*
 * Prints a report; returns its exit status. Several PIDs make a JSON
 * array of the reports there are: one that failed is on stderr only.
 */
static int output_report(struct smapsaudit_report *rep, bool array, unsigned *printed) {
        if (arg.json) {
                char *json;
                int r = smapsaudit_report_to_json(rep, report_flags(), &json);
                if (r < 0)
                        return EXIT_TROUBLE;
                printf("%s%s%s", array && *printed ? ",\n" : "", json, array ? "" : "\n");
                (*printed)++;
                free(json);
        } else
                smapsaudit_report_print_text(rep, stdout, report_flags());
        if (smapsaudit_report_get_error(rep))
                return EXIT_TROUBLE;
        return smapsaudit_verdict_to_exit_status(smapsaudit_report_get_verdict(rep));
}

static int check_local(struct smapsaudit_ctx *ctx, pid_t pid, struct smapsaudit_report **ret) {
        struct smapsaudit_audit_opts opts = {
                .flags = (arg.freeze ? SMAPSAUDIT_AUDIT_FREEZE : 0) | (arg.no_scan ? SMAPSAUDIT_AUDIT_NO_SCAN : 0) |
                         (arg.fast ? SMAPSAUDIT_AUDIT_FAST : 0),
                .max_passes = arg.passes,
                .progress = isatty(STDERR_FILENO) ? progress : NULL,
        };
        return smapsaudit_audit_pid(ctx, pid, &opts, ret);
}

static int check_bus(pid_t pid, struct smapsaudit_report **ret) {
        char *json = NULL, *msg = NULL;
        int r;

        r = bus_check(pid, arg.freeze, &json, &msg);
        if (r < 0) {
                if (bus_error_is_unreachable(r))
                        fprintf(stderr, "smapsaudit: smapsauditd is not reachable on the system bus (%s); "
                                        "start it (systemctl start smapsauditd) or use --local\n", msg ? msg : strerror(-r));
                else
                        fprintf(stderr, "smapsaudit: PID %d: %s\n", (int) pid, msg ? msg : audit_error(r));
                free(msg);
                return r;
        }
        r = smapsaudit_report_from_json(json, ret);
        if (r < 0)
                fprintf(stderr, "smapsaudit: PID %d: the daemon's report could not be read: %s\n", (int) pid, strerror(-r));
        free(json);
        return r;
}

static int verb_check(int argc, char *argv[]) {
        struct smapsaudit_ctx *ctx = NULL;
        int worst = 0, r;
        bool local = arg.local || arg.proc_root || arg.sys_root, array = arg.json && argc > 1;
        unsigned printed = 0;

        if (argc < 1) {
                fprintf(stderr, "smapsaudit: check needs at least one PID\n");
                return EXIT_TROUBLE;
        }
        for (int i = 0; i < argc; i++) {
                pid_t pid;
                if (parse_pid(argv[i], &pid) < 0)
                        return EXIT_TROUBLE;
        }
        if (local) {
                r = make_ctx(&ctx);
                if (r < 0) {
                        fprintf(stderr, "smapsaudit: %s\n", strerror(-r));
                        return EXIT_TROUBLE;
                }
        }
        if (array)
                fputs("[\n", stdout);
        for (int i = 0; i < argc; i++) {
                struct smapsaudit_report *rep = NULL;
                pid_t pid = 0;   /* parsed above already */
                int st;

                (void) parse_pid(argv[i], &pid);
                r = local ? check_local(ctx, pid, &rep) : check_bus(pid, &rep);
                if (r < 0) {
                        if (local && smapsaudit_ctx_get_error(ctx))
                                fprintf(stderr, "smapsaudit: %s\n", smapsaudit_ctx_get_error(ctx));
                        else if (local)
                                fprintf(stderr, "smapsaudit: PID %d: %s\n", (int) pid, audit_error(r));
                        st = EXIT_TROUBLE;
                } else {
                        st = output_report(rep, array, &printed);
                        smapsaudit_report_unref(rep);
                }
                /* the most serious outcome wins: trouble, then discrepancy, then inconclusive */
                if (st == EXIT_TROUBLE || (st == 1 && worst != EXIT_TROUBLE) || (st == 3 && worst == 0))
                        worst = st;
                fflush(stdout);
        }
        if (array)
                fputs(printed ? "\n]\n" : "]\n", stdout);
        smapsaudit_ctx_unref(ctx);
        return worst;
}

static int verb_capture(int argc, char *argv[]) {
        struct smapsaudit_ctx *ctx;
        pid_t pid;
        int r, k;

        if (argc != 1 || !arg.output) {
                fprintf(stderr, "smapsaudit: usage: capture PID -o DIR\n");
                return EXIT_TROUBLE;
        }
        if (parse_pid(argv[0], &pid) < 0)
                return EXIT_TROUBLE;
        r = make_ctx(&ctx);
        if (r < 0)
                return EXIT_TROUBLE;
        /* a capture that could not settle says so: the replay may then disagree */
        if (!arg.verbose)
                smapsaudit_ctx_set_log_priority(ctx, LOG_WARNING);
        /* KSM page hashes first, read across ksmd's full scans; the files then are no older than they */
        k = smapsaudit_ksm_capture(ctx, pid, arg.output, &(struct smapsaudit_ksm_opts) { .max_wait_msec = arg.wait_sec * 1000 });
        if (k < 0 && k != -ESRCH)
                fprintf(stderr, "smapsaudit: PID %d: no KSM page hashes in the capture (merge coverage cannot be "
                                "replayed): %s\n", (int) pid, strerror(-k));
        r = smapsaudit_capture_pid(ctx, pid, arg.output);
        smapsaudit_ctx_unref(ctx);
        if (r < 0) {
                fprintf(stderr, "smapsaudit: capture of PID %d into %s failed: %s\n", (int) pid, arg.output, audit_error(r));
                return EXIT_TROUBLE;
        }
        /* pagemap is sparse with an apparent size of up to 256 GiB: copying it naively fills disks */
        fprintf(stderr, "Captured PID %d into %s; replay with:\n  smapsaudit check --local --proc-root %s/proc --sys-root %s/sys %d\n"
                        "Its pagemap is a sparse file: copy it with cp --sparse=always or tar --sparse, never plainly.\n",
                (int) pid, arg.output, arg.output, arg.output, (int) pid);
        return 0;
}

static int verb_ksm(int argc, char *argv[]) {
        struct smapsaudit_ksm_opts opts = {
                .flags = (arg.coverage ? SMAPSAUDIT_KSM_COVERAGE : 0) | (arg.json ? SMAPSAUDIT_KSM_PRETTY : SMAPSAUDIT_KSM_TEXT),
                .max_pages = arg.max_pages,
                .max_wait_msec = arg.wait_sec * 1000,
        };
        struct smapsaudit_ctx *ctx;
        pid_t pid = arg.ksm_pid;
        char *out = NULL;
        size_t len;
        int r;

        if (argc > 1 || (argc == 1 && (pid || parse_pid(argv[0], &pid) < 0))) {
                fprintf(stderr, "smapsaudit: usage: ksm [--pid PID] [--coverage] [--json]\n");
                return EXIT_TROUBLE;
        }
        r = make_ctx(&ctx);
        if (r < 0) {
                fprintf(stderr, "smapsaudit: %s\n", strerror(-r));
                return EXIT_TROUBLE;
        }
        r = smapsaudit_ksm_check_opts(ctx, pid, &opts, &out);
        smapsaudit_ctx_unref(ctx);
        if (r < 0) {
                if (r == -EOPNOTSUPP)
                        fprintf(stderr, "smapsaudit: this kernel has no KSM (no /sys/kernel/mm/ksm)\n");
                else if (pid)
                        fprintf(stderr, "smapsaudit: PID %d: %s\n", (int) pid, audit_error(r));
                else
                        fprintf(stderr, "smapsaudit: ksm: %s\n", audit_error(r));
                return EXIT_TROUBLE;
        }
        len = strlen(out);
        fputs(out, stdout);
        if (len == 0 || out[len - 1] != '\n')
                fputc('\n', stdout);
        free(out);
        return smapsaudit_verdict_to_exit_status((enum smapsaudit_verdict) r);
}

static int bus_failed(int r, const char *what) {
        fprintf(stderr, "smapsaudit: %s: %s%s\n", what, strerror(-r),
                bus_error_is_unreachable(r) ? " (smapsauditd is not reachable: systemctl start smapsauditd)" : "");
        return EXIT_TROUBLE;
}

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

static int verb_status(void) {
        BusStatus st = {};
        int r = bus_status(&st);

        if (r < 0)
                return bus_failed(r, "status");
        if (arg.json)
                printf("{\"version\": \"%s\", \"kernel\": \"%s\", \"status\": \"%s\", \"last_sweep_usec\": %" PRIu64
                       ", \"processes_audited\": %" PRIu64 ", \"findings\": %" PRIu64 ", \"sweep_usec\": %" PRIu64
                       ", \"sweep_cpu_usec\": %" PRIu64 ", \"interval_usec\": %" PRIu64 ", \"covered\": %s}\n",
                       st.version, st.kernel_release, st.status_text, st.last_sweep_usec, st.sweep_processes_audited,
                       st.sweep_findings, st.sweep_usec, st.sweep_cpu_usec, st.sweep_interval_usec,
                       st.sweep_covered ? "true" : "false");
        else {
                printf("smapsauditd %s on kernel %s\n  %s\n", st.version, st.kernel_release, st.status_text);
                print_usec("  last sweep:", st.last_sweep_usec);
                printf("  processes audited: %" PRIu64 "\n  findings: %" PRIu64 "\n  sweep time: %.3f s (CPU %.3f s)\n"
                       "  interval: %" PRIu64 " s\n  covered all processes: %s\n",
                       st.sweep_processes_audited, st.sweep_findings, st.sweep_usec / 1e6, st.sweep_cpu_usec / 1e6,
                       st.sweep_interval_usec / 1000000, st.sweep_covered ? "yes" : "no (CPU budget)");
        }
        bus_status_done(&st);
        return 0;
}

static int verb_findings(void) {
        char *out = NULL;
        int r;

        r = bus_findings(arg.since_usec, &out);
        if (r < 0)
                return bus_failed(r, "findings");
        printf("%s\n", out);
        free(out);
        return 0;
}

static int on_finding(_unused_ void *userdata, const char *json) {
        printf("%s\n", json);
        fflush(stdout);
        return 0;
}

static int verb_watch(void) {
        int r = bus_watch(on_finding, NULL);
        return r < 0 ? bus_failed(r, "watch") : 0;
}

static int verb_sweep(void) {
        int r = bus_sweep();
        if (r < 0)
                return bus_failed(r, "sweep");
        fprintf(stderr, "Sweep started; see smapsaudit status.\n");
        return 0;
}

int main(int argc, char *argv[]) {
        const char *verb;
        int r;

        r = parse_args(argc, argv, true);
        if (r < 0)
                return EXIT_TROUBLE;
        if (optind >= argc) {
                help();
                return EXIT_TROUBLE;
        }
        /* options may follow the verb anywhere ("check PID --json"): parse again from it */
        verb = argv[optind];
        argc -= optind;
        argv += optind;
        /* the probe has options of its own */
        if (strcmp(verb, "probe") == 0)
                return verb_probe(argc, argv, arg.json);
        optind = 0;
        r = parse_args(argc, argv, false);
        if (r < 0)
                return EXIT_TROUBLE;
        argc -= optind;
        argv += optind;

        if (strcmp(verb, "check") == 0)
                return verb_check(argc, argv);
        if (strcmp(verb, "capture") == 0)
                return verb_capture(argc, argv);
        if (strcmp(verb, "ksm") == 0)
                return verb_ksm(argc, argv);
        if (argc > 0) {
                fprintf(stderr, "smapsaudit: %s takes no arguments\n", verb);
                return EXIT_TROUBLE;
        }
        if (strcmp(verb, "status") == 0)
                return verb_status();
        if (strcmp(verb, "findings") == 0)
                return verb_findings();
        if (strcmp(verb, "watch") == 0)
                return verb_watch();
        if (strcmp(verb, "sweep") == 0)
                return verb_sweep();
        if (strcmp(verb, "help") == 0) {
                help();
                return 0;
        }
        fprintf(stderr, "smapsaudit: unknown command '%s' (see smapsaudit --help)\n", verb);
        return EXIT_TROUBLE;
}
