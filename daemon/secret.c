/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Secret: data (base64) and stringData (merged into data, as Kubernetes
 * does), typed secrets' required keys, immutability. */
#include "configdata.h"
#include "json-util.h"
#include "model.h"
#include "secret.h"
#include "util.h"
#include "validate.h"

static const struct {
        const char *type;
        const char *const keys[3];      /* all required (or, with any_of, at least one) */
        bool any_of;
} typed_secrets[] = {
        { "kubernetes.io/basic-auth", { "username", "password" }, true },
        { "kubernetes.io/ssh-auth", { "ssh-privatekey" }, false },
        { "kubernetes.io/tls", { "tls.crt", "tls.key" }, false },
        { "kubernetes.io/dockerconfigjson", { ".dockerconfigjson" }, false },
        { "kubernetes.io/dockercfg", { ".dockercfg" }, false },
};

static int secret_admit(Model *m, JsonObject *doc, JsonObject *old, GPtrArray *warnings, GError **error) {
        static const char *const fields[] = { "data", NULL };
        JsonObject *string_data = json_get_object(doc, "stringData");
        const char *type = json_get_string(doc, "type");

        if (isempty(type))
                json_object_set_string_member(doc, "type", "Opaque");
        type = json_get_string(doc, "type");
        if (old && !streq(type, json_get_string(old, "type") ?: "Opaque"))
                return ev_error_set(error, EINVAL, "type: Invalid value: \"%s\": field is immutable", type);

        /* stringData is write-only: its keys override data's, base64-encoded. */
        if (string_data) {
                JsonObject *data = json_ensure_object(doc, "data");
                JsonObjectIter it;
                const char *k;
                JsonNode *v;
                json_object_iter_init_ordered(&it, string_data);
                while (json_object_iter_next_ordered(&it, &k, &v)) {
                        const char *s = json_node_get_string(v);
                        g_autofree char *b64 = g_base64_encode((const guchar *) s, strlen(s));
                        json_object_set_string_member(data, k, b64);
                }
                json_object_remove_member(doc, "stringData");
        }

        int r = config_data_check(doc, old, fields, "Secret", error);
        if (r < 0)
                return r;

        JsonObject *data = json_get_object(doc, "data");
        for (size_t i = 0; i < G_N_ELEMENTS(typed_secrets); i++) {
                if (!streq(type, typed_secrets[i].type))
                        continue;
                unsigned present = 0, n = 0;
                for (; n < G_N_ELEMENTS(typed_secrets[i].keys) && typed_secrets[i].keys[n]; n++)
                        present += data && json_object_has_member(data, typed_secrets[i].keys[n]);
                if (typed_secrets[i].any_of ? present == 0 : present < n) {
                        g_autofree char *keys = g_strjoinv(typed_secrets[i].any_of ? "\" or \"" : "\" and \"",
                                                           (char **) typed_secrets[i].keys);
                        return ev_error_set(error, EINVAL, "data[%s]: Required value: a secret of type %s needs \"%s\"",
                                            typed_secrets[i].keys[0], type, keys);
                }
        }
        return 0;
}

const KindInfo kind_secret = {
        .kind = "Secret",
        .group = "",
        .versions = (const char *const[]) { "v1", NULL },
        .plural = "secrets",
        .path_segment = "secret",
        .schema = "io.k8s.api.core.v1.Secret",
        .namespaced = true,
        .admit = secret_admit,
};

GBytes *secret_value(Model *m, const char *ns, const char *name, const char *key, GError **error) {
        Object *secret = NULL;
        const char *b64;
        gsize len;

        if (model_get(m, &kind_secret, ns, name, &secret, NULL) < 0) {
                ev_error_set(error, ENOENT, "Secret %s/%s not found", ns, name);
                return NULL;
        }
        b64 = json_get_string(json_get_object(object_root(secret), "data"), key);
        if (!b64)
                return NULL;
        guchar *raw = g_base64_decode(b64, &len);
        return g_bytes_new_take(raw, len);
}

/* Every non-empty line of every value, the values in the order of their
 * keys' names (as a mounted Secret's files are read). */
void secret_lines(Object *secret, GPtrArray *out) {
        JsonObject *data = json_get_object(object_root(secret), "data");
        g_autoptr(GList) names = data ? json_object_get_members(data) : NULL;

        names = g_list_sort(names, (GCompareFunc) g_strcmp0);
        for (GList *l = names; l; l = l->next) {
                gsize len;
                g_autofree guchar *raw = g_base64_decode(json_get_string(data, l->data), &len);
                g_autofree char *text = g_strndup((const char *) raw, len);
                g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
                for (char **ln = lines; *ln; ln++)
                        if (*g_strstrip(*ln))
                                g_ptr_array_add(out, g_strdup(*ln));
        }
}
