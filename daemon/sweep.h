/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sweep's pure logic, apart from the loop that drives it so that it can
 * be tested alone: which processes to audit next, how much CPU a sweep may
 * use, and which findings are new.
 *
 * A sweep works through a "round": every process that has an mm, the
 * PROT_NONE/NUMA-hinted/THP/KSM-heavy ones (as their last report said)
 * first, then the largest. When the CPU budget ends a sweep early, the next
 * sweep goes on with the same round, so every process is audited in turn
 * even when no single sweep can cover them all.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "smapsaudit.h"

#define SWEEP_HEAVY_TAGS (SMAPSAUDIT_TAG_PROT_NONE | SMAPSAUDIT_TAG_NUMA_HINTED | \
                          SMAPSAUDIT_TAG_THP | SMAPSAUDIT_TAG_KSM)

/* A finding that the last conclusive audit of a process had: kept so that
 * repeats are not announced, its end is ("resolved"), and the metrics can
 * count what is open now. */
typedef struct OpenFinding {
        uint64_t key;             /* finding_key() */
        enum smapsaudit_verdict kind;
        char field[32];           /* the kernel's smaps keys are shorter */
        char source[16];
        uint64_t vma_start, vma_end;
        int64_t kernel_kb, walk_kb, delta_kb;
        unsigned tags;
        bool logged;              /* it made a journal entry, so its end makes one too */
        bool confirmed;           /* a later conclusive audit had it too: counted in the baseline */
} OpenFinding;

typedef struct ProcState {
        pid_t pid;
        uint64_t start_time;      /* 0 when first seen through Check and not listed yet */
        unsigned tags;            /* of its last report */
        uint64_t round;           /* last round it was audited in; 0: never */
        char comm[64];            /* of its last report */
        OpenFinding *findings;    /* its last conclusive report's findings */
        size_t n_findings;
} ProcState;

typedef struct ProcTable {
        ProcState *states;        /* sorted by pid */
        size_t n;
} ProcTable;

void proc_table_done(ProcTable *t);

/* Told about each state that proc_table_sync() forgets, before it does. */
typedef void (*proc_gone_fn)(const ProcState *s, void *userdata);

/* Keep the state of the listed processes; forget exited ones, and ones
 * whose PID now names a different process (another start time). With
 * keep_unlisted, states only ever seen through Check stay (their PIDs name
 * captured files, which the list of live processes does not hold). */
int proc_table_sync(ProcTable *t, const struct smapsaudit_proc *procs, size_t n, bool keep_unlisted,
                    proc_gone_fn gone, void *userdata);
ProcState *proc_table_get(ProcTable *t, pid_t pid);
int proc_table_ensure(ProcTable *t, pid_t pid, ProcState **ret);

uint64_t finding_key(enum smapsaudit_verdict kind, const char *field, const char *source,
                     uint64_t vma_start, uint64_t vma_end);
const OpenFinding *proc_state_find(const ProcState *s, uint64_t key);
/* Takes ownership of findings. */
void proc_state_set_findings(ProcState *s, OpenFinding *findings, size_t n);

/* The PIDs of procs not yet audited in round, in audit order. */
int sweep_plan(const ProcTable *t, const struct smapsaudit_proc *procs, size_t n, uint64_t round,
               pid_t **ret, size_t *ret_n);

/* CPU time a sweep may use on average: percent of one core over the interval. */
uint64_t sweep_budget_usec(uint64_t interval_usec, double percent);
/* What this sweep may use: the budget less what earlier sweeps overspent
 * (the audit that crosses the budget is let finish, and is paid for by the
 * next sweeps, so that the average holds). */
uint64_t sweep_allowance_usec(uint64_t budget_usec, uint64_t debt_usec);
/* The debt after a sweep that started with debt and used used. */
uint64_t sweep_debt_usec(uint64_t budget_usec, uint64_t debt_usec, uint64_t used_usec);
