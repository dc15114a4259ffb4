/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Capture: the accounting state of one process, laid out like /proc and
 * /sys below a directory, so that an audit with proc root DIR/proc and sys
 * root DIR/sys reproduces it offline (replaying a kernel bug on any
 * machine). pagemap, kpageflags and kpagecount become sparse files that
 * hold only the entries the process maps.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "capture.h"
#include "capture-pages.h"
#include "ctx.h"
#include "freeze.h"
#include "judge.h"
#include "missing.h"
#include "procfs.h"
#include "views.h"
#include "time-util.h"

static int write_file(int dfd, const char *name, const char *data, size_t len) {
        _cleanup_close_ int fd = -1;

        fd = sa_capture_create(dfd, name, O_WRONLY);
        if (fd < 0)
                return fd;
        while (len > 0) {
                ssize_t n = write(fd, data, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                data += n;
                len -= (size_t) n;
        }
        return 0;
}

/* Copies src (absolute) to name below dfd; a missing optional file is skipped. */
static int copy_file(const char *src, int dfd, const char *name) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r;

        r = sa_read_file(src, &buf, &len);
        if (r == -ENOENT || r == -EACCES || r == -EPERM || r == -EINVAL)
                return 0;
        if (r < 0)
                return r;
        return write_file(dfd, name, buf, len);
}

/* /proc/FROM/NAME to proc/PID/NAME of the capture: FROM is PID, or the thread showing its mm (sa_mm_pid) */
static int copy_proc(struct smapsaudit_ctx *ctx, pid_t from, pid_t pid, int dfd, const char *name) {
        _cleanup_free_ char *src = NULL, *dst = NULL;

        if (sa_proc_path(ctx, from, name, &src) < 0)
                return -ENOMEM;
        if (pid > 0 ? asprintf(&dst, "proc/%d/%s", (int) pid, name) < 0 : asprintf(&dst, "proc/%s", name) < 0)
                return -ENOMEM;
        return copy_file(src, dfd, dst);
}

static int copy_sys(struct smapsaudit_ctx *ctx, int dfd, const char *name) {
        _cleanup_free_ char *src = NULL, *dst = NULL;

        if (sa_sys_path(ctx, name, &src) < 0 || asprintf(&dst, "sys/%s", name) < 0)
                return -ENOMEM;
        return copy_file(src, dfd, dst);
}

/* The node → memory block links, as empty directories: only names matter. */
static int copy_node_map(struct smapsaudit_ctx *ctx, int dfd) {
        _cleanup_free_ char *src = NULL;
        DIR *d, *nd;
        struct dirent *de, *me;
        int r = 0;

        if (sa_sys_path(ctx, "devices/system/node", &src) < 0)
                return -ENOMEM;
        d = opendir(src);
        if (!d)
                return 0;
        while (r >= 0 && (de = readdir(d))) {
                _cleanup_free_ char *sub = NULL;
                if (strncmp(de->d_name, "node", 4) != 0 || asprintf(&sub, "%s/%s", src, de->d_name) < 0)
                        continue;
                nd = opendir(sub);
                if (!nd)
                        continue;
                while (r >= 0 && (me = readdir(nd))) {
                        _cleanup_free_ char *dst = NULL;
                        if (strncmp(me->d_name, "memory", 6) != 0 || !me->d_name[6] ||
                            strspn(me->d_name + 6, "0123456789") != strlen(me->d_name + 6))
                                continue;
                        if (asprintf(&dst, "sys/devices/system/node/%s/%s", de->d_name, me->d_name) < 0)
                                r = -ENOMEM;
                        else
                                r = sa_capture_mkdir(dfd, dst);
                }
                closedir(nd);
                if (r >= 0) {
                        _cleanup_free_ char *nodedir = NULL;
                        if (asprintf(&nodedir, "sys/devices/system/node/%s", de->d_name) < 0)
                                r = -ENOMEM;
                        else
                                r = sa_capture_mkdir(dfd, nodedir);
                }
        }
        closedir(d);
        return r;
}

/* shared[] holds a flag per VMA of the latest smaps read, which may have more VMAs than the one before. */
static int shared_resize(bool **shared, size_t n) {
        bool *nv = reallocarray(*shared, MAX(n, (size_t) 1), sizeof(**shared));

        if (!nv)
                return -ENOMEM;
        *shared = nv;
        return 0;
}

/*
 * How a and b differ: VMAs whose own pages moved (or that came or went:
 * *ret_layout) are counted in the return value; VMAs where only the
 * mapcounts of shared pages moved, which other processes move, are marked
 * in shared[] (b's indexes) and counted in *ret_shared.
 */
static size_t smaps_moved(const struct sa_smaps *a, const struct sa_smaps *b, bool *ret_layout, bool *shared,
                          size_t *ret_shared) {
        size_t moved = 0;

        *ret_layout = a->n != b->n;
        *ret_shared = 0;
        for (size_t i = 0; i < b->n; i++)
                shared[i] = false;
        for (size_t i = 0; i < MIN(a->n, b->n); i++) {
                const struct sa_smaps_vma *x = &a->vmas[i], *y = &b->vmas[i];

                if (x->start != y->start || x->end != y->end)
                        *ret_layout = true;
                if (!sa_smaps_core_stable(x, y))
                        moved++;
                else if ((sa_stable_fields(x, y) & MAPCOUNT_FIELDS) != MAPCOUNT_FIELDS) {
                        shared[i] = true;
                        (*ret_shared)++;
                }
        }
        return moved + (a->n > b->n ? a->n - b->n : b->n - a->n);
}

static int read_smaps(struct smapsaudit_ctx *ctx, pid_t pid, char **buf, struct sa_smaps *s) {
        int r;

        free(*buf);
        *buf = NULL;
        sa_smaps_done(s);
        r = sa_read_pid_file(ctx, pid, sa_pid_files[SA_VIEW_SMAPS].name, buf, NULL);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        return sa_smaps_parse(*buf, s);
}

static int write_view(struct smapsaudit_ctx *ctx, pid_t pid, int dfd, const char *file, const char *buf) {
        _cleanup_free_ char *name = NULL;

        if (asprintf(&name, "proc/%d/%s", (int) pid, file) < 0)
                return -ENOMEM;
        return write_file(dfd, name, buf, strlen(buf));
}

/* Why the last attempt did not settle, for the one message a capture that gives up prints. */
struct unsettled {
        unsigned attempts;
        size_t vmas_moved, vmas_shared;
        bool layout_moved;
};

static void unsettled_text(const struct unsettled *u, char *buf, size_t size) {
        if (u->vmas_moved > 0)
                snprintf(buf, size, "%s%zu VMA(s) changed between the reads around the copy of its pages",
                         u->layout_moved ? "it mapped or unmapped memory: " : "", u->vmas_moved);
        else
                snprintf(buf, size, "other processes changed the mapcounts of the pages it shares in %zu VMA(s) "
                                    "while they were copied", u->vmas_shared);
}

/* A copy of the shared pages of a few VMAs is quick: this many tries before the whole copy is taken again. */
#define CAPTURE_SHARED_TRIES 20
/* ... of which this many even past the deadline */
#define CAPTURE_SHARED_TRIES_LATE 3

enum {
        SETTLED_NOT,
        SETTLED,
        SETTLED_BUT_SHARED, /* the target's own pages held; the mapcounts of some pages it shares did not */
};

/*
 * The views and pages of pid, read until two smaps reads around the copy
 * of its pages agree and a third after smaps_rollup and status agrees too,
 * with the mapcounts copied still holding; or until deadline (u says why).
 * Returns SETTLED* or a negative errno.
 *
 * Other processes mapping and unmapping the libraries the target shares
 * (every exec maps libc) move mapcounts all the time on a busy machine:
 * where only those moved, just those VMAs are copied again between two
 * reads, which takes far less time than the whole copy (and goes on a few
 * times past deadline). A process that mapped a shared page while its
 * frame was copied and left before smaps was read again shows in the
 * frames read again at the end. When the mapcounts never hold still, the
 * copy whose own pages held is kept (SETTLED_BUT_SHARED).
 */
static int capture_settled(struct smapsaudit_ctx *ctx, pid_t pid, pid_t mm, int dfd, uint64_t deadline,
                           struct sa_capture_frames *frames, char **ret_smaps, char **settled, struct unsettled *u) {
        _cleanup_free_ char *before = NULL, *after = NULL, *kept = NULL;
        _cleanup_free_ bool *shared = NULL;
        struct sa_smaps a = {}, b = {};
        unsigned tries = 0;
        bool full = true;
        int r;

        r = read_smaps(ctx, mm, &before, &a);
        for (; r >= 0; free(before), before = TAKE_PTR(after), sa_smaps_done(&a), a = b, memset(&b, 0, sizeof(b))) {
                u->attempts += full;
                r = sa_capture_pages(ctx, mm, pid, dfd, &a, full ? NULL : shared, frames);
                if (r < 0)
                        break;
                r = read_smaps(ctx, mm, &after, &b);
                if (r < 0)
                        break;
                r = shared_resize(&shared, b.n);
                if (r < 0)
                        break;
                u->vmas_moved = smaps_moved(&a, &b, &u->layout_moved, shared, &u->vmas_shared);
                if (u->vmas_moved == 0) {
                        /* the rollup, status and numa_maps must belong to the same settled state */
                        for (size_t v = 0; v < _SA_VIEW_MAX; v++)
                                if (sa_pid_files[v].flags & SA_VIEW_SETTLED) {
                                        free(settled[v]);
                                        settled[v] = NULL;
                                        (void) sa_read_pid_file(ctx, mm, sa_pid_files[v].name, &settled[v], NULL);
                                }
                        free(before);
                        before = TAKE_PTR(after);
                        sa_smaps_done(&a);
                        a = b;
                        memset(&b, 0, sizeof(b));
                        r = read_smaps(ctx, mm, &after, &b);
                        if (r >= 0)
                                r = shared_resize(&shared, b.n);
                        if (r < 0)
                                break;
                        u->vmas_moved = smaps_moved(&a, &b, &u->layout_moved, shared, &u->vmas_shared);
                        if (u->vmas_moved == 0) {
                                free(kept);
                                kept = strdup(after);
                                if (!kept) {
                                        r = -ENOMEM;
                                        break;
                                }
                        }
                        if (u->vmas_moved == 0 && u->vmas_shared == 0) {
                                r = sa_capture_frames_settled(ctx, dfd, frames, shared);
                                if (r < 0)
                                        break;
                                u->vmas_shared = (size_t) r;
                                if (r == 0) {
                                        r = SETTLED;
                                        break;
                                }
                        }
                }
                /* only shared mapcounts moved: copy those VMAs again between this read and the next */
                full = u->vmas_moved > 0 || u->vmas_shared == 0 || ++tries > CAPTURE_SHARED_TRIES;
                if (now_usec(CLOCK_MONOTONIC) >= deadline && (full || tries > CAPTURE_SHARED_TRIES_LATE)) {
                        /* the last copy's own pages held (kept): good enough, said where it ends */
                        r = kept && u->vmas_moved == 0 ? SETTLED_BUT_SHARED : SETTLED_NOT;
                        break;
                }
                if (full)
                        tries = 0;
        }
        if (r == SETTLED)
                *ret_smaps = TAKE_PTR(after);
        else if (r == SETTLED_BUT_SHARED)
                *ret_smaps = TAKE_PTR(kept);
        sa_smaps_done(&a);
        sa_smaps_done(&b);
        return r;
}

static int capture_once(struct smapsaudit_ctx *ctx, pid_t pid, int dfd, uint64_t deadline, struct unsettled *u) {
        static const char *const proc_files[] = {
                "vmstat", "swaps", "meminfo", "sys/kernel/osrelease", "sys/kernel/numa_balancing", "config.gz",
        };
        static const char *const sys_files[] = {
                "devices/system/memory/block_size_bytes", "devices/system/cpu/possible",
                "kernel/mm/transparent_hugepage/enabled", "kernel/mm/ksm/run", "kernel/mm/ksm/pages_to_scan",
                "kernel/mm/ksm/sleep_millisecs", "kernel/mm/ksm/max_page_sharing", "kernel/mm/ksm/use_zero_pages",
                "kernel/mm/ksm/merge_across_nodes", "kernel/mm/ksm/pages_shared", "kernel/mm/ksm/pages_sharing",
                "kernel/mm/ksm/pages_unshared", "kernel/mm/ksm/pages_volatile", "kernel/mm/ksm/pages_scanned",
                "kernel/mm/ksm/full_scans", "kernel/mm/ksm/stable_node_chains", "kernel/mm/ksm/stable_node_dups",
                "kernel/mm/ksm/ksm_zero_pages", "kernel/mm/ksm/general_profit",
        };
        _cleanup_free_ char *piddir = NULL, *smaps = NULL;
        char *views[_SA_VIEW_MAX] = {}; /* the views read in the settled window, beside its smaps */
        struct sa_capture_frames frames = {};
        pid_t mm = sa_mm_pid(ctx, pid);
        int r, settled = SETTLED_NOT;

        if (asprintf(&piddir, "proc/%d", (int) pid) < 0)
                return -ENOMEM;
        r = sa_capture_mkdir(dfd, piddir);
        if (r >= 0)
                r = settled = capture_settled(ctx, pid, mm, dfd, deadline, &frames, &smaps, views, u);
        free(frames.v);
        if (r > SETTLED_NOT)
                r = write_view(ctx, pid, dfd, sa_pid_files[SA_VIEW_SMAPS].name, smaps);
        for (size_t v = 0; settled > SETTLED_NOT && r >= 0 && v < _SA_VIEW_MAX; v++) {
                const struct sa_pid_file *f = &sa_pid_files[v];

                if (v == SA_VIEW_SMAPS)
                        continue;
                if (f->flags & SA_VIEW_SETTLED)
                        r = views[v] ? write_view(ctx, pid, dfd, f->name, views[v]) : 0;
                else
                        /* the leader names the process and holds its start time */
                        r = copy_proc(ctx, (f->flags & SA_VIEW_LEADER) ? pid : mm, pid, dfd, f->name);
        }
        for (size_t v = 0; v < _SA_VIEW_MAX; v++)
                free(views[v]);
        if (r < 0 || settled <= SETTLED_NOT)
                return r < 0 ? r : settled;
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(proc_files); i++)
                r = copy_proc(ctx, 0, 0, dfd, proc_files[i]);
        for (size_t i = 0; r >= 0 && i < ELEMENTSOF(sys_files); i++)
                r = copy_sys(ctx, dfd, sys_files[i]);
        if (r >= 0)
                r = copy_node_map(ctx, dfd);
        return r < 0 ? r : settled;
}

/*
 * Whether the capture disagrees with itself on a mapcount field: a
 * process elsewhere mapped a shared page while its frames were copied and
 * unmapped it before smaps was read again. A real accounting bug does not
 * go away on the next try; such a race does.
 */
static int capture_races(struct smapsaudit_ctx *ctx, pid_t pid, const char *dir) {
        _cleanup_free_ char *proc = NULL, *sys = NULL;
        struct smapsaudit_ctx *replay = NULL;
        struct smapsaudit_report *rep = NULL;
        struct smapsaudit_audit_opts opts = { .max_passes = 2 };
        int r, races = 0;

        if (asprintf(&proc, "%s/proc", dir) < 0 || asprintf(&sys, "%s/sys", dir) < 0)
                return -ENOMEM;
        r = smapsaudit_ctx_new(&replay);
        if (r < 0)
                return r;
        sa_ctx_copy_log(replay, ctx);
        r = smapsaudit_ctx_set_proc_root(replay, proc);
        if (r >= 0)
                r = smapsaudit_ctx_set_sys_root(replay, sys);
        if (r >= 0)
                r = smapsaudit_audit_pid(replay, pid, &opts, &rep);
        for (size_t i = 0; r >= 0 && i < rep->n_findings; i++) {
                int f = sa_field_from_name(rep->findings[i].field);
                if (f >= 0 && ((MAPCOUNT_FIELDS & (1ULL << f)) || sa_fields[f].unit == SA_UNIT_PSS))
                        races++;
        }
        smapsaudit_report_unref(rep);
        smapsaudit_ctx_unref(replay);
        return r < 0 ? r : races;
}

#define CAPTURE_VERIFY_ATTEMPTS 5
/* A capture ends, taken or not, within this: a busy process is told why rather than chased. */
#define CAPTURE_BUDGET_USEC (25 * 1000000ULL)
/* --freeze=auto: the unfrozen tries before the target is stopped, and how long it stays stopped at most
 * (a copy begun goes on to its end) */
#define CAPTURE_UNFROZEN_USEC (2 * 1000000ULL)
#define CAPTURE_STOPPED_USEC (1000000ULL)

struct capture {
        struct smapsaudit_ctx *ctx;
        pid_t pid;
        const char *dir;
        int dfd, pidfd;
        unsigned flags;
        struct sa_freeze *frozen;
        uint64_t stop_start, stopped_usec;
        bool refused; /* --freeze=auto may not stop it */
};

static int capture_freeze(struct capture *c) {
        int r;

        if (c->pidfd < 0)
                return sa_error(c->ctx, -ESRCH, "PID %d: no such process", (int) c->pid);
        c->stop_start = now_usec(CLOCK_MONOTONIC);
        r = sa_freeze(c->pid, c->pidfd, &c->frozen, NULL);
        if (r == -EBUSY)
                return sa_error(c->ctx, r, "PID %d is already being traced (TracerPid in status): it cannot be frozen",
                                (int) c->pid);
        if (r < 0)
                return sa_error(c->ctx, r, "PID %d: cannot freeze it with ptrace: %s", (int) c->pid, strerror(-r));
        return 0;
}

static void capture_thaw(struct capture *c) {
        if (!c->frozen)
                return;
        sa_thaw(c->frozen);
        c->frozen = NULL;
        c->stopped_usec += now_usec(CLOCK_MONOTONIC) - c->stop_start;
}

static int capture_run(struct capture *c) {
        uint64_t t0 = now_usec(CLOCK_MONOTONIC), deadline = t0 + CAPTURE_BUDGET_USEC;
        struct unsettled u = {};
        char why[256];
        int r;

        if (c->flags & SMAPSAUDIT_AUDIT_FREEZE) {
                r = capture_freeze(c);
                if (r < 0)
                        return r;
        }
        for (unsigned i = 0; i < CAPTURE_VERIFY_ATTEMPTS; i++) {
                bool may_stop = (c->flags & SMAPSAUDIT_AUDIT_FREEZE_AUTO) && !c->frozen;

                r = capture_once(c->ctx, c->pid, c->dfd, may_stop ? MIN(deadline, t0 + CAPTURE_UNFROZEN_USEC) : deadline,
                                 &u);
                if (r == SETTLED_NOT && may_stop && !(c->refused = !sa_freeze_auto_allowed(c->pid))) {
                        r = capture_freeze(c);
                        if (r >= 0)
                                r = capture_once(c->ctx, c->pid, c->dfd,
                                                 MIN(deadline, now_usec(CLOCK_MONOTONIC) + CAPTURE_STOPPED_USEC), &u);
                }
                capture_thaw(c);
                if (r < 0)
                        return r;
                if (r == SETTLED_NOT) {
                        unsettled_text(&u, why, sizeof(why));
                        return sa_error(c->ctx, -EAGAIN,
                                        "PID %d changed in every one of %u copies of its memory in %.1f s (last: %s): "
                                        "nothing was captured; %s",
                                        (int) c->pid, u.attempts, (double) (now_usec(CLOCK_MONOTONIC) - t0) / 1e6, why,
                                        c->stopped_usec ? "it changed while stopped too (ksmd, khugepaged, or the "
                                                          "processes it shares pages with)" :
                                        c->refused ? "--freeze=auto did not stop it: not root, or it is traced or "
                                                     "stopped" :
                                                     "--freeze=auto (root) stops it while it is copied");
                }
                r = capture_races(c->ctx, c->pid, c->dir);
                if (r <= 0)
                        return r;
                if (now_usec(CLOCK_MONOTONIC) >= deadline)
                        break;
                /* the replay is the judge: a copy whose shared mapcounts moved may still agree with itself */
                sa_debug(c->ctx, "PID %d: capture %u raced with mapcount changes elsewhere, taking it again",
                         (int) c->pid, i + 1);
                /* let a burst of process starts and exits elsewhere pass */
                usleep(20000 * (i + 1));
        }
        sa_warn(c->ctx, "PID %d: other processes kept changing the mapcounts of pages it shares (%zu VMA(s) in "
                        "the last copy); Pss and the shared/private split in the capture may not replay exactly",
                (int) c->pid, u.vmas_shared);
        return 0;
}

_export_ int smapsaudit_capture_pid_opts(struct smapsaudit_ctx *ctx, pid_t pid, const char *dir,
                                         const struct smapsaudit_audit_opts *opts) {
        _cleanup_close_ int dfd = -1, pidfd = -1;
        struct capture c = { .ctx = ctx, .pid = pid, .dir = dir, .flags = opts ? opts->flags : 0 };
        int r;

        if ((c.flags & (SMAPSAUDIT_AUDIT_FREEZE | SMAPSAUDIT_AUDIT_FREEZE_AUTO)) && !sa_ctx_live(ctx))
                return sa_error(ctx, -EINVAL, "PID %d: freezing needs a live process, not files below %s", (int) pid,
                                smapsaudit_ctx_get_proc_root(ctx));
        dfd = sa_capture_dir_open(dir, pid);
        if (dfd == -ENOTEMPTY)
                return sa_error(ctx, dfd, "%s is not empty: a capture goes into a new directory", dir);
        if (dfd == -EPERM)
                return sa_error(ctx, dfd, "%s is another user's directory, or others may write to it: a capture goes "
                                "into a new directory", dir);
        if (dfd < 0)
                return sa_error(ctx, dfd, "cannot make the capture directory %s: %s", dir, strerror(-dfd));
        /* the process the PID names now is the one stopped, or none */
        pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        c.dfd = dfd;
        c.pidfd = pidfd;
        r = capture_run(&c);
        if (r < 0) {
                /* half a capture would replay as findings: leave nothing */
                (void) sa_capture_dir_clear(dfd);
                return r == -ENOENT ? sa_error(ctx, -ESRCH, "PID %d: no such process", (int) pid) : r;
        }
        if (c.stopped_usec)
                sa_warn(ctx, "PID %d was stopped for %.1f ms while its memory was copied", (int) pid,
                        (double) c.stopped_usec / 1000);
        return 0;
}

_export_ int smapsaudit_capture_pid(struct smapsaudit_ctx *ctx, pid_t pid, const char *dir) {
        return smapsaudit_capture_pid_opts(ctx, pid, dir, NULL);
}
