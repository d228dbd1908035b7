/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The manifest parser on arbitrary text.  Oracle: whatever parses must
 * come back identical through both serializers (YAML and JSON). */
#include "manifest.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autoptr(GPtrArray) docs = NULL;
        g_autoptr(GError) e = NULL;

        if (size > 64 * 1024)
                return 0;
        if (manifest_parse((const char *) data, size, &docs, &e) < 0) {
                g_assert(e && e->message);
                return 0;
        }
        for (guint i = 0; i < docs->len; i++) {
                JsonNode *doc = docs->pdata[i];
                g_autofree char *yaml = manifest_to_yaml(doc);
                g_autofree char *json = manifest_to_json(doc, FALSE);
                g_autoptr(GPtrArray) again = NULL, again_json = NULL;
                g_autoptr(GError) e2 = NULL, e3 = NULL;

                if (manifest_parse(yaml, strlen(yaml), &again, &e2) < 0)
                        g_error("our YAML does not parse (%s):\n%s", e2->message, yaml);
                if (again->len != 1 || !json_node_equal(doc, again->pdata[0]))
                        g_error("YAML round trip changed the document:\n%s\nJSON: %s", yaml, json);
                /* a scalar document is not JSON text json-glib reads back */
                if (!JSON_NODE_HOLDS_OBJECT(doc) && !JSON_NODE_HOLDS_ARRAY(doc))
                        continue;
                if (manifest_parse(json, strlen(json), &again_json, &e3) < 0)
                        g_error("our JSON does not parse (%s): %s", e3->message, json);
                if (again_json->len != 1 || !json_node_equal(doc, again_json->pdata[0]))
                        g_error("JSON round trip changed the document: %s", json);
        }
        return 0;
}
