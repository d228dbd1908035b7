/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>
#include <glib.h>

#include "callstats.h"
#include "model.h"

/* The Prometheus endpoint (docs/observability.md): GET /metrics on an
 * HTTP server of its own thread (metrics-http.c).  A scrape is served from
 * a text rendered at most cache_seconds ago; otherwise the HTTP thread asks
 * the main loop for a fresh one and waits (bounded) while the main loop
 * collects: what it owns (objects, the image cache, import slots, D-Bus
 * calls) at once, libvirt's domain statistics on a libvirt thread of the
 * endpoint's own, storage capacity and the process' figures on the worker
 * pool.  Nothing of a scrape runs on the main loop but the collection's
 * bookkeeping. */
typedef struct Metrics Metrics;

typedef struct MetricsSettings {
        char *listen;                   /* [Metrics] Listen=ADDRESS:PORT; NULL: no address of our own */
        char *token_file;               /* [Metrics] BearerTokenFile=: scrapes must bring its token */
        char *tls_cert_file;            /* [Metrics] TLSCertificateFile=: HTTPS with this (PEM) ... */
        char *tls_key_file;             /* ... and TLSKeyFile= */
        char *tls_client_ca_file;       /* [Metrics] TLSClientCAFile=: scrapers must show a certificate
                                         * these (PEM: CAs or the scrapers' own) vouch for */
        unsigned cache_seconds;         /* [Metrics] CacheSeconds=: a text is served this long */
        unsigned max_connections;       /* [Metrics] MaxConnections= */
        unsigned timeout;               /* [Metrics] Timeout=: seconds a connection may idle, and a
                                         * scrape waits for a collection */
} MetricsSettings;

#define METRICS_DEFAULT_CACHE_SECONDS 5
#define METRICS_DEFAULT_MAX_CONNECTIONS 16
#define METRICS_DEFAULT_TIMEOUT 10

void metrics_settings_clear(MetricsSettings *s);

/* "127.0.0.1:9842", "[::1]:9842" (a numeric address, a port from 1). */
int metrics_parse_listen(const char *text, struct sockaddr_storage *ret, socklen_t *ret_len);

/* Serve on settings->listen, or on listen_fd (a socket systemd passed,
 * which wins) when it is >= 0.  libvirt_uri: where domain statistics come
 * from.  calls: the D-Bus calls counted (may be NULL). */
int metrics_new(sd_event *event, Model *model, CallStats *calls, const char *libvirt_uri,
                const MetricsSettings *settings, int listen_fd, Metrics **ret, GError **error);
Metrics *metrics_free(Metrics *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Metrics, metrics_free)

/* --- between metrics.c and metrics-http.c --- */

/* On the HTTP thread: the text to serve (a reference), NULL when no
 * collection finished in time. */
GBytes *metrics_text(Metrics *m);

typedef struct MetricsHttp MetricsHttp;
/* The server, on a thread of its own; token NULL: no token asked. */
int metrics_http_start(Metrics *m, const MetricsSettings *s, const char *token, int listen_fd, MetricsHttp **ret,
                       GError **error);
MetricsHttp *metrics_http_stop(MetricsHttp *h);
