/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>

/* Parse a YAML or JSON text holding one or more documents ("---" separated
 * in YAML) into a GPtrArray of JsonNode (empty documents are skipped).
 * YAML scalars resolve the way Kubernetes' YAML decoder resolves them
 * (YAML 1.1: yes/no/on/off are booleans, 0x/0o/0 integers...).  Syntax
 * errors, duplicate keys and alias bombs fail with "line L, column C: ..." */
int manifest_parse(const char *text, size_t len, GPtrArray **ret, GError **error);

/* Serialize one document.  YAML output quotes every string that would read
 * back as another type, so parse(to_yaml(x)) == x. */
char *manifest_to_yaml(JsonNode *node);
char *manifest_to_json(JsonNode *node, gboolean pretty);

/* Whether a plain (unquoted) YAML scalar with this text would be read as a
 * string. */
gboolean manifest_plain_is_string(const char *s);
