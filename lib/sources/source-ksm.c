/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * KSM's own books, and the one place that reads them: /proc/PID/ksm_stat
 * (fs/proc/base.c proc_pid_ksm_stat), the files of /sys/kernel/mm/ksm
 * (mm/ksm.c), and cow_ksm of /proc/vmstat. Lines and files appeared over
 * several releases (docs/accounting.md, KSM): absent ones stay out of the
 * have mask, or read -1. And the wait for ksmd's full scans, which the KSM
 * rounds and merge coverage both make.
 */
#include <inttypes.h>
#include <stddef.h>
#include <time.h>

#include "ctx.h"
#include "parse-number.h"
#include "procfs.h"
#include "sources.h"
#include "time-util.h"

/* ---------------------------------------------------------------- ksm_stat */

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

int sa_ksm_stat_read(struct smapsaudit_ctx *ctx, pid_t pid, struct sa_ksm_stat *ret) {
        _cleanup_free_ char *buf = NULL, *mp = NULL;
        uint64_t v;
        int r;

        r = sa_read_pid_file(ctx, pid, "ksm_stat", &buf, NULL);
        if (r == -ENOENT) {
                /* no such process, or a kernel without CONFIG_KSM */
                _cleanup_free_ char *st = NULL;
                return sa_read_pid_file(ctx, pid, "stat", &st, NULL) < 0 ? -ESRCH : -EOPNOTSUPP;
        }
        if (r < 0)
                return r;
        sa_ksm_stat_parse(buf, ret);
        /* 5.19–6.3 print merging pages in their own file only */
        if (ret->have && !(ret->have & SA_KSM_STAT_MERGING) &&
            sa_read_pid_file(ctx, pid, "ksm_merging_pages", &mp, NULL) >= 0 && parse_u64_prefix(mp, &v) >= 0) {
                ret->merging_pages = (int64_t) v;
                ret->have |= SA_KSM_STAT_MERGING;
        }
        return 0;
}

/* ---------------------------------------------------------------- /sys/kernel/mm/ksm */

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

/* One file of /sys/kernel/mm/ksm as a number: -ENOENT where this kernel has none. */
static int ksm_sys_value(struct smapsaudit_ctx *ctx, const char *file, int64_t *ret) {
        _cleanup_free_ char *path = NULL, *buf = NULL, *line = NULL;
        struct sa_keyed k = { "v", 0, 1 };
        uint64_t have = 0;
        int r;

        if (asprintf(&path, "kernel/mm/ksm/%s", file) < 0)
                return -ENOMEM;
        r = sa_read_sys_file(ctx, path, &buf, NULL);
        if (r < 0)
                return r;
        /* general_profit can be negative: reuse the keyed parser's signed path */
        if (asprintf(&line, "v %s", buf) < 0)
                return -ENOMEM;
        sa_parse_keyed(line, &k, 1, ret, &have);
        return have ? 0 : -EBADMSG;
}

int sa_ksm_sys_read(struct smapsaudit_ctx *ctx, struct sa_ksm_sys *ret) {
        struct sa_ksm_sys s = {};

        for (size_t i = 0; i < ELEMENTSOF(ksm_sys_files); i++) {
                int r = ksm_sys_value(ctx, ksm_sys_files[i].file,
                                      (int64_t *) ((char *) &s + ksm_sys_files[i].offset));
                if (r == -ENOMEM)
                        return r;
                if (r >= 0)
                        s.have |= 1ULL << i;
        }
        if (!s.have)
                return -ENOENT;
        *ret = s;
        return 0;
}

static const struct sa_keyed vmstat_cow_ksm = { "cow_ksm", offsetof(struct sa_ksm_globals, cow_ksm), 1 };

int sa_ksm_globals_read(struct smapsaudit_ctx *ctx, struct sa_ksm_globals *ret) {
        struct sa_ksm_globals g = { .smart_scan = -1, .pages_skipped = -1, .cow_ksm = -1 };
        _cleanup_free_ char *vm = NULL;
        uint64_t have = 0;
        int r;

        r = sa_ksm_sys_read(ctx, &g.sys);
        if (r < 0)
                return r;
        /* 6.7+: smart_scan skips pages that failed to merge, counted in pages_skipped */
        if (ksm_sys_value(ctx, "smart_scan", &g.smart_scan) < 0)
                g.smart_scan = -1;
        if (ksm_sys_value(ctx, "pages_skipped", &g.pages_skipped) < 0)
                g.pages_skipped = -1;
        if (sa_read_proc_file(ctx, "vmstat", &vm, NULL) >= 0)
                sa_parse_keyed(vm, &vmstat_cow_ksm, 1, &g, &have);
        *ret = g;
        return 0;
}

bool sa_ksm_running(const struct sa_ksm_globals *g) {
        return (g->sys.have & SA_KSM_SYS_RUN) && g->sys.run == 1;
}

uint64_t sa_ksm_now_usec(void) {
        return now_usec(CLOCK_MONOTONIC);
}

int sa_ksm_wait_full_scans(struct smapsaudit_ctx *ctx, int64_t target, uint64_t deadline_usec,
                           struct sa_ksm_globals *ret) {
        const struct timespec tick = { 0, 20 * 1000 * 1000 };
        struct sa_ksm_globals g;
        uint64_t now, told = 0;
        int r;

        for (;;) {
                r = sa_ksm_globals_read(ctx, &g);
                if (r < 0)
                        return r;
                if (ret)
                        *ret = g;
                /* run=2 resets full_scans to 0 (unmerge_and_remove_all_rmap_items) */
                if (g.sys.full_scans >= target || !sa_ctx_live(ctx) || !sa_ksm_running(&g))
                        return g.sys.full_scans >= target;
                now = sa_ksm_now_usec();
                if (now >= deadline_usec)
                        return 0;
                /* a full scan takes seconds to minutes: whoever waits may want to know for what */
                if (now - told >= 1000000) {
                        sa_notice(ctx, "waiting for ksmd's full scan %" PRId64 " (it finished %" PRId64
                                  "), at most %" PRIu64 " s more", target, g.sys.full_scans,
                                  (deadline_usec - now + 999999) / 1000000);
                        told = now;
                }
                nanosleep(&tick, NULL);
        }
}
