/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The fields smapsaudit compares, with the unit the kernel accumulates
 * them in and whether a userspace walk can reproduce them exactly
 * (docs/accounting.md).
 */
#include "fields.h"
#include "macro.h"

#define EXACT(n, u) { .name = (n), .unit = (u), .exact = SA_EXACT }
#define APPROX(n, u, why) { .name = (n), .unit = (u), .exact = SA_APPROX, .why_approx = (why) }

static const char why_dirty[] =
        "the PTE dirty bit is not exported: the walk knows PG_dirty (lower bound) and what could be PTE-dirty";
static const char why_referenced[] =
        "the PTE accessed bit is not exported: PG_referenced is a lower bound";

const struct sa_field_info sa_fields[_SA_FIELD_MAX] = {
        [SA_RSS]             = EXACT("Rss", SA_UNIT_BYTES),
        [SA_PSS]             = EXACT("Pss", SA_UNIT_PSS),
        [SA_PSS_DIRTY]       = APPROX("Pss_Dirty", SA_UNIT_PSS, why_dirty),
        [SA_PSS_ANON]        = { "Pss_Anon", SA_UNIT_PSS, SA_EXACT, true, NULL },
        [SA_PSS_FILE]        = { "Pss_File", SA_UNIT_PSS, SA_EXACT, true, NULL },
        [SA_PSS_SHMEM]       = { "Pss_Shmem", SA_UNIT_PSS, SA_EXACT, true, NULL },
        [SA_SHARED_CLEAN]    = APPROX("Shared_Clean", SA_UNIT_BYTES, why_dirty),
        [SA_SHARED_DIRTY]    = APPROX("Shared_Dirty", SA_UNIT_BYTES, why_dirty),
        [SA_PRIVATE_CLEAN]   = APPROX("Private_Clean", SA_UNIT_BYTES, why_dirty),
        [SA_PRIVATE_DIRTY]   = APPROX("Private_Dirty", SA_UNIT_BYTES, why_dirty),
        [SA_REFERENCED]      = APPROX("Referenced", SA_UNIT_BYTES, why_referenced),
        [SA_ANONYMOUS]       = EXACT("Anonymous", SA_UNIT_BYTES),
        [SA_KSM]             = EXACT("KSM", SA_UNIT_BYTES),
        [SA_LAZYFREE]        = APPROX("LazyFree", SA_UNIT_BYTES,
                                      "re-dirtied MADV_FREE pages are PTE-dirty, which is not exported"),
        [SA_ANON_HUGE]       = EXACT("AnonHugePages", SA_UNIT_BYTES),
        [SA_SHMEM_PMD]       = EXACT("ShmemPmdMapped", SA_UNIT_BYTES),
        [SA_FILE_PMD]        = EXACT("FilePmdMapped", SA_UNIT_BYTES),
        [SA_SHARED_HUGETLB]  = EXACT("Shared_Hugetlb", SA_UNIT_BYTES),
        [SA_PRIVATE_HUGETLB] = EXACT("Private_Hugetlb", SA_UNIT_BYTES),
        [SA_SWAP]            = EXACT("Swap", SA_UNIT_BYTES),
        [SA_SWAP_PSS]        = APPROX("SwapPss", SA_UNIT_PSS,
                                      "swap counts are global: the walk only bounds it by Swap"),
        [SA_LOCKED]          = EXACT("Locked", SA_UNIT_PSS),
        [SA_SHARED]          = EXACT("Shared", SA_UNIT_BYTES),
        [SA_PRIVATE]         = EXACT("Private", SA_UNIT_BYTES),
        [SA_ST_RSS]          = EXACT("VmRSS", SA_UNIT_BYTES),
        [SA_ST_RSS_ANON]     = EXACT("RssAnon", SA_UNIT_BYTES),
        [SA_ST_RSS_FILE]     = EXACT("RssFile", SA_UNIT_BYTES),
        [SA_ST_RSS_SHMEM]    = EXACT("RssShmem", SA_UNIT_BYTES),
        [SA_ST_SWAP]         = EXACT("VmSwap", SA_UNIT_BYTES),
        [SA_ST_HUGETLB]      = EXACT("HugetlbPages", SA_UNIT_BYTES),
};

int sa_field_from_name(const char *name) {
        for (size_t i = 0; i < _SA_FIELD_MAX; i++)
                if (streq(sa_fields[i].name, name))
                        return (int) i;
        return -ENOENT;
}

/* The kernel prints value >> 10, after >> PSS_SHIFT for the PSS family. */
uint64_t sa_field_to_kb(enum sa_field f, uint64_t raw) {
        if (sa_fields[f].unit == SA_UNIT_PSS)
                raw >>= SA_PSS_SHIFT;
        return raw >> 10;
}
