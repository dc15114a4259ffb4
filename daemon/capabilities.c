/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Started as root outside systemd, the daemon would keep every capability
 * while it reads files callers point it at: drop the rest, from the bounding
 * set too, before the first request is served.
 *
 * Under its unit, systemd has already done this: the daemon runs as its
 * own user with exactly the kept set as ambient capabilities (so they are
 * inheritable too), and CapabilityBoundingSet= bounds it to them. Nothing
 * is changed when there is nothing to drop, so the daemon never calls
 * capset() itself (only its access helper does, to drop everything).
 */
#include <errno.h>
#include <linux/capability.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "capabilities.h"

/* CAP_SETUID and CAP_SETGID: the helper that opens a caller's target as the caller (access.c). */
static const uint64_t keep = (1ULL << CAP_SYS_ADMIN) | (1ULL << CAP_SYS_PTRACE) | (1ULL << CAP_DAC_READ_SEARCH) |
                             (1ULL << CAP_SETUID) | (1ULL << CAP_SETGID);

static unsigned last_cap(void) {
        unsigned v = CAP_LAST_CAP;
        FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");

        if (f) {
                if (fscanf(f, "%u", &v) != 1 || v > 63)
                        v = CAP_LAST_CAP;
                fclose(f);
        }
        return v;
}

static bool bounding_set_kept(void) {
        for (unsigned c = 0; c <= last_cap(); c++)
                if (!(keep & (1ULL << c)) && prctl(PR_CAPBSET_READ, c, 0, 0, 0) > 0)
                        return false;
        return true;
}

int drop_capabilities(void) {
        struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct data[2] = {};
        uint64_t permitted, inheritable;

        if (syscall(SYS_capget, &hdr, data) < 0)
                return -errno;
        permitted = (uint64_t) data[0].permitted | (uint64_t) data[1].permitted << 32;
        inheritable = (uint64_t) data[0].inheritable | (uint64_t) data[1].inheritable << 32;
        /* ambient capabilities are inheritable ones too: none beyond the kept set either */
        if (!(permitted & ~keep) && !(inheritable & ~keep) && bounding_set_kept())
                return 0;

        /* the bounding set first, while CAP_SETPCAP is still ours */
        for (unsigned c = 0; c <= last_cap(); c++)
                if (!(keep & (1ULL << c)) && prctl(PR_CAPBSET_READ, c, 0, 0, 0) > 0 &&
                    prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EPERM)
                        return -errno;
        (void) prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);

        permitted &= keep;
        data[0].effective = data[0].permitted = (uint32_t) permitted;
        data[1].effective = data[1].permitted = (uint32_t) (permitted >> 32);
        data[0].inheritable = data[1].inheritable = 0;
        if (syscall(SYS_capset, &hdr, data) < 0)
                return -errno;
        return 0;
}
