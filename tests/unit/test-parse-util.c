/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* shared/parse-number.c, sa_parse_keyed() and sa_stat_parse(), the helpers under every parser and option. */
#include <stddef.h>

#include "macro.h"
#include "parse-number.h"
#include "procfs.h"
#include "sources.h"
#include "tap.h"

static void test_u64_prefix(void) {
        uint64_t v = 77;

        is_i64(parse_u64_prefix("0", &v), 0, "\"0\"");
        is_u64(v, 0, "0");
        is_i64(parse_u64_prefix("18446744073709551615", &v), 0, "UINT64_MAX parses");
        is_u64(v, UINT64_MAX, "UINT64_MAX");
        v = 77;
        is_i64(parse_u64_prefix("18446744073709551616", &v), -ERANGE, "UINT64_MAX + 1: -ERANGE");
        is_u64(v, 77, "untouched on error");
        is_i64(parse_u64_prefix("99999999999999999999999", &v), -ERANGE, "far too big: -ERANGE");
        is_i64(parse_u64_prefix("", &v), -EINVAL, "empty: -EINVAL");
        is_i64(parse_u64_prefix("-1", &v), -EINVAL, "negative: -EINVAL");
        is_i64(parse_u64_prefix("+1", &v), -EINVAL, "plus sign: -EINVAL");
        is_i64(parse_u64_prefix(" 1", &v), -EINVAL, "leading space: -EINVAL");
        is_i64(parse_u64_prefix("12 kB", &v), 0, "stops at the first non-digit");
        is_u64(v, 12, "12");
        is_i64(parse_u64_prefix("0012\n", &v), 0, "leading zeros");
        is_u64(v, 12, "0012 = 12");
}

/* What the CLI's options and the daemon's configuration get: the whole string, in range. */
static void test_u64_range(void) {
        uint64_t v = 77;

        is_i64(parse_u64("18446744073709551615", &v), 0, "UINT64_MAX parses");
        is_u64(v, UINT64_MAX, "UINT64_MAX");
        v = 77;
        is_i64(parse_u64("18446744073709551616", &v), -ERANGE, "UINT64_MAX + 1: -ERANGE");
        is_i64(parse_u64("-1", &v), -EINVAL, "-1 is not 2^64-1: -EINVAL");
        is_i64(parse_u64("-0", &v), -EINVAL, "-0: -EINVAL");
        is_i64(parse_u64("", &v), -EINVAL, "empty: -EINVAL");
        is_i64(parse_u64("12 kB", &v), -EINVAL, "trailing junk: -EINVAL");
        is_i64(parse_u64("12\n", &v), -EINVAL, "trailing newline: -EINVAL");
        is_i64(parse_u64("1x", &v), -EINVAL, "1x: -EINVAL");
        is_i64(parse_u64("0x10", &v), -EINVAL, "no hex: -EINVAL");
        is_i64(parse_u64(" 5", &v), -EINVAL, "leading space: -EINVAL");
        is_u64(v, 77, "untouched on every error");
        is_i64(parse_u64("007", &v), 0, "leading zeros");
        is_u64(v, 7, "007 = 7");

        is_i64(parse_u64_range("1", 1, 100, &v), 0, "the minimum");
        is_i64(parse_u64_range("100", 1, 100, &v), 0, "the maximum");
        is_u64(v, 100, "100");
        is_i64(parse_u64_range("0", 1, 100, &v), -ERANGE, "below: -ERANGE");
        is_i64(parse_u64_range("101", 1, 100, &v), -ERANGE, "above: -ERANGE");
        is_i64(parse_u64_range("99999999999999999999", 1, 100, &v), -ERANGE, "overflow: -ERANGE");
        is_i64(parse_u64_range("-5", 1, 100, &v), -EINVAL, "a sign: -EINVAL, whatever the range");
        is_u64(v, 100, "untouched");
}

struct dest {
        int64_t a, b, c;
        uint64_t have;
};

static const struct sa_keyed keys[] = {
        { "a", offsetof(struct dest, a), 1 },
        { "bb", offsetof(struct dest, b), 2 },
        { "mm->c", offsetof(struct dest, c), 4 },
};

static void test_keyed(void) {
        struct dest d = {};

        is_i64(sa_parse_keyed("a: 1\nbb\t2 kB\nmm->c                :   -3\n", keys, 3, &d, &d.have), 0,
               "three separator styles");
        is_hex(d.have, 7, "all three seen");
        is_i64(d.a, 1, "a: 1");
        is_i64(d.b, 2, "bb<TAB>2 kB");
        is_i64(d.c, -3, "mm->c : -3");

        d = (struct dest) {};
        sa_parse_keyed("ab: 5\nb: 6\nbbb 7\nA: 8\n:a 9\n", keys, 3, &d, &d.have);
        is_hex(d.have, 0, "no key is a prefix or case match");

        d = (struct dest) {};
        sa_parse_keyed("a: yes\nbb: no\nmm->c: maybe\n", keys, 3, &d, &d.have);
        is_hex(d.have, 3, "yes/no read as 1/0, others skipped");
        is_i64(d.a, 1, "yes = 1");
        is_i64(d.b, 0, "no = 0");

        d = (struct dest) {};
        sa_parse_keyed("a: 9223372036854775807\nbb: -9223372036854775807\nmm->c: 9223372036854775808\n", keys, 3, &d,
                       &d.have);
        is_i64(d.a, INT64_MAX, "INT64_MAX");
        is_i64(d.b, -INT64_MAX, "-INT64_MAX");
        ok(!(d.have & 4), "INT64_MAX + 1 skipped");

        d = (struct dest) {};
        sa_parse_keyed("a: 12x kB\nbb: --3\nmm->c: -\n", keys, 3, &d, &d.have);
        is_hex(d.have, 0, "a value with junk in it is not read as its digits");

        d = (struct dest) {};
        sa_parse_keyed("a: 1\na: 2\n", keys, 3, &d, &d.have);
        is_i64(d.a, 2, "a repeated key: the last wins");

        d = (struct dest) {};
        sa_parse_keyed("a:\nbb:   \n\n\n", keys, 3, &d, &d.have);
        is_hex(d.have, 0, "keys without values");

        d = (struct dest) {};
        sa_parse_keyed("a: 123456789012345678901234567890123456789\n", keys, 3, &d, &d.have);
        is_hex(d.have, 0, "a value longer than the scratch buffer is not half-read");

        d = (struct dest) {};
        is_i64(sa_parse_keyed("", keys, 3, &d, &d.have), 0, "empty buffer");
        is_i64(sa_parse_keyed("a: 1", keys, 0, &d, &d.have), 0, "empty table");
        is_hex(d.have, 0, "nothing");
}

static void test_stat(void) {
        struct sa_stat st = {};

        /* a kernel thread of this machine, and a comm made of spaces and parentheses */
        is_i64(sa_stat_parse("2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 3 0 0 "
                             "18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
                             &st), 0, "kthreadd's stat parses");
        is_i64(st.state, 'S', "state");
        is_hex(st.flags & SA_PF_KTHREAD, SA_PF_KTHREAD, "PF_KTHREAD in the flags");
        is_i64(sa_stat_parse("20452 (a) b) (c) Z 20448 20448 29047 0 -1 4194304 98 0 7 0 0 0 0 0 20 0 1 0 3059434 "
                             "3133440 394\n", &st), 0, "comm with ') (' parses after the last ')'");
        is_i64(st.state, 'Z', "state after the last ')'");
        is_u64(st.faults, 105, "minflt + majflt");
        is_u64(st.start_time, 3059434, "start time");
        is_hex(st.flags & SA_PF_KTHREAD, 0, "no PF_KTHREAD");
        is_i64(sa_stat_parse("20452 (cat) R 20448 20448", &st), -EBADMSG, "cut short: EBADMSG");
        is_i64(sa_stat_parse("20452 cat R", &st), -EBADMSG, "no comm: EBADMSG");
}

int main(void) {
        test_u64_prefix();
        test_u64_range();
        test_keyed();
        test_stat();
        return tap_done();
}
