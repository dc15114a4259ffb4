/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ProbeOnBoot=: the first time smapsauditd starts under a kernel release it has no probe of, it runs
 * the probe (probe/, what `smapsaudit probe` runs) in a child process, keeps the result in
 * STATE_DIR/probe.json keyed by the release, logs each bug found, and serves the result as metrics
 * and over the bus. The release is the key, not the boot: the probe tests the kernel's code, which
 * a reboot into the same release does not change.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "metrics.h"

#define PROBE_STATE_FILE "probe.json"
/* For tests only: the release the probe is kept and reported under, instead of the running one
 * (smapsauditd(8)). The probe itself still tests the running kernel. */
#define PROBE_RELEASE_ENV "SMAPSAUDITD_PROBE_RELEASE"

typedef enum ProbeBootState {
        PROBE_BOOT_DISABLED,      /* ProbeOnBoot=no, and no probe of this release kept */
        PROBE_BOOT_UNAVAILABLE,   /* the daemon reads captured files (--proc-root): no kernel to probe */
        PROBE_BOOT_RUNNING,
        PROBE_BOOT_DONE,          /* a probe of this release, from this start or an earlier one */
        PROBE_BOOT_FAILED,        /* no result came back; the next start tries again */
        _PROBE_BOOT_STATE_MAX,
} ProbeBootState;

const char *probe_boot_state_to_string(ProbeBootState s);

struct probe_result;

typedef struct ProbeBoot {
        ProbeBootState state;
        char *release;            /* the key */
        char *json;               /* smapsaudit.probe/1 of this release, NULL: none */
        struct probe_result *result;
        uint64_t realtime_usec;   /* when it ended */
        KernelBugSample *samples; /* the bugs it tested (bounds are not bugs) */
        size_t n_samples;

        /* while it runs */
        pid_t pid;
        int pidfd, fd;
        char *out;
        size_t out_size;
        bool out_too_large;
        uint64_t started_usec;    /* CLOCK_MONOTONIC */
        sd_event_source *out_source, *exit_source, *timeout_source;
        bool sweep_waiting;       /* a sweep was due while it ran: it starts when the probe ends */
} ProbeBoot;

typedef struct Manager Manager;

/* At start, with the bus up: loads what the state keeps of this release, and starts the probe
 * when there is none (or it failed) and ProbeOnBoot= says so. */
int manager_probe_start(Manager *m);
/* At exit: a probe still running is ended (it kills its shapes) and not recorded. */
void manager_probe_stop(Manager *m);
/* Inline, so that the sweep, which the probe's end starts, asks without calling back into this file. */
static inline bool probe_boot_running(const ProbeBoot *p) {
        return p->state == PROBE_BOOT_RUNNING;
}
