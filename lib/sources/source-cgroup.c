/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * /proc/PID/cgroup: the process's cgroup, and the systemd unit it names, as
 * systemd's cg_path_get_unit() finds it (slices are skipped; the first
 * component that is a unit name is the unit). Read below the context's proc
 * root, so that a capture names the service it was taken from: libproc2's
 * PIDS_SD_UNIT would read the live /proc only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "procfs.h"
#include "sources.h"

/* The unit types a process's cgroup can be named after. */
static bool is_unit_name(const char *s, size_t n) {
        static const char *const suffixes[] = { ".service", ".scope", ".socket", ".mount", ".swap" };

        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                size_t k = strlen(suffixes[i]);

                if (n > k && memcmp(s + n - k, suffixes[i], k) == 0)
                        return true;
        }
        return false;
}

int sa_cgroup_unit(const char *path, char **ret) {
        const char *p = path;

        *ret = NULL;
        while (*p) {
                size_t n;

                p += strspn(p, "/");
                n = strcspn(p, "/");
                if (n == 0)
                        break;
                /* systemd escapes a component that could be mistaken for a kernel file with '_' */
                if (p[0] == '_' && is_unit_name(p + 1, n - 1)) {
                        p++;
                        n--;
                }
                if (n > strlen(".slice") && memcmp(p + n - strlen(".slice"), ".slice", strlen(".slice")) == 0) {
                        p += n;
                        continue;
                }
                if (!is_unit_name(p, n))
                        return 0;
                *ret = strndup(p, n);
                return *ret ? 0 : -ENOMEM;
        }
        return 0;
}

int sa_cgroup_read(struct smapsaudit_ctx *ctx, pid_t pid, char **ret_cgroup, char **ret_unit) {
        _cleanup_free_ char *text = NULL, *cgroup = NULL;
        char *line, *save = NULL;
        int r;

        *ret_cgroup = *ret_unit = NULL;
        r = sa_read_pid_file(ctx, pid, "cgroup", &text, NULL);
        if (r < 0)
                return r;

        /* cgroup v2's "0::PATH"; on a hybrid hierarchy, systemd's own "N:name=systemd:PATH". */
        for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                const char *path = startswith(line, "0::");
                char *c;

                if (!path && (c = strstr(line, ":name=systemd:")))
                        path = c + strlen(":name=systemd:");
                if (!path || !*path)
                        continue;
                free(cgroup);
                cgroup = strdup(path);
                if (!cgroup)
                        return -ENOMEM;
                if (!startswith(line, "0::"))
                        break;
        }
        if (!cgroup)
                return -ENODATA;

        r = sa_cgroup_unit(cgroup, ret_unit);
        if (r < 0)
                return r;
        *ret_cgroup = TAKE_PTR(cgroup);
        return 0;
}
