/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "history.h"
#include "test.h"

static char dir[] = "/tmp/test-history-XXXXXX";

static int append(History *h, unsigned i, uid_t uid) {
        char json[128];

        snprintf(json, sizeof(json), "{\"realtime_usec\":%u,\"uid\":%u,\"n\":%u}", i, (unsigned) uid, i);
        return history_append(h, i, uid, json);
}

static size_t file_lines(void) {
        char path[128], buf[4096];
        size_t lines = 0;
        FILE *f;

        snprintf(path, sizeof(path), "%s/%s", dir, HISTORY_FILE);
        f = fopen(path, "re");
        if (!f)
                return 0;
        while (fgets(buf, sizeof(buf), f))
                lines++;
        fclose(f);
        return lines;
}

static void test_append_and_query(void) {
        _cleanup_free_ char *all = NULL, *mine = NULL, *recent = NULL;
        History *h = NULL;

        CHECK(history_open(dir, 5, &h) == 0);
        for (unsigned i = 1; i <= 3; i++)
                CHECK(append(h, i, i == 2 ? 1000 : 0) == 0);
        CHECK(history_size(h) == 3);

        CHECK(history_query(h, 0, true, 0, SIZE_MAX, &all) == 0);
        CHECK(streq(all, "[{\"realtime_usec\":1,\"uid\":0,\"n\":1},{\"realtime_usec\":2,\"uid\":1000,\"n\":2},"
                         "{\"realtime_usec\":3,\"uid\":0,\"n\":3}]"));
        CHECK(history_query(h, 0, false, 1000, SIZE_MAX, &mine) == 0);
        CHECK(streq(mine, "[{\"realtime_usec\":2,\"uid\":1000,\"n\":2}]"));
        CHECK(history_query(h, 3, true, 0, SIZE_MAX, &recent) == 0);
        CHECK(streq(recent, "[{\"realtime_usec\":3,\"uid\":0,\"n\":3}]"));
        CHECK(history_append(h, 4, 0, "{\"a\":\n1}") == -EINVAL);
        /* a bounded reply keeps the newest entries that fit: here two of the three */
        free(all);
        all = NULL;
        CHECK(history_query(h, 0, true, 0, 2 + 2 * 37, &all) == 0);
        CHECK(streq(all, "[{\"realtime_usec\":2,\"uid\":1000,\"n\":2},{\"realtime_usec\":3,\"uid\":0,\"n\":3}]"));
        history_free(h);
}

static void test_reload_bound_and_compaction(void) {
        _cleanup_free_ char *all = NULL;
        History *h = NULL;

        /* What was written survives reopening (as after SIGKILL: nothing is kept only in memory). */
        CHECK(history_open(dir, 5, &h) == 0);
        CHECK(history_size(h) == 3);

        /* Memory keeps the newest 5; the file is compacted once it passes twice that. */
        for (unsigned i = 4; i <= 10; i++)
                CHECK(append(h, i, 0) == 0);
        CHECK(history_size(h) == 5);
        CHECK(file_lines() == 10);
        CHECK(append(h, 11, 0) == 0);
        CHECK(file_lines() == 5);
        CHECK(history_query(h, 0, true, 0, SIZE_MAX, &all) == 0);
        CHECK(strstr(all, "\"n\":7}") && strstr(all, "\"n\":11}") && !strstr(all, "\"n\":6}"));
        history_free(h);
}

static void test_torn_tail(void) {
        char path[128];
        History *h = NULL;
        int fd;

        /* A crash mid-append leaves half a line: it is dropped, and the next append starts clean. */
        snprintf(path, sizeof(path), "%s/%s", dir, HISTORY_FILE);
        fd = open(path, O_WRONLY | O_APPEND);
        CHECK(fd >= 0);
        CHECK(write(fd, "{\"realtime_usec\":12,\"ui", 23) == 23);
        close(fd);

        CHECK(history_open(dir, 5, &h) == 0);
        CHECK(history_size(h) == 5);
        CHECK(file_lines() == 5);
        CHECK(append(h, 13, 0) == 0);
        CHECK(file_lines() == 6);
        history_free(h);

        CHECK(history_open(dir, 5, &h) == 0);
        CHECK(history_size(h) == 5);
        history_free(h);
}

int main(void) {
        char cmd[128];

        CHECK(mkdtemp(dir) != NULL);
        test_append_and_query();
        test_reload_bound_and_compaction();
        test_torn_tail();

        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        CHECK(system(cmd) == 0);
        return test_summary("history");
}
