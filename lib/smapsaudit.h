/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libsmapsaudit: recompute a process's memory accounting from pagemap,
 * kpageflags and kpagecount, and compare it with what the kernel reports
 * in smaps, smaps_rollup, status and numa_maps.
 *
 * Every function that can fail returns a negative errno. Objects are
 * reference counted (ref/unref), like libkmod's.
 */
#ifndef SMAPSAUDIT_H
#define SMAPSAUDIT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct smapsaudit_ctx;
struct smapsaudit_report;

/* Context: where procfs and sysfs are, and how audits are run. */
int smapsaudit_ctx_new(struct smapsaudit_ctx **ret);
struct smapsaudit_ctx *smapsaudit_ctx_ref(struct smapsaudit_ctx *ctx);
struct smapsaudit_ctx *smapsaudit_ctx_unref(struct smapsaudit_ctx *ctx);
/* Default "/proc" and "/sys". Anything else is read as captured files. */
int smapsaudit_ctx_set_proc_root(struct smapsaudit_ctx *ctx, const char *dir);
int smapsaudit_ctx_set_sys_root(struct smapsaudit_ctx *ctx, const char *dir);
const char *smapsaudit_ctx_get_proc_root(const struct smapsaudit_ctx *ctx);
const char *smapsaudit_ctx_get_sys_root(const struct smapsaudit_ctx *ctx);
/* Kernel release read below the proc root (sys/kernel/osrelease). */
const char *smapsaudit_ctx_get_kernel_release(struct smapsaudit_ctx *ctx);

/* A file of process pid opened elsewhere, e.g. under a caller's credentials: the context reads
 * pid's name ("smaps", "smaps_rollup", "numa_maps", "pagemap", "ksm_stat", "ksm_merging_pages")
 * from its own duplicate of fd instead of opening it, and from then on refuses (-EACCES) to open
 * any of these files for another PID. Such a file stays bound to the address space it was
 * opened on: after an exec it reads as empty. */
int smapsaudit_ctx_bind_pid_file(struct smapsaudit_ctx *ctx, pid_t pid, const char *name, int fd);

/* What the last failed call of this context could not do, naming the PID
 * and the file ("PID 1: cannot open /proc/1/pagemap: Permission denied"),
 * or NULL. */
const char *smapsaudit_ctx_get_error(const struct smapsaudit_ctx *ctx);

/* Log sink; default: messages at or above LOG_WARNING to stderr. LOG_NOTICE says
 * what a long wait waits for (ksmd's full scans) and how long it may last. */
typedef void (*smapsaudit_log_fn)(void *userdata, int priority, const char *msg);
void smapsaudit_ctx_set_log_fn(struct smapsaudit_ctx *ctx, smapsaudit_log_fn fn, void *userdata);
void smapsaudit_ctx_set_log_priority(struct smapsaudit_ctx *ctx, int priority);

/* Called after each VMA a pass walks, and every 128 MiB inside one, so that
 * long audits can report progress or be cancelled: pages_done of the
 * pages_total (4 KiB pages of address space) that this pass walks; pass
 * counts from 0. A negative return aborts the audit with that errno. */
typedef int (*smapsaudit_progress_fn)(void *userdata, pid_t pid, unsigned pass,
                                      uint64_t pages_done, uint64_t pages_total);

enum smapsaudit_audit_flags {
        SMAPSAUDIT_AUDIT_FREEZE   = 1u << 0, /* stop the target with ptrace for an exact snapshot */
        SMAPSAUDIT_AUDIT_NO_SCAN  = 1u << 1, /* ignore PAGEMAP_SCAN, read pagemap (testing, old kernels) */
        SMAPSAUDIT_AUDIT_FAST     = 1u << 2, /* no PFN join: fields that need kpageflags become ranges */
        SMAPSAUDIT_AUDIT_NO_KSM   = 1u << 3, /* skip the per-process KSM checks (ksm_stat) */
        /* Stop with -ESTALE when the target execs, instead of auditing its new program: what
         * was granted for one image (smapsaudit_ctx_bind_pid_file) never extends to the next. */
        SMAPSAUDIT_AUDIT_NO_FOLLOW_EXEC = 1u << 4,
        /* stop the target briefly, only to settle what churn left undecided: root only, never a
         * traced or stopped target, at most 50 ms of stop per audit */
        SMAPSAUDIT_AUDIT_FREEZE_AUTO = 1u << 5,
};

struct smapsaudit_audit_opts {
        unsigned flags;              /* enum smapsaudit_audit_flags */
        unsigned max_passes;         /* sandwich passes before "inconclusive"; 0: default (5) */
        smapsaudit_progress_fn progress;
        void *progress_userdata;
};

/* Audit one process. On success *ret holds a report even when the verdict
 * is a discrepancy. -ESRCH: no such process, or it exited during the audit
 * (see smapsaudit_report_get_error for the latter). */
int smapsaudit_audit_pid(struct smapsaudit_ctx *ctx, pid_t pid,
                         const struct smapsaudit_audit_opts *opts,
                         struct smapsaudit_report **ret);

/* Copy the accounting state of a process below dir (proc/ and sys/), such
 * that auditing it with proc root dir/proc and sys root dir/sys reproduces
 * the report offline. */
int smapsaudit_capture_pid(struct smapsaudit_ctx *ctx, pid_t pid, const char *dir);
/* The same; opts->flags may hold SMAPSAUDIT_AUDIT_FREEZE (stop pid while it is copied) or
 * SMAPSAUDIT_AUDIT_FREEZE_AUTO (stop it only when it keeps changing, as root). A process that
 * does not hold still for a copy within 25 s fails with -EAGAIN, and a failed capture leaves
 * dir empty. */
int smapsaudit_capture_pid_opts(struct smapsaudit_ctx *ctx, pid_t pid, const char *dir,
                                const struct smapsaudit_audit_opts *opts);

enum smapsaudit_verdict {
        SMAPSAUDIT_CONSISTENT,
        SMAPSAUDIT_UNDER_ACCOUNTED,
        SMAPSAUDIT_OVER_ACCOUNTED,
        SMAPSAUDIT_INCONCLUSIVE,
};
const char *smapsaudit_verdict_to_string(enum smapsaudit_verdict v);
/* diff(1)-like exit status: 0 consistent, 1 discrepancy, 3 inconclusive. */
int smapsaudit_verdict_to_exit_status(enum smapsaudit_verdict v);

/* Tags, as bits; names as in the JSON report. */
enum smapsaudit_tag {
        SMAPSAUDIT_TAG_PROT_NONE     = 1u << 0,
        SMAPSAUDIT_TAG_NUMA_HINTED   = 1u << 1,
        SMAPSAUDIT_TAG_THP           = 1u << 2,
        SMAPSAUDIT_TAG_KSM           = 1u << 3,
        SMAPSAUDIT_TAG_KSM_MERGEABLE = 1u << 4,
        SMAPSAUDIT_TAG_SHMEM         = 1u << 5,
        SMAPSAUDIT_TAG_FILE          = 1u << 6,
        SMAPSAUDIT_TAG_HUGETLB       = 1u << 7,
};
/* Writes "prot_none,thp" style lists; returns the length or -ENOBUFS. */
int smapsaudit_tags_format(unsigned tags, char *buf, size_t size, char sep);

struct smapsaudit_finding {
        enum smapsaudit_verdict kind; /* UNDER_ACCOUNTED or OVER_ACCOUNTED */
        const char *field;            /* the kernel's key: "Rss", "AnonHugePages", ... */
        const char *source;           /* "smaps", "smaps_rollup", "status", "numa_maps", "ksm_stat" */
        uint64_t vma_start, vma_end;  /* both 0 for process-wide findings */
        int64_t kernel_kb;
        int64_t walk_kb;              /* the walk's value (nearest bound for ranges) */
        int64_t delta_kb;             /* kernel_kb - walk_kb: negative when under-accounted */
        unsigned tags;
        const char *explanation;
};

struct smapsaudit_report *smapsaudit_report_ref(struct smapsaudit_report *r);
struct smapsaudit_report *smapsaudit_report_unref(struct smapsaudit_report *r);
pid_t smapsaudit_report_get_pid(const struct smapsaudit_report *r);
const char *smapsaudit_report_get_comm(const struct smapsaudit_report *r);
/* The systemd unit of the process ("postgresql.service"), and its cgroup path, read when it was
 * audited; NULL when unknown (a capture of an older version), and the unit NULL for a cgroup of
 * no unit. */
const char *smapsaudit_report_get_unit(const struct smapsaudit_report *r);
const char *smapsaudit_report_get_cgroup(const struct smapsaudit_report *r);
/* The systemd unit of a live process (or of one in a capture) from its cgroup, as the reports
 * name it, and, when ret_user_unit is not NULL, its user unit below a user@UID.service (NULL when
 * there is none). Both malloc()ed, NULL when the cgroup names none. -ENOENT: no such process. */
int smapsaudit_pid_unit(struct smapsaudit_ctx *ctx, pid_t pid, char **ret_unit, char **ret_user_unit);
enum smapsaudit_verdict smapsaudit_report_get_verdict(const struct smapsaudit_report *r);
/* Non-NULL when the audit ended early (e.g. "process exited"). */
const char *smapsaudit_report_get_error(const struct smapsaudit_report *r);
size_t smapsaudit_report_get_n_findings(const struct smapsaudit_report *r);
const struct smapsaudit_finding *smapsaudit_report_get_finding(const struct smapsaudit_report *r, size_t i);
/* Tags of all VMAs together; the heavier ones are audited first by sweeps. */
unsigned smapsaudit_report_get_tags(const struct smapsaudit_report *r);
uint64_t smapsaudit_report_get_rss_kb(const struct smapsaudit_report *r);
/* Audit cost, for budgets: CPU time spent in microseconds. */
uint64_t smapsaudit_report_get_cpu_usec(const struct smapsaudit_report *r);

enum smapsaudit_report_flags {
        SMAPSAUDIT_REPORT_ALL_VMAS   = 1u << 0, /* text: every VMA, not only the disagreeing ones */
        SMAPSAUDIT_REPORT_NO_PFNS    = 1u << 1, /* never print physical frame numbers */
        SMAPSAUDIT_REPORT_PRETTY     = 1u << 2, /* JSON: indented */
        SMAPSAUDIT_REPORT_COLOR      = 1u << 3,
        SMAPSAUDIT_REPORT_COMPACT    = 1u << 4, /* JSON: VMAs only where something disagreed or stayed open */
};
/* JSON (schema smapsaudit.report/1); *ret is malloc()ed. */
int smapsaudit_report_to_json(const struct smapsaudit_report *r, unsigned flags, char **ret);
/* The same JSON written to f as it is made, without the whole document in memory: -EIO when f fails. */
int smapsaudit_report_write_json(const struct smapsaudit_report *r, unsigned flags, FILE *f);
int smapsaudit_report_print_text(const struct smapsaudit_report *r, FILE *f, unsigned flags);
/* A JSON report (e.g. from smapsauditd) as a report object again. */
int smapsaudit_report_from_json(const char *json, struct smapsaudit_report **ret);

/* Processes with an mm, largest first; kernel threads skipped. */
struct smapsaudit_proc {
        pid_t pid;
        uint64_t start_time;   /* clock ticks since boot, for PID reuse checks */
        uint64_t rss_kb;
        uint64_t anon_huge_kb; /* hints for scheduling: 0 when unknown */
        char comm[64];
};
/* Live: the processes that have memory, largest first. Below a capture's proc root: every PID
 * directory, by PID. */
int smapsaudit_list_processes(struct smapsaudit_ctx *ctx, struct smapsaudit_proc **ret, size_t *n);

/* Deprecated: it cannot know the caller's groups, so it answers only for root and holders of
 * CAP_SYS_PTRACE (1) and -EPERM for anyone else. Let the kernel decide instead: open the
 * process's smaps with the caller's credentials (smapsaudit_ctx_bind_pid_file). */
int smapsaudit_may_audit(struct smapsaudit_ctx *ctx, pid_t pid, uid_t caller_euid, bool caller_cap_sys_ptrace);

const char *smapsaudit_version(void);

/*
 * KSM: its per-process counters (/proc/PID/ksm_stat), its global ones
 * (/sys/kernel/mm/ksm) and the KSM pages the page tables map, held against
 * each other; optionally merge coverage: pages of mergeable VMAs with
 * identical content that ksmd left unmerged across two full scans.
 */
enum smapsaudit_ksm_flags {
        SMAPSAUDIT_KSM_COVERAGE = 1u << 0, /* read and hash the pages of mergeable VMAs (costly, waits for ksmd) */
        SMAPSAUDIT_KSM_PRETTY   = 1u << 1, /* JSON: indented */
        SMAPSAUDIT_KSM_TEXT     = 1u << 2, /* a text for people instead of JSON */
};

struct smapsaudit_ksm_opts {
        unsigned flags;          /* enum smapsaudit_ksm_flags */
        uint64_t max_pages;      /* pages walked, and pages hashed for coverage, per run; 0: defaults */
        unsigned max_wait_msec;  /* the longest wait for ksmd's full scans; 0: default (60 s) */
};

/* pid 0: the global invariants, and those of every process with KSM activity; pid > 0: that
 * process's. Returns the verdict (enum smapsaudit_verdict, >= 0) with the result in *ret
 * (JSON, schema smapsaudit.ksm/1, or text; malloc()ed), or a negative errno: -ESRCH no such
 * process, -EOPNOTSUPP a kernel without KSM. */
int smapsaudit_ksm_check(struct smapsaudit_ctx *ctx, pid_t pid, unsigned flags, char **ret);
int smapsaudit_ksm_check_opts(struct smapsaudit_ctx *ctx, pid_t pid, const struct smapsaudit_ksm_opts *opts, char **ret);
/* For a capture below dir: the hashes of pid's mergeable pages, read twice across ksmd's full
 * scans, into dir/proc/PID/smapsaudit-ksm-hashes, so that a replay can judge coverage. */
int smapsaudit_ksm_capture(struct smapsaudit_ctx *ctx, pid_t pid, const char *dir, const struct smapsaudit_ksm_opts *opts);

#ifdef __cplusplus
}
#endif
#endif
