/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The JSON report is written VMA by VMA, straight to its stream, with the
 * text of a VMA's fields, walk and NUMA part printed again for a neighbour
 * that has the same, yet reads as json-c prints the whole document:
 * parsing it and printing it again with json-c gives the same bytes, in
 * every flavour the library writes, each VMA has its own parts, and the
 * stream and the string are the same document.
 */
#include <json-c/json.h>

#include "report.h"
#include "tap.h"

static void add_vma(struct smapsaudit_report *r, uint64_t start, const char *name, enum smapsaudit_verdict v,
                    bool judged, bool numa) {
        struct sa_vma_report *x = &r->vmas[r->n_vmas++];

        *x = (struct sa_vma_report) { .verdict = v, .tags = SMAPSAUDIT_TAG_FILE | SMAPSAUDIT_TAG_THP };
        x->kernel.start = start;
        x->kernel.end = start + 8192;
        snprintf(x->kernel.perms, sizeof(x->kernel.perms), "rw-p");
        x->kernel.name = strdup(name);
        x->kernel.have = (1ULL << SA_RSS) | (1ULL << SA_PSS);
        x->cmp[SA_RSS] = (struct sa_field_cmp) { .judged = judged, .kernel_kb = 8, .verdict = v };
        x->walk.f[SA_RSS] = (struct sa_range) { 8192, 8192 };
        x->walk.f[SA_PSS] = (struct sa_range) { 1024, 8192 };
        x->walk.present_pages = 2;
        if (numa) {
                x->numa_kernel = calloc(2, sizeof(*x->numa_kernel));
                x->numa_kernel[0] = (struct sa_node_count) { 0, 1 };
                x->numa_kernel[1] = (struct sa_node_count) { 1, 1 };
                x->n_numa_kernel = 2;
                x->have_numa_kernel = true;
                x->numa_judged = true;
                x->numa_verdict = SMAPSAUDIT_CONSISTENT;
        }
}

static struct smapsaudit_report *make_report(void) {
        struct smapsaudit_report *r = NULL;

        if (sa_report_new(4242, &r) < 0)
                return NULL;
        snprintf(r->comm, sizeof(r->comm), "many \"vmas\"");
        snprintf(r->kernel, sizeof(r->kernel), "6.18.0-test");
        r->verdict = SMAPSAUDIT_INCONCLUSIVE;
        r->vmas = calloc(5, sizeof(*r->vmas));
        add_vma(r, 0x400000, "/usr/bin/a b/\\tab\t", SMAPSAUDIT_CONSISTENT, true, true);
        add_vma(r, 0x500000, "", SMAPSAUDIT_INCONCLUSIVE, false, false);
        add_vma(r, 0x600000, "[heap]", SMAPSAUDIT_UNDER_ACCOUNTED, true, false);
        r->vmas[2].walk.present_pages = 1;
        add_vma(r, 0x700000, "[stack]", SMAPSAUDIT_CONSISTENT, true, true);
        /* the same fields and walk as the VMA before it, but no numa_maps: their text is printed again */
        add_vma(r, 0x800000, "[stack]", SMAPSAUDIT_CONSISTENT, true, false);
        sa_report_note(r, "a note");
        return r;
}

/* The document as json-c prints it whole, after reading it back. */
static char *reprinted(const char *json, int flags) {
        json_object *o = json_tokener_parse(json);
        char *s = o ? strdup(json_object_to_json_string_ext(o, flags)) : NULL;

        json_object_put(o);
        return s;
}

static void test_flavour(struct smapsaudit_report *r, unsigned flags, int json_c_flags, size_t vmas,
                         const char *what) {
        _cleanup_free_ char *json = NULL, *again = NULL, *streamed = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&streamed, &len);
        json_object *o, *a;

        is_i64(smapsaudit_report_to_json(r, flags, &json), 0, "%s: to JSON", what);
        again = reprinted(json, json_c_flags);
        ok(again, "%s: json-c reads it", what);
        is_str(json, again ? again : "", "%s: byte for byte what json-c prints of the whole tree", what);
        is_i64(smapsaudit_report_write_json(r, flags, f), 0, "%s: written to a stream", what);
        fclose(f);
        is_str(streamed, json, "%s: the stream holds the same document", what);
        o = json_tokener_parse(json);
        ok(o && json_object_object_get_ex(o, "vmas", &a) && json_object_array_length(a) == vmas,
           "%s: %zu VMAs", what, vmas);
        json_object_put(o);
}

/* Each VMA's own fields, walk and NUMA part, whichever text was printed for them. */
static void test_fields(struct smapsaudit_report *r) {
        static const char *const want[] = { "consistent", "not-judged", "under-accounted", "consistent", "consistent" };
        static const int64_t present[] = { 2, 2, 1, 2, 2 };
        static const bool numa[] = { true, false, false, true, false };
        _cleanup_free_ char *json = NULL;
        json_object *o, *a = NULL;

        is_i64(smapsaudit_report_to_json(r, SMAPSAUDIT_REPORT_PRETTY, &json), 0, "to JSON");
        o = json_tokener_parse(json);
        ok(o && json_object_object_get_ex(o, "vmas", &a), "a \"vmas\" array");
        for (size_t i = 0; a && i < ELEMENTSOF(want); i++) {
                json_object *rss = NULL, *v = NULL, *k = NULL;

                json_object_object_get_ex(json_object_array_get_idx(a, i), "fields", &rss);
                json_object_object_get_ex(rss, "Rss", &rss);
                json_object_object_get_ex(rss, "verdict", &v);
                is_str(v ? json_object_get_string(v) : "", want[i], "VMA %zu: its Rss verdict", i);
                ok(json_object_object_get_ex(rss, "kernel_kb", &k) == (i != 1), "VMA %zu: a kernel figure if judged", i);
                json_object_object_get_ex(json_object_array_get_idx(a, i), "walk", &v);
                json_object_object_get_ex(v, "present_pages", &v);
                is_i64(v ? json_object_get_int64(v) : -1, present[i], "VMA %zu: its present pages", i);
                ok(json_object_object_get_ex(json_object_array_get_idx(a, i), "numa", NULL) == numa[i],
                   "VMA %zu: a NUMA part if it has one", i);
        }
        json_object_put(o);
}

static void test_stream_fails(struct smapsaudit_report *r) {
        FILE *f = fopen("/dev/full", "we");

        if (!ok(f, "/dev/full opens"))
                return;
        /* unbuffered: the first write that fails is seen, not the one at fclose() */
        setvbuf(f, NULL, _IONBF, 0);
        is_i64(smapsaudit_report_write_json(r, SMAPSAUDIT_REPORT_PRETTY, f), -EIO, "a stream that fails: -EIO");
        fclose(f);
}

int main(void) {
        struct smapsaudit_report *r = make_report();

        ok(r, "a report");
        test_flavour(r, 0, JSON_C_TO_STRING_PLAIN, 5, "plain");
        test_flavour(r, SMAPSAUDIT_REPORT_PRETTY, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED, 5, "pretty");
        test_fields(r);
        test_flavour(r, SMAPSAUDIT_REPORT_COMPACT, JSON_C_TO_STRING_PLAIN, 2, "compact");
        test_flavour(r, SMAPSAUDIT_REPORT_COMPACT | SMAPSAUDIT_REPORT_PRETTY,
                     JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED, 2, "compact, pretty");
        r->n_vmas = 0;
        test_flavour(r, SMAPSAUDIT_REPORT_PRETTY, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED, 0, "no VMAs");
        test_stream_fails(r);
        r->n_vmas = 5;
        smapsaudit_report_unref(r);
        return tap_done();
}
