/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A whole audit of a fuzzed proc root: the input becomes one process's
 * files below a private directory, the way `smapsaudit check --proc-root`
 * reads a capture, and smapsaudit_audit_pid() runs on it, then the report
 * is turned into JSON and text.
 *
 * Input: smaps NUL smaps_rollup NUL status NUL numa_maps NUL sched NUL, then
 * 24-byte records (little endian) { vaddr | kpagecount in the low 12 bits,
 * pagemap entry, kpageflags }: the entry is written into the sparse pagemap at
 * vaddr, and a present entry's PFN gets the flags and count in the sparse
 * kpageflags and kpagecount. Missing sections are missing files.
 *
 * A captured root has no PAGEMAP_SCAN: the walk reads every pagemap entry of
 * every VMA, so inputs whose VMAs span more than 256 MiB are skipped (they
 * are slow by design, not wrong).
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "missing.h"
#include "report.h"

#define PID 4242
#define MAX_SPAN (256ULL << 20)
#define MAX_PFN (1ULL << 30)

static const char *const sections[] = { "smaps", "smaps_rollup", "status", "numa_maps", "sched" };

static char root[256];
static struct smapsaudit_ctx *ctx;
static FILE *devnull;

static void path_of(char *buf, size_t size, const char *name) {
        snprintf(buf, size, "%s/%s", root, name);
}

static void put(const char *name, const void *data, size_t len) {
        char p[512];
        int fd;

        path_of(p, sizeof(p), name);
        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                abort();
        if (len && write(fd, data, len) != (ssize_t) len)
                abort();
        close(fd);
}

static void drop(const char *name) {
        char p[512];

        path_of(p, sizeof(p), name);
        unlink(p);
}

static int open_sparse(const char *name) {
        char p[512];
        int fd;

        path_of(p, sizeof(p), name);
        fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0 || ftruncate(fd, 0) < 0)
                abort();
        return fd;
}

static void cleanup(void) {
        static const char *const files[] = {
                "proc/4242/smaps", "proc/4242/smaps_rollup", "proc/4242/status", "proc/4242/numa_maps",
                "proc/4242/sched", "proc/4242/pagemap", "proc/4242/stat", "proc/kpageflags", "proc/kpagecount",
                "proc/sys/kernel/osrelease", "proc/swaps", "sys/devices/system/cpu/possible",
        };
        static const char *const dirs[] = {
                "proc/4242", "proc/sys/kernel", "proc/sys", "proc", "sys/devices/system/cpu",
                "sys/devices/system", "sys/devices", "sys",
        };
        char p[512];

        smapsaudit_ctx_unref(ctx);
        if (devnull)
                fclose(devnull);
        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                drop(files[i]);
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                path_of(p, sizeof(p), dirs[i]);
                rmdir(p);
        }
        rmdir(root);
}

static void quiet(void *userdata, int priority, const char *msg) {
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
        static const char *const dirs[] = {
                "proc", "proc/4242", "proc/sys", "proc/sys/kernel", "sys", "sys/devices",
                "sys/devices/system", "sys/devices/system/cpu",
        };
        static const char stat[] = "4242 (work load) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 "
                                   "123456 27873280 6566 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0\n";
        static const char swaps[] = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";
        /* run-fuzzer and bench/fuzz-long point TMPDIR at a directory they remove */
        const char *tmp = getenv("TMPDIR") ?: (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        char p[512];

        snprintf(root, sizeof(root), "%s/sa-fuzz-replay-XXXXXX", tmp);
        if (!mkdtemp(root))
                abort();
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                path_of(p, sizeof(p), dirs[i]);
                if (mkdir(p, 0700) < 0)
                        abort();
        }
        put("proc/4242/stat", stat, sizeof(stat) - 1);
        put("proc/sys/kernel/osrelease", "6.18.44\n", 8);
        put("proc/swaps", swaps, sizeof(swaps) - 1);
        put("sys/devices/system/cpu/possible", "0-1\n", 4);
        if (smapsaudit_ctx_new(&ctx) < 0)
                abort();
        path_of(p, sizeof(p), "proc");
        if (smapsaudit_ctx_set_proc_root(ctx, p) < 0)
                abort();
        path_of(p, sizeof(p), "sys");
        if (smapsaudit_ctx_set_sys_root(ctx, p) < 0)
                abort();
        smapsaudit_ctx_set_log_fn(ctx, quiet, NULL);
        devnull = fopen("/dev/null", "we");
        if (!devnull)
                abort();
        atexit(cleanup);
        return 0;
}

static uint64_t le64(const uint8_t *p) {
        uint64_t v = 0;

        for (int i = 7; i >= 0; i--)
                v = v << 8 | p[i];
        return v;
}

/* The VMAs of the smaps section, if the walk over them stays small. */
static bool small_enough(const char *smaps) {
        struct sa_smaps s = {};
        uint64_t span = 0;
        bool ok = true;

        if (sa_smaps_parse(smaps, &s) < 0)
                return true;
        for (size_t i = 0; i < s.n && ok; i++) {
                span += s.vmas[i].end - s.vmas[i].start;
                ok = span <= MAX_SPAN && s.vmas[i].end - s.vmas[i].start <= MAX_SPAN;
        }
        sa_smaps_done(&s);
        return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const struct smapsaudit_audit_opts opts = { .max_passes = 2 };
        struct smapsaudit_report *report = NULL;
        size_t off = 0, i;
        int pm, kf, kc, r;
        char name[64];

        for (i = 0; i < ELEMENTSOF(sections); i++) {
                const uint8_t *nul = off < size ? memchr(data + off, 0, size - off) : NULL;
                size_t len = nul ? (size_t) (nul - (data + off)) : size - off;

                snprintf(name, sizeof(name), "proc/4242/%s", sections[i]);
                if (off > size || (off == size && i > 0)) {
                        drop(name);
                        continue;
                }
                if (i == 0) {
                        char *smaps = fuzz_string(data + off, len);
                        bool ok = small_enough(smaps);
                        free(smaps);
                        if (!ok)
                                return 0;
                }
                put(name, data + off, len);
                off += len + 1;
        }

        pm = open_sparse("proc/4242/pagemap");
        kf = open_sparse("proc/kpageflags");
        kc = open_sparse("proc/kpagecount");
        for (; off + 24 <= size; off += 24) {
                uint64_t va = le64(data + off), pme = le64(data + off + 8), kpf = le64(data + off + 16);
                uint64_t pfn = pme & PM_PFN_MASK, kpc = va & 0xfff;

                va &= (1ULL << 47) - 1;
                (void) !pwrite(pm, &pme, sizeof(pme), (off_t) (va / SA_PAGE_SIZE * 8));
                if ((pme & PM_PRESENT) && pfn < MAX_PFN) {
                        (void) !pwrite(kf, &kpf, sizeof(kpf), (off_t) (pfn * 8));
                        (void) !pwrite(kc, &kpc, sizeof(kpc), (off_t) (pfn * 8));
                }
        }
        close(pm);
        close(kf);
        close(kc);

        r = smapsaudit_audit_pid(ctx, PID, &opts, &report);
        if (r >= 0) {
                char *json = NULL;

                fuzz_assert(report);
                if (smapsaudit_report_to_json(report, 0, &json) >= 0) {
                        struct smapsaudit_report *again = NULL;
                        fuzz_assert(json);
                        if (smapsaudit_report_from_json(json, &again) >= 0)
                                smapsaudit_report_unref(again);
                        free(json);
                }
                (void) smapsaudit_report_print_text(report, devnull, SMAPSAUDIT_REPORT_ALL_VMAS);
                smapsaudit_report_unref(report);
        }
        return 0;
}
