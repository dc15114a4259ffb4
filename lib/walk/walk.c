/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The walk: which pages of a range are populated, and their pagemap
 * entries. PAGEMAP_SCAN (6.7+) returns the populated ranges and which of
 * them are PMD-mapped in one ioctl, and pagemap is then read only there;
 * without it (older kernels, captured files) pagemap is read in chunks and
 * PMD mappings are inferred from the folio layout.
 *
 * Pages are handed on in batches of at most BATCH entries, PFN-joined with
 * kpageflags/kpagecount, so memory stays O(batch) whatever the process size.
 * Chunk and batch boundaries fall on 2 MiB so a THP is never split.
 */
#include <fcntl.h>
#include <sys/ioctl.h>

#include "ctx.h"
#include "missing.h"
#include "procfs.h"
#include "walk.h"

#define BATCH 32768u                   /* entries; 256 KiB of pagemap, 128 MiB of address space */
#define REGIONS 1024u
#define PMD_SPAN (SA_PMD_PAGES * SA_PAGE_SIZE)

struct sa_walker {
        struct smapsaudit_ctx *ctx;
        pid_t pid;
        int pagemap_fd;
        unsigned flags;
        int scan;                      /* -1 untested, 0 no, 1 yes */
        uint64_t scan_return_mask;
        bool pfns;
        bool kpage;
        bool skip_exclusive_anon;      /* for the range being walked */
        bool pmd_folios;               /* for the range being walked */
        bool anon_only;                /* for the range being walked */
        struct sa_page *batch;
        size_t n_batch;
        size_t n_folios;               /* pmd_folio entries in the batch */
        uint64_t *pme;
        struct page_region *regions;
        /*
         * sa_walker_scan_ahead(): the regions of a window [window_start,
         * ahead_end) of small VMAs, [ahead_start, ahead_end) still to be
         * walked, and the window's pagemap, read once for all of them.
         */
        struct page_region *ahead;
        size_t n_ahead, next_ahead;
        uint64_t window_start, ahead_start, ahead_end;
        uint64_t *window_pme;
        bool window_pme_read;
        bool in_window;                /* the range being walked is the window's */
        struct sa_walk_stats stats;
};

static bool have_cap_sys_admin(void) {
        _cleanup_free_ char *buf = NULL;
        const char *p;
        unsigned long long caps;

        if (sa_read_file("/proc/self/status", &buf, NULL) < 0)
                return geteuid() == 0;
        p = strstr(buf, "\nCapEff:");
        if (!p || sscanf(p + 8, "%llx", &caps) != 1)
                return geteuid() == 0;
        return caps & (1ULL << 21);
}

int sa_walker_new(struct smapsaudit_ctx *ctx, pid_t pid, unsigned audit_flags, struct sa_walker **ret) {
        struct sa_walker *w;
        int r;

        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->ctx = ctx;
        w->pid = pid;
        w->flags = audit_flags;
        w->scan = (audit_flags & SMAPSAUDIT_AUDIT_NO_SCAN) ? 0 : -1;
        w->scan_return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_HUGE | PAGE_IS_PFNZERO |
                              PAGE_IS_FILE | PAGE_IS_GUARD;
        /* every entry is written before it is read: no need to fault in 3 MiB of zeroes per audit */
        w->batch = malloc(BATCH * sizeof(*w->batch));
        w->pme = malloc(BATCH * sizeof(*w->pme));
        /* zeroed all the same: valgrind does not know that PAGEMAP_SCAN fills them */
        w->regions = calloc(REGIONS, sizeof(*w->regions));
        w->ahead = calloc(REGIONS, sizeof(*w->ahead));
        w->window_pme = malloc(SA_SCAN_AHEAD_PAGES * sizeof(*w->window_pme));
        if (!w->batch || !w->pme || !w->regions || !w->ahead || !w->window_pme) {
                sa_walker_free(w);
                return -ENOMEM;
        }
        w->pagemap_fd = sa_open_pid_file(ctx, pid, "pagemap", O_RDONLY);
        if (w->pagemap_fd < 0) {
                r = w->pagemap_fd;
                sa_walker_free(w);
                return r;
        }
        /* Captured files keep whatever PFNs the capture could see. */
        w->pfns = !sa_ctx_live(ctx) || have_cap_sys_admin();
        /* the fast tier still joins mergeable VMAs: KSM needs kpageflags */
        w->kpage = w->pfns && sa_kpage_open(ctx) >= 0;
        *ret = w;
        return 0;
}

void sa_walker_free(struct sa_walker *w) {
        if (!w)
                return;
        if (w->pagemap_fd >= 0)
                close(w->pagemap_fd);
        free(w->batch);
        free(w->pme);
        free(w->regions);
        free(w->ahead);
        free(w->window_pme);
        free(w);
}

unsigned sa_walker_mode(const struct sa_walker *w) {
        unsigned m = 0;

        if (w->scan > 0)
                m |= SA_WALK_SCAN;
        if (w->pfns)
                m |= SA_WALK_PFN;
        if (w->kpage)
                m |= SA_WALK_KPAGE;
        if (w->kpage && !(w->flags & SMAPSAUDIT_AUDIT_FAST) && sa_nodes_available(w->ctx))
                m |= SA_WALK_NODES;
        if (w->flags & SMAPSAUDIT_AUDIT_FAST)
                m |= SA_WALK_FAST;
        return m;
}

const struct sa_walk_stats *sa_walker_stats(const struct sa_walker *w) {
        return &w->stats;
}

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

static int flush(struct sa_walker *w, sa_walk_batch_fn fn, void *userdata) {
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
static int read_pagemap(struct sa_walker *w, uint64_t start, size_t n) {
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
static int queue_piece(struct sa_walker *w, uint64_t start, uint64_t end, uint64_t cats,
                       bool only_populated, sa_walk_batch_fn fn, void *userdata) {
        while (start < end) {
                /* pieces end on 2 MiB boundaries so that a THP stays in one batch */
                uint64_t lim = (start / PMD_SPAN) * PMD_SPAN + (uint64_t) BATCH * SA_PAGE_SIZE;
                uint64_t piece_end = MIN(end, lim);
                size_t n = (size_t) ((piece_end - start) / SA_PAGE_SIZE);
                int r;

                if (w->n_batch + n > BATCH) {
                        r = flush(w, fn, userdata);
                        if (r < 0)
                                return r;
                }
                r = read_pagemap(w, start, n);
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
                        r = flush(w, fn, userdata);
                        if (r < 0)
                                return r;
                }
                r = read_pagemap(w, addr, 1);
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
                r = queue_piece(w, addr, addr + PMD_SPAN, cats, true, fn, userdata);
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
                return queue_piece(w, start, end, cats, false, fn, userdata);
        r = queue_piece(w, start, first, cats, false, fn, userdata);
        if (r >= 0)
                r = queue_pmd_folios(w, first, last, cats, fn, userdata);
        if (r >= 0)
                r = queue_piece(w, last, end, cats, false, fn, userdata);
        return r;
}

/*
 * PAGE_IS_FILE is the one category that costs the kernel a struct page per
 * PTE (pagemap_page_category() calls vm_normal_page() only when it is in the
 * masks of interest): asking for it makes the scan of a big 4 KiB VMA about
 * three times slower. The walk that reads pagemap has PM_FILE per page
 * anyway; only the fast tier's regions need it, and not where the mapping
 * can hold nothing but anonymous pages.
 */
static uint64_t scan_mask(const struct sa_walker *w, bool want_file) {
        if (want_file)
                return w->scan_return_mask;
        return w->scan_return_mask & ~(uint64_t) PAGE_IS_FILE;
}

static int scan_ioctl(struct sa_walker *w, struct page_region *regions, uint64_t start, uint64_t end, bool want_file,
                      uint64_t *walk_end) {
        struct pm_scan_arg arg = {
                .size = sizeof(arg),
                .start = start,
                .end = end,
                .vec = (uintptr_t) regions,
                .vec_len = REGIONS,
                .category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
                .return_mask = scan_mask(w, want_file),
        };
        int n;

        n = ioctl(w->pagemap_fd, PAGEMAP_SCAN, &arg);
        w->stats.scan_ioctls++;
        if (n < 0 && errno == EINVAL && (w->scan_return_mask & PAGE_IS_GUARD)) {
                /* PAGE_IS_GUARD is 6.15+; older kernels reject unknown categories */
                w->scan_return_mask &= ~(uint64_t) PAGE_IS_GUARD;
                return scan_ioctl(w, regions, start, end, want_file, walk_end);
        }
        if (n < 0)
                return negative_errno();
        *walk_end = arg.walk_end;
        return n;
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
                r = flush(w, fn, userdata);
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

static int queue_found(struct sa_walker *w, const struct page_region *rg, sa_walk_batch_fn fn, void *userdata) {
        if ((w->flags & SMAPSAUDIT_AUDIT_FAST) && w->skip_exclusive_anon)
                return queue_region(w, rg, fn, userdata);
        return queue_scanned(w, rg->start, rg->end, rg->categories, fn, userdata);
}

/*
 * Regions in address order, each within [start, end) and none empty: what
 * PAGEMAP_SCAN gives, or the kernel's answer made no sense.
 */
static bool regions_valid(const struct page_region *rg, int n, uint64_t start, uint64_t end) {
        for (int i = 0; i < n; start = rg[i].end, i++)
                if (rg[i].end <= rg[i].start || rg[i].start < start || rg[i].end > end)
                        return false;
        return true;
}

void sa_walker_scan_ahead(struct sa_walker *w, uint64_t start, uint64_t end) {
        uint64_t walk_end;
        int n;

        w->n_ahead = w->next_ahead = 0;
        w->window_start = w->ahead_start = w->ahead_end = 0;
        w->window_pme_read = false;
        if (w->scan <= 0 || start >= end || (end - start) / SA_PAGE_SIZE > SA_SCAN_AHEAD_PAGES)
                return;
        /* the fast tier's regions of a file mapping in the window need the category */
        n = scan_ioctl(w, w->ahead, start, end, w->flags & SMAPSAUDIT_AUDIT_FAST, &walk_end);
        /*
         * A failure, an answer that makes no sense or a full vector (which
         * may have stopped short of end, see walk_scan) leaves the VMAs to
         * their own scans, which say what went wrong where.
         */
        if (n < 0 || n == (int) REGIONS || !regions_valid(w->ahead, n, start, end))
                return;
        w->n_ahead = (size_t) n;
        w->window_start = w->ahead_start = start;
        w->ahead_end = end;
}

/*
 * [start, end) from the regions sa_walker_scan_ahead() found, cut at its
 * bounds as a scan of this range alone cuts them. Each is handed out once,
 * in address order: a range walked again, or out of order, is scanned again.
 */
static int walk_ahead(struct sa_walker *w, uint64_t start, uint64_t end, bool *found, sa_walk_batch_fn fn,
                      void *userdata) {
        w->ahead_start = end;
        for (; w->next_ahead < w->n_ahead && w->ahead[w->next_ahead].start < end; w->next_ahead++) {
                const struct page_region *a = &w->ahead[w->next_ahead];
                struct page_region rg = {
                        .start = MAX(a->start, start), .end = MIN(a->end, end), .categories = a->categories
                };

                if (rg.start < rg.end) {
                        int r = queue_found(w, &rg, fn, userdata);
                        if (r < 0)
                                return r;
                        *found = true;
                }
                /* the rest of it is the next range's */
                if (a->end > end)
                        break;
        }
        return 0;
}

static int walk_scan(struct sa_walker *w, uint64_t start, uint64_t end, sa_walk_batch_fn fn, void *userdata) {
        uint64_t pos = start;
        bool found = false;
        int r;

        w->in_window = start >= w->ahead_start && end <= w->ahead_end && w->ahead_start < w->ahead_end;
        if (w->in_window) {
                r = walk_ahead(w, start, end, &found, fn, userdata);
                if (r < 0)
                        return r;
                pos = end;
        }
        while (pos < end) {
                uint64_t walk_end = end, reported = pos;
                int n;

                n = scan_ioctl(w, w->regions, pos, end,
                               (w->flags & SMAPSAUDIT_AUDIT_FAST) && w->skip_exclusive_anon && !w->anon_only,
                               &walk_end);
                if (n < 0)
                        return n;
                if (!regions_valid(w->regions, n, pos, end))
                        return -EBADMSG;
                for (int i = 0; i < n; i++) {
                        r = queue_found(w, &w->regions[i], fn, userdata);
                        if (r < 0)
                                return r;
                        reported = w->regions[i].end;
                        found = true;
                }
                /*
                 * walk_end says where the kernel stopped, except when its last
                 * internal batch of ranges (512, vec_buf_len) both reached the
                 * end and filled the vector: do_pagemap_scan() sets walk_end
                 * only when a batch stops early, so it keeps where the batch
                 * before stopped, below up to 512 ranges it has returned, and
                 * a walker resuming there counts them twice (a VMA of exactly
                 * 1024 isolated pages read as 1536). Ranges come in address
                 * order: everything up to the last one returned has been seen.
                 */
                if (n < (int) REGIONS)
                        walk_end = end;
                pos = MAX(MAX(walk_end, reported), pos + SA_PAGE_SIZE);
        }
        /* what follows reads the pagemap of this mm now, not as it was when the window was read */
        w->in_window = false;
        /*
         * do_pagemap_scan() takes no reference on the mm: on 6.18.2 a pagemap
         * opened before an exec scans the dead mm, which has no VMAs left, as
         * empty (this machine's 6.18.44 answers ESRCH). pagemap_read() says
         * which: a live mm answers one entry, a dead one nothing.
         */
        if (!found) {
                r = read_pagemap(w, start, 1);
                if (r < 0)
                        return r;
        }
        return flush(w, fn, userdata);
}

int sa_walk_range(struct sa_walker *w, uint64_t start, uint64_t end, unsigned range_flags,
                  sa_walk_batch_fn fn, void *userdata) {
        int r;

        if (start % SA_PAGE_SIZE || end % SA_PAGE_SIZE || end < start)
                return -EINVAL;
        w->skip_exclusive_anon = range_flags & SA_RANGE_SKIP_EXCLUSIVE_ANON;
        w->pmd_folios = (range_flags & SA_RANGE_PMD_FOLIOS) && w->kpage;
        w->anon_only = range_flags & SA_RANGE_ANON_ONLY;
        w->n_batch = 0;
        w->n_folios = 0;
        if (w->scan != 0) {
                r = walk_scan(w, start, end, fn, userdata);
                w->in_window = false;
                if (r >= 0) {
                        w->scan = 1;
                        return r;
                }
                if (w->scan > 0 || (r != -ENOTTY && r != -EINVAL && r != -EOPNOTSUPP))
                        return r;
                sa_debug(w->ctx, "PID %d: PAGEMAP_SCAN unavailable (%s), reading pagemap",
                         (int) w->pid, strerror(-r));
                w->scan = 0;
                w->n_batch = 0;
                w->n_folios = 0;
        }
        r = queue_piece(w, start, end, 0, true, fn, userdata);
        if (r < 0)
                return r;
        return flush(w, fn, userdata);
}
