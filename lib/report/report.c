/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The report object: what an audit found, owned and reference counted. */
#include <stdarg.h>

#include "report.h"

int sa_report_new(pid_t pid, struct smapsaudit_report **ret) {
        struct smapsaudit_report *r = calloc(1, sizeof(*r));

        if (!r)
                return -ENOMEM;
        r->n_ref = 1;
        r->pid = pid;
        r->numa.balancing = r->numa.scan_seq = -1;
        *ret = r;
        return 0;
}

void sa_vma_report_done(struct sa_vma_report *v) {
        free(v->kernel.name);
        sa_acc_done(&v->walk);
        free(v->numa_kernel);
        memset(v, 0, sizeof(*v));
}

_export_ struct smapsaudit_report *smapsaudit_report_ref(struct smapsaudit_report *r) {
        if (r)
                r->n_ref++;
        return r;
}

_export_ struct smapsaudit_report *smapsaudit_report_unref(struct smapsaudit_report *r) {
        if (!r || --r->n_ref > 0)
                return NULL;
        for (size_t i = 0; i < r->n_vmas; i++)
                sa_vma_report_done(&r->vmas[i]);
        free(r->vmas);
        free(r->cgroup);
        free(r->unit);
        for (size_t i = 0; i < r->n_findings; i++) {
                free((char *) r->findings[i].field);
                free((char *) r->findings[i].source);
                free((char *) r->findings[i].explanation);
        }
        free(r->findings);
        for (size_t i = 0; i < r->n_notes; i++)
                free(r->notes[i]);
        free(r->notes);
        free(r->error);
        free(r);
        return NULL;
}

int sa_report_note(struct smapsaudit_report *r, const char *fmt, ...) {
        char *s, **nn;
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -ENOMEM;
        for (size_t i = 0; i < r->n_notes; i++)
                if (streq(r->notes[i], s)) {
                        free(s);
                        return 0;
                }
        nn = realloc(r->notes, (r->n_notes + 1) * sizeof(*nn));
        if (!nn) {
                free(s);
                return -ENOMEM;
        }
        r->notes = nn;
        r->notes[r->n_notes++] = s;
        return 0;
}

int sa_report_add_finding(struct smapsaudit_report *r, const struct smapsaudit_finding *f) {
        struct smapsaudit_finding *nf, c = *f;

        c.field = strdup(f->field ? f->field : "");
        c.source = strdup(f->source ? f->source : "");
        c.explanation = strdup(f->explanation ? f->explanation : "");
        if (!c.field || !c.source || !c.explanation)
                goto oom;
        nf = realloc(r->findings, (r->n_findings + 1) * sizeof(*nf));
        if (!nf)
                goto oom;
        r->findings = nf;
        r->findings[r->n_findings++] = c;
        return 0;
oom:
        free((char *) c.field);
        free((char *) c.source);
        free((char *) c.explanation);
        return -ENOMEM;
}

_export_ pid_t smapsaudit_report_get_pid(const struct smapsaudit_report *r) {
        return r->pid;
}

_export_ const char *smapsaudit_report_get_comm(const struct smapsaudit_report *r) {
        return r->comm;
}

_export_ const char *smapsaudit_report_get_unit(const struct smapsaudit_report *r) {
        return r->unit;
}

_export_ const char *smapsaudit_report_get_cgroup(const struct smapsaudit_report *r) {
        return r->cgroup;
}

_export_ enum smapsaudit_verdict smapsaudit_report_get_verdict(const struct smapsaudit_report *r) {
        return r->verdict;
}

_export_ const char *smapsaudit_report_get_error(const struct smapsaudit_report *r) {
        return r->error;
}

_export_ size_t smapsaudit_report_get_n_findings(const struct smapsaudit_report *r) {
        return r->n_findings;
}

_export_ const struct smapsaudit_finding *smapsaudit_report_get_finding(const struct smapsaudit_report *r, size_t i) {
        return i < r->n_findings ? &r->findings[i] : NULL;
}

_export_ unsigned smapsaudit_report_get_tags(const struct smapsaudit_report *r) {
        unsigned t = 0;

        for (size_t i = 0; i < r->n_vmas; i++)
                t |= r->vmas[i].tags;
        return t;
}

_export_ uint64_t smapsaudit_report_get_rss_kb(const struct smapsaudit_report *r) {
        return r->totals[SA_RSS].have_kernel ? r->totals[SA_RSS].kernel_kb : r->totals[SA_RSS].walk_lo_kb;
}

_export_ uint64_t smapsaudit_report_get_cpu_usec(const struct smapsaudit_report *r) {
        return r->cpu_usec;
}

_export_ const char *smapsaudit_verdict_to_string(enum smapsaudit_verdict v) {
        switch (v) {
        case SMAPSAUDIT_CONSISTENT:
                return "consistent";
        case SMAPSAUDIT_UNDER_ACCOUNTED:
                return "under-accounted";
        case SMAPSAUDIT_OVER_ACCOUNTED:
                return "over-accounted";
        case SMAPSAUDIT_INCONCLUSIVE:
                return "inconclusive";
        }
        return "unknown";
}

_export_ int smapsaudit_verdict_to_exit_status(enum smapsaudit_verdict v) {
        switch (v) {
        case SMAPSAUDIT_CONSISTENT:
                return 0;
        case SMAPSAUDIT_UNDER_ACCOUNTED:
        case SMAPSAUDIT_OVER_ACCOUNTED:
                return 1;
        default:
                return 3;
        }
}

/* A KSM check's verdict, as the report writes and reads it. */
static const char *const verdict_names[_SA_KSM_VERDICT_MAX] = {
        [SA_KSM_HOLDS] = "holds", [SA_KSM_VIOLATED] = "violated", [SA_KSM_LAG] = "lag", [SA_KSM_STALE] = "stale",
        [SA_KSM_NOT_JUDGED] = "not-judged", [SA_KSM_INCONCLUSIVE] = "inconclusive",
};

const char *sa_ksm_verdict_to_string(enum sa_ksm_verdict v) {
        return v >= 0 && v < _SA_KSM_VERDICT_MAX ? verdict_names[v] : NULL;
}

int sa_ksm_verdict_from_string(const char *s) {
        for (int v = 0; s && v < _SA_KSM_VERDICT_MAX; v++)
                if (streq(s, verdict_names[v]))
                        return v;
        return -EINVAL;
}
