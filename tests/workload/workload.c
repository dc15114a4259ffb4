/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * workload: build a known memory shape in this process, print the truth about it as one JSON line
 * on stdout, then wait for SIGTERM or SIGINT and exit 0.
 *
 *   workload SHAPE [--size-mb N] [--seconds N] [--dir DIR] [--keep-busy]
 *
 * The integration tests audit this process with smapsaudit and compare the walk with the truth
 * printed here, which comes from how the memory was built, not from any kernel view. The one
 * exception is a sanity check: THP regions are checked in our own smaps while they are still
 * accessible and not NUMA-hinted (reported correctly by every kernel), and a region the kernel
 * did not back with THPs turns into {"skip": "..."} rather than a wrong truth.
 *
 * Every region gets its own mapping with a PROT_READ guard page on each side, so that its VMA
 * never merges with a neighbour. Only written pages are present: read faults on anonymous memory
 * do not map the zero page on the kernels we test.
 *
 * One file, longer than the ~500 lines a file of ours is held to, on purpose: each shape is a
 * few dozen lines that build on the same region, guard-page and truth helpers, and the tests
 * name shapes, not programs.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shape-memory.h"

#define PAGE_SZ ((size_t) 4096)
#define THP_SZ ((size_t) 2 << 20)
#define MIB ((size_t) 1 << 20)
#define KB(bytes) ((long long) ((bytes) >> 10))
#define ALIGN_UP(x, a) (((x) + (a) - 1) / (a) * (a))
#define TMPFS_MAGIC_ 0x01021994

#define KSM_BYTE 0x5a
#define TOUCH_BYTE SHAPE_TOUCH_BYTE

struct kv {
        const char *key;
        long long value;
};
/* A NULL-terminated list of expected kB values: EXPECT({"Rss", 4096}, {"Anonymous", 0}). */
#define EXPECT(...) ((const struct kv[]) { __VA_ARGS__, { NULL, 0 } })

struct options {
        size_t size;            /* bytes; 0: the shape's default */
        unsigned seconds;
        const char *dir;
        bool keep_busy;
        unsigned pause_ms;      /* mremap-shrink: between turns */
};

/* Everything main() undoes after the stop signal. */
static struct {
        pid_t child;
        char *unlink_path;
} cleanup;

/* The truth line under construction: scalar members in "head", region objects in "regions". */
struct truth {
        FILE *head, *regions;
        char *head_buf, *regions_buf;
        size_t head_size, regions_size;
        unsigned n_regions;
        char *skip;             /* set: print {"skip": reason} instead */
};

static sigset_t stop_signals;
static bool stop_pending(void);

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
        va_list ap;
        int saved = errno;

        fputs("workload: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, ": %s\n", strerror(saved));
        if (cleanup.child > 0)
                kill(cleanup.child, SIGKILL);
        if (cleanup.unlink_path)
                unlink(cleanup.unlink_path);
        exit(1);
}

/* ------------------------------------------------------------------ JSON truth line */

static void json_string(FILE *f, const char *s)
{
        fputc('"', f);
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;
                if (c == '"' || c == '\\')
                        fprintf(f, "\\%c", c);
                else if (c < 0x20)
                        fprintf(f, "\\u%04x", c);
                else
                        fputc(c, f);
        }
        fputc('"', f);
}

static void json_kv_object(FILE *f, const struct kv *list)
{
        fputc('{', f);
        for (const struct kv *k = list; k->key; k++) {
                if (k != list)
                        fputc(',', f);
                json_string(f, k->key);
                fprintf(f, ":%lld", k->value);
        }
        fputc('}', f);
}

static void truth_init(struct truth *t, const char *shape)
{
        memset(t, 0, sizeof(*t));
        t->head = open_memstream(&t->head_buf, &t->head_size);
        t->regions = open_memstream(&t->regions_buf, &t->regions_size);
        if (!t->head || !t->regions)
                die("open_memstream");
        fputs("{\"shape\":", t->head);
        json_string(t->head, shape);
        fprintf(t->head, ",\"pid\":%d,\"page_size\":%zu", (int) getpid(), PAGE_SZ);
}

static void truth_int(struct truth *t, const char *key, long long value)
{
        fputc(',', t->head);
        json_string(t->head, key);
        fprintf(t->head, ":%lld", value);
}

static void truth_str(struct truth *t, const char *key, const char *value)
{
        fputc(',', t->head);
        json_string(t->head, key);
        fputc(':', t->head);
        json_string(t->head, value);
}

static void truth_object(struct truth *t, const char *key, const struct kv *list)
{
        fputc(',', t->head);
        json_string(t->head, key);
        fputc(':', t->head);
        json_kv_object(t->head, list);
}

/* One VMA of the shape. "merged", if not NULL, holds what is expected once ksmd has merged. */
static void truth_region(struct truth *t, const char *name, const void *start, size_t len,
                         const char *perms, const struct kv *expect, const struct kv *merged)
{
        FILE *f = t->regions;

        if (t->n_regions++)
                fputc(',', f);
        fputs("{\"name\":", f);
        json_string(f, name);
        fprintf(f, ",\"start\":\"0x%" PRIxPTR "\",\"end\":\"0x%" PRIxPTR "\",\"perms\":",
                (uintptr_t) start, (uintptr_t) start + len);
        json_string(f, perms);
        fprintf(f, ",\"pages\":%zu,\"expect\":", len / PAGE_SZ);
        json_kv_object(f, expect);
        if (merged) {
                fputs(",\"expect_merged\":", f);
                json_kv_object(f, merged);
        }
        fputc('}', f);
}

static void truth_skip(struct truth *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void truth_skip(struct truth *t, const char *fmt, ...)
{
        va_list ap;

        if (t->skip)
                return;
        va_start(ap, fmt);
        if (vasprintf(&t->skip, fmt, ap) < 0)
                die("vasprintf");
        va_end(ap);
}

static void truth_print(struct truth *t)
{
        if (t->skip) {
                truth_str(t, "skip", t->skip);
                fclose(t->regions);
                fclose(t->head);
                printf("%s,\"regions\":[]}\n", t->head_buf);
        } else {
                fclose(t->regions);
                fclose(t->head);
                printf("%s,\"regions\":[%s]}\n", t->head_buf, t->regions_buf);
        }
        fflush(stdout);
        free(t->head_buf);
        free(t->regions_buf);
        free(t->skip);
}

/* ------------------------------------------------------------------ memory helpers */

static void *map_anon(size_t len, size_t align, int advice)
{
        void *p = shape_map_aligned(len, align, advice);

        if (!p)
                die("mmap %zu bytes, madvise(%d)", len, advice);
        return p;
}

static double now_seconds(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ region builders */

/*
 * A written, 2 MiB-aligned THP region of len bytes; NULL (and a skip reason in t) when the kernel
 * did not back all of it with PMD-mapped THPs, checked while it is still accessible.
 */
static char *build_thp(struct truth *t, size_t len)
{
        char *p = map_anon(len, THP_SZ, MADV_HUGEPAGE);
        long long huge;

        shape_touch(p, len);
        huge = proc_smaps_vma_kb(0, (uintptr_t) p, "AnonHugePages");
        if (huge != KB(len)) {
                truth_skip(t, "THP unavailable: AnonHugePages %lld kB of %lld kB after MADV_HUGEPAGE "
                           "(check /sys/kernel/mm/transparent_hugepage/enabled)", huge, KB(len));
                return NULL;
        }
        return p;
}

/* A THP region whose second half is then made PROT_NONE: two VMAs, rw-p and ---p. */
static void build_thp_protnone(struct truth *t, size_t len, const char *name_rw, const char *name_none)
{
        size_t half = len / 2;
        char *p = build_thp(t, len);

        if (!p)
                return;
        if (mprotect(p + half, half, PROT_NONE) < 0)
                die("mprotect(PROT_NONE)");
        truth_region(t, name_rw, p, half, "rw-p",
                     EXPECT({ "Rss", KB(half) }, { "Pss", KB(half) }, { "Anonymous", KB(half) },
                            { "AnonHugePages", KB(half) }), NULL);
        truth_region(t, name_none, p + half, half, "---p",
                     EXPECT({ "Rss", KB(half) }, { "Pss", KB(half) }, { "Anonymous", KB(half) },
                            { "AnonHugePages", KB(half) }), NULL);
}

/*
 * A MADV_MERGEABLE region of identical nonzero pages, without THP. With protnone_half its second
 * half is made PROT_NONE. Once ksmd has merged, every page is a KSM page.
 */
static void build_ksm(struct truth *t, size_t len, bool protnone_half, const char *name_rw,
                      const char *name_none)
{
        size_t rw = protnone_half ? len / 2 : len, none = len - rw;
        char *p = map_anon(len, PAGE_SZ, MADV_NOHUGEPAGE);

        if (madvise(p, len, MADV_MERGEABLE) < 0)
                die("madvise(MADV_MERGEABLE)");
        memset(p, KSM_BYTE, len);
        if (none && mprotect(p + rw, none, PROT_NONE) < 0)
                die("mprotect(PROT_NONE)");
        truth_region(t, name_rw, p, rw, "rw-p",
                     EXPECT({ "Rss", KB(rw) }, { "Anonymous", KB(rw) }, { "AnonHugePages", 0 }),
                     EXPECT({ "Rss", KB(rw) }, { "Anonymous", KB(rw) }, { "KSM", KB(rw) }));
        if (none)
                truth_region(t, name_none, p + rw, none, "---p",
                             EXPECT({ "Rss", KB(none) }, { "Anonymous", KB(none) }, { "AnonHugePages", 0 }),
                             EXPECT({ "Rss", KB(none) }, { "Anonymous", KB(none) }, { "KSM", KB(none) }));
}

/* A written memfd (shmem) of len bytes, mapped shared. */
static void build_memfd(struct truth *t, size_t len, const char *name)
{
        int fd = memfd_create("smapsaudit-workload", MFD_CLOEXEC);
        char *p;

        if (fd < 0)
                die("memfd_create");
        if (ftruncate(fd, (off_t) len) < 0)
                die("ftruncate memfd");
        p = shape_map_region(len, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
        if (!p)
                die("mmap memfd");
        close(fd);
        shape_touch(p, len);
        truth_region(t, name, p, len, "rw-s",
                     EXPECT({ "Rss", KB(len) }, { "Pss", KB(len) }, { "Anonymous", 0 },
                            { "AnonHugePages", 0 }), NULL);
}

/* ------------------------------------------------------------------ shapes */

static void shape_thp_protnone(struct truth *t, const struct options *o)
{
        build_thp_protnone(t, o->size, "thp-rw", "thp-protnone");
}

static void shape_protnone_4k(struct truth *t, const struct options *o)
{
        char *p = map_anon(o->size, PAGE_SZ, MADV_NOHUGEPAGE);

        shape_touch(p, o->size);
        if (mprotect(p, o->size, PROT_NONE) < 0)
                die("mprotect(PROT_NONE)");
        truth_region(t, "protnone-4k", p, o->size, "---p",
                     EXPECT({ "Rss", KB(o->size) }, { "Pss", KB(o->size) }, { "Anonymous", KB(o->size) },
                            { "AnonHugePages", 0 }), NULL);
}

/* numa-thp: the spinning threads and their rendezvous. */
enum spin_state { SPIN, PARK };
static struct {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        enum spin_state state;
        unsigned parked;
} spin = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, SPIN, 0 };
#define N_SPINNERS 2
static unsigned char spin_buf[N_SPINNERS][64 * 1024];

static void *spinner(void *arg)
{
        volatile unsigned char *buf = arg;

        /* Busy on the CPU (the NUMA scanner runs from the tick of a running task), touching
         * only this small buffer, never the THP region under test. */
        while (__atomic_load_n(&spin.state, __ATOMIC_RELAXED) == SPIN)
                for (size_t i = 0; i < sizeof(spin_buf[0]); i += 64)
                        buf[i]++;

        pthread_mutex_lock(&spin.lock);
        spin.parked++;
        pthread_cond_broadcast(&spin.cond);
        for (;;)        /* stay alive, so the mm stays multi-threaded */
                pthread_cond_wait(&spin.cond, &spin.lock);
        return NULL;
}

/* What NUMA balancing did while the spinners ran. */
struct numa_spin {
        long long huge_before, huge_after, pte_before, pte_after;
        double start;
};

/*
 * Two threads busy on the CPU until NUMA balancing made a huge PMD protnone (numa_huge_pte_updates
 * rose) or o->seconds passed; then parked and idle unless --keep-busy.
 */
static void spin_until_hinted(const struct options *o, struct numa_spin *s)
{
        pthread_t threads[N_SPINNERS];
        double deadline;
        int r;

        s->huge_before = proc_vmstat_value("numa_huge_pte_updates");
        s->pte_before = proc_vmstat_value("numa_pte_updates");
        for (unsigned i = 0; i < N_SPINNERS; i++) {
                r = pthread_create(&threads[i], NULL, spinner, spin_buf[i]);
                if (r) {
                        errno = r;
                        die("pthread_create");
                }
                pthread_detach(threads[i]);
        }

        s->start = now_seconds();
        deadline = s->start + o->seconds;
        while (now_seconds() < deadline) {
                usleep(100 * 1000);
                if (proc_vmstat_value("numa_huge_pte_updates") - s->huge_before >= 1)
                        break;
        }

        /* Park the spinners and wait until both are idle: the auditor audits idle memory. */
        if (!o->keep_busy) {
                pthread_mutex_lock(&spin.lock);
                __atomic_store_n(&spin.state, PARK, __ATOMIC_RELAXED);
                while (spin.parked < N_SPINNERS)
                        pthread_cond_wait(&spin.cond, &spin.lock);
                pthread_mutex_unlock(&spin.lock);
        }
        s->huge_after = proc_vmstat_value("numa_huge_pte_updates");
        s->pte_after = proc_vmstat_value("numa_pte_updates");
}

static void truth_numa_spin(struct truth *t, const struct options *o, const struct numa_spin *s)
{
        truth_int(t, "threads", 1 + N_SPINNERS);
        truth_int(t, "busy", o->keep_busy);
        truth_int(t, "spun_ms", (long long) ((now_seconds() - s->start) * 1000));
        truth_int(t, "numa_huge_pte_updates_before", s->huge_before);
        truth_int(t, "numa_huge_pte_updates_after", s->huge_after);
        truth_int(t, "numa_pte_updates_before", s->pte_before);
        truth_int(t, "numa_pte_updates_after", s->pte_after);
        truth_int(t, "numa_scan_seq", proc_sched_value(0, "mm->numa_scan_seq"));
}

static void shape_numa_thp(struct truth *t, const struct options *o)
{
        struct numa_spin s;
        char *p = build_thp(t, o->size);

        if (!p)
                return;
        spin_until_hinted(o, &s);
        truth_region(t, "numa-thp", p, o->size, "rw-p",
                     EXPECT({ "Rss", KB(o->size) }, { "Pss", KB(o->size) }, { "Anonymous", KB(o->size) },
                            { "AnonHugePages", KB(o->size) }), NULL);
        truth_numa_spin(t, o, &s);
}

/*
 * busy-heap: one MADV_HUGEPAGE VMA whose first half holds THPs left alone (NUMA-hinted while two
 * threads spin, as in numa-thp) while the main thread keeps faulting single pages into the second
 * half and dropping 4-64 KiB ranges of it, as a garbage-collected or malloc heap does: the VMA
 * never holds still, its THPs do.
 */
static char *busy_heap;
static size_t busy_heap_len;

static void shape_busy_heap(struct truth *t, const struct options *o)
{
        size_t half = o->size / 2;
        struct numa_spin s;
        char *p = build_thp(t, o->size);

        if (!p)
                return;
        /* split every PMD of the second half: from now on its faults map 4 KiB pages */
        for (size_t off = half; off < o->size; off += THP_SZ)
                if (madvise(p + off, PAGE_SZ, MADV_DONTNEED) < 0)
                        die("madvise(MADV_DONTNEED)");
        busy_heap = p;
        busy_heap_len = o->size;
        spin_until_hinted(o, &s);
        /* AnonHugePages: at least the first half's THPs (khugepaged may collapse more) */
        truth_region(t, "busy-heap", p, o->size, "rw-p", EXPECT({ "AnonHugePages", KB(half) }), NULL);
        truth_int(t, "thp_kb", KB(half));
        truth_numa_spin(t, o, &s);
}

static void busy_heap_loop(void)
{
        const size_t half = busy_heap_len / 2, pages = half / PAGE_SZ;
        unsigned long rnd = (unsigned long) getpid();

        for (unsigned long n = 1;; n++) {
                size_t page;

                rnd = rnd * 6364136223846793005UL + 1442695040888963407UL;
                page = (size_t) (rnd >> 33) % pages;
                if ((rnd >> 20) & 3)
                        busy_heap[half + page * PAGE_SZ] = TOUCH_BYTE;
                else {
                        size_t len = (1 + (rnd >> 40) % 16) * PAGE_SZ;
                        if (len > (pages - page) * PAGE_SZ)
                                len = (pages - page) * PAGE_SZ;
                        madvise(busy_heap + half + page * PAGE_SZ, len, MADV_DONTNEED);
                }
                if (n % 64 == 0) {
                        if (stop_pending())
                                break;
                        usleep(100);
                }
        }
}

static void shape_ksm(struct truth *t, const struct options *o)
{
        build_ksm(t, o->size, true, "ksm-rw", "ksm-protnone");
}

static void cow_child(pid_t parent)
{
        int sig;

        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                _exit(0);
        while (sigwait(&stop_signals, &sig) != 0)
                ;
        _exit(0);
}

static void shape_cow_fork(struct truth *t, const struct options *o)
{
        char *p = map_anon(o->size, PAGE_SZ, MADV_NOHUGEPAGE);
        pid_t parent = getpid(), child;

        shape_touch(p, o->size);
        fflush(NULL);
        child = fork();
        if (child < 0)
                die("fork");
        if (child == 0)
                cow_child(parent);
        cleanup.child = child;

        /* Every page is now mapped by both processes: Pss is half of Rss in each. */
        truth_region(t, "cow", p, o->size, "rw-p",
                     EXPECT({ "Rss", KB(o->size) }, { "Pss", KB(o->size) / 2 }, { "Anonymous", KB(o->size) },
                            { "AnonHugePages", 0 }), NULL);
        truth_int(t, "child_pid", child);
        truth_object(t, "child_expect", EXPECT({ "Rss", KB(o->size) }, { "Pss", KB(o->size) / 2 }));
}

/*
 * THPs shared copy-on-write after fork(), then one page of the first written
 * by the child: the child's write splits its PMD and copies that page, so
 * the parent's first THP is still PMD-mapped but its pages no longer share
 * one mapcount (2 for 511 of them, 1 for the copied one). With per-page
 * mapcounts, Pss must sum them page by page.
 */
static void shape_thp_cow_fork(struct truth *t, const struct options *o)
{
        const size_t copied = 5;
        char *p = build_thp(t, o->size);
        pid_t parent = getpid(), child;
        int ready[2];
        char c;

        if (!p)
                return;
        if (pipe2(ready, O_CLOEXEC) < 0)
                die("pipe");
        fflush(NULL);
        child = fork();
        if (child < 0)
                die("fork");
        if (child == 0) {
                ((volatile char *) p)[copied * PAGE_SZ] = (char) (TOUCH_BYTE + 1);
                if (write(ready[1], "x", 1) != 1)
                        _exit(1);
                cow_child(parent);
        }
        cleanup.child = child;
        close(ready[1]);
        if (read(ready[0], &c, 1) != 1)
                die("the child did not write its page");
        close(ready[0]);

        /* precise mapcounts: the first THP 511 pages at 2, one at 1; the others all at 2 */
        truth_region(t, "thp-cow", p, o->size, "rw-p",
                     EXPECT({ "Rss", KB(o->size) }, { "Pss", KB(o->size) / 2 + KB(PAGE_SZ) / 2 },
                            { "Anonymous", KB(o->size) }, { "AnonHugePages", KB(o->size) }), NULL);
        truth_int(t, "child_pid", child);
        truth_object(t, "child_expect",
                     EXPECT({ "Rss", KB(o->size) }, { "Pss", KB(o->size) / 2 + KB(PAGE_SZ) / 2 },
                            { "Anonymous", KB(o->size) }, { "AnonHugePages", KB(o->size) - KB(THP_SZ) }));
}

/*
 * One 4 KiB VMA per page of --size-mb, every page touched, read-write and
 * read-only in turn so that no two neighbours merge: a process near the
 * kernel's VMA limit, whose full report is tens of megabytes.
 */
static void shape_many_vmas(struct truth *t, const struct options *o)
{
        size_t n = o->size / PAGE_SZ;
        char *p = map_anon(o->size, PAGE_SZ, MADV_NOHUGEPAGE);

        shape_touch(p, o->size);
        for (size_t i = 1; i < n; i += 2)
                if (mprotect(p + i * PAGE_SZ, PAGE_SZ, PROT_READ) < 0)
                        die("mprotect(PROT_READ) of VMA %zu", i);
        truth_int(t, "vmas", (long long) n);
        truth_int(t, "rss_kb", KB(o->size));
}

/*
 * Isolated pages, each its own populated range for PAGEMAP_SCAN: exactly
 * 1024 of them (a walker's vector filling up on the VMA's last page), 2048
 * one per GiB across 2 TiB of address space (page tables above the PMD
 * level, and the vector full again at the end), and 1500. The address
 * space is MAP_NORESERVE; only the touched pages and their page tables are
 * memory. --size-mb is not used.
 */
static void sparse_region(struct truth *t, const char *name, size_t pages, size_t stride)
{
        size_t len = pages * stride;
        char *p = shape_map_region(len, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);

        if (!p) {
                truth_skip(t, "cannot map %zu GiB of address space for %s", len >> 30, name);
                return;
        }
        if (madvise(p, len, MADV_NOHUGEPAGE) < 0)
                die("madvise(MADV_NOHUGEPAGE)");
        for (size_t i = 0; i < pages; i++)
                ((volatile unsigned char *) p)[i * stride] = TOUCH_BYTE;
        truth_region(t, name, p, len, "rw-p",
                     EXPECT({ "Rss", KB(pages * PAGE_SZ) }, { "Anonymous", KB(pages * PAGE_SZ) },
                            { "Pss", KB(pages * PAGE_SZ) }, { "AnonHugePages", 0 }), NULL);
}

static void shape_sparse(struct truth *t, const struct options *o)
{
        (void) o;
        sparse_region(t, "sparse-1024", 1024, 2 * PAGE_SZ);
        if (!t->skip)
                sparse_region(t, "sparse-tib", 2048, (size_t) 1 << 30);
        if (!t->skip)
                sparse_region(t, "sparse-1500", 1500, 2 * PAGE_SZ);
}

/*
 * Anonymous pages, then the main thread leaves with pthread_exit() (see
 * main()) while another thread waits for the stop signal: the process runs
 * on with a zombie leader, whose own /proc/PID files show no memory.
 */
static void shape_leader_exit(struct truth *t, const struct options *o)
{
        char *p = map_anon(o->size, PAGE_SZ, MADV_NOHUGEPAGE);

        shape_touch(p, o->size);
        truth_region(t, "leader-exit", p, o->size, "rw-p",
                     EXPECT({ "Rss", KB(o->size) }, { "Pss", KB(o->size) }, { "Anonymous", KB(o->size) }), NULL);
}

static void *stop_waiter(void *arg)
{
        int sig;

        (void) arg;
        while (sigwait(&stop_signals, &sig) != 0)
                ;
        exit(0);
}

/*
 * exec-loop: a few MiB of anonymous memory, then this same program is
 * executed again every few milliseconds under the same PID (see main()):
 * every exec replaces the mm an audit opened, and moves the mapcounts of
 * the binary's and libc's pages that other copies share. No truth beyond
 * the PID: the memory is never the same for long.
 */
#define EXEC_LOOP_ENV "SMAPSAUDIT_WORKLOAD_EXECED"

static void shape_exec_loop(struct truth *t, const struct options *o)
{
        (void) t;
        shape_touch(map_anon(o->size, PAGE_SZ, MADV_NOHUGEPAGE), o->size);
}

static void exec_again(char **argv)
{
        struct timespec wait = { 0, 3 * 1000 * 1000 };
        int sig;

        sig = sigtimedwait(&stop_signals, NULL, &wait);
        if (sig == SIGTERM || sig == SIGINT)
                exit(0);
        setenv(EXEC_LOOP_ENV, "1", 1);
        execv("/proc/self/exe", argv);
        die("execv /proc/self/exe");
}

/*
 * Anonymous pages, the second half pushed out to swap with MADV_PAGEOUT.
 * How much went out is the kernel's to decide: the truth is what this VMA's
 * smaps says right after, and the test holds the walk to it.
 */
static void shape_swap(struct truth *t, const struct options *o)
{
        char *p = map_anon(o->size, PAGE_SZ, MADV_NOHUGEPAGE);
        long long swapped, rss;

        for (size_t off = 0; off < o->size; off += PAGE_SZ)
                p[off] = (char) (1 + (off / PAGE_SZ) % 251);   /* not zero-filled: zram keeps them */
        if (madvise(p + o->size / 2, o->size / 2, MADV_PAGEOUT) < 0)
                die("madvise(MADV_PAGEOUT)");
        swapped = proc_smaps_vma_kb(0, (uintptr_t) p, "Swap");
        rss = proc_smaps_vma_kb(0, (uintptr_t) p, "Rss");
        if (swapped <= 0) {
                truth_skip(t, "MADV_PAGEOUT swapped nothing out (no swap?)");
                return;
        }
        truth_region(t, "swap", p, o->size, "rw-p",
                     EXPECT({ "Rss", rss }, { "Swap", swapped }, { "Anonymous", rss }), NULL);
        truth_object(t, "expect_status", EXPECT({ "VmSwap", swapped }));
}

static void shape_memfd(struct truth *t, const struct options *o)
{
        build_memfd(t, o->size, "memfd");
        truth_object(t, "expect_status", EXPECT({ "RssShmem", KB(o->size) }));
}

static volatile unsigned char read_sink;

static void shape_file(struct truth *t, const struct options *o)
{
        const char *dir = o->dir ? o->dir : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        unsigned char *page = malloc(PAGE_SZ);
        struct statfs sfs;
        char *p;
        int fd;

        if (!page || asprintf(&cleanup.unlink_path, "%s/smapsaudit-workload-XXXXXX", dir) < 0)
                die("malloc");
        fd = mkostemp(cleanup.unlink_path, O_CLOEXEC);
        if (fd < 0) {
                int saved = errno;
                free(cleanup.unlink_path);
                cleanup.unlink_path = NULL;
                errno = saved;
                die("mkstemp in %s", dir);
        }
        for (size_t off = 0; off < o->size; off += PAGE_SZ) {
                memset(page, (int) (1 + (off / PAGE_SZ) % 255), PAGE_SZ);
                if (write(fd, page, PAGE_SZ) != (ssize_t) PAGE_SZ)
                        die("write %s", cleanup.unlink_path);
        }
        free(page);
        if (fsync(fd) < 0)
                die("fsync %s", cleanup.unlink_path);
        if (fstatfs(fd, &sfs) < 0)
                die("fstatfs");
        p = shape_map_region(o->size, PAGE_SZ, PROT_READ, MAP_PRIVATE, fd);
        if (!p)
                die("mmap %s", cleanup.unlink_path);
        close(fd);
        /* Read faults on a file mapping map its page cache pages. */
        for (size_t off = 0; off < o->size; off += PAGE_SZ)
                read_sink += ((volatile unsigned char *) p)[off];

        truth_region(t, "file", p, o->size, "r--p",
                     EXPECT({ "Rss", KB(o->size) }, { "Anonymous", 0 }, { "AnonHugePages", 0 }), NULL);
        truth_str(t, "path", cleanup.unlink_path);
        truth_int(t, "tmpfs", sfs.f_type == TMPFS_MAGIC_);
}

static void shape_hugetlb(struct truth *t, const struct options *o)
{
        char *p = shape_map_region(o->size, THP_SZ, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1);

        if (!p) {
                truth_skip(t, "mmap(MAP_HUGETLB) of %zu bytes failed: %s (reserve /proc/sys/vm/nr_hugepages)",
                           o->size, strerror(errno));
                return;
        }
        /* MAP_PRIVATE hugetlb reserves its pages at mmap time, so these faults cannot fail. */
        for (size_t off = 0; off < o->size; off += THP_SZ)
                p[off] = (char) TOUCH_BYTE;
        truth_region(t, "hugetlb", p, o->size, "rw-p",
                     EXPECT({ "Rss", 0 }, { "Anonymous", 0 }, { "Private_Hugetlb", KB(o->size) },
                            { "Shared_Hugetlb", 0 }), NULL);
}

static void shape_demo(struct truth *t, const struct options *o)
{
        (void) o;
        build_thp_protnone(t, 16 * MIB, "thp-rw", "thp-protnone");
        build_ksm(t, 4 * MIB, false, "ksm", NULL);
        build_memfd(t, 4 * MIB, "memfd");
}

/* Has a stop signal arrived? Consumes it. */
static bool stop_pending(void)
{
        const struct timespec zero = { 0, 0 };

        return sigtimedwait(&stop_signals, NULL, &zero) > 0;
}

/* churn: map, touch, reprotect and unmap small regions until told to stop. */
static void churn(void)
{
        enum { SLOTS = 16 };
        struct { char *p; size_t len; } slot[SLOTS] = { { 0 } };
        const struct timespec pause_ts = { 0, 1000 * 1000 };
        unsigned long rnd = (unsigned long) getpid();

        for (unsigned long n = 0;; n++) {
                unsigned i;

                rnd = rnd * 6364136223846793005UL + 1442695040888963407UL;
                i = (unsigned) (rnd >> 33) % SLOTS;
                if (slot[i].p) {
                        if ((rnd >> 20) & 1)
                                mprotect(slot[i].p, slot[i].len, PROT_NONE);
                        munmap(slot[i].p, slot[i].len);
                        slot[i].p = NULL;
                } else {
                        size_t len = (1 + (rnd >> 40) % 64) * PAGE_SZ;
                        char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                        if (p == MAP_FAILED)
                                die("mmap");
                        shape_touch(p, len);
                        slot[i].p = p;
                        slot[i].len = len;
                }
                if (n % 64 == 0) {
                        if (stop_pending())
                                break;
                        nanosleep(&pause_ts, NULL);
                }
        }
        for (unsigned i = 0; i < SLOTS; i++)
                if (slot[i].p)
                        munmap(slot[i].p, slot[i].len);
}

/*
 * remap: the same 2 MiB-aligned range mapped again and again with another shape (a THP there one
 * moment, two 4 KiB pages the next), as allocators and JITs that recycle fixed arenas do. Two reads
 * of the range a few hundred microseconds apart can match while a walk between them saw the other
 * shape.
 */
static char *remap_base;

static void remap_loop(void)
{
        const struct timespec pause_ts = { 0, 150 * 1000 };

        for (unsigned long n = 0;; n++) {
                char *p = mmap(remap_base, THP_SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                               -1, 0);

                if (p == MAP_FAILED)
                        die("mmap MAP_FIXED");
                if (n & 1) {
                        if (madvise(p, THP_SZ, MADV_NOHUGEPAGE) < 0)
                                die("madvise(MADV_NOHUGEPAGE)");
                        p[0] = TOUCH_BYTE;
                        p[PAGE_SZ] = TOUCH_BYTE;
                } else {
                        if (madvise(p, THP_SZ, MADV_HUGEPAGE) < 0)
                                die("madvise(MADV_HUGEPAGE)");
                        p[0] = TOUCH_BYTE;
                }
                nanosleep(&pause_ts, NULL);
                munmap(p, THP_SZ);
                if (n % 64 == 0 && stop_pending())
                        break;
        }
}

static void shape_remap(struct truth *t, const struct options *o)
{
        /* the range and a guard page each side, so the loop's VMA never merges with a neighbour */
        remap_base = shape_map_region(THP_SZ, THP_SZ, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1);
        if (!remap_base)
                die("mmap %zu bytes", THP_SZ);
        (void) o;
        truth_int(t, "remap_base", (long long) (uintptr_t) remap_base);
}

static void shape_churn(struct truth *t, const struct options *o)
{
        /* No regions: the truth is only that this process keeps changing (see churn()). */
        (void) t;
        (void) o;
}

/*
 * mremap-shrink: map a region, touch it, shrink it to one page with mremap()
 * and unmap what is left, in a loop. The shrink detaches the tail before it
 * zaps it, with mmap_lock downgraded: for as long as the zap runs, status
 * counts pages that smaps and pagemap no longer show.
 */
static void mremap_shrink(size_t len, unsigned pause_ms)
{
        const struct timespec pause_ts = { pause_ms / 1000, (long) (pause_ms % 1000) * 1000 * 1000 };

        while (!stop_pending()) {
                char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                char *q;

                if (p == MAP_FAILED)
                        die("mmap");
                shape_touch(p, len);
                q = mremap(p, len, PAGE_SZ, 0);
                if (q == MAP_FAILED)
                        die("mremap");
                munmap(q, PAGE_SZ);
                nanosleep(&pause_ts, NULL);
        }
}

static void shape_mremap_shrink(struct truth *t, const struct options *o)
{
        /* No regions: what it maps lives for one turn of mremap_shrink() */
        truth_int(t, "size_kb", (long long) KB(o->size));
        truth_int(t, "pause_ms", o->pause_ms);
}

/*
 * held-exec: a child execve()s /bin/sleep with an environment of the
 * shape's size and argv[0] on a page registered missing with userfaultfd.
 * The kernel copies the environment into the new stack, then faults on
 * argv[0] and waits for us: the exec stays inside copy_strings(), its
 * argument pages counted in the child's old mm, until SIGUSR1 makes us
 * resolve the fault. Root, or vm.unprivileged_userfaultfd=1: the fault is
 * the kernel's, which UFFD_USER_MODE_ONLY would not hand to us.
 */
static struct {
        int uffd;
        char *page;             /* in the child's mm, at the same address as in ours */
} held;

static void send_fd(int sock, int fd)
{
        char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
        char byte = 0;
        struct iovec iov = { &byte, 1 };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
        if (sendmsg(sock, &mh, 0) != 1)
                _exit(126);
}

static int recv_fd(int sock)
{
        char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
        char byte;
        struct iovec iov = { &byte, 1 };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
        struct cmsghdr *c;
        int fd;

        if (recvmsg(sock, &mh, 0) != 1 || !(c = CMSG_FIRSTHDR(&mh)) || c->cmsg_type != SCM_RIGHTS)
                return -1;
        memcpy(&fd, CMSG_DATA(c), sizeof(int));
        return fd;
}

static void held_exec_child(int sock, size_t env_bytes)
{
        struct uffdio_api api = { .api = UFFD_API };
        struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
        enum { ENV_STRING = 1024 };
        size_t envc = env_bytes / ENV_STRING;
        char **env = calloc(envc + 1, sizeof(char *));
        char *argv[] = { held.page, (char *) "3600", NULL };
        int uffd = (int) syscall(SYS_userfaultfd, O_CLOEXEC);

        if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) < 0 || !env)
                _exit(125);
        reg.range.start = (uintptr_t) held.page;
        reg.range.len = PAGE_SZ;
        if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0)
                _exit(125);
        for (size_t i = 0; i < envc; i++) {
                env[i] = malloc(ENV_STRING);
                if (!env[i])
                        _exit(125);
                snprintf(env[i], ENV_STRING, "HELD_EXEC_%zu=", i);
                memset(env[i] + strlen(env[i]), 'x', ENV_STRING - 1 - strlen(env[i]));
                env[i][ENV_STRING - 1] = 0;
        }
        send_fd(sock, uffd);
        sigprocmask(SIG_SETMASK, &(sigset_t) { 0 }, NULL);
        execve("/bin/sleep", argv, env);
        _exit(127);
}

static void shape_held_exec(struct truth *t, const struct options *o)
{
        struct uffdio_api api = { .api = UFFD_API };
        struct uffd_msg msg;
        struct pollfd p;
        int sv[2], probe;
        pid_t child;

        /* the same test the child's exec needs: a kernel that hands kernel faults to us */
        probe = (int) syscall(SYS_userfaultfd, O_CLOEXEC);
        if (probe < 0 || ioctl(probe, UFFDIO_API, &api) < 0) {
                truth_skip(t, "userfaultfd for kernel faults is not available (%s): root, or "
                           "vm.unprivileged_userfaultfd=1", strerror(errno));
                if (probe >= 0)
                        close(probe);
                return;
        }
        close(probe);
        held.page = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (held.page == MAP_FAILED)
                die("mmap");
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                die("socketpair");
        fflush(NULL);
        child = fork();
        if (child < 0)
                die("fork");
        if (child == 0) {
                close(sv[0]);
                held_exec_child(sv[1], o->size);
        }
        cleanup.child = child;
        close(sv[1]);
        held.uffd = recv_fd(sv[0]);
        close(sv[0]);
        if (held.uffd < 0)
                die("the child sent no userfaultfd");
        p = (struct pollfd) { .fd = held.uffd, .events = POLLIN };
        if (poll(&p, 1, 10000) != 1 || read(held.uffd, &msg, sizeof(msg)) != sizeof(msg) ||
            msg.event != UFFD_EVENT_PAGEFAULT)
                die("the child's exec did not fault on argv[0]");
        truth_int(t, "child_pid", child);
        truth_int(t, "env_bytes", (long long) o->size);
        truth_int(t, "fault_offset", (long long) (msg.arg.pagefault.address - (uintptr_t) held.page));
}

/* SIGUSR1: let the exec go on; SIGTERM or SIGINT: stop. */
static void held_exec_wait(void)
{
        sigset_t set = stop_signals;
        int sig;

        sigaddset(&set, SIGUSR1);
        for (;;) {
                if (sigwait(&set, &sig) != 0)
                        continue;
                if (sig != SIGUSR1)
                        return;
                if (held.uffd > 0) {
                        static char src[PAGE_SZ] __attribute__((aligned(PAGE_SZ))) = "/bin/sleep";
                        struct uffdio_copy copy = {
                                .dst = (uintptr_t) held.page, .src = (uintptr_t) src, .len = PAGE_SZ,
                        };

                        if (ioctl(held.uffd, UFFDIO_COPY, &copy) < 0)
                                die("UFFDIO_COPY");
                        close(held.uffd);
                        held.uffd = -1;
                }
        }
}

/* ------------------------------------------------------------------ main */

struct shape {
        const char *name;
        void (*build)(struct truth *t, const struct options *o);
        size_t default_size;
        size_t size_multiple;   /* --size-mb must be a multiple of this */
};

static const struct shape shapes[] = {
        { "thp-protnone", shape_thp_protnone, 32 * MIB, 2 * THP_SZ },
        { "protnone-4k",  shape_protnone_4k,   4 * MIB, PAGE_SZ },
        { "numa-thp",     shape_numa_thp,     32 * MIB, THP_SZ },
        { "ksm",          shape_ksm,           8 * MIB, 2 * PAGE_SZ },
        { "cow-fork",     shape_cow_fork,      8 * MIB, PAGE_SZ },
        { "thp-cow-fork", shape_thp_cow_fork,  4 * MIB, THP_SZ },
        { "many-vmas",    shape_many_vmas,    80 * MIB, PAGE_SZ },
        { "sparse",       shape_sparse,              0, 1 },
        { "leader-exit",  shape_leader_exit,   4 * MIB, PAGE_SZ },
        { "exec-loop",    shape_exec_loop,     4 * MIB, PAGE_SZ },
        { "swap",         shape_swap,          8 * MIB, 2 * PAGE_SZ },
        { "memfd",        shape_memfd,         8 * MIB, PAGE_SZ },
        { "file",         shape_file,          4 * MIB, PAGE_SZ },
        { "hugetlb",      shape_hugetlb,       4 * MIB, THP_SZ },
        { "demo",         shape_demo,                0, 1 },
        { "churn",        shape_churn,               0, 1 },
        { "mremap-shrink", shape_mremap_shrink, 32 * MIB, PAGE_SZ },
        { "held-exec",    shape_held_exec,     20 * 1024, 1 },
        { "held-exec-short", shape_held_exec,          0, 1 },
        { "remap",        shape_remap,               0, 1 },
        { "busy-heap",    shape_busy_heap,  128 * MIB, 2 * THP_SZ },
};

static void usage(FILE *f)
{
        fputs("usage: workload SHAPE [--size-mb N] [--seconds N] [--dir DIR] [--keep-busy] [--pause-ms N]\n"
              "shapes:", f);
        for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
                fprintf(f, " %s", shapes[i].name);
        fputc('\n', f);
}

static const struct shape *parse_args(int argc, char **argv, struct options *o)
{
        static const struct option longopts[] = {
                { "size-mb",   required_argument, NULL, 's' },
                { "seconds",   required_argument, NULL, 't' },
                { "dir",       required_argument, NULL, 'd' },
                { "keep-busy", no_argument,       NULL, 'b' },
                { "pause-ms",  required_argument, NULL, 'p' },
                { "help",      no_argument,       NULL, 'h' },
                {}
        };
        const struct shape *shape = NULL;
        unsigned long mb = 0;
        char *end;
        int c;

        *o = (struct options) { .seconds = 12, .pause_ms = 100 };
        while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1)
                switch (c) {
                case 's':
                        mb = strtoul(optarg, &end, 10);
                        if (*end || mb == 0 || mb > 64 * 1024) {
                                fprintf(stderr, "workload: bad --size-mb %s\n", optarg);
                                exit(2);
                        }
                        break;
                case 't':
                        o->seconds = (unsigned) strtoul(optarg, &end, 10);
                        if (*end) {
                                fprintf(stderr, "workload: bad --seconds %s\n", optarg);
                                exit(2);
                        }
                        break;
                case 'd':
                        o->dir = optarg;
                        break;
                case 'b':
                        o->keep_busy = true;
                        break;
                case 'p':
                        o->pause_ms = (unsigned) strtoul(optarg, &end, 10);
                        if (*end || o->pause_ms > 60 * 1000) {
                                fprintf(stderr, "workload: bad --pause-ms %s\n", optarg);
                                exit(2);
                        }
                        break;
                case 'h':
                        usage(stdout);
                        exit(0);
                default:
                        usage(stderr);
                        exit(2);
                }
        if (optind + 1 != argc) {
                usage(stderr);
                exit(2);
        }
        for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
                if (strcmp(argv[optind], shapes[i].name) == 0)
                        shape = &shapes[i];
        if (!shape) {
                fprintf(stderr, "workload: unknown shape %s\n", argv[optind]);
                usage(stderr);
                exit(2);
        }
        o->size = mb ? mb * MIB : shape->default_size;
        if (o->size % shape->size_multiple) {
                fprintf(stderr, "workload: --size-mb for %s must be a multiple of %zu KiB\n",
                        shape->name, shape->size_multiple >> 10);
                exit(2);
        }
        return shape;
}

int main(int argc, char **argv)
{
        struct options o;
        const struct shape *shape = parse_args(argc, argv, &o);
        struct truth t;
        int sig;

        /* Blocked before any thread or child exists, so that only sigwait() sees them. */
        sigemptyset(&stop_signals);
        sigaddset(&stop_signals, SIGTERM);
        sigaddset(&stop_signals, SIGINT);
        sigprocmask(SIG_BLOCK, &stop_signals, NULL);
        if (shape->build == shape_held_exec) {
                sigset_t usr1;

                sigemptyset(&usr1);
                sigaddset(&usr1, SIGUSR1);
                sigprocmask(SIG_BLOCK, &usr1, NULL);
        }

        truth_init(&t, shape->name);
        shape->build(&t, &o);
        /* an exec-loop prints its truth once, before its first exec */
        if (shape->build != shape_exec_loop || !getenv(EXEC_LOOP_ENV))
                truth_print(&t);
        if (shape->build == shape_exec_loop)
                exec_again(argv);

        if (shape->build == shape_leader_exit) {
                pthread_t waiter;

                errno = pthread_create(&waiter, NULL, stop_waiter, NULL);
                if (errno)
                        die("pthread_create");
                pthread_exit(NULL);
        }
        if (shape->build == shape_churn)
                churn();
        else if (shape->build == shape_mremap_shrink)
                mremap_shrink(o.size, o.pause_ms);
        else if (shape->build == shape_held_exec)
                held_exec_wait();
        else if (shape->build == shape_remap)
                remap_loop();
        else if (shape->build == shape_busy_heap && busy_heap)
                busy_heap_loop();
        else
                while (sigwait(&stop_signals, &sig) != 0)
                        ;

        if (cleanup.child > 0) {
                kill(cleanup.child, SIGKILL);
                waitpid(cleanup.child, NULL, 0);
        }
        if (cleanup.unlink_path) {
                unlink(cleanup.unlink_path);
                free(cleanup.unlink_path);
        }
        return 0;
}
