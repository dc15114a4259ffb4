/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * smapsaudit: verbs in, library or bus calls, output out. No accounting
 * logic lives here; reports come from libsmapsaudit, in-process with
 * --local or from smapsauditd over D-Bus. This file reads the command
 * line; verb-check.c and verb-daemon.c do the verbs.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus-client.h"
#include "cli.h"
#include "output.h"
#include "macro.h"
#include "parse-number.h"
#include "probe-verb.h"
#include "smapsaudit.h"

#define USEC_PER_SEC UINT64_C(1000000)

Args arg = {
        .color = true,
        .pager = true,
        .legend = true,
};

static void help(void) {
        printf("Usage: smapsaudit [OPTIONS] COMMAND ...\n"
               "\n"
               "Recompute a process's memory accounting from pagemap, kpageflags and kpagecount\n"
               "and report where /proc/PID/smaps, smaps_rollup, status and numa_maps disagree.\n"
               "\n"
               "Commands:\n"
               "  check PID...          audit processes (through smapsauditd, or --local)\n"
               "  check --comm NAME | --unit UNIT\n"
               "                        audit every process so named, one summary line each\n"
               "  capture PID -o DIR    copy a process's accounting state for offline replay\n"
               "  status                the daemon's state and sweep statistics\n"
               "  findings              findings the daemon recorded, oldest first\n"
               "  watch                 follow the daemon's findings as they are raised (root)\n"
               "  sweep [--wait]        ask the daemon to sweep all processes now (root)\n"
               "  ksm [--pid PID] [--coverage]\n"
               "                        check KSM's counters against each other and the page tables\n"
               "                        (all processes, or one); --coverage: identical pages left unmerged\n"
               "  probe [--only BUG...] [--allow-knobs] [--report BUG] [--daemon] [--list]\n"
               "                        which catalogued kernel accounting bugs this kernel has\n"
               "  help                  this help\n"
               "\n"
               "Options:\n"
               "  -l --local            audit in this process instead of asking smapsauditd\n"
               "  -j                    JSON output, indented (as --json=pretty)\n"
               "     --json=MODE        JSON output: pretty, short (one line) or off\n"
               "     --freeze           stop the target's threads during the audit (ptrace)\n"
               "     --freeze=auto      stop them briefly, only to settle what churn left undecided (--local)\n"
               "  -a --all-vmas         show every VMA, not only those that disagree\n"
               "     --fast             fast tier: PAGEMAP_SCAN regions only (Rss, Anonymous, THP, swap exact)\n"
               "     --no-scan          read pagemap instead of using PAGEMAP_SCAN\n"
               "     --passes N         sandwich passes before giving up as inconclusive (default 5)\n"
               "     --comm NAME        check: processes whose name matches NAME (a regex, as pgrep's)\n"
               "     --unit UNIT        check: the processes of a systemd unit; findings: findings about them\n"
               "     --proc-root DIR    read procfs below DIR (a live /proc or a capture)\n"
               "     --sys-root DIR     read sysfs below DIR\n"
               "  -o --output DIR       capture: where to write\n"
               "     --pid PID          ksm: one process instead of the whole system; findings: its findings\n"
               "     --since T          findings: only those since T (seconds ago, or @EPOCH)\n"
               "     --kind KIND        findings: only under-accounted or over-accounted (or under, over)\n"
               "     --coverage         ksm: read the pages of mergeable VMAs twice, two full scans apart\n"
               "     --wait [SEC]       ksm, capture: the longest wait for ksmd's full scans (default 60, 30);\n"
               "                        sweep: wait for the sweep to end (at most SEC), then print the status\n"
               "     --max-pages N      ksm: pages walked, and pages hashed, per run\n"
               "     --only BUG...      probe: only these bugs (their names: probe --list)\n"
               "     --allow-knobs      probe: switch KSM, NUMA balancing and THP on where a bug needs it (restored after)\n"
               "     --report BUG       probe: a report of BUG for the kernel's developers\n"
               "     --daemon           probe: what smapsauditd's probe of this kernel found (any user)\n"
               "     --list             probe: the bugs it knows\n"
               "  -H --host [USER@]HOST ask the smapsauditd of a remote host (over ssh)\n"
               "  -M --machine NAME     ask the smapsauditd of a local container\n"
               "     --no-pager         do not pipe long output into a pager\n"
               "     --no-legend        no column headers and no footer in tables\n"
               "     --no-color         no colors in text output\n"
               "  -v --verbose          log what the library does to stderr\n"
               "  -h --help             this help\n"
               "     --version          the version\n"
               "\n"
               "Exit status: 0 consistent, 1 a discrepancy was found, 2 trouble, 3 inconclusive.\n"
               "See smapsaudit(1).\n");
}

int parse_pid(const char *s, pid_t *ret) {
        uint64_t v;

        if (parse_u64_range(s, 1, INT_MAX, &v) < 0) {
                fprintf(stderr, "smapsaudit: '%s' is not a process ID\n", s);
                return -EINVAL;
        }
        *ret = (pid_t) v;
        return 0;
}

int exit_status_worst(int a, int b) {
        static const int rank[] = { [0] = 0, [EXIT_INCONCLUSIVE] = 1, [EXIT_DISCREPANCY] = 2, [EXIT_TROUBLE] = 3 };

        return rank[b] > rank[a] ? b : a;
}

const char *audit_error(int r) {
        switch (r) {
        case -ESRCH: return "no such process";
        case -ENODATA: return "a kernel thread: no address space to audit";
        case -EACCES:
        case -EPERM: return "permission denied (auditing another user's process needs root or CAP_SYS_PTRACE)";
        case -EBUSY: return "the process is already being traced; --freeze cannot stop it";
        default: return strerror(-r);
        }
}

int bus_failed(int r, const char *what, const char *message) {
        const char *target = arg.host ?: arg.machine;
        char text[512];

        /* Through ssh or into a container, the connection itself fails in more ways. */
        if (target && (bus_error_is_unreachable(r) || (r == -ENOTCONN || r == -ECONNRESET || r == -ENXIO || r == -EHOSTUNREACH)))
                snprintf(text, sizeof(text), "cannot reach smapsauditd on %s %s (%s); %s",
                         arg.host ? "host" : "container", target, message ?: strerror(-r),
                         arg.host ? "-H needs 'ssh HOST' to log in and run systemd-stdio-bridge there"
                                  : "-M needs a container that systemd-machined knows (machinectl list)");
        else if (bus_error_is_unreachable(r))
                snprintf(text, sizeof(text), "smapsauditd is not reachable on the system bus (%s); start it "
                         "(systemctl start smapsauditd) or, for check, use --local", message ?: strerror(-r));
        else
                snprintf(text, sizeof(text), "%s", message ?: strerror(-r));
        fprintf(stderr, "smapsaudit: %s: %s\n", what, text);
        /* check says it in its report's schema, once per PID */
        if (arg.json != JSON_OFF && !streq(what, "check")) {
                _cleanup_free_ char *schema = NULL;

                if (asprintf(&schema, "smapsaudit.%s/1", what) >= 0)
                        output_json_failure(schema, 0, NULL, text);
        }
        return EXIT_TROUBLE;
}

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

static int parse_json_mode(const char *value, JsonMode *ret) {
        if (!value || streq(value, "pretty"))
                *ret = JSON_PRETTY;
        else if (streq(value, "short"))
                *ret = JSON_SHORT;
        else if (streq(value, "off"))
                *ret = JSON_OFF;
        else {
                fprintf(stderr, "smapsaudit: --json takes pretty, short or off, not '%s'\n", value);
                return -EINVAL;
        }
        return 0;
}

static int parse_kind(const char *value) {
        static const char *const kinds[] = { "under-accounted", "over-accounted", "under", "over" };

        for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
                if (streq(value, kinds[i]))
                        return 0;
        fprintf(stderr, "smapsaudit: --kind takes under-accounted or over-accounted (or under, over), not '%s'\n",
                value);
        return -EINVAL;
}

/* Whether the word after an option with an optional value is its value: not a command,
 * not another option. */
static bool takes_value(const char *word) {
        bool letter = (word[0] >= 'a' && word[0] <= 'z') || (word[0] >= 'A' && word[0] <= 'Z');

        return !letter && !(word[0] == '-' && (word[1] == '-' || (word[1] >= 'a' && word[1] <= 'z') ||
                                              (word[1] >= 'A' && word[1] <= 'Z')));
}

static int parse_args(int argc, char *argv[], bool before_verb) {
        enum {
                ARG_FREEZE = 0x100, ARG_NO_SCAN, ARG_PASSES, ARG_PROC_ROOT, ARG_SYS_ROOT, ARG_NO_COLOR,
                ARG_VERSION, ARG_SINCE, ARG_FAST, ARG_PID, ARG_COVERAGE, ARG_WAIT, ARG_MAX_PAGES, ARG_JSON,
                ARG_NO_PAGER, ARG_NO_LEGEND, ARG_COMM, ARG_UNIT, ARG_KIND,
        };
        static const struct option options[] = {
                { "local", no_argument, NULL, 'l' },
                { "json", optional_argument, NULL, ARG_JSON },
                { "freeze", optional_argument, NULL, ARG_FREEZE },
                { "all-vmas", no_argument, NULL, 'a' },
                { "no-scan", no_argument, NULL, ARG_NO_SCAN },
                { "fast", no_argument, NULL, ARG_FAST },
                { "passes", required_argument, NULL, ARG_PASSES },
                { "comm", required_argument, NULL, ARG_COMM },
                { "unit", required_argument, NULL, ARG_UNIT },
                { "proc-root", required_argument, NULL, ARG_PROC_ROOT },
                { "sys-root", required_argument, NULL, ARG_SYS_ROOT },
                { "output", required_argument, NULL, 'o' },
                { "pid", required_argument, NULL, ARG_PID },
                { "since", required_argument, NULL, ARG_SINCE },
                { "kind", required_argument, NULL, ARG_KIND },
                { "coverage", no_argument, NULL, ARG_COVERAGE },
                { "wait", optional_argument, NULL, ARG_WAIT },
                { "max-pages", required_argument, NULL, ARG_MAX_PAGES },
                { "host", required_argument, NULL, 'H' },
                { "machine", required_argument, NULL, 'M' },
                { "no-pager", no_argument, NULL, ARG_NO_PAGER },
                { "no-legend", no_argument, NULL, ARG_NO_LEGEND },
                { "no-color", no_argument, NULL, ARG_NO_COLOR },
                { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {}
        };
        uint64_t v;
        int c;

        while ((c = getopt_long(argc, argv, before_verb ? "+ljao:H:M:vh" : "ljao:H:M:vh", options, NULL)) >= 0) {
                switch (c) {
                case 'l': arg.local = true; break;
                case 'j': arg.json = JSON_PRETTY; break;
                case ARG_JSON:
                        if (parse_json_mode(optarg, &arg.json) < 0)
                                return -EINVAL;
                        break;
                case ARG_FREEZE:
                        if (optarg && !streq(optarg, "auto")) {
                                fprintf(stderr, "smapsaudit: --freeze takes no value but \"auto\", not \"%s\"\n", optarg);
                                return -EINVAL;
                        }
                        if (optarg)
                                arg.freeze_auto = true;
                        else
                                arg.freeze = true;
                        break;
                case 'a': arg.all_vmas = true; break;
                case ARG_NO_SCAN: arg.no_scan = true; break;
                case ARG_FAST: arg.fast = true; break;
                case ARG_PASSES:
                        if (parse_number_arg("--passes", optarg, 1, 100, "a number from 1 to 100", &v) < 0)
                                return -EINVAL;
                        arg.passes = (unsigned) v;
                        break;
                case ARG_COMM: arg.comm = optarg; break;
                case ARG_UNIT: arg.unit = optarg; break;
                case ARG_PROC_ROOT: arg.proc_root = optarg; break;
                case ARG_SYS_ROOT: arg.sys_root = optarg; break;
                case 'o': arg.output = optarg; break;
                case ARG_PID:
                        if (parse_pid(optarg, &arg.pid) < 0)
                                return -EINVAL;
                        break;
                case ARG_SINCE:
                        if (parse_since(optarg, &arg.since_usec) < 0)
                                return -EINVAL;
                        break;
                case ARG_KIND:
                        if (parse_kind(optarg) < 0)
                                return -EINVAL;
                        arg.kind = optarg;
                        break;
                case ARG_COVERAGE: arg.coverage = true; break;
                case ARG_WAIT:
                        /* "sweep --wait" waits without a bound; "ksm --wait 60" names one */
                        if (!optarg && optind < argc && takes_value(argv[optind]))
                                optarg = argv[optind++];
                        arg.wait = true;
                        if (!optarg)
                                break;
                        if (parse_number_arg("--wait", optarg, 1, 86400, "a number of seconds from 1 to 86400", &v) < 0)
                                return -EINVAL;
                        arg.wait_sec = (unsigned) v;
                        break;
                case ARG_MAX_PAGES:
                        if (parse_number_arg("--max-pages", optarg, 1, UINT64_MAX, "a positive number", &arg.max_pages) < 0)
                                return -EINVAL;
                        break;
                case 'H': arg.host = optarg; break;
                case 'M': arg.machine = optarg; break;
                case ARG_NO_PAGER: arg.pager = false; break;
                case ARG_NO_LEGEND: arg.legend = false; break;
                case ARG_NO_COLOR: arg.color = false; break;
                case 'v': arg.verbose = true; break;
                case 'h': help(); exit(EXIT_SUCCESS);
                case ARG_VERSION: printf("smapsaudit %s\n", smapsaudit_version()); exit(EXIT_SUCCESS);
                default: return -EINVAL;
                }
        }
        return 0;
}

/* -H and -M name another machine's daemon: what runs in this process reads this machine. */
static int check_target(const char *verb) {
        bool here = streq(verb, "capture") || streq(verb, "ksm") ||
                    (streq(verb, "check") && (arg.local || arg.proc_root || arg.sys_root || arg.comm || arg.unit));

        if (arg.host && arg.machine) {
                fprintf(stderr, "smapsaudit: -H/--host and -M/--machine exclude each other\n");
                return -EINVAL;
        }
        if ((arg.host || arg.machine) && here) {
                fprintf(stderr, "smapsaudit: %s runs in this process on this machine: -H/--host and -M/--machine "
                                "only reach another machine's smapsauditd%s\n", verb,
                        streq(verb, "check") ? " (--local, --proc-root, --sys-root, --comm and --unit read this "
                                               "machine's processes)" : "");
                return -EINVAL;
        }
        bus_set_target(arg.host, arg.machine);
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
        if (check_target(verb) < 0)
                return EXIT_TROUBLE;

        if (streq(verb, "check"))
                return verb_check(argc, argv);
        if (streq(verb, "capture"))
                return verb_capture(argc, argv);
        if (streq(verb, "ksm"))
                return verb_ksm(argc, argv);
        if (argc > 0) {
                fprintf(stderr, "smapsaudit: %s takes no arguments\n", verb);
                return EXIT_TROUBLE;
        }
        if (streq(verb, "status"))
                return verb_status();
        if (streq(verb, "findings"))
                return verb_findings();
        if (streq(verb, "watch"))
                return verb_watch();
        if (streq(verb, "sweep"))
                return verb_sweep();
        if (streq(verb, "help")) {
                help();
                return 0;
        }
        fprintf(stderr, "smapsaudit: unknown command '%s' (see smapsaudit --help)\n", verb);
        return EXIT_TROUBLE;
}
