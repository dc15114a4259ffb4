/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vfork-hold: a process with a thread that ptrace cannot stop. Its second
 * thread is blocked in vfork() (TASK_KILLABLE, which PTRACE_INTERRUPT does
 * not wake) while the child sleeps; the main thread sleeps too. Prints
 * "ready TID CHILD" once the child runs, then waits for SIGTERM.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile pid_t holder_tid, child;

static void *holder(void *arg) {
        struct timespec forever = { .tv_sec = 100000 };

        holder_tid = (pid_t) syscall(SYS_gettid);
        /* the child shares our memory until it exits: system calls only */
        child = (pid_t) syscall(SYS_getpid);
        if (vfork() == 0) {
                child = (pid_t) syscall(SYS_getpid);
                syscall(SYS_nanosleep, &forever, NULL);
                _exit(0);
        }
        return NULL;
}

int main(void) {
        pthread_t t;
        pid_t self = getpid();

        if (pthread_create(&t, NULL, holder, NULL) != 0)
                return 1;
        while (child == 0 || child == self)
                usleep(1000);
        usleep(100000);
        printf("ready %d %d\n", (int) holder_tid, (int) child);
        fflush(stdout);
        pause();
        return 0;
}
