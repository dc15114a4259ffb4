/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which threads keep status from being compared in a pass: sa_inflight_window() on hand-made
 * samples, the notes that say why, and a live sample of this process's own quiet threads. */
#include <pthread.h>
#include <unistd.h>

#include "inflight.h"
#include "report.h"
#include "tap.h"

static struct sa_inflight sample(size_t n, const struct sa_inflight_thread *t) {
        struct sa_inflight s = { .sampled = true, .n = n };

        if (n)
                memcpy(s.t, t, n * sizeof(*t));
        return s;
}

static void test_window(void) {
        const struct sa_inflight_thread exec = { 10, SA_INFLIGHT_EXEC, "execve()" };
        const struct sa_inflight_thread cpu10 = { 10, SA_INFLIGHT_UNKNOWN, "on a CPU" };
        const struct sa_inflight_thread cpu11 = { 11, SA_INFLIGHT_UNKNOWN, "on a CPU" };
        const struct sa_inflight_thread zap11 = { 11, SA_INFLIGHT_UNMAP, "unmap_page_range()" };
        struct sa_inflight none = sample(0, NULL), a, b, full = sample(0, NULL);
        struct sa_inflight_thread w;

        w = sa_inflight_window(&none, &none);
        is_i64(w.kind, SA_INFLIGHT_NONE, "no thread at risk at either sample: nothing");

        a = sample(1, &exec);
        w = sa_inflight_window(&a, &none);
        is_i64(w.kind, SA_INFLIGHT_NONE, "an exec seen at one sample only cannot span both status reads");

        b = sample(1, &exec);
        w = sa_inflight_window(&a, &b);
        is_i64(w.kind, SA_INFLIGHT_EXEC, "the same thread in execve() at both samples");
        is_i64(w.tid, 10, "named");
        is_str(w.what, "execve()", "with its system call");

        b = sample(1, &cpu10);
        w = sa_inflight_window(&a, &b);
        is_i64(w.kind, SA_INFLIGHT_EXEC, "in execve() then on a CPU: it may still be in it");

        a = sample(1, &cpu10);
        b = sample(1, &cpu11);
        w = sa_inflight_window(&a, &b);
        is_i64(w.kind, SA_INFLIGHT_NONE, "two different threads each on a CPU once: neither spans the window");

        a = sample(2, (const struct sa_inflight_thread[]) { cpu10, cpu11 });
        b = sample(2, (const struct sa_inflight_thread[]) { cpu10, zap11 });
        w = sa_inflight_window(&a, &b);
        is_i64(w.kind, SA_INFLIGHT_UNMAP, "the worst thread wins: one on a CPU, then zapping");
        is_i64(w.tid, 11, "the zapping thread named");

        full.overflow = true;
        a = sample(1, &zap11);
        w = sa_inflight_window(&a, &full);
        is_i64(w.kind, SA_INFLIGHT_UNMAP, "a sample that lost threads may have lost this one");
        w = sa_inflight_window(&none, &full);
        is_i64(w.kind, SA_INFLIGHT_NONE, "no thread at risk at the other sample: nothing");

        a.sampled = false;
        w = sa_inflight_window(&a, &a);
        is_i64(w.kind, SA_INFLIGHT_NONE, "not sampled (a capture): nothing known, judged as read");
}

static void test_notes(void) {
        const struct sa_inflight_thread exec = { 1234, SA_INFLIGHT_EXEC, "execve()" };
        const struct sa_inflight_thread cpu = { 1235, SA_INFLIGHT_UNKNOWN, "on a CPU" };
        const struct sa_inflight_thread quiet = { 0, SA_INFLIGHT_NONE, "" };
        struct sa_inflight_log log = {};
        struct smapsaudit_report *r = NULL;

        if (!ok(sa_report_new(1, &r) >= 0, "a report"))
                return;
        ok(sa_inflight_status_comparable(&log, 1, &quiet), "quiet: status compared");
        ok(sa_inflight_status_comparable(&log, 1, &cpu), "a thread on a CPU does not keep status from being compared");
        ok(!sa_inflight_status_comparable(&log, 2, &exec), "an exec in flight does");
        ok(!sa_inflight_status_comparable(&log, 3, &exec), "in the next pass too");

        r->status_cmp[SA_ST_RSS_ANON] = (struct sa_field_cmp) { .judged = true, .verdict = SMAPSAUDIT_UNDER_ACCOUNTED };
        ok(!sa_inflight_withdraw_over(&log, 4, &cpu, r), "below the walk: an unknown thread changes nothing");
        ok(r->status_cmp[SA_ST_RSS_ANON].judged, "still judged");
        r->status_cmp[SA_ST_RSS] = (struct sa_field_cmp) { .judged = true, .verdict = SMAPSAUDIT_OVER_ACCOUNTED };
        ok(!sa_inflight_withdraw_over(&log, 4, &exec, r), "withdrawing is for unknown threads only");
        ok(sa_inflight_withdraw_over(&log, 4, &cpu, r), "above the walk with a thread on a CPU: withdrawn");
        ok(!r->status_cmp[SA_ST_RSS].judged && !r->status_cmp[SA_ST_RSS_ANON].judged, "the whole pass's status");

        is_i64(sa_inflight_log_notes(&log, r), 0, "notes");
        if (is_i64(r->n_notes, 2, "one note per cause")) {
                is_str(r->notes[0], "status not compared in passes 2, 3: thread 1234 was inside execve() (its "
                       "argument pages are counted in the old image until the exec commits)", "the exec, its passes");
                is_str(r->notes[1], "status not compared in pass 4: status was above the walk while thread 1235 "
                       "was on a CPU at both samples, where neither its system call nor its stack can be read: it "
                       "may have been inside execve() or an unmap", "the withdrawn pass");
        }
        smapsaudit_report_unref(r);
}

static void *sleeper(void *arg) {
        (void) arg;
        pause();
        return NULL;
}

static void test_live_quiet(void) {
        struct smapsaudit_ctx *ctx = NULL;
        struct sa_inflight s;
        pthread_t t;

        if (!ok(smapsaudit_ctx_new(&ctx) >= 0, "a context"))
                return;
        if (ok(pthread_create(&t, NULL, sleeper, NULL) == 0, "a thread asleep in pause()")) {
                /* until it sleeps, it may be on a CPU */
                for (int i = 0; i < 100; i++) {
                        sa_inflight_sample(ctx, getpid(), &s);
                        if (s.n == 0)
                                break;
                        usleep(10000);
                }
                ok(s.sampled, "this process's threads sampled");
                is_i64(s.n, 0, "none in flight or unknown: one reads its own files, one sleeps in pause()");
                pthread_cancel(t);
                pthread_join(t, NULL);
        }
        smapsaudit_ctx_unref(ctx);
}

int main(void) {
        test_window();
        test_notes();
        test_live_quiet();
        return tap_done();
}
