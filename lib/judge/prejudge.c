/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The pre-judgement: what a pass must read or walk again before it can be
 * judged, decided by the judge's own comparisons on the data in hand. Pure:
 * it reads nothing, walks nothing and changes nothing it is given; the pass
 * loop (audit.c) does what it asks.
 */
#include "pass.h"

/* The views as they would be if the second read were the first again (sa_views_counters), the middle views beside them. */
static void as_second(const struct sa_views *A, const struct sa_views *middle, struct sa_views *ret) {
        *ret = *A;
        ret->smaps_borrowed = true;
        sa_views_set_middle(ret, middle);
}

/* The walk of VMA ai gives exactly what the first views say of it, nodes included: no slack at all. */
static int vma_exact(const struct sa_judge *j, const struct sa_pass *p, size_t ai) {
        const struct sa_views *A = p->A, *B = p->B;
        const struct sa_smaps_vma *k = &A->smaps.vmas[ai];
        const struct sa_numa_vma *nv = B->have_numa ? sa_numa_maps_find(&B->numa, k->start) : NULL;
        struct sa_vma_report v = {};
        struct sa_budget budget;
        uint64_t stable;
        int r;

        stable = sa_judge_vma_inputs(j, A, B, k, k, &p->walks[ai], &v, &budget);
        v.churn_kb = v.pmd_churn_kb = 0;
        if (nv) {
                r = sa_vma_set_numa_kernel(&v, nv);
                if (r < 0)
                        return r;
        }
        sa_compare_vma(&v, stable, nv && (j->r->walk_mode & SA_WALK_NODES));
        free(v.numa_kernel);
        return v.verdict == SMAPSAUDIT_CONSISTENT;
}

/* The totals agree with the first views and the walk as they are, status within its counter lag only. */
static bool totals_exact(const struct sa_judge *j, const struct sa_pass *p) {
        struct smapsaudit_report cmp = *j->r; /* sa_compare_totals writes only the totals and their comparisons */
        struct sa_totals_plan plan;

        sa_judge_totals_plan(j, p, &plan);
        /* no slack for the target's faults: the rollup must equal the sums, status the walk */
        plan.w.over_kb = plan.w.under_kb = plan.w.fault_kb = 0;
        plan.w.status_before = NULL;
        sa_compare_totals(&cmp, &plan.w, &p->total, p->B->have_status ? &p->B->status : NULL, j->kernel);
        return (j->rollup_done || !sa_disagreements(cmp.rollup_cmp, _SA_FIELD_MAX)) &&
               (j->status_done || !sa_disagreements(cmp.status_cmp, _SA_FIELD_MAX));
}

/*
 * The second views are read to see what moved while the walk ran. Where the
 * walk reproduces the first views exactly, and the rollup and status read
 * after it agree with both, nothing moved that matters: a bug would have
 * shown as a disagreement, and churn would have shown as one too. Only the
 * counters around the pass are read again then, which keep the judge's
 * event window whole. Every field is held to the walk here, the mapcount
 * fields too whatever other processes did: agreement that exact needs no
 * second look (sa_judge_vma_inputs).
 */
int sa_prejudge_second_views(const struct sa_judge *j, const struct sa_views *A, const struct sa_views *middle,
                             const struct sa_pass *p) {
        struct sa_views same;
        struct sa_pass q = *p;
        int r;

        as_second(A, middle, &same);
        q.B = &same;
        for (size_t ai = 0; ai < A->smaps.n; ai++) {
                if (!p->walked[ai])
                        continue;
                r = vma_exact(j, &q, ai);
                if (r <= 0)
                        return r < 0 ? r : 1;
        }
        return p->need_totals && !totals_exact(j, &q);
}

/*
 * After the second views: a disagreement in a field that other processes'
 * mapcounts move must be seen again by a second walk of its VMA and a third
 * smaps read, and one in a total only the walk answers for by a second walk
 * of every VMA (judge-vma.c and rollup.c say why). The same comparisons as
 * the judge's, so that it finds what it needs in the pass.
 */
void sa_prejudge(const struct sa_judge *j, const struct sa_pass *p, struct sa_request *req) {
        const struct sa_views *A = p->A, *B = p->B;

        /* the second views were not needed: every comparison below agreed exactly already */
        if (B->smaps_borrowed)
                return;

        for (size_t ai = 0; ai < A->smaps.n; ai++) {
                const struct sa_smaps_vma *ka = &A->smaps.vmas[ai];
                const struct sa_smaps_vma *kb = sa_smaps_find_near(&B->smaps, ai, ka->start, ka->end);
                struct sa_vma_report v = {};
                struct sa_budget budget;
                uint64_t stable;

                if (j->track[p->idx[ai]].state == SA_VMA_DONE || !kb)
                        continue;
                stable = sa_judge_vma_inputs(j, A, B, ka, kb, &p->walks[ai], &v, &budget);
                sa_compare_vma(&v, stable, false);
                if (sa_disagreements(v.cmp, ELEMENTSOF(v.cmp)) & SA_MAPCOUNT_BOTH_WAYS)
                        req->rewalk[ai] = req->third_smaps = true;
        }
        if (p->need_totals) {
                struct smapsaudit_report cmp = *j->r; /* sa_compare_totals writes only the totals and their comparisons */
                struct sa_totals_plan plan;
                bool status;

                sa_judge_totals_plan(j, p, &plan);
                status = (plan.status_ok || plan.status_moving) && !sa_inflight_keeps_status(&plan.inflight);
                if (!plan.status_moving || !status)
                        plan.w.status_before = NULL;
                sa_compare_totals(&cmp, &plan.w, &p->total, status ? &B->status : NULL, j->kernel);
                if (sa_judge_walk_held(j, &cmp)) {
                        req->totals = true;
                        for (size_t ai = 0; ai < A->smaps.n; ai++)
                                req->rewalk[ai] = true;
                }
        }
}
