/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "strv.h"

void strv_free(char **l) {
        if (!l)
                return;
        for (char **i = l; *i; i++)
                free(*i);
        free(l);
}

char *strv_join(char *const *l, const char *sep) {
        size_t n = 1, sep_len = strlen(sep);
        char *s, *p;

        for (char *const *i = l; *i; i++)
                n += strlen(*i) + (i == l ? 0 : sep_len);
        s = malloc(n);
        if (!s)
                return NULL;
        p = s;
        for (char *const *i = l; *i; i++) {
                if (i != l)
                        p = stpcpy(p, sep);
                p = stpcpy(p, *i);
        }
        *p = 0;
        return s;
}
