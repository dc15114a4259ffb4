/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The library context: where procfs and sysfs live, logging, the last error, what each stage keeps. */
#include <fcntl.h>
#include <stdarg.h>
#include <syslog.h>

#include "config.h"
#include "ctx.h"

struct smapsaudit_ctx {
        unsigned n_ref;
        char *proc_root;
        char *sys_root;
        bool live;                  /* the proc root is the running kernel's procfs */
        smapsaudit_log_fn log_fn;
        void *log_userdata;
        int log_priority;
        char last_error[512];       /* what failed, with PID and file */
        pid_t bound_pid;            /* 0, or the process whose files below were opened elsewhere */
        size_t n_bound;
        struct sa_bound_file {
                char name[24];
                int fd;
        } bound[8];
        struct sa_ctx_slot_data {
                void *data;
                void (*free_fn)(void *);
        } slots[_SA_CTX_SLOT_MAX];
};

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
        *ret = ctx;
        return 0;
}

_export_ struct smapsaudit_ctx *smapsaudit_ctx_ref(struct smapsaudit_ctx *ctx) {
        if (ctx)
                ctx->n_ref++;
        return ctx;
}

void *sa_ctx_slot(const struct smapsaudit_ctx *ctx, enum sa_ctx_slot s) {
        return ctx->slots[s].data;
}

void sa_ctx_set_slot(struct smapsaudit_ctx *ctx, enum sa_ctx_slot s, void *data, void (*free_fn)(void *)) {
        struct sa_ctx_slot_data *d = &ctx->slots[s];

        if (d->data && d->free_fn)
                d->free_fn(d->data);
        d->data = data;
        d->free_fn = free_fn;
}

/* What the stages learned below the old roots says nothing of the new ones. */
static void ctx_drop_caches(struct smapsaudit_ctx *ctx) {
        for (unsigned s = 0; s < _SA_CTX_SLOT_MAX; s++)
                sa_ctx_set_slot(ctx, s, NULL, NULL);
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
        if (sa_ctx_bound_file(ctx, pid, name) >= 0)
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

bool sa_ctx_live(const struct smapsaudit_ctx *ctx) {
        return ctx->live;
}

pid_t sa_ctx_bound_pid(const struct smapsaudit_ctx *ctx) {
        return ctx->bound_pid;
}

int sa_ctx_bound_file(const struct smapsaudit_ctx *ctx, pid_t pid, const char *name) {
        if (ctx->bound_pid == 0 || pid != ctx->bound_pid)
                return -ENOENT;
        for (size_t i = 0; i < ctx->n_bound; i++)
                if (streq(ctx->bound[i].name, name))
                        return ctx->bound[i].fd;
        return -ENOENT;
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

_export_ void smapsaudit_ctx_set_log_fn(struct smapsaudit_ctx *ctx, smapsaudit_log_fn fn, void *userdata) {
        ctx->log_fn = fn ? fn : log_stderr;
        ctx->log_userdata = fn ? userdata : NULL;
}

_export_ void smapsaudit_ctx_set_log_priority(struct smapsaudit_ctx *ctx, int priority) {
        ctx->log_priority = priority;
}

void sa_ctx_copy_log(struct smapsaudit_ctx *dst, const struct smapsaudit_ctx *src) {
        dst->log_fn = src->log_fn;
        dst->log_userdata = src->log_userdata;
        dst->log_priority = src->log_priority;
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

void sa_ctx_clear_error(struct smapsaudit_ctx *ctx) {
        ctx->last_error[0] = 0;
}

_export_ const char *smapsaudit_ctx_get_error(const struct smapsaudit_ctx *ctx) {
        return ctx->last_error[0] ? ctx->last_error : NULL;
}

_export_ const char *smapsaudit_version(void) {
        return PACKAGE_VERSION;
}
