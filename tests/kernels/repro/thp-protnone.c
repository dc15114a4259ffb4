// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * smaps must count the PMD-mapped THPs of a PROT_NONE VMA. 6.1-6.4 skip them (474098edac26; fixed
 * by d74943a2f3cd and 8b9c1cc0418a): the VMA's Rss reads 0 kB while its pages are present.
 *
 *   cc -O2 -o thp-protnone thp-protnone.c && ./thp-protnone
 * Prints PASS or FAIL (exit 0 or 1), or SKIP (exit 77) when no THP could be had.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define SZ (4UL << 20)
#define THP (2UL << 20)

/* A "Key: N kB" field of our own smaps for the VMA starting at start; -1 if none. */
static long smaps_kb(void *start, const char *key)
{
	char line[512];
	long v = -1;
	int in = 0;
	uintptr_t lo, hi;
	FILE *f = fopen("/proc/self/smaps", "r");

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " ", &lo, &hi) == 2) {
			if (in)
				break;
			in = lo == (uintptr_t)start;
		} else if (in && !strncmp(line, key, strlen(key)) && line[strlen(key)] == ':') {
			v = atol(line + strlen(key) + 1);
			break;
		}
	}
	if (f)
		fclose(f);
	return v;
}

int main(void)
{
	char *raw = mmap(NULL, SZ + THP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *p = (char *)(((uintptr_t)raw + THP - 1) & ~(THP - 1));
	long huge, rss;

	if (raw == MAP_FAILED || madvise(p, SZ, MADV_HUGEPAGE)) {
		perror("mmap/madvise");
		return 2;
	}
	memset(p, 0xa5, SZ);
	huge = smaps_kb(p, "AnonHugePages");
	if (huge != (long)(SZ >> 10)) {
		printf("SKIP: AnonHugePages %ld kB of %lu kB: no THP (transparent_hugepage/enabled?)\n", huge, SZ >> 10);
		return 77;
	}
	if (mprotect(p, SZ, PROT_NONE)) {
		perror("mprotect");
		return 2;
	}
	rss = smaps_kb(p, "Rss");
	if (rss == (long)(SZ >> 10)) {
		printf("PASS: PROT_NONE VMA with %lu kB of PMD-mapped THPs: smaps Rss %ld kB\n", SZ >> 10, rss);
		return 0;
	}
	printf("FAIL: PROT_NONE VMA with %lu kB of PMD-mapped THPs: smaps Rss %ld kB\n", SZ >> 10, rss);
	return 1;
}
