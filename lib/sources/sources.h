/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The kernel's views of one process and of the system, parsed: smaps,
 * status, numa_maps, ksm_stat and KSM's sysfs files, vmstat, sched and the
 * cgroup (the source-*.c files).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "fields.h"

struct smapsaudit_ctx;

/*
 * Every parser takes a NUL-terminated buffer (what sa_read_file returns)
 * and never trusts it: a malformed line is skipped or -EBADMSG, never a
 * crash. They are fuzzed (tests/fuzz/).
 */

/* "key: value" and "key value" lines, used by status, ksm_stat, vmstat, sched. */
struct sa_keyed {
        const char *key;
        size_t offset;    /* into the destination struct, of an int64_t */
        uint64_t mask;    /* set in the destination's have mask */
};
int sa_parse_keyed(const char *buf, const struct sa_keyed *table, size_t n, void *dest, uint64_t *have);

/* VmFlags two-letter codes. */
enum sa_vmflag {
        SA_VM_RD, SA_VM_WR, SA_VM_EX, SA_VM_SH, SA_VM_MR, SA_VM_MW, SA_VM_ME, SA_VM_MS,
        SA_VM_GD, SA_VM_PF, SA_VM_LO, SA_VM_IO, SA_VM_SR, SA_VM_RR, SA_VM_DC, SA_VM_DE,
        SA_VM_AC, SA_VM_NR, SA_VM_HT, SA_VM_SF, SA_VM_NL, SA_VM_AR, SA_VM_WF, SA_VM_DD,
        SA_VM_SD, SA_VM_MM, SA_VM_HG, SA_VM_NH, SA_VM_MG, SA_VM_UM, SA_VM_UW, SA_VM_SS,
        SA_VM_SL, SA_VM_BT, SA_VM_MT, SA_VM_GU, SA_VM_OTHER,
        _SA_VM_MAX,
};
#define SA_VMF(f) (1ULL << (f))

struct sa_smaps_vma {
        uint64_t start, end, pgoff, inode;
        unsigned dev_major, dev_minor;
        char perms[5];
        char *name;
        uint64_t kb[_SA_SMAPS_FIELD_MAX];
        uint64_t have;           /* bit per enum sa_field printed */
        uint64_t size_kb, kernel_page_kb, mmu_page_kb;
        uint64_t vmflags;        /* SA_VMF() bits */
        bool have_vmflags;
        int thp_eligible;        /* -1: not printed */
};

struct sa_smaps {
        struct sa_smaps_vma *vmas;
        size_t n;
};
/* smaps_rollup comes out as a single pseudo-VMA. */
int sa_smaps_parse(const char *buf, struct sa_smaps *ret);
void sa_smaps_done(struct sa_smaps *s);
bool sa_smaps_vma_equal(const struct sa_smaps_vma *a, const struct sa_smaps_vma *b);
/* The VMA [start, end) of s, or NULL (s is in address order, as the kernel prints it). */
const struct sa_smaps_vma *sa_smaps_find(const struct sa_smaps *s, uint64_t start, uint64_t end);
/* The same, looked for at index near first: where it is in the other read of the same VMAs. */
const struct sa_smaps_vma *sa_smaps_find_near(const struct sa_smaps *s, size_t near, uint64_t start, uint64_t end);

struct sa_status {
        int64_t vm_rss, rss_anon, rss_file, rss_shmem, vm_swap, hugetlb; /* kB */
        int64_t threads, tracer_pid, uid, euid;
        int64_t ngid;
        uint64_t have;
        char name[64];
};
enum {
        SA_STATUS_VM_RSS = 1u << 0, SA_STATUS_RSS_ANON = 1u << 1, SA_STATUS_RSS_FILE = 1u << 2,
        SA_STATUS_RSS_SHMEM = 1u << 3, SA_STATUS_VM_SWAP = 1u << 4, SA_STATUS_HUGETLB = 1u << 5,
        SA_STATUS_THREADS = 1u << 6, SA_STATUS_TRACER = 1u << 7, SA_STATUS_UID = 1u << 8,
        SA_STATUS_NAME = 1u << 9,
};
int sa_status_parse(const char *buf, struct sa_status *ret);
/* The live reader prefers libproc2 for the counters it has. */
int sa_status_read(struct smapsaudit_ctx *ctx, pid_t pid, struct sa_status *ret);
bool sa_status_counters_equal(const struct sa_status *a, const struct sa_status *b);

struct sa_node_count {
        int node;
        uint64_t pages;
};

struct sa_numa_vma {
        uint64_t start;
        bool huge;
        uint64_t kernel_page_kb;  /* 0 when not printed */
        uint64_t anon, dirty, mapped, mapmax;
        struct sa_node_count *nodes;
        size_t n_nodes;
};
struct sa_numa_maps {
        struct sa_numa_vma *vmas;
        size_t n;
};
int sa_numa_maps_parse(const char *buf, struct sa_numa_maps *ret);
void sa_numa_maps_done(struct sa_numa_maps *m);
const struct sa_numa_vma *sa_numa_maps_find(const struct sa_numa_maps *m, uint64_t start);
bool sa_numa_vma_equal(const struct sa_numa_vma *a, const struct sa_numa_vma *b);

struct sa_ksm_stat {
        int64_t rmap_items, zero_pages, merging_pages, process_profit;
        int64_t merge_any, mergeable; /* 1 yes, 0 no */
        uint64_t have;
};
enum {
        SA_KSM_STAT_RMAP_ITEMS = 1u << 0, SA_KSM_STAT_ZERO_PAGES = 1u << 1,
        SA_KSM_STAT_MERGING = 1u << 2, SA_KSM_STAT_PROFIT = 1u << 3,
        SA_KSM_STAT_MERGE_ANY = 1u << 4, SA_KSM_STAT_MERGEABLE = 1u << 5,
};
int sa_ksm_stat_parse(const char *buf, struct sa_ksm_stat *ret);

struct sa_ksm_sys {
        int64_t run, pages_to_scan, sleep_millisecs, max_page_sharing, use_zero_pages,
                merge_across_nodes, pages_shared, pages_sharing, pages_unshared,
                pages_volatile, pages_scanned, full_scans, stable_node_chains,
                stable_node_dups, ksm_zero_pages, general_profit;
        uint64_t have;
};
int sa_ksm_sys_read(struct smapsaudit_ctx *ctx, struct sa_ksm_sys *ret);

struct sa_vmstat_numa {
        int64_t numa_pte_updates, numa_huge_pte_updates, numa_hint_faults,
                numa_hint_faults_local, numa_pages_migrated;
        int64_t numa_balancing; /* /proc/sys/kernel/numa_balancing, -1 unknown */
        uint64_t have;
};
int sa_vmstat_parse(const char *buf, struct sa_vmstat_numa *ret);
int sa_vmstat_read(struct smapsaudit_ctx *ctx, struct sa_vmstat_numa *ret);

struct sa_sched_numa {
        int64_t numa_scan_seq, numa_pages_migrated, numa_preferred_nid, total_numa_faults;
        uint64_t have;
};
int sa_sched_parse(const char *buf, struct sa_sched_numa *ret);

/* The cgroup of pid (its /proc/PID/cgroup below the proc root) and the systemd unit that path
 * names, or NULL for a path of no unit; -ENODATA without a cgroup v2 or name=systemd line. */
int sa_cgroup_read(struct smapsaudit_ctx *ctx, pid_t pid, char **ret_cgroup, char **ret_unit);
/* The unit of a cgroup path, as systemd's cg_path_get_unit(): *ret NULL when it names none. */
int sa_cgroup_unit(const char *path, char **ret);
int sa_cgroup_user_unit(const char *path, char **ret);

/* Bits of struct sa_ksm_sys's have mask: the order of ksm_sys_files in source-ksm.c. */
enum {
        SA_KSM_SYS_RUN = 1u << 0, SA_KSM_SYS_PAGES_TO_SCAN = 1u << 1, SA_KSM_SYS_SLEEP = 1u << 2,
        SA_KSM_SYS_MAX_PAGE_SHARING = 1u << 3, SA_KSM_SYS_USE_ZERO_PAGES = 1u << 4,
        SA_KSM_SYS_MERGE_ACROSS_NODES = 1u << 5, SA_KSM_SYS_PAGES_SHARED = 1u << 6,
        SA_KSM_SYS_PAGES_SHARING = 1u << 7, SA_KSM_SYS_PAGES_UNSHARED = 1u << 8,
        SA_KSM_SYS_PAGES_VOLATILE = 1u << 9, SA_KSM_SYS_PAGES_SCANNED = 1u << 10,
        SA_KSM_SYS_FULL_SCANS = 1u << 11, SA_KSM_SYS_CHAINS = 1u << 12, SA_KSM_SYS_DUPS = 1u << 13,
        SA_KSM_SYS_ZERO_PAGES = 1u << 14, SA_KSM_SYS_GENERAL_PROFIT = 1u << 15,
};

/* KSM's global state: the sysfs files, and the counters beside them (-1: not there). */
struct sa_ksm_globals {
        struct sa_ksm_sys sys;
        int64_t smart_scan, pages_skipped;
        int64_t cow_ksm;          /* /proc/vmstat: copies of KSM pages on write or unshare */
};
int sa_ksm_globals_read(struct smapsaudit_ctx *ctx, struct sa_ksm_globals *ret);
bool sa_ksm_running(const struct sa_ksm_globals *g);
/* Waits until full_scans reaches target or the deadline (CLOCK_MONOTONIC µs) passes. */
int sa_ksm_wait_full_scans(struct smapsaudit_ctx *ctx, int64_t target, uint64_t deadline_usec, struct sa_ksm_globals *ret);
uint64_t sa_ksm_now_usec(void);
/* ksm_stat, with /proc/PID/ksm_merging_pages where ksm_stat lacks the line (5.19–6.3).
 * -ESRCH: no such process; -EOPNOTSUPP: a kernel without KSM. */
int sa_ksm_stat_read(struct smapsaudit_ctx *ctx, pid_t pid, struct sa_ksm_stat *ret);
