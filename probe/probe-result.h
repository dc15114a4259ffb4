/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A probe run's result, shared by probe.c (which fills it) and output.c (which prints it). */
#pragma once

#include <time.h>

#include "probe-internal.h"

struct probe_result {
        char *release;
        unsigned flags;
        time_t started;
        bool niced;
        double wall_seconds;
        uint64_t peak_rss_kb;        /* the probe's and its largest child's peak RSS, added */
        json_object *knobs;          /* what was changed and restored */
        size_t n;
        const struct probe_bug **bugs;
        struct probe_outcome *outcomes;
};
