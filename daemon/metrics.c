/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "macro.h"
#include "metrics.h"

static const char *const daemon_error_names[_DAEMON_ERROR_MAX] = {
        [DAEMON_ERROR_HISTORY] = "history",
        [DAEMON_ERROR_BASELINE] = "baseline",
        [DAEMON_ERROR_TEXTFILE] = "textfile",
        [DAEMON_ERROR_HTTP] = "http",
        [DAEMON_ERROR_KSM] = "ksm",
        [DAEMON_ERROR_AUDIT] = "audit",
        [DAEMON_ERROR_PROBE] = "probe",
};

static const char *const ksm_status_names[_KSM_STATUS_MAX] = {
        [KSM_STATUS_UNKNOWN] = "unknown",
        [KSM_STATUS_HOLDS] = "holds",
        [KSM_STATUS_BROKEN] = "broken",
        [KSM_STATUS_INCONCLUSIVE] = "inconclusive",
};

const char *daemon_error_to_string(DaemonError e) {
        return e >= 0 && e < _DAEMON_ERROR_MAX ? daemon_error_names[e] : NULL;
}

const char *ksm_status_to_string(KSMStatus s) {
        return s >= 0 && s < _KSM_STATUS_MAX ? ksm_status_names[s] : NULL;
}

/* unit as the label gives it: itself while the family has fewer than METRICS_UNITS_MAX units
 * or already has this one, else METRICS_UNIT_OTHER. */
static void unit_label(const FindingGroups *g, const char *unit, char *buf, size_t size) {
        size_t distinct = 0;

        snprintf(buf, size, "%s", unit ?: "");
        for (size_t i = 0; i < g->n; i++) {
                bool seen = false;

                if (streq(g->groups[i].unit, buf))
                        return;
                for (size_t j = 0; j < i && !seen; j++)
                        seen = streq(g->groups[j].unit, g->groups[i].unit);
                if (!seen)
                        distinct++;
        }
        if (distinct >= METRICS_UNITS_MAX)
                snprintf(buf, size, METRICS_UNIT_OTHER);
}

int finding_groups_add(FindingGroups *g, const OpenFinding *f, const char *unit) {
        FindingGroup key = {}, *l;

        finding_class(f, &key.class);
        unit_label(g, unit, key.unit, sizeof(key.unit));
        for (size_t i = 0; i < g->n; i++) {
                FindingGroup *x = &g->groups[i];

                if (finding_class_equal(&x->class, &key.class) && streq(x->unit, key.unit)) {
                        x->count++;
                        if (f->kind == SMAPSAUDIT_UNDER_ACCOUNTED && f->delta_kb < 0)
                                x->under_kb += (uint64_t) -f->delta_kb;
                        return 0;
                }
        }

        l = realloc(g->groups, (g->n + 1) * sizeof(FindingGroup));
        if (!l)
                return -ENOMEM;
        g->groups = l;
        key.count = 1;
        if (f->kind == SMAPSAUDIT_UNDER_ACCOUNTED && f->delta_kb < 0)
                key.under_kb = (uint64_t) -f->delta_kb;
        l[g->n++] = key;
        return 0;
}

void finding_groups_done(FindingGroups *g) {
        free(g->groups);
        *g = (FindingGroups) {};
}

void metrics_done(Metrics *m) {
        finding_groups_done(&m->found);
}

/* A label value as the exposition format wants it: \\, \" and \n escaped. */
static void put_value(FILE *f, const char *s) {
        fputc('"', f);
        for (; s && *s; s++)
                switch (*s) {
                case '\\':
                        fputs("\\\\", f);
                        break;
                case '"':
                        fputs("\\\"", f);
                        break;
                case '\n':
                        fputs("\\n", f);
                        break;
                default:
                        fputc(*s, f);
                }
        fputc('"', f);
}

static void family(FILE *f, const char *name, const char *type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{k1="v1",k2="v2"} value; labels is a NULL-terminated key, value list. */
static void sample(FILE *f, const char *name, const char *const *labels, const char *value) {
        fputs(name, f);
        if (labels && labels[0]) {
                fputc('{', f);
                for (size_t i = 0; labels[i]; i += 2) {
                        fprintf(f, "%s%s=", i > 0 ? "," : "", labels[i]);
                        put_value(f, labels[i + 1]);
                }
                fputc('}', f);
        }
        fprintf(f, " %s\n", value);
}

static void sample_u64(FILE *f, const char *name, const char *const *labels, uint64_t v) {
        char buf[32];

        snprintf(buf, sizeof(buf), "%" PRIu64, v);
        sample(f, name, labels, buf);
}

static void sample_seconds(FILE *f, const char *name, const char *const *labels, uint64_t usec) {
        char buf[48];

        snprintf(buf, sizeof(buf), "%" PRIu64 ".%06" PRIu64, usec / 1000000, usec % 1000000);
        sample(f, name, labels, buf);
}

static void groups(FILE *f, const char *name, const FindingGroups *g, bool under_bytes) {
        for (size_t i = 0; i < g->n; i++) {
                const FindingGroup *x = &g->groups[i];
                const FindingClass *c = &x->class;
                const char *kind = smapsaudit_verdict_to_string(c->kind);

                if (under_bytes) {
                        if (c->kind != SMAPSAUDIT_UNDER_ACCOUNTED)
                                continue;
                        sample_u64(f, name, (const char *const[]) { "field", c->field, "source", c->source,
                                                                    "tags", c->tags, "unit", x->unit, NULL },
                                   x->under_kb * 1024);
                } else
                        sample_u64(f, name, (const char *const[]) { "kind", kind, "field", c->field,
                                                                    "source", c->source, "tags", c->tags,
                                                                    "unit", x->unit, NULL },
                                   x->count);
        }
}

static void last_sweep(FILE *f, const char *name, const char *help, const MetricsView *v, uint64_t value,
                       bool usec) {
        family(f, name, "gauge", help);
        if (v->last_sweep_usec == 0)
                return;
        if (usec)
                sample_seconds(f, name, NULL, value);
        else
                sample_u64(f, name, NULL, value);
}

int metrics_render(const Metrics *m, const MetricsView *v, char **ret, size_t *ret_size) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;

        family(f, "smapsaudit_kernel_info", "gauge",
               "The kernel release audited (label release) and the one before it (previous_release); join on instance.");
        sample(f, "smapsaudit_kernel_info", (const char *const[]) { "release", v->release ?: "unknown",
                                                                    "previous_release", v->previous_release ?: "",
                                                                    NULL }, "1");

        family(f, "smapsaudit_build_info", "gauge",
               "smapsauditd's version (label version) and that of the libsmapsaudit it runs with (library_version).");
        sample(f, "smapsaudit_build_info", (const char *const[]) { "version", PACKAGE_VERSION,
                                                                   "library_version", smapsaudit_version(), NULL }, "1");

        family(f, "smapsaudit_start_time_seconds", "gauge", "When smapsauditd started, in seconds since the epoch.");
        sample_seconds(f, "smapsaudit_start_time_seconds", NULL, m->start_usec);

        family(f, "smapsaudit_processes_audited_total", "counter", "Audits that reached a verdict.");
        sample_u64(f, "smapsaudit_processes_audited_total", NULL, m->processes_audited);
        family(f, "smapsaudit_audits_inconclusive_total", "counter",
               "Audits that could not decide: the process changed too much while it was read.");
        sample_u64(f, "smapsaudit_audits_inconclusive_total", NULL, m->audits_inconclusive);

        family(f, "smapsaudit_findings_total", "counter",
               "Findings recorded (each once, when it first appears in a process's audits).");
        groups(f, "smapsaudit_findings_total", &m->found, false);
        family(f, "smapsaudit_open_findings", "gauge",
               "Findings that the last conclusive audit of a live process still has.");
        groups(f, "smapsaudit_open_findings", &v->open, false);
        family(f, "smapsaudit_under_accounted_bytes", "gauge",
               "Memory that open under-accounted findings say the kernel does not count.");
        groups(f, "smapsaudit_under_accounted_bytes", &v->open, true);
        family(f, "smapsaudit_processes_with_findings", "gauge", "Processes with open findings.");
        sample_u64(f, "smapsaudit_processes_with_findings", NULL, v->processes_with_findings);

        family(f, "smapsaudit_ksm_invariants", "gauge",
               "KSM's counters against each other and the page tables: 1 for the current status.");
        for (KSMStatus s = 0; s < _KSM_STATUS_MAX; s++)
                sample(f, "smapsaudit_ksm_invariants", (const char *const[]) { "status", ksm_status_to_string(s), NULL },
                       s == v->ksm ? "1" : "0");

        family(f, "smapsaudit_regression", "gauge",
               "1 when the running kernel release has kinds of findings the previous release did not have.");
        if (v->regression && v->previous_release)
                sample(f, "smapsaudit_regression", (const char *const[]) { "release", v->release ?: "unknown",
                                                                           "previous_release", v->previous_release,
                                                                           NULL }, "1");

        family(f, "smapsaudit_kernel_bug", "gauge",
               "1 when the probe found the catalogued kernel bug (label bug) in the running release, 0 when it "
               "found it absent; a bug it could not test has no sample.");
        for (size_t i = 0; v->probe_release && i < v->n_kernel_bugs; i++)
                sample(f, "smapsaudit_kernel_bug", (const char *const[]) { "bug", v->kernel_bugs[i].bug,
                                                                           "release", v->probe_release, NULL },
                       v->kernel_bugs[i].present ? "1" : "0");
        family(f, "smapsaudit_probe_timestamp_seconds", "gauge",
               "When the probe of the running kernel release ended (ProbeOnBoot=; once per release).");
        if (v->probe_release)
                sample_seconds(f, "smapsaudit_probe_timestamp_seconds", NULL, v->probe_usec);

        family(f, "smapsaudit_sweep_interval_seconds", "gauge", "Interval= between sweeps.");
        sample_seconds(f, "smapsaudit_sweep_interval_seconds", NULL, v->interval_usec);
        family(f, "smapsaudit_last_sweep_timestamp_seconds", "gauge", "When the last sweep ended.");
        if (v->last_sweep_usec > 0)
                sample_seconds(f, "smapsaudit_last_sweep_timestamp_seconds", NULL, v->last_sweep_usec);
        /* Before the first sweep there is no last one: the families, without samples. */
        last_sweep(f, "smapsaudit_last_sweep_duration_seconds", "Wall-clock time the last sweep took.", v, v->sweep_usec,
                   true);
        last_sweep(f, "smapsaudit_last_sweep_cpu_seconds", "CPU time the daemon used during the last sweep (what its budget counts).", v,
                   v->sweep_cpu_usec, true);
        last_sweep(f, "smapsaudit_last_sweep_processes_audited", "Processes the last sweep audited.", v,
                   v->sweep_processes_audited, false);
        last_sweep(f, "smapsaudit_last_sweep_covered", "1 when the last sweep audited every process.", v,
                   v->sweep_covered, false);

        family(f, "smapsaudit_daemon_errors_total", "counter",
               "Errors of smapsauditd itself, by what failed (the journal has each, MESSAGE_ID b701dac6...).");
        for (DaemonError e = 0; e < _DAEMON_ERROR_MAX; e++)
                sample_u64(f, "smapsaudit_daemon_errors_total",
                           (const char *const[]) { "what", daemon_error_to_string(e), NULL }, m->errors[e]);

        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        *ret_size = size;
        return 0;
}
