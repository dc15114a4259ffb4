/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The counters that bracket a window of the audit (judge.h): the target's
 * faults, /proc/vmstat's THP, swap and migration events, and KSM's merged
 * pages; and how much one fault can map on this kernel.
 */
#include <dirent.h>

#include "judge.h"

void sa_events_read(struct smapsaudit_ctx *ctx, pid_t pid, struct sa_events *ret) {
        _cleanup_free_ char *stat = NULL, *vmstat = NULL;
        struct sa_stat st;
        uint64_t shared, sharing;

        *ret = (struct sa_events) {};
        if (sa_read_pid_file(ctx, pid, "stat", &stat, NULL) >= 0 && sa_stat_parse(stat, &st) >= 0) {
                ret->faults = st.faults;
                ret->have_faults = true;
        }
        if (sa_read_proc_file(ctx, "vmstat", &vmstat, NULL) >= 0)
                sa_events_parse_vmstat(vmstat, ret);
        if (sa_read_sys_u64(ctx, "kernel/mm/ksm/pages_shared", &shared) >= 0 &&
            sa_read_sys_u64(ctx, "kernel/mm/ksm/pages_sharing", &sharing) >= 0) {
                ret->ksm_pages = shared + sharing;
                ret->have_ksm = true;
        }
}

/* "always inherit madvise [never]": the bracketed word is the mode in force. */
static bool thp_mode_on(const char *buf, bool inherited_on) {
        return strstr(buf, "[always]") || strstr(buf, "[madvise]") || (strstr(buf, "[inherit]") && inherited_on);
}

void sa_fault_units_read(struct smapsaudit_ctx *ctx, struct sa_fault_units *ret) {
        _cleanup_free_ char *top = NULL, *dir = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        uint64_t pmd;
        bool top_on;
        struct dirent *de;

        *ret = (struct sa_fault_units) { .anon_kb = SA_PAGE_SIZE / 1024, .pmd_kb = SA_PMD_PAGES * SA_PAGE_SIZE / 1024 };
        if (sa_read_sys_u64(ctx, "kernel/mm/transparent_hugepage/hpage_pmd_size", &pmd) >= 0 && pmd >= SA_PAGE_SIZE)
                ret->pmd_kb = pmd / 1024;
        ret->file_kb = ret->pmd_kb;
        top_on = sa_read_sys_file(ctx, "kernel/mm/transparent_hugepage/enabled", &top, NULL) >= 0 &&
                 thp_mode_on(top, false);
        /* mTHP (6.8+): an anonymous fault maps a whole folio of any size enabled here */
        if (sa_sys_path(ctx, "kernel/mm/transparent_hugepage", &dir) < 0 || !(d = opendir(dir)))
                return;
        while ((de = readdir(d))) {
                _cleanup_free_ char *name = NULL, *mode = NULL;
                unsigned long kb;

                if (sscanf(de->d_name, "hugepages-%lukB", &kb) != 1 || kb >= ret->pmd_kb || kb <= ret->anon_kb)
                        continue;
                if (asprintf(&name, "kernel/mm/transparent_hugepage/%s/enabled", de->d_name) < 0)
                        return;
                if (sa_read_sys_file(ctx, name, &mode, NULL) >= 0 && thp_mode_on(mode, top_on))
                        ret->anon_kb = kb;
        }
}
