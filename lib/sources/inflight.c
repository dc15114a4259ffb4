/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Kernel work in flight that moves the status counters away from the page
 * tables for as long as it runs, without any bug:
 *
 * - execve(): fs/exec.c get_arg_page() → acct_arg_size() adds the new
 *   stack VMA's pages to MM_ANONPAGES of current->mm, the old image, from
 *   copy_strings() until begin_new_exec() undoes it right before
 *   exec_mmap() (or free_bprm() when the exec fails). A vfork() child
 *   shares its parent's mm, so its exec inflates the parent's counters.
 * - an unmap (munmap, mremap shrinking or moving, brk, MADV_DONTNEED, mmap
 *   over a mapping, exit): the VMA leaves the tree first, then its pages
 *   are zapped, with mmap_lock downgraded to read; smaps and pagemap stop
 *   showing them at once, the counters drop only as the zap goes.
 *
 * Each thread of the target is sampled: /proc/PID/task/TID/stack (root
 * only, fs/proc/base.c proc_pid_stack) says where a thread that is not on
 * a CPU is; /proc/PID/task/TID/syscall gives the system call of a thread
 * that sleeps and "running" for one that is runnable (lib/syscall.c
 * task_current_syscall() returns -EAGAIN when __state is TASK_RUNNING).
 * Neither can see into a thread on a CPU: x86's unwinder gives an empty
 * stack for a task on another CPU (unwind_orc.c, task_on_another_cpu()).
 */
#include <dirent.h>
#include <sys/syscall.h>
#include <time.h>

#include "ctx.h"
#include "inflight.h"
#include "procfs.h"
#include "report.h"

#define SETTLE_TICK_USEC 1000

static const struct {
        long nr;
        enum sa_inflight_kind kind;
        const char *name;
} syscalls[] = {
        { SYS_execve, SA_INFLIGHT_EXEC, "execve()" },
#ifdef SYS_execveat
        { SYS_execveat, SA_INFLIGHT_EXEC, "execveat()" },
#endif
#ifdef SYS_vfork
        { SYS_vfork, SA_INFLIGHT_VFORK, "vfork()" },
#endif
        { SYS_clone, SA_INFLIGHT_VFORK, "clone()" },
#ifdef SYS_clone3
        { SYS_clone3, SA_INFLIGHT_VFORK, "clone3()" },
#endif
        { SYS_munmap, SA_INFLIGHT_UNMAP, "munmap()" },
        { SYS_mremap, SA_INFLIGHT_UNMAP, "mremap()" },
        { SYS_brk, SA_INFLIGHT_UNMAP, "brk()" },
        { SYS_madvise, SA_INFLIGHT_UNMAP, "madvise()" },
#ifdef SYS_mmap
        { SYS_mmap, SA_INFLIGHT_UNMAP, "mmap()" },
#endif
#ifdef SYS_mmap2
        { SYS_mmap2, SA_INFLIGHT_UNMAP, "mmap2()" },
#endif
#ifdef SYS_shmdt
        { SYS_shmdt, SA_INFLIGHT_UNMAP, "shmdt()" },
#endif
        { SYS_exit, SA_INFLIGHT_UNMAP, "exit()" },
        { SYS_exit_group, SA_INFLIGHT_UNMAP, "exit_group()" },
};

/* Kernel functions on a stack that put the thread inside such work (suffixes like .isra.0 dropped). */
static const struct {
        const char *name;
        enum sa_inflight_kind kind;
} frames[] = {
        { "do_execveat_common", SA_INFLIGHT_EXEC },
        { "bprm_execve", SA_INFLIGHT_EXEC },
        { "copy_strings", SA_INFLIGHT_EXEC },
        { "wait_for_vfork_done", SA_INFLIGHT_VFORK },
        { "unmap_vmas", SA_INFLIGHT_UNMAP },
        { "unmap_single_vma", SA_INFLIGHT_UNMAP },
        { "unmap_page_range", SA_INFLIGHT_UNMAP },
        { "zap_page_range_single", SA_INFLIGHT_UNMAP },
        { "zap_p4d_range", SA_INFLIGHT_UNMAP },
        { "zap_pud_range", SA_INFLIGHT_UNMAP },
        { "zap_pmd_range", SA_INFLIGHT_UNMAP },
        { "zap_pte_range", SA_INFLIGHT_UNMAP },
        { "vms_clear_ptes", SA_INFLIGHT_UNMAP },
        { "vms_complete_munmap_vmas", SA_INFLIGHT_UNMAP },
        { "unmap_region", SA_INFLIGHT_UNMAP },
        { "exit_mmap", SA_INFLIGHT_UNMAP },
};

/* The most telling kernel function on a stack, or SA_INFLIGHT_NONE if there is none. */
static enum sa_inflight_kind classify_stack(const char *stack, char *what, size_t size) {
        enum sa_inflight_kind worst = SA_INFLIGHT_NONE;

        for (const char *line = stack; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
                const char *name = strstr(line, "] ");
                size_t len;

                if (!name)
                        continue;
                name += 2;
                len = strcspn(name, ".+\n");
                for (size_t i = 0; i < ELEMENTSOF(frames); i++)
                        if (strlen(frames[i].name) == len && strncmp(frames[i].name, name, len) == 0 &&
                            frames[i].kind > worst) {
                                worst = frames[i].kind;
                                snprintf(what, size, "%s()", frames[i].name);
                        }
        }
        return worst;
}

static enum sa_inflight_kind classify_syscall(long nr, char *what, size_t size) {
        for (size_t i = 0; i < ELEMENTSOF(syscalls); i++)
                if (syscalls[i].nr == nr) {
                        snprintf(what, size, "%s", syscalls[i].name);
                        return syscalls[i].kind;
                }
        return SA_INFLIGHT_NONE;
}

static enum sa_inflight_kind classify_thread(int taskfd, pid_t tid, char *what, size_t size) {
        _cleanup_free_ char *sc = NULL, *stack = NULL;
        enum sa_inflight_kind by_nr = SA_INFLIGHT_UNKNOWN;
        char path[64];
        bool running;

        snprintf(path, sizeof(path), "%d/syscall", (int) tid);
        if (sa_read_file_at(taskfd, path, &sc, NULL) < 0) {
                snprintf(what, size, "not readable");
                return SA_INFLIGHT_UNKNOWN;
        }
        running = startswith(sc, "running") != NULL;
        if (!running) {
                char *end;
                long nr = strtol(sc, &end, 10);

                /* -1: in a fault or exception, not a system call; a page fault only adds pages */
                if (end == sc || nr < 0)
                        return SA_INFLIGHT_NONE;
                by_nr = classify_syscall(nr, what, size);
                if (by_nr == SA_INFLIGHT_NONE)
                        return SA_INFLIGHT_NONE;
        }
        /* a thread asleep in one of those calls may not have begun (waiting for mmap_lock, say) */
        snprintf(path, sizeof(path), "%d/stack", (int) tid);
        if (sa_read_file_at(taskfd, path, &stack, NULL) >= 0 && stack[0]) {
                char frame[sizeof(((struct sa_inflight_thread *) NULL)->what)] = "";
                enum sa_inflight_kind kind = classify_stack(stack, frame, sizeof(frame));

                /* the system call says more to the reader than the function it is in */
                if (running)
                        snprintf(what, size, "%s", frame);
                return kind;
        }
        if (running)
                snprintf(what, size, "on a CPU");
        return by_nr;
}

static void add_thread(struct sa_inflight *s, pid_t tid, enum sa_inflight_kind kind, const char *what) {
        if (s->n == SA_INFLIGHT_MAX) {
                s->overflow = true;
                return;
        }
        s->t[s->n] = (struct sa_inflight_thread) { .tid = tid, .kind = kind };
        snprintf(s->t[s->n].what, sizeof(s->t[s->n].what), "%s", what);
        s->n++;
}

void sa_inflight_sample(struct smapsaudit_ctx *ctx, pid_t pid, struct sa_inflight *ret) {
        _cleanup_free_ char *path = NULL;
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;

        memset(ret, 0, sizeof(*ret));
        /* a capture has no threads to look at */
        if (!sa_ctx_live(ctx) || sa_proc_path(ctx, pid, "task", &path) < 0 || !(d = opendir(path)))
                return;
        ret->sampled = true;
        while ((de = readdir(d))) {
                char what[sizeof(ret->t[0].what)] = "";
                enum sa_inflight_kind kind;
                char *end;
                long tid = strtol(de->d_name, &end, 10);

                if (end == de->d_name || *end || tid <= 0 || tid > INT32_MAX)
                        continue;
                kind = classify_thread(dirfd(d), (pid_t) tid, what, sizeof(what));
                if (kind != SA_INFLIGHT_NONE)
                        add_thread(ret, (pid_t) tid, kind, what);
        }
}

static bool any_in_flight(const struct sa_inflight *s) {
        for (size_t i = 0; i < s->n; i++)
                if (s->t[i].kind > SA_INFLIGHT_UNKNOWN)
                        return true;
        return false;
}

void sa_inflight_settle(struct smapsaudit_ctx *ctx, pid_t pid, uint64_t *budget_usec, struct sa_inflight *ret) {
        const struct timespec tick = { 0, SETTLE_TICK_USEC * 1000 };

        sa_inflight_sample(ctx, pid, ret);
        while (any_in_flight(ret) && *budget_usec >= SETTLE_TICK_USEC) {
                nanosleep(&tick, NULL);
                *budget_usec -= SETTLE_TICK_USEC;
                sa_inflight_sample(ctx, pid, ret);
        }
}

static const struct sa_inflight_thread *find_thread(const struct sa_inflight *s, pid_t tid) {
        for (size_t i = 0; i < s->n; i++)
                if (s->t[i].tid == tid)
                        return &s->t[i];
        return NULL;
}

/* A thread in a list that overflowed, missing from it: anything. */
static const struct sa_inflight_thread unknown = { .kind = SA_INFLIGHT_UNKNOWN, .what = "on a CPU" };

static void consider(struct sa_inflight_thread *worst, const struct sa_inflight_thread *x,
                     const struct sa_inflight_thread *y) {
        const struct sa_inflight_thread *w = x->kind >= y->kind ? x : y;

        if (w->kind > worst->kind) {
                *worst = *w;
                worst->tid = x->tid;
        }
}

struct sa_inflight_thread sa_inflight_window(const struct sa_inflight *a, const struct sa_inflight *b) {
        struct sa_inflight_thread worst = { .kind = SA_INFLIGHT_NONE };

        if (!a->sampled || !b->sampled)
                return worst;
        for (size_t i = 0; i < a->n; i++) {
                const struct sa_inflight_thread *y = find_thread(b, a->t[i].tid);

                if (y || b->overflow)
                        consider(&worst, &a->t[i], y ? y : &unknown);
        }
        if (a->overflow)
                for (size_t i = 0; i < b->n; i++)
                        if (!find_thread(a, b->t[i].tid))
                                consider(&worst, &b->t[i], &unknown);
        if (a->overflow && b->overflow && worst.kind == SA_INFLIGHT_NONE) {
                worst = unknown;
                worst.tid = a->t[0].tid;
        }
        return worst;
}

static void log_pass(struct sa_inflight_log *log, unsigned pass, const char *why) {
        size_t i;

        for (i = 0; i < log->n; i++)
                if (streq(log->e[i].why, why))
                        break;
        if (i == log->n) {
                if (log->n == SA_INFLIGHT_LOG_MAX)
                        i = log->n - 1;
                else
                        snprintf(log->e[log->n++].why, sizeof(log->e[0].why), "%s", why);
        }
        if (pass >= 1 && pass <= 32)
                log->e[i].passes |= 1U << (pass - 1);
}

bool sa_inflight_keeps_status(const struct sa_inflight_thread *w) {
        return w->kind == SA_INFLIGHT_EXEC || w->kind == SA_INFLIGHT_VFORK || w->kind == SA_INFLIGHT_UNMAP;
}

bool sa_inflight_status_comparable(struct sa_inflight_log *log, unsigned pass, const struct sa_inflight_thread *w) {
        char why[256];

        switch (w->kind) {
        case SA_INFLIGHT_EXEC:
                snprintf(why, sizeof(why), "thread %d was inside %s (its argument pages are counted in the old "
                         "image until the exec commits)", (int) w->tid, w->what);
                break;
        case SA_INFLIGHT_VFORK:
                snprintf(why, sizeof(why), "thread %d was waiting in %s for a child that shares its memory and may "
                         "be inside execve() (the child's argument pages are counted in this image until its exec "
                         "commits)", (int) w->tid, w->what);
                break;
        case SA_INFLIGHT_UNMAP:
                snprintf(why, sizeof(why), "thread %d was inside %s (pages it unmaps stay counted until their zap "
                         "ends, while smaps and pagemap no longer show them)", (int) w->tid, w->what);
                break;
        default:
                return true;
        }
        log_pass(log, pass, why);
        return false;
}

bool sa_inflight_withdraw_over(struct sa_inflight_log *log, unsigned pass, const struct sa_inflight_thread *w,
                               struct smapsaudit_report *r) {
        char why[256];
        bool over = false;

        if (w->kind != SA_INFLIGHT_UNKNOWN)
                return false;
        for (unsigned f = 0; f < _SA_FIELD_MAX; f++)
                over |= r->status_cmp[f].judged && r->status_cmp[f].verdict == SMAPSAUDIT_OVER_ACCOUNTED;
        if (!over)
                return false;
        for (unsigned f = 0; f < _SA_FIELD_MAX; f++)
                r->status_cmp[f].judged = false;
        snprintf(why, sizeof(why), "status was above the walk while thread %d was %s at both samples, where "
                 "neither its system call nor its stack can be read: it may have been inside execve() or an "
                 "unmap", (int) w->tid, w->what);
        log_pass(log, pass, why);
        return true;
}

int sa_inflight_log_notes(const struct sa_inflight_log *log, struct smapsaudit_report *r) {
        for (size_t i = 0; i < log->n; i++) {
                char passes[128] = "";
                size_t len = 0;
                unsigned count = 0;
                int ret;

                for (unsigned p = 0; p < 32 && len < sizeof(passes); p++)
                        if (log->e[i].passes & (1U << p)) {
                                len += (size_t) snprintf(passes + len, sizeof(passes) - len, "%s%u",
                                                         count ? ", " : "", p + 1);
                                count++;
                        }
                ret = sa_report_note(r, "status not compared in pass%s %s: %s", count > 1 ? "es" : "", passes,
                                     log->e[i].why);
                if (ret < 0)
                        return ret;
        }
        return 0;
}
