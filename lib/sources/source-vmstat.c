/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * NUMA-balancing evidence: /proc/vmstat counters (numa_pte_updates counts
 * PTEs made protnone, numa_huge_pte_updates PMDs) and the
 * kernel.numa_balancing sysctl.
 */
#include <stddef.h>

#include "macro.h"
#include "parse-number.h"
#include "procfs.h"
#include "sources.h"

#define K(name, m) { #name, offsetof(struct sa_vmstat_numa, name), m }
static const struct sa_keyed vmstat_keys[] = {
        K(numa_pte_updates, 1u << 0),
        K(numa_huge_pte_updates, 1u << 1),
        K(numa_hint_faults, 1u << 2),
        K(numa_hint_faults_local, 1u << 3),
        K(numa_pages_migrated, 1u << 4),
};
#undef K

int sa_vmstat_parse(const char *buf, struct sa_vmstat_numa *ret) {
        struct sa_vmstat_numa v = { .numa_balancing = -1 };

        sa_parse_keyed(buf, vmstat_keys, ELEMENTSOF(vmstat_keys), &v, &v.have);
        *ret = v;
        return 0;
}

int sa_vmstat_read(struct smapsaudit_ctx *ctx, struct sa_vmstat_numa *ret) {
        _cleanup_free_ char *buf = NULL, *nb = NULL;
        uint64_t v;
        int r;

        r = sa_read_proc_file(ctx, "vmstat", &buf, NULL);
        if (r < 0)
                return r;
        sa_vmstat_parse(buf, ret);
        if (sa_read_proc_file(ctx, "sys/kernel/numa_balancing", &nb, NULL) >= 0 &&
            parse_u64_prefix(nb, &v) >= 0)
                ret->numa_balancing = (int64_t) v;
        return 0;
}
