/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's state and its work: the sweep, audits asked for over the
 * bus, and what they found. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "baseline.h"
#include "conf.h"
#include "history.h"
#include "metrics.h"
#include "metrics-http.h"
#include "probe-boot.h"
#include "ratelimit.h"
#include "smapsaudit.h"
#include "sweep.h"
#include "time-util.h"
#include "user-cpu.h"
#include "worker.h"

/* A sweep keeps at most one audit in flight, so with three threads two are
 * always free for Check: a Check during a sweep starts at once. */
#define AUDIT_THREADS 3u
/* Of those, the Checks of callers that are not root get one, whoever they are: root's Checks and
 * the sweep keep a thread each however many such Checks wait. */
#define USER_AUDIT_THREADS 1u
#define CHECK_PROGRESS_USEC (500 * UINT64_C(1000))

#define STATE_DIRECTORY_DEFAULT LOCALSTATEDIR "/lib/smapsaudit"

typedef struct Audit Audit;

typedef struct KSMProcess {
        pid_t pid;
        int pidfd;                /* -1: it had exited when the check ended */
} KSMProcess;

typedef struct SweepRun {
        bool running;
        pid_t *plan;              /* in audit order */
        size_t n_plan, next;
        size_t n_listed;
        bool fresh_round;         /* the plan is every listed process */
        uint64_t started_usec;    /* CLOCK_MONOTONIC */
        uint64_t cpu_start_usec;  /* the daemon's CPU time (every thread, less Checks) when it started */
        uint64_t allowance_usec, used_usec;
        uint64_t audited, skipped, findings;
        const char *stopped_by;   /* why it ended before its plan did, or NULL */
} SweepRun;

typedef struct ManagerOptions {
        const char *config_path;
        const char *state_dir;
        const char *proc_root;    /* NULL: /proc */
        const char *sys_root;     /* NULL: /sys */
} ManagerOptions;

typedef struct Manager {
        sd_event *event;
        sd_bus *bus;
        sd_event_source *sweep_timer;

        struct smapsaudit_ctx *ctx;  /* the loop thread's own; workers have theirs */
        WorkerPool *pool;
        History *history;
        ProcTable procs;

        Config config;
        char *config_path;
        char *state_dir;
        char *proc_root, *sys_root;
        bool live;                /* PIDs name running processes, not captured files */
        bool stopping;

        Audit *audits;            /* in flight or waiting for their PID, oldest first */
        size_t n_check_calls;
        sd_event_source *progress_timer;  /* CheckProgress, while Check calls wait */

        uint64_t round;
        bool round_done;          /* a sweep went through its whole plan: the next starts a round */
        uint64_t debt_usec;
        uint64_t cycle_cpu_usec;  /* the daemon's CPU time when the last sweep started, 0: never */
        uint64_t check_cpu_usec;  /* CPU time of the Check audits that ended: not the sweeps' to pay */
        UserCPUTable user_cpu;    /* and of each uid's but root's, against [Check] CPUPerUserSec= */
        uint64_t last_started_usec;  /* CLOCK_MONOTONIC, 0: never */
        SweepRun sweep;

        /* Published as properties; ints where sd-bus reads them directly. */
        uint64_t last_sweep_usec;    /* CLOCK_REALTIME of the last sweep's end */
        uint64_t sweep_processes_audited;
        uint64_t sweep_findings;
        uint64_t sweep_usec;
        uint64_t sweep_cpu_usec;
        bool sweep_covered;
        char *status_text;

        /* Alerts: manager-findings.c, manager-metrics.c, manager-ksm.c. */
        Baseline *baseline;
        Metrics metrics;
        RateLimit journal_limit;     /* finding and resolved entries */
        RateLimit error_limit;       /* daemon-error entries */
        sd_event_source *metrics_timer;
        char *metrics_text;
        size_t metrics_size;
        MetricsHttp *http;
        char *http_address;          /* what http listens on */
        bool http_socket_activated;  /* http serves systemd's socket: ListenAddress= is not used */
        bool textfile_dir_missing;   /* and said so */
        KSMStatus ksm_status;
        bool ksm_running;
        bool ksm_logged_broken;
        char *ksm_json;              /* the last KSM check's answer */
        KSMProcess *ksm_procs;       /* the processes it names, pinned */
        size_t n_ksm_procs;
        uint64_t ksm_checked_usec;   /* CLOCK_REALTIME */

        ProbeBoot probe;             /* ProbeOnBoot=: probe-boot.c */
} Manager;


int manager_new(const ManagerOptions *o, Manager **ret);
Manager *manager_free(Manager *m);
/* Starts the threads, the metrics and the timers; manager_bus_connect() then takes the name. */
int manager_start(Manager *m);

int manager_reload(Manager *m);

/* manager-sweep.c */
/* Starts a sweep unless one is running; either way > 0 says one is. While the kernel's probe runs,
 * the sweep waits for it to end. */
int manager_sweep_now(Manager *m);
/* The sweep timer; a daemon that replays captured files sweeps only when asked. */
int manager_sweep_start(Manager *m);
/* After a reload: the next sweep by the new interval, and the status says it. */
void manager_sweep_reconfigure(Manager *m);
void manager_sweep_on_listed(Manager *m, const Job *job);
/* One of the sweep's audits ended: count it, escalate it, or go on to the next. */
void manager_sweep_on_audited(Manager *m, const Job *job);

/* manager-check.c */
/* Queues an audit whose JSON report answers call; it takes pidfd and grant (the caller's opens,
 * unset for root), uid is the caller's. -EBUSY: too many waiting; -EUSERS: uid has as many as
 * [Check] MaxPerUser= allows; -EDQUOT: uid used its CPU time (manager_user_cpu_refusal()). */
int manager_check(Manager *m, sd_bus_message *call, pid_t pid, int pidfd, Grant *grant, uid_t uid,
                  unsigned audit_flags, unsigned max_passes, unsigned report_flags);
/* The CheckProgress timer. */
int manager_check_start(Manager *m);

/* manager-audit.c */
/* 0 when uid, not root, may start a Check audit now; -EDQUOT when its audits used their CPU time
 * in this window, with *ret saying so and when to try again (NULL when out of memory). */
int manager_user_cpu_refusal(Manager *m, uid_t uid, char **ret);

/* manager-findings.c */
/* A sweep's audit counts for the fleet baseline and may raise a regression; a Check's, root's too,
 * never does. */
void manager_record_audit(Manager *m, const Job *job, bool sweep);
void manager_on_process_gone(const ProcState *s, void *userdata);
/* Counts and all, as at the end of a sweep. */
void manager_save_baseline(Manager *m);

/* manager-metrics.c */
/* Counts the error for the metrics and logs it (rate-limited) with the daemon-error MESSAGE_ID. */
void manager_error(Manager *m, DaemonError what, int error, const char *format, ...) _printf_(4, 5);
int manager_metrics_start(Manager *m);
void manager_metrics_stop(Manager *m);
/* Something changed: render and write soon. */
void manager_metrics_update(Manager *m);
/* Render and write now. */
void manager_metrics_flush(Manager *m);
/* After a reload: the HTTP endpoint moves, starts or stops. */
void manager_metrics_reconfigure(Manager *m);

/* manager-ksm.c */
void manager_ksm_check(Manager *m);
void manager_ksm_done(Manager *m, Job *job);
void manager_ksm_unpin(Manager *m);
/* The last check's answer as a caller may see it: c NULL for root (everything), otherwise only
 * the processes c may read (grant_probe), with the global counters; bounded to BUS_REPLY_MAX. */
int manager_ksm_report_for(Manager *m, const CallerCreds *c, char **ret);
