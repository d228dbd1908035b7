/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Documents from the Manager: Get, and List in pages (kubectl's
 * --chunk-size: limit and continue), so that a listing larger than one bus
 * message works. */
#include <json-glib/json-glib.h>

#include "ctl.h"
#include "json-util.h"
#include "manifest.h"

/* One call; limit 0 and token NULL: no paging options. */
static int call_once(Ctl *c, const char *method, const char *kind, const char *ns, const char *name, const char *output,
                     const char *selector, int64_t limit, const char *token, char **ret) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        const char *doc;
        int r;

        r = sd_bus_message_new_method_call(c->bus, &m, NAME, ROOT, MANAGER, method);
        if (r < 0)
                return bus_fail(NULL, r);
        if (streq(method, "Get"))
                r = sd_bus_message_append(m, "sss", kind, ns, name);
        else
                r = sd_bus_message_append(m, "ss", kind, ns);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && output)
                r = sd_bus_message_append(m, "{sv}", "output", "s", output);
        if (r >= 0 && selector)
                r = sd_bus_message_append(m, "{sv}", "label-selector", "s", selector);
        if (r >= 0 && limit > 0)
                r = sd_bus_message_append(m, "{sv}", "limit", "x", limit);
        if (r >= 0 && token)
                r = sd_bus_message_append(m, "{sv}", "continue", "s", token);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return bus_fail(NULL, r);
        r = sd_bus_call(c->bus, m, 0, &e, &reply);
        if (r < 0 && streq_ptr(output, "json-compact") && sd_bus_error_has_name(&e, SD_BUS_ERROR_INVALID_ARGS) &&
            strstr(e.message ?: "", "option \"output\"")) {
                /* a daemon from before "json-compact": the laid-out JSON parses the same */
                c->laid_out_only = true;
                return call_once(c, method, kind, ns, name, "json", selector, limit, token, ret);
        }
        if (r < 0)
                return c->quiet_errors ? 1 : bus_fail(&e, r);
        r = sd_bus_message_read(reply, "s", &doc);
        if (r < 0)
                return bus_fail(NULL, r);
        *ret = g_strdup(doc);
        return 0;
}

/* Every page of a List, as one List document (the first page's, with the
 * later pages' items and without continue). */
static int list_pages(Ctl *c, const char *kind, const char *ns, const char *output, const char *selector, char **ret) {
        g_autoptr(JsonNode) list = NULL;
        g_autofree char *token = NULL;

        do {
                g_autofree char *text = NULL;
                g_autoptr(JsonParser) p = json_parser_new();
                /* the pages are parsed, not shown: without layout (for VMs, less than half the bytes) */
                if (call_once(c, "List", kind, ns, NULL, c->laid_out_only ? "json" : "json-compact", selector,
                              c->chunk_size, token, &text))
                        return 1;
                if (!json_parser_load_from_data(p, text, -1, NULL) || !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p)))
                        return fail("%s", _("the daemon sent no JSON"));
                JsonObject *page = json_node_get_object(json_parser_get_root(p));
                JsonObject *meta = json_get_object(page, "metadata");
                g_free(token);
                token = g_strdup(json_get_string(meta, "continue"));
                if (!list) {
                        list = json_node_copy(json_parser_get_root(p));
                        continue;
                }
                JsonArray *items = json_get_array(json_node_get_object(list), "items");
                JsonArray *more = json_get_array(page, "items");
                for (guint i = 0; items && more && i < json_array_get_length(more); i++)
                        json_array_add_element(items, json_node_copy(json_array_get_element(more, i)));
        } while (token);
        JsonObject *meta = json_get_object(json_node_get_object(list), "metadata");
        if (meta) {
                json_object_remove_member(meta, "continue");
                json_object_remove_member(meta, "remainingItemCount");
        }
        *ret = streq_ptr(output, "yaml") ? manifest_to_yaml(list) : manifest_to_json(list, TRUE);
        return 0;
}

int ctl_call_document(Ctl *c, const char *method, const char *kind, const char *ns, const char *name,
                      const char *output, const char *selector, char **ret) {
        if (streq(method, "List") && c->chunk_size > 0)
                return list_pages(c, kind, ns, output, selector, ret);
        return call_once(c, method, kind, ns, name, output, selector, 0, NULL, ret);
}
