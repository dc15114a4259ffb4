/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Bugs 3 and 4: KSM never merging the pages of a PROT_NONE VMA (3), and a forked child inheriting
 * its parent's KSM counters (4). Both need ksmd running; with --allow-knobs the probe switches it
 * on and makes it scan fast for the run.
 */
#include <inttypes.h>
#include <sys/mman.h>

#include "probe-internal.h"

#define KSM_PAGES 1024
#define KSM_BYTE 0x5a

static const char KSM_RUN[] = "/sys/kernel/mm/ksm/run";

static bool need_ksmd(struct probe_env *env, struct probe_outcome *o) {
        char v[16];
        int r;

        if (knob_read(KSM_RUN, v, sizeof(v)) < 0) {
                outcome_set(o, PROBE_NOT_TESTABLE, "no KSM in this kernel (%s)", KSM_RUN);
                return false;
        }
        /* with --allow-knobs also fast: a full scan of our pages then takes ~0.1 s instead of seconds */
        if ((env->flags & PROBE_ALLOW_KNOBS) &&
            ((r = knob_set(env, "/sys/kernel/mm/ksm/sleep_millisecs", "10")) < 0 ||
             (r = knob_set(env, "/sys/kernel/mm/ksm/pages_to_scan", "1000")) < 0)) {
                outcome_set(o, PROBE_ERROR, "cannot make ksmd scan fast: %s", strerror(-r));
                return false;
        }
        return probe_need_knob(env, o, KSM_RUN, "1", "ksmd is not running");
}

/* Until pid's ksm_merging_pages reaches want or the deadline passes; the last value read. */
static int64_t wait_merged(pid_t pid, int64_t want, double deadline) {
        int64_t v;

        while ((v = proc_ksm_merging_pages(pid)) < want && probe_now() < deadline)
                usleep(50 * 1000);
        return v;
}

/* Until ksmd completed n more full scans; false at the deadline. */
static bool wait_full_scans(int64_t n, double deadline) {
        int64_t from = ksm_sys_value("full_scans");

        while (ksm_sys_value("full_scans") < from + n)
                if (probe_now() >= deadline)
                        return false;
                else
                        usleep(20 * 1000);
        return true;
}

static unsigned wait_msec_left(const struct probe_env *env) {
        double left = env->deadline - probe_now();
        return left > 1.0 ? (unsigned) (left * 1000) : 1000;
}

/* Identical mergeable pages without THP; NULL with the reason in info. */
static char *ksm_region(size_t len, struct shape_info *info) {
        char *p = shape_map_aligned(len, PROBE_PAGE, MADV_NOHUGEPAGE);

        if (!p || madvise(p, len, MADV_MERGEABLE) < 0) {
                shape_fail(info, errno, "MADV_MERGEABLE region of %zu kB: %s", len >> 10,
                           strerror(errno));
                return NULL;
        }
        memset(p, KSM_BYTE, len);
        return p;
}

/* ---------------------------------------------------------------- 3: PROT_NONE pages never merged */

static void build_ksm_protnone(const void *arg, struct shape_info *info) {
        size_t half = KSM_PAGES * PROBE_PAGE;
        char *p = ksm_region(2 * half, info);

        (void) arg;
        if (p)
                (void) shape_protnone_half(p, 2 * half, info);
}

/* Coverage findings on the VMA at start, from a smapsaudit.ksm/1 document. */
static size_t coverage_findings_at(json_object *doc, uint64_t start, json_object **first) {
        json_object *findings, *vma, *s;
        size_t n = 0;

        if (!json_object_object_get_ex(doc, "findings", &findings))
                return 0;
        for (size_t i = 0; i < json_object_array_length(findings); i++) {
                json_object *f = json_object_array_get_idx(findings, i);
                if (json_object_object_get_ex(f, "vma", &vma) && vma && json_object_object_get_ex(vma, "start", &s) &&
                    strtoull(json_object_get_string(s), NULL, 0) == start) {
                        if (n++ == 0)
                                *first = f;
                }
        }
        return n;
}

static const char *doc_string(json_object *o, const char *key) {
        json_object *v;
        return o && json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "";
}

void probe_ksm_protnone(struct probe_env *env, struct probe_outcome *o) {
        struct smapsaudit_ksm_opts opts = { .flags = SMAPSAUDIT_KSM_COVERAGE };
        _cleanup_free_ char *json = NULL;
        struct shape_info info = {};
        json_object *doc, *first = NULL, *ev = outcome_evidence(o);
        int64_t merged;
        pid_t pid;
        int r;

        if (!need_ksmd(env, o))
                return;
        pid = probe_shape_start(o, build_ksm_protnone, NULL, &info);
        if (pid == 0)
                return;
        /* the accessible half merges on every kernel: until it has, nothing can be said of the other */
        merged = wait_merged(pid, KSM_PAGES, env->deadline - 2.0);
        json_object_object_add(ev, "ksm_merging_pages", json_object_new_int64(merged));
        if (merged < KSM_PAGES) {
                outcome_set(o, PROBE_NOT_TESTABLE, "ksmd merged %" PRId64 " of the %d identical accessible pages "
                            "in time (busy or slow ksmd; --allow-knobs makes it scan fast)", merged, KSM_PAGES);
                goto out;
        }
        opts.max_wait_msec = wait_msec_left(env);
        r = smapsaudit_ksm_check_opts(env->ctx, pid, &opts, &json);
        if (r < 0) {
                outcome_set(o, PROBE_ERROR, "PID %d: KSM coverage check failed: %s", (int) pid,
                            smapsaudit_ctx_get_error(env->ctx) ?: strerror(-r));
                goto out;
        }
        doc = evidence_add_json(o, "ksm_check", json);
        json_object_object_add(ev, "ksm_merging_pages_after", json_object_new_int64(proc_ksm_merging_pages(pid)));
        if (doc && coverage_findings_at(doc, info.start[1], &first) > 0) {
                outcome_set(o, PROBE_PRESENT, NULL);
                outcome_summary(o, "PROT_NONE VMA 0x%" PRIx64 "-0x%" PRIx64 ": %s (ksm_merging_pages %" PRId64
                                " of %d identical pages)", info.start[1], info.end[1], doc_string(first, "explanation"),
                                proc_ksm_merging_pages(pid), 2 * KSM_PAGES);
        } else if (r == SMAPSAUDIT_INCONCLUSIVE)
                outcome_set(o, PROBE_NOT_TESTABLE, "the KSM coverage check of PID %d was inconclusive", (int) pid);
        else {
                outcome_set(o, PROBE_ABSENT, NULL);
                outcome_summary(o, "ksm_merging_pages %" PRId64 " of %d identical pages, half of them PROT_NONE; "
                                "KSM check %s", proc_ksm_merging_pages(pid), 2 * KSM_PAGES,
                                smapsaudit_verdict_to_string((enum smapsaudit_verdict) r));
        }
out:
        shape_stop(pid);
}

/* ---------------------------------------------------------------- 4: counters inherited on fork */

/* The parent's pages merged, then a fork: value[0] the child's ksm_merging_pages right after. */
static void build_ksm_fork(const void *arg, struct shape_info *info) {
        const double *deadline = arg;
        size_t len = KSM_PAGES * PROBE_PAGE;
        char *p = ksm_region(len, info);
        int64_t merged;
        int r;

        if (!p)
                return;
        info->start[0] = (uintptr_t) p;
        info->end[0] = (uintptr_t) p + len;
        merged = wait_merged(0, KSM_PAGES, *deadline);
        info->value[1] = merged;
        if (merged < KSM_PAGES) {
                shape_fail(info, ETIME, "ksmd merged %" PRId64 " of %d identical pages in time "
                           "(busy or slow ksmd; --allow-knobs makes it scan fast)", merged, KSM_PAGES);
                return;
        }
        r = shape_fork_dying_with_parent();
        if (r == 0)
                for (;;)
                        pause();
        if (r < 0) {
                shape_fail(info, -r, "fork: %s", strerror(-r));
                return;
        }
        info->other_pid = r;
        info->value[0] = proc_ksm_merging_pages(r);
}

void probe_ksm_fork(struct probe_env *env, struct probe_outcome *o) {
        _cleanup_free_ char *json = NULL;
        double merge_deadline = env->deadline - 4.0;
        struct shape_info info = {};
        json_object *ev = outcome_evidence(o);
        pid_t pid, child;
        int r;

        if (!need_ksmd(env, o))
                return;
        pid = probe_shape_start(o, build_ksm_fork, &merge_deadline, &info);
        if (pid == 0)
                return;
        child = info.other_pid;
        json_object_object_add(ev, "parent_ksm_merging_pages", json_object_new_int64(info.value[1]));
        json_object_object_add(ev, "child_ksm_merging_pages_at_fork", json_object_new_int64(info.value[0]));
        /* ksmd must have visited the child: an inherited count then adds to what it finds */
        if (!wait_full_scans(2, env->deadline - 1.0)) {
                outcome_set(o, PROBE_NOT_TESTABLE, "ksmd did not complete two full scans after the fork in time");
                goto out;
        }
        json_object_object_add(ev, "child_ksm_merging_pages_scanned",
                               json_object_new_int64(proc_ksm_merging_pages(child)));
        r = smapsaudit_ksm_check_opts(env->ctx, child,
                                      &(struct smapsaudit_ksm_opts) { .max_wait_msec = wait_msec_left(env) }, &json);
        if (r < 0) {
                outcome_set(o, PROBE_ERROR, "PID %d: KSM check failed: %s", (int) child,
                            smapsaudit_ctx_get_error(env->ctx) ?: strerror(-r));
                goto out;
        }
        evidence_add_json(o, "ksm_check", json);
        if (r == SMAPSAUDIT_OVER_ACCOUNTED) {
                outcome_set(o, PROBE_PRESENT, NULL);
                outcome_summary(o, "forked child of a process with %" PRId64 " merged pages: ksm_merging_pages %"
                                PRId64 " right after fork, %" PRId64 " once ksmd scanned it, while it maps %d KSM pages",
                                info.value[1], info.value[0], proc_ksm_merging_pages(child), KSM_PAGES);
        } else if (r == SMAPSAUDIT_CONSISTENT) {
                outcome_set(o, PROBE_ABSENT, NULL);
                outcome_summary(o, "forked child: ksm_merging_pages %" PRId64 " right after fork, %" PRId64
                                " once scanned, mapping %d KSM pages", info.value[0], proc_ksm_merging_pages(child),
                                KSM_PAGES);
        } else
                outcome_set(o, PROBE_NOT_TESTABLE, "the KSM check of the child (PID %d) said %s", (int) child,
                            smapsaudit_verdict_to_string((enum smapsaudit_verdict) r));
out:
        shape_stop(pid);
}
