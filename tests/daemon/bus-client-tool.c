/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Drives cli/bus-client.c from the integration test, one call per run, and
 * prints what came back in a form the test can parse: the daemon's JSON,
 * or "error <errno> <unreachable>" and the daemon's message. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus-client.h"
#include "macro.h"

static int fail(int r, const char *message) {
        printf("error %d %d\n%s\n", -r, bus_error_is_unreachable(r), message ?: "");
        return EXIT_FAILURE;
}

static int print_json(void *userdata, const char *json) {
        unsigned *left = userdata;

        printf("%s\n", json);
        fflush(stdout);
        return --*left == 0;
}

int main(int argc, char *argv[]) {
        _cleanup_free_ char *json = NULL, *message = NULL;
        int r;

        if (argc >= 3 && streq(argv[1], "check")) {
                r = bus_check((pid_t) atoi(argv[2]), &(BusCheckOptions) { .freeze = argc >= 4 && streq(argv[3], "freeze") },
                              &json, &message);
        } else if (argc == 2 && streq(argv[1], "status")) {
                BusStatus s;

                r = bus_status(&s);
                if (r < 0)
                        return fail(r, NULL);
                printf("version=%s\nkernel=%s\nstatus=%s\nlast_sweep_usec=%" PRIu64 "\naudited=%" PRIu64
                       "\nfindings=%" PRIu64 "\nsweep_usec=%" PRIu64 "\ncpu_usec=%" PRIu64
                       "\ninterval_usec=%" PRIu64 "\ncovered=%d\n",
                       s.version, s.kernel_release, s.status_text, s.last_sweep_usec, s.sweep_processes_audited,
                       s.sweep_findings, s.sweep_usec, s.sweep_cpu_usec, s.sweep_interval_usec, s.sweep_covered);
                bus_status_done(&s);
                return EXIT_SUCCESS;
        } else if (argc == 3 && streq(argv[1], "findings")) {
                r = bus_findings(strtoull(argv[2], NULL, 10), &json);
        } else if (argc == 2 && streq(argv[1], "sweep")) {
                r = bus_sweep();
        } else if (argc == 2 && streq(argv[1], "ksm")) {
                r = bus_ksm_status(&json);
        } else if (argc == 3 && streq(argv[1], "watch")) {
                unsigned left = (unsigned) atoi(argv[2]);

                r = bus_watch(print_json, &left);
        } else {
                fprintf(stderr, "usage: %s check PID [freeze] | status | findings SINCE | sweep | ksm | watch N\n",
                        argv[0]);
                return 2;
        }

        if (r < 0)
                return fail(r, message);
        if (json)
                printf("%s\n", json);
        return EXIT_SUCCESS;
}
