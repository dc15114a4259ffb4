/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * KSM's own books: /proc/PID/ksm_stat (fs/proc/base.c proc_pid_ksm_stat)
 * and the files of /sys/kernel/mm/ksm (mm/ksm.c). Lines appeared over several
 * releases (ACCOUNTING.md §3.2): absent ones stay out of the have mask.
 */
#include <stddef.h>

#include "internal.h"

#define K(name, field, m) { name, offsetof(struct sa_ksm_stat, field), m }
static const struct sa_keyed ksm_stat_keys[] = {
        K("ksm_rmap_items", rmap_items, SA_KSM_STAT_RMAP_ITEMS),
        K("ksm_zero_pages", zero_pages, SA_KSM_STAT_ZERO_PAGES),
        K("ksm_merging_pages", merging_pages, SA_KSM_STAT_MERGING),
        K("ksm_process_profit", process_profit, SA_KSM_STAT_PROFIT),
        K("ksm_merge_any", merge_any, SA_KSM_STAT_MERGE_ANY),
        K("ksm_mergeable", mergeable, SA_KSM_STAT_MERGEABLE),
};
#undef K

int sa_ksm_stat_parse(const char *buf, struct sa_ksm_stat *ret) {
        struct sa_ksm_stat s = {};

        sa_parse_keyed(buf, ksm_stat_keys, ELEMENTSOF(ksm_stat_keys), &s, &s.have);
        *ret = s;
        return 0;
}

static const struct {
        const char *file;
        size_t offset;
} ksm_sys_files[] = {
#define F(name) { #name, offsetof(struct sa_ksm_sys, name) }
        F(run), F(pages_to_scan), F(sleep_millisecs), F(max_page_sharing), F(use_zero_pages),
        F(merge_across_nodes), F(pages_shared), F(pages_sharing), F(pages_unshared),
        F(pages_volatile), F(pages_scanned), F(full_scans), F(stable_node_chains),
        F(stable_node_dups), F(ksm_zero_pages), F(general_profit),
#undef F
};

int sa_ksm_sys_read(struct smapsaudit_ctx *ctx, struct sa_ksm_sys *ret) {
        struct sa_ksm_sys s = {};

        for (size_t i = 0; i < ELEMENTSOF(ksm_sys_files); i++) {
                _cleanup_free_ char *path = NULL, *buf = NULL;
                struct sa_keyed k = { "v", ksm_sys_files[i].offset, 1ULL << i };
                _cleanup_free_ char *line = NULL;

                if (asprintf(&path, "kernel/mm/ksm/%s", ksm_sys_files[i].file) < 0)
                        return -ENOMEM;
                if (sa_read_sys_file(ctx, path, &buf, NULL) < 0)
                        continue;
                /* general_profit can be negative: reuse the keyed parser's signed path */
                if (asprintf(&line, "v %s", buf) < 0)
                        return -ENOMEM;
                sa_parse_keyed(line, &k, 1, &s, &s.have);
        }
        if (!s.have)
                return -ENOENT;
        *ret = s;
        return 0;
}
