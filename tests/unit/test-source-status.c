/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sa_status_parse() and sa_status_read() on captured and hand-made /proc/PID/status. */
#include <sys/stat.h>

#include "ctx.h"
#include "sources.h"
#include "tap.h"

#define ALL_COUNTERS (SA_STATUS_VM_RSS | SA_STATUS_RSS_ANON | SA_STATUS_RSS_FILE | SA_STATUS_RSS_SHMEM | \
                      SA_STATUS_VM_SWAP | SA_STATUS_HUGETLB)
#define ALL (ALL_COUNTERS | SA_STATUS_THREADS | SA_STATUS_TRACER | SA_STATUS_UID | SA_STATUS_NAME)

static void test_demo(void) {
        _cleanup_free_ char *buf = tap_fixture("6.18-demo/status");
        struct sa_status st;

        memset(&st, 0xaa, sizeof(st));
        is_i64(sa_status_parse(buf, &st), 0, "6.18 demo status parses");
        is_hex(st.have, ALL, "every counter, Threads, TracerPid, Uid and Name seen");
        is_str(st.name, "workload", "Name");
        is_i64(st.vm_rss, 26252, "VmRSS");
        is_i64(st.rss_anon, 20596, "RssAnon");
        is_i64(st.rss_file, 1560, "RssFile");
        is_i64(st.rss_shmem, 4096, "RssShmem");
        is_i64(st.vm_rss, st.rss_anon + st.rss_file + st.rss_shmem, "VmRSS = RssAnon + RssFile + RssShmem");
        is_i64(st.vm_swap, 0, "VmSwap");
        is_i64(st.hugetlb, 0, "HugetlbPages");
        is_i64(st.threads, 1, "Threads");
        is_i64(st.tracer_pid, 0, "TracerPid");
        is_i64(st.uid, 0, "Uid (real)");
        is_i64(st.euid, 0, "Uid (effective)");
        is_i64(st.ngid, 0, "Ngid");
}

static void test_numa(void) {
        _cleanup_free_ char *buf = tap_fixture("6.18-numa/status");
        _cleanup_free_ char *self = tap_fixture("6.18-self/status");
        struct sa_status st, a, b;

        is_i64(sa_status_parse(buf, &st), 0, "6.18 numa-thp status parses");
        is_i64(st.threads, 3, "Threads 3");
        is_i64(st.vm_rss, 34656, "VmRSS");
        is_i64(st.rss_anon, 33024, "RssAnon");

        is_i64(sa_status_parse(self, &a), 0, "cat /proc/self/status parses");
        is_str(a.name, "cat", "self Name");
        is_i64(a.vm_rss, 1672, "self VmRSS");
        is_i64(a.rss_file, 1556, "self RssFile");

        b = a;
        ok(sa_status_counters_equal(&a, &b), "same counters are equal");
        b.hugetlb++;
        ok(!sa_status_counters_equal(&a, &b), "HugetlbPages differs");
        b = a;
        b.threads++;
        ok(sa_status_counters_equal(&a, &b), "Threads is not a counter");
}

static void test_kthread(void) {
        _cleanup_free_ char *buf = tap_fixture("hand/status-kthread");
        struct sa_status st;

        is_i64(sa_status_parse(buf, &st), 0, "kernel thread status parses");
        is_hex(st.have & ALL_COUNTERS, 0, "kernel thread: no RSS counters in the have mask");
        is_hex(st.have & (SA_STATUS_THREADS | SA_STATUS_NAME | SA_STATUS_UID), SA_STATUS_THREADS | SA_STATUS_NAME | SA_STATUS_UID,
               "kernel thread: Threads, Name, Uid");
        is_str(st.name, "kworker/u4:2-events_unbound", "kworker name");
        is_i64(st.vm_rss, 0, "VmRSS stays 0");
}

static void test_traced(void) {
        _cleanup_free_ char *buf = tap_fixture("hand/status-traced");
        struct sa_status st;

        is_i64(sa_status_parse(buf, &st), 0, "traced status parses");
        is_hex(st.have, ALL, "all seen");
        is_str(st.name, "Web Content", "Name with a space");
        is_i64(st.tracer_pid, 4001, "TracerPid");
        is_i64(st.uid, 1000, "real uid");
        is_i64(st.euid, 0, "effective uid (setuid)");
        is_i64(st.ngid, 4242, "Ngid");
        is_i64(st.threads, 37, "Threads");
        is_i64(st.vm_swap, 20480, "VmSwap");
        is_i64(st.hugetlb, 4096, "HugetlbPages");
        is_i64(st.rss_shmem, 10096, "RssShmem");
}

static void test_edges(void) {
        struct sa_status st;
        char name[200];

        is_i64(sa_status_parse("", &st), 0, "empty status parses");
        is_hex(st.have, 0, "empty: nothing seen");
        is_str(st.name, "", "empty: no name");

        is_i64(sa_status_parse("Name:\n", &st), 0, "empty Name parses");
        is_str(st.name, "", "empty Name");
        ok(st.have & SA_STATUS_NAME, "empty Name is still seen");

        snprintf(name, sizeof(name), "Name:\t%0100d\nVmRSS:\t12 kB", 7);
        is_i64(sa_status_parse(name, &st), 0, "long Name parses");
        is_u64(strlen(st.name), sizeof(st.name) - 1, "long Name truncated to the buffer");
        is_i64(st.vm_rss, 12, "last line without a newline");

        is_i64(sa_status_parse("VmRSS:\tlots kB\nRssAnon:\t-5 kB\nVmSwap:\t99999999999999999999 kB\nUid:\t7\n", &st), 0,
               "garbage values parse");
        ok(!(st.have & SA_STATUS_VM_RSS), "non-numeric VmRSS ignored");
        is_i64(st.rss_anon, -5, "negative value kept as signed");
        ok(!(st.have & SA_STATUS_VM_SWAP), "overflowing VmSwap ignored");
        is_i64(st.uid, 7, "Uid with one value");
        is_i64(st.euid, 0, "no effective uid: stays 0");
}

/* A status file that is there but is not one is an error, never a process with no counters. */
static void test_read_broken(struct smapsaudit_ctx *ctx, const char *root) {
        _cleanup_free_ char *demo = tap_fixture("6.18-demo/status");
        _cleanup_free_ char *kthread = tap_fixture("hand/status-kthread");
        char dir[4200], path[4300];
        struct sa_status st;
        const struct {
                const char *what;
                const char *text;
                size_t len;
                int want;
        } cases[] = {
                { "the demo's status", demo, strlen(demo), 0 },
                { "a kernel thread's", kthread, strlen(kthread), 0 },
                { "empty", "", 0, -EBADMSG },
                { "cut off mid-line", demo, strlen(demo) - 3, -EBADMSG },
                { "cut off before Threads", demo, (size_t) (strstr(demo, "\nThreads:") - demo + 1), -EBADMSG },
                { "random text, whole lines", "\x7f\x12 w9\nq\xffz\n", 10, -EBADMSG },
        };

        snprintf(dir, sizeof(dir), "%s/20011", root);
        snprintf(path, sizeof(path), "%s/status", dir);
        if (!ok(mkdir(dir, 0755) == 0, "proc root/20011"))
                return;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                FILE *f = fopen(path, "we");

                if (!ok(f, "write %s", cases[i].what))
                        break;
                fwrite(cases[i].text, 1, cases[i].len, f);
                fclose(f);
                memset(&st, 0xaa, sizeof(st));
                is_i64(sa_status_read(ctx, 20011, &st), cases[i].want, "status %s: %d", cases[i].what, cases[i].want);
                if (cases[i].want < 0)
                        is_hex(st.have, 0xaaaaaaaaaaaaaaaa, "status %s: nothing returned", cases[i].what);
        }
        unlink(path);
        rmdir(dir);
}

static void test_read(void) {
        char dir[] = "/tmp/sa-test-status-XXXXXX", link[4200], fixture[4096];
        struct smapsaudit_ctx *ctx = NULL;
        struct sa_status st;

        if (!ok(mkdtemp(dir), "temporary proc root"))
                return;
        snprintf(fixture, sizeof(fixture), "%s", tap_fixture_path("6.18-demo"));
        snprintf(link, sizeof(link), "%s/20009", dir);
        ok(symlink(fixture, link) == 0, "proc root/20009 -> 6.18-demo");
        is_i64(smapsaudit_ctx_new(&ctx), 0, "ctx");
        is_i64(smapsaudit_ctx_set_proc_root(ctx, dir), 0, "set proc root");
        ok(!sa_ctx_live(ctx), "a directory is not live");
        is_i64(sa_status_read(ctx, 20009, &st), 0, "sa_status_read from the proc root");
        is_i64(st.vm_rss, 26252, "read VmRSS");
        is_str(st.name, "workload", "read Name");
        is_i64(sa_status_read(ctx, 20010, &st), -ENOENT, "missing PID: -ENOENT");
        unlink(link);
        test_read_broken(ctx, dir);
        rmdir(dir);
        smapsaudit_ctx_unref(ctx);

        /* live: the text and libproc2 paths agree on what we are */
        is_i64(smapsaudit_ctx_new(&ctx), 0, "live ctx");
        if (is_i64(sa_status_read(ctx, getpid(), &st), 0, "sa_status_read of ourselves")) {
                ok(st.have & SA_STATUS_VM_RSS, "live VmRSS seen");
                ok(st.vm_rss > 0, "live VmRSS %" PRId64 " kB > 0", st.vm_rss);
                ok(st.rss_anon > 0 && st.rss_file > 0, "live RssAnon/RssFile > 0");
                char comm[64] = "";
                FILE *f = fopen("/proc/self/comm", "re");
                if (f) {
                        if (!fgets(comm, sizeof(comm), f))
                                comm[0] = 0;
                        fclose(f);
                }
                comm[strcspn(comm, "\n")] = 0;
                is_str(st.name, comm, "live Name is our comm");
                is_i64(st.uid, (int64_t) getuid(), "live uid");
                is_i64(st.euid, (int64_t) geteuid(), "live euid");
        }
        smapsaudit_ctx_unref(ctx);
}

int main(void) {
        test_demo();
        test_numa();
        test_kthread();
        test_traced();
        test_edges();
        test_read();
        return tap_done();
}
