/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The manager's life: made from the configuration and the state directory, started (threads,
 * metrics, the probe, the timers), reloaded and freed; and where each job comes back from the
 * threads, to the part of the manager that asked for it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf-files.h"
#include "log.h"
#include "macro.h"
#include "manager-audit.h"
#include "strv.h"

static void on_job_done(Job *job, void *userdata) {
        Manager *m = userdata;
        Audit *a;

        if (job->type == JOB_LIST_PROCESSES) {
                manager_sweep_on_listed(m, job);
                job_free(job);
                return;
        }
        if (job->type == JOB_KSM) {
                manager_ksm_done(m, job);
                job_free(job);
                return;
        }

        a = job->userdata;
        audit_ended(m, a);
        if (a->sweep)
                manager_sweep_on_audited(m, job);

        audit_free(m, a);
}

int manager_reload(Manager *m) {
        _cleanup_(strv_freep) char **dropins = NULL;
        _cleanup_free_ char *dropins_text = NULL;
        char interval[64];
        Config c;
        int r;

        r = config_load(m->config_path, &c, &dropins);
        if (r < 0)
                return r;
        config_done(&m->config);
        m->config = c;
        m->journal_limit.interval_usec = m->error_limit.interval_usec = c.journal_rate_interval_usec;
        m->journal_limit.burst = c.journal_rate_burst;
        m->error_limit.burst = c.journal_rate_burst > 0 ? MAX(c.journal_rate_burst / 10, 1u) : 0;

        format_time_span(interval, sizeof(interval), m->config.interval_usec, 0);
        dropins_text = strv_join(dropins, " ");
        log_info("Configuration loaded from %s%s%s: Interval=%s CPUBudgetPercent=%g MaxProcessesPerSweep=%u.",
                 m->config_path, dropins[0] ? " and " : "", dropins_text ?: "", interval,
                 m->config.cpu_budget_percent, m->config.max_processes_per_sweep);

        manager_sweep_reconfigure(m);
        manager_metrics_reconfigure(m);
        return 0;
}

static char *state_dir_from_env(void) {
        const char *e = getenv("STATE_DIRECTORY");

        /* systemd passes a colon-separated list; ours is the first. */
        if (e && *e)
                return strndup(e, strcspn(e, ":"));
        return strdup(STATE_DIRECTORY_DEFAULT);
}

int manager_new(const ManagerOptions *o, Manager **ret) {
        Manager *m;
        int r;

        m = calloc(1, sizeof(Manager));
        if (!m)
                return -ENOMEM;
        m->round = 1;

        m->config_path = strdup(o->config_path ?: CONFIG_FILE_DEFAULT);
        m->state_dir = o->state_dir ? strdup(o->state_dir) : state_dir_from_env();
        if (!m->config_path || !m->state_dir ||
            (o->proc_root && !(m->proc_root = strdup(o->proc_root))) ||
            (o->sys_root && !(m->sys_root = strdup(o->sys_root)))) {
                r = -ENOMEM;
                goto fail;
        }
        m->live = !o->proc_root || streq(o->proc_root, "/proc");

        r = smapsaudit_ctx_new(&m->ctx);
        if (r >= 0 && m->proc_root)
                r = smapsaudit_ctx_set_proc_root(m->ctx, m->proc_root);
        if (r >= 0 && m->sys_root)
                r = smapsaudit_ctx_set_sys_root(m->ctx, m->sys_root);
        if (r < 0) {
                log_error_errno(r, "Failed to set up the audit library: %m");
                goto fail;
        }

        r = manager_reload(m);
        if (r < 0)
                goto fail;

        r = history_open(m->state_dir, HISTORY_MAX_DEFAULT, &m->history);
        if (r < 0)
                goto fail;

        m->metrics.start_usec = now_usec(CLOCK_REALTIME);
        r = baseline_open(m->state_dir, smapsaudit_ctx_get_kernel_release(m->ctx), m->metrics.start_usec,
                          &m->baseline);
        if (r < 0)
                goto fail;
        if (baseline_previous(m->baseline))
                log_info("Kernel %s follows %s: findings of kinds that %s's baseline (%" PRIu64 " audits) does not "
                         "have are regressions.", baseline_release(m->baseline), baseline_previous(m->baseline),
                         baseline_previous(m->baseline), baseline_audits(m->baseline, baseline_previous(m->baseline)));

        r = sd_event_default(&m->event);
        if (r < 0)
                goto fail;

        /* Now that there is someone to count errors. */
        if (baseline_dirty(m->baseline))
                manager_save_baseline(m);

        *ret = m;
        return 0;

fail:
        manager_free(m);
        return r;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;

        /* Threads first: their cancelled jobs still answer waiting callers,
         * and nothing new may start meanwhile. */
        m->stopping = true;
        m->pool = worker_pool_free(m->pool);
        manager_probe_stop(m);
        free(m->sweep.plan);

        /* The last counts, to disk. */
        if (m->baseline)
                manager_save_baseline(m);
        if (m->metrics_timer)
                manager_metrics_flush(m);
        manager_metrics_stop(m);

        sd_event_source_disable_unref(m->sweep_timer);
        sd_event_source_disable_unref(m->progress_timer);
        sd_bus_flush_close_unref(m->bus);
        sd_event_unref(m->event);

        baseline_free(m->baseline);
        metrics_done(&m->metrics);
        config_done(&m->config);
        free(m->ksm_json);
        manager_ksm_unpin(m);
        history_free(m->history);
        proc_table_done(&m->procs);
        user_cpu_done(&m->user_cpu);
        smapsaudit_ctx_unref(m->ctx);
        free(m->config_path);
        free(m->state_dir);
        free(m->proc_root);
        free(m->sys_root);
        free(m->status_text);
        free(m);
        return NULL;
}

int manager_start(Manager *m) {
        int r;

        r = worker_pool_new(m->event, AUDIT_THREADS, m->proc_root, m->sys_root, on_job_done, m, &m->pool);
        if (r < 0)
                return log_error_errno(r, "Failed to start the audit threads: %m");

        r = manager_metrics_start(m);
        if (r < 0)
                return r;

        r = manager_probe_start(m);
        if (r < 0)
                return r;

        r = manager_sweep_start(m);
        if (r < 0)
                return r;

        r = manager_check_start(m);
        if (r < 0)
                return r;

        r = sd_event_set_watchdog(m->event, true);
        if (r < 0)
                log_warning_errno(r, "Failed to enable the watchdog: %m");

        return 0;
}
