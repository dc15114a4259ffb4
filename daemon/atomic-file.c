/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
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

int write_file_atomic_at(int dir_fd, const char *name, const void *data, size_t size, mode_t mode) {
        _cleanup_close_ int fd = -1;
        char tmp[NAME_MAX + 1];
        int r;

        if (snprintf(tmp, sizeof(tmp), "%s.tmp", name) >= (int) sizeof(tmp))
                return -ENAMETOOLONG;

        fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0)
                return -errno;
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
