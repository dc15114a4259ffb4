/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "sweep.h"

void proc_table_done(ProcTable *t) {
        for (size_t i = 0; i < t->n; i++)
                free(t->states[i].findings);
        free(t->states);
        *t = (ProcTable) {};
}

static int cmp_state(const void *a, const void *b) {
        const ProcState *x = a, *y = b;

        return (x->pid > y->pid) - (x->pid < y->pid);
}

ProcState *proc_table_get(ProcTable *t, pid_t pid) {
        ProcState key = { .pid = pid };

        if (t->n == 0)
                return NULL;
        return bsearch(&key, t->states, t->n, sizeof(ProcState), cmp_state);
}

/* Whether old lives on in states (sorted, n): the same PID and process. */
static bool kept(const ProcState *states, size_t n, const ProcState *old) {
        const ProcState *s = n ? bsearch(old, states, n, sizeof(ProcState), cmp_state) : NULL;

        return s && (old->start_time == 0 || old->start_time == s->start_time);
}

int proc_table_sync(ProcTable *t, const struct smapsaudit_proc *procs, size_t n, bool keep_unlisted,
                    proc_gone_fn gone, void *userdata) {
        ProcState *states;
        size_t k = n;

        states = calloc(n + t->n + 1, sizeof(ProcState));
        if (!states)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                ProcState *old = proc_table_get(t, procs[i].pid);

                if (old && (old->start_time == 0 || old->start_time == procs[i].start_time)) {
                        states[i] = *old;
                        /* Moved, not copied: the old table must not free them. */
                        old->findings = NULL;
                        old->n_findings = 0;
                } else
                        states[i] = (ProcState) { .pid = procs[i].pid };
                states[i].start_time = procs[i].start_time;
        }
        qsort(states, n, sizeof(ProcState), cmp_state);

        /* What is left behind is gone, unless it is a captured PID to keep. */
        for (size_t i = 0; i < t->n; i++) {
                ProcState *old = &t->states[i];

                if (kept(states, n, old))
                        continue;
                if (keep_unlisted && old->start_time == 0) {
                        states[k++] = *old;
                        old->findings = NULL;
                        old->n_findings = 0;
                        continue;
                }
                if (gone)
                        gone(old, userdata);
        }
        qsort(states, k, sizeof(ProcState), cmp_state);

        proc_table_done(t);
        t->states = states;
        t->n = k;
        return 0;
}

int proc_table_ensure(ProcTable *t, pid_t pid, ProcState **ret) {
        ProcState *s, *states;
        size_t i;

        s = proc_table_get(t, pid);
        if (s) {
                *ret = s;
                return 0;
        }

        states = realloc(t->states, (t->n + 1) * sizeof(ProcState));
        if (!states)
                return -ENOMEM;
        t->states = states;

        for (i = t->n; i > 0 && states[i - 1].pid > pid; i--)
                ;
        memmove(states + i + 1, states + i, (t->n - i) * sizeof(ProcState));
        states[i] = (ProcState) { .pid = pid };
        t->n++;
        *ret = &states[i];
        return 0;
}

const OpenFinding *proc_state_find(const ProcState *s, uint64_t key) {
        for (size_t i = 0; i < s->n_findings; i++)
                if (s->findings[i].key == key)
                        return &s->findings[i];
        return NULL;
}

void proc_state_set_findings(ProcState *s, OpenFinding *findings, size_t n) {
        free(s->findings);
        s->findings = findings;
        s->n_findings = n;
}

int sweep_plan(const ProcTable *t, const struct smapsaudit_proc *procs, size_t n, uint64_t round,
               pid_t **ret, size_t *ret_n) {
        pid_t *plan;
        size_t k = 0;

        plan = calloc(MAX(n, 1u), sizeof(pid_t));
        if (!plan)
                return -ENOMEM;

        /* Two passes over the list, which is largest first: heavy, then the rest. */
        for (int heavy = 1; heavy >= 0; heavy--)
                for (size_t i = 0; i < n; i++) {
                        const ProcState *s = proc_table_get((ProcTable *) t, procs[i].pid);
                        bool is_heavy = s && (s->tags & SWEEP_HEAVY_TAGS);

                        if (s && s->round == round)
                                continue;
                        if (is_heavy != (heavy == 1))
                                continue;
                        plan[k++] = procs[i].pid;
                }

        *ret = plan;
        *ret_n = k;
        return 0;
}

uint64_t sweep_budget_usec(uint64_t interval_usec, double percent) {
        return (uint64_t) ((double) interval_usec * percent / 100.0);
}

uint64_t sweep_allowance_usec(uint64_t budget_usec, uint64_t debt_usec) {
        return budget_usec > debt_usec ? budget_usec - debt_usec : 0;
}

uint64_t sweep_debt_usec(uint64_t budget_usec, uint64_t debt_usec, uint64_t used_usec) {
        uint64_t owed = debt_usec + used_usec;

        return owed > budget_usec ? owed - budget_usec : 0;
}
