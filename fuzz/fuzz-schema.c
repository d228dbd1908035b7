/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Schema validation of arbitrary documents against every kind's schema,
 * in every field-validation mode. */
#include "json-read.h"
#include "kind.h"
#include "manifest.h"
#include "schema.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autoptr(GPtrArray) docs = NULL;

        if (size > 64 * 1024 || manifest_parse((const char *) data, size, &docs, NULL) < 0)
                return 0;
        for (guint i = 0; i < docs->len; i++)
                for (const KindInfo *const *k = kind_all(); *k; k++)
                        for (int mode = FIELD_VALIDATION_STRICT; mode <= FIELD_VALIDATION_IGNORE; mode++) {
                                g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
                                g_autoptr(GError) e = NULL;
                                g_autofree char *text = manifest_to_json(docs->pdata[i], FALSE);
                                /* a private deep copy: validation edits documents */
                                g_autoptr(JsonNode) copy = json_read(text, strlen(text), NULL);
                                if (!copy)
                                        continue;
                                if (schema_validate((*k)->schema, copy, mode, warnings, &e) < 0)
                                        g_assert(e && e->message);
                        }
        return 0;
}
