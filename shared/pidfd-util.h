/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/* A pidfd becomes readable once its process has exited; after that its PID may name another
 * process. False for -1 (no pidfd: the PID names captured files, or pidfd_open() failed). */
bool pidfd_exited(int pidfd);
