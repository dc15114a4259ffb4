/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One VMA judged in one pass: the kernel's views before and after the walk
 * against the walk, with the event budget of the window, and a disagreement
 * a finding only once a later pass shows it again. No I/O: the second walk
 * and third smaps read it may need are in the pass (prejudge.c asks for them).
 */
#include "hash.h"
#include "pass.h"

uint64_t sa_acc_moved(const struct sa_acc *a, const struct sa_acc *b, uint64_t fields) {
        uint64_t m = 0;

        for (unsigned f = 0; f < _SA_FIELD_MAX && f < 64; f++)
                if ((fields & (1ULL << f)) && (a->f[f].lo != b->f[f].lo || a->f[f].hi != b->f[f].hi))
                        m |= 1ULL << f;
        return m;
}

static uint64_t hash_nodes(uint64_t h, const struct sa_node_count *c, size_t n) {
        for (size_t i = 0; i < n; i++) {
                uint64_t node = (uint64_t) c[i].node;

                h = fnv1a_64(h, &node, sizeof(node));
                h = fnv1a_64(h, &c[i].pages, sizeof(c[i].pages));
        }
        return h;
}

/* Both sides' pages per node: equal only if nothing moved. */
static uint64_t numa_signature(const struct sa_vma_report *v) {
        static const uint8_t sep = 0xff;
        uint64_t h = hash_nodes(FNV1A_64_INIT, v->numa_kernel, v->n_numa_kernel);

        h = fnv1a_64(h, &sep, sizeof(sep));
        return hash_nodes(h, v->walk.nodes, v->walk.n_nodes);
}

/* numa_maps counts in the VMA's page size. */
int sa_vma_set_numa_kernel(struct sa_vma_report *v, const struct sa_numa_vma *nv) {
        uint64_t unit = nv->kernel_page_kb ? nv->kernel_page_kb / 4 : MAX(v->kernel.kernel_page_kb / 4, 1u);

        free(v->numa_kernel);
        v->numa_kernel = NULL;
        v->n_numa_kernel = 0;
        v->have_numa_kernel = true;
        if (!nv->n_nodes)
                return 0;
        v->numa_kernel = calloc(nv->n_nodes, sizeof(*v->numa_kernel));
        if (!v->numa_kernel)
                return -ENOMEM;
        for (size_t i = 0; i < nv->n_nodes; i++)
                v->numa_kernel[i] = (struct sa_node_count) { nv->nodes[i].node, nv->nodes[i].pages * unit };
        v->n_numa_kernel = nv->n_nodes;
        return 0;
}

/* Every judged field of the VMA within the walk's own bounds, no slack needed. */
static bool walk_within_bounds(const struct sa_vma_report *v) {
        for (unsigned f = 0; f <= SA_PRIVATE; f++)
                if (v->cmp[f].judged && (v->cmp[f].kernel_kb < v->cmp[f].walk_lo_kb || v->cmp[f].kernel_kb > v->cmp[f].walk_hi_kb))
                        return false;
        return true;
}

uint64_t sa_judge_vma_inputs(const struct sa_judge *j, const struct sa_views *A, const struct sa_views *B,
                             const struct sa_smaps_vma *ka, const struct sa_smaps_vma *kb, const struct sa_acc *walk,
                             struct sa_vma_report *v, struct sa_budget *budget) {
        struct sa_window w;
        struct sa_vma_class cls;
        uint64_t stable = sa_stable_fields(ka, kb);

        /*
         * Forks and exits elsewhere move the mapcounts of shared pages between
         * any two reads: unless the second views were not needed, the walk
         * having reproduced the first exactly (prejudge.c).
         */
        if (sa_views_population_moved(A, B) && walk->shareable_pages && !B->smaps_borrowed)
                stable &= ~MAPCOUNT_SENSITIVE;
        v->kernel = *kb;
        v->walk = *walk;
        v->tags = sa_vma_tags(&v->kernel, &v->walk, &j->r->numa);
        /*
         * What the events between the read before the walk and the read after
         * it can explain (judge.h), and how far each field fell between the
         * two reads: pages the target dropped need no event, but they were seen.
         */
        sa_window_between(&A->ev_start, &B->ev_end, &w);
        sa_vma_classify(&v->kernel, &cls);
        sa_budget_for(&w, &j->units, &cls, budget);
        v->churn_kb = budget->page_kb;
        v->pmd_churn_kb = budget->pmd_kb;
        for (unsigned f = 0; f <= SA_PRIVATE; f++) {
                bool ha, hb;
                uint64_t x = sa_smaps_value(ka, f, &ha), y = sa_smaps_value(kb, f, &hb);
                v->dropped_kb[f] = ha && hb && x > y ? x - y : 0;
        }
        v->stable = sa_smaps_core_stable(ka, kb);
        /* the core fields only the target moves are judged against the budget even when they moved */
        if (!v->stable && A->ev_start.have_vmstat && B->ev_end.have_vmstat)
                stable |= CORE_FIELDS & sa_smaps_printed(ka) & sa_smaps_printed(kb);
        return stable;
}

/*
 * Whether the mapcounts of a VMA held still: the second walk gives the
 * mapcount fields of the walk before, and smaps read after it gives the
 * kernel's numbers of the two reads before. Processes that map and unmap
 * the same pages in a loop (an exec loop) move the counts with a period of
 * their own; only a disagreement that five reads in a row agree on stands.
 */
static bool mapcounts_held(const struct sa_pass *p, size_t ai, const struct sa_smaps_vma *k, const struct sa_acc *before) {
        const struct sa_smaps_vma *c;

        if (!p->again || !p->walked_again[ai] || sa_acc_moved(&p->again[ai], before, MAPCOUNT_SENSITIVE))
                return false;
        c = p->third ? sa_smaps_find(p->third, k->start, k->end) : NULL;
        return c && !(MAPCOUNT_SENSITIVE & ~sa_stable_fields(k, c));
}

/*
 * Judges the VMA A->smaps.vmas[ai] with views A (before the walk) and B
 * (after). Returns 1 when the VMA was stable in this pass.
 *
 * Two reads that match do not say the VMA held still: a range unmapped and
 * mapped again with another shape between them (ABA) matches itself while
 * the walk saw the other shape. And one that never holds still (a busy heap)
 * may still show a disagreement no churn could produce. So every field is
 * held against the walk with the budget of the events in the window, in
 * moving VMAs too; a disagreement beyond it must show again in a later pass.
 */
int sa_judge_vma(struct sa_judge *j, const struct sa_pass *p, size_t ai) {
        const struct sa_views *A = p->A, *B = p->B;
        size_t i = p->idx[ai];
        struct sa_vma_report *v = &j->r->vmas[i];
        struct sa_vma_track *t = &j->track[i];
        const struct sa_smaps_vma *ka = sa_smaps_find_near(&A->smaps, ai, v->kernel.start, v->kernel.end);
        const struct sa_smaps_vma *kb = sa_smaps_find_near(&B->smaps, ai, v->kernel.start, v->kernel.end);
        const struct sa_numa_vma *nb = B->have_numa ? sa_numa_maps_find(&B->numa, v->kernel.start) : NULL;
        bool nodes = nb && (j->r->walk_mode & SA_WALK_NODES);
        uint64_t stable, mask, mapcount, confirmed;
        struct sa_budget budget;
        char *name;
        int r;

        if (!ka || !kb) {
                t->moved = true;
                return 0;
        }
        mapcount = MAPCOUNT_FIELDS & sa_smaps_printed(kb);
        /* keep our copy of the name; take the fresh numbers, and the walk */
        name = v->kernel.name;
        sa_acc_done(&v->walk);
        stable = sa_judge_vma_inputs(j, A, B, ka, kb, &p->walks[ai], v, &budget);
        memset(&p->walks[ai], 0, sizeof(p->walks[ai]));
        v->kernel.name = name;
        v->have_numa_kernel = false;
        if (nb) {
                r = sa_vma_set_numa_kernel(v, nb);
                if (r < 0)
                        return r;
        }
        sa_compare_vma(v, stable, nodes);
        /*
         * Another process's exec (its old mm torn down, the new one mapping
         * the same libc) dips a shared page's mapcount and restores it within
         * a pass, without a fork or an exit to show in the population: both
         * smaps reads agree and the walk between them saw the dip. A
         * mapcount field that disagrees stands only if a second walk, after
         * the second smaps read, finds the same counts.
         */
        if ((sa_disagreements(v->cmp, ELEMENTSOF(v->cmp)) & SA_MAPCOUNT_BOTH_WAYS) &&
            !mapcounts_held(p, ai, kb, &v->walk)) {
                stable &= ~MAPCOUNT_SENSITIVE;
                sa_compare_vma(v, stable, nodes);
        }
        mask = sa_disagreements(v->cmp, ELEMENTSOF(v->cmp));
        if (!v->stable) {
                if (!(stable & CORE_FIELDS))
                        return 0;
                mask &= SA_CORE_BOTH_WAYS;
                if (mask == 0) {
                        t->prev_mask = 0;
                        if (sa_moving_vma_decided(&budget, mask))
                                t->moving_decided = true;
                        return 0;
                }
                t->moving_decided = false;
        } else {
                t->seen_stable = true;
                if (B->have_numa && (!nb || !v->numa_judged || v->numa_verdict == SMAPSAUDIT_CONSISTENT))
                        t->numa_settled = true;
                if (v->numa_judged && v->numa_verdict != SMAPSAUDIT_CONSISTENT)
                        mask |= SA_NUMA_BIT;
                if (mask == 0) {
                        t->prev_mask = 0;
                        /* the mapcount fields get more passes to hold still; the rest is settled */
                        t->core_ok = true;
                        t->walk_exact = walk_within_bounds(v);
                        if ((stable & mapcount) == mapcount)
                                t->state = SA_VMA_DONE;
                        return 1;
                }
        }
        t->moved = true;
        confirmed = t->prev_mask & mask;
        /* pages migrate between nodes at any time: the node counts must repeat exactly */
        if ((confirmed & SA_NUMA_BIT) && numa_signature(v) != t->prev->numa)
                confirmed &= ~SA_NUMA_BIT;
        /*
         * Other processes mapping and unmapping shared pages move the
         * mapcounts between any two reads, in both passes if they keep at
         * it. A real mapcount-field bug gives the same numbers every time;
         * churn does not, so those fields must repeat exactly.
         */
        for (unsigned f = 0; f <= SA_PRIVATE && confirmed; f++)
                if ((MAPCOUNT_SENSITIVE & (1ULL << f)) &&
                    (v->cmp[f].kernel_kb != t->prev->cmp[f].kernel_kb || v->walk.f[f].lo != t->prev->walk[f].lo ||
                     v->walk.f[f].hi != t->prev->walk[f].hi))
                        confirmed &= ~((1ULL << f) | (1ULL << (f + 32)));
        t->core_ok = (mask & ~SA_MAPCOUNT_BOTH_WAYS) == 0;
        if (confirmed) {
                r = sa_findings_from_vma(j->r, v, confirmed);
                if (r < 0)
                        return r;
                t->state = SA_VMA_DONE;
                t->core_ok = false;
                return v->stable;
        }
        /* first sighting: keep it for a confirming pass */
        if (!t->prev) {
                t->prev = malloc(sizeof(*t->prev));
                if (!t->prev)
                        return -ENOMEM;
                t->prev->next = j->sightings;
                j->sightings = t->prev;
        }
        t->prev_mask = mask;
        t->prev->numa = numa_signature(v);
        memcpy(t->prev->cmp, v->cmp, sizeof(t->prev->cmp));
        memcpy(t->prev->walk, v->walk.f, sizeof(t->prev->walk));
        return v->stable;
}

uint64_t sa_vma_rss_kb(const struct sa_smaps_vma *v) {
        bool have;

        return v ? sa_smaps_value(v, SA_RSS, &have) : 0;
}

/*
 * Which VMAs the target changes: one mapped, unmapped or changed between
 * any two views of the audit, or whose walk disagreed, may have been in
 * flux while the rollup was read; the others held still through every
 * view. The most Rss that changed between the two views of a pass says how
 * much a churning target keeps in flux at a time.
 */
void sa_judge_note_churn(struct sa_judge *j, const struct sa_pass *p) {
        const struct sa_views *A = p->A, *B = p->B;
        uint64_t changed = 0, moving = 0;

        for (size_t i = 0; i < A->smaps.n; i++) {
                const struct sa_smaps_vma *x = &A->smaps.vmas[i];
                const struct sa_smaps_vma *y = sa_smaps_find_near(&B->smaps, i, x->start, x->end);
                struct sa_vma_track *t = &j->track[p->idx[i]];

                if (!y || !sa_smaps_core_stable(x, y)) {
                        t->moved = true;
                        changed += MAX(sa_vma_rss_kb(x), sa_vma_rss_kb(y));
                } else if (t->moved)
                        moving += MAX(sa_vma_rss_kb(x), sa_vma_rss_kb(y));
        }
        for (size_t i = 0; i < B->smaps.n; i++)
                if (!sa_smaps_find_near(&A->smaps, i, B->smaps.vmas[i].start, B->smaps.vmas[i].end))
                        changed += sa_vma_rss_kb(&B->smaps.vmas[i]);
        j->transient_kb = MAX(j->transient_kb, changed);
        j->moving_kb = moving;
}
