/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * smaps_rollup is read in a pass only while it is unsettled, and each pass
 * overwrites the report's totals: without this, a process whose status
 * counters took more passes than its rollup showed no rollup figure and no
 * rollup verdict at all, and nothing said why.
 */
#include "pass.h"
#include "rollup-record.h"

const char sa_rollup_why_walk_moved[] = "a second walk after the pass found what they count moved";
const char sa_rollup_why_vmas[] = "VMAs disagree in them, and the per-VMA findings say where";

static const char why_population[] =
        "other processes forked or exited during the pass, moving the mapcounts they depend on";
static const char why_moving[] =
        "only the walk answers for them, and the target faulted or changed its mappings during the pass";
static const char why_no_sums[] = "smaps did not print them on both sides of the walk";

void sa_rollup_record_pass(struct sa_rollup_record *rec, const struct smapsaudit_report *r, unsigned pass,
                           const struct sa_rollup_window *w, const char *const why[]) {
        rec->pass = pass;
        memcpy(rec->totals, r->totals, sizeof(rec->totals));
        memcpy(rec->cmp, r->rollup_cmp, sizeof(rec->cmp));
        for (unsigned f = 0; f <= SA_PRIVATE; f++) {
                rec->why[f] = NULL;
                if (!r->totals[f].have_kernel || r->rollup_cmp[f].judged)
                        continue;
                if (why[f])
                        rec->why[f] = why[f];
                else if (!(w->stable & (1ULL << f)))
                        rec->why[f] = why_population;
                else if (sa_fields[f].rollup_only)
                        rec->why[f] = why_moving;
                else
                        rec->why[f] = why_no_sums;
        }
}

/* Whether the last pass's walk or smaps sums differ from the settling pass's, so that the figures shown do. */
static bool moved_since(const struct sa_rollup_record *rec, const struct smapsaudit_report *r) {
        for (unsigned f = 0; f <= SA_PRIVATE; f++) {
                const struct sa_total *x = &rec->totals[f], *y = &r->totals[f];

                if (x->walk_lo_kb != y->walk_lo_kb || x->walk_hi_kb != y->walk_hi_kb ||
                    x->have_smaps_sum != y->have_smaps_sum || x->smaps_sum_kb != y->smaps_sum_kb)
                        return true;
        }
        return false;
}

int sa_rollup_record_apply(const struct sa_rollup_record *rec, struct smapsaudit_report *r) {
        const char *reasons[] = { sa_rollup_why_walk_moved, sa_rollup_why_vmas, why_population, why_moving,
                                  why_no_sums };
        int ret;

        if (!rec->pass)
                return 0;
        if (moved_since(rec, r)) {
                ret = sa_report_note(r, "smaps_rollup was settled in pass %u: the rollup's figures and the walk's "
                                        "beside them are from that pass, the status counters from pass %u",
                                     rec->pass, r->passes);
                if (ret < 0)
                        return ret;
        }
        memcpy(r->totals, rec->totals, sizeof(rec->totals));
        memcpy(r->rollup_cmp, rec->cmp, sizeof(rec->cmp));
        for (size_t i = 0; i < ELEMENTSOF(reasons); i++) {
                char fields[512] = "";
                size_t len = 0;

                for (unsigned f = 0; f <= SA_PRIVATE && len < sizeof(fields); f++)
                        if (rec->why[f] == reasons[i])
                                len += (size_t) snprintf(fields + len, sizeof(fields) - len, "%s%s", len ? ", " : "",
                                                         sa_fields[f].name);
                if (len == 0)
                        continue;
                ret = sa_report_note(r, "smaps_rollup %s not judged: %s", fields, reasons[i]);
                if (ret < 0)
                        return ret;
        }
        return 0;
}
