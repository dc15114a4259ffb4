/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>

#include "daemon-config.h"
#include "log.h"
#include "macro.h"
#include "pidfd-util.h"
#include "time-util.h"
#include "worker.h"

#define WORKERS_MAX 8u
/* The longest a KSM check waits for ksmd's scans to settle a difference:
 * it holds one of the threads meanwhile. */
#define KSM_WAIT_MSEC 5000u

struct WorkerPool {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        Job *queue_head, *queue_tail;  /* waiting for a thread */
        Job *done;                     /* finished, newest first */
        atomic_bool stopping;

        pthread_t threads[WORKERS_MAX];
        unsigned n_threads;

        char *proc_root, *sys_root;
        int event_fd;
        sd_event_source *event_source;
        job_done_fn on_done;
        void *userdata;
};

Job *job_new(JobType type) {
        Job *j = calloc(1, sizeof(Job));

        if (!j)
                return NULL;
        j->type = type;
        j->pidfd = -1;
        j->owner_uid = (uid_t) -1;
        j->grant = GRANT_NULL;
        atomic_init(&j->cancelled, false);
        return j;
}

Job *job_free(Job *job) {
        if (!job)
                return NULL;
        if (job->pidfd >= 0)
                close(job->pidfd);
        grant_done(&job->grant);
        free(job->error);
        free(job->json);
        for (size_t i = 0; i < job->n_findings; i++)
                free(job->findings[i].explanation);
        free(job->findings);
        free(job->procs);
        free(job);
        return NULL;
}

static void lib_log(void *userdata, int priority, const char *msg) {
        log_internal(priority, 0, "%s", msg);
}

typedef struct Progress {
        WorkerPool *pool;
        Job *job;
        uint64_t deadline_usec;  /* CLOCK_MONOTONIC, 0: none */
} Progress;

/* The only way into a running audit: shutdown, callers that left and the deadline stop it here;
 * and it tells the loop how far the audit got. */
static int audit_progress(void *userdata, pid_t pid, unsigned pass, uint64_t done, uint64_t total) {
        Progress *p = userdata;

        atomic_store(&p->job->progress_pass, pass);
        atomic_store(&p->job->progress_total, total);
        atomic_store(&p->job->progress_done, done);
        if (atomic_load(&p->pool->stopping) || atomic_load(&p->job->cancelled))
                return -ECANCELED;
        if (p->deadline_usec && now_usec(CLOCK_MONOTONIC) > p->deadline_usec)
                return -ETIMEDOUT;
        return 0;
}

static uint64_t thread_cpu_usec(void) {
        return now_usec(CLOCK_THREAD_CPUTIME_ID);
}

static int copy_findings(Job *job, const struct smapsaudit_report *report) {
        size_t n = smapsaudit_report_get_n_findings(report);

        if (n == 0)
                return 0;
        job->findings = calloc(n, sizeof(JobFinding));
        if (!job->findings)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                const struct smapsaudit_finding *f = smapsaudit_report_get_finding(report, i);
                JobFinding *c = &job->findings[job->n_findings];

                if (!f)
                        continue;
                c->f = (OpenFinding) {
                        .key = finding_key(f->kind, f->field ?: "", f->source ?: "", f->vma_start, f->vma_end),
                        .kind = f->kind,
                        .vma_start = f->vma_start,
                        .vma_end = f->vma_end,
                        .kernel_kb = f->kernel_kb,
                        .walk_kb = f->walk_kb,
                        .delta_kb = f->delta_kb,
                        .tags = f->tags,
                };
                snprintf(c->f.field, sizeof(c->f.field), "%s", f->field ?: "");
                snprintf(c->f.source, sizeof(c->f.source), "%s", f->source ?: "");
                c->explanation = strdup(f->explanation ?: "");
                job->n_findings++;
                if (!c->explanation)
                        return -ENOMEM;
        }
        return 0;
}

/*
 * The JSON of a process with tens of thousands of VMAs is tens of
 * megabytes, more than BUS_REPLY_MAX. Such a report leaves out its
 * consistent VMAs (a note says how many); if even that does not fit, the
 * call fails and says to run it --local.
 */

static int report_json(Job *job, const struct smapsaudit_report *report) {
        size_t n;
        int r;

        r = smapsaudit_report_to_json(report, job->report_flags, &job->json);
        if (r < 0 || strlen(job->json) <= BUS_REPLY_MAX)
                return r;
        free(job->json);
        job->json = NULL;
        r = smapsaudit_report_to_json(report, job->report_flags | SMAPSAUDIT_REPORT_COMPACT, &job->json);
        if (r < 0 || (n = strlen(job->json)) <= BUS_REPLY_MAX)
                return r;
        free(job->json);
        job->json = NULL;
        free(job->error);
        if (asprintf(&job->error, "its report is %zu MiB even without its consistent VMAs, more than a D-Bus "
                     "message may carry; run smapsaudit check --local %d", n >> 20, (int) job->pid) < 0)
                job->error = NULL;
        return -EMSGSIZE;
}

/* A context of the job's own that reads the process only through the caller's grant. */
static int granted_ctx(const Job *job, struct smapsaudit_ctx **ret) {
        struct smapsaudit_ctx *ctx;
        int r;

        r = smapsaudit_ctx_new(&ctx);
        if (r < 0)
                return r;
        smapsaudit_ctx_set_log_fn(ctx, lib_log, NULL);
        smapsaudit_ctx_set_log_priority(ctx, log_get_max_level());
        r = grant_bind(&job->grant, ctx, job->pid);
        if (r < 0) {
                smapsaudit_ctx_unref(ctx);
                return r;
        }
        *ret = ctx;
        return 0;
}

static void run_audit(WorkerPool *p, struct smapsaudit_ctx *thread_ctx, Job *job) {
        struct smapsaudit_ctx *ctx = thread_ctx, *own = NULL;
        struct smapsaudit_report *report = NULL;
        Progress progress = {
                .pool = p,
                .job = job,
                .deadline_usec = job->deadline_span_usec ? now_usec(CLOCK_MONOTONIC) + job->deadline_span_usec : 0,
        };
        struct smapsaudit_audit_opts opts = {
                .flags = job->audit_flags,
                .max_passes = job->max_passes,
                .progress = audit_progress,
                .progress_userdata = &progress,
        };
        char path[64];
        struct stat st;
        uint64_t cpu_before;
        const char *s;
        int r;

        if (grant_is_set(&job->grant)) {
                r = granted_ctx(job, &own);
                if (r < 0) {
                        job->r = r;
                        return;
                }
                ctx = own;
        }

        cpu_before = thread_cpu_usec();
        r = smapsaudit_audit_pid(ctx, job->pid, &opts, &report);
        job->cpu_usec = thread_cpu_usec() - cpu_before;
        if (r < 0) {
                /* Gone before or during the audit (a zombie has no address space either): its
                 * PID may already be another's. Otherwise the library's reason names the PID
                 * and the file or VMA, where the errno alone would not. */
                if (r == -ESRCH || pidfd_exited(job->pidfd)) {
                        job->r = -ESRCH;
                        s = job->pidfd >= 0 ? "the process has exited" : smapsaudit_ctx_get_error(ctx);
                } else {
                        job->r = r;
                        s = smapsaudit_ctx_get_error(ctx);
                }
                job->error = s ? strdup(s) : NULL;
                goto finish;
        }

        if (pidfd_exited(job->pidfd)) {
                job->r = -ESRCH;
                job->error = strdup("the process exited during the audit");
                goto finish;
        }

        /* The library may spend CPU outside this thread; count whichever is larger. */
        job->cpu_usec = MAX(job->cpu_usec, smapsaudit_report_get_cpu_usec(report));
        job->verdict = smapsaudit_report_get_verdict(report);
        job->tags = smapsaudit_report_get_tags(report);
        snprintf(job->comm, sizeof(job->comm), "%s", smapsaudit_report_get_comm(report) ?: "");
        snprintf(job->unit, sizeof(job->unit), "%s",
                 smapsaudit_report_get_unit(report) ?: smapsaudit_report_get_cgroup(report) ?: "");
        s = smapsaudit_report_get_error(report);
        if (s && !(job->error = strdup(s))) {
                job->r = -ENOMEM;
                goto finish;
        }

        /* /proc/PID belongs to the process's euid (root while it is not
         * dumpable): whose findings these are, for GetFindings. */
        snprintf(path, sizeof(path), "%s/%d", smapsaudit_ctx_get_proc_root(ctx), (int) job->pid);
        if (stat(path, &st) >= 0)
                job->owner_uid = st.st_uid;

        r = copy_findings(job, report);
        if (r >= 0 && job->want_json)
                r = report_json(job, report);
        job->r = r;

finish:
        if (report)
                smapsaudit_report_unref(report);
        smapsaudit_ctx_unref(own);
}

static void run_list(struct smapsaudit_ctx *ctx, Job *job) {
        job->r = smapsaudit_list_processes(ctx, &job->procs, &job->n_procs);
}

static void run_ksm(struct smapsaudit_ctx *ctx, Job *job) {
#if HAVE_SMAPSAUDIT_KSM_CHECK
        struct smapsaudit_ksm_opts opts = { .max_wait_msec = KSM_WAIT_MSEC };
        uint64_t cpu_before = thread_cpu_usec();

        job->r = smapsaudit_ksm_check_opts(ctx, 0, &opts, &job->json);
        job->cpu_usec = thread_cpu_usec() - cpu_before;
#else
        job->r = -EOPNOTSUPP;   /* this libsmapsaudit has no KSM check */
#endif
}

static void *worker_thread(void *userdata) {
        WorkerPool *p = userdata;
        struct smapsaudit_ctx *ctx = NULL;
        int ctx_r;

        /* One context per thread: contexts are not shared across threads. */
        ctx_r = smapsaudit_ctx_new(&ctx);
        if (ctx_r >= 0) {
                smapsaudit_ctx_set_log_fn(ctx, lib_log, NULL);
                smapsaudit_ctx_set_log_priority(ctx, log_get_max_level());
                if (p->proc_root)
                        ctx_r = smapsaudit_ctx_set_proc_root(ctx, p->proc_root);
                if (ctx_r >= 0 && p->sys_root)
                        ctx_r = smapsaudit_ctx_set_sys_root(ctx, p->sys_root);
        }
        if (ctx_r < 0)
                log_error_errno(ctx_r, "Failed to set up an audit context: %m");

        for (;;) {
                uint64_t one = 1;
                Job *job;

                pthread_mutex_lock(&p->lock);
                while (!p->queue_head && !atomic_load(&p->stopping))
                        pthread_cond_wait(&p->cond, &p->lock);
                if (atomic_load(&p->stopping)) {
                        pthread_mutex_unlock(&p->lock);
                        break;
                }
                job = p->queue_head;
                p->queue_head = job->next;
                if (!p->queue_head)
                        p->queue_tail = NULL;
                job->next = NULL;
                pthread_mutex_unlock(&p->lock);

                if (ctx_r < 0)
                        job->r = ctx_r;
                else if (job->type == JOB_LIST_PROCESSES)
                        run_list(ctx, job);
                else if (job->type == JOB_KSM)
                        run_ksm(ctx, job);
                else
                        run_audit(p, ctx, job);

                pthread_mutex_lock(&p->lock);
                job->next = p->done;
                p->done = job;
                pthread_mutex_unlock(&p->lock);

                /* Cannot fail short of a counter overflow: the loop drains it. */
                (void) !write(p->event_fd, &one, sizeof(one));
        }

        smapsaudit_ctx_unref(ctx);
        return NULL;
}

static Job *take_done(WorkerPool *p) {
        Job *list, *fifo = NULL;

        pthread_mutex_lock(&p->lock);
        list = p->done;
        p->done = NULL;
        pthread_mutex_unlock(&p->lock);

        /* Newest first on the stack; hand them out in completion order. */
        while (list) {
                Job *next = list->next;

                list->next = fifo;
                fifo = list;
                list = next;
        }
        return fifo;
}

static void dispatch_done(WorkerPool *p) {
        Job *job = take_done(p);

        while (job) {
                Job *next = job->next;

                job->next = NULL;
                p->on_done(job, p->userdata);
                job = next;
        }
}

static int on_event_fd(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        WorkerPool *p = userdata;
        uint64_t counter;

        (void) !read(fd, &counter, sizeof(counter));
        dispatch_done(p);
        return 0;
}

int worker_pool_new(sd_event *event, unsigned n_threads, const char *proc_root, const char *sys_root,
                    job_done_fn done, void *userdata, WorkerPool **ret) {
        WorkerPool *p;
        int r;

        if (n_threads == 0 || n_threads > WORKERS_MAX)
                return -EINVAL;

        p = calloc(1, sizeof(WorkerPool));
        if (!p)
                return -ENOMEM;
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->cond, NULL);
        atomic_init(&p->stopping, false);
        p->on_done = done;
        p->userdata = userdata;
        p->event_fd = -1;

        if ((proc_root && !(p->proc_root = strdup(proc_root))) ||
            (sys_root && !(p->sys_root = strdup(sys_root)))) {
                r = -ENOMEM;
                goto fail;
        }

        p->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (p->event_fd < 0) {
                r = -errno;
                goto fail;
        }
        r = sd_event_add_io(event, &p->event_source, p->event_fd, EPOLLIN, on_event_fd, p);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_description(p->event_source, "audit-done");

        for (; p->n_threads < n_threads; p->n_threads++) {
                r = -pthread_create(&p->threads[p->n_threads], NULL, worker_thread, p);
                if (r < 0)
                        goto fail;
        }

        *ret = p;
        return 0;

fail:
        worker_pool_free(p);
        return r;
}

void worker_pool_submit(WorkerPool *p, Job *job) {
        job->next = NULL;
        pthread_mutex_lock(&p->lock);
        if (p->queue_tail)
                p->queue_tail->next = job;
        else
                p->queue_head = job;
        p->queue_tail = job;
        pthread_cond_signal(&p->cond);
        pthread_mutex_unlock(&p->lock);
}

WorkerPool *worker_pool_free(WorkerPool *p) {
        Job *job;

        if (!p)
                return NULL;

        pthread_mutex_lock(&p->lock);
        atomic_store(&p->stopping, true);
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
        for (unsigned i = 0; i < p->n_threads; i++)
                pthread_join(p->threads[i], NULL);

        /* Finished jobs first, in order, then the ones no thread took. */
        dispatch_done(p);
        while ((job = p->queue_head)) {
                p->queue_head = job->next;
                job->next = NULL;
                job->r = -ECANCELED;
                p->on_done(job, p->userdata);
        }

        sd_event_source_disable_unref(p->event_source);
        if (p->event_fd >= 0)
                close(p->event_fd);
        free(p->proc_root);
        free(p->sys_root);
        pthread_cond_destroy(&p->cond);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
}
