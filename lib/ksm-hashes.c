/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A capture's merge coverage: DIR/proc/PID/smapsaudit-ksm-hashes keeps
 * what the two readings of the process's mergeable pages saw (their
 * hashes, frames and KSM state, ksm_stat and the globals around them), so
 * that a replay judges coverage, and confirms a difference that must
 * outlive a full scan, without the live process.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>

#include "ksm-coverage.h"

#define HASHES_FILE "smapsaudit-ksm-hashes"
#define HASHES_MAGIC "smapsaudit-ksm-hashes 1"

/* ================================================================ writing */

static int write_globals(FILE *f, unsigned i, const struct sa_ksm_globals *g) {
        return fprintf(f, "globals %u have %" PRIx64 " run %" PRId64 " full_scans %" PRId64 " use_zero_pages %" PRId64
                          " merge_across_nodes %" PRId64 " max_page_sharing %" PRId64 " smart_scan %" PRId64
                          " pages_skipped %" PRId64 " cow_ksm %" PRId64 "\n",
                       i, g->sys.have, g->sys.run, g->sys.full_scans, g->sys.use_zero_pages, g->sys.merge_across_nodes,
                       g->sys.max_page_sharing, g->smart_scan, g->pages_skipped, g->cow_ksm);
}

/* DIR, DIR/proc and DIR/proc/PID, as a capture lays them out. */
static int make_pid_dir(const char *dir, pid_t pid) {
        _cleanup_free_ char *proc = NULL, *piddir = NULL;

        if (asprintf(&proc, "%s/proc", dir) < 0 || asprintf(&piddir, "%s/%d", proc, (int) pid) < 0)
                return -ENOMEM;
        if ((mkdir(dir, 0755) < 0 && errno != EEXIST) || (mkdir(proc, 0755) < 0 && errno != EEXIST) ||
            (mkdir(piddir, 0755) < 0 && errno != EEXIST))
                return negative_errno();
        return 0;
}

int sa_ksm_hashes_write(const struct sa_ksm_coverage *c, const char *dir) {
        const struct sa_cov_proc *p = &c->procs[0];
        _cleanup_free_ char *path = NULL, *tmp = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        int fd, r;

        if (asprintf(&path, "%s/proc/%d/%s", dir, (int) p->pid, HASHES_FILE) < 0 ||
            asprintf(&tmp, "%s.tmp", path) < 0)
                return -ENOMEM;
        r = make_pid_dir(dir, p->pid);
        if (r < 0)
                return r;
        /* hashes of another process's memory: for root's eyes only */
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return negative_errno();
        f = fdopen(fd, "w");
        if (!f) {
                close(fd);
                return -ENOMEM;
        }
        fprintf(f, "%s\npid %d\nzero_hash %016" PRIx64 "\nmax_pages %" PRIu64 " capped %d no_pfns %d\n", HASHES_MAGIC,
                (int) p->pid, c->zero_hash, c->max_pages, c->capped, c->no_pfns);
        for (unsigned i = 0; i < 4; i++)
                write_globals(f, i, &c->g[i]);
        for (unsigned i = 0; i < 2; i++) {
                const struct sa_ksm_reading *rd = &p->reading[i];
                if (!rd->done)
                        continue;
                fprintf(f, "reading %u walked %d have %" PRIx64 " rmap_items %" PRId64 " zero_pages %" PRId64
                           " merging_pages %" PRId64 " process_profit %" PRId64 " ksm_ptes %" PRIu64 " zero_ptes %" PRIu64
                           " swap_ptes %" PRIu64 "\n",
                        i + 1, rd->walked, rd->stat.have, rd->stat.rmap_items, rd->stat.zero_pages, rd->stat.merging_pages,
                        rd->stat.process_profit, rd->ksm_pages, rd->zero_pages, rd->swap_pages);
        }
        for (size_t i = 0; i < p->n_vmas; i++)
                fprintf(f, "vma %zu %" PRIx64 " %" PRIx64 " %s %" PRIx64 "\n", i, p->vmas[i].start, p->vmas[i].end,
                        p->vmas[i].perms, p->vmas[i].vmflags);
        for (size_t i = 0; i < c->n_pages; i++) {
                const struct sa_cov_page *q = &c->pages[i];
                fprintf(f, "page %u %" PRIx64 " %u %u %d %d %" PRIx64 " %" PRIx64 " %016" PRIx64 " %016" PRIx64 " %u\n",
                        q->vma, q->addr, q->st1, q->st2, q->read1, q->read2, q->pfn1, q->pfn2, q->h1, q->h2, q->cls);
        }
        if (fflush(f) != 0 || ferror(f))
                return -EIO;
        if (rename(tmp, path) < 0)
                return negative_errno();
        return 0;
}

/* ================================================================ reading */

static int parse_globals(const char *line, struct sa_ksm_globals *g) {
        unsigned long long have;
        long long run, fs, uz, man, mps, ss, skipped, cow;
        unsigned idx;

        if (sscanf(line, "globals %u have %llx run %lld full_scans %lld use_zero_pages %lld merge_across_nodes %lld "
                         "max_page_sharing %lld smart_scan %lld pages_skipped %lld cow_ksm %lld",
                   &idx, &have, &run, &fs, &uz, &man, &mps, &ss, &skipped, &cow) != 10)
                return -EBADMSG;
        *g = (struct sa_ksm_globals) {
                .sys = { .have = have, .run = run, .full_scans = fs, .use_zero_pages = uz, .merge_across_nodes = man,
                         .max_page_sharing = mps },
                .smart_scan = ss, .pages_skipped = skipped, .cow_ksm = cow,
        };
        return (int) idx;
}

/* Reads DIR/proc/PID/smapsaudit-ksm-hashes: -ENOENT if the capture has none. */
int sa_ksm_hashes_load(struct sa_ksm_coverage *c, uint32_t pi) {
        struct sa_cov_proc *p = &c->procs[pi];
        _cleanup_free_ char *buf = NULL;
        char *save = NULL;
        bool magic = false, take = !c->have_g, have_g = false;
        int r;

        r = sa_read_pid_file(c->ctx, p->pid, HASHES_FILE, &buf, NULL);
        if (r < 0)
                return r;
        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                unsigned long long a, b, vf, pfn1, pfn2, h1, h2, addr;
                unsigned vma, st1, st2, cls, idx;
                int rd1, rd2, capped, no_pfns;
                char perms[8];

                if (streq(line, HASHES_MAGIC)) {
                        magic = true;
                        continue;
                }
                if (!magic)
                        return -EBADMSG;
                if (startswith(line, "globals ")) {
                        struct sa_ksm_globals g;
                        int i = parse_globals(line, &g);
                        /* the window of the first file that has one */
                        if (i >= 0 && i < 4 && take) {
                                c->g[i] = g;
                                have_g = true;
                        }
                } else if (sscanf(line, "zero_hash %llx", &a) == 1) {
                        c->zero_hash = a;
                } else if (sscanf(line, "max_pages %llu capped %d no_pfns %d", &a, &capped, &no_pfns) == 3) {
                        c->capped |= capped;
                        c->no_pfns |= no_pfns;
                } else if (sscanf(line, "vma %u %llx %llx %7s %llx", &idx, &a, &b, perms, &vf) == 5) {
                        if (idx != p->n_vmas)
                                return -EBADMSG;
                        r = sa_cov_add_vma(p, a, b, perms, vf);
                        if (r < 0)
                                return r;
                } else if (sscanf(line, "page %u %llx %u %u %d %d %llx %llx %llx %llx %u", &vma, &addr, &st1, &st2, &rd1,
                                  &rd2, &pfn1, &pfn2, &h1, &h2, &cls) == 11) {
                        if (vma >= p->n_vmas || st1 > SA_KSM_PAGE_ZERO || st2 > SA_KSM_PAGE_ZERO)
                                return -EBADMSG;
                        r = sa_cov_push_page(c, &(struct sa_cov_page) {
                                .proc = pi, .vma = vma, .addr = addr, .st1 = (uint8_t) st1, .st2 = (uint8_t) st2,
                                .read1 = rd1, .read2 = rd2, .pfn1 = pfn1, .pfn2 = pfn2, .h1 = h1, .h2 = h2,
                                .cls = cls, .node = -1,
                        });
                        if (r < 0)
                                return r;
                } else if (startswith(line, "reading ")) {
                        struct sa_ksm_reading rd = {};
                        unsigned long long have, ksm, zero, swap;
                        long long rmap, zp, merging, profit;
                        int walked;
                        if (sscanf(line, "reading %u walked %d have %llx rmap_items %lld zero_pages %lld merging_pages %lld "
                                         "process_profit %lld ksm_ptes %llu zero_ptes %llu swap_ptes %llu",
                                   &idx, &walked, &have, &rmap, &zp, &merging, &profit, &ksm, &zero, &swap) == 10 &&
                            idx >= 1 && idx <= 2) {
                                rd = (struct sa_ksm_reading) {
                                        .done = true, .walked = walked, .ksm_pages = ksm, .zero_pages = zero,
                                        .swap_pages = swap,
                                        .stat = { .have = have, .rmap_items = rmap, .zero_pages = zp,
                                                  .merging_pages = merging, .process_profit = profit },
                                };
                                p->reading[idx - 1] = rd;
                        }
                }
        }
        c->have_g |= have_g;
        return magic ? 0 : -EBADMSG;
}

int sa_ksm_capture_readings(struct smapsaudit_ctx *ctx, pid_t pid, struct sa_ksm_capture_reading *ret) {
        struct sa_ksm_coverage *c = NULL;
        int r;

        r = sa_cov_new(ctx, &pid, 1, NULL, &c);
        if (r < 0)
                return r;
        r = sa_ksm_hashes_load(c, 0);
        if (r >= 0 && (!c->procs[0].reading[0].done || !c->have_g))
                r = -ENODATA;
        if (r >= 0) {
                *ret = (struct sa_ksm_capture_reading) {
                        .reading = c->procs[0].reading[0], .before = c->g[0], .after = c->g[1],
                };
        }
        sa_ksm_coverage_free(c);
        return r;
}
