/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * /proc/PID/smaps and smaps_rollup (fs/proc/task_mmu.c show_smap,
 * show_smaps_rollup): a header line per VMA, then "Key: N kB" lines and
 * VmFlags. The rollup is the same format with one pseudo-VMA.
 */
#include <ctype.h>
#include <inttypes.h>

#include "macro.h"
#include "parse-number.h"
#include "sources.h"

static const char vmflag_names[_SA_VM_MAX - 1][3] = {
        "rd", "wr", "ex", "sh", "mr", "mw", "me", "ms", "gd", "pf", "lo", "io",
        "sr", "rr", "dc", "de", "ac", "nr", "ht", "sf", "nl", "ar", "wf", "dd",
        "sd", "mm", "hg", "nh", "mg", "um", "uw", "ss", "sl", "bt", "mt", "gu",
};

static uint64_t parse_vmflags(const char *s, const char *end) {
        uint64_t flags = 0;

        while (s < end) {
                size_t i;

                while (s < end && isspace((unsigned char) *s))
                        s++;
                if (end - s < 2)
                        break;
                for (i = 0; i < ELEMENTSOF(vmflag_names); i++)
                        if (s[0] == vmflag_names[i][0] && s[1] == vmflag_names[i][1])
                                break;
                flags |= SA_VMF(i < ELEMENTSOF(vmflag_names) ? i : SA_VM_OTHER);
                while (s < end && !isspace((unsigned char) *s))
                        s++;
        }
        return flags;
}

/* "7f00-7f10 rw-p 00000000 fe:00 1234    /path (deleted)" */
static int parse_header(const char *line, size_t len, struct sa_smaps_vma *v) {
        char tmp[512];
        unsigned long long start, end, pgoff, inode;
        unsigned maj, min;
        size_t head = MIN(len, sizeof(tmp) - 1);
        int name_at = 0;

        /* the numbers fit in the scratch copy; the name is taken from the line itself */
        memcpy(tmp, line, head);
        tmp[head] = 0;
        if (sscanf(tmp, "%llx-%llx %4c %llx %x:%x %llu %n", &start, &end, v->perms, &pgoff,
                   &maj, &min, &inode, &name_at) < 7 || name_at <= 0)
                return -EBADMSG;
        if (end < start)
                return -EBADMSG;
        v->perms[4] = 0;
        v->start = start;
        v->end = end;
        v->pgoff = pgoff;
        v->dev_major = maj;
        v->dev_minor = min;
        v->inode = inode;
        /* Keep the name from the real line: it may be longer than tmp. */
        {
                const char *n = line + name_at, *e = line + len;
                while (e > n && isspace((unsigned char) e[-1]))
                        e--;
                v->name = strndup(n, (size_t) (e > n ? e - n : 0));
                if (!v->name)
                        return -ENOMEM;
        }
        v->thp_eligible = -1;
        return 0;
}

static bool is_header(const char *line, size_t len) {
        size_t i = 0;

        while (i < len && isxdigit((unsigned char) line[i]))
                i++;
        return i > 0 && i < len && line[i] == '-';
}

static void parse_field(const char *line, size_t len, struct sa_smaps_vma *v) {
        const char *colon = memchr(line, ':', len);
        char key[32], val[32];
        size_t klen, vlen = 0;
        const char *p;
        uint64_t n;
        int f;

        if (!colon)
                return;
        klen = (size_t) (colon - line);
        if (klen == 0 || klen >= sizeof(key))
                return;
        memcpy(key, line, klen);
        key[klen] = 0;
        p = colon + 1;

        if (streq(key, "VmFlags")) {
                v->vmflags = parse_vmflags(p, line + len);
                v->have_vmflags = true;
                return;
        }
        while (p < line + len && isspace((unsigned char) *p))
                p++;
        while (p < line + len && vlen < sizeof(val) - 1 && isdigit((unsigned char) *p))
                val[vlen++] = *p++;
        val[vlen] = 0;
        if (parse_u64(val, &n) < 0)
                return;

        if (streq(key, "Size"))
                v->size_kb = n;
        else if (streq(key, "KernelPageSize"))
                v->kernel_page_kb = n;
        else if (streq(key, "MMUPageSize"))
                v->mmu_page_kb = n;
        else if (streq(key, "THPeligible"))
                v->thp_eligible = (int) MIN(n, 1u);
        else if ((f = sa_field_from_name(key)) >= 0 && f < _SA_SMAPS_FIELD_MAX) {
                v->kb[f] = n;
                v->have |= 1ULL << f;
        }
}

void sa_smaps_done(struct sa_smaps *s) {
        for (size_t i = 0; i < s->n; i++)
                free(s->vmas[i].name);
        free(s->vmas);
        s->vmas = NULL;
        s->n = 0;
}

int sa_smaps_parse(const char *buf, struct sa_smaps *ret) {
        struct sa_smaps s = {};
        size_t cap = 0;
        const char *line = buf;
        struct sa_smaps_vma *cur = NULL;
        int r;

        while (line && *line) {
                const char *eol = strchr(line, '\n');
                size_t len = eol ? (size_t) (eol - line) : strlen(line);

                if (is_header(line, len)) {
                        if (s.n == cap) {
                                size_t ncap = cap ? cap * 2 : 64;
                                struct sa_smaps_vma *nv = realloc(s.vmas, ncap * sizeof(*nv));
                                if (!nv) {
                                        r = -ENOMEM;
                                        goto fail;
                                }
                                s.vmas = nv;
                                cap = ncap;
                        }
                        cur = &s.vmas[s.n];
                        memset(cur, 0, sizeof(*cur));
                        r = parse_header(line, len, cur);
                        if (r < 0) {
                                free(cur->name);
                                if (r == -ENOMEM)
                                        goto fail;
                                cur = NULL; /* skip the fields of a header we could not read */
                        } else
                                s.n++;
                } else if (cur)
                        parse_field(line, len, cur);
                line = eol ? eol + 1 : NULL;
        }
        *ret = s;
        return 0;
fail:
        sa_smaps_done(&s);
        return r;
}

bool sa_smaps_vma_equal(const struct sa_smaps_vma *a, const struct sa_smaps_vma *b) {
        return a->start == b->start && a->end == b->end && streq(a->perms, b->perms) &&
               a->vmflags == b->vmflags && a->have == b->have &&
               memcmp(a->kb, b->kb, sizeof(a->kb)) == 0;
}

const struct sa_smaps_vma *sa_smaps_find(const struct sa_smaps *s, uint64_t start, uint64_t end) {
        size_t lo = 0, hi = s->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (s->vmas[mid].start == start)
                        return s->vmas[mid].end == end ? &s->vmas[mid] : NULL;
                if (s->vmas[mid].start < start)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}
