// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * smaps_rollup must not skip VMAs when it drops a contended mmap_lock. 6.1-6.9 do (c4c84f06285e,
 * fixed by 6d065f507d82): after relocking, the walk resumes past the VMA it finds. This process
 * maps 1000 written VMAs of 32 KiB, a second thread maps and unmaps 8 KiB in a loop (the writer
 * that makes the lock contended), and the main thread reads smaps, smaps_rollup, smaps: a rollup
 * below the VMAs that were the same in both smaps reads, by a whole VMA or more, skipped some.
 *
 *   cc -O2 -pthread -o rollup-skip rollup-skip.c && ./rollup-skip
 * Prints PASS or FAIL (exit 0 or 1).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define VMAS 1000
#define VMA_KB 32
#define READS 20

struct vma {
	uintptr_t start, end;
	long rss;
};

static volatile int churn = 1;

static void *churner(void *arg)
{
	(void)arg;
	while (churn) {
		char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED) {
			p[0] = p[4096] = 1;
			munmap(p, 8192);
		}
	}
	return NULL;
}

/* Our VMAs and their Rss from /proc/self/smaps; returns how many. */
static int read_smaps(struct vma *v, int max)
{
	char line[512];
	int n = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	while (f && fgets(line, sizeof(line), f)) {
		uintptr_t lo, hi;
		long kb;

		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " ", &lo, &hi) == 2 && n < max)
			v[n++] = (struct vma){ lo, hi, 0 };
		else if (n && sscanf(line, "Rss: %ld kB", &kb) == 1)
			v[n - 1].rss = kb;
	}
	if (f)
		fclose(f);
	return n;
}

static long rollup_rss(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/smaps_rollup", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Rss: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

int main(void)
{
	static struct vma a[4 * VMAS], b[4 * VMAS];
	size_t len = VMA_KB << 10, stride = len + 4096;
	char *base = mmap(NULL, stride * VMAS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long worst = 0;
	int low = 0;
	pthread_t t;

	if (base == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	madvise(base, stride * VMAS, MADV_NOHUGEPAGE);
	for (int i = 0; i < VMAS; i++) {
		memset(base + i * stride, 1, len);
		munmap(base + i * stride + len, 4096); /* a hole: a VMA of its own */
	}
	pthread_create(&t, NULL, churner, NULL);
	for (int r = 0; r < READS; r++) {
		int na = read_smaps(a, 4 * VMAS);
		long rollup = rollup_rss(), stable = 0;
		int nb = read_smaps(b, 4 * VMAS);

		/* the VMAs with the same start, end and Rss in both reads (both sorted) */
		for (int i = 0, j = 0; i < na && j < nb;) {
			if (a[i].start < b[j].start)
				i++;
			else if (a[i].start > b[j].start)
				j++;
			else {
				if (a[i].end == b[j].end && a[i].rss == b[j].rss)
					stable += a[i].rss;
				i++;
				j++;
			}
		}
		if (rollup + VMA_KB <= stable) {
			low++;
			if (stable - rollup > worst)
				worst = stable - rollup;
		}
	}
	churn = 0;
	pthread_join(t, NULL);
	if (low == 0) {
		printf("PASS: %d smaps_rollup reads under mmap_lock contention, none below the stable VMAs\n", READS);
		return 0;
	}
	printf("FAIL: %d of %d smaps_rollup reads below the VMAs mapped all along, by up to %ld kB (%ld VMAs)\n",
	       low, READS, worst, worst / VMA_KB);
	return 1;
}
