/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atomic-file.h"
#include "history.h"
#include "log.h"
#include "macro.h"

typedef struct Entry {
        uint64_t realtime_usec;
        uid_t uid;
        char *json;
} Entry;

struct History {
        int dir_fd;
        int fd;               /* HISTORY_FILE, O_APPEND */
        Entry *entries;       /* oldest first, at most max */
        size_t n, max;
        size_t lines_in_file;
        bool needs_rewrite;   /* the file has lines that are torn, unreadable, or too many */
};

static void push(History *h, Entry e) {
        if (h->n == h->max) {
                free(h->entries[0].json);
                memmove(h->entries, h->entries + 1, (h->n - 1) * sizeof(Entry));
                h->n--;
        }
        h->entries[h->n++] = e;
}

static int parse_line(const char *line, Entry *ret) {
        struct json_object *o, *t, *u;
        int r = -EBADMSG;

        o = json_tokener_parse(line);
        if (o && json_object_is_type(o, json_type_object) &&
            json_object_object_get_ex(o, "realtime_usec", &t) && json_object_is_type(t, json_type_int) &&
            json_object_object_get_ex(o, "uid", &u) && json_object_is_type(u, json_type_int)) {
                *ret = (Entry) {
                        .realtime_usec = json_object_get_uint64(t),
                        .uid = (uid_t) json_object_get_int64(u),
                        .json = strdup(line),
                };
                r = ret->json ? 0 : -ENOMEM;
        }
        json_object_put(o);
        return r;
}

static int load(History *h) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t allocated = 0;
        int fd;

        fd = openat(h->dir_fd, HISTORY_FILE, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        f = fdopen(fd, "r");
        if (!f) {
                close(fd);
                return -errno;
        }

        for (;;) {
                Entry e;
                ssize_t k;
                int r;

                errno = 0;
                k = getline(&line, &allocated, f);
                if (k < 0) {
                        if (errno != 0)
                                return -errno;
                        break;
                }
                h->lines_in_file++;

                if (line[k - 1] != '\n') {
                        h->needs_rewrite = true;   /* torn by a crash mid-append */
                        break;
                }
                line[k - 1] = 0;

                r = parse_line(line, &e);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        h->needs_rewrite = true;
                        continue;
                }
                push(h, e);
        }

        if (h->lines_in_file > h->max)
                h->needs_rewrite = true;
        return 0;
}

static int open_append(History *h) {
        if (h->fd >= 0)
                close(h->fd);
        h->fd = openat(h->dir_fd, HISTORY_FILE, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        return h->fd < 0 ? -errno : 0;
}

/* Replace the file with the entries in memory, so that at every moment the
 * file on disk is either the old one or the new one, whole. */
static int rewrite(History *h) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;
        int r;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < h->n; i++) {
                fputs(h->entries[i].json, f);
                fputc('\n', f);
        }
        if (fclose(f) != 0)
                return -ENOMEM;

        r = write_file_atomic_at(h->dir_fd, HISTORY_FILE, buf, size, 0600);
        if (r < 0) {
                h->needs_rewrite = true;
                return r;
        }
        /* The old append fd points at the replaced file: reopen. */
        h->lines_in_file = h->n;
        h->needs_rewrite = false;
        r = open_append(h);
        if (r < 0)
                h->needs_rewrite = true;
        return r;
}

int history_open(const char *dir, size_t max_entries, History **ret) {
        History *h;
        int r;

        if (max_entries == 0)
                return -EINVAL;

        h = calloc(1, sizeof(History));
        if (!h)
                return -ENOMEM;
        h->fd = -1;
        h->dir_fd = -1;
        h->max = max_entries;
        h->entries = calloc(max_entries, sizeof(Entry));
        if (!h->entries) {
                r = -ENOMEM;
                goto fail;
        }

        if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
                r = log_error_errno(errno, "Failed to create %s: %m", dir);
                goto fail;
        }
        h->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (h->dir_fd < 0) {
                r = log_error_errno(errno, "Failed to open %s: %m", dir);
                goto fail;
        }

        r = load(h);
        if (r < 0) {
                log_error_errno(r, "Failed to read %s/%s: %m", dir, HISTORY_FILE);
                goto fail;
        }
        r = h->needs_rewrite ? rewrite(h) : open_append(h);
        if (r < 0) {
                log_error_errno(r, "Failed to write %s/%s: %m", dir, HISTORY_FILE);
                goto fail;
        }

        log_debug("Loaded %zu findings from %s/%s.", h->n, dir, HISTORY_FILE);
        *ret = h;
        return 0;

fail:
        history_free(h);
        return r;
}

History *history_free(History *h) {
        if (!h)
                return NULL;
        for (size_t i = 0; i < h->n; i++)
                free(h->entries[i].json);
        free(h->entries);
        if (h->fd >= 0)
                close(h->fd);
        if (h->dir_fd >= 0)
                close(h->dir_fd);
        free(h);
        return NULL;
}

int history_append(History *h, uint64_t realtime_usec, uid_t uid, const char *json) {
        _cleanup_free_ char *line = NULL;
        size_t len = strlen(json);
        Entry e;
        int r;

        if (memchr(json, '\n', len))
                return -EINVAL;

        e = (Entry) { .realtime_usec = realtime_usec, .uid = uid, .json = strdup(json) };
        if (!e.json)
                return -ENOMEM;
        push(h, e);

        /* After a failed or torn append the file's tail is suspect: write
         * the whole history anew rather than add to it. */
        if (h->needs_rewrite || h->lines_in_file + 1 > 2 * h->max)
                return rewrite(h);

        line = malloc(len + 2);
        if (!line)
                return -ENOMEM;
        memcpy(line, json, len);
        line[len] = '\n';
        line[len + 1] = 0;

        /* O_APPEND and one write: concurrent readers see whole lines. */
        r = write_all(h->fd, line, len + 1);
        if (r >= 0 && fdatasync(h->fd) < 0)
                r = -errno;
        if (r < 0) {
                h->needs_rewrite = true;
                return r;
        }
        h->lines_in_file++;
        return 0;
}

static bool wanted(const Entry *e, uint64_t since_usec, bool all, uid_t uid) {
        return e->realtime_usec >= since_usec && (all || e->uid == uid);
}

int history_query(const History *h, uint64_t since_usec, bool all, uid_t uid, size_t max_bytes, char **ret) {
        char *buf = NULL;
        size_t size = 0, first_kept = h->n, bytes = 2;
        bool first = true;
        FILE *f;

        /* the newest entries that fit, counted back from the end */
        for (size_t i = h->n; i > 0; i--) {
                const Entry *e = &h->entries[i - 1];

                if (!wanted(e, since_usec, all, uid))
                        continue;
                if (bytes + strlen(e->json) + 1 > max_bytes)
                        break;
                bytes += strlen(e->json) + 1;
                first_kept = i - 1;
        }

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;

        fputc('[', f);
        for (size_t i = first_kept; i < h->n; i++) {
                const Entry *e = &h->entries[i];

                if (!wanted(e, since_usec, all, uid))
                        continue;
                if (!first)
                        fputc(',', f);
                fputs(e->json, f);
                first = false;
        }
        fputc(']', f);

        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}

size_t history_size(const History *h) {
        return h->n;
}
