/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Running the probes: one bug after the other, each with its share of the time budget, nice'd,
 * and whatever happens the shapes killed and the knobs restored before the probe returns or
 * dies of SIGINT, SIGTERM or SIGHUP.
 */
#include <linux/capability.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "probe-internal.h"
#include "probe-result.h"

/* The whole run stays within a minute on a 2-core machine: what each probe may take at most, and
 * all of them together (a probe that would start later is not-testable). */
#define PROBE_BUDGET_SEC 12.0
#define PROBE_RUN_BUDGET_SEC 55.0
#define PROBE_NICE 10

double probe_now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static const char *const state_names[_PROBE_STATE_MAX] = {
        [PROBE_ABSENT] = "absent",
        [PROBE_PRESENT] = "present",
        [PROBE_NOT_TESTABLE] = "not-testable",
        [PROBE_ERROR] = "error",
};

const char *probe_state_to_string(enum probe_state s) {
        return s < _PROBE_STATE_MAX ? state_names[s] : NULL;
}

void outcome_set(struct probe_outcome *o, enum probe_state s, const char *fmt, ...) {
        va_list ap;

        o->state = s;
        free(o->reason);
        o->reason = NULL;
        if (!fmt)
                return;
        va_start(ap, fmt);
        if (vasprintf(&o->reason, fmt, ap) < 0)
                o->reason = NULL;
        va_end(ap);
}

void outcome_summary(struct probe_outcome *o, const char *fmt, ...) {
        va_list ap;

        free(o->summary);
        va_start(ap, fmt);
        if (vasprintf(&o->summary, fmt, ap) < 0)
                o->summary = NULL;
        va_end(ap);
}

json_object *outcome_evidence(struct probe_outcome *o) {
        if (!o->evidence)
                o->evidence = json_object_new_object();
        return o->evidence;
}

/* The library's own JSON of the findings (schema smapsaudit.report/1), those on [start, end) only
 * when end > 0. */
size_t evidence_add_findings(struct probe_outcome *o, const struct smapsaudit_report *rep, uint64_t start,
                             uint64_t end) {
        _cleanup_free_ char *json = NULL;
        json_object *ev = outcome_evidence(o), *doc, *all, *a;
        size_t n = 0;

        if (smapsaudit_report_to_json(rep, SMAPSAUDIT_REPORT_COMPACT | SMAPSAUDIT_REPORT_NO_PFNS, &json) < 0 ||
            !(doc = json_tokener_parse(json)))
                return 0;
        if (!json_object_object_get_ex(ev, "findings", &a)) {
                a = json_object_new_array();
                json_object_object_add(ev, "findings", a);
        }
        if (json_object_object_get_ex(doc, "findings", &all))
                for (size_t i = 0; i < json_object_array_length(all); i++) {
                        json_object *f = json_object_array_get_idx(all, i), *vma, *s, *e;
                        if (end > 0 && !(json_object_object_get_ex(f, "vma", &vma) && vma &&
                                         json_object_object_get_ex(vma, "start", &s) &&
                                         json_object_object_get_ex(vma, "end", &e) &&
                                         strtoull(json_object_get_string(s), NULL, 0) == start &&
                                         strtoull(json_object_get_string(e), NULL, 0) == end))
                                continue;
                        json_object_array_add(a, json_object_get(f));
                        n++;
                }
        json_object_put(doc);
        return n;
}

json_object *evidence_add_json(struct probe_outcome *o, const char *key, const char *json) {
        json_object *doc = json_tokener_parse(json);

        if (!doc)
                return NULL;
        json_object_object_add(outcome_evidence(o), key, doc);
        return doc;
}

pid_t probe_shape_start(struct probe_outcome *o, shape_build_fn build, const void *arg, struct shape_info *ret) {
        pid_t pid = shape_start(build, arg, ret);

        if (pid < 0) {
                outcome_set(o, PROBE_ERROR, "cannot start the shape: %s", strerror(-pid));
                return 0;
        }
        if (ret->error) {
                outcome_set(o, PROBE_NOT_TESTABLE, "%s", ret->why);
                shape_stop(pid);
                return 0;
        }
        return pid;
}

bool probe_need_knob(struct probe_env *env, struct probe_outcome *o, const char *path, const char *want,
                     const char *what_off) {
        char v[64];
        int r;

        if (knob_read(path, v, sizeof(v)) < 0) {
                outcome_set(o, PROBE_NOT_TESTABLE, "not in this kernel: %s", path);
                return false;
        }
        if (streq(v, want))
                return true;
        r = knob_set(env, path, want);
        if (r == -EPERM)
                outcome_set(o, PROBE_NOT_TESTABLE, "%s (%s is %s); --allow-knobs sets %s for the probe", what_off,
                            path, v, want);
        else if (r < 0)
                outcome_set(o, PROBE_ERROR, "cannot write %s to %s: %s", want, path, strerror(-r));
        return r >= 0;
}

/* ---------------------------------------------------------------- signals */

static void on_fatal_signal(int sig) {
        shapes_kill_all();
        knobs_restore();
        signal(sig, SIG_DFL);
        raise(sig);
}

/*
 * While the probe runs: SIGINT, SIGTERM and SIGHUP kill the shapes and restore the knobs before
 * they end the process, and SIGPIPE is ignored (a guardian that died makes knob_set() fail, not
 * the probe die without restoring). The caller's dispositions are put back afterwards.
 */
static void catch_fatal_signals(bool on) {
        static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };
        static struct sigaction saved[ELEMENTSOF(sigs)];
        struct sigaction sa = { .sa_handler = on_fatal_signal };

        sigemptyset(&sa.sa_mask);
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
                sigaddset(&sa.sa_mask, sigs[i]);
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++) {
                if (!on) {
                        sigaction(sigs[i], &saved[i], NULL);
                        continue;
                }
                sa.sa_handler = sigs[i] == SIGPIPE ? SIG_IGN : on_fatal_signal;
                sigaction(sigs[i], &sa, &saved[i]);
        }
}

/* ---------------------------------------------------------------- the run */

static bool wanted(const char *id, const char *const *only, size_t n_only) {
        if (n_only == 0)
                return true;
        for (size_t i = 0; i < n_only; i++)
                if (streq(only[i], id))
                        return true;
        return false;
}

/*
 * The probes read their shapes' pagemap with frame numbers, which takes CAP_SYS_ADMIN, and
 * /proc/kpageflags (0400 root), which takes root or CAP_DAC_READ_SEARCH: root has both, and so
 * does smapsauditd running as a user of its own with them as ambient capabilities.
 */
static bool may_probe(void) {
        struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct d[2] = {};

        if (syscall(SYS_capget, &h, d) < 0)
                return geteuid() == 0;
        return (d[0].effective & (1u << CAP_SYS_ADMIN)) &&
               (geteuid() == 0 || (d[0].effective & (1u << CAP_DAC_READ_SEARCH)));
}

static uint64_t peak_rss_kb(void) {
        struct rusage self = {}, children = {};

        getrusage(RUSAGE_SELF, &self);
        getrusage(RUSAGE_CHILDREN, &children);
        return (uint64_t) MAX(self.ru_maxrss, 0) + (uint64_t) MAX(children.ru_maxrss, 0);
}

int probe_run(struct smapsaudit_ctx *ctx, unsigned flags, const char *const *only, size_t n_only,
              struct probe_result **ret) {
        _cleanup_free_ struct probe_result *res = NULL;
        double start = probe_now();
        size_t n = 0;

        for (size_t i = 0; i < n_only; i++)
                if (!probe_bug_by_id(only[i]))
                        return -ENOENT;
        res = calloc(1, sizeof(*res));
        if (!res)
                return -ENOMEM;
        res->outcomes = calloc(probe_n_bugs(), sizeof(*res->outcomes));
        res->bugs = calloc(probe_n_bugs(), sizeof(*res->bugs));
        if (!res->outcomes || !res->bugs) {
                probe_result_free(TAKE_PTR(res));
                return -ENOMEM;
        }
        res->release = strdup(smapsaudit_ctx_get_kernel_release(ctx) ?: "");
        res->flags = flags;
        res->started = time(NULL);
        /* what ksmd and NUMA balancing do for us is theirs; our own CPU time (and the shapes',
         * which inherit it) yields to everything else on the host */
        errno = 0;
        res->niced = nice(PROBE_NICE) != -1 || errno == 0;
        /* what a shape forked comes back to us when the shape dies, to be reaped */
        (void) prctl(PR_SET_CHILD_SUBREAPER, 1);
        catch_fatal_signals(true);
        for (size_t i = 0; i < probe_n_bugs(); i++) {
                const struct probe_bug *b = probe_bug_by_index(i);
                struct probe_outcome *o = &res->outcomes[n];
                struct probe_env env = { .ctx = ctx, .flags = flags };
                double t0 = probe_now();

                if (!wanted(b->id, only, n_only))
                        continue;
                res->bugs[n++] = b;
                if (!may_probe()) {
                        outcome_set(o, PROBE_NOT_TESTABLE, "not root, nor holding CAP_SYS_ADMIN and "
                                    "CAP_DAC_READ_SEARCH: the probes read other processes' pagemap with PFNs "
                                    "and /proc/kpageflags");
                        continue;
                }
                env.deadline = MIN(t0 + PROBE_BUDGET_SEC, start + PROBE_RUN_BUDGET_SEC);
                if (env.deadline - t0 < 2.0) {
                        outcome_set(o, PROBE_NOT_TESTABLE, "the run's time budget (%.0f s) was used up by "
                                    "the probes before it", PROBE_RUN_BUDGET_SEC);
                        continue;
                }
                probe_fn_by_index(i)(&env, o);
                shapes_kill_all();
                o->seconds = probe_now() - t0;
        }
        res->n = n;
        shapes_kill_all();
        res->knobs = knobs_changed();
        knobs_restore();
        catch_fatal_signals(false);
        (void) prctl(PR_SET_CHILD_SUBREAPER, 0);
        res->wall_seconds = probe_now() - start;
        res->peak_rss_kb = peak_rss_kb();
        *ret = TAKE_PTR(res);
        return 0;
}

struct probe_result *probe_result_free(struct probe_result *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < probe_n_bugs() && r->outcomes; i++) {
                free(r->outcomes[i].reason);
                free(r->outcomes[i].summary);
                json_object_put(r->outcomes[i].evidence);
        }
        free(r->outcomes);
        free(r->bugs);
        free(r->release);
        json_object_put(r->knobs);
        free(r);
        return NULL;
}

int probe_result_exit_status(const struct probe_result *r) {
        int st = 0;

        for (size_t i = 0; i < r->n; i++) {
                if (r->outcomes[i].state == PROBE_ERROR)
                        return 2;
                if (r->outcomes[i].state == PROBE_PRESENT && !r->bugs[i]->bound)
                        st = 1;
        }
        return st;
}
