/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The probe runs in a child forked from the loop thread and not exec()ed: the child has exactly the
 * daemon's credentials and capabilities, which are what the probe's audits need (frame numbers in
 * pagemap, /proc/kpageflags), and needs no binary of its own. It touches nothing of the daemon's
 * (its other threads are not in the child; the library gets a context of its own), writes the
 * probe's JSON to a pipe and _exit()s. The loop reads the pipe and learns of the exit from a pidfd,
 * so the bus is served meanwhile.
 *
 * Its CPU time, and that of the shapes it forked and reaped, is what wait4() reports: added to
 * the sweeps' debt, it is paid for by the sweeps that follow, as an overspent sweep is. No sweep
 * starts while it runs: a sweep's audits of the shapes, which build the kernel's bugs on purpose,
 * would report them as findings of processes and feed the baseline with them.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "atomic-file.h"
#include "journal.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "manager-bus.h"
#include "probe.h"

#define PROBE_STATE_SCHEMA "smapsaudit.probe-state/1"
/* Releases kept: as many as the baseline keeps. */
#define PROBE_RELEASES_MAX BASELINE_RELEASES_MAX
#define PROBE_OUTPUT_MAX (8u << 20)
#define PROBE_STATE_FILE_MAX (PROBE_RELEASES_MAX * PROBE_OUTPUT_MAX)
/* The probe bounds its own run to a minute; past this it is stuck, and the sweeps wait for it. */
#define PROBE_TIMEOUT_USEC (150 * UINT64_C(1000000))
#define PROBE_STOP_TIMEOUT_MSEC 5000

static const char *const state_names[_PROBE_BOOT_STATE_MAX] = {
        [PROBE_BOOT_DISABLED] = "disabled",
        [PROBE_BOOT_UNAVAILABLE] = "unavailable",
        [PROBE_BOOT_RUNNING] = "running",
        [PROBE_BOOT_DONE] = "done",
        [PROBE_BOOT_FAILED] = "failed",
};

const char *probe_boot_state_to_string(ProbeBootState s) {
        return s < _PROBE_BOOT_STATE_MAX ? state_names[s] : NULL;
}

static void set_state(Manager *m, ProbeBootState s) {
        int r;

        m->probe.state = s;
        manager_metrics_update(m);
        if (!m->bus)
                return;
        r = sd_bus_emit_properties_changed(m->bus, BUS_PATH, BUS_INTERFACE, "ProbeState", "LastProbeUSec", NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to announce the probe's state: %m");
}

/* ---------------------------------------------------------------- the state file */

static char *state_path(const Manager *m) {
        char *p;

        return asprintf(&p, "%s/%s", m->state_dir, PROBE_STATE_FILE) < 0 ? NULL : p;
}

/* The releases the file keeps, as {"release","realtime_usec","probe"} objects; an empty array
 * when there is no file, or one that cannot be read (said so: the next probe rewrites it). */
static json_object *state_load(const Manager *m) {
        _cleanup_free_ char *path = state_path(m), *text = NULL;
        json_object *doc = NULL, *releases;
        struct stat st;
        int fd;

        if (!path)
                return NULL;
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                if (errno != ENOENT)
                        log_warning_errno(errno, "Failed to open %s, probing as if it were empty: %m", path);
                return json_object_new_array();
        }
        if (fstat(fd, &st) >= 0 && st.st_size > 0 && (uint64_t) st.st_size <= PROBE_STATE_FILE_MAX &&
            (text = malloc((size_t) st.st_size + 1)) && read(fd, text, (size_t) st.st_size) == st.st_size) {
                text[st.st_size] = 0;
                doc = json_tokener_parse(text);
        }
        close(fd);
        if (!doc || !json_object_object_get_ex(doc, "releases", &releases) ||
            !json_object_is_type(releases, json_type_array)) {
                log_warning("%s is not a probe state file (%s), probing as if it were empty.", path, PROBE_STATE_SCHEMA);
                json_object_put(doc);
                return json_object_new_array();
        }
        releases = json_object_get(releases);
        json_object_put(doc);
        return releases;
}

static json_object *state_find(json_object *releases, const char *release) {
        for (size_t i = 0; i < json_object_array_length(releases); i++) {
                json_object *e = json_object_array_get_idx(releases, i), *r;

                if (json_object_object_get_ex(e, "release", &r) && streq(json_object_get_string(r) ?: "", release))
                        return e;
        }
        return NULL;
}

/* This release's probe in, at the end; the oldest go when there are too many. */
static int state_save(Manager *m) {
        _cleanup_free_ char *path = state_path(m);
        json_object *releases = state_load(m), *doc, *e, *probe;
        const char *text;
        int r;

        if (!path || !releases) {
                json_object_put(releases);
                return -ENOMEM;
        }
        probe = json_tokener_parse(m->probe.json);
        if (!probe) {
                json_object_put(releases);
                return -EBADMSG;
        }
        for (size_t i = json_object_array_length(releases); i > 0; i--) {
                json_object *r0;

                e = json_object_array_get_idx(releases, i - 1);
                if (json_object_object_get_ex(e, "release", &r0) && streq(json_object_get_string(r0) ?: "", m->probe.release))
                        json_object_array_del_idx(releases, i - 1, 1);
        }
        while (json_object_array_length(releases) >= PROBE_RELEASES_MAX)
                json_object_array_del_idx(releases, 0, 1);
        e = json_object_new_object();
        json_object_object_add(e, "release", json_object_new_string(m->probe.release));
        json_object_object_add(e, "realtime_usec", json_object_new_uint64(m->probe.realtime_usec));
        json_object_object_add(e, "probe", probe);
        json_object_array_add(releases, e);

        doc = json_object_new_object();
        json_object_object_add(doc, "schema", json_object_new_string(PROBE_STATE_SCHEMA));
        json_object_object_add(doc, "releases", releases);
        text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN);
        r = text ? write_file_atomic(path, text, strlen(text), 0600) : -ENOMEM;
        json_object_put(doc);
        return r;
}

/* ---------------------------------------------------------------- a result, from the state or the child */

static int set_result(Manager *m, const char *json, uint64_t realtime_usec) {
        struct probe_result *res = NULL;
        KernelBugSample *samples;
        size_t n = 0;
        int r;

        r = probe_result_from_json(json, &res);
        if (r < 0)
                return r;
        samples = calloc(probe_result_n(res) ?: 1, sizeof(KernelBugSample));
        if (!samples) {
                probe_result_free(res);
                return -ENOMEM;
        }
        for (size_t i = 0; i < probe_result_n(res); i++) {
                enum probe_state s = probe_result_state(res, i);

                if (probe_result_bug(res, i)->bound || (s != PROBE_PRESENT && s != PROBE_ABSENT))
                        continue;
                samples[n++] = (KernelBugSample) { .bug = probe_result_bug(res, i)->id, .present = s == PROBE_PRESENT };
        }
        free(m->probe.json);
        m->probe.json = strdup(json);
        probe_result_free(m->probe.result);
        m->probe.result = res;
        free(m->probe.samples);
        m->probe.samples = samples;
        m->probe.n_samples = n;
        m->probe.realtime_usec = realtime_usec;
        return m->probe.json ? 0 : -ENOMEM;
}

/* A probe whose bugs could all be run (or said why not): a probe that failed is tried again. */
static bool result_complete(const Manager *m) {
        return m->probe.result && probe_result_exit_status(m->probe.result) != 2;
}

static void log_bugs(Manager *m) {
        const struct probe_result *res = m->probe.result;

        for (size_t i = 0; i < probe_result_n(res); i++) {
                const struct probe_bug *b = probe_result_bug(res, i);

                if (probe_result_state(res, i) != PROBE_PRESENT || b->bound)
                        continue;
                (void) journal_kernel_bug(b->message_id, b->id, b->title, m->probe.release,
                                          probe_result_summary(res, i), b->fixed);
        }
}

/* ---------------------------------------------------------------- the child */

_Noreturn static void probe_child(int fd, pid_t parent) {
        struct smapsaudit_ctx *ctx = NULL;
        struct probe_result *res = NULL;
        char *json = NULL;
        sigset_t none;

        /* the daemon's loop takes its signals from a signalfd, with them blocked; the probe's own
         * handlers (kill the shapes, then die) need them delivered */
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
                _exit(EXIT_FAILURE);
        if (dup2(fd, 3) < 0 || close_range(4, ~0U, 0) < 0)
                _exit(EXIT_FAILURE);
        if (smapsaudit_ctx_new(&ctx) < 0)
                _exit(EXIT_FAILURE);
        smapsaudit_ctx_set_log_priority(ctx, LOG_ERR);
        if (probe_run(ctx, 0, NULL, 0, &res) < 0 || probe_result_to_json(res, false, &json) < 0 ||
            write_all(3, json, strlen(json)) < 0)
                _exit(EXIT_FAILURE);
        _exit(EXIT_SUCCESS);
}

static void child_done(Manager *m) {
        ProbeBoot *p = &m->probe;

        p->out_source = sd_event_source_disable_unref(p->out_source);
        p->exit_source = sd_event_source_disable_unref(p->exit_source);
        p->timeout_source = sd_event_source_disable_unref(p->timeout_source);
        if (p->fd >= 0)
                close(p->fd);
        if (p->pidfd >= 0)
                close(p->pidfd);
        p->fd = p->pidfd = -1;
        p->pid = 0;
        free(p->out);
        p->out = NULL;
        p->out_size = 0;
}

/* What the pipe holds now; false once the writers closed it. */
static bool read_output(ProbeBoot *p) {
        char buf[65536];

        for (;;) {
                ssize_t k = read(p->fd, buf, sizeof(buf));
                char *o;

                if (k == 0)
                        return false;
                if (k < 0)
                        return errno == EINTR || errno == EAGAIN;
                if (p->out_size + (size_t) k > PROBE_OUTPUT_MAX) {
                        p->out_too_large = true;
                        return false;
                }
                o = realloc(p->out, p->out_size + (size_t) k + 1);
                if (!o) {
                        p->out_too_large = true;
                        return false;
                }
                memcpy(o + p->out_size, buf, (size_t) k);
                p->out_size += (size_t) k;
                o[p->out_size] = 0;
                p->out = o;
        }
}

static int on_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;

        if (read_output(&m->probe))
                return 0;
        m->probe.out_source = sd_event_source_disable_unref(m->probe.out_source);
        if (m->probe.out_too_large)
                (void) pidfd_send_signal(m->probe.pidfd, SIGKILL, NULL, 0);
        return 0;
}

static void probe_finished(Manager *m, int status, uint64_t cpu_usec) {
        ProbeBoot *p = &m->probe;
        char wall[64], cpu[64];
        size_t present = 0;
        int r = -EPROTO;

        /* the child wrote all before it exited; shapes it forked may hold the pipe open still */
        (void) read_output(p);
        format_time_span(wall, sizeof(wall), now_usec(CLOCK_MONOTONIC) - p->started_usec, 1000);
        format_time_span(cpu, sizeof(cpu), cpu_usec, 1000);
        /* paid for by the sweeps that follow */
        m->debt_usec += cpu_usec;

        if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_SUCCESS && !p->out_too_large && p->out)
                r = set_result(m, p->out, now_usec(CLOCK_REALTIME));
        child_done(m);
        if (r < 0) {
                manager_error(m, DAEMON_ERROR_PROBE, r, "Probing kernel %s failed (%s %d, after %s; CPU %s); the "
                              "next start tries again.", p->release, WIFSIGNALED(status) ? "signal" : "exit status",
                              WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), wall, cpu);
                set_state(m, PROBE_BOOT_FAILED);
        } else {
                for (size_t i = 0; i < p->n_samples; i++)
                        present += p->samples[i].present;
                log_info("Probed kernel %s in %s (CPU %s, charged to the sweeps' budget): %zu of %zu testable "
                         "catalogued bugs present%s.", p->release, wall, cpu, present, p->n_samples,
                         result_complete(m) ? "" : "; a probe failed, the next start tries again");
                log_bugs(m);
                r = state_save(m);
                if (r < 0)
                        manager_error(m, DAEMON_ERROR_PROBE, r, "Failed to keep the probe of kernel %s in %s/%s, "
                                      "the next start probes it again: %m", p->release, m->state_dir,
                                      PROBE_STATE_FILE);
                set_state(m, result_complete(m) ? PROBE_BOOT_DONE : PROBE_BOOT_FAILED);
        }
        if (p->sweep_waiting) {
                p->sweep_waiting = false;
                r = manager_sweep_now(m);
                if (r < 0)
                        log_error_errno(r, "Failed to start a sweep: %m");
        }
}

static int on_exit_event(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Manager *m = userdata;
        struct rusage ru = {};
        int status = 0;
        pid_t k;

        k = wait4(m->probe.pid, &status, WNOHANG, &ru);
        if (k == 0 || (k < 0 && errno == EINTR))
                return 0;
        if (k < 0)
                status = W_EXITCODE(EXIT_FAILURE, 0);
        probe_finished(m, status, (uint64_t) ru.ru_utime.tv_sec * 1000000 + (uint64_t) ru.ru_utime.tv_usec +
                                  (uint64_t) ru.ru_stime.tv_sec * 1000000 + (uint64_t) ru.ru_stime.tv_usec);
        return 0;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        log_warning("The probe of kernel %s (PID %d) still runs after %" PRIu64 " s: killing it.", m->probe.release,
                    (int) m->probe.pid, PROBE_TIMEOUT_USEC / 1000000);
        (void) pidfd_send_signal(m->probe.pidfd, SIGKILL, NULL, 0);
        return 0;
}

static int spawn(Manager *m) {
        ProbeBoot *p = &m->probe;
        pid_t parent = getpid(), pid;
        int fds[2], r;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                r = -errno;
                close(fds[0]);
                close(fds[1]);
                return r;
        }
        if (pid == 0)
                probe_child(fds[1], parent);
        close(fds[1]);
        p->pid = pid;
        p->fd = fds[0];
        p->started_usec = now_usec(CLOCK_MONOTONIC);
        p->pidfd = pidfd_open(pid, 0);
        if (p->pidfd < 0 || fcntl(p->fd, F_SETFL, O_NONBLOCK) < 0) {
                r = -errno;
                kill(pid, SIGKILL);
                (void) waitpid(pid, NULL, 0);
                child_done(m);
                return r;
        }
        r = sd_event_add_io(m->event, &p->out_source, p->fd, EPOLLIN, on_output, m);
        if (r >= 0)
                r = sd_event_add_io(m->event, &p->exit_source, p->pidfd, EPOLLIN, on_exit_event, m);
        if (r >= 0)
                r = sd_event_add_time_relative(m->event, &p->timeout_source, CLOCK_MONOTONIC, PROBE_TIMEOUT_USEC, 0,
                                               on_timeout, m);
        if (r < 0) {
                (void) pidfd_send_signal(p->pidfd, SIGKILL, NULL, 0);
                (void) waitpid(pid, NULL, 0);
                child_done(m);
                return r;
        }
        (void) sd_event_source_set_description(p->out_source, "probe-output");
        (void) sd_event_source_set_description(p->exit_source, "probe-exit");
        return 0;
}

/* ---------------------------------------------------------------- start and stop */

int manager_probe_start(Manager *m) {
        ProbeBoot *p = &m->probe;
        json_object *releases, *e, *probe, *t;
        const char *release = getenv(PROBE_RELEASE_ENV);
        int r;

        p->fd = p->pidfd = -1;
        p->release = strdup(release && *release ? release : smapsaudit_ctx_get_kernel_release(m->ctx) ?: "unknown");
        releases = p->release ? state_load(m) : NULL;
        if (!releases)
                return log_error_errno(ENOMEM, "Failed to read the probe's state: %m");
        e = state_find(releases, p->release);
        if (e && json_object_object_get_ex(e, "probe", &probe)) {
                r = set_result(m, json_object_to_json_string_ext(probe, JSON_C_TO_STRING_PLAIN),
                               json_object_object_get_ex(e, "realtime_usec", &t) ? json_object_get_uint64(t) : 0);
                if (r < 0)
                        log_warning_errno(r, "The probe of kernel %s that %s/%s keeps cannot be read: %m", p->release,
                                          m->state_dir, PROBE_STATE_FILE);
        }
        json_object_put(releases);

        if (result_complete(m)) {
                log_info("Kernel %s was probed before: not probing it again.", p->release);
                p->state = PROBE_BOOT_DONE;
                return 0;
        }
        if (!m->config.probe_on_boot || !m->live) {
                p->state = m->probe.result ? PROBE_BOOT_FAILED : !m->live ? PROBE_BOOT_UNAVAILABLE : PROBE_BOOT_DISABLED;
                return 0;
        }
        r = spawn(m);
        if (r < 0) {
                manager_error(m, DAEMON_ERROR_PROBE, r, "Failed to start the probe of kernel %s: %m", p->release);
                p->state = PROBE_BOOT_FAILED;
                return 0;
        }
        log_info("Probing kernel %s (PID %d); sweeps start when it ends.", p->release, (int) p->pid);
        p->state = PROBE_BOOT_RUNNING;
        return 0;
}

void manager_probe_stop(Manager *m) {
        ProbeBoot *p = &m->probe;

        if (p->pid > 0) {
                struct pollfd pfd = { .fd = p->pidfd, .events = POLLIN };

                /* SIGTERM: the probe kills its shapes before it dies */
                (void) pidfd_send_signal(p->pidfd, SIGTERM, NULL, 0);
                if (poll(&pfd, 1, PROBE_STOP_TIMEOUT_MSEC) <= 0)
                        (void) pidfd_send_signal(p->pidfd, SIGKILL, NULL, 0);
                (void) waitpid(p->pid, NULL, 0);
                log_info("Stopped the probe of kernel %s: the next start tries again.", p->release);
                child_done(m);
        }
        probe_result_free(p->result);
        free(p->samples);
        free(p->json);
        free(p->release);
        *p = (ProbeBoot) { .fd = -1, .pidfd = -1 };
}
