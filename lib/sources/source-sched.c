/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * /proc/PID/sched NUMA lines (kernel/sched/debug.c sched_show_numa):
 * mm->numa_scan_seq rises each time task_numa_work scanned the mm, which
 * is what makes protnone hint entries possible in an accessible VMA.
 */
#include <stddef.h>

#include "macro.h"
#include "sources.h"

#define K(name, field, m) { name, offsetof(struct sa_sched_numa, field), m }
static const struct sa_keyed sched_keys[] = {
        K("mm->numa_scan_seq", numa_scan_seq, 1u << 0),
        K("numa_pages_migrated", numa_pages_migrated, 1u << 1),
        K("numa_preferred_nid", numa_preferred_nid, 1u << 2),
        K("total_numa_faults", total_numa_faults, 1u << 3),
};
#undef K

int sa_sched_parse(const char *buf, struct sa_sched_numa *ret) {
        struct sa_sched_numa s = { .numa_scan_seq = -1 };

        sa_parse_keyed(buf, sched_keys, ELEMENTSOF(sched_keys), &s, &s.have);
        *ret = s;
        return 0;
}
