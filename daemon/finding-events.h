/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What an audit's findings change, decided apart from what the daemon then
 * does about it (manager-findings.c: journal, history, signals, metrics,
 * baseline), so that the rules are tested alone:
 *
 *   new        the last conclusive audit of the process did not have it;
 *   confirmed  a sweep's audit has it again after an earlier sweep's did,
 *              every conclusive audit between having it too: now it counts
 *              for the release's baseline (once);
 *   resolved   a conclusive audit no longer has it ("gone"), or the process
 *              exited ("exited").
 *
 * A repeat is no event: it keeps what was said of it (logged, confirmed).
 * Inconclusive audits are not recorded: they cannot say a finding went away.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "finding.h"
#include "sweep.h"

typedef enum FindingEventType {
        FINDING_EVENT_NEW,
        FINDING_EVENT_CONFIRMED,
        FINDING_EVENT_RESOLVED,
} FindingEventType;

typedef struct FindingEvent {
        FindingEventType type;
        /* new, confirmed: the process's open finding (it sets ->logged when it is), valid until its
         * state changes; resolved: a copy of the finding that ended */
        OpenFinding *open;
        OpenFinding ended;
        const char *explanation;  /* new, confirmed: the audit's, borrowed */
        const char *reason;       /* resolved: "gone" or "exited" */
} FindingEvent;

/* Makes found (a conclusive audit's findings, by a sweep or not) s's open findings. */
int finding_events_record(ProcState *s, const JobFinding *found, size_t n_found, bool sweep, FindingEvent **ret,
                          size_t *ret_n);
/* s's process exited: each of its open findings is resolved. */
int finding_events_exited(const ProcState *s, FindingEvent **ret, size_t *ret_n);
