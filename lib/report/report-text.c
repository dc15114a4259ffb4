/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The report for a person: the verdict first, then only what disagrees
 * (every VMA with SMAPSAUDIT_REPORT_ALL_VMAS), kernel against walk.
 */
#include <inttypes.h>

#include "report.h"

#define RED "\033[1;31m"
#define GREEN "\033[1;32m"
#define YELLOW "\033[1;33m"
#define RESET "\033[0m"

static const char *color_of(enum smapsaudit_verdict v, bool color) {
        if (!color)
                return "";
        return v == SMAPSAUDIT_CONSISTENT ? GREEN : v == SMAPSAUDIT_INCONCLUSIVE ? YELLOW : RED;
}

static void print_range(FILE *f, uint64_t lo, uint64_t hi) {
        if (lo == hi)
                fprintf(f, "%12" PRIu64, lo);
        else {
                char buf[48];
                snprintf(buf, sizeof(buf), "%" PRIu64 "–%" PRIu64, lo, hi);
                fprintf(f, "%14s", buf);
        }
}

static void print_vma(FILE *f, const struct sa_vma_report *v, bool all_fields, bool color) {
        char tags[128];

        smapsaudit_tags_format(v->tags, tags, sizeof(tags), ',');
        fprintf(f, "\n  %012" PRIx64 "-%012" PRIx64 " %s %s%s%s  %s%s%s\n", v->kernel.start, v->kernel.end,
                v->kernel.perms, v->kernel.name && *v->kernel.name ? v->kernel.name : "[anon]",
                *tags ? "  tags: " : "", tags, color_of(v->verdict, color), smapsaudit_verdict_to_string(v->verdict),
                color ? RESET : "");
        fprintf(f, "    %-16s %12s %14s\n", "field", "kernel kB", "walk kB");
        for (unsigned fl = 0; fl <= SA_PRIVATE; fl++) {
                const struct sa_field_cmp *c = &v->cmp[fl];
                if (!c->judged || (!all_fields && c->verdict == SMAPSAUDIT_CONSISTENT))
                        continue;
                fprintf(f, "    %-16s %12" PRIu64 " ", sa_fields[fl].name, c->kernel_kb);
                print_range(f, c->walk_lo_kb, c->walk_hi_kb);
                fprintf(f, "  %s%s%s\n", color_of(c->verdict, color),
                        c->verdict == SMAPSAUDIT_CONSISTENT ? "ok" : smapsaudit_verdict_to_string(c->verdict),
                        color ? RESET : "");
        }
        if (v->numa_judged && (all_fields || v->numa_verdict != SMAPSAUDIT_CONSISTENT)) {
                fprintf(f, "    numa_maps pages:");
                for (size_t i = 0; i < v->n_numa_kernel; i++)
                        fprintf(f, " N%d=%" PRIu64, v->numa_kernel[i].node, v->numa_kernel[i].pages);
                fprintf(f, "  walk:");
                for (size_t i = 0; i < v->walk.n_nodes; i++)
                        fprintf(f, " N%d=%" PRIu64, v->walk.nodes[i].node, v->walk.nodes[i].pages);
                fprintf(f, "\n");
        }
}

/*
 * The KSM part: one summary line, then the invariants that do not hold
 * (all of them with all_checks), each with both sides' numbers.
 */
static void print_ksm(FILE *f, const struct sa_ksm_report *k, bool all_checks, bool color) {
        size_t holds = 0;

        for (size_t i = 0; i < k->n_checks; i++)
                holds += k->checks[i].verdict == SA_KSM_HOLDS;
        fprintf(f, "  KSM: %zu of %zu invariant%s hold", holds, k->n_checks, k->n_checks == 1 ? "" : "s");
        if (k->stat.have & SA_KSM_STAT_MERGING)
                fprintf(f, "; ksm_merging_pages %" PRId64, k->stat.merging_pages);
        fprintf(f, ", walk %" PRIu64 " KSM page%s\n", k->ksm_pages, k->ksm_pages == 1 ? "" : "s");
        for (size_t i = 0; i < k->n_checks; i++) {
                const struct sa_ksm_check *c = &k->checks[i];
                /* a violation in red; lag, stale or unsettled in yellow */
                enum smapsaudit_verdict shade = c->verdict == SA_KSM_VIOLATED ? SMAPSAUDIT_OVER_ACCOUNTED
                                                : c->verdict == SA_KSM_HOLDS  ? SMAPSAUDIT_CONSISTENT
                                                                              : SMAPSAUDIT_INCONCLUSIVE;

                if (!all_checks && c->verdict == SA_KSM_HOLDS)
                        continue;
                fprintf(f, "    %s: %s %" PRId64 " %s %" PRId64 " (%s): %s%s%s\n", c->name, c->field, c->kernel,
                        c->relation, c->walk, c->against, color_of(shade, color), sa_ksm_verdict_to_string(c->verdict),
                        color ? RESET : "");
        }
}

static bool same_vma(const struct smapsaudit_finding *a, const struct smapsaudit_finding *b) {
        return (a->vma_start || a->vma_end) && a->vma_start == b->vma_start && a->vma_end == b->vma_end;
}

static void print_finding(FILE *f, const struct smapsaudit_finding *fd, const char *indent, bool show_tags,
                          bool color) {
        char tags[128] = "";

        if (show_tags)
                smapsaudit_tags_format(fd->tags, tags, sizeof(tags), ',');
        fprintf(f, "%s%s%s%s %s (%s): kernel %" PRId64 " kB, walk %" PRId64 " kB, delta %+" PRId64 " kB%s%s\n",
                indent, color_of(fd->kind, color), smapsaudit_verdict_to_string(fd->kind), color ? RESET : "",
                fd->field, fd->source, fd->kernel_kb, fd->walk_kb, fd->delta_kb, *tags ? ", tags " : "", tags);
}

/* How compare.c ends the explanation of a finding on a VMA: the one part that names the field. */
#define CHURN_CLAUSE "; not churn: the events around the walk could move "

/*
 * An explanation is the figures the finding's line shows already, then after
 * "; " why they disagree (without a why, all of it), then the churn clause.
 * *len: the why's length, up to that clause.
 */
static const char *explanation_reason(const struct smapsaudit_finding *fd, size_t *len) {
        const char *e = fd->explanation ?: "", *why = strstr(e, "; "), *churn;

        why = why && why != strstr(e, CHURN_CLAUSE) ? why + 2 : e;
        churn = strstr(why, CHURN_CLAUSE);
        *len = churn ? (size_t) (churn - why) : strlen(why);
        return why;
}

static bool same_reason(const struct smapsaudit_finding *a, const struct smapsaudit_finding *b) {
        size_t la, lb;
        const char *ra = explanation_reason(a, &la), *rb = explanation_reason(b, &lb);

        return la == lb && strncmp(ra, rb, la) == 0;
}

/* The churn clause: the field it names, and what it says of that field after " by ". */
static const char *churn_rest(const struct smapsaudit_finding *fd) {
        const char *c = fd->explanation ? strstr(fd->explanation, CHURN_CLAUSE) : NULL, *by;

        by = c ? strstr(c + strlen(CHURN_CLAUSE), " by ") : NULL;
        return by ? by + 4 : NULL;
}

static bool same_churn(const struct smapsaudit_finding *a, const struct smapsaudit_finding *b) {
        const char *ra = churn_rest(a), *rb = churn_rest(b);

        return ra && rb && streq(ra, rb);
}

/* One churn clause for the fields of a VMA whose clauses say the same of each. */
static void print_churn(FILE *f, const struct smapsaudit_report *r, size_t first, size_t k) {
        const struct smapsaudit_finding *fd = &r->findings[k];
        size_t n = 0, shown = 0;

        for (size_t m = k; m < r->n_findings; m++)
                n += same_vma(&r->findings[m], &r->findings[first]) && same_churn(&r->findings[m], fd);
        fprintf(f, "      not churn: the events around the walk could move ");
        for (size_t m = k; m < r->n_findings; m++)
                if (same_vma(&r->findings[m], &r->findings[first]) && same_churn(&r->findings[m], fd)) {
                        shown++;
                        fprintf(f, "%s%s", shown == 1 ? "" : shown == n ? " and " : ", ", r->findings[m].field);
                }
        fprintf(f, " by %s\n", churn_rest(fd));
}

/*
 * The findings of one VMA under one heading, each reason once after them:
 * a VMA's fields mostly disagree for one reason, which one paragraph says.
 * Findings on the whole process (no VMA) stand alone.
 */
static void print_findings(FILE *f, const struct smapsaudit_report *r, bool color) {
        for (size_t i = 0; i < r->n_findings; i++) {
                const struct smapsaudit_finding *first = &r->findings[i];
                char tags[128];
                bool seen = false;

                for (size_t k = 0; k < i && !seen; k++)
                        seen = same_vma(&r->findings[k], first);
                if (seen)
                        continue;
                if (!(first->vma_start || first->vma_end)) {
                        print_finding(f, first, "  ", true, color);
                        fprintf(f, "    %s\n", first->explanation ?: "");
                        continue;
                }

                smapsaudit_tags_format(first->tags, tags, sizeof(tags), ',');
                fprintf(f, "  VMA %" PRIx64 "-%" PRIx64 "%s%s:\n", first->vma_start, first->vma_end,
                        *tags ? ", tags " : "", tags);
                for (size_t k = i; k < r->n_findings; k++)
                        if (k == i || same_vma(&r->findings[k], first))
                                print_finding(f, &r->findings[k], "    ", r->findings[k].tags != first->tags, color);
                for (size_t k = i; k < r->n_findings; k++) {
                        const struct smapsaudit_finding *fd = &r->findings[k];
                        bool said = false;
                        size_t len;
                        const char *why = explanation_reason(fd, &len);

                        if (k != i && !same_vma(fd, first))
                                continue;
                        for (size_t j = i; j < k && !said; j++)
                                said = same_vma(&r->findings[j], first) && same_reason(&r->findings[j], fd);
                        if (!said)
                                fprintf(f, "      %.*s\n", (int) len, why);
                }
                for (size_t k = i; k < r->n_findings; k++) {
                        const struct smapsaudit_finding *fd = &r->findings[k];
                        bool said = false;

                        if ((k != i && !same_vma(fd, first)) || !churn_rest(fd))
                                continue;
                        for (size_t j = i; j < k && !said; j++)
                                said = same_vma(&r->findings[j], first) && same_churn(&r->findings[j], fd);
                        if (!said)
                                print_churn(f, r, i, k);
                }
        }
}

_export_ int smapsaudit_report_print_text(const struct smapsaudit_report *r, FILE *f, unsigned flags) {
        bool color = flags & SMAPSAUDIT_REPORT_COLOR, all = flags & SMAPSAUDIT_REPORT_ALL_VMAS;
        const struct sa_total *rss = &r->totals[SA_RSS];
        size_t shown = 0;

        fprintf(f, "PID %d (%s), kernel %s: %s%s%s", (int) r->pid, r->comm, r->kernel, color_of(r->verdict, color),
                smapsaudit_verdict_to_string(r->verdict), color ? RESET : "");
        if (r->error) {
                fprintf(f, " (%s)\n", r->error);
                return 0;
        }
        fprintf(f, ", %zu VMAs, %zu finding%s\n", r->n_vmas + r->vmas_omitted, r->n_findings,
                r->n_findings == 1 ? "" : "s");
        fprintf(f, "  Rss: walk %" PRIu64 " kB", rss->walk_lo_kb);
        if (rss->have_kernel)
                fprintf(f, ", smaps_rollup %" PRIu64 " kB", rss->kernel_kb);
        if (rss->have_smaps_sum)
                fprintf(f, ", sum of smaps %" PRIu64 " kB", rss->smaps_sum_kb);
        if (r->totals[SA_ST_RSS].have_status)
                fprintf(f, ", status VmRSS %" PRIu64 " kB", r->totals[SA_ST_RSS].status_kb);
        fprintf(f, "\n");
        if (r->undecided_rss_kb || r->unstable_vmas)
                fprintf(f, "  Coverage: %" PRIu64 " kB of Rss decided, %" PRIu64 " kB undecided in %u VMA(s)\n",
                        r->decided_rss_kb, r->undecided_rss_kb, r->unstable_vmas);
        if (r->ksm.have)
                print_ksm(f, &r->ksm, all, color);

        for (size_t i = 0; i < r->n_vmas; i++) {
                const struct sa_vma_report *v = &r->vmas[i];
                if (!all && v->verdict == SMAPSAUDIT_CONSISTENT)
                        continue;
                print_vma(f, v, all, color);
                shown++;
        }
        if (r->n_findings)
                fprintf(f, "\nFindings:\n");
        print_findings(f, r, color);
        if (r->n_notes) {
                fprintf(f, "\nNotes:\n");
                for (size_t i = 0; i < r->n_notes; i++)
                        fprintf(f, "  - %s\n", r->notes[i]);
        }
        if (!all && shown == 0 && r->n_vmas)
                fprintf(f, "  (every VMA agrees; --all-vmas shows them)\n");
        return 0;
}
