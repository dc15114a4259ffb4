/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fields every stage speaks of (smaps's, then status's), their units and how exactly the walk knows them. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define SA_PAGE_SIZE 4096ULL
#define SA_PSS_SHIFT 12
#define SA_PMD_PAGES 512ULL

/*
 * The smaps fields in the kernel's print order, then the status counters,
 * which the walk recomputes in the same pass. Values are kept in the
 * kernel's own units: bytes, or bytes << SA_PSS_SHIFT for the PSS family,
 * so that per-VMA truncation and rollup sums come out as the kernel's do.
 */
enum sa_field {
        SA_RSS,
        SA_PSS,
        SA_PSS_DIRTY,
        SA_PSS_ANON,
        SA_PSS_FILE,
        SA_PSS_SHMEM,
        SA_SHARED_CLEAN,
        SA_SHARED_DIRTY,
        SA_PRIVATE_CLEAN,
        SA_PRIVATE_DIRTY,
        SA_REFERENCED,
        SA_ANONYMOUS,
        SA_KSM,
        SA_LAZYFREE,
        SA_ANON_HUGE,
        SA_SHMEM_PMD,
        SA_FILE_PMD,
        SA_SHARED_HUGETLB,
        SA_PRIVATE_HUGETLB,
        SA_SWAP,
        SA_SWAP_PSS,
        SA_LOCKED,
        _SA_SMAPS_FIELD_MAX,
        /* sums the kernel does not print but whose parts are approximate */
        SA_SHARED = _SA_SMAPS_FIELD_MAX, /* Shared_Clean + Shared_Dirty */
        SA_PRIVATE,                      /* Private_Clean + Private_Dirty */
        /* status counters */
        SA_ST_RSS,
        SA_ST_RSS_ANON,
        SA_ST_RSS_FILE,
        SA_ST_RSS_SHMEM,
        SA_ST_SWAP,
        SA_ST_HUGETLB,
        _SA_FIELD_MAX,
};

enum sa_unit {
        SA_UNIT_BYTES,
        SA_UNIT_PSS, /* bytes << SA_PSS_SHIFT */
};

enum sa_exactness {
        SA_EXACT,  /* the walk reproduces the kernel's number to the page */
        SA_APPROX, /* the walk gives a range the kernel's number must fall in */
};

struct sa_field_info {
        const char *name;        /* the kernel's key */
        enum sa_unit unit;
        enum sa_exactness exact;
        bool rollup_only;        /* printed only by smaps_rollup */
        const char *why_approx;  /* for the report */
};

extern const struct sa_field_info sa_fields[_SA_FIELD_MAX];
int sa_field_from_name(const char *name);
uint64_t sa_field_to_kb(enum sa_field f, uint64_t raw);

/* A closed range of possible values, in the field's unit. */
struct sa_range {
        uint64_t lo, hi;
};

static inline void sa_range_add(struct sa_range *r, uint64_t lo, uint64_t hi) {
        r->lo += lo;
        r->hi += hi;
}
