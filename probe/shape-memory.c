/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shape memory and a process's own views of it; libc only (see shape-memory.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shape-memory.h"

void *shape_map_region(size_t len, size_t align, int prot, int flags, int fd) {
        size_t span = len + align + 2 * SHAPE_PAGE;
        char *res, *start, *p;

        res = mmap(NULL, span, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (res == MAP_FAILED)
                return NULL;
        start = (char *) (((uintptr_t) res + SHAPE_PAGE + align - 1) / align * align);
        p = mmap(start, len, prot, flags | MAP_FIXED, fd, 0);
        if (p == MAP_FAILED) {
                int saved = errno;
                munmap(res, span);
                errno = saved;
                return NULL;
        }
        if (start - SHAPE_PAGE > res)
                munmap(res, (size_t) (start - SHAPE_PAGE - res));
        if (start + len + SHAPE_PAGE < res + span)
                munmap(start + len + SHAPE_PAGE, (size_t) (res + span - (start + len + SHAPE_PAGE)));
        return p;
}

void *shape_map_aligned(size_t len, size_t align, int advice) {
        void *p = shape_map_region(len, align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);

        if (p && advice >= 0 && madvise(p, len, advice) < 0)
                return NULL;
        return p;
}

void shape_touch(void *p, size_t len) {
        for (size_t off = 0; off < len; off += SHAPE_PAGE)
                ((volatile unsigned char *) p)[off] = SHAPE_TOUCH_BYTE;
}

static FILE *open_proc(pid_t pid, const char *file) {
        char path[64];

        if (pid)
                snprintf(path, sizeof(path), "/proc/%d/%s", (int) pid, file);
        else
                snprintf(path, sizeof(path), "/proc/self/%s", file);
        return fopen(path, "re");
}

/* A "Key:   N kB" value of the VMA that starts at start. */
int64_t proc_smaps_vma_kb(pid_t pid, uint64_t start, const char *key) {
        FILE *f = open_proc(pid, "smaps");
        size_t keylen = strlen(key);
        int64_t v = -1;
        char line[512];
        bool in_vma = false;
        uint64_t lo, hi;

        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f)) {
                /* no field line ("Rss:", "AnonHugePages:") parses as a hex range */
                if (sscanf(line, "%" SCNx64 "-%" SCNx64 " ", &lo, &hi) == 2) {
                        if (in_vma)
                                break;
                        in_vma = lo == start;
                } else if (in_vma && strncmp(line, key, keylen) == 0 && line[keylen] == ':') {
                        v = strtoll(line + keylen + 1, NULL, 10);
                        break;
                }
        }
        fclose(f);
        return v;
}

/* "Key: N" of a keyed file (status, smaps_rollup; sched's "key   :   N" too). */
int64_t proc_keyed_kb(pid_t pid, const char *file, const char *key) {
        FILE *f = open_proc(pid, file);
        size_t keylen = strlen(key);
        int64_t v = -1;
        char line[512];

        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, key, keylen) == 0 && (line[keylen] == ':' || line[keylen] == ' ')) {
                        const char *colon = strchr(line + keylen, ':');
                        if (colon) {
                                v = strtoll(colon + 1, NULL, 10);
                                break;
                        }
                }
        fclose(f);
        return v;
}

int64_t proc_sched_value(pid_t pid, const char *key) {
        return proc_keyed_kb(pid, "sched", key);
}

int64_t proc_vmstat_value(const char *name) {
        FILE *f = fopen("/proc/vmstat", "re");
        int64_t v = -1;
        char key[128];
        long long n;

        if (!f)
                return -1;
        while (fscanf(f, "%127s %lld", key, &n) == 2)
                if (strcmp(key, name) == 0) {
                        v = n;
                        break;
                }
        fclose(f);
        return v;
}

static int64_t read_number(const char *path) {
        FILE *f = fopen(path, "re");
        long long v = -1;

        if (!f)
                return -1;
        if (fscanf(f, "%lld", &v) != 1)
                v = -1;
        fclose(f);
        return v;
}

int64_t ksm_sys_value(const char *name) {
        char path[128];

        snprintf(path, sizeof(path), "/sys/kernel/mm/ksm/%s", name);
        return read_number(path);
}

int64_t proc_ksm_merging_pages(pid_t pid) {
        char path[64];

        snprintf(path, sizeof(path), "/proc/%d/ksm_merging_pages", (int) (pid ? pid : getpid()));
        return read_number(path);
}
