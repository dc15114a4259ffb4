/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The kernel's accounting rules applied to the walk's pages (account.c):
 * what each page adds to each smaps and status field, as a range where the
 * walk cannot know the kernel's exact number. And the tags a VMA earns (tags.c).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fields.h"
#include "kernel.h"
#include "sources.h"
#include "walk.h"

struct sa_acc {
        struct sa_range f[_SA_FIELD_MAX];
        struct sa_node_count *nodes;  /* pages per node, as numa_maps counts them */
        size_t n_nodes;
        uint64_t numa_unknown_pages;
        uint64_t pmd_thps, ksm_pages, zero_pages, guard_pages, migration_pages;
        uint64_t present_pages, swap_pages;
        uint64_t shareable_pages;     /* pages another process may map too: file, shmem, or mapcount ≥ 2 */
        uint64_t ksm_flag_ignored;    /* KPF_KSM where no KSM page can be: kpageflags misreporting */
};

/* What the rules need to know of the VMA a page belongs to. */
struct sa_vma_class {
        bool special;     /* VM_PFNMAP / VM_IO: nothing is counted */
        bool hugetlb;
        bool locked;      /* VM_LOCKED */
        bool mergeable;
        bool shmem;       /* shmem-backed mapping: swap may hide from pagemap */
        bool file;        /* file or shmem pages: one fault may map a whole large folio */
        bool anon_only;   /* private anonymous: anonymous pages and the zero page, nothing else */
        uint64_t hugetlb_page_size;
        uint64_t size;
};

struct sa_account_rules {
        enum sa_mapcount_mode mapcount;
        bool pfns;        /* PFNs and the join are available */
        bool real_swap;   /* swap areas exist: PM_SWAP entries may be real swap */
        bool ksm_possible; /* KSM has a stable tree: KPF_KSM can be true */
        unsigned max_swap_type;
};

/* The rules for this kernel, this system's state and what the walk can see (sa_walker_mode()). */
void sa_account_rules_for(const struct sa_kernel *k, const struct sa_system_state *s, unsigned walk_mode,
                          struct sa_account_rules *ret);
void sa_account_page(const struct sa_account_rules *r, const struct sa_vma_class *c,
                     const struct sa_page *p, struct sa_acc *acc);
/* Once all pages are in: shmem swap, sums. */
void sa_account_finish(const struct sa_account_rules *r, const struct sa_vma_class *c, struct sa_acc *acc);
void sa_acc_add(struct sa_acc *dst, const struct sa_acc *src);
void sa_acc_done(struct sa_acc *acc);
int sa_acc_add_node(struct sa_acc *acc, int node, uint64_t pages);
void sa_vma_classify(const struct sa_smaps_vma *v, struct sa_vma_class *ret);

/* tags.c: what a VMA is, as the report and the findings name it */
struct sa_numa_state {
        int64_t balancing;       /* numa_balancing sysctl; -1 unknown */
        int64_t scan_seq;        /* mm->numa_scan_seq; -1 unknown */
        int64_t threads;
};
unsigned sa_vma_tags(const struct sa_smaps_vma *v, const struct sa_acc *acc, const struct sa_numa_state *n);
const char *sa_tag_name(unsigned bit);
