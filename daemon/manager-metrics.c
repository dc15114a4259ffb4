/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The manager's metrics going out: rendered on the loop shortly after
 * something changed (many audits finishing together make one write), into
 * the node_exporter textfile (atomically: node_exporter never reads half a
 * file) and for the HTTP endpoint when there is one. And the daemon's own
 * errors, counted there and logged: every part of the manager reports them
 * here, and nothing here calls back into those parts.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>

#include "atomic-file.h"
#include "journal.h"
#include "log.h"
#include "macro.h"
#include "manager.h"

/* Changes within this time make one write. */
#define METRICS_DELAY_USEC 100000u

static void view(Manager *m, MetricsView *v) {
        *v = (MetricsView) {
                .release = smapsaudit_ctx_get_kernel_release(m->ctx),
                .previous_release = m->baseline ? baseline_previous(m->baseline) : NULL,
                .regression = m->baseline && baseline_n_regressions(m->baseline) > 0,
                .last_sweep_usec = m->last_sweep_usec,
                .sweep_usec = m->sweep_usec,
                .sweep_cpu_usec = m->sweep_cpu_usec,
                .sweep_processes_audited = m->sweep_processes_audited,
                .interval_usec = m->config.interval_usec,
                .sweep_covered = m->sweep_covered,
                .ksm = m->ksm_status,
                .probe_release = m->probe.result ? m->probe.release : NULL,
                .probe_usec = m->probe.realtime_usec,
                .kernel_bugs = m->probe.samples,
                .n_kernel_bugs = m->probe.n_samples,
        };

        for (size_t i = 0; i < m->procs.n; i++) {
                const ProcState *s = &m->procs.states[i];

                if (s->n_findings > 0)
                        v->processes_with_findings++;
                for (size_t j = 0; j < s->n_findings; j++)
                        if (finding_groups_add(&v->open, &s->findings[j], s->unit) < 0)
                                log_error_errno(ENOMEM, "Failed to count open findings: %m");
        }
}

static void write_textfile(Manager *m) {
        const char *path = m->config.textfile_path;
        _cleanup_free_ char *dir = NULL;
        struct stat st;
        int r;

        if (!path)
                return;

        /* The default is for hosts with node_exporter; elsewhere its directory is missing, which is fine. */
        if (m->config.textfile_path_is_default) {
                dir = strndup(path, (size_t) (strrchr(path, '/') - path));
                if (dir && stat(dir, &st) < 0 && errno == ENOENT) {
                        if (!m->textfile_dir_missing)
                                log_info("%s does not exist (no node_exporter textfile collector here): not writing "
                                         "metrics to it; set [Metrics] TextfilePath= to write them elsewhere.", dir);
                        m->textfile_dir_missing = true;
                        return;
                }
        }
        m->textfile_dir_missing = false;

        /* World-readable: node_exporter runs as another user, and no PID or address is in it. */
        r = write_file_atomic(path, m->metrics_text, m->metrics_size, 0644);
        if (r < 0)
                manager_error(m, DAEMON_ERROR_TEXTFILE, r, "Failed to write the metrics to %s: %m", path);
}

void manager_metrics_flush(Manager *m) {
        MetricsView v;
        char *text;
        size_t size;
        int r;

        view(m, &v);
        r = metrics_render(&m->metrics, &v, &text, &size);
        finding_groups_done(&v.open);
        if (r < 0) {
                log_error_errno(r, "Failed to render the metrics: %m");
                return;
        }
        free(m->metrics_text);
        m->metrics_text = text;
        m->metrics_size = size;
        write_textfile(m);
}

static int on_metrics_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        manager_metrics_flush(userdata);
        return 0;
}

void manager_metrics_update(Manager *m) {
        int enabled = SD_EVENT_OFF;
        uint64_t now;

        if (!m->metrics_timer || m->stopping)
                return;
        if (sd_event_source_get_enabled(m->metrics_timer, &enabled) >= 0 && enabled != SD_EVENT_OFF)
                return;   /* a write is due already */
        if (sd_event_now(m->event, CLOCK_MONOTONIC, &now) < 0)
                return;
        (void) sd_event_source_set_time(m->metrics_timer, now + METRICS_DELAY_USEC);
        (void) sd_event_source_set_enabled(m->metrics_timer, SD_EVENT_ONESHOT);
}

void manager_error(Manager *m, DaemonError what, int error, const char *format, ...) {
        char message[1024];
        unsigned suppressed;
        int saved = errno;
        va_list ap;

        m->metrics.errors[what]++;
        /* The metrics show it with their next write; a failed write itself must not ask for
         * another, or a textfile that cannot be written would be retried (and counted) forever. */
        if (what != DAEMON_ERROR_TEXTFILE)
                manager_metrics_update(m);

        errno = error < 0 ? -error : error;
        va_start(ap, format);
        vsnprintf(message, sizeof(message), format, ap);
        va_end(ap);
        errno = saved;

        if (ratelimit_below(&m->error_limit, now_usec(CLOCK_MONOTONIC), &suppressed))
                (void) journal_error(daemon_error_to_string(what), error, "%s", message);
        if (suppressed > 0)
                log_warning("%u more errors of smapsauditd were not logged (rate limit).", suppressed);
}

static const char *http_text(void *userdata, size_t *ret_size) {
        Manager *m = userdata;

        *ret_size = m->metrics_size;
        return m->metrics_text;
}

/* The HTTP endpoint as the configuration says: started, moved or stopped. */
static void reconfigure_http(Manager *m) {
        const char *want = m->config.listen_address;
        int r;

        if (m->http_socket_activated) {
                if (want)
                        log_info("[Metrics] ListenAddress=%s is not used: /metrics is served on the socket of "
                                 "smapsauditd-metrics.socket.", want);
                return;
        }
        if ((!want && !m->http_address) || (want && m->http_address && streq(want, m->http_address)))
                return;

        m->http = metrics_http_free(m->http);
        free(m->http_address);
        m->http_address = NULL;
        if (!want)
                return;

        r = metrics_http_new(m->event, want, http_text, m, &m->http);
        if (r == -EOPNOTSUPP) {
                manager_error(m, DAEMON_ERROR_HTTP, r, "ListenAddress=%s is set, but smapsauditd was built without "
                              "libmicrohttpd: no /metrics endpoint.", want);
                return;
        }
        if (r < 0) {
                manager_error(m, DAEMON_ERROR_HTTP, r, "Failed to serve metrics on %s: %m", want);
                return;
        }
        m->http_address = strdup(want);
}

/* The listening socket systemd passed (smapsauditd-metrics.socket, FileDescriptorName=metrics), or
 * -1. Read once: the environment that names it is unset. */
static int take_metrics_socket(void) {
        char **names = NULL;
        int n, fd = -1;

        n = sd_listen_fds_with_names(true, &names);
        if (n < 0) {
                log_warning_errno(n, "Failed to read the sockets systemd passed: %m");
                return -1;
        }
        for (int i = 0; i < n; i++) {
                int k = SD_LISTEN_FDS_START + i;

                if (fd < 0 && names && streq(names[i], "metrics") && sd_is_socket(k, AF_UNSPEC, SOCK_STREAM, 1) > 0)
                        fd = k;
                else {
                        log_warning("Ignoring socket %d (%s) that systemd passed: only a listening stream socket "
                                    "named \"metrics\" is used.", k, names ? names[i] : "?");
                        (void) close(k);
                }
                free(names ? names[i] : NULL);
        }
        free(names);
        return fd;
}

static void start_http_on_socket(Manager *m, int fd) {
        int r;

        r = metrics_http_new_fd(m->event, fd, http_text, m, &m->http);
        if (r < 0) {
                manager_error(m, DAEMON_ERROR_HTTP, r, "Failed to serve metrics on the socket of "
                              "smapsauditd-metrics.socket: %m");
                return;
        }
        m->http_socket_activated = true;
}

void manager_metrics_reconfigure(Manager *m) {
        if (!m->event)
                return;
        reconfigure_http(m);
        manager_metrics_update(m);
}

int manager_metrics_start(Manager *m) {
        int fd, r;

        r = sd_event_add_time(m->event, &m->metrics_timer, CLOCK_MONOTONIC, UINT64_MAX, 0, on_metrics_timer, m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the metrics timer: %m");
        (void) sd_event_source_set_description(m->metrics_timer, "metrics");
        (void) sd_event_source_set_enabled(m->metrics_timer, SD_EVENT_OFF);

        /* Something to serve before the first sweep ends. */
        manager_metrics_flush(m);
        fd = take_metrics_socket();
        if (fd >= 0)
                start_http_on_socket(m, fd);
        reconfigure_http(m);
        return 0;
}

void manager_metrics_stop(Manager *m) {
        m->metrics_timer = sd_event_source_disable_unref(m->metrics_timer);
        m->http = metrics_http_free(m->http);
        free(m->http_address);
        m->http_address = NULL;
        free(m->metrics_text);
        m->metrics_text = NULL;
}
