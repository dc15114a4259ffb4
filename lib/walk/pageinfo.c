/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The PFN join: kpageflags and kpagecount for the frames a batch maps, and
 * the NUMA node of each frame. Frames are sorted and read in windows of
 * nearby PFNs, one pread per window per file (a THP is one window of 512),
 * never one per page: on 6.18 each kpageflags entry costs a folio
 * snapshot, and a syscall per page would cost more than the walk.
 */
#include <dirent.h>
#include <fcntl.h>
#include <numa.h>

#include "ctx.h"
#include "kernel.h"
#include "missing.h"
#include "procfs.h"
#include "walk.h"

/* Reading a few unneeded entries is cheaper than another syscall. */
#define JOIN_GAP 16u
#define JOIN_WINDOW 65536u

struct pfn_ref {
        uint64_t pfn;
        size_t idx;
};

struct node_range {
        uint64_t start, end; /* PFNs, end exclusive */
        int node;
};

struct sa_node_map {
        struct node_range *ranges;
        size_t n;
        int only_node;       /* >= 0: a single node holds all memory */
        size_t last;
};

/*
 * What the join keeps in the context between batches and audits: the two
 * files, open (or why they cannot be), the node map, and the buffers.
 */
struct pageinfo {
        int kpageflags_fd;          /* -1: not opened yet, -2: unavailable */
        int kpagecount_fd;
        int kpage_errno;
        struct sa_node_map *nodes;  /* NULL until first needed */
        struct sa_join_buffers *join;
};

static void join_buffers_free(struct sa_join_buffers *b);
static void node_map_free(struct sa_node_map *m);
static struct sa_node_map *node_map(struct smapsaudit_ctx *ctx);
static int node_of(struct sa_node_map *m, uint64_t pfn);

static void pageinfo_free(void *p) {
        struct pageinfo *pi = p;

        if (pi->kpageflags_fd >= 0)
                close(pi->kpageflags_fd);
        if (pi->kpagecount_fd >= 0)
                close(pi->kpagecount_fd);
        node_map_free(pi->nodes);
        join_buffers_free(pi->join);
        free(pi);
}

static struct pageinfo *pageinfo(struct smapsaudit_ctx *ctx) {
        struct pageinfo *pi = sa_ctx_slot(ctx, SA_CTX_PAGEINFO);

        if (pi)
                return pi;
        pi = calloc(1, sizeof(*pi));
        if (!pi)
                return NULL;
        pi->kpageflags_fd = pi->kpagecount_fd = -1;
        sa_ctx_set_slot(ctx, SA_CTX_PAGEINFO, pi, pageinfo_free);
        return pi;
}

int sa_kpage_open(struct smapsaudit_ctx *ctx) {
        _cleanup_free_ char *pf = NULL, *pc = NULL;
        struct pageinfo *pi = pageinfo(ctx);
        int r;

        if (!pi)
                return -ENOMEM;
        if (pi->kpageflags_fd >= 0 && pi->kpagecount_fd >= 0)
                return 0;
        if (pi->kpageflags_fd == -2)
                return pi->kpage_errno;
        r = sa_proc_path(ctx, 0, "kpageflags", &pf);
        if (r < 0)
                return r;
        r = sa_proc_path(ctx, 0, "kpagecount", &pc);
        if (r < 0)
                return r;
        pi->kpageflags_fd = open(pf, O_RDONLY | O_CLOEXEC);
        if (pi->kpageflags_fd >= 0) {
                pi->kpagecount_fd = open(pc, O_RDONLY | O_CLOEXEC);
                if (pi->kpagecount_fd >= 0)
                        return 0;
        }
        pi->kpage_errno = negative_errno();
        sa_warn(ctx, "cannot open %s: %s; Pss, KSM, the shared/private split and NUMA nodes need it "
                "(root or CAP_SYS_ADMIN with read access)", pi->kpageflags_fd < 0 ? pf : pc,
                strerror(-pi->kpage_errno));
        if (pi->kpageflags_fd >= 0)
                close(pi->kpageflags_fd);
        pi->kpageflags_fd = -2;
        pi->kpagecount_fd = -2;
        return pi->kpage_errno;
}

ssize_t sa_kpage_pread(struct smapsaudit_ctx *ctx, enum sa_kpage_file f, void *buf, size_t len, off_t off) {
        struct pageinfo *pi = sa_ctx_slot(ctx, SA_CTX_PAGEINFO);
        int fd = !pi ? -1 : f == SA_KPAGEFLAGS ? pi->kpageflags_fd : pi->kpagecount_fd;

        if (fd < 0)
                return -EBADF;
        return sa_pread_full(fd, buf, len, off);
}

static int cmp_pfn(const void *a, const void *b) {
        const struct pfn_ref *x = a, *y = b;
        return x->pfn < y->pfn ? -1 : x->pfn > y->pfn;
}

/* Reads [first, first + n) of either file or both (NULL: not that one); a captured file may be short. */
static int read_window(struct smapsaudit_ctx *ctx, uint64_t first, size_t n, uint64_t *flags, uint64_t *counts) {
        off_t off = (off_t) (first * sizeof(uint64_t));
        ssize_t a = 0, b = 0;

        if (flags)
                a = sa_kpage_pread(ctx, SA_KPAGEFLAGS, flags, n * sizeof(uint64_t), off);
        if (counts)
                b = sa_kpage_pread(ctx, SA_KPAGECOUNT, counts, n * sizeof(uint64_t), off);
        if (a < 0)
                return (int) a;
        if (b < 0)
                return (int) b;
        if (flags)
                memset((char *) flags + a, 0, n * sizeof(uint64_t) - (size_t) a);
        if (counts)
                memset((char *) counts + b, 0, n * sizeof(uint64_t) - (size_t) b);
        return 0;
}

/*
 * Flags that live on the folio. 6.18 reports the head's on every tail;
 * before the folio conversion (6.1) a tail shows only its own page flags,
 * so a shmem THP tail would look like a file page. Copy them from the head
 * when it is in the same window.
 */
#define FOLIO_FLAGS (KPF(KPF_ANON) | KPF(KPF_SWAPBACKED) | KPF(KPF_DIRTY) | KPF(KPF_REFERENCED) | KPF(KPF_KSM) | \
                     KPF(KPF_LRU) | KPF(KPF_ACTIVE) | KPF(KPF_SWAPCACHE) | KPF(KPF_UNEVICTABLE) |                  \
                     KPF(KPF_WRITEBACK) | KPF(KPF_MMAP))

static void inherit_folio_flags(uint64_t *flags, size_t n) {
        uint64_t head = 0;

        for (size_t k = 0; k < n; k++) {
                if (flags[k] & KPF(KPF_COMPOUND_HEAD))
                        head = flags[k];
                else if (flags[k] & KPF(KPF_COMPOUND_TAIL))
                        flags[k] |= head & FOLIO_FLAGS;
                else
                        head = 0;
        }
}

/*
 * A pmd_folio was joined through its head. With per-page mapcounts
 * (CONFIG_PAGE_MAPCOUNT) its pages can differ, when parts of it are
 * PTE-mapped elsewhere too: one read of its 512 kpagecount entries, kept
 * for the accounting. Otherwise every page has the head's count.
 */
static int join_folio_counts(struct smapsaudit_ctx *ctx, struct sa_page *p, uint64_t *counts, uint64_t *reads) {
        int r;

        p->folio_kpc = NULL;
        if (sa_kernel_get(ctx)->mapcount == SA_MAPCOUNT_AVERAGE)
                return 0;
        r = read_window(ctx, p->pme & PM_PFN_MASK, p->count, NULL, counts);
        (*reads)++;
        if (r < 0)
                return r;
        p->kpc = counts[0];
        p->folio_kpc = counts;
        return 0;
}

/*
 * A megabyte of windows and a sort array per batch, allocated once per
 * context: malloc and free of them for every VMA cost a process of 2000
 * small VMAs more than its walk.
 */
struct sa_join_buffers {
        struct pfn_ref *refs;
        size_t n_refs;
        uint64_t *folio_counts;       /* SA_PMD_PAGES per pmd_folio of the batch */
        size_t n_folios;
        uint64_t flags[JOIN_WINDOW], counts[JOIN_WINDOW];
};

static void join_buffers_free(struct sa_join_buffers *b) {
        if (!b)
                return;
        free(b->refs);
        free(b->folio_counts);
        free(b);
}

static int join_folio_buffers(struct sa_join_buffers *b, size_t n_folios) {
        uint64_t *c;

        if (n_folios <= b->n_folios)
                return 0;
        c = realloc(b->folio_counts, n_folios * SA_PMD_PAGES * sizeof(*c));
        if (!c)
                return -ENOMEM;
        b->folio_counts = c;
        b->n_folios = n_folios;
        return 0;
}

static struct sa_join_buffers *join_buffers(struct smapsaudit_ctx *ctx, size_t n) {
        struct pageinfo *pi = pageinfo(ctx);
        struct sa_join_buffers *b;

        if (!pi)
                return NULL;
        b = pi->join;
        if (!b) {
                b = pi->join = calloc(1, sizeof(*b));
                if (!b)
                        return NULL;
        }
        if (n > b->n_refs) {
                struct pfn_ref *refs = realloc(b->refs, n * sizeof(*refs));
                if (!refs)
                        return NULL;
                b->refs = refs;
                b->n_refs = n;
        }
        return b;
}

int sa_kpage_join(struct smapsaudit_ctx *ctx, struct sa_page *pages, size_t n, uint64_t *reads) {
        struct sa_join_buffers *b = join_buffers(ctx, n);
        struct pfn_ref *refs;
        uint64_t *flags, *counts;
        size_t m = 0, folios = 0;
        bool sorted = true, uniform = sa_kernel_get(ctx)->mapcount == SA_MAPCOUNT_AVERAGE, alone;
        struct sa_node_map *nodes = node_map(ctx);

        if (!b)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                folios += pages[i].pmd_folio;
        if (!uniform && join_folio_buffers(b, folios) < 0)
                return -ENOMEM;
        folios = 0;
        refs = b->refs;
        flags = b->flags;
        counts = b->counts;
        for (size_t i = 0; i < n; i++) {
                uint64_t pfn = pages[i].pme & PM_PFN_MASK;
                if (!(pages[i].pme & PM_PRESENT) || pfn == 0)
                        continue;
                if (pages[i].exclusive_anon) {
                        /* nothing to read for it, but numa_maps still counts it on its node */
                        pages[i].node = node_of(nodes, pfn);
                        continue;
                }
                if (m > 0 && refs[m - 1].pfn > pfn)
                        sorted = false;
                refs[m++] = (struct pfn_ref) { pfn, i };
        }
        /* THP-backed and freshly faulted memory usually comes sorted already */
        if (!sorted)
                qsort(refs, m, sizeof(*refs), cmp_pfn);

        for (size_t i = 0; i < m;) {
                uint64_t first = refs[i].pfn;
                size_t j = i + 1, span;
                int r;

                while (j < m && refs[j].pfn - refs[j - 1].pfn <= JOIN_GAP && refs[j].pfn - first < JOIN_WINDOW)
                        j++;
                span = (size_t) (refs[j - 1].pfn - first + 1);
                /* a lone THP head whose 512 counts are read next needs no count here */
                alone = j == i + 1 && pages[refs[i].idx].pmd_folio && !uniform;
                r = read_window(ctx, first, span, flags, alone ? NULL : counts);
                if (r < 0)
                        return r;
                (*reads)++;
                inherit_folio_flags(flags, span);
                for (size_t k = i; k < j; k++) {
                        struct sa_page *p = &pages[refs[k].idx];
                        p->kpf = flags[refs[k].pfn - first];
                        p->kpc = alone ? 0 : counts[refs[k].pfn - first];
                        p->node = node_of(nodes, refs[k].pfn);
                        p->joined = true;
                }
                for (size_t k = i; k < j; k++)
                        if (pages[refs[k].idx].pmd_folio) {
                                r = join_folio_counts(ctx, &pages[refs[k].idx],
                                                      uniform ? NULL : b->folio_counts + folios++ * SA_PMD_PAGES,
                                                      reads);
                                if (r < 0)
                                        return r;
                        }
                i = j;
        }
        return 0;
}

/* ---------------------------------------------------------------- nodes */

static void node_map_free(struct sa_node_map *m) {
        if (!m)
                return;
        free(m->ranges);
        free(m);
}

static int cmp_range(const void *a, const void *b) {
        const struct node_range *x = a, *y = b;
        return x->start < y->start ? -1 : x->start > y->start;
}

/*
 * /sys/devices/system/node/nodeN/memoryM links say which memory block
 * (block_size_bytes each) belongs to which node: the same fact
 * page_to_nid() gives numa_maps, read from the sys root so that captures
 * carry it.
 */
static int load_node_map(struct smapsaudit_ctx *ctx, struct sa_node_map *m) {
        _cleanup_free_ char *bs = NULL, *nodedir = NULL;
        unsigned long long block_bytes;
        DIR *d;
        struct dirent *de;
        int n_nodes = 0, last_node = -1;

        if (sa_read_sys_file(ctx, "devices/system/memory/block_size_bytes", &bs, NULL) < 0 ||
            sscanf(bs, "%llx", &block_bytes) != 1 || block_bytes < SA_PAGE_SIZE)
                block_bytes = 0;
        if (sa_sys_path(ctx, "devices/system/node", &nodedir) < 0)
                return -ENOMEM;
        d = opendir(nodedir);
        if (!d)
                return negative_errno();
        while ((de = readdir(d))) {
                _cleanup_free_ char *sub = NULL;
                DIR *nd;
                struct dirent *me;
                unsigned node;

                if (sscanf(de->d_name, "node%u", &node) != 1)
                        continue;
                n_nodes++;
                last_node = (int) node;
                if (!block_bytes || asprintf(&sub, "%s/%s", nodedir, de->d_name) < 0)
                        continue;
                nd = opendir(sub);
                if (!nd)
                        continue;
                while ((me = readdir(nd))) {
                        unsigned long long block;
                        struct node_range *nr;

                        if (sscanf(me->d_name, "memory%llu", &block) != 1)
                                continue;
                        nr = realloc(m->ranges, (m->n + 1) * sizeof(*nr));
                        if (!nr) {
                                closedir(nd);
                                closedir(d);
                                return -ENOMEM;
                        }
                        m->ranges = nr;
                        m->ranges[m->n++] = (struct node_range) {
                                .start = block * (block_bytes / SA_PAGE_SIZE),
                                .end = (block + 1) * (block_bytes / SA_PAGE_SIZE),
                                .node = (int) node,
                        };
                }
                closedir(nd);
        }
        closedir(d);
        qsort(m->ranges, m->n, sizeof(*m->ranges), cmp_range);
        /* libnuma knows the running system's topology even without memory blocks */
        if (sa_ctx_live(ctx) && numa_available() >= 0 && numa_num_configured_nodes() == 1 && n_nodes <= 1)
                m->only_node = n_nodes == 1 ? last_node : 0;
        else
                m->only_node = n_nodes == 1 ? last_node : -1;
        if (m->n == 0 && m->only_node < 0)
                return -ENOENT;
        return 0;
}

static struct sa_node_map *node_map(struct smapsaudit_ctx *ctx) {
        struct pageinfo *pi = pageinfo(ctx);
        struct sa_node_map *m;

        if (!pi)
                return NULL;
        if (pi->nodes)
                return pi->nodes->n || pi->nodes->only_node >= 0 ? pi->nodes : NULL;
        m = calloc(1, sizeof(*m));
        if (!m)
                return NULL;
        m->only_node = -1;
        if (load_node_map(ctx, m) < 0) {
                free(m->ranges);
                m->ranges = NULL;
                m->n = 0;
                m->only_node = -1;
                sa_info(ctx, "no NUMA node map below %s: numa_maps is not compared", smapsaudit_ctx_get_sys_root(ctx));
        }
        pi->nodes = m;
        return m->n || m->only_node >= 0 ? m : NULL;
}

bool sa_nodes_available(struct smapsaudit_ctx *ctx) {
        return node_map(ctx) != NULL;
}

/* A single node holds every frame: no block to look up, which a big 4 KiB process would do a million times. */
static int node_of(struct sa_node_map *m, uint64_t pfn) {
        size_t lo = 0, hi;

        if (!m)
                return -1;
        if (m->only_node >= 0 || m->n == 0)
                return m->only_node;
        if (m->last < m->n && pfn >= m->ranges[m->last].start && pfn < m->ranges[m->last].end)
                return m->ranges[m->last].node;
        hi = m->n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (pfn < m->ranges[mid].start)
                        hi = mid;
                else if (pfn >= m->ranges[mid].end)
                        lo = mid + 1;
                else {
                        m->last = mid;
                        return m->ranges[mid].node;
                }
        }
        return m->only_node;
}

int sa_node_of_pfn(struct smapsaudit_ctx *ctx, uint64_t pfn) {
        return node_of(node_map(ctx), pfn);
}
