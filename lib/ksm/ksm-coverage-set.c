/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What merge coverage holds: the processes, their mergeable VMAs and the
 * pages read, filled by a live reading (ksm-coverage.c) or from a capture's
 * hashes (ksm-hashes.c).
 */
#include "ksm-coverage.h"

#define DEFAULT_MAX_PAGES (1ULL << 18)   /* pages hashed per run, unless opts says */

static inline uint64_t rotl(uint64_t x, int r) {
        return (x << r) | (x >> (64 - r));
}

uint64_t sa_cov_page_hash(const void *page) {
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

static void cov_proc_done(struct sa_cov_proc *p) {
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

int sa_cov_add_vma(struct sa_cov_proc *p, uint64_t start, uint64_t end, const char *perms, uint64_t vmflags) {
        struct sa_cov_vma *nv = realloc(p->vmas, (p->n_vmas + 1) * sizeof(*nv));

        if (!nv)
                return -ENOMEM;
        p->vmas = nv;
        p->vmas[p->n_vmas] = (struct sa_cov_vma) { .start = start, .end = end, .vmflags = vmflags };
        snprintf(p->vmas[p->n_vmas].perms, sizeof(p->vmas[p->n_vmas].perms), "%s", perms);
        p->n_vmas++;
        return 0;
}

int sa_cov_new(struct smapsaudit_ctx *ctx, const pid_t *pids, size_t n, const struct smapsaudit_ksm_opts *o,
               struct sa_ksm_coverage **ret) {
        struct sa_ksm_coverage *c = calloc(1, sizeof(*c));
        uint8_t zero[SA_PAGE_SIZE] = {};

        if (!c)
                return -ENOMEM;
        c->ctx = ctx;
        c->max_pages = o && o->max_pages ? o->max_pages : DEFAULT_MAX_PAGES;
        c->zero_hash = sa_cov_page_hash(zero);
        c->procs = calloc(n ? n : 1, sizeof(*c->procs));
        if (!c->procs) {
                free(c);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
                c->procs[c->n_procs++] = (struct sa_cov_proc) { .pid = pids[i], .mem_fd = -1 };
        *ret = c;
        return 0;
}

int sa_cov_push_page(struct sa_ksm_coverage *c, const struct sa_cov_page *pg) {
        if (c->n_pages == c->cap_pages) {
                size_t nc = c->cap_pages ? c->cap_pages * 2 : 4096;
                struct sa_cov_page *np = realloc(c->pages, nc * sizeof(*np));
                if (!np)
                        return -ENOMEM;
                c->pages = np;
                c->cap_pages = nc;
        }
        c->pages[c->n_pages++] = *pg;
        return 0;
}

/*
 * Records [*from, end) of VMA vi of process pi: records are sorted by
 * process, VMA and address, and so are the calls, so *from only moves on.
 */
size_t sa_cov_vma_records(const struct sa_ksm_coverage *c, uint32_t pi, uint32_t vi, size_t *from) {
        size_t end;

        while (*from < c->n_pages &&
               (c->pages[*from].proc < pi || (c->pages[*from].proc == pi && c->pages[*from].vma < vi)))
                (*from)++;
        end = *from;
        while (end < c->n_pages && c->pages[end].proc == pi && c->pages[end].vma == vi)
                end++;
        return end;
}

/* The record of addr among [*cursor, hi), and *cursor past it; the walk's batches come by address too. */
struct sa_cov_page *sa_cov_record_at(struct sa_ksm_coverage *c, size_t *cursor, size_t hi, uint64_t addr) {
        while (*cursor < hi && c->pages[*cursor].addr < addr)
                (*cursor)++;
        if (*cursor >= hi || c->pages[*cursor].addr != addr)
                return NULL;
        return &c->pages[(*cursor)++];
}
