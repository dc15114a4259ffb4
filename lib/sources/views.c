/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Every kernel view of one process that a pass reads, through the table of
 * per-process files that capture.c copies too (in the table's order). Reading only: what the views
 * say is judged elsewhere (judge/).
 */
#include <inttypes.h>

#include "ctx.h"
#include "pidfd-util.h"
#include "report.h"
#include "views.h"

const struct sa_pid_file sa_pid_files[_SA_VIEW_MAX] = {
        [SA_VIEW_SMAPS] = { "smaps", SA_VIEW_AROUND },
        [SA_VIEW_ROLLUP] = { "smaps_rollup", SA_VIEW_MIDDLE | SA_VIEW_SETTLED },
        [SA_VIEW_STATUS] = { "status", SA_VIEW_AROUND | SA_VIEW_SETTLED },
        [SA_VIEW_NUMA_MAPS] = { "numa_maps", SA_VIEW_MIDDLE | SA_VIEW_SETTLED },
        [SA_VIEW_KSM_STAT] = { "ksm_stat", 0 },
        [SA_VIEW_KSM_MERGING] = { "ksm_merging_pages", 0 },
        [SA_VIEW_STAT] = { "stat", SA_VIEW_LEADER },
        [SA_VIEW_SCHED] = { "sched", 0 },
        [SA_VIEW_MAPS] = { "maps", 0 },
        [SA_VIEW_COMM] = { "comm", SA_VIEW_LEADER },
        [SA_VIEW_CGROUP] = { "cgroup", SA_VIEW_LEADER },
};

void sa_views_done(struct sa_views *v) {
        if (!v->smaps_borrowed)
                sa_smaps_done(&v->smaps);
        sa_smaps_done(&v->rollup);
        sa_numa_maps_done(&v->numa);
        memset(v, 0, sizeof(*v));
}

bool sa_views_population_moved(const struct sa_views *A, const struct sa_views *B) {
        return A->population.forks != B->population_end.forks || A->population.tasks != B->population_end.tasks;
}

static const char *file(enum sa_pid_view v) {
        return sa_pid_files[v].name;
}

int sa_views_read_stat(struct smapsaudit_ctx *ctx, pid_t pid, struct sa_stat *ret) {
        _cleanup_free_ char *buf = NULL;
        int r;

        r = sa_read_pid_file(ctx, pid, file(SA_VIEW_STAT), &buf, NULL);
        return r < 0 ? r : sa_stat_parse(buf, ret);
}

bool sa_views_target_gone(struct smapsaudit_ctx *ctx, pid_t pid, int pidfd, uint64_t start_time) {
        struct sa_stat st;

        if (pidfd_exited(pidfd))
                return true;
        if (!sa_ctx_live(ctx))
                return false;
        return sa_views_read_stat(ctx, pid, &st) < 0 || st.start_time != start_time;
}

int sa_views_read_sched(struct smapsaudit_ctx *ctx, pid_t pid, struct sa_sched_numa *ret) {
        _cleanup_free_ char *buf = NULL;
        int r;

        r = sa_read_pid_file(ctx, pid, file(SA_VIEW_SCHED), &buf, NULL);
        return r < 0 ? r : sa_sched_parse(buf, ret);
}

int sa_views_read_comm(struct smapsaudit_ctx *ctx, pid_t pid, char *buf, size_t size) {
        _cleanup_free_ char *comm = NULL;
        int r;

        r = sa_read_pid_file(ctx, pid, file(SA_VIEW_COMM), &comm, NULL);
        if (r < 0)
                return r;
        comm[strcspn(comm, "\n")] = 0;
        snprintf(buf, size, "%s", comm);
        return 0;
}

/*
 * The views read on both sides of the walk: per-VMA smaps and status, whose
 * equality says the target held still. Each smaps read is a full page
 * table walk in the kernel, so the rollup and numa_maps are read once a
 * pass, inside that window (sa_views_read_middle), not on both sides.
 */
int sa_views_read(struct sa_view_src *s, struct sa_views *v) {
        _cleanup_free_ char *buf = NULL;
        int r;

        memset(v, 0, sizeof(*v));
        sa_inflight_settle(s->ctx, s->pid, &s->inflight_wait_usec, &v->inflight_before);
        sa_read_population(s->ctx, &v->population);
        sa_events_read(s->ctx, s->mm_pid, &v->ev_start);
        v->faults = v->ev_start.faults;
        r = sa_read_pid_file(s->ctx, s->mm_pid, file(SA_VIEW_SMAPS), &buf, NULL);
        if (r == -ENOENT || r == -ESRCH)
                return sa_error(s->ctx, -ESRCH, "PID %d: no such process (no %s/%d/smaps)", (int) s->pid,
                                smapsaudit_ctx_get_proc_root(s->ctx), (int) s->mm_pid);
        if (r < 0)
                return sa_error(s->ctx, r, "PID %d: cannot read %s/%d/smaps: %s", (int) s->pid, smapsaudit_ctx_get_proc_root(s->ctx),
                                (int) s->mm_pid, strerror(-r));
        r = sa_smaps_parse(buf, &v->smaps);
        if (r < 0)
                return sa_error(s->ctx, r, "PID %d: cannot parse smaps: %s", (int) s->pid, strerror(-r));

        /* a missing file is an old or odd kernel; one that says nothing sensible is a broken capture */
        r = sa_status_read(s->ctx, s->mm_pid, &v->status);
        if (r == -EBADMSG)
                return sa_error(s->ctx, r, "PID %d: %s/%d/status is not a status file (empty, cut short, or "
                                "without Name, Uid or Threads)", (int) s->pid, smapsaudit_ctx_get_proc_root(s->ctx), (int) s->mm_pid);
        v->have_status = r >= 0;
        if (!v->have_status)
                sa_report_note(s->r, "status not readable: its counters are not compared");
        sa_read_population(s->ctx, &v->population_end);
        sa_events_read(s->ctx, s->mm_pid, &v->ev_end);
        sa_inflight_sample(s->ctx, s->pid, &v->inflight_after);
        return 0;
}

void sa_views_counters(struct sa_view_src *s, const struct sa_views *first, struct sa_views *v) {
        memset(v, 0, sizeof(*v));
        sa_inflight_sample(s->ctx, s->pid, &v->inflight_before);
        sa_read_population(s->ctx, &v->population);
        sa_events_read(s->ctx, s->mm_pid, &v->ev_start);
        v->faults = v->ev_start.faults;
        v->smaps = first->smaps;
        v->smaps_borrowed = true;
        v->status = first->status;
        v->have_status = first->have_status;
        v->population_end = v->population;
        v->ev_end = v->ev_start;
        v->inflight_after = v->inflight_before;
}

int sa_views_read_smaps(struct sa_view_src *s, struct sa_smaps *ret) {
        _cleanup_free_ char *buf = NULL;

        if (sa_read_pid_file(s->ctx, s->mm_pid, file(SA_VIEW_SMAPS), &buf, NULL) < 0 || sa_smaps_parse(buf, ret) < 0) {
                sa_smaps_done(ret);
                return -ENODATA;
        }
        return 0;
}

/*
 * A view read between the smaps reads. Empty from a live process: its mm
 * went away, it is exiting. Unparseable: the file is broken (a capture),
 * and nothing said about it could be trusted.
 */
static int parse_middle_view(struct sa_view_src *s, enum sa_pid_view which, const char *buf, size_t len, void *ret,
                             int (*parse)(const char *buf, void *ret)) {
        int r;

        if (len == 0 && sa_ctx_live(s->ctx))
                return -ESRCH;
        r = parse(buf, ret);
        if (r < 0)
                return sa_error(s->ctx, r, "PID %d: cannot parse %s/%d/%s: %s", (int) s->pid, smapsaudit_ctx_get_proc_root(s->ctx),
                                (int) s->mm_pid, file(which), strerror(-r));
        return 0;
}

static int parse_rollup(const char *buf, void *ret) {
        return sa_smaps_parse(buf, ret);
}

static int parse_numa_maps(const char *buf, void *ret) {
        return sa_numa_maps_parse(buf, ret);
}

/* Only what is still undecided: each of these is a page-table walk in the kernel. */
int sa_views_read_middle(struct sa_view_src *s, struct sa_views *v, bool rollup, bool numa) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        struct sa_stat st;
        int r;

        v->have_rollup = rollup;
        sa_events_read(s->ctx, s->mm_pid, &v->ev_rollup);
        v->rollup_faults_before = v->ev_rollup.faults;
        if (rollup && sa_read_pid_file(s->ctx, s->mm_pid, file(SA_VIEW_ROLLUP), &buf, &len) >= 0) {
                r = parse_middle_view(s, SA_VIEW_ROLLUP, buf, len, &v->rollup, parse_rollup);
                if (r < 0)
                        return r;
        } else if (rollup)
                sa_report_note(s->r, "smaps_rollup not readable: the rollup is not compared");
        free(TAKE_PTR(buf));
        if (sa_views_read_stat(s->ctx, s->mm_pid, &st) >= 0)
                v->rollup_faults_after = st.faults;

        /* nothing to hold numa_maps against without the PFN → node map */
        if (!numa || !(s->r->walk_mode & SA_WALK_NODES))
                return 0;
        if (sa_read_pid_file(s->ctx, s->mm_pid, file(SA_VIEW_NUMA_MAPS), &buf, &len) < 0) {
                sa_report_note(s->r, "numa_maps not readable (kernel without CONFIG_NUMA?): nodes are not compared");
                return 0;
        }
        r = parse_middle_view(s, SA_VIEW_NUMA_MAPS, buf, len, &v->numa, parse_numa_maps);
        if (r < 0)
                return r;
        v->have_numa = true;
        return 0;
}

void sa_views_set_middle(struct sa_views *v, const struct sa_views *middle) {
        v->rollup = middle->rollup;
        v->numa = middle->numa;
        v->have_numa = middle->have_numa;
        v->have_rollup = middle->have_rollup;
        v->rollup_faults_before = middle->rollup_faults_before;
        v->ev_rollup = middle->ev_rollup;
        v->rollup_faults_after = middle->rollup_faults_after;
}

void sa_views_take_middle(struct sa_views *v, struct sa_views *middle) {
        sa_views_set_middle(v, middle);
        *middle = (struct sa_views) {};
}
