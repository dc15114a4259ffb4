/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "metrics.h"
#include "test.h"

static OpenFinding finding(enum smapsaudit_verdict kind, const char *field, const char *source, unsigned tags,
                           int64_t delta_kb) {
        OpenFinding f = { .kind = kind, .tags = tags, .delta_kb = delta_kb };

        snprintf(f.field, sizeof(f.field), "%s", field);
        snprintf(f.source, sizeof(f.source), "%s", source);
        return f;
}

/* promtool's own verdict on the text, when promtool is there: 0 valid, 77 no promtool. */
static int promtool_check(const char *text) {
        FILE *p;

        if (system("command -v promtool >/dev/null 2>&1") != 0)
                return 77;
        p = popen("promtool check metrics", "w");
        if (!p)
                return 1;
        fputs(text, p);
        return pclose(p) == 0 ? 0 : 1;
}

int main(void) {
        Metrics m = { .start_usec = 1700000000123456, .processes_audited = 7, .audits_inconclusive = 2 };
        MetricsView v = {
                .release = "6.1.0-13-amd64",
                .previous_release = "6.0.0\"odd\\",
                .regression = true,
                .interval_usec = 300 * USEC,
                .ksm = KSM_STATUS_BROKEN,
        };
        OpenFinding thp = finding(SMAPSAUDIT_UNDER_ACCOUNTED, "AnonHugePages", "smaps",
                                  SMAPSAUDIT_TAG_PROT_NONE | SMAPSAUDIT_TAG_THP, -2048);
        OpenFinding thp2 = finding(SMAPSAUDIT_UNDER_ACCOUNTED, "AnonHugePages", "smaps",
                                   SMAPSAUDIT_TAG_PROT_NONE | SMAPSAUDIT_TAG_THP, -4096);
        OpenFinding pss = finding(SMAPSAUDIT_OVER_ACCOUNTED, "Pss", "smaps_rollup", 0, 12);
        _cleanup_free_ char *text = NULL, *text2 = NULL;
        size_t size;
        int p;

        m.errors[DAEMON_ERROR_TEXTFILE] = 3;
        CHECK(finding_groups_add(&m.found, &thp, "postgresql.service") == 0);
        CHECK(finding_groups_add(&m.found, &thp2, "postgresql.service") == 0);
        CHECK(finding_groups_add(&m.found, &pss, "/kubepods/pod1") == 0);
        CHECK(finding_groups_add(&m.found, &pss, NULL) == 0);
        CHECK(m.found.n == 3);
        CHECK(finding_groups_add(&v.open, &thp, "postgresql.service") == 0);
        CHECK(finding_groups_add(&v.open, &thp2, "postgresql.service") == 0);
        v.processes_with_findings = 1;

        /* Before any sweep: no last-sweep samples. */
        CHECK(metrics_render(&m, &v, &text, &size) == 0 && strlen(text) == size);
        CHECK(!strstr(text, "\nsmapsaudit_last_sweep_timestamp_seconds "));
        /* Before the probe: its families, without samples. */
        CHECK(strstr(text, "# TYPE smapsaudit_kernel_bug gauge\n") && !strstr(text, "\nsmapsaudit_kernel_bug{"));
        CHECK(!strstr(text, "\nsmapsaudit_probe_timestamp_seconds "));
        CHECK(strstr(text, "# TYPE smapsaudit_last_sweep_timestamp_seconds gauge\n"));

        v.last_sweep_usec = 1700000300500000;
        v.sweep_usec = 2500000;
        v.sweep_processes_audited = 42;
        v.sweep_covered = true;
        v.probe_release = "6.1.0-13-amd64";
        v.probe_usec = 1700000012250000;
        v.kernel_bugs = (const KernelBugSample[]) { { "thp-protnone", true }, { "kpf-ksm", false } };
        v.n_kernel_bugs = 2;
        CHECK(metrics_render(&m, &v, &text2, &size) == 0);
        fputs(text2, stdout);

        CHECK(strstr(text2, "\nsmapsaudit_kernel_info{release=\"6.1.0-13-amd64\",previous_release=\"6.0.0\\\"odd\\\\\"} 1\n"));
        CHECK(strstr(text2, "\nsmapsaudit_start_time_seconds 1700000000.123456\n"));
        CHECK(strstr(text2, "\nsmapsaudit_processes_audited_total 7\n"));
        CHECK(strstr(text2, "\nsmapsaudit_audits_inconclusive_total 2\n"));
        CHECK(strstr(text2, "\nsmapsaudit_findings_total{kind=\"under-accounted\",field=\"AnonHugePages\",source=\"smaps\","
                            "tags=\"prot_none,thp\",unit=\"postgresql.service\"} 2\n"));
        /* A process in no unit is named by its cgroup; an unknown one by "". */
        CHECK(strstr(text2, "\nsmapsaudit_findings_total{kind=\"over-accounted\",field=\"Pss\",source=\"smaps_rollup\","
                            "tags=\"none\",unit=\"/kubepods/pod1\"} 1\n"));
        CHECK(strstr(text2, "\nsmapsaudit_findings_total{kind=\"over-accounted\",field=\"Pss\",source=\"smaps_rollup\","
                            "tags=\"none\",unit=\"\"} 1\n"));
        CHECK(strstr(text2, "\nsmapsaudit_open_findings{kind=\"under-accounted\",field=\"AnonHugePages\",source=\"smaps\","
                            "tags=\"prot_none,thp\",unit=\"postgresql.service\"} 2\n"));
        /* 2048 + 4096 kB missing, in bytes; over-accounting is not in it. */
        CHECK(strstr(text2, "\nsmapsaudit_under_accounted_bytes{field=\"AnonHugePages\",source=\"smaps\","
                            "tags=\"prot_none,thp\",unit=\"postgresql.service\"} 6291456\n"));
        CHECK(!strstr(text2, "smapsaudit_under_accounted_bytes{field=\"Pss\""));
        CHECK(strstr(text2, "\nsmapsaudit_processes_with_findings 1\n"));
        CHECK(strstr(text2, "\nsmapsaudit_ksm_invariants{status=\"broken\"} 1\n"));
        CHECK(strstr(text2, "\nsmapsaudit_ksm_invariants{status=\"unknown\"} 0\n"));
        /* The release labels are named as on smapsaudit_kernel_info, which the rules and the
         * Alertmanager route group by. */
        CHECK(strstr(text2, "\nsmapsaudit_regression{release=\"6.1.0-13-amd64\",previous_release=\"6.0.0\\\"odd\\\\\"} 1\n"));
        CHECK(strstr(text2, "\nsmapsaudit_build_info{version=\"" PACKAGE_VERSION "\",library_version=\""));
        CHECK(strstr(text2, "\nsmapsaudit_sweep_interval_seconds 300.000000\n"));
        CHECK(strstr(text2, "\nsmapsaudit_last_sweep_timestamp_seconds 1700000300.500000\n"));
        CHECK(strstr(text2, "\nsmapsaudit_last_sweep_duration_seconds 2.500000\n"));
        CHECK(strstr(text2, "\nsmapsaudit_last_sweep_processes_audited 42\n"));
        CHECK(strstr(text2, "\nsmapsaudit_last_sweep_covered 1\n"));
        CHECK(strstr(text2, "\nsmapsaudit_daemon_errors_total{what=\"textfile\"} 3\n"));
        /* Each tested bug of the probed release, present or not; the release labelled as on
         * smapsaudit_kernel_info. */
        CHECK(strstr(text2, "\nsmapsaudit_kernel_bug{bug=\"thp-protnone\",release=\"6.1.0-13-amd64\"} 1\n"));
        CHECK(strstr(text2, "\nsmapsaudit_kernel_bug{bug=\"kpf-ksm\",release=\"6.1.0-13-amd64\"} 0\n"));
        CHECK(strstr(text2, "\nsmapsaudit_probe_timestamp_seconds 1700000012.250000\n"));
        /* No PID, no address anywhere. */
        CHECK(!strstr(text2, "pid="));

        p = promtool_check(text);
        CHECK(p == 0 || p == 77);
        p = promtool_check(text2);
        CHECK(p == 0 || p == 77);
        if (p == 77)
                printf("promtool not installed: exposition format not checked by it\n");

        finding_groups_done(&v.open);
        metrics_done(&m);

        /* The unit label's cardinality: METRICS_UNITS_MAX units, then "other" for the rest. */
        {
                FindingGroups g = {};
                size_t other = 0;

                for (unsigned i = 0; i < METRICS_UNITS_MAX + 10; i++) {
                        char unit[32];

                        snprintf(unit, sizeof(unit), "app%u.service", i);
                        CHECK(finding_groups_add(&g, &thp, unit) == 0);
                        CHECK(finding_groups_add(&g, &pss, unit) == 0);
                }
                CHECK(finding_groups_add(&g, &thp, "app0.service") == 0);
                CHECK(g.n == 2 * (METRICS_UNITS_MAX + 1));
                for (size_t i = 0; i < g.n; i++)
                        if (streq(g.groups[i].unit, METRICS_UNIT_OTHER)) {
                                other++;
                                CHECK(g.groups[i].count == 10);
                        } else if (streq(g.groups[i].unit, "app0.service") && g.groups[i].class.kind == thp.kind)
                                CHECK(g.groups[i].count == 2);
                CHECK(other == 2);
                finding_groups_done(&g);
        }
        return test_summary("metrics");
}
