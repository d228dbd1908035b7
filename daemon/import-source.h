/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "model.h"

/* Everything edgevirt-importer needs for a remote source, CDI's http or
 * registry source object (url, secretRef, certConfigMap, extraHeaders,
 * secretExtraHeaders, checksum) of namespace ns: arguments on argv (a CA
 * bundle written into scratch), credentials in env rather than on its
 * command line.  field ("http", "registry") names the source in errors
 * ("spec.source.registry.secretRef: ..."). */
int import_source_arguments(Model *m, const char *ns, JsonObject *http, const char *field, const char *scratch,
                            GStrvBuilder *argv, GStrvBuilder *env, GError **error);
