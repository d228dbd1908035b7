/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "configdata.h"
#include "json-util.h"
#include "util.h"
#include "validate.h"

#define MAX_DATA_SIZE (1024 * 1024)

int config_data_check(JsonObject *doc, JsonObject *old, const char *const *fields, const char *what, GError **error) {
        g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
        size_t total = 0;

        for (const char *const *f = fields; *f; f++) {
                JsonObject *data = json_get_object(doc, *f);
                JsonObjectIter it;
                const char *k;
                JsonNode *v;
                if (!data)
                        continue;
                json_object_iter_init_ordered(&it, data);
                while (json_object_iter_next_ordered(&it, &k, &v)) {
                        g_autoptr(GError) e = NULL;
                        size_t len = strlen(json_node_get_string(v));
                        if (validate_config_key(k, &e) < 0)
                                g_ptr_array_add(errors,
                                                g_strdup_printf("%s[%s]: Invalid value: %s", *f, k, e->message));
                        if (!g_hash_table_add(seen, (void *) k))
                                g_ptr_array_add(errors,
                                                g_strdup_printf("%s[%s]: Invalid value: duplicate of key present in %s",
                                                                *f, k, fields[0]));
                        if (streq(*f, "binaryData") || (streq(what, "Secret") && streq(*f, "data")))
                                validate_base64(json_node_get_string(v), &len, NULL);
                        total += len;
                }
        }
        if (total > MAX_DATA_SIZE)
                g_ptr_array_add(errors,
                                g_strdup_printf("%s: Too long: must have at most %d bytes", fields[0], MAX_DATA_SIZE));

        if (old && json_get_bool(old, "immutable", false)) {
                for (const char *const *f = fields; *f; f++) {
                        JsonNode *a = json_object_get_member(doc, *f), *b = json_object_get_member(old, *f);
                        bool emptied = a == NULL && b && json_object_get_size(json_node_get_object(b)) == 0;
                        if (!json_equal(a, b) && !emptied)
                                g_ptr_array_add(errors, g_strdup_printf("%s: Forbidden: field is immutable when "
                                                                        "`immutable` is set", *f));
                }
                if (!json_get_bool(doc, "immutable", false))
                        g_ptr_array_add(errors,
                                        g_strdup("immutable: Forbidden: field is immutable when `immutable` is set"));
        }
        if (errors->len == 0)
                return 0;
        g_ptr_array_add(errors, NULL);
        g_autofree char *joined = g_strjoinv("; ", (char **) errors->pdata);
        return ev_error_set(error, EINVAL, "%s", joined);
}

