/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The walk: a process's page tables as pagemap (and PAGEMAP_SCAN) show
 * them (walk.c), joined by PFN with kpageflags, kpagecount and the frame's
 * NUMA node (pageinfo.c). Raw facts only: what they count for is account.c's.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fields.h"

struct smapsaudit_ctx;

/* One pagemap entry joined with what the walk learned about it. */
struct sa_page {
        uint64_t addr;
        uint64_t pme;        /* raw pagemap entry */
        uint64_t kpf;        /* kpageflags, 0 when not read */
        uint64_t kpc;        /* kpagecount */
        int node;            /* -1 unknown */
        bool pmd_mapped;     /* part of a PMD-mapped THP */
        bool pfn_zero;       /* PAGEMAP_SCAN said PAGE_IS_PFNZERO */
        bool scanned;        /* PAGEMAP_SCAN saw it: pfn_zero and pmd_mapped are known */
        bool exclusive_anon; /* PTE-mapped, anon, mapcount 1 by pagemap: not joined on purpose */
        bool region;         /* fast tier: stands for count pages of one PAGEMAP_SCAN region */
        bool pmd_folio;      /* stands for the SA_PMD_PAGES pages of a PMD-mapped THP, joined by its head */
        uint64_t count;      /* pages this entry stands for: 1 unless region, pmd_folio or a run of
                              * exclusive_anon pages at consecutive addresses and PFNs */
        /* pmd_folio: the kpagecount of each of its count pages, or NULL when every page has kpc (the
         * folio average of CONFIG_NO_PAGE_MAPCOUNT); the join's, valid until the batch callback returns */
        const uint64_t *folio_kpc;
        bool joined;         /* kpf/kpc were read */
};

enum sa_walk_mode {
        SA_WALK_SCAN = 1u << 0,     /* PAGEMAP_SCAN found the populated ranges */
        SA_WALK_PFN = 1u << 1,      /* PFNs visible (CAP_SYS_ADMIN) */
        SA_WALK_KPAGE = 1u << 2,    /* kpageflags/kpagecount readable */
        SA_WALK_NODES = 1u << 3,    /* PFN → node map available */
        SA_WALK_FAST = 1u << 4,     /* fast tier: regions, no pagemap reads outside mergeable VMAs */
};

/* pmd_folio entries per batch at most: the join keeps 512 kpagecount entries of each (4 KiB). */
#define SA_WALK_MAX_FOLIOS 256u

struct sa_walker;
typedef int (*sa_walk_batch_fn)(void *userdata, const struct sa_page *pages, size_t n);

struct sa_walk_stats {
        uint64_t pagemap_reads, scan_ioctls, kpage_reads, entries, pfn_runs;
};

int sa_walker_new(struct smapsaudit_ctx *ctx, pid_t pid, unsigned audit_flags, struct sa_walker **ret);
void sa_walker_free(struct sa_walker *w);
unsigned sa_walker_mode(const struct sa_walker *w);
const struct sa_walk_stats *sa_walker_stats(const struct sa_walker *w);
enum {
        /* the range cannot hold KSM pages: exclusively mapped anonymous pages need no join */
        SA_RANGE_SKIP_EXCLUSIVE_ANON = 1u << 0,
        /* the caller accounts whole folios: a PMD-mapped THP may come as one pmd_folio entry */
        SA_RANGE_PMD_FOLIOS = 1u << 1,
        /* a private anonymous mapping: every page in it is anonymous or the zero page */
        SA_RANGE_ANON_ONLY = 1u << 2,
};

/* Calls fn with batches of populated pages (present or swap-type) of [start, end). */
int sa_walk_range(struct sa_walker *w, uint64_t start, uint64_t end, unsigned range_flags,
                  sa_walk_batch_fn fn, void *userdata);
/*
 * One PAGEMAP_SCAN and one pagemap read for the small VMAs in [start, end)
 * that are walked next, in address order, instead of one each:
 * sa_walk_range() of each takes its regions from it, once. Any other range, or one walked again, is scanned
 * on its own; so is everything when this scan fails or does not fit one
 * vector of regions. (0, 0) forgets it.
 */
#define SA_SCAN_AHEAD_PAGES 1024u   /* the most address space one such scan covers, holes included */
void sa_walker_scan_ahead(struct sa_walker *w, uint64_t start, uint64_t end);

/* pageinfo.c: the PFN join. */
int sa_kpage_open(struct smapsaudit_ctx *ctx);
int sa_kpage_join(struct smapsaudit_ctx *ctx, struct sa_page *pages, size_t n, uint64_t *reads);
/* Bytes of kpageflags or kpagecount at off, as pread() reads them; sa_kpage_open() first. */
enum sa_kpage_file {
        SA_KPAGEFLAGS,
        SA_KPAGECOUNT,
};
ssize_t sa_kpage_pread(struct smapsaudit_ctx *ctx, enum sa_kpage_file f, void *buf, size_t len, off_t off);
int sa_node_of_pfn(struct smapsaudit_ctx *ctx, uint64_t pfn);
bool sa_nodes_available(struct smapsaudit_ctx *ctx);
