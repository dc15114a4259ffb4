/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sa_sched_parse() on anything. */
#include "fuzz.h"
#include "macro.h"
#include "sources.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *buf = fuzz_string(data, size);
        struct sa_sched_numa s;

        fuzz_assert(sa_sched_parse(buf, &s) == 0);
        fuzz_assert((s.have & 1) || s.numa_scan_seq == -1);
        free(buf);
        return 0;
}
