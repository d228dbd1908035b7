/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <json-glib/json-glib.h>

/* Lenient accessors: NULL/default when the member is absent or of another
 * type (documents are schema-checked before the model reads them). */
JsonObject *json_get_object(JsonObject *o, const char *member);
JsonArray *json_get_array(JsonObject *o, const char *member);
const char *json_get_string(JsonObject *o, const char *member);
gint64 json_get_int(JsonObject *o, const char *member, gint64 def);
bool json_get_bool(JsonObject *o, const char *member, bool def);
/* The member as an object, created (empty) when absent. */
JsonObject *json_ensure_object(JsonObject *o, const char *member);
/* The member as an array, created (empty) when absent. */
JsonArray *json_ensure_array(JsonObject *o, const char *member);
/* The object of an array whose "name" is name (its index in *ret_index),
 * or NULL: spec lists (volumes, disks, volumeStatus). */
JsonObject *json_array_find_named(JsonArray *a, const char *name, guint *ret_index);
/* Whether a string array holds s. */
bool json_array_has_string(JsonArray *a, const char *s);
/* Remove every occurrence of s; returns whether something was removed. */
bool json_array_remove_string(JsonArray *a, const char *s);
/* Deep equality of two nodes (NULL equals NULL). */
bool json_equal(JsonNode *a, JsonNode *b);
/* Whether n nests deeper than max objects and arrays (it stops looking
 * below max: safe on any tree). */
bool json_deeper_than(JsonNode *n, unsigned max);
/* A deep copy (json_node_copy shares objects and arrays). */
JsonNode *json_deep_copy(JsonNode *n);
/* Add s to the string array member (made if absent) unless it is there. */
void json_object_add_to_string_set(JsonObject *o, const char *member, const char *s);

/* One RFC 6902 JSON Patch operation ({"op", "path", "value"}: add, remove,
 * replace, test) applied to doc in place; the error names the path. */
int json_patch_apply(JsonNode *doc, JsonObject *op, GError **error);

/* JSON text of a node, as json_to_string() writes it but valid: json-glib
 * 1.6 writes U+001F raw inside strings (it escapes the other control
 * characters) and a double with an exponent as "1e+308.0" (it appends
 * ".0" to a double without a '.'), which no strict reader — ours
 * included — takes back. */
char *json_text(JsonNode *node, bool pretty);
/* The same repair on a text json-glib wrote (takes ownership). */
char *json_text_fix(char *text);
/* Compact JSON text (json_text(node, false)) laid out as json_text(node,
 * true) lays out the same node, byte for byte, without the tree: json-glib
 * 1.6's generator (two spaces a level, " : ", "{" and "}" of an empty object
 * apart by its line's indent, "[]"); appended to out.  level: how deep
 * the value stands in an enclosing document (0: it is the document). */
void json_pretty_append(GString *out, const char *compact, unsigned level);
