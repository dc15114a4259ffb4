/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The walk's batches: pagemap read where pages are, each entry a struct
 * sa_page (a PMD-mapped THP, a fast-tier region or a run of exclusive
 * anonymous pages as one), PFN-joined with kpageflags/kpagecount when a
 * batch is full or the range ends, and handed to the caller. walk.c
 * decides which ranges; this file only reads and queues them.
 */
#include "ctx.h"
#include "procfs.h"
#include "walker.h"

/*
 * Without PAGEMAP_SCAN, a PMD-mapped THP looks like 512 present entries at
 * a 2 MiB-aligned address mapping 512 consecutive PFNs of one order-9
 * folio. A THP that is PTE-mapped in full looks the same; the report marks
 * the walk as not knowing PMD mappings exactly.
 */
static void infer_pmd_mappings(struct sa_page *p, size_t n) {
        for (size_t i = 0; i + SA_PMD_PAGES <= n; i++) {
                uint64_t pfn0 = p[i].pme & PM_PFN_MASK;
                size_t j;

                if (p[i].addr % PMD_SPAN || !p[i].joined || !(p[i].pme & PM_PRESENT) ||
                    (pfn0 % SA_PMD_PAGES) || !(p[i].kpf & KPF(KPF_COMPOUND_HEAD)) || !(p[i].kpf & KPF(KPF_THP)) ||
                    (p[i].kpf & KPF(KPF_ZERO_PAGE)))
                        continue;
                for (j = 1; j < SA_PMD_PAGES; j++) {
                        const struct sa_page *q = &p[i + j];
                        if (q->addr != p[i].addr + j * SA_PAGE_SIZE || !(q->pme & PM_PRESENT) || !q->joined ||
                            (q->pme & PM_PFN_MASK) != pfn0 + j || !(q->kpf & KPF(KPF_COMPOUND_TAIL)))
                                break;
                }
                if (j < SA_PMD_PAGES)
                        continue;
                for (j = 0; j < SA_PMD_PAGES; j++)
                        p[i + j].pmd_mapped = true;
                i += SA_PMD_PAGES - 1;
        }
}

/*
 * A PTE-mapped anonymous page that pagemap calls exclusively mapped has
 * mapcount 1 (bit 56 is page_mapcount() == 1 on the PTE path, or
 * !folio_maybe_mapped_shared() without per-page mapcounts): its Pss is the
 * whole page and it is private, which is all kpagecount would say. Outside
 * mergeable VMAs it cannot be a KSM page either, so kpageflags adds only
 * the dirty and referenced hints. Skipping the join for these pages saves
 * two kernel folio snapshots per page, most of a 4 KiB process's walk. The
 * PMD path evaluates bit 56 on the head page only (6.1, 6.15+), so
 * PMD-mapped pages, known only with PAGEMAP_SCAN, are always joined.
 */
static bool is_exclusive_anon(const struct sa_page *p) {
        return p->scanned && !p->pmd_mapped && !p->pfn_zero && !p->pmd_folio && !p->region &&
               (p->pme & (PM_PRESENT | PM_MMAP_EXCLUSIVE | PM_FILE)) == (PM_PRESENT | PM_MMAP_EXCLUSIVE);
}

static void mark_exclusive_anon(struct sa_page *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                p[i].exclusive_anon = is_exclusive_anon(&p[i]);
}

int sa_walk_flush(struct sa_walker *w, sa_walk_batch_fn fn, void *userdata) {
        int r;

        if (w->n_batch == 0)
                return 0;
        if (w->kpage) {
                if (w->skip_exclusive_anon && w->scan > 0)
                        mark_exclusive_anon(w->batch, w->n_batch);
                r = sa_kpage_join(w->ctx, w->batch, w->n_batch, &w->stats.kpage_reads);
                if (r < 0)
                        return r;
                if (w->scan <= 0)
                        infer_pmd_mappings(w->batch, w->n_batch);
        }
        r = fn(userdata, w->batch, w->n_batch);
        w->n_batch = 0;
        w->n_folios = 0;
        return r;
}

/*
 * Entries of the window's pagemap, read in one go when the first of its
 * VMAs needs them, right after the scan: false when they cannot be had.
 */
static bool window_pagemap(struct sa_walker *w, uint64_t start, size_t n) {
        size_t len = (size_t) ((w->ahead_end - w->window_start) / SA_PAGE_SIZE);
        ssize_t got;

        if (!w->in_window || start < w->window_start || start + n * SA_PAGE_SIZE > w->ahead_end)
                return false;
        if (!w->window_pme_read) {
                got = sa_pread_full(w->pagemap_fd, w->window_pme, len * sizeof(uint64_t),
                                    (off_t) (w->window_start / SA_PAGE_SIZE * sizeof(uint64_t)));
                w->stats.pagemap_reads++;
                /* a short read is the range's own read's to explain */
                if (got != (ssize_t) (len * sizeof(uint64_t)))
                        return false;
                w->window_pme_read = true;
        }
        memcpy(w->pme, &w->window_pme[(start - w->window_start) / SA_PAGE_SIZE], n * sizeof(uint64_t));
        return true;
}

/* pagemap entries of [start, start + n pages) into w->pme */
int sa_walk_read_pagemap(struct sa_walker *w, uint64_t start, size_t n) {
        ssize_t got;

        if (window_pagemap(w, start, n))
                return 0;
        got = sa_pread_full(w->pagemap_fd, w->pme, n * sizeof(uint64_t),
                            (off_t) (start / SA_PAGE_SIZE * sizeof(uint64_t)));
        w->stats.pagemap_reads++;
        if (got < 0)
                return (int) got;
        /*
         * A live pagemap ends early only once the mm it was opened on is gone
         * (pagemap_read: nothing without mmget_not_zero): the process exited,
         * or exec'ed and has another mm that smaps shows. A capture covers
         * every VMA with a hole where nothing is populated (capture.c): one
         * that ends inside a VMA was cut short. Either way the missing entries
         * must not read as pages not present.
         */
        if ((size_t) got < n * sizeof(uint64_t))
                return sa_ctx_live(w->ctx) ? -ESRCH : -EBADMSG;
        return 0;
}

/*
 * Exclusively mapped anonymous pages are accounted alike and joined with
 * nothing (mark_exclusive_anon), so a run of them is one entry: a 4 GiB
 * heap of 4 KiB pages is a few thousand entries instead of a million. The
 * PFNs must run on too, inside one 2 MiB-aligned block of frames, so that
 * the first frame's node is every frame's.
 */
static bool extends_run(struct sa_walker *w, uint64_t addr, uint64_t pme, uint64_t cats) {
        struct sa_page *p = w->n_batch ? &w->batch[w->n_batch - 1] : NULL;
        struct sa_page next = { .pme = pme, .scanned = cats != 0, .pmd_mapped = cats & PAGE_IS_HUGE,
                                .pfn_zero = cats & PAGE_IS_PFNZERO };
        uint64_t pfn = pme & PM_PFN_MASK, first;

        if (!p || !w->kpage || !w->skip_exclusive_anon || !is_exclusive_anon(p) || !is_exclusive_anon(&next))
                return false;
        first = p->pme & PM_PFN_MASK;
        if (addr != p->addr + p->count * SA_PAGE_SIZE || pfn != first + p->count ||
            pfn / SA_PMD_PAGES != first / SA_PMD_PAGES)
                return false;
        p->count++;
        w->stats.entries++;
        return true;
}

static void add_page(struct sa_walker *w, uint64_t addr, uint64_t pme, uint64_t cats) {
        struct sa_page *p;

        if (extends_run(w, addr, pme, cats))
                return;
        p = &w->batch[w->n_batch++];

        *p = (struct sa_page) {
                .addr = addr,
                .pme = pme,
                .node = -1,
                .pmd_mapped = cats & PAGE_IS_HUGE,
                .pfn_zero = cats & PAGE_IS_PFNZERO,
                .scanned = cats != 0,
                .count = 1,
        };
        w->stats.entries++;
}

/* Reads the pagemap of a populated piece and queues its entries. */
int sa_walk_queue_piece(struct sa_walker *w, uint64_t start, uint64_t end, uint64_t cats,
                        bool only_populated, sa_walk_batch_fn fn, void *userdata) {
        while (start < end) {
                /* pieces end on 2 MiB boundaries so that a THP stays in one batch */
                uint64_t lim = (start / PMD_SPAN) * PMD_SPAN + (uint64_t) BATCH * SA_PAGE_SIZE;
                uint64_t piece_end = MIN(end, lim);
                size_t n = (size_t) ((piece_end - start) / SA_PAGE_SIZE);
                int r;

                if (w->n_batch + n > BATCH) {
                        r = sa_walk_flush(w, fn, userdata);
                        if (r < 0)
                                return r;
                }
                r = sa_walk_read_pagemap(w, start, n);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n; i++) {
                        uint64_t e = w->pme[i];
                        if (only_populated && !(e & (PM_PRESENT | PM_SWAP)))
                                continue;
                        add_page(w, start + i * SA_PAGE_SIZE, e, cats);
                }
                start = piece_end;
        }
        return 0;
}

/*
 * A PMD-mapped THP as one entry: one pagemap read of its first page gives
 * the head PFN; the join reads the folio's flags from the head and its
 * kpagecount entries in one read (pageinfo.c), instead of 512 pagemap
 * entries and 512 kpageflags entries that all say the same.
 */
static int queue_pmd_folios(struct sa_walker *w, uint64_t start, uint64_t end, uint64_t cats, sa_walk_batch_fn fn,
                            void *userdata) {
        for (uint64_t addr = start; addr < end; addr += PMD_SPAN) {
                int r;

                if (w->n_batch == BATCH || w->n_folios == SA_WALK_MAX_FOLIOS) {
                        r = sa_walk_flush(w, fn, userdata);
                        if (r < 0)
                                return r;
                }
                r = sa_walk_read_pagemap(w, addr, 1);
                if (r < 0)
                        return r;
                add_page(w, addr, w->pme[0], cats);
                if (w->pme[0] & PM_PRESENT) {
                        w->batch[w->n_batch - 1].pmd_folio = true;
                        w->batch[w->n_batch - 1].count = SA_PMD_PAGES;
                        w->stats.entries += SA_PMD_PAGES - 1;
                        w->n_folios++;
                        continue;
                }
                /* unmapped since the scan: read its pages one by one */
                w->n_batch--;
                w->stats.entries--;
                r = sa_walk_queue_piece(w, addr, addr + PMD_SPAN, cats, true, fn, userdata);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Queues a populated region found by PAGEMAP_SCAN. */
static int queue_scanned(struct sa_walker *w, uint64_t start, uint64_t end, uint64_t cats, sa_walk_batch_fn fn,
                         void *userdata) {
        uint64_t first = (start + PMD_SPAN - 1) / PMD_SPAN * PMD_SPAN, last = end / PMD_SPAN * PMD_SPAN;
        int r;

        if (!w->pmd_folios || !(cats & PAGE_IS_HUGE) || !(cats & PAGE_IS_PRESENT) || first >= last)
                return sa_walk_queue_piece(w, start, end, cats, false, fn, userdata);
        r = sa_walk_queue_piece(w, start, first, cats, false, fn, userdata);
        if (r >= 0)
                r = queue_pmd_folios(w, first, last, cats, fn, userdata);
        if (r >= 0)
                r = sa_walk_queue_piece(w, last, end, cats, false, fn, userdata);
        return r;
}

/*
 * The fast tier: a PAGEMAP_SCAN region stands for all its pages at once,
 * without reading pagemap. Its categories (present, swapped, huge, zero
 * page, file) settle Rss, Anonymous, the PMD-mapped fields and swap
 * exactly; what needs a PFN becomes a range.
 */
static int queue_region(struct sa_walker *w, const struct page_region *rg, sa_walk_batch_fn fn, void *userdata) {
        struct sa_page *p;
        int r;

        if (w->n_batch == BATCH) {
                r = sa_walk_flush(w, fn, userdata);
                if (r < 0)
                        return r;
        }
        p = &w->batch[w->n_batch++];
        *p = (struct sa_page) {
                .addr = rg->start,
                .pme = ((rg->categories & PAGE_IS_PRESENT) ? PM_PRESENT : 0) |
                       ((rg->categories & PAGE_IS_SWAPPED) ? PM_SWAP : 0) |
                       ((rg->categories & PAGE_IS_FILE) ? PM_FILE : 0) |
                       ((rg->categories & PAGE_IS_GUARD) ? PM_GUARD_REGION : 0),
                .node = -1,
                .pmd_mapped = rg->categories & PAGE_IS_HUGE,
                .pfn_zero = rg->categories & PAGE_IS_PFNZERO,
                .scanned = true,
                .region = true,
                .count = (rg->end - rg->start) / SA_PAGE_SIZE,
        };
        w->stats.entries += p->count;
        return 0;
}

int sa_walk_queue_found(struct sa_walker *w, const struct page_region *rg, sa_walk_batch_fn fn, void *userdata) {
        if ((w->flags & SMAPSAUDIT_AUDIT_FAST) && w->skip_exclusive_anon)
                return queue_region(w, rg, fn, userdata);
        return queue_scanned(w, rg->start, rg->end, rg->categories, fn, userdata);
}
