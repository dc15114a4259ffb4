/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The kernel's rules, applied to one page at a time (fs/proc/task_mmu.c
 * smaps_account, smaps_pte_entry, smaps_pmd_entry, smaps_hugetlb_range;
 * task_mem for status). Every field becomes a range [lo, hi]: exact where
 * the walk sees what the kernel sees, wider where it cannot (the PTE dirty
 * and accessed bits, swap counts, shmem swap, pages it could not join).
 * All the arithmetic of the fields is here, on the raw facts the walk
 * joined (pagemap bits, kpageflags, kpagecount); nothing here reads.
 */
#include "account.h"
#include "macro.h"
#include "missing.h"

/*
 * Swap types at and above this are the kernel's special entries
 * (migration, device, hwpoison, PTE markers): MAX_SWAPFILES is
 * 32 minus their number, 23 with every option on.
 */
#define SWAP_TYPE_SPECIAL_MIN 23u

void sa_account_rules_for(const struct sa_kernel *k, const struct sa_system_state *s, unsigned walk_mode,
                          struct sa_account_rules *ret) {
        *ret = (struct sa_account_rules) {
                .mapcount = k->mapcount,
                .pfns = (walk_mode & SA_WALK_PFN) && (walk_mode & SA_WALK_KPAGE),
                .real_swap = s->real_swap,
                .ksm_possible = s->ksm_possible,
                .max_swap_type = SWAP_TYPE_SPECIAL_MIN,
        };
}

void sa_vma_classify(const struct sa_smaps_vma *v, struct sa_vma_class *c) {
        const char *n = v->name ? v->name : "";

        *c = (struct sa_vma_class) {
                .special = v->vmflags & (SA_VMF(SA_VM_PF) | SA_VMF(SA_VM_IO)),
                .hugetlb = v->vmflags & SA_VMF(SA_VM_HT),
                .locked = v->vmflags & SA_VMF(SA_VM_LO),
                .mergeable = v->vmflags & SA_VMF(SA_VM_MG),
                .hugetlb_page_size = v->kernel_page_kb * 1024,
                .size = v->end - v->start,
        };
        /* shmem objects: memfd, POSIX and SysV shm, shared anonymous memory */
        c->shmem = startswith(n, "/memfd:") || startswith(n, "/dev/shm/") || startswith(n, "/SYSV") ||
                   streq(n, "/dev/zero (deleted)") || startswith(n, "[anon_shmem");
        c->file = c->shmem || v->inode != 0;
        /* the kernel's special mappings ([vdso], [vvar], [uprobes]) have no inode either, but map its own pages */
        c->anon_only = !c->file && !c->special && v->perms[3] == 'p' &&
                       (!*n || streq(n, "[heap]") || startswith(n, "[stack") || startswith(n, "[anon:"));
}

int sa_acc_add_node(struct sa_acc *acc, int node, uint64_t pages) {
        struct sa_node_count *nn;

        for (size_t i = 0; i < acc->n_nodes; i++)
                if (acc->nodes[i].node == node) {
                        acc->nodes[i].pages += pages;
                        return 0;
                }
        nn = realloc(acc->nodes, (acc->n_nodes + 1) * sizeof(*nn));
        if (!nn)
                return -ENOMEM;
        acc->nodes = nn;
        acc->nodes[acc->n_nodes++] = (struct sa_node_count) { node, pages };
        return 0;
}

static void add(struct sa_acc *a, enum sa_field f, uint64_t lo, uint64_t hi) {
        sa_range_add(&a->f[f], lo, hi);
}

static void add_exact(struct sa_acc *a, enum sa_field f, uint64_t v) {
        sa_range_add(&a->f[f], v, v);
}

static void account_hugetlb(const struct sa_page *p, struct sa_acc *acc) {
        /* pagemap sets bit 56 for a hugetlb entry exactly when smaps calls it private */
        if (!(p->pme & PM_PRESENT))
                return;
        add_exact(acc, (p->pme & PM_MMAP_EXCLUSIVE) ? SA_PRIVATE_HUGETLB : SA_SHARED_HUGETLB, SA_PAGE_SIZE);
        add_exact(acc, SA_ST_HUGETLB, SA_PAGE_SIZE);
        acc->present_pages++;
        if (p->node >= 0)
                (void) sa_acc_add_node(acc, p->node, 1);
        else
                acc->numa_unknown_pages++;
}

/* Migration and device entries: smaps counts them (full PSS, shared) but they are transient. */
static void account_maybe_present(struct sa_acc *acc) {
        static const enum sa_field loose[] = {
                SA_RSS, SA_PSS, SA_PSS_DIRTY, SA_PSS_ANON, SA_PSS_FILE, SA_PSS_SHMEM, SA_SHARED_CLEAN,
                SA_SHARED_DIRTY, SA_PRIVATE_CLEAN, SA_PRIVATE_DIRTY, SA_REFERENCED, SA_ANONYMOUS,
                SA_KSM, SA_LAZYFREE, SA_LOCKED, SA_SHARED, SA_PRIVATE, SA_ST_RSS, SA_ST_RSS_ANON,
                SA_ST_RSS_FILE, SA_ST_RSS_SHMEM,
        };
        for (size_t i = 0; i < ELEMENTSOF(loose); i++)
                add(acc, loose[i], 0, sa_fields[loose[i]].unit == SA_UNIT_PSS ? SA_PAGE_SIZE << SA_PSS_SHIFT
                                                                             : SA_PAGE_SIZE);
        acc->migration_pages++;
}

static void account_swap_entry(const struct sa_account_rules *r, const struct sa_page *p, struct sa_acc *acc) {
        const uint64_t full = SA_PAGE_SIZE << SA_PSS_SHIFT;
        unsigned type = PM_SWAP_TYPE(p->pme);

        /* Guard regions and uffd-wp markers set PM_SWAP too; smaps ignores them. */
        if (p->pme & PM_GUARD_REGION) {
                acc->guard_pages++;
                return;
        }
        if (r->pfns && type >= r->max_swap_type) {
                account_maybe_present(acc);
                return;
        }
        if (!r->real_swap) {
                /* no swap area: a marker or a migration entry */
                if (!(p->pme & PM_UFFD_WP))
                        account_maybe_present(acc);
                return;
        }
        add_exact(acc, SA_SWAP, SA_PAGE_SIZE);
        add(acc, SA_SWAP_PSS, 0, full);
        add_exact(acc, SA_ST_SWAP, SA_PAGE_SIZE);
        acc->swap_pages++;
}

/*
 * A present page the walk could not join (no PFN without CAP_SYS_ADMIN,
 * kpageflags unreadable): pagemap still says anon or not (bit 61) and
 * exclusively mapped or not (bit 56); the rest becomes a range.
 */
static void account_unjoined(const struct sa_account_rules *r, const struct sa_vma_class *c,
                             const struct sa_page *p, struct sa_acc *acc) {
        const uint64_t sz = SA_PAGE_SIZE, full = SA_PAGE_SIZE << SA_PSS_SHIFT;
        bool zero_known = p->scanned;
        uint64_t lo = zero_known ? sz : 0;
        bool anon = !(p->pme & PM_FILE);
        bool excl = p->pme & PM_MMAP_EXCLUSIVE;
        uint64_t pss_lo = excl && zero_known ? full : 0;
        uint64_t pss_hi = excl || r->mapcount == SA_MAPCOUNT_AVERAGE ? full : full / 2;

        if (p->pfn_zero) {
                acc->zero_pages++;
                return;
        }
        add(acc, SA_RSS, lo, sz);
        add(acc, SA_ST_RSS, lo, sz);
        if (!anon || !excl)
                acc->shareable_pages++;
        add(acc, SA_PSS, pss_lo, pss_hi);
        add(acc, SA_PSS_DIRTY, 0, pss_hi);
        add(acc, anon ? SA_PSS_ANON : SA_PSS_FILE, 0, pss_hi);
        if (!anon)
                add(acc, SA_PSS_SHMEM, 0, pss_hi);
        add(acc, excl ? SA_PRIVATE : SA_SHARED, lo, sz);
        add(acc, excl ? SA_PRIVATE_CLEAN : SA_SHARED_CLEAN, 0, sz);
        add(acc, excl ? SA_PRIVATE_DIRTY : SA_SHARED_DIRTY, 0, sz);
        add(acc, SA_REFERENCED, 0, sz);
        if (anon) {
                add(acc, SA_ANONYMOUS, lo, sz);
                add(acc, SA_ST_RSS_ANON, lo, sz);
                add(acc, SA_LAZYFREE, 0, sz);
                if (c->mergeable)
                        add(acc, SA_KSM, 0, sz);
        } else {
                add(acc, SA_ST_RSS_FILE, 0, sz);
                add(acc, SA_ST_RSS_SHMEM, 0, sz);
        }
        if (p->pmd_mapped)
                add(acc, anon ? SA_ANON_HUGE : SA_FILE_PMD, lo, sz);
        if (p->pmd_mapped && !anon)
                add(acc, SA_SHMEM_PMD, 0, sz);
        if (c->locked)
                add(acc, SA_LOCKED, pss_lo, pss_hi);
        acc->present_pages++;
        acc->numa_unknown_pages++;
}

/*
 * An exclusively mapped anonymous page the walk chose not to join, or a run
 * of them (see walk.c): mapcount 1, so Pss is the whole page and it is private; the
 * dirty, referenced and lazy-free hints of kpageflags are not read.
 */
static void account_exclusive_anon(const struct sa_vma_class *c, const struct sa_page *p, struct sa_acc *acc) {
        const uint64_t n = p->count ? p->count : 1, sz = n * SA_PAGE_SIZE, pss = sz << SA_PSS_SHIFT;

        acc->present_pages += n;
        add_exact(acc, SA_RSS, sz);
        add_exact(acc, SA_ST_RSS, sz);
        add_exact(acc, SA_PSS, pss);
        add_exact(acc, SA_ANONYMOUS, sz);
        add_exact(acc, SA_PSS_ANON, pss);
        add_exact(acc, SA_ST_RSS_ANON, sz);
        add(acc, SA_LAZYFREE, 0, sz);
        add(acc, SA_PSS_DIRTY, 0, pss);
        add_exact(acc, SA_PRIVATE, sz);
        add(acc, SA_PRIVATE_DIRTY, 0, sz);
        add(acc, SA_PRIVATE_CLEAN, 0, sz);
        add(acc, SA_REFERENCED, 0, sz);
        if (c->locked)
                add_exact(acc, SA_LOCKED, pss);
        if (p->node >= 0)
                (void) sa_acc_add_node(acc, p->node, n);
        else
                acc->numa_unknown_pages += n;
}

/*
 * The fast tier's region (walk.c queue_region): PAGEMAP_SCAN's categories
 * make Rss, Anonymous, AnonHugePages and swap exact; anything that needs
 * the mapcount or the folio becomes a range.
 */
static void account_region(const struct sa_account_rules *r, const struct sa_vma_class *c, const struct sa_page *p,
                           struct sa_acc *acc) {
        const uint64_t n = p->count, sz = n * SA_PAGE_SIZE, full = sz << SA_PSS_SHIFT;
        bool anon = !(p->pme & PM_FILE);
        static const enum sa_field ranged[] = {
                SA_SHARED, SA_PRIVATE, SA_SHARED_CLEAN, SA_SHARED_DIRTY, SA_PRIVATE_CLEAN, SA_PRIVATE_DIRTY,
                SA_REFERENCED,
        };

        if (c->hugetlb) {
                if (!(p->pme & PM_PRESENT))
                        return;
                add(acc, SA_SHARED_HUGETLB, 0, sz);
                add(acc, SA_PRIVATE_HUGETLB, 0, sz);
                add_exact(acc, SA_ST_HUGETLB, sz);
                acc->present_pages += n;
                acc->numa_unknown_pages += n;
                return;
        }
        if (!(p->pme & PM_PRESENT)) {
                if (p->pme & PM_GUARD_REGION)
                        acc->guard_pages += n;
                else if (r->real_swap) {
                        add_exact(acc, SA_SWAP, sz);
                        add(acc, SA_SWAP_PSS, 0, full);
                        add_exact(acc, SA_ST_SWAP, sz);
                        acc->swap_pages += n;
                } else
                        for (uint64_t i = 0; i < n; i++)
                                account_maybe_present(acc);
                return;
        }
        acc->present_pages += n;
        if (p->pfn_zero) {
                acc->zero_pages += n;
                return;
        }
        add_exact(acc, SA_RSS, sz);
        add_exact(acc, SA_ST_RSS, sz);
        add(acc, SA_PSS, 0, full);
        add(acc, SA_PSS_DIRTY, 0, full);
        for (size_t i = 0; i < ELEMENTSOF(ranged); i++)
                add(acc, ranged[i], 0, sz);
        if (anon) {
                add_exact(acc, SA_ANONYMOUS, sz);
                add(acc, SA_PSS_ANON, 0, full);
                add_exact(acc, SA_ST_RSS_ANON, sz);
                add(acc, SA_LAZYFREE, 0, sz);
        } else {
                add(acc, SA_PSS_FILE, 0, full);
                add(acc, SA_PSS_SHMEM, 0, full);
                add(acc, SA_ST_RSS_FILE, 0, sz);
                add(acc, SA_ST_RSS_SHMEM, 0, sz);
        }
        if (p->pmd_mapped && anon) {
                add_exact(acc, SA_ANON_HUGE, sz);
                acc->pmd_thps += n / SA_PMD_PAGES;
        } else if (p->pmd_mapped) {
                add(acc, SA_SHMEM_PMD, 0, sz);
                add(acc, SA_FILE_PMD, 0, sz);
                acc->pmd_thps += n / SA_PMD_PAGES;
        }
        if (c->locked)
                add(acc, SA_LOCKED, 0, full);
        /* not counted as shareable: ranges from 0 to the whole page hold whatever the mapcount */
        acc->numa_unknown_pages += n;
}

/*
 * The PSS of one 4 KiB page, in bytes << SA_PSS_SHIFT, as smaps_account()
 * (fs/proc/task_mmu.c, 6.1-6.18) gives it to smaps_page_accumulate(): the whole page
 * when it is mapped once, else (PAGE_SIZE << PSS_SHIFT) / mapcount,
 * truncated page by page, so that a folio's PSS is the sum of its pages'
 * and never the division of their sum. The mapcount is the page's own
 * (folio_precise_page_mapcount(), CONFIG_PAGE_MAPCOUNT) or the folio's
 * average (folio_average_page_mapcount(), CONFIG_NO_PAGE_MAPCOUNT, 6.15+),
 * each what kpagecount shows under that config (fs/proc/page.c). A page
 * kpagecount gives 0 for was mapped all the same: once.
 */
static uint64_t page_pss(uint64_t mapcount) {
        const uint64_t full = SA_PAGE_SIZE << SA_PSS_SHIFT;

        return mapcount >= 2 ? full / mapcount : full;
}

void sa_account_page(const struct sa_account_rules *r, const struct sa_vma_class *c,
                     const struct sa_page *p, struct sa_acc *acc) {
        /* a pmd_folio stands for its pages, which share the head's flags and kpagecount */
        const uint64_t n = p->count ? p->count : 1, sz = n * SA_PAGE_SIZE;
        uint64_t kpf = p->kpf, pss, multi, shared_sz, private_sz;
        bool anon, swapbacked, dirty;

        if (c->special)
                return;
        if (p->region) {
                account_region(r, c, p, acc);
                return;
        }
        if (c->hugetlb) {
                account_hugetlb(p, acc);
                return;
        }
        if (!(p->pme & PM_PRESENT)) {
                if (p->pme & PM_SWAP)
                        account_swap_entry(r, p, acc);
                return;
        }
        if (p->exclusive_anon) {
                account_exclusive_anon(c, p, acc);
                return;
        }
        /*
         * A mapped frame is always KPF_MMAP (stable_page_flags() in
         * fs/proc/page.c: folio_mapped() in 6.18, page_mapped() in 5.4 before the folio
         * rewrite). One that is not (no flags at all, a free buddy page, a
         * slab) was unmapped after pagemap gave its PFN:
         * migrated by compaction or NUMA balancing, or freed. What kpageflags
         * says is about another page now; the mapping was there, so count it
         * as a walk without PFNs does: present, the rest bounded.
         */
        if (p->joined && !p->pfn_zero && !(kpf & (KPF(KPF_MMAP) | KPF(KPF_ZERO_PAGE) | KPF(KPF_NOPAGE)))) {
                acc->migration_pages += n;
                for (uint64_t i = 0; i < n; i++)
                        account_unjoined(r, c, p, acc);
                return;
        }
        if (!p->joined) {
                for (uint64_t i = 0; i < n; i++)
                        account_unjoined(r, c, p, acc);
                return;
        }
        acc->present_pages += n;
        /* vm_normal_page() refuses the zero pages and frames without a struct page */
        if (p->pfn_zero || (kpf & KPF(KPF_ZERO_PAGE))) {
                acc->zero_pages += n;
                return;
        }
        if (kpf & KPF(KPF_NOPAGE))
                return;

        /* a pmd_folio's pages one by one, each with its own kpagecount where they differ */
        pss = multi = 0;
        for (uint64_t i = 0; i < n; i++) {
                uint64_t mapcount = p->folio_kpc ? p->folio_kpc[i] : p->kpc;

                pss += page_pss(mapcount);
                multi += mapcount >= 2;
        }
        if (r->mapcount == SA_MAPCOUNT_AVERAGE)   /* !folio_maybe_mapped_shared() */
                shared_sz = (p->pme & PM_MMAP_EXCLUSIVE) ? 0 : sz;
        else
                shared_sz = multi * SA_PAGE_SIZE;
        private_sz = sz - shared_sz;
        anon = kpf & KPF(KPF_ANON);
        swapbacked = kpf & KPF(KPF_SWAPBACKED);
        dirty = kpf & KPF(KPF_DIRTY);

        add_exact(acc, SA_RSS, sz);
        add_exact(acc, SA_PSS, pss);
        add_exact(acc, SA_ST_RSS, sz);
        acc->shareable_pages += anon ? multi : n;
        if (anon) {
                add_exact(acc, SA_ANONYMOUS, sz);
                add_exact(acc, SA_PSS_ANON, pss);
                add_exact(acc, SA_ST_RSS_ANON, sz);
                if (!swapbacked && !dirty)
                        add(acc, SA_LAZYFREE, 0, sz);
        } else if (swapbacked) {
                add_exact(acc, SA_PSS_SHMEM, pss);
                add_exact(acc, SA_ST_RSS_SHMEM, sz);
        } else {
                add_exact(acc, SA_PSS_FILE, pss);
                add_exact(acc, SA_ST_RSS_FILE, sz);
        }
        /*
         * KSM only merges small pages of mergeable VMAs, and only while it has
         * a stable tree: a KPF_KSM elsewhere is kpageflags misreporting (Debian's
         * 6.12.117 flags every anonymous page, dee3d0bef2b0), not a KSM page.
         */
        if ((kpf & KPF(KPF_KSM)) && c->mergeable && r->ksm_possible &&
            !(kpf & (KPF(KPF_THP) | KPF(KPF_COMPOUND_HEAD) | KPF(KPF_COMPOUND_TAIL)))) {
                add_exact(acc, SA_KSM, sz);
                acc->ksm_pages += n;
        } else if (kpf & KPF(KPF_KSM))
                acc->ksm_flag_ignored += n;
        /* dirty: PTE/PMD dirty bit (not exported) or PG_dirty (KPF_DIRTY) */
        add(acc, SA_PSS_DIRTY, dirty ? pss : 0, pss);
        add_exact(acc, SA_PRIVATE, private_sz);
        add_exact(acc, SA_SHARED, shared_sz);
        add(acc, SA_PRIVATE_DIRTY, dirty ? private_sz : 0, private_sz);
        add(acc, SA_SHARED_DIRTY, dirty ? shared_sz : 0, shared_sz);
        add(acc, SA_PRIVATE_CLEAN, 0, dirty ? 0 : private_sz);
        add(acc, SA_SHARED_CLEAN, 0, dirty ? 0 : shared_sz);
        add(acc, SA_REFERENCED, (kpf & KPF(KPF_REFERENCED)) ? sz : 0, sz);
        if (c->locked)
                add_exact(acc, SA_LOCKED, pss);

        if (p->pmd_mapped) {
                add_exact(acc, anon ? SA_ANON_HUGE : swapbacked ? SA_SHMEM_PMD : SA_FILE_PMD, sz);
                if (p->addr % (SA_PMD_PAGES * SA_PAGE_SIZE) == 0)
                        acc->pmd_thps++;
        }
        /* numa_maps skips reserved frames (can_gather_numa_stats) */
        if (kpf & KPF(KPF_RESERVED))
                return;
        if (p->node >= 0)
                (void) sa_acc_add_node(acc, p->node, n);
        else
                acc->numa_unknown_pages += n;
}

void sa_account_finish(const struct sa_account_rules *r, const struct sa_vma_class *c, struct sa_acc *acc) {
        /*
         * Swapped-out shmem has no PTE, so pagemap cannot show it, but
         * smaps adds it to Swap (shmem_swap_usage): allow up to the part of
         * the mapping that is neither present nor a swap entry.
         */
        if (c->shmem && r->real_swap) {
                uint64_t seen = (acc->present_pages + acc->swap_pages) * SA_PAGE_SIZE;
                uint64_t hole = c->size > seen ? c->size - seen : 0;
                add(acc, SA_SWAP, 0, hole);
                add(acc, SA_SWAP_PSS, 0, hole << SA_PSS_SHIFT);
        }
}

void sa_acc_add(struct sa_acc *dst, const struct sa_acc *src) {
        for (size_t f = 0; f < _SA_FIELD_MAX; f++)
                sa_range_add(&dst->f[f], src->f[f].lo, src->f[f].hi);
        for (size_t i = 0; i < src->n_nodes; i++)
                (void) sa_acc_add_node(dst, src->nodes[i].node, src->nodes[i].pages);
        dst->numa_unknown_pages += src->numa_unknown_pages;
        dst->pmd_thps += src->pmd_thps;
        dst->ksm_pages += src->ksm_pages;
        dst->zero_pages += src->zero_pages;
        dst->guard_pages += src->guard_pages;
        dst->migration_pages += src->migration_pages;
        dst->present_pages += src->present_pages;
        dst->swap_pages += src->swap_pages;
        dst->shareable_pages += src->shareable_pages;
        dst->ksm_flag_ignored += src->ksm_flag_ignored;
}

void sa_acc_done(struct sa_acc *acc) {
        free(acc->nodes);
        memset(acc, 0, sizeof(*acc));
}
