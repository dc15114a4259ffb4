/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "events.h"
#include "inflight.h"
#include "procfs.h"
#include "sources.h"

struct smapsaudit_report;

/*
 * The per-process files an audit reads and a capture copies, in one table:
 * what each is read for, and through which thread of the process.
 */
enum sa_pid_view {
        SA_VIEW_SMAPS,
        SA_VIEW_ROLLUP,
        SA_VIEW_STATUS,
        SA_VIEW_NUMA_MAPS,
        SA_VIEW_KSM_STAT,
        SA_VIEW_KSM_MERGING,
        SA_VIEW_STAT,
        SA_VIEW_SCHED,
        SA_VIEW_MAPS,
        SA_VIEW_COMM,
        SA_VIEW_CGROUP,
        _SA_VIEW_MAX,
};

enum {
        SA_VIEW_AROUND = 1u << 0,  /* read on both sides of the walk: their equality says the target held still */
        SA_VIEW_MIDDLE = 1u << 1,  /* read once a pass, between the two reads of the views around the walk */
        SA_VIEW_SETTLED = 1u << 2, /* a capture keeps the copy read in its settled window, beside smaps */
        SA_VIEW_LEADER = 1u << 3,  /* names the process: read through its leader, never through another thread */
};

struct sa_pid_file {
        const char *name;
        unsigned flags;
};
extern const struct sa_pid_file sa_pid_files[_SA_VIEW_MAX];

/* What one pass reads of the target, on one side of its walk (or, for the rollup and numa_maps, in it). */
struct sa_views {
        struct sa_smaps smaps;
        struct sa_smaps rollup;
        struct sa_status status;
        bool have_status;
        struct sa_numa_maps numa;
        bool have_numa;
        bool smaps_borrowed;      /* smaps and status are the first views' (sa_views_counters): not owned */
        struct sa_population population;     /* forks and exits elsewhere move shared pages' mapcounts */
        struct sa_population population_end; /* the same, after the smaps and status reads */
        uint64_t faults;          /* the target's minflt + majflt */
        uint64_t rollup_faults_before, rollup_faults_after; /* around the rollup read */
        struct sa_events ev_start, ev_end; /* what could change the pages, before and after these reads */
        struct sa_events ev_rollup;        /* the same, just before the rollup read */
        bool have_rollup;         /* rollup and numa_maps are read once a pass, between the two smaps reads */
        struct sa_inflight inflight_before, inflight_after; /* the threads, before the smaps read and after status */
};

/* Whose files are read, and where reading them leaves notes and errors. */
struct sa_view_src {
        struct smapsaudit_ctx *ctx;
        pid_t pid;
        pid_t mm_pid;                /* whose /proc directory shows the mm: pid, or a live thread (sa_mm_pid) */
        struct smapsaudit_report *r;
        uint64_t inflight_wait_usec; /* left of the time to wait for an exec or unmap to end before a read */
};

/* /proc/PID/stat, sched and comm (the leader's name, without its newline into buf). */
int sa_views_read_stat(struct smapsaudit_ctx *ctx, pid_t pid, struct sa_stat *ret);
/* The target is gone (its pidfd says it exited), or its PID now names another process (its start time). */
bool sa_views_target_gone(struct smapsaudit_ctx *ctx, pid_t pid, int pidfd, uint64_t start_time);
int sa_views_read_sched(struct smapsaudit_ctx *ctx, pid_t pid, struct sa_sched_numa *ret);
int sa_views_read_comm(struct smapsaudit_ctx *ctx, pid_t pid, char *buf, size_t size);

/* smaps and status with the counters around them: the views on each side of the walk. */
int sa_views_read(struct sa_view_src *s, struct sa_views *v);
/* smaps_rollup and numa_maps, as asked: each is a page-table walk in the kernel, read once a pass. */
int sa_views_read_middle(struct sa_view_src *s, struct sa_views *v, bool rollup, bool numa);
/*
 * The second views when the walk and the middle views agreed exactly with
 * the first: only the counters are read again, smaps and status are the
 * first views' (borrowed; first must outlive v).
 */
void sa_views_counters(struct sa_view_src *s, const struct sa_views *first, struct sa_views *v);
/* smaps alone, read now; -ENODATA when it cannot be read or parsed. */
int sa_views_read_smaps(struct sa_view_src *s, struct sa_smaps *ret);
/* The middle views of a pass moved into the views read after them; or only shown beside them (not owned). */
void sa_views_take_middle(struct sa_views *v, struct sa_views *middle);
void sa_views_set_middle(struct sa_views *v, const struct sa_views *middle);
void sa_views_done(struct sa_views *v);

/* Forks or exits happened between the start of A and the end of B. */
bool sa_views_population_moved(const struct sa_views *A, const struct sa_views *B);
