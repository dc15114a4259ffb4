/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Bug 5: smaps_rollup skipping VMAs after it dropped a contended mmap_lock. The shape is many
 * small written VMAs and a thread that maps and unmaps in a loop (the writer that makes the lock
 * contended). The kernel is held against itself: each rollup read is sandwiched between two
 * smaps reads, and a rollup below the VMAs that stayed the same in both by a whole VMA skipped
 * some. Then the library audits the process.
 */
#include <inttypes.h>
#include <pthread.h>
#include <sys/mman.h>

#include "probe-internal.h"
#include "rollup.h"

#define ROLLUP_VMAS 1000
#define ROLLUP_VMA_KB 32
#define ROLLUP_READS 10
#define ROLLUP_AUDITS 2

/* ---------------------------------------------------------------- the shape */

static volatile int churn_on = 1;
static unsigned long churn_rounds;
static pthread_t churner;

static void *churn(void *arg) {
        (void) arg;
        while (__atomic_load_n(&churn_on, __ATOMIC_RELAXED)) {
                char *p = mmap(NULL, ROLLUP_CHURN_KB << 10, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED)
                        continue;
                shape_touch(p, ROLLUP_CHURN_KB << 10);
                munmap(p, ROLLUP_CHURN_KB << 10);
                __atomic_add_fetch(&churn_rounds, 1, __ATOMIC_RELAXED);
        }
        return NULL;
}

int rollup_churn_start(unsigned vmas, unsigned vma_kb, uintptr_t *ret_first, uintptr_t *ret_last_end) {
        size_t len = (size_t) vma_kb << 10, stride = len + PROBE_PAGE;
        char *base = mmap(NULL, stride * vmas, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        int r;

        if (base == MAP_FAILED)
                return negative_errno();
        if (madvise(base, stride * vmas, MADV_NOHUGEPAGE) < 0)
                return negative_errno();
        for (unsigned i = 0; i < vmas; i++) {
                char *p = base + (size_t) i * stride;
                shape_touch(p, len);
                /* the hole after each region keeps it a VMA of its own */
                if (munmap(p + len, PROBE_PAGE) < 0)
                        return negative_errno();
        }
        r = pthread_create(&churner, NULL, churn, NULL);
        if (r)
                return -r;
        *ret_first = (uintptr_t) base;
        *ret_last_end = (uintptr_t) (base + (size_t) (vmas - 1) * stride + len);
        return 0;
}

unsigned long rollup_churn_stop(void) {
        if (__atomic_exchange_n(&churn_on, 0, __ATOMIC_RELAXED))
                pthread_join(churner, NULL);
        return __atomic_load_n(&churn_rounds, __ATOMIC_RELAXED);
}

static void build_rollup_churn(const void *arg, struct shape_info *info) {
        uintptr_t first = 0, last_end = 0; /* gcc -O2 cannot see that rollup_churn_start sets both on success */
        int r;

        (void) arg;
        r = rollup_churn_start(ROLLUP_VMAS, ROLLUP_VMA_KB, &first, &last_end);
        if (r < 0) {
                shape_fail(info, -r, "%u VMAs and a churn thread: %s", ROLLUP_VMAS, strerror(-r));
                return;
        }
        info->start[0] = first;
        info->end[0] = last_end;
}

/* ---------------------------------------------------------------- the sandwich */

struct vma_rss {
        uint64_t start, end, rss_kb;
};

struct smaps_read {
        struct vma_rss *v;
        size_t n, cap;
        uint64_t total_kb;
};

/* Per-VMA Rss of one smaps read; false if the process is gone. */
static bool read_smaps(pid_t pid, struct smaps_read *s) {
        _cleanup_fclose_ FILE *f = NULL;
        char path[64], line[512];

        s->n = 0;
        s->total_kb = 0;
        snprintf(path, sizeof(path), "/proc/%d/smaps", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return false;
        while (fgets(line, sizeof(line), f)) {
                uint64_t lo, hi;
                unsigned long long kb;

                if (sscanf(line, "%" SCNx64 "-%" SCNx64 " ", &lo, &hi) == 2) {
                        if (s->n == s->cap) {
                                size_t cap = s->cap ? s->cap * 2 : 4096;
                                struct vma_rss *nv = realloc(s->v, cap * sizeof(*nv));
                                if (!nv)
                                        return false;
                                s->v = nv;
                                s->cap = cap;
                        }
                        s->v[s->n++] = (struct vma_rss) { lo, hi, 0 };
                } else if (s->n && sscanf(line, "Rss: %llu kB", &kb) == 1) {
                        s->v[s->n - 1].rss_kb = kb;
                        s->total_kb += kb;
                }
        }
        return s->n > 0;
}

/* Σ Rss over the VMAs with the same start, end and Rss in both reads (both sorted by address). */
static uint64_t stable_sum(const struct smaps_read *a, const struct smaps_read *b, size_t *n_stable) {
        uint64_t sum = 0;
        size_t i = 0, j = 0;

        *n_stable = 0;
        while (i < a->n && j < b->n) {
                if (a->v[i].start < b->v[j].start)
                        i++;
                else if (a->v[i].start > b->v[j].start)
                        j++;
                else {
                        if (a->v[i].end == b->v[j].end && a->v[i].rss_kb == b->v[j].rss_kb) {
                                sum += a->v[i].rss_kb;
                                (*n_stable)++;
                        }
                        i++;
                        j++;
                }
        }
        return sum;
}

int rollup_sandwich(pid_t pid, unsigned reads, unsigned vma_kb, struct rollup_counts *c) {
        struct smaps_read before = {}, after = {};
        double start = probe_now();
        int r = 0;

        *c = (struct rollup_counts) { .rollup_min_kb = UINT64_MAX };
        for (unsigned i = 0; i < reads; i++) {
                uint64_t lower, sandwich, rollup;
                int64_t v;
                size_t n_stable;

                if (!read_smaps(pid, &before) || (v = proc_keyed_kb(pid, "smaps_rollup", "Rss")) < 0 ||
                    !read_smaps(pid, &after)) {
                        r = -ESRCH;
                        break;
                }
                rollup = (uint64_t) v;
                c->reads++;
                lower = stable_sum(&before, &after, &n_stable);
                /* every VMA the same in both reads: the only case where Σ smaps is a fixed target */
                c->identical += n_stable == before.n && n_stable == after.n;
                sandwich = MIN(before.total_kb, after.total_kb);
                c->stable_max_kb = MAX(c->stable_max_kb, lower);
                c->rollup_min_kb = MIN(c->rollup_min_kb, rollup);
                c->rollup_max_kb = MAX(c->rollup_max_kb, rollup);
                /*
                 * Below what was mapped all the time by less than one of the shape's VMAs: that can be
                 * the churn thread's pages, unmapped during the rollup read and mapped again at the same
                 * address before the second smaps read. By a whole VMA or more: VMAs were skipped.
                 */
                if (rollup < lower) {
                        c->below_any++;
                        c->worst_below_kb = MAX(c->worst_below_kb, lower - rollup);
                        c->below_by_a_vma += rollup + vma_kb <= lower;
                }
                if (rollup + vma_kb <= sandwich) {
                        c->below_sandwich_by_a_vma++;
                        c->worst_below_sandwich_kb = MAX(c->worst_below_sandwich_kb, sandwich - rollup);
                }
        }
        if (c->reads == 0)
                c->rollup_min_kb = 0;
        c->seconds = probe_now() - start;
        free(before.v);
        free(after.v);
        return r;
}

/* ---------------------------------------------------------------- the probe */

void probe_rollup_skip(struct probe_env *env, struct probe_outcome *o) {
        struct shape_info info = {};
        struct rollup_counts c;
        json_object *ev = outcome_evidence(o);
        unsigned audits = 0;
        const struct smapsaudit_finding *hit = NULL;
        struct smapsaudit_report *hit_rep = NULL;
        pid_t pid;
        int r;

        pid = probe_shape_start(o, build_rollup_churn, NULL, &info);
        if (pid == 0)
                return;
        r = rollup_sandwich(pid, ROLLUP_READS, ROLLUP_VMA_KB, &c);
        if (r < 0) {
                outcome_set(o, PROBE_ERROR, "PID %d: cannot read its smaps and smaps_rollup: %s", (int) pid, strerror(-r));
                goto out;
        }
        json_object_object_add(ev, "vmas", json_object_new_int(ROLLUP_VMAS));
        json_object_object_add(ev, "vma_kb", json_object_new_int(ROLLUP_VMA_KB));
        json_object_object_add(ev, "rollup_reads", json_object_new_int((int) c.reads));
        json_object_object_add(ev, "rollup_below_stable_vmas_by_a_vma", json_object_new_int((int) c.below_by_a_vma));
        json_object_object_add(ev, "worst_below_kb", json_object_new_int64((int64_t) c.worst_below_kb));
        json_object_object_add(ev, "stable_max_kb", json_object_new_int64((int64_t) c.stable_max_kb));
        json_object_object_add(ev, "rollup_min_kb", json_object_new_int64((int64_t) c.rollup_min_kb));

        /* the library's own judgment, under the same churn; the bug skips in most reads, not all */
        while (audits < ROLLUP_AUDITS && probe_now() < env->deadline - 2.0) {
                struct smapsaudit_report *rep = NULL;

                r = smapsaudit_audit_pid(env->ctx, pid, &(struct smapsaudit_audit_opts) {}, &rep);
                if (r < 0) {
                        outcome_set(o, PROBE_ERROR, "PID %d: audit failed: %s", (int) pid,
                                    smapsaudit_ctx_get_error(env->ctx) ?: strerror(-r));
                        goto out;
                }
                audits++;
                for (size_t i = 0; i < smapsaudit_report_get_n_findings(rep); i++) {
                        const struct smapsaudit_finding *f = smapsaudit_report_get_finding(rep, i);
                        if (streq(f->source, "smaps_rollup") && f->kind == SMAPSAUDIT_UNDER_ACCOUNTED && !hit) {
                                hit = f;
                                hit_rep = smapsaudit_report_ref(rep);
                        }
                }
                smapsaudit_report_unref(rep);
                if (hit)
                        break;
        }
        json_object_object_add(ev, "audits", json_object_new_int((int) audits));
        if (hit_rep)
                evidence_add_findings(o, hit_rep, 0, 0);
        if (c.below_by_a_vma > 0 || hit) {
                outcome_set(o, PROBE_PRESENT, NULL);
                outcome_summary(o, "%u of %u smaps_rollup reads below the VMAs that stayed the same around them by "
                                "at least a VMA (worst %" PRIu64 " kB, ~%" PRIu64 " VMAs of %d kB); the audit: %s",
                                c.below_by_a_vma, c.reads, c.worst_below_kb, c.worst_below_kb / ROLLUP_VMA_KB,
                                ROLLUP_VMA_KB, hit ? hit->explanation ?: "smaps_rollup under-accounted" :
                                "no smaps_rollup finding");
        } else {
                outcome_set(o, PROBE_ABSENT, NULL);
                outcome_summary(o, "0 of %u smaps_rollup reads skipped a VMA under mmap_lock contention; %u audits, "
                                "no smaps_rollup finding", c.reads, audits);
        }
out:
        smapsaudit_report_unrefp(&hit_rep);
        shape_stop(pid);
}
