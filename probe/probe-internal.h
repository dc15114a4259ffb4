/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the probe's files share. */
#pragma once

#include <json-c/json.h>
#include <stdint.h>
#include <sys/types.h>

#include "macro.h"
#include "probe.h"
#include "shape-memory.h"
#include "smapsaudit.h"

#define PROBE_PAGE SHAPE_PAGE

static inline void smapsaudit_report_unrefp(struct smapsaudit_report **r) {
        if (*r)
                smapsaudit_report_unref(*r);
}
#define PROBE_THP ((size_t) 2 << 20)

/* ---------------------------------------------------------------- one bug's run */

struct probe_outcome {
        enum probe_state state;
        char *reason;            /* why not testable, or what failed */
        char *summary;           /* the evidence in one line */
        json_object *evidence;   /* the figures, for JSON and the report */
        double seconds;
};

struct probe_env {
        struct smapsaudit_ctx *ctx;
        unsigned flags;
        double deadline;         /* CLOCK_MONOTONIC seconds this bug's probe must end by */
};

typedef void (*probe_fn)(struct probe_env *env, struct probe_outcome *o);

void outcome_set(struct probe_outcome *o, enum probe_state s, const char *fmt, ...) _printf_(3, 4);
void outcome_summary(struct probe_outcome *o, const char *fmt, ...) _printf_(2, 3);
json_object *outcome_evidence(struct probe_outcome *o);
/* The findings of a library report in evidence["findings"], those on [start, end) only when
 * end > 0; returns how many. */
size_t evidence_add_findings(struct probe_outcome *o, const struct smapsaudit_report *rep, uint64_t start,
                             uint64_t end);
/* The findings array of a JSON document of the library (schema smapsaudit.ksm/1), parsed. */
json_object *evidence_add_json(struct probe_outcome *o, const char *key, const char *json);

double probe_now(void);

/* The probes, one per bug of the catalogue (probe-thp.c, probe-ksm.c, probe-counters.c). */
void probe_thp_protnone(struct probe_env *env, struct probe_outcome *o);
void probe_numa_thp(struct probe_env *env, struct probe_outcome *o);
void probe_ksm_protnone(struct probe_env *env, struct probe_outcome *o);
void probe_ksm_fork(struct probe_env *env, struct probe_outcome *o);
void probe_rollup_skip(struct probe_env *env, struct probe_outcome *o);
void probe_kpf_ksm(struct probe_env *env, struct probe_outcome *o);
void probe_status_lag(struct probe_env *env, struct probe_outcome *o);

probe_fn probe_fn_by_index(size_t i);

/* ---------------------------------------------------------------- global knobs (knobs.c) */

/*
 * knob_set() saves the file's value with a guardian process before writing: the guardian writes
 * every saved value back when the probe ends, however it ends (normally, by a signal, by
 * SIGKILL). -EPERM without PROBE_ALLOW_KNOBS.
 */
int knob_read(const char *path, char *buf, size_t size);
int knob_set(const struct probe_env *env, const char *path, const char *value);
/* Writes the saved values back now and reaps the guardian; async-signal-safe. */
void knobs_restore(void);
/* The knobs changed so far, as [{"path","from","to"}]. */
json_object *knobs_changed(void);
/* A child must not keep the guardian's pipe open. */
void knobs_forget_in_child(void);

/* ---------------------------------------------------------------- shapes in child processes (shape.c) */

/* What a shape tells the probe once its memory is ready. */
struct shape_info {
        int error;                /* errno of a failed build: the shape could not be built */
        char why[256];            /* why not, when it could not be built */
        uint64_t start[2], end[2];
        pid_t other_pid;          /* a process the shape forked */
        int64_t value[4];         /* shape-specific figures */
};

typedef void (*shape_build_fn)(const void *arg, struct shape_info *info);

/*
 * Forks a child in a process group of its own that dies with the probe (PR_SET_PDEATHSIG), runs
 * build in it, hands its info back and keeps the child (and what it forked) alive until
 * shape_stop(). Returns the child's PID, or a negative errno.
 */
pid_t shape_start(shape_build_fn build, const void *arg, struct shape_info *ret);
void shape_stop(pid_t pid);
/* shape_start() for a probe: 0 (and the outcome an error, or not-testable with the shape's
 * reason) when the shape is not there to be audited. */
pid_t probe_shape_start(struct probe_outcome *o, shape_build_fn build, const void *arg, struct shape_info *ret);
/* A knob at want, with --allow-knobs; false with the outcome set when it is not. what_off says
 * what being off means, for the reason. */
bool probe_need_knob(struct probe_env *env, struct probe_outcome *o, const char *path, const char *want,
                     const char *what_off);
/* Kills every shape still running (from a signal handler too). */
void shapes_kill_all(void);
/* For a shape's own processes: a child that dies with its parent. */
int shape_fork_dying_with_parent(void);

/* The shape could not be built: errno err, and why. */
void shape_fail(struct shape_info *info, int err, const char *fmt, ...) _printf_(3, 4);
/* The second half of [p, p + len) made PROT_NONE: start/end[0] the accessible VMA, [1] the other. */
bool shape_protnone_half(char *p, size_t len, struct shape_info *info);
/* A THP region of len bytes, every PMD checked PMD-mapped; NULL with info->why set if not. */
char *shape_thp(size_t len, struct shape_info *info);
