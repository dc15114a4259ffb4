/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the verbs share: the parsed command line, and the exit statuses.
 * Each verb-*.c file does one group of verbs; none of them holds
 * accounting logic, which is libsmapsaudit's.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define EXIT_DISCREPANCY 1
#define EXIT_TROUBLE 2
#define EXIT_INCONCLUSIVE 3

typedef enum JsonMode {
        JSON_OFF,
        JSON_SHORT,
        JSON_PRETTY,
} JsonMode;

typedef struct Args {
        bool local;
        JsonMode json;
        bool freeze;
        bool freeze_auto;      /* --freeze=auto: stop briefly, only to settle what churn left undecided */
        bool all_vmas;
        bool no_scan;
        bool fast;
        bool verbose;
        bool color;
        bool pager;
        bool legend;
        unsigned passes;
        const char *proc_root;
        const char *sys_root;
        const char *output;
        const char *host;
        const char *machine;
        const char *comm;      /* check: an extended regular expression, as pgrep's */
        const char *unit;      /* check: processes of this unit; findings: findings about them */
        const char *kind;      /* findings: under-accounted or over-accounted */
        uint64_t since_usec;
        pid_t pid;             /* ksm, findings */
        bool coverage;
        bool wait;             /* --wait given, with or without SEC */
        unsigned wait_sec;
        uint64_t max_pages;
} Args;

extern Args arg;

/* The most serious of two exit statuses: trouble, then a discrepancy, then inconclusive. */
int exit_status_worst(int a, int b);

int parse_pid(const char *s, pid_t *ret);

/* What an audit's errno means for the person who asked. */
const char *audit_error(int r);

/* Prints why a daemon verb failed, with what to do when the daemon cannot be reached;
 * returns EXIT_TROUBLE. */
int bus_failed(int r, const char *what, const char *message);

int verb_check(int argc, char *argv[]);
int verb_capture(int argc, char *argv[]);
int verb_ksm(int argc, char *argv[]);
int verb_status(void);
int verb_findings(void);
int verb_watch(void);
int verb_sweep(void);
