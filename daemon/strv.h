/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* NULL-terminated arrays of strings, in systemd's spelling. */
#pragma once

void strv_free(char **l);
static inline void strv_freep(char ***l) {
        strv_free(*l);
}

/* The strings of l with sep between them; NULL when out of memory. */
char *strv_join(char *const *l, const char *sep);
