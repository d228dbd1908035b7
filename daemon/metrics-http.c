/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The metrics endpoint's HTTP side: libmicrohttpd with its internal
 * polling thread (epoll), so an idle or slow client holds a connection slot
 * and nothing else: connections are limited in number, in memory (which
 * bounds a request's header) and in idle time.  Only GET /metrics without
 * a body is answered with the metrics. */
#include <arpa/inet.h>
#include <microhttpd.h>

#include "metrics.h"
#include "util.h"

#define CONNECTION_MEMORY (16u * 1024)  /* a request's line and header fit in this */
#define PER_IP_CONNECTIONS 8
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct MetricsHttp {
        struct MHD_Daemon *mhd;
        Metrics *metrics;
        char *token;                    /* NULL: none asked */
};

/* Equal strings, in time that depends on their lengths only. */
static bool token_equal(const char *given, const char *want) {
        size_t a = strlen(given), b = strlen(want);
        unsigned char diff = a != b;

        for (size_t i = 0; i < b; i++)
                diff |= (unsigned char) (i < a ? given[i] : 0) ^ (unsigned char) want[i];
        return diff == 0;
}

static bool authorized(MetricsHttp *h, struct MHD_Connection *c) {
        const char *auth;

        if (!h->token)
                return true;
        auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        if (!auth || g_ascii_strncasecmp(auth, "Bearer ", 7) != 0)
                return false;
        auth += 7;
        while (*auth == ' ')
                auth++;
        return token_equal(auth, h->token);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *text, const char *header,
                             const char *value) {
        struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *) text,
                                                                 MHD_RESPMEM_PERSISTENT);
        enum MHD_Result ret;

        if (!r)
                return MHD_NO;
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
        if (header)
                MHD_add_response_header(r, header, value);
        ret = MHD_queue_response(c, status, r);
        MHD_destroy_response(r);
        return ret;
}

static void unref_bytes(void *cls) {
        g_bytes_unref(cls);
}

/* HEAD too: libmicrohttpd leaves the body out itself. */
static enum MHD_Result serve(MetricsHttp *h, struct MHD_Connection *c) {
        GBytes *text = metrics_text(h->metrics);
        struct MHD_Response *r;
        enum MHD_Result ret;
        gsize len;

        if (!text)
                return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "the daemon did not collect its metrics in time\n",
                             MHD_HTTP_HEADER_RETRY_AFTER, "5");
        const char *data = g_bytes_get_data(text, &len);
        r = MHD_create_response_from_buffer_with_free_callback_cls(len, (void *) data, unref_bytes, text);
        if (!r) {
                g_bytes_unref(text);
                return MHD_NO;
        }
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        ret = MHD_queue_response(c, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ret;
}

static bool has_body(struct MHD_Connection *c) {
        const char *length = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        return MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) ||
               (length && !streq(length, "0"));
}

/* Called once the request's header is in: every request is answered then,
 * a body never read. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **req_cls) {
        MetricsHttp *h = cls;

        if (*req_cls)
                return MHD_NO;  /* a body came after the answer: close */
        *req_cls = h;
        if (!streq(url, "/metrics"))
                return reply(c, MHD_HTTP_NOT_FOUND, "only /metrics is served here\n", NULL, NULL);
        if (!streq(method, MHD_HTTP_METHOD_GET) && !streq(method, MHD_HTTP_METHOD_HEAD))
                return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET is served here\n", MHD_HTTP_HEADER_ALLOW,
                             "GET, HEAD");
        if (has_body(c))
                return reply(c, MHD_HTTP_CONTENT_TOO_LARGE, "a scrape has no body\n", MHD_HTTP_HEADER_CONNECTION,
                             "close");
        if (!authorized(h, c))
                return reply(c, MHD_HTTP_UNAUTHORIZED, "a bearer token is needed\n", MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                             "Bearer realm=\"edgevirt\"");
        return serve(h, c);
}

int metrics_http_start(Metrics *m, const MetricsSettings *s, const char *token, int listen_fd, MetricsHttp **ret,
                       GError **error) {
        g_autofree MetricsHttp *h = g_new0(MetricsHttp, 1);
        struct sockaddr_storage addr;
        socklen_t addr_len;
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
        struct MHD_OptionItem options[] = {
                { MHD_OPTION_LISTEN_SOCKET, listen_fd, NULL },  /* or the address, below */
                { MHD_OPTION_CONNECTION_LIMIT, s->max_connections, NULL },
                { MHD_OPTION_PER_IP_CONNECTION_LIMIT, MIN(s->max_connections, PER_IP_CONNECTIONS), NULL },
                { MHD_OPTION_CONNECTION_TIMEOUT, s->timeout, NULL },
                { MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONNECTION_MEMORY, NULL },
                { MHD_OPTION_END, 0, NULL },
        };

        if (listen_fd < 0) {
                if (metrics_parse_listen(s->listen, &addr, &addr_len) < 0)
                        return ev_error_set(error, EINVAL, "[Metrics] Listen=%s is not ADDRESS:PORT", s->listen);
                if (addr.ss_family == AF_INET6)
                        flags |= MHD_USE_IPv6;
                options[0] = (struct MHD_OptionItem) { MHD_OPTION_SOCK_ADDR, 0, &addr };
        }
        h->metrics = m;
        h->token = g_strdup(token);     /* before the first request can come */
        h->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_ARRAY, options, MHD_OPTION_END);
        if (!h->mhd) {
                g_free(h->token);
                return ev_error_set(error, EADDRNOTAVAIL, "cannot serve metrics on %s (is the address in use?)",
                                    listen_fd >= 0 ? "the socket systemd passed" : s->listen);
        }
        *ret = g_steal_pointer(&h);
        return 0;
}

MetricsHttp *metrics_http_stop(MetricsHttp *h) {
        if (!h)
                return NULL;
        MHD_stop_daemon(h->mhd);
        g_free(h->token);
        g_free(h);
        return NULL;
}

int metrics_parse_listen(const char *text, struct sockaddr_storage *ret, socklen_t *ret_len) {
        g_autofree char *host = NULL;
        const char *colon;
        guint64 port;

        if (!text)
                return -EINVAL;
        if (text[0] == '[') {
                const char *end = strchr(text, ']');
                if (!end || end[1] != ':')
                        return -EINVAL;
                host = g_strndup(text + 1, (gsize) (end - text - 1));
                colon = end + 1;
        } else {
                colon = strrchr(text, ':');
                if (!colon)
                        return -EINVAL;
                host = g_strndup(text, (gsize) (colon - text));
        }
        if (!g_ascii_string_to_unsigned(colon + 1, 10, 1, 65535, &port, NULL))
                return -EINVAL;
        memset(ret, 0, sizeof *ret);
        struct sockaddr_in *in = (struct sockaddr_in *) ret;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) ret;
        if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
                in->sin_family = AF_INET;
                in->sin_port = htons((uint16_t) port);
                *ret_len = sizeof *in;
        } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons((uint16_t) port);
                *ret_len = sizeof *in6;
        } else
                return -EINVAL;
        return 0;
}
