/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sa_vmstat_parse() on anything. */
#include "fuzz.h"
#include "macro.h"
#include "sources.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *buf = fuzz_string(data, size);
        struct sa_vmstat_numa v;

        fuzz_assert(sa_vmstat_parse(buf, &v) == 0);
        fuzz_assert(v.numa_balancing == -1);
        free(buf);
        return 0;
}
