/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the files of `smapsaudit ksm` share and nobody else sees. The data
 * flows: source-ksm.c reads KSM's books; ksm-snapshot.c reads every process
 * (its counters, and its mergeable VMAs walked) in one round, and
 * ksm-rounds.c repeats the rounds; ksm-invariants.c holds the numbers
 * against each other; ksm-report.c prints the result;
 * ksm.c is the API on top. Merge coverage has its own header,
 * ksm-coverage.h.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "report.h"
#include "sources.h"
#include "walk.h"

struct json_object;

/* sizeof(struct ksm_rmap_item) on 64-bit kernels, 6.1 to 6.18 (mm/ksm.c) */
#define SA_KSM_RMAP_ITEM_SIZE 64
#define SA_KSM_GLOBAL_INVS 5

/* ---------------------------------------------------------------- the walk's view (ksm-snapshot.c) */

/* What a page is to KSM. A capture's hashes file stores these numbers: never renumber them. */
enum sa_ksm_page {
        SA_KSM_PAGE_NONE,   /* not present (or not seen) */
        SA_KSM_PAGE_PLAIN,  /* present, and not KSM */
        SA_KSM_PAGE_KSM,
        SA_KSM_PAGE_ZERO,   /* the zero page */
};
enum sa_ksm_page sa_ksm_page_of(const struct sa_page *p);
/* Not present, but swapped or migrating: a KSM page may hide there (a page in flight). */
bool sa_ksm_page_in_flight(const struct sa_page *p);
/* VmFlags mg, below TASK_SIZE: where ksmd looks. */
bool sa_ksm_vma_mergeable(const struct sa_smaps_vma *v);
void sa_ksm_read_comm(struct smapsaudit_ctx *ctx, pid_t pid, char *comm, size_t size);

/* ---------------------------------------------------------------- invariants (ksm-invariants.c) */

/* Which way a difference between the two sides of an invariant may go. */
enum sa_ksm_dir {
        SA_KSM_ALLOWED,  /* a difference this way is normal */
        SA_KSM_STRICT,   /* impossible on a correct kernel */
        SA_KSM_SETTLES,  /* normal until ksmd has made a full scan */
};

struct sa_ksm_inv {
        const char *name;
        const char *field, *source;   /* the counter a violation implicates, and the view printing it */
        const char *other_name;       /* what it is held against */
        const char *unit;             /* "pages", "kB", "bytes" */
        pid_t pid;                    /* 0: global */
        int64_t kernel, other;
        int64_t tol_over, tol_under;  /* pages in flight either way */
        enum sa_ksm_dir over, under;  /* kernel > other, kernel < other */
        enum sa_ksm_verdict settle;   /* SA_KSM_LAG or SA_KSM_STALE */
        bool judgeable, stable;
        const char *why_not;
        const char *why_over, *why_under;
        /* resolution */
        int dir;
        bool candidate;
        enum sa_ksm_verdict verdict;
        const char *note;
};

struct sa_ksm_env {
        int64_t page_size, rmap_item_size;
};

/* What a process's counters and walk say, as one round read them. */
struct sa_ksm_proc {
        pid_t pid;
        char comm[64];
        struct sa_ksm_stat stat;      /* the read after the walk */
        bool gone;
        bool active;                  /* mergeable, or any KSM counter not 0 */
        bool stat_stable;             /* ksm_stat read the same before and after the walk */
        bool walked;                  /* every mergeable VMA walked with the PFN join */
        bool smaps_stable;            /* smaps KSM of the mergeable VMAs unchanged across the walk */
        bool have_smaps_ksm;
        const char *not_walked;
        uint64_t mergeable_vmas, present_pages, ksm_pages, zero_pages, swap_pages;
        uint64_t smaps_ksm_kb;
};

struct sa_ksm_pfn {
        uint64_t pfn, kpc;
};

/* One round: the globals around a reading of the processes. */
struct sa_ksm_snap {
        struct sa_ksm_globals g0, g1;  /* before and after the processes were read */
        bool stable;
        bool global;                   /* global invariants wanted (pid 0) */
        bool all_processes;            /* the system's processes, not a capture's few */
        bool complete;                 /* ... every one read, every active one walked */
        bool capped;
        struct sa_ksm_proc *procs;
        size_t n_procs;
        struct sa_ksm_pfn *pfns;
        size_t n_pfns, cap_pfns;
        uint64_t walked_pages;
        uint64_t n_active;
        /* sums */
        uint64_t sum_merging, sum_rmap, sum_ksm_pages, sum_swap, sum_unscanned;
        int64_t sum_zero;
        uint64_t distinct_pfns, sum_kpc;
        bool have_merging, have_rmap, have_zero;
};

void sa_ksm_env_init(struct smapsaudit_ctx *ctx, struct sa_ksm_env *env);
/* The rule for the direction the difference went. */
enum sa_ksm_dir sa_ksm_inv_rule(const struct sa_ksm_inv *v);
const char *sa_ksm_inv_relation(const struct sa_ksm_inv *v);
/* One side of an invariant in kB, as findings carry it. */
int64_t sa_ksm_inv_kb(const struct sa_ksm_inv *v, int64_t x, int64_t page_size);
/* One round's judgement: a difference that needs confirming becomes a candidate. */
void sa_ksm_inv_judge(struct sa_ksm_inv *v, bool ksmd_running);
void sa_ksm_inv_confirm(struct sa_ksm_inv *cur, const struct sa_ksm_inv *prev, bool scanned_between, bool cow_between);
void sa_ksm_inv_finish(struct sa_ksm_inv *v);
/* Fill out[] (at most SA_KSM_PROC_INVS, SA_KSM_GLOBAL_INVS) and return how many. */
size_t sa_ksm_judge_process(const struct sa_ksm_proc *p, const struct sa_ksm_env *env, bool run_steady,
                            struct sa_ksm_inv *out);
size_t sa_ksm_judge_global(const struct sa_ksm_snap *s, const struct sa_ksm_env *env, struct sa_ksm_inv *out);
/* No counter the invariants sum moved between the two reads, and ksmd was not started, stopped or reset. */
bool sa_ksm_globals_stable(const struct sa_ksm_globals *a, const struct sa_ksm_globals *b);
/* ksmd was neither started nor stopped between the two reads. */
bool sa_ksm_run_steady(const struct sa_ksm_globals *a, const struct sa_ksm_globals *b);
bool sa_ksm_stat_equal(const struct sa_ksm_stat *a, const struct sa_ksm_stat *b);
/* Worth walking: mergeable, or any KSM counter not 0. */
bool sa_ksm_stat_active(const struct sa_ksm_stat *s);
/* The verdict of `smapsaudit ksm` over the invariants' final verdicts and merge coverage's. */
enum smapsaudit_verdict sa_ksm_verdict(const struct sa_ksm_inv *invs, size_t n, bool coverage_unmerged,
                                       bool coverage_unconfirmed);

/* ---------------------------------------------------------------- rounds (ksm-snapshot.c, ksm-rounds.c) */

struct sa_ksm_run {
        struct smapsaudit_ctx *ctx;
        uint64_t max_pages;           /* pages walked per round */
        uint64_t deadline;            /* sa_ksm_now_usec() */
        struct sa_ksm_env env;
};

struct sa_ksm_result {
        struct sa_ksm_snap snap;      /* the last stable round, else the last one */
        struct sa_ksm_inv *invs;
        size_t n_invs;
        unsigned rounds, stable_rounds;
        int64_t first_full_scans, last_full_scans;
        bool waited_out;
};

/* ksm-snapshot.c: one round's reading of pid (0: every process, and the globals). */
int sa_ksm_snap_take(struct sa_ksm_run *run, pid_t pid, struct sa_ksm_snap *s);
void sa_ksm_snap_done(struct sa_ksm_snap *s);
/* ksm-rounds.c. Whether the round has p's own invariants: every process asked for by PID, only the
 * active ones of the whole system. */
bool sa_ksm_snap_judges(const struct sa_ksm_snap *s, const struct sa_ksm_proc *p);
/* Rounds until every difference is confirmed, settled or the deadline passed. */
int sa_ksm_run_rounds(struct sa_ksm_run *run, pid_t pid, struct sa_ksm_result *res);
void sa_ksm_result_done(struct sa_ksm_result *res);

/* ---------------------------------------------------------------- a capture's first reading (ksm-hashes.c) */

/* A reading of a process's mergeable VMAs by merge coverage, as a capture's hashes file keeps it. */
struct sa_ksm_reading {
        bool done;
        bool walked;                  /* every VMA walked, and ksm_stat held still meanwhile */
        struct sa_ksm_stat stat;      /* read after the walk */
        uint64_t ksm_pages, zero_pages, swap_pages;
};

/* What a capture's smapsaudit-ksm-hashes file says of the process's first reading, and of the
 * globals around it: a replay confirms a difference that must outlive a full scan against it.
 * -ENOENT: no such file; -ENODATA: no first reading in it. */
struct sa_ksm_capture_reading {
        struct sa_ksm_reading reading;
        struct sa_ksm_globals before, after;
};
int sa_ksm_capture_readings(struct smapsaudit_ctx *ctx, pid_t pid, struct sa_ksm_capture_reading *ret);

/* ---------------------------------------------------------------- output (ksm-report.c) */

/* The smapsaudit.ksm/1 document: the violated invariants are added to findings (which may
 * hold coverage's already), and coverage (may be NULL) is taken over. */
struct json_object *sa_ksm_result_json(struct smapsaudit_ctx *ctx, const struct sa_ksm_result *res,
                                       const struct sa_ksm_env *env, pid_t pid, enum smapsaudit_verdict verdict,
                                       struct json_object *coverage, struct json_object *findings);
/* The same document for people. */
int sa_ksm_result_text(struct json_object *doc, char **ret);

/* ---------------------------------------------------------------- the audit's part (ksm.c) */

/* Unless SMAPSAUDIT_AUDIT_NO_KSM: fills r->ksm, adds findings and notes. */
int sa_ksm_audit(struct smapsaudit_ctx *ctx, pid_t pid, struct smapsaudit_report *r);
