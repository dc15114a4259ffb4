/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * naive: reference walks of a process's pages, to compare smapsaudit with.
 *
 *   naive [-m naive|batched|scan] PID
 *
 * naive    the older tools' approach (Android libmeminfo, tools/mm/page-types):
 *          pagemap read per VMA in 64 K-entry chunks, then for every present
 *          page one pread of kpageflags and one of kpagecount.
 * batched  the least a full-tier walk has to ask of the kernel: PAGEMAP_SCAN
 *          for the populated ranges, pagemap read only there, kpageflags and
 *          kpagecount read once per contiguous PFN run (up to 64 K entries).
 *          Its time is the kernel's floor for a PFN-joined walk.
 * scan     PAGEMAP_SCAN alone (the fast tier's kernel floor).
 *
 * Prints one line of key=value pairs: time per phase, syscalls, and the
 * Rss/Pss it computed (a sanity check against smaps_rollup).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "bench-util.h"

#ifndef PAGEMAP_SCAN
struct page_region {
        uint64_t start, end, categories;
};
struct pm_scan_arg {
        uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages, category_inverted, category_mask,
                category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PAGE_IS_HUGE (1 << 6)
#endif

#define PAGE 4096ULL
#define PM_PRESENT (1ULL << 63)
#define PM_SWAP (1ULL << 62)
#define PM_PFN_MASK ((1ULL << 55) - 1)
#define CHUNK 65536u   /* pagemap entries per read, as page-types' PAGEMAP_BATCH */
#define REGIONS 1024u
#define KPF_THP 22
#define SMALL_VMA (64ULL << 20)

static struct {
        uint64_t scan_ns, pagemap_ns, kpf_ns, kpc_ns;
        uint64_t ioctls, pagemap_reads, kpf_reads, kpc_reads;
        uint64_t kpf_reads_small; /* of kpf_reads, those for VMAs under SMALL_VMA */
        uint64_t present, swapped, thp_pages, regions;
        double pss_bytes;
} st;

static int pagemap_fd, kpf_fd, kpc_fd;
static uint64_t *pme, *flags, *counts;

static void die(const char *what) {
        die_errno("naive", what);
}

/* pread that counts itself: *calls += 1, *ns += its duration */
static void xpread(int fd, void *buf, size_t len, uint64_t off, uint64_t *calls, uint64_t *ns) {
        uint64_t t0 = now_ns();
        ssize_t n = pread(fd, buf, len, (off_t) off);

        *ns += now_ns() - t0;
        (*calls)++;
        if (n < 0)
                die("pread");
        if ((size_t) n < len)
                memset((char *) buf + n, 0, len - (size_t) n);
}

/* kpageflags and kpagecount of PFNs [first, first + n) */
static void read_kpage(uint64_t first, size_t n, uint64_t *f, uint64_t *c) {
        xpread(kpf_fd, f, n * 8, first * 8, &st.kpf_reads, &st.kpf_ns);
        xpread(kpc_fd, c, n * 8, first * 8, &st.kpc_reads, &st.kpc_ns);
}

static void read_pagemap(uint64_t addr, size_t n) {
        xpread(pagemap_fd, pme, n * 8, addr / PAGE * 8, &st.pagemap_reads, &st.pagemap_ns);
}

static void account(uint64_t kpf, uint64_t kpc) {
        if (kpf & (1ULL << KPF_THP))
                st.thp_pages++;
        if (kpc)
                st.pss_bytes += (double) PAGE / (double) kpc;
}

/* The old way: for each present page, one pread per file. */
static void walk_naive(uint64_t start, uint64_t end) {
        for (uint64_t a = start; a < end;) {
                size_t n = (size_t) ((end - a) / PAGE < CHUNK ? (end - a) / PAGE : CHUNK);

                read_pagemap(a, n);
                for (size_t i = 0; i < n; i++) {
                        uint64_t pfn = pme[i] & PM_PFN_MASK, f, c;

                        if (pme[i] & PM_SWAP)
                                st.swapped++;
                        if (!(pme[i] & PM_PRESENT))
                                continue;
                        st.present++;
                        if (!pfn)
                                continue;
                        read_kpage(pfn, 1, &f, &c);
                        account(f, c);
                }
                a += n * PAGE;
        }
}

/* One pread per file for each run of nearby PFNs. */
static void join_runs(size_t n) {
        for (size_t i = 0; i < n;) {
                uint64_t first, last;
                size_t j;

                if (!(pme[i] & PM_PRESENT) || !(pme[i] & PM_PFN_MASK)) {
                        i++;
                        continue;
                }
                first = last = pme[i] & PM_PFN_MASK;
                for (j = i + 1; j < n && (pme[j] & PM_PRESENT) && (pme[j] & PM_PFN_MASK) == last + 1 &&
                                last + 1 - first < CHUNK;
                     j++)
                        last++;
                read_kpage(first, (size_t) (last - first + 1), flags, counts);
                for (size_t k = i; k < j; k++)
                        account(flags[k - i], counts[k - i]);
                i = j;
        }
}

static void walk_scan(uint64_t start, uint64_t end, int join) {
        static struct page_region rg[REGIONS];
        uint64_t pos = start;

        while (pos < end) {
                struct pm_scan_arg arg = {
                        .size = sizeof(arg),
                        .start = pos,
                        .end = end,
                        .vec = (uintptr_t) rg,
                        .vec_len = REGIONS,
                        .category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
                        .return_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_HUGE,
                };
                uint64_t t0 = now_ns();
                int n = ioctl(pagemap_fd, PAGEMAP_SCAN, &arg);

                st.ioctls++;
                st.scan_ns += now_ns() - t0;
                if (n < 0)
                        die("PAGEMAP_SCAN");
                st.regions += (uint64_t) n;
                for (int i = 0; i < n; i++) {
                        uint64_t pages = (rg[i].end - rg[i].start) / PAGE;
                        if (rg[i].categories & PAGE_IS_PRESENT)
                                st.present += join ? 0 : pages;
                        else
                                st.swapped += pages;
                        if (!join || !(rg[i].categories & PAGE_IS_PRESENT))
                                continue;
                        for (uint64_t a = rg[i].start; a < rg[i].end;) {
                                size_t m = (size_t) ((rg[i].end - a) / PAGE < CHUNK ? (rg[i].end - a) / PAGE : CHUNK);
                                read_pagemap(a, m);
                                st.present += m;
                                join_runs(m);
                                a += m * PAGE;
                        }
                }
                if (n < (int) REGIONS || arg.walk_end <= pos)
                        break;
                pos = arg.walk_end;
        }
}

int main(int argc, char *argv[]) {
        const char *mode = "naive";
        char path[64], line[4096];
        FILE *maps;
        uint64_t t0, total;
        int c;

        while ((c = getopt(argc, argv, "m:")) >= 0) {
                if (c != 'm') {
                        fprintf(stderr, "usage: naive [-m naive|batched|scan] PID\n");
                        return 2;
                }
                mode = optarg;
        }
        if (optind != argc - 1 || (strcmp(mode, "naive") && strcmp(mode, "batched") && strcmp(mode, "scan"))) {
                fprintf(stderr, "usage: naive [-m naive|batched|scan] PID\n");
                return 2;
        }
        pme = malloc(CHUNK * 8);
        flags = malloc(CHUNK * 8);
        counts = malloc(CHUNK * 8);
        snprintf(path, sizeof(path), "/proc/%s/pagemap", argv[optind]);
        if ((pagemap_fd = open(path, O_RDONLY)) < 0)
                die(path);
        if ((kpf_fd = open("/proc/kpageflags", O_RDONLY)) < 0)
                die("/proc/kpageflags");
        if ((kpc_fd = open("/proc/kpagecount", O_RDONLY)) < 0)
                die("/proc/kpagecount");
        snprintf(path, sizeof(path), "/proc/%s/maps", argv[optind]);
        if (!(maps = fopen(path, "re")))
                die(path);

        t0 = now_ns();
        while (fgets(line, sizeof(line), maps)) {
                unsigned long long s, e;
                uint64_t before = st.kpf_reads;

                if (sscanf(line, "%llx-%llx", &s, &e) != 2 || strstr(line, "[vsyscall]"))
                        continue;
                if (!strcmp(mode, "naive"))
                        walk_naive(s, e);
                else
                        walk_scan(s, e, !strcmp(mode, "batched"));
                if (e - s < SMALL_VMA)
                        st.kpf_reads_small += st.kpf_reads - before;
        }
        total = now_ns() - t0;

        printf("mode=%s total_ms=%.2f scan_ms=%.2f pagemap_ms=%.2f kpageflags_ms=%.2f kpagecount_ms=%.2f "
               "syscalls=%" PRIu64 " ioctls=%" PRIu64 " pagemap_reads=%" PRIu64 " kpageflags_reads=%" PRIu64
               " kpagecount_reads=%" PRIu64 " kpageflags_reads_small_vmas=%" PRIu64 " regions=%" PRIu64 " present=%" PRIu64 " swapped=%" PRIu64
               " thp_pages=%" PRIu64 " rss_kb=%" PRIu64 " pss_kb=%.0f\n",
               mode, total / 1e6, st.scan_ns / 1e6, st.pagemap_ns / 1e6, st.kpf_ns / 1e6, st.kpc_ns / 1e6,
               st.ioctls + st.pagemap_reads + st.kpf_reads + st.kpc_reads, st.ioctls, st.pagemap_reads, st.kpf_reads,
               st.kpc_reads, st.kpf_reads_small, st.regions, st.present, st.swapped, st.thp_pages, st.present * 4, st.pss_bytes / 1024);
        return 0;
}
