/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Files below the context's proc and sys roots (procfs.c): the live
 * kernel's, a capture's, or a process's bound file descriptors.
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

struct smapsaudit_ctx;

/* PF_KTHREAD and PF_EXITING from include/linux/sched.h, in /proc/PID/stat's flags: kernel threads
 * have no mm, and an exiting task drops its own before it is a zombie */
#define SA_PF_KTHREAD 0x00200000ULL
#define SA_PF_EXITING 0x00000004ULL

/* Reads a whole file; *ret is NUL-terminated. Missing file: -ENOENT. */
int sa_read_file(const char *path, char **ret, size_t *ret_len);
int sa_read_file_at(int dirfd, const char *name, char **ret, size_t *ret_len);
int sa_proc_path(const struct smapsaudit_ctx *ctx, pid_t pid, const char *name, char **ret);
/* A file bound with smapsaudit_ctx_bind_pid_file: its fd (>= 0), -ENOENT when the context reads
 * this one by path, -EACCES when it must not be read by path. */
int sa_bound_fd(const struct smapsaudit_ctx *ctx, pid_t pid, const char *name);
int sa_sys_path(const struct smapsaudit_ctx *ctx, const char *name, char **ret);
int sa_read_pid_file(struct smapsaudit_ctx *ctx, pid_t pid, const char *name, char **ret, size_t *len);
int sa_read_proc_file(struct smapsaudit_ctx *ctx, const char *name, char **ret, size_t *len);

struct sa_population {
        uint64_t forks;   /* /proc/stat "processes": forks since boot, 0 if unknown */
        uint64_t tasks;   /* /proc/loadavg: tasks alive now, 0 if unknown */
};
void sa_read_population(struct smapsaudit_ctx *ctx, struct sa_population *ret);
int sa_read_sys_file(struct smapsaudit_ctx *ctx, const char *name, char **ret, size_t *len);
int sa_read_sys_u64(struct smapsaudit_ctx *ctx, const char *name, uint64_t *ret);
int sa_open_pid_file(struct smapsaudit_ctx *ctx, pid_t pid, const char *name, int flags);
pid_t sa_mm_pid(struct smapsaudit_ctx *ctx, pid_t pid);
/* /proc/PID/stat, the fields the audit uses */
struct sa_stat {
        char state;           /* "R", "S", "Z"... */
        uint64_t flags;       /* PF_* task flags */
        uint64_t faults;      /* minflt + majflt */
        uint64_t start_time;  /* clock ticks after boot: with the PID, names one process */
};
int sa_stat_parse(const char *buf, struct sa_stat *ret);
char sa_stat_state(const char *path);
/* Full pread; a short read at EOF returns the bytes read. */
ssize_t sa_pread_full(int fd, void *buf, size_t len, off_t off);
