/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * KSM's books: sa_ksm_stat_parse() on /proc/PID/ksm_stat of 6.1, 6.6 and
 * this machine's 6.18 (a process whose 1024 pages ksmd merged), and
 * sa_ksm_sys_read() below a sys root of captured /sys/kernel/mm/ksm files.
 */
#include "macro.h"
#include "smapsaudit.h"
#include "sources.h"
#include "tap.h"

#define STAT_ALL (SA_KSM_STAT_RMAP_ITEMS | SA_KSM_STAT_ZERO_PAGES | SA_KSM_STAT_MERGING | SA_KSM_STAT_PROFIT | \
                  SA_KSM_STAT_MERGE_ANY | SA_KSM_STAT_MERGEABLE)

static void test_stat(void) {
        _cleanup_free_ char *demo = tap_fixture("6.18-demo/ksm_stat");
        _cleanup_free_ char *self = tap_fixture("6.18-self/ksm_stat");
        _cleanup_free_ char *v61 = tap_fixture("hand/ksm_stat-6.1");
        _cleanup_free_ char *v66 = tap_fixture("hand/ksm_stat-6.6");
        struct sa_ksm_stat s;

        memset(&s, 0xaa, sizeof(s));
        is_i64(sa_ksm_stat_parse(demo, &s), 0, "6.18 ksm_stat parses");
        is_hex(s.have, STAT_ALL, "6.18: every line");
        is_i64(s.rmap_items, 1024, "ksm_rmap_items");
        is_i64(s.zero_pages, 0, "ksm_zero_pages");
        is_i64(s.merging_pages, 1024, "ksm_merging_pages");
        is_i64(s.process_profit, 4128768, "ksm_process_profit");
        is_i64(s.merge_any, 0, "ksm_merge_any: no");
        is_i64(s.mergeable, 1, "ksm_mergeable: yes");

        is_i64(sa_ksm_stat_parse(self, &s), 0, "6.18 self ksm_stat parses");
        is_hex(s.have, STAT_ALL, "self: every line");
        is_i64(s.mergeable, 0, "self ksm_mergeable: no");

        is_i64(sa_ksm_stat_parse(v61, &s), 0, "6.1 ksm_stat parses");
        is_hex(s.have, SA_KSM_STAT_RMAP_ITEMS, "6.1: only ksm_rmap_items");
        is_i64(s.rmap_items, 12, "6.1 ksm_rmap_items");
        is_i64(s.merging_pages, 0, "6.1: merging pages absent stays 0");

        is_i64(sa_ksm_stat_parse(v66, &s), 0, "6.6 ksm_stat parses");
        is_hex(s.have, SA_KSM_STAT_RMAP_ITEMS | SA_KSM_STAT_ZERO_PAGES | SA_KSM_STAT_MERGING | SA_KSM_STAT_PROFIT,
               "6.6: four lines, no merge_any/mergeable");
        is_i64(s.merging_pages, 3, "6.6 ksm_merging_pages");
        is_i64(s.process_profit, -20480, "6.6 negative ksm_process_profit");

        is_i64(sa_ksm_stat_parse("", &s), 0, "empty ksm_stat parses");
        is_hex(s.have, 0, "empty: nothing");
        is_i64(sa_ksm_stat_parse("ksm_merge_any: maybe\nksm_mergeable:yes\nksm_rmap_items\n", &s), 0,
               "odd values parse");
        ok(!(s.have & SA_KSM_STAT_MERGE_ANY), "\"maybe\" is not a value");
        is_i64(s.mergeable, 1, "\"ksm_mergeable:yes\" without a space");
        ok(!(s.have & SA_KSM_STAT_RMAP_ITEMS), "key without a value");
}

#define SYS_618 ((1ULL << 16) - 1)

static void test_sys(void) {
        struct smapsaudit_ctx *ctx = NULL;
        struct sa_ksm_sys k;

        is_i64(smapsaudit_ctx_new(&ctx), 0, "ctx");
        is_i64(smapsaudit_ctx_set_sys_root(ctx, tap_fixture_path("sys-6.18")), 0, "sys root: 6.18 capture");
        memset(&k, 0xaa, sizeof(k));
        is_i64(sa_ksm_sys_read(ctx, &k), 0, "6.18 /sys/kernel/mm/ksm reads");
        is_hex(k.have, SYS_618, "6.18: all 16 files");
        is_i64(k.run, 1, "run");
        is_i64(k.pages_to_scan, 1000, "pages_to_scan");
        is_i64(k.sleep_millisecs, 10, "sleep_millisecs");
        is_i64(k.max_page_sharing, 256, "max_page_sharing");
        is_i64(k.use_zero_pages, 0, "use_zero_pages");
        is_i64(k.merge_across_nodes, 1, "merge_across_nodes");
        is_i64(k.pages_shared, 12, "pages_shared");
        is_i64(k.pages_sharing, 3060, "pages_sharing");
        is_i64(k.pages_unshared, 0, "pages_unshared");
        is_i64(k.pages_volatile, 0, "pages_volatile");
        is_i64(k.pages_scanned, 1644817, "pages_scanned");
        is_i64(k.full_scans, 5, "full_scans");
        is_i64(k.stable_node_chains, 1, "stable_node_chains");
        is_i64(k.stable_node_dups, 12, "stable_node_dups");
        is_i64(k.ksm_zero_pages, 0, "ksm_zero_pages");
        is_i64(k.general_profit, 12337152, "general_profit");

        is_i64(smapsaudit_ctx_set_sys_root(ctx, tap_fixture_path("hand/sys-6.1")), 0, "sys root: 6.1 layout");
        is_i64(sa_ksm_sys_read(ctx, &k), 0, "6.1 /sys/kernel/mm/ksm reads");
        is_hex(k.have, SYS_618 & ~((1ULL << 10) | (1ULL << 14) | (1ULL << 15)),
               "6.1: no pages_scanned, ksm_zero_pages, general_profit");
        is_i64(k.pages_sharing, 1017, "6.1 pages_sharing");
        is_i64(k.full_scans, 41, "6.1 full_scans");

        is_i64(smapsaudit_ctx_set_sys_root(ctx, tap_fixture_path("hand")), 0, "sys root without kernel/mm/ksm");
        is_i64(sa_ksm_sys_read(ctx, &k), -ENOENT, "no KSM (CONFIG_KSM=n): -ENOENT");
        smapsaudit_ctx_unref(ctx);
}

int main(void) {
        test_stat();
        test_sys();
        return tap_done();
}
