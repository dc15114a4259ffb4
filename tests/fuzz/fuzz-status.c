/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sa_status_parse() on anything. */
#include "fuzz.h"
#include "macro.h"
#include "sources.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *buf = fuzz_string(data, size);
        struct sa_status st;

        fuzz_assert(sa_status_parse(buf, &st) == 0);
        fuzz_assert(strlen(st.name) < sizeof(st.name));
        fuzz_assert(sa_status_counters_equal(&st, &st));
        free(buf);
        return 0;
}
