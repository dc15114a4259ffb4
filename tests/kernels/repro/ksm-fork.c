// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A forked child must not inherit its parent's KSM counters. Until 4d6fc29f3634 ("mm/ksm: fix
 * incorrect KSM counter handling in mm_struct during fork", 6.18, stable 6.6+; not in 6.1) it
 * does: once ksmd has scanned the child, its ksm_merging_pages is twice the KSM pages it maps.
 * Needs ksmd running (/sys/kernel/mm/ksm/run = 1).
 *
 *   cc -O2 -o ksm-fork ksm-fork.c && ./ksm-fork
 * Prints PASS or FAIL (exit 0 or 1), or SKIP (exit 77) when ksmd is off or too slow.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGES 256
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
	char path[64];
	long scans, child_merged;
	pid_t child;

	if (file_long("/sys/kernel/mm/ksm/run") != 1) {
		printf("SKIP: ksmd is not running (/sys/kernel/mm/ksm/run)\n");
		return 77;
	}
	if (p == MAP_FAILED || madvise(p, len, MADV_NOHUGEPAGE) || madvise(p, len, MADV_MERGEABLE)) {
		perror("mmap/madvise");
		return 2;
	}
	memset(p, 0x5a, len);
	while (file_long("/proc/self/ksm_merging_pages") < PAGES && time(NULL) < end)
		usleep(100000);
	if (time(NULL) >= end) {
		printf("SKIP: ksmd did not merge the %d pages within 60 s\n", PAGES);
		return 77;
	}
	child = fork();
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;)
			pause();
	}
	snprintf(path, sizeof(path), "/proc/%d/ksm_merging_pages", (int)child);
	printf("child right after fork: ksm_merging_pages %ld\n", file_long(path));
	/* ksmd visits the child: it finds the same KSM pages again */
	scans = file_long("/sys/kernel/mm/ksm/full_scans");
	while (file_long("/sys/kernel/mm/ksm/full_scans") < scans + 2 && time(NULL) < end)
		usleep(100000);
	child_merged = file_long(path);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	if (time(NULL) >= end) {
		printf("SKIP: ksmd did not finish 2 full scans after the fork within 60 s\n");
		return 77;
	}
	if (child_merged <= PAGES) {
		printf("PASS: the child maps %d KSM pages: ksm_merging_pages %ld\n", PAGES, child_merged);
		return 0;
	}
	printf("FAIL: the child maps %d KSM pages: ksm_merging_pages %ld\n", PAGES, child_merged);
	return 1;
}
