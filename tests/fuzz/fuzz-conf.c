/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * smapsauditd's configuration file on anything: config_parse() of the input,
 * then the values it keeps must be values the daemon can use, and the time
 * span and listen address parsers on the input as one string.
 */
#include <stdbool.h>
#include <sys/socket.h>

#include "conf.h"
#include "log.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *buf = fuzz_string(data, size), span[64];
        struct sockaddr_storage sa;
        socklen_t sa_len;
        uint64_t usec;
        Config c;
        FILE *f;

        /* bad lines are logged and skipped: millions of warnings say nothing here */
        log_set_max_level(LOG_EMERG);
        config_defaults(&c);
        f = fmemopen(size ? (void *) data : (void *) "", size, "r");
        if (!f)
                abort();
        fuzz_assert(config_parse(f, "fuzz.conf", &c) >= 0);
        fclose(f);
        fuzz_assert(c.interval_usec >= 1000000);
        fuzz_assert(c.cpu_budget_percent > 0 && c.cpu_budget_percent <= 100);
        fuzz_assert(!c.textfile_path || !c.textfile_path[0] || c.textfile_path[0] == '/');
        fuzz_assert(!c.listen_address || parse_listen_address(c.listen_address, &sa, &sa_len) >= 0);
        config_done(&c);

        if (parse_time_span(buf, &usec) >= 0)
                fuzz_assert(format_time_span(span, sizeof(span), usec, 1) != NULL);
        (void) parse_listen_address(buf, &sa, &sa_len);
        free(buf);
        return 0;
}
