/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sa_smaps_parse() on smaps and smaps_rollup: real captures of this
 * machine's 6.18 kernel (the workload's demo shape: THP in a rw and a
 * PROT_NONE VMA, KSM-merged pages, a memfd) and hand-made files in the
 * formats of 6.1 and of VMAs this machine cannot show (fixtures/README).
 */
#include "account.h"
#include "macro.h"
#include "tap.h"

#define KB(v, f) ((v)->kb[f])
#define HAVE(v, f) (((v)->have >> (f)) & 1)

static const struct sa_smaps_vma *find(const struct sa_smaps *s, uint64_t start) {
        for (size_t i = 0; i < s->n; i++)
                if (s->vmas[i].start == start)
                        return &s->vmas[i];
        return NULL;
}

static uint64_t flags(const char *codes) {
        static const char names[][3] = {
                "rd", "wr", "ex", "sh", "mr", "mw", "me", "ms", "gd", "pf", "lo", "io",
                "sr", "rr", "dc", "de", "ac", "nr", "ht", "sf", "nl", "ar", "wf", "dd",
                "sd", "mm", "hg", "nh", "mg", "um", "uw", "ss", "sl", "bt", "mt", "gu",
        };
        uint64_t m = 0;

        for (const char *p = codes; *p; p += p[2] ? 3 : 2) {
                size_t i;
                for (i = 0; i < ELEMENTSOF(names); i++)
                        if (p[0] == names[i][0] && p[1] == names[i][1])
                                break;
                m |= SA_VMF(i < ELEMENTSOF(names) ? i : SA_VM_OTHER);
                if (!p[2])
                        break;
        }
        return m;
}

/* Every per-VMA field of the 6.18 format, i.e. all but the rollup-only Pss_Anon/File/Shmem. */
static uint64_t per_vma_fields(bool ksm_line) {
        uint64_t m = 0;

        for (unsigned f = 0; f < _SA_SMAPS_FIELD_MAX; f++)
                if (!sa_fields[f].rollup_only && (ksm_line || f != SA_KSM))
                        m |= 1ULL << f;
        return m;
}

static void test_demo(void) {
        _cleanup_free_ char *buf = tap_fixture("6.18-demo/smaps");
        _cleanup_free_ char *rbuf = tap_fixture("6.18-demo/smaps_rollup");
        struct sa_smaps s = {}, r = {};
        const struct sa_smaps_vma *v;
        uint64_t sum[_SA_SMAPS_FIELD_MAX] = {};
        bool all_have = true;

        is_i64(sa_smaps_parse(buf, &s), 0, "6.18 demo smaps parses");
        is_u64(s.n, 35, "6.18 demo smaps: 35 VMAs");

        v = &s.vmas[0];
        is_hex(v->start, 0x560555ba4000, "first VMA start");
        is_hex(v->end, 0x560555ba6000, "first VMA end");
        is_str(v->perms, "r--p", "first VMA perms");
        is_u64(v->pgoff, 0, "first VMA pgoff");
        is_hex(v->dev_major, 0xfe, "first VMA dev major");
        is_hex(v->dev_minor, 0, "first VMA dev minor");
        is_u64(v->inode, 10972278, "first VMA inode");
        is_str(v->name, "/tmp/b-unit/tests/workload", "first VMA name");
        is_u64(v->size_kb, 8, "Size");
        is_u64(v->kernel_page_kb, 4, "KernelPageSize");
        is_u64(v->mmu_page_kb, 4, "MMUPageSize");
        is_u64(KB(v, SA_RSS), 8, "Rss");
        is_u64(KB(v, SA_PSS), 4, "Pss (shared with the other workloads)");
        is_u64(KB(v, SA_SHARED_DIRTY), 8, "Shared_Dirty");
        is_i64(v->thp_eligible, 0, "THPeligible 0");
        ok(v->have_vmflags, "VmFlags seen");
        is_hex(v->vmflags, flags("rd mr mw me"), "VmFlags rd mr mw me");
        is_hex(v->have, per_vma_fields(true), "every 6.18 per-VMA field is in the have mask");

        v = &s.vmas[1];
        is_hex(v->pgoff, 0x2000, "second VMA pgoff 0x2000");
        is_str(v->perms, "r-xp", "second VMA perms");

        v = find(&s, 0x7f8f00800000);
        if (ok(v, "THP rw VMA found")) {
                is_hex(v->end, 0x7f8f01000000, "THP rw VMA end");
                is_str(v->name, "", "anonymous VMA: empty name");
                is_u64(v->inode, 0, "anonymous VMA: inode 0");
                is_u64(KB(v, SA_RSS), 8192, "THP rw Rss");
                is_u64(KB(v, SA_ANONYMOUS), 8192, "THP rw Anonymous");
                is_u64(KB(v, SA_ANON_HUGE), 8192, "THP rw AnonHugePages");
                is_u64(KB(v, SA_PRIVATE_DIRTY), 8192, "THP rw Private_Dirty");
                is_i64(v->thp_eligible, 1, "THP rw THPeligible 1 (%%8u format)");
                is_hex(v->vmflags, flags("rd wr mr mw me ac hg"), "THP rw VmFlags with hg");
        }
        v = find(&s, 0x7f8f01000000);
        if (ok(v, "THP PROT_NONE VMA found")) {
                is_str(v->perms, "---p", "PROT_NONE perms");
                is_u64(KB(v, SA_RSS), 8192, "PROT_NONE THP counted by 6.18 (Rss)");
                is_u64(KB(v, SA_ANON_HUGE), 8192, "PROT_NONE THP counted by 6.18 (AnonHugePages)");
                is_hex(v->vmflags, flags("mr mw me ac hg"), "PROT_NONE VmFlags: no rd/wr/ex");
        }
        v = find(&s, 0x7f8f003fd000);
        if (ok(v, "KSM VMA found")) {
                is_u64(KB(v, SA_KSM), 4096, "KSM 4096 kB");
                is_u64(KB(v, SA_PSS), 16, "KSM-merged Pss 16 kB");
                is_u64(KB(v, SA_SHARED_DIRTY), 4096, "KSM pages are shared");
                ok(v->vmflags & SA_VMF(SA_VM_MG), "KSM VMA has mg");
                ok(v->vmflags & SA_VMF(SA_VM_NH), "KSM VMA has nh");
        }
        v = find(&s, 0x7f8effffa000);
        if (ok(v, "memfd VMA found")) {
                is_str(v->name, "/memfd:smapsaudit-workload (deleted)", "memfd name keeps \" (deleted)\"");
                is_str(v->perms, "rw-s", "memfd perms");
                is_u64(v->dev_minor, 1, "memfd dev 00:01");
                is_u64(v->inode, 7, "memfd inode");
                is_u64(KB(v, SA_RSS), 4096, "memfd Rss");
                is_u64(KB(v, SA_ANONYMOUS), 0, "memfd Anonymous 0");
                ok(v->vmflags & SA_VMF(SA_VM_SH), "memfd VmFlags sh");
        }
        v = find(&s, 0x7f8f01bc3000);
        if (ok(v, "[vvar] found")) {
                is_str(v->name, "[vvar]", "[vvar] name");
                ok((v->vmflags & (SA_VMF(SA_VM_PF) | SA_VMF(SA_VM_IO))) == (SA_VMF(SA_VM_PF) | SA_VMF(SA_VM_IO)),
                   "[vvar] is pf io");
        }
        v = &s.vmas[s.n - 1];
        is_hex(v->start, 0xffffffffff600000, "last VMA is [vsyscall] (64-bit address)");
        is_str(v->name, "[vsyscall]", "[vsyscall] name");
        is_hex(v->vmflags, flags("ex"), "[vsyscall] VmFlags ex");

        for (size_t i = 0; i < s.n; i++) {
                for (unsigned f = 0; f < _SA_SMAPS_FIELD_MAX; f++)
                        sum[f] += s.vmas[i].kb[f];
                all_have &= s.vmas[i].have == per_vma_fields(true) && s.vmas[i].have_vmflags;
        }
        ok(all_have, "every VMA has every field and VmFlags");

        /* smaps and smaps_rollup were read in the same instant: the sums match the rollup */
        is_i64(sa_smaps_parse(rbuf, &r), 0, "6.18 demo smaps_rollup parses");
        if (is_u64(r.n, 1, "rollup: one pseudo-VMA")) {
                v = &r.vmas[0];
                is_str(v->name, "[rollup]", "rollup name");
                is_hex(v->start, 0x560555ba4000, "rollup start = first VMA");
                is_hex(v->end, 0x7ffdb6784000, "rollup end = last VMA before [vsyscall]");
                is_str(v->perms, "---p", "rollup perms ---p");
                is_hex(v->have, per_vma_fields(true) | (1ULL << SA_PSS_ANON) | (1ULL << SA_PSS_FILE) |
                                        (1ULL << SA_PSS_SHMEM),
                       "rollup has Pss_Anon/File/Shmem too");
                ok(!v->have_vmflags, "rollup has no VmFlags");
                is_i64(v->thp_eligible, -1, "rollup has no THPeligible");
                is_u64(KB(v, SA_PSS_ANON), 16516, "rollup Pss_Anon");
                is_u64(KB(v, SA_PSS_FILE), 95, "rollup Pss_File");
                is_u64(KB(v, SA_PSS_SHMEM), 4096, "rollup Pss_Shmem");
                is_u64(KB(v, SA_RSS), sum[SA_RSS], "rollup Rss = sum of smaps Rss (26252)");
                is_u64(KB(v, SA_RSS), 26252, "rollup Rss 26252");
                is_u64(KB(v, SA_ANONYMOUS), sum[SA_ANONYMOUS], "rollup Anonymous = sum");
                is_u64(KB(v, SA_KSM), sum[SA_KSM], "rollup KSM = sum");
                is_u64(KB(v, SA_ANON_HUGE), sum[SA_ANON_HUGE], "rollup AnonHugePages = sum");
                is_u64(KB(v, SA_SHARED_DIRTY), sum[SA_SHARED_DIRTY], "rollup Shared_Dirty = sum");
                /* per-VMA Pss lines are truncated before they are summed; the rollup truncates once */
                ok(KB(v, SA_PSS) >= sum[SA_PSS] && KB(v, SA_PSS) - sum[SA_PSS] <= s.n,
                   "rollup Pss %" PRIu64 " within [sum, sum + VMAs] of %" PRIu64, KB(v, SA_PSS), sum[SA_PSS]);
        }
        sa_smaps_done(&r);
        sa_smaps_done(&s);
        is_u64(s.n, 0, "sa_smaps_done resets n");
        ok(!s.vmas, "sa_smaps_done frees vmas");
}

static void test_self(void) {
        _cleanup_free_ char *buf = tap_fixture("6.18-self/smaps");
        _cleanup_free_ char *rbuf = tap_fixture("6.18-self/smaps_rollup");
        struct sa_smaps s = {}, r = {};
        const struct sa_smaps_vma *v;

        is_i64(sa_smaps_parse(buf, &s), 0, "cat /proc/self/smaps parses");
        is_u64(s.n, 38, "self smaps: 38 VMAs");
        is_str(s.vmas[0].name, "/usr/bin/cat", "self smaps first VMA is cat");
        v = find(&s, 0x7f643f773000);
        if (ok(v, "LC_MESSAGES VMA found")) {
                is_str(v->name, "/usr/lib/locale/C.utf8/LC_MESSAGES/SYS_LC_MESSAGES", "LC_MESSAGES name");
                is_u64(v->inode, 320479, "LC_MESSAGES inode");
        }
        is_i64(sa_smaps_parse(rbuf, &r), 0, "cat /proc/self/smaps_rollup parses");
        is_u64(r.n, 1, "self rollup: one pseudo-VMA");
        is_u64(r.vmas[0].kb[SA_RSS], 1752, "self rollup Rss 1752");
        is_u64(r.vmas[0].kb[SA_PSS], 278, "self rollup Pss 278");
        sa_smaps_done(&r);
        sa_smaps_done(&s);
}

static void test_61(void) {
        _cleanup_free_ char *buf = tap_fixture("hand/smaps-6.1");
        _cleanup_free_ char *rbuf = tap_fixture("hand/smaps_rollup-6.1");
        struct sa_smaps s = {}, r = {};
        const struct sa_smaps_vma *v;

        is_i64(sa_smaps_parse(buf, &s), 0, "6.1 smaps parses");
        is_u64(s.n, 4, "6.1 smaps: 4 VMAs");
        v = &s.vmas[0];
        is_hex(v->have, per_vma_fields(false), "6.1: no KSM line, so KSM is not in the have mask");
        is_u64(KB(v, SA_KSM), 0, "6.1: KSM stays 0");
        is_u64(v->dev_major, 8, "6.1 dev 08:01");
        is_u64(v->inode, 1311005, "6.1 inode");
        is_i64(v->thp_eligible, 0, "6.1 \"THPeligible:    0\"");
        is_hex(v->vmflags, flags("rd mr mw me sd"), "6.1 VmFlags");
        v = &s.vmas[1];
        is_i64(v->thp_eligible, 1, "6.1 \"THPeligible:    1\"");
        is_u64(KB(v, SA_ANON_HUGE), 16384, "6.1 rw THP AnonHugePages");
        v = &s.vmas[2];
        is_str(v->perms, "---p", "6.1 PROT_NONE VMA");
        is_u64(KB(v, SA_RSS), 0, "6.1 PROT_NONE THP missing from Rss (the bug's shape)");
        is_u64(KB(v, SA_ANON_HUGE), 0, "6.1 PROT_NONE THP missing from AnonHugePages");
        v = &s.vmas[3];
        is_str(v->name, "[stack]", "6.1 [stack]");
        is_u64(KB(v, SA_SWAP), 4, "6.1 Swap");
        is_u64(KB(v, SA_SWAP_PSS), 4, "6.1 SwapPss");
        ok(v->vmflags & SA_VMF(SA_VM_GD), "6.1 stack gd");

        is_i64(sa_smaps_parse(rbuf, &r), 0, "6.1 smaps_rollup parses");
        if (is_u64(r.n, 1, "6.1 rollup: one pseudo-VMA")) {
                v = &r.vmas[0];
                is_str(v->name, "[rollup]", "6.1 rollup name");
                ok(!HAVE(v, SA_KSM), "6.1 rollup: no KSM");
                ok(HAVE(v, SA_PSS_ANON) && HAVE(v, SA_PSS_FILE) && HAVE(v, SA_PSS_SHMEM), "6.1 rollup: Pss_Anon/File/Shmem");
                is_u64(KB(v, SA_RSS), 16404, "6.1 rollup Rss");
                is_u64(KB(v, SA_PSS_ANON), 16396, "6.1 rollup Pss_Anon");
        }
        sa_smaps_done(&r);
        sa_smaps_done(&s);
}

static void test_hugetlb(void) {
        _cleanup_free_ char *buf = tap_fixture("hand/smaps-hugetlb");
        struct sa_smaps s = {};
        const struct sa_smaps_vma *v;
        struct sa_vma_class c;

        is_i64(sa_smaps_parse(buf, &s), 0, "hugetlb smaps parses");
        is_u64(s.n, 2, "hugetlb: 2 VMAs");
        v = &s.vmas[0];
        is_str(v->name, "/anon_hugepage (deleted)", "MAP_HUGETLB name");
        is_u64(v->kernel_page_kb, 2048, "KernelPageSize 2048");
        is_u64(v->mmu_page_kb, 2048, "MMUPageSize 2048");
        is_u64(KB(v, SA_RSS), 0, "hugetlb Rss 0");
        is_u64(KB(v, SA_PRIVATE_HUGETLB), 4096, "Private_Hugetlb 4096");
        is_u64(KB(v, SA_SHARED_HUGETLB), 0, "Shared_Hugetlb 0");
        ok(v->vmflags & SA_VMF(SA_VM_HT), "VmFlags ht");
        sa_vma_classify(v, &c);
        ok(c.hugetlb, "classified hugetlb");
        is_u64(c.hugetlb_page_size, 2048 * 1024, "classified with 2 MiB pages");
        ok(!c.shmem, "anon hugetlb is not shmem");
        v = &s.vmas[1];
        is_str(v->name, "/dev/hugepages/pool", "hugetlbfs file name");
        is_u64(KB(v, SA_SHARED_HUGETLB), 2048, "Shared_Hugetlb 2048");
        is_u64(KB(v, SA_PRIVATE_HUGETLB), 2048, "Private_Hugetlb 2048");
        sa_smaps_done(&s);
}

static void test_names(void) {
        _cleanup_free_ char *buf = tap_fixture("hand/smaps-names");
        struct sa_smaps s = {};
        const struct sa_smaps_vma *v;
        struct sa_vma_class c;
        char long_name[700];

        is_i64(sa_smaps_parse(buf, &s), 0, "names smaps parses");
        is_u64(s.n, 7, "names: 7 VMAs");
        v = find(&s, 0x400000);
        if (ok(v, "8-digit address VMA found")) {
                is_hex(v->end, 0x401000, "8-digit end");
                is_str(v->name, "/opt/my app/bin/my server (deleted)", "name with spaces and \" (deleted)\"");
        }
        v = find(&s, 0x600000);
        if (ok(v, "memfd VMA found")) {
                is_str(v->name, "/memfd:pool 0 (deleted)", "memfd name with a space");
                sa_vma_classify(v, &c);
                ok(c.shmem, "memfd classified shmem");
        }
        v = find(&s, 0x7f0000000000);
        if (ok(v, "anon-named VMA found"))
                is_str(v->name, "[anon:glibc malloc arena]", "[anon:...] name with spaces");
        v = find(&s, 0x7f0000001000);
        if (ok(v, "nameless VMA found"))
                is_str(v->name, "", "nameless VMA: empty name");

        snprintf(long_name, sizeof(long_name), "/srv/%0600d/lib.so", 0);
        memset(long_name + 5, 'd', 600);
        v = find(&s, 0x7f0000002000);
        if (ok(v, "VMA with a 611-byte path found")) {
                is_u64(v->inode, 77, "long path inode");
                /* lib/sources/source-smaps.c parse_header() clamps len to its 512-byte scratch copy
                 * before it takes the name from the real line: a path past column ~511 is cut */
                is_str(v->name, long_name, "a path longer than 512 bytes is kept whole");
                is_u64(KB(v, SA_RSS), 0, "fields after the long header still parsed");
                ok(v->have_vmflags, "VmFlags after the long header");
        }
        v = find(&s, 0x7fff00000000);
        if (ok(v, "[vdso] found"))
                is_str(v->name, "[vdso]", "[vdso] name");
        v = find(&s, 0xffffffffff600000);
        if (ok(v, "[vsyscall] found"))
                is_str(v->perms, "--xp", "[vsyscall] perms");
        sa_smaps_done(&s);
}

static void test_vmflags(void) {
        _cleanup_free_ char *buf = tap_fixture("hand/smaps-vmflags");
        struct sa_smaps s = {};
        uint64_t want = flags("rd wr mr mw me ac sd sl mt gu") | SA_VMF(SA_VM_OTHER);

        is_i64(sa_smaps_parse(buf, &s), 0, "unknown VmFlags parse");
        if (is_u64(s.n, 1, "one VMA")) {
                is_hex(s.vmas[0].vmflags, want, "known codes mapped, unknown ones only set OTHER");
                is_i64(s.vmas[0].thp_eligible, 0, "THPeligible");
        }
        sa_smaps_done(&s);
}

static void test_edges(void) {
        struct sa_smaps s = {};

        is_i64(sa_smaps_parse("", &s), 0, "empty file (kernel thread smaps) parses");
        is_u64(s.n, 0, "empty: no VMAs");
        sa_smaps_done(&s);

        /* smaps_rollup of a process without an mm is empty, too */
        is_i64(sa_smaps_parse("\n\n", &s), 0, "blank lines parse");
        is_u64(s.n, 0, "blank: no VMAs");
        sa_smaps_done(&s);

        /* fields before any header, a header with end < start, a header cut short */
        is_i64(sa_smaps_parse("Rss: 4 kB\n"
                              "2000-1000 rw-p 00000000 00:00 0 \nRss: 8 kB\n"
                              "3000-4000 rw-p\nRss: 12 kB\n"
                              "5000-6000 rw-p 00000000 00:00 0\nRss:              16 kB\nPss: 99999999999999999999999 kB\n"
                              "Swap: 5",
                              &s),
               0, "malformed headers parse");
        if (is_u64(s.n, 1, "only the well-formed header (no trailing space) makes a VMA")) {
                is_hex(s.vmas[0].start, 0x5000, "its start");
                is_u64(s.vmas[0].kb[SA_RSS], 16, "its Rss, not a field of a skipped header");
                ok(!HAVE(&s.vmas[0], SA_PSS), "an overflowing value is not taken");
                is_u64(s.vmas[0].kb[SA_SWAP], 5, "last line without a newline");
                is_str(s.vmas[0].name, "", "no name");
        }
        sa_smaps_done(&s);

        /* a VMA whose name looks like a header must stay a name */
        is_i64(sa_smaps_parse("1000-2000 r--p 00000000 08:01 12                         /tmp/a-b c\nRss: 4 kB\n", &s),
               0, "name with '-' parses");
        if (is_u64(s.n, 1, "one VMA"))
                is_str(s.vmas[0].name, "/tmp/a-b c", "name with '-' and space");
        sa_smaps_done(&s);
}

static void test_equal(void) {
        _cleanup_free_ char *buf = tap_fixture("6.18-demo/smaps");
        struct sa_smaps a = {}, b = {};

        sa_smaps_parse(buf, &a);
        sa_smaps_parse(buf, &b);
        ok(a.n > 11 && sa_smaps_vma_equal(&a.vmas[11], &b.vmas[11]), "same VMA read twice is equal");
        b.vmas[11].kb[SA_KSM]--;
        ok(!sa_smaps_vma_equal(&a.vmas[11], &b.vmas[11]), "a changed KSM value is not equal");
        b.vmas[11].kb[SA_KSM]++;
        b.vmas[11].vmflags &= ~SA_VMF(SA_VM_MG);
        ok(!sa_smaps_vma_equal(&a.vmas[11], &b.vmas[11]), "changed VmFlags are not equal");
        sa_smaps_done(&a);
        sa_smaps_done(&b);
}

int main(void) {
        test_demo();
        test_self();
        test_61();
        test_hugetlb();
        test_names();
        test_vmflags();
        test_edges();
        test_equal();
        return tap_done();
}
