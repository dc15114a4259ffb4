/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the library's files share and nobody else sees. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "macro.h"
#include "parse-number.h"
#include "smapsaudit.h"

#define SA_PAGE_SIZE 4096ULL
#define SA_PSS_SHIFT 12
#define SA_PMD_PAGES 512ULL
/* PF_KTHREAD and PF_EXITING from include/linux/sched.h, in /proc/PID/stat's flags: kernel threads
 * have no mm, and an exiting task drops its own before it is a zombie */
#define SA_PF_KTHREAD 0x00200000ULL
#define SA_PF_EXITING 0x00000004ULL

/* ---------------------------------------------------------------- fields */

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

/* ---------------------------------------------------------------- ctx */

struct sa_node_map;

enum sa_mapcount_mode {
        SA_MAPCOUNT_PRECISE, /* CONFIG_PAGE_MAPCOUNT: per-page mapcount */
        SA_MAPCOUNT_AVERAGE, /* CONFIG_NO_PAGE_MAPCOUNT: folio average, "maybe shared" */
};

struct sa_kernel {
        char release[128];
        unsigned major, minor, patch;
        enum sa_mapcount_mode mapcount;
        bool mapcount_known;
        unsigned nr_cpus;
};

struct smapsaudit_ctx {
        unsigned n_ref;
        char *proc_root;
        char *sys_root;
        bool live;                  /* proc root is the running kernel's procfs */
        smapsaudit_log_fn log_fn;
        void *log_userdata;
        int log_priority;
        bool kernel_loaded;
        struct sa_kernel kernel;
        int kpageflags_fd;          /* -1: not opened yet, -2: unavailable */
        int kpagecount_fd;
        int kpage_errno;
        struct sa_node_map *nodes;  /* NULL until first needed */
        struct sa_join_buffers *join; /* pageinfo.c's scratch, kept between batches */
        char last_error[512];       /* what failed, with PID and file */
        pid_t bound_pid;            /* 0, or the process whose files below were opened elsewhere */
        size_t n_bound;
        struct sa_bound_file {
                char name[24];
                int fd;
        } bound[8];
};

void sa_log(struct smapsaudit_ctx *ctx, int priority, const char *fmt, ...) _printf_(3, 4);
/* Records what failed (for smapsaudit_ctx_get_error) and returns r. */
int sa_error(struct smapsaudit_ctx *ctx, int r, const char *fmt, ...) _printf_(3, 4);
#define sa_debug(ctx, ...) sa_log(ctx, 7, __VA_ARGS__)
#define sa_notice(ctx, ...) sa_log(ctx, 5, __VA_ARGS__)
#define sa_info(ctx, ...) sa_log(ctx, 6, __VA_ARGS__)
#define sa_warn(ctx, ...) sa_log(ctx, 4, __VA_ARGS__)

/* kernel.c */
const struct sa_kernel *sa_kernel_get(struct smapsaudit_ctx *ctx);
bool sa_kernel_at_least(const struct sa_kernel *k, unsigned major, unsigned minor);
int sa_kernel_parse_release(const char *release, unsigned *major, unsigned *minor, unsigned *patch);
/* How far a status RSS counter (SA_ST_*) may lag the page tables, in pages. */
uint64_t sa_kernel_status_slack_pages(const struct sa_kernel *k, unsigned threads, enum sa_field f);

/* ---------------------------------------------------------------- procfs */

/* Reads a whole file; *ret is NUL-terminated. Missing file: -ENOENT. */
int sa_read_file(const char *path, char **ret, size_t *ret_len);
int sa_read_file_at(int dirfd, const char *name, char **ret, size_t *ret_len);
int sa_proc_path(const struct smapsaudit_ctx *ctx, pid_t pid, const char *name, char **ret);
/* A file bound with smapsaudit_ctx_bind_pid_file: its fd (>= 0), -ENOENT when the context reads
 * this one by path, -EACCES when it must not be read by path. */
int sa_bound_fd(const struct smapsaudit_ctx *ctx, pid_t pid, const char *name);
int sa_sys_path(const struct smapsaudit_ctx *ctx, const char *name, char **ret);
int sa_read_pid_file(struct smapsaudit_ctx *ctx, pid_t pid, const char *name, char **ret, size_t *len);
int sa_read_proc_file(struct smapsaudit_ctx *ctx, const char *name, char **ret, size_t *len);

/* The cgroup of pid (its /proc/PID/cgroup below the proc root) and the systemd unit that path
 * names, or NULL for a path of no unit; -ENODATA without a cgroup v2 or name=systemd line. */
int sa_cgroup_read(struct smapsaudit_ctx *ctx, pid_t pid, char **ret_cgroup, char **ret_unit);
/* The unit of a cgroup path, as systemd's cg_path_get_unit(): *ret NULL when it names none. */
int sa_cgroup_unit(const char *path, char **ret);
struct sa_population {
        uint64_t forks;   /* /proc/stat "processes": forks since boot, 0 if unknown */
        uint64_t tasks;   /* /proc/loadavg: tasks alive now, 0 if unknown */
};
void sa_read_population(struct smapsaudit_ctx *ctx, struct sa_population *ret);
int sa_read_sys_file(struct smapsaudit_ctx *ctx, const char *name, char **ret, size_t *len);
int sa_read_sys_u64(struct smapsaudit_ctx *ctx, const char *name, uint64_t *ret);
int sa_open_pid_file(struct smapsaudit_ctx *ctx, pid_t pid, const char *name, int flags);
pid_t sa_mm_pid(struct smapsaudit_ctx *ctx, pid_t pid);
/* /proc/PID/stat, the fields the audit uses */
struct sa_stat {
        char state;           /* "R", "S", "Z"... */
        uint64_t flags;       /* PF_* task flags */
        uint64_t faults;      /* minflt + majflt */
        uint64_t start_time;  /* clock ticks after boot: with the PID, names one process */
};
int sa_stat_parse(const char *buf, struct sa_stat *ret);
char sa_stat_state(const char *path);
/* Full pread; a short read at EOF returns the bytes read. */
ssize_t sa_pread_full(int fd, void *buf, size_t len, off_t off);

/* ---------------------------------------------------------------- parsers */

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

/* ---------------------------------------------------------------- walk */

/* One pagemap entry joined with what the walk learned about it. */
struct sa_page {
        uint64_t addr;
        uint64_t pme;        /* raw pagemap entry */
        uint64_t kpf;        /* kpageflags, 0 when not read */
        uint64_t kpc;        /* kpagecount */
        int node;            /* -1 unknown */
        bool pmd_mapped;     /* part of a PMD-mapped THP */
        bool pfn_zero;       /* PAGEMAP_SCAN said PAGE_IS_PFNZERO */
        bool scanned;        /* PAGEMAP_SCAN saw it: pfn_zero and pmd_mapped are known */
        bool exclusive_anon; /* PTE-mapped, anon, mapcount 1 by pagemap: not joined on purpose */
        bool region;         /* fast tier: stands for count pages of one PAGEMAP_SCAN region */
        bool pmd_folio;      /* stands for the SA_PMD_PAGES pages of a PMD-mapped THP, joined by its head */
        uint64_t count;      /* pages this entry stands for: 1 unless region or pmd_folio */
        uint64_t folio_pss;  /* pmd_folio: Σ per-page PSS of its pages, bytes << SA_PSS_SHIFT */
        uint64_t folio_multi; /* pmd_folio: its pages with kpagecount >= 2 */
        bool joined;         /* kpf/kpc were read */
};

enum sa_walk_mode {
        SA_WALK_SCAN = 1u << 0,     /* PAGEMAP_SCAN found the populated ranges */
        SA_WALK_PFN = 1u << 1,      /* PFNs visible (CAP_SYS_ADMIN) */
        SA_WALK_KPAGE = 1u << 2,    /* kpageflags/kpagecount readable */
        SA_WALK_NODES = 1u << 3,    /* PFN → node map available */
        SA_WALK_FAST = 1u << 4,     /* fast tier: regions, no pagemap reads outside mergeable VMAs */
};

struct sa_walker;
typedef int (*sa_walk_batch_fn)(void *userdata, const struct sa_page *pages, size_t n);

struct sa_walk_stats {
        uint64_t pagemap_reads, scan_ioctls, kpage_reads, entries, pfn_runs;
};

int sa_walker_new(struct smapsaudit_ctx *ctx, pid_t pid, unsigned audit_flags, struct sa_walker **ret);
void sa_walker_free(struct sa_walker *w);
unsigned sa_walker_mode(const struct sa_walker *w);
const struct sa_walk_stats *sa_walker_stats(const struct sa_walker *w);
enum {
        /* the range cannot hold KSM pages: exclusively mapped anonymous pages need no join */
        SA_RANGE_SKIP_EXCLUSIVE_ANON = 1u << 0,
        /* the caller accounts whole folios: a PMD-mapped THP may come as one pmd_folio entry */
        SA_RANGE_PMD_FOLIOS = 1u << 1,
};

/* Calls fn with batches of populated pages (present or swap-type) of [start, end). */
int sa_walk_range(struct sa_walker *w, uint64_t start, uint64_t end, unsigned range_flags,
                  sa_walk_batch_fn fn, void *userdata);

/* pageinfo.c: the PFN join. */
void sa_join_buffers_free(struct sa_join_buffers *b);
int sa_kpage_open(struct smapsaudit_ctx *ctx);
int sa_kpage_join(struct smapsaudit_ctx *ctx, struct sa_page *pages, size_t n, uint64_t *reads);
int sa_node_of_pfn(struct smapsaudit_ctx *ctx, uint64_t pfn);
bool sa_nodes_available(struct smapsaudit_ctx *ctx);
void sa_node_map_free(struct sa_node_map *m);

/* ---------------------------------------------------------------- account */

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

void sa_account_rules_init(struct smapsaudit_ctx *ctx, unsigned walk_mode, struct sa_account_rules *r);
void sa_account_page(const struct sa_account_rules *r, const struct sa_vma_class *c,
                     const struct sa_page *p, struct sa_acc *acc);
/* Once all pages are in: shmem swap, sums. */
void sa_account_finish(const struct sa_account_rules *r, const struct sa_vma_class *c, struct sa_acc *acc);
void sa_acc_add(struct sa_acc *dst, const struct sa_acc *src);
void sa_acc_done(struct sa_acc *acc);
int sa_acc_add_node(struct sa_acc *acc, int node, uint64_t pages);
void sa_vma_classify(const struct sa_smaps_vma *v, struct sa_vma_class *ret);

/* ---------------------------------------------------------------- tags */

struct sa_numa_state {
        int64_t balancing;       /* numa_balancing sysctl; -1 unknown */
        int64_t scan_seq;        /* mm->numa_scan_seq; -1 unknown */
        int64_t threads;
};
unsigned sa_vma_tags(const struct sa_smaps_vma *v, const struct sa_acc *acc, const struct sa_numa_state *n);

/* ---------------------------------------------------------------- report */

struct sa_field_cmp {
        bool judged;             /* kernel value stable and compared */
        uint64_t kernel_kb;
        uint64_t walk_lo_kb, walk_hi_kb;
        enum smapsaudit_verdict verdict;
};

struct sa_vma_report {
        struct sa_smaps_vma kernel;     /* owns kernel.name */
        struct sa_acc walk;
        unsigned tags;
        enum smapsaudit_verdict verdict;
        bool stable;
        struct sa_field_cmp cmp[_SA_FIELD_MAX];
        struct sa_node_count *numa_kernel;  /* numa_maps N<n>= (4K pages) */
        size_t n_numa_kernel;
        bool have_numa_kernel;
        uint64_t churn_kb;          /* what the window's events may have moved, in base-page fields */
        uint64_t pmd_churn_kb;      /* the same for the PMD-mapped fields: THP events only */
        uint64_t dropped_kb[SA_PRIVATE + 1]; /* how far each field fell from the read before the walk */
        bool numa_judged;
        enum smapsaudit_verdict numa_verdict;
};

struct sa_total {
        bool have_kernel, have_smaps_sum, have_status;
        uint64_t kernel_kb, smaps_sum_kb, walk_lo_kb, walk_hi_kb, status_kb;
};

/*
 * The KSM part of a report: ksm_stat, what the walk counted, and every
 * per-process invariant as sa_ksm_audit() judged it. report-json.c and
 * report-text.c print it, report-parse.c reads it back; none judges again.
 */
enum sa_ksm_verdict {
        SA_KSM_HOLDS,
        SA_KSM_VIOLATED,
        SA_KSM_LAG,          /* a difference ksmd's next full scan settles */
        SA_KSM_STALE,        /* a difference that stays while ksmd is stopped */
        SA_KSM_NOT_JUDGED,   /* a number is missing (old kernel, no PFNs, a capture) */
        SA_KSM_INCONCLUSIVE, /* the readings never held still long enough */
        _SA_KSM_VERDICT_MAX,
};
const char *sa_ksm_verdict_to_string(enum sa_ksm_verdict v);
int sa_ksm_verdict_from_string(const char *s);

#define SA_KSM_PROC_INVS 5   /* the per-process invariants (ksm-invariants.c) */

struct sa_ksm_check {
        char name[32], field[32], source[16];
        char against[96];       /* what the counter is held against */
        char relation[3];       /* "<=", ">=", "==": what holds */
        int64_t kernel, walk;
        enum sa_ksm_verdict verdict;
};

struct sa_ksm_report {
        bool have;              /* ksm_stat was read: the report has a "ksm" part */
        struct sa_ksm_stat stat;
        uint64_t ksm_pages;     /* walk: KPF_KSM pages */
        uint64_t zero_pages;    /* walk: zero-page PTEs in mergeable VMAs */
        struct sa_ksm_check checks[SA_KSM_PROC_INVS];
        size_t n_checks;
};

struct smapsaudit_report {
        unsigned n_ref;
        pid_t pid;
        char comm[64];
        char *cgroup;              /* read at audit time; NULL when unknown */
        char *unit;                /* the systemd unit cgroup names; NULL when none */
        char kernel[128];
        enum smapsaudit_verdict verdict;
        char *error;
        struct sa_vma_report *vmas;
        size_t n_vmas;
        size_t vmas_omitted;       /* read from a compact JSON report: consistent VMAs it left out */
        struct sa_total totals[_SA_FIELD_MAX];
        struct sa_field_cmp rollup_cmp[_SA_FIELD_MAX]; /* smaps_rollup vs Σ smaps (or walk) */
        struct sa_field_cmp status_cmp[_SA_FIELD_MAX]; /* status counters vs walk */
        uint64_t status_slack_kb;
        bool totals_judged;
        struct smapsaudit_finding *findings;
        size_t n_findings;
        char **notes;
        size_t n_notes;
        unsigned walk_mode;
        enum sa_mapcount_mode mapcount;
        unsigned passes;
        unsigned unstable_vmas;
        uint64_t decided_rss_kb, undecided_rss_kb; /* Rss of the VMAs with and without a verdict */
        uint64_t cpu_usec;
        struct sa_walk_stats walk_stats;
        struct sa_status status;
        bool have_status;
        struct sa_numa_state numa;
        struct sa_vmstat_numa vmstat;
        struct sa_ksm_report ksm;
        bool frozen;
};

int sa_report_new(pid_t pid, struct smapsaudit_report **ret);
void sa_vma_report_done(struct sa_vma_report *v);
int sa_report_note(struct smapsaudit_report *r, const char *fmt, ...) _printf_(2, 3);
int sa_report_add_finding(struct smapsaudit_report *r, const struct smapsaudit_finding *f);

struct json_object;
/* The report's JSON conventions, for every document the library writes (report-json.c). */
struct json_object *sa_json_hex(uint64_t v);
struct json_object *sa_json_tags(unsigned tags);
void sa_json_add_u64(struct json_object *o, const char *k, uint64_t v);

/* compare.c */

/*
 * Exact fields that only the target's own page tables move. The
 * mapcount-derived ones (Pss, the shared/private split, Locked) also move
 * whenever any other process maps or unmaps a shared page, which on a busy
 * machine is all the time: their instability says nothing about the target.
 */
#define CORE_FIELDS ((1ULL << SA_RSS) | (1ULL << SA_ANONYMOUS) | (1ULL << SA_KSM) | (1ULL << SA_ANON_HUGE) | \
                     (1ULL << SA_SHMEM_PMD) | (1ULL << SA_FILE_PMD) | (1ULL << SA_SHARED_HUGETLB) |            \
                     (1ULL << SA_PRIVATE_HUGETLB) | (1ULL << SA_SWAP))
#define MAPCOUNT_FIELDS ((1ULL << SA_PSS) | (1ULL << SA_SHARED) | (1ULL << SA_PRIVATE) | (1ULL << SA_LOCKED))
/* and every field whose range the shared/private decision moves */
#define MAPCOUNT_SENSITIVE (MAPCOUNT_FIELDS | (1ULL << SA_PSS_DIRTY) | (1ULL << SA_SHARED_CLEAN) |              \
                            (1ULL << SA_SHARED_DIRTY) | (1ULL << SA_PRIVATE_CLEAN) | (1ULL << SA_PRIVATE_DIRTY) | \
                            (1ULL << SA_SWAP_PSS))

/* A field as smaps printed it (kB), Shared and Private summed from their parts. */
uint64_t sa_smaps_value(const struct sa_smaps_vma *k, enum sa_field f, bool *have);
/* The fields a smaps entry printed, with the Shared/Private sums. */
uint64_t sa_smaps_printed(const struct sa_smaps_vma *k);
/* Same VMA, and its core fields held still between the two reads. */
bool sa_smaps_core_stable(const struct sa_smaps_vma *a, const struct sa_smaps_vma *b);
uint64_t sa_stable_fields(const struct sa_smaps_vma *a, const struct sa_smaps_vma *b);
void sa_compare_vma(struct sa_vma_report *v, uint64_t stable, bool nodes);
/* A disagreement mask: bit f under-, bit f+32 over-accounted; bit 31 numa_maps. */
uint64_t sa_disagreements(const struct sa_field_cmp *cmp, size_t n);
/* What the rollup is held against: it was read between two reads of smaps. */
struct sa_rollup_window {
        const struct sa_smaps_vma *rollup;
        struct sa_smaps_vma before, after;     /* the per-VMA lines summed, on each side */
        uint64_t allowance_kb[SA_PRIVATE + 1]; /* what the target's own changes can explain, both ways */
        uint64_t over_kb, under_kb;            /* and its page faults, for each direction */
        uint64_t fault_kb;                     /* a page per fault the target took during the pass, a PMD per THP event */
        uint64_t stable;                       /* fields to judge */
        uint64_t pss_slack_kb;                 /* per-VMA truncation of the PSS family */
        bool walk_comparable;                  /* nothing moved: rollup-only fields against the walk */
        const struct sa_status *status_before; /* status read before the walk, when its counters moved */
        uint64_t status_anon_kb, status_file_kb; /* and what the window's events could move them by */
};
/* status is NULL when its counters moved around the walk. */
void sa_compare_totals(struct smapsaudit_report *r, const struct sa_rollup_window *w, const struct sa_acc *walk,
                       const struct sa_status *st, const struct sa_kernel *k);
int sa_findings_from_vma(struct smapsaudit_report *r, const struct sa_vma_report *v, uint64_t confirmed);
int sa_findings_from_totals(struct smapsaudit_report *r, uint64_t confirmed_rollup, uint64_t confirmed_status);
const char *sa_tag_name(unsigned bit);

/* freeze.c */
/* capture-dir.c: a capture's directory (made 0700; an existing one must be ours and empty, or hold
 * only pid's KSM page hashes, which smapsaudit_ksm_capture() writes first), as a directory fd. */
int sa_capture_dir_open(const char *dir, pid_t pid);
/* Below dirfd, never through a link: rel's directories made 0700 on the way; a file created 0600
 * (O_EXCL, after removing what an earlier attempt of the capture left under that name). */
int sa_capture_mkdir(int dirfd, const char *rel);
int sa_capture_create(int dirfd, const char *rel, int flags);
int sa_capture_open(int dirfd, const char *rel, int flags);
int sa_capture_dir_clear(int dirfd);
/* What smapsaudit_ksm_capture() writes into proc/PID of a capture. */
#define SA_KSM_HASHES_FILE "smapsaudit-ksm-hashes"

struct sa_freeze;
/* pidfd: the audit's, checked before each seize and after each stop. -ETIMEDOUT: a thread did not
 * stop in time (*ret_stuck_tid), and every thread was let go. */
int sa_freeze(pid_t pid, int pidfd, struct sa_freeze **ret, pid_t *ret_stuck_tid);
void sa_thaw(struct sa_freeze *f);
bool sa_freeze_auto_allowed(pid_t pid);

/* ---------------------------------------------------------------- KSM */

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

/* source-ksm.c: KSM's books, read. */

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

/* ksm.c: the audit's KSM checks (unless SMAPSAUDIT_AUDIT_NO_KSM): fills r->ksm, adds findings and notes. */
int sa_ksm_audit(struct smapsaudit_ctx *ctx, pid_t pid, struct smapsaudit_report *r);

/* ksm-report.c: ksm_stat as JSON, under the kernel's names, and back. */
struct json_object *sa_ksm_stat_json(const struct sa_ksm_stat *s);
void sa_ksm_stat_from_json(struct json_object *o, struct sa_ksm_stat *ret);

/* The rest of `smapsaudit ksm` is lib/ksm.h's and lib/ksm-coverage.h's. */
