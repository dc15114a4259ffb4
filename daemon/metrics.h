/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Prometheus metrics in the text exposition format (there is no C client
 * library in Debian; `promtool check metrics` validates what this writes).
 *
 * Low cardinality: no PID, no address; findings are grouped by kind, field,
 * source, tag set and unit (at most METRICS_UNITS_MAX units). The kernel release is a label of one info metric,
 * smapsaudit_kernel_info{release,previous_release} 1, to be joined on
 * (instance, job) as node_uname_info is: every other series stays the same
 * series across a reboot into a new kernel. The exception is what the probe
 * says of a release, smapsaudit_kernel_bug{bug,release}: a fact about that
 * release, which the fleet counts hosts by.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "finding.h"

typedef enum DaemonError {
        DAEMON_ERROR_HISTORY,     /* findings.jsonl could not be written */
        DAEMON_ERROR_BASELINE,    /* baseline.json could not be written */
        DAEMON_ERROR_TEXTFILE,    /* the metrics file could not be written */
        DAEMON_ERROR_HTTP,        /* the /metrics endpoint could not start */
        DAEMON_ERROR_KSM,         /* the KSM check failed */
        DAEMON_ERROR_AUDIT,       /* an audit failed for another reason than the process */
        DAEMON_ERROR_PROBE,       /* the kernel's probe failed, or could not be kept */
        _DAEMON_ERROR_MAX,
} DaemonError;

const char *daemon_error_to_string(DaemonError e);

typedef enum KSMStatus {
        KSM_STATUS_UNKNOWN,       /* not checked, or this build/kernel cannot */
        KSM_STATUS_HOLDS,
        KSM_STATUS_BROKEN,
        KSM_STATUS_INCONCLUSIVE,
        _KSM_STATUS_MAX,
} KSMStatus;

const char *ksm_status_to_string(KSMStatus s);

/* At most this many values of the unit label in one family: findings of further units are
 * counted under METRICS_UNIT_OTHER (their journal entries and history still name the unit). */
#define METRICS_UNITS_MAX 50u
#define METRICS_UNIT_OTHER "other"

/* Findings counted by class (finding_class()) and unit. */
typedef struct FindingGroup {
        FindingClass class;
        char unit[256];           /* the process's unit, its cgroup path, "" unknown, or "other" */
        uint64_t count;
        uint64_t under_kb;        /* what under-accounted findings miss */
} FindingGroup;

typedef struct FindingGroups {
        FindingGroup *groups;
        size_t n;
} FindingGroups;

/* unit: the process's unit or cgroup path (NULL: unknown). */
int finding_groups_add(FindingGroups *g, const OpenFinding *f, const char *unit);
void finding_groups_done(FindingGroups *g);

/* What the daemon counts from its start. */
typedef struct Metrics {
        uint64_t start_usec;              /* CLOCK_REALTIME */
        uint64_t processes_audited;       /* conclusive audits */
        uint64_t audits_inconclusive;
        FindingGroups found;              /* findings recorded (new ones) */
        uint64_t errors[_DAEMON_ERROR_MAX];
} Metrics;

/* A catalogued kernel bug the probe tested: present or absent. */
typedef struct KernelBugSample {
        const char *bug;
        bool present;
} KernelBugSample;

/* What holds now. */
typedef struct MetricsView {
        const char *release;
        const char *previous_release;     /* NULL: none known */
        bool regression;                  /* the release has findings previous did not */
        uint64_t last_sweep_usec;         /* CLOCK_REALTIME; 0: no sweep yet */
        uint64_t sweep_usec, sweep_cpu_usec, sweep_processes_audited, interval_usec;
        bool sweep_covered;
        size_t processes_with_findings;
        FindingGroups open;               /* open findings */
        KSMStatus ksm;
        /* The probe of the running release (probe-boot.c): its release, when it ran, and what it
         * found; NULL and 0 before there is one. */
        const char *probe_release;
        uint64_t probe_usec;
        const KernelBugSample *kernel_bugs;
        size_t n_kernel_bugs;
} MetricsView;

void metrics_done(Metrics *m);
/* The exposition text; *ret is malloc()ed. */
int metrics_render(const Metrics *m, const MetricsView *v, char **ret, size_t *ret_size);
