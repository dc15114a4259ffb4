/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The report: what a pass found, VMA by VMA and in total, and what the KSM
 * checks found (report.c); written as JSON or text and read back from JSON
 * (report-json.c, report-text.c, report-parse.c). Nothing here judges.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "account.h"
#include "fields.h"
#include "kernel.h"
#include "macro.h"
#include "smapsaudit.h"
#include "sources.h"
#include "walk.h"

struct sa_field_cmp {
        uint64_t kernel_kb;
        uint64_t walk_lo_kb, walk_hi_kb;
        enum smapsaudit_verdict verdict;
        bool judged;             /* kernel value stable and compared */
};

struct sa_vma_report {
        struct sa_smaps_vma kernel;     /* owns kernel.name */
        struct sa_acc walk;
        unsigned tags;
        enum smapsaudit_verdict verdict;
        bool stable;
        struct sa_field_cmp cmp[SA_PRIVATE + 1]; /* the fields smaps has per VMA */
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

/*
 * report-json-vmas.c: the "vmas" array of the JSON report, written to f one
 * VMA at a time as json-c prints an array at level with flags; and which
 * VMAs a compact report has in it.
 */
int sa_report_write_json_vmas(const struct smapsaudit_report *r, bool compact, int level, int flags, FILE *f);
bool sa_report_vma_in_json(const struct sa_vma_report *v, bool compact);

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
