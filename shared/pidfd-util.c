/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <poll.h>

#include "pidfd-util.h"

bool pidfd_exited(int pidfd) {
        struct pollfd p = { .fd = pidfd, .events = POLLIN };

        return pidfd >= 0 && poll(&p, 1, 0) > 0;
}
