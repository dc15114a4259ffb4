/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A capture's merge coverage: DIR/proc/PID/smapsaudit-ksm-hashes keeps
 * what the two readings of the process's mergeable pages saw (their
 * hashes, frames and KSM state, ksm_stat and the globals around them), so
 * that a replay judges coverage, and confirms a difference that must
 * outlive a full scan, without the live process. Text, one record a line:
 *
 *   smapsaudit-ksm-hashes 1
 *   pid PID
 *   zero_hash HEX
 *   max_pages N capped 0|1 no_pfns 0|1
 *   globals 0..3 have HEX run N full_scans N ...    (the keys of globals_keys[])
 *   reading 1..2 walked 0|1 have HEX ...           (the keys of reading_keys[])
 *   vma INDEX START END PERMS VMFLAGS               (hex addresses and flags)
 *   page VMA ADDR ST1 ST2 READ1 READ2 PFN1 PFN2 H1 H2 CLASS
 *
 * Tests edit the "globals" and "reading" lines as key/value pairs; the
 * writer and the reader share the key tables below, so the two cannot
 * drift apart. Lines are parsed with strto*() on words split in place:
 * sscanf() would strlen() the rest of the buffer on every call.
 */
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <sys/stat.h>

#include "capture.h"
#include "ksm-coverage.h"
#include "parse-number.h"
#include "procfs.h"

#define HASHES_MAGIC "smapsaudit-ksm-hashes 1"
#define MAX_WORDS 24

enum value_type {
        V_HEX,    /* uint64_t, printed in hex */
        V_I64,    /* int64_t */
        V_U64,    /* uint64_t */
        V_BOOL,   /* bool, printed 0 or 1 */
};

struct key {
        const char *name;
        size_t offset;
        enum value_type type;
};

#define G(name, field, type) { name, offsetof(struct sa_ksm_globals, field), type }
static const struct key globals_keys[] = {
        G("have", sys.have, V_HEX), G("run", sys.run, V_I64), G("full_scans", sys.full_scans, V_I64),
        G("use_zero_pages", sys.use_zero_pages, V_I64), G("merge_across_nodes", sys.merge_across_nodes, V_I64),
        G("max_page_sharing", sys.max_page_sharing, V_I64), G("smart_scan", smart_scan, V_I64),
        G("pages_skipped", pages_skipped, V_I64), G("cow_ksm", cow_ksm, V_I64),
};
#undef G

#define R(name, field, type) { name, offsetof(struct sa_ksm_reading, field), type }
static const struct key reading_keys[] = {
        R("walked", walked, V_BOOL), R("have", stat.have, V_HEX), R("rmap_items", stat.rmap_items, V_I64),
        R("zero_pages", stat.zero_pages, V_I64), R("merging_pages", stat.merging_pages, V_I64),
        R("process_profit", stat.process_profit, V_I64), R("ksm_ptes", ksm_pages, V_U64),
        R("zero_ptes", zero_pages, V_U64), R("swap_ptes", swap_pages, V_U64),
};
#undef R

/* ================================================================ writing */

/* " key value" for every key: a "globals" or "reading" line's pairs. */
static void write_pairs(FILE *f, const struct key *keys, size_t n, const void *src) {
        for (size_t i = 0; i < n; i++) {
                const void *v = (const char *) src + keys[i].offset;

                switch (keys[i].type) {
                case V_HEX:
                        fprintf(f, " %s %" PRIx64, keys[i].name, *(const uint64_t *) v);
                        break;
                case V_I64:
                        fprintf(f, " %s %" PRId64, keys[i].name, *(const int64_t *) v);
                        break;
                case V_U64:
                        fprintf(f, " %s %" PRIu64, keys[i].name, *(const uint64_t *) v);
                        break;
                case V_BOOL:
                        fprintf(f, " %s %d", keys[i].name, *(const bool *) v);
                        break;
                }
        }
        fputc('\n', f);
}

int sa_ksm_hashes_write(const struct sa_ksm_coverage *c, const char *dir) {
        const struct sa_cov_proc *p = &c->procs[0];
        _cleanup_free_ char *path = NULL, *tmp = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_close_ int dfd = -1;
        int fd;

        if (asprintf(&path, "proc/%d/%s", (int) p->pid, SA_KSM_HASHES_FILE) < 0 ||
            asprintf(&tmp, "%s.tmp", path) < 0)
                return -ENOMEM;
        dfd = sa_capture_dir_open(dir, p->pid);
        if (dfd < 0)
                return dfd;
        /* hashes of another process's memory: for root's eyes only */
        fd = sa_capture_create(dfd, tmp, O_WRONLY);
        if (fd < 0)
                return fd;
        f = fdopen(fd, "w");
        if (!f) {
                close(fd);
                return -ENOMEM;
        }
        fprintf(f, "%s\npid %d\nzero_hash %016" PRIx64 "\nmax_pages %" PRIu64 " capped %d no_pfns %d\n", HASHES_MAGIC,
                (int) p->pid, c->zero_hash, c->max_pages, c->capped, c->no_pfns);
        for (unsigned i = 0; i < ELEMENTSOF(c->g); i++) {
                fprintf(f, "globals %u", i);
                write_pairs(f, globals_keys, ELEMENTSOF(globals_keys), &c->g[i]);
        }
        for (unsigned i = 0; i < ELEMENTSOF(p->reading); i++) {
                if (!p->reading[i].done)
                        continue;
                fprintf(f, "reading %u", i + 1);
                write_pairs(f, reading_keys, ELEMENTSOF(reading_keys), &p->reading[i]);
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
        /* both names below our own 0700 directories, made above */
        if (renameat(dfd, tmp, dfd, path) < 0)
                return negative_errno();
        return 0;
}

/* ================================================================ reading */

/* Splits line in place at spaces: at most max words, the rest ignored. */
static size_t split_words(char *line, char **w, size_t max) {
        size_t n = 0;

        for (char *save = NULL, *t = strtok_r(line, " \t", &save); t && n < max; t = strtok_r(NULL, " \t", &save))
                w[n++] = t;
        return n;
}

/* A whole word as a number: signed decimal, or unsigned in base 10 or 16. */
static bool word_i64(const char *w, int64_t *ret) {
        char *end;

        errno = 0;
        *ret = strtoll(w, &end, 10);
        return end != w && !*end && errno == 0;
}

static bool word_u64(const char *w, int base, uint64_t *ret) {
        char *end;

        if (base == 10)
                return parse_u64(w, ret) >= 0;
        /* strtoull() takes "-1" for 2^64-1: a hex word is hex digits alone */
        if (!isxdigit((unsigned char) w[0]))
                return false;
        errno = 0;
        *ret = strtoull(w, &end, base);
        return !*end && errno == 0;
}

/*
 * w[0] KIND, w[1] INDEX, then the keys' pairs in the table's order (as the
 * writer puts them) into dest. Returns INDEX, or -EBADMSG.
 */
static int parse_pairs(char **w, size_t n, const struct key *keys, size_t nk, void *dest) {
        uint64_t idx;

        if (n < 2 + 2 * nk || !word_u64(w[1], 10, &idx) || idx > INT_MAX)
                return -EBADMSG;
        for (size_t i = 0; i < nk; i++) {
                const char *k = w[2 + 2 * i], *v = w[3 + 2 * i];
                void *d = (char *) dest + keys[i].offset;
                uint64_t u;
                int64_t s;

                if (!streq(k, keys[i].name))
                        return -EBADMSG;
                switch (keys[i].type) {
                case V_HEX:
                case V_U64:
                        if (!word_u64(v, keys[i].type == V_HEX ? 16 : 10, &u))
                                return -EBADMSG;
                        *(uint64_t *) d = u;
                        break;
                case V_I64:
                case V_BOOL:
                        if (!word_i64(v, &s))
                                return -EBADMSG;
                        if (keys[i].type == V_BOOL)
                                *(bool *) d = s != 0;
                        else
                                *(int64_t *) d = s;
                        break;
                }
        }
        return (int) idx;
}

/* "page VMA ADDR ST1 ST2 READ1 READ2 PFN1 PFN2 H1 H2 CLASS" */
static int parse_page(char **w, size_t n, uint32_t pi, struct sa_cov_page *ret) {
        uint64_t v[11];
        /* which words are hex: ADDR, PFN1, PFN2, H1, H2 */
        static const int base[11] = { 10, 16, 10, 10, 10, 10, 16, 16, 16, 16, 10 };

        if (n < 12)
                return -EBADMSG;
        for (size_t i = 0; i < 11; i++)
                if (!word_u64(w[1 + i], base[i], &v[i]))
                        return -EBADMSG;
        *ret = (struct sa_cov_page) {
                .proc = pi, .vma = (uint32_t) v[0], .addr = v[1], .st1 = (uint8_t) v[2], .st2 = (uint8_t) v[3],
                .read1 = v[4] != 0, .read2 = v[5] != 0, .pfn1 = v[6], .pfn2 = v[7], .h1 = v[8], .h2 = v[9],
                .cls = (uint32_t) v[10], .node = -1,
        };
        return v[2] > SA_KSM_PAGE_ZERO || v[3] > SA_KSM_PAGE_ZERO ? -ERANGE : 0;
}

int sa_ksm_hashes_load(struct sa_ksm_coverage *c, uint32_t pi) {
        struct sa_cov_proc *p = &c->procs[pi];
        _cleanup_free_ char *buf = NULL;
        char *save = NULL;
        bool magic = false, take = !c->have_g, have_g = false;
        int r;

        r = sa_read_pid_file(c->ctx, p->pid, SA_KSM_HASHES_FILE, &buf, NULL);
        if (r < 0)
                return r;
        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *w[MAX_WORDS];
                size_t n;
                uint64_t a, b, vf;

                if (streq(line, HASHES_MAGIC)) {
                        magic = true;
                        continue;
                }
                if (!magic)
                        return -EBADMSG;
                n = split_words(line, w, ELEMENTSOF(w));
                if (n == 0)
                        continue;
                if (streq(w[0], "globals")) {
                        struct sa_ksm_globals g = {};
                        int i = parse_pairs(w, n, globals_keys, ELEMENTSOF(globals_keys), &g);
                        /* the window of the first file that has one */
                        if (i >= 0 && i < (int) ELEMENTSOF(c->g) && take) {
                                c->g[i] = g;
                                have_g = true;
                        }
                } else if (streq(w[0], "reading")) {
                        struct sa_ksm_reading rd = {};
                        int i = parse_pairs(w, n, reading_keys, ELEMENTSOF(reading_keys), &rd);
                        if (i >= 1 && i <= (int) ELEMENTSOF(p->reading)) {
                                rd.done = true;
                                p->reading[i - 1] = rd;
                        }
                } else if (streq(w[0], "zero_hash")) {
                        if (n >= 2 && word_u64(w[1], 16, &a))
                                c->zero_hash = a;
                } else if (streq(w[0], "max_pages")) {
                        int64_t capped, no_pfns;
                        if (n >= 6 && word_u64(w[1], 10, &a) && streq(w[2], "capped") && word_i64(w[3], &capped) &&
                            streq(w[4], "no_pfns") && word_i64(w[5], &no_pfns)) {
                                c->capped |= capped != 0;
                                c->no_pfns |= no_pfns != 0;
                        }
                } else if (streq(w[0], "vma")) {
                        uint64_t idx;
                        if (n < 6 || !word_u64(w[1], 10, &idx) || !word_u64(w[2], 16, &a) || !word_u64(w[3], 16, &b) ||
                            !word_u64(w[5], 16, &vf))
                                continue;
                        if (idx != p->n_vmas)
                                return -EBADMSG;
                        r = sa_cov_add_vma(p, a, b, w[4], vf);
                        if (r < 0)
                                return r;
                } else if (streq(w[0], "page")) {
                        struct sa_cov_page pg;
                        r = parse_page(w, n, pi, &pg);
                        if (r == -EBADMSG)
                                continue;
                        if (r < 0 || pg.vma >= p->n_vmas)
                                return -EBADMSG;
                        r = sa_cov_push_page(c, &pg);
                        if (r < 0)
                                return r;
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
        if (r >= 0)
                *ret = (struct sa_ksm_capture_reading) {
                        .reading = c->procs[0].reading[0], .before = c->g[0], .after = c->g[1],
                };
        sa_ksm_coverage_free(c);
        return r;
}
