/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Merge coverage: pages of mergeable VMAs whose content is the same as
 * other pages' but that ksmd left unmerged, although the content held
 * still across two complete full scans.
 *
 * Why two scans (mm/ksm.c cmp_and_merge_page): ksmd inserts a page into the
 * unstable tree only when its checksum is the one it computed on its
 * previous visit, and the unstable tree is rebuilt every scan; so a pair
 * of identical pages merges in the second complete scan after their
 * content last changed. Content is read twice through /proc/PID/mem (which
 * reads PROT_NONE VMAs too, with FOLL_FORCE, without breaking COW) with
 * at least three full_scans increments in between, i.e. two scans that
 * started and ended between the readings; a page counts only if its hash
 * and its frame are the same in both readings (or it became KSM), and two
 * pages are identical only after a byte comparison.
 *
 * What may leave identical pages unmerged by design:
 * - max_page_sharing: a stable node takes no more mappings once it has
 *   max_page_sharing (is_page_sharing_candidate); a page whose every KSM twin
 *   is that full needs an unmerged twin to start a new one. Such a lone page
 *   is not counted.
 * - smart scan (6.7+): a page that failed to merge three times is visited
 *   only every skip_age() scans, at most every 9th (should_skip_rmap_item).
 *   A page with a KSM twin that has room merges on its second visit, so 18
 *   complete scans settle it; two unmerged twins must be visited in the same
 *   scan, which skipping may never allow. Misses are "unconfirmed" unless the
 *   window was long enough, or pages_skipped did not move during it.
 * - pages merged and broken again by writes of the same content (the frame
 *   may even be the same again, freed and reallocated): "unconfirmed" when
 *   cow_ksm (/proc/vmstat) moved and the process's own KSM counters did not
 *   hold still across the readings.
 * - merge_across_nodes=0 merges only within a node: pages are grouped per
 *   node then.
 *
 * Only present pages are read (a read of an absent page would fault one
 * in), at most max_pages per run. A capture keeps the hashes, checked
 * byte for byte there, in DIR/proc/PID/smapsaudit-ksm-hashes; a replay
 * takes the pages' KSM state from the captured pagemap and kpageflags.
 *
 * This file reads the pages live, twice, across ksmd's full scans.
 * ksm-coverage-set.c holds what is read; ksm-coverage-classes.c finds the
 * identical pages; ksm-coverage-judge.c decides; ksm-hashes.c keeps a
 * capture's readings and ksm-coverage-replay.c reads them back.
 */
#include <fcntl.h>

#include "ctx.h"
#include "ksm-coverage.h"
#include "missing.h"
#include "procfs.h"

#define RUN_PAGES 64u           /* pages per /proc/PID/mem read */
#define CAPTURE_WAIT_MSEC 30000u
#define DEFAULT_WAIT_MSEC 60000u

/* ================================================================ setup */

static int open_proc(struct sa_ksm_coverage *c, struct sa_cov_proc *p) {
        _cleanup_free_ char *buf = NULL;
        struct sa_smaps s = {};
        int r;

        p->mem_fd = -1;
        r = sa_read_pid_file(c->ctx, p->pid, "smaps", &buf, NULL);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        r = sa_smaps_parse(buf, &s);
        if (r < 0)
                return r;
        for (size_t i = 0; i < s.n && r >= 0; i++)
                if (sa_ksm_vma_mergeable(&s.vmas[i]))
                        r = sa_cov_add_vma(p, s.vmas[i].start, s.vmas[i].end, s.vmas[i].perms, s.vmas[i].vmflags);
        sa_smaps_done(&s);
        if (r < 0)
                return r;
        sa_ksm_read_comm(c->ctx, p->pid, p->comm, sizeof(p->comm));
        if (p->n_vmas && sa_ctx_live(c->ctx)) {
                p->mem_fd = sa_open_pid_file(c->ctx, p->pid, "mem", O_RDONLY);
                if (p->mem_fd < 0)
                        return p->mem_fd == -ENOENT ? -ESRCH : p->mem_fd;
        }
        return 0;
}

/* ================================================================ readings */

struct reading_ctx {
        struct sa_ksm_coverage *c;
        uint32_t proc, vma;
        unsigned which;              /* 1 or 2 */
        size_t cursor, hi;           /* reading 2: this VMA's records not passed yet */
        uint8_t *buf;
};

/* A page with content to read in that reading: present, and not the zero page. */
static bool readable(const struct sa_cov_page *p, unsigned which) {
        uint8_t st = which == 1 ? p->st1 : p->st2;

        return st == SA_KSM_PAGE_PLAIN || st == SA_KSM_PAGE_KSM;
}

/* Hashes the content of pages [from, to) of the records, in runs of adjacent addresses. */
static void hash_records(struct reading_ctx *rc, size_t from, size_t to) {
        struct sa_ksm_coverage *c = rc->c;
        int fd = c->procs[rc->proc].mem_fd;

        for (size_t i = from; i < to;) {
                struct sa_cov_page *p = &c->pages[i];
                size_t j = i + 1, n;
                ssize_t got;

                if (!readable(p, rc->which)) {
                        i++;
                        continue;
                }
                while (j < to && j - i < RUN_PAGES && c->pages[j].addr == c->pages[j - 1].addr + SA_PAGE_SIZE &&
                       readable(&c->pages[j], rc->which))
                        j++;
                n = j - i;
                got = sa_pread_full(fd, rc->buf, n * SA_PAGE_SIZE, (off_t) p->addr);
                for (size_t k = 0; k < n; k++) {
                        struct sa_cov_page *q = &c->pages[i + k];
                        bool ok = got >= (ssize_t) ((k + 1) * SA_PAGE_SIZE);
                        /* a page that vanished since pagemap said present: read it alone, or drop it */
                        if (!ok)
                                ok = sa_cov_read_page(fd, q->addr, rc->buf + k * SA_PAGE_SIZE) >= 0;
                        if (rc->which == 1) {
                                q->read1 = ok;
                                q->h1 = ok ? sa_cov_page_hash(rc->buf + k * SA_PAGE_SIZE) : 0;
                        } else {
                                q->read2 = ok;
                                q->h2 = ok ? sa_cov_page_hash(rc->buf + k * SA_PAGE_SIZE) : 0;
                        }
                }
                i = j;
        }
}

static void count_state(struct sa_ksm_reading *rd, const struct sa_page *p) {
        enum sa_ksm_page st = sa_ksm_page_of(p);

        if (sa_ksm_page_in_flight(p))
                rd->swap_pages++;
        else if (st == SA_KSM_PAGE_KSM)
                rd->ksm_pages++;
        else if (st == SA_KSM_PAGE_ZERO)
                rd->zero_pages++;
}

static int on_batch1(void *userdata, const struct sa_page *pages, size_t n) {
        struct reading_ctx *rc = userdata;
        struct sa_ksm_coverage *c = rc->c;
        size_t first = c->n_pages;
        int r;

        for (size_t i = 0; i < n; i++) {
                const struct sa_page *p = &pages[i];
                enum sa_ksm_page st = sa_ksm_page_of(p);

                count_state(&c->procs[rc->proc].reading[0], p);
                if (st == SA_KSM_PAGE_NONE)
                        continue;
                c->procs[rc->proc].vmas[rc->vma].pages++;
                if (c->n_pages >= c->max_pages) {
                        c->capped = true;
                        continue;
                }
                r = sa_cov_push_page(c, &(struct sa_cov_page) {
                        .proc = rc->proc, .vma = rc->vma, .addr = p->addr, .pfn1 = p->pme & PM_PFN_MASK,
                        .st1 = (uint8_t) st, .node = -1,
                });
                if (r < 0)
                        return r;
        }
        hash_records(rc, first, c->n_pages);
        return 0;
}

static int on_batch2(void *userdata, const struct sa_page *pages, size_t n) {
        struct reading_ctx *rc = userdata;
        struct sa_ksm_coverage *c = rc->c;
        size_t first = rc->cursor;

        for (size_t i = 0; i < n; i++) {
                const struct sa_page *p = &pages[i];
                struct sa_cov_page *q;

                count_state(&c->procs[rc->proc].reading[1], p);
                q = sa_cov_record_at(c, &rc->cursor, rc->hi, p->addr);
                if (!q)
                        continue;
                q->st2 = (uint8_t) sa_ksm_page_of(p);
                q->pfn2 = p->pme & PM_PFN_MASK;
                q->kpc2 = p->kpc;
                if (q->st2 != SA_KSM_PAGE_NONE && c->g[2].sys.merge_across_nodes == 0 && q->pfn2)
                        q->node = sa_node_of_pfn(c->ctx, q->pfn2);
        }
        /* the records this batch passed; those it did not show stay SA_KSM_PAGE_NONE and unread */
        hash_records(rc, first, rc->cursor);
        return 0;
}

static int do_reading(struct sa_ksm_coverage *c, unsigned which) {
        _cleanup_free_ uint8_t *buf = malloc(RUN_PAGES * SA_PAGE_SIZE);
        size_t rec = 0;
        int r = 0;

        if (!buf)
                return -ENOMEM;
        for (uint32_t pi = 0; pi < c->n_procs; pi++) {
                struct sa_cov_proc *p = &c->procs[pi];
                struct sa_ksm_reading *rd = &p->reading[which - 1];
                struct sa_walker *w = NULL;
                struct sa_ksm_stat before;

                if (!p->n_vmas || p->mem_fd < 0)
                        continue;
                if (sa_ksm_stat_read(c->ctx, p->pid, &before) < 0)
                        before.have = 0;
                r = sa_walker_new(c->ctx, p->pid, 0, &w);
                if (r < 0) {
                        if (r != -ENOENT && r != -ESRCH)
                                return r;
                        /* exited: its records stay unread in reading 2 */
                        continue;
                }
                if (!(sa_walker_mode(w) & SA_WALK_KPAGE)) {
                        sa_walker_free(w);
                        c->no_pfns = true;
                        return 0;
                }
                rd->walked = true;
                for (uint32_t vi = 0; vi < p->n_vmas; vi++) {
                        struct sa_cov_vma *v = &p->vmas[vi];
                        struct reading_ctx rc = { .c = c, .proc = pi, .vma = vi, .which = which, .buf = buf };

                        if (which == 2) {
                                rc.hi = sa_cov_vma_records(c, pi, vi, &rec);
                                rc.cursor = rec;
                                if (rc.cursor == rc.hi && c->capped)
                                        continue;
                        }
                        r = sa_walk_range(w, v->start, v->end, 0, which == 1 ? on_batch1 : on_batch2, &rc);
                        if (r < 0) {
                                /* the VMA or the process went away: what was read stays */
                                rd->walked = false;
                                if (r != -ENOENT && r != -ESRCH && r != -EIO && r != -EINVAL) {
                                        sa_walker_free(w);
                                        return r;
                                }
                                r = 0;
                        }
                }
                sa_walker_free(w);
                if (sa_ksm_stat_read(c->ctx, p->pid, &rd->stat) < 0 || !before.have ||
                    before.merging_pages != rd->stat.merging_pages || before.rmap_items != rd->stat.rmap_items ||
                    before.zero_pages != rd->stat.zero_pages)
                        rd->walked = false;  /* the counters moved while the pages were read */
                rd->done = true;
        }
        return r;
}

/* ================================================================ live run */

static void forget_reading2(struct sa_ksm_coverage *c) {
        for (size_t i = 0; i < c->n_pages; i++) {
                struct sa_cov_page *p = &c->pages[i];
                p->st2 = SA_KSM_PAGE_NONE;
                p->read2 = false;
                p->pfn2 = p->kpc2 = p->h2 = 0;
                p->cls = 0;
                p->node = -1;
        }
        for (size_t i = 0; i < c->n_procs; i++)
                c->procs[i].reading[1] = (struct sa_ksm_reading) {};
        c->n_classes = 0;
        c->unverified = 0;
}

static int second_reading(struct sa_ksm_coverage *c, bool all_classes) {
        int r;

        r = do_reading(c, 2);
        if (r < 0)
                return r;
        (void) sa_ksm_globals_read(c->ctx, &c->g[3]);
        r = sa_cov_assign_classes(c, all_classes);
        if (r < 0)
                return r;
        sa_cov_evaluate(c);
        return 0;
}

static int live_run(struct sa_ksm_coverage *c, unsigned max_wait_msec, bool all_classes) {
        uint64_t deadline = sa_ksm_now_usec() + (uint64_t) max_wait_msec * 1000;
        bool any = false;
        int r;

        for (size_t i = 0; i < c->n_procs; i++) {
                r = open_proc(c, &c->procs[i]);
                if (r == -ESRCH)
                        continue;
                if (r < 0)
                        return r;
                any |= c->procs[i].n_vmas > 0;
        }
        if (sa_ksm_globals_read(c->ctx, &c->g[0]) < 0) {
                sa_cov_evaluate(c);
                return 0;
        }
        c->have_g = true;
        if (!any) {
                c->g[1] = c->g[2] = c->g[3] = c->g[0];
                sa_cov_evaluate(c);
                return 0;
        }
        r = do_reading(c, 1);
        if (r < 0)
                return r;
        (void) sa_ksm_globals_read(c->ctx, &c->g[1]);
        if (c->no_pfns) {
                c->g[2] = c->g[3] = c->g[1];
                sa_cov_evaluate(c);
                return 0;
        }
        if (sa_ksm_running(&c->g[1])) {
                r = sa_ksm_wait_full_scans(c->ctx, c->g[1].sys.full_scans + SA_COV_REQUIRED_SCANS + 1, deadline,
                                           &c->g[2]);
                if (r < 0)
                        return r;
        } else
                c->g[2] = c->g[1];
        r = second_reading(c, all_classes);
        if (r < 0)
                return r;
        /*
         * Smart scan left misses in doubt: with a KSM twin, 18 complete
         * scans settle them. Wait that long if the deadline allows, and read
         * again; pages that changed meanwhile drop out.
         */
        if (c->judged && sa_cov_smart_doubts(c) && sa_cov_complete_scans(c) < SA_COV_SMART_SCANS &&
            sa_ksm_now_usec() < deadline) {
                struct sa_ksm_globals g;
                r = sa_ksm_wait_full_scans(c->ctx, c->g[1].sys.full_scans + SA_COV_SMART_SCANS + 1, deadline, &g);
                if (r < 0)
                        return r;
                if (r > 0) {
                        forget_reading2(c);
                        c->g[2] = g;
                        r = second_reading(c, all_classes);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

int sa_ksm_coverage_run(struct smapsaudit_ctx *ctx, const pid_t *pids, size_t n_pids,
                        const struct smapsaudit_ksm_opts *opts, struct sa_ksm_coverage **ret) {
        struct sa_ksm_coverage *c = NULL;
        int r;

        r = sa_cov_new(ctx, pids, n_pids, opts, &c);
        if (r < 0)
                return r;
        if (sa_ctx_live(ctx))
                r = live_run(c, opts && opts->max_wait_msec ? opts->max_wait_msec : DEFAULT_WAIT_MSEC, false);
        else {
                r = sa_cov_replay_run(c);
                if (r >= 0)
                        sa_cov_evaluate(c);
        }
        if (r < 0) {
                sa_ksm_coverage_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

/* Reads the pages of pid's mergeable VMAs twice across ksmd's full scans, for a capture. */
_export_ int smapsaudit_ksm_capture(struct smapsaudit_ctx *ctx, pid_t pid, const char *dir,
                                    const struct smapsaudit_ksm_opts *opts) {
        struct sa_ksm_coverage *c = NULL;
        unsigned wait = opts && opts->max_wait_msec ? opts->max_wait_msec : CAPTURE_WAIT_MSEC;
        int r;

        if (!sa_ctx_live(ctx) || pid <= 0 || !dir)
                return -EINVAL;
        r = sa_cov_new(ctx, &pid, 1, opts, &c);
        if (r < 0)
                return r;
        r = live_run(c, wait, true);
        if (r >= 0 && !c->procs[0].n_vmas && !c->have_g)
                r = 0;   /* nothing to keep */
        else if (r >= 0)
                r = sa_ksm_hashes_write(c, dir);
        sa_ksm_coverage_free(c);
        return r;
}
