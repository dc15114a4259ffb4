/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Finding history under the state directory, one JSON object per line in
 * findings.jsonl. Appends are fdatasync()ed, so a finding that was
 * announced is never lost to a crash or SIGKILL; when the file holds twice
 * the bound it is rewritten atomically (temporary file, fsync, rename, fsync
 * of the directory) with the newest entries only. A torn last line, as a
 * crash mid-write can leave, is dropped on load.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HISTORY_FILE "findings.jsonl"
#define HISTORY_MAX_DEFAULT 10000u

typedef struct History History;

/* Every entry is a JSON object with at least "realtime_usec" and "uid" (the
 * audited process's owner); the rest is kept as it was written. */
int history_open(const char *dir, size_t max_entries, History **ret);
History *history_free(History *h);
int history_append(History *h, uint64_t realtime_usec, uid_t uid, const char *json);
/* A JSON array of the entries at or after since_usec, oldest first; only
 * uid's unless all; the newest of them that fit in max_bytes. */
int history_query(const History *h, uint64_t since_usec, bool all, uid_t uid, size_t max_bytes, char **ret);
size_t history_size(const History *h);
