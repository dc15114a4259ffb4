/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The walks of a pass: each VMA through the walker (walk/) into the
 * accounting rules (account/), with progress reported inside big VMAs; the
 * pass's own walk, and the second walks the pre-judgement asks for.
 */
#include <inttypes.h>

#include "audit.h"
#include "ctx.h"

static bool skip_walk(const struct sa_smaps_vma *k) {
        /* [vsyscall] lies above TASK_SIZE, outside pagemap */
        return streq(k->name ? k->name : "", "[vsyscall]") || k->start >= 0x800000000000ULL;
}

struct batch_ctx {
        const struct sa_account_rules *rules;
        const struct sa_vma_class *cls;
        struct sa_acc *acc;
        struct audit *a;
        uint64_t vma_start;
};

/* One VMA may be most of a process (a JVM heap, a database's buffer pool): inside it, progress is
 * reported every this many pages of address space. */
#define PROGRESS_PAGES (UINT64_C(128) << (20 - 12))

static int progress(struct audit *a, uint64_t done) {
        if (!a->opts || !a->opts->progress)
                return 0;
        /* second walks (walk_again) come after the pass's own: the pass stays done */
        return a->opts->progress(a->opts->progress_userdata, a->pid, a->progress_pass, MIN(done, a->progress_total),
                                 a->progress_total);
}

static int on_batch(void *userdata, const struct sa_page *pages, size_t n) {
        struct batch_ctx *b = userdata;
        uint64_t walked;

        for (size_t i = 0; i < n; i++)
                sa_account_page(b->rules, b->cls, &pages[i], b->acc);
        if (n == 0)
                return 0;
        walked = (pages[n - 1].addr + pages[n - 1].count * SA_PAGE_SIZE - b->vma_start) / SA_PAGE_SIZE;
        if (walked < b->a->progress_next)
                return 0;
        b->a->progress_next = walked + PROGRESS_PAGES;
        return progress(b->a, b->a->progress_done + walked);
}

static int walk_vma(struct audit *a, const struct sa_smaps_vma *k, struct sa_acc *acc) {
        struct sa_vma_class cls;
        struct batch_ctx b = { &a->rules, &cls, acc, a, k->start };
        int r;

        memset(acc, 0, sizeof(*acc));
        a->progress_next = PROGRESS_PAGES;
        sa_vma_classify(k, &cls);
        if (skip_walk(k) || cls.special)
                return 0;
        r = sa_walk_range(a->walker, k->start, k->end,
                          (cls.mergeable ? 0 : SA_RANGE_SKIP_EXCLUSIVE_ANON) | (cls.hugetlb ? 0 : SA_RANGE_PMD_FOLIOS) |
                                  (cls.anon_only ? SA_RANGE_ANON_ONLY : 0),
                          on_batch, &b);
        if (r < 0)
                return r;
        sa_account_finish(&a->rules, &cls, acc);
        return 0;
}



static uint64_t vma_pages(const struct sa_smaps_vma *k) {
        return (k->end - k->start) / SA_PAGE_SIZE;
}

/* One VMA walked and accounted; a failure says which VMA of which file. */
static int walk_one(struct audit *a, const struct sa_smaps_vma *k, struct sa_acc *acc) {
        int r = walk_vma(a, k, acc);

        if (r == -ENOENT || r == -ESRCH || (r < 0 && sa_views_target_gone(a->ctx, a->pid, a->pidfd, a->start_time)))
                return -ESRCH;
        if (r < 0)
                return sa_error(a->ctx, r, "PID %d: walking VMA %" PRIx64 "-%" PRIx64 " in %s/%d/pagemap failed: %s%s",
                                (int) a->pid, k->start, k->end, smapsaudit_ctx_get_proc_root(a->ctx), (int) a->src.mm_pid, strerror(-r),
                                r == -EBADMSG ? " (the file ends inside the VMA, or the kernel's answer made no sense)" : "");
        return 0;
}

/* Whether the pass walks VMA i of its first views: undecided, or the totals need a walk that no longer stands. */
static bool pass_walks(struct audit *a, const struct sa_pass *p, size_t i) {
        const struct sa_smaps *s = &p->A->smaps;

        return a->j.track[p->idx[i]].state != SA_VMA_DONE ||
               (p->need_totals && !sa_judge_walk_stands(&a->j, p->idx[i], &s->vmas[i]));
}

/*
 * A process with tens of thousands of small VMAs costs a PAGEMAP_SCAN and
 * a pagemap read each: the next ones the pass walks, if small, are scanned
 * and read together. At most SCAN_AHEAD_VMAS of them in SA_SCAN_AHEAD_PAGES
 * of address space, so that each one's pagemap and scan are read within
 * microseconds of each other, and all within a few hundred of its walk.
 */
#define SCAN_AHEAD_VMAS 64

static bool scans_alone(const struct sa_smaps_vma *k) {
        struct sa_vma_class cls;

        sa_vma_classify(k, &cls);
        return skip_walk(k) || cls.special || cls.hugetlb;
}

static void scan_ahead(struct audit *a, const struct sa_pass *p, size_t i, size_t *ahead_end) {
        const struct sa_smaps *s = &p->A->smaps;
        size_t j;

        if (i < *ahead_end)
                return;
        for (j = i; j < s->n && j - i < SCAN_AHEAD_VMAS && pass_walks(a, p, j) && !scans_alone(&s->vmas[j]); j++)
                if ((s->vmas[j].end - s->vmas[i].start) / SA_PAGE_SIZE > SA_SCAN_AHEAD_PAGES)
                        break;
        *ahead_end = MAX(j, i + 1);
        sa_walker_scan_ahead(a->walker, j - i > 1 ? s->vmas[i].start : 0, j - i > 1 ? s->vmas[j - 1].end : 0);
}

int sa_audit_walk_pass(struct audit *a, unsigned pass, struct sa_pass *p, bool *walked) {
        const struct sa_smaps *s = &p->A->smaps;
        size_t ahead_end = 0;
        int r;

        a->progress_pass = pass;
        a->progress_done = a->progress_total = 0;
        for (size_t i = 0; i < s->n; i++)
                if (pass_walks(a, p, i))
                        a->progress_total += vma_pages(&s->vmas[i]);
        for (size_t i = 0; i < s->n; i++) {
                if (!pass_walks(a, p, i)) {
                        if (p->need_totals)
                                sa_acc_add(&p->total, &a->r->vmas[p->idx[i]].walk);
                        continue;
                }
                scan_ahead(a, p, i, &ahead_end);
                /* set first: a walk that fails half way holds what it counted, for the caller to free */
                walked[i] = true;
                r = walk_one(a, &s->vmas[i], &p->walks[i]);
                if (r < 0)
                        goto out;
                sa_acc_add(&p->total, &p->walks[i]);
                a->progress_done += vma_pages(&s->vmas[i]);
                r = progress(a, a->progress_done);
                if (r < 0)
                        goto out;
        }
        /* PAGEMAP_SCAN support is learned by trying it */
        a->r->walk_mode = sa_walker_mode(a->walker);
        r = 0;
out:
        /* the second walks the pre-judgement asks for scan afresh */
        sa_walker_scan_ahead(a->walker, 0, 0);
        return r;
}

int sa_audit_do_request(struct audit *a, struct sa_pass *p, const struct sa_request *req, struct sa_acc **again,
                        struct sa_smaps *third) {
        const struct sa_smaps *s = &p->A->smaps;
        bool any = false;
        int r;

        for (size_t i = 0; i < s->n; i++)
                any |= req->rewalk[i];
        if (!any)
                goto third;
        *again = calloc(s->n, sizeof(struct sa_acc));
        if (!*again)
                return -ENOMEM;
        p->again = *again;
        p->walked_again = req->rewalk;
        p->have_total_again = req->totals;
        for (size_t i = 0; i < s->n; i++) {
                if (!req->rewalk[i])
                        continue;
                r = walk_one(a, &s->vmas[i], &p->again[i]);
                if (r < 0)
                        return r;
                if (req->totals)
                        sa_acc_add(&p->total_again, &p->again[i]);
        }
third:
        if (req->third_smaps && sa_views_read_smaps(&a->src, third) >= 0)
                p->third = third;
        return 0;
}
