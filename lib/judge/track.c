/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The VMAs an audit has seen, tracked by address across passes beside the
 * report's VMAs, and what is still to be decided about them. No I/O.
 */
#include "pass.h"

static bool tracked_before(const struct sa_smaps_vma *t, const struct sa_smaps_vma *k) {
        return t->start < k->start || (t->start == k->start && t->end < k->end);
}

/* A VMA seen for the first time, tracked at position at of r->vmas. */
static int insert_vma(struct sa_judge *j, size_t at, const struct sa_smaps_vma *k) {
        struct smapsaudit_report *r = j->r;
        char *name = strdup(k->name ? k->name : "");

        if (!name)
                return -ENOMEM;
        if (r->n_vmas == j->n_track_alloc) {
                size_t n = MAX(j->n_track_alloc * 2, (size_t) 16);
                struct sa_vma_report *nv = realloc(r->vmas, n * sizeof(*nv));
                struct sa_vma_track *nt;

                if (!nv) {
                        free(name);
                        return -ENOMEM;
                }
                r->vmas = nv;
                nt = realloc(j->track, n * sizeof(*nt));
                if (!nt) {
                        free(name);
                        return -ENOMEM;
                }
                j->track = nt;
                j->n_track_alloc = n;
        }
        memmove(&r->vmas[at + 1], &r->vmas[at], (r->n_vmas - at) * sizeof(r->vmas[0]));
        memmove(&j->track[at + 1], &j->track[at], (r->n_vmas - at) * sizeof(j->track[0]));
        memset(&r->vmas[at], 0, sizeof(r->vmas[0]));
        r->vmas[at].kernel = *k;
        r->vmas[at].kernel.name = name;
        /* one that appears after the first view was mapped while we watched */
        j->track[at] = (struct sa_vma_track) { .state = SA_VMA_PENDING, .moved = r->passes > 1 };
        r->n_vmas++;
        return 0;
}

/*
 * Tracks every VMA of a view: idx[i] is where s->vmas[i] is in r->vmas, and
 * only those are present. Both are in address order (smaps lists VMAs so,
 * and r->vmas is kept so), so one merge pass does it, however many VMAs
 * there are.
 */
int sa_judge_track_view(struct sa_judge *j, const struct sa_smaps *s, size_t *idx) {
        struct smapsaudit_report *r = j->r;
        size_t k = 0;
        int ret;

        for (size_t i = 0; i < r->n_vmas; i++)
                j->track[i].present = false;
        for (size_t i = 0; i < s->n; i++) {
                const struct sa_smaps_vma *v = &s->vmas[i];

                while (k < r->n_vmas && tracked_before(&r->vmas[k].kernel, v))
                        k++;
                if (k == r->n_vmas || r->vmas[k].kernel.start != v->start || r->vmas[k].kernel.end != v->end) {
                        ret = insert_vma(j, k, v);
                        if (ret < 0)
                                return ret;
                }
                idx[i] = k++;
        }
        for (size_t i = 0; i < s->n; i++)
                j->track[idx[i]].present = true;
        return 0;
}

/*
 * A VMA of the first views that the second no longer shows was unmapped
 * during the pass: it is gone, not undecided, unless a later view shows it
 * again.
 */
void sa_judge_unmapped(struct sa_judge *j, const struct sa_pass *p) {
        for (size_t i = 0; i < p->A->smaps.n; i++) {
                const struct sa_smaps_vma *x = &p->A->smaps.vmas[i];

                if (!sa_smaps_find_near(&p->B->smaps, i, x->start, x->end))
                        j->track[p->idx[i]].present = false;
        }
}

void sa_judge_drop_vanished(struct sa_judge *j) {
        struct smapsaudit_report *r = j->r;
        size_t k = 0;

        for (size_t i = 0; i < r->n_vmas; i++) {
                if (!j->track[i].present) {
                        sa_vma_report_done(&r->vmas[i]);
                        continue;
                }
                r->vmas[k] = r->vmas[i];
                j->track[k++] = j->track[i];
        }
        r->n_vmas = k;
}

/* An exec: nothing seen of the old mm may confirm, or settle, what the new one shows. */
void sa_judge_forget(struct sa_judge *j) {
        for (size_t i = 0; i < j->r->n_vmas; i++)
                j->track[i].present = false;
        sa_judge_drop_vanished(j);
        j->prev_rollup_mask = j->prev_status_mask = j->rollup_sighted = 0;
        j->totals_done = j->rollup_done = j->status_done = j->rollup_agreed = j->rollup_churn = false;
        j->rollup_rec = (struct sa_rollup_record) {};
}

bool sa_judge_all_done(const struct sa_judge *j) {
        if (!j->totals_done)
                return false;
        for (size_t i = 0; i < j->r->n_vmas; i++)
                if (j->track[i].present && j->track[i].state != SA_VMA_DONE)
                        return false;
        return true;
}

/* Something is left that could make the report inconclusive. */
bool sa_judge_undecided(const struct sa_judge *j) {
        if (!j->totals_done)
                return true;
        for (size_t i = 0; i < j->r->n_vmas; i++)
                if (j->track[i].present && j->track[i].state != SA_VMA_DONE && !j->track[i].core_ok &&
                    !j->track[i].moving_decided)
                        return true;
        return false;
}

/*
 * A VMA walked in an earlier pass and unchanged since: its walk still stands for the totals,
 * unless it agreed only within the churn slack (the target remapped it under the walk), when
 * the walk saw something else than what stayed.
 */
bool sa_judge_walk_stands(const struct sa_judge *j, size_t t, const struct sa_smaps_vma *now) {
        const struct sa_vma_report *done = &j->r->vmas[t];

        return j->track[t].walk_exact && sa_smaps_core_stable(&done->kernel, now) &&
               (sa_stable_fields(&done->kernel, now) & MAPCOUNT_FIELDS) == (MAPCOUNT_FIELDS & sa_smaps_printed(now));
}

void sa_judge_done(struct sa_judge *j) {
        while (j->sightings) {
                struct sa_vma_sighting *next = j->sightings->next;

                free(j->sightings);
                j->sightings = next;
        }
        free(j->track);
        j->track = NULL;
        j->n_track_alloc = 0;
}
