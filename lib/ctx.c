/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The library context: where procfs and sysfs live, logging, cached fds. */
#include <fcntl.h>
#include <stdarg.h>
#include <syslog.h>

#include "config.h"
#include "internal.h"

static void log_stderr(void *userdata, int priority, const char *msg) {
        fprintf(stderr, "smapsaudit: %s\n", msg);
}

_export_ int smapsaudit_ctx_new(struct smapsaudit_ctx **ret) {
        struct smapsaudit_ctx *ctx;

        ctx = calloc(1, sizeof(*ctx));
        if (!ctx)
                return -ENOMEM;
        ctx->n_ref = 1;
        ctx->proc_root = strdup("/proc");
        ctx->sys_root = strdup("/sys");
        if (!ctx->proc_root || !ctx->sys_root) {
                smapsaudit_ctx_unref(ctx);
                return -ENOMEM;
        }
        ctx->live = true;
        ctx->log_fn = log_stderr;
        ctx->log_priority = LOG_WARNING;
        ctx->kpageflags_fd = -1;
        ctx->kpagecount_fd = -1;
        *ret = ctx;
        return 0;
}

_export_ struct smapsaudit_ctx *smapsaudit_ctx_ref(struct smapsaudit_ctx *ctx) {
        if (ctx)
                ctx->n_ref++;
        return ctx;
}

static void ctx_drop_caches(struct smapsaudit_ctx *ctx) {
        if (ctx->kpageflags_fd >= 0)
                close(ctx->kpageflags_fd);
        if (ctx->kpagecount_fd >= 0)
                close(ctx->kpagecount_fd);
        ctx->kpageflags_fd = ctx->kpagecount_fd = -1;
        sa_node_map_free(ctx->nodes);
        ctx->nodes = NULL;
        sa_join_buffers_free(ctx->join);
        ctx->join = NULL;
        ctx->kernel_loaded = false;
}

_export_ struct smapsaudit_ctx *smapsaudit_ctx_unref(struct smapsaudit_ctx *ctx) {
        if (!ctx || --ctx->n_ref > 0)
                return NULL;
        ctx_drop_caches(ctx);
        for (size_t i = 0; i < ctx->n_bound; i++)
                close(ctx->bound[i].fd);
        free(ctx->proc_root);
        free(ctx->sys_root);
        free(ctx);
        return NULL;
}

_export_ int smapsaudit_ctx_bind_pid_file(struct smapsaudit_ctx *ctx, pid_t pid, const char *name, int fd) {
        struct sa_bound_file *b;
        int copy;

        if (!ctx || pid <= 0 || !name || strlen(name) >= sizeof(b->name) || fd < 0 || !ctx->live)
                return -EINVAL;
        /* one process per context: its files say nothing of another's */
        if (ctx->bound_pid != 0 && ctx->bound_pid != pid)
                return -EBUSY;
        if (sa_bound_fd(ctx, pid, name) >= 0)
                return -EEXIST;
        if (ctx->n_bound >= ELEMENTSOF(ctx->bound))
                return -E2BIG;
        copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (copy < 0)
                return negative_errno();
        b = &ctx->bound[ctx->n_bound++];
        snprintf(b->name, sizeof(b->name), "%s", name);
        b->fd = copy;
        ctx->bound_pid = pid;
        return 0;
}

static int set_root(struct smapsaudit_ctx *ctx, char **root, const char *dir) {
        char *s;

        if (!dir || !*dir)
                return -EINVAL;
        if (ctx->bound_pid != 0)
                return -EBUSY;
        s = strdup(dir);
        if (!s)
                return -ENOMEM;
        /* "/proc/" and "/proc" are the same root; keep joins clean. */
        for (size_t l = strlen(s); l > 1 && s[l - 1] == '/'; l--)
                s[l - 1] = 0;
        free(*root);
        *root = s;
        ctx_drop_caches(ctx);
        ctx->live = streq(ctx->proc_root, "/proc");
        return 0;
}

_export_ int smapsaudit_ctx_set_proc_root(struct smapsaudit_ctx *ctx, const char *dir) {
        return set_root(ctx, &ctx->proc_root, dir);
}

_export_ int smapsaudit_ctx_set_sys_root(struct smapsaudit_ctx *ctx, const char *dir) {
        return set_root(ctx, &ctx->sys_root, dir);
}

_export_ const char *smapsaudit_ctx_get_proc_root(const struct smapsaudit_ctx *ctx) {
        return ctx->proc_root;
}

_export_ const char *smapsaudit_ctx_get_sys_root(const struct smapsaudit_ctx *ctx) {
        return ctx->sys_root;
}

_export_ const char *smapsaudit_ctx_get_kernel_release(struct smapsaudit_ctx *ctx) {
        return sa_kernel_get(ctx)->release;
}

_export_ void smapsaudit_ctx_set_log_fn(struct smapsaudit_ctx *ctx, smapsaudit_log_fn fn, void *userdata) {
        ctx->log_fn = fn ? fn : log_stderr;
        ctx->log_userdata = fn ? userdata : NULL;
}

_export_ void smapsaudit_ctx_set_log_priority(struct smapsaudit_ctx *ctx, int priority) {
        ctx->log_priority = priority;
}

void sa_log(struct smapsaudit_ctx *ctx, int priority, const char *fmt, ...) {
        char msg[1024];
        va_list ap;

        if (priority > ctx->log_priority)
                return;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        ctx->log_fn(ctx->log_userdata, priority, msg);
}

int sa_error(struct smapsaudit_ctx *ctx, int r, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(ctx->last_error, sizeof(ctx->last_error), fmt, ap);
        va_end(ap);
        sa_log(ctx, LOG_DEBUG, "%s", ctx->last_error);
        return r;
}

_export_ const char *smapsaudit_ctx_get_error(const struct smapsaudit_ctx *ctx) {
        return ctx->last_error[0] ? ctx->last_error : NULL;
}

_export_ const char *smapsaudit_version(void) {
        return PACKAGE_VERSION;
}
