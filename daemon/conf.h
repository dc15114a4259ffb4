/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* /etc/smapsaudit/smapsauditd.conf: the sweep's interval and budget. */
#pragma once

#include <stdint.h>
#include <stdio.h>

#include "config.h"

#define CONFIG_FILE_DEFAULT SYSCONFDIR "/smapsaudit/smapsauditd.conf"

#define SWEEP_INTERVAL_DEFAULT_USEC (5 * 60 * UINT64_C(1000000))
#define SWEEP_INTERVAL_MIN_USEC     UINT64_C(1000000)
#define CPU_BUDGET_PERCENT_DEFAULT  1.0
#define MAX_PROCESSES_DEFAULT       1000u

typedef struct Config {
        uint64_t interval_usec;            /* [Sweep] Interval= */
        double cpu_budget_percent;         /* [Sweep] CPUBudgetPercent=, of one core */
        unsigned max_processes_per_sweep;  /* [Sweep] MaxProcessesPerSweep=, 0: no limit */
} Config;

void config_defaults(Config *c);

/* Bad lines are logged and skipped, as systemd does, so that one typo does
 * not stop the daemon; a missing file means the defaults. Only I/O errors
 * fail. */
int config_parse_file(const char *path, Config *c);
int config_parse(FILE *f, const char *fname, Config *c);

/* "300", "5min", "1h 30min", "1.5s": bare numbers are seconds. */
int parse_time_span(const char *s, uint64_t *ret_usec);
/* Writes "5min", "1h 30min", "1s 250ms": usec rounded to accuracy_usec. */
char *format_time_span(char *buf, size_t size, uint64_t usec, uint64_t accuracy_usec);
