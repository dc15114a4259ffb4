/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Which files make smapsauditd's configuration: the main file, then its drop-ins
 * (smapsauditd.conf.d/\*.conf) in systemd's order, each overriding what came before. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"

/* Where systemd looks for a daemon's drop-ins, most important first. */
#define CONFIG_DROPIN_DIRS_DEFAULT                               \
        SYSCONFDIR "/smapsaudit/smapsauditd.conf.d",             \
        "/run/smapsaudit/smapsauditd.conf.d",                    \
        "/usr/local/lib/smapsaudit/smapsauditd.conf.d",          \
        "/usr/lib/smapsaudit/smapsauditd.conf.d"

/* The *.conf files of dirs (most important first), as systemd's conf_files_list() picks them: one
 * per file name, the first directory's; a link to /dev/null masks the name; in the order of
 * their names. A missing directory holds nothing. *ret is a NULL-terminated array: strv_free()
 * it. */
int config_dropins_list(const char *const *dirs, size_t n_dirs, char ***ret);

/* The configuration of a daemon reading path: its defaults, path, then path's drop-ins: those of
 * CONFIG_DROPIN_DIRS_DEFAULT for the default path, those of "path.d" for another (the tests' and
 * --config='s). *ret_dropins (may be NULL) gets the drop-ins read, for the log. */
int config_load(const char *path, Config *c, char ***ret_dropins);
