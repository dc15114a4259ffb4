/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sa_ksm_stat_parse() on anything. */
#include "fuzz.h"
#include "macro.h"
#include "sources.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *buf = fuzz_string(data, size);
        struct sa_ksm_stat s;

        fuzz_assert(sa_ksm_stat_parse(buf, &s) == 0);
        fuzz_assert((s.have & ~0x3fULL) == 0);
        free(buf);
        return 0;
}
