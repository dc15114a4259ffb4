// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * /proc/PID/status RssAnon against the page tables (smaps_rollup Anonymous) with a second thread
 * whose 60 fresh faults are fewer than the 64 that make a thread fold its cached RSS counters
 * into the mm (SPLIT_RSS_COUNTING, up to 6.1). Not a bug but a bound: FAIL means status lags
 * here, and an auditor must allow for it.
 *
 *   cc -O2 -pthread -o status-lag status-lag.c && ./status-lag
 * Prints PASS (no lag) or FAIL (a lag) (exit 0 or 1).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define PAGES 60
#define PAGE 4096UL

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int ready;

static long keyed_kb(const char *path, const char *key)
{
	char line[256];
	long v = -1;
	FILE *f = fopen(path, "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':') {
			sscanf(line + strlen(key) + 1, "%ld", &v);
			break;
		}
	if (f)
		fclose(f);
	return v;
}

/* Faults fewer than 64 times, then never exits (an exit would fold its counts in). */
static void *faulter(void *arg)
{
	for (unsigned long i = 0; i < PAGES; i++)
		((volatile char *)arg)[i * PAGE] = 1;
	pthread_mutex_lock(&lock);
	ready = 1;
	pthread_cond_broadcast(&cond);
	for (;;)
		pthread_cond_wait(&cond, &lock);
	return NULL;
}

int main(void)
{
	char *p = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long status, rollup;
	pthread_t t;

	if (p == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	madvise(p, PAGES * PAGE, MADV_NOHUGEPAGE);
	pthread_create(&t, NULL, faulter, p);
	pthread_mutex_lock(&lock);
	while (!ready)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	status = keyed_kb("/proc/self/status", "RssAnon");
	rollup = keyed_kb("/proc/self/smaps_rollup", "Anonymous");
	if (rollup <= status) {
		printf("PASS: status RssAnon %ld kB, smaps_rollup Anonymous %ld kB\n", status, rollup);
		return 0;
	}
	printf("FAIL: status RssAnon %ld kB lags smaps_rollup Anonymous %ld kB by %ld kB\n", status, rollup,
	       rollup - status);
	return 1;
}
