/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The process totals: smaps_rollup held against the per-VMA sums read
 * around it (the rollup window) and the walk, and status's counters
 * against the walk. No I/O: the second walk a disagreement needs is in
 * the pass, asked for by prejudge.c.
 */
#include "pass.h"

static bool rollup_sensitive(unsigned f) {
        return (MAPCOUNT_SENSITIVE & (1ULL << f)) || sa_fields[f].unit == SA_UNIT_PSS;
}

static void sum_smaps(const struct sa_smaps *s, struct sa_smaps_vma *sum) {
        memset(sum, 0, sizeof(*sum));
        for (size_t i = 0; i < s->n; i++) {
                for (unsigned f = 0; f < _SA_SMAPS_FIELD_MAX; f++)
                        sum->kb[f] += s->vmas[i].kb[f];
                sum->have |= s->vmas[i].have;
        }
}

/* The target's mappings held still around the walk. */
static bool layout_stable(const struct sa_views *A, const struct sa_views *B) {
        if (A->smaps.n != B->smaps.n)
                return false;
        for (size_t i = 0; i < A->smaps.n; i++)
                if (!sa_smaps_core_stable(&A->smaps.vmas[i], &B->smaps.vmas[i]))
                        return false;
        return true;
}

/* What a VMA that came or went between the two views can have moved the status counters by. */
static uint64_t status_allowance(const struct sa_smaps_vma *v) {
        bool have;

        return sa_smaps_value(v, SA_RSS, &have) + sa_smaps_value(v, SA_SWAP, &have);
}

static uint64_t sat_add_kb(uint64_t a, uint64_t b) {
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Every status counter B printed was compared in this pass. */
static bool status_all_judged(const struct smapsaudit_report *r) {
        for (unsigned f = SA_ST_RSS; f < _SA_FIELD_MAX; f++)
                if (r->totals[f].have_status && !r->status_cmp[f].judged)
                        return false;
        return true;
}

static void add_vma_allowance(struct sa_rollup_window *w, const struct sa_smaps_vma *x, const struct sa_smaps_vma *y) {
        for (unsigned f = 0; f <= SA_PRIVATE; f++) {
                bool h;
                uint64_t vx = x ? sa_smaps_value(x, f, &h) : 0, vy = y ? sa_smaps_value(y, f, &h) : 0;
                w->allowance_kb[f] += MAX(vx, vy);
        }
}

/*
 * The rollup is read once, between the two smaps reads. A target that maps,
 * unmaps or faults meanwhile moves it by what it touched: allow for the
 * VMAs that changed. Above the sums, pages it faulted in and dropped again
 * before the second read: one per fault until the rollup was read. Below,
 * pages dropped while the rollup was read and faulted back before the
 * second read saw them: one per fault from the rollup read to the end of
 * the second read. A rollup that skips whole VMAs that never moved (the
 * 6.1 bug) falls outside, however busy a small churning region keeps the
 * target.
 */
static void rollup_window(const struct sa_judge *j, const struct sa_views *A, const struct sa_views *B,
                          const struct sa_acc *total, struct sa_rollup_window *w) {
        const uint64_t kb = SA_PAGE_SIZE / 1024;
        struct sa_window over, under;
        uint64_t came_went_kb = 0; /* Rss and Swap of the VMAs mapped or unmapped between the views */
        uint64_t refaults_end;

        memset(w, 0, sizeof(*w));
        w->rollup = B->rollup.n ? &B->rollup.vmas[0] : NULL;
        sum_smaps(&A->smaps, &w->before);
        sum_smaps(&B->smaps, &w->after);
        if (B->rollup_faults_after >= A->faults)
                w->over_kb = (B->rollup_faults_after - A->faults) * kb;
        /*
         * Below: a page dropped while the rollup passed it and faulted back
         * before the second smaps read passed it is in both sums and not in
         * the rollup, so every fault from the start of the rollup read to the
         * end of the second read counts, not only those during the rollup read.
         */
        refaults_end = B->ev_end.have_faults ? MAX(B->ev_end.faults, B->rollup_faults_after) : B->rollup_faults_after;
        if (refaults_end >= B->rollup_faults_before)
                w->under_kb = (refaults_end - B->rollup_faults_before) * kb;
        /*
         * A fault that maps a THP moves the sums by a PMD, not a page: above,
         * THPs mapped and dropped again after the first read; below, THPs
         * dropped before the rollup read and mapped again before the second.
         */
        sa_window_between(&A->ev_start, &B->ev_end, &over);
        sa_window_between(&B->ev_rollup, &B->ev_end, &under);
        if (over.known)
                w->over_kb += (MIN(over.thp_fault, over.faults) + over.thp_other) * j->units.pmd_kb;
        if (under.known)
                w->under_kb += (MIN(under.thp_fault, under.faults) + under.thp_other) * j->units.pmd_kb;
        for (size_t i = 0; i < A->smaps.n; i++) {
                const struct sa_smaps_vma *x = &A->smaps.vmas[i];
                const struct sa_smaps_vma *y = sa_smaps_find_near(&B->smaps, i, x->start, x->end);
                if (!y || !sa_smaps_core_stable(x, y))
                        add_vma_allowance(w, x, y);
                if (!y)
                        came_went_kb = sat_add_kb(came_went_kb, status_allowance(x));
        }
        for (size_t i = 0; i < B->smaps.n; i++)
                if (!sa_smaps_find_near(&A->smaps, i, B->smaps.vmas[i].start, B->smaps.vmas[i].end)) {
                        add_vma_allowance(w, NULL, &B->smaps.vmas[i]);
                        came_went_kb = sat_add_kb(came_went_kb, status_allowance(&B->smaps.vmas[i]));
                }
        w->stable = ~0ULL;
        if (sa_views_population_moved(A, B) && total->shareable_pages && !B->smaps_borrowed)
                for (unsigned f = 0; f < _SA_FIELD_MAX && f < 64; f++)
                        if (rollup_sensitive(f))
                                w->stable &= ~(1ULL << f);
        w->pss_slack_kb = B->smaps.n;
        w->walk_comparable = B->faults == A->faults && layout_stable(A, B);
        w->fault_kb = B->faults > A->faults ? (B->faults - A->faults) * kb : 0;
        if (over.known) {
                struct sa_vma_class anon = {}, file = { .file = true };
                struct sa_budget b;

                w->fault_kb += (MIN(over.thp_fault, over.faults) + over.thp_other) * j->units.pmd_kb;
                sa_budget_for(&over, &j->units, &anon, &b);
                w->status_anon_kb = b.page_kb;
                sa_budget_for(&over, &j->units, &file, &b);
                w->status_file_kb = b.page_kb;
        }
        /* a VMA that came or went may hold pages the walk saw and the second status no longer counts */
        w->status_anon_kb = sat_add_kb(w->status_anon_kb, came_went_kb);
        w->status_file_kb = sat_add_kb(w->status_file_kb, came_went_kb);
}

static bool rollup_repeats(const struct sa_judge *j, const struct sa_acc *total, unsigned f) {
        const struct sa_field_cmp *c = &j->r->rollup_cmp[f], *p = &j->prev_rollup_cmp[f];

        return c->kernel_kb == p->kernel_kb && c->walk_lo_kb == p->walk_lo_kb && c->walk_hi_kb == p->walk_hi_kb &&
               total->f[f].lo == j->prev_total[f].lo && total->f[f].hi == j->prev_total[f].hi;
}

/* The rollup's Rss lies below both smaps sums around it: the window's slack was needed. */
static bool rollup_used_slack(const struct sa_rollup_window *w) {
        bool have;
        uint64_t rv = sa_smaps_value(w->rollup, SA_RSS, &have);

        return rv < MIN(sa_smaps_value(&w->before, SA_RSS, &have), sa_smaps_value(&w->after, SA_RSS, &have));
}

/* The total fields only the walk answers for: the rollup-only Pss fields, and the status counters. */
static uint64_t walk_held_disagreements(const struct smapsaudit_report *r, bool rollup, bool status) {
        uint64_t m = 0;

        for (unsigned f = 0; f < _SA_FIELD_MAX && f < 64; f++) {
                if (rollup && sa_fields[f].rollup_only && rollup_sensitive(f) && r->rollup_cmp[f].judged &&
                    r->rollup_cmp[f].verdict != SMAPSAUDIT_CONSISTENT)
                        m |= 1ULL << f;
                if (status && r->status_cmp[f].judged && r->status_cmp[f].verdict != SMAPSAUDIT_CONSISTENT)
                        m |= 1ULL << f;
        }
        return m;
}

uint64_t sa_judge_walk_held(const struct sa_judge *j, const struct smapsaudit_report *cmp) {
        return walk_held_disagreements(cmp, !j->rollup_done, !j->status_done);
}

/* What the totals are held against in this pass, before any thread in flight is looked at. */
void sa_judge_totals_plan(const struct sa_judge *j, const struct sa_pass *p, struct sa_totals_plan *ret) {
        const struct sa_views *A = p->A, *B = p->B;
        struct sa_rollup_window *w = &ret->w;

        rollup_window(j, A, B, &p->total, w);
        /*
         * A page per fault during the rollup read bounds what it can have
         * missed while the target dropped and refaulted pages; but a thread
         * that maps and unmaps in a loop faults thousands of times a read,
         * enough to hide whole VMAs. Once such churn has been seen, what the
         * rollup can miss is bounded by the VMAs that moved and by the most
         * the target had in flux at once (twice that, for churn the views
         * did not catch at its peak): VMAs that held still through every view
         * and are missing from the rollup (the 6.1 bug) stand out.
         */
        if (j->transient_kb)
                w->under_kb = MIN(w->under_kb, 2 * (j->transient_kb + j->moving_kb));
        ret->status_ok = A->have_status && B->have_status && layout_stable(A, B) &&
                         sa_status_counters_equal(&A->status, &B->status);
        /*
         * Counters that moved around the walk are held against it with the
         * window's budget, as moving VMAs are, widened by the Rss and Swap of
         * every VMA that came or went between the views (a runtime that maps
         * and unmaps heap pages in every pass would otherwise never have its
         * status compared): below the walk beyond that is a sighting. Above it is not: kernel work
         * in flight (a zap after its VMA was detached, a fault before its PTE
         * is set) keeps status above the page tables for a while, so a moving
         * window settles status only when it agrees both ways.
         */
        ret->status_moving = !ret->status_ok && A->have_status && B->have_status && w->status_anon_kb != UINT64_MAX;
        ret->inflight = sa_inflight_window(&A->inflight_after, &B->inflight_before);
        if (ret->status_moving)
                w->status_before = &A->status;
}

int sa_judge_totals(struct sa_judge *j, const struct sa_pass *p) {
        const struct sa_views *B = p->B;
        const struct sa_acc *total = &p->total;
        struct smapsaudit_report *r = j->r;
        struct sa_totals_plan plan;
        struct sa_rollup_window *w = &plan.w;
        const char *why[SA_PRIVATE + 1] = {};
        bool status_ok, status_moving, status_over;
        uint64_t mr, ms, cr, cs, moved;
        int ret;

        sa_judge_totals_plan(j, p, &plan);
        status_ok = plan.status_ok;
        status_moving = plan.status_moving;
        /* kernel work in flight in the target keeps status off the page tables, moving or not */
        if ((status_ok || status_moving) && !sa_inflight_status_comparable(&j->inflight_log, r->passes, &plan.inflight))
                status_ok = status_moving = false;
        if (!status_moving)
                w->status_before = NULL;
        sa_compare_totals(r, w, total, status_ok || status_moving ? &B->status : NULL, j->kernel);
        /*
         * The rollup and status are read once each side of the walk, the walk
         * once between; where only the walk answers for a field, a page in
         * flux while it passed is a disagreement no second read shows. A
         * process sharing the target's pages that unmaps them (a forked
         * sibling exiting) moves the Pss the rollup reports, and says so in
         * the population counters only when it is reaped, which may be after
         * the pass. So those fields, when they disagree, stand only if a
         * second walk, after every view of the pass, finds the same (the
         * pre-judgement asked for it; without it, every such field moved).
         */
        moved = sa_judge_walk_held(j, r);
        if (moved && p->have_total_again)
                moved = sa_acc_moved(&p->total_again, total, moved);
        for (unsigned f = 0; f < _SA_FIELD_MAX && f < 64; f++)
                if (moved & (1ULL << f)) {
                        r->rollup_cmp[f].judged = r->status_cmp[f].judged = false;
                        if (f <= SA_PRIVATE)
                                why[f] = sa_rollup_why_walk_moved;
                }
        if (status_ok && sa_inflight_withdraw_over(&j->inflight_log, r->passes, &plan.inflight, r))
                status_ok = false;
        /*
         * The rollup-only fields (Pss_Anon/File/Shmem) can only be held
         * against the walk; where VMAs already disagree, the per-VMA
         * findings say where, and the rollup repeating them adds nothing.
         */
        for (size_t i = 0; i < r->n_vmas; i++)
                if (j->track[i].present && (j->track[i].prev_mask || r->vmas[i].verdict == SMAPSAUDIT_UNDER_ACCOUNTED ||
                                            r->vmas[i].verdict == SMAPSAUDIT_OVER_ACCOUNTED))
                        for (unsigned f = 0; f <= SA_PRIVATE; f++)
                                if (sa_fields[f].rollup_only) {
                                        r->rollup_cmp[f].judged = false;
                                        why[f] = sa_rollup_why_vmas;
                                }
        r->totals_judged = true;
        mr = j->rollup_done ? 0 : sa_disagreements(r->rollup_cmp, _SA_FIELD_MAX);
        ms = j->status_done ? 0 : sa_disagreements(r->status_cmp, _SA_FIELD_MAX);
        /* in a moving window, over-accounted status is never a sighting (see status_moving) */
        status_over = status_moving && (ms >> 32);
        if (status_moving)
                ms &= 0xffffffffULL;

        /*
         * A kernel that drops VMAs from the rollup only under contention (6.1)
         * does so in most reads, not all: a disagreement in a field only the
         * target moves is confirmed by any later pass, not just the next one.
         */
        cr = (j->prev_rollup_mask | j->rollup_sighted) & mr;
        /* as for VMAs: what other processes' mapcounts move must repeat exactly */
        for (unsigned f = 0; f < _SA_FIELD_MAX && f < 32; f++)
                if (rollup_sensitive(f) && !rollup_repeats(j, total, f))
                        cr &= ~((1ULL << f) | (1ULL << (f + 32)));
        cs = j->prev_status_mask & ms;
        if (cr || cs) {
                ret = sa_findings_from_totals(r, cr, cs);
                if (ret < 0)
                        return ret;
        }
        /*
         * A rollup that agreed only thanks to the slack for the target's own
         * faults may still have skipped VMAs: it held, but later passes may
         * see it skip again, as may one that agreed after a sighting.
         */
        if (!j->rollup_done && w->rollup && (cr || (mr == 0 && !j->rollup_sighted && !rollup_used_slack(w)))) {
                j->rollup_done = true;
                j->rollup_churn = false;
                sa_rollup_record_pass(&j->rollup_rec, r, r->passes, w, why);
        } else if (!j->rollup_done && w->rollup && mr == 0) {
                j->rollup_agreed = true;
                sa_rollup_record_pass(&j->rollup_rec, r, r->passes, w, why);
        } else if (!j->rollup_done) {
                j->rollup_churn = true;
                for (unsigned f = 0; f < _SA_FIELD_MAX && f < 32; f++)
                        if ((mr & ((1ULL << f) | (1ULL << (f + 32)))) && !rollup_sensitive(f))
                                j->rollup_churn = false;
        }
        if (!w->rollup)
                j->rollup_done = true;
        if (status_moving && (cs || (!status_over && ms == 0 && status_all_judged(r))))
                j->status_done = true;
        if (status_ok && (ms == 0 || cs))
                j->status_done = true;
        if (!B->have_status)
                j->status_done = true;
        j->totals_done = j->rollup_done && j->status_done;
        j->prev_rollup_mask = mr;
        for (unsigned f = 0; f < _SA_FIELD_MAX && f < 32; f++)
                if (!rollup_sensitive(f))
                        j->rollup_sighted |= mr & ((1ULL << f) | (1ULL << (f + 32)));
        j->prev_status_mask = status_ok || status_moving ? ms : j->prev_status_mask;
        memcpy(j->prev_rollup_cmp, r->rollup_cmp, sizeof(j->prev_rollup_cmp));
        memcpy(j->prev_total, total->f, sizeof(j->prev_total));
        return 0;
}
