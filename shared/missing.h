/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * UAPI that Debian 12's kernel headers predate. Values from the kernel's
 * include/uapi/linux/fs.h and kernel-page-flags.h.
 */
#pragma once

#include <linux/fs.h>
#include <linux/ioctl.h>
#include <linux/types.h>

#ifndef PAGEMAP_SCAN
#define PAGE_IS_WPALLOWED  (1 << 0)
#define PAGE_IS_WRITTEN    (1 << 1)
#define PAGE_IS_FILE       (1 << 2)
#define PAGE_IS_PRESENT    (1 << 3)
#define PAGE_IS_SWAPPED    (1 << 4)
#define PAGE_IS_PFNZERO    (1 << 5)
#define PAGE_IS_HUGE       (1 << 6)
#define PAGE_IS_SOFT_DIRTY (1 << 7)

struct page_region {
        __u64 start;
        __u64 end;
        __u64 categories;
};

struct pm_scan_arg {
        __u64 size;
        __u64 flags;
        __u64 start;
        __u64 end;
        __u64 walk_end;
        __u64 vec;
        __u64 vec_len;
        __u64 max_pages;
        __u64 category_inverted;
        __u64 category_mask;
        __u64 category_anyof_mask;
        __u64 return_mask;
};

#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif

#ifndef PAGE_IS_GUARD
#define PAGE_IS_GUARD (1 << 8)
#endif

/* pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst) */
#define PM_PFN_MASK        ((1ULL << 55) - 1)
#define PM_SOFT_DIRTY      (1ULL << 55)
#define PM_MMAP_EXCLUSIVE  (1ULL << 56)
#define PM_UFFD_WP         (1ULL << 57)
#define PM_GUARD_REGION    (1ULL << 58)
#define PM_FILE            (1ULL << 61)
#define PM_SWAP            (1ULL << 62)
#define PM_PRESENT         (1ULL << 63)
#define PM_SWAP_TYPE(e)    ((unsigned) ((e) & 0x1f))

/* kpageflags bits; the kernel-hacking ones are not UAPI but stable. */
#define KPF_LOCKED         0
#define KPF_REFERENCED     2
#define KPF_DIRTY          4
#define KPF_LRU            5
#define KPF_ACTIVE         6
#define KPF_SLAB           7
#define KPF_WRITEBACK      8
#define KPF_BUDDY          10
#define KPF_MMAP           11
#define KPF_ANON           12
#define KPF_SWAPCACHE      13
#define KPF_SWAPBACKED     14
#define KPF_COMPOUND_HEAD  15
#define KPF_COMPOUND_TAIL  16
#define KPF_HUGE           17
#define KPF_UNEVICTABLE    18
#define KPF_NOPAGE         20
#define KPF_KSM            21
#define KPF_THP            22
#define KPF_OFFLINE        23
#define KPF_ZERO_PAGE      24
#define KPF_IDLE           25
#define KPF_PGTABLE        26
#define KPF_RESERVED       32

#define KPF(bit) (1ULL << (bit))
