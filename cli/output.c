/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "macro.h"
#include "output.h"

static int color = -1;
static pid_t pager_pid;

bool output_color(void) {
        if (color < 0) {
                const char *term = getenv("TERM");

                color = arg.color && isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && !(term && streq(term, "dumb"));
        }
        return color;
}

static void pager_close(void) {
        if (pager_pid <= 0)
                return;
        /* EOF on its input lets the pager end once the person quits it. */
        fflush(stdout);
        fclose(stdout);
        close(STDOUT_FILENO);
        while (waitpid(pager_pid, NULL, 0) < 0 && errno == EINTR)
                ;
        pager_pid = 0;
}

/* Without a pager that runs, the output still reaches the terminal. */
static _Noreturn void copy_through(void) {
        char buf[4096];
        ssize_t n;

        while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0)
                if (write(STDOUT_FILENO, buf, (size_t) n) != n)
                        break;
        _exit(EXIT_SUCCESS);
}

static _Noreturn void pager_exec(const char *pager) {
        const char *less = getenv("SYSTEMD_LESS");

        /* systemctl's flags: quit on one screen, raw colours, chop long lines, no init
         * sequences, verbose prompt, quit on ^C. */
        setenv("LESS", less ?: "FRSXMK", 1);
        if (pager) {
                execl("/bin/sh", "sh", "-c", pager, (char *) NULL);
                fprintf(stderr, "smapsaudit: cannot run the pager '%s': %m\n", pager);
        } else {
                execlp("less", "less", (char *) NULL);
                execlp("more", "more", (char *) NULL);
        }
        copy_through();
}

void pager_open(void) {
        const char *pager;
        int fds[2];
        pid_t pid;

        if (pager_pid > 0 || !arg.pager || !isatty(STDOUT_FILENO))
                return;
        (void) output_color();

        pager = getenv("SYSTEMD_PAGER") ?: getenv("PAGER");
        if (pager && (!*pager || streq(pager, "cat")))
                return;

        fflush(stdout);
        if (pipe2(fds, O_CLOEXEC) < 0)
                return;
        pid = fork();
        if (pid < 0) {
                close(fds[0]);
                close(fds[1]);
                return;
        }
        if (pid == 0) {
                if (dup2(fds[0], STDIN_FILENO) < 0)
                        _exit(EXIT_FAILURE);
                pager_exec(pager);
        }
        close(fds[0]);
        if (dup2(fds[1], STDOUT_FILENO) < 0) {
                close(fds[1]);
                return;
        }
        close(fds[1]);
        pager_pid = pid;
        atexit(pager_close);
}

bool pager_active(void) {
        return pager_pid > 0;
}

int output_json(struct json_object *o) {
        int flags = JSON_C_TO_STRING_NOSLASHESCAPE |
                    (arg.json == JSON_PRETTY ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                                             : JSON_C_TO_STRING_PLAIN);
        const char *s = json_object_to_json_string_ext(o, flags);

        if (!s)
                return -ENOMEM;
        puts(s);
        return 0;
}

void output_json_failure(const char *schema, pid_t pid, const char *verdict, const char *msg) {
        struct json_object *o = json_object_new_object();

        if (!o)
                return;
        json_object_object_add(o, "schema", json_object_new_string(schema));
        if (pid > 0)
                json_object_object_add(o, "pid", json_object_new_int64(pid));
        if (verdict)
                json_object_object_add(o, "verdict", json_object_new_string(verdict));
        json_object_object_add(o, "error", json_object_new_string(msg));
        pager_open();
        (void) output_json(o);
        json_object_put(o);
}

int output_json_text(const char *text) {
        struct json_object *o;
        int r;

        o = json_tokener_parse(text);
        if (!o)
                return -EBADMSG;
        r = output_json(o);
        json_object_put(o);
        return r;
}
