/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Bug 6, /proc/kpageflags setting KPF_KSM on plain anonymous pages, and entry 7, the status RSS
 * counters lagging the page tables (a bound the audit respects, not a bug). Both measure the
 * kernel's views of a small shape directly, then audit it with the library, which must stay
 * silent: it knows both.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sys/mman.h>

#include "probe-internal.h"

#define PLAIN_PAGES 64
#define LAG_PAGES 60             /* fewer than the 64 fault events that make a 6.1 thread sync */
#define PM_PRESENT (UINT64_C(1) << 63)
#define PM_PFN_MASK ((UINT64_C(1) << 55) - 1)
#define KPF_ANON_BIT 12
#define KPF_KSM_BIT 21

/* The audit's verdict in the evidence; false (and the outcome an error) when it failed. */
static bool audit_into(struct probe_env *env, struct probe_outcome *o, pid_t pid) {
        _cleanup_(smapsaudit_report_unrefp) struct smapsaudit_report *rep = NULL;
        int r = smapsaudit_audit_pid(env->ctx, pid, &(struct smapsaudit_audit_opts) {}, &rep);

        if (r < 0) {
                outcome_set(o, PROBE_ERROR, "PID %d: audit failed: %s", (int) pid,
                            smapsaudit_ctx_get_error(env->ctx) ?: strerror(-r));
                return false;
        }
        json_object_object_add(outcome_evidence(o), "verdict", json_object_new_string(
                smapsaudit_verdict_to_string(smapsaudit_report_get_verdict(rep))));
        evidence_add_findings(o, rep, 0, 0);
        return true;
}

/* ---------------------------------------------------------------- 6: KPF_KSM on anonymous pages */

static void build_plain_anon(const void *arg, struct shape_info *info) {
        size_t len = PLAIN_PAGES * PROBE_PAGE;
        char *p = shape_map_aligned(len, PROBE_PAGE, MADV_NOHUGEPAGE);

        (void) arg;
        if (!p) {
                shape_fail(info, errno, "mmap of %zu kB: %s", len >> 10, strerror(errno));
                return;
        }
        shape_touch(p, len);
        info->start[0] = (uintptr_t) p;
        info->end[0] = (uintptr_t) p + len;
}

/* How many of [start, end)'s present pages have KPF_ANON and KPF_KSM. */
static int count_kpageflags(pid_t pid, uint64_t start, uint64_t end, unsigned *present, unsigned *anon,
                            unsigned *ksm) {
        _cleanup_close_ int pm = -1, kf = -1;
        char path[64];

        snprintf(path, sizeof(path), "/proc/%d/pagemap", (int) pid);
        pm = open(path, O_RDONLY | O_CLOEXEC);
        kf = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
        if (pm < 0 || kf < 0)
                return negative_errno();
        *present = *anon = *ksm = 0;
        for (uint64_t a = start; a < end; a += PROBE_PAGE) {
                uint64_t e, flags;

                if (pread(pm, &e, sizeof(e), (off_t) (a / PROBE_PAGE * sizeof(e))) != (ssize_t) sizeof(e))
                        return -EIO;
                if (!(e & PM_PRESENT) || !(e & PM_PFN_MASK))
                        continue;
                if (pread(kf, &flags, sizeof(flags), (off_t) ((e & PM_PFN_MASK) * sizeof(flags))) !=
                    (ssize_t) sizeof(flags))
                        return -EIO;
                (*present)++;
                *anon += (flags >> KPF_ANON_BIT) & 1;
                *ksm += (flags >> KPF_KSM_BIT) & 1;
        }
        return 0;
}

void probe_kpf_ksm(struct probe_env *env, struct probe_outcome *o) {
        struct shape_info info = {};
        json_object *ev = outcome_evidence(o);
        unsigned present = 0, anon = 0, ksm = 0;
        pid_t pid;
        int r;

        pid = probe_shape_start(o, build_plain_anon, NULL, &info);
        if (pid == 0)
                return;
        r = count_kpageflags(pid, info.start[0], info.end[0], &present, &anon, &ksm);
        if (r < 0) {
                outcome_set(o, PROBE_ERROR, "PID %d: cannot read its pagemap and /proc/kpageflags: %s", (int) pid,
                            strerror(-r));
                goto out;
        }
        json_object_object_add(ev, "pages_present", json_object_new_int((int) present));
        json_object_object_add(ev, "kpf_anon", json_object_new_int((int) anon));
        json_object_object_add(ev, "kpf_ksm", json_object_new_int((int) ksm));
        json_object_object_add(ev, "ksm_pages_shared", json_object_new_int64(ksm_sys_value("pages_shared")));
        if (present == 0) {
                outcome_set(o, PROBE_ERROR, "pagemap shows none of PID %d's %d written pages (no PFNs?)", (int) pid,
                            PLAIN_PAGES);
                goto out;
        }
        if (!audit_into(env, o, pid))
                goto out;
        outcome_set(o, ksm > 0 ? PROBE_PRESENT : PROBE_ABSENT, NULL);
        outcome_summary(o, "%u of %u written pages of a VMA that was never MADV_MERGEABLE have KPF_KSM "
                        "(%u KPF_ANON; ksm/pages_shared %" PRId64 ")", ksm, present, anon, ksm_sys_value("pages_shared"));
out:
        shape_stop(pid);
}

/* ---------------------------------------------------------------- 7: status counters lag */

static pthread_mutex_t lag_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t lag_cond = PTHREAD_COND_INITIALIZER;
static bool lag_ready;

/* A second thread's faults, cached in that thread until it faults 64 times or exits: it does neither. */
static void *lag_thread(void *arg) {
        shape_touch(arg, LAG_PAGES * PROBE_PAGE);
        pthread_mutex_lock(&lag_lock);
        lag_ready = true;
        pthread_cond_broadcast(&lag_cond);
        for (;;)
                pthread_cond_wait(&lag_cond, &lag_lock);
        return NULL;
}

static void build_split_rss(const void *arg, struct shape_info *info) {
        size_t len = LAG_PAGES * PROBE_PAGE;
        char *mine = shape_map_aligned(len, PROBE_PAGE, MADV_NOHUGEPAGE);
        char *theirs = shape_map_aligned(len, PROBE_PAGE, MADV_NOHUGEPAGE);
        pthread_t t;

        (void) arg;
        if (!mine || !theirs || pthread_create(&t, NULL, lag_thread, theirs) != 0) {
                shape_fail(info, errno ?: EAGAIN, "two threads with %d pages each: %s", LAG_PAGES,
                           strerror(info->error));
                return;
        }
        pthread_mutex_lock(&lag_lock);
        while (!lag_ready)
                pthread_cond_wait(&lag_cond, &lag_lock);
        pthread_mutex_unlock(&lag_lock);
        shape_touch(mine, len);
}

void probe_status_lag(struct probe_env *env, struct probe_outcome *o) {
        struct shape_info info = {};
        json_object *ev = outcome_evidence(o);
        int64_t status_anon, rollup_anon;
        pid_t pid;

        pid = probe_shape_start(o, build_split_rss, NULL, &info);
        if (pid == 0)
                return;
        /* smaps_rollup walks the page tables; status reads the counters */
        status_anon = proc_keyed_kb(pid, "status", "RssAnon");
        rollup_anon = proc_keyed_kb(pid, "smaps_rollup", "Anonymous");
        if (status_anon < 0 || rollup_anon < 0) {
                outcome_set(o, PROBE_ERROR, "PID %d: cannot read status RssAnon and smaps_rollup Anonymous", (int) pid);
                goto out;
        }
        json_object_object_add(ev, "status_rss_anon_kb", json_object_new_int64(status_anon));
        json_object_object_add(ev, "smaps_rollup_anonymous_kb", json_object_new_int64(rollup_anon));
        if (!audit_into(env, o, pid))
                goto out;
        outcome_set(o, rollup_anon > status_anon ? PROBE_PRESENT : PROBE_ABSENT, NULL);
        outcome_summary(o, "two threads with %d fresh anonymous pages each: status RssAnon %" PRId64
                        " kB, smaps_rollup Anonymous %" PRId64 " kB (lag %" PRId64 " kB)", LAG_PAGES, status_anon,
                        rollup_anon, rollup_anon - status_anon);
out:
        shape_stop(pid);
}
