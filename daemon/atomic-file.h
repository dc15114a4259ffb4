/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Files that are whole at every moment, whatever kills us: written to a
 * temporary name beside them, synced, renamed over, and the directory
 * synced, so that after a crash there is the old file or the new one. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

int write_all(int fd, const void *p, size_t size);

/* name in the directory dir_fd; the temporary is name.RANDOM.tmp, made with
 * O_EXCL (a node_exporter textfile collector, reading only *.prom, ignores
 * it). */
int write_file_atomic_at(int dir_fd, const char *name, const void *data, size_t size, mode_t mode);
/* The same for an absolute path. */
int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode);
