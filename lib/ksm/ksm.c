/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * KSM's books, checked from three sides (docs/ksm.md): the per-mm
 * counters of /proc/PID/ksm_stat, the global ones of /sys/kernel/mm/ksm,
 * and what the walk sees (KPF_KSM pages, their kpagecount, zero-page PTEs);
 * and merge coverage, the identical pages ksmd left unmerged.
 *
 * This file is the API on top: `smapsaudit ksm` (smapsaudit_ksm_check*)
 * and the KSM part of an audit (sa_ksm_audit). The work is done by
 * source-ksm.c (reading, and the wait for ksmd's full scans), ksm-snapshot.c (the rounds), ksm-invariants.c
 * (the rules), ksm-coverage*.c (coverage) and ksm-report.c (output).
 */
#include <inttypes.h>
#include <json-c/json.h>

#include "ksm-coverage.h"

#define DEFAULT_MAX_PAGES (1ULL << 22)      /* pages walked per round: 16 GiB */
#define DEFAULT_WAIT_MSEC 60000u

/* Merge coverage of the processes the rounds found active: its object, findings added. */
static int coverage(struct smapsaudit_ctx *ctx, const struct sa_ksm_snap *s, const struct smapsaudit_ksm_opts *opts,
                    json_object *findings, json_object **ret, bool *unmerged, bool *unconfirmed) {
        _cleanup_free_ pid_t *pids = calloc(s->n_procs ? s->n_procs : 1, sizeof(*pids));
        struct sa_ksm_coverage *cov = NULL;
        size_t n = 0;
        int r;

        if (!pids)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_procs; i++)
                if (!s->procs[i].gone && s->procs[i].active)
                        pids[n++] = s->procs[i].pid;
        r = sa_ksm_coverage_run(ctx, pids, n, opts, &cov);
        if (r < 0)
                return r;
        sa_cov_summary(cov, unmerged, unconfirmed);
        *ret = sa_ksm_coverage_json(cov, findings);
        sa_ksm_coverage_free(cov);
        return *ret ? 0 : -ENOMEM;
}

_export_ int smapsaudit_ksm_check_opts(struct smapsaudit_ctx *ctx, pid_t pid, const struct smapsaudit_ksm_opts *opts,
                                       char **ret) {
        /* coverage has its own default page cap: cov_opts keeps the caller's max_pages */
        struct smapsaudit_ksm_opts o = opts ? *opts : (struct smapsaudit_ksm_opts) {}, cov_opts = o;
        struct sa_ksm_run run = { .ctx = ctx };
        struct sa_ksm_result res = {};
        json_object *doc = NULL, *findings = NULL, *covj = NULL;
        enum smapsaudit_verdict verdict;
        bool cov_unmerged = false, cov_unconfirmed = false;
        const char *s;
        int r;

        if (pid < 0 || !ret)
                return -EINVAL;
        if (!o.max_pages)
                o.max_pages = DEFAULT_MAX_PAGES;
        if (!o.max_wait_msec)
                o.max_wait_msec = cov_opts.max_wait_msec = DEFAULT_WAIT_MSEC;
        run.max_pages = o.max_pages;
        run.deadline = sa_ksm_now_usec() + (uint64_t) o.max_wait_msec * 1000;
        sa_ksm_env_init(ctx, &run.env);

        r = sa_ksm_run_rounds(&run, pid, &res);
        if (r < 0)
                goto out;
        findings = json_object_new_array();
        if (!findings) {
                r = -ENOMEM;
                goto out;
        }
        if (o.flags & SMAPSAUDIT_KSM_COVERAGE) {
                r = coverage(ctx, &res.snap, &cov_opts, findings, &covj, &cov_unmerged, &cov_unconfirmed);
                if (r < 0)
                        goto out;
        }
        verdict = sa_ksm_verdict(res.invs, res.n_invs, cov_unmerged, cov_unconfirmed);
        doc = sa_ksm_result_json(ctx, &res, &run.env, pid, verdict, TAKE_PTR(covj), findings);
        if (!doc) {
                r = -ENOMEM;
                goto out;
        }
        if (o.flags & SMAPSAUDIT_KSM_TEXT) {
                r = sa_ksm_result_text(doc, ret);
                if (r < 0)
                        goto out;
        } else {
                s = json_object_to_json_string_ext(doc, (o.flags & SMAPSAUDIT_KSM_PRETTY)
                                                                ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                                                                : JSON_C_TO_STRING_PLAIN);
                *ret = s ? strdup(s) : NULL;
                if (!*ret) {
                        r = -ENOMEM;
                        goto out;
                }
        }
        r = (int) verdict;
out:
        json_object_put(doc);
        json_object_put(covj);
        json_object_put(findings);
        sa_ksm_result_done(&res);
        return r;
}

_export_ int smapsaudit_ksm_check(struct smapsaudit_ctx *ctx, pid_t pid, unsigned flags, char **ret) {
        struct smapsaudit_ksm_opts o = { .flags = flags };

        return smapsaudit_ksm_check_opts(ctx, pid, &o, ret);
}

/* ================================================================ the audit's part */

/* Keeps a judged invariant in the report, for its "ksm" object and its text. */
static void report_check(struct sa_ksm_report *k, const struct sa_ksm_inv *v) {
        struct sa_ksm_check *c;

        if (k->n_checks >= ELEMENTSOF(k->checks))
                return;
        c = &k->checks[k->n_checks++];
        *c = (struct sa_ksm_check) { .kernel = v->kernel, .walk = v->other, .verdict = v->verdict };
        snprintf(c->name, sizeof(c->name), "%s", v->name);
        snprintf(c->field, sizeof(c->field), "%s", v->field);
        snprintf(c->source, sizeof(c->source), "%s", v->source);
        snprintf(c->against, sizeof(c->against), "%s", v->other_name);
        snprintf(c->relation, sizeof(c->relation), "%s", sa_ksm_inv_relation(v));
}

/*
 * At the end of an audit: the report's walk is done, ksm_stat is read
 * twice around a read of the globals. Only what needs no waiting becomes a
 * finding here: the strict per-process rules on two equal reads. A
 * difference that a full scan may settle is lag, with a note pointing at
 * `smapsaudit ksm --pid`. Every judged rule is kept in r->ksm: the report
 * prints them as they were judged here, and never judges them again.
 */
int sa_ksm_audit(struct smapsaudit_ctx *ctx, pid_t pid, struct smapsaudit_report *r) {
        struct sa_ksm_globals g0 = {}, g1 = {};
        struct sa_ksm_inv invs[SA_KSM_PROC_INVS];
        struct sa_ksm_proc p = { .pid = pid };
        struct sa_ksm_stat a;
        struct sa_ksm_env env;
        bool have_g, running;
        size_t n;
        int ret;

        ret = sa_ksm_stat_read(ctx, pid, &a);
        if (ret == -EOPNOTSUPP || ret == -ENOENT)
                return 0;   /* no KSM in this kernel */
        if (ret < 0)
                return ret == -ESRCH ? 0 : ret;
        have_g = sa_ksm_globals_read(ctx, &g0) >= 0;
        ret = sa_ksm_stat_read(ctx, pid, &p.stat);
        if (ret < 0 || p.stat.have == 0)
                return ret == -ESRCH || ret >= 0 ? 0 : ret;
        if (have_g)
                have_g = sa_ksm_globals_read(ctx, &g1) >= 0;

        sa_ksm_env_init(ctx, &env);
        p.stat_stable = sa_ksm_stat_equal(&a, &p.stat);
        p.walked = (r->walk_mode & SA_WALK_KPAGE) != 0;
        p.not_walked = "no PFN join";
        for (size_t i = 0; i < r->n_vmas; i++) {
                const struct sa_vma_report *v = &r->vmas[i];
                bool mg = (v->kernel.vmflags & SA_VMF(SA_VM_MG)) || (v->tags & SMAPSAUDIT_TAG_KSM_MERGEABLE);
                p.ksm_pages += v->walk.ksm_pages;
                if (mg) {
                        p.zero_pages += v->walk.zero_pages;
                        p.swap_pages += v->walk.swap_pages + v->walk.migration_pages;
                }
        }
        r->ksm = (struct sa_ksm_report) {
                .have = true, .stat = p.stat, .ksm_pages = p.ksm_pages, .zero_pages = p.zero_pages,
        };
        running = !have_g || (sa_ksm_running(&g0) && sa_ksm_running(&g1));
        n = sa_ksm_judge_process(&p, &env, !have_g || sa_ksm_run_steady(&g0, &g1), invs);
        for (size_t i = 0; i < n; i++) {
                struct sa_ksm_inv *v = &invs[i];

                /* smaps KSM against the walk is the audit's own field "KSM" */
                if (streq(v->name, "smaps_ksm"))
                        continue;
                /*
                 * The walk is older than these reads: ksmd may have added KSM
                 * zero pages since, so that rule is strict only while it is stopped.
                 */
                if (streq(v->name, "zero_pages_le_mapped") && running && v->kernel >= 0)
                        v->over = SA_KSM_SETTLES;
                sa_ksm_inv_judge(v, running);
                if (v->candidate && sa_ksm_inv_rule(v) == SA_KSM_STRICT) {
                        /* the two equal ksm_stat reads are the confirmation */
                        struct smapsaudit_finding f = {
                                .kind = v->dir > 0 ? SMAPSAUDIT_OVER_ACCOUNTED : SMAPSAUDIT_UNDER_ACCOUNTED,
                                .field = v->field, .source = v->source,
                                .kernel_kb = sa_ksm_inv_kb(v, v->kernel, env.page_size),
                                .walk_kb = sa_ksm_inv_kb(v, v->other, env.page_size),
                                .explanation = v->dir > 0 ? v->why_over : v->why_under,
                        };
                        f.delta_kb = f.kernel_kb - f.walk_kb;
                        ret = sa_report_add_finding(r, &f);
                        if (ret < 0)
                                return ret;
                        v->verdict = SA_KSM_VIOLATED;
                } else if (v->candidate) {
                        ret = sa_report_note(r,
                                             "KSM: %s %" PRId64 " vs %s %" PRId64 " may be lag until ksmd's next "
                                             "full scan; smapsaudit ksm --pid %d confirms it",
                                             v->field, v->kernel, v->other_name, v->other, (int) pid);
                        if (ret < 0)
                                return ret;
                        v->verdict = SA_KSM_LAG;
                }
                if (v->verdict != SA_KSM_NOT_JUDGED)
                        report_check(&r->ksm, v);
        }
        return 0;
}
