/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The KSM part of a report survives JSON: to_json(from_json(x)) == x, as a
 * report that went through smapsauditd must print the same; the text
 * report shows it with the invariants that do not hold.
 */
#include <json-c/json.h>

#include "report.h"
#include "tap.h"

static void add_check(struct sa_ksm_report *k, const char *name, const char *field, const char *against,
                      const char *relation, int64_t kernel, int64_t walk, enum sa_ksm_verdict v) {
        struct sa_ksm_check *c = &k->checks[k->n_checks++];

        *c = (struct sa_ksm_check) { .kernel = kernel, .walk = walk, .verdict = v };
        snprintf(c->name, sizeof(c->name), "%s", name);
        snprintf(c->field, sizeof(c->field), "%s", field);
        snprintf(c->source, sizeof(c->source), "ksm_stat");
        snprintf(c->against, sizeof(c->against), "%s", against);
        snprintf(c->relation, sizeof(c->relation), "%s", relation);
}

/* A report as sa_ksm_audit() leaves it for a child on 6.1 after ksmd scanned it. */
static struct smapsaudit_report *make_report(void) {
        struct smapsaudit_report *r = NULL;
        struct sa_ksm_report *k;

        if (sa_report_new(4242, &r) < 0)
                return NULL;
        snprintf(r->comm, sizeof(r->comm), "ksm-helper");
        snprintf(r->kernel, sizeof(r->kernel), "6.1.0-test");
        r->verdict = SMAPSAUDIT_UNDER_ACCOUNTED;
        k = &r->ksm;
        k->have = true;
        k->stat = (struct sa_ksm_stat) {
                .rmap_items = 2048, .zero_pages = -3, .merging_pages = 2048, .process_profit = 8245248,
                .merge_any = 0, .mergeable = 1,
                .have = SA_KSM_STAT_RMAP_ITEMS | SA_KSM_STAT_ZERO_PAGES | SA_KSM_STAT_MERGING | SA_KSM_STAT_PROFIT |
                        SA_KSM_STAT_MERGE_ANY | SA_KSM_STAT_MERGEABLE,
        };
        k->ksm_pages = 1024;
        k->zero_pages = 7;
        add_check(k, "merging_le_rmap_items", "ksm_merging_pages", "ksm_rmap_items", "<=", 2048, 2048, SA_KSM_HOLDS);
        add_check(k, "merging_le_mapped", "ksm_merging_pages", "walk: KPF_KSM pages mapped in the mergeable VMAs",
                  "<=", 2048, 1024, SA_KSM_LAG);
        add_check(k, "zero_pages_le_mapped", "ksm_zero_pages", "walk: zero-page PTEs in the mergeable VMAs", "==", -3,
                  0, SA_KSM_VIOLATED);
        add_check(k, "process_profit", "ksm_process_profit",
                  "(ksm_merging_pages + ksm_zero_pages) * page size - ksm_rmap_items * 64", "==", 8245248, 8245248,
                  SA_KSM_INCONCLUSIVE);
        return r;
}

static json_object *ksm_part(const char *json) {
        json_object *o = json_tokener_parse(json), *k = NULL;

        if (o && json_object_object_get_ex(o, "ksm", &k))
                json_object_get(k);
        json_object_put(o);
        return k;
}

static void test_round_trip(void) {
        struct smapsaudit_report *r = make_report(), *back = NULL;
        _cleanup_free_ char *json = NULL, *again = NULL;
        json_object *a, *b;

        ok(r, "a report");
        /* the fast tier, which the daemon's reports carry to the CLI, comes back too */
        r->walk_mode |= SA_WALK_FAST;
        is_i64(smapsaudit_report_to_json(r, 0, &json), 0, "to JSON");
        a = ksm_part(json);
        ok(a, "the JSON has a \"ksm\" object");
        is_i64(smapsaudit_report_from_json(json, &back), 0, "from JSON");
        ok(back->ksm.have, "read back: a KSM part");
        is_u64(back->ksm.n_checks, 4, "read back: four invariants");
        is_hex(back->ksm.stat.have, r->ksm.stat.have, "read back: the same ksm_stat lines");
        is_i64(back->ksm.stat.zero_pages, -3, "read back: a negative ksm_zero_pages");
        is_i64(back->ksm.stat.mergeable, 1, "read back: ksm_mergeable yes");
        is_u64(back->ksm.zero_pages, 7, "read back: the walk's zero pages");
        is_i64(back->ksm.checks[2].verdict, SA_KSM_VIOLATED, "read back: a violation");
        is_str(back->ksm.checks[1].against, "walk: KPF_KSM pages mapped in the mergeable VMAs", "read back: against");
        is_i64(smapsaudit_report_to_json(back, 0, &again), 0, "to JSON again");
        b = ksm_part(again);
        ok(b && json_object_equal(a, b), "to_json(from_json(x)) == x for the ksm part");
        is_str(again, json, "and for the whole report");
        json_object_put(a);
        json_object_put(b);

        /* no KSM part: none comes back */
        r->ksm.have = false;
        free(json);
        json = NULL;
        smapsaudit_report_unref(back);
        back = NULL;
        is_i64(smapsaudit_report_to_json(r, 0, &json), 0, "to JSON without KSM");
        ok(!strstr(json, "\"ksm\""), "no \"ksm\" object");
        is_i64(smapsaudit_report_from_json(json, &back), 0, "from JSON without KSM");
        ok(!back->ksm.have, "read back: no KSM part");

        /* a newer daemon's invariant with a verdict this library does not know is dropped */
        smapsaudit_report_unref(back);
        back = NULL;
        is_i64(smapsaudit_report_from_json("{\"schema\":\"smapsaudit.report/1\",\"ksm\":{\"invariants\":["
                                           "{\"name\":\"x\",\"verdict\":\"maybe\"},"
                                           "{\"name\":\"y\",\"verdict\":\"holds\",\"kernel\":1,\"walk\":1}]}}",
                                           &back), 0, "from JSON with an unknown verdict");
        is_u64(back->ksm.n_checks, 1, "only the known verdict is kept");
        is_str(back->ksm.checks[0].name, "y", "the kept one");
        smapsaudit_report_unref(back);
        smapsaudit_report_unref(r);
}

static void test_text(void) {
        struct smapsaudit_report *r = make_report();
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        smapsaudit_report_print_text(r, f, 0);
        fclose(f);
        ok(strstr(buf, "  KSM: 1 of 4 invariants hold; ksm_merging_pages 2048, walk 1024 KSM pages\n"),
           "one summary line");
        ok(!strstr(buf, "merging_le_rmap_items"), "an invariant that holds is not shown");
        ok(strstr(buf, "    zero_pages_le_mapped: ksm_zero_pages -3 == 0 (walk: zero-page PTEs in the mergeable "
                       "VMAs): violated\n"), "a violation, with both sides");
        ok(strstr(buf, "merging_le_mapped: ksm_merging_pages 2048 <= 1024"), "lag is shown");
        ok(strstr(buf, "process_profit:"), "inconclusive is shown");
        free(buf);

        buf = NULL;
        f = open_memstream(&buf, &len);
        smapsaudit_report_print_text(r, f, SMAPSAUDIT_REPORT_ALL_VMAS);
        fclose(f);
        ok(strstr(buf, "    merging_le_rmap_items: ksm_merging_pages 2048 <= 2048 (ksm_rmap_items): holds\n"),
           "every invariant with --all-vmas");
        free(buf);
        smapsaudit_report_unref(r);
}

int main(void) {
        test_round_trip();
        test_text();
        return tap_done();
}
