/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The library context as every stage sees it: logging, the last error (which
 * names the PID and the file), whether the proc root is the running kernel's,
 * the files bound to one process, and one slot per stage for what that stage
 * keeps between calls. Only ctx.c knows the struct's layout.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "macro.h"
#include "smapsaudit.h"

void sa_log(struct smapsaudit_ctx *ctx, int priority, const char *fmt, ...) _printf_(3, 4);
/* Records what failed (for smapsaudit_ctx_get_error) and returns r. */
int sa_error(struct smapsaudit_ctx *ctx, int r, const char *fmt, ...) _printf_(3, 4);
#define sa_debug(ctx, ...) sa_log(ctx, 7, __VA_ARGS__)
#define sa_notice(ctx, ...) sa_log(ctx, 5, __VA_ARGS__)
#define sa_info(ctx, ...) sa_log(ctx, 6, __VA_ARGS__)
#define sa_warn(ctx, ...) sa_log(ctx, 4, __VA_ARGS__)
void sa_ctx_clear_error(struct smapsaudit_ctx *ctx);
/* dst logs where and as much as src does. */
void sa_ctx_copy_log(struct smapsaudit_ctx *dst, const struct smapsaudit_ctx *src);

/* The proc root is the running kernel's procfs: processes can be followed, stopped and read again. */
bool sa_ctx_live(const struct smapsaudit_ctx *ctx);
/* 0, or the process whose files smapsaudit_ctx_bind_pid_file() gave the context. */
pid_t sa_ctx_bound_pid(const struct smapsaudit_ctx *ctx);
/* The fd bound for pid's file name, or -ENOENT. */
int sa_ctx_bound_file(const struct smapsaudit_ctx *ctx, pid_t pid, const char *name);

/*
 * What a stage keeps between calls (open files, tables read once, scratch
 * buffers) is its own: the context only holds it, and frees it with the
 * stage's function when the context goes or its roots change.
 */
enum sa_ctx_slot {
        SA_CTX_KERNEL,    /* kernel.c: the release and config the rules depend on */
        SA_CTX_PAGEINFO,  /* pageinfo.c: kpageflags, kpagecount, the node map, the join's buffers */
        _SA_CTX_SLOT_MAX,
};
void *sa_ctx_slot(const struct smapsaudit_ctx *ctx, enum sa_ctx_slot s);
/* Takes data over, freeing what the slot held. */
void sa_ctx_set_slot(struct smapsaudit_ctx *ctx, enum sa_ctx_slot s, void *data, void (*free_fn)(void *));
