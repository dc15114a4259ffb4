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

static const char *skip_space(const char *p, const char *e) {
        while (p < e && isspace((unsigned char) *p))
                p++;
        return p;
}

/*
 * A number in base 16 or 10 as sscanf() reads one, so that a line it took
 * is still taken, and as it was: optional blanks, a sign, "0x" in base 16,
 * UINT64_MAX on overflow. NULL when there are no digits.
 */
static const char *parse_num(const char *p, const char *e, unsigned base, uint64_t *ret) {
        const char *digits;
        bool minus = false, over = false, prefix = false;
        uint64_t v = 0;

        p = skip_space(p, e);
        if (p < e && (*p == '-' || *p == '+'))
                minus = *p++ == '-';
        /* glibc takes "0x" alone for a 0 */
        if (base == 16 && e - p >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
                p += 2;
                prefix = true;
        }
        for (digits = p; p < e; p++) {
                unsigned d;

                if (isdigit((unsigned char) *p))
                        d = (unsigned) (*p - '0');
                else if (base == 16 && isxdigit((unsigned char) *p))
                        d = (unsigned) (tolower((unsigned char) *p) - 'a' + 10);
                else
                        break;
                over = over || v > (UINT64_MAX - d) / base;
                v = v * base + d;
        }
        if (p == digits && !prefix)
                return NULL;
        *ret = over ? UINT64_MAX : minus ? -v : v;
        return p;
}

/*
 * "7f00-7f10 rw-p 00000000 fe:00 1234    /path (deleted)": by hand, not
 * sscanf(), which costs as much as the rest of a 40,000-VMA smaps together.
 */
static int parse_header(const char *line, size_t len, struct sa_smaps_vma *v) {
        const char *p = line, *e = line + len, *n;
        uint64_t start, end, pgoff, maj, min, inode;

        p = parse_num(p, e, 16, &start);
        if (!p || p == e || *p != '-')
                return -EBADMSG;
        p = parse_num(p + 1, e, 16, &end);
        if (!p)
                return -EBADMSG;
        p = skip_space(p, e);
        if (e - p < 4)
                return -EBADMSG;
        memcpy(v->perms, p, 4);
        p = parse_num(p + 4, e, 16, &pgoff);
        if (p)
                p = parse_num(p, e, 16, &maj);
        if (!p || p == e || *p != ':')
                return -EBADMSG;
        p = parse_num(p + 1, e, 16, &min);
        if (p)
                p = parse_num(p, e, 10, &inode);
        if (!p || end < start)
                return -EBADMSG;
        v->perms[4] = 0;
        v->start = start;
        v->end = end;
        v->pgoff = pgoff;
        v->dev_major = (unsigned) maj;
        v->dev_minor = (unsigned) min;
        v->inode = inode;
        n = skip_space(p, e);
        while (e > n && isspace((unsigned char) e[-1]))
                e--;
        v->name = strndup(n, (size_t) (e - n));
        if (!v->name)
                return -ENOMEM;
        v->thp_eligible = -1;
        return 0;
}

static bool is_header(const char *line, size_t len) {
        size_t i = 0;

        while (i < len && isxdigit((unsigned char) line[i]))
                i++;
        return i > 0 && i < len && line[i] == '-';
}

/* What a "Key:" line of a VMA is: one of these, or 0 ≤ a field of sa_fields[] < _SA_SMAPS_FIELD_MAX. */
enum {
        KEY_IGNORED = -1,
        KEY_VMFLAGS = -2,
        KEY_SIZE = -3,
        KEY_KERNEL_PAGE = -4,
        KEY_MMU_PAGE = -5,
        KEY_THP_ELIGIBLE = -6,
};

static int key_kind(const char *key) {
        int f;

        if (streq(key, "VmFlags"))
                return KEY_VMFLAGS;
        if (streq(key, "Size"))
                return KEY_SIZE;
        if (streq(key, "KernelPageSize"))
                return KEY_KERNEL_PAGE;
        if (streq(key, "MMUPageSize"))
                return KEY_MMU_PAGE;
        if (streq(key, "THPeligible"))
                return KEY_THP_ELIGIBLE;
        f = sa_field_from_name(key);
        return f >= 0 && f < _SA_SMAPS_FIELD_MAX ? f : KEY_IGNORED;
}

/*
 * The kernel prints the same keys in the same order for every VMA: what the
 * key on each line of a VMA was is remembered by its place, and a line whose
 * key is the one seen there before needs no lookup.
 */
struct key_cache {
        struct {
                char key[32];
                size_t len;
                int kind;
        } at[64];
        size_t line;            /* of the current VMA, after its header */
};

static int cached_kind(struct key_cache *c, const char *key, size_t klen) {
        size_t i = c->line++;
        char k[sizeof(c->at[0].key)];

        if (i < ELEMENTSOF(c->at) && c->at[i].len == klen && memcmp(c->at[i].key, key, klen) == 0)
                return c->at[i].kind;
        memcpy(k, key, klen);
        k[klen] = 0;
        if (i >= ELEMENTSOF(c->at))
                return key_kind(k);
        memcpy(c->at[i].key, k, klen + 1);
        c->at[i].len = klen;
        return c->at[i].kind = key_kind(k);
}

static void parse_field(const char *line, size_t len, struct sa_smaps_vma *v, struct key_cache *c) {
        const char *colon = memchr(line, ':', len), *p, *e = line + len;
        size_t klen;
        uint64_t n;
        int kind;

        if (!colon)
                return;
        klen = (size_t) (colon - line);
        if (klen == 0 || klen >= sizeof(c->at[0].key))
                return;
        kind = cached_kind(c, line, klen);
        p = colon + 1;
        if (kind == KEY_VMFLAGS) {
                v->vmflags = parse_vmflags(p, e);
                v->have_vmflags = true;
                return;
        }
        if (kind == KEY_IGNORED)
                return;
        while (p < e && isspace((unsigned char) *p))
                p++;
        /* the digits end at the line's end at the latest: a newline, or the buffer's NUL */
        if (p == e || parse_u64_prefix(p, &n) < 0)
                return;

        switch (kind) {
        case KEY_SIZE:
                v->size_kb = n;
                break;
        case KEY_KERNEL_PAGE:
                v->kernel_page_kb = n;
                break;
        case KEY_MMU_PAGE:
                v->mmu_page_kb = n;
                break;
        case KEY_THP_ELIGIBLE:
                v->thp_eligible = (int) MIN(n, 1u);
                break;
        default:
                v->kb[kind] = n;
                v->have |= 1ULL << kind;
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
        struct key_cache keys = {};
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
                        keys.line = 0;
                        r = parse_header(line, len, cur);
                        if (r < 0) {
                                free(cur->name);
                                if (r == -ENOMEM)
                                        goto fail;
                                cur = NULL; /* skip the fields of a header we could not read */
                        } else
                                s.n++;
                } else if (cur)
                        parse_field(line, len, cur, &keys);
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

/*
 * Two reads of one process list the same VMAs at the same places unless
 * something was mapped or unmapped between them: a VMA of one is looked
 * for at its own index in the other first. Taken only where no neighbour
 * has the same start, it is what the binary search finds.
 */
const struct sa_smaps_vma *sa_smaps_find_near(const struct sa_smaps *s, size_t near, uint64_t start, uint64_t end) {
        if (near < s->n && s->vmas[near].start == start && (near == 0 || s->vmas[near - 1].start < start) &&
            (near + 1 == s->n || s->vmas[near + 1].start > start))
                return s->vmas[near].end == end ? &s->vmas[near] : NULL;
        return sa_smaps_find(s, start, end);
}
