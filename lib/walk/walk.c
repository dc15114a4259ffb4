/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The walk: which pages of a range are populated, and their pagemap
 * entries. PAGEMAP_SCAN (6.7+) returns the populated ranges and which of
 * them are PMD-mapped in one ioctl, and pagemap is then read only there;
 * without it (older kernels, captured files) pagemap is read in chunks and
 * PMD mappings are inferred from the folio layout.
 *
 * This file opens the walker and decides which ranges are read, and when;
 * walk-batch.c reads them into batches of at most BATCH entries, PFN-joined
 * with kpageflags/kpagecount, so memory stays O(batch) whatever the process
 * size. Chunk and batch boundaries fall on 2 MiB so a THP is never split.
 */
#include <fcntl.h>
#include <sys/ioctl.h>

#include "ctx.h"
#include "procfs.h"
#include "walker.h"

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
                        int r = sa_walk_queue_found(w, &rg, fn, userdata);
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
                        r = sa_walk_queue_found(w, &w->regions[i], fn, userdata);
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
                r = sa_walk_read_pagemap(w, start, 1);
                if (r < 0)
                        return r;
        }
        return sa_walk_flush(w, fn, userdata);
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
        r = sa_walk_queue_piece(w, start, end, 0, true, fn, userdata);
        if (r < 0)
                return r;
        return sa_walk_flush(w, fn, userdata);
}
