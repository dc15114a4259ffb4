/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* KSM's global invariants, checked by the library in a worker thread after
 * each sweep; their status goes to the metrics, GetKSMStatus, and the
 * journal when it turns broken or holds again. */
#include <errno.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>

#include "journal.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "pidfd-util.h"

void manager_ksm_check(Manager *m) {
        Job *job;

        if (m->ksm_running || m->stopping || !m->pool)
                return;
        job = job_new(JOB_KSM);
        if (!job) {
                log_error_errno(ENOMEM, "Failed to start a KSM check: %m");
                return;
        }
        m->ksm_running = true;
        worker_pool_submit(m->pool, job);
}

static KSMStatus status_of(int r) {
        if (r < 0)
                return KSM_STATUS_UNKNOWN;
        switch ((enum smapsaudit_verdict) r) {
        case SMAPSAUDIT_CONSISTENT:
                return KSM_STATUS_HOLDS;
        case SMAPSAUDIT_UNDER_ACCOUNTED:
        case SMAPSAUDIT_OVER_ACCOUNTED:
                return KSM_STATUS_BROKEN;
        default:
                return KSM_STATUS_INCONCLUSIVE;
        }
}

/* The first violated invariant's name, for the journal, or NULL. */
static char *first_invariant(const char *json) {
        struct json_object *o = json ? json_tokener_parse(json) : NULL, *findings, *f, *name;
        char *s = NULL;

        if (o && json_object_object_get_ex(o, "findings", &findings) &&
            json_object_is_type(findings, json_type_array) && json_object_array_length(findings) > 0) {
                f = json_object_array_get_idx(findings, 0);
                if (json_object_object_get_ex(f, "invariant", &name) && json_object_is_type(name, json_type_string))
                        s = strdup(json_object_get_string(name));
        }
        json_object_put(o);
        return s;
}

void manager_ksm_unpin(Manager *m) {
        for (size_t i = 0; i < m->n_ksm_procs; i++)
                if (m->ksm_procs[i].pidfd >= 0)
                        close(m->ksm_procs[i].pidfd);
        free(m->ksm_procs);
        m->ksm_procs = NULL;
        m->n_ksm_procs = 0;
}

/* An object of the report that is about one process: its "pid", or 0. */
static pid_t object_pid(struct json_object *o) {
        struct json_object *pid;

        if (!json_object_object_get_ex(o, "pid", &pid) || !json_object_is_type(pid, json_type_int))
                return 0;
        return (pid_t) json_object_get_int(pid);
}

/*
 * The processes the check named, each pinned by a pidfd opened as it ended:
 * a PID whose pidfd says it exited may since name another process, which must
 * not be shown what KSM said of the one before (KSMProcessesFor).
 */
static void pin_processes(Manager *m) {
        struct json_object *o = m->ksm_json ? json_tokener_parse(m->ksm_json) : NULL, *procs;
        size_t n;

        manager_ksm_unpin(m);
        if (!o || !json_object_object_get_ex(o, "processes", &procs) || !json_object_is_type(procs, json_type_array))
                goto out;
        n = MIN(json_object_array_length(procs), (size_t) GRANT_PROBE_MAX);
        m->ksm_procs = calloc(MAX(n, 1u), sizeof(KSMProcess));
        if (!m->ksm_procs)
                goto out;
        for (size_t i = 0; i < n; i++) {
                pid_t pid = object_pid(json_object_array_get_idx(procs, i));

                if (pid > 0)
                        m->ksm_procs[m->n_ksm_procs++] = (KSMProcess) { .pid = pid, .pidfd = pidfd_open(pid, 0) };
        }
out:
        json_object_put(o);
}

static bool pid_in(pid_t pid, const pid_t *pids, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (pids[i] == pid)
                        return true;
        return false;
}

/* Drops the entries of array key that are about a process not in pids. */
static void keep_processes(struct json_object *o, const char *key, const pid_t *pids, size_t n) {
        struct json_object *a, *kept;
        size_t len;

        if (!json_object_object_get_ex(o, key, &a) || !json_object_is_type(a, json_type_array))
                return;
        kept = json_object_new_array();
        len = json_object_array_length(a);
        for (size_t i = 0; i < len; i++) {
                struct json_object *e = json_object_array_get_idx(a, i);
                pid_t pid = object_pid(e);

                if (pid == 0 || pid_in(pid, pids, n))
                        json_object_array_add(kept, json_object_get(e));
        }
        json_object_object_add(o, key, kept);
}

static void add_note(struct json_object *o, const char *note) {
        struct json_object *notes;

        if (!json_object_object_get_ex(o, "notes", &notes) || !json_object_is_type(notes, json_type_array)) {
                notes = json_object_new_array();
                json_object_object_add(o, "notes", notes);
        }
        json_object_array_add(notes, json_object_new_string(note));
}

int manager_ksm_report_for(Manager *m, const CallerCreds *c, char **ret) {
        struct json_object *o;
        _cleanup_free_ pid_t *pids = NULL;
        _cleanup_free_ bool *readable = NULL;
        size_t n = 0, n_shown = 0;
        const char *s;
        int r = 0;

        if (!m->ksm_json)
                return -ENODATA;
        o = json_tokener_parse(m->ksm_json);
        if (!o)
                return -EBADMSG;

        if (c) {
                /* what KSM said of a process is the kernel's to show its owner only (ksm_stat is 0400) */
                pids = calloc(MAX(m->n_ksm_procs, 1u), sizeof(pid_t));
                readable = calloc(MAX(m->n_ksm_procs, 1u), sizeof(bool));
                if (!pids || !readable) {
                        r = -ENOMEM;
                        goto out;
                }
                for (size_t i = 0; i < m->n_ksm_procs; i++)
                        if (m->ksm_procs[i].pidfd >= 0 && !pidfd_exited(m->ksm_procs[i].pidfd))
                                pids[n++] = m->ksm_procs[i].pid;
                r = grant_probe(pids, n, c, readable);
                if (r < 0)
                        log_debug_errno(r, "Could not probe which processes uid %u may read: %m", (unsigned) c->uid);
                for (size_t i = 0; i < n; i++)
                        if (readable[i])
                                pids[n_shown++] = pids[i];
                keep_processes(o, "processes", pids, n_shown);
                keep_processes(o, "findings", pids, n_shown);
                keep_processes(o, "invariants", pids, n_shown);
                add_note(o, "only the processes the caller may read are listed: the global counters are everyone's");
                r = 0;
        }

        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        if (strlen(s) > BUS_REPLY_MAX) {
                /* the global counters and invariants fit whatever the number of processes */
                keep_processes(o, "processes", NULL, 0);
                keep_processes(o, "findings", NULL, 0);
                keep_processes(o, "invariants", NULL, 0);
                add_note(o, "the processes are left out: listed, they would not fit in a D-Bus reply");
                s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        }
        *ret = strdup(s);
        if (!*ret)
                r = -ENOMEM;
out:
        json_object_put(o);
        return r;
}

void manager_ksm_done(Manager *m, Job *job) {
        KSMStatus before = m->ksm_status, now = status_of(job->r);

        m->ksm_running = false;
        if (m->stopping)
                return;

        if (job->r < 0 && job->r != -EOPNOTSUPP && job->r != -ECANCELED)
                manager_error(m, DAEMON_ERROR_KSM, job->r, "The KSM check failed: %m");

        m->ksm_status = now;
        m->ksm_checked_usec = now_usec(CLOCK_REALTIME);
        free(m->ksm_json);
        m->ksm_json = TAKE_PTR(job->json);
        pin_processes(m);

        /* Broken now, or holding after broken: an inconclusive check says neither. */
        if ((now == KSM_STATUS_BROKEN && !m->ksm_logged_broken) ||
            (now == KSM_STATUS_HOLDS && m->ksm_logged_broken)) {
                _cleanup_free_ char *first = now == KSM_STATUS_BROKEN ? first_invariant(m->ksm_json) : NULL;

                (void) journal_ksm(ksm_status_to_string(now), ksm_status_to_string(before),
                                   smapsaudit_ctx_get_kernel_release(m->ctx), first);
                m->ksm_logged_broken = now == KSM_STATUS_BROKEN;
        }
        manager_metrics_update(m);
}
