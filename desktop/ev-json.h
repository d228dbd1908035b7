/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* json-glib 1.6 (Debian 12) has no *_member_with_default for objects and
 * arrays: these are they, NULL when absent or of another type. */
#pragma once

#include <json-glib/json-glib.h>

static inline JsonObject *ev_json_object(JsonObject *o, const char *name) {
        JsonNode *n = o ? json_object_get_member(o, name) : NULL;

        return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

static inline JsonArray *ev_json_array(JsonObject *o, const char *name) {
        JsonNode *n = o ? json_object_get_member(o, name) : NULL;

        return n && JSON_NODE_HOLDS_ARRAY(n) ? json_node_get_array(n) : NULL;
}

static inline const char *ev_json_string(JsonObject *o, const char *name) {
        JsonNode *n = o ? json_object_get_member(o, name) : NULL;

        return n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING ?
               json_node_get_string(n) : NULL;
}
