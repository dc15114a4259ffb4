/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /etc/smapsaudit/smapsauditd.conf: the sweep's interval and budget, where
 * metrics go, how many journal entries findings may make, and what Check
 * calls of users other than root may take. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "config.h"

#define CONFIG_FILE_DEFAULT SYSCONFDIR "/smapsaudit/smapsauditd.conf"

#define SWEEP_INTERVAL_DEFAULT_USEC (5 * 60 * UINT64_C(1000000))
#define SWEEP_INTERVAL_MIN_USEC     UINT64_C(1000000)
#define CPU_BUDGET_PERCENT_DEFAULT  1.0
#define MAX_PROCESSES_DEFAULT       1000u
/* Where Debian's prometheus-node-exporter reads text files by default. */
/* Not below our prefix: node_exporter reads its own directory. */
#define METRICS_TEXTFILE_DEFAULT    "/var/lib/prometheus/node-exporter/smapsaudit.prom"
#define METRICS_PORT_DEFAULT        9477u
#define JOURNAL_RATE_INTERVAL_DEFAULT_USEC (10 * 60 * UINT64_C(1000000))
#define JOURNAL_RATE_BURST_DEFAULT  100u
/* Check calls waiting at once; more are refused rather than queued without bound. */
#define CHECK_CALLS_MAX             128u
#define CHECKS_PER_USER_DEFAULT     2u
#define CHECK_DEADLINE_DEFAULT_USEC (60 * UINT64_C(1000000))
/* 10 % of one core on average per uid: one audit that runs to the default deadline, or hundreds of
 * ordinary ones, in each window. */
#define CHECK_CPU_PER_USER_DEFAULT_USEC (60 * UINT64_C(1000000))
#define CHECK_CPU_WINDOW_DEFAULT_USEC   (10 * 60 * UINT64_C(1000000))

typedef struct Config {
        uint64_t interval_usec;            /* [Sweep] Interval= */
        double cpu_budget_percent;         /* [Sweep] CPUBudgetPercent=, of one core */
        unsigned max_processes_per_sweep;  /* [Sweep] MaxProcessesPerSweep=, 0: no limit */
        bool full_tier;                    /* [Sweep] Tier=full; default fast, full on a discrepancy */
        bool probe_on_boot;                /* [Sweep] ProbeOnBoot=: probe each kernel release once */

        char *textfile_path;               /* [Metrics] TextfilePath=, NULL: none */
        bool textfile_path_is_default;     /* not set in the file: a missing directory is no error */
        char *listen_address;              /* [Metrics] ListenAddress=, NULL: no HTTP */

        uint64_t journal_rate_interval_usec;  /* [Journal] RateLimitIntervalSec=, 0: no limit */
        unsigned journal_rate_burst;          /* [Journal] RateLimitBurst=, 0: no limit */

        unsigned checks_per_user;          /* [Check] MaxPerUser=: Check calls of one uid other than root at once */
        uint64_t check_deadline_usec;      /* [Check] DeadlineSec=: how long one of their audits may run */
        uint64_t check_cpu_per_user_usec;  /* [Check] CPUPerUserSec=: CPU time of one uid's audits per window */
        uint64_t check_cpu_window_usec;    /* [Check] CPUWindowSec= */
} Config;

/* Fills in the defaults: allocates, so config_done() it. */
void config_defaults(Config *c);
void config_done(Config *c);

/* Bad lines are logged and skipped, as systemd does, so that one typo does
 * not stop the daemon; a missing file means the defaults. Only I/O errors
 * fail. */
int config_parse_file(const char *path, Config *c);
int config_parse(FILE *f, const char *fname, Config *c);

/* "127.0.0.1:9477", "[::1]:9477", "0.0.0.0:9477", or a port alone, which means
 * 127.0.0.1: nothing listens beyond the machine unless asked to. */
int parse_listen_address(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len);

/* "300", "5min", "1h 30min", "1.5s": bare numbers are seconds. */
int parse_time_span(const char *s, uint64_t *ret_usec);
/* Writes "5min", "1h 30min", "1s 250ms": usec rounded to accuracy_usec. */
char *format_time_span(char *buf, size_t size, uint64_t usec, uint64_t accuracy_usec);
