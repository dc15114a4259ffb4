/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Global knobs (THP, NUMA balancing, KSM), changed only with --allow-knobs and always restored.
 *
 * A guardian process holds the saved values: the probe sends it each file's old value before
 * writing the new one, and the guardian writes them all back, newest first, once the pipe closes.
 * The pipe closes when the probe restores on its own, when a signal ends it, and when SIGKILL
 * does: no way out of the probe leaves a knob changed. The guardian has a session of its own, so
 * the terminal's ^C reaches the probe and not it.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "probe-internal.h"

#define KNOB_PATH_MAX 128
#define KNOB_VALUE_MAX 64
#define KNOBS_MAX 16

struct knob {
        char path[KNOB_PATH_MAX];
        char from[KNOB_VALUE_MAX];
        char to[KNOB_VALUE_MAX];
};

static struct knob saved[KNOBS_MAX];
static size_t n_saved;
static int guardian_fd = -1;
static pid_t guardian_pid;

/* The file's value; for selector files ("always [madvise] never") the word in brackets. */
int knob_read(const char *path, char *buf, size_t size) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        char raw[256], *lb, *rb;
        ssize_t n;

        if (fd < 0)
                return negative_errno();
        n = read(fd, raw, sizeof(raw) - 1);
        if (n < 0)
                return negative_errno();
        raw[n] = 0;
        raw[strcspn(raw, "\n")] = 0;
        lb = strchr(raw, '[');
        rb = lb ? strchr(lb, ']') : NULL;
        if (lb && rb) {
                *rb = 0;
                memmove(raw, lb + 1, (size_t) (rb - lb));
        }
        if (strlen(raw) >= size)
                return -ENOBUFS;
        strcpy(buf, raw);
        return 0;
}

/* open/write/close only: it also runs from signal handlers and in the guardian. */
static int write_file(const char *path, const char *value) {
        int fd = open(path, O_WRONLY | O_CLOEXEC), r = 0;
        size_t len = strlen(value);

        if (fd < 0)
                return -1;
        if (write(fd, value, len) != (ssize_t) len)
                r = -1;
        close(fd);
        return r;
}

static void restore_list(const struct knob *k, size_t n) {
        while (n-- > 0)
                (void) write_file(k[n].path, k[n].from);
}

/* The guardian: collects knobs from the pipe until it closes, then writes them back. */
__attribute__((noreturn)) static void guardian(int fd) {
        static struct knob got[KNOBS_MAX];
        size_t n = 0;
        ssize_t r;

        (void) setsid();
        signal(SIGINT, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        for (;;) {
                r = read(fd, &got[n], sizeof(got[n]));
                if (r == (ssize_t) sizeof(got[n]) && n < KNOBS_MAX - 1)
                        n++;
                else if (r <= 0 && !(r < 0 && errno == EINTR))
                        break;
        }
        restore_list(got, n);
        _exit(0);
}

static int guardian_start(void) {
        int p[2];
        pid_t pid;

        if (guardian_fd >= 0)
                return 0;
        if (pipe2(p, O_CLOEXEC) < 0)
                return negative_errno();
        pid = fork();
        if (pid < 0) {
                int r = negative_errno();
                close(p[0]);
                close(p[1]);
                return r;
        }
        if (pid == 0) {
                close(p[1]);
                guardian(p[0]);
        }
        close(p[0]);
        guardian_fd = p[1];
        guardian_pid = pid;
        return 0;
}

int knob_set(const struct probe_env *env, const char *path, const char *value) {
        struct knob k = {};
        int r;

        if (!(env->flags & PROBE_ALLOW_KNOBS))
                return -EPERM;
        if (n_saved >= KNOBS_MAX - 1 || strlen(path) >= sizeof(k.path) || strlen(value) >= sizeof(k.to))
                return -ENOBUFS;
        r = knob_read(path, k.from, sizeof(k.from));
        if (r < 0)
                return r;
        if (streq(k.from, value))
                return 0;
        strcpy(k.path, path);
        strcpy(k.to, value);
        r = guardian_start();
        if (r < 0)
                return r;
        /* the guardian knows the old value before the new one is written */
        if (write(guardian_fd, &k, sizeof(k)) != (ssize_t) sizeof(k))
                return negative_errno();
        saved[n_saved++] = k;
        if (write_file(path, value) < 0)
                return negative_errno();
        return 0;
}

void knobs_restore(void) {
        int saved_errno = errno;

        restore_list(saved, n_saved);
        n_saved = 0;
        if (guardian_fd >= 0) {
                /* the guardian writes the same values once more, then exits */
                close(guardian_fd);
                guardian_fd = -1;
                while (waitpid(guardian_pid, NULL, 0) < 0 && errno == EINTR)
                        ;
        }
        errno = saved_errno;
}

json_object *knobs_changed(void) {
        json_object *a = json_object_new_array();

        for (size_t i = 0; i < n_saved; i++) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "path", json_object_new_string(saved[i].path));
                json_object_object_add(o, "from", json_object_new_string(saved[i].from));
                json_object_object_add(o, "to", json_object_new_string(saved[i].to));
                json_object_array_add(a, o);
        }
        return a;
}

void knobs_forget_in_child(void) {
        if (guardian_fd >= 0) {
                close(guardian_fd);
                guardian_fd = -1;
        }
        n_saved = 0;
}
