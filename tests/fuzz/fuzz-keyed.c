/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sa_parse_keyed() with keys of every shape the parsers use (status "Key:",
 * vmstat "key value", sched "mm->key   :", yes/no values, a one-letter key
 * as sa_ksm_sys_read() uses for sysfs files), and the number parsers.
 */
#include <stddef.h>
#include <stdio.h>

#include "fuzz.h"
#include "macro.h"
#include "parse-number.h"
#include "sources.h"

struct dest {
        int64_t v[8];
        uint64_t have;
};

#define K(name, i) { name, offsetof(struct dest, v) + (i) * sizeof(int64_t), 1ULL << (i) }
static const struct sa_keyed keys[] = {
        K("VmRSS", 0), K("numa_pte_updates", 1), K("mm->numa_scan_seq", 2), K("ksm_mergeable", 3),
        K("v", 4), K("Uid", 5), K("a", 6), K("ksm_merge_any", 7),
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *buf = fuzz_string(data, size);
        struct dest d = {};
        uint64_t u;

        fuzz_assert(sa_parse_keyed(buf, keys, ELEMENTSOF(keys), &d, &d.have) == 0);
        fuzz_assert((d.have & ~0xffULL) == 0);
        for (unsigned i = 0; i < 8; i++)
                fuzz_assert((d.have >> i & 1) || d.v[i] == 0);
        if (parse_u64_prefix(buf, &u) == 0)
                fuzz_assert(buf[0] >= '0' && buf[0] <= '9');
        if (parse_u64(buf, &u) == 0)
                fuzz_assert(buf[0] && strspn(buf, "0123456789") == strlen(buf));
        free(buf);
        return 0;
}
