/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <json-glib/json-glib.h>

/* How deep any document from a user, the object store or a remote server
 * may nest (objects and arrays); YAML documents have the same limit. */
#define JSON_MAX_DEPTH 128

/* Read one JSON value (RFC 8259, strictly: no comments, single quotes or
 * hex numbers) from text[0, len) into a new tree.  Iterative: however deep
 * the input, it never reaches the C stack, and no tree deeper than
 * JSON_MAX_DEPTH is built.  Refused with EINVAL (EV_ERROR) and a message
 * that names the field path: nesting deeper than JSON_MAX_DEPTH, a key given
 * twice in one object (compared decoded: "a" and "\u0061" are one key), a
 * NUL character (\u0000) in a key or a string, a number beyond a double's
 * range; syntax errors name the line and column.  Integers that do not fit
 * in 64 bits become doubles, as Kubernetes and our YAML reader make them. */
JsonNode *json_read(const char *text, size_t len, GError **error);
/* The same, when the document must be an object; error otherwise. */
JsonNode *json_read_object(const char *text, size_t len, GError **error);

/* A node holding a new empty object (array), the node's reference the only
 * one: json_node_init_object() takes a reference of its own, so
 * json_node_init_object(json_node_alloc(), json_object_new()) leaks the
 * object, and everything put in it, when the node goes. */
JsonNode *json_object_node_new(void);
JsonNode *json_array_node_new(void);

/* One step of a field path: a key of an object or an index in an array. */
typedef struct JsonPathStep {
        const char *key;        /* NULL for an array index */
        size_t key_len;
        guint index;
} JsonPathStep;

/* The step into the child of container (an object or array being read) that
 * is being read: key, for objects (false while the key itself is read, key
 * NULL), or the next index, for arrays. */
bool json_path_step_into(JsonNode *container, const char *key, JsonPathStep *ret);
/* The path in Kubernetes' style: spec.template.metadata.labels[app/x],
 * items[2].name; <root> for none.  Keys that are not plain words go in
 * brackets, with control characters escaped (\u0000) and long ones cut;
 * a path deeper than 16 steps keeps its first and last steps around
 * "...(N levels)...". */
char *json_path_string(const JsonPathStep *steps, size_t n);
/* A string for an error message: quoted, control characters escaped
 * (\u0000), cut after 64 bytes ("..."). */
char *json_quote_for_message(const char *s, size_t len);
