/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The counters that bracket a window of the audit (events.h): the target's
 * faults, /proc/vmstat's THP, swap and migration events, and KSM's merged
 * pages; and how much one fault can map on this kernel.
 */
#include <dirent.h>

#include "events.h"
#include "fields.h"
#include "macro.h"
#include "parse-number.h"
#include "procfs.h"

/*
 * The vmstat events that can make a PMD mapping appear between two reads
 * (mm/vmstat.c vmstat_text, 6.1–6.18). Faults map a PMD folio with
 * thp_fault_alloc (anonymous), thp_file_alloc (shmem) or thp_file_mapped
 * (do_set_pmd); khugepaged and MADV_COLLAPSE with thp_collapse_alloc; a THP
 * migration hides one behind a PMD migration entry and maps it again.
 * Splits, whatever asks for them (ksmd before merging subpages, a partial
 * unmap, the deferred-split shrinker), and THP swap-out only take PMD
 * mappings away and add no page to any field (mm/huge_memory.c
 * __split_huge_pmd_locked and split_huge_page keep every page mapped or
 * behind a migration entry, which smaps and the walk both count as
 * resident; swap-out moves the pages to Swap, counted page by page in
 * pswpout): what fell between the reads was seen by the read before the
 * walk, so they need no budget and are not counted. Fallbacks and
 * failures change nothing.
 */
static const char *const thp_fault_events[] = { "thp_fault_alloc", "thp_file_alloc", "thp_file_mapped" };
static const char *const thp_other_events[] = { "thp_collapse_alloc", "thp_migration_success" };
/* base pages moved under the target without it faulting: swap and migration */
static const char *const moved_events[] = { "pswpin", "pswpout", "pgmigrate_success" };

static bool in_list(const char *key, size_t len, const char *const *list, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (strlen(list[i]) == len && strncmp(key, list[i], len) == 0)
                        return true;
        return false;
}

void sa_events_parse_vmstat(const char *buf, struct sa_events *ret) {
        ret->thp_fault = ret->thp_other = ret->moved_pages = 0;
        ret->have_vmstat = false;
        for (const char *p = buf; p && *p;) {
                const char *eol = strchr(p, '\n'), *sp = strchr(p, ' ');
                uint64_t v;

                if (sp && (!eol || sp < eol) && parse_u64_prefix(sp + 1, &v) >= 0) {
                        size_t len = (size_t) (sp - p);

                        if (in_list(p, len, thp_fault_events, ELEMENTSOF(thp_fault_events)))
                                ret->thp_fault += v;
                        else if (in_list(p, len, thp_other_events, ELEMENTSOF(thp_other_events)))
                                ret->thp_other += v;
                        else if (in_list(p, len, moved_events, ELEMENTSOF(moved_events)))
                                ret->moved_pages += v;
                        if (len == strlen("thp_fault_alloc") && strncmp(p, "thp_fault_alloc", len) == 0)
                                ret->have_vmstat = true;
                }
                p = eol ? eol + 1 : NULL;
        }
}

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
