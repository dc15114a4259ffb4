/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* KSM's global invariants, checked by the library in a worker thread after
 * each sweep; their status goes to the metrics, GetKSMStatus, and the
 * journal when it turns broken or holds again. */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "log.h"
#include "macro.h"
#include "manager.h"

void manager_ksm_check(Manager *m) {
        Job *job;

        if (m->ksm_running || m->stopping || !m->pool)
                return;
        job = job_new(JOB_KSM);
        if (!job) {
                log_error_errno(ENOMEM, "Failed to start a KSM check: %m");
                return;
        }
        m->ksm_running = true;
        worker_pool_submit(m->pool, job);
}

static KSMStatus status_of(int r) {
        if (r < 0)
                return KSM_STATUS_UNKNOWN;
        switch ((enum smapsaudit_verdict) r) {
        case SMAPSAUDIT_CONSISTENT:
                return KSM_STATUS_HOLDS;
        case SMAPSAUDIT_UNDER_ACCOUNTED:
        case SMAPSAUDIT_OVER_ACCOUNTED:
                return KSM_STATUS_BROKEN;
        default:
                return KSM_STATUS_INCONCLUSIVE;
        }
}

/* The first violated invariant's name, for the journal, or NULL. */
static char *first_invariant(const char *json) {
        struct json_object *o = json ? json_tokener_parse(json) : NULL, *findings, *f, *name;
        char *s = NULL;

        if (o && json_object_object_get_ex(o, "findings", &findings) &&
            json_object_is_type(findings, json_type_array) && json_object_array_length(findings) > 0) {
                f = json_object_array_get_idx(findings, 0);
                if (json_object_object_get_ex(f, "invariant", &name) && json_object_is_type(name, json_type_string))
                        s = strdup(json_object_get_string(name));
        }
        json_object_put(o);
        return s;
}

void manager_ksm_done(Manager *m, Job *job) {
        KSMStatus before = m->ksm_status, now = status_of(job->r);

        m->ksm_running = false;
        if (m->stopping)
                return;

        if (job->r < 0 && job->r != -EOPNOTSUPP && job->r != -ECANCELED)
                manager_error(m, DAEMON_ERROR_KSM, job->r, "The KSM check failed: %m");

        m->ksm_status = now;
        m->ksm_checked_usec = now_usec(CLOCK_REALTIME);
        free(m->ksm_json);
        m->ksm_json = TAKE_PTR(job->json);

        /* Broken now, or holding after broken: an inconclusive check says neither. */
        if ((now == KSM_STATUS_BROKEN && !m->ksm_logged_broken) ||
            (now == KSM_STATUS_HOLDS && m->ksm_logged_broken)) {
                _cleanup_free_ char *first = now == KSM_STATUS_BROKEN ? first_invariant(m->ksm_json) : NULL;

                (void) journal_ksm(ksm_status_to_string(now), ksm_status_to_string(before),
                                   smapsaudit_ctx_get_kernel_release(m->ctx), first);
                m->ksm_logged_broken = now == KSM_STATUS_BROKEN;
        }
        manager_metrics_update(m);
}
