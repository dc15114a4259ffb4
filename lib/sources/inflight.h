/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct smapsaudit_ctx;
struct smapsaudit_report;

/* What a thread of the target may be doing to its status counters, least to most certain. */
enum sa_inflight_kind {
        SA_INFLIGHT_NONE,
        SA_INFLIGHT_UNKNOWN,  /* on a CPU, or its files not readable: nothing can be excluded */
        SA_INFLIGHT_VFORK,    /* waiting for a child that shares the mm and may be inside execve() */
        SA_INFLIGHT_UNMAP,    /* zapping pages of VMAs that smaps and pagemap may no longer show */
        SA_INFLIGHT_EXEC,     /* inside execve(): the new image's argument pages counted in the old mm */
};

struct sa_inflight_thread {
        pid_t tid;
        enum sa_inflight_kind kind;
        char what[40];        /* the system call, "execve()", or the kernel function seen on its stack */
};

#define SA_INFLIGHT_MAX 32

/* The target's threads that were not known to be elsewhere when it was sampled. */
struct sa_inflight {
        bool sampled;
        bool overflow;        /* more than SA_INFLIGHT_MAX of them: any thread may have been */
        size_t n;
        struct sa_inflight_thread t[SA_INFLIGHT_MAX];
};

void sa_inflight_sample(struct smapsaudit_ctx *ctx, pid_t pid, struct sa_inflight *ret);

/*
 * A sample taken once no thread is caught inside such work, waiting for it
 * a millisecond at a time while *budget_usec lasts (an unmap's zap takes
 * milliseconds; an exec held by a fault may never end).
 */
void sa_inflight_settle(struct smapsaudit_ctx *ctx, pid_t pid, uint64_t *budget_usec, struct sa_inflight *ret);

/*
 * The worst a thread may have been doing through a window with a sample
 * taken inside it at each end: only a thread caught in the operation (or
 * unknown) at both samples can have been in it through the whole window.
 */
struct sa_inflight_thread sa_inflight_window(const struct sa_inflight *a, const struct sa_inflight *b);

#define SA_INFLIGHT_LOG_MAX 4

/* Why the status counters were not compared, and in which passes. */
struct sa_inflight_log {
        size_t n;
        struct {
                char why[256];
                uint32_t passes;
        } e[SA_INFLIGHT_LOG_MAX];
};

/* A thread in such work through the window keeps the status counters from being compared. */
bool sa_inflight_keeps_status(const struct sa_inflight_thread *w);

/*
 * Whether the status counters may be compared in this pass at all; if not,
 * logs why. An unknown thread does not keep them from being compared.
 */
bool sa_inflight_status_comparable(struct sa_inflight_log *log, unsigned pass, const struct sa_inflight_thread *w);

/*
 * After the comparison: an over-accounting in status that a thread nobody
 * could see into may have caused is not judged in this pass (the status
 * comparison of the pass is withdrawn, and logged). True if it was.
 */
bool sa_inflight_withdraw_over(struct sa_inflight_log *log, unsigned pass, const struct sa_inflight_thread *w,
                               struct smapsaudit_report *r);

/* One note per reason, naming the passes. */
int sa_inflight_log_notes(const struct sa_inflight_log *log, struct smapsaudit_report *r);
