/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Merge coverage, the judging (no I/O): which of the pages read twice
 * (ksm-coverage.c) ksmd should have merged, and which misses it may leave
 * by design. The reasons are in ksm-coverage.c's opening comment; here a
 * page is counted per VMA as merged, unmerged, unconfirmed (smart scan or
 * a copy on write may explain it) or changed, and each VMA gets a verdict.
 */
#include "ksm-coverage.h"

bool sa_cov_unchanged(const struct sa_cov_page *p) {
        return p->read1 && p->read2 && p->h1 == p->h2 && (p->st2 == SA_KSM_PAGE_KSM || p->pfn1 == p->pfn2);
}

static bool g_known(const struct sa_ksm_globals *g, uint64_t bit) {
        return (g->sys.have & bit) != 0;
}

static void counts_add(struct sa_cov_counts *a, const struct sa_cov_counts *b) {
        a->hashed += b->hashed;
        a->changed += b->changed;
        a->candidates += b->candidates;
        a->merged += b->merged;
        a->unmerged += b->unmerged;
        a->unconfirmed += b->unconfirmed;
        a->full += b->full;
}

struct class_info {
        uint32_t ksm, plain;
        bool room;               /* a KSM page of this content takes more mappings */
};

/* The process's own KSM counters held still across the readings, and no stale rmap_items. */
static bool proc_quiet(const struct sa_cov_proc *p) {
        const struct sa_ksm_reading *a = &p->reading[0], *b = &p->reading[1];

        return a->done && b->done && a->walked && b->walked && a->stat.merging_pages == b->stat.merging_pages &&
               a->stat.rmap_items == b->stat.rmap_items && a->stat.zero_pages == b->stat.zero_pages &&
               a->ksm_pages == b->ksm_pages && a->stat.merging_pages <= (int64_t) a->ksm_pages &&
               b->stat.merging_pages <= (int64_t) b->ksm_pages;
}

int64_t sa_cov_complete_scans(const struct sa_ksm_coverage *c) {
        return c->g[2].sys.full_scans - c->g[1].sys.full_scans - 1;
}

void sa_cov_evaluate(struct sa_ksm_coverage *c) {
        _cleanup_free_ struct class_info *info = calloc(c->n_classes + 1, sizeof(*info));
        _cleanup_free_ bool *quiet = calloc(c->n_procs ? c->n_procs : 1, sizeof(*quiet));
        const struct sa_ksm_globals *g = c->g;
        int64_t scans = sa_cov_complete_scans(c);
        int64_t mps = g_known(&g[2], SA_KSM_SYS_MAX_PAGE_SHARING) ? g[2].sys.max_page_sharing : 0;
        bool use_zero = g_known(&g[2], SA_KSM_SYS_USE_ZERO_PAGES) && g[2].sys.use_zero_pages > 0;
        bool smart = g[0].smart_scan > 0;

        c->judged = false;
        c->why = NULL;
        if (!c->have_g)
                c->why = c->from_capture ? "the capture has no smapsaudit-ksm-hashes (captured without KSM hashes)"
                                         : "no KSM in this kernel (no /sys/kernel/mm/ksm)";
        else if (c->no_pfns)
                c->why = "no PFN join: coverage needs CAP_SYS_ADMIN and readable kpageflags";
        else if (!sa_ksm_running(&g[1]) || !sa_ksm_running(&g[2]))
                c->why = "ksmd was not running between the readings";
        else if (scans < SA_COV_REQUIRED_SCANS)
                c->why = "fewer than two complete full scans of ksmd between the readings";
        else
                c->judged = true;
        c->smart_skipped = smart && g[0].pages_skipped >= 0 && g[3].pages_skipped != g[0].pages_skipped;
        c->cow_moved = g[0].cow_ksm >= 0 && g[3].cow_ksm >= 0 && g[3].cow_ksm != g[0].cow_ksm;
        if (!info || !quiet)
                return;
        for (size_t i = 0; i < c->n_procs; i++)
                quiet[i] = proc_quiet(&c->procs[i]);
        for (size_t i = 0; i < c->n_pages; i++) {
                const struct sa_cov_page *p = &c->pages[i];
                if (!sa_cov_unchanged(p) || !p->cls)
                        continue;
                if (p->st2 == SA_KSM_PAGE_KSM) {
                        info[p->cls].ksm++;
                        info[p->cls].room |= mps <= 0 || (int64_t) p->kpc2 < mps;
                } else if (p->st2 == SA_KSM_PAGE_PLAIN)
                        info[p->cls].plain++;
        }

        for (size_t pi = 0; pi < c->n_procs; pi++)
                for (size_t vi = 0; vi < c->procs[pi].n_vmas; vi++) {
                        struct sa_cov_vma *v = &c->procs[pi].vmas[vi];
                        v->n = (struct sa_cov_counts) {};
                        v->ksm_now = 0;
                        v->doubt = SA_COV_DOUBT_NONE;
                }
        for (size_t i = 0; i < c->n_pages; i++) {
                const struct sa_cov_page *p = &c->pages[i];
                struct sa_cov_vma *v = &c->procs[p->proc].vmas[p->vma];
                const struct class_info *ci;
                enum sa_cov_doubt doubt = SA_COV_DOUBT_NONE;
                bool zero_alone, stable_path;

                if (p->st2 == SA_KSM_PAGE_KSM)
                        v->ksm_now++;
                if (p->st1 == SA_KSM_PAGE_ZERO || !p->read1)
                        continue;
                v->n.hashed++;
                if (p->st2 == SA_KSM_PAGE_ZERO && p->h1 == c->zero_hash) {
                        /* merged into the zero page (use_zero_pages) */
                        v->n.candidates++;
                        v->n.merged++;
                        continue;
                }
                if (!sa_cov_unchanged(p)) {
                        v->n.changed++;
                        continue;
                }
                if (p->st2 == SA_KSM_PAGE_KSM) {
                        v->n.candidates++;
                        v->n.merged++;
                        continue;
                }
                if (p->st2 != SA_KSM_PAGE_PLAIN || !p->cls)
                        continue;
                ci = &info[p->cls];
                /* with use_zero_pages an empty page merges with the zero page, twin or not */
                zero_alone = use_zero && p->h2 == c->zero_hash;
                if (!zero_alone && ci->ksm + ci->plain < 2)
                        continue;
                if (!zero_alone && ci->ksm > 0 && !ci->room && ci->plain < 2) {
                        /* every KSM page of this content is full, and no unmerged twin to start another */
                        v->n.full++;
                        continue;
                }
                v->n.candidates++;
                /* merging through the stable tree (or the zero page) needs two visits, not a meeting */
                stable_path = zero_alone || (ci->ksm > 0 && ci->room);
                if (smart && c->smart_skipped && !(stable_path && scans >= SA_COV_SMART_SCANS))
                        doubt = SA_COV_DOUBT_SMART_SCAN;
                else if (c->cow_moved && !quiet[p->proc])
                        doubt = SA_COV_DOUBT_COW;
                if (doubt != SA_COV_DOUBT_NONE) {
                        v->n.unconfirmed++;
                        if (v->doubt == SA_COV_DOUBT_NONE)
                                v->doubt = doubt;
                } else
                        v->n.unmerged++;
        }
        c->n = (struct sa_cov_counts) {};
        for (size_t pi = 0; pi < c->n_procs; pi++)
                for (size_t vi = 0; vi < c->procs[pi].n_vmas; vi++) {
                        struct sa_cov_vma *v = &c->procs[pi].vmas[vi];
                        struct sa_smaps_vma k = { .start = v->start, .end = v->end, .vmflags = v->vmflags,
                                                  .have_vmflags = true };
                        struct sa_acc acc = { .ksm_pages = v->ksm_now };
                        struct sa_numa_state numa = { .balancing = -1, .scan_seq = -1 };

                        memcpy(k.perms, v->perms, sizeof(k.perms));
                        v->tags = sa_vma_tags(&k, &acc, &numa);
                        counts_add(&c->n, &v->n);
                        if (!c->judged)
                                v->verdict = SA_COV_NOT_JUDGED;
                        else if (v->n.unmerged)
                                v->verdict = SA_COV_UNMERGED;
                        else if (v->n.unconfirmed)
                                v->verdict = SA_COV_UNCONFIRMED;
                        else
                                v->verdict = SA_COV_COMPLETE;
                }
}

bool sa_cov_smart_doubts(const struct sa_ksm_coverage *c) {
        for (size_t pi = 0; pi < c->n_procs; pi++)
                for (size_t vi = 0; vi < c->procs[pi].n_vmas; vi++)
                        if (c->procs[pi].vmas[vi].doubt == SA_COV_DOUBT_SMART_SCAN)
                                return true;
        return false;
}

void sa_cov_summary(const struct sa_ksm_coverage *c, bool *unmerged, bool *unconfirmed) {
        *unmerged = *unconfirmed = false;
        for (size_t pi = 0; pi < c->n_procs; pi++)
                for (size_t vi = 0; vi < c->procs[pi].n_vmas; vi++) {
                        *unmerged |= c->procs[pi].vmas[vi].verdict == SA_COV_UNMERGED;
                        *unconfirmed |= c->procs[pi].vmas[vi].verdict == SA_COV_UNCONFIRMED;
                }
}
