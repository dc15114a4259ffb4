/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Findings (schema smapsaudit.finding/1) as rows a person scans: the
 * findings verb's table and watch's lines are the same columns.
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>

typedef enum FindingColumn {
        COLUMN_TIME,
        COLUMN_PID,
        COLUMN_COMM,
        COLUMN_UNIT,
        COLUMN_KIND,
        COLUMN_FIELD,
        COLUMN_VMA,
        COLUMN_KERNEL,
        COLUMN_WALK,
        COLUMN_TAGS,
        _COLUMN_MAX,
} FindingColumn;

typedef struct FindingRow {
        uint64_t realtime_usec;
        char *cell[_COLUMN_MAX];
        bool discrepancy;      /* under- or over-accounted: shown in red on a terminal */
} FindingRow;

typedef struct FindingTable {
        FindingRow *rows;
        size_t n_rows;
        size_t width[_COLUMN_MAX];
        bool show_unit;        /* only when some finding has one */
        bool streaming;
} FindingTable;

/* Whether the finding passes --pid, --unit and --kind. */
bool finding_selected(struct json_object *f);

/* Adds a finding as a row; the unit is the finding's own, or, on this machine,
 * the unit of the process if it still runs under the same name. */
int finding_table_add(FindingTable *t, struct json_object *f);
/* Oldest first, as journalctl, so the newest is next to the prompt. */
void finding_table_sort(FindingTable *t);
void finding_table_print(const FindingTable *t, FILE *out, bool header, bool color);
void finding_table_done(FindingTable *t);

/* For rows printed one at a time (watch): columns as wide as usual values need. */
void finding_table_init_streaming(FindingTable *t, bool show_unit);
/* Prints the rows added since the last flush, without a header, and forgets them. */
void finding_table_flush(FindingTable *t, FILE *out, bool color);
