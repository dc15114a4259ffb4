/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A probe run read back from its JSON (smapsaudit.probe/1): what smapsauditd kept of the probe it
 * ran, so that `smapsaudit probe --daemon` prints it as output.c prints a local run, and the daemon
 * reads its states for the metrics and the journal.
 */
#include "probe-result.h"

static const char *get_string(json_object *o, const char *key) {
        json_object *v;

        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
                       ? json_object_get_string(v) : NULL;
}

static enum probe_state state_from_string(const char *s) {
        for (enum probe_state i = 0; s && i < _PROBE_STATE_MAX; i++)
                if (streq(probe_state_to_string(i), s))
                        return i;
        return _PROBE_STATE_MAX;
}

static int strdup_member(json_object *o, const char *key, char **ret) {
        const char *s = get_string(o, key);

        if (s && !(*ret = strdup(s)))
                return -ENOMEM;
        return 0;
}

/* One bug of the document; 0 and nothing added for an id this catalogue does not have (the
 * document came from another version of smapsaudit). */
static int parse_bug(struct probe_result *r, json_object *j) {
        const struct probe_bug *b = probe_bug_by_id(get_string(j, "id") ?: "");
        enum probe_state s = state_from_string(get_string(j, "state"));
        struct probe_outcome *o;
        json_object *v;

        if (!b)
                return 0;
        if (s == _PROBE_STATE_MAX || r->n >= probe_n_bugs())
                return -EBADMSG;
        for (size_t i = 0; i < r->n; i++)
                if (r->bugs[i] == b)
                        return -EBADMSG;
        o = &r->outcomes[r->n];
        r->bugs[r->n++] = b;
        o->state = s;
        if (json_object_object_get_ex(j, "seconds", &v))
                o->seconds = json_object_get_double(v);
        if (json_object_object_get_ex(j, "evidence", &v) && json_object_is_type(v, json_type_object))
                o->evidence = json_object_get(v);
        if (strdup_member(j, "reason", &o->reason) < 0 || strdup_member(j, "summary", &o->summary) < 0)
                return -ENOMEM;
        return 0;
}

int probe_result_from_json(const char *json, struct probe_result **ret) {
        struct probe_result *r = NULL;
        json_object *doc, *v, *bugs;
        int k = -EBADMSG;

        doc = json_tokener_parse(json);
        if (!doc || !json_object_is_type(doc, json_type_object) || !streq(get_string(doc, "schema") ?: "", PROBE_SCHEMA) ||
            !get_string(doc, "kernel") || !json_object_object_get_ex(doc, "bugs", &bugs) ||
            !json_object_is_type(bugs, json_type_array))
                goto finish;
        k = -ENOMEM;
        r = calloc(1, sizeof(*r));
        if (!r || !(r->outcomes = calloc(probe_n_bugs(), sizeof(*r->outcomes))) ||
            !(r->bugs = calloc(probe_n_bugs(), sizeof(*r->bugs))) || !(r->release = strdup(get_string(doc, "kernel"))))
                goto finish;
        if (json_object_object_get_ex(doc, "started", &v))
                r->started = (time_t) json_object_get_int64(v);
        if (json_object_object_get_ex(doc, "wall_seconds", &v))
                r->wall_seconds = json_object_get_double(v);
        if (json_object_object_get_ex(doc, "peak_rss_kb", &v))
                r->peak_rss_kb = (uint64_t) json_object_get_int64(v);
        if (json_object_object_get_ex(doc, "niced", &v))
                r->niced = json_object_get_boolean(v);
        if (json_object_object_get_ex(doc, "allow_knobs", &v) && json_object_get_boolean(v))
                r->flags |= PROBE_ALLOW_KNOBS;
        r->knobs = json_object_object_get_ex(doc, "knobs_changed", &v) && json_object_is_type(v, json_type_array)
                           ? json_object_get(v) : json_object_new_array();
        for (size_t i = 0; i < json_object_array_length(bugs); i++) {
                k = parse_bug(r, json_object_array_get_idx(bugs, i));
                if (k < 0)
                        goto finish;
        }
        *ret = TAKE_PTR(r);
        k = 0;

finish:
        probe_result_free(r);
        json_object_put(doc);
        return k;
}

const char *probe_result_release(const struct probe_result *r) {
        return r->release;
}

size_t probe_result_n(const struct probe_result *r) {
        return r->n;
}

const struct probe_bug *probe_result_bug(const struct probe_result *r, size_t i) {
        return i < r->n ? r->bugs[i] : NULL;
}

enum probe_state probe_result_state(const struct probe_result *r, size_t i) {
        return i < r->n ? r->outcomes[i].state : _PROBE_STATE_MAX;
}

const char *probe_result_summary(const struct probe_result *r, size_t i) {
        return i < r->n ? r->outcomes[i].summary ?: r->outcomes[i].reason : NULL;
}
