/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sa_vmstat_parse() and sa_vmstat_read(): the NUMA-balancing counters of /proc/vmstat. */
#include "macro.h"
#include "smapsaudit.h"
#include "sources.h"
#include "tap.h"

#define ALL ((1u << 5) - 1)

static void test_parse(void) {
        _cleanup_free_ char *demo = tap_fixture("6.18-demo/vmstat");
        _cleanup_free_ char *numa = tap_fixture("6.18-numa/vmstat");
        _cleanup_free_ char *nonuma = tap_fixture("hand/vmstat-nonuma");
        struct sa_vmstat_numa v;

        is_i64(sa_vmstat_parse(demo, &v), 0, "6.18 vmstat parses");
        is_hex(v.have, ALL, "all five counters");
        is_i64(v.numa_pte_updates, 265204, "numa_pte_updates");
        is_i64(v.numa_huge_pte_updates, 752, "numa_huge_pte_updates");
        is_i64(v.numa_hint_faults, 2687, "numa_hint_faults");
        is_i64(v.numa_hint_faults_local, 2687, "numa_hint_faults_local (not confused with numa_hint_faults)");
        is_i64(v.numa_pages_migrated, 0, "numa_pages_migrated");
        is_i64(v.numa_balancing, -1, "parse leaves numa_balancing unknown");

        is_i64(sa_vmstat_parse(numa, &v), 0, "6.18 vmstat during NUMA hinting parses");
        is_i64(v.numa_pte_updates, 298286, "numa_pte_updates");
        is_i64(v.numa_huge_pte_updates, 844, "numa_huge_pte_updates");
        is_i64(v.numa_hint_faults, 3050, "numa_hint_faults");

        is_i64(sa_vmstat_parse(nonuma, &v), 0, "vmstat without NUMA balancing parses");
        is_hex(v.have, 0, "no counters");

        is_i64(sa_vmstat_parse("numa_pte_updates_extra 5\nnuma_pte 6\nnuma_pte_updates\t7", &v), 0, "prefix keys parse");
        is_hex(v.have, 1, "only the exact key counts");
        is_i64(v.numa_pte_updates, 7, "tab separator, no newline");
}

static void test_read(void) {
        struct smapsaudit_ctx *ctx = NULL;
        struct sa_vmstat_numa v;

        is_i64(smapsaudit_ctx_new(&ctx), 0, "ctx");
        is_i64(smapsaudit_ctx_set_proc_root(ctx, tap_fixture_path("6.18-numa")), 0, "proc root: 6.18-numa");
        is_i64(sa_vmstat_read(ctx, &v), 0, "sa_vmstat_read");
        is_i64(v.numa_balancing, 1, "numa_balancing from sys/kernel/numa_balancing");
        is_i64(v.numa_huge_pte_updates, 844, "numa_huge_pte_updates");
        is_i64(smapsaudit_ctx_set_proc_root(ctx, tap_fixture_path("6.18-demo")), 0, "proc root: 6.18-demo");
        is_i64(sa_vmstat_read(ctx, &v), 0, "sa_vmstat_read without the sysctl");
        is_i64(v.numa_balancing, -1, "numa_balancing unknown");
        is_i64(smapsaudit_ctx_set_proc_root(ctx, tap_fixture_path("hand")), 0, "proc root: no vmstat");
        is_i64(sa_vmstat_read(ctx, &v), -ENOENT, "missing vmstat: -ENOENT");
        smapsaudit_ctx_unref(ctx);
}

int main(void) {
        test_parse();
        test_read();
        return tap_done();
}
