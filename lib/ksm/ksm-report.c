/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The result of `smapsaudit ksm` for programs and people: the
 * smapsaudit.ksm/1 document (docs/ksm.md), its merge coverage part, and the
 * text made from the document. Fields may be added; none may be renamed or
 * removed without a bump. No judging here: verdicts come from
 * ksm-invariants.c and ksm-coverage-judge.c.
 */
#include <inttypes.h>
#include <json-c/json.h>

#include "json-util.h"
#include "ksm-coverage.h"

#define SCHEMA "smapsaudit.ksm/1"

static void add_i64(json_object *o, const char *k, int64_t v) {
        json_object_object_add(o, k, json_object_new_int64(v));
}

/* ================================================================ invariants */

static json_object *inv_object(const struct sa_ksm_inv *v) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "name", json_object_new_string(v->name));
        json_object_object_add(o, "scope", json_object_new_string(v->pid ? "process" : "global"));
        if (v->pid)
                add_i64(o, "pid", v->pid);
        json_object_object_add(o, "field", json_object_new_string(v->field));
        json_object_object_add(o, "source", json_object_new_string(v->source));
        json_object_object_add(o, "against", json_object_new_string(v->other_name));
        json_object_object_add(o, "relation", json_object_new_string(sa_ksm_inv_relation(v)));
        json_object_object_add(o, "unit", json_object_new_string(v->unit));
        if (v->verdict != SA_KSM_NOT_JUDGED || v->judgeable) {
                add_i64(o, "kernel", v->kernel);
                add_i64(o, "walk", v->other);
        }
        add_i64(o, "tolerance", v->dir < 0 ? v->tol_under : v->tol_over);
        json_object_object_add(o, "verdict", json_object_new_string(sa_ksm_verdict_to_string(v->verdict)));
        if (v->verdict == SA_KSM_NOT_JUDGED && v->why_not)
                json_object_object_add(o, "why", json_object_new_string(v->why_not));
        else if (v->note)
                json_object_object_add(o, "why", json_object_new_string(v->note));
        return o;
}

static json_object *finding_object(const struct sa_ksm_inv *v, int64_t page_size) {
        json_object *o = json_object_new_object();
        int64_t k = sa_ksm_inv_kb(v, v->kernel, page_size), w = sa_ksm_inv_kb(v, v->other, page_size);

        json_object_object_add(o, "kind", json_object_new_string(smapsaudit_verdict_to_string(
                v->dir > 0 ? SMAPSAUDIT_OVER_ACCOUNTED : SMAPSAUDIT_UNDER_ACCOUNTED)));
        json_object_object_add(o, "field", json_object_new_string(v->field));
        json_object_object_add(o, "vma", NULL);
        if (v->pid)
                add_i64(o, "pid", v->pid);
        add_i64(o, "kernel_kb", k);
        add_i64(o, "walk_kb", w);
        add_i64(o, "delta_kb", k - w);
        add_i64(o, "kernel", v->kernel);
        add_i64(o, "walk", v->other);
        json_object_object_add(o, "unit", json_object_new_string(v->unit));
        json_object_object_add(o, "source", json_object_new_string(v->source));
        json_object_object_add(o, "invariant", json_object_new_string(v->name));
        json_object_object_add(o, "tags", json_object_new_array());
        json_object_object_add(o, "explanation", json_object_new_string(v->dir > 0 ? v->why_over : v->why_under));
        return o;
}

/* Files of /sys/kernel/mm/ksm, under their own names: those this kernel has. */
struct sys_field {
        const char *name;
        uint64_t bit;
        size_t offset;
};
#define F(n, b) { #n, b, offsetof(struct sa_ksm_sys, n) }
static const struct sys_field sys_counters[] = {
        F(pages_shared, SA_KSM_SYS_PAGES_SHARED), F(pages_sharing, SA_KSM_SYS_PAGES_SHARING),
        F(pages_unshared, SA_KSM_SYS_PAGES_UNSHARED), F(pages_volatile, SA_KSM_SYS_PAGES_VOLATILE),
        F(ksm_zero_pages, SA_KSM_SYS_ZERO_PAGES), F(general_profit, SA_KSM_SYS_GENERAL_PROFIT),
        F(stable_node_chains, SA_KSM_SYS_CHAINS), F(stable_node_dups, SA_KSM_SYS_DUPS),
        F(pages_scanned, SA_KSM_SYS_PAGES_SCANNED), F(full_scans, SA_KSM_SYS_FULL_SCANS),
};
static const struct sys_field sys_run[] = { F(run, SA_KSM_SYS_RUN) };
static const struct sys_field sys_knobs[] = {
        F(sleep_millisecs, SA_KSM_SYS_SLEEP), F(pages_to_scan, SA_KSM_SYS_PAGES_TO_SCAN),
        F(max_page_sharing, SA_KSM_SYS_MAX_PAGE_SHARING), F(use_zero_pages, SA_KSM_SYS_USE_ZERO_PAGES),
        F(merge_across_nodes, SA_KSM_SYS_MERGE_ACROSS_NODES),
};
#undef F

static void add_sys(json_object *o, const struct sa_ksm_sys *s, const struct sys_field *f, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (s->have & f[i].bit)
                        add_i64(o, f[i].name, *(const int64_t *) ((const char *) s + f[i].offset));
}

static json_object *globals_object(const struct sa_ksm_globals *g) {
        json_object *o = json_object_new_object();

        add_sys(o, &g->sys, sys_counters, ELEMENTSOF(sys_counters));
        if (g->pages_skipped >= 0)
                add_i64(o, "pages_skipped", g->pages_skipped);
        if (g->cow_ksm >= 0)
                add_i64(o, "cow_ksm", g->cow_ksm);
        return o;
}

static json_object *ksmd_object(const struct sa_ksm_result *res) {
        const struct sa_ksm_globals *g = &res->snap.g1;
        json_object *o = json_object_new_object();

        add_sys(o, &g->sys, sys_run, ELEMENTSOF(sys_run));
        json_object_object_add(o, "running", json_object_new_boolean(sa_ksm_running(g)));
        add_sys(o, &g->sys, sys_knobs, ELEMENTSOF(sys_knobs));
        if (g->smart_scan >= 0)
                add_i64(o, "smart_scan", g->smart_scan);
        add_i64(o, "full_scans_first", res->first_full_scans);
        add_i64(o, "full_scans_last", res->last_full_scans);
        add_i64(o, "rounds", res->rounds);
        add_i64(o, "stable_rounds", res->stable_rounds);
        json_object_object_add(o, "stable", json_object_new_boolean(res->snap.stable));
        return o;
}

static json_object *proc_object(const struct sa_ksm_proc *p, const struct sa_ksm_inv *invs, size_t n) {
        json_object *o = json_object_new_object(), *w = json_object_new_object(), *a;
        const struct sa_ksm_stat *s = &p->stat;

        add_i64(o, "pid", p->pid);
        json_object_object_add(o, "comm", json_object_new_string(p->comm));
        json_object_object_add(o, "ksm_stat", sa_ksm_stat_json(s));
        json_object_object_add(w, "walked", json_object_new_boolean(p->walked));
        if (!p->walked && p->not_walked)
                json_object_object_add(w, "why", json_object_new_string(p->not_walked));
        add_i64(w, "mergeable_vmas", (int64_t) p->mergeable_vmas);
        add_i64(w, "present_pages", (int64_t) p->present_pages);
        add_i64(w, "ksm_pages", (int64_t) p->ksm_pages);
        add_i64(w, "zero_pages", (int64_t) p->zero_pages);
        add_i64(w, "swap_pages", (int64_t) p->swap_pages);
        if (p->have_smaps_ksm)
                add_i64(w, "smaps_ksm_kb", (int64_t) p->smaps_ksm_kb);
        if (p->walked && (int64_t) p->ksm_pages > s->merging_pages)
                add_i64(w, "unscanned_ksm_pages", (int64_t) p->ksm_pages - MAX(s->merging_pages, 0));
        json_object_object_add(o, "walk", w);
        a = json_object_new_array();
        for (size_t i = 0; i < n; i++)
                if (invs[i].pid == p->pid)
                        json_object_array_add(a, inv_object(&invs[i]));
        json_object_object_add(o, "invariants", a);
        return o;
}

json_object *sa_ksm_result_json(struct smapsaudit_ctx *ctx, const struct sa_ksm_result *res, const struct sa_ksm_env *env,
                                pid_t pid, enum smapsaudit_verdict verdict, json_object *coverage, json_object *findings) {
        json_object *o = json_object_new_object(), *a, *g;
        const struct sa_ksm_snap *s = &res->snap;
        json_object *notes = json_object_new_array();

        for (size_t i = 0; i < res->n_invs; i++)
                if (res->invs[i].verdict == SA_KSM_VIOLATED)
                        json_object_array_add(findings, finding_object(&res->invs[i], env->page_size));

        json_object_object_add(o, "schema", json_object_new_string(SCHEMA));
        json_object_object_add(o, "kernel", json_object_new_string(sa_kernel_get(ctx)->release));
        if (pid)
                add_i64(o, "pid", pid);
        json_object_object_add(o, "scope", json_object_new_string(pid ? "process" : "global"));
        json_object_object_add(o, "ksmd", ksmd_object(res));

        if (s->global) {
                g = globals_object(&s->g1);
                add_i64(g, "processes", (int64_t) s->n_procs);
                add_i64(g, "active_processes", (int64_t) s->n_active);
                json_object_object_add(g, "all_processes", json_object_new_boolean(s->all_processes));
                json_object_object_add(g, "complete", json_object_new_boolean(s->complete));
                json_object_object_add(g, "capped", json_object_new_boolean(s->capped));
                add_i64(g, "walked_pages", (int64_t) s->walked_pages);
                add_i64(g, "sum_ksm_merging_pages", (int64_t) s->sum_merging);
                add_i64(g, "sum_ksm_rmap_items", (int64_t) s->sum_rmap);
                add_i64(g, "sum_ksm_zero_pages", s->sum_zero);
                add_i64(g, "ksm_pfns", (int64_t) s->distinct_pfns);
                add_i64(g, "ksm_pfn_mapcount", (int64_t) s->sum_kpc);
                add_i64(g, "ksm_pages_mapped", (int64_t) s->sum_ksm_pages);
                add_i64(g, "unscanned_ksm_pages", (int64_t) s->sum_unscanned);
                add_i64(g, "swap_pages", (int64_t) s->sum_swap);
                if ((s->g1.sys.have & SA_KSM_SYS_GENERAL_PROFIT) && (s->g1.sys.have & SA_KSM_SYS_PAGES_SHARING)) {
                        /* what the kernel's formula says ksm_rmap_items is */
                        int64_t num = (s->g1.sys.pages_sharing + s->g1.sys.ksm_zero_pages) * env->page_size -
                                      s->g1.sys.general_profit;
                        add_i64(g, "ksm_rmap_items_derived", num / env->rmap_item_size);
                }
                json_object_object_add(o, "global", g);
                a = json_object_new_array();
                for (size_t i = 0; i < res->n_invs; i++)
                        if (res->invs[i].pid == 0)
                                json_object_array_add(a, inv_object(&res->invs[i]));
                json_object_object_add(o, "invariants", a);
                if (!s->all_processes)
                        json_object_array_add(notes, json_object_new_string(
                                "the processes of a capture are only some of the system's: global sums are judged "
                                "in the direction a subset cannot break"));
        }
        a = json_object_new_array();
        for (size_t i = 0; i < s->n_procs; i++)
                if (sa_ksm_snap_judges(s, &s->procs[i]))
                        json_object_array_add(a, proc_object(&s->procs[i], res->invs, res->n_invs));
        json_object_object_add(o, "processes", a);
        if (coverage)
                json_object_object_add(o, "coverage", coverage);
        if (res->stable_rounds == 0)
                json_object_array_add(notes, json_object_new_string(
                        "KSM's counters moved in every round: nothing was judged"));
        if (res->waited_out)
                json_object_array_add(notes, json_object_new_string(
                        "ksmd did not complete a full scan within the wait: differences that settle are reported "
                        "as lag, not as findings"));
        if (!sa_ksm_running(&s->g1))
                json_object_array_add(notes, json_object_new_string(
                        "ksmd is not running (run != 1): counters of exited processes and of unvisited mms stay "
                        "until it runs again (stale/lag, not findings)"));

        json_object_object_add(o, "verdict", json_object_new_string(smapsaudit_verdict_to_string(verdict)));
        json_object_object_add(o, "findings", json_object_get(findings));
        json_object_object_add(o, "notes", notes);
        return o;
}

/* ================================================================ merge coverage */

static const char *const cov_verdict_names[_SA_COV_VERDICT_MAX] = {
        [SA_COV_NOT_JUDGED] = "not-judged", [SA_COV_COMPLETE] = "complete", [SA_COV_UNCONFIRMED] = "unconfirmed",
        [SA_COV_UNMERGED] = "unmerged",
};

static json_object *percent(uint64_t part, uint64_t whole) {
        return whole ? json_object_new_double((double) ((part * 10000 + whole / 2) / whole) / 100.0) : NULL;
}

static void add_counts(json_object *o, const struct sa_cov_counts *n) {
        sa_json_add_u64(o, "hashed", n->hashed);
        sa_json_add_u64(o, "changed", n->changed);
        sa_json_add_u64(o, "candidates", n->candidates);
        sa_json_add_u64(o, "merged", n->merged);
        sa_json_add_u64(o, "unmerged", n->unmerged);
        sa_json_add_u64(o, "unconfirmed", n->unconfirmed);
        sa_json_add_u64(o, "full_max_page_sharing", n->full);
        json_object_object_add(o, "percent", percent(n->merged, n->candidates));
}

static json_object *coverage_finding(const struct sa_ksm_coverage *c, const struct sa_cov_proc *p,
                                     const struct sa_cov_vma *v) {
        json_object *o = json_object_new_object(), *vma = json_object_new_object();
        char *why = NULL;

        json_object_object_add(o, "kind", json_object_new_string(smapsaudit_verdict_to_string(SMAPSAUDIT_UNDER_ACCOUNTED)));
        json_object_object_add(o, "field", json_object_new_string("ksm_coverage"));
        json_object_object_add(vma, "start", sa_json_hex(v->start));
        json_object_object_add(vma, "end", sa_json_hex(v->end));
        json_object_object_add(o, "vma", vma);
        json_object_object_add(o, "pid", json_object_new_int(p->pid));
        sa_json_add_u64(o, "kernel_kb", v->n.merged * 4);
        sa_json_add_u64(o, "walk_kb", v->n.candidates * 4);
        json_object_object_add(o, "delta_kb", json_object_new_int64(-(int64_t) v->n.unmerged * 4));
        sa_json_add_u64(o, "kernel", v->n.merged);
        sa_json_add_u64(o, "walk", v->n.candidates);
        json_object_object_add(o, "unit", json_object_new_string("pages"));
        json_object_object_add(o, "source", json_object_new_string("ksm_coverage"));
        json_object_object_add(o, "tags", sa_json_tags(v->tags));
        if (asprintf(&why, "%" PRIu64 " page(s) of this mergeable VMA hold the same content as other pages and stayed "
                           "unmerged through %" PRId64 " complete full scans of ksmd while their content did not change%s",
                     v->n.unmerged, sa_cov_complete_scans(c),
                     (v->tags & SMAPSAUDIT_TAG_PROT_NONE)
                             ? "; the VMA is PROT_NONE: KSM stopped merging inaccessible VMAs with 474098edac26 "
                               "(6.1), fixed by d74943a2f3cd (6.5)"
                             : "") < 0)
                why = NULL;
        json_object_object_add(o, "explanation", json_object_new_string(why ? why : "unmerged identical pages"));
        free(why);
        return o;
}

json_object *sa_ksm_coverage_json(const struct sa_ksm_coverage *c, json_object *findings) {
        json_object *o = json_object_new_object(), *fs = json_object_new_object(), *a = json_object_new_array();
        const struct sa_ksm_globals *g = c->g;

        json_object_object_add(o, "judged", json_object_new_boolean(c->judged));
        if (c->why)
                json_object_object_add(o, "why", json_object_new_string(c->why));
        json_object_object_add(o, "source", json_object_new_string(c->from_capture ? "capture" : "/proc/PID/mem"));
        json_object_object_add(o, "scope", json_object_new_string(
                c->n_procs == 1 ? "within the process" : "across the processes read"));
        json_object_object_add(fs, "after_first_reading", json_object_new_int64(g[1].sys.full_scans));
        json_object_object_add(fs, "before_second_reading", json_object_new_int64(g[2].sys.full_scans));
        json_object_object_add(fs, "complete_between",
                               json_object_new_int64(MAX(sa_cov_complete_scans(c), 0)));
        json_object_object_add(fs, "required", json_object_new_int(SA_COV_REQUIRED_SCANS));
        json_object_object_add(o, "full_scans", fs);
        if (g[0].smart_scan >= 0)
                json_object_object_add(o, "smart_scan", json_object_new_int64(g[0].smart_scan));
        if (g[0].pages_skipped >= 0 && g[3].pages_skipped >= 0)
                json_object_object_add(o, "pages_skipped_delta",
                                       json_object_new_int64(g[3].pages_skipped - g[0].pages_skipped));
        if (g[0].cow_ksm >= 0 && g[3].cow_ksm >= 0)
                json_object_object_add(o, "cow_ksm_delta", json_object_new_int64(g[3].cow_ksm - g[0].cow_ksm));
        json_object_object_add(o, "use_zero_pages", json_object_new_int64(g[2].sys.use_zero_pages));
        json_object_object_add(o, "merge_across_nodes", json_object_new_int64(g[2].sys.merge_across_nodes));
        sa_json_add_u64(o, "max_pages", c->max_pages);
        json_object_object_add(o, "capped", json_object_new_boolean(c->capped));
        sa_json_add_u64(o, "unverified", c->unverified);
        add_counts(o, &c->n);

        for (size_t pi = 0; pi < c->n_procs; pi++) {
                const struct sa_cov_proc *p = &c->procs[pi];
                for (size_t vi = 0; vi < p->n_vmas; vi++) {
                        const struct sa_cov_vma *v = &p->vmas[vi];
                        json_object *e = json_object_new_object();

                        json_object_object_add(e, "pid", json_object_new_int(p->pid));
                        json_object_object_add(e, "comm", json_object_new_string(p->comm));
                        json_object_object_add(e, "start", sa_json_hex(v->start));
                        json_object_object_add(e, "end", sa_json_hex(v->end));
                        json_object_object_add(e, "perms", json_object_new_string(v->perms));
                        json_object_object_add(e, "tags", sa_json_tags(v->tags));
                        sa_json_add_u64(e, "pages", v->pages);
                        add_counts(e, &v->n);
                        json_object_object_add(e, "verdict", json_object_new_string(cov_verdict_names[v->verdict]));
                        if (v->n.unconfirmed)
                                json_object_object_add(e, "why", json_object_new_string(
                                        v->doubt == SA_COV_DOUBT_SMART_SCAN
                                                ? "smart_scan skipped pages during the window: pages that failed to "
                                                  "merge before are visited only every few scans (a longer --wait, or "
                                                  "smart_scan=0, decides)"
                                                : "KSM pages were copied on write during the window (cow_ksm moved) and "
                                                  "this process's KSM counters moved: its unmerged pages may have been "
                                                  "merged and broken again"));
                        json_object_array_add(a, e);
                        if (v->verdict == SA_COV_UNMERGED)
                                json_object_array_add(findings, coverage_finding(c, p, v));
                }
        }
        json_object_object_add(o, "vmas", a);
        return o;
}

/* ================================================================ text */

static const char *jstr(json_object *o, const char *k) {
        json_object *v;
        return json_object_object_get_ex(o, k, &v) && v ? json_object_get_string(v) : "";
}

static void text_invariants(FILE *f, json_object *a) {
        for (size_t i = 0; a && i < json_object_array_length(a); i++) {
                json_object *v = json_object_array_get_idx(a, i);
                fprintf(f, "  %-22s %-20s %14s %2s %-14s %-12s %s\n", jstr(v, "name"), jstr(v, "field"),
                        jstr(v, "kernel"), jstr(v, "relation"), jstr(v, "walk"), jstr(v, "verdict"), jstr(v, "why"));
        }
}

/* Made from the document, not from the result: text and JSON cannot say different things. */
int sa_ksm_result_text(json_object *o, char **ret) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        json_object *a, *k;

        if (!f)
                return -ENOMEM;
        fprintf(f, "KSM on %s: %s\n", jstr(o, "kernel"), jstr(o, "verdict"));
        if (json_object_object_get_ex(o, "ksmd", &k))
                fprintf(f, "ksmd: run=%s full_scans %s..%s, %s stable round(s) of %s\n", jstr(k, "run"),
                        jstr(k, "full_scans_first"), jstr(k, "full_scans_last"), jstr(k, "stable_rounds"), jstr(k, "rounds"));
        if (json_object_object_get_ex(o, "global", &k))
                fprintf(f, "global: pages_shared %s pages_sharing %s ksm_zero_pages %s general_profit %s; %s processes, "
                           "%s active, complete %s\n", jstr(k, "pages_shared"), jstr(k, "pages_sharing"),
                        jstr(k, "ksm_zero_pages"), jstr(k, "general_profit"), jstr(k, "processes"),
                        jstr(k, "active_processes"), jstr(k, "complete"));
        fprintf(f, "  %-22s %-20s %14s %2s %-14s %-12s %s\n", "INVARIANT", "FIELD", "KERNEL", "", "WALK", "VERDICT", "WHY");
        if (json_object_object_get_ex(o, "invariants", &a))
                text_invariants(f, a);
        if (json_object_object_get_ex(o, "processes", &a))
                for (size_t i = 0; i < json_object_array_length(a); i++) {
                        json_object *p = json_object_array_get_idx(a, i), *inv;
                        fprintf(f, "PID %s (%s)\n", jstr(p, "pid"), jstr(p, "comm"));
                        if (json_object_object_get_ex(p, "invariants", &inv))
                                text_invariants(f, inv);
                }
        if (json_object_object_get_ex(o, "coverage", &k)) {
                fprintf(f, "coverage: %s%s%s; %s of %s candidate pages merged%s%s%s\n",
                        streq(jstr(k, "judged"), "true") ? "judged" : "not judged",
                        *jstr(k, "why") ? ": " : "", jstr(k, "why"), jstr(k, "merged"), jstr(k, "candidates"),
                        *jstr(k, "percent") ? " (" : "", jstr(k, "percent"), *jstr(k, "percent") ? "%)" : "");
                if (json_object_object_get_ex(k, "vmas", &a))
                        for (size_t i = 0; i < json_object_array_length(a); i++) {
                                json_object *v = json_object_array_get_idx(a, i);
                                fprintf(f, "  PID %s %s-%s %s %s merged %s/%s unmerged %s %s\n", jstr(v, "pid"),
                                        jstr(v, "start"), jstr(v, "end"), jstr(v, "perms"), jstr(v, "tags"),
                                        jstr(v, "merged"), jstr(v, "candidates"), jstr(v, "unmerged"), jstr(v, "verdict"));
                        }
        }
        if (json_object_object_get_ex(o, "findings", &a))
                for (size_t i = 0; i < json_object_array_length(a); i++) {
                        json_object *fi = json_object_array_get_idx(a, i);
                        fprintf(f, "finding: %s %s (%s)%s%s: kernel %s, walk %s %s: %s\n", jstr(fi, "kind"),
                                jstr(fi, "field"), jstr(fi, "source"), *jstr(fi, "pid") ? " PID " : "", jstr(fi, "pid"),
                                jstr(fi, "kernel"), jstr(fi, "walk"), jstr(fi, "unit"), jstr(fi, "explanation"));
                }
        if (json_object_object_get_ex(o, "notes", &a))
                for (size_t i = 0; i < json_object_array_length(a); i++)
                        fprintf(f, "note: %s\n", json_object_get_string(json_object_array_get_idx(a, i)));
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}
