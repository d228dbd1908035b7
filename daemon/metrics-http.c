/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The metrics endpoint's HTTP side: libmicrohttpd with its internal
 * polling thread (epoll), so an idle or slow client holds a connection slot
 * and nothing else: connections are limited in number, in memory (which
 * bounds a request's header) and in idle time.  Only GET /metrics without
 * a body is answered with the metrics.  With TLS (GnuTLS inside
 * libmicrohttpd) a client certificate can be asked for: libmicrohttpd
 * requests one, and a request whose certificate does not verify against the
 * configured trust is answered 403. */
#include <arpa/inet.h>
#include <gnutls/gnutls.h>
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
        char *cert, *key, *client_ca;   /* PEM texts; NULL: plain HTTP / no client certificate asked */
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

/* The client's certificate verifies against TLSClientCAFile=: one of its
 * CAs signed it, or it is one of the certificates listed there. */
static bool certificate_trusted(MetricsHttp *h, struct MHD_Connection *c) {
        const union MHD_ConnectionInfo *info;
        unsigned status = 0;

        if (!h->client_ca)
                return true;
        info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        if (!info || !info->tls_session)
                return false;
        if (gnutls_certificate_type_get(info->tls_session) != GNUTLS_CRT_X509)
                return false;
        return gnutls_certificate_verify_peers2(info->tls_session, &status) == GNUTLS_E_SUCCESS && status == 0;
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
        if (!certificate_trusted(h, c))
                return reply(c, MHD_HTTP_FORBIDDEN, "a client certificate the endpoint trusts is needed\n", NULL,
                             NULL);
        if (!authorized(h, c))
                return reply(c, MHD_HTTP_UNAUTHORIZED, "a bearer token is needed\n", MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                             "Bearer realm=\"edgevirt\"");
        return serve(h, c);
}

static void free_pem(char *text) {
        if (text)
                explicit_bzero(text, strlen(text));
        g_free(text);
}

static MetricsHttp *http_free(MetricsHttp *h) {
        if (!h)
                return NULL;
        g_free(h->token);
        free_pem(h->key);
        g_free(h->cert);
        g_free(h->client_ca);
        g_free(h);
        return NULL;
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MetricsHttp, http_free)

static int read_pem(const char *key, const char *path, char **ret, GError **error) {
        g_autoptr(GError) e = NULL;

        if (!path)
                return 0;
        if (!g_file_get_contents(path, ret, NULL, &e))
                return ev_error_set(error, EINVAL, "[Metrics] %s=%s: %s", key, path, e->message);
        if (!strstr(*ret, "-----BEGIN "))
                return ev_error_set(error, EINVAL, "[Metrics] %s=%s: not a PEM file", key, path);
        return 0;
}

/* TLS: MHD_OPTION_HTTPS_MEM_* into options from index i on; the flag. */
static int tls_options(MetricsHttp *h, const MetricsSettings *s, struct MHD_OptionItem *options, unsigned *flags,
                       GError **error) {
        size_t i = 0;

        if (read_pem("TLSCertificateFile", s->tls_cert_file, &h->cert, error) < 0 ||
            read_pem("TLSKeyFile", s->tls_key_file, &h->key, error) < 0 ||
            read_pem("TLSClientCAFile", s->tls_client_ca_file, &h->client_ca, error) < 0)
                return -EINVAL;
        if (!h->cert)
                return 0;
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
                return ev_error_set(error, ENOTSUP, "[Metrics] TLSCertificateFile=: this libmicrohttpd has no TLS");
        *flags |= MHD_USE_TLS;
        options[i++] = (struct MHD_OptionItem) { MHD_OPTION_HTTPS_MEM_CERT, 0, h->cert };
        options[i++] = (struct MHD_OptionItem) { MHD_OPTION_HTTPS_MEM_KEY, 0, h->key };
        if (h->client_ca)
                options[i++] = (struct MHD_OptionItem) { MHD_OPTION_HTTPS_MEM_TRUST, 0, h->client_ca };
        return 0;
}

int metrics_http_start(Metrics *m, const MetricsSettings *s, const char *token, int listen_fd, MetricsHttp **ret,
                       GError **error) {
        g_autoptr(MetricsHttp) h = g_new0(MetricsHttp, 1);
        struct sockaddr_storage addr;
        socklen_t addr_len;
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
        struct MHD_OptionItem options[] = {
                { MHD_OPTION_LISTEN_SOCKET, listen_fd, NULL },  /* or the address, below */
                { MHD_OPTION_CONNECTION_LIMIT, s->max_connections, NULL },
                { MHD_OPTION_PER_IP_CONNECTION_LIMIT, MIN(s->max_connections, PER_IP_CONNECTIONS), NULL },
                { MHD_OPTION_CONNECTION_TIMEOUT, s->timeout, NULL },
                { MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONNECTION_MEMORY, NULL },
                { MHD_OPTION_END, 0, NULL },     /* the TLS options, when asked */
                { MHD_OPTION_END, 0, NULL },
                { MHD_OPTION_END, 0, NULL },
                { MHD_OPTION_END, 0, NULL },
        };

        if (listen_fd < 0) {
                if (metrics_parse_listen(s->listen, &addr, &addr_len) < 0)
                        return ev_error_set(error, EINVAL, "[Metrics] Listen=%s is not ADDRESS:PORT", s->listen);
                if (addr.ss_family == AF_INET6)
                        flags |= MHD_USE_IPv6;
                options[0] = (struct MHD_OptionItem) { MHD_OPTION_SOCK_ADDR, 0, &addr };
        }
        if (tls_options(h, s, options + 5, &flags, error) < 0)
                return -EINVAL;
        h->metrics = m;
        h->token = g_strdup(token);     /* before the first request can come */
        h->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_ARRAY, options, MHD_OPTION_END);
        if (!h->mhd)
                return ev_error_set(error, EADDRNOTAVAIL, "cannot serve metrics on %s (is the address in use%s?)",
                                    listen_fd >= 0 ? "the socket systemd passed" : s->listen,
                                    h->cert ? ", or the TLS certificate and key files not a pair" : "");
        *ret = g_steal_pointer(&h);
        return 0;
}

MetricsHttp *metrics_http_stop(MetricsHttp *h) {
        if (!h)
                return NULL;
        MHD_stop_daemon(h->mhd);
        return http_free(h);
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
