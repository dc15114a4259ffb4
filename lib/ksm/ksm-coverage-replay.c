/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Merge coverage of a capture: the two readings come from the capture's
 * hashes file (ksm-hashes.c), and the pages' KSM state at the second one
 * from the captured pagemap and kpageflags, walked as a live process's.
 */
#include "ksm-coverage.h"
#include "missing.h"

struct replay_ctx {
        struct sa_ksm_coverage *c;
        size_t cursor, hi;
        bool no_kpage;
};

/* The captured pagemap and kpageflags say what each page is now. */
static int on_replay_batch(void *userdata, const struct sa_page *pages, size_t n) {
        struct replay_ctx *rc = userdata;
        struct sa_ksm_coverage *c = rc->c;

        for (size_t i = 0; i < n; i++) {
                const struct sa_page *p = &pages[i];
                struct sa_cov_page *q = sa_cov_record_at(c, &rc->cursor, rc->hi, p->addr);

                if (!q)
                        continue;
                if (!p->joined && (p->pme & PM_PRESENT))
                        rc->no_kpage = true;
                /* a frame other than the second reading's: the page moved after it */
                if ((p->pme & PM_PFN_MASK) != q->pfn2 && sa_ksm_page_of(p) != SA_KSM_PAGE_ZERO)
                        q->read2 = false;
                q->st2 = (uint8_t) sa_ksm_page_of(p);
                q->kpc2 = p->kpc;
        }
        return 0;
}

static int replay_states(struct sa_ksm_coverage *c, uint32_t pi) {
        struct sa_cov_proc *p = &c->procs[pi];
        struct sa_walker *w = NULL;
        size_t rec = 0;
        int r;

        /* pages the captured pagemap does not show are gone */
        for (size_t i = 0; i < c->n_pages; i++)
                if (c->pages[i].proc == pi)
                        c->pages[i].st2 = SA_KSM_PAGE_NONE;
        r = sa_walker_new(c->ctx, p->pid, 0, &w);
        if (r < 0)
                return r;
        for (uint32_t vi = 0; vi < p->n_vmas; vi++) {
                struct replay_ctx rc = { .c = c };

                rc.hi = sa_cov_vma_records(c, pi, vi, &rec);
                rc.cursor = rec;
                r = sa_walk_range(w, p->vmas[vi].start, p->vmas[vi].end, 0, on_replay_batch, &rc);
                if (r < 0)
                        break;
                if (rc.no_kpage)
                        c->no_pfns = true;
        }
        sa_walker_free(w);
        for (size_t i = 0; i < c->n_pages; i++)
                if (c->pages[i].proc == pi && c->pages[i].st2 == SA_KSM_PAGE_NONE)
                        c->pages[i].read2 = false;
        return r;
}

int sa_cov_replay_run(struct sa_ksm_coverage *c) {
        int r;

        for (uint32_t pi = 0; pi < c->n_procs; pi++) {
                size_t first = c->n_pages;
                uint32_t base = c->n_classes, top = 0;

                r = sa_ksm_hashes_load(c, pi);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
                /* class ids are per file: keep different files' apart */
                for (size_t i = first; i < c->n_pages; i++)
                        if (c->pages[i].cls) {
                                top = MAX(top, c->pages[i].cls);
                                c->pages[i].cls += base;
                        }
                c->n_classes = base + top;
                r = replay_states(c, pi);
                if (r < 0 && r != -ENOENT)
                        return r;
        }
        c->from_capture = true;
        return 0;
}
