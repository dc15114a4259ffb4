/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sa_account_page() on synthetic joined pages: the kernel's smaps rules
 * (smaps_account, smaps_pte_entry, smaps_pmd_entry, smaps_hugetlb_range)
 * one page kind at a time, each field checked as the range [lo, hi] the
 * walk allows. Longer than ~500 lines: one table-like case per page kind,
 * all on the same synthetic-page helpers.
 */
#include "account.h"
#include "macro.h"
#include "missing.h"
#include "tap.h"

#define SZ SA_PAGE_SIZE
#define FULL (SA_PAGE_SIZE << SA_PSS_SHIFT)
#define THP_BASE 0x7f0000200000ULL

static const struct sa_account_rules precise = {
        .mapcount = SA_MAPCOUNT_PRECISE, .pfns = true, .real_swap = true, .ksm_possible = true, .max_swap_type = 23,
};
static const struct sa_vma_class anon_vma = { .size = 4 << 20 };

/* A mapped frame: kpageflags says KPF_MMAP of every page in a page table (unless it has no struct page). */
static struct sa_page page(uint64_t addr, uint64_t pfn, uint64_t kpf, uint64_t kpc, bool excl) {
        return (struct sa_page) {
                .addr = addr,
                .pme = PM_PRESENT | (excl ? PM_MMAP_EXCLUSIVE : 0) | (kpf & KPF(KPF_ANON) ? 0 : PM_FILE) | pfn,
                .kpf = kpf | (kpf & KPF(KPF_NOPAGE) ? 0 : KPF(KPF_MMAP)),
                .kpc = kpc,
                .node = 0,
                .scanned = true,
                .joined = true,
        };
}

/* Fields that must stay [0, 0] after the pages a test fed. */
static void all_zero_but(const struct sa_acc *a, uint64_t except, const char *what) {
        bool zero = true;

        for (unsigned f = 0; f < _SA_FIELD_MAX; f++)
                if (!(except & (1ULL << f)) && (a->f[f].lo || a->f[f].hi)) {
                        zero = false;
                        printf("# %s: %s is [%" PRIu64 ", %" PRIu64 "]\n", what, sa_fields[f].name, a->f[f].lo,
                               a->f[f].hi);
                }
        ok(zero, "%s: every other field stays 0", what);
}

#define B(f) (1ULL << (f))

static void test_thp(void) {
        struct sa_acc a = {};
        const uint64_t kpf = KPF(KPF_ANON) | KPF(KPF_THP) | KPF(KPF_SWAPBACKED) | KPF(KPF_DIRTY) | KPF(KPF_LRU) |
                             KPF(KPF_MMAP);
        const uint64_t n = SA_PMD_PAGES;

        for (uint64_t i = 0; i < n; i++) {
                struct sa_page p = page(THP_BASE + i * SZ, 0x100000 + i,
                                        kpf | (i ? KPF(KPF_COMPOUND_TAIL) : KPF(KPF_COMPOUND_HEAD)), 1, true);
                p.pmd_mapped = true;
                sa_account_page(&precise, &anon_vma, &p, &a);
        }
        is_range(a.f[SA_RSS], n * SZ, n * SZ, "PMD THP: Rss 2 MiB exact");
        is_range(a.f[SA_ANONYMOUS], n * SZ, n * SZ, "PMD THP: Anonymous 2 MiB");
        is_range(a.f[SA_ANON_HUGE], n * SZ, n * SZ, "PMD THP: AnonHugePages 2 MiB");
        is_range(a.f[SA_PSS], n * FULL, n * FULL, "PMD THP: Pss 2 MiB << 12");
        is_range(a.f[SA_PSS_ANON], n * FULL, n * FULL, "PMD THP: Pss_Anon");
        is_range(a.f[SA_PSS_DIRTY], n * FULL, n * FULL, "PMD THP with PG_dirty: Pss_Dirty exact");
        is_range(a.f[SA_PRIVATE], n * SZ, n * SZ, "PMD THP: Private");
        is_range(a.f[SA_PRIVATE_DIRTY], n * SZ, n * SZ, "PMD THP: Private_Dirty (PG_dirty)");
        is_range(a.f[SA_PRIVATE_CLEAN], 0, 0, "PMD THP: Private_Clean 0");
        is_range(a.f[SA_REFERENCED], 0, n * SZ, "PMD THP: Referenced unknown without PG_referenced");
        is_range(a.f[SA_LAZYFREE], 0, 0, "swap-backed: no LazyFree");
        is_range(a.f[SA_ST_RSS], n * SZ, n * SZ, "status VmRSS");
        is_range(a.f[SA_ST_RSS_ANON], n * SZ, n * SZ, "status RssAnon");
        all_zero_but(&a, B(SA_RSS) | B(SA_ANONYMOUS) | B(SA_ANON_HUGE) | B(SA_PSS) | B(SA_PSS_ANON) | B(SA_PSS_DIRTY) |
                             B(SA_PRIVATE) | B(SA_PRIVATE_DIRTY) | B(SA_REFERENCED) | B(SA_ST_RSS) | B(SA_ST_RSS_ANON),
                     "PMD THP");
        is_u64(a.pmd_thps, 1, "one PMD-mapped THP counted (at its aligned head)");
        is_u64(a.present_pages, n, "512 present pages");
        is_u64(a.n_nodes, 1, "one node");
        is_u64(a.nodes[0].pages, n, "512 pages on node 0");
        is_u64(sa_field_to_kb(SA_PSS, a.f[SA_PSS].lo), 2048, "Pss prints as 2048 kB");
        sa_acc_done(&a);

        /* the same THP, PTE-mapped (split PMD): no AnonHugePages */
        for (uint64_t i = 0; i < n; i++) {
                struct sa_page p = page(THP_BASE + i * SZ, 0x100000 + i, kpf, 1, true);
                sa_account_page(&precise, &anon_vma, &p, &a);
        }
        is_range(a.f[SA_ANON_HUGE], 0, 0, "PTE-mapped THP: AnonHugePages 0");
        is_range(a.f[SA_RSS], n * SZ, n * SZ, "PTE-mapped THP: Rss 2 MiB");
        is_u64(a.pmd_thps, 0, "PTE-mapped THP: no PMD THP");
        sa_acc_done(&a);
}

/*
 * A PMD-mapped THP handed over as one pmd_folio entry: with per-page
 * mapcounts each page's PSS is truncated on its own, so the folio must
 * come out exactly as its 512 pages fed one by one; with the folio
 * average every page has the head's kpagecount.
 */
static void test_pmd_folio(void) {
        const uint64_t kpf = KPF(KPF_ANON) | KPF(KPF_THP) | KPF(KPF_SWAPBACKED) | KPF(KPF_LRU) | KPF(KPF_MMAP);
        const uint64_t n = SA_PMD_PAGES;
        uint64_t counts[SA_PMD_PAGES], pss = 0, shared = 0;
        struct sa_acc one = {}, each = {};
        bool same = true;
        struct sa_page folio = page(THP_BASE, 0x100000, kpf | KPF(KPF_COMPOUND_HEAD), 0, false);

        /* a third of the pages PTE-mapped by two other processes too, one by a third */
        for (uint64_t i = 0; i < n; i++) {
                counts[i] = i % 3 == 0 ? 3 : i == 1 ? 7 : 1;
                pss += counts[i] >= 2 ? FULL / counts[i] : FULL;
                shared += counts[i] >= 2 ? SZ : 0;
        }
        folio.pmd_mapped = folio.pmd_folio = true;
        folio.count = n;
        folio.kpc = counts[0];
        folio.folio_kpc = counts;
        sa_account_page(&precise, &anon_vma, &folio, &one);
        for (uint64_t i = 0; i < n; i++) {
                struct sa_page p = page(THP_BASE + i * SZ, 0x100000 + i,
                                        kpf | (i ? KPF(KPF_COMPOUND_TAIL) : KPF(KPF_COMPOUND_HEAD)), counts[i], false);
                p.pmd_mapped = true;
                sa_account_page(&precise, &anon_vma, &p, &each);
        }
        is_range(one.f[SA_PSS], pss, pss, "pmd_folio: Pss is the sum of each page's truncated share");
        is_range(one.f[SA_SHARED], shared, shared, "pmd_folio: Shared counts the pages mapped twice or more");
        is_range(one.f[SA_PRIVATE], n * SZ - shared, n * SZ - shared, "pmd_folio: Private the rest");
        for (unsigned f = 0; f < _SA_FIELD_MAX; f++)
                if (one.f[f].lo != each.f[f].lo || one.f[f].hi != each.f[f].hi) {
                        same = false;
                        printf("# %s: [%" PRIu64 ", %" PRIu64 "] as one folio, [%" PRIu64 ", %" PRIu64 "] page by page\n",
                               sa_fields[f].name, one.f[f].lo, one.f[f].hi, each.f[f].lo, each.f[f].hi);
                }
        ok(same, "pmd_folio: every field as its 512 pages fed one by one");
        is_u64(one.shareable_pages, each.shareable_pages, "pmd_folio: shareable pages as its pages'");
        is_u64(one.pmd_thps, 1, "pmd_folio: one PMD-mapped THP");
        sa_acc_done(&one);
        sa_acc_done(&each);

        /* CONFIG_NO_PAGE_MAPCOUNT: no counts of its own, the head's average for every page */
        {
                struct sa_account_rules avg = precise;
                struct sa_acc a = {};

                avg.mapcount = SA_MAPCOUNT_AVERAGE;
                folio.kpc = 3;
                folio.folio_kpc = NULL;
                sa_account_page(&avg, &anon_vma, &folio, &a);
                is_range(a.f[SA_PSS], n * (FULL / 3), n * (FULL / 3), "averaged pmd_folio: Pss n * (FULL / 3)");
                is_range(a.f[SA_SHARED], n * SZ, n * SZ, "averaged pmd_folio, maybe shared: Shared 2 MiB");
                sa_acc_done(&a);
        }
}

static void test_ksm(void) {
        struct sa_acc a = {};
        struct sa_vma_class c = anon_vma;
        struct sa_page p = page(0x7f0000000000, 0x2000, KPF(KPF_ANON) | KPF(KPF_KSM) | KPF(KPF_LRU) | KPF(KPF_MMAP),
                                3, false);

        c.mergeable = true;
        sa_account_page(&precise, &c, &p, &a);
        is_range(a.f[SA_KSM], SZ, SZ, "KSM page: KSM 4 kB");
        is_range(a.f[SA_ANONYMOUS], SZ, SZ, "KSM page: Anonymous");
        is_range(a.f[SA_RSS], SZ, SZ, "KSM page: Rss");
        is_range(a.f[SA_PSS], FULL / 3, FULL / 3, "KSM page mapped 3 times: Pss (4096 << 12) / 3");
        is_range(a.f[SA_SHARED], SZ, SZ, "KSM page mapped 3 times: Shared");
        is_range(a.f[SA_PRIVATE], 0, 0, "KSM page mapped 3 times: not Private");
        is_range(a.f[SA_SHARED_CLEAN], 0, SZ, "clean or PTE-dirty: Shared_Clean [0, 4 kB]");
        is_range(a.f[SA_SHARED_DIRTY], 0, SZ, "clean or PTE-dirty: Shared_Dirty [0, 4 kB]");
        is_range(a.f[SA_LAZYFREE], 0, SZ, "no PG_swapbacked, no PG_dirty: LazyFree [0, 4 kB]");
        is_u64(a.ksm_pages, 1, "one KSM page");
        sa_acc_done(&a);

        /* KPF_KSM outside a mergeable VMA, on a THP, or with no stable tree is kpageflags misreporting */
        {
                struct sa_acc bad = {};
                struct sa_page q = p;
                struct sa_vma_class plain = anon_vma;
                struct sa_account_rules none = precise;

                sa_account_page(&precise, &plain, &q, &bad);
                is_u64(bad.ksm_pages, 0, "KPF_KSM in a non-mergeable VMA: not KSM");
                q.kpf |= KPF(KPF_THP) | KPF(KPF_COMPOUND_TAIL);
                sa_account_page(&precise, &c, &q, &bad);
                is_u64(bad.ksm_pages, 0, "KPF_KSM on a THP page: not KSM");
                q = p;
                none.ksm_possible = false;
                sa_account_page(&none, &c, &q, &bad);
                is_u64(bad.ksm_pages, 0, "KPF_KSM with no stable tree: not KSM");
                is_u64(bad.ksm_flag_ignored, 3, "each counted as ignored");
                is_range(bad.f[SA_ANONYMOUS], 3 * SZ, 3 * SZ, "still anonymous");
                sa_acc_done(&bad);
        }
}

static void test_zero(void) {
        struct sa_acc a = {};
        struct sa_page p = page(0x7f0000000000, 0x3000, KPF(KPF_ZERO_PAGE) | KPF(KPF_RESERVED), 1000, false);
        struct sa_page q = page(0x7f0000001000, 0x3000, 0, 0, false);

        sa_account_page(&precise, &anon_vma, &p, &a);
        q.pfn_zero = true;                       /* PAGEMAP_SCAN's PAGE_IS_PFNZERO */
        sa_account_page(&precise, &anon_vma, &q, &a);
        all_zero_but(&a, 0, "zero page (KPF_ZERO_PAGE) and PFNZERO");
        is_u64(a.zero_pages, 2, "two zero pages counted aside");
        is_u64(a.n_nodes, 0, "zero pages are in no numa_maps node");
        sa_acc_done(&a);
}

static void test_shared(void) {
        struct sa_acc a = {};
        struct sa_page p = page(0x7f0000000000, 0x4000, KPF(KPF_LRU) | KPF(KPF_MMAP) | KPF(KPF_REFERENCED), 3, false);
        struct sa_page s = page(0x7f0000001000, 0x4001, KPF(KPF_SWAPBACKED) | KPF(KPF_DIRTY) | KPF(KPF_LRU), 2, false);
        const uint64_t third = (SZ << SA_PSS_SHIFT) / 3;

        is_u64(third, 5592405, "(4096 << 12) / 3 truncates to 5592405");
        sa_account_page(&precise, &anon_vma, &p, &a);
        is_range(a.f[SA_PSS], third, third, "file page, kpagecount 3: Pss (4096 << 12) / 3 truncated");
        is_range(a.f[SA_PSS_FILE], third, third, "Pss_File");
        is_range(a.f[SA_SHARED], SZ, SZ, "Shared");
        is_range(a.f[SA_REFERENCED], SZ, SZ, "PG_referenced: Referenced exact");
        is_range(a.f[SA_ST_RSS_FILE], SZ, SZ, "status RssFile");
        is_range(a.f[SA_ANONYMOUS], 0, 0, "not Anonymous");
        is_u64(sa_field_to_kb(SA_PSS, a.f[SA_PSS].lo), 1, "one third of a page prints as 1 kB");

        sa_account_page(&precise, &anon_vma, &s, &a);
        is_range(a.f[SA_PSS_SHMEM], FULL / 2, FULL / 2, "shmem page, kpagecount 2: Pss_Shmem half");
        is_range(a.f[SA_ST_RSS_SHMEM], SZ, SZ, "status RssShmem");
        is_range(a.f[SA_SHARED_DIRTY], SZ, 2 * SZ, "PG_dirty shmem page: Shared_Dirty at least 4 kB");
        is_range(a.f[SA_PSS], third + FULL / 2, third + FULL / 2, "Pss sums the per-page shares");
        is_range(a.f[SA_PSS_DIRTY], FULL / 2, third + FULL / 2, "Pss_Dirty: the dirty page, maybe the PTE-dirty one");
        sa_acc_done(&a);

        /* CONFIG_NO_PAGE_MAPCOUNT: shared or private comes from pagemap bit 56 */
        {
                struct sa_account_rules avg = precise;
                struct sa_page e = page(0x7f0000000000, 0x4000, KPF(KPF_ANON) | KPF(KPF_SWAPBACKED), 2, true);

                avg.mapcount = SA_MAPCOUNT_AVERAGE;
                sa_account_page(&avg, &anon_vma, &e, &a);
                is_range(a.f[SA_PRIVATE], SZ, SZ, "average mapcount, bit 56 set: Private");
                is_range(a.f[SA_PSS], FULL / 2, FULL / 2, "average mapcount 2: Pss half");
                sa_acc_done(&a);
        }
}

static uint64_t swap_pme(unsigned type, uint64_t offset) {
        return PM_SWAP | (offset << 5) | type;
}

static void test_swap(void) {
        struct sa_acc a = {};
        struct sa_page p = { .addr = 0x7f0000000000, .node = -1 };

        for (unsigned type = 0; type < 23; type += 11) {
                p.pme = swap_pme(type, 1234);
                sa_account_page(&precise, &anon_vma, &p, &a);
        }
        is_range(a.f[SA_SWAP], 3 * SZ, 3 * SZ, "swap types 0, 11, 22: Swap 12 kB");
        is_range(a.f[SA_ST_SWAP], 3 * SZ, 3 * SZ, "status VmSwap 12 kB");
        is_range(a.f[SA_SWAP_PSS], 0, 3 * FULL, "SwapPss bounded by Swap");
        all_zero_but(&a, B(SA_SWAP) | B(SA_ST_SWAP) | B(SA_SWAP_PSS), "swap entries");
        is_u64(a.swap_pages, 3, "three swap pages");
        is_u64(a.present_pages, 0, "none present");
        sa_acc_done(&a);

        /* guard regions (MADV_GUARD_INSTALL) report GUARD|SWAPPED: never swap */
        p.pme = PM_SWAP | PM_GUARD_REGION;
        sa_account_page(&precise, &anon_vma, &p, &a);
        p.pme = PM_SWAP | PM_GUARD_REGION | 3;
        sa_account_page(&precise, &anon_vma, &p, &a);
        all_zero_but(&a, 0, "guard entries");
        is_u64(a.guard_pages, 2, "two guard pages");
        is_u64(a.swap_pages, 0, "no swap pages");
        sa_acc_done(&a);

        /* type >= 23: migration/device/hwpoison/marker: maybe present, never swap */
        p.pme = swap_pme(30, 5);
        sa_account_page(&precise, &anon_vma, &p, &a);
        is_range(a.f[SA_SWAP], 0, 0, "migration entry: no Swap");
        is_range(a.f[SA_RSS], 0, SZ, "migration entry: Rss [0, 4 kB]");
        is_range(a.f[SA_PSS], 0, FULL, "migration entry: Pss [0, full]");
        is_u64(a.migration_pages, 1, "one migration entry");
        sa_acc_done(&a);

        /* no swap area: a PM_SWAP entry is a marker or a migration entry */
        {
                struct sa_account_rules noswap = precise;
                noswap.real_swap = false;
                p.pme = swap_pme(0, 5);
                sa_account_page(&noswap, &anon_vma, &p, &a);
                is_range(a.f[SA_SWAP], 0, 0, "no swap area: no Swap");
                is_u64(a.migration_pages, 1, "no swap area: maybe present");
                p.pme = swap_pme(0, 5) | PM_UFFD_WP;
                sa_account_page(&noswap, &anon_vma, &p, &a);
                is_u64(a.migration_pages, 1, "uffd-wp marker: nothing");
                sa_acc_done(&a);
        }

        /* not present, not swap: nothing */
        p.pme = 0;
        sa_account_page(&precise, &anon_vma, &p, &a);
        all_zero_but(&a, 0, "empty entry");
        sa_acc_done(&a);
}

static void test_unjoined(void) {
        struct sa_account_rules nopfn = precise;
        struct sa_acc a = {};
        struct sa_page p = {
                .addr = 0x7f0000000000,
                .pme = PM_PRESENT | PM_MMAP_EXCLUSIVE, /* anon (no PM_FILE), exclusive, PFN hidden */
                .node = -1,
                .scanned = true,
        };

        nopfn.pfns = false;
        sa_account_page(&nopfn, &anon_vma, &p, &a);
        is_range(a.f[SA_RSS], SZ, SZ, "unjoined, scanned, not PFNZERO: Rss exact");
        is_range(a.f[SA_ANONYMOUS], SZ, SZ, "unjoined anon: Anonymous exact");
        is_range(a.f[SA_PSS], FULL, FULL, "unjoined exclusive: Pss full");
        is_range(a.f[SA_PRIVATE], SZ, SZ, "unjoined exclusive: Private");
        is_range(a.f[SA_PRIVATE_DIRTY], 0, SZ, "unjoined: Private_Dirty unknown");
        is_range(a.f[SA_KSM], 0, 0, "not mergeable: no KSM");
        is_u64(a.numa_unknown_pages, 1, "node unknown");
        is_u64(a.n_nodes, 0, "no node");
        sa_acc_done(&a);

        /* not scanned (plain pagemap read): could be the zero page; shared: mapcount >= 2 */
        p.scanned = false;
        p.pme = PM_PRESENT;
        sa_account_page(&nopfn, &anon_vma, &p, &a);
        is_range(a.f[SA_RSS], 0, SZ, "unjoined, not scanned: Rss [0, 4 kB]");
        is_range(a.f[SA_PSS], 0, FULL / 2, "unjoined shared: Pss at most half");
        is_range(a.f[SA_SHARED], 0, SZ, "unjoined shared: Shared");
        is_range(a.f[SA_PRIVATE], 0, 0, "unjoined shared: not Private");
        sa_acc_done(&a);

        /* an unjoined PMD-mapped file page in a mergeable, locked VMA */
        {
                struct sa_vma_class c = anon_vma;
                c.locked = true;
                c.mergeable = true;
                p.scanned = true;
                p.pmd_mapped = true;
                p.pme = PM_PRESENT | PM_FILE | PM_MMAP_EXCLUSIVE;
                sa_account_page(&nopfn, &c, &p, &a);
                is_range(a.f[SA_FILE_PMD], SZ, SZ, "unjoined PMD file page: FilePmdMapped");
                is_range(a.f[SA_SHMEM_PMD], 0, SZ, "could be shmem: ShmemPmdMapped [0, 4 kB]");
                is_range(a.f[SA_LOCKED], FULL, FULL, "locked exclusive: Locked full");
                is_range(a.f[SA_ANONYMOUS], 0, 0, "file: not Anonymous");
                is_range(a.f[SA_KSM], 0, 0, "file page: no KSM");
                sa_acc_done(&a);
        }

        /* PAGEMAP_SCAN said PFNZERO */
        p = (struct sa_page) { .pme = PM_PRESENT, .pfn_zero = true, .scanned = true, .node = -1 };
        sa_account_page(&nopfn, &anon_vma, &p, &a);
        all_zero_but(&a, 0, "unjoined PFNZERO");
        is_u64(a.zero_pages, 1, "counted as a zero page");
        sa_acc_done(&a);
}

static void test_vma_kinds(void) {
        struct sa_acc a = {};
        struct sa_vma_class special = { .special = true }, huge = { .hugetlb = true, .hugetlb_page_size = 2 << 20 };
        struct sa_vma_class locked = anon_vma, shmem = { .shmem = true, .size = 16 * SZ };
        struct sa_page p = page(0x7f0000000000, 0x5000, KPF(KPF_ANON) | KPF(KPF_SWAPBACKED), 2, false);

        sa_account_page(&precise, &special, &p, &a);
        all_zero_but(&a, 0, "VM_PFNMAP/VM_IO VMA");
        is_u64(a.present_pages, 0, "special: no pages");
        sa_acc_done(&a);

        /* hugetlb: one pagemap entry per 4 KiB, bit 56 = private */
        p = page(0x7f0000000000, 0x200000, KPF(KPF_HUGE) | KPF(KPF_COMPOUND_HEAD), 1, true);
        sa_account_page(&precise, &huge, &p, &a);
        p.pme &= ~PM_MMAP_EXCLUSIVE;
        sa_account_page(&precise, &huge, &p, &a);
        is_range(a.f[SA_PRIVATE_HUGETLB], SZ, SZ, "hugetlb exclusive: Private_Hugetlb");
        is_range(a.f[SA_SHARED_HUGETLB], SZ, SZ, "hugetlb shared: Shared_Hugetlb");
        is_range(a.f[SA_ST_HUGETLB], 2 * SZ, 2 * SZ, "status HugetlbPages");
        is_range(a.f[SA_RSS], 0, 0, "hugetlb: never Rss");
        p.pme = swap_pme(0, 1);
        sa_account_page(&precise, &huge, &p, &a);
        is_range(a.f[SA_SWAP], 0, 0, "hugetlb: a non-present entry is nothing");
        sa_acc_done(&a);

        /* locked VMA: Locked is Pss */
        locked.locked = true;
        p = page(0x7f0000000000, 0x5000, KPF(KPF_ANON) | KPF(KPF_SWAPBACKED), 2, false);
        sa_account_page(&precise, &locked, &p, &a);
        is_range(a.f[SA_LOCKED], FULL / 2, FULL / 2, "VM_LOCKED: Locked = Pss");
        sa_acc_done(&a);

        /* reserved frames are not numa_maps pages */
        p = page(0x7f0000000000, 0x5000, KPF(KPF_RESERVED) | KPF(KPF_MMAP), 1, true);
        sa_account_page(&precise, &anon_vma, &p, &a);
        is_range(a.f[SA_RSS], SZ, SZ, "reserved frame: Rss");
        is_u64(a.n_nodes + a.numa_unknown_pages, 0, "reserved frame: in no node");
        sa_acc_done(&a);

        /* a frame without a struct page (KPF_NOPAGE): vm_normal_page() refuses it, smaps too */
        p = page(0x7f0000000000, 0x5000, KPF(KPF_NOPAGE), 1, true);
        sa_account_page(&precise, &anon_vma, &p, &a);
        all_zero_but(&a, 0, "KPF_NOPAGE");
        sa_acc_done(&a);

        /*
         * A PFN whose frame is no longer mapped when kpageflags is read (no
         * flags, a free buddy page): migrated or freed after pagemap gave it.
         * Still a mapped page to smaps: present, bounded, never dropped.
         */
        p = page(0x7f0000000000, 0x5000, KPF(KPF_ANON), 1, true);
        p.kpf = 0;
        sa_account_page(&precise, &anon_vma, &p, &a);
        p.kpf = KPF(KPF_BUDDY);
        sa_account_page(&precise, &anon_vma, &p, &a);
        is_range(a.f[SA_RSS], 2 * SZ, 2 * SZ, "stale PFN (kpf 0, then a buddy page): Rss counts both");
        is_range(a.f[SA_ANONYMOUS], 2 * SZ, 2 * SZ, "stale PFN: Anonymous from pagemap's file bit");
        is_range(a.f[SA_PSS], 2 * FULL, 2 * FULL, "stale exclusive PFN: Pss a whole page each");
        is_u64(a.migration_pages, 2, "stale PFN: counted as pages on the move");
        is_u64(a.present_pages, 2, "stale PFN: present");
        is_u64(a.present_pages, 2, "still present");
        sa_acc_done(&a);

        /* shmem: swapped-out shmem has no PTE; finish allows the unseen part as Swap */
        p = page(0x7f0000000000, 0x6000, KPF(KPF_SWAPBACKED), 1, true);
        for (int i = 0; i < 4; i++)
                sa_account_page(&precise, &shmem, &p, &a);
        sa_account_finish(&precise, &shmem, &a);
        is_range(a.f[SA_SWAP], 0, 12 * SZ, "shmem: Swap up to the 12 unseen pages");
        is_range(a.f[SA_SWAP_PSS], 0, (12 * SZ) << SA_PSS_SHIFT, "shmem: SwapPss likewise");
        sa_acc_done(&a);
        sa_account_finish(&precise, &anon_vma, &a);
        is_range(a.f[SA_SWAP], 0, 0, "anon: finish adds nothing");
        sa_acc_done(&a);
}

static void test_acc_add(void) {
        struct sa_acc a = {}, b = {};
        struct sa_page p = page(0x7f0000000000, 0x7000, KPF(KPF_ANON) | KPF(KPF_SWAPBACKED), 1, true);

        sa_account_page(&precise, &anon_vma, &p, &a);
        p.node = 1;
        sa_account_page(&precise, &anon_vma, &p, &b);
        sa_account_page(&precise, &anon_vma, &p, &b);
        sa_acc_add(&a, &b);
        is_range(a.f[SA_RSS], 3 * SZ, 3 * SZ, "sa_acc_add sums ranges");
        is_u64(a.present_pages, 3, "and counters");
        is_u64(a.n_nodes, 2, "and merges nodes");
        is_i64(sa_acc_add_node(&a, 1, 5), 0, "sa_acc_add_node");
        is_u64(a.nodes[1].node == 1 ? a.nodes[1].pages : a.nodes[0].pages, 7, "node 1: 2 + 5 pages");
        sa_acc_done(&a);
        sa_acc_done(&b);
        ok(!a.nodes && a.n_nodes == 0, "sa_acc_done clears");
}

static void test_classify(void) {
        struct sa_smaps_vma v = { .start = 0x1000, .end = 0x5000, .name = (char *) "/dev/shm/pool" };
        struct sa_vma_class c;

        v.vmflags = SA_VMF(SA_VM_LO) | SA_VMF(SA_VM_MG);
        sa_vma_classify(&v, &c);
        ok(c.shmem && c.locked && c.mergeable && !c.special && !c.hugetlb, "/dev/shm, lo, mg");
        is_u64(c.size, 0x4000, "size");
        v.name = (char *) "/dev/zero (deleted)";
        v.vmflags = SA_VMF(SA_VM_IO);
        sa_vma_classify(&v, &c);
        ok(c.shmem && c.special, "shared anonymous (/dev/zero (deleted)), io");
        v.name = (char *) "/SYSV00000000 (deleted)";
        sa_vma_classify(&v, &c);
        ok(c.shmem, "SysV shm");
        v.name = (char *) "/usr/lib/libc.so.6";
        v.vmflags = SA_VMF(SA_VM_PF);
        sa_vma_classify(&v, &c);
        ok(!c.shmem && c.special, "file, pf");
        v.name = NULL;
        sa_vma_classify(&v, &c);
        ok(!c.shmem, "no name");
}

/* Only where the kernel can map nothing but anonymous pages may the scan leave PAGE_IS_FILE out. */
static void test_anon_only(void) {
        static const struct {
                const char *name, *perms;
                uint64_t inode, vmflags;
                bool anon_only;
        } rows[] = {
                { NULL, "rw-p", 0, 0, true },
                { "[heap]", "rw-p", 0, 0, true },
                { "[stack]", "rw-p", 0, 0, true },
                { "[anon:jemalloc]", "rw-p", 0, 0, true },
                { NULL, "---p", 0, 0, true },                   /* PROT_NONE anonymous */
                { NULL, "rw-p", 0, SA_VMF(SA_VM_MG), true },    /* KSM pages are anonymous */
                { NULL, "rw-s", 0, 0, false },                  /* shared anonymous is shmem */
                { "/dev/zero (deleted)", "rw-s", 1234, 0, false },
                { "[anon_shmem:pool]", "rw-s", 0, 0, false },
                { "/memfd:heap (deleted)", "rw-p", 0, 0, false },
                { "/usr/lib/libc.so.6", "rw-p", 4321, 0, false }, /* CoW'd pages beside page cache */
                { "/anon_hugepage (deleted)", "rw-p", 77, SA_VMF(SA_VM_HT), false },
                { "[vdso]", "r-xp", 0, 0, false },
                { "[vvar]", "r--p", 0, SA_VMF(SA_VM_PF) | SA_VMF(SA_VM_IO), false },
                { "[uprobes]", "r-xp", 0, 0, false },
                { NULL, "rw-p", 0, SA_VMF(SA_VM_PF), false },   /* a driver's PFN map */
        };

        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                struct sa_smaps_vma v = { .start = 0x1000, .end = 0x5000, .name = (char *) rows[i].name,
                                          .inode = rows[i].inode, .vmflags = rows[i].vmflags };
                struct sa_vma_class c;

                memcpy(v.perms, rows[i].perms, 5);
                sa_vma_classify(&v, &c);
                ok(c.anon_only == rows[i].anon_only, "anon_only of %s %s", rows[i].name ? rows[i].name : "(none)",
                   rows[i].perms);
        }
}

int main(void) {
        test_thp();
        test_pmd_folio();
        test_ksm();
        test_zero();
        test_shared();
        test_swap();
        test_unjoined();
        test_vma_kinds();
        test_acc_add();
        test_classify();
        test_anon_only();
        return tap_done();
}
