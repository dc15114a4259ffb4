/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GET /metrics over HTTP (libmicrohttpd), for a Prometheus that scrapes the
 * daemon directly instead of through node_exporter's textfile collector.
 * It runs on the daemon's event loop (MHD's epoll fd is one of its event
 * sources): no thread, so the metrics text needs no lock. Off unless
 * systemd passes a socket (smapsauditd-metrics.socket) or [Metrics]
 * ListenAddress= is set; a port alone binds 127.0.0.1. */
#pragma once

#include <stddef.h>
#include <systemd/sd-event.h>

typedef struct MetricsHttp MetricsHttp;

/* The text to serve, borrowed until the next call. */
typedef const char *(*metrics_text_fn)(void *userdata, size_t *ret_size);

/* -EOPNOTSUPP when built without libmicrohttpd. */
int metrics_http_new(sd_event *event, const char *listen_address, metrics_text_fn get, void *userdata,
                     MetricsHttp **ret);
/* On a listening socket someone else bound (systemd's socket activation): the daemon needs no
 * address family of its own to serve it. The socket is MHD's from then on: it closes it. */
int metrics_http_new_fd(sd_event *event, int fd, metrics_text_fn get, void *userdata, MetricsHttp **ret);
MetricsHttp *metrics_http_free(MetricsHttp *h);
