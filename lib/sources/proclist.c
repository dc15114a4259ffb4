/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which processes there are to audit: libproc2's pids API on a live system, the PID directories
 * below a capture's proc root otherwise. */
#include <dirent.h>
#include <libproc2/pids.h>
#include <limits.h>

#include "ctx.h"
#include "procfs.h"

static int cmp_rss(const void *a, const void *b) {
        const struct smapsaudit_proc *x = a, *y = b;
        return x->rss_kb < y->rss_kb ? 1 : x->rss_kb > y->rss_kb ? -1 : 0;
}

static int cmp_pid(const void *a, const void *b) {
        const struct smapsaudit_proc *x = a, *y = b;
        return x->pid < y->pid ? -1 : x->pid > y->pid;
}

/* A capture says nothing of kernel threads or memory sizes: every PID directory, by PID, with the
 * start time and name its stat file gives when it has one. */
static int list_captured(struct smapsaudit_ctx *ctx, struct smapsaudit_proc **ret, size_t *n) {
        _cleanup_free_ struct smapsaudit_proc *list = NULL;
        struct dirent *de;
        size_t count = 0;
        DIR *d;

        d = opendir(smapsaudit_ctx_get_proc_root(ctx));
        if (!d)
                return negative_errno();
        while ((de = readdir(d))) {
                _cleanup_free_ char *stat = NULL;
                struct smapsaudit_proc *nl;
                struct sa_stat st;
                char *end;
                long v = strtol(de->d_name, &end, 10);

                if (*end || end == de->d_name || v <= 0 || v > INT_MAX)
                        continue;
                nl = realloc(list, (count + 1) * sizeof(*nl));
                if (!nl) {
                        closedir(d);
                        return -ENOMEM;
                }
                list = nl;
                list[count] = (struct smapsaudit_proc) { .pid = (pid_t) v };
                if (sa_read_pid_file(ctx, (pid_t) v, "stat", &stat, NULL) >= 0 && sa_stat_parse(stat, &st) >= 0) {
                        const char *open = strchr(stat, '('), *close = strrchr(stat, ')');

                        list[count].start_time = st.start_time;
                        if (open && open < close)
                                        snprintf(list[count].comm, sizeof(list[count].comm), "%.*s",
                                         (int) (close - open - 1), open + 1);
                }
                count++;
        }
        closedir(d);
        if (count)
                qsort(list, count, sizeof(*list), cmp_pid);
        *ret = TAKE_PTR(list);
        *n = count;
        return 0;
}

_export_ int smapsaudit_list_processes(struct smapsaudit_ctx *ctx, struct smapsaudit_proc **ret, size_t *n) {
        enum pids_item items[] = { PIDS_ID_PID, PIDS_FLAGS, PIDS_VM_RSS, PIDS_TICS_BEGAN, PIDS_CMD, PIDS_STATE, PIDS_NLWP };
        struct pids_info *info = NULL;
        struct pids_stack *stack;
        struct smapsaudit_proc *list = NULL;
        size_t count = 0;
        int r;

        if (!sa_ctx_live(ctx))
                return list_captured(ctx, ret, n);
        r = procps_pids_new(&info, items, (int) ELEMENTSOF(items));
        if (r < 0)
                return r;
        while ((stack = procps_pids_get(info, PIDS_FETCH_TASKS_ONLY))) {
                unsigned long flags = PIDS_VAL(1, ul_int, stack, info);
                unsigned long rss = PIDS_VAL(2, ul_int, stack, info);
                /* a zombie leader shows no memory of its own while its threads run on (sa_mm_pid) */
                bool leader_gone = PIDS_VAL(5, s_ch, stack, info) == 'Z' && PIDS_VAL(6, s_int, stack, info) > 1;
                struct smapsaudit_proc *nl;

                if ((flags & SA_PF_KTHREAD) || (rss == 0 && !leader_gone))
                        continue;
                nl = realloc(list, (count + 1) * sizeof(*nl));
                if (!nl) {
                        free(list);
                        procps_pids_unref(&info);
                        return -ENOMEM;
                }
                list = nl;
                list[count] = (struct smapsaudit_proc) {
                        .pid = PIDS_VAL(0, s_int, stack, info),
                        .rss_kb = rss,
                        .start_time = PIDS_VAL(3, ull_int, stack, info),
                };
                snprintf(list[count].comm, sizeof(list[count].comm), "%s", PIDS_VAL(4, str, stack, info));
                count++;
        }
        procps_pids_unref(&info);
        qsort(list, count, sizeof(*list), cmp_rss);
        *ret = list;
        *n = count;
        return 0;
}

/*
 * The kernel's PTRACE_MODE_READ_FSCREDS also weighs the caller's gids, the
 * target's dumpable flag and its capabilities, none of which fit these
 * arguments: only the callers every rule lets through are answered yes.
 */
_export_ int smapsaudit_may_audit(struct smapsaudit_ctx *ctx, pid_t pid, uid_t caller_euid, bool caller_cap_sys_ptrace) {
        _cleanup_free_ char *buf = NULL;
        int r;

        if (pid <= 0)
                return -EINVAL;
        r = sa_read_pid_file(ctx, pid, "stat", &buf, NULL);
        if (r < 0)
                return r == -ENOENT ? -ESRCH : r;
        return caller_euid == 0 || caller_cap_sys_ptrace ? 1 : -EPERM;
}
