/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "findings.h"
#include "macro.h"
#include "select.h"

#define RED "\033[1;31m"
#define BOLD "\033[1m"
#define RESET "\033[0m"

static const char *const header[_COLUMN_MAX] = {
        [COLUMN_TIME] = "TIME",         [COLUMN_PID] = "PID",     [COLUMN_COMM] = "COMM",
        [COLUMN_UNIT] = "UNIT",         [COLUMN_KIND] = "KIND",   [COLUMN_FIELD] = "FIELD",
        [COLUMN_VMA] = "VMA",           [COLUMN_KERNEL] = "KERNEL kB", [COLUMN_WALK] = "WALK kB",
        [COLUMN_TAGS] = "TAGS",
};

/* Numbers line up on the right, as in ps. */
static bool right_aligned(FindingColumn c) {
        return c == COLUMN_PID || c == COLUMN_KERNEL || c == COLUMN_WALK;
}

static const char *get_string(struct json_object *f, const char *key) {
        struct json_object *v;

        if (!json_object_object_get_ex(f, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static int64_t get_int(struct json_object *f, const char *key) {
        struct json_object *v;

        return json_object_object_get_ex(f, key, &v) ? json_object_get_int64(v) : 0;
}

/* Accepts the short forms too: "under" for under-accounted. */
static bool kind_matches(const char *kind, const char *wanted) {
        size_t l = strlen(wanted);

        return kind && strncmp(kind, wanted, l) == 0 && (kind[l] == 0 || streq(kind + l, "-accounted"));
}

/* The finding's unit, or the unit of the process it names while that still runs under the
 * same name on this machine: a PID reused by another program names another unit. */
static char *finding_unit(struct json_object *f) {
        const char *unit = get_string(f, "unit"), *comm = get_string(f, "comm");
        pid_t pid = (pid_t) get_int(f, "pid");
        char path[64], now[64] = "";
        FILE *file;

        if (unit)
                return *unit ? strdup(unit) : NULL;
        if (arg.host || arg.machine || pid <= 0 || !comm)
                return NULL;
        snprintf(path, sizeof(path), "/proc/%d/comm", (int) pid);
        file = fopen(path, "re");
        if (!file)
                return NULL;
        if (!fgets(now, sizeof(now), file))
                now[0] = 0;
        fclose(file);
        now[strcspn(now, "\n")] = 0;
        return streq(now, comm) ? process_unit(pid) : NULL;
}

bool finding_selected(struct json_object *f) {
        if (arg.pid && get_int(f, "pid") != arg.pid)
                return false;
        if (arg.kind && !kind_matches(get_string(f, "kind"), arg.kind))
                return false;
        if (arg.unit) {
                _cleanup_free_ char *unit = finding_unit(f);

                if (!unit_name_matches(unit, arg.unit))
                        return false;
        }
        return true;
}

static char *format_time(uint64_t usec) {
        time_t t = (time_t) (usec / 1000000);
        struct tm tm;
        char buf[32];

        if (!localtime_r(&t, &tm) || strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm) == 0)
                return strdup("-");
        return strdup(buf);
}

static char *format_tags(struct json_object *f) {
        struct json_object *tags;
        char buf[256] = "";
        size_t n;

        if (!json_object_object_get_ex(f, "tags", &tags) || !json_object_is_type(tags, json_type_array))
                return strdup("-");
        n = json_object_array_length(tags);
        for (size_t i = 0; i < n; i++) {
                size_t l = strlen(buf);

                snprintf(buf + l, sizeof(buf) - l, "%s%s", i ? "," : "",
                         json_object_get_string(json_object_array_get_idx(tags, i)));
        }
        return strdup(*buf ? buf : "-");
}

static char *format_vma(struct json_object *f) {
        struct json_object *vma;
        const char *start, *end;
        char *s;

        if (!json_object_object_get_ex(f, "vma", &vma))
                return strdup("-");
        start = get_string(vma, "start");
        end = get_string(vma, "end");
        /* a whole-process finding (smaps_rollup, status) has no VMA */
        if (!start || !end || (streq(start, "0x0") && streq(end, "0x0")))
                return strdup("-");
        return asprintf(&s, "%s-%s", start, end) < 0 ? NULL : s;
}

static char *format_number(int64_t v) {
        char *s;

        return asprintf(&s, "%" PRId64, v) < 0 ? NULL : s;
}

static char *dup_or_dash(const char *s) {
        return strdup(s && *s ? s : "-");
}

int finding_table_add(FindingTable *t, struct json_object *f) {
        FindingRow row = { .realtime_usec = (uint64_t) get_int(f, "realtime_usec") }, *rows;
        const char *kind = get_string(f, "kind");
        char *unit;

        row.discrepancy = kind && (streq(kind, "under-accounted") || streq(kind, "over-accounted"));
        row.cell[COLUMN_TIME] = format_time(row.realtime_usec);
        row.cell[COLUMN_PID] = format_number(get_int(f, "pid"));
        row.cell[COLUMN_COMM] = dup_or_dash(get_string(f, "comm"));
        unit = finding_unit(f);
        row.cell[COLUMN_UNIT] = unit ?: strdup("-");
        row.cell[COLUMN_KIND] = dup_or_dash(kind);
        row.cell[COLUMN_FIELD] = dup_or_dash(get_string(f, "field"));
        row.cell[COLUMN_VMA] = format_vma(f);
        row.cell[COLUMN_KERNEL] = format_number(get_int(f, "kernel_kb"));
        row.cell[COLUMN_WALK] = format_number(get_int(f, "walk_kb"));
        row.cell[COLUMN_TAGS] = format_tags(f);

        for (FindingColumn c = 0; c < _COLUMN_MAX; c++)
                if (!row.cell[c])
                        goto fail;
        rows = realloc(t->rows, (t->n_rows + 1) * sizeof(FindingRow));
        if (!rows)
                goto fail;
        t->rows = rows;
        t->show_unit = t->show_unit || (unit && !t->streaming);
        for (FindingColumn c = 0; c < _COLUMN_MAX; c++)
                t->width[c] = MAX(t->width[c], MAX(strlen(row.cell[c]), strlen(header[c])));
        t->rows[t->n_rows++] = row;
        return 0;

fail:
        for (FindingColumn c = 0; c < _COLUMN_MAX; c++)
                free(row.cell[c]);
        return -ENOMEM;
}

static int cmp_row(const void *a, const void *b) {
        const FindingRow *x = a, *y = b;

        return x->realtime_usec < y->realtime_usec ? -1 : x->realtime_usec > y->realtime_usec;
}

void finding_table_sort(FindingTable *t) {
        /* the daemon's history is in order already: keep the order of findings of one moment */
        for (size_t i = 1; i < t->n_rows; i++)
                if (cmp_row(&t->rows[i - 1], &t->rows[i]) > 0) {
                        qsort(t->rows, t->n_rows, sizeof(FindingRow), cmp_row);
                        return;
                }
}

static void print_cells(const FindingTable *t, FILE *out, const char *const *cell, const char *on, bool color) {
        bool first = true;

        for (FindingColumn c = 0; c < _COLUMN_MAX; c++) {
                bool last = c == _COLUMN_MAX - 1;
                const char *shade = color && c == COLUMN_KIND ? on : "";

                if (c == COLUMN_UNIT && !t->show_unit)
                        continue;
                fprintf(out, "%s%s", first ? "" : " ", shade);
                if (last)
                        fputs(cell[c], out);
                else
                        fprintf(out, right_aligned(c) ? "%*s" : "%-*s", (int) t->width[c], cell[c]);
                fputs(*shade ? RESET : "", out);
                first = false;
        }
        fputc('\n', out);
}

void finding_table_print(const FindingTable *t, FILE *out, bool show_header, bool color) {
        if (show_header) {
                if (color)
                        fputs(BOLD, out);
                print_cells(t, out, header, "", false);
                if (color)
                        fputs(RESET, out);
        }
        for (size_t i = 0; i < t->n_rows; i++)
                print_cells(t, out, (const char *const *) t->rows[i].cell, t->rows[i].discrepancy ? RED : "", color);
}

static void free_rows(FindingTable *t) {
        for (size_t i = 0; i < t->n_rows; i++)
                for (FindingColumn c = 0; c < _COLUMN_MAX; c++)
                        free(t->rows[i].cell[c]);
        t->n_rows = 0;
}

void finding_table_init_streaming(FindingTable *t, bool show_unit) {
        /* watch prints each row as it comes: room for the usual, so that rows line up */
        static const size_t usual[_COLUMN_MAX] = {
                [COLUMN_TIME] = 19, [COLUMN_PID] = 7,    [COLUMN_COMM] = 15, [COLUMN_UNIT] = 24,
                [COLUMN_KIND] = 15, [COLUMN_FIELD] = 14, [COLUMN_VMA] = 29,  [COLUMN_KERNEL] = 10,
                [COLUMN_WALK] = 10,
        };

        *t = (FindingTable) { .show_unit = show_unit, .streaming = true };
        memcpy(t->width, usual, sizeof(usual));
}

void finding_table_flush(FindingTable *t, FILE *out, bool color) {
        finding_table_print(t, out, false, color);
        free_rows(t);
}

void finding_table_done(FindingTable *t) {
        free_rows(t);
        free(t->rows);
        *t = (FindingTable) {};
}
