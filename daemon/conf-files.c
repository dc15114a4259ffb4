/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf-files.h"
#include "log.h"
#include "macro.h"
#include "strv.h"

typedef struct Dropin {
        char *name;   /* the file name that orders and masks */
        char *path;   /* NULL: masked */
} Dropin;

static int dropin_compare(const void *a, const void *b) {
        return strcmp(((const Dropin *) a)->name, ((const Dropin *) b)->name);
}

static bool dropin_masked(const char *path) {
        char target[PATH_MAX];
        ssize_t n;

        n = readlink(path, target, sizeof(target) - 1);
        if (n < 0)
                return false;
        target[n] = 0;
        return streq(target, "/dev/null");
}

static void dropins_free(Dropin *d, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(d[i].name);
                free(d[i].path);
        }
        free(d);
}

/* Adds dir's *.conf whose names no earlier directory had. */
static int dropins_add_dir(const char *dir, Dropin **list, size_t *n) {
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;

        d = opendir(dir);
        if (!d) {
                if (errno == ENOENT || errno == ENOTDIR)
                        return 0;
                return log_warning_errno(errno, "Failed to open drop-in directory %s: %m", dir);
        }

        while ((errno = 0, de = readdir(d))) {
                const char *name = de->d_name;
                size_t len = strlen(name);
                bool known = false;
                Dropin *grown, *new;

                if (name[0] == '.' || len <= strlen(".conf") || !streq(name + len - strlen(".conf"), ".conf"))
                        continue;
                for (size_t i = 0; i < *n && !known; i++)
                        known = streq((*list)[i].name, name);
                if (known)
                        continue;

                grown = realloc(*list, (*n + 1) * sizeof(Dropin));
                if (!grown)
                        return -ENOMEM;
                *list = grown;
                new = &(*list)[(*n)++];
                *new = (Dropin) { .name = strdup(name) };
                if (!new->name || asprintf(&new->path, "%s/%s", dir, name) < 0) {
                        new->path = NULL;
                        return -ENOMEM;
                }
                if (dropin_masked(new->path)) {
                        log_debug("%s is masked.", new->path);
                        free(new->path);
                        new->path = NULL;
                }
        }
        if (errno != 0)
                return log_warning_errno(errno, "Failed to read drop-in directory %s: %m", dir);
        return 0;
}

int config_dropins_list(const char *const *dirs, size_t n_dirs, char ***ret) {
        Dropin *list = NULL;
        size_t n = 0, k = 0;
        char **paths;
        int r;

        for (size_t i = 0; i < n_dirs; i++) {
                r = dropins_add_dir(dirs[i], &list, &n);
                if (r == -ENOMEM) {
                        dropins_free(list, n);
                        return r;
                }
        }
        if (n > 0)
                qsort(list, n, sizeof(Dropin), dropin_compare);

        paths = calloc(n + 1, sizeof(char *));
        if (!paths) {
                dropins_free(list, n);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
                if (list[i].path)
                        paths[k++] = TAKE_PTR(list[i].path);
        dropins_free(list, n);
        *ret = paths;
        return 0;
}

int config_load(const char *path, Config *c, char ***ret_dropins) {
        static const char *const default_dirs[] = { CONFIG_DROPIN_DIRS_DEFAULT };
        _cleanup_(strv_freep) char **dropins = NULL;
        _cleanup_free_ char *own_dir = NULL;
        int r;

        if (streq(path, CONFIG_FILE_DEFAULT))
                r = config_dropins_list(default_dirs, ELEMENTSOF(default_dirs), &dropins);
        else {
                if (asprintf(&own_dir, "%s.d", path) < 0)
                        return -ENOMEM;
                r = config_dropins_list((const char *const *) &own_dir, 1, &dropins);
        }
        if (r < 0)
                return r;

        config_defaults(c);
        r = config_parse_file(path, c);
        for (char **i = dropins; r >= 0 && *i; i++)
                r = config_parse_file(*i, c);
        if (r < 0) {
                config_done(c);
                return r;
        }
        if (ret_dropins)
                *ret_dropins = TAKE_PTR(dropins);
        return 0;
}
