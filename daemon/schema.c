/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <gio/gio.h>
#include <math.h>

#include "edgevirt-resources.h"
#include "json-util.h"
#include "quantity.h"
#include "schema.h"
#include "util.h"
#include "validate.h"

#define QUANTITY_DEF "k8s.io.apimachinery.pkg.api.resource.Quantity"
#define INT_OR_STRING_DEF "k8s.io.apimachinery.pkg.util.intstr.IntOrString"
#define MAX_ERRORS 20

/* Schema files compiled into the daemon (GResource), merged into one set of
 * definitions at first use: KubeVirt's published schema as it is, then
 * ours (core and CDI kinds, which replace KubeVirt's copies of the same
 * definitions), then the overlay that marks what edgevirt refuses. */
static const char *const schema_resources[] = {
        "/org/edgevirt/schema/kubevirt-openapi.json",
        "/org/edgevirt/schema/core.json",
        "/org/edgevirt/schema/cdi.json",
};
#define OVERLAY_RESOURCE "/org/edgevirt/schema/kubevirt-overlay.json"

/* The compiled-in definitions, read once and never changed: the
 * program's, not one daemon's (loaded on first use). */
static JsonObject *definitions;

static JsonNode *load_resource(const char *name) {
        g_autoptr(GBytes) b = g_resource_lookup_data(edgevirt_get_resource(), name, 0, NULL);
        g_autoptr(JsonParser) p = json_parser_new();
        gsize size;
        const char *data;

        g_assert(b);
        data = g_bytes_get_data(b, &size);
        if (!json_parser_load_from_data(p, data, (gssize) size, NULL))
                g_error("schema resource %s does not parse", name);
        return json_node_copy(json_parser_get_root(p));
}

/* The property schema DEFINITION.properties.PROPERTY, which must exist:
 * the overlay is checked against the schema it changes. */
static JsonObject *overlay_property(const char *definition, const char *property) {
        JsonObject *def = json_get_object(definitions, definition);
        JsonObject *prop = json_get_object(json_get_object(def, "properties"), property);
        if (!prop)
                g_error("schema overlay names %s.%s, which KubeVirt's schema does not have", definition, property);
        return prop;
}

static void apply_overlay(void) {
        g_autoptr(JsonNode) root = load_resource(OVERLAY_RESOURCE);
        JsonObject *patch = json_get_object(json_node_get_object(root), "patch");
        JsonObject *unsupported = json_get_object(json_node_get_object(root), "unsupported");
        JsonObjectIter it, pit;
        const char *def, *prop;
        JsonNode *props, *value;

        json_object_iter_init_ordered(&it, patch);
        while (json_object_iter_next_ordered(&it, &def, &props)) {
                json_object_iter_init_ordered(&pit, json_node_get_object(props));
                while (json_object_iter_next_ordered(&pit, &prop, &value)) {
                        overlay_property(def, prop);
                        json_object_set_member(json_get_object(json_get_object(definitions, def), "properties"), prop,
                                               json_deep_copy(value));
                }
        }
        json_object_iter_init_ordered(&it, unsupported);
        while (json_object_iter_next_ordered(&it, &def, &props)) {
                json_object_iter_init_ordered(&pit, json_node_get_object(props));
                while (json_object_iter_next_ordered(&pit, &prop, &value))
                        json_object_set_string_member(overlay_property(def, prop), "x-edgevirt-unsupported",
                                                      json_node_get_string(value));
        }
}

static JsonObject *schema_definitions(void) {
        if (definitions)
                return definitions;
        definitions = json_object_new();
        for (size_t i = 0; i < G_N_ELEMENTS(schema_resources); i++) {
                g_autoptr(JsonNode) root = load_resource(schema_resources[i]);
                JsonObject *defs = json_get_object(json_node_get_object(root), "definitions");
                JsonObjectIter it;
                const char *name;
                JsonNode *def;

                json_object_iter_init_ordered(&it, defs);
                while (json_object_iter_next_ordered(&it, &name, &def))
                        json_object_set_member(definitions, name, json_node_ref(def));
        }
        apply_overlay();
        return definitions;
}

gboolean schema_has_definition(const char *definition) {
        return json_object_has_member(schema_definitions(), definition);
}

int field_validation_from_string(const char *s, FieldValidation *ret) {
        if (streq(s, "Strict"))
                *ret = FIELD_VALIDATION_STRICT;
        else if (streq(s, "Warn"))
                *ret = FIELD_VALIDATION_WARN;
        else if (streq(s, "Ignore"))
                *ret = FIELD_VALIDATION_IGNORE;
        else
                return -EINVAL;
        return 0;
}

typedef struct Walk {
        FieldValidation mode;
        bool unsupported;               /* a known field edgevirt refuses was used */
        GPtrArray *errors;
        GPtrArray *warnings;
} Walk;

static void problem(Walk *w, const char *path, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void problem(Walk *w, const char *path, const char *fmt, ...) {
        va_list ap;
        g_autofree char *msg = NULL;

        va_start(ap, fmt);
        msg = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        g_ptr_array_add(w->errors, g_strdup_printf("%s: %s", *path ? path : "<root>", msg));
}

static const char *node_type_name(JsonNode *n) {
        if (JSON_NODE_HOLDS_OBJECT(n)) return "an object";
        if (JSON_NODE_HOLDS_ARRAY(n)) return "an array";
        if (JSON_NODE_HOLDS_NULL(n)) return "null";
        GType t = json_node_get_value_type(n);
        if (t == G_TYPE_STRING) return "a string";
        if (t == G_TYPE_BOOLEAN) return "a boolean";
        if (t == G_TYPE_INT64) return "an integer";
        return "a number";
}

static JsonObject *resolve_ref(JsonObject *schema, const char **ret_name) {
        *ret_name = NULL;
        while (schema && json_object_has_member(schema, "$ref")) {
                const char *ref = json_object_get_string_member(schema, "$ref");
                const char *name = g_str_has_prefix(ref, "#/definitions/") ? ref + strlen("#/definitions/") : ref;
                JsonNode *def = json_object_get_member(schema_definitions(), name);
                *ret_name = name;
                schema = def ? json_node_get_object(def) : NULL;
        }
        return schema;
}

static const char *get_str(JsonObject *o, const char *k) {
        JsonNode *n = json_object_get_member(o, k);
        bool is = n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING;
        return is ? json_node_get_string(n) : NULL;
}

static void walk(Walk *w, JsonObject *schema, JsonNode *node, const char *path);

static bool is_number(JsonNode *n) {
        return JSON_NODE_HOLDS_VALUE(n) &&
               (json_node_get_value_type(n) == G_TYPE_INT64 || json_node_get_value_type(n) == G_TYPE_DOUBLE);
}

/* A whole number too large for an int64: the readers (JSON and YAML) keep
 * integers beyond 64 bits as doubles, as Kubernetes does. */
static bool is_big_integer(JsonNode *n) {
        if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_DOUBLE)
                return false;
        double d = json_node_get_double(n);
        return d == floor(d) && (d >= 0x1p63 || d < -0x1p63);
}

/* A number's text: whole doubles below 10^30 in full ("1180591620717411303424",
 * the value the double holds), others as the shortest round-trip form. */
static void number_text(JsonNode *n, char buf[static 64]) {
        double d;

        if (json_node_get_value_type(n) == G_TYPE_INT64) {
                g_snprintf(buf, 64, "%" G_GINT64_FORMAT, json_node_get_int(n));
                return;
        }
        d = json_node_get_double(n);
        if (d == floor(d) && fabs(d) < 1e30)
                g_snprintf(buf, 64, "%.0f", d);
        else
                g_ascii_dtostr(buf, 64, d);
}

static void check_quantity(Walk *w, JsonNode *node, const char *path) {
        g_autoptr(GError) e = NULL;
        Quantity q;

        if (is_number(node)) {
                /* A bare number is a valid quantity; store its text form. */
                char buf[64];
                number_text(node, buf);
                json_node_set_string(node, buf);
        }
        if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING) {
                problem(w, path, "must be a quantity (a string such as \"2Gi\"), not %s", node_type_name(node));
                return;
        }
        if (quantity_parse(json_node_get_string(node), &q, &e) < 0)
                problem(w, path, "%s", e->message);
}

static void walk_object(Walk *w, JsonObject *schema, JsonNode *node, const char *path) {
        JsonObject *props = json_object_has_member(schema, "properties")
                                    ? json_object_get_object_member(schema, "properties") : NULL;
        JsonNode *addl = json_object_get_member(schema, "additionalProperties");
        JsonObject *obj = json_node_get_object(node);
        g_autoptr(GList) members = json_object_get_members(obj);
        bool free_form = !props && !addl;

        if (free_form)
                return;
        for (GList *l = members; l; l = l->next) {
                const char *key = l->data;
                JsonNode *child = json_object_get_member(obj, key);
                g_autofree char *child_path = *path ? g_strdup_printf("%s.%s", path, key) : g_strdup(key);
                JsonNode *sub = props ? json_object_get_member(props, key) : NULL;

                if (JSON_NODE_HOLDS_NULL(child)) {
                        json_object_remove_member(obj, key);
                        continue;
                }
                if (!sub && addl && JSON_NODE_HOLDS_OBJECT(addl)) {
                        walk(w, json_node_get_object(addl), child, child_path);
                        continue;
                }
                if (!sub && addl && JSON_NODE_HOLDS_VALUE(addl) && json_node_get_boolean(addl))
                        continue;
                if (!sub) {
                        switch (w->mode) {
                        case FIELD_VALIDATION_STRICT:
                                problem(w, child_path, "unknown field");
                                break;
                        case FIELD_VALIDATION_WARN:
                                g_ptr_array_add(w->warnings, g_strdup_printf("%s: unknown field, dropped", child_path));
                                json_object_remove_member(obj, key);
                                break;
                        case FIELD_VALIDATION_IGNORE:
                                json_object_remove_member(obj, key);
                                break;
                        }
                        continue;
                }
                walk(w, json_node_get_object(sub), child, child_path);
        }
        if (json_object_has_member(schema, "required")) {
                JsonArray *req = json_object_get_array_member(schema, "required");
                for (guint i = 0; i < json_array_get_length(req); i++) {
                        const char *k = json_array_get_string_element(req, i);
                        JsonObject *sub = props ? json_get_object(props, k) : NULL;
                        JsonNode *def = sub ? json_object_get_member(sub, "default") : NULL;
                        if (!json_object_has_member(obj, k) && def) {
                                /* a required field with a default is defaulted, as the
                                 * API server does (KubeVirt's domain.devices: {}) */
                                g_autofree char *p = *path ? g_strdup_printf("%s.%s", path, k) : g_strdup(k);
                                json_object_set_member(obj, k, json_deep_copy(def));
                                walk(w, sub, json_object_get_member(obj, k), p);
                                continue;
                        }
                        if (!json_object_has_member(obj, k)) {
                                g_autofree char *p = *path ? g_strdup_printf("%s.%s", path, k) : g_strdup(k);
                                problem(w, p, "required value");
                        }
                }
        }
}

static void walk(Walk *w, JsonObject *schema, JsonNode *node, const char *path) {
        const char *ref_name, *type, *format, *unsupported;

        if (w->errors->len >= MAX_ERRORS)
                return;
        unsupported = get_str(schema, "x-edgevirt-unsupported");
        schema = resolve_ref(schema, &ref_name);
        if (!schema) {
                problem(w, path, "internal error: schema reference %s is missing", ref_name);
                return;
        }
        if (!unsupported)
                unsupported = get_str(schema, "x-edgevirt-unsupported");
        if (unsupported) {
                problem(w, path, "not supported on edgevirt: %s", unsupported);
                w->unsupported = true;
                return;
        }
        if (json_object_get_boolean_member_with_default(schema, "x-kubernetes-preserve-unknown-fields", FALSE))
                return;
        if (ref_name && streq(ref_name, QUANTITY_DEF)) {
                check_quantity(w, node, path);
                return;
        }
        type = get_str(schema, "type");
        format = get_str(schema, "format");
        if ((ref_name && streq(ref_name, INT_OR_STRING_DEF)) || streq_ptr(format, "int-or-string")) {
                char buf[64];
                if (is_big_integer(node)) {
                        number_text(node, buf);
                        problem(w, path, "Invalid value: %s: out of range for a 64-bit integer", buf);
                } else if (!JSON_NODE_HOLDS_VALUE(node) || (json_node_get_value_type(node) != G_TYPE_INT64 &&
                                                            json_node_get_value_type(node) != G_TYPE_STRING))
                        problem(w, path, "must be an integer or a string, not %s", node_type_name(node));
                return;
        }
        if (!type)
                return;    /* untyped: anything goes (e.g. RawExtension) */

        if (streq(type, "object")) {
                if (!JSON_NODE_HOLDS_OBJECT(node))
                        problem(w, path, "must be an object, not %s", node_type_name(node));
                else
                        walk_object(w, schema, node, path);
        } else if (streq(type, "array")) {
                if (!JSON_NODE_HOLDS_ARRAY(node)) {
                        problem(w, path, "must be an array, not %s", node_type_name(node));
                        return;
                }
                JsonNode *items = json_object_get_member(schema, "items");
                JsonArray *a = json_node_get_array(node);
                if (!items || !JSON_NODE_HOLDS_OBJECT(items))
                        return;
                for (guint i = 0; i < json_array_get_length(a); i++) {
                        g_autofree char *p = g_strdup_printf("%s[%u]", path, i);
                        walk(w, json_node_get_object(items), json_array_get_element(a, i), p);
                }
        } else if (streq(type, "string")) {
                if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING) {
                        problem(w, path, "must be a string, not %s", node_type_name(node));
                        return;
                }
                if (streq_ptr(format, "byte")) {
                        g_autoptr(GError) e = NULL;
                        if (validate_base64(json_node_get_string(node), NULL, &e) < 0)
                                problem(w, path, "%s", e->message);
                }
                if (json_object_has_member(schema, "enum")) {
                        JsonArray *en = json_object_get_array_member(schema, "enum");
                        const char *v = json_node_get_string(node);
                        g_autoptr(GString) allowed = g_string_new(NULL);
                        bool ok = false;
                        for (guint i = 0; i < json_array_get_length(en); i++) {
                                const char *e = json_array_get_string_element(en, i);
                                ok = ok || streq(e, v);
                                g_string_append_printf(allowed, "%s\"%s\"", i ? ", " : "", e);
                        }
                        if (!ok)
                                problem(w, path, "unsupported value \"%s\": supported values: %s", v, allowed->str);
                }
        } else if (streq(type, "boolean")) {
                if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_BOOLEAN)
                        problem(w, path, "must be a boolean, not %s", node_type_name(node));
        } else if (streq(type, "integer")) {
                char buf[64];
                if (is_big_integer(node)) {
                        number_text(node, buf);
                        problem(w, path, "Invalid value: %s: out of range for a %s-bit integer", buf,
                                streq_ptr(format, "int32") ? "32" : "64");
                } else if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_INT64)
                        problem(w, path, "must be an integer, not %s", node_type_name(node));
                else if (streq_ptr(format, "int32") &&
                         (json_node_get_int(node) > G_MAXINT32 || json_node_get_int(node) < G_MININT32))
                        problem(w, path, "Invalid value: %" G_GINT64_FORMAT ": out of range for a 32-bit integer",
                                json_node_get_int(node));
        } else if (streq(type, "number")) {
                if (!JSON_NODE_HOLDS_VALUE(node) || (json_node_get_value_type(node) != G_TYPE_INT64 &&
                                                     json_node_get_value_type(node) != G_TYPE_DOUBLE))
                        problem(w, path, "must be a number, not %s", node_type_name(node));
        }
}

int schema_validate(const char *definition, JsonNode *doc, FieldValidation mode,
                    GPtrArray *warnings, GError **error) {
        g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) own_warnings = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(JsonObject) root = json_object_new();
        g_autofree char *ref = g_strdup_printf("#/definitions/%s", definition);
        Walk w = { .mode = mode, .errors = errors, .warnings = warnings ? warnings : own_warnings };

        json_object_set_string_member(root, "$ref", ref);
        walk(&w, root, doc, "");
        if (errors->len == 0)
                return 0;
        g_ptr_array_add(errors, NULL);
        g_autofree char *joined = g_strjoinv("; ", (char **) errors->pdata);
        return ev_error_set(error, w.unsupported ? EOPNOTSUPP : EINVAL, "%s", joined);
}
