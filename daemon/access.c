/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
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
 * capabilities only when one of them was 0 (the kernel's setuid fixup,
 * cap_task_fix_setuid()): a daemon that runs as its own user, with ambient
 * capabilities, keeps them across setresuid(), so the helper gives them all
 * up itself (capset() to nothing, which takes the ambient ones along), and
 * checks that it has none. The change of credentials also makes the helper
 * non-dumpable, so the caller cannot ptrace it into sending something else.
 */
static bool become_caller(const CallerCreds *c) {
        struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct none[2] = {};

        /* raw calls: glibc's wrappers would signal the threads this child does not have */
        return syscall(SYS_setgroups, c->n_groups, c->groups) >= 0 &&
               syscall(SYS_setresgid, c->gid, c->gid, c->gid) >= 0 &&
               syscall(SYS_setresuid, c->uid, c->uid, c->uid) >= 0 && syscall(SYS_capset, &hdr, none) >= 0 &&
               no_capabilities();
}

typedef struct GrantJob {
        char paths[_GRANT_FILE_MAX][64];
        Grant grant;
} GrantJob;

static int grant_child(int sock, void *userdata) {
        GrantJob *j = userdata;
        int fds[_GRANT_FILE_MAX], n_fds = 0;
        GrantAnswer answer = {};
        char control[CMSG_SPACE(sizeof(fds))] = {};
        struct iovec iov = { .iov_base = &answer, .iov_len = sizeof(answer) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

        for (GrantFile f = 0; f < _GRANT_FILE_MAX; f++) {
                int fd = open(j->paths[f], O_RDONLY | O_CLOEXEC | O_NOCTTY);

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
        return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

/* Waits for the helper's one message: a timeout is a helper stopped or stuck on the target. */
static int wait_answer(int sock) {
        struct pollfd pfd = { .fd = sock, .events = POLLIN };
        int r;

        r = poll(&pfd, 1, GRANT_TIMEOUT_MSEC);
        if (r < 0)
                return -errno;
        return r == 0 ? -ETIMEDOUT : 0;
}

static int grant_receive(int sock, void *userdata) {
        GrantJob *j = userdata;
        Grant *g = &j->grant;
        GrantAnswer answer;
        char control[CMSG_SPACE(sizeof(int) * _GRANT_FILE_MAX)] = {};
        struct iovec iov = { .iov_base = &answer, .iov_len = sizeof(answer) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                             .msg_controllen = sizeof(control) };
        struct cmsghdr *cmsg;
        int *fds = NULL;
        size_t n_fds = 0, used = 0;
        ssize_t n;
        int r;

        r = wait_answer(sock);
        if (r < 0)
                return r;
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

/* Forks a helper that becomes the caller and runs child, whose message receive reads. */
static int as_caller(const CallerCreds *c, int (*child)(int sock, void *userdata),
                     int (*receive)(int sock, void *userdata), void *userdata) {
        int sv[2], status, r;
        pid_t pid;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                r = -errno;
                close(sv[0]);
                close(sv[1]);
                return r;
        }
        if (pid == 0) {
                close(sv[0]);
                _exit(become_caller(c) && child(sv[1], userdata) >= 0 ? EXIT_SUCCESS : EXIT_FAILURE);
        }
        close(sv[1]);

        r = receive(sv[0], userdata);
        close(sv[0]);
        if (r == -ETIMEDOUT)
                (void) kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (r >= 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
                r = -EPROTO;
        return r;
}

int grant_open(pid_t pid, const CallerCreds *c, Grant *ret) {
        GrantJob j = { .grant = GRANT_NULL };
        int r;

        /* formatted before the fork: the child of a threaded process only makes system calls */
        for (GrantFile f = 0; f < _GRANT_FILE_MAX; f++)
                snprintf(j.paths[f], sizeof(j.paths[f]), "/proc/%d/%s", (int) pid, grant_names[f]);

        r = as_caller(c, grant_child, grant_receive, &j);
        if (r < 0) {
                grant_done(&j.grant);
                return r;
        }
        *ret = j.grant;
        return 0;
}

typedef struct ProbeJob {
        char (*paths)[32];
        size_t n;
        bool *readable;
} ProbeJob;

static int probe_child(int sock, void *userdata) {
        ProbeJob *j = userdata;

        for (size_t i = 0; i < j->n; i++) {
                int fd = open(j->paths[i], O_RDONLY | O_CLOEXEC | O_NOCTTY);

                j->readable[i] = fd >= 0;
                if (fd >= 0)
                        close(fd);
        }
        return send(sock, j->readable, j->n * sizeof(bool), MSG_NOSIGNAL) < 0 ? -1 : 0;
}

static int probe_receive(int sock, void *userdata) {
        ProbeJob *j = userdata;
        ssize_t n;
        int r;

        r = wait_answer(sock);
        if (r < 0)
                return r;
        n = recv(sock, j->readable, j->n * sizeof(bool), MSG_DONTWAIT);
        if (n < 0)
                return -errno;
        return n == (ssize_t) (j->n * sizeof(bool)) ? 0 : -EPROTO;
}

int grant_probe(const pid_t *pids, size_t n, const CallerCreds *c, bool *ret_readable) {
        _cleanup_free_ char (*paths)[32] = NULL;
        ProbeJob j = { .n = n, .readable = ret_readable };
        int r;

        memset(ret_readable, 0, n * sizeof(bool));
        if (n == 0)
                return 0;
        if (n > GRANT_PROBE_MAX)
                return -E2BIG;
        paths = calloc(n, sizeof(*paths));
        if (!paths)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                snprintf(paths[i], sizeof(paths[i]), "/proc/%d/smaps", (int) pids[i]);
        j.paths = paths;

        r = as_caller(c, probe_child, probe_receive, &j);
        if (r < 0)
                memset(ret_readable, 0, n * sizeof(bool));
        return r;
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
