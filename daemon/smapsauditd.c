/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* smapsauditd: audits memory accounting on behalf of the system bus. */
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "log.h"
#include "macro.h"
#include "capabilities.h"
#include "manager-bus.h"

static const char *arg_config;
static const char *arg_state_dir;
static const char *arg_proc_root;
static const char *arg_sys_root;

static void help(void) {
        printf("%s [OPTIONS...]\n\n"
               "Audit Linux memory accounting for the system bus (org.smapsaudit.Auditor1).\n\n"
               "  -h --help             Show this help\n"
               "     --version          Show the version\n"
               "     --config=FILE      Read FILE and FILE.d/*.conf instead of " CONFIG_FILE_DEFAULT "\n"
               "                        and its smapsauditd.conf.d/ drop-ins\n"
               "     --state-dir=DIR    Keep finding history in DIR (default: $STATE_DIRECTORY,\n"
               "                        else " STATE_DIRECTORY_DEFAULT ")\n"
               "     --proc-root=DIR    For tests: read procfs below DIR (a capture), kernel\n"
               "                        release included\n"
               "     --sys-root=DIR     For tests: read sysfs below DIR\n"
               "     --debug            Log debug messages\n",
               program_invocation_short_name);
}

static int parse_argv(int argc, char *argv[]) {
        enum {
                ARG_VERSION = 0x100,
                ARG_CONFIG,
                ARG_STATE_DIR,
                ARG_PROC_ROOT,
                ARG_SYS_ROOT,
                ARG_DEBUG,
        };
        static const struct option options[] = {
                { "help",      no_argument,       NULL, 'h'           },
                { "version",   no_argument,       NULL, ARG_VERSION   },
                { "config",    required_argument, NULL, ARG_CONFIG    },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                { "proc-root", required_argument, NULL, ARG_PROC_ROOT },
                { "sys-root",  required_argument, NULL, ARG_SYS_ROOT  },
                { "debug",     no_argument,       NULL, ARG_DEBUG     },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("smapsauditd %s (libsmapsaudit %s)\n", PACKAGE_VERSION, smapsaudit_version());
                        return 0;
                case ARG_CONFIG:
                        arg_config = optarg;
                        break;
                case ARG_STATE_DIR:
                        arg_state_dir = optarg;
                        break;
                case ARG_PROC_ROOT:
                        arg_proc_root = optarg;
                        break;
                case ARG_SYS_ROOT:
                        arg_sys_root = optarg;
                        break;
                case ARG_DEBUG:
                        log_set_max_level(LOG_DEBUG);
                        break;
                case '?':
                        return -EINVAL;
                default:
                        abort();
                }

        if (optind < argc) {
                log_error("%s takes no arguments.", program_invocation_short_name);
                return -EINVAL;
        }
        return 1;
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        int r;

        (void) sd_notify(false, "RELOADING=1");
        r = manager_reload(m);
        if (r < 0)
                log_error_errno(r, "Reload failed, keeping the old configuration: %m");
        (void) sd_notify(false, "READY=1");
        return 0;
}

static int run(int argc, char *argv[]) {
        Manager *m = NULL;
        sigset_t mask;
        int r;

        log_setup();

        /*
         * An audit of a process with tens of thousands of VMAs allocates and
         * frees arrays of megabytes. glibc raises its mmap threshold to the
         * size of every such block freed, so that the next ones come from the
         * heap arenas, which keep what fragmentation leaves: sweeping three
         * 20000-VMA processes, the RSS between audits crept from 55 to 210
         * MiB and peaked at 327 MiB. A fixed threshold (which also stops the
         * raising) gives large blocks back to the kernel when they are freed:
         * 128 MiB peak, flat.
         */
        if (mallopt(M_MMAP_THRESHOLD, 128 * 1024) == 0)
                log_warning("Failed to fix malloc's mmap threshold: memory use may creep up.");

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r;

        /* Blocked before any thread starts, so that the audit threads
         * inherit the mask and only the loop's signalfd sees them. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        r = -pthread_sigmask(SIG_BLOCK, &mask, NULL);
        if (r < 0)
                return log_error_errno(r, "Failed to block signals: %m");

        r = manager_new(&(ManagerOptions) {
                                .config_path = arg_config,
                                .state_dir = arg_state_dir,
                                .proc_root = arg_proc_root,
                                .sys_root = arg_sys_root,
                        }, &m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up: %m");

        r = sd_event_add_signal(m->event, NULL, SIGTERM, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT, NULL, NULL);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGHUP, on_sighup, m);
        if (r < 0) {
                log_error_errno(r, "Failed to watch signals: %m");
                goto finish;
        }

        r = drop_capabilities();
        if (r < 0) {
                log_error_errno(r, "Failed to drop capabilities: %m");
                goto finish;
        }

        /* The bus last: the first call may come at once, and finds everything it needs. */
        r = manager_start(m);
        if (r >= 0)
                r = manager_bus_connect(m);
        if (r < 0)
                goto finish;

        log_info("smapsauditd %s running, kernel %s.", PACKAGE_VERSION,
                 smapsaudit_ctx_get_kernel_release(m->ctx) ?: "unknown");
        (void) sd_notifyf(false, "READY=1\nSTATUS=%s", m->status_text ?: "Running.");

        r = sd_event_loop(m->event);
        if (r < 0)
                log_error_errno(r, "Event loop failed: %m");
        (void) sd_notify(false, "STOPPING=1\nSTATUS=Shutting down.");

finish:
        manager_free(m);
        return r;
}

int main(int argc, char *argv[]) {
        return run(argc, argv) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
