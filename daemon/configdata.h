/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>

/* The checks Secret and ConfigMap share: each key of the maps in fields
 * (the first one names the primary map) is a valid config key, unique
 * across the maps, the total size is at most 1 MiB, and an object marked
 * immutable keeps its data.  what is the kind, for messages and to know
 * which maps hold base64. */
int config_data_check(JsonObject *doc, JsonObject *old, const char *const *fields, const char *what, GError **error);
