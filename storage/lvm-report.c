/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <json-glib/json-glib.h>

#include "lvm-report.h"
#include "util.h"

int lvm_report_parse(const char *json, const char *section, GPtrArray **ret, GError **error) {
        g_autoptr(JsonParser) p = json_parser_new();
        g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func((GDestroyNotify) g_hash_table_unref);
        g_autoptr(GError) e = NULL;
        JsonNode *root;
        JsonArray *reports;

        if (!json_parser_load_from_data(p, json, -1, &e))
                return ev_error_set(error, EIO, "lvm report does not parse: %s", e->message);
        root = json_parser_get_root(p);
        if (!root || !JSON_NODE_HOLDS_OBJECT(root) ||
            !json_object_has_member(json_node_get_object(root), "report"))
                return ev_error_set(error, EIO, "lvm report has no \"report\" member");
        reports = json_object_get_array_member(json_node_get_object(root), "report");
        for (guint i = 0; reports && i < json_array_get_length(reports); i++) {
                JsonObject *rep = json_array_get_object_element(reports, i);
                JsonArray *items = rep && json_object_has_member(rep, section) ?
                        json_object_get_array_member(rep, section) : NULL;
                for (guint j = 0; items && j < json_array_get_length(items); j++) {
                        JsonObject *item = json_array_get_object_element(items, j);
                        GHashTable *row = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
                        JsonObjectIter it;
                        const char *k;
                        JsonNode *v;
                        json_object_iter_init_ordered(&it, item);
                        while (json_object_iter_next_ordered(&it, &k, &v))
                                if (JSON_NODE_HOLDS_VALUE(v) && json_node_get_value_type(v) == G_TYPE_STRING)
                                        g_hash_table_insert(row, g_strdup(k), g_strdup(json_node_get_string(v)));
                        g_ptr_array_add(rows, row);
                }
        }
        *ret = g_steal_pointer(&rows);
        return 0;
}

const char *lvm_row_get(LvmRow *row, const char *field) {
        return g_hash_table_lookup(row, field);
}

uint64_t lvm_row_get_u64(LvmRow *row, const char *field) {
        const char *v = lvm_row_get(row, field);
        return v ? g_ascii_strtoull(v, NULL, 10) : 0;
}

double lvm_row_get_double(LvmRow *row, const char *field) {
        const char *v = lvm_row_get(row, field);
        return v && *v ? g_ascii_strtod(v, NULL) : 0.0;
}
