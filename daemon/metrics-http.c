/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "config.h"
#include "log.h"
#include "macro.h"
#include "metrics-http.h"

#if HAVE_MICROHTTPD
#include <microhttpd.h>

#define CONNECTIONS_MAX 16u
#define CONNECTION_TIMEOUT_SEC 10u
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct MetricsHttp {
        struct MHD_Daemon *daemon;
        sd_event *event;
        sd_event_source *io, *timer;
        metrics_text_fn get;
        void *userdata;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *text, size_t size,
                             const char *content_type) {
        struct MHD_Response *resp;
        enum MHD_Result r;

        resp = MHD_create_response_from_buffer(size, (void *) text, MHD_RESPMEM_MUST_COPY);
        if (!resp)
                return MHD_NO;
        (void) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
        r = MHD_queue_response(c, status, resp);
        MHD_destroy_response(resp);
        return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
        static const char not_found[] = "Not found: metrics are at /metrics.\n";
        static const char bad_method[] = "Only GET and HEAD.\n";
        MetricsHttp *h = cls;
        const char *text;
        size_t size = 0;

        if (!streq(method, MHD_HTTP_METHOD_GET) && !streq(method, MHD_HTTP_METHOD_HEAD))
                return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, bad_method, sizeof(bad_method) - 1, "text/plain");
        if (!streq(url, "/metrics"))
                return reply(c, MHD_HTTP_NOT_FOUND, not_found, sizeof(not_found) - 1, "text/plain");

        text = h->get(h->userdata, &size);
        return reply(c, MHD_HTTP_OK, text ?: "", text ? size : 0, CONTENT_TYPE);
}

static void reschedule(MetricsHttp *h) {
        MHD_UNSIGNED_LONG_LONG msec;
        uint64_t now;

        if (MHD_get_timeout(h->daemon, &msec) != MHD_YES) {
                (void) sd_event_source_set_enabled(h->timer, SD_EVENT_OFF);
                return;
        }
        if (sd_event_now(h->event, CLOCK_MONOTONIC, &now) < 0)
                return;
        (void) sd_event_source_set_time(h->timer, now + (uint64_t) msec * 1000);
        (void) sd_event_source_set_enabled(h->timer, SD_EVENT_ONESHOT);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        MetricsHttp *h = userdata;

        (void) MHD_run(h->daemon);
        reschedule(h);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        return on_io(s, -1, 0, userdata);
}

/* Starts MHD with listen (where to listen) and the options every endpoint has; what names it in
 * the log. */
static int start(sd_event *event, unsigned flags, struct MHD_OptionItem listen, const char *what,
                 metrics_text_fn get, void *userdata, MetricsHttp **ret) {
        struct MHD_OptionItem options[] = {
                listen,
                { MHD_OPTION_CONNECTION_LIMIT, CONNECTIONS_MAX, NULL },
                { MHD_OPTION_CONNECTION_TIMEOUT, CONNECTION_TIMEOUT_SEC, NULL },
                { MHD_OPTION_END, 0, NULL },
        };
        const union MHD_DaemonInfo *info;
        MetricsHttp *h;
        int r;

        h = calloc(1, sizeof(MetricsHttp));
        if (!h)
                return -ENOMEM;
        h->event = sd_event_ref(event);
        h->get = get;
        h->userdata = userdata;

        h->daemon = MHD_start_daemon(flags | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, h,
                                     MHD_OPTION_ARRAY, options, MHD_OPTION_END);
        if (!h->daemon) {
                /* MHD says why on stderr (MHD_USE_ERROR_LOG); errno is often EADDRINUSE. */
                r = errno > 0 ? -errno : -EADDRNOTAVAIL;
                goto fail;
        }

        info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info) {
                r = -EIO;
                goto fail;
        }
        r = sd_event_add_io(event, &h->io, info->epoll_fd, EPOLLIN, on_io, h);
        if (r >= 0)
                r = sd_event_add_time(event, &h->timer, CLOCK_MONOTONIC, UINT64_MAX, 0, on_timer, h);
        if (r < 0)
                goto fail;
        (void) sd_event_source_set_description(h->io, "metrics-http");
        (void) sd_event_source_set_description(h->timer, "metrics-http-timer");
        reschedule(h);

        info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
        log_info("Serving metrics at /metrics on %s (port %u).", what, info ? info->port : 0u);
        *ret = h;
        return 0;

fail:
        metrics_http_free(h);
        return r;
}

int metrics_http_new(sd_event *event, const char *listen_address, metrics_text_fn get, void *userdata,
                     MetricsHttp **ret) {
        struct sockaddr_storage sa;
        socklen_t len;
        int r;

        r = parse_listen_address(listen_address, &sa, &len);
        if (r < 0)
                return r;
        return start(event, sa.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0,
                     (struct MHD_OptionItem) { MHD_OPTION_SOCK_ADDR, 0, &sa }, listen_address, get, userdata, ret);
}

int metrics_http_new_fd(sd_event *event, int fd, metrics_text_fn get, void *userdata, MetricsHttp **ret) {
        return start(event, 0, (struct MHD_OptionItem) { MHD_OPTION_LISTEN_SOCKET, fd, NULL },
                     "the socket systemd passed", get, userdata, ret);
}

MetricsHttp *metrics_http_free(MetricsHttp *h) {
        if (!h)
                return NULL;
        sd_event_source_disable_unref(h->io);
        sd_event_source_disable_unref(h->timer);
        if (h->daemon)
                MHD_stop_daemon(h->daemon);
        sd_event_unref(h->event);
        free(h);
        return NULL;
}

#else

int metrics_http_new(sd_event *event, const char *listen_address, metrics_text_fn get, void *userdata,
                     MetricsHttp **ret) {
        return -EOPNOTSUPP;
}

int metrics_http_new_fd(sd_event *event, int fd, metrics_text_fn get, void *userdata, MetricsHttp **ret) {
        return -EOPNOTSUPP;
}

MetricsHttp *metrics_http_free(MetricsHttp *h) {
        return NULL;
}

#endif
