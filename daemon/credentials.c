/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* accessCredentials through the guest agent: what each guest user should
 * have (credentials.h).  Applying it is the hypervisor's
 * (HV_OP_SET_CREDENTIALS); when, the VMI controller's. */
#include "credentials.h"
#include "json-util.h"
#include "object.h"
#include "secret.h"
#include "util.h"

GuestUser *guest_user_free(GuestUser *u) {
        if (!u)
                return NULL;
        g_free(u->name);
        g_ptr_array_unref(u->keys);
        if (u->password)
                memset(u->password, 0, strlen(u->password));
        g_free(u->password);
        g_free(u);
        return NULL;
}

static JsonObject *agent_propagation(JsonObject *cred, const char **what) {
        JsonObject *key = json_get_object(cred, "sshPublicKey"), *pw = json_get_object(cred, "userPassword");
        *what = key ? "sshPublicKey" : "userPassword";
        return json_get_object(json_get_object(key ? key : pw, "propagationMethod"), "qemuGuestAgent");
}

bool agent_credentials_wanted(JsonObject *spec) {
        JsonArray *creds = json_get_array(spec, "accessCredentials");
        const char *what;
        for (guint i = 0; creds && i < json_array_get_length(creds); i++)
                if (agent_propagation(json_array_get_object_element(creds, i), &what))
                        return true;
        return false;
}

static GuestUser *user_of(GHashTable *users, const char *name) {
        GuestUser *u = g_hash_table_lookup(users, name);
        if (!u) {
                u = g_new0(GuestUser, 1);
                u->name = g_strdup(name);
                u->keys = g_ptr_array_new_with_free_func(g_free);
                g_hash_table_insert(users, u->name, u);
        }
        return u;
}

static int by_name(gconstpointer a, gconstpointer b) {
        return strcmp((*(GuestUser *const *) a)->name, (*(GuestUser *const *) b)->name);
}

int agent_credentials_resolve(Model *m, Object *vmi, GPtrArray **ret_users, char **ret_digest, GError **error) {
        JsonArray *creds = json_get_array(json_get_object(object_root(vmi), "spec"), "accessCredentials");
        g_autoptr(GHashTable) users = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                                            (GDestroyNotify) guest_user_free);

        for (guint i = 0; creds && i < json_array_get_length(creds); i++) {
                JsonObject *cred = json_array_get_object_element(creds, i);
                const char *what;
                JsonObject *agent = agent_propagation(cred, &what);
                const char *name = json_get_string(json_get_object(json_get_object(json_get_object(cred, what),
                                                                                   "source"), "secret"), "secretName");
                Object *secret = NULL;

                if (!agent)
                        continue;
                if (model_get(m, &kind_secret, vmi->namespace, name, &secret, NULL) < 0)
                        return ev_error_set(error, ENOENT,
                                            "spec.accessCredentials[%u].%s.source.secret: Secret %s/%s not found",
                                            i, what, vmi->namespace, name);
                if (streq(what, "sshPublicKey")) {
                        JsonArray *names = json_get_array(agent, "users");
                        for (guint j = 0; names && j < json_array_get_length(names); j++)
                                secret_lines(secret, user_of(users, json_array_get_string_element(names, j))->keys);
                } else {
                        JsonObject *data = json_get_object(object_root(secret), "data");
                        g_autoptr(GList) keys = data ? json_object_get_members(data) : NULL;
                        for (GList *l = keys; l; l = l->next) {
                                gsize len;
                                g_autofree guchar *raw = g_base64_decode(json_get_string(data, l->data), &len);
                                g_autofree char *pw = g_strstrip(g_strndup((const char *) raw, len));
                                GuestUser *u = user_of(users, l->data);
                                if (*pw) {
                                        g_free(u->password);
                                        u->password = g_steal_pointer(&pw);
                                }
                                memset(raw, 0, len);
                        }
                }
        }

        GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify) guest_user_free);
        GHashTableIter it;
        GuestUser *u;
        g_hash_table_iter_init(&it, users);
        while (g_hash_table_iter_next(&it, NULL, (void **) &u)) {
                g_hash_table_iter_steal(&it);
                g_ptr_array_add(out, u);
        }
        g_ptr_array_sort(out, by_name);
        /* the digest: users, keys and passwords, each ended by a NUL */
        g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
        for (guint i = 0; i < out->len; i++) {
                u = out->pdata[i];
                g_checksum_update(sum, (const guchar *) u->name, (gssize) strlen(u->name) + 1);
                for (guint k = 0; k < u->keys->len; k++)
                        g_checksum_update(sum, u->keys->pdata[k], (gssize) strlen(u->keys->pdata[k]) + 1);
                g_checksum_update(sum, (const guchar *) "\n", 2);
                if (u->password)
                        g_checksum_update(sum, (const guchar *) u->password, (gssize) strlen(u->password) + 1);
                g_checksum_update(sum, (const guchar *) "\n", 2);
        }
        *ret_users = out;
        *ret_digest = g_strdup(g_checksum_get_string(sum));
        return 0;
}

CredentialsSync *credentials_sync_free(CredentialsSync *s) {
        if (!s)
                return NULL;
        g_free(s->applied);
        g_free(s->sending);
        g_free(s);
        return NULL;
}

bool credentials_sync_due(CredentialsSync *s, const char *digest, gint64 now) {
        bool changed = s->applied && !streq(digest, s->applied);
        return !s->sending && (changed || now >= s->next);
}

void credentials_sync_done(CredentialsSync *s, bool ok, gint64 now) {
        g_free(s->applied);
        s->applied = ok ? g_steal_pointer(&s->sending) : NULL;
        g_clear_pointer(&s->sending, g_free);
        s->next = now + (ok ? CREDENTIALS_RESYNC_USEC : CREDENTIALS_RETRY_USEC);
}

void credentials_sync_unresolved(CredentialsSync *s) {
        g_clear_pointer(&s->applied, g_free);
        s->next = 0;
}
