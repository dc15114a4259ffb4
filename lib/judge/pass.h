/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One pass of an audit as data: the views read around the walk, the walk,
 * and what the pre-judgement asked to be read or walked again. The judge
 * (track.c, judge-vma.c, rollup.c, verdict.c) decides on this data and on
 * what it kept of earlier passes; it never reads or walks. audit.c does
 * the reading and walking, in the order the pass pipeline gives.
 */
#pragma once

#include "inflight.h"
#include "judge.h"
#include "rollup-record.h"
#include "views.h"

/* What the rollup is held against: it was read between two reads of smaps. */
struct sa_rollup_window {
        const struct sa_smaps_vma *rollup;
        struct sa_smaps_vma before, after;     /* the per-VMA lines summed, on each side */
        uint64_t allowance_kb[SA_PRIVATE + 1]; /* what the target's own changes can explain, both ways */
        uint64_t over_kb, under_kb;            /* and its page faults, for each direction */
        uint64_t fault_kb;                     /* a page per fault the target took during the pass, a PMD per THP event */
        uint64_t stable;                       /* fields to judge */
        uint64_t pss_slack_kb;                 /* per-VMA truncation of the PSS family */
        bool walk_comparable;                  /* nothing moved: rollup-only fields against the walk */
        const struct sa_status *status_before; /* status read before the walk, when its counters moved */
        uint64_t status_anon_kb, status_file_kb; /* and what the window's events could move them by */
};

#define SA_NUMA_BIT (1ULL << 31)

enum sa_vma_state {
        SA_VMA_PENDING,
        SA_VMA_DONE,
};

/*
 * A VMA's disagreement as an earlier pass saw it, for a later one to
 * confirm. Few VMAs ever disagree: kept apart from the track of every VMA,
 * which a process may have 65,530 of, and made at the first sighting.
 */
struct sa_vma_sighting {
        struct sa_field_cmp cmp[SA_PRIVATE + 1];
        struct sa_range walk[SA_PRIVATE + 1]; /* unrounded: any mapcount change shows */
        uint64_t numa;            /* numa_signature() of that pass */
        struct sa_vma_sighting *next; /* every one the judge made, freed together */
};

/* What the judge keeps of one VMA across passes. */
struct sa_vma_track {
        enum sa_vma_state state;
        bool seen_stable;
        bool core_ok;             /* stable and agreeing, but for mapcount fields that never held still */
        bool present;             /* in the latest views */
        uint64_t prev_mask;       /* disagreements seen in an earlier stable pass */
        struct sa_vma_sighting *prev; /* what that pass saw of them; set with prev_mask */
        bool numa_settled;        /* numa_maps agreed in a stable pass, or has nothing to say */
        bool moved;               /* mapped, unmapped or changed between two views, or its walk disagreed */
        bool walk_exact;          /* settled with its walk matching the kernel without churn slack */
        bool moving_decided;      /* never held still, but agreed with the walk where no THP event could hide a bug */
};

/* What the judge keeps across the passes of one audit. */
struct sa_judge {
        struct smapsaudit_report *r;
        const struct sa_kernel *kernel;
        struct sa_vma_track *track; /* beside r->vmas, n_track_alloc of both allocated */
        size_t n_track_alloc;
        struct sa_vma_sighting *sightings; /* the tracks' prev, and those of VMAs gone since */
        bool totals_done;
        uint64_t prev_rollup_mask, prev_status_mask;
        struct sa_field_cmp prev_rollup_cmp[_SA_FIELD_MAX];
        struct sa_range prev_total[_SA_FIELD_MAX];
        bool rollup_done, status_done;
        bool rollup_churn;        /* the rollup disagreed only in mapcount fields, never twice alike */
        uint64_t rollup_sighted;  /* rollup disagreements in fields the target alone moves, any pass */
        bool rollup_agreed;       /* the rollup agreed in a pass after such a sighting */
        uint64_t transient_kb;    /* the most Rss in VMAs that changed between two views of a pass */
        uint64_t moving_kb;       /* Rss of VMAs stable in this pass that moved before */
        bool execed;              /* the process exec'ed during the audit */
        struct sa_inflight_log inflight_log; /* passes whose status counters were not compared */
        struct sa_rollup_record rollup_rec;  /* the rollup as the pass that settled it saw it */
        struct sa_fault_units units;         /* what one fault can map, read each pass */
};

/*
 * What the pre-judgement asks of the pass loop once the second views are
 * in: VMAs to walk again (by index into the first views), the sum of a walk
 * of every VMA again, smaps read a third time after those walks.
 */
struct sa_request {
        bool *rewalk;             /* A->smaps.n of them */
        bool totals;
        bool third_smaps;
};

struct sa_pass {
        const struct sa_views *A, *B;
        const size_t *idx;         /* A->smaps.vmas[i] is r->vmas[idx[i]] */
        struct sa_acc *walks;      /* the walk of A->smaps.vmas[i]; empty where it was not walked */
        const bool *walked;        /* which were walked in this pass */
        struct sa_acc total;       /* Σ of the walks (and of walks of earlier passes that still stand) */
        bool need_totals;
        /* what the request brought */
        struct sa_acc *again;      /* the second walk of A->smaps.vmas[i], where walked_again[i] */
        const bool *walked_again;
        struct sa_acc total_again; /* request.totals: Σ of the second walks */
        bool have_total_again;
        const struct sa_smaps *third; /* request.third_smaps: NULL if it could not be read */
};

/* track.c: the VMAs the audit has seen, in address order, beside r->vmas. */
int sa_judge_track_view(struct sa_judge *j, const struct sa_smaps *s, size_t *idx);
void sa_judge_unmapped(struct sa_judge *j, const struct sa_pass *p);
void sa_judge_drop_vanished(struct sa_judge *j);
void sa_judge_forget(struct sa_judge *j);
bool sa_judge_all_done(const struct sa_judge *j);
bool sa_judge_undecided(const struct sa_judge *j);
/* The walk of VMA t in an earlier pass still stands for the totals now. */
bool sa_judge_walk_stands(const struct sa_judge *j, size_t t, const struct sa_smaps_vma *now);
void sa_judge_done(struct sa_judge *j);

/* prejudge.c: pure. Whether the second views must be read (1), or only their counters (0). */
int sa_prejudge_second_views(const struct sa_judge *j, const struct sa_views *A, const struct sa_views *middle,
                              const struct sa_pass *p);
/* Fills req (req->rewalk allocated by the caller, A->smaps.n long, all false). */
void sa_prejudge(const struct sa_judge *j, const struct sa_pass *p, struct sa_request *req);

/* judge-vma.c */
int sa_judge_vma(struct sa_judge *j, const struct sa_pass *p, size_t i);
void sa_judge_note_churn(struct sa_judge *j, const struct sa_pass *p);
uint64_t sa_vma_rss_kb(const struct sa_smaps_vma *v);
/* numa_maps's pages per node of the VMA, in 4 KiB pages as the walk counts them. */
int sa_vma_set_numa_kernel(struct sa_vma_report *v, const struct sa_numa_vma *nv);
/*
 * What judge_vma compares first, into v (which the caller owns): the fresh
 * kernel numbers of B, the walk, tags and budget; returns the fields
 * stable enough to judge. v->walk is borrowed from walk, v->kernel.name from kb.
 */
uint64_t sa_judge_vma_inputs(const struct sa_judge *j, const struct sa_views *A, const struct sa_views *B,
                             const struct sa_smaps_vma *ka, const struct sa_smaps_vma *kb, const struct sa_acc *walk,
                             struct sa_vma_report *v, struct sa_budget *budget);
#define SA_CORE_BOTH_WAYS (CORE_FIELDS | (CORE_FIELDS << 32))
#define SA_MAPCOUNT_BOTH_WAYS (MAPCOUNT_SENSITIVE | (MAPCOUNT_SENSITIVE << 32))
/* The fields of `fields` in which two walks of the same VMAs differ. */
uint64_t sa_acc_moved(const struct sa_acc *a, const struct sa_acc *b, uint64_t fields);

/* rollup.c: the rollup window and the process totals. */
struct sa_totals_plan {
        struct sa_rollup_window w;
        struct sa_inflight_thread inflight;
        bool status_ok, status_moving;
};
void sa_judge_totals_plan(const struct sa_judge *j, const struct sa_pass *p, struct sa_totals_plan *ret);
/* The total fields only the walk answers for that disagree: a second walk must show them again. */
uint64_t sa_judge_walk_held(const struct sa_judge *j, const struct smapsaudit_report *cmp);
int sa_judge_totals(struct sa_judge *j, const struct sa_pass *p);

/* verdict.c */
void sa_judge_verdict(struct sa_judge *j);
void sa_judge_describe_mode(const struct sa_judge *j);
