// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * /proc/kpageflags must not set KPF_KSM on anonymous pages KSM never merged. Since dee3d0bef2b0
 * ("proc: rewrite stable_page_flags()") it does for every anonymous folio: PAGE_MAPPING_KSM
 * includes PAGE_MAPPING_ANON. Fixed by "fs/proc: fix KPF_KSM reported for all anonymous pages".
 * Needs root (PFNs in pagemap, /proc/kpageflags).
 *
 *   cc -O2 -o kpf-ksm kpf-ksm.c && sudo ./kpf-ksm
 * Prints PASS or FAIL (exit 0 or 1), or SKIP (exit 77) without root.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGES 16
#define PAGE 4096UL
#define KPF_ANON 12
#define KPF_KSM 21

int main(void)
{
	char *p = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int pm = open("/proc/self/pagemap", O_RDONLY), kf = open("/proc/kpageflags", O_RDONLY);
	int anon = 0, ksm = 0, present = 0;

	if (p == MAP_FAILED || pm < 0) {
		perror("mmap/pagemap");
		return 2;
	}
	if (kf < 0) {
		printf("SKIP: cannot open /proc/kpageflags (root?)\n");
		return 77;
	}
	madvise(p, PAGES * PAGE, MADV_NOHUGEPAGE);
	memset(p, 0xa5, PAGES * PAGE);
	for (int i = 0; i < PAGES; i++) {
		uint64_t e, flags;

		if (pread(pm, &e, 8, (off_t)((uintptr_t)(p + i * PAGE) / PAGE * 8)) != 8)
			return 2;
		if (!(e >> 63) || !(e & ((1ULL << 55) - 1)))
			continue;
		if (pread(kf, &flags, 8, (off_t)((e & ((1ULL << 55) - 1)) * 8)) != 8)
			return 2;
		present++;
		anon += (flags >> KPF_ANON) & 1;
		ksm += (flags >> KPF_KSM) & 1;
	}
	if (present == 0) {
		printf("SKIP: pagemap shows no PFNs (root?)\n");
		return 77;
	}
	if (ksm == 0) {
		printf("PASS: %d anonymous pages never MADV_MERGEABLE: %d KPF_ANON, 0 KPF_KSM\n", present, anon);
		return 0;
	}
	printf("FAIL: %d anonymous pages never MADV_MERGEABLE: %d KPF_ANON, %d KPF_KSM\n", present, anon, ksm);
	return 1;
}
