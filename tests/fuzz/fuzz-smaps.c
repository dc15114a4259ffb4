/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sa_smaps_parse() on anything: /proc/PID/smaps and smaps_rollup share the parser. */
#include "fuzz.h"
#include "macro.h"
#include "sources.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *buf = fuzz_string(data, size);
        struct sa_smaps s = {};

        if (sa_smaps_parse(buf, &s) == 0) {
                for (size_t i = 0; i < s.n; i++) {
                        const struct sa_smaps_vma *v = &s.vmas[i];

                        fuzz_assert(v->name);
                        fuzz_assert(v->start <= v->end);
                        fuzz_assert(strlen(v->perms) <= 4);
                        fuzz_assert(strlen(v->name) <= size);
                        fuzz_assert(v->thp_eligible >= -1 && v->thp_eligible <= 1);
                        fuzz_assert(sa_smaps_vma_equal(v, v));
                        for (unsigned f = 0; f < _SA_SMAPS_FIELD_MAX; f++)
                                fuzz_assert((v->have >> f & 1) || v->kb[f] == 0);
                }
                sa_smaps_done(&s);
        }
        free(buf);
        return 0;
}
