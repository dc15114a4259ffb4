/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The line-oriented helpers every procfs parser uses. */
#include <ctype.h>

#include "macro.h"
#include "parse-number.h"
#include "sources.h"

static int parse_i64(const char *s, int64_t *ret) {
        bool neg = false;
        uint64_t v;
        int r;

        if (*s == '-') {
                neg = true;
                s++;
        }
        r = parse_u64_range(s, 0, INT64_MAX, &v);
        if (r < 0)
                return r;
        *ret = neg ? -(int64_t) v : (int64_t) v;
        return 0;
}

/*
 * Lines of the form "key<sep>value[ unit]", where sep is any run of ':',
 * spaces and tabs (status "VmRSS:\t  12 kB", vmstat "numa_pte_updates 3",
 * sched "mm->numa_scan_seq   :   2"). "yes"/"no" values read as 1/0.
 * Unknown keys and unparsable values are ignored: kernels add lines.
 */
int sa_parse_keyed(const char *buf, const struct sa_keyed *table, size_t n, void *dest, uint64_t *have) {
        const char *line = buf;

        while (line && *line) {
                const char *eol = strchr(line, '\n');
                size_t len = eol ? (size_t) (eol - line) : strlen(line);
                size_t klen = 0;

                while (klen < len && line[klen] != ':' && line[klen] != ' ' && line[klen] != '\t')
                        klen++;

                for (size_t i = 0; i < n; i++) {
                        char val[32];
                        size_t p = klen, vlen = 0;
                        int64_t v;

                        if (strlen(table[i].key) != klen || strncmp(line, table[i].key, klen) != 0)
                                continue;
                        while (p < len && (line[p] == ':' || line[p] == ' ' || line[p] == '\t'))
                                p++;
                        while (p < len && vlen < sizeof(val) - 1 && !isspace((unsigned char) line[p]))
                                val[vlen++] = line[p++];
                        val[vlen] = 0;
                        if (streq(val, "yes"))
                                v = 1;
                        else if (streq(val, "no"))
                                v = 0;
                        else if (parse_i64(val, &v) < 0)
                                break;
                        memcpy((char *) dest + table[i].offset, &v, sizeof(v));
                        *have |= table[i].mask;
                        break;
                }
                line = eol ? eol + 1 : NULL;
        }
        return 0;
}
