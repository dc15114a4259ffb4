/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Keeps only what the walk needs (CAP_SYS_ADMIN for PFNs, CAP_SYS_PTRACE
 * for other users' pagemap and for freezing, CAP_DAC_READ_SEARCH for their
 * /proc files) and what becoming a caller takes (CAP_SETUID, CAP_SETGID);
 * a daemon started without them keeps what it has. */
int drop_capabilities(void);
