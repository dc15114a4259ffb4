/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A capture's directory (capture-dir.c): what capture.c and the KSM page hashes write into. */
#pragma once

#include <sys/types.h>

/* The directory (made 0700; an existing one must be ours and empty, or hold
 * only pid's KSM page hashes, which smapsaudit_ksm_capture() writes first), as a directory fd. */
int sa_capture_dir_open(const char *dir, pid_t pid);
/* Below dirfd, never through a link: rel's directories made 0700 on the way; a file created 0600
 * (O_EXCL, after removing what an earlier attempt of the capture left under that name). */
int sa_capture_mkdir(int dirfd, const char *rel);
int sa_capture_create(int dirfd, const char *rel, int flags);
int sa_capture_open(int dirfd, const char *rel, int flags);
int sa_capture_dir_clear(int dirfd);
/* What smapsaudit_ksm_capture() writes into proc/PID of a capture. */
#define SA_KSM_HASHES_FILE "smapsaudit-ksm-hashes"
