/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "finding-events.h"
#include "test.h"

static JobFinding finding(const char *field, uint64_t start) {
        JobFinding j = { .explanation = (char *) "why" };

        j.f.kind = SMAPSAUDIT_UNDER_ACCOUNTED;
        snprintf(j.f.field, sizeof(j.f.field), "%s", field);
        snprintf(j.f.source, sizeof(j.f.source), "smaps");
        j.f.vma_start = start;
        j.f.vma_end = start + 4096;
        j.f.key = finding_key(j.f.kind, j.f.field, j.f.source, j.f.vma_start, j.f.vma_end);
        return j;
}

/* The events of one audit, as a string of letters: N new, C confirmed, R resolved. */
static const char *record(ProcState *s, const JobFinding *found, size_t n, bool sweep) {
        static char out[16];
        FindingEvent *events = NULL;
        size_t n_events = 0, k = 0;

        CHECK(finding_events_record(s, found, n, sweep, &events, &n_events) == 0);
        for (size_t i = 0; i < n_events && k + 1 < sizeof(out); i++)
                out[k++] = "NCR"[events[i].type];
        out[k] = 0;
        for (size_t i = 0; i < n_events; i++)
                if (events[i].type != FINDING_EVENT_RESOLVED)
                        events[i].open->logged = true;   /* as the journal would */
        free(events);
        return out;
}

int main(void) {
        JobFinding a = finding("AnonHugePages", 0x1000), b = finding("Rss", 0x8000);
        JobFinding ab[] = { a, b };
        ProcState s = { .pid = 42 };
        FindingEvent *events = NULL;
        size_t n = 0;

        /* New once; a repeat is no event and keeps what was said of it. */
        CHECK(streq(record(&s, &a, 1, false), "N"));
        CHECK(streq(record(&s, &a, 1, false), ""));
        CHECK(s.n_findings == 1 && s.findings[0].logged && !s.findings[0].swept);

        /* Checks never confirm, however many; the first sweep that has it does not either: it needs
         * a second sweep, with every conclusive audit between having it. */
        CHECK(streq(record(&s, &a, 1, false), ""));
        CHECK(streq(record(&s, &a, 1, true), ""));
        CHECK(s.findings[0].swept && !s.findings[0].confirmed);
        CHECK(streq(record(&s, &a, 1, false), ""));
        CHECK(streq(record(&s, &a, 1, true), "C"));
        CHECK(s.findings[0].confirmed);
        CHECK(streq(record(&s, &a, 1, true), ""));

        /* Another finding comes: new; the first goes: resolved, "gone". */
        CHECK(streq(record(&s, ab, 2, true), "N"));
        CHECK(finding_events_record(&s, &b, 1, false, &events, &n) == 0);
        CHECK(n == 1 && events[0].type == FINDING_EVENT_RESOLVED && events[0].ended.key == a.f.key);
        CHECK(streq(events[0].reason, "gone") && events[0].ended.confirmed);
        free(events);

        /* A finding that went away and came back starts again: new, and unconfirmed; the other one,
         * swept, then seen by a Check, is confirmed by this sweep. */
        CHECK(streq(record(&s, ab, 2, true), "NC"));
        CHECK(streq(record(&s, ab, 2, true), "C"));

        /* The process exits: each open finding resolved, "exited". */
        CHECK(finding_events_exited(&s, &events, &n) == 0);
        CHECK(n == 2 && events[0].type == FINDING_EVENT_RESOLVED && streq(events[1].reason, "exited"));
        free(events);

        /* A sweep's first sighting is confirmed by the next sweep. */
        CHECK(streq(record(&s, NULL, 0, true), "RR"));
        CHECK(streq(record(&s, &b, 1, true), "N"));
        CHECK(streq(record(&s, &b, 1, true), "C"));

        free(s.findings);
        return test_summary("finding-events");
}
