/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The importer's arguments for a remote source (import-source.h). */
#include "import-source.h"
#include "json-util.h"
#include "secret.h"
#include "util.h"

/* A Secret's value as text (credentials); NULL when the key is absent. */
static char *secret_text(Model *m, const char *ns, const char *name, const char *key, GError **error) {
        g_autoptr(GBytes) b = secret_value(m, ns, name, key, error);
        gsize len;
        const char *data = b ? g_bytes_get_data(b, &len) : NULL;
        return data ? g_strndup(data, len) : NULL;
}

int import_source_arguments(Model *m, const char *ns, JsonObject *http, const char *field, const char *scratch,
                            GStrvBuilder *argv, GStrvBuilder *env, GError **error) {
        const char *secret = json_get_string(http, "secretRef"), *cm_name = json_get_string(http, "certConfigMap");
        g_autofree char *url = g_strdup_printf("--%s=%s", streq(field, "registry") ? "registry" : "url",
                                               json_get_string(http, "url"));

        g_strv_builder_add(argv, url);
        if (secret) {
                g_autoptr(GError) e = NULL;
                g_autofree char *user = secret_text(m, ns, secret, "accessKeyId", &e);
                if (e)
                        return ev_error_set(error, ENOENT, "spec.source.%s.secretRef: %s", field, e->message);
                g_autofree char *password = secret_text(m, ns, secret, "secretKey", NULL);
                g_autofree char *u = g_strdup_printf("EDGEVIRT_IMPORT_USER=%s", user ? user : "");
                g_autofree char *p = g_strdup_printf("EDGEVIRT_IMPORT_PASSWORD=%s", password ? password : "");
                g_strv_builder_add_many(env, u, p, NULL);
        }
        if (cm_name) {
                Object *cm = NULL;
                g_autoptr(GError) e = NULL;
                if (model_get(m, &kind_configmap, ns, cm_name, &cm, &e) < 0)
                        return ev_error_set(error, ENOENT, "spec.source.%s.certConfigMap: %s", field, e->message);
                g_autoptr(GString) bundle = g_string_new(NULL);
                JsonObjectIter it;
                const char *k;
                JsonNode *v;
                JsonObject *data = json_get_object(object_root(cm), "data");
                if (data) {
                        json_object_iter_init_ordered(&it, data);
                        while (json_object_iter_next_ordered(&it, &k, &v))
                                g_string_append_printf(bundle, "%s\n", json_node_get_string(v));
                }
                g_autofree char *ca = g_build_filename(scratch, "ca.pem", NULL);
                if (!g_file_set_contents(ca, bundle->str, (gssize) bundle->len, NULL))
                        return ev_error_set(error, EIO, "cannot write %s", ca);
                g_autofree char *arg = g_strdup_printf("--ca-file=%s", ca);
                g_strv_builder_add(argv, arg);
        }
        JsonArray *hdrs = json_get_array(http, "extraHeaders");
        for (guint i = 0; hdrs && i < json_array_get_length(hdrs); i++) {
                g_autofree char *arg = g_strdup_printf("--header=%s", json_array_get_string_element(hdrs, i));
                g_strv_builder_add(argv, arg);
        }
        JsonArray *secret_hdrs = json_get_array(http, "secretExtraHeaders");
        for (guint i = 0; secret_hdrs && i < json_array_get_length(secret_hdrs); i++) {
                Object *s = NULL;
                g_autoptr(GError) e = NULL;
                if (model_get(m, &kind_secret, ns, json_array_get_string_element(secret_hdrs, i),
                              &s, &e) < 0)
                        return ev_error_set(error, ENOENT, "spec.source.http.secretExtraHeaders[%u]: %s",
                                            i, e->message);
                JsonObject *data = json_get_object(object_root(s), "data");
                JsonObjectIter it;
                const char *k;
                JsonNode *v;
                if (!data)
                        continue;
                json_object_iter_init_ordered(&it, data);
                while (json_object_iter_next_ordered(&it, &k, &v)) {
                        gsize len;
                        g_autofree guchar *raw = g_base64_decode(json_node_get_string(v), &len);
                        g_autofree char *arg = g_strdup_printf("--header=%.*s", (int) len, raw);
                        g_strv_builder_add(argv, arg);
                }
        }
        if (json_get_string(http, "checksum")) {
                g_autofree char *arg = g_strdup_printf("--checksum=%s", json_get_string(http, "checksum"));
                g_strv_builder_add(argv, arg);
        }
        return 0;
}
