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
 */
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <sys/stat.h>

#include "internal.h"
#include "missing.h"

#define REQUIRED_SCANS 2        /* complete full scans between the two readings */
#define SMART_SCANS 18          /* two visits of a page smart scan skips most: every 9th scan */
#define RUN_PAGES 64u           /* pages per /proc/PID/mem read */
#define CAPTURE_WAIT_MSEC 30000u
#define HASHES_FILE "smapsaudit-ksm-hashes"
#define HASHES_MAGIC "smapsaudit-ksm-hashes 1"

enum page_state {
        ST_NONE,   /* not present (or not seen) */
        ST_PLAIN,  /* a present page that is not KSM */
        ST_KSM,
        ST_ZERO,   /* the zero page */
};

enum cov_verdict {
        COV_NOT_JUDGED,
        COV_COMPLETE,
        COV_UNCONFIRMED,
        COV_UNMERGED,
};

enum cov_doubt {
        DOUBT_NONE,
        DOUBT_SMART_SCAN,
        DOUBT_COW,
};
static const char *const cov_verdict_names[] = {
        [COV_NOT_JUDGED] = "not-judged", [COV_COMPLETE] = "complete", [COV_UNCONFIRMED] = "unconfirmed",
        [COV_UNMERGED] = "unmerged",
};

/* What became of the pages read: of a VMA, or of them all. */
struct cov_counts {
        uint64_t hashed;         /* read in the first reading */
        uint64_t changed;        /* content or frame not the same in the second */
        uint64_t candidates;     /* held still, and merged or identical to another page */
        uint64_t merged, unmerged, unconfirmed;
        uint64_t full;           /* identical, but every KSM page of that content is full */
};

struct cov_vma {
        uint64_t start, end;
        char perms[5];
        uint64_t vmflags;
        /* results */
        unsigned tags;
        uint64_t pages, ksm_now;
        struct cov_counts n;
        enum cov_verdict verdict;
        enum cov_doubt doubt;
};

struct cov_reading {
        bool done, walked;
        struct sa_ksm_stat stat;
        uint64_t ksm_pages, zero_pages, swap_pages;
};

struct cov_proc {
        pid_t pid;
        char comm[64];
        struct cov_vma *vmas;
        size_t n_vmas;
        int mem_fd;
        struct cov_reading reading[2];
};

struct cov_page {
        uint32_t proc, vma;
        uint64_t addr;
        uint64_t pfn1, pfn2;
        uint64_t kpc2;           /* mappings of the frame at the second reading */
        uint64_t h1, h2;
        uint32_t cls;            /* identical content, byte-checked; 0: unique or not checked */
        int node;
        uint8_t st1, st2;
        bool read1, read2;
};

struct sa_ksm_coverage {
        struct smapsaudit_ctx *ctx;
        struct cov_proc *procs;
        size_t n_procs;
        struct cov_page *pages;
        size_t n_pages, cap_pages;
        uint64_t max_pages;
        bool capped, no_pfns, from_capture;
        /* before reading 1, after it, before reading 2, after it */
        struct sa_ksm_globals g[4];
        bool have_g;
        uint32_t n_classes;
        uint64_t zero_hash;
        /* evaluation */
        bool judged, smart_skipped, cow_moved;
        const char *why;
        struct cov_counts n;
        uint64_t unverified;
};

/* ================================================================ content */

static inline uint64_t rotl(uint64_t x, int r) {
        return (x << r) | (x >> (64 - r));
}

/* A fast 64-bit hash of a page; equal hashes are then compared byte for byte. */
static uint64_t page_hash(const void *page) {
        const uint64_t *w = page;
        uint64_t h = 0x9e3779b97f4a7c15ULL;

        for (size_t i = 0; i < SA_PAGE_SIZE / 8; i++) {
                h ^= w[i] * 0x87c37b91114253d5ULL;
                h = rotl(h, 31) * 0x4cf5ad432745937fULL + i;
        }
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdULL;
        h ^= h >> 33;
        return h;
}

static int read_page(int fd, uint64_t addr, void *buf) {
        ssize_t n = sa_pread_full(fd, buf, SA_PAGE_SIZE, (off_t) addr);

        if (n < 0)
                return (int) n;
        return n == (ssize_t) SA_PAGE_SIZE ? 0 : -EIO;
}

/* ================================================================ setup */

static void cov_proc_done(struct cov_proc *p) {
        free(p->vmas);
        if (p->mem_fd >= 0)
                close(p->mem_fd);
        p->vmas = NULL;
        p->mem_fd = -1;
}

void sa_ksm_coverage_free(struct sa_ksm_coverage *c) {
        if (!c)
                return;
        for (size_t i = 0; i < c->n_procs; i++)
                cov_proc_done(&c->procs[i]);
        free(c->procs);
        free(c->pages);
        free(c);
}

static int add_vma(struct cov_proc *p, uint64_t start, uint64_t end, const char *perms, uint64_t vmflags) {
        struct cov_vma *nv = realloc(p->vmas, (p->n_vmas + 1) * sizeof(*nv));

        if (!nv)
                return -ENOMEM;
        p->vmas = nv;
        p->vmas[p->n_vmas] = (struct cov_vma) { .start = start, .end = end, .vmflags = vmflags };
        snprintf(p->vmas[p->n_vmas].perms, sizeof(p->vmas[p->n_vmas].perms), "%s", perms);
        p->n_vmas++;
        return 0;
}

static int open_proc(struct sa_ksm_coverage *c, struct cov_proc *p) {
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
                        r = add_vma(p, s.vmas[i].start, s.vmas[i].end, s.vmas[i].perms, s.vmas[i].vmflags);
        sa_smaps_done(&s);
        if (r < 0)
                return r;
        sa_ksm_read_comm(c->ctx, p->pid, p->comm, sizeof(p->comm));
        if (p->n_vmas && c->ctx->live) {
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
        size_t lo, hi;               /* reading 2: this VMA's records */
        size_t cursor;
        uint8_t *buf;
        int error;
};

static enum page_state state_of(const struct sa_page *p) {
        if (!(p->pme & PM_PRESENT))
                return ST_NONE;
        if (p->pfn_zero || (p->joined && (p->kpf & KPF(KPF_ZERO_PAGE))))
                return ST_ZERO;
        if (p->joined && (p->kpf & KPF(KPF_KSM)))
                return ST_KSM;
        return ST_PLAIN;
}

static int push_page(struct sa_ksm_coverage *c, const struct cov_page *pg) {
        if (c->n_pages == c->cap_pages) {
                size_t nc = c->cap_pages ? c->cap_pages * 2 : 4096;
                struct cov_page *np = realloc(c->pages, nc * sizeof(*np));
                if (!np)
                        return -ENOMEM;
                c->pages = np;
                c->cap_pages = nc;
        }
        c->pages[c->n_pages++] = *pg;
        return 0;
}

/* Hashes the content of pages [from, to) of the records, in runs of adjacent addresses. */
static void hash_records(struct reading_ctx *rc, size_t from, size_t to) {
        struct sa_ksm_coverage *c = rc->c;
        int fd = c->procs[rc->proc].mem_fd;

        for (size_t i = from; i < to;) {
                struct cov_page *p = &c->pages[i];
                uint8_t st = rc->which == 1 ? p->st1 : p->st2;
                size_t j = i + 1, n;
                ssize_t got;

                if (st != ST_PLAIN && st != ST_KSM) {
                        i++;
                        continue;
                }
                while (j < to && j - i < RUN_PAGES && c->pages[j].addr == c->pages[j - 1].addr + SA_PAGE_SIZE &&
                       ((rc->which == 1 ? c->pages[j].st1 : c->pages[j].st2) == ST_PLAIN ||
                        (rc->which == 1 ? c->pages[j].st1 : c->pages[j].st2) == ST_KSM))
                        j++;
                n = j - i;
                got = sa_pread_full(fd, rc->buf, n * SA_PAGE_SIZE, (off_t) p->addr);
                for (size_t k = 0; k < n; k++) {
                        struct cov_page *q = &c->pages[i + k];
                        bool ok = got >= (ssize_t) ((k + 1) * SA_PAGE_SIZE);
                        /* a page that vanished since pagemap said present: read it alone, or drop it */
                        if (!ok)
                                ok = read_page(fd, q->addr, rc->buf + k * SA_PAGE_SIZE) >= 0;
                        if (rc->which == 1) {
                                q->read1 = ok;
                                q->h1 = ok ? page_hash(rc->buf + k * SA_PAGE_SIZE) : 0;
                        } else {
                                q->read2 = ok;
                                q->h2 = ok ? page_hash(rc->buf + k * SA_PAGE_SIZE) : 0;
                        }
                }
                i = j;
        }
}

static void count_state(struct cov_reading *rd, const struct sa_page *p) {
        enum page_state st = state_of(p);

        if (st == ST_NONE) {
                if ((p->pme & PM_SWAP) && !(p->pme & PM_GUARD_REGION))
                        rd->swap_pages++;
        } else if (st == ST_KSM)
                rd->ksm_pages++;
        else if (st == ST_ZERO)
                rd->zero_pages++;
}

static int on_batch1(void *userdata, const struct sa_page *pages, size_t n) {
        struct reading_ctx *rc = userdata;
        struct sa_ksm_coverage *c = rc->c;
        size_t first = c->n_pages;
        int r;

        for (size_t i = 0; i < n; i++) {
                const struct sa_page *p = &pages[i];
                enum page_state st = state_of(p);

                count_state(&c->procs[rc->proc].reading[0], p);
                if (st == ST_NONE)
                        continue;
                c->procs[rc->proc].vmas[rc->vma].pages++;
                if (c->n_pages >= c->max_pages) {
                        c->capped = true;
                        continue;
                }
                r = push_page(c, &(struct cov_page) {
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
                struct cov_page *q;

                count_state(&c->procs[rc->proc].reading[1], p);
                /* the records of this VMA are sorted by address, and so are the batches */
                while (rc->cursor < rc->hi && c->pages[rc->cursor].addr < p->addr)
                        rc->cursor++;
                if (rc->cursor >= rc->hi || c->pages[rc->cursor].addr != p->addr)
                        continue;
                q = &c->pages[rc->cursor++];
                q->st2 = (uint8_t) state_of(p);
                q->pfn2 = p->pme & PM_PFN_MASK;
                q->kpc2 = p->kpc;
                if (q->st2 != ST_NONE && c->g[2].sys.merge_across_nodes == 0 && q->pfn2)
                        q->node = sa_node_of_pfn(c->ctx, q->pfn2);
        }
        /* the records this batch passed; those it did not show stay ST_NONE and unread */
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
                struct cov_proc *p = &c->procs[pi];
                struct cov_reading *rd = &p->reading[which - 1];
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
                        struct cov_vma *v = &p->vmas[vi];
                        struct reading_ctx rc = { .c = c, .proc = pi, .vma = vi, .which = which, .buf = buf };

                        if (which == 2) {
                                /* this VMA's records */
                                while (rec < c->n_pages && (c->pages[rec].proc < pi ||
                                                            (c->pages[rec].proc == pi && c->pages[rec].vma < vi)))
                                        rec++;
                                rc.lo = rc.cursor = rec;
                                rc.hi = rec;
                                while (rc.hi < c->n_pages && c->pages[rc.hi].proc == pi && c->pages[rc.hi].vma == vi)
                                        rc.hi++;
                                if (rc.lo == rc.hi && c->capped)
                                        continue;
                        }
                        r = sa_walk_range(w, v->start, v->end, false, which == 1 ? on_batch1 : on_batch2, &rc);
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

/* ================================================================ identical content */

struct group_ref {
        size_t idx;
        uint64_t h;
        int node;
};

static int cmp_group(const void *a, const void *b) {
        const struct group_ref *x = a, *y = b;

        if (x->h != y->h)
                return x->h < y->h ? -1 : 1;
        if (x->node != y->node)
                return x->node < y->node ? -1 : 1;
        return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Held still between the readings: same content, and the same frame unless it became KSM. */
static bool unchanged(const struct cov_page *p) {
        return p->read1 && p->read2 && p->h1 == p->h2 && (p->st2 == ST_KSM || p->pfn1 == p->pfn2);
}

/*
 * Pages with equal hashes get a class after a byte comparison with one of
 * them (a KSM page where there is one). all: every group (a capture, where
 * the replay's KSM state may differ); else only groups with a page that is
 * not KSM.
 */
static int assign_classes(struct sa_ksm_coverage *c, bool all) {
        _cleanup_free_ struct group_ref *refs = calloc(c->n_pages ? c->n_pages : 1, sizeof(*refs));
        _cleanup_free_ uint8_t *ref = malloc(SA_PAGE_SIZE), *cur = malloc(SA_PAGE_SIZE);
        size_t m = 0;

        if (!refs || !ref || !cur)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_pages; i++)
                if (unchanged(&c->pages[i]))
                        refs[m++] = (struct group_ref) { i, c->pages[i].h2, c->pages[i].node };
        qsort(refs, m, sizeof(*refs), cmp_group);
        for (size_t i = 0; i < m;) {
                size_t j = i + 1, k, ri;
                bool plain = false, is_zero = refs[i].h == c->zero_hash;
                const struct cov_page *rp;
                uint32_t cls;

                while (j < m && refs[j].h == refs[i].h && refs[j].node == refs[i].node)
                        j++;
                for (k = i; k < j; k++)
                        plain |= c->pages[refs[k].idx].st2 == ST_PLAIN;
                if ((j - i < 2 && !is_zero) || (!all && !plain)) {
                        /* unique content, or all KSM already: no comparison needed */
                        if (j - i >= 2 || is_zero)
                                for (k = i; k < j; k++)
                                        c->pages[refs[k].idx].cls = c->n_classes + 1;
                        if (j - i >= 2 || is_zero)
                                c->n_classes++;
                        i = j;
                        continue;
                }
                /* the reference: a KSM page if any (its content cannot change), else the first */
                ri = i;
                for (k = i; k < j; k++)
                        if (c->pages[refs[k].idx].st2 == ST_KSM) {
                                ri = k;
                                break;
                        }
                rp = &c->pages[refs[ri].idx];
                if (read_page(c->procs[rp->proc].mem_fd, rp->addr, ref) < 0 || page_hash(ref) != refs[ri].h) {
                        c->unverified += j - i;
                        i = j;
                        continue;
                }
                if (is_zero) {
                        bool zero = true;
                        for (size_t b = 0; b < SA_PAGE_SIZE && zero; b++)
                                zero = ref[b] == 0;
                        if (!zero) {
                                c->unverified += j - i;
                                i = j;
                                continue;
                        }
                }
                cls = ++c->n_classes;
                for (k = i; k < j; k++) {
                        struct cov_page *q = &c->pages[refs[k].idx];
                        bool same = k == ri || (q->pfn2 && q->pfn2 == rp->pfn2);
                        if (!same && read_page(c->procs[q->proc].mem_fd, q->addr, cur) >= 0)
                                same = memcmp(cur, ref, SA_PAGE_SIZE) == 0;
                        if (same)
                                q->cls = cls;
                        else
                                c->unverified++;
                }
                i = j;
        }
        return 0;
}

/* ================================================================ judging (no I/O) */

static bool g_known(const struct sa_ksm_globals *g, uint64_t bit) {
        return (g->sys.have & bit) != 0;
}

static void counts_add(struct cov_counts *a, const struct cov_counts *b) {
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
static bool proc_quiet(const struct cov_proc *p) {
        const struct cov_reading *a = &p->reading[0], *b = &p->reading[1];

        return a->done && b->done && a->walked && b->walked && a->stat.merging_pages == b->stat.merging_pages &&
               a->stat.rmap_items == b->stat.rmap_items && a->stat.zero_pages == b->stat.zero_pages &&
               a->ksm_pages == b->ksm_pages && a->stat.merging_pages <= (int64_t) a->ksm_pages &&
               b->stat.merging_pages <= (int64_t) b->ksm_pages;
}

static int64_t complete_scans(const struct sa_ksm_coverage *c) {
        return c->g[2].sys.full_scans - c->g[1].sys.full_scans - 1;
}

static void evaluate(struct sa_ksm_coverage *c) {
        _cleanup_free_ struct class_info *info = calloc(c->n_classes + 1, sizeof(*info));
        _cleanup_free_ bool *quiet = calloc(c->n_procs ? c->n_procs : 1, sizeof(*quiet));
        const struct sa_ksm_globals *g = c->g;
        int64_t scans = complete_scans(c);
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
        else if (scans < REQUIRED_SCANS)
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
                const struct cov_page *p = &c->pages[i];
                if (!unchanged(p) || !p->cls)
                        continue;
                if (p->st2 == ST_KSM) {
                        info[p->cls].ksm++;
                        info[p->cls].room |= mps <= 0 || (int64_t) p->kpc2 < mps;
                } else if (p->st2 == ST_PLAIN)
                        info[p->cls].plain++;
        }

        for (size_t pi = 0; pi < c->n_procs; pi++)
                for (size_t vi = 0; vi < c->procs[pi].n_vmas; vi++) {
                        struct cov_vma *v = &c->procs[pi].vmas[vi];
                        v->n = (struct cov_counts) {};
                        v->ksm_now = 0;
                        v->doubt = DOUBT_NONE;
                }
        for (size_t i = 0; i < c->n_pages; i++) {
                const struct cov_page *p = &c->pages[i];
                struct cov_vma *v = &c->procs[p->proc].vmas[p->vma];
                const struct class_info *ci;
                enum cov_doubt doubt = DOUBT_NONE;
                bool zero_alone, stable_path;

                if (p->st2 == ST_KSM)
                        v->ksm_now++;
                if (p->st1 == ST_ZERO || !p->read1)
                        continue;
                v->n.hashed++;
                if (p->st2 == ST_ZERO && p->h1 == c->zero_hash) {
                        /* merged into the zero page (use_zero_pages) */
                        v->n.candidates++;
                        v->n.merged++;
                        continue;
                }
                if (!unchanged(p)) {
                        v->n.changed++;
                        continue;
                }
                if (p->st2 == ST_KSM) {
                        v->n.candidates++;
                        v->n.merged++;
                        continue;
                }
                if (p->st2 != ST_PLAIN || !p->cls)
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
                if (smart && c->smart_skipped && !(stable_path && scans >= SMART_SCANS))
                        doubt = DOUBT_SMART_SCAN;
                else if (c->cow_moved && !quiet[p->proc])
                        doubt = DOUBT_COW;
                if (doubt != DOUBT_NONE) {
                        v->n.unconfirmed++;
                        if (v->doubt == DOUBT_NONE)
                                v->doubt = doubt;
                } else
                        v->n.unmerged++;
        }
        c->n = (struct cov_counts) {};
        for (size_t pi = 0; pi < c->n_procs; pi++)
                for (size_t vi = 0; vi < c->procs[pi].n_vmas; vi++) {
                        struct cov_vma *v = &c->procs[pi].vmas[vi];
                        struct sa_smaps_vma k = { .start = v->start, .end = v->end, .vmflags = v->vmflags,
                                                  .have_vmflags = true };
                        struct sa_acc acc = { .ksm_pages = v->ksm_now };
                        struct sa_numa_state numa = { .balancing = -1, .scan_seq = -1 };

                        memcpy(k.perms, v->perms, sizeof(k.perms));
                        v->tags = sa_vma_tags(&k, &acc, &numa);
                        counts_add(&c->n, &v->n);
                        if (!c->judged)
                                v->verdict = COV_NOT_JUDGED;
                        else if (v->n.unmerged)
                                v->verdict = COV_UNMERGED;
                        else if (v->n.unconfirmed)
                                v->verdict = COV_UNCONFIRMED;
                        else
                                v->verdict = COV_COMPLETE;
                }
}

/* Whether a longer window would settle misses that smart scan leaves in doubt. */
static bool smart_doubts(const struct sa_ksm_coverage *c) {
        for (size_t pi = 0; pi < c->n_procs; pi++)
                for (size_t vi = 0; vi < c->procs[pi].n_vmas; vi++)
                        if (c->procs[pi].vmas[vi].doubt == DOUBT_SMART_SCAN)
                                return true;
        return false;
}

/* ================================================================ live run */

static int coverage_new(struct smapsaudit_ctx *ctx, const pid_t *pids, size_t n, const struct smapsaudit_ksm_opts *o,
                        struct sa_ksm_coverage **ret) {
        struct sa_ksm_coverage *c = calloc(1, sizeof(*c));
        uint8_t zero[SA_PAGE_SIZE] = {};

        if (!c)
                return -ENOMEM;
        c->ctx = ctx;
        c->max_pages = o && o->max_pages ? o->max_pages : (1ULL << 18);
        c->zero_hash = page_hash(zero);
        c->procs = calloc(n ? n : 1, sizeof(*c->procs));
        if (!c->procs) {
                free(c);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
                c->procs[c->n_procs++] = (struct cov_proc) { .pid = pids[i], .mem_fd = -1 };
        *ret = c;
        return 0;
}

static void forget_reading2(struct sa_ksm_coverage *c) {
        for (size_t i = 0; i < c->n_pages; i++) {
                struct cov_page *p = &c->pages[i];
                p->st2 = ST_NONE;
                p->read2 = false;
                p->pfn2 = p->kpc2 = p->h2 = 0;
                p->cls = 0;
                p->node = -1;
        }
        for (size_t i = 0; i < c->n_procs; i++)
                c->procs[i].reading[1] = (struct cov_reading) {};
        c->n_classes = 0;
        c->unverified = 0;
}

static int second_reading(struct sa_ksm_coverage *c, bool all_classes) {
        int r;

        r = do_reading(c, 2);
        if (r < 0)
                return r;
        (void) sa_ksm_globals_read(c->ctx, &c->g[3]);
        r = assign_classes(c, all_classes);
        if (r < 0)
                return r;
        evaluate(c);
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
                evaluate(c);
                return 0;
        }
        c->have_g = true;
        if (!any) {
                c->g[1] = c->g[2] = c->g[3] = c->g[0];
                evaluate(c);
                return 0;
        }
        r = do_reading(c, 1);
        if (r < 0)
                return r;
        (void) sa_ksm_globals_read(c->ctx, &c->g[1]);
        if (c->no_pfns) {
                c->g[2] = c->g[3] = c->g[1];
                evaluate(c);
                return 0;
        }
        if (sa_ksm_running(&c->g[1])) {
                r = sa_ksm_wait_full_scans(c->ctx, c->g[1].sys.full_scans + REQUIRED_SCANS + 1, deadline, &c->g[2]);
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
        if (c->judged && smart_doubts(c) && complete_scans(c) < SMART_SCANS && sa_ksm_now_usec() < deadline) {
                struct sa_ksm_globals g;
                r = sa_ksm_wait_full_scans(c->ctx, c->g[1].sys.full_scans + SMART_SCANS + 1, deadline, &g);
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

/* ================================================================ capture file */

static int write_globals(FILE *f, unsigned i, const struct sa_ksm_globals *g) {
        return fprintf(f, "globals %u have %" PRIx64 " run %" PRId64 " full_scans %" PRId64 " use_zero_pages %" PRId64
                          " merge_across_nodes %" PRId64 " max_page_sharing %" PRId64 " smart_scan %" PRId64
                          " pages_skipped %" PRId64 " cow_ksm %" PRId64 "\n",
                       i, g->sys.have, g->sys.run, g->sys.full_scans, g->sys.use_zero_pages, g->sys.merge_across_nodes,
                       g->sys.max_page_sharing, g->smart_scan, g->pages_skipped, g->cow_ksm);
}

/* DIR, DIR/proc and DIR/proc/PID, as a capture lays them out. */
static int make_pid_dir(const char *dir, pid_t pid) {
        _cleanup_free_ char *proc = NULL, *piddir = NULL;

        if (asprintf(&proc, "%s/proc", dir) < 0 || asprintf(&piddir, "%s/%d", proc, (int) pid) < 0)
                return -ENOMEM;
        if ((mkdir(dir, 0755) < 0 && errno != EEXIST) || (mkdir(proc, 0755) < 0 && errno != EEXIST) ||
            (mkdir(piddir, 0755) < 0 && errno != EEXIST))
                return negative_errno();
        return 0;
}

static int write_hashes(const struct sa_ksm_coverage *c, const char *dir) {
        const struct cov_proc *p = &c->procs[0];
        _cleanup_free_ char *path = NULL, *tmp = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        int fd, r;

        if (asprintf(&path, "%s/proc/%d/%s", dir, (int) p->pid, HASHES_FILE) < 0 ||
            asprintf(&tmp, "%s.tmp", path) < 0)
                return -ENOMEM;
        r = make_pid_dir(dir, p->pid);
        if (r < 0)
                return r;
        /* hashes of another process's memory: for root's eyes only */
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return negative_errno();
        f = fdopen(fd, "w");
        if (!f) {
                close(fd);
                return -ENOMEM;
        }
        fprintf(f, "%s\npid %d\nzero_hash %016" PRIx64 "\nmax_pages %" PRIu64 " capped %d no_pfns %d\n", HASHES_MAGIC,
                (int) p->pid, c->zero_hash, c->max_pages, c->capped, c->no_pfns);
        for (unsigned i = 0; i < 4; i++)
                write_globals(f, i, &c->g[i]);
        for (unsigned i = 0; i < 2; i++) {
                const struct cov_reading *rd = &p->reading[i];
                if (!rd->done)
                        continue;
                fprintf(f, "reading %u walked %d have %" PRIx64 " rmap_items %" PRId64 " zero_pages %" PRId64
                           " merging_pages %" PRId64 " process_profit %" PRId64 " ksm_ptes %" PRIu64 " zero_ptes %" PRIu64
                           " swap_ptes %" PRIu64 "\n",
                        i + 1, rd->walked, rd->stat.have, rd->stat.rmap_items, rd->stat.zero_pages, rd->stat.merging_pages,
                        rd->stat.process_profit, rd->ksm_pages, rd->zero_pages, rd->swap_pages);
        }
        for (size_t i = 0; i < p->n_vmas; i++)
                fprintf(f, "vma %zu %" PRIx64 " %" PRIx64 " %s %" PRIx64 "\n", i, p->vmas[i].start, p->vmas[i].end,
                        p->vmas[i].perms, p->vmas[i].vmflags);
        for (size_t i = 0; i < c->n_pages; i++) {
                const struct cov_page *q = &c->pages[i];
                fprintf(f, "page %u %" PRIx64 " %u %u %d %d %" PRIx64 " %" PRIx64 " %016" PRIx64 " %016" PRIx64 " %u\n",
                        q->vma, q->addr, q->st1, q->st2, q->read1, q->read2, q->pfn1, q->pfn2, q->h1, q->h2, q->cls);
        }
        if (fflush(f) != 0 || ferror(f))
                return -EIO;
        if (rename(tmp, path) < 0)
                return negative_errno();
        return 0;
}

_export_ int smapsaudit_ksm_capture(struct smapsaudit_ctx *ctx, pid_t pid, const char *dir,
                                    const struct smapsaudit_ksm_opts *opts) {
        struct sa_ksm_coverage *c = NULL;
        unsigned wait = opts && opts->max_wait_msec ? opts->max_wait_msec : CAPTURE_WAIT_MSEC;
        int r;

        if (!ctx->live || pid <= 0 || !dir)
                return -EINVAL;
        r = coverage_new(ctx, &pid, 1, opts, &c);
        if (r < 0)
                return r;
        r = live_run(c, wait, true);
        if (r >= 0 && !c->procs[0].n_vmas && !c->have_g)
                r = 0;   /* nothing to keep */
        else if (r >= 0)
                r = write_hashes(c, dir);
        sa_ksm_coverage_free(c);
        return r;
}

/* ================================================================ replay */

static int parse_globals(const char *line, struct sa_ksm_globals *g) {
        unsigned long long have;
        long long run, fs, uz, man, mps, ss, skipped, cow;
        unsigned idx;

        if (sscanf(line, "globals %u have %llx run %lld full_scans %lld use_zero_pages %lld merge_across_nodes %lld "
                         "max_page_sharing %lld smart_scan %lld pages_skipped %lld cow_ksm %lld",
                   &idx, &have, &run, &fs, &uz, &man, &mps, &ss, &skipped, &cow) != 10)
                return -EBADMSG;
        *g = (struct sa_ksm_globals) {
                .sys = { .have = have, .run = run, .full_scans = fs, .use_zero_pages = uz, .merge_across_nodes = man,
                         .max_page_sharing = mps },
                .smart_scan = ss, .pages_skipped = skipped, .cow_ksm = cow,
        };
        return (int) idx;
}

/* Reads DIR/proc/PID/smapsaudit-ksm-hashes: -ENOENT if the capture has none. */
static int load_hashes(struct sa_ksm_coverage *c, uint32_t pi) {
        struct cov_proc *p = &c->procs[pi];
        _cleanup_free_ char *buf = NULL;
        char *save = NULL;
        bool magic = false, take = !c->have_g, have_g = false;
        int r;

        r = sa_read_pid_file(c->ctx, p->pid, HASHES_FILE, &buf, NULL);
        if (r < 0)
                return r;
        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                unsigned long long a, b, vf, pfn1, pfn2, h1, h2, addr;
                unsigned vma, st1, st2, cls, idx;
                int rd1, rd2, capped, no_pfns;
                char perms[8];

                if (streq(line, HASHES_MAGIC)) {
                        magic = true;
                        continue;
                }
                if (!magic)
                        return -EBADMSG;
                if (startswith(line, "globals ")) {
                        struct sa_ksm_globals g;
                        int i = parse_globals(line, &g);
                        /* the window of the first file that has one */
                        if (i >= 0 && i < 4 && take) {
                                c->g[i] = g;
                                have_g = true;
                        }
                } else if (sscanf(line, "zero_hash %llx", &a) == 1) {
                        c->zero_hash = a;
                } else if (sscanf(line, "max_pages %llu capped %d no_pfns %d", &a, &capped, &no_pfns) == 3) {
                        c->capped |= capped;
                        c->no_pfns |= no_pfns;
                } else if (sscanf(line, "vma %u %llx %llx %7s %llx", &idx, &a, &b, perms, &vf) == 5) {
                        if (idx != p->n_vmas)
                                return -EBADMSG;
                        r = add_vma(p, a, b, perms, vf);
                        if (r < 0)
                                return r;
                } else if (sscanf(line, "page %u %llx %u %u %d %d %llx %llx %llx %llx %u", &vma, &addr, &st1, &st2, &rd1,
                                  &rd2, &pfn1, &pfn2, &h1, &h2, &cls) == 11) {
                        if (vma >= p->n_vmas || st1 > ST_ZERO || st2 > ST_ZERO)
                                return -EBADMSG;
                        r = push_page(c, &(struct cov_page) {
                                .proc = pi, .vma = vma, .addr = addr, .st1 = (uint8_t) st1, .st2 = (uint8_t) st2,
                                .read1 = rd1, .read2 = rd2, .pfn1 = pfn1, .pfn2 = pfn2, .h1 = h1, .h2 = h2,
                                .cls = cls, .node = -1,
                        });
                        if (r < 0)
                                return r;
                } else if (startswith(line, "reading ")) {
                        struct cov_reading rd = {};
                        unsigned long long have, ksm, zero, swap;
                        long long rmap, zp, merging, profit;
                        int walked;
                        if (sscanf(line, "reading %u walked %d have %llx rmap_items %lld zero_pages %lld merging_pages %lld "
                                         "process_profit %lld ksm_ptes %llu zero_ptes %llu swap_ptes %llu",
                                   &idx, &walked, &have, &rmap, &zp, &merging, &profit, &ksm, &zero, &swap) == 10 &&
                            idx >= 1 && idx <= 2) {
                                rd = (struct cov_reading) {
                                        .done = true, .walked = walked, .ksm_pages = ksm, .zero_pages = zero,
                                        .swap_pages = swap,
                                        .stat = { .have = have, .rmap_items = rmap, .zero_pages = zp,
                                                  .merging_pages = merging, .process_profit = profit },
                                };
                                p->reading[idx - 1] = rd;
                        }
                }
        }
        c->have_g |= have_g;
        return magic ? 0 : -EBADMSG;
}

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
                struct cov_page *q;

                while (rc->cursor < rc->hi && c->pages[rc->cursor].addr < p->addr)
                        rc->cursor++;
                if (rc->cursor >= rc->hi || c->pages[rc->cursor].addr != p->addr)
                        continue;
                q = &c->pages[rc->cursor];
                if (!p->joined && (p->pme & PM_PRESENT))
                        rc->no_kpage = true;
                /* a frame other than the second reading's: the page moved after it */
                if ((p->pme & PM_PFN_MASK) != q->pfn2 && state_of(p) != ST_ZERO)
                        q->read2 = false;
                q->st2 = (uint8_t) state_of(p);
                q->kpc2 = p->kpc;
        }
        return 0;
}

static int replay_states(struct sa_ksm_coverage *c, uint32_t pi) {
        struct cov_proc *p = &c->procs[pi];
        struct sa_walker *w = NULL;
        size_t rec = 0;
        int r;

        /* pages the captured pagemap does not show are gone */
        for (size_t i = 0; i < c->n_pages; i++)
                if (c->pages[i].proc == pi)
                        c->pages[i].st2 = ST_NONE;
        r = sa_walker_new(c->ctx, p->pid, 0, &w);
        if (r < 0)
                return r;
        for (uint32_t vi = 0; vi < p->n_vmas; vi++) {
                struct replay_ctx rc = { .c = c };
                while (rec < c->n_pages && (c->pages[rec].proc < pi || (c->pages[rec].proc == pi && c->pages[rec].vma < vi)))
                        rec++;
                rc.cursor = rc.hi = rec;
                while (rc.hi < c->n_pages && c->pages[rc.hi].proc == pi && c->pages[rc.hi].vma == vi)
                        rc.hi++;
                r = sa_walk_range(w, p->vmas[vi].start, p->vmas[vi].end, false, on_replay_batch, &rc);
                if (r < 0)
                        break;
                if (rc.no_kpage)
                        c->no_pfns = true;
        }
        sa_walker_free(w);
        for (size_t i = 0; i < c->n_pages; i++)
                if (c->pages[i].proc == pi && c->pages[i].st2 == ST_NONE)
                        c->pages[i].read2 = false;
        return r;
}

static int replay_run(struct sa_ksm_coverage *c) {
        int r;

        for (uint32_t pi = 0; pi < c->n_procs; pi++) {
                size_t first = c->n_pages;
                uint32_t base = c->n_classes, top = 0;

                r = load_hashes(c, pi);
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

int sa_ksm_coverage_run(struct smapsaudit_ctx *ctx, const pid_t *pids, size_t n_pids,
                        const struct smapsaudit_ksm_opts *opts, struct sa_ksm_coverage **ret) {
        struct sa_ksm_coverage *c = NULL;
        int r;

        r = coverage_new(ctx, pids, n_pids, opts, &c);
        if (r < 0)
                return r;
        if (ctx->live)
                r = live_run(c, opts && opts->max_wait_msec ? opts->max_wait_msec : 60000, false);
        else {
                r = replay_run(c);
                if (r >= 0)
                        evaluate(c);
        }
        if (r < 0) {
                sa_ksm_coverage_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

/* What the capture's file says of one process's first and second reading. */
int sa_ksm_capture_readings(struct smapsaudit_ctx *ctx, pid_t pid, struct sa_ksm_capture_reading *ret) {
        struct sa_ksm_coverage *c = NULL;
        int r;

        r = coverage_new(ctx, &pid, 1, NULL, &c);
        if (r < 0)
                return r;
        r = load_hashes(c, 0);
        if (r >= 0 && (!c->procs[0].reading[0].done || !c->have_g))
                r = -ENODATA;
        if (r >= 0) {
                const struct cov_reading *rd = &c->procs[0].reading[0];
                *ret = (struct sa_ksm_capture_reading) {
                        .stat = rd->stat, .walked = rd->walked, .ksm_pages = rd->ksm_pages,
                        .zero_pages = rd->zero_pages, .swap_pages = rd->swap_pages,
                        .before = c->g[0], .after = c->g[1],
                };
        }
        sa_ksm_coverage_free(c);
        return r;
}

/* ================================================================ JSON */

static json_object *percent(uint64_t part, uint64_t whole) {
        return whole ? json_object_new_double((double) ((part * 10000 + whole / 2) / whole) / 100.0) : NULL;
}

static void add_counts(json_object *o, const struct cov_counts *n) {
        sa_json_add_u64(o, "hashed", n->hashed);
        sa_json_add_u64(o, "changed", n->changed);
        sa_json_add_u64(o, "candidates", n->candidates);
        sa_json_add_u64(o, "merged", n->merged);
        sa_json_add_u64(o, "unmerged", n->unmerged);
        sa_json_add_u64(o, "unconfirmed", n->unconfirmed);
        sa_json_add_u64(o, "full_max_page_sharing", n->full);
        json_object_object_add(o, "percent", percent(n->merged, n->candidates));
}

static json_object *coverage_finding(const struct sa_ksm_coverage *c, const struct cov_proc *p, const struct cov_vma *v) {
        json_object *o = json_object_new_object(), *vma = json_object_new_object();
        int64_t scans = c->g[2].sys.full_scans - c->g[1].sys.full_scans - 1;
        char *why = NULL;

        json_object_object_add(o, "kind", json_object_new_string(smapsaudit_verdict_to_string(SMAPSAUDIT_UNDER_ACCOUNTED)));
        json_object_object_add(o, "field", json_object_new_string("ksm_coverage"));
        json_object_object_add(vma, "start", sa_json_hex(v->start));
        json_object_object_add(vma, "end", sa_json_hex(v->end));
        json_object_object_add(o, "vma", vma);
        json_object_object_add(o, "pid", json_object_new_int(p->pid));
        sa_json_add_u64(o, "kernel_kb", v->n.merged * 4);
        sa_json_add_u64(o, "walk_kb", v->n.candidates * 4);
        json_object_object_add(o, "delta_kb", json_object_new_int64(-(int64_t) v->n.unmerged * 4));
        sa_json_add_u64(o, "kernel", v->n.merged);
        sa_json_add_u64(o, "walk", v->n.candidates);
        json_object_object_add(o, "unit", json_object_new_string("pages"));
        json_object_object_add(o, "source", json_object_new_string("ksm_coverage"));
        json_object_object_add(o, "tags", sa_json_tags(v->tags));
        if (asprintf(&why, "%" PRIu64 " page(s) of this mergeable VMA hold the same content as other pages and stayed "
                           "unmerged through %" PRId64 " complete full scans of ksmd while their content did not change%s",
                     v->n.unmerged, scans,
                     (v->tags & SMAPSAUDIT_TAG_PROT_NONE)
                             ? "; the VMA is PROT_NONE: KSM stopped merging inaccessible VMAs with 474098edac26 "
                               "(6.1), fixed by d74943a2f3cd (6.5)"
                             : "") < 0)
                why = NULL;
        json_object_object_add(o, "explanation", json_object_new_string(why ? why : "unmerged identical pages"));
        free(why);
        return o;
}

json_object *sa_ksm_coverage_json(const struct sa_ksm_coverage *c, json_object *findings, unsigned *n_findings,
                                  bool *inconclusive) {
        json_object *o = json_object_new_object(), *fs = json_object_new_object(), *a = json_object_new_array();
        const struct sa_ksm_globals *g = c->g;

        *n_findings = 0;
        *inconclusive = false;
        json_object_object_add(o, "judged", json_object_new_boolean(c->judged));
        if (c->why)
                json_object_object_add(o, "why", json_object_new_string(c->why));
        json_object_object_add(o, "source", json_object_new_string(c->from_capture ? "capture" : "/proc/PID/mem"));
        json_object_object_add(o, "scope", json_object_new_string(
                c->n_procs == 1 ? "within the process" : "across the processes read"));
        json_object_object_add(fs, "after_first_reading", json_object_new_int64(g[1].sys.full_scans));
        json_object_object_add(fs, "before_second_reading", json_object_new_int64(g[2].sys.full_scans));
        json_object_object_add(fs, "complete_between",
                               json_object_new_int64(MAX(g[2].sys.full_scans - g[1].sys.full_scans - 1, 0)));
        json_object_object_add(fs, "required", json_object_new_int(REQUIRED_SCANS));
        json_object_object_add(o, "full_scans", fs);
        if (g[0].smart_scan >= 0)
                json_object_object_add(o, "smart_scan", json_object_new_int64(g[0].smart_scan));
        if (g[0].pages_skipped >= 0 && g[3].pages_skipped >= 0)
                json_object_object_add(o, "pages_skipped_delta", json_object_new_int64(g[3].pages_skipped - g[0].pages_skipped));
        if (g[0].cow_ksm >= 0 && g[3].cow_ksm >= 0)
                json_object_object_add(o, "cow_ksm_delta", json_object_new_int64(g[3].cow_ksm - g[0].cow_ksm));
        json_object_object_add(o, "use_zero_pages", json_object_new_int64(g[2].sys.use_zero_pages));
        json_object_object_add(o, "merge_across_nodes", json_object_new_int64(g[2].sys.merge_across_nodes));
        sa_json_add_u64(o, "max_pages", c->max_pages);
        json_object_object_add(o, "capped", json_object_new_boolean(c->capped));
        sa_json_add_u64(o, "unverified", c->unverified);
        add_counts(o, &c->n);

        for (size_t pi = 0; pi < c->n_procs; pi++) {
                const struct cov_proc *p = &c->procs[pi];
                for (size_t vi = 0; vi < p->n_vmas; vi++) {
                        const struct cov_vma *v = &p->vmas[vi];
                        json_object *e = json_object_new_object();

                        json_object_object_add(e, "pid", json_object_new_int(p->pid));
                        json_object_object_add(e, "comm", json_object_new_string(p->comm));
                        json_object_object_add(e, "start", sa_json_hex(v->start));
                        json_object_object_add(e, "end", sa_json_hex(v->end));
                        json_object_object_add(e, "perms", json_object_new_string(v->perms));
                        json_object_object_add(e, "tags", sa_json_tags(v->tags));
                        sa_json_add_u64(e, "pages", v->pages);
                        add_counts(e, &v->n);
                        json_object_object_add(e, "verdict", json_object_new_string(cov_verdict_names[v->verdict]));
                        if (v->n.unconfirmed)
                                json_object_object_add(e, "why", json_object_new_string(
                                        v->doubt == DOUBT_SMART_SCAN
                                                ? "smart_scan skipped pages during the window: pages that failed to "
                                                  "merge before are visited only every few scans (a longer --wait, or "
                                                  "smart_scan=0, decides)"
                                                : "KSM pages were copied on write during the window (cow_ksm moved) and "
                                                  "this process's KSM counters moved: its unmerged pages may have been "
                                                  "merged and broken again"));
                        json_object_array_add(a, e);
                        if (v->verdict == COV_UNMERGED) {
                                json_object_array_add(findings, coverage_finding(c, p, v));
                                (*n_findings)++;
                        } else if (v->verdict == COV_UNCONFIRMED)
                                *inconclusive = true;
                }
        }
        json_object_object_add(o, "vmas", a);
        return o;
}
