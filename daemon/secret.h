/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "model.h"

/* The decoded value of KEY in Secret NS/NAME: NULL without an error when
 * the Secret has no such key, NULL with -ENOENT ("Secret ns/name not
 * found") when there is no Secret. */
GBytes *secret_value(Model *m, const char *ns, const char *name, const char *key, GError **error);
/* The non-empty lines of a Secret's values (SSH public keys, one a line;
 * a value may hold several), in the order of the keys' names: appended to
 * OUT as newly allocated strings. */
void secret_lines(Object *secret, GPtrArray *out);
