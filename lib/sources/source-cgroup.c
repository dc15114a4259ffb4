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
#include "smapsaudit.h"
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

/*
 * The user unit below a user manager's unit, as systemd's cg_path_get_user_unit()
 * finds it: the first unit of the path must be user@UID.service, and the user unit
 * is the first unit below it, slices skipped ("…/user@1000.service/app.slice/
 * foo.service" is foo.service). NULL when the process is not under a user manager.
 */
int sa_cgroup_user_unit(const char *path, char **ret) {
        _cleanup_free_ char *manager = NULL;
        const char *below;
        int r;

        *ret = NULL;
        r = sa_cgroup_unit(path, &manager);
        if (r < 0 || !manager || !startswith(manager, "user@") || strlen(manager) <= strlen(".service") ||
            !streq(manager + strlen(manager) - strlen(".service"), ".service"))
                return r;
        below = strstr(path, manager);
        if (!below)
                return 0;
        return sa_cgroup_unit(below + strlen(manager), ret);
}

_export_ int smapsaudit_pid_unit(struct smapsaudit_ctx *ctx, pid_t pid, char **ret_unit, char **ret_user_unit) {
        _cleanup_free_ char *cgroup = NULL, *unit = NULL, *user_unit = NULL;
        int r;

        if (!ctx || pid <= 0 || !ret_unit)
                return -EINVAL;
        r = sa_cgroup_read(ctx, pid, &cgroup, &unit);
        if (r < 0)
                return r;
        if (ret_user_unit) {
                r = sa_cgroup_user_unit(cgroup, &user_unit);
                if (r < 0)
                        return r;
                *ret_user_unit = TAKE_PTR(user_unit);
        }
        *ret_unit = TAKE_PTR(unit);
        return 0;
}

int sa_cgroup_read(struct smapsaudit_ctx *ctx, pid_t pid, char **ret_cgroup, char **ret_unit) {
        _cleanup_free_ char *text = NULL, *cgroup = NULL;
        char *line, *save = NULL;
        bool legacy = false;
        int r;

        *ret_cgroup = *ret_unit = NULL;
        r = sa_read_pid_file(ctx, pid, "cgroup", &text, NULL);
        if (r < 0)
                return r;

        /*
         * systemd tracks units in the unified hierarchy ("0::PATH") when there is one, hybrid
         * setups included; only a legacy setup, where that line says "/", names them in its own
         * "N:name=systemd:PATH" hierarchy (cg_pid_get_path() for the systemd controller).
         */
        for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                const char *path = startswith(line, "0::");
                char *c;

                if (path) {
                        if (!*path || (streq(path, "/") && legacy))
                                continue;
                } else if ((c = strstr(line, ":name=systemd:")) && !cgroup)
                        path = c + strlen(":name=systemd:");
                if (!path || !*path)
                        continue;
                free(cgroup);
                cgroup = strdup(path);
                if (!cgroup)
                        return -ENOMEM;
                legacy = !startswith(line, "0::");
        }
        if (!cgroup)
                return -ENODATA;

        r = sa_cgroup_unit(cgroup, ret_unit);
        if (r < 0)
                return r;
        *ret_cgroup = TAKE_PTR(cgroup);
        return 0;
}
