/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baseline.h"
#include "finding.h"
#include "test.h"

static char dir[] = "/tmp/test-baseline-XXXXXX";

static struct json_object *load_file(void) {
        char path[128];

        snprintf(path, sizeof(path), "%s/%s", dir, BASELINE_FILE);
        return json_object_from_file(path);
}

static void test_signature(void) {
        char buf[SIGNATURE_MAX];

        finding_signature(SMAPSAUDIT_UNDER_ACCOUNTED, "AnonHugePages", SMAPSAUDIT_TAG_THP | SMAPSAUDIT_TAG_PROT_NONE,
                          buf, sizeof(buf));
        CHECK(streq(buf, "under-accounted/AnonHugePages/prot_none,thp"));
        finding_signature(SMAPSAUDIT_OVER_ACCOUNTED, "Rss", 0, buf, sizeof(buf));
        CHECK(streq(buf, "over-accounted/Rss/none"));
}

static void test_release_change(void) {
        Baseline *b = NULL;
        struct json_object *o;

        /* Release A: audits, and one kind of finding that A already has. */
        CHECK(baseline_open(dir, "A", 1, &b) == 0);
        CHECK(!baseline_previous(b) && !baseline_comparable(b));
        CHECK(baseline_dirty(b));
        baseline_count_audit(b, false, 2);
        baseline_count_audit(b, true, 3);
        CHECK(baseline_note_finding(b, "over-accounted/Pss/none", 4) == 0);
        CHECK(baseline_save(b) == 0 && !baseline_changed(b));
        baseline_free(b);

        /* Restarting on A: nothing changes. */
        CHECK(baseline_open(dir, "A", 5, &b) == 0);
        CHECK(!baseline_previous(b) && baseline_audits(b, "A") == 1);
        CHECK(!baseline_dirty(b));
        baseline_free(b);

        /* Booted into B: A is the previous release, and a kind A lacks is a regression, once. */
        CHECK(baseline_open(dir, "B", 10, &b) == 0);
        CHECK(baseline_previous(b) && streq(baseline_previous(b), "A") && baseline_comparable(b));
        CHECK(baseline_note_finding(b, "over-accounted/Pss/none", 11) == 0);
        CHECK(baseline_note_finding(b, "under-accounted/AnonHugePages/prot_none,thp", 12) == 1);
        CHECK(baseline_note_finding(b, "under-accounted/AnonHugePages/prot_none,thp", 13) == 0);
        CHECK(baseline_n_regressions(b) == 1);
        CHECK(streq(baseline_regression(b, 0), "under-accounted/AnonHugePages/prot_none,thp"));
        CHECK(baseline_dirty(b) && baseline_save(b) == 0);
        baseline_free(b);

        /* Restarted on B: still compared with A, the regression remembered, not new again. */
        CHECK(baseline_open(dir, "B", 20, &b) == 0);
        CHECK(streq(baseline_previous(b), "A") && baseline_n_regressions(b) == 1);
        CHECK(baseline_note_finding(b, "under-accounted/AnonHugePages/prot_none,thp", 21) == 0);
        baseline_free(b);

        o = load_file();
        CHECK(o && streq(json_object_get_string(json_object_object_get(o, "current")), "B"));
        CHECK(json_object_array_length(json_object_object_get(o, "releases")) == 2);
        json_object_put(o);

        /* C after B, but B had no audits: no baseline to compare with, no regression. */
        CHECK(baseline_open(dir, "C", 30, &b) == 0);
        CHECK(streq(baseline_previous(b), "B") && !baseline_comparable(b));
        CHECK(baseline_note_finding(b, "under-accounted/Rss/none", 31) == 0);
        CHECK(baseline_n_regressions(b) == 0);
        baseline_free(b);
}

static void test_bounds_and_garbage(void) {
        char path[128], name[32], sig[64];
        Baseline *b = NULL;
        FILE *f;

        /* More releases than kept: the least recently seen go, the running one stays. */
        for (unsigned i = 0; i < BASELINE_RELEASES_MAX + 4; i++) {
                snprintf(name, sizeof(name), "r%u", i);
                CHECK(baseline_open(dir, name, 100 + i, &b) == 0);
                baseline_count_audit(b, false, 100 + i);
                for (unsigned k = 0; k < BASELINE_SIGNATURES_MAX + 10; k++) {
                        snprintf(sig, sizeof(sig), "under-accounted/F%u/none", k);
                        CHECK(baseline_note_finding(b, sig, 100 + i) >= 0);
                }
                CHECK(baseline_save(b) == 0);
                baseline_free(b);
        }
        CHECK(baseline_open(dir, "r0", 1000, &b) == 0);
        CHECK(baseline_audits(b, "r0") == 0);   /* evicted long ago: new */
        CHECK(baseline_audits(b, "r19") == 1);
        snprintf(sig, sizeof(sig), "under-accounted/F%u/none", BASELINE_SIGNATURES_MAX);
        CHECK(!baseline_has(b, "r19", sig));
        CHECK(baseline_has(b, "r19", "under-accounted/F0/none"));
        CHECK(baseline_save(b) == 0);
        baseline_free(b);

        /* A file that is not a baseline is started afresh, not fatal. */
        snprintf(path, sizeof(path), "%s/%s", dir, BASELINE_FILE);
        f = fopen(path, "we");
        CHECK(f);
        fputs("{\"schema\":\"smapsaudit.baseline/1\",\"releases\":[{\"rel", f);
        fclose(f);
        CHECK(baseline_open(dir, "X", 1, &b) == 0);
        CHECK(!baseline_previous(b) && baseline_audits(b, "r19") == 0);
        baseline_free(b);
}

int main(void) {
        char cmd[128];

        CHECK(mkdtemp(dir) != NULL);
        test_signature();
        test_release_change();
        test_bounds_and_garbage();

        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        CHECK(system(cmd) == 0);
        return test_summary("baseline");
}
