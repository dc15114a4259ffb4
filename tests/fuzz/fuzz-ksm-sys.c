/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sa_ksm_sys_read() below a sys root of fuzzed files: the input, split at
 * NUL bytes, becomes kernel/mm/ksm/run, pages_to_scan, ... in turn; the
 * files past the last piece do not exist, as on older kernels.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "macro.h"
#include "smapsaudit.h"
#include "sources.h"

static const char *const files[] = {
        "run", "pages_to_scan", "sleep_millisecs", "max_page_sharing", "use_zero_pages",
        "merge_across_nodes", "pages_shared", "pages_sharing", "pages_unshared", "pages_volatile",
        "pages_scanned", "full_scans", "stable_node_chains", "stable_node_dups", "ksm_zero_pages",
        "general_profit",
};

static char root[256], dir[300];
static struct smapsaudit_ctx *ctx;

static void cleanup(void) {
        char p[512];

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
                unlink(p);
        }
        snprintf(p, sizeof(p), "%s/kernel/mm/ksm", root);
        rmdir(p);
        snprintf(p, sizeof(p), "%s/kernel/mm", root);
        rmdir(p);
        snprintf(p, sizeof(p), "%s/kernel", root);
        rmdir(p);
        rmdir(root);
        smapsaudit_ctx_unref(ctx);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
        /* run-fuzzer and bench/fuzz-long point TMPDIR at a directory they remove */
        const char *tmp = getenv("TMPDIR") ?: (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        char p[512];

        snprintf(root, sizeof(root), "%s/sa-fuzz-ksm-XXXXXX", tmp);
        if (!mkdtemp(root))
                abort();
        snprintf(p, sizeof(p), "%s/kernel", root);
        mkdir(p, 0700);
        snprintf(p, sizeof(p), "%s/kernel/mm", root);
        mkdir(p, 0700);
        snprintf(dir, sizeof(dir), "%s/kernel/mm/ksm", root);
        if (mkdir(dir, 0700) < 0)
                abort();
        if (smapsaudit_ctx_new(&ctx) < 0 || smapsaudit_ctx_set_sys_root(ctx, root) < 0 ||
            smapsaudit_ctx_set_proc_root(ctx, root) < 0)
                abort();
        /* the library never logs at LOG_EMERG: a fuzzed file is no news */
        smapsaudit_ctx_set_log_priority(ctx, 0);
        atexit(cleanup);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct sa_ksm_sys k;
        size_t off = 0, i;
        bool more = true;
        int r;

        for (i = 0; i < ELEMENTSOF(files); i++) {
                char path[512];
                const uint8_t *nul;
                size_t len;
                int fd;

                snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
                if (!more || (off == size && i > 0)) {
                        unlink(path);
                        continue;
                }
                nul = size > off ? memchr(data + off, 0, size - off) : NULL;
                len = nul ? (size_t) (nul - (data + off)) : size - off;
                fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (fd < 0)
                        abort();
                if (len && write(fd, data + off, len) != (ssize_t) len)
                        abort();
                close(fd);
                off += len + (nul ? 1 : 0);
                more = nul != NULL;
        }
        r = sa_ksm_sys_read(ctx, &k);
        fuzz_assert(r == 0 || r == -ENOENT || r == -ENOMEM);
        if (r == 0)
                fuzz_assert(k.have != 0 && (k.have >> ELEMENTSOF(files)) == 0);
        return 0;
}
