/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the rules depend on: the kernel release (read below the proc root,
 * so a capture carries the release it was taken on) and its config, and
 * the system's state that the walk's bits are read against.
 */
#include <sys/utsname.h>
#include <zlib.h>

#include "ctx.h"
#include "kernel.h"
#include "procfs.h"

int sa_kernel_parse_release(const char *release, unsigned *major, unsigned *minor, unsigned *patch) {
        unsigned a = 0, b = 0, c = 0;

        if (sscanf(release, "%u.%u.%u", &a, &b, &c) < 2)
                return -EINVAL;
        *major = a;
        *minor = b;
        *patch = c;
        return 0;
}

bool sa_kernel_at_least(const struct sa_kernel *k, unsigned major, unsigned minor) {
        return k->major > major || (k->major == major && k->minor >= minor);
}

/* Whether a kernel config file settles the mapcount mode; false if unreadable or silent. */
static bool read_mapcount_config(const char *path, struct sa_kernel *k) {
        char line[256];
        gzFile f;

        /* gzopen reads an uncompressed file as it is */
        f = gzopen(path, "rb");
        if (!f)
                return false;
        while (gzgets(f, line, sizeof(line))) {
                if (startswith(line, "CONFIG_NO_PAGE_MAPCOUNT=y")) {
                        k->mapcount = SA_MAPCOUNT_AVERAGE;
                        k->mapcount_known = true;
                        break;
                }
                if (startswith(line, "CONFIG_PAGE_MAPCOUNT=y") ||
                    startswith(line, "# CONFIG_NO_PAGE_MAPCOUNT is not set"))
                        k->mapcount_known = true;
        }
        gzclose(f);
        return k->mapcount_known;
}

/*
 * CONFIG_NO_PAGE_MAPCOUNT (6.15+) changes how smaps computes PSS and the
 * shared/private split. /proc/config.gz says which; distribution kernels
 * often build without it but install /boot/config-RELEASE, which says the
 * same for the running kernel (never for a capture's). Without either the
 * default (per-page mapcount) is assumed and the report says so.
 */
static void detect_mapcount(struct smapsaudit_ctx *ctx, struct sa_kernel *k) {
        _cleanup_free_ char *p = NULL;
        char boot[sizeof(k->release) + 16];

        k->mapcount = SA_MAPCOUNT_PRECISE;
        k->mapcount_known = !sa_kernel_at_least(k, 6, 15);
        if (k->mapcount_known)
                return;
        if (sa_proc_path(ctx, 0, "config.gz", &p) >= 0 && read_mapcount_config(p, k))
                return;
        if (!sa_ctx_live(ctx) || !k->release[0])
                return;
        snprintf(boot, sizeof(boot), "/boot/config-%s", k->release);
        (void) read_mapcount_config(boot, k);
}

static unsigned count_cpus(struct smapsaudit_ctx *ctx) {
        _cleanup_free_ char *buf = NULL;
        unsigned n = 0, a, b;
        const char *s;

        if (sa_read_sys_file(ctx, "devices/system/cpu/possible", &buf, NULL) < 0)
                return sa_ctx_live(ctx) ? (unsigned) MAX(1L, sysconf(_SC_NPROCESSORS_CONF)) : 1;
        for (s = buf; *s;) {
                int used = 0;
                if (sscanf(s, "%u-%u%n", &a, &b, &used) == 2 && used > 0 && b >= a)
                        n += b - a + 1;
                else if (sscanf(s, "%u%n", &a, &used) == 1 && used > 0)
                        n++;
                else
                        break;
                s += used;
                if (*s != ',')
                        break;
                s++;
        }
        return MAX(n, 1u);
}

/* Without memory to keep what was read, the rules assume the least. */
static const struct sa_kernel unknown_kernel = {
        .release = "unknown",
        .mapcount = SA_MAPCOUNT_PRECISE,
        .nr_cpus = 1,
};

const struct sa_kernel *sa_kernel_get(struct smapsaudit_ctx *ctx) {
        struct sa_kernel *k = sa_ctx_slot(ctx, SA_CTX_KERNEL);
        _cleanup_free_ char *buf = NULL;

        if (k)
                return k;
        k = calloc(1, sizeof(*k));
        if (!k)
                return &unknown_kernel;
        if (sa_read_proc_file(ctx, "sys/kernel/osrelease", &buf, NULL) >= 0) {
                buf[strcspn(buf, "\n")] = 0;
                snprintf(k->release, sizeof(k->release), "%s", buf);
        } else if (sa_ctx_live(ctx)) {
                struct utsname u;
                if (uname(&u) == 0)
                        snprintf(k->release, sizeof(k->release), "%s", u.release);
        }
        if (!k->release[0])
                snprintf(k->release, sizeof(k->release), "unknown");
        (void) sa_kernel_parse_release(k->release, &k->major, &k->minor, &k->patch);
        detect_mapcount(ctx, k);
        k->nr_cpus = count_cpus(ctx);
        sa_ctx_set_slot(ctx, SA_CTX_KERNEL, k, free);
        return k;
}

_export_ const char *smapsaudit_ctx_get_kernel_release(struct smapsaudit_ctx *ctx) {
        return sa_kernel_get(ctx)->release;
}

/*
 * status RSS counters are not read from the page tables (docs/accounting.md):
 * up to 6.1 each thread caches its counts and folds them into the mm every
 * TASK_RSS_EVENTS_THRESH (64) faults, checked when a fault starts; one
 * fault maps one anonymous page, but up to 16 file or shmem pages with
 * fault-around. A forked child starts with its parent's unsynced share
 * (measured on 6.1), so one thread more is allowed. 6.2–6.15 read a
 * percpu_counter without summing it, off by up to one batch
 * (max(32, 2·nr_cpus)) per CPU; 6.16 sums it exactly (82241a83cd15).
 * VmRSS adds the three counters and their lags.
 */
uint64_t sa_kernel_status_slack_pages(const struct sa_kernel *k, unsigned threads, enum sa_field f) {
        uint64_t per_counter, per_file_counter;

        if (sa_kernel_at_least(k, 6, 16))
                return 0;
        if (sa_kernel_at_least(k, 6, 2))
                per_counter = per_file_counter = (uint64_t) k->nr_cpus * MAX(32u, 2 * k->nr_cpus);
        else {
                per_counter = (uint64_t) (MAX(threads, 1u) + 1) * (64 + 1);
                per_file_counter = per_counter * 16;
        }
        switch (f) {
        case SA_ST_RSS:
                return per_counter + 2 * per_file_counter;
        case SA_ST_RSS_ANON:
                return per_counter;
        case SA_ST_RSS_FILE:
        case SA_ST_RSS_SHMEM:
                return per_file_counter;
        default:
                return 0;
        }
}

void sa_system_state_read(struct smapsaudit_ctx *ctx, struct sa_system_state *ret) {
        _cleanup_free_ char *swaps = NULL;
        uint64_t shared;

        /* no stable tree (pages_shared 0, or no KSM at all): no page can be a KSM page */
        ret->ksm_possible = sa_read_sys_u64(ctx, "kernel/mm/ksm/pages_shared", &shared) < 0 || shared > 0;
        /* /proc/swaps has a header line; any second line is a swap area */
        if (sa_read_proc_file(ctx, "swaps", &swaps, NULL) >= 0) {
                const char *nl = strchr(swaps, '\n');
                ret->real_swap = nl && nl[1] != 0;
        } else
                ret->real_swap = true;
}
