/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A JSON report read back into a report object, so that a report from
 * smapsauditd prints exactly as one made in-process. Unknown keys are
 * ignored (newer daemons add fields); a missing key leaves a zero.
 */
#include <inttypes.h>
#include <json-c/json.h>

#include "json-util.h"
#include "report.h"

static const char *str(json_object *o, const char *k) {
        json_object *v;

        return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
                                                                                               : NULL;
}

/* A string into a fixed buffer: "" when missing, cut at the buffer's size. */
static void copy_str(char *dst, size_t size, json_object *o, const char *k) {
        const char *s = str(o, k);

        snprintf(dst, size, "%s", s ? s : "");
}

static int64_t num(json_object *o, const char *k, bool *have) {
        json_object *v;
        bool h = json_object_object_get_ex(o, k, &v) && (json_object_is_type(v, json_type_int) ||
                                                        json_object_is_type(v, json_type_double));
        if (have)
                *have = h;
        return h ? json_object_get_int64(v) : 0;
}

static uint64_t unum(json_object *o, const char *k, bool *have) {
        int64_t v = num(o, k, have);
        return v < 0 ? 0 : (uint64_t) v;
}

static bool boolean(json_object *o, const char *k) {
        json_object *v;
        return json_object_object_get_ex(o, k, &v) && json_object_get_boolean(v);
}

static uint64_t hexnum(json_object *o, const char *k) {
        const char *s = str(o, k);
        return s ? strtoull(s, NULL, 16) : 0;
}

static enum smapsaudit_verdict verdict_of(const char *s) {
        for (enum smapsaudit_verdict v = SMAPSAUDIT_CONSISTENT; v <= SMAPSAUDIT_INCONCLUSIVE; v++)
                if (s && streq(s, smapsaudit_verdict_to_string(v)))
                        return v;
        return SMAPSAUDIT_INCONCLUSIVE;
}

static unsigned tags_of(json_object *o) {
        json_object *a;
        unsigned t = 0;

        if (!json_object_object_get_ex(o, "tags", &a) || !json_object_is_type(a, json_type_array))
                return 0;
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                const char *s = json_object_get_string(json_object_array_get_idx(a, i));
                for (unsigned b = 0; s && sa_tag_name(b); b++)
                        if (streq(s, sa_tag_name(b)))
                                t |= 1u << b;
        }
        return t;
}

static int nodes_of(json_object *o, struct sa_node_count **ret, size_t *n) {
        struct json_object_iterator it, end;
        size_t count = 0;

        *ret = NULL;
        *n = 0;
        if (!o || !json_object_is_type(o, json_type_object))
                return 0;
        *ret = calloc(MAX(json_object_object_length(o), 1), sizeof(**ret));
        if (!*ret)
                return -ENOMEM;
        it = json_object_iter_begin(o);
        end = json_object_iter_end(o);
        for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it))
                (*ret)[count++] = (struct sa_node_count) {
                        atoi(json_object_iter_peek_name(&it)),
                        (uint64_t) MAX(json_object_get_int64(json_object_iter_peek_value(&it)), 0),
                };
        *n = count;
        return 0;
}

static int parse_vma(json_object *o, struct sa_vma_report *v) {
        json_object *fields, *w, *numa, *x;
        const char *s;

        v->kernel.start = hexnum(o, "start");
        v->kernel.end = hexnum(o, "end");
        copy_str(v->kernel.perms, sizeof(v->kernel.perms), o, "perms");
        v->kernel.name = strdup((s = str(o, "name")) ? s : "");
        if (!v->kernel.name)
                return -ENOMEM;
        v->tags = tags_of(o);
        v->verdict = verdict_of(str(o, "verdict"));
        v->stable = true;
        if (json_object_object_get_ex(o, "fields", &fields))
                for (unsigned f = 0; f <= SA_PRIVATE; f++) {
                        json_object *c;
                        bool have_k, have_lo;
                        uint64_t walk, lo, hi;

                        if (!json_object_object_get_ex(fields, sa_fields[f].name, &c))
                                continue;
                        walk = unum(c, "walk_kb", NULL);
                        lo = unum(c, "walk_lo_kb", &have_lo);
                        hi = unum(c, "walk_hi_kb", NULL);
                        if (!have_lo)
                                lo = hi = walk;
                        v->cmp[f].kernel_kb = unum(c, "kernel_kb", &have_k);
                        v->cmp[f].judged = have_k && !streq(str(c, "verdict") ? str(c, "verdict") : "", "not-judged");
                        v->cmp[f].walk_lo_kb = lo;
                        v->cmp[f].walk_hi_kb = hi;
                        v->cmp[f].verdict = verdict_of(str(c, "verdict"));
                        if (have_k) {
                                v->kernel.have |= f < _SA_SMAPS_FIELD_MAX ? 1ULL << f : 0;
                                if (f < _SA_SMAPS_FIELD_MAX)
                                        v->kernel.kb[f] = v->cmp[f].kernel_kb;
                        }
                }
        if (json_object_object_get_ex(o, "walk", &w)) {
                v->walk.present_pages = unum(w, "present_pages", NULL);
                v->walk.pmd_thps = unum(w, "pmd_thps", NULL);
                v->walk.ksm_pages = unum(w, "ksm_pages", NULL);
                v->walk.zero_pages = unum(w, "zero_pages", NULL);
                v->walk.swap_pages = unum(w, "swap_pages", NULL);
                v->walk.guard_pages = unum(w, "guard_pages", NULL);
                v->walk.migration_pages = unum(w, "migration_pages", NULL);
        }
        if (json_object_object_get_ex(o, "numa", &numa)) {
                int r;
                v->numa_verdict = verdict_of(str(numa, "verdict"));
                v->numa_judged = !streq(str(numa, "verdict") ? str(numa, "verdict") : "not-judged", "not-judged");
                if (json_object_object_get_ex(numa, "kernel_pages", &x)) {
                        v->have_numa_kernel = true;
                        r = nodes_of(x, &v->numa_kernel, &v->n_numa_kernel);
                        if (r < 0)
                                return r;
                }
                if (json_object_object_get_ex(numa, "walk_pages", &x)) {
                        r = nodes_of(x, &v->walk.nodes, &v->walk.n_nodes);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static void parse_totals(json_object *o, struct smapsaudit_report *r) {
        for (unsigned f = 0; f < _SA_FIELD_MAX; f++) {
                struct sa_total *t = &r->totals[f];
                json_object *e;
                bool have_lo;

                if (!json_object_object_get_ex(o, sa_fields[f].name, &e))
                        continue;
                t->kernel_kb = unum(e, "kernel_kb", &t->have_kernel);
                t->smaps_sum_kb = unum(e, "smaps_sum_kb", &t->have_smaps_sum);
                t->status_kb = unum(e, "status_kb", &t->have_status);
                t->walk_lo_kb = unum(e, "walk_lo_kb", &have_lo);
                t->walk_hi_kb = unum(e, "walk_hi_kb", NULL);
                if (!have_lo)
                        t->walk_lo_kb = t->walk_hi_kb = unum(e, "walk_kb", NULL);
        }
        /* VmRSS travels inside "Rss" as status_kb, and as its own entry */
        r->totals[SA_RSS].have_status = false;
}

static int parse_finding(json_object *o, struct smapsaudit_report *r) {
        json_object *vma;
        struct smapsaudit_finding f = {
                .kind = verdict_of(str(o, "kind")),
                .field = str(o, "field"),
                .source = str(o, "source"),
                .kernel_kb = num(o, "kernel_kb", NULL),
                .walk_kb = num(o, "walk_kb", NULL),
                .delta_kb = num(o, "delta_kb", NULL),
                .tags = tags_of(o),
                .explanation = str(o, "explanation"),
        };

        if (json_object_object_get_ex(o, "vma", &vma) && vma && json_object_is_type(vma, json_type_object)) {
                f.vma_start = hexnum(vma, "start");
                f.vma_end = hexnum(vma, "end");
        }
        return sa_report_add_finding(r, &f);
}

/* The "ksm" object, as report-json.c wrote it: checks it cannot name are dropped. */
static void parse_ksm(json_object *o, struct sa_ksm_report *k) {
        json_object *x, *a;

        k->have = true;
        if (json_object_object_get_ex(o, "ksm_stat", &x))
                sa_ksm_stat_from_json(x, &k->stat);
        if (json_object_object_get_ex(o, "walk", &x)) {
                k->ksm_pages = unum(x, "ksm_pages", NULL);
                k->zero_pages = unum(x, "zero_pages_mergeable", NULL);
        }
        if (!json_object_object_get_ex(o, "invariants", &a) || !json_object_is_type(a, json_type_array))
                return;
        for (size_t i = 0; i < json_object_array_length(a) && k->n_checks < ELEMENTSOF(k->checks); i++) {
                json_object *e = json_object_array_get_idx(a, i);
                struct sa_ksm_check *c = &k->checks[k->n_checks];
                int v = sa_ksm_verdict_from_string(str(e, "verdict"));

                if (!str(e, "name") || v < 0)
                        continue;
                *c = (struct sa_ksm_check) {
                        .kernel = num(e, "kernel", NULL), .walk = num(e, "walk", NULL), .verdict = v,
                };
                copy_str(c->name, sizeof(c->name), e, "name");
                copy_str(c->field, sizeof(c->field), e, "field");
                copy_str(c->source, sizeof(c->source), e, "source");
                copy_str(c->against, sizeof(c->against), e, "against");
                copy_str(c->relation, sizeof(c->relation), e, "relation");
                k->n_checks++;
        }
}

_export_ int smapsaudit_report_from_json(const char *json, struct smapsaudit_report **ret) {
        json_object *o = json_tokener_parse(json), *m, *a;
        struct smapsaudit_report *r = NULL;
        const char *s;
        int e;

        if (!o || !json_object_is_type(o, json_type_object) || !(s = str(o, "schema")) ||
            !startswith(s, "smapsaudit.report/")) {
                e = -EBADMSG;
                goto fail;
        }
        e = sa_report_new((pid_t) num(o, "pid", NULL), &r);
        if (e < 0)
                goto fail;
        copy_str(r->comm, sizeof(r->comm), o, "comm");
        if (((s = str(o, "cgroup")) && !(r->cgroup = strdup(s))) || ((s = str(o, "unit")) && !(r->unit = strdup(s)))) {
                e = -ENOMEM;
                goto fail;
        }
        copy_str(r->kernel, sizeof(r->kernel), o, "kernel");
        r->verdict = verdict_of(str(o, "verdict"));
        if ((s = str(o, "error")) && !(r->error = strdup(s))) {
                e = -ENOMEM;
                goto fail;
        }
        if (json_object_object_get_ex(o, "mode", &m)) {
                r->walk_mode = (boolean(m, "pagemap_scan") ? SA_WALK_SCAN : 0) | (boolean(m, "pfns") ? SA_WALK_PFN : 0) |
                               (boolean(m, "kpageflags") ? SA_WALK_KPAGE : 0) | (boolean(m, "nodes") ? SA_WALK_NODES : 0) |
                               (streq((s = str(m, "tier")) ? s : "", "fast") ? SA_WALK_FAST : 0);
                r->frozen = boolean(m, "frozen");
                r->passes = (unsigned) unum(m, "passes", NULL);
                r->cpu_usec = unum(m, "cpu_usec", NULL);
                r->status_slack_kb = unum(m, "status_slack_kb", NULL);
                r->mapcount = streq((s = str(m, "mapcount")) ? s : "", "average") ? SA_MAPCOUNT_AVERAGE : SA_MAPCOUNT_PRECISE;
        }
        if (json_object_object_get_ex(o, "coverage", &m)) {
                r->decided_rss_kb = unum(m, "decided_rss_kb", NULL);
                r->undecided_rss_kb = unum(m, "undecided_rss_kb", NULL);
                r->unstable_vmas = (unsigned) unum(m, "undecided_vmas", NULL);
        }
        if (json_object_object_get_ex(o, "totals", &m))
                parse_totals(m, r);
        if (json_object_object_get_ex(o, "vmas", &a) && json_object_is_type(a, json_type_array)) {
                size_t n = json_object_array_length(a);
                r->vmas = calloc(MAX(n, 1), sizeof(*r->vmas));
                if (!r->vmas) {
                        e = -ENOMEM;
                        goto fail;
                }
                for (size_t i = 0; i < n; i++) {
                        r->n_vmas++;
                        e = parse_vma(json_object_array_get_idx(a, i), &r->vmas[i]);
                        if (e < 0)
                                goto fail;
                }
        }
        r->vmas_omitted = unum(o, "vmas_omitted", NULL);
        if (json_object_object_get_ex(o, "findings", &a) && json_object_is_type(a, json_type_array))
                for (size_t i = 0; i < json_object_array_length(a); i++) {
                        e = parse_finding(json_object_array_get_idx(a, i), r);
                        if (e < 0)
                                goto fail;
                }
        if (json_object_object_get_ex(o, "notes", &a) && json_object_is_type(a, json_type_array))
                for (size_t i = 0; i < json_object_array_length(a); i++)
                        sa_report_note(r, "%s", json_object_get_string(json_object_array_get_idx(a, i)));
        if (json_object_object_get_ex(o, "ksm", &m) && json_object_is_type(m, json_type_object))
                parse_ksm(m, &r->ksm);
        json_object_put(o);
        *ret = r;
        return 0;
fail:
        json_object_put(o);
        smapsaudit_report_unref(r);
        return e;
}
