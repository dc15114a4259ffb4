/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>

#include "finding-events.h"
#include "macro.h"

int finding_events_record(ProcState *s, const JobFinding *found, size_t n_found, bool sweep, FindingEvent **ret,
                          size_t *ret_n) {
        _cleanup_free_ OpenFinding *open = NULL;
        _cleanup_free_ FindingEvent *events = NULL;
        size_t n = 0;

        /* at most one event per finding found and one per finding that was open */
        events = calloc(n_found + s->n_findings + 1, sizeof(FindingEvent));
        open = calloc(n_found + 1, sizeof(OpenFinding));
        if (!events || !open)
                return -ENOMEM;

        for (size_t i = 0; i < n_found; i++) {
                const OpenFinding *old = proc_state_find(s, found[i].f.key);

                open[i] = found[i].f;
                if (!old) {
                        open[i].swept = sweep;
                        events[n++] = (FindingEvent) { .type = FINDING_EVENT_NEW, .open = &open[i],
                                                       .explanation = found[i].explanation };
                        continue;
                }
                open[i].logged = old->logged;
                open[i].confirmed = old->confirmed;
                open[i].swept = old->swept || sweep;
                if (!open[i].confirmed && sweep && old->swept) {
                        open[i].confirmed = true;
                        events[n++] = (FindingEvent) { .type = FINDING_EVENT_CONFIRMED, .open = &open[i],
                                                       .explanation = found[i].explanation };
                }
        }

        for (size_t i = 0; i < s->n_findings; i++) {
                bool still = false;

                for (size_t j = 0; j < n_found && !still; j++)
                        still = found[j].f.key == s->findings[i].key;
                if (!still)
                        events[n++] = (FindingEvent) { .type = FINDING_EVENT_RESOLVED, .ended = s->findings[i],
                                                       .reason = "gone" };
        }

        proc_state_set_findings(s, TAKE_PTR(open), n_found);
        *ret = TAKE_PTR(events);
        *ret_n = n;
        return 0;
}

int finding_events_exited(const ProcState *s, FindingEvent **ret, size_t *ret_n) {
        FindingEvent *events;

        events = calloc(s->n_findings + 1, sizeof(FindingEvent));
        if (!events)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_findings; i++)
                events[i] = (FindingEvent) { .type = FINDING_EVENT_RESOLVED, .ended = s->findings[i],
                                             .reason = "exited" };
        *ret = events;
        *ret_n = s->n_findings;
        return 0;
}
