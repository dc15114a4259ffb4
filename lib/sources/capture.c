/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Capture: the accounting state of one process, laid out like /proc and
 * /sys below a directory, so that an audit with proc root DIR/proc and sys
 * root DIR/sys reproduces it offline (replaying a kernel bug on any
 * machine). pagemap, kpageflags and kpagecount become sparse files that
 * hold only the entries the process maps.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "capture.h"
#include "ctx.h"
#include "judge.h"
#include "missing.h"
#include "procfs.h"
#include "views.h"

#define CHUNK 32768u

static int write_file(int dfd, const char *name, const char *data, size_t len) {
        _cleanup_close_ int fd = -1;

        fd = sa_capture_create(dfd, name, O_WRONLY);
        if (fd < 0)
                return fd;
        while (len > 0) {
                ssize_t n = write(fd, data, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                data += n;
                len -= (size_t) n;
        }
        return 0;
}

/* Copies src (absolute) to name below dfd; a missing optional file is skipped. */
static int copy_file(const char *src, int dfd, const char *name) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r;

        r = sa_read_file(src, &buf, &len);
        if (r == -ENOENT || r == -EACCES || r == -EPERM || r == -EINVAL)
                return 0;
        if (r < 0)
                return r;
        return write_file(dfd, name, buf, len);
}

/* /proc/FROM/NAME to proc/PID/NAME of the capture: FROM is PID, or the thread showing its mm (sa_mm_pid) */
static int copy_proc(struct smapsaudit_ctx *ctx, pid_t from, pid_t pid, int dfd, const char *name) {
        _cleanup_free_ char *src = NULL, *dst = NULL;

        if (sa_proc_path(ctx, from, name, &src) < 0)
                return -ENOMEM;
        if (pid > 0 ? asprintf(&dst, "proc/%d/%s", (int) pid, name) < 0 : asprintf(&dst, "proc/%s", name) < 0)
                return -ENOMEM;
        return copy_file(src, dfd, dst);
}

static int copy_sys(struct smapsaudit_ctx *ctx, int dfd, const char *name) {
        _cleanup_free_ char *src = NULL, *dst = NULL;

        if (sa_sys_path(ctx, name, &src) < 0 || asprintf(&dst, "sys/%s", name) < 0)
                return -ENOMEM;
        return copy_file(src, dfd, dst);
}

/* The node → memory block links, as empty directories: only names matter. */
static int copy_node_map(struct smapsaudit_ctx *ctx, int dfd) {
        _cleanup_free_ char *src = NULL;
        DIR *d, *nd;
        struct dirent *de, *me;
        int r = 0;

        if (sa_sys_path(ctx, "devices/system/node", &src) < 0)
                return -ENOMEM;
        d = opendir(src);
        if (!d)
                return 0;
        while (r >= 0 && (de = readdir(d))) {
                _cleanup_free_ char *sub = NULL;
                if (strncmp(de->d_name, "node", 4) != 0 || asprintf(&sub, "%s/%s", src, de->d_name) < 0)
                        continue;
                nd = opendir(sub);
                if (!nd)
                        continue;
                while (r >= 0 && (me = readdir(nd))) {
                        _cleanup_free_ char *dst = NULL;
                        if (strncmp(me->d_name, "memory", 6) != 0 || !me->d_name[6] ||
                            strspn(me->d_name + 6, "0123456789") != strlen(me->d_name + 6))
                                continue;
                        if (asprintf(&dst, "sys/devices/system/node/%s/%s", de->d_name, me->d_name) < 0)
                                r = -ENOMEM;
                        else
                                r = sa_capture_mkdir(dfd, dst);
                }
                closedir(nd);
                if (r >= 0) {
                        _cleanup_free_ char *nodedir = NULL;
                        if (asprintf(&nodedir, "sys/devices/system/node/%s", de->d_name) < 0)
                                r = -ENOMEM;
                        else
                                r = sa_capture_mkdir(dfd, nodedir);
                }
        }
        closedir(d);
        return r;
}

static int pwrite_all(int fd, const void *buf, size_t len, off_t off) {
        while (len > 0) {
                ssize_t n = pwrite(fd, buf, len, off);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                buf = (const char *) buf + n;
                len -= (size_t) n;
                off += n;
        }
        return 0;
}

struct blocks {
        uint64_t *v;
        size_t n;
        uint64_t last;
};

static int blocks_add(struct blocks *b, uint64_t block) {
        uint64_t *nv;

        if (b->n % 1024 == 0) {
                nv = realloc(b->v, (b->n + 1024) * sizeof(*nv));
                if (!nv)
                        return -ENOMEM;
                b->v = nv;
        }
        b->v[b->n++] = block;
        b->last = block;
        return 0;
}

/* The frames of a 2 MiB-aligned block around each mapped PFN: a THP's head comes along. */
static int copy_frames(struct smapsaudit_ctx *ctx, const uint64_t *pme, size_t n, int kpf_out, int kpc_out,
                       struct blocks *done) {
        uint64_t flags[SA_PMD_PAGES], counts[SA_PMD_PAGES];
        int r;

        r = sa_kpage_open(ctx);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                uint64_t pfn = pme[i] & PM_PFN_MASK, block = pfn / SA_PMD_PAGES;
                off_t off = (off_t) (block * SA_PMD_PAGES * sizeof(uint64_t));
                ssize_t a, b;

                if (!(pme[i] & PM_PRESENT) || pfn == 0 || block == done->last)
                        continue;
                r = blocks_add(done, block);
                if (r < 0)
                        return r;
                a = sa_kpage_pread(ctx, SA_KPAGEFLAGS, flags, sizeof(flags), off);
                b = sa_kpage_pread(ctx, SA_KPAGECOUNT, counts, sizeof(counts), off);
                if (a <= 0 || b <= 0)
                        continue;
                r = pwrite_all(kpf_out, flags, (size_t) a, off);
                if (r >= 0)
                        r = pwrite_all(kpc_out, counts, (size_t) b, off);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int capture_pages(struct smapsaudit_ctx *ctx, pid_t from, pid_t pid, int dfd, const struct sa_smaps *s,
                         struct blocks *done) {
        _cleanup_close_ int in = -1, out = -1, kpf = -1, kpc = -1;
        _cleanup_free_ uint64_t *buf = malloc(CHUNK * sizeof(uint64_t));
        _cleanup_free_ char *name = NULL;
        uint64_t top = 0;
        int r;

        if (!buf)
                return -ENOMEM;
        done->n = 0;
        done->last = UINT64_MAX;
        in = sa_open_pid_file(ctx, from, "pagemap", O_RDONLY);
        if (in < 0)
                return in;
        if (asprintf(&name, "proc/%d/pagemap", (int) pid) < 0)
                return -ENOMEM;
        out = sa_capture_create(dfd, name, O_WRONLY);
        kpf = sa_capture_create(dfd, "proc/kpageflags", O_WRONLY);
        kpc = sa_capture_create(dfd, "proc/kpagecount", O_WRONLY);
        if (out < 0 || kpf < 0 || kpc < 0)
                return out < 0 ? out : kpf < 0 ? kpf : kpc;

        for (size_t v = 0; v < s->n; v++) {
                const struct sa_smaps_vma *vma = &s->vmas[v];
                if (vma->start >= 0x800000000000ULL)
                        continue;
                top = MAX(top, vma->end);
                for (uint64_t a = vma->start; a < vma->end;) {
                        size_t n = (size_t) MIN((uint64_t) CHUNK, (vma->end - a) / SA_PAGE_SIZE);
                        off_t off = (off_t) (a / SA_PAGE_SIZE * sizeof(uint64_t));
                        ssize_t got = sa_pread_full(in, buf, n * sizeof(uint64_t), off);
                        bool any = false;

                        if (got < 0)
                                return (int) got;
                        n = (size_t) got / sizeof(uint64_t);
                        for (size_t i = 0; i < n && !any; i++)
                                any = buf[i] != 0;
                        if (any) {
                                r = pwrite_all(out, buf, n * sizeof(uint64_t), off);
                                if (r < 0)
                                        return r;
                                r = copy_frames(ctx, buf, n, kpf, kpc, done);
                                if (r < 0 && r != -EACCES && r != -EPERM)
                                        return r;
                        }
                        if (n == 0)
                                break;
                        a += n * SA_PAGE_SIZE;
                }
        }
        /* Only chunks with entries are written: a hole up to the last VMA's end says the
         * rest is unpopulated, where a file that ends before a VMA does was cut short. */
        if (ftruncate(out, (off_t) (top / SA_PAGE_SIZE * sizeof(uint64_t))) < 0)
                return negative_errno();
        return 0;
}

/*
 * The mapcounts copied still hold: a process elsewhere that mapped a
 * shared page while the frames were copied and left before smaps was read
 * again would otherwise be frozen into the capture.
 */
static int frames_settled(struct smapsaudit_ctx *ctx, int dfd, const struct blocks *b) {
        _cleanup_close_ int fd = -1;
        uint64_t now[SA_PMD_PAGES], then[SA_PMD_PAGES];

        if (b->n == 0)
                return 1;
        fd = sa_capture_open(dfd, "proc/kpagecount", O_RDONLY);
        if (fd < 0)
                return fd;
        for (size_t i = 0; i < b->n; i++) {
                off_t off = (off_t) (b->v[i] * SA_PMD_PAGES * sizeof(uint64_t));
                ssize_t x = sa_kpage_pread(ctx, SA_KPAGECOUNT, now, sizeof(now), off);
                ssize_t y = sa_pread_full(fd, then, sizeof(then), off);
                if (x != y || (x > 0 && memcmp(now, then, (size_t) x) != 0))
                        return 0;
        }
        return 1;
}

static bool smaps_settled(const struct sa_smaps *a, const struct sa_smaps *b) {
        const uint64_t exact = CORE_FIELDS | MAPCOUNT_FIELDS;

        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++)
                if (!sa_smaps_core_stable(&a->vmas[i], &b->vmas[i]) ||
                    (sa_stable_fields(&a->vmas[i], &b->vmas[i]) & exact) != exact)
                        return false;
        return true;
}

static int read_smaps(struct smapsaudit_ctx *ctx, pid_t pid, char **buf, struct sa_smaps *s) {
        int r;

        free(*buf);
        *buf = NULL;
        sa_smaps_done(s);
        r = sa_read_pid_file(ctx, pid, sa_pid_files[SA_VIEW_SMAPS].name, buf, NULL);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        return sa_smaps_parse(*buf, s);
}

/* A view read inside the settled window, or read now when none settled. */
static int write_view(struct smapsaudit_ctx *ctx, pid_t from, pid_t pid, int dfd, const char *file,
                      const char *buf) {
        _cleanup_free_ char *name = NULL;

        if (!buf)
                return copy_proc(ctx, from, pid, dfd, file);
        if (asprintf(&name, "proc/%d/%s", (int) pid, file) < 0)
                return -ENOMEM;
        return write_file(dfd, name, buf, strlen(buf));
}

/* A capture is replayed without a second chance, so it must be a settled snapshot. */
#define CAPTURE_ATTEMPTS 10

static int capture_once(struct smapsaudit_ctx *ctx, pid_t pid, int dfd) {
        static const char *const proc_files[] = {
                "vmstat", "swaps", "meminfo", "sys/kernel/osrelease", "sys/kernel/numa_balancing", "config.gz",
        };
        static const char *const sys_files[] = {
                "devices/system/memory/block_size_bytes", "devices/system/cpu/possible",
                "kernel/mm/transparent_hugepage/enabled", "kernel/mm/ksm/run", "kernel/mm/ksm/pages_to_scan",
                "kernel/mm/ksm/sleep_millisecs", "kernel/mm/ksm/max_page_sharing", "kernel/mm/ksm/use_zero_pages",
                "kernel/mm/ksm/merge_across_nodes", "kernel/mm/ksm/pages_shared", "kernel/mm/ksm/pages_sharing",
                "kernel/mm/ksm/pages_unshared", "kernel/mm/ksm/pages_volatile", "kernel/mm/ksm/pages_scanned",
                "kernel/mm/ksm/full_scans", "kernel/mm/ksm/stable_node_chains", "kernel/mm/ksm/stable_node_dups",
                "kernel/mm/ksm/ksm_zero_pages", "kernel/mm/ksm/general_profit",
        };
        _cleanup_free_ char *before = NULL, *after = NULL, *piddir = NULL, *name = NULL;
        _cleanup_free_ char *check = NULL;
        char *settled[_SA_VIEW_MAX] = {}; /* the views read in the settled window, beside its smaps */
        struct sa_smaps a = {}, b = {}, c = {};
        struct sa_population p0, p1;
        struct blocks blocks = {};
        pid_t mm = sa_mm_pid(ctx, pid);
        unsigned attempt;
        int r;

        if (asprintf(&piddir, "proc/%d", (int) pid) < 0 || asprintf(&name, "proc/%d/smaps", (int) pid) < 0)
                return -ENOMEM;
        r = sa_capture_mkdir(dfd, piddir);
        if (r < 0)
                return r;
        r = read_smaps(ctx, mm, &before, &a);
        for (attempt = 0; r >= 0 && attempt < CAPTURE_ATTEMPTS; attempt++) {
                sa_read_population(ctx, &p0);
                r = capture_pages(ctx, mm, pid, dfd, &a, &blocks);
                if (r < 0)
                        break;
                r = read_smaps(ctx, mm, &after, &b);
                if (r < 0)
                        break;
                if (smaps_settled(&a, &b)) {
                        /* the rollup and status must belong to the same settled state */
                        for (size_t v = 0; v < _SA_VIEW_MAX; v++)
                                if (sa_pid_files[v].flags & SA_VIEW_SETTLED) {
                                        free(TAKE_PTR(settled[v]));
                                        (void) sa_read_pid_file(ctx, mm, sa_pid_files[v].name, &settled[v], NULL);
                                }
                        r = read_smaps(ctx, mm, &check, &c);
                        if (r < 0)
                                break;
                        sa_read_population(ctx, &p1);
                        /* a process that came or went meanwhile may have mapped the shared pages in between */
                        if (smaps_settled(&b, &c) && p0.forks == p1.forks && p0.tasks == p1.tasks) {
                                r = frames_settled(ctx, dfd, &blocks);
                                if (r != 0)
                                        break;
                        }
                }
                /* the process moved under us: the later read opens the next try */
                free(before);
                before = TAKE_PTR(after);
                sa_smaps_done(&a);
                a = b;
                memset(&b, 0, sizeof(b));
        }
        if (r >= 0 && attempt == CAPTURE_ATTEMPTS) {
                sa_warn(ctx, "PID %d kept changing during %u capture attempts: the capture may not replay cleanly",
                        (int) pid, CAPTURE_ATTEMPTS);
                after = TAKE_PTR(before);
        }
        if (r >= 0)
                r = write_file(dfd, name, after, strlen(after));
        for (size_t v = 0; r >= 0 && v < _SA_VIEW_MAX; v++) {
                const struct sa_pid_file *f = &sa_pid_files[v];

                if (v == SA_VIEW_SMAPS)
                        continue;
                if (f->flags & SA_VIEW_SETTLED)
                        r = write_view(ctx, mm, pid, dfd, f->name, settled[v]);
                else
                        /* the leader names the process and holds its start time */
                        r = copy_proc(ctx, (f->flags & SA_VIEW_LEADER) ? pid : mm, pid, dfd, f->name);
        }
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(proc_files); i++)
                r = copy_proc(ctx, 0, 0, dfd, proc_files[i]);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(sys_files); i++)
                r = copy_sys(ctx, dfd, sys_files[i]);
        if (r >= 0)
                r = copy_node_map(ctx, dfd);
        sa_smaps_done(&a);
        sa_smaps_done(&b);
        sa_smaps_done(&c);
        free(blocks.v);
        for (size_t v = 0; v < _SA_VIEW_MAX; v++)
                free(settled[v]);
        return r < 0 ? r : 0;
}

/*
 * Whether the capture disagrees with itself on a mapcount field: a
 * process elsewhere mapped a shared page while its frames were copied and
 * unmapped it before smaps was read again. A real accounting bug does not
 * go away on the next try; such a race does.
 */
static int capture_races(struct smapsaudit_ctx *ctx, pid_t pid, const char *dir) {
        _cleanup_free_ char *proc = NULL, *sys = NULL;
        struct smapsaudit_ctx *replay = NULL;
        struct smapsaudit_report *rep = NULL;
        struct smapsaudit_audit_opts opts = { .max_passes = 2 };
        int r, races = 0;

        if (asprintf(&proc, "%s/proc", dir) < 0 || asprintf(&sys, "%s/sys", dir) < 0)
                return -ENOMEM;
        r = smapsaudit_ctx_new(&replay);
        if (r < 0)
                return r;
        sa_ctx_copy_log(replay, ctx);
        r = smapsaudit_ctx_set_proc_root(replay, proc);
        if (r >= 0)
                r = smapsaudit_ctx_set_sys_root(replay, sys);
        if (r >= 0)
                r = smapsaudit_audit_pid(replay, pid, &opts, &rep);
        for (size_t i = 0; r >= 0 && i < rep->n_findings; i++) {
                int f = sa_field_from_name(rep->findings[i].field);
                if (f >= 0 && ((MAPCOUNT_FIELDS & (1ULL << f)) || sa_fields[f].unit == SA_UNIT_PSS))
                        races++;
        }
        smapsaudit_report_unref(rep);
        smapsaudit_ctx_unref(replay);
        return r < 0 ? r : races;
}

#define CAPTURE_VERIFY_ATTEMPTS 5

_export_ int smapsaudit_capture_pid(struct smapsaudit_ctx *ctx, pid_t pid, const char *dir) {
        _cleanup_close_ int dfd = -1;
        int r;

        dfd = sa_capture_dir_open(dir, pid);
        if (dfd == -ENOTEMPTY)
                return sa_error(ctx, dfd, "%s is not empty: a capture goes into a new directory", dir);
        if (dfd == -EPERM)
                return sa_error(ctx, dfd, "%s is another user's directory, or others may write to it: a capture goes "
                                "into a new directory", dir);
        if (dfd < 0)
                return sa_error(ctx, dfd, "cannot make the capture directory %s: %s", dir, strerror(-dfd));
        for (unsigned i = 0; i < CAPTURE_VERIFY_ATTEMPTS; i++) {
                r = capture_once(ctx, pid, dfd);
                if (r < 0)
                        return r;
                r = capture_races(ctx, pid, dir);
                if (r <= 0)
                        return r;
                sa_debug(ctx, "PID %d: capture %u raced with mapcount changes elsewhere, taking it again", (int) pid, i + 1);
                /* let a burst of process starts and exits elsewhere pass */
                usleep(20000 * (i + 1));
        }
        sa_warn(ctx, "PID %d: shared pages kept changing mapcount; Pss in the capture may not replay exactly", (int) pid);
        return 0;
}
