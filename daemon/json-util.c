/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "json-util.h"
#include "util.h"

JsonObject *json_get_object(JsonObject *o, const char *member) {
        JsonNode *n = o ? json_object_get_member(o, member) : NULL;
        return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

JsonArray *json_get_array(JsonObject *o, const char *member) {
        JsonNode *n = o ? json_object_get_member(o, member) : NULL;
        return n && JSON_NODE_HOLDS_ARRAY(n) ? json_node_get_array(n) : NULL;
}

const char *json_get_string(JsonObject *o, const char *member) {
        JsonNode *n = o ? json_object_get_member(o, member) : NULL;
        return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING ? json_node_get_string(n) : NULL;
}

gint64 json_get_int(JsonObject *o, const char *member, gint64 def) {
        JsonNode *n = o ? json_object_get_member(o, member) : NULL;
        return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_INT64 ? json_node_get_int(n) : def;
}

bool json_get_bool(JsonObject *o, const char *member, bool def) {
        JsonNode *n = o ? json_object_get_member(o, member) : NULL;
        return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_BOOLEAN ? json_node_get_boolean(n) : def;
}

JsonObject *json_ensure_object(JsonObject *o, const char *member) {
        JsonObject *c = json_get_object(o, member);
        if (c)
                return c;
        c = json_object_new();
        json_object_set_object_member(o, member, c);
        return c;
}

bool json_array_has_string(JsonArray *a, const char *s) {
        for (guint i = 0; a && i < json_array_get_length(a); i++) {
                JsonNode *n = json_array_get_element(a, i);
                if (JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING &&
                    streq(json_node_get_string(n), s))
                        return true;
        }
        return false;
}

bool json_array_remove_string(JsonArray *a, const char *s) {
        bool removed = false;
        for (guint i = a ? json_array_get_length(a) : 0; i > 0; i--) {
                JsonNode *n = json_array_get_element(a, i - 1);
                if (JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING &&
                    streq(json_node_get_string(n), s)) {
                        json_array_remove_element(a, i - 1);
                        removed = true;
                }
        }
        return removed;
}

bool json_equal(JsonNode *a, JsonNode *b) {
        if (!a || !b)
                return a == b;
        return json_node_equal(a, b);
}

JsonNode *json_deep_copy(JsonNode *n) {
        if (JSON_NODE_HOLDS_OBJECT(n)) {
                JsonObject *src = json_node_get_object(n), *dst = json_object_new();
                JsonObjectIter it;
                const char *k;
                JsonNode *v;
                json_object_iter_init_ordered(&it, src);
                while (json_object_iter_next_ordered(&it, &k, &v))
                        json_object_set_member(dst, k, json_deep_copy(v));
                JsonNode *r = json_node_init_object(json_node_alloc(), dst);
                json_object_unref(dst);
                return r;
        }
        if (JSON_NODE_HOLDS_ARRAY(n)) {
                JsonArray *src = json_node_get_array(n), *dst = json_array_sized_new(json_array_get_length(src));
                for (guint i = 0; i < json_array_get_length(src); i++)
                        json_array_add_element(dst, json_deep_copy(json_array_get_element(src, i)));
                JsonNode *r = json_node_init_array(json_node_alloc(), dst);
                json_array_unref(dst);
                return r;
        }
        return json_node_copy(n);
}

void json_object_add_to_string_set(JsonObject *o, const char *member, const char *s) {
        JsonArray *a = json_get_array(o, member);
        if (!a) {
                a = json_array_new();
                json_object_set_array_member(o, member, a);
        }
        if (!json_array_has_string(a, s))
                json_array_add_string_element(a, s);
}
