/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One audit, shared by the pass loop (audit.c) and the pass's walks (audit-walk.c). */
#pragma once

#include "account.h"
#include "pass.h"
#include "views.h"
#include "walk.h"

struct audit {
        struct smapsaudit_ctx *ctx;
        pid_t pid;
        const struct smapsaudit_audit_opts *opts;
        struct smapsaudit_report *r;
        struct sa_view_src src;   /* whose files the views are read from */
        struct sa_judge j;        /* what the passes settled */
        struct sa_walker *walker;
        struct sa_account_rules rules;
        int pidfd;
        uint64_t start_time;
        unsigned progress_pass;
        uint64_t progress_done;   /* pages of this pass's walk before the VMA being walked */
        uint64_t progress_total;  /* pages this pass walks */
        uint64_t progress_next;   /* where inside a VMA the next report is due */
};

/* audit-walk.c: the pass's walk (VMAs not yet decided, and what the totals cannot reuse) into p. */
int sa_audit_walk_pass(struct audit *a, unsigned pass, struct sa_pass *p, bool *walked);
/* What the pre-judgement asked for: VMAs walked again (*again allocated then), then smaps read a third time. */
int sa_audit_do_request(struct audit *a, struct sa_pass *p, const struct sa_request *req, struct sa_acc **again,
                        struct sa_smaps *third);
