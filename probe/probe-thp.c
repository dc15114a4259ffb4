/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Bugs 1 and 2: smaps skipping PMD-mapped THPs that are protnone, because the VMA is PROT_NONE
 * (1) or because NUMA balancing made the PMD protnone to take a hint fault (2).
 */
#include <inttypes.h>
#include <pthread.h>
#include <sys/mman.h>

#include "probe-internal.h"

#define THP_PROBE_SIZE ((size_t) 16 << 20)
#define NUMA_WAIT_SEC 8.0
#define SPINNERS 2

static const char THP_ENABLED[] = "/sys/kernel/mm/transparent_hugepage/enabled";
static const char NUMA_BALANCING[] = "/proc/sys/kernel/numa_balancing";

/* THP at least in madvise mode ("always" is left alone); false with the outcome set if not. */
static bool need_thp(struct probe_env *env, struct probe_outcome *o) {
        char v[64];

        if (knob_read(THP_ENABLED, v, sizeof(v)) == 0 && !streq(v, "never"))
                return true;
        return probe_need_knob(env, o, THP_ENABLED, "madvise", "THP is off");
}

/*
 * Audits the shape: present when the library finds smaps under-accounting the region's VMA with
 * tag, absent when it finds nothing there and the audit concluded.
 */
static void judge(struct probe_env *env, struct probe_outcome *o, pid_t pid, uint64_t start, uint64_t end,
                  unsigned tag, const char *what) {
        _cleanup_(smapsaudit_report_unrefp) struct smapsaudit_report *rep = NULL;
        struct smapsaudit_audit_opts opts = {};
        json_object *ev = outcome_evidence(o);
        int64_t smaps_rss = proc_smaps_vma_kb(pid, start, "Rss");
        bool hit = false;
        int r;

        r = smapsaudit_audit_pid(env->ctx, pid, &opts, &rep);
        if (r < 0) {
                outcome_set(o, PROBE_ERROR, "PID %d: audit failed: %s", (int) pid,
                            smapsaudit_ctx_get_error(env->ctx) ?: strerror(-r));
                return;
        }
        json_object_object_add(ev, "verdict", json_object_new_string(
                smapsaudit_verdict_to_string(smapsaudit_report_get_verdict(rep))));
        json_object_object_add(ev, "smaps_rss_kb", json_object_new_int64(smaps_rss));
        json_object_object_add(ev, "expected_kb", json_object_new_int64((int64_t) ((end - start) >> 10)));
        json_object_object_add(ev, "status_vmrss_kb", json_object_new_int64(proc_keyed_kb(pid, "status", "VmRSS")));
        json_object_object_add(ev, "smaps_rollup_rss_kb", json_object_new_int64(proc_keyed_kb(pid, "smaps_rollup", "Rss")));
        evidence_add_findings(o, rep, start, end);
        for (size_t i = 0; i < smapsaudit_report_get_n_findings(rep); i++) {
                const struct smapsaudit_finding *f = smapsaudit_report_get_finding(rep, i);
                if (f->vma_start == start && f->vma_end == end && f->kind == SMAPSAUDIT_UNDER_ACCOUNTED &&
                    streq(f->source, "smaps") && (f->tags & tag) && !hit) {
                        hit = true;
                        outcome_summary(o, "%s VMA 0x%" PRIx64 "-0x%" PRIx64 ": smaps %s %" PRId64 " kB, walk %"
                                        PRId64 " kB (%s)", what, start, end, f->field, f->kernel_kb, f->walk_kb,
                                        f->explanation ?: "");
                }
        }
        if (hit) {
                outcome_set(o, PROBE_PRESENT, NULL);
                return;
        }
        if (smapsaudit_report_get_verdict(rep) == SMAPSAUDIT_INCONCLUSIVE) {
                outcome_set(o, PROBE_NOT_TESTABLE, "the audit of PID %d was inconclusive%s%s", (int) pid,
                            smapsaudit_report_get_error(rep) ? ": " : "", smapsaudit_report_get_error(rep) ?: "");
                return;
        }
        outcome_set(o, PROBE_ABSENT, NULL);
        outcome_summary(o, "%s VMA 0x%" PRIx64 "-0x%" PRIx64 ": smaps Rss %" PRId64 " kB of %" PRIu64
                        " kB written; audit %s", what, start, end, smaps_rss, (end - start) >> 10,
                        smapsaudit_verdict_to_string(smapsaudit_report_get_verdict(rep)));
}

/* ---------------------------------------------------------------- 1: PROT_NONE THPs */

static void build_thp_protnone(const void *arg, struct shape_info *info) {
        char *p = shape_thp(THP_PROBE_SIZE, info);

        (void) arg;
        if (p)
                (void) shape_protnone_half(p, THP_PROBE_SIZE, info);
}

void probe_thp_protnone(struct probe_env *env, struct probe_outcome *o) {
        struct shape_info info = {};
        pid_t pid;

        if (!need_thp(env, o))
                return;
        pid = probe_shape_start(o, build_thp_protnone, NULL, &info);
        if (pid == 0)
                return;
        judge(env, o, pid, info.start[1], info.end[1], SMAPSAUDIT_TAG_PROT_NONE, "PROT_NONE THP");
        shape_stop(pid);
}

/* ---------------------------------------------------------------- 2: NUMA-hinted THPs */

static volatile int spin_on = 1;
static unsigned char spin_buf[SPINNERS][64 * 1024];

/* Busy on a CPU of its own buffer: the NUMA scanner runs from the tick of a running task. */
static void *spinner(void *arg) {
        volatile unsigned char *buf = arg;

        while (__atomic_load_n(&spin_on, __ATOMIC_RELAXED))
                for (size_t i = 0; i < sizeof(spin_buf[0]); i += 64)
                        buf[i]++;
        return NULL;
}

/*
 * A THP region and two spinning threads until this mm completed a NUMA scan pass
 * (mm->numa_scan_seq) and the machine's numa_huge_pte_updates rose: the region's PMDs were then
 * made protnone. The threads stop before the audit, so nothing faults the hints away.
 */
static void build_numa_thp(const void *arg, struct shape_info *info) {
        const double *deadline = arg;
        char *p = shape_thp(THP_PROBE_SIZE, info);
        int64_t huge0 = proc_vmstat_value("numa_huge_pte_updates"), huge = huge0, seq = 0;
        pthread_t t[SPINNERS];

        if (!p)
                return;
        for (unsigned i = 0; i < SPINNERS; i++)
                if (pthread_create(&t[i], NULL, spinner, spin_buf[i]) != 0) {
                        shape_fail(info, EAGAIN, "pthread_create failed");
                        return;
                }
        while (probe_now() < *deadline) {
                usleep(100 * 1000);
                huge = proc_vmstat_value("numa_huge_pte_updates");
                seq = proc_sched_value(0, "mm->numa_scan_seq");
                if (huge > huge0 && seq >= 1)
                        break;
        }
        __atomic_store_n(&spin_on, 0, __ATOMIC_RELAXED);
        for (unsigned i = 0; i < SPINNERS; i++)
                pthread_join(t[i], NULL);
        info->start[0] = (uintptr_t) p;
        info->end[0] = (uintptr_t) p + THP_PROBE_SIZE;
        info->value[0] = huge - huge0;
        info->value[1] = seq;
        if (huge <= huge0 || seq < 1) {
                shape_fail(info, ETIME, "NUMA balancing made no huge PMD protnone within %.0f s "
                           "(numa_huge_pte_updates +%" PRId64 ", numa_scan_seq %" PRId64 ")", NUMA_WAIT_SEC,
                           huge - huge0, seq);
        }
}

void probe_numa_thp(struct probe_env *env, struct probe_outcome *o) {
        struct shape_info info = {};
        double deadline = MIN(env->deadline - 3.0, probe_now() + NUMA_WAIT_SEC);
        pid_t pid;

        /* not 2 either: memory tiering mode hints only pages on slow tiers */
        if (!need_thp(env, o) || !probe_need_knob(env, o, NUMA_BALANCING, "1", "NUMA balancing is off"))
                return;
        pid = probe_shape_start(o, build_numa_thp, &deadline, &info);
        json_object_object_add(outcome_evidence(o), "numa_huge_pte_updates_rose",
                               json_object_new_int64(info.value[0]));
        json_object_object_add(outcome_evidence(o), "numa_scan_seq", json_object_new_int64(info.value[1]));
        if (pid == 0)
                return;
        judge(env, o, pid, info.start[0], info.end[0], SMAPSAUDIT_TAG_NUMA_HINTED, "NUMA-hinted THP");
        shape_stop(pid);
}
