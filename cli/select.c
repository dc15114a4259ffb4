/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "select.h"
#include "smapsaudit.h"

char *process_unit(pid_t pid) {
        struct smapsaudit_ctx *ctx = NULL;
        char *unit = NULL;

        if (smapsaudit_ctx_new(&ctx) >= 0)
                (void) smapsaudit_pid_unit(ctx, pid, &unit, NULL);
        smapsaudit_ctx_unref(ctx);
        return unit;
}

bool unit_name_matches(const char *u, const char *unit) {
        size_t l = strlen(unit);

        if (!u)
                return false;
        return streq(u, unit) || (!strchr(unit, '.') && strncmp(u, unit, l) == 0 && streq(u + l, ".service"));
}

static bool process_in_unit(struct smapsaudit_ctx *ctx, pid_t pid, const char *unit) {
        _cleanup_free_ char *system = NULL, *user = NULL;

        if (smapsaudit_pid_unit(ctx, pid, &system, &user) < 0)
                return false;
        return unit_name_matches(system, unit) || unit_name_matches(user, unit);
}

static int cmp_pid(const void *a, const void *b) {
        pid_t x = *(const pid_t *) a, y = *(const pid_t *) b;

        return x < y ? -1 : x > y;
}

int select_processes(const char *comm, const char *unit, pid_t **ret, size_t *ret_n) {
        _cleanup_free_ struct smapsaudit_proc *procs = NULL;
        _cleanup_free_ pid_t *pids = NULL;
        struct smapsaudit_ctx *ctx = NULL;
        size_t n_procs = 0, n = 0;
        regex_t re;
        int r;

        if (comm) {
                r = regcomp(&re, comm, REG_EXTENDED | REG_NOSUB);
                if (r != 0) {
                        char msg[256];

                        regerror(r, &re, msg, sizeof(msg));
                        fprintf(stderr, "smapsaudit: --comm '%s' is not a regular expression: %s\n", comm, msg);
                        return -EINVAL;
                }
        }

        r = smapsaudit_ctx_new(&ctx);
        if (r >= 0)
                r = smapsaudit_list_processes(ctx, &procs, &n_procs);
        if (r >= 0 && n_procs > 0 && !(pids = calloc(n_procs, sizeof(pid_t))))
                r = -ENOMEM;
        if (r < 0) {
                fprintf(stderr, "smapsaudit: cannot list the processes: %s\n", strerror(-r));
                goto finish;
        }

        for (size_t i = 0; i < n_procs; i++) {
                if (procs[i].pid == getpid())
                        continue;
                if (comm && regexec(&re, procs[i].comm, 0, NULL, 0) != 0)
                        continue;
                if (unit && !process_in_unit(ctx, procs[i].pid, unit))
                        continue;
                pids[n++] = procs[i].pid;
        }
        qsort(pids, n, sizeof(pid_t), cmp_pid);
        *ret = TAKE_PTR(pids);
        *ret_n = n;
        r = 0;
finish:
        smapsaudit_ctx_unref(ctx);
        if (comm)
                regfree(&re);
        return r;
}
