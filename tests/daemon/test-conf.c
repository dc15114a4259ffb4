/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "conf-files.h"
#include "strv.h"
#include "test.h"

static void test_time_span(void) {
        uint64_t u;

        CHECK(parse_time_span("300", &u) == 0 && u == 300 * USEC);
        CHECK(parse_time_span("5min", &u) == 0 && u == 300 * USEC);
        CHECK(parse_time_span("1h 30min", &u) == 0 && u == 5400 * USEC);
        CHECK(parse_time_span("1.5s", &u) == 0 && u == 1500000);
        CHECK(parse_time_span("250ms", &u) == 0 && u == 250000);
        CHECK(parse_time_span(" 2 s ", &u) == 0 && u == 2 * USEC);
        CHECK(parse_time_span("", &u) == -EINVAL);
        CHECK(parse_time_span("5 parsecs", &u) == -EINVAL);
        CHECK(parse_time_span("-1s", &u) == -EINVAL);
        CHECK(parse_time_span("min", &u) == -EINVAL);
}

static void test_format(void) {
        char buf[64];

        CHECK(streq(format_time_span(buf, sizeof(buf), 300 * USEC, 0), "5min"));
        CHECK(streq(format_time_span(buf, sizeof(buf), 5400 * USEC, 0), "1h 30min"));
        CHECK(streq(format_time_span(buf, sizeof(buf), 1500123, 1000), "1s 500ms"));
        CHECK(streq(format_time_span(buf, sizeof(buf), 0, 0), "0"));
        CHECK(streq(format_time_span(buf, 4, 5400 * USEC, 0), "1h"));
}

static Config parse(const char *text) {
        Config c;
        FILE *f = fmemopen((void *) text, strlen(text), "r");

        config_defaults(&c);
        CHECK(f);
        CHECK(config_parse(f, "test.conf", &c) == 0);
        fclose(f);
        return c;
}

static void test_parse(void) {
        Config c;

        c = parse("");
        CHECK(c.interval_usec == SWEEP_INTERVAL_DEFAULT_USEC);
        CHECK(c.cpu_budget_percent == CPU_BUDGET_PERCENT_DEFAULT);
        CHECK(c.max_processes_per_sweep == MAX_PROCESSES_DEFAULT);

        config_done(&c);
        c = parse("# comment\n[Sweep]\nInterval = 2min\nCPUBudgetPercent=0.5%\nMaxProcessesPerSweep=0\n");
        CHECK(c.interval_usec == 120 * USEC);
        CHECK(c.cpu_budget_percent == 0.5);
        CHECK(c.max_processes_per_sweep == 0);

        /* A bad value keeps the default; the lines around it still count. */
        config_done(&c);
        c = parse("[Sweep]\nInterval=500ms\nCPUBudgetPercent=150\nMaxProcessesPerSweep=-3\nBogus=1\nInterval=7s\n");
        CHECK(c.interval_usec == 7 * USEC);
        CHECK(c.cpu_budget_percent == CPU_BUDGET_PERCENT_DEFAULT);
        CHECK(c.max_processes_per_sweep == MAX_PROCESSES_DEFAULT);

        /* Counts are whole, unsigned numbers that fit (the shared parser's rules). */
        config_done(&c);
        c = parse("[Sweep]\nMaxProcessesPerSweep=4294967295\n[Journal]\nRateLimitBurst=7\n");
        CHECK(c.max_processes_per_sweep == 4294967295u && c.journal_rate_burst == 7);
        for (size_t i = 0; i < 6; i++) {
                static const char *const bad[] = { "4294967296", "99999999999999999999", "12x", "-1", " ", "+3" };
                char text[128];

                config_done(&c);
                snprintf(text, sizeof(text), "[Sweep]\nMaxProcessesPerSweep=%s\n[Journal]\nRateLimitBurst=%s\n", bad[i],
                         bad[i]);
                c = parse(text);
                CHECK(c.max_processes_per_sweep == MAX_PROCESSES_DEFAULT);
                CHECK(c.journal_rate_burst == JOURNAL_RATE_BURST_DEFAULT);
        }

        /* Keys outside [Sweep] are not read as sweep keys. */
        config_done(&c);
        c = parse("Interval=9s\n[Other]\nInterval=9s\n[Sweep]\n");
        CHECK(c.interval_usec == SWEEP_INTERVAL_DEFAULT_USEC);
        config_done(&c);
}

static void test_metrics_and_journal(void) {
        struct sockaddr_storage sa;
        socklen_t len;
        Config c;

        c = parse("");
        CHECK(c.textfile_path && streq(c.textfile_path, METRICS_TEXTFILE_DEFAULT) && c.textfile_path_is_default);
        CHECK(!c.listen_address);
        CHECK(c.journal_rate_interval_usec == JOURNAL_RATE_INTERVAL_DEFAULT_USEC);
        CHECK(c.journal_rate_burst == JOURNAL_RATE_BURST_DEFAULT);
        config_done(&c);

        c = parse("[Metrics]\nTextfilePath=/run/x/smapsaudit.prom\nListenAddress=9100\n"
                  "[Journal]\nRateLimitIntervalSec=30s\nRateLimitBurst=5\n");
        CHECK(c.textfile_path && streq(c.textfile_path, "/run/x/smapsaudit.prom") && !c.textfile_path_is_default);
        CHECK(c.listen_address && streq(c.listen_address, "9100"));
        CHECK(c.journal_rate_interval_usec == 30 * USEC && c.journal_rate_burst == 5);
        config_done(&c);

        /* Empty switches off; bad values keep what was there. */
        c = parse("[Metrics]\nTextfilePath=\nListenAddress=localhost:80\nListenAddress=nope\n"
                  "TextfilePath=relative.prom\n[Journal]\nRateLimitBurst=many\n");
        CHECK(!c.textfile_path && !c.textfile_path_is_default && !c.listen_address);
        CHECK(c.journal_rate_burst == JOURNAL_RATE_BURST_DEFAULT);
        config_done(&c);

        /* A port alone is loopback: nothing listens beyond the machine unless asked. */
        CHECK(parse_listen_address("9477", &sa, &len) == 0 && sa.ss_family == AF_INET);
        CHECK(((struct sockaddr_in *) &sa)->sin_addr.s_addr == htonl(INADDR_LOOPBACK));
        CHECK(ntohs(((struct sockaddr_in *) &sa)->sin_port) == 9477);
        CHECK(parse_listen_address("0.0.0.0:1", &sa, &len) == 0 && ((struct sockaddr_in *) &sa)->sin_addr.s_addr == 0);
        CHECK(parse_listen_address("[::1]:9477", &sa, &len) == 0 && sa.ss_family == AF_INET6 && len == sizeof(struct sockaddr_in6));
        CHECK(parse_listen_address("127.0.0.1:0", &sa, &len) < 0);
        CHECK(parse_listen_address("127.0.0.1:65536", &sa, &len) < 0);
        CHECK(parse_listen_address("127.0.0.1:-1", &sa, &len) < 0);
        CHECK(parse_listen_address("+80", &sa, &len) < 0);
        CHECK(parse_listen_address("80x", &sa, &len) < 0);
        CHECK(parse_listen_address("[::1]9477", &sa, &len) < 0);
        CHECK(parse_listen_address("example.org:80", &sa, &len) < 0);
        CHECK(parse_listen_address(":80", &sa, &len) < 0);
}

static void test_check(void) {
        Config c;

        c = parse("");
        CHECK(c.checks_per_user == CHECKS_PER_USER_DEFAULT && c.check_deadline_usec == CHECK_DEADLINE_DEFAULT_USEC);
        config_done(&c);

        c = parse("[Check]\nMaxPerUser=5\nDeadlineSec=2min\n");
        CHECK(c.checks_per_user == 5 && c.check_deadline_usec == 120 * USEC);
        config_done(&c);

        /* none at all, more than may wait in all, and deadlines under a second keep the defaults */
        c = parse("[Check]\nMaxPerUser=0\nMaxPerUser=129\nDeadlineSec=500ms\nDeadlineSec=soon\n");
        CHECK(c.checks_per_user == CHECKS_PER_USER_DEFAULT && c.check_deadline_usec == CHECK_DEADLINE_DEFAULT_USEC);
        config_done(&c);

        c = parse("");
        CHECK(c.check_cpu_per_user_usec == CHECK_CPU_PER_USER_DEFAULT_USEC &&
              c.check_cpu_window_usec == CHECK_CPU_WINDOW_DEFAULT_USEC);
        config_done(&c);

        c = parse("[Check]\nCPUPerUserSec=1.5s\nCPUWindowSec=1h\n");
        CHECK(c.check_cpu_per_user_usec == 1500000 && c.check_cpu_window_usec == 3600 * USEC);
        config_done(&c);

        /* no CPU at all and windows under a second keep the defaults */
        c = parse("[Check]\nCPUPerUserSec=0\nCPUPerUserSec=often\nCPUWindowSec=10ms\n");
        CHECK(c.check_cpu_per_user_usec == CHECK_CPU_PER_USER_DEFAULT_USEC &&
              c.check_cpu_window_usec == CHECK_CPU_WINDOW_DEFAULT_USEC);
        config_done(&c);
}

static void test_probe_on_boot(void) {
        Config c;

        c = parse("");
        CHECK(c.probe_on_boot);
        config_done(&c);

        c = parse("[Sweep]\nProbeOnBoot=no\n");
        CHECK(!c.probe_on_boot);
        config_done(&c);

        /* systemd's spellings, any case; what is none of them keeps what was there */
        c = parse("[Sweep]\nProbeOnBoot=OFF\nProbeOnBoot=maybe\n");
        CHECK(!c.probe_on_boot);
        config_done(&c);
        c = parse("[Sweep]\nProbeOnBoot=0\nProbeOnBoot=True\n");
        CHECK(c.probe_on_boot);
        config_done(&c);
}

static void test_missing_file(void) {
        Config c;

        config_defaults(&c);
        CHECK(config_parse_file("/nonexistent/smapsauditd.conf", &c) == 0);
        CHECK(c.interval_usec == SWEEP_INTERVAL_DEFAULT_USEC);
        config_done(&c);
}

static void write_file(const char *dir, const char *name, const char *text) {
        _cleanup_free_ char *path = NULL;
        FILE *f;

        CHECK(asprintf(&path, "%s/%s", dir, name) >= 0);
        f = fopen(path, "we");
        CHECK(f);
        if (f) {
                fputs(text, f);
                fclose(f);
        }
}

/* Drop-ins as systemd orders them: by file name across directories, the first directory's
 * file of a name wins, a link to /dev/null masks the name, only *.conf counts. */
static void test_dropins(void) {
        char base[] = "/tmp/test-conf-XXXXXX";
        _cleanup_free_ char *etc = NULL, *run = NULL, *usr = NULL, *main_path = NULL, *own = NULL;
        _cleanup_free_ char *masked = NULL, *joined = NULL;
        char **list = NULL;
        Config c;

        CHECK(mkdtemp(base));
        CHECK(asprintf(&etc, "%s/etc", base) >= 0 && asprintf(&run, "%s/run", base) >= 0 &&
              asprintf(&usr, "%s/usr", base) >= 0);
        CHECK(mkdir(etc, 0755) == 0 && mkdir(run, 0755) == 0 && mkdir(usr, 0755) == 0);
        write_file(usr, "10-vendor.conf", "[Sweep]\nInterval=1min\nTier=full\n");
        write_file(usr, "50-both.conf", "[Sweep]\nInterval=2min\n");
        write_file(etc, "50-both.conf", "[Sweep]\nInterval=3min\n");
        write_file(run, "20-runtime.conf", "[Sweep]\nCPUBudgetPercent=5\n");
        write_file(usr, "30-masked.conf", "[Sweep]\nMaxProcessesPerSweep=7\n");
        write_file(etc, "99-notes.txt", "[Sweep]\nInterval=9min\n");
        CHECK(asprintf(&masked, "%s/30-masked.conf", etc) >= 0 && symlink("/dev/null", masked) == 0);

        const char *const dirs[] = { etc, run, "/nonexistent", usr };
        CHECK(config_dropins_list(dirs, ELEMENTSOF(dirs), &list) == 0);
        joined = strv_join(list, " ");
        CHECK(joined);
        if (joined) {
                char expect[512];

                snprintf(expect, sizeof(expect), "%s/10-vendor.conf %s/20-runtime.conf %s/50-both.conf", usr, run, etc);
                CHECK(streq(joined, expect));
        }
        strv_free(list);

        /* Another main file than the default: its own FILE.d, after FILE. */
        CHECK(asprintf(&main_path, "%s/smapsauditd.conf", base) >= 0 && asprintf(&own, "%s.d", main_path) >= 0);
        write_file(base, "smapsauditd.conf", "[Sweep]\nInterval=4min\nMaxProcessesPerSweep=9\n");
        CHECK(mkdir(own, 0755) == 0);
        write_file(own, "60-late.conf", "[Sweep]\nInterval=6min\n");
        write_file(own, "40-early.conf", "[Sweep]\nInterval=5min\nCPUBudgetPercent=2\n");
        list = NULL;
        CHECK(config_load(main_path, &c, &list) == 0);
        CHECK(c.interval_usec == 360 * USEC && c.cpu_budget_percent == 2 && c.max_processes_per_sweep == 9);
        CHECK(list && list[0] && list[1] && !list[2]);
        config_done(&c);
        strv_free(list);

        /* No main file: its drop-ins still apply over the defaults. */
        CHECK(unlink(main_path) == 0);
        CHECK(config_load(main_path, &c, NULL) == 0);
        CHECK(c.interval_usec == 360 * USEC && c.max_processes_per_sweep == MAX_PROCESSES_DEFAULT);
        config_done(&c);

        {
                char cmd[128];

                snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
                CHECK(system(cmd) == 0);
        }
}

int main(void) {
        test_time_span();
        test_format();
        test_parse();
        test_metrics_and_journal();
        test_check();
        test_probe_on_boot();
        test_missing_file();
        test_dropins();
        return test_summary("conf");
}
