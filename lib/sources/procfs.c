/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * File access below the proc and sys roots. Everything the library reads
 * goes through here, so a directory of captured files replaces a live
 * procfs without any other code knowing.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "ctx.h"
#include "parse-number.h"
#include "procfs.h"

/* smaps of a process with a million VMAs is ~1 GiB; refuse beyond that. */
#define READ_LIMIT (1024ULL * 1024 * 1024)

static int read_fd(int fd, char **ret, size_t *ret_len) {
        size_t size = 16384, len = 0;
        _cleanup_free_ char *buf = malloc(size);

        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t n;

                if (size - len < 4097) {
                        char *nb;

                        if (size >= READ_LIMIT)
                                return -EFBIG;
                        nb = realloc(buf, size * 2);
                        if (!nb)
                                return -ENOMEM;
                        buf = nb;
                        size *= 2;
                }
                n = read(fd, buf + len, size - len - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        buf[len] = 0;
        if (ret_len)
                *ret_len = len;
        *ret = TAKE_PTR(buf);
        return 0;
}

int sa_read_file_at(int dirfd, const char *name, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);

        if (fd < 0)
                return negative_errno();
        return read_fd(fd, ret, ret_len);
}

int sa_read_file(const char *path, char **ret, size_t *ret_len) {
        return sa_read_file_at(AT_FDCWD, path, ret, ret_len);
}

static int join(char **ret, const char *fmt, ...) _printf_(2, 3);
static int join(char **ret, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(ret, fmt, ap);
        va_end(ap);
        return r < 0 ? -ENOMEM : 0;
}

int sa_proc_path(const struct smapsaudit_ctx *ctx, pid_t pid, const char *name, char **ret) {
        if (pid > 0)
                return join(ret, "%s/%d/%s", smapsaudit_ctx_get_proc_root(ctx), (int) pid, name);
        return join(ret, "%s/%s", smapsaudit_ctx_get_proc_root(ctx), name);
}

int sa_sys_path(const struct smapsaudit_ctx *ctx, const char *name, char **ret) {
        return join(ret, "%s/%s", smapsaudit_ctx_get_sys_root(ctx), name);
}

/* The files whose open is the kernel's access check for the address space they show
 * (proc_mem_open(), or owner-only like ksm_stat): with bound files, never opened by path. */
static const char *const mm_files[] = {
        "smaps", "smaps_rollup", "numa_maps", "maps", "pagemap", "mem", "ksm_stat", "ksm_merging_pages",
        "environ", "auxv",
};

int sa_bound_fd(const struct smapsaudit_ctx *ctx, pid_t pid, const char *name) {
        int fd;

        if (sa_ctx_bound_pid(ctx) == 0)
                return -ENOENT;
        fd = sa_ctx_bound_file(ctx, pid, name);
        if (fd >= 0)
                return fd;
        for (size_t i = 0; i < ELEMENTSOF(mm_files); i++)
                if (streq(mm_files[i], name))
                        return -EACCES;
        return -ENOENT;
}

int sa_read_pid_file(struct smapsaudit_ctx *ctx, pid_t pid, const char *name, char **ret, size_t *len) {
        _cleanup_free_ char *p = NULL;
        int r;

        r = sa_bound_fd(ctx, pid, name);
        if (r >= 0) {
                /* seq_file rewinds to a fresh walk of the same mm */
                if (lseek(r, 0, SEEK_SET) < 0)
                        return negative_errno();
                return read_fd(r, ret, len);
        }
        if (r != -ENOENT)
                return r;
        r = sa_proc_path(ctx, pid, name, &p);
        if (r < 0)
                return r;
        return sa_read_file(p, ret, len);
}

int sa_read_proc_file(struct smapsaudit_ctx *ctx, const char *name, char **ret, size_t *len) {
        return sa_read_pid_file(ctx, 0, name, ret, len);
}

int sa_read_sys_file(struct smapsaudit_ctx *ctx, const char *name, char **ret, size_t *len) {
        _cleanup_free_ char *p = NULL;
        int r;

        r = sa_sys_path(ctx, name, &p);
        if (r < 0)
                return r;
        return sa_read_file(p, ret, len);
}

/*
 * A process created anywhere maps shared pages (libc at exec) and moves
 * their mapcounts, and one exiting unmaps them. If that happens between
 * two reads of a process's views, their Pss and shared/private split may
 * differ by a page share, and a steady churn (a CI machine's test runner)
 * can repeat that every time. Nothing forked and nothing exited in
 * between when the fork counter and the number of tasks held still.
 */
void sa_read_population(struct smapsaudit_ctx *ctx, struct sa_population *ret) {
        _cleanup_free_ char *stat = NULL, *loadavg = NULL;
        const char *p;
        uint64_t n;

        *ret = (struct sa_population) {};
        if (sa_read_proc_file(ctx, "stat", &stat, NULL) >= 0 && (p = strstr(stat, "\nprocesses ")) &&
            parse_u64_prefix(p + 11, &n) >= 0)
                ret->forks = n;
        /* "0.00 0.01 0.05 1/123 4567": runnable/total tasks */
        if (sa_read_proc_file(ctx, "loadavg", &loadavg, NULL) >= 0 && (p = strchr(loadavg, '/')) &&
            parse_u64_prefix(p + 1, &n) >= 0)
                ret->tasks = n;
}

int sa_read_sys_u64(struct smapsaudit_ctx *ctx, const char *name, uint64_t *ret) {
        _cleanup_free_ char *buf = NULL;
        int r;

        r = sa_read_sys_file(ctx, name, &buf, NULL);
        if (r < 0)
                return r;
        return parse_u64_prefix(buf, ret) < 0 ? -EBADMSG : 0;
}

int sa_open_pid_file(struct smapsaudit_ctx *ctx, pid_t pid, const char *name, int flags) {
        _cleanup_free_ char *p = NULL;
        int r, fd;

        r = sa_bound_fd(ctx, pid, name);
        if (r >= 0) {
                fd = fcntl(r, F_DUPFD_CLOEXEC, 3);
                return fd < 0 ? negative_errno() : fd;
        }
        if (r != -ENOENT)
                return r;
        r = sa_proc_path(ctx, pid, name, &p);
        if (r < 0)
                return r;
        fd = open(p, flags | O_CLOEXEC | O_NOCTTY);
        return fd < 0 ? negative_errno() : fd;
}

int sa_stat_parse(const char *buf, struct sa_stat *ret) {
        unsigned long long flags, minflt, majflt, start;
        const char *p;
        char state;

        /* comm may hold spaces and parentheses: fields resume after the last ')' */
        p = strrchr(buf, ')');
        if (!p || sscanf(p + 1, " %c %*d %*d %*d %*d %*d %llu %llu %*u %llu %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
                         &state, &flags, &minflt, &majflt, &start) != 5)
                return -EBADMSG;
        *ret = (struct sa_stat) {
                .state = state,
                .flags = flags,
                .faults = minflt + majflt,
                .start_time = start,
        };
        return 0;
}

/* The state letter of a stat file ("R", "S", "Z"...), 0 if unreadable. */
char sa_stat_state(const char *path) {
        _cleanup_free_ char *buf = NULL;
        struct sa_stat st;

        if (sa_read_file(path, &buf, NULL) < 0 || sa_stat_parse(buf, &st) < 0)
                return 0;
        return st.state;
}

/*
 * The PID whose /proc directory shows a process's memory. A thread-group
 * leader that called pthread_exit() stays a zombie while its other threads
 * run on, and its own smaps, pagemap and status show no mm; /proc/TID of a
 * live thread (hidden from listings, but there) shows all of it.
 */
pid_t sa_mm_pid(struct smapsaudit_ctx *ctx, pid_t pid) {
        _cleanup_free_ char *path = NULL, *task = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;

        /* bound files are the process's own: another thread's directory would not be */
        if (!sa_ctx_live(ctx) || sa_ctx_bound_pid(ctx) != 0 || sa_proc_path(ctx, pid, "stat", &path) < 0 || sa_stat_state(path) != 'Z' ||
            sa_proc_path(ctx, pid, "task", &task) < 0 || !(d = opendir(task)))
                return pid;
        while ((de = readdir(d))) {
                _cleanup_free_ char *tstat = NULL;
                uint64_t tid;
                char state;

                if (parse_u64(de->d_name, &tid) < 0 || tid == (uint64_t) pid || tid > INT32_MAX ||
                    asprintf(&tstat, "%s/%s/stat", task, de->d_name) < 0)
                        continue;
                state = sa_stat_state(tstat);
                if (state && state != 'Z' && state != 'X')
                        return (pid_t) tid;
        }
        return pid;
}

ssize_t sa_pread_full(int fd, void *buf, size_t len, off_t off) {
        size_t done = 0;

        while (done < len) {
                ssize_t n = pread(fd, (char *) buf + done, len - done, off + (off_t) done);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return done > 0 ? (ssize_t) done : negative_errno();
                }
                if (n == 0)
                        break;
                done += (size_t) n;
        }
        return (ssize_t) done;
}
