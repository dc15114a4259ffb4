/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atomic-file.h"
#include "baseline.h"
#include "log.h"
#include "macro.h"

#define BASELINE_SCHEMA "smapsaudit.baseline/1"
#define BASELINE_FILE_MAX (4u << 20)

typedef struct Signature {
        char *name;
        uint64_t findings;
} Signature;

typedef struct Release {
        char *release;
        char *previous;            /* what it was compared with, or NULL */
        uint64_t first_seen_usec, last_seen_usec;
        uint64_t audits, inconclusive;
        Signature *signatures;
        size_t n_signatures;
        char **regressions;        /* signatures new against previous */
        size_t n_regressions;
} Release;

struct Baseline {
        int dir_fd;
        Release *releases;
        size_t n;
        size_t current;            /* index of the running release */
        bool dirty;                /* to be saved at once */
        bool changed;              /* counts to be saved some time */
        bool full_warned;
};

static void release_done(Release *r) {
        free(r->release);
        free(r->previous);
        for (size_t i = 0; i < r->n_signatures; i++)
                free(r->signatures[i].name);
        free(r->signatures);
        for (size_t i = 0; i < r->n_regressions; i++)
                free(r->regressions[i]);
        free(r->regressions);
        *r = (Release) {};
}

Baseline *baseline_free(Baseline *b) {
        if (!b)
                return NULL;
        for (size_t i = 0; i < b->n; i++)
                release_done(&b->releases[i]);
        free(b->releases);
        if (b->dir_fd >= 0)
                close(b->dir_fd);
        free(b);
        return NULL;
}

static Release *find_release(const Baseline *b, const char *release) {
        for (size_t i = 0; i < b->n; i++)
                if (streq(b->releases[i].release, release))
                        return &b->releases[i];
        return NULL;
}

static Signature *find_signature(const Release *r, const char *name) {
        for (size_t i = 0; i < r->n_signatures; i++)
                if (streq(r->signatures[i].name, name))
                        return &r->signatures[i];
        return NULL;
}

static bool has_regression(const Release *r, const char *name) {
        for (size_t i = 0; i < r->n_regressions; i++)
                if (streq(r->regressions[i], name))
                        return true;
        return false;
}

static int add_signature(Release *r, const char *name, uint64_t findings) {
        Signature *s;

        s = realloc(r->signatures, (r->n_signatures + 1) * sizeof(Signature));
        if (!s)
                return -ENOMEM;
        r->signatures = s;
        s[r->n_signatures] = (Signature) { .name = strdup(name), .findings = findings };
        if (!s[r->n_signatures].name)
                return -ENOMEM;
        r->n_signatures++;
        return 0;
}

static int add_regression(Release *r, const char *name) {
        char **l;

        l = realloc(r->regressions, (r->n_regressions + 1) * sizeof(char *));
        if (!l)
                return -ENOMEM;
        r->regressions = l;
        l[r->n_regressions] = strdup(name);
        if (!l[r->n_regressions])
                return -ENOMEM;
        r->n_regressions++;
        return 0;
}

/* Room for one more release: the least recently seen goes, never keep. */
static void make_room(Baseline *b, const char *keep) {
        size_t oldest = SIZE_MAX;

        if (b->n < BASELINE_RELEASES_MAX)
                return;
        for (size_t i = 0; i < b->n; i++) {
                if (keep && streq(b->releases[i].release, keep))
                        continue;
                if (oldest == SIZE_MAX || b->releases[i].last_seen_usec < b->releases[oldest].last_seen_usec)
                        oldest = i;
        }
        if (oldest == SIZE_MAX)
                return;
        release_done(&b->releases[oldest]);
        memmove(b->releases + oldest, b->releases + oldest + 1, (b->n - oldest - 1) * sizeof(Release));
        b->n--;
}

static int add_release(Baseline *b, const char *release, const char *keep, Release **ret) {
        Release *l;

        make_room(b, keep);
        l = realloc(b->releases, (b->n + 1) * sizeof(Release));
        if (!l)
                return -ENOMEM;
        b->releases = l;
        l[b->n] = (Release) { .release = strdup(release) };
        if (!l[b->n].release)
                return -ENOMEM;
        *ret = &l[b->n++];
        return 0;
}

static uint64_t get_u64(struct json_object *o, const char *key) {
        struct json_object *v;

        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int)
                       ? json_object_get_uint64(v) : 0;
}

static const char *get_str(struct json_object *o, const char *key) {
        struct json_object *v;

        return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
                       ? json_object_get_string(v) : NULL;
}

static int parse_release(Baseline *b, struct json_object *o) {
        struct json_object *sigs, *regs;
        const char *name = get_str(o, "release"), *previous = get_str(o, "previous");
        Release *r;
        int k;

        if (!name || !*name || find_release(b, name) || b->n >= BASELINE_RELEASES_MAX)
                return 0;
        k = add_release(b, name, NULL, &r);
        if (k < 0)
                return k;
        if (previous && !(r->previous = strdup(previous)))
                return -ENOMEM;
        r->first_seen_usec = get_u64(o, "first_seen_usec");
        r->last_seen_usec = get_u64(o, "last_seen_usec");
        r->audits = get_u64(o, "audits");
        r->inconclusive = get_u64(o, "inconclusive");

        if (json_object_object_get_ex(o, "findings", &sigs) && json_object_is_type(sigs, json_type_object)) {
                json_object_object_foreach(sigs, key, val) {
                        if (r->n_signatures >= BASELINE_SIGNATURES_MAX || strlen(key) >= SIGNATURE_MAX ||
                            !json_object_is_type(val, json_type_int))
                                continue;
                        k = add_signature(r, key, json_object_get_uint64(val));
                        if (k < 0)
                                return k;
                }
        }
        if (json_object_object_get_ex(o, "regressions", &regs) && json_object_is_type(regs, json_type_array))
                for (size_t i = 0; i < json_object_array_length(regs) && i < BASELINE_SIGNATURES_MAX; i++) {
                        struct json_object *v = json_object_array_get_idx(regs, i);

                        if (!json_object_is_type(v, json_type_string))
                                continue;
                        k = add_regression(r, json_object_get_string(v));
                        if (k < 0)
                                return k;
                }
        return 0;
}

/* What the file says, or nothing: a baseline that cannot be read is
 * started afresh (the finding history is elsewhere and stays). */
static int load(Baseline *b, const char *dir, char **ret_last) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        struct json_object *o = NULL, *releases;
        struct stat st;
        const char *last;
        ssize_t k;
        int r = 0;

        fd = openat(b->dir_fd, BASELINE_FILE, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (st.st_size > BASELINE_FILE_MAX) {
                log_warning("%s/%s is larger than %u bytes, starting a new baseline.", dir, BASELINE_FILE,
                            BASELINE_FILE_MAX);
                return 0;
        }
        buf = calloc(1, (size_t) st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        k = pread(fd, buf, (size_t) st.st_size, 0);
        if (k < 0)
                return -errno;
        buf[k] = 0;

        o = json_tokener_parse(buf);
        if (!o || !json_object_is_type(o, json_type_object) || !get_str(o, "schema") ||
            !streq(get_str(o, "schema"), BASELINE_SCHEMA)) {
                log_warning("%s/%s is not a baseline (schema %s), starting a new one.", dir, BASELINE_FILE,
                            BASELINE_SCHEMA);
                json_object_put(o);
                return 0;
        }
        last = get_str(o, "current");
        if (last && !(*ret_last = strdup(last)))
                r = -ENOMEM;
        if (r >= 0 && json_object_object_get_ex(o, "releases", &releases) &&
            json_object_is_type(releases, json_type_array))
                for (size_t i = 0; r >= 0 && i < json_object_array_length(releases); i++) {
                        struct json_object *e = json_object_array_get_idx(releases, i);

                        if (json_object_is_type(e, json_type_object))
                                r = parse_release(b, e);
                }
        json_object_put(o);
        return r;
}

int baseline_open(const char *dir, const char *release, uint64_t now_usec, Baseline **ret) {
        _cleanup_free_ char *last = NULL;
        Baseline *b;
        Release *cur;
        int r;

        b = calloc(1, sizeof(Baseline));
        if (!b)
                return -ENOMEM;
        b->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (b->dir_fd < 0) {
                r = log_error_errno(errno, "Failed to open %s: %m", dir);
                goto fail;
        }

        r = load(b, dir, &last);
        if (r < 0) {
                log_error_errno(r, "Failed to read %s/%s: %m", dir, BASELINE_FILE);
                goto fail;
        }

        cur = find_release(b, release);
        if (!cur) {
                r = add_release(b, release, last, &cur);
                if (r < 0)
                        goto fail;
                cur->first_seen_usec = now_usec;
                b->dirty = true;
        }
        cur->last_seen_usec = now_usec;
        b->current = (size_t) (cur - b->releases);

        /* A new kernel: compare it with the one before, from scratch. */
        if (last && !streq(last, release) && (!cur->previous || !streq(cur->previous, last))) {
                free(cur->previous);
                cur->previous = strdup(last);
                if (!cur->previous) {
                        r = -ENOMEM;
                        goto fail;
                }
                for (size_t i = 0; i < cur->n_regressions; i++)
                        free(cur->regressions[i]);
                cur->n_regressions = 0;
                b->dirty = true;
        }
        if (!last || !streq(last, release))
                b->dirty = true;

        *ret = b;
        return 0;

fail:
        baseline_free(b);
        return r;
}

static Release *current(const Baseline *b) {
        return &b->releases[b->current];
}

const char *baseline_release(const Baseline *b) {
        return current(b)->release;
}

const char *baseline_previous(const Baseline *b) {
        return current(b)->previous;
}

bool baseline_comparable(const Baseline *b) {
        const char *p = baseline_previous(b);
        const Release *r = p ? find_release(b, p) : NULL;

        return r && r->audits > 0;
}

void baseline_count_audit(Baseline *b, bool inconclusive, uint64_t now_usec) {
        Release *r = current(b);

        /* The first audit makes this release a baseline for the next one: keep that at once. */
        if (r->audits + r->inconclusive == 0)
                b->dirty = true;
        b->changed = true;
        if (inconclusive)
                r->inconclusive++;
        else
                r->audits++;
        r->last_seen_usec = now_usec;
}

int baseline_note_finding(Baseline *b, const char *signature, uint64_t now_usec) {
        Release *r = current(b);
        Signature *s = find_signature(r, signature);
        int k;

        r->last_seen_usec = now_usec;
        b->changed = true;
        if (s) {
                s->findings++;
                return 0;
        }
        if (r->n_signatures >= BASELINE_SIGNATURES_MAX || strlen(signature) >= SIGNATURE_MAX) {
                if (!b->full_warned)
                        log_warning("The baseline of %s holds %u finding signatures already; not adding %s.",
                                    r->release, BASELINE_SIGNATURES_MAX, signature);
                b->full_warned = true;
                return 0;
        }
        k = add_signature(r, signature, 1);
        if (k < 0)
                return k;
        b->dirty = true;

        if (!baseline_comparable(b) || baseline_has(b, r->previous, signature) || has_regression(r, signature))
                return 0;
        k = add_regression(r, signature);
        return k < 0 ? k : 1;
}

size_t baseline_n_regressions(const Baseline *b) {
        return current(b)->n_regressions;
}

const char *baseline_regression(const Baseline *b, size_t i) {
        return i < current(b)->n_regressions ? current(b)->regressions[i] : NULL;
}

uint64_t baseline_audits(const Baseline *b, const char *release) {
        const Release *r = find_release(b, release);

        return r ? r->audits : 0;
}

bool baseline_has(const Baseline *b, const char *release, const char *signature) {
        const Release *r = release ? find_release(b, release) : NULL;

        return r && find_signature(r, signature);
}

bool baseline_dirty(const Baseline *b) {
        return b->dirty;
}

bool baseline_changed(const Baseline *b) {
        return b->dirty || b->changed;
}

static struct json_object *release_to_json(const Release *r) {
        struct json_object *o = json_object_new_object(), *sigs = json_object_new_object(),
                           *regs = json_object_new_array();

        json_object_object_add(o, "release", json_object_new_string(r->release));
        if (r->previous)
                json_object_object_add(o, "previous", json_object_new_string(r->previous));
        json_object_object_add(o, "first_seen_usec", json_object_new_uint64(r->first_seen_usec));
        json_object_object_add(o, "last_seen_usec", json_object_new_uint64(r->last_seen_usec));
        json_object_object_add(o, "audits", json_object_new_uint64(r->audits));
        json_object_object_add(o, "inconclusive", json_object_new_uint64(r->inconclusive));
        for (size_t i = 0; i < r->n_signatures; i++)
                json_object_object_add(sigs, r->signatures[i].name, json_object_new_uint64(r->signatures[i].findings));
        json_object_object_add(o, "findings", sigs);
        for (size_t i = 0; i < r->n_regressions; i++)
                json_object_array_add(regs, json_object_new_string(r->regressions[i]));
        json_object_object_add(o, "regressions", regs);
        return o;
}

int baseline_save(Baseline *b) {
        struct json_object *o = json_object_new_object(), *releases = json_object_new_array();
        const char *s;
        int r;

        if (!o || !releases) {
                json_object_put(o);
                json_object_put(releases);
                return -ENOMEM;
        }
        json_object_object_add(o, "schema", json_object_new_string(BASELINE_SCHEMA));
        json_object_object_add(o, "current", json_object_new_string(baseline_release(b)));
        for (size_t i = 0; i < b->n; i++)
                json_object_array_add(releases, release_to_json(&b->releases[i]));
        json_object_object_add(o, "releases", releases);

        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        r = s ? write_file_atomic_at(b->dir_fd, BASELINE_FILE, s, strlen(s), 0600) : -ENOMEM;
        json_object_put(o);
        if (r >= 0)
                b->dirty = b->changed = false;
        return r;
}
