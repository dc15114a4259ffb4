/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "log.h"
#include "macro.h"
#include "parse-number.h"

#define USEC_PER_SEC UINT64_C(1000000)

static const struct {
        const char *suffix;
        uint64_t usec;
} time_units[] = {
        { "usec", 1 },
        { "us", 1 },
        { "msec", 1000 },
        { "ms", 1000 },
        { "seconds", USEC_PER_SEC },
        { "second", USEC_PER_SEC },
        { "sec", USEC_PER_SEC },
        { "s", USEC_PER_SEC },
        { "minutes", 60 * USEC_PER_SEC },
        { "minute", 60 * USEC_PER_SEC },
        { "min", 60 * USEC_PER_SEC },
        { "m", 60 * USEC_PER_SEC },
        { "hours", 3600 * USEC_PER_SEC },
        { "hour", 3600 * USEC_PER_SEC },
        { "hr", 3600 * USEC_PER_SEC },
        { "h", 3600 * USEC_PER_SEC },
        { "days", 86400 * USEC_PER_SEC },
        { "day", 86400 * USEC_PER_SEC },
        { "d", 86400 * USEC_PER_SEC },
};

void config_defaults(Config *c) {
        *c = (Config) {
                .interval_usec = SWEEP_INTERVAL_DEFAULT_USEC,
                .cpu_budget_percent = CPU_BUDGET_PERCENT_DEFAULT,
                .max_processes_per_sweep = MAX_PROCESSES_DEFAULT,
                .probe_on_boot = true,
                .textfile_path = strdup(METRICS_TEXTFILE_DEFAULT),
                .textfile_path_is_default = true,
                .journal_rate_interval_usec = JOURNAL_RATE_INTERVAL_DEFAULT_USEC,
                .journal_rate_burst = JOURNAL_RATE_BURST_DEFAULT,
                .checks_per_user = CHECKS_PER_USER_DEFAULT,
                .check_deadline_usec = CHECK_DEADLINE_DEFAULT_USEC,
                .check_cpu_per_user_usec = CHECK_CPU_PER_USER_DEFAULT_USEC,
                .check_cpu_window_usec = CHECK_CPU_WINDOW_DEFAULT_USEC,
        };
}

void config_done(Config *c) {
        free(c->textfile_path);
        free(c->listen_address);
        c->textfile_path = c->listen_address = NULL;
}

static int parse_unsigned(const char *s, unsigned *ret) {
        uint64_t v;
        int r;

        r = parse_u64_range(s, 0, UINT_MAX, &v);
        if (r < 0)
                return r;
        *ret = (unsigned) v;
        return 0;
}

static int parse_port(const char *s, uint16_t *ret) {
        uint64_t v;

        if (parse_u64_range(s, 1, 65535, &v) < 0)
                return -EINVAL;
        *ret = (uint16_t) v;
        return 0;
}

int parse_listen_address(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len) {
        char host[INET6_ADDRSTRLEN + 1];
        const char *port;
        uint16_t p;
        size_t n;

        *ret = (struct sockaddr_storage) {};
        if (s[0] == '[') {
                const char *close = strchr(s, ']');

                if (!close || close[1] != ':')
                        return -EINVAL;
                n = (size_t) (close - s - 1);
                port = close + 2;
                if (n == 0 || n >= sizeof(host))
                        return -EINVAL;
                memcpy(host, s + 1, n);
                host[n] = 0;
                if (parse_port(port, &p) < 0)
                        return -EINVAL;

                struct sockaddr_in6 *a = (struct sockaddr_in6 *) ret;
                a->sin6_family = AF_INET6;
                a->sin6_port = htons(p);
                if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
                        return -EINVAL;
                *ret_len = sizeof(*a);
                return 0;
        }

        struct sockaddr_in *a = (struct sockaddr_in *) ret;
        a->sin_family = AF_INET;
        port = strrchr(s, ':');
        if (!port) {
                /* A port alone: loopback. */
                a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                port = s;
        } else {
                n = (size_t) (port - s);
                port++;
                if (n == 0 || n >= sizeof(host))
                        return -EINVAL;
                memcpy(host, s, n);
                host[n] = 0;
                if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
                        return -EINVAL;
        }
        if (parse_port(port, &p) < 0)
                return -EINVAL;
        a->sin_port = htons(p);
        *ret_len = sizeof(*a);
        return 0;
}

int parse_time_span(const char *s, uint64_t *ret_usec) {
        uint64_t total = 0;
        bool any = false;

        for (;;) {
                const char *unit;
                char *end;
                double v;
                size_t i, len;

                while (isspace((unsigned char) *s))
                        s++;
                if (!*s)
                        break;
                if (!isdigit((unsigned char) *s) && *s != '.')
                        return -EINVAL;

                errno = 0;
                v = strtod(s, &end);
                if (errno != 0 || end == s || v < 0)
                        return -EINVAL;

                while (isspace((unsigned char) *end))
                        end++;
                unit = end;
                while (isalpha((unsigned char) *end))
                        end++;
                len = (size_t) (end - unit);

                if (len == 0) {
                        /* Like systemd: a bare number is seconds. */
                        i = ELEMENTSOF(time_units);
                        v *= USEC_PER_SEC;
                } else {
                        for (i = 0; i < ELEMENTSOF(time_units); i++)
                                if (strlen(time_units[i].suffix) == len &&
                                    strncmp(unit, time_units[i].suffix, len) == 0)
                                        break;
                        if (i == ELEMENTSOF(time_units))
                                return -EINVAL;
                        v *= (double) time_units[i].usec;
                }

                if (v >= (double) (UINT64_MAX - total))
                        return -ERANGE;
                total += (uint64_t) (v + 0.5);
                any = true;
                s = end;
        }

        if (!any)
                return -EINVAL;
        *ret_usec = total;
        return 0;
}

char *format_time_span(char *buf, size_t size, uint64_t usec, uint64_t accuracy_usec) {
        static const struct {
                const char *suffix;
                uint64_t usec;
        } parts[] = {
                { "d", 86400 * USEC_PER_SEC },
                { "h", 3600 * USEC_PER_SEC },
                { "min", 60 * USEC_PER_SEC },
                { "s", USEC_PER_SEC },
                { "ms", 1000 },
                { "us", 1 },
        };
        size_t n = 0;

        if (size == 0)
                return buf;
        buf[0] = 0;
        if (accuracy_usec > 1)
                usec = (usec + accuracy_usec / 2) / accuracy_usec * accuracy_usec;
        if (usec == 0) {
                snprintf(buf, size, "0");
                return buf;
        }

        for (size_t i = 0; i < ELEMENTSOF(parts) && usec > 0; i++) {
                uint64_t k = usec / parts[i].usec;
                int w;

                if (k == 0)
                        continue;
                w = snprintf(buf + n, size - n, "%s%" PRIu64 "%s", n > 0 ? " " : "", k, parts[i].suffix);
                if (w < 0 || (size_t) w >= size - n) {
                        buf[n] = 0;   /* whole parts only */
                        break;
                }
                n += (size_t) w;
                usec -= k * parts[i].usec;
        }
        return buf;
}

static char *strip(char *s) {
        char *e;

        while (isspace((unsigned char) *s))
                s++;
        e = s + strlen(s);
        while (e > s && isspace((unsigned char) e[-1]))
                *--e = 0;
        return s;
}

/* systemd's spellings of a boolean. */
static int parse_boolean(const char *s, bool *ret) {
        static const char *const yes[] = { "1", "yes", "y", "true", "t", "on" },
                          *const no[] = { "0", "no", "n", "false", "f", "off" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(s, yes[i]) == 0 || strcasecmp(s, no[i]) == 0) {
                        *ret = strcasecmp(s, yes[i]) == 0;
                        return 0;
                }
        return -EINVAL;
}

static int parse_percent(const char *s, double *ret) {
        char *end;
        double v;

        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || end == s)
                return -EINVAL;
        if (*end == '%')
                end++;
        if (*end != 0)
                return -EINVAL;
        if (!(v > 0 && v <= 100))
                return -ERANGE;
        *ret = v;
        return 0;
}


typedef enum Section {
        SECTION_NONE,
        SECTION_SWEEP,
        SECTION_METRICS,
        SECTION_JOURNAL,
        SECTION_CHECK,
} Section;

static const char *const section_names[] = {
        [SECTION_SWEEP] = "Sweep",
        [SECTION_METRICS] = "Metrics",
        [SECTION_JOURNAL] = "Journal",
        [SECTION_CHECK] = "Check",
};

static void parse_sweep(Config *c, const char *fname, unsigned line, const char *key, const char *value) {
        int r;

        if (streq(key, "Interval")) {
                uint64_t usec;

                r = parse_time_span(value, &usec);
                if (r >= 0 && usec < SWEEP_INTERVAL_MIN_USEC)
                        r = -ERANGE;
                if (r < 0) {
                        log_warning("%s:%u: Interval=%s is not a time span of at least 1s, ignoring.", fname, line, value);
                        return;
                }
                c->interval_usec = usec;
        } else if (streq(key, "CPUBudgetPercent")) {
                r = parse_percent(value, &c->cpu_budget_percent);
                if (r < 0)
                        log_warning("%s:%u: CPUBudgetPercent=%s is not a percentage in (0, 100], ignoring.", fname, line, value);
        } else if (streq(key, "Tier")) {
                if (streq(value, "fast") || streq(value, "full"))
                        c->full_tier = streq(value, "full");
                else
                        log_warning("%s:%u: Tier=%s is neither fast nor full, ignoring.", fname, line, value);
        } else if (streq(key, "ProbeOnBoot")) {
                r = parse_boolean(value, &c->probe_on_boot);
                if (r < 0)
                        log_warning("%s:%u: ProbeOnBoot=%s is not a boolean, ignoring.", fname, line, value);
        } else if (streq(key, "MaxProcessesPerSweep")) {
                r = parse_unsigned(value, &c->max_processes_per_sweep);
                if (r < 0)
                        log_warning("%s:%u: MaxProcessesPerSweep=%s is not a count, ignoring.", fname, line, value);
        } else
                log_warning("%s:%u: unknown key %s= in [Sweep], ignoring.", fname, line, key);
}

/* An empty value switches the output off; anything else replaces the old. */
static void set_string(char **p, const char *value) {
        char *s = NULL;

        if (*value && !(s = strdup(value))) {
                log_warning("Out of memory, ignoring %s.", value);
                return;
        }
        free(*p);
        *p = s;
}

static void parse_metrics(Config *c, const char *fname, unsigned line, const char *key, const char *value) {
        struct sockaddr_storage sa;
        socklen_t len;

        if (streq(key, "TextfilePath")) {
                if (*value && (value[0] != '/' || value[strlen(value) - 1] == '/')) {
                        log_warning("%s:%u: TextfilePath=%s is not an absolute file name, ignoring.", fname, line, value);
                        return;
                }
                set_string(&c->textfile_path, value);
                c->textfile_path_is_default = false;
        } else if (streq(key, "ListenAddress")) {
                if (*value && parse_listen_address(value, &sa, &len) < 0) {
                        log_warning("%s:%u: ListenAddress=%s is not ADDRESS:PORT or PORT, ignoring.", fname, line, value);
                        return;
                }
                set_string(&c->listen_address, value);
        } else
                log_warning("%s:%u: unknown key %s= in [Metrics], ignoring.", fname, line, key);
}

static void parse_journal(Config *c, const char *fname, unsigned line, const char *key, const char *value) {
        int r;

        if (streq(key, "RateLimitIntervalSec")) {
                r = parse_time_span(value, &c->journal_rate_interval_usec);
                if (r < 0)
                        log_warning("%s:%u: RateLimitIntervalSec=%s is not a time span, ignoring.", fname, line, value);
        } else if (streq(key, "RateLimitBurst")) {
                r = parse_unsigned(value, &c->journal_rate_burst);
                if (r < 0)
                        log_warning("%s:%u: RateLimitBurst=%s is not a count, ignoring.", fname, line, value);
        } else
                log_warning("%s:%u: unknown key %s= in [Journal], ignoring.", fname, line, key);
}

static void parse_check_span(uint64_t *ret, uint64_t min_usec, const char *fname, unsigned line, const char *key,
                             const char *value) {
        char min[64];
        uint64_t usec;

        if (parse_time_span(value, &usec) < 0 || usec < min_usec) {
                log_warning("%s:%u: %s=%s is not a time span of at least %s, ignoring.", fname, line, key, value,
                            format_time_span(min, sizeof(min), min_usec, 0));
                return;
        }
        *ret = usec;
}

static void parse_check(Config *c, const char *fname, unsigned line, const char *key, const char *value) {
        unsigned n;

        if (streq(key, "MaxPerUser")) {
                if (parse_unsigned(value, &n) < 0 || n == 0 || n > CHECK_CALLS_MAX) {
                        log_warning("%s:%u: MaxPerUser=%s is not a count from 1 to %u, ignoring.", fname, line, value,
                                    CHECK_CALLS_MAX);
                        return;
                }
                c->checks_per_user = n;
        } else if (streq(key, "DeadlineSec"))
                parse_check_span(&c->check_deadline_usec, UINT64_C(1000000), fname, line, key, value);
        else if (streq(key, "CPUPerUserSec"))
                parse_check_span(&c->check_cpu_per_user_usec, 1000, fname, line, key, value);
        else if (streq(key, "CPUWindowSec"))
                parse_check_span(&c->check_cpu_window_usec, UINT64_C(1000000), fname, line, key, value);
        else
                log_warning("%s:%u: unknown key %s= in [Check], ignoring.", fname, line, key);
}

static void parse_assignment(Config *c, Section section, const char *fname, unsigned line, const char *key,
                             const char *value) {
        switch (section) {
        case SECTION_SWEEP:
                parse_sweep(c, fname, line, key, value);
                break;
        case SECTION_METRICS:
                parse_metrics(c, fname, line, key, value);
                break;
        case SECTION_JOURNAL:
                parse_journal(c, fname, line, key, value);
                break;
        case SECTION_CHECK:
                parse_check(c, fname, line, key, value);
                break;
        default:
                log_warning("%s:%u: assignment outside a known section, ignoring.", fname, line);
        }
}

static Section section_from_name(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(section_names); i++)
                if (section_names[i] && streq(section_names[i], name))
                        return (Section) i;
        return SECTION_NONE;
}

int config_parse(FILE *f, const char *fname, Config *c) {
        _cleanup_free_ char *buf = NULL;
        size_t allocated = 0;
        Section section = SECTION_NONE;
        unsigned line = 0;

        for (;;) {
                char *l, *eq;
                ssize_t k;

                errno = 0;
                k = getline(&buf, &allocated, f);
                if (k < 0) {
                        if (errno != 0)
                                return log_error_errno(errno, "Failed to read %s: %m", fname);
                        break;
                }
                line++;

                l = strip(buf);
                if (l[0] == 0 || l[0] == '#' || l[0] == ';')
                        continue;

                if (l[0] == '[') {
                        size_t n = strlen(l);

                        if (l[n - 1] != ']') {
                                log_warning("%s:%u: bad section header, ignoring.", fname, line);
                                section = SECTION_NONE;
                                continue;
                        }
                        l[n - 1] = 0;
                        section = section_from_name(l + 1);
                        if (section == SECTION_NONE)
                                log_warning("%s:%u: unknown section [%s], ignoring.", fname, line, l + 1);
                        continue;
                }

                if (section == SECTION_NONE) {
                        log_warning("%s:%u: assignment outside a known section, ignoring.", fname, line);
                        continue;
                }

                eq = strchr(l, '=');
                if (!eq) {
                        log_warning("%s:%u: missing '=', ignoring.", fname, line);
                        continue;
                }
                *eq = 0;
                parse_assignment(c, section, fname, line, strip(l), strip(eq + 1));
        }

        return 0;
}

int config_parse_file(const char *path, Config *c) {
        _cleanup_fclose_ FILE *f = NULL;

        f = fopen(path, "re");
        if (!f) {
                if (errno == ENOENT) {
                        log_debug("%s does not exist, using the defaults.", path);
                        return 0;
                }
                return log_error_errno(errno, "Failed to open %s: %m", path);
        }

        return config_parse(f, path, c);
}
