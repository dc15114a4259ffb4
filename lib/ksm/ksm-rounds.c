/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The rounds of `smapsaudit ksm`: each reads a snapshot (ksm-snapshot.c)
 * and judges it (ksm-invariants.c); a difference becomes a finding only
 * when a later stable round shows it again, and one that must outlive a
 * full scan only after ksmd has made one, which the rounds wait for. A
 * capture is one reading, confirmed against the first one its KSM hashes
 * file recorded.
 */
#include <time.h>

#include "ctx.h"
#include "ksm.h"

#define MAX_ROUNDS 6

bool sa_ksm_snap_judges(const struct sa_ksm_snap *s, const struct sa_ksm_proc *p) {
        return !p->gone && (!s->global || p->active);
}

static int judge_snapshot(const struct sa_ksm_snap *s, const struct sa_ksm_env *env, struct sa_ksm_inv **ret,
                          size_t *n) {
        size_t cap = SA_KSM_GLOBAL_INVS + s->n_procs * SA_KSM_PROC_INVS, k = 0;
        struct sa_ksm_inv *invs = calloc(cap ? cap : 1, sizeof(*invs));
        bool running = sa_ksm_running(&s->g0) && sa_ksm_running(&s->g1);

        if (!invs)
                return -ENOMEM;
        if (s->global)
                k += sa_ksm_judge_global(s, env, invs + k);
        for (size_t i = 0; i < s->n_procs; i++)
                if (sa_ksm_snap_judges(s, &s->procs[i]))
                        k += sa_ksm_judge_process(&s->procs[i], env, sa_ksm_run_steady(&s->g0, &s->g1), invs + k);
        for (size_t i = 0; i < k; i++) {
                const char *pending = invs[i].note;
                sa_ksm_inv_judge(&invs[i], running);
                /* keep the subset remark where the judgement left no note of its own */
                if (!invs[i].note)
                        invs[i].note = pending;
        }
        *ret = invs;
        *n = k;
        return 0;
}

static const struct sa_ksm_inv *find_inv(const struct sa_ksm_inv *invs, size_t n, const struct sa_ksm_inv *v) {
        for (size_t i = 0; i < n; i++)
                if (invs[i].pid == v->pid && streq(invs[i].name, v->name))
                        return &invs[i];
        return NULL;
}

static bool any_candidate(const struct sa_ksm_inv *invs, size_t n, bool *settling) {
        bool any = false;

        *settling = false;
        for (size_t i = 0; i < n; i++)
                if (invs[i].candidate) {
                        any = true;
                        *settling |= sa_ksm_inv_rule(&invs[i]) == SA_KSM_SETTLES;
                }
        return any;
}

/*
 * A capture is one reading, held still by the capture's own sandwich: its
 * strict differences stand as they are. A difference that must outlive a
 * full scan is held against the first reading the capture's KSM hashes file
 * recorded, across the full scans the capture waited for.
 */
static void confirm_from_capture(struct sa_ksm_run *run, const struct sa_ksm_snap *s, struct sa_ksm_inv *invs, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (invs[i].candidate && sa_ksm_inv_rule(&invs[i]) == SA_KSM_STRICT) {
                        invs[i].verdict = SA_KSM_VIOLATED;
                        invs[i].candidate = false;
                        invs[i].note = "a capture is one reading: its own sandwich held it still";
                }
        for (size_t pi = 0; pi < s->n_procs; pi++) {
                const struct sa_ksm_proc *p = &s->procs[pi];
                struct sa_ksm_capture_reading first;
                struct sa_ksm_inv prev[SA_KSM_PROC_INVS];
                struct sa_ksm_proc fp;
                bool scanned, cow;
                size_t m;

                if (p->gone || sa_ksm_capture_readings(run->ctx, p->pid, &first) < 0)
                        continue;
                fp = (struct sa_ksm_proc) {
                        .pid = p->pid, .stat = first.reading.stat, .stat_stable = true, .walked = first.reading.walked,
                        .ksm_pages = first.reading.ksm_pages, .zero_pages = first.reading.zero_pages,
                        .swap_pages = first.reading.swap_pages, .smaps_stable = true,
                };
                m = sa_ksm_judge_process(&fp, &run->env, true, prev);
                for (size_t i = 0; i < m; i++)
                        sa_ksm_inv_judge(&prev[i], true);
                scanned = s->g0.sys.full_scans >= first.after.sys.full_scans + 2;
                cow = first.before.cow_ksm >= 0 && s->g1.cow_ksm >= 0 && first.before.cow_ksm != s->g1.cow_ksm;
                for (size_t i = 0; i < n; i++)
                        if (invs[i].pid == p->pid)
                                sa_ksm_inv_confirm(&invs[i], find_inv(prev, m, &invs[i]), scanned, cow);
        }
}

/* The result takes a round over: its snapshot and its judgements. */
static void result_keep(struct sa_ksm_result *res, struct sa_ksm_snap *s, struct sa_ksm_inv *invs, size_t n) {
        sa_ksm_result_done(res);
        res->snap = *s;
        res->invs = invs;
        res->n_invs = n;
}

void sa_ksm_result_done(struct sa_ksm_result *res) {
        sa_ksm_snap_done(&res->snap);
        free(res->invs);
        res->invs = NULL;
        res->n_invs = 0;
}

int sa_ksm_run_rounds(struct sa_ksm_run *run, pid_t pid, struct sa_ksm_result *res) {
        struct sa_ksm_snap prev = {};
        struct sa_ksm_inv *prev_invs = NULL;
        size_t n_prev = 0;
        bool have_prev = false;
        int r = 0;

        for (unsigned round = 0; round < MAX_ROUNDS; round++) {
                struct sa_ksm_snap s = {};
                struct sa_ksm_inv *invs = NULL;
                size_t n = 0;
                bool settling, pending;

                r = sa_ksm_snap_take(run, pid, &s);
                if (r < 0) {
                        sa_ksm_snap_done(&s);
                        goto out;
                }
                res->rounds++;
                if (res->rounds == 1)
                        res->first_full_scans = s.g0.sys.full_scans;
                res->last_full_scans = s.g1.sys.full_scans;
                r = judge_snapshot(&s, &run->env, &invs, &n);
                if (r < 0) {
                        sa_ksm_snap_done(&s);
                        goto out;
                }
                if (!s.stable) {
                        /* keep the last stable round's results; else these, inconclusive */
                        if (!have_prev)
                                result_keep(res, &s, invs, n);
                        else {
                                sa_ksm_snap_done(&s);
                                free(invs);
                        }
                        if (!sa_ctx_live(run->ctx) || sa_ksm_now_usec() >= run->deadline)
                                break;
                        nanosleep(&(struct timespec) { 0, 100 * 1000 * 1000 }, NULL);
                        continue;
                }
                res->stable_rounds++;
                if (have_prev) {
                        /* a complete full scan lies between the two rounds */
                        bool scanned = s.g0.sys.full_scans >= prev.g1.sys.full_scans + 2;
                        bool cow = s.g1.cow_ksm != prev.g0.cow_ksm;
                        for (size_t i = 0; i < n; i++)
                                sa_ksm_inv_confirm(&invs[i], find_inv(prev_invs, n_prev, &invs[i]), scanned, cow);
                }
                if (!sa_ctx_live(run->ctx))
                        confirm_from_capture(run, &s, invs, n);
                pending = any_candidate(invs, n, &settling);
                result_keep(res, &s, invs, n);
                if (!pending || !sa_ctx_live(run->ctx))
                        break;
                /* keep this round to confirm against */
                sa_ksm_snap_done(&prev);
                free(prev_invs);
                prev = (struct sa_ksm_snap) { .g0 = s.g0, .g1 = s.g1 };
                prev_invs = malloc(n * sizeof(*prev_invs));
                if (!prev_invs) {
                        r = -ENOMEM;
                        goto out;
                }
                memcpy(prev_invs, invs, n * sizeof(*prev_invs));
                n_prev = n;
                have_prev = true;
                if (settling && sa_ksm_running(&s.g1)) {
                        r = sa_ksm_wait_full_scans(run->ctx, s.g1.sys.full_scans + 2, run->deadline, NULL);
                        if (r < 0)
                                goto out;
                        if (r == 0) {
                                res->waited_out = true;
                                /* one more round can still confirm strict differences */
                        }
                }
                if (sa_ksm_now_usec() >= run->deadline && res->waited_out)
                        break;
        }
        r = 0;
        for (size_t i = 0; i < res->n_invs; i++)
                sa_ksm_inv_finish(&res->invs[i]);
out:
        sa_ksm_snap_done(&prev);
        free(prev_invs);
        return r;
}
