/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"

static int max_level = LOG_INFO;
static bool prefix_priority;

void log_setup(void) {
        /* systemd sets JOURNAL_STREAM when stderr is connected to journald;
         * a "<N>" prefix is then read as the priority and stripped. */
        prefix_priority = getenv("JOURNAL_STREAM") != NULL;
}

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

int log_internal(int level, int error, const char *format, ...) {
        int saved = errno;
        va_list ap;

        if (error < 0)
                error = -error;

        if (level <= max_level) {
                /* One fprintf per line: stderr's lock keeps lines from the
                 * worker threads whole. */
                char line[2048];

                errno = error;
                va_start(ap, format);
                vsnprintf(line, sizeof(line), format, ap);
                va_end(ap);

                if (prefix_priority)
                        fprintf(stderr, "<%d>%s\n", level, line);
                else
                        fprintf(stderr, "%s\n", line);
        }

        errno = saved;
        return -error;
}
