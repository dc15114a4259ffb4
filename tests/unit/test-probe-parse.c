/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* probe/parse.c: a probe's JSON read back (what smapsauditd keeps and `probe --daemon` prints). */
#include <errno.h>
#include <stdlib.h>

#include "probe.h"
#include "tap.h"

#define DOC(bugs)                                                                                              \
        "{\"schema\":\"smapsaudit.probe/1\",\"version\":\"0.1.0\",\"kernel\":\"6.1.0-57-amd64\","              \
        "\"started\":1700000000,\"wall_seconds\":6.5,\"peak_rss_kb\":49152,\"niced\":true,"                     \
        "\"allow_knobs\":false,\"knobs_changed\":[],\"bugs\":[" bugs "],\"present\":1,\"exit_status\":1}"
#define BUG(id, state, why) "{\"id\":\"" id "\",\"state\":\"" state "\",\"summary\":" why ",\"seconds\":0.25}"

static char *text_of(const struct probe_result *r) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        probe_result_print_text(r, f);
        fclose(f);
        return buf;
}

int main(void) {
        struct probe_result *r = NULL, *again = NULL;
        char *json = NULL, *text = NULL;

        ok(probe_result_from_json(DOC(BUG("thp-protnone", "present", "\"smaps Rss 0 kB, walk 8192 kB\"") ","
                                      BUG("some-future-bug", "present", "null") ","
                                      BUG("kpf-ksm", "absent", "\"0 of 64 pages\"") ","
                                      BUG("status-lag", "present", "\"lag 344 kB\"")), &r) == 0,
           "a daemon's document parses");
        is_str(probe_result_release(r), "6.1.0-57-amd64", "its kernel");
        /* a bug of another version's catalogue is left out */
        is_u64(probe_result_n(r), 3, "the bugs this catalogue knows");
        is_str(probe_result_bug(r, 0)->id, "thp-protnone", "in the document's order");
        is_u64(probe_result_state(r, 0), PROBE_PRESENT, "present");
        is_str(probe_result_summary(r, 0), "smaps Rss 0 kB, walk 8192 kB", "its evidence");
        is_u64(probe_result_state(r, 1), PROBE_ABSENT, "absent");
        is_u64(probe_result_exit_status(r), 1, "a bug present: exit 1");
        ok(probe_result_bug(r, 3) == NULL, "nothing past the end");

        /* printed as a local probe prints, and the same document again */
        text = text_of(r);
        ok(strncmp(text, "smapsaudit probe on Linux 6.1.0-57-amd64: 3 probe(s) in 6.5 s, peak RSS 48 MiB, "
                         "no knob changed\n", strlen("smapsaudit probe on Linux 6.1.0-57-amd64: 3 probe(s)")) == 0,
           "the text's first line");
        ok(strstr(text, "\npresent      #1 thp-protnone: ") && strstr(text, "\nabsent       #6 kpf-ksm: "),
           "one block per bug");
        ok(probe_result_to_json(r, false, &json) == 0 && probe_result_from_json(json, &again) == 0,
           "written and read again");
        is_u64(probe_result_n(again), 3, "the same bugs");
        is_u64(probe_result_state(again, 2), PROBE_PRESENT, "the bound's state");
        ok(probe_result_bug(again, 2)->bound && probe_result_exit_status(again) == 1, "a bound makes no exit 1");
        probe_result_free(again);
        free(json);
        free(text);
        probe_result_free(r);

        /* what is not such a document */
        ok(probe_result_from_json("{\"schema\":\"smapsaudit.report/1\",\"kernel\":\"x\",\"bugs\":[]}", &r) == -EBADMSG,
           "another schema");
        ok(probe_result_from_json("not json", &r) == -EBADMSG, "not JSON");
        ok(probe_result_from_json(DOC(BUG("thp-protnone", "maybe", "null")), &r) == -EBADMSG, "an unknown state");
        ok(probe_result_from_json(DOC(BUG("kpf-ksm", "absent", "null") "," BUG("kpf-ksm", "present", "null")), &r) ==
                   -EBADMSG,
           "a bug twice");
        return tap_done();
}
