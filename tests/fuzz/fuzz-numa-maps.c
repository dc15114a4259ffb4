/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sa_numa_maps_parse() and the lookup by start address on anything. */
#include "fuzz.h"
#include "macro.h"
#include "sources.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *buf = fuzz_string(data, size);
        struct sa_numa_maps m = {};

        if (sa_numa_maps_parse(buf, &m) == 0) {
                for (size_t i = 0; i < m.n; i++) {
                        const struct sa_numa_vma *v = &m.vmas[i];

                        fuzz_assert(sa_numa_maps_find(&m, v->start) != NULL);
                        fuzz_assert(sa_numa_vma_equal(v, v));
                        fuzz_assert(v->n_nodes == 0 || v->nodes);
                        for (size_t j = 0; j < v->n_nodes; j++)
                                fuzz_assert(v->nodes[j].node >= 0);
                }
                (void) sa_numa_maps_find(&m, 0);
                (void) sa_numa_maps_find(&m, UINT64_MAX);
                sa_numa_maps_done(&m);
        }
        free(buf);
        return 0;
}
