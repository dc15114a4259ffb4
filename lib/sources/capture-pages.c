/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The pages of a capture: pagemap copied where the process maps anything,
 * and the kpageflags and kpagecount entries of the frames it maps, all as
 * sparse files at their own offsets, so that the replay reads them as it
 * would read the kernel's.
 */
#include <fcntl.h>

#include "capture.h"
#include "capture-pages.h"
#include "missing.h"
#include "procfs.h"
#include "walk.h"

#define CHUNK 32768u

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

static int frames_add(struct sa_capture_frames *f, uint64_t pfn, uint64_t n) {
        struct frame_range *nv;

        if (f->n > 0 && f->v[f->n - 1].pfn + f->v[f->n - 1].n == pfn && f->v[f->n - 1].vma == f->vma) {
                f->v[f->n - 1].n += n;
                return 0;
        }
        if (f->n == f->allocated) {
                size_t want = MAX(f->allocated * 2, (size_t) 1024);
                nv = reallocarray(f->v, want, sizeof(*nv));
                if (!nv)
                        return -ENOMEM;
                f->v = nv;
                f->allocated = want;
        }
        f->v[f->n++] = (struct frame_range) { pfn, n, f->vma };
        return 0;
}

/* The kpageflags and kpagecount entries of n frames from pfn, into the capture; flags left in flags[]. */
static int copy_run(struct smapsaudit_ctx *ctx, uint64_t pfn, size_t n, int kpf_out, int kpc_out,
                    uint64_t *flags, uint64_t *counts, struct sa_capture_frames *done) {
        off_t off = (off_t) (pfn * sizeof(uint64_t));
        ssize_t a, b;
        int r;

        a = sa_kpage_pread(ctx, SA_KPAGEFLAGS, flags, n * sizeof(uint64_t), off);
        b = sa_kpage_pread(ctx, SA_KPAGECOUNT, counts, n * sizeof(uint64_t), off);
        if (a <= 0 || b <= 0)
                return 0;
        r = pwrite_all(kpf_out, flags, (size_t) a, off);
        if (r >= 0)
                r = pwrite_all(kpc_out, counts, (size_t) b, off);
        if (r >= 0)
                r = frames_add(done, pfn, (uint64_t) MIN(a, b) / sizeof(uint64_t));
        return r < 0 ? r : (int) ((size_t) a / sizeof(uint64_t));
}

/*
 * The frames the pagemap entries pme[0..n) map: each run of consecutive
 * PFNs in one read per file (a syscall per page would cost more than the
 * walk), and for a page of a large folio the whole 2 MiB-aligned block
 * around it, so that the folio's head and layout come along (the replay
 * has no PAGEMAP_SCAN and infers PMD mappings from them). flags and
 * counts hold n entries.
 */
static int copy_frames(struct smapsaudit_ctx *ctx, const uint64_t *pme, size_t n, int kpf_out, int kpc_out,
                       uint64_t *flags, uint64_t *counts, struct sa_capture_frames *done) {
        uint64_t bflags[SA_PMD_PAGES], bcounts[SA_PMD_PAGES];
        int r;

        r = sa_kpage_open(ctx);
        if (r < 0)
                return r;
        for (size_t i = 0, j; i < n; i = j) {
                uint64_t pfn = pme[i] & PM_PFN_MASK;
                int got;

                j = i + 1;
                if (!(pme[i] & PM_PRESENT) || pfn == 0)
                        continue;
                while (j < n && (pme[j] & PM_PRESENT) && (pme[j] & PM_PFN_MASK) == pfn + (j - i))
                        j++;
                got = copy_run(ctx, pfn, j - i, kpf_out, kpc_out, flags, counts, done);
                if (got < 0)
                        return got;
                for (size_t k = 0; k < (size_t) got; k++) {
                        uint64_t block = (pfn + k) / SA_PMD_PAGES;

                        if (!(flags[k] & (KPF(KPF_COMPOUND_HEAD) | KPF(KPF_COMPOUND_TAIL))) || block == done->last_block)
                                continue;
                        done->last_block = block;
                        r = copy_run(ctx, block * SA_PMD_PAGES, SA_PMD_PAGES, kpf_out, kpc_out, bflags, bcounts, done);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* The capture's pagemap, kpageflags and kpagecount, open for writing; a chunk of pagemap and two of frames. */
struct page_files {
        int in, out, kpf, kpc;
        uint64_t *buf;
};

static void page_files_done(struct page_files *f) {
        closep(&f->in);
        closep(&f->out);
        closep(&f->kpf);
        closep(&f->kpc);
        free(f->buf);
}

/* create: new files, the first copy of an attempt; else the same files, to copy some VMAs again. */
static int page_files_open(struct smapsaudit_ctx *ctx, pid_t from, pid_t pid, int dfd, bool create,
                           struct page_files *f) {
        int (*open_fn)(int, const char *, int) = create ? sa_capture_create : sa_capture_open;
        _cleanup_free_ char *name = NULL;

        *f = (struct page_files) { -1, -1, -1, -1, malloc(3 * CHUNK * sizeof(uint64_t)) };
        if (!f->buf || asprintf(&name, "proc/%d/pagemap", (int) pid) < 0)
                return -ENOMEM;
        f->in = sa_open_pid_file(ctx, from, "pagemap", O_RDONLY);
        if (f->in < 0)
                return f->in;
        f->out = open_fn(dfd, name, O_WRONLY);
        f->kpf = open_fn(dfd, "proc/kpageflags", O_WRONLY);
        f->kpc = open_fn(dfd, "proc/kpagecount", O_WRONLY);
        return f->out < 0 ? f->out : f->kpf < 0 ? f->kpf : f->kpc < 0 ? f->kpc : 0;
}

static int copy_vma_pages(struct smapsaudit_ctx *ctx, struct page_files *f, const struct sa_smaps_vma *vma,
                          struct sa_capture_frames *done) {
        int r;

        for (uint64_t a = vma->start; a < vma->end;) {
                size_t n = (size_t) MIN((uint64_t) CHUNK, (vma->end - a) / SA_PAGE_SIZE);
                off_t off = (off_t) (a / SA_PAGE_SIZE * sizeof(uint64_t));
                ssize_t got = sa_pread_full(f->in, f->buf, n * sizeof(uint64_t), off);
                bool any = false;

                if (got < 0)
                        return (int) got;
                n = (size_t) got / sizeof(uint64_t);
                for (size_t i = 0; i < n && !any; i++)
                        any = f->buf[i] != 0;
                if (any) {
                        r = pwrite_all(f->out, f->buf, n * sizeof(uint64_t), off);
                        if (r < 0)
                                return r;
                        r = copy_frames(ctx, f->buf, n, f->kpf, f->kpc, f->buf + CHUNK, f->buf + 2 * CHUNK, done);
                        if (r < 0 && r != -EACCES && r != -EPERM)
                                return r;
                }
                if (n == 0)
                        break;
                a += n * SA_PAGE_SIZE;
        }
        return 0;
}

/* every VMA of s, or (copy_again) those of s that moved[] names, over what the capture holds */
int sa_capture_pages(struct smapsaudit_ctx *ctx, pid_t from, pid_t pid, int dfd, const struct sa_smaps *s,
                     const bool *copy_again, struct sa_capture_frames *done) {
        _cleanup_(page_files_done) struct page_files f = { -1, -1, -1, -1, NULL };
        uint64_t top = 0;
        int r;

        if (!copy_again) {
                done->n = 0;
                done->last_block = UINT64_MAX;
        }
        r = page_files_open(ctx, from, pid, dfd, !copy_again, &f);
        if (r < 0)
                return r;
        for (size_t v = 0; v < s->n; v++) {
                const struct sa_smaps_vma *vma = &s->vmas[v];
                if (vma->start >= 0x800000000000ULL)
                        continue;
                top = MAX(top, vma->end);
                if (copy_again && !copy_again[v])
                        continue;
                done->vma = v;
                done->last_block = UINT64_MAX;
                r = copy_vma_pages(ctx, &f, vma, done);
                if (r < 0)
                        return r;
        }
        /* Only chunks with entries are written: a hole up to the last VMA's end says the
         * rest is unpopulated, where a file that ends before a VMA does was cut short. */
        if (!copy_again && ftruncate(f.out, (off_t) (top / SA_PAGE_SIZE * sizeof(uint64_t))) < 0)
                return negative_errno();
        return 0;
}

/*
 * The mapcounts copied still hold: a process elsewhere that mapped a
 * shared page while the frames were copied and left before smaps was read
 * again would otherwise be frozen into the capture. The VMAs whose frames
 * moved are marked in moved[] (counted in the return value), to be copied
 * again.
 */
int sa_capture_frames_settled(struct smapsaudit_ctx *ctx, int dfd, const struct sa_capture_frames *f, bool *moved) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ uint64_t *now = NULL;
        uint64_t *then;
        int n_moved = 0;

        if (f->n == 0)
                return 0;
        fd = sa_capture_open(dfd, "proc/kpagecount", O_RDONLY);
        if (fd < 0)
                return fd;
        now = malloc(2 * CHUNK * sizeof(uint64_t));
        if (!now)
                return -ENOMEM;
        then = now + CHUNK;
        for (size_t i = 0; i < f->n; i++)
                for (uint64_t done = 0; done < f->v[i].n && !moved[f->v[i].vma];) {
                        size_t n = (size_t) MIN((uint64_t) CHUNK, f->v[i].n - done);
                        off_t off = (off_t) ((f->v[i].pfn + done) * sizeof(uint64_t));
                        ssize_t x = sa_kpage_pread(ctx, SA_KPAGECOUNT, now, n * sizeof(uint64_t), off);
                        ssize_t y = sa_pread_full(fd, then, n * sizeof(uint64_t), off);

                        if (x != y || (x > 0 && memcmp(now, then, (size_t) x) != 0)) {
                                moved[f->v[i].vma] = true;
                                n_moved++;
                        }
                        done += n;
                }
        return n_moved;
}
