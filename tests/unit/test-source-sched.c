/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sa_sched_parse(): the NUMA lines of /proc/PID/sched ("%-45s:%21Ld"). */
#include "macro.h"
#include "sources.h"
#include "tap.h"

#define ALL ((1u << 4) - 1)

static void test_parse(void) {
        _cleanup_free_ char *demo = tap_fixture("6.18-demo/sched");
        _cleanup_free_ char *numa = tap_fixture("6.18-numa/sched");
        _cleanup_free_ char *self = tap_fixture("6.18-self/sched");
        _cleanup_free_ char *two = tap_fixture("hand/sched-2node");
        struct sa_sched_numa s;

        is_i64(sa_sched_parse(demo, &s), 0, "6.18 sched parses");
        is_hex(s.have, ALL, "all four NUMA lines");
        is_i64(s.numa_scan_seq, 0, "mm->numa_scan_seq 0: never scanned");
        is_i64(s.numa_preferred_nid, -1, "numa_preferred_nid -1");
        is_i64(s.total_numa_faults, 0, "total_numa_faults");

        is_i64(sa_sched_parse(numa, &s), 0, "6.18 sched of a NUMA-hinted process parses");
        is_i64(s.numa_scan_seq, 1, "mm->numa_scan_seq rose to 1");
        is_i64(s.numa_pages_migrated, 0, "numa_pages_migrated");

        is_i64(sa_sched_parse(self, &s), 0, "cat /proc/self/sched parses");
        is_hex(s.have, ALL, "self: all four");

        is_i64(sa_sched_parse(two, &s), 0, "two-node sched parses");
        is_i64(s.numa_scan_seq, 17, "numa_scan_seq 17");
        is_i64(s.numa_pages_migrated, 2048, "numa_pages_migrated 2048");
        is_i64(s.numa_preferred_nid, 1, "numa_preferred_nid 1");
        is_i64(s.total_numa_faults, 31337, "total_numa_faults");

        /* a kernel thread has no mm: no mm->numa_scan_seq line */
        is_i64(sa_sched_parse("kthreadd (2, #threads: 1)\nnuma_preferred_nid                           :                   -1\n", &s),
               0, "kernel thread sched parses");
        is_hex(s.have, 1u << 2, "only numa_preferred_nid");
        is_i64(s.numa_scan_seq, -1, "numa_scan_seq unknown (-1)");

        is_i64(sa_sched_parse("", &s), 0, "empty sched (no CONFIG_SCHED_DEBUG... or NUMA) parses");
        is_hex(s.have, 0, "nothing");
}

int main(void) {
        test_parse();
        return tap_done();
}
