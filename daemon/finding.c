/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "finding.h"
#include "macro.h"

void finding_tags(unsigned tags, FindingTags *ret) {
        size_t n = 0;
        char *p;

        *ret = (FindingTags) {};
        if (smapsaudit_tags_format(tags, ret->buf, sizeof(ret->buf), ',') <= 0)
                return;

        for (p = ret->buf; p && *p && n < FINDING_TAGS_MAX; ) {
                char *comma = strchr(p, ',');

                ret->names[n++] = p;
                if (comma)
                        *comma++ = 0;
                p = comma;
        }
        ret->names[n] = NULL;
}

static struct json_object *hex(uint64_t v) {
        char buf[2 + 16 + 1];

        snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
        return json_object_new_string(buf);
}

int finding_to_json(const FindingContext *c, const OpenFinding *f, const char *explanation, char **ret) {
        struct json_object *o, *vma, *tags;
        FindingTags t;
        char *s;

        o = json_object_new_object();
        vma = json_object_new_object();
        tags = json_object_new_array();
        if (!o || !vma || !tags) {
                json_object_put(o);
                json_object_put(vma);
                json_object_put(tags);
                return -ENOMEM;
        }

        finding_tags(f->tags, &t);
        for (size_t i = 0; t.names[i]; i++)
                json_object_array_add(tags, json_object_new_string(t.names[i]));
        json_object_object_add(vma, "start", hex(f->vma_start));
        json_object_object_add(vma, "end", hex(f->vma_end));

        json_object_object_add(o, "schema", json_object_new_string("smapsaudit.finding/1"));
        json_object_object_add(o, "realtime_usec", json_object_new_uint64(c->realtime_usec));
        json_object_object_add(o, "kernel", json_object_new_string(c->kernel_release ?: ""));
        json_object_object_add(o, "pid", json_object_new_int64(c->pid));
        json_object_object_add(o, "uid", json_object_new_int64((int64_t) c->uid));
        json_object_object_add(o, "comm", json_object_new_string(c->comm ?: ""));
        if (c->unit)
                json_object_object_add(o, "unit", json_object_new_string(c->unit));
        json_object_object_add(o, "kind", json_object_new_string(smapsaudit_verdict_to_string(f->kind)));
        json_object_object_add(o, "field", json_object_new_string(f->field));
        json_object_object_add(o, "source", json_object_new_string(f->source));
        json_object_object_add(o, "vma", vma);
        json_object_object_add(o, "kernel_kb", json_object_new_int64(f->kernel_kb));
        json_object_object_add(o, "walk_kb", json_object_new_int64(f->walk_kb));
        json_object_object_add(o, "delta_kb", json_object_new_int64(f->delta_kb));
        json_object_object_add(o, "tags", tags);
        if (explanation)
                json_object_object_add(o, "explanation", json_object_new_string(explanation));
        if (c->origin)
                json_object_object_add(o, "origin", json_object_new_string(c->origin));
        if (c->resolved)
                json_object_object_add(o, "resolved", json_object_new_string(c->resolved));

        s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}
