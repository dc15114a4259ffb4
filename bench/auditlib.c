/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * auditlib: times smapsaudit_audit_pid() in-process, the way smapsauditd
 * calls it: one context reused across audits, so exec, dynamic linking
 * and the first-use costs (kernel config, node map) are not counted.
 *
 *   auditlib [-n N] [-w W] [-f] PID
 *
 * -f audits with SMAPSAUDIT_AUDIT_FAST. Prints
 *   n= median_us= min_us= max_us= cpu_us= passes= verdict=
 * with cpu_us the median of the reports' own CPU figure (the auditing
 * thread's user + system time), passes and verdict those of the last run.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench-util.h"
#include "smapsaudit.h"

int main(int argc, char *argv[]) {
        struct smapsaudit_audit_opts opts = {};
        struct smapsaudit_ctx *ctx;
        struct smapsaudit_report *rep = NULL;
        long n = 5, warm = 1;
        unsigned passes = 0;
        uint64_t *t, *cpu;
        pid_t pid;
        int c, r;

        while ((c = getopt(argc, argv, "n:w:f")) >= 0) {
                switch (c) {
                case 'n': n = strtol(optarg, NULL, 10); break;
                case 'w': warm = strtol(optarg, NULL, 10); break;
                case 'f': opts.flags |= SMAPSAUDIT_AUDIT_FAST; break;
                default:
                        fprintf(stderr, "usage: auditlib [-n N] [-w W] [-f] PID\n");
                        return 2;
                }
        }
        if (optind != argc - 1 || n <= 0) {
                fprintf(stderr, "usage: auditlib [-n N] [-w W] [-f] PID\n");
                return 2;
        }
        pid = (pid_t) atoi(argv[optind]);
        r = smapsaudit_ctx_new(&ctx);
        if (r < 0) {
                fprintf(stderr, "auditlib: smapsaudit_ctx_new: %s\n", strerror(-r));
                return 1;
        }
        t = calloc((size_t) n, sizeof(*t));
        cpu = calloc((size_t) n, sizeof(*cpu));
        for (long i = -warm; i < n; i++) {
                uint64_t t0 = now_ns();

                smapsaudit_report_unref(rep);
                rep = NULL;
                r = smapsaudit_audit_pid(ctx, pid, &opts, &rep);
                if (r < 0) {
                        fprintf(stderr, "auditlib: PID %d: %s\n", (int) pid, strerror(-r));
                        return 1;
                }
                if (i >= 0) {
                        t[i] = now_ns() - t0;
                        cpu[i] = smapsaudit_report_get_cpu_usec(rep);
                }
        }
        {
                char *json = NULL;
                const char *p;
                if (smapsaudit_report_to_json(rep, 0, &json) >= 0 && (p = strstr(json, "\"passes\":")))
                        passes = (unsigned) strtoul(p + 9, NULL, 10);
                free(json);
        }
        printf("n=%ld median_us=%.1f", n, median_u64(t, (size_t) n) / 1e3);
        printf(" min_us=%.1f max_us=%.1f cpu_us=%llu passes=%u verdict=%s\n", t[0] / 1e3, t[n - 1] / 1e3,
               (unsigned long long) median_u64(cpu, (size_t) n), passes,
               smapsaudit_verdict_to_string(smapsaudit_report_get_verdict(rep)));
        smapsaudit_report_unref(rep);
        smapsaudit_ctx_unref(ctx);
        return 0;
}
