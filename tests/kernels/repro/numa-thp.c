// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * smaps must count PMD-mapped THPs that NUMA balancing made protnone for a hint fault. 6.1-6.4
 * skip them (474098edac26; fixed by d74943a2f3cd and 8b9c1cc0418a). Needs
 * kernel.numa_balancing=1; two busy threads let the NUMA scanner run over this process.
 *
 *   cc -O2 -pthread -o numa-thp numa-thp.c && ./numa-thp
 * Prints PASS or FAIL (exit 0 or 1), or SKIP (exit 77) without THP or without a hint in 20 s.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define SZ (4UL << 20)
#define THP (2UL << 20)

static volatile int spin = 1;
static unsigned char bufs[2][65536];

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

/* A "name value" line of /proc/vmstat, or "key : value" of /proc/self/sched. */
static long stat_value(const char *file, const char *key)
{
	char line[256];
	long v = -1;
	FILE *f = fopen(file, "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) && (line[strlen(key)] == ' ' || line[strlen(key)] == '\t')) {
			char *s = line + strlen(key);
			while (*s == ' ' || *s == ':' || *s == '\t')
				s++;
			v = atol(s);
			break;
		}
	if (f)
		fclose(f);
	return v;
}

static long file_long(const char *path)
{
	long v = -1;
	FILE *f = fopen(path, "r");

	if (f && fscanf(f, "%ld", &v) != 1)
		v = -1;
	if (f)
		fclose(f);
	return v;
}

static void *spinner(void *arg)
{
	volatile unsigned char *b = arg;

	while (spin)
		for (size_t i = 0; i < sizeof(bufs[0]); i += 64)
			b[i]++;
	return NULL;
}

int main(void)
{
	char *raw = mmap(NULL, SZ + THP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *p = (char *)(((uintptr_t)raw + THP - 1) & ~(THP - 1));
	long huge0, rss;
	pthread_t t[2];
	time_t end = time(NULL) + 20;

	if (file_long("/proc/sys/kernel/numa_balancing") != 1) {
		printf("SKIP: kernel.numa_balancing is not 1\n");
		return 77;
	}
	if (raw == MAP_FAILED || madvise(p, SZ, MADV_HUGEPAGE)) {
		perror("mmap/madvise");
		return 2;
	}
	memset(p, 0xa5, SZ);
	if (smaps_kb(p, "AnonHugePages") != (long)(SZ >> 10)) {
		printf("SKIP: no THP (transparent_hugepage/enabled?)\n");
		return 77;
	}
	huge0 = stat_value("/proc/vmstat", "numa_huge_pte_updates");
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, spinner, bufs[i]);
	while (time(NULL) < end && (stat_value("/proc/vmstat", "numa_huge_pte_updates") <= huge0 ||
				    stat_value("/proc/self/sched", "mm->numa_scan_seq") < 1))
		usleep(100000);
	spin = 0;
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	if (time(NULL) >= end) {
		printf("SKIP: NUMA balancing made no huge PMD protnone within 20 s\n");
		return 77;
	}
	/* nothing touches the region now: its PMDs stay protnone until a hint fault */
	rss = smaps_kb(p, "Rss");
	if (rss == (long)(SZ >> 10)) {
		printf("PASS: NUMA-hinted VMA with %lu kB of PMD-mapped THPs: smaps Rss %ld kB\n", SZ >> 10, rss);
		return 0;
	}
	printf("FAIL: NUMA-hinted VMA with %lu kB of PMD-mapped THPs: smaps Rss %ld kB\n", SZ >> 10, rss);
	return 1;
}
