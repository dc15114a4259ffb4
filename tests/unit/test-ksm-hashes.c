/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A capture's smapsaudit-ksm-hashes file (ksm-hashes.c) reads back what
 * was written, and a file that is not one is refused or passed over line
 * by line, never trusted.
 */
#include "ksm-coverage.h"
#include "tap.h"

/* A hashes file of the given text, and what loading it gives. */
static int load_text(struct smapsaudit_ctx *ctx, const char *path, pid_t pid, const char *text) {
        struct sa_ksm_coverage *c = NULL;
        FILE *f = fopen(path, "w");
        int r;

        if (!f)
                return -errno;
        fputs(text, f);
        fclose(f);
        r = sa_cov_new(ctx, &pid, 1, NULL, &c);
        if (r >= 0)
                r = sa_ksm_hashes_load(c, 0);
        sa_ksm_coverage_free(c);
        return r;
}

static void test_hashes(void) {
        char dir[] = "/tmp/sa-test-ksm-hashes-XXXXXX", proc[64], path[128];
        struct smapsaudit_ctx *ctx = NULL;
        struct sa_ksm_coverage *c = NULL, *d = NULL;
        struct sa_ksm_capture_reading first;
        pid_t pid = 4242;

        ok(mkdtemp(dir), "a directory");
        snprintf(proc, sizeof(proc), "%s/proc", dir);
        is_i64(smapsaudit_ctx_new(&ctx), 0, "ctx");
        is_i64(sa_cov_new(ctx, &pid, 1, NULL, &c), 0, "coverage");
        c->capped = true;
        for (unsigned i = 0; i < 4; i++)
                c->g[i] = (struct sa_ksm_globals) {
                        .sys = { .have = 0xffff, .run = 1, .full_scans = 10 + i, .max_page_sharing = 256,
                                 .merge_across_nodes = 1 },
                        .smart_scan = 1, .pages_skipped = 100 + i, .cow_ksm = i == 3 ? -1 : 5,
                };
        c->procs[0].reading[0] = (struct sa_ksm_reading) {
                .done = true, .walked = true, .ksm_pages = 2048, .swap_pages = 1,
                .stat = { .have = 0x3f, .rmap_items = 2048, .zero_pages = -3, .merging_pages = 2048,
                          .process_profit = -12288 },
        };
        is_i64(sa_cov_add_vma(&c->procs[0], 0x7f0000000000, 0x7f0000400000, "rw-p", 0x10000073), 0, "a VMA");
        is_i64(sa_cov_add_vma(&c->procs[0], 0x7f0000400000, 0x7f0000800000, "---p", 0x10000070), 0, "another");
        is_i64(sa_cov_push_page(c, &(struct sa_cov_page) {
                       .vma = 1, .addr = 0x7f0000401000, .pfn1 = 0x1234, .pfn2 = 0x1234, .h1 = 0xfedcba9876543210,
                       .h2 = 0xfedcba9876543210, .cls = 3, .st1 = SA_KSM_PAGE_PLAIN, .st2 = SA_KSM_PAGE_KSM,
                       .read1 = true, .read2 = true, .node = -1 }), 0, "a page");
        is_i64(sa_ksm_hashes_write(c, dir), 0, "written");

        is_i64(smapsaudit_ctx_set_proc_root(ctx, proc), 0, "proc root: the capture");
        is_i64(sa_cov_new(ctx, &pid, 1, NULL, &d), 0, "coverage of the capture");
        is_i64(sa_ksm_hashes_load(d, 0), 0, "read back");
        ok(d->have_g && d->capped && !d->no_pfns, "the header");
        is_hex(d->zero_hash, c->zero_hash, "zero_hash");
        is_i64(d->g[2].sys.full_scans, 12, "globals 2 full_scans");
        is_i64(d->g[3].cow_ksm, -1, "globals 3 without cow_ksm");
        is_hex(d->g[0].sys.have, 0xffff, "globals have, in hex");
        ok(d->procs[0].reading[0].done && d->procs[0].reading[0].walked, "reading 1");
        ok(!d->procs[0].reading[1].done, "no reading 2");
        is_i64(d->procs[0].reading[0].stat.zero_pages, -3, "reading 1: a negative ksm_zero_pages");
        is_u64(d->procs[0].reading[0].swap_pages, 1, "reading 1: swap PTEs");
        is_u64(d->procs[0].n_vmas, 2, "two VMAs");
        is_str(d->procs[0].vmas[1].perms, "---p", "the PROT_NONE one");
        is_hex(d->procs[0].vmas[0].vmflags, 0x10000073, "VmFlags");
        is_u64(d->n_pages, 1, "one page");
        ok(d->pages[0].vma == 1 && d->pages[0].addr == 0x7f0000401000 && d->pages[0].h2 == 0xfedcba9876543210 &&
           d->pages[0].st2 == SA_KSM_PAGE_KSM && d->pages[0].cls == 3 && d->pages[0].read2, "the page");

        is_i64(sa_ksm_capture_readings(ctx, pid, &first), 0, "the capture's first reading");
        is_u64(first.reading.ksm_pages, 2048, "its KSM PTEs");
        is_i64(first.after.sys.full_scans, 11, "the globals after it");
        sa_ksm_coverage_free(d);
        d = NULL;

        snprintf(path, sizeof(path), "%s/%d/smapsaudit-ksm-hashes", proc, (int) pid);
        is_i64(load_text(ctx, path, pid, "pid 4242\nsmapsaudit-ksm-hashes 1\n"), -EBADMSG,
               "a file that does not start with the magic line is not ours");
        is_i64(load_text(ctx, path, pid, "smapsaudit-ksm-hashes 1\nvma 0 1000 2000 rw-p 0\npage 1 1000 1 1 1 1 0 0 0 0 0\n"),
               -EBADMSG, "a page of a VMA the file never named: -EBADMSG");
        is_i64(load_text(ctx, path, pid, "smapsaudit-ksm-hashes 1\nvma 0 1000 2000 rw-p 0\npage 0 1000 4 1 1 1 0 0 0 0 0\n"),
               -EBADMSG, "a page state out of range: -EBADMSG");
        is_i64(load_text(ctx, path, pid, "smapsaudit-ksm-hashes 1\nvma 0 1000 2000 rw-p 0\npage 0 zz\n"
                                         "globals 0 have ffff run\nreading 1 walked\n"), 0,
               "lines that do not parse are passed over");

        unlink(path);
        snprintf(path, sizeof(path), "%s/%d", proc, (int) pid);
        rmdir(path);
        rmdir(proc);
        rmdir(dir);
        sa_ksm_coverage_free(c);
        smapsaudit_ctx_unref(ctx);
}

int main(void) {
        test_hashes();
        return tap_done();
}
