/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A probe run as JSON (smapsaudit.probe/1), as text, and as a bug report for the mm list. */
#include <inttypes.h>
#include <sys/utsname.h>
#include <zlib.h>

#include "config.h"
#include "probe-result.h"

static json_object *bug_json(const struct probe_bug *b, const struct probe_outcome *o) {
        json_object *j = json_object_new_object();

        json_object_object_add(j, "id", json_object_new_string(b->id));
        json_object_object_add(j, "number", json_object_new_int((int) b->number));
        json_object_object_add(j, "title", json_object_new_string(b->title));
        json_object_object_add(j, "kind", json_object_new_string(b->bound ? "bound" : "bug"));
        json_object_object_add(j, "state", json_object_new_string(probe_state_to_string(o->state)));
        json_object_object_add(j, "reason", o->reason ? json_object_new_string(o->reason) : NULL);
        json_object_object_add(j, "summary", o->summary ? json_object_new_string(o->summary) : NULL);
        json_object_object_add(j, "seconds", json_object_new_double((double) (int64_t) (o->seconds * 1000) / 1000));
        json_object_object_add(j, "evidence", o->evidence ? json_object_get(o->evidence) : json_object_new_object());
        json_object_object_add(j, "fixed_by", json_object_new_string(b->fixed));
        json_object_object_add(j, "reproducer", json_object_new_string(b->repro));
        return j;
}

int probe_result_to_json(const struct probe_result *r, bool pretty, char **ret) {
        json_object *o = json_object_new_object(), *a = json_object_new_array();
        unsigned present = 0;
        char *s;

        json_object_object_add(o, "schema", json_object_new_string(PROBE_SCHEMA));
        json_object_object_add(o, "version", json_object_new_string(PACKAGE_VERSION));
        json_object_object_add(o, "kernel", json_object_new_string(r->release));
        json_object_object_add(o, "started", json_object_new_int64((int64_t) r->started));
        json_object_object_add(o, "wall_seconds", json_object_new_double((double) (int64_t) (r->wall_seconds * 1000) / 1000));
        json_object_object_add(o, "peak_rss_kb", json_object_new_int64((int64_t) r->peak_rss_kb));
        json_object_object_add(o, "niced", json_object_new_boolean(r->niced));
        json_object_object_add(o, "allow_knobs", json_object_new_boolean(r->flags & PROBE_ALLOW_KNOBS));
        json_object_object_add(o, "knobs_changed", json_object_get(r->knobs));
        for (size_t i = 0; i < r->n; i++) {
                json_object_array_add(a, bug_json(r->bugs[i], &r->outcomes[i]));
                present += r->outcomes[i].state == PROBE_PRESENT && !r->bugs[i]->bound;
        }
        json_object_object_add(o, "bugs", a);
        json_object_object_add(o, "present", json_object_new_int((int) present));
        json_object_object_add(o, "exit_status", json_object_new_int(probe_result_exit_status(r)));
        s = strdup(json_object_to_json_string_ext(o, pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                                                            : JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* Prints text wrapped at 80 columns, each line indented. */
static void print_wrapped(FILE *f, const char *text, const char *indent) {
        const size_t width = 80 - strlen(indent);
        const char *s = text;

        while (*s) {
                size_t len = strlen(s), cut = len;
                if (len > width) {
                        cut = width;
                        while (cut > 0 && s[cut] != ' ')
                                cut--;
                        if (cut == 0)
                                cut = width;
                }
                fprintf(f, "%s%.*s\n", indent, (int) cut, s);
                s += cut;
                while (*s == ' ')
                        s++;
        }
}

int probe_result_print_text(const struct probe_result *r, FILE *f) {
        size_t n_knobs = json_object_array_length(r->knobs);

        fprintf(f, "smapsaudit probe on Linux %s: %zu probe(s) in %.1f s, peak RSS %" PRIu64 " MiB, %s\n",
                r->release, r->n, r->wall_seconds, r->peak_rss_kb >> 10,
                n_knobs ? "knobs changed and restored:" : "no knob changed");
        for (size_t i = 0; i < n_knobs; i++) {
                json_object *k = json_object_array_get_idx(r->knobs, i), *p, *from, *to;
                json_object_object_get_ex(k, "path", &p);
                json_object_object_get_ex(k, "from", &from);
                json_object_object_get_ex(k, "to", &to);
                fprintf(f, "  %s: %s -> %s -> %s\n", json_object_get_string(p), json_object_get_string(from),
                        json_object_get_string(to), json_object_get_string(from));
        }
        for (size_t i = 0; i < r->n; i++) {
                const struct probe_bug *b = r->bugs[i];
                const struct probe_outcome *o = &r->outcomes[i];

                fprintf(f, "\n%-12s #%u %s: %s\n", probe_state_to_string(o->state), b->number, b->id, b->title);
                if (o->reason)
                        print_wrapped(f, o->reason, "             ");
                if (o->summary)
                        print_wrapped(f, o->summary, "             ");
        }
        return 0;
}

/* ---------------------------------------------------------------- the mm-list report */

/* "CONFIG_X=y" lines of the running kernel's config for the items, or "not set". */
static void print_config(FILE *f, const char *release, const char *const *items) {
        char path[128], line[256];
        gzFile z;
        const char *from = "/proc/config.gz";

        /* gzopen reads an uncompressed file as it is */
        z = gzopen(from, "rb");
        if (!z) {
                snprintf(path, sizeof(path), "/boot/config-%s", release);
                from = path;
                z = gzopen(from, "rb");
        }
        if (!z) {
                fprintf(f, "Config: not readable (no /proc/config.gz, no /boot/config-%s)\n", release);
                return;
        }
        fprintf(f, "Config (%s):\n", from);
        for (const char *const *it = items; *it; it++) {
                size_t len = strlen(*it);
                bool found = false;

                gzrewind(z);
                while (gzgets(z, line, sizeof(line)))
                        if (strncmp(line, *it, len) == 0 && line[len] == '=') {
                                fprintf(f, "  %s", line);
                                found = true;
                                break;
                        }
                if (!found)
                        fprintf(f, "  %s is not set\n", *it);
        }
        gzclose(z);
}

static const char *member(json_object *o, const char *key) {
        json_object *v;
        return json_object_object_get_ex(o, key, &v) && v ? json_object_get_string(v) : "-";
}

/* "smaps Rss under-accounted, VMA 7f..-7f.., kernel 0 kB, walk 8192 kB, tags prot_none,thp" */
static void print_finding(FILE *f, json_object *finding) {
        json_object *vma, *tags;

        fprintf(f, "  finding: %s %s %s", member(finding, "source"), member(finding, "field"), member(finding, "kind"));
        if (json_object_object_get_ex(finding, "vma", &vma) && vma)
                fprintf(f, ", VMA %s-%s", member(vma, "start"), member(vma, "end"));
        fprintf(f, ", kernel %s kB, walk %s kB", member(finding, "kernel_kb"), member(finding, "walk_kb"));
        if (json_object_object_get_ex(finding, "tags", &tags) && json_object_array_length(tags) > 0) {
                fputs(", tags", f);
                for (size_t i = 0; i < json_object_array_length(tags); i++)
                        fprintf(f, "%c%s", i ? ',' : ' ', json_object_get_string(json_object_array_get_idx(tags, i)));
        }
        fputc('\n', f);
}

static void print_evidence(FILE *f, json_object *ev) {
        json_object_object_foreach(ev, key, val) {
                if (json_object_is_type(val, json_type_array) && streq(key, "findings")) {
                        for (size_t i = 0; i < json_object_array_length(val); i++)
                                print_finding(f, json_object_array_get_idx(val, i));
                } else if (json_object_is_type(val, json_type_object)) {
                        json_object *verdict, *findings;
                        if (json_object_object_get_ex(val, "verdict", &verdict))
                                fprintf(f, "  %s: verdict %s\n", key, json_object_get_string(verdict));
                        if (json_object_object_get_ex(val, "findings", &findings))
                                for (size_t i = 0; i < json_object_array_length(findings); i++)
                                        print_finding(f, json_object_array_get_idx(findings, i));
                } else
                        fprintf(f, "  %s: %s\n", key, json_object_get_string(val));
        }
}

static void print_repro(FILE *f, const struct probe_bug *b) {
        const char *name = strrchr(b->repro, '/') + 1;
        char installed[256], source[512], line[512];
        FILE *src;

        snprintf(installed, sizeof(installed), "%s/%s", PROBE_REPRO_INSTALL_DIR, name);
        snprintf(source, sizeof(source), "%s/%s", PROBE_SOURCE_ROOT, b->repro);
        fprintf(f, "Reproducer (standalone, prints PASS or FAIL; smapsaudit's %s):\n"
                   "  cc -O2 -pthread -o repro %s && sudo ./repro\n", b->repro, name);
        src = fopen(installed, "re");
        if (!src)
                src = fopen(source, "re");
        if (!src) {
                fprintf(f, "  (its source is not installed here: %s)\n", installed);
                return;
        }
        fputs("\n", f);
        while (fgets(line, sizeof(line), src))
                fprintf(f, "  %s", line);
        fclose(src);
}

int probe_result_print_bug_report(const struct probe_result *r, const char *id, FILE *f) {
        const struct probe_bug *b = NULL;
        const struct probe_outcome *o = NULL;
        struct utsname u;
        char thp[64] = "?", numa[16] = "?", date[64];
        struct tm tm;

        for (size_t i = 0; i < r->n; i++)
                if (streq(r->bugs[i]->id, id)) {
                        b = r->bugs[i];
                        o = &r->outcomes[i];
                }
        if (!b)
                return -ENOENT;
        uname(&u);
        (void) knob_read("/sys/kernel/mm/transparent_hugepage/enabled", thp, sizeof(thp));
        (void) knob_read("/proc/sys/kernel/numa_balancing", numa, sizeof(numa));
        strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime_r(&r->started, &tm));

        fprintf(f, "Subject: [BUG] %s (Linux %s)\n\n", b->title, r->release);
        fprintf(f, "Kernel: %s %s %s\n", u.release, u.version, u.machine);
        print_config(f, r->release, b->config);
        fprintf(f, "Machine: %ld CPUs, transparent_hugepage/enabled %s, numa_balancing %s\n\n",
                sysconf(_SC_NPROCESSORS_ONLN), thp, numa);
        fputs("Symptom:\n", f);
        print_wrapped(f, b->symptom, "  ");
        fprintf(f, "\nEvidence from this run (smapsaudit %s probe, %s): %s\n", PACKAGE_VERSION, date,
                probe_state_to_string(o->state));
        if (o->reason)
                print_wrapped(f, o->reason, "  ");
        if (o->summary)
                print_wrapped(f, o->summary, "  ");
        if (o->evidence)
                print_evidence(f, o->evidence);
        fputs("\n", f);
        print_repro(f, b);
        fprintf(f, "\nSuspected introducing commit: %s\nFixed by: %s\nAffects: %s\nMeasured: %s\n", b->introduced,
                b->fixed, b->affects, b->measured);
        return 0;
}
