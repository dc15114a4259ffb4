/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * /proc/PID/numa_maps (show_numa_map): one line per VMA, keyed by its
 * start address, "N<node>=<pages>" per node in units of the VMA's page
 * size. File names escape '=' and newlines, so a token with '=' is ours.
 * Tokens a kernel adds are skipped; a line that is not a VMA's, or one cut
 * off, is not: the VMAs it hides would read as having no pages anywhere.
 */
#include <ctype.h>

#include "macro.h"
#include "parse-number.h"
#include "sources.h"

void sa_numa_maps_done(struct sa_numa_maps *m) {
        for (size_t i = 0; i < m->n; i++)
                free(m->vmas[i].nodes);
        free(m->vmas);
        m->vmas = NULL;
        m->n = 0;
}

static int add_node(struct sa_numa_vma *v, int node, uint64_t pages) {
        struct sa_node_count *nn = realloc(v->nodes, (v->n_nodes + 1) * sizeof(*nn));

        if (!nn)
                return -ENOMEM;
        v->nodes = nn;
        v->nodes[v->n_nodes++] = (struct sa_node_count) { node, pages };
        return 0;
}

static int parse_token(const char *tok, size_t len, struct sa_numa_vma *v) {
        char key[32];
        const char *eq = memchr(tok, '=', len);
        uint64_t val, node;
        size_t klen;

        if (!eq) {
                if (len == 4 && memcmp(tok, "huge", 4) == 0)
                        v->huge = true;
                return 0;
        }
        klen = (size_t) (eq - tok);
        if (klen >= sizeof(key) || klen == 0)
                return 0;
        memcpy(key, tok, klen);
        key[klen] = 0;
        {
                char num[24];
                size_t nlen = len - klen - 1;
                if (nlen == 0 || nlen >= sizeof(num))
                        return 0;
                memcpy(num, eq + 1, nlen);
                num[nlen] = 0;
                if (parse_u64(num, &val) < 0)
                        return 0;
        }
        if (key[0] == 'N' && parse_u64_range(key + 1, 0, 1u << 20, &node) >= 0)
                return add_node(v, (int) node, val);
        if (streq(key, "anon"))
                v->anon = val;
        else if (streq(key, "dirty"))
                v->dirty = val;
        else if (streq(key, "mapped"))
                v->mapped = val;
        else if (streq(key, "mapmax"))
                v->mapmax = val;
        else if (streq(key, "kernelpagesize_kB"))
                v->kernel_page_kb = val;
        return 0;
}

int sa_numa_maps_parse(const char *buf, struct sa_numa_maps *ret) {
        struct sa_numa_maps m = {};
        size_t cap = 0;
        const char *line = buf;
        int r;

        while (*line) {
                const char *eol = strchr(line, '\n');
                unsigned long long start = 0;
                struct sa_numa_vma *v;
                const char *p;

                /*
                 * "%08lx %s\n": the start, a space, the policy, and the end of
                 * the line. By hand: glibc's sscanf takes strlen() of the whole
                 * rest of the file, and so does strtoull under a checking
                 * allocator, which makes a 65530-VMA numa_maps quadratic.
                 */
                for (p = line; isxdigit((unsigned char) *p) && start >> 60 == 0; p++)
                        start = start << 4 | (uint64_t) (isdigit((unsigned char) *p) ? *p - '0'
                                                                                   : (tolower((unsigned char) *p) - 'a' + 10));
                if (p == line || *p != ' ' || !eol) {
                        r = -EBADMSG;
                        goto fail;
                }
                if (m.n == cap) {
                        size_t ncap = cap ? cap * 2 : 64;
                        struct sa_numa_vma *nv = realloc(m.vmas, ncap * sizeof(*nv));
                        if (!nv) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        m.vmas = nv;
                        cap = ncap;
                }
                v = &m.vmas[m.n++];
                memset(v, 0, sizeof(*v));
                v->start = start;
                while (p < eol) {
                        const char *t;
                        while (p < eol && isspace((unsigned char) *p))
                                p++;
                        t = p;
                        while (p < eol && !isspace((unsigned char) *p))
                                p++;
                        if (p > t) {
                                r = parse_token(t, (size_t) (p - t), v);
                                if (r < 0)
                                        goto fail;
                        }
                }
                line = eol + 1;
        }
        /* every mm has a stack: none at all is an mm gone, or not numa_maps */
        if (m.n == 0)
                return -EBADMSG;
        *ret = m;
        return 0;
fail:
        sa_numa_maps_done(&m);
        return r;
}

const struct sa_numa_vma *sa_numa_maps_find(const struct sa_numa_maps *m, uint64_t start) {
        size_t lo = 0, hi = m->n;

        /* The kernel prints VMAs in address order; fall back to a scan otherwise. */
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (m->vmas[mid].start == start)
                        return &m->vmas[mid];
                if (m->vmas[mid].start < start)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        for (size_t i = 0; i < m->n; i++)
                if (m->vmas[i].start == start)
                        return &m->vmas[i];
        return NULL;
}

bool sa_numa_vma_equal(const struct sa_numa_vma *a, const struct sa_numa_vma *b) {
        if (!a || !b)
                return a == b;
        if (a->n_nodes != b->n_nodes || a->kernel_page_kb != b->kernel_page_kb)
                return false;
        for (size_t i = 0; i < a->n_nodes; i++)
                if (a->nodes[i].node != b->nodes[i].node || a->nodes[i].pages != b->nodes[i].pages)
                        return false;
        return true;
}
