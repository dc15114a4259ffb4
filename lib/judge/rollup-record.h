/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "report.h"

struct sa_rollup_window;

/*
 * The pass that settled smaps_rollup (it agreed, or its finding was
 * confirmed): later passes do not read the rollup again, so its figures
 * and verdicts are kept from that pass, with why each field it printed
 * was or was not judged.
 */
struct sa_rollup_record {
        unsigned pass;                          /* 0: the rollup was never settled */
        struct sa_total totals[SA_PRIVATE + 1];
        struct sa_field_cmp cmp[SA_PRIVATE + 1];
        const char *why[SA_PRIVATE + 1];        /* a field the rollup printed and that was not judged */
};

/* Reasons judge_totals() knows of, beside those the window gives. */
extern const char sa_rollup_why_walk_moved[];
extern const char sa_rollup_why_vmas[];

/* Records this pass's rollup comparison; why[] holds reasons already known, NULL elsewhere. */
void sa_rollup_record_pass(struct sa_rollup_record *rec, const struct smapsaudit_report *r, unsigned pass,
                           const struct sa_rollup_window *w, const char *const why[]);

/* Puts the settling pass's rollup figures back in the report and says what was not judged, and why. */
int sa_rollup_record_apply(const struct sa_rollup_record *rec, struct smapsaudit_report *r);
