/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Where captures are written. They hold other users' memory maps and page
 * hashes, and the writer is often root: the directory is made 0700 (an
 * existing one must be ours, empty and writable by us alone), files are 0600, and every name is
 * resolved below directory fds without following a link, so that nothing
 * planted there can send a write elsewhere.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "capture.h"
#include "macro.h"

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

/* The directory that holds rel's last component, made (0700) on the way if create. */
static int open_parent(int dirfd, const char *rel, bool create, const char **ret_base) {
        _cleanup_free_ char *copy = strdup(rel);
        char *p, *slash;
        int fd;

        if (!copy)
                return -ENOMEM;
        fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return negative_errno();
        for (p = copy; (slash = strchr(p, '/')); p = slash + 1) {
                int next;

                *slash = 0;
                if (create && mkdirat(fd, p, 0700) < 0 && errno != EEXIST) {
                        close(fd);
                        return negative_errno();
                }
                next = openat(fd, p, DIR_FLAGS);
                close(fd);
                if (next < 0)
                        return negative_errno();
                fd = next;
        }
        *ret_base = rel + (p - copy);
        return fd;
}

int sa_capture_mkdir(int dirfd, const char *rel) {
        _cleanup_close_ int parent = -1;
        const char *base;

        parent = open_parent(dirfd, rel, true, &base);
        if (parent < 0)
                return parent;
        if (mkdirat(parent, base, 0700) < 0 && errno != EEXIST)
                return negative_errno();
        return 0;
}

int sa_capture_create(int dirfd, const char *rel, int flags) {
        _cleanup_close_ int parent = -1;
        const char *base;
        int fd;

        parent = open_parent(dirfd, rel, true, &base);
        if (parent < 0)
                return parent;
        /* what an earlier attempt of this capture wrote is removed, never written through */
        if (unlinkat(parent, base, 0) < 0 && errno != ENOENT)
                return negative_errno();
        fd = openat(parent, base, flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        return fd < 0 ? negative_errno() : fd;
}

int sa_capture_open(int dirfd, const char *rel, int flags) {
        _cleanup_close_ int parent = -1;
        const char *base;
        int fd;

        parent = open_parent(dirfd, rel, false, &base);
        if (parent < 0)
                return parent;
        fd = openat(parent, base, flags | O_NOFOLLOW | O_CLOEXEC);
        return fd < 0 ? negative_errno() : fd;
}

enum {
        HOLDS_OTHER,     /* something else, or more */
        HOLDS_NOTHING,
        HOLDS_DIR,       /* only name, a directory (its fd in *ret_sub) */
        HOLDS_FILE,      /* only name, a regular file */
};

/*
 * A listing of directory fd from its first entry, fd left open. The
 * duplicate shares fd's offset, which an earlier listing left at the end.
 */
static int list_dir(int fd, DIR **ret) {
        int dup_fd;

        dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (dup_fd < 0)
                return negative_errno();
        *ret = fdopendir(dup_fd);
        if (!*ret) {
                close(dup_fd);
                return negative_errno();
        }
        rewinddir(*ret);
        return 0;
}

/* What directory fd holds, as far as only name may be there. */
static int holds_only(int fd, const char *name, int *ret_sub) {
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        struct stat st;
        int r, n = 0;

        r = list_dir(fd, &d);
        if (r < 0)
                return r;
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (!streq(de->d_name, name) || n++ > 0)
                        return HOLDS_OTHER;
        }
        if (n == 0)
                return HOLDS_NOTHING;
        if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return negative_errno();
        if (S_ISREG(st.st_mode))
                return HOLDS_FILE;
        if (!S_ISDIR(st.st_mode))
                return HOLDS_OTHER;
        *ret_sub = openat(fd, name, DIR_FLAGS);
        return *ret_sub < 0 ? negative_errno() : HOLDS_DIR;
}

/* Empty, or just what smapsaudit_ksm_capture() writes first: proc/PID/smapsaudit-ksm-hashes. */
static int empty_but_hashes(int dirfd, pid_t pid) {
        _cleanup_close_ int proc = -1, piddir = -1, hashes = -1;
        char pidname[16];
        int r;

        snprintf(pidname, sizeof(pidname), "%d", (int) pid);
        r = holds_only(dirfd, "proc", &proc);
        if (r != HOLDS_DIR)
                return r < 0 ? r : r == HOLDS_NOTHING;
        r = holds_only(proc, pidname, &piddir);
        if (r != HOLDS_DIR)
                return r < 0 ? r : r == HOLDS_NOTHING;
        r = holds_only(piddir, SA_KSM_HASHES_FILE, &hashes);
        return r < 0 ? r : r == HOLDS_NOTHING || r == HOLDS_FILE;
}

int sa_capture_dir_open(const char *dir, pid_t pid) {
        _cleanup_close_ int fd = -1;
        struct stat st;
        int r;

        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return negative_errno();
        fd = open(dir, DIR_FLAGS);
        if (fd < 0)
                return negative_errno();
        if (fstat(fd, &st) < 0)
                return negative_errno();
        /* another user's directory, or one others may write to, could change under us */
        if (st.st_uid != geteuid() || (st.st_mode & 0022))
                return -EPERM;
        r = empty_but_hashes(fd, pid);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOTEMPTY;
        if (fchmod(fd, 0700) < 0)
                return negative_errno();
        return TAKE_FD(fd);
}

/* Everything below dirfd, removed without following a link: a capture that failed leaves nothing. */
int sa_capture_dir_clear(int dirfd) {
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int r;

        r = list_dir(dirfd, &d);
        if (r < 0)
                return r;
        while ((de = readdir(d))) {
                _cleanup_close_ int sub = -1;

                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (unlinkat(dirfd, de->d_name, 0) >= 0)
                        continue;
                if (errno != EISDIR && errno != EPERM) {
                        r = r < 0 ? r : negative_errno();
                        continue;
                }
                sub = openat(dirfd, de->d_name, DIR_FLAGS);
                if (sub < 0) {
                        r = r < 0 ? r : negative_errno();
                        continue;
                }
                r = MIN(r, sa_capture_dir_clear(sub));
                if (unlinkat(dirfd, de->d_name, AT_REMOVEDIR) < 0)
                        r = r < 0 ? r : negative_errno();
        }
        return r;
}
