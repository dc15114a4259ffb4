/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sa_numa_maps_parse() on a capture of this machine (one node) and a hand-made two-node file. */
#include <time.h>

#include "macro.h"
#include "sources.h"
#include "tap.h"

static uint64_t node_pages(const struct sa_numa_vma *v, int node) {
        for (size_t i = 0; i < v->n_nodes; i++)
                if (v->nodes[i].node == node)
                        return v->nodes[i].pages;
        return UINT64_MAX;
}

static void test_demo(void) {
        _cleanup_free_ char *buf = tap_fixture("6.18-demo/numa_maps");
        struct sa_numa_maps m = {};
        const struct sa_numa_vma *v;
        bool sorted = true;

        is_i64(sa_numa_maps_parse(buf, &m), 0, "6.18 demo numa_maps parses");
        is_u64(m.n, 34, "34 VMAs (smaps has 35: numa_maps has no [vsyscall])");
        for (size_t i = 1; i < m.n; i++)
                sorted &= m.vmas[i - 1].start < m.vmas[i].start;
        ok(sorted, "in address order");

        v = sa_numa_maps_find(&m, 0x7f8f00800000);
        if (ok(v, "THP rw VMA found")) {
                is_u64(v->anon, 2048, "anon=2048");
                is_u64(v->dirty, 2048, "dirty=2048");
                is_u64(v->n_nodes, 1, "one node");
                is_u64(node_pages(v, 0), 2048, "N0=2048 (4 KiB units, even for THP)");
                is_u64(v->kernel_page_kb, 4, "kernelpagesize_kB=4");
                ok(!v->huge, "not hugetlb");
        }
        v = sa_numa_maps_find(&m, 0x7f8f01000000);
        if (ok(v, "THP PROT_NONE VMA found"))
                is_u64(node_pages(v, 0), 2048, "PROT_NONE N0=2048");
        v = sa_numa_maps_find(&m, 0x7f8f003fd000);
        if (ok(v, "KSM VMA found")) {
                is_u64(v->anon, 1024, "KSM anon=1024");
                is_u64(v->mapmax, 256, "KSM mapmax=256 (max_page_sharing)");
                is_u64(node_pages(v, 0), 1024, "KSM N0=1024");
        }
        v = sa_numa_maps_find(&m, 0x7f8effffa000);
        if (ok(v, "memfd VMA found (file=...\\040(deleted))")) {
                is_u64(v->dirty, 1024, "memfd dirty=1024");
                is_u64(node_pages(v, 0), 1024, "memfd N0=1024");
        }
        v = sa_numa_maps_find(&m, 0x7f8f01bc3000);
        if (ok(v, "[vvar] VMA found")) {
                is_u64(v->n_nodes, 0, "VMA without pages: no nodes");
                is_u64(v->kernel_page_kb, 0, "VMA without pages: no kernelpagesize_kB");
        }
        ok(!sa_numa_maps_find(&m, 0x7f8f00800001), "no VMA at an unknown start");
        ok(!sa_numa_maps_find(&m, 0xffffffffff600000), "no [vsyscall]");
        sa_numa_maps_done(&m);
        is_u64(m.n, 0, "done resets n");
}

static void test_2node(void) {
        _cleanup_free_ char *buf = tap_fixture("hand/numa_maps-2node");
        struct sa_numa_maps m = {};
        const struct sa_numa_vma *v;

        is_i64(sa_numa_maps_parse(buf, &m), 0, "two-node numa_maps parses");
        is_u64(m.n, 9, "9 VMAs");

        v = sa_numa_maps_find(&m, 0x400000);
        if (ok(v, "bind:0-1 file VMA found (8-digit address)")) {
                is_u64(v->mapped, 12, "mapped=12");
                is_u64(v->n_nodes, 2, "two nodes");
                is_u64(node_pages(v, 0), 8, "N0=8");
                is_u64(node_pages(v, 1), 4, "N1=4");
                ok(!v->huge, "not huge");
        }
        v = sa_numa_maps_find(&m, 0x7f0000000000);
        if (ok(v, "interleave VMA found")) {
                is_u64(node_pages(v, 0), 512, "interleave N0=512");
                is_u64(node_pages(v, 1), 512, "interleave N1=512");
        }
        v = sa_numa_maps_find(&m, 0x7f0000400000);
        if (ok(v, "hugetlb VMA found")) {
                ok(v->huge, "huge");
                is_u64(v->kernel_page_kb, 2048, "kernelpagesize_kB=2048");
                is_u64(v->n_nodes, 1, "one node");
                is_u64(node_pages(v, 1), 2, "N1=2 (in huge pages)");
                is_u64(v->anon, 2, "anon=2");
        }
        v = sa_numa_maps_find(&m, 0x7f0000800000);
        if (ok(v, "escaped file name VMA found")) {
                is_u64(v->n_nodes, 1, "\"N1\\07599\" inside file= is not a node");
                is_u64(node_pages(v, 0), 3, "N0=3");
                is_u64(v->mapmax, 4, "mapmax=4");
        }
        v = sa_numa_maps_find(&m, 0x7f0000c00000);
        if (ok(v, "bind=static:0-1 VMA found")) {
                is_u64(v->anon, 5, "anon=5 after a policy with '='");
                is_u64(node_pages(v, 0), 2, "N0=2");
                is_u64(node_pages(v, 1), 3, "N1=3");
        }
        v = sa_numa_maps_find(&m, 0x7f0001000000);
        if (ok(v, "\"default\" only VMA found"))
                is_u64(v->n_nodes, 0, "no nodes");
        v = sa_numa_maps_find(&m, 0x7f0001400000);
        if (ok(v, "weighted interleave VMA found (policy with a space)")) {
                is_u64(node_pages(v, 0), 3, "N0=3");
                is_u64(node_pages(v, 1), 3, "N1=3");
        }
        v = sa_numa_maps_find(&m, 0x7f0001800000);
        if (ok(v, "prefer (many) VMA found")) {
                is_u64(v->n_nodes, 1, "one node");
                is_u64(node_pages(v, 1), 4, "N1=4");
                is_u64(v->dirty, 4, "dirty=4");
        }
        v = sa_numa_maps_find(&m, 0x7ffc1a2b3000);
        if (ok(v, "stack VMA found"))
                is_u64(node_pages(v, 0), 33, "stack N0=33");
        sa_numa_maps_done(&m);
}

static void test_equal(void) {
        struct sa_numa_maps a = {}, b = {};

        sa_numa_maps_parse("1000 default anon=1 N0=1 N1=2 kernelpagesize_kB=4\n", &a);
        sa_numa_maps_parse("1000 default anon=1 N0=1 N1=2 kernelpagesize_kB=4\n", &b);
        ok(sa_numa_vma_equal(&a.vmas[0], &b.vmas[0]), "same line is equal");
        b.vmas[0].nodes[1].pages = 3;
        ok(!sa_numa_vma_equal(&a.vmas[0], &b.vmas[0]), "different node count is not equal");
        ok(sa_numa_vma_equal(NULL, NULL), "NULL == NULL");
        ok(!sa_numa_vma_equal(&a.vmas[0], NULL), "VMA != NULL");
        sa_numa_maps_done(&a);
        sa_numa_maps_done(&b);
}

static void test_edges(void) {
        struct sa_numa_maps m = {};
        const struct sa_numa_vma *v;

        /* A line that is not a VMA's hides the VMAs it stands for: the whole file is refused. */
        static const char *const broken[] = {
                "",                                             /* every mm has a stack */
                "1000 default N0=1\n2000 default N0=2",          /* the last line cut off */
                " 1000 default\n",                              /* a space before the address */
                "1000 default\nxyz\n",                          /* a line of something else */
                "1000 default\n\n2000 default\n",               /* an empty line */
                "1000\n",                                       /* no policy */
                "1000\tdefault\n",                              /* not the kernel's separator */
                "10000000000000000 default\n",                  /* 17 digits: more than an address */
                "\x89PNG\r\n\x1a\n",                            /* random bytes */
        };
        for (size_t i = 0; i < ELEMENTSOF(broken); i++) {
                m = (struct sa_numa_maps) {};
                is_i64(sa_numa_maps_parse(broken[i], &m), -EBADMSG, "broken numa_maps #%zu: -EBADMSG", i);
                ok(!m.vmas && m.n == 0, "broken numa_maps #%zu: nothing returned", i);
        }

        is_i64(sa_numa_maps_parse("2000 default N=1 N0= N0=x Nx=3 N01=4 N1048577=5 N3=6 "
                                  "anon=99999999999999999999999 dirty=1x =3 N2=7\nffffffffffffffff default\n",
                                  &m),
               0, "malformed tokens parse");
        is_u64(m.n, 2, "both lines");
        ok(sa_numa_maps_find(&m, 0xffffffffffffffff), "16 digits are an address");
        v = sa_numa_maps_find(&m, 0x2000);
        if (ok(v, "its VMA")) {
                is_u64(v->n_nodes, 3, "N01=4, N3=6 and N2=7 are nodes; N=, N0=, N0=x, Nx=, N1048577= are not");
                is_u64(node_pages(v, 1), 4, "N01 is node 1");
                is_u64(node_pages(v, 3), 6, "N3=6");
                is_u64(node_pages(v, 2), 7, "N2=7 at the end of its line");
                is_u64(v->anon, 0, "overflowing anon ignored");
                is_u64(v->dirty, 0, "dirty=1x ignored");
        }
        sa_numa_maps_done(&m);

        /* unsorted input still finds every VMA */
        sa_numa_maps_parse("3000 default N0=3\n1000 default N0=1\n2000 default N0=2\n", &m);
        v = sa_numa_maps_find(&m, 0x1000);
        ok(v && node_pages(v, 0) == 1, "unsorted: 0x1000 found");
        v = sa_numa_maps_find(&m, 0x3000);
        ok(v && node_pages(v, 0) == 3, "unsorted: 0x3000 found");
        sa_numa_maps_done(&m);
}

/*
 * A process may have vm.max_map_count (65530) VMAs: numa_maps is then ~4 MB,
 * and the parse must stay linear in it. A per-line sscanf() on the rest of
 * the buffer strlen()s all of it each time (glibc), which is quadratic:
 * ~10 s of CPU here instead of ~0.05 s.
 */
static void test_many_vmas(void) {
        const size_t n = 65530, cap = n * 64 + 1;
        char *buf = malloc(cap);
        struct sa_numa_maps m = {};
        struct timespec a, b;
        size_t len = 0;
        double cpu;

        if (!ok(buf, "buffer"))
                return;
        for (size_t i = 0; i < n; i++)
                len += (size_t) snprintf(buf + len, cap - len, "%012zx default anon=1 dirty=1 N0=1 kernelpagesize_kB=4\n",
                                         (size_t) 0x7f0000000000 + i * 8192);
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
        is_i64(sa_numa_maps_parse(buf, &m), 0, "numa_maps of 65530 VMAs parses");
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
        cpu = (double) (b.tv_sec - a.tv_sec) + (double) (b.tv_nsec - a.tv_nsec) / 1e9;
        is_u64(m.n, n, "65530 VMAs");
        ok(cpu < 2.0, "65530 VMAs parse in linear time: %.3f s of CPU (limit 2 s)", cpu);
        sa_numa_maps_done(&m);
        free(buf);
}

int main(void) {
        test_demo();
        test_2node();
        test_equal();
        test_edges();
        test_many_vmas();
        return tap_done();
}
