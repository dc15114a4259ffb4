/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "access.h"
#include "macro.h"

/* The helper only opens files: longer means it was stopped or the target's exec lock is stuck. */
#define GRANT_TIMEOUT_MSEC 5000

static const char *const grant_names[_GRANT_FILE_MAX] = {
        [GRANT_SMAPS] = "smaps",
        [GRANT_SMAPS_ROLLUP] = "smaps_rollup",
        [GRANT_NUMA_MAPS] = "numa_maps",
        [GRANT_PAGEMAP] = "pagemap",
        [GRANT_KSM_STAT] = "ksm_stat",
        [GRANT_KSM_MERGING_PAGES] = "ksm_merging_pages",
};

/* What the helper sends: one errno per file (0: its fd is among the SCM_RIGHTS, in order). */
typedef struct GrantAnswer {
        int error[_GRANT_FILE_MAX];
} GrantAnswer;

static bool no_capabilities(void) {
        struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct data[2] = {};

        if (syscall(SYS_capget, &hdr, data) < 0)
                return false;
        return (data[0].effective | data[1].effective | data[0].permitted | data[1].permitted) == 0;
}

/*
 * In the forked child of a threaded process: system calls only. Setting
 * all three uids away from 0 clears the permitted and effective
 * capabilities (the kernel's setuid fixup); it is checked rather than
 * assumed. The change of credentials also makes the helper non-dumpable,
 * so the caller cannot ptrace it into sending something else.
 */
_Noreturn static void helper(int sock, const CallerCreds *c, char paths[][64]) {
        int fds[_GRANT_FILE_MAX], n_fds = 0;
        GrantAnswer answer = {};
        char control[CMSG_SPACE(sizeof(fds))] = {};
        struct iovec iov = { .iov_base = &answer, .iov_len = sizeof(answer) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

        /* raw calls: glibc's wrappers would signal the threads this child does not have */
        if (syscall(SYS_setgroups, c->n_groups, c->groups) < 0 || syscall(SYS_setresgid, c->gid, c->gid, c->gid) < 0 ||
            syscall(SYS_setresuid, c->uid, c->uid, c->uid) < 0 || !no_capabilities())
                _exit(EXIT_FAILURE);

        for (GrantFile f = 0; f < _GRANT_FILE_MAX; f++) {
                int fd = open(paths[f], O_RDONLY | O_CLOEXEC | O_NOCTTY);

                if (fd < 0)
                        answer.error[f] = errno;
                else
                        fds[n_fds++] = fd;
        }
        if (n_fds > 0) {
                struct cmsghdr *cmsg;

                mh.msg_control = control;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
                cmsg = CMSG_FIRSTHDR(&mh);
                cmsg->cmsg_level = SOL_SOCKET;
                cmsg->cmsg_type = SCM_RIGHTS;
                cmsg->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
                memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * n_fds);
        }
        _exit(sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? EXIT_FAILURE : EXIT_SUCCESS);
}

static int receive(int sock, Grant *g) {
        GrantAnswer answer;
        char control[CMSG_SPACE(sizeof(int) * _GRANT_FILE_MAX)] = {};
        struct iovec iov = { .iov_base = &answer, .iov_len = sizeof(answer) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                             .msg_controllen = sizeof(control) };
        struct pollfd pfd = { .fd = sock, .events = POLLIN };
        struct cmsghdr *cmsg;
        int *fds = NULL;
        size_t n_fds = 0, used = 0;
        ssize_t n;
        int r;

        r = poll(&pfd, 1, GRANT_TIMEOUT_MSEC);
        if (r < 0)
                return -errno;
        if (r == 0)
                return -ETIMEDOUT;
        n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0)
                return -errno;
        if (n == 0)
                return -EPROTO;   /* it could not take the caller's credentials */
        cmsg = CMSG_FIRSTHDR(&mh);
        if (cmsg && cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
                fds = (int *) CMSG_DATA(cmsg);
                n_fds = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        }
        /* a short answer or a truncated one is no grant: close whatever came */
        if (n != (ssize_t) sizeof(answer) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
                r = -EBADMSG;
        else
                for (GrantFile f = 0; f < _GRANT_FILE_MAX; f++)
                        if (answer.error[f] == 0 && used < n_fds)
                                g->fds[f] = fds[used++];
        for (size_t i = used; i < n_fds; i++)
                close(fds[i]);
        if (r < 0)
                return r;
        if (g->fds[GRANT_SMAPS] < 0)
                return answer.error[GRANT_SMAPS] == ENOENT ? -ESRCH : -answer.error[GRANT_SMAPS];
        if (g->fds[GRANT_PAGEMAP] < 0)
                return answer.error[GRANT_PAGEMAP] == ENOENT ? -ESRCH : -answer.error[GRANT_PAGEMAP];
        return 0;
}

int grant_open(pid_t pid, const CallerCreds *c, Grant *ret) {
        char paths[_GRANT_FILE_MAX][64];
        Grant g = GRANT_NULL;
        int sv[2], status, r;
        pid_t child;

        /* formatted before the fork: the child of a threaded process only makes system calls */
        for (GrantFile f = 0; f < _GRANT_FILE_MAX; f++)
                snprintf(paths[f], sizeof(paths[f]), "/proc/%d/%s", (int) pid, grant_names[f]);

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        child = fork();
        if (child < 0) {
                r = -errno;
                close(sv[0]);
                close(sv[1]);
                return r;
        }
        if (child == 0) {
                close(sv[0]);
                helper(sv[1], c, paths);
        }
        close(sv[1]);

        r = receive(sv[0], &g);
        close(sv[0]);
        if (r == -ETIMEDOUT)
                (void) kill(child, SIGKILL);
        while (waitpid(child, &status, 0) < 0 && errno == EINTR)
                ;
        if (r >= 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
                r = -EPROTO;
        if (r < 0) {
                grant_done(&g);
                return r;
        }
        *ret = g;
        return 0;
}

bool grant_is_set(const Grant *g) {
        return g->fds[GRANT_SMAPS] >= 0;
}

int grant_bind(const Grant *g, struct smapsaudit_ctx *ctx, pid_t pid) {
        for (GrantFile f = 0; f < _GRANT_FILE_MAX; f++) {
                int r;

                if (g->fds[f] < 0)
                        continue;
                r = smapsaudit_ctx_bind_pid_file(ctx, pid, grant_names[f], g->fds[f]);
                if (r < 0)
                        return r;
        }
        return 0;
}

void grant_done(Grant *g) {
        for (GrantFile f = 0; f < _GRANT_FILE_MAX; f++)
                if (g->fds[f] >= 0)
                        close(g->fds[f]);
        *g = GRANT_NULL;
}
