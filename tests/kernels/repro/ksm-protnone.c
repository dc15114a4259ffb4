// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * KSM must merge identical pages of a VMA made PROT_NONE. 6.1-6.4 never do (474098edac26: KSM's
 * follow_page() refuses protnone PTEs; fixed by d74943a2f3cd). Needs ksmd running
 * (/sys/kernel/mm/ksm/run = 1).
 *
 *   cc -O2 -o ksm-protnone ksm-protnone.c && ./ksm-protnone
 * Prints PASS or FAIL (exit 0 or 1), or SKIP (exit 77) when ksmd is off or too slow.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGES 512
#define PAGE 4096UL

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

int main(void)
{
	size_t len = PAGES * PAGE;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	time_t end = time(NULL) + 60;
	long merged, scans;

	if (file_long("/sys/kernel/mm/ksm/run") != 1) {
		printf("SKIP: ksmd is not running (/sys/kernel/mm/ksm/run)\n");
		return 77;
	}
	if (p == MAP_FAILED || madvise(p, len, MADV_NOHUGEPAGE) || madvise(p, len, MADV_MERGEABLE)) {
		perror("mmap/madvise");
		return 2;
	}
	memset(p, 0x5a, len);
	if (mprotect(p + len / 2, len / 2, PROT_NONE)) {
		perror("mprotect");
		return 2;
	}
	/* the accessible half merges on every kernel; then give ksmd a few more full scans */
	while ((merged = file_long("/proc/self/ksm_merging_pages")) < PAGES / 2 && time(NULL) < end)
		usleep(100000);
	scans = file_long("/sys/kernel/mm/ksm/full_scans");
	while (file_long("/sys/kernel/mm/ksm/full_scans") < scans + 4 && time(NULL) < end)
		usleep(100000);
	if (time(NULL) >= end) {
		printf("SKIP: ksmd merged %ld pages and did not finish 4 more full scans within 60 s\n", merged);
		return 77;
	}
	merged = file_long("/proc/self/ksm_merging_pages");
	if (merged == PAGES) {
		printf("PASS: %d identical mergeable pages, half of them PROT_NONE: all %ld merged\n", PAGES, merged);
		return 0;
	}
	printf("FAIL: %d identical mergeable pages, half of them PROT_NONE: %ld merged after 4 full scans\n", PAGES,
	       merged);
	return 1;
}
