/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Building shape memory and reading a process's own views of it, with libc alone: shared by the
 * probe's shapes and the test workloads (tests/workload, tests/kernels/kworkload), which compile
 * shape-memory.c in as it is.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SHAPE_PAGE ((size_t) 4096)
#define SHAPE_TOUCH_BYTE 0xa5

/*
 * len bytes of prot, flags (MAP_FIXED added) and fd at an align-aligned address between two
 * PROT_READ guard pages: neither a rw-p nor a ---p VMA merges with an r--p neighbour. NULL with
 * errno set.
 */
void *shape_map_region(size_t len, size_t align, int prot, int flags, int fd);
/* Anonymous read-write memory so mapped, advice (if >= 0) applied. NULL with errno set. */
void *shape_map_aligned(size_t len, size_t align, int advice);
/* One written byte per 4 KiB page: every page present, private and dirty. */
void shape_touch(void *p, size_t len);

/* Readers of one process's views (pid 0: this process); -1 when absent. */
int64_t proc_smaps_vma_kb(pid_t pid, uint64_t start, const char *key);
int64_t proc_keyed_kb(pid_t pid, const char *file, const char *key);
int64_t proc_sched_value(pid_t pid, const char *key);
int64_t proc_vmstat_value(const char *name);
int64_t ksm_sys_value(const char *name);
int64_t proc_ksm_merging_pages(pid_t pid);
