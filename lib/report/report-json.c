/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The JSON report, schema smapsaudit.report/1 (docs/report.md).
 * Fields may be added; none may be renamed or removed without a bump.
 */
#include <inttypes.h>
#include <json-c/json.h>
#include <json-c/printbuf.h>

#include "json-util.h"
#include "report.h"

#define SCHEMA "smapsaudit.report/1"

static json_object *totals_object(const struct smapsaudit_report *r) {
        json_object *o = json_object_new_object();

        for (unsigned f = 0; f < _SA_FIELD_MAX; f++) {
                const struct sa_total *t = &r->totals[f];
                json_object *e;

                if (!t->have_kernel && !t->have_status && !t->have_smaps_sum && !t->walk_hi_kb)
                        continue;
                e = json_object_new_object();
                if (t->have_kernel)
                        sa_json_add_u64(e, "kernel_kb", t->kernel_kb);
                if (t->have_smaps_sum)
                        sa_json_add_u64(e, "smaps_sum_kb", t->smaps_sum_kb);
                sa_json_add_u64(e, "walk_kb", t->walk_lo_kb);
                if (t->walk_lo_kb != t->walk_hi_kb) {
                        sa_json_add_u64(e, "walk_lo_kb", t->walk_lo_kb);
                        sa_json_add_u64(e, "walk_hi_kb", t->walk_hi_kb);
                }
                if (t->have_status)
                        sa_json_add_u64(e, "status_kb", t->status_kb);
                /* which comparison of this total was made, and how it came out */
                if (r->rollup_cmp[f].judged)
                        json_object_object_add(e, "rollup_verdict",
                                               json_object_new_string(smapsaudit_verdict_to_string(r->rollup_cmp[f].verdict)));
                if (r->status_cmp[f].judged)
                        json_object_object_add(e, "status_verdict",
                                               json_object_new_string(smapsaudit_verdict_to_string(r->status_cmp[f].verdict)));
                json_object_object_add(o, sa_fields[f].name, e);
        }
        /* the status view of Rss is VmRSS: show it beside the rollup's Rss */
        if (r->totals[SA_ST_RSS].have_status) {
                json_object *rss;
                if (json_object_object_get_ex(o, "Rss", &rss))
                        sa_json_add_u64(rss, "status_kb", r->totals[SA_ST_RSS].status_kb);
        }
        return o;
}

static json_object *finding_object(const struct smapsaudit_finding *f) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "kind", json_object_new_string(smapsaudit_verdict_to_string(f->kind)));
        json_object_object_add(o, "field", json_object_new_string(f->field));
        if (f->vma_start || f->vma_end) {
                json_object *v = json_object_new_object();
                json_object_object_add(v, "start", sa_json_hex(f->vma_start));
                json_object_object_add(v, "end", sa_json_hex(f->vma_end));
                json_object_object_add(o, "vma", v);
        } else
                json_object_object_add(o, "vma", NULL);
        json_object_object_add(o, "kernel_kb", json_object_new_int64(f->kernel_kb));
        json_object_object_add(o, "walk_kb", json_object_new_int64(f->walk_kb));
        json_object_object_add(o, "delta_kb", json_object_new_int64(f->delta_kb));
        json_object_object_add(o, "source", json_object_new_string(f->source));
        json_object_object_add(o, "tags", sa_json_tags(f->tags));
        json_object_object_add(o, "explanation", json_object_new_string(f->explanation));
        return o;
}

/* The KSM part, as sa_ksm_audit() judged it: "walk" is the other side of each invariant. */
static json_object *ksm_object(const struct sa_ksm_report *k) {
        json_object *o = json_object_new_object(), *w = json_object_new_object(), *a = json_object_new_array();

        json_object_object_add(o, "ksm_stat", sa_ksm_stat_json(&k->stat));
        sa_json_add_u64(w, "ksm_pages", k->ksm_pages);
        sa_json_add_u64(w, "zero_pages_mergeable", k->zero_pages);
        json_object_object_add(o, "walk", w);
        for (size_t i = 0; i < k->n_checks; i++) {
                const struct sa_ksm_check *c = &k->checks[i];
                json_object *e = json_object_new_object();

                json_object_object_add(e, "name", json_object_new_string(c->name));
                json_object_object_add(e, "field", json_object_new_string(c->field));
                json_object_object_add(e, "source", json_object_new_string(c->source));
                json_object_object_add(e, "against", json_object_new_string(c->against));
                json_object_object_add(e, "relation", json_object_new_string(c->relation));
                json_object_object_add(e, "kernel", json_object_new_int64(c->kernel));
                json_object_object_add(e, "walk", json_object_new_int64(c->walk));
                json_object_object_add(e, "verdict", json_object_new_string(sa_ksm_verdict_to_string(c->verdict)));
                json_object_array_add(a, e);
        }
        json_object_object_add(o, "invariants", a);
        return o;
}

/* The "vmas" array as report-json-vmas.c writes it: json-c notes where it goes, and at what level. */
struct vmas_json {
        bool compact;
        int at, level, flags;   /* where json-c printed the array, and how */
};

static int vmas_placeholder(json_object *jso, struct printbuf *pb, int level, int flags) {
        struct vmas_json *vj = json_object_get_userdata(jso);

        vj->at = pb->bpos;
        vj->level = level;
        vj->flags = flags;
        return 0;
}

static json_object *report_object(const struct smapsaudit_report *r, unsigned flags, struct vmas_json *vj) {
        json_object *o = json_object_new_object(), *a, *m;
        size_t omitted = 0;

        json_object_object_add(o, "schema", json_object_new_string(SCHEMA));
        json_object_object_add(o, "pid", json_object_new_int(r->pid));
        json_object_object_add(o, "comm", json_object_new_string(r->comm));
        if (r->cgroup)
                json_object_object_add(o, "cgroup", json_object_new_string(r->cgroup));
        if (r->unit)
                json_object_object_add(o, "unit", json_object_new_string(r->unit));
        json_object_object_add(o, "kernel", json_object_new_string(r->kernel));
        json_object_object_add(o, "verdict", json_object_new_string(smapsaudit_verdict_to_string(r->verdict)));
        if (r->error)
                json_object_object_add(o, "error", json_object_new_string(r->error));

        m = json_object_new_object();
        json_object_object_add(m, "pagemap_scan", json_object_new_boolean(r->walk_mode & SA_WALK_SCAN));
        json_object_object_add(m, "pfns", json_object_new_boolean(r->walk_mode & SA_WALK_PFN));
        json_object_object_add(m, "kpageflags", json_object_new_boolean(r->walk_mode & SA_WALK_KPAGE));
        json_object_object_add(m, "nodes", json_object_new_boolean(r->walk_mode & SA_WALK_NODES));
        json_object_object_add(m, "mapcount", json_object_new_string(r->mapcount == SA_MAPCOUNT_AVERAGE ? "average" : "precise"));
        json_object_object_add(m, "frozen", json_object_new_boolean(r->frozen));
        json_object_object_add(m, "tier", json_object_new_string(r->walk_mode & SA_WALK_FAST ? "fast" : "full"));
        json_object_object_add(m, "passes", json_object_new_int((int) r->passes));
        sa_json_add_u64(m, "cpu_usec", r->cpu_usec);
        sa_json_add_u64(m, "status_slack_kb", r->status_slack_kb);
        json_object_object_add(o, "mode", m);

        m = json_object_new_object();
        json_object_object_add(m, "balancing", json_object_new_int64(r->numa.balancing));
        json_object_object_add(m, "scan_seq", json_object_new_int64(r->numa.scan_seq));
        json_object_object_add(m, "threads", json_object_new_int64(r->numa.threads));
        if (r->vmstat.have & (1u << 1))
                json_object_object_add(m, "numa_huge_pte_updates", json_object_new_int64(r->vmstat.numa_huge_pte_updates));
        if (r->vmstat.have & (1u << 0))
                json_object_object_add(m, "numa_pte_updates", json_object_new_int64(r->vmstat.numa_pte_updates));
        json_object_object_add(o, "numa", m);

        m = json_object_new_object();
        sa_json_add_u64(m, "decided_rss_kb", r->decided_rss_kb);
        sa_json_add_u64(m, "undecided_rss_kb", r->undecided_rss_kb);
        json_object_object_add(m, "undecided_vmas", json_object_new_int((int) r->unstable_vmas));
        json_object_object_add(o, "coverage", m);

        json_object_object_add(o, "totals", totals_object(r));
        *vj = (struct vmas_json) { .compact = flags & SMAPSAUDIT_REPORT_COMPACT };
        for (size_t i = 0; i < r->n_vmas; i++)
                omitted += !sa_report_vma_in_json(&r->vmas[i], vj->compact);
        a = json_object_new_array();
        json_object_set_serializer(a, vmas_placeholder, vj, NULL);
        json_object_object_add(o, "vmas", a);
        if (vj->compact || r->vmas_omitted)
                sa_json_add_u64(o, "vmas_omitted", r->vmas_omitted + omitted);
        a = json_object_new_array();
        for (size_t i = 0; i < r->n_findings; i++)
                json_object_array_add(a, finding_object(&r->findings[i]));
        json_object_object_add(o, "findings", a);
        a = json_object_new_array();
        for (size_t i = 0; i < r->n_notes; i++)
                json_object_array_add(a, json_object_new_string(r->notes[i]));
        if (omitted) {
                char note[160];

                snprintf(note, sizeof(note), "%zu consistent VMA(s) left out of this compact report", omitted);
                json_object_array_add(a, json_object_new_string(note));
        }
        json_object_object_add(o, "notes", a);
        if (r->ksm.have)
                json_object_object_add(o, "ksm", ksm_object(&r->ksm));
        return o;
}

_export_ int smapsaudit_report_write_json(const struct smapsaudit_report *r, unsigned flags, FILE *f) {
        struct vmas_json vj = {};
        json_object *o = report_object(r, flags, &vj);
        const char *s;
        size_t len;
        int ret = -ENOMEM;

        if (!o)
                goto out;
        s = json_object_to_json_string_length(o, (flags & SMAPSAUDIT_REPORT_PRETTY) ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                                                                                     : JSON_C_TO_STRING_PLAIN, &len);
        if (!s)
                goto out;
        ret = -EIO;
        if (fwrite(s, 1, (size_t) vj.at, f) != (size_t) vj.at)
                goto out;
        ret = sa_report_write_json_vmas(r, vj.compact, vj.level, vj.flags, f);
        if (ret >= 0 && fwrite(s + vj.at, 1, len - (size_t) vj.at, f) != len - (size_t) vj.at)
                ret = -EIO;
out:
        json_object_put(o);
        return ret;
}

_export_ int smapsaudit_report_to_json(const struct smapsaudit_report *r, unsigned flags, char **ret) {
        _cleanup_free_ char *buf = NULL;
        size_t size;
        FILE *f = open_memstream(&buf, &size);
        int err;

        if (!f)
                return -ENOMEM;
        err = smapsaudit_report_write_json(r, flags, f);
        /* the buffer is only complete, and its size known, once the stream is closed */
        if (fclose(f) != 0 && err >= 0)
                err = -ENOMEM;
        if (err < 0)
                return err == -EIO ? -ENOMEM : err;
        *ret = TAKE_PTR(buf);
        return 0;
}
