/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/* smapsaudit probe ARGS: argv[0] is "probe"; json when -j came before the verb. */
int verb_probe(int argc, char *argv[], bool json);
