/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "atomic-file.h"
#include "macro.h"

int write_all(int fd, const void *p, size_t size) {
        const char *c = p;

        while (size > 0) {
                ssize_t k = write(fd, c, size);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                c += k;
                size -= (size_t) k;
        }
        return 0;
}

/*
 * A new file of ours, under a name nobody could guess and prepare: a fixed
 * one could be a link, or a file someone else holds open, by the time it is
 * opened (O_EXCL refuses both).
 */
static int open_temporary(int dir_fd, const char *name, mode_t mode, char tmp[static NAME_MAX + 1]) {
        for (unsigned tries = 0; tries < 16; tries++) {
                uint64_t rnd;
                int fd;

                if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
                        return errno > 0 ? -errno : -EIO;
                if (snprintf(tmp, NAME_MAX + 1, "%s.%016" PRIx64 ".tmp", name, rnd) > NAME_MAX)
                        return -ENAMETOOLONG;
                fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
                if (fd >= 0 || errno != EEXIST)
                        return fd < 0 ? -errno : fd;
        }
        return -EEXIST;
}

/* Temporaries of name that a killed writer left: each would otherwise stay for good. */
static void remove_stale(int dir_fd, const char *name) {
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        size_t len = strlen(name);
        int fd;

        fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return;
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return;
        }
        while ((de = readdir(d))) {
                const char *rest = de->d_name + len;

                if (strncmp(de->d_name, name, len) != 0 || rest[0] != '.' ||
                    strspn(rest + 1, "0123456789abcdef") != 16 || !streq(rest + 17, ".tmp"))
                        continue;
                (void) unlinkat(dir_fd, de->d_name, 0);
        }
}

int write_file_atomic_at(int dir_fd, const char *name, const void *data, size_t size, mode_t mode) {
        _cleanup_close_ int fd = -1;
        char tmp[NAME_MAX + 1];
        int r;

        fd = open_temporary(dir_fd, name, mode, tmp);
        if (fd < 0)
                return fd;
        r = write_all(fd, data, size);
        /* The mode as asked, whatever the umask (the unit's is 0077). */
        if (r >= 0 && fchmod(fd, mode) < 0)
                r = -errno;
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && renameat(dir_fd, tmp, dir_fd, name) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlinkat(dir_fd, tmp, 0);
                return r;
        }
        remove_stale(dir_fd, name);
        return fsync(dir_fd) < 0 ? -errno : 0;
}

int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode) {
        _cleanup_close_ int dir_fd = -1;
        _cleanup_free_ char *dir = NULL;
        const char *slash = strrchr(path, '/');

        if (!slash || !slash[1])
                return -EINVAL;
        dir = slash == path ? strdup("/") : strndup(path, (size_t) (slash - path));
        if (!dir)
                return -ENOMEM;
        dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir_fd < 0)
                return -errno;
        return write_file_atomic_at(dir_fd, slash + 1, data, size, mode);
}
