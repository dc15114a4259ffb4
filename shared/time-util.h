/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <time.h>

/* clock's time in µs (CLOCK_THREAD_CPUTIME_ID: the CPU this thread used); 0 if it cannot be read. */
uint64_t now_usec(clockid_t clock);
