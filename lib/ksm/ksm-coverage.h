/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Merge coverage, shared by its files: ksm-coverage.c reads the pages of
 * mergeable VMAs twice through /proc/PID/mem (ksm-coverage-replay.c from a
 * capture) into what ksm-coverage-set.c holds, and ksm-coverage-classes.c
 * groups identical content; ksm-coverage-judge.c decides which pages ksmd
 * should have merged; ksm-hashes.c keeps a reading in a capture;
 * ksm-report.c prints the result.
 */
#pragma once

#include "ksm.h"

#define SA_COV_REQUIRED_SCANS 2   /* complete full scans between the two readings */
#define SA_COV_SMART_SCANS 18     /* two visits of a page smart scan skips most: every 9th scan */

enum sa_cov_verdict {
        SA_COV_NOT_JUDGED,
        SA_COV_COMPLETE,
        SA_COV_UNCONFIRMED,
        SA_COV_UNMERGED,
        _SA_COV_VERDICT_MAX,
};

/* Why an unmerged page is only "unconfirmed". */
enum sa_cov_doubt {
        SA_COV_DOUBT_NONE,
        SA_COV_DOUBT_SMART_SCAN,
        SA_COV_DOUBT_COW,
};

/* What became of the pages read: of a VMA, or of them all. */
struct sa_cov_counts {
        uint64_t hashed;         /* read in the first reading */
        uint64_t changed;        /* content or frame not the same in the second */
        uint64_t candidates;     /* held still, and merged or identical to another page */
        uint64_t merged, unmerged, unconfirmed;
        uint64_t full;           /* identical, but every KSM page of that content is full */
};

struct sa_cov_vma {
        uint64_t start, end;
        char perms[5];
        uint64_t vmflags;
        /* results */
        unsigned tags;
        uint64_t pages, ksm_now;
        struct sa_cov_counts n;
        enum sa_cov_verdict verdict;
        enum sa_cov_doubt doubt;
};

struct sa_cov_proc {
        pid_t pid;
        char comm[64];
        struct sa_cov_vma *vmas;
        size_t n_vmas;
        int mem_fd;
        struct sa_ksm_reading reading[2];
};

/* One page of a mergeable VMA, as the two readings saw it (1: first, 2: second). */
struct sa_cov_page {
        uint32_t proc, vma;
        uint64_t addr;
        uint64_t pfn1, pfn2;
        uint64_t kpc2;           /* mappings of the frame at the second reading */
        uint64_t h1, h2;
        uint32_t cls;            /* identical content, byte-checked; 0: unique or not checked */
        int node;
        uint8_t st1, st2;        /* enum sa_ksm_page */
        bool read1, read2;
};

struct sa_ksm_coverage {
        struct smapsaudit_ctx *ctx;
        struct sa_cov_proc *procs;
        size_t n_procs;
        struct sa_cov_page *pages;   /* by process, VMA and address */
        size_t n_pages, cap_pages;
        uint64_t max_pages;
        bool capped, no_pfns, from_capture;
        /* before reading 1, after it, before reading 2, after it */
        struct sa_ksm_globals g[4];
        bool have_g;
        uint32_t n_classes;
        uint64_t zero_hash;
        /* evaluation */
        bool judged, smart_skipped, cow_moved;
        const char *why;
        struct sa_cov_counts n;
        uint64_t unverified;
};

/* ksm-coverage.c */
int sa_ksm_coverage_run(struct smapsaudit_ctx *ctx, const pid_t *pids, size_t n_pids,
                        const struct smapsaudit_ksm_opts *opts, struct sa_ksm_coverage **ret);

/* ksm-coverage-classes.c: identical content, byte-checked (live: /proc/PID/mem is read) */
/* One page of /proc/PID/mem at addr. */
int sa_cov_read_page(int fd, uint64_t addr, void *buf);
/* Classes for every group of equal hashes (all), or for those with a page not KSM yet. */
int sa_cov_assign_classes(struct sa_ksm_coverage *c, bool all);

/* ksm-coverage-replay.c: both readings from a capture. */
int sa_cov_replay_run(struct sa_ksm_coverage *c);

/* ksm-coverage-set.c */
/* A fast 64-bit hash of a page; equal hashes are then compared byte for byte. */
uint64_t sa_cov_page_hash(const void *page);
int sa_cov_new(struct smapsaudit_ctx *ctx, const pid_t *pids, size_t n, const struct smapsaudit_ksm_opts *o,
               struct sa_ksm_coverage **ret);
void sa_ksm_coverage_free(struct sa_ksm_coverage *c);
int sa_cov_add_vma(struct sa_cov_proc *p, uint64_t start, uint64_t end, const char *perms, uint64_t vmflags);
int sa_cov_push_page(struct sa_ksm_coverage *c, const struct sa_cov_page *pg);
/* The records of VMA vi of process pi: [*from, returned end). Records are sorted by process, VMA and
 * address, and so must the calls be: *from only moves on. */
size_t sa_cov_vma_records(const struct sa_ksm_coverage *c, uint32_t pi, uint32_t vi, size_t *from);
/* The record of addr among [*cursor, hi), and *cursor past it; the walk's batches come by address too. */
struct sa_cov_page *sa_cov_record_at(struct sa_ksm_coverage *c, size_t *cursor, size_t hi, uint64_t addr);

/* ksm-coverage-judge.c: no I/O */
/* Held still between the readings: same content, and the same frame unless it became KSM. */
bool sa_cov_unchanged(const struct sa_cov_page *p);
/* Full scans that started and ended between the two readings. */
int64_t sa_cov_complete_scans(const struct sa_ksm_coverage *c);
void sa_cov_evaluate(struct sa_ksm_coverage *c);
/* Whether a longer window would settle misses that smart scan leaves in doubt. */
bool sa_cov_smart_doubts(const struct sa_ksm_coverage *c);
/* Whether any VMA's verdict is unmerged, or unconfirmed. */
void sa_cov_summary(const struct sa_ksm_coverage *c, bool *unmerged, bool *unconfirmed);

/* ksm-hashes.c: DIR/proc/PID/smapsaudit-ksm-hashes */
int sa_ksm_hashes_write(const struct sa_ksm_coverage *c, const char *dir);
/* Process pi's file: -ENOENT if the capture has none. */
int sa_ksm_hashes_load(struct sa_ksm_coverage *c, uint32_t pi);

/* ksm-report.c: the "coverage" object; findings (one per VMA with unmerged pages) are added to
 * the array. */
struct json_object *sa_ksm_coverage_json(const struct sa_ksm_coverage *c, struct json_object *findings);
