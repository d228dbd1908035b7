/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The OCI distribution API, as much as an import needs: the manifest of
 * docker://host[:port]/repository[:tag|@digest] (an OCI index or Docker
 * manifest list resolved to linux/amd64; OCI and Docker v2 schema 2
 * manifests), anonymous, basic and bearer-token access (the token asked
 * for at the realm a 401 names), and the URLs and authorization of the
 * layers.  Blobs are then streamed by http_reader with their digest as the
 * checksum. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#include "json-read.h"
#include "registry.h"

#define MANIFEST_MAX (4 << 20)
#define ACCEPT "Accept: application/vnd.oci.image.index.v1+json, " \
               "application/vnd.docker.distribution.manifest.list.v2+json, " \
               "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"

#define PUSH_ACCEPT "Accept: */*"

bool registry_loopback(const char *host) {
        g_autofree char *name = NULL;
        const char *port = NULL;

        /* the host part, without its :port: "[::1]:5000", "localhost:5000" */
        if (host[0] == '[') {
                const char *end = strchr(host, ']');
                if (!end)
                        return false;
                name = g_strndup(host + 1, end - host - 1);
                port = end[1] ? end + 1 : NULL;
                if (port && port[0] != ':')
                        return false;
        } else {
                const char *colon = strchr(host, ':');
                name = colon ? g_strndup(host, colon - host) : g_strdup(host);
                port = colon;
        }
        if (port) {
                /* ":" and 1 to 5 digits */
                size_t n = strspn(port + 1, "0123456789");
                if (n == 0 || n > 5 || port[1 + n])
                        return false;
        }
        if (g_ascii_strcasecmp(name, "localhost") == 0 || streq(name, "::1"))
                return true;
        /* a dotted IPv4 address in 127.0.0.0/8: four decimal numbers of 0-255 */
        unsigned a[4];
        int used = 0;
        if (sscanf(name, "%3u.%3u.%3u.%3u%n", &a[0], &a[1], &a[2], &a[3], &used) != 4 || name[used])
                return false;
        for (size_t i = 0; i < 4; i++)
                if (a[i] > 255)
                        return false;
        return a[0] == 127 && strspn(name, "0123456789.") == strlen(name);
}

int registry_parse(const char *url, Registry *g, char **error) {
        const char *p;
        if (!g_str_has_prefix(url, "docker://")) {
                *error = g_strdup_printf("\"%s\" is not a docker:// URL", url);
                return -1;
        }
        p = url + strlen("docker://");
        const char *slash = strchr(p, '/');
        g_autofree char *first = slash ? g_strndup(p, slash - p) : g_strdup(p);
        /* docker's rule: the first part is a host if it has a dot, a port
         * or is localhost; else the image is on Docker Hub */
        if (slash && (strchr(first, '.') || strchr(first, ':') || streq(first, "localhost"))) {
                g->host = g_steal_pointer(&first);
                p = slash + 1;
        } else
                g->host = g_strdup("registry-1.docker.io");
        const char *at = strchr(p, '@');
        const char *colon = strrchr(p, ':');
        if (at) {
                g->repository = g_strndup(p, at - p);
                g->reference = g_strdup(at + 1);
        } else if (colon && !strchr(colon, '/')) {
                g->repository = g_strndup(p, colon - p);
                g->reference = g_strdup(colon + 1);
        } else {
                g->repository = g_strdup(p);
                g->reference = g_strdup("latest");
        }
        if (streq(g->host, "registry-1.docker.io") && !strchr(g->repository, '/')) {
                char *r = g_strdup_printf("library/%s", g->repository);
                g_free(g->repository);
                g->repository = r;
        }
        if (!*g->repository || !*g->reference) {
                *error = g_strdup_printf("\"%s\": no repository or tag", url);
                return -1;
        }
        g->scheme = g_strdup("https");
        return 0;
}

typedef struct Response {
        long status;
        GString *body;
        char *www_authenticate;
        char *content_type;
        char *location;
} Response;

static size_t on_body(char *data, size_t size, size_t n, void *userdata) {
        Response *r = userdata;
        if (r->body->len + size * n > MANIFEST_MAX)
                return 0;
        g_string_append_len(r->body, data, (gssize) (size * n));
        return size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *userdata) {
        Response *r = userdata;
        g_autofree char *line = g_strstrip(g_strndup(data, size * n));
        if (g_ascii_strncasecmp(line, "WWW-Authenticate:", 17) == 0) {
                g_free(r->www_authenticate);
                r->www_authenticate = g_strdup(g_strstrip(line + 17));
        } else if (g_ascii_strncasecmp(line, "Location:", 9) == 0) {
                g_free(r->location);
                r->location = g_strdup(g_strstrip(line + 9));
        } else if (g_ascii_strncasecmp(line, "Content-Type:", 13) == 0) {
                g_free(r->content_type);
                r->content_type = g_strdup(g_strstrip(line + 13));
        }
        return size * n;
}

static size_t on_send(char *buf, size_t size, size_t n, void *userdata) {
        RegistryUpload *u = userdata;
        size_t k = MIN(size * n, u->size - u->sent);
        if (u->file)
                k = fread(buf, 1, k, u->file);
        else
                memcpy(buf, u->data + u->sent, k);
        u->sent += k;
        if (u->progress)
                u->progress(u->sent, u->userdata);
        return k;
}

static void response_clear(Response *r) {
        if (r->body)
                g_string_free(r->body, TRUE);
        g_free(r->www_authenticate);
        g_free(r->content_type);
        g_free(r->location);
        memset(r, 0, sizeof *r);
}

/* One request: GET, HEAD, POST or (with u) PUT.  -2: no connection or
 * no TLS handshake (a registry without TLS?), -1: another failure. */
static int perform(Registry *g, const char *method, const char *url, const char *accept, const char *auth,
                   RegistryUpload *u, Response *out, char **error) {
        CURL *c = curl_easy_init();
        struct curl_slist *headers = NULL;
        CURLcode rc;

        out->body = g_string_new(NULL);
        if (accept)
                headers = curl_slist_append(headers, accept);
        if (auth)
                headers = curl_slist_append(headers, auth);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, u ? 0L : 120L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "edgevirt-importer");
        if (g->ca_file)
                curl_easy_setopt(c, CURLOPT_CAINFO, g->ca_file);
        if (g->insecure) {
                curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
                curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
        }
        if (streq(method, "HEAD"))
                curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        else if (streq(method, "POST")) {
                curl_easy_setopt(c, CURLOPT_POST, 1L);
                curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
        } else if (u) {
                g_autofree char *type = g_strdup_printf("Content-Type: %s", u->content_type);
                headers = curl_slist_append(headers, type);
                headers = curl_slist_append(headers, "Expect:");
                u->sent = 0;
                if (u->file && fseeko(u->file, 0, SEEK_SET) < 0) {
                        *error = g_strdup_printf("cannot read what to send: %s", g_strerror(errno));
                        curl_slist_free_all(headers);
                        curl_easy_cleanup(c);
                        return -1;
                }
                curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
                curl_easy_setopt(c, CURLOPT_READFUNCTION, on_send);
                curl_easy_setopt(c, CURLOPT_READDATA, u);
                curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t) u->size);
        }
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
        rc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
        curl_slist_free_all(headers);
        curl_easy_cleanup(c);
        if (rc != CURLE_OK) {
                *error = g_strdup_printf("%s: %s", url, curl_easy_strerror(rc));
                return rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_COULDNT_CONNECT ? -2 : -1;
        }
        return 0;
}

static int get(Registry *g, const char *url, const char *accept, const char *auth, Response *out, char **error) {
        return perform(g, "GET", url, accept, auth, NULL, out, error);
}

/* key="value" out of a WWW-Authenticate challenge */
static char *challenge_param(const char *ch, const char *key) {
        g_autofree char *pat = g_strdup_printf("%s=\"", key);
        const char *p = strstr(ch, pat);
        if (!p)
                return NULL;
        p += strlen(pat);
        const char *end = strchr(p, '"');
        return end ? g_strndup(p, end - p) : NULL;
}

static char *basic_header(const Registry *g) {
        g_autofree char *pair = g_strdup_printf("%s:%s", g->user ? g->user : "", g->password ? g->password : "");
        g_autofree char *b64 = g_base64_encode((const guchar *) pair, strlen(pair));
        return g_strdup_printf("Authorization: Basic %s", b64);
}

/* Answer a 401's challenge: basic credentials, or a token from the realm. */
static int authorize(Registry *g, const char *challenge, char **error) {
        if (!challenge) {
                *error = g_strdup("unauthorized, and the registry named no way to authenticate");
                return -1;
        }
        if (g_ascii_strncasecmp(challenge, "Basic", 5) == 0) {
                if (!g->user) {
                        *error = g_strdup("unauthorized: the registry wants credentials (secretRef)");
                        return -1;
                }
                g->auth = basic_header(g);
                return 0;
        }
        if (g_ascii_strncasecmp(challenge, "Bearer", 6) != 0) {
                *error = g_strdup_printf("unauthorized: unknown challenge \"%s\"", challenge);
                return -1;
        }
        g_autofree char *realm = challenge_param(challenge, "realm");
        g_autofree char *service = challenge_param(challenge, "service");
        g_autofree char *scope = challenge_param(challenge, "scope");
        if (!realm || (!g_str_has_prefix(realm, "https://") && !g_str_has_prefix(realm, "http://"))) {
                *error = g_strdup_printf("unauthorized: the token realm \"%s\" is not an http(s) URL",
                                         realm ? realm : "");
                return -1;
        }
        g_autofree char *default_scope = g_strdup_printf("repository:%s:%s", g->repository,
                                                        g->push ? "pull,push" : "pull");
        CURL *esc = curl_easy_init();
        char *s1 = curl_easy_escape(esc, service ? service : "", 0);
        char *s2 = curl_easy_escape(esc, scope ? scope : default_scope, 0);
        g_autofree char *url = g_strdup_printf("%s%sservice=%s&scope=%s", realm, strchr(realm, '?') ? "&" : "?",
                                               s1, s2);
        curl_free(s1);
        curl_free(s2);
        curl_easy_cleanup(esc);
        g_autofree char *creds = g->user ? basic_header(g) : NULL;
        Response r = { 0 };
        if (get(g, url, NULL, creds, &r, error) < 0) {
                response_clear(&r);
                return -1;
        }
        if (r.status == 401 || r.status == 403) {
                *error = g_strdup_printf("unauthorized: the token service refused %s (HTTP %ld)",
                                         g->user ? "the credentials" : "anonymous access", r.status);
                response_clear(&r);
                return -1;
        }
        /* a hostile token service's JSON: the bounded reader */
        g_autoptr(JsonNode) doc = r.status == 200 ? json_read_object(r.body->str, r.body->len, NULL) : NULL;
        const char *token = NULL;
        if (doc) {
                JsonObject *o = json_node_get_object(doc);
                token = json_object_get_string_member_with_default(o, "token", NULL);
                if (!token)
                        token = json_object_get_string_member_with_default(o, "access_token", NULL);
        }
        if (!token) {
                *error = g_strdup_printf("unauthorized: no token from %s (HTTP %ld)", realm, r.status);
                response_clear(&r);
                return -1;
        }
        g->auth = g_strdup_printf("Authorization: Bearer %s", token);
        response_clear(&r);
        return 0;
}

char *registry_url(const Registry *g, const char *kind, const char *ref) {
        return g_strdup_printf("%s://%s/v2/%s/%s/%s", g->scheme, g->host, g->repository, kind, ref);
}

/* A request to the registry at path ("/v2/...") or an absolute URL (an
 * upload's Location), authenticating once if asked to, falling back to
 * plain HTTP for a loopback or insecure registry without TLS. */
static int call(Registry *g, const char *method, const char *path, const char *accept, RegistryUpload *u, Response *r,
                char **error) {
        bool authorized = false;

        for (int attempt = 0; attempt < 3; attempt++) {
                g_autofree char *url = path[0] == '/' ? g_strdup_printf("%s://%s%s", g->scheme, g->host, path) :
                                       g_strdup(path);
                g_autofree char *e = NULL;
                response_clear(r);
                int k = perform(g, method, url, accept, g->auth, u, r, &e);
                if (k == -2 && path[0] == '/' && (registry_loopback(g->host) || g->insecure) &&
                    streq(g->scheme, "https")) {
                        g_free(g->scheme);
                        g->scheme = g_strdup("http");
                        continue;
                }
                if (k < 0) {
                        *error = g_steal_pointer(&e);
                        return -1;
                }
                /* once a call: a token is scoped, and a push needs more
                 * than the pull its first request (HEAD) was granted */
                bool bearer = g->auth && g_str_has_prefix(g->auth, "Authorization: Bearer");
                if (r->status == 401 && !authorized && (!g->auth || bearer)) {
                        authorized = true;
                        g_clear_pointer(&g->auth, g_free);
                        if (authorize(g, r->www_authenticate, error) < 0)
                                return -1;
                        continue;
                }
                if (r->status == 401 || r->status == 403) {
                        *error = g_strdup_printf("unauthorized: %s%s/%s (HTTP %ld)", g->push ? "pushing to " : "",
                                                 g->host, g->repository, r->status);
                        return -1;
                }
                return 0;
        }
        *error = g_strdup_printf("%s/%s: the registry keeps refusing", g->host, g->repository);
        return -1;
}

/* GET a manifest. */
static int get_manifest(Registry *g, const char *ref, Response *r, char **error) {
        g_autofree char *path = g_strdup_printf("/v2/%s/manifests/%s", g->repository, ref);

        if (call(g, "GET", path, ACCEPT, NULL, r, error) < 0)
                return -1;
        if (r->status == 404) {
                *error = g_strdup_printf("image %s/%s:%s not found (unknown repository or tag)", g->host,
                                         g->repository, ref);
                return -1;
        }
        if (r->status != 200) {
                *error = g_strdup_printf("%s://%s%s: HTTP %ld", g->scheme, g->host, path, r->status);
                return -1;
        }
        return 0;
}

const char *registry_string_member(JsonObject *o, const char *name) {
        JsonNode *n = json_object_get_member(o, name);
        return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING ?
                json_node_get_string(n) : "";
}

static char *sha256_of(const GString *s) {
        g_autofree char *hex = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *) s->str, s->len);
        return g_strdup_printf("sha256:%s", hex);
}

int registry_parse_manifest(const char *body, size_t len, const char *content_type, char **ret_pick,
                            GPtrArray **ret_layers, char **error) {
        g_autoptr(GError) why = NULL;
        g_autoptr(JsonNode) doc = json_read_object(body, len, &why);

        if (!doc) {
                *error = g_strdup_printf("the registry sent a manifest that is not a JSON object we accept: %s",
                                         why->message);
                return -1;
        }
        JsonObject *m = json_node_get_object(doc);
        JsonNode *mt = json_object_get_member(m, "mediaType");
        const char *type = mt && JSON_NODE_HOLDS_VALUE(mt) && json_node_get_value_type(mt) == G_TYPE_STRING ?
                           json_node_get_string(mt) : content_type ? content_type : "";
        JsonNode *list_node = json_object_get_member(m, "manifests");
        if (list_node) {
                /* an index: the linux/amd64 image */
                JsonArray *list = JSON_NODE_HOLDS_ARRAY(list_node) ? json_node_get_array(list_node) : NULL;
                g_autoptr(GString) offered = g_string_new(NULL);
                const char *pick = NULL;
                for (guint i = 0; list && i < json_array_get_length(list); i++) {
                        JsonNode *en = json_array_get_element(list, i);
                        JsonObject *e = JSON_NODE_HOLDS_OBJECT(en) ? json_node_get_object(en) : NULL;
                        JsonNode *pn = e ? json_object_get_member(e, "platform") : NULL;
                        JsonObject *pl = pn && JSON_NODE_HOLDS_OBJECT(pn) ? json_node_get_object(pn) : NULL;
                        const char *os = pl ? registry_string_member(pl, "os") : "";
                        const char *arch = pl ? registry_string_member(pl, "architecture") : "";
                        g_string_append_printf(offered, "%s%s/%s", offered->len ? ", " : "", os, arch);
                        if (!pick && e && streq(os, "linux") && streq(arch, "amd64") &&
                            g_str_has_prefix(registry_string_member(e, "digest"), "sha256:"))
                                pick = registry_string_member(e, "digest");
                }
                if (!pick) {
                        *error = g_strdup_printf("architecture not offered: the image has %s, not linux/amd64",
                                                 offered->len ? offered->str : "no platforms");
                        return -1;
                }
                *ret_pick = g_strdup(pick);
                return 1;
        }
        JsonNode *sv = json_object_get_member(m, "schemaVersion");
        if (strstr(type, "prettyjws") || (sv && JSON_NODE_HOLDS_VALUE(sv) &&
                                          json_node_get_value_type(sv) == G_TYPE_INT64 && json_node_get_int(sv) == 1)) {
                *error = g_strdup("Docker v2 schema 1 manifests are not supported: "
                                  "push the image again with a current tool");
                return -1;
        }
        JsonNode *ln = json_object_get_member(m, "layers");
        if (!ln || !JSON_NODE_HOLDS_ARRAY(ln)) {
                *error = g_strdup_printf("the manifest (%s) lists no layers", type);
                return -1;
        }
        JsonArray *layers = json_node_get_array(ln);
        GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify) registry_layer_free);
        for (guint i = 0; i < json_array_get_length(layers); i++) {
                JsonNode *en = json_array_get_element(layers, i);
                JsonObject *l = JSON_NODE_HOLDS_OBJECT(en) ? json_node_get_object(en) : NULL;
                const char *digest = l ? registry_string_member(l, "digest") : "";
                if (!g_str_has_prefix(digest, "sha256:") || strlen(digest) != 7 + 64 ||
                    strspn(digest + 7, "0123456789abcdef") != 64) {
                        g_ptr_array_unref(out);
                        *error = g_strdup_printf("layer %u: \"%s\" is not a sha256 digest", i, digest);
                        return -1;
                }
                RegistryLayer *rl = g_new0(RegistryLayer, 1);
                rl->digest = g_strdup(digest);
                rl->media_type = g_strdup(registry_string_member(l, "mediaType"));
                g_ptr_array_add(out, rl);
        }
        *ret_layers = out;
        return 0;
}

int registry_resolve(Registry *g, char **ret_digest, GPtrArray **ret_layers, char **error) {
        Response r = { 0 };
        g_autofree char *ref = g_strdup(g->reference);

        for (int depth = 0; depth < 2; depth++) {
                if (get_manifest(g, ref, &r, error) < 0) {
                        response_clear(&r);
                        return -1;
                }
                g_autofree char *digest = sha256_of(r.body);
                if (g_str_has_prefix(ref, "sha256:") && !streq(ref, digest)) {
                        *error = g_strdup_printf("digest mismatch: the manifest asked for as %s has digest %s", ref,
                                                 digest);
                        response_clear(&r);
                        return -1;
                }
                g_autofree char *pick = NULL;
                GPtrArray *layers = NULL;
                int k = registry_parse_manifest(r.body->str, r.body->len, r.content_type, &pick, &layers, error);
                if (k < 0) {
                        response_clear(&r);
                        return -1;
                }
                if (k == 1) {
                        g_free(ref);
                        ref = g_steal_pointer(&pick);
                        continue;
                }
                *ret_digest = g_steal_pointer(&digest);
                *ret_layers = layers;
                g_autoptr(JsonNode) doc = json_read_object(r.body->str, r.body->len, NULL);
                JsonNode *config = doc ? json_object_get_member(json_node_get_object(doc), "config") : NULL;
                g_free(g->config);
                g->config = config && JSON_NODE_HOLDS_OBJECT(config) ?
                            g_strdup(registry_string_member(json_node_get_object(config), "digest")) : NULL;
                /* a disk edgevirt pushed says what its bytes are (push.c) */
                JsonNode *ann = doc ? json_object_get_member(json_node_get_object(doc), "annotations") : NULL;
                const char *sum = ann && JSON_NODE_HOLDS_OBJECT(ann) ?
                                  registry_string_member(json_node_get_object(ann), REGISTRY_DISK_CHECKSUM) : "";
                g_free(g->disk_checksum);
                g->disk_checksum = g_str_has_prefix(sum, "sha256:") && strlen(sum) == 7 + 64 &&
                                   strspn(sum + 7, "0123456789abcdef") == 64 ? g_strdup(sum) : NULL;
                response_clear(&r);
                return 0;
        }
        *error = g_strdup("an index that points at another index is not supported");
        response_clear(&r);
        return -1;
}

int registry_config_labels(Registry *g, char ***ret, char **error) {
        g_autoptr(GStrvBuilder) out = g_strv_builder_new();
        Response r = { 0 };
        const char *hex = g->config && g_str_has_prefix(g->config, "sha256:") ? g->config + 7 : "";

        if (strlen(hex) != 64 || strspn(hex, "0123456789abcdef") != 64) {
                *ret = g_strv_builder_end(out);
                return 0;       /* no config to read */
        }
        g_autofree char *url = registry_url(g, "blobs", g->config);
        g_autofree char *e = NULL;
        if (get(g, url, "Accept: */*", g->auth, &r, &e) < 0 || r.status != 200) {
                *error = e ? g_steal_pointer(&e) : g_strdup_printf("%s: HTTP %ld", url, r.status);
                response_clear(&r);
                return -1;
        }
        g_autofree char *digest = sha256_of(r.body);
        g_autoptr(GError) why = NULL;
        g_autoptr(JsonNode) doc = streq(digest, g->config) ? json_read_object(r.body->str, r.body->len, &why) : NULL;
        response_clear(&r);
        if (!doc) {
                *error = g_strdup_printf("the image config %s is not %s", g->config,
                                         why ? why->message : "what its digest says");
                return -1;
        }
        JsonNode *cn = json_object_get_member(json_node_get_object(doc), "config");
        JsonNode *ln = cn && JSON_NODE_HOLDS_OBJECT(cn) ? json_object_get_member(json_node_get_object(cn), "Labels")
                                                       : NULL;
        if (ln && JSON_NODE_HOLDS_OBJECT(ln)) {
                JsonObjectIter it;
                const char *k;
                JsonNode *v;
                json_object_iter_init(&it, json_node_get_object(ln));
                while (json_object_iter_next(&it, &k, &v))
                        if (JSON_NODE_HOLDS_VALUE(v) && json_node_get_value_type(v) == G_TYPE_STRING) {
                                g_autofree char *kv = g_strdup_printf("%s=%s", k, json_node_get_string(v));
                                g_strv_builder_add(out, kv);
                        }
        }
        *ret = g_strv_builder_end(out);
        return 0;
}

/* What a registry said when it refused: its first error's message. */
static char *refusal(const char *what, const Response *r) {
        g_autoptr(JsonNode) doc = r->body->len ? json_read_object(r->body->str, r->body->len, NULL) : NULL;
        JsonNode *en = doc ? json_object_get_member(json_node_get_object(doc), "errors") : NULL;
        JsonArray *errors = en && JSON_NODE_HOLDS_ARRAY(en) ? json_node_get_array(en) : NULL;
        JsonNode *first = errors && json_array_get_length(errors) ? json_array_get_element(errors, 0) : NULL;
        const char *message = first && JSON_NODE_HOLDS_OBJECT(first) ?
                              registry_string_member(json_node_get_object(first), "message") : "";
        return g_strdup_printf("%s: HTTP %ld%s%s", what, r->status, *message ? ": " : "", message);
}

int registry_blob_exists(Registry *g, const char *digest, char **error) {
        g_autofree char *path = g_strdup_printf("/v2/%s/blobs/%s", g->repository, digest);
        Response r = { 0 };
        int k = call(g, "HEAD", path, PUSH_ACCEPT, NULL, &r, error);
        if (k == 0 && r.status != 200 && r.status != 404) {
                *error = refusal(path, &r);
                k = -1;
        }
        if (k == 0)
                k = r.status == 200;
        response_clear(&r);
        return k;
}

int registry_upload_blob(Registry *g, const char *digest, RegistryUpload *u, char **error) {
        g_autofree char *path = g_strdup_printf("/v2/%s/blobs/uploads/", g->repository);
        Response r = { 0 };
        int k = call(g, "POST", path, PUSH_ACCEPT, NULL, &r, error);
        if (k == 0 && (r.status != 202 || !r.location)) {
                *error = r.status == 202 ? g_strdup_printf("%s: the registry named no upload location", path) :
                         refusal("starting an upload", &r);
                k = -1;
        }
        if (k == 0) {
                /* the location may be relative, and may have a query already */
                g_autofree char *put = g_strdup_printf("%s%s%sdigest=%s",
                                                       r.location[0] == '/' || strstr(r.location, "://") ? "" : "/",
                                                       r.location, strchr(r.location, '?') ? "&" : "?", digest);
                k = call(g, "PUT", put, PUSH_ACCEPT, u, &r, error);
                if (k == 0 && r.status != 201) {
                        *error = refusal("uploading a layer", &r);
                        k = -1;
                }
        }
        response_clear(&r);
        return k;
}

int registry_put_manifest(Registry *g, const char *tag, RegistryUpload *u, char **error) {
        g_autofree char *path = g_strdup_printf("/v2/%s/manifests/%s", g->repository, tag);
        Response r = { 0 };
        int k = call(g, "PUT", path, PUSH_ACCEPT, u, &r, error);
        if (k == 0 && r.status != 201) {
                *error = refusal("writing the manifest", &r);
                k = -1;
        }
        response_clear(&r);
        return k;
}

RegistryLayer *registry_layer_free(RegistryLayer *l) {
        if (!l)
                return NULL;
        g_free(l->digest);
        g_free(l->media_type);
        g_free(l);
        return NULL;
}

void registry_clear(Registry *g) {
        g_free(g->config);
        g_free(g->disk_checksum);
        g_free(g->scheme);
        g_free(g->host);
        g_free(g->repository);
        g_free(g->reference);
        g_free(g->auth);
}
