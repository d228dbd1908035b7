/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>

/* kubectl's JSONPath (edgevirtctl get -o jsonpath=..., wait
 * --for=jsonpath=...).  jsonpath_eval: the nodes one expression
 * (".status.conditions[?(@.type==\"Ready\")].status") selects, borrowed
 * from root.  jsonpath_render: a template ("{range .items[*]}{.metadata.name}
 * {\"\\n\"}{end}") as text. */
int jsonpath_eval(const char *expr, JsonNode *root, GPtrArray **ret, GError **error);
int jsonpath_render(const char *template, JsonNode *root, GString *out, GError **error);
/* A result as kubectl prints it: strings bare, the rest as JSON. */
char *jsonpath_value_text(JsonNode *n);
