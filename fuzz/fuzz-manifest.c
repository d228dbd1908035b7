/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The manifest parser on arbitrary text.  Oracles: whatever parses must
 * come back identical through both serializers (YAML and JSON); no tree
 * nests deeper than JSON_MAX_DEPTH; and a JSON document parsed has every
 * member it spelled (a key given twice, or two keys cut at a \u0000 into
 * one, would lose one) and no \u0000 escape. */
#include "json-read.h"
#include "manifest.h"
#include "util.h"

/* Depth and object members of a tree; aborts past the limit, so the
 * recursion is bounded whatever the parser let through. */
static void measure(JsonNode *n, unsigned depth, size_t *members) {
        if (!JSON_NODE_HOLDS_OBJECT(n) && !JSON_NODE_HOLDS_ARRAY(n))
                return;
        if (depth >= JSON_MAX_DEPTH)
                g_error("a parsed document nests deeper than %d levels", JSON_MAX_DEPTH);
        if (JSON_NODE_HOLDS_ARRAY(n)) {
                JsonArray *a = json_node_get_array(n);
                for (guint i = 0; i < json_array_get_length(a); i++)
                        measure(json_array_get_element(a, i), depth + 1, members);
                return;
        }
        JsonObjectIter it;
        const char *key;
        JsonNode *v;
        json_object_iter_init_ordered(&it, json_node_get_object(n));
        while (json_object_iter_next_ordered(&it, &key, &v)) {
                g_assert(g_utf8_validate(key, -1, NULL));
                (*members)++;
                measure(v, depth + 1, members);
        }
}

/* In JSON every backslash and every colon outside strings is where the
 * grammar puts it: count the members (colons outside strings) and look
 * for \u0000 escapes, independently of the reader. */
static void scan_json_text(const char *s, size_t len, size_t *colons, bool *nul_escape) {
        bool in_string = false;
        for (size_t i = 0; i < len; i++) {
                if (in_string && s[i] == '\\') {
                        if (i + 5 < len && s[i + 1] == 'u' && memcmp(s + i + 2, "0000", 4) == 0)
                                *nul_escape = true;
                        i++;
                } else if (s[i] == '"')
                        in_string = !in_string;
                else if (!in_string && s[i] == ':')
                        (*colons)++;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        g_autoptr(GPtrArray) docs = NULL;
        g_autoptr(GError) e = NULL;
        const char *text = (const char *) data;
        size_t start = 0;

        if (size > 64 * 1024)
                return 0;
        if (manifest_parse(text, size, &docs, &e) < 0) {
                g_assert(e && e->message);
                return 0;
        }
        while (start < size && g_ascii_isspace(text[start]))
                start++;
        size_t members = 0;
        for (guint i = 0; i < docs->len; i++)
                measure(docs->pdata[i], 0, &members);
        if (start < size && (text[start] == '{' || text[start] == '[')) {
                size_t colons = 0;
                bool nul_escape = false;
                scan_json_text(text, size, &colons, &nul_escape);
                if (nul_escape)
                        g_error("a JSON document with a \\u0000 escape was accepted");
                if (colons != members)
                        g_error("JSON members lost: the text has %zu, the tree %zu", colons, members);
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
