/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The "vmas" array of the JSON report (docs/report.md), written one VMA at
 * a time, straight to the output: a json-c object costs about 1 KiB per
 * hash table, close to 40 KiB for one VMA's fields, and a process may have
 * 65,530 VMAs, whose report runs to some 150 MB. report-json.c prints the
 * rest of the report with json-c, with an empty "vmas" that notes where the
 * array goes; each VMA is built, printed and freed in turn there, with the
 * separators and indentation json-c gives an array at that level, so the
 * text is the same as a whole tree's.
 */
#include <json-c/json.h>
#include <json-c/printbuf.h>

#include "json-util.h"
#include "report.h"

/*
 * The few values that every VMA repeats (verdicts, booleans), made once per
 * report and shared by reference: tens of thousands of VMAs print each
 * about fifty of them.
 */
struct words {
        json_object *verdict[SMAPSAUDIT_INCONCLUSIVE + 1], *not_judged, *boolean[2];
};

static int words_init(struct words *w) {
        for (unsigned v = 0; v < ELEMENTSOF(w->verdict); v++)
                w->verdict[v] = json_object_new_string(smapsaudit_verdict_to_string(v));
        w->not_judged = json_object_new_string("not-judged");
        w->boolean[0] = json_object_new_boolean(false);
        w->boolean[1] = json_object_new_boolean(true);
        for (unsigned v = 0; v < ELEMENTSOF(w->verdict); v++)
                if (!w->verdict[v])
                        return -ENOMEM;
        return w->not_judged && w->boolean[0] && w->boolean[1] ? 0 : -ENOMEM;
}

static void words_done(struct words *w) {
        for (unsigned v = 0; v < ELEMENTSOF(w->verdict); v++)
                json_object_put(w->verdict[v]);
        json_object_put(w->not_judged);
        json_object_put(w->boolean[0]);
        json_object_put(w->boolean[1]);
}

static json_object *word_verdict(const struct words *w, bool judged, enum smapsaudit_verdict v) {
        if (!judged)
                return json_object_get(w->not_judged);
        if ((unsigned) v < ELEMENTSOF(w->verdict))
                return json_object_get(w->verdict[v]);
        return json_object_new_string(smapsaudit_verdict_to_string(v));
}

static json_object *field_cmp(const struct words *wd, const struct sa_field_cmp *c, enum sa_field f,
                              const struct sa_acc *walk) {
        json_object *o = json_object_new_object();
        uint64_t lo = sa_field_to_kb(f, walk->f[f].lo), hi = sa_field_to_kb(f, walk->f[f].hi);
        bool exact = lo == hi;

        if (c->judged)
                sa_json_put(o, "kernel_kb", sa_json_u64(c->kernel_kb));
        sa_json_put(o, "walk_kb", sa_json_u64(c->judged && c->kernel_kb > hi ? hi : lo));
        if (!exact) {
                sa_json_put(o, "walk_lo_kb", sa_json_u64(lo));
                sa_json_put(o, "walk_hi_kb", sa_json_u64(hi));
        }
        sa_json_put(o, "exact", json_object_get(wd->boolean[sa_fields[f].exact == SA_EXACT && exact]));
        sa_json_put(o, "verdict", word_verdict(wd, c->judged, c->verdict));
        return o;
}

static json_object *nodes_object(const struct sa_node_count *n, size_t count) {
        json_object *o = json_object_new_object();

        for (size_t i = 0; i < count; i++) {
                char k[16];
                snprintf(k, sizeof(k), "%d", n[i].node);
                sa_json_add_u64(o, k, n[i].pages);
        }
        return o;
}

static json_object *fields_object(const struct words *wd, const struct sa_vma_report *v) {
        json_object *fields = json_object_new_object();

        for (unsigned f = 0; f <= SA_PRIVATE; f++) {
                bool have = f >= _SA_SMAPS_FIELD_MAX || (v->kernel.have & (1ULL << f));
                if (!have || sa_fields[f].rollup_only)
                        continue;
                sa_json_put(fields, sa_fields[f].name, field_cmp(wd, &v->cmp[f], f, &v->walk));
        }
        return fields;
}

/* Whether fields_object() prints the same of a and b; and so on for the other parts below. */
static bool same_fields(const struct sa_vma_report *a, const struct sa_vma_report *b) {
        uint64_t mask = (1ULL << _SA_SMAPS_FIELD_MAX) - 1;

        if ((a->kernel.have & mask) != (b->kernel.have & mask))
                return false;
        for (unsigned f = 0; f <= SA_PRIVATE; f++) {
                const struct sa_field_cmp *x = &a->cmp[f], *y = &b->cmp[f];

                if (x->judged != y->judged || a->walk.f[f].lo != b->walk.f[f].lo || a->walk.f[f].hi != b->walk.f[f].hi ||
                    (x->judged && (x->kernel_kb != y->kernel_kb || x->verdict != y->verdict)))
                        return false;
        }
        return true;
}

static json_object *walk_object(const struct words *wd, const struct sa_vma_report *v) {
        json_object *w = json_object_new_object();

        (void) wd;
        sa_json_put(w, "present_pages", sa_json_u64(v->walk.present_pages));
        sa_json_put(w, "pmd_thps", sa_json_u64(v->walk.pmd_thps));
        sa_json_put(w, "ksm_pages", sa_json_u64(v->walk.ksm_pages));
        sa_json_put(w, "zero_pages", sa_json_u64(v->walk.zero_pages));
        sa_json_put(w, "swap_pages", sa_json_u64(v->walk.swap_pages));
        sa_json_put(w, "guard_pages", sa_json_u64(v->walk.guard_pages));
        sa_json_put(w, "migration_pages", sa_json_u64(v->walk.migration_pages));
        return w;
}

static bool same_walk(const struct sa_vma_report *a, const struct sa_vma_report *b) {
        return a->walk.present_pages == b->walk.present_pages && a->walk.pmd_thps == b->walk.pmd_thps &&
               a->walk.ksm_pages == b->walk.ksm_pages && a->walk.zero_pages == b->walk.zero_pages &&
               a->walk.swap_pages == b->walk.swap_pages && a->walk.guard_pages == b->walk.guard_pages &&
               a->walk.migration_pages == b->walk.migration_pages;
}

static bool has_numa(const struct sa_vma_report *v) {
        return v->have_numa_kernel || v->walk.n_nodes;
}

static json_object *numa_object(const struct words *wd, const struct sa_vma_report *v) {
        json_object *n = json_object_new_object();

        if (v->have_numa_kernel)
                sa_json_put(n, "kernel_pages", nodes_object(v->numa_kernel, v->n_numa_kernel));
        sa_json_put(n, "walk_pages", nodes_object(v->walk.nodes, v->walk.n_nodes));
        sa_json_put(n, "verdict", word_verdict(wd, v->numa_judged, v->numa_verdict));
        return n;
}

static bool same_nodes(const struct sa_node_count *a, size_t na, const struct sa_node_count *b, size_t nb) {
        if (na != nb)
                return false;
        for (size_t i = 0; i < na; i++)
                if (a[i].node != b[i].node || a[i].pages != b[i].pages)
                        return false;
        return true;
}

static bool same_numa(const struct sa_vma_report *a, const struct sa_vma_report *b) {
        return a->have_numa_kernel == b->have_numa_kernel &&
               (!a->have_numa_kernel || same_nodes(a->numa_kernel, a->n_numa_kernel, b->numa_kernel, b->n_numa_kernel)) &&
               same_nodes(a->walk.nodes, a->walk.n_nodes, b->walk.nodes, b->walk.n_nodes) &&
               a->numa_judged == b->numa_judged && (!a->numa_judged || a->numa_verdict == b->numa_verdict);
}

/*
 * A VMA's "fields", "walk" and "numa" are most of its text, and neighbours
 * often print the same (a run of one-page VMAs, each with its page). The
 * VMA object holds a marker for each (MARK and the part's number, which
 * json-c never prints: it escapes control characters in strings); json-c's
 * text of the part, as the last VMA that had it printed it, goes in its place.
 */
#define MARK '\001'

enum {
        PART_FIELDS,
        PART_WALK,
        PART_NUMA,
        _PART_MAX,
};

static const struct part {
        json_object *(*build)(const struct words *wd, const struct sa_vma_report *v);
        bool (*same)(const struct sa_vma_report *a, const struct sa_vma_report *b);
} parts[_PART_MAX] = {
        [PART_FIELDS] = { fields_object, same_fields },
        [PART_WALK] = { walk_object, same_walk },
        [PART_NUMA] = { numa_object, same_numa },
};

static json_object *vma_object(const struct words *wd, const struct sa_vma_report *v, json_object *const marks[]) {
        json_object *o = json_object_new_object();

        sa_json_put(o, "start", sa_json_hex(v->kernel.start));
        sa_json_put(o, "end", sa_json_hex(v->kernel.end));
        sa_json_put(o, "perms", json_object_new_string(v->kernel.perms));
        sa_json_put(o, "name", json_object_new_string(v->kernel.name ? v->kernel.name : ""));
        sa_json_put(o, "tags", sa_json_tags(v->tags));
        sa_json_put(o, "verdict", word_verdict(wd, true, v->verdict));
        sa_json_put(o, "churn_budget_kb", sa_json_u64(v->churn_kb));
        sa_json_put(o, "pmd_churn_budget_kb", sa_json_u64(v->pmd_churn_kb));
        sa_json_put(o, "fields", json_object_get(marks[PART_FIELDS]));
        sa_json_put(o, "walk", json_object_get(marks[PART_WALK]));
        if (has_numa(v))
                sa_json_put(o, "numa", json_object_get(marks[PART_NUMA]));
        return o;
}

static void indent(struct printbuf *pb, int level, int flags) {
        if (flags & JSON_C_TO_STRING_PRETTY)
                for (int i = 0; i < level; i++)
                        printbuf_memappend(pb, (flags & JSON_C_TO_STRING_PRETTY_TAB) ? "\t" : "  ",
                                           (flags & JSON_C_TO_STRING_PRETTY_TAB) ? 1 : 2);
}

bool sa_report_vma_in_json(const struct sa_vma_report *v, bool compact) {
        return !compact || v->verdict != SMAPSAUDIT_CONSISTENT;
}

/* s, printed at level 0, as it reads deeper: every line break followed by nl_indent. */
static void append_indented(struct printbuf *pb, const char *s, const struct printbuf *nl_indent) {
        for (const char *nl; (nl = strchr(s, '\n')); s = nl + 1) {
                printbuf_memappend(pb, s, (int) (nl - s));
                printbuf_memappend(pb, nl_indent->buf, nl_indent->bpos);
        }
        printbuf_memappend(pb, s, (int) strlen(s));
}

static int print_mark(json_object *jso, struct printbuf *pb, int level, int flags) {
        const char mark[2] = { MARK, (char) ('0' + (uintptr_t) json_object_get_userdata(jso)) };

        (void) flags;
        /* only in a VMA object printed on its own, where part_text() was made for */
        if (level != 1)
                return -1;
        return printbuf_memappend(pb, mark, sizeof(mark));
}

struct part_text {
        const struct sa_vma_report *of; /* the VMA it was made for */
        struct printbuf *text;
};

/* The text of part k of v, indented by nl_indent: the last one's again if it is the same. */
static int part_text(struct part_text *t, unsigned k, const struct words *wd, const struct sa_vma_report *v,
                     int flags, const struct printbuf *nl_indent) {
        json_object *o;
        const char *s;

        if (t->of && parts[k].same(t->of, v))
                return 0;
        t->of = NULL;
        o = parts[k].build(wd, v);
        s = o ? json_object_to_json_string_ext(o, flags) : NULL;
        if (!s) {
                json_object_put(o);
                return -ENOMEM;
        }
        printbuf_reset(t->text);
        append_indented(t->text, s, nl_indent);
        json_object_put(o);
        t->of = v;
        return 0;
}

/* s, a VMA printed at level 0, indented by nl_indent, with each part's text where its mark is. */
static void append_vma(struct printbuf *pb, const char *s, const struct printbuf *nl_indent,
                       const struct part_text *texts) {
        for (;;) {
                size_t n = strcspn(s, (const char[]) { '\n', MARK, 0 });

                printbuf_memappend(pb, s, (int) n);
                s += n;
                if (*s == '\n') {
                        printbuf_memappend(pb, nl_indent->buf, nl_indent->bpos);
                        s++;
                } else if (*s == MARK) {
                        const struct printbuf *t = texts[s[1] - '0'].text;

                        printbuf_memappend(pb, t->buf, t->bpos);
                        s += 2;
                } else
                        break;
        }
}

int sa_report_write_json_vmas(const struct smapsaudit_report *r, bool compact, int level, int flags, FILE *f) {
        bool pretty = flags & JSON_C_TO_STRING_PRETTY, spaced = (flags & JSON_C_TO_STRING_SPACED) && !pretty;
        struct printbuf *pb = printbuf_new();
        struct printbuf *nl_indent = printbuf_new(), *nl_part = printbuf_new();
        struct part_text texts[_PART_MAX] = {};
        json_object *marks[_PART_MAX] = {};
        struct words wd = {};
        size_t printed = 0;
        int ret = pb && nl_indent && nl_part ? words_init(&wd) : -ENOMEM;

        for (unsigned k = 0; k < _PART_MAX && ret >= 0; k++) {
                texts[k].text = printbuf_new();
                marks[k] = json_object_new_object();
                if (!texts[k].text || !marks[k])
                        ret = -ENOMEM;
                else
                        json_object_set_serializer(marks[k], print_mark, (void *) (uintptr_t) k, NULL);
        }
        if (ret < 0)
                goto out;
        /* what each line break inside a VMA becomes at this level, and inside its parts */
        printbuf_memappend(nl_indent, "\n", 1);
        indent(nl_indent, level + 1, flags);
        printbuf_memappend(nl_part, "\n", 1);
        indent(nl_part, level + 2, flags);
        printbuf_reset(pb);
        printbuf_memappend(pb, "[", 1);
        if (pretty)
                printbuf_memappend(pb, "\n", 1);
        for (size_t i = 0; i < r->n_vmas; i++) {
                const struct sa_vma_report *vr = &r->vmas[i];
                json_object *v;
                const char *s;

                if (!sa_report_vma_in_json(vr, compact))
                        continue;
                ret = 0;
                for (unsigned k = 0; k < _PART_MAX && ret >= 0; k++)
                        if (k != PART_NUMA || has_numa(vr))
                                ret = part_text(&texts[k], k, &wd, vr, flags, nl_part);
                if (ret < 0)
                        goto out;
                ret = -ENOMEM;
                v = vma_object(&wd, vr, marks);
                if (!v)
                        goto out;
                if (printed++ > 0) {
                        printbuf_memappend(pb, ",", 1);
                        if (pretty)
                                printbuf_memappend(pb, "\n", 1);
                }
                if (spaced)
                        printbuf_memappend(pb, " ", 1);
                indent(pb, level + 1, flags);
                s = json_object_to_json_string_ext(v, flags);
                if (!s) {
                        json_object_put(v);
                        goto out;
                }
                /* printed at level 0: every line after the first moves in to this level */
                append_vma(pb, s, nl_indent, texts);
                json_object_put(v);
                ret = -EIO;
                if (fwrite(pb->buf, 1, (size_t) pb->bpos, f) != (size_t) pb->bpos)
                        goto out;
                printbuf_reset(pb);
        }
        if (pretty) {
                if (printed)
                        printbuf_memappend(pb, "\n", 1);
                indent(pb, level, flags);
        }
        if (spaced)
                printbuf_memappend(pb, " ]", 2);
        else
                printbuf_memappend(pb, "]", 1);
        ret = fwrite(pb->buf, 1, (size_t) pb->bpos, f) == (size_t) pb->bpos ? 0 : -EIO;
out:
        for (unsigned k = 0; k < _PART_MAX; k++) {
                printbuf_free(texts[k].text);
                json_object_put(marks[k]);
        }
        words_done(&wd);
        printbuf_free(nl_indent);
        printbuf_free(nl_part);
        printbuf_free(pb);
        return ret;
}
