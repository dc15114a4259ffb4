/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Which pages of merge coverage hold identical content: pages are grouped
 * by the hash of their second reading (and by node, where KSM merges only
 * within one), then each group is compared byte for byte with one of its
 * pages through /proc/PID/mem. A hash alone never makes two pages the same.
 */
#include "ksm-coverage.h"
#include "procfs.h"

int sa_cov_read_page(int fd, uint64_t addr, void *buf) {
        ssize_t n = sa_pread_full(fd, buf, SA_PAGE_SIZE, (off_t) addr);

        if (n < 0)
                return (int) n;
        return n == (ssize_t) SA_PAGE_SIZE ? 0 : -EIO;
}

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

/*
 * Pages with equal hashes get a class after a byte comparison with one of
 * them (a KSM page where there is one). all: every group (a capture, where
 * the replay's KSM state may differ); else only groups with a page that is
 * not KSM.
 */
int sa_cov_assign_classes(struct sa_ksm_coverage *c, bool all) {
        _cleanup_free_ struct group_ref *refs = calloc(c->n_pages ? c->n_pages : 1, sizeof(*refs));
        _cleanup_free_ uint8_t *ref = malloc(SA_PAGE_SIZE), *cur = malloc(SA_PAGE_SIZE);
        size_t m = 0;

        if (!refs || !ref || !cur)
                return -ENOMEM;
        for (size_t i = 0; i < c->n_pages; i++)
                if (sa_cov_unchanged(&c->pages[i]))
                        refs[m++] = (struct group_ref) { i, c->pages[i].h2, c->pages[i].node };
        qsort(refs, m, sizeof(*refs), cmp_group);
        for (size_t i = 0; i < m;) {
                size_t j = i + 1, k, ri;
                bool plain = false, is_zero = refs[i].h == c->zero_hash;
                const struct sa_cov_page *rp;
                uint32_t cls;

                while (j < m && refs[j].h == refs[i].h && refs[j].node == refs[i].node)
                        j++;
                for (k = i; k < j; k++)
                        plain |= c->pages[refs[k].idx].st2 == SA_KSM_PAGE_PLAIN;
                if ((j - i < 2 && !is_zero) || (!all && !plain)) {
                        /* unique content, or all KSM already: no comparison needed */
                        if (j - i >= 2 || is_zero) {
                                c->n_classes++;
                                for (k = i; k < j; k++)
                                        c->pages[refs[k].idx].cls = c->n_classes;
                        }
                        i = j;
                        continue;
                }
                /* the reference: a KSM page if any (its content cannot change), else the first */
                ri = i;
                for (k = i; k < j; k++)
                        if (c->pages[refs[k].idx].st2 == SA_KSM_PAGE_KSM) {
                                ri = k;
                                break;
                        }
                rp = &c->pages[refs[ri].idx];
                if (sa_cov_read_page(c->procs[rp->proc].mem_fd, rp->addr, ref) < 0 || sa_cov_page_hash(ref) != refs[ri].h) {
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
                        struct sa_cov_page *q = &c->pages[refs[k].idx];
                        bool same = k == ri || (q->pfn2 && q->pfn2 == rp->pfn2);
                        if (!same && sa_cov_read_page(c->procs[q->proc].mem_fd, q->addr, cur) >= 0)
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
