/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "json-util.h"
#include "util.h"

JsonObject *json_get_object(JsonObject *o, const char *member) {
        JsonNode *n = o ? json_object_get_member(o, member) : NULL;
        return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

JsonArray *json_get_array(JsonObject *o, const char *member) {
        JsonNode *n = o ? json_object_get_member(o, member) : NULL;
        return n && JSON_NODE_HOLDS_ARRAY(n) ? json_node_get_array(n) : NULL;
}

const char *json_get_string(JsonObject *o, const char *member) {
        JsonNode *n = o ? json_object_get_member(o, member) : NULL;
        bool is = n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING;
        return is ? json_node_get_string(n) : NULL;
}

gint64 json_get_int(JsonObject *o, const char *member, gint64 def) {
        JsonNode *n = o ? json_object_get_member(o, member) : NULL;
        bool is = n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_INT64;
        return is ? json_node_get_int(n) : def;
}

bool json_get_bool(JsonObject *o, const char *member, bool def) {
        JsonNode *n = o ? json_object_get_member(o, member) : NULL;
        bool is = n && JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_BOOLEAN;
        return is ? json_node_get_boolean(n) : def;
}

JsonObject *json_ensure_object(JsonObject *o, const char *member) {
        JsonObject *c = json_get_object(o, member);
        if (c)
                return c;
        c = json_object_new();
        json_object_set_object_member(o, member, c);
        return c;
}

JsonArray *json_ensure_array(JsonObject *o, const char *member) {
        JsonArray *a = json_get_array(o, member);
        if (a)
                return a;
        a = json_array_new();
        json_object_set_array_member(o, member, a);
        return a;
}

JsonObject *json_array_find_named(JsonArray *a, const char *name, guint *ret_index) {
        for (guint i = 0; a && i < json_array_get_length(a); i++) {
                JsonObject *o = json_array_get_object_element(a, i);
                if (o && g_strcmp0(json_get_string(o, "name"), name) == 0) {
                        if (ret_index)
                                *ret_index = i;
                        return o;
                }
        }
        return NULL;
}

bool json_array_has_string(JsonArray *a, const char *s) {
        for (guint i = 0; a && i < json_array_get_length(a); i++) {
                JsonNode *n = json_array_get_element(a, i);
                if (JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING &&
                    streq(json_node_get_string(n), s))
                        return true;
        }
        return false;
}

bool json_array_remove_string(JsonArray *a, const char *s) {
        bool removed = false;
        for (guint i = a ? json_array_get_length(a) : 0; i > 0; i--) {
                JsonNode *n = json_array_get_element(a, i - 1);
                if (JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING &&
                    streq(json_node_get_string(n), s)) {
                        json_array_remove_element(a, i - 1);
                        removed = true;
                }
        }
        return removed;
}

bool json_equal(JsonNode *a, JsonNode *b) {
        if (!a || !b)
                return a == b;
        return json_node_equal(a, b);
}

JsonNode *json_deep_copy(JsonNode *n) {
        if (JSON_NODE_HOLDS_OBJECT(n)) {
                JsonObject *src = json_node_get_object(n), *dst = json_object_new();
                JsonObjectIter it;
                const char *k;
                JsonNode *v;
                json_object_iter_init_ordered(&it, src);
                while (json_object_iter_next_ordered(&it, &k, &v))
                        json_object_set_member(dst, k, json_deep_copy(v));
                JsonNode *r = json_node_init_object(json_node_alloc(), dst);
                json_object_unref(dst);
                return r;
        }
        if (JSON_NODE_HOLDS_ARRAY(n)) {
                JsonArray *src = json_node_get_array(n), *dst = json_array_sized_new(json_array_get_length(src));
                for (guint i = 0; i < json_array_get_length(src); i++)
                        json_array_add_element(dst, json_deep_copy(json_array_get_element(src, i)));
                JsonNode *r = json_node_init_array(json_node_alloc(), dst);
                json_array_unref(dst);
                return r;
        }
        return json_node_copy(n);
}

void json_object_add_to_string_set(JsonObject *o, const char *member, const char *s) {
        JsonArray *a = json_get_array(o, member);
        if (!a) {
                a = json_array_new();
                json_object_set_array_member(o, member, a);
        }
        if (!json_array_has_string(a, s))
                json_array_add_string_element(a, s);
}

/* RFC 6901: "/a/b~1c/0" -> "a", "b/c", "0" */
static char **pointer_tokens(const char *path) {
        g_auto(GStrv) parts = g_strsplit(path + 1, "/", -1);
        GStrvBuilder *b = g_strv_builder_new();
        for (char **p = parts; *p; p++) {
                g_autoptr(GString) s = g_string_new(NULL);
                for (const char *c = *p; *c; c++) {
                        if (c[0] == '~' && c[1] == '1')
                                g_string_append_c(s, '/'), c++;
                        else if (c[0] == '~' && c[1] == '0')
                                g_string_append_c(s, '~'), c++;
                        else
                                g_string_append_c(s, *c);
                }
                g_strv_builder_add(b, s->str);
        }
        char **out = g_strv_builder_end(b);
        g_strv_builder_unref(b);
        return out;
}

static bool array_index(const char *token, guint len, bool may_append, guint *ret) {
        char *end;
        if (may_append && streq(token, "-")) {
                *ret = len;
                return true;
        }
        if (!*token || (token[0] == '0' && token[1]) || !g_ascii_isdigit(token[0]))
                return false;
        guint64 v = g_ascii_strtoull(token, &end, 10);
        if (*end || v > (may_append ? len : len - 1) || (!may_append && len == 0))
                return false;
        *ret = (guint) v;
        return true;
}

int json_patch_apply(JsonNode *doc, JsonObject *op, GError **error) {
        const char *kind = json_get_string(op, "op"), *path = json_get_string(op, "path");
        JsonNode *value = json_object_get_member(op, "value");
        JsonNode *parent = doc;

        if (!kind || !path)
                return ev_error_set(error, EINVAL, "a patch needs \"op\" and \"path\"");
        if (!streq(kind, "add") && !streq(kind, "remove") && !streq(kind, "replace") && !streq(kind, "test"))
                return ev_error_set(error, EOPNOTSUPP, "patch op \"%s\" is not supported (add, remove, replace, test)",
                                    kind);
        if (!streq(kind, "remove") && !value)
                return ev_error_set(error, EINVAL, "patch %s %s: \"value\" is required", kind, path);
        if (path[0] != '/')
                return ev_error_set(error, EINVAL, "patch %s \"%s\": a path starts with /", kind, path);
        g_auto(GStrv) tokens = pointer_tokens(path);
        guint n = g_strv_length(tokens);
        if (n == 0)
                return ev_error_set(error, EINVAL, "patch %s \"%s\": the whole document cannot be patched", kind, path);
        /* down to the parent of the last token */
        for (guint i = 0; i + 1 < n; i++) {
                guint idx;
                if (JSON_NODE_HOLDS_OBJECT(parent) && json_object_has_member(json_node_get_object(parent), tokens[i]))
                        parent = json_object_get_member(json_node_get_object(parent), tokens[i]);
                else if (JSON_NODE_HOLDS_ARRAY(parent) &&
                         array_index(tokens[i], json_array_get_length(json_node_get_array(parent)), false, &idx))
                        parent = json_array_get_element(json_node_get_array(parent), idx);
                else
                        return ev_error_set(error, ENOENT, "patch %s \"%s\": no such path", kind, path);
        }
        const char *last = tokens[n - 1];
        if (JSON_NODE_HOLDS_OBJECT(parent)) {
                JsonObject *o = json_node_get_object(parent);
                bool has = json_object_has_member(o, last);
                if (!streq(kind, "add") && !has)
                        return ev_error_set(error, ENOENT, "patch %s \"%s\": no such member", kind, path);
                if (streq(kind, "test"))
                        return json_equal(json_object_get_member(o, last), value) ? 0 :
                               ev_error_set(error, EINVAL, "patch test \"%s\": the value differs", path);
                if (streq(kind, "remove"))
                        json_object_remove_member(o, last);
                else
                        json_object_set_member(o, last, json_deep_copy(value));
                return 0;
        }
        if (JSON_NODE_HOLDS_ARRAY(parent)) {
                JsonArray *a = json_node_get_array(parent);
                guint len = json_array_get_length(a), idx;
                if (!array_index(last, len, streq(kind, "add"), &idx))
                        return ev_error_set(error, ENOENT, "patch %s \"%s\": no such array element", kind, path);
                if (streq(kind, "test"))
                        return json_equal(json_array_get_element(a, idx), value) ? 0 :
                               ev_error_set(error, EINVAL, "patch test \"%s\": the value differs", path);
                if (streq(kind, "remove") || streq(kind, "replace"))
                        json_array_remove_element(a, idx);
                if (streq(kind, "remove"))
                        return 0;
                /* insert at idx: json-glib appends, so rebuild the tail */
                g_autoptr(GPtrArray) tail = g_ptr_array_new_with_free_func((GDestroyNotify) json_node_unref);
                while (json_array_get_length(a) > idx) {
                        g_ptr_array_add(tail, json_node_ref(json_array_get_element(a, idx)));
                        json_array_remove_element(a, idx);
                }
                json_array_add_element(a, json_deep_copy(value));
                for (guint i = 0; i < tail->len; i++)
                        json_array_add_element(a, json_node_ref(tail->pdata[i]));
                return 0;
        }
        return ev_error_set(error, ENOENT, "patch %s \"%s\": its parent is not an object or array", kind, path);
}

bool json_deeper_than(JsonNode *n, unsigned max) {
        if (!n || (!JSON_NODE_HOLDS_OBJECT(n) && !JSON_NODE_HOLDS_ARRAY(n)))
                return false;
        if (max == 0)
                return true;
        if (JSON_NODE_HOLDS_ARRAY(n)) {
                JsonArray *a = json_node_get_array(n);
                for (guint i = 0; i < json_array_get_length(a); i++)
                        if (json_deeper_than(json_array_get_element(a, i), max - 1))
                                return true;
                return false;
        }
        JsonObjectIter it;
        JsonNode *v;
        json_object_iter_init(&it, json_node_get_object(n));
        while (json_object_iter_next(&it, NULL, &v))
                if (json_deeper_than(v, max - 1))
                        return true;
        return false;
}

/* Where an exponent's digits end in json-glib's ".0" ("1e+308.0"): the
 * index of the '.', else 0.  p points at an 'e' or 'E' after a digit. */
static size_t stray_decimal(const char *p) {
        size_t k = 1;

        if (p[k] == '+' || p[k] == '-')
                k++;
        size_t digits = strspn(p + k, "0123456789");
        if (digits == 0 || p[k + digits] != '.' || p[k + digits + 1] != '0' ||
            g_ascii_isdigit(p[k + digits + 2]))
                return 0;
        return k + digits;
}

char *json_text_fix(char *text) {
        GString *out = NULL;
        bool in_string = false;

        for (const char *p = text; *p; p++) {
                const char *keep = p;
                size_t skip = 0;
                if (in_string && *p == '\\' && p[1]) {
                        if (out)
                                g_string_append_len(out, p, 2);
                        p++;
                        continue;
                }
                if (*p == '"')
                        in_string = !in_string;
                else if (in_string && *p == '\x1f')
                        skip = 1;       /* a raw U+001F only ever stands inside a string: "\u001f" there */
                else if (!in_string && (*p == 'e' || *p == 'E') && p > text && g_ascii_isdigit(p[-1]) &&
                         stray_decimal(p))
                        skip = 2;       /* a double with an exponent: json-glib added ".0" after it */
                if (!skip) {
                        if (out)
                                g_string_append_c(out, *p);
                        continue;
                }
                if (!out)
                        out = g_string_new_len(text, keep - text);
                if (skip == 1) {
                        g_string_append(out, "\\u001f");
                } else {
                        size_t end = stray_decimal(p);
                        g_string_append_len(out, p, (gssize) end);
                        p += end + 1;   /* past ".0" (the loop's p++ takes the '0') */
                }
        }
        if (!out)
                return text;
        g_free(text);
        return g_string_free(out, FALSE);
}

static void newline_indent(GString *out, unsigned level) {
        static const char spaces[] = "                                                                ";

        g_string_append_c(out, '\n');
        for (size_t n = 2 * (size_t) level; n > 0;) {
                size_t chunk = MIN(n, sizeof spaces - 1);
                g_string_append_len(out, spaces, chunk);
                n -= chunk;
        }
}

void json_pretty_append(GString *out, const char *compact, unsigned level) {
        const char *p = compact;

        while (*p) {
                size_t plain = strcspn(p, "\"{}[],:");       /* numbers, true, false, null */
                g_string_append_len(out, p, plain);
                p += plain;
                switch (*p) {
                case '\0':
                        return;
                case '"': {
                        const char *start = p++;
                        for (p += strcspn(p, "\"\\"); *p == '\\'; p += strcspn(p, "\"\\"))
                                p += p[1] ? 2 : 1;
                        if (*p)
                                p++;    /* the closing quote */
                        g_string_append_len(out, start, p - start);
                        continue;
                }
                case '{': case '[':
                        if (p[1] == (*p == '{' ? '}' : ']')) {
                                g_string_append_c(out, *p);
                                for (unsigned i = 0; *p == '{' && i < level; i++)
                                        g_string_append_len(out, "  ", 2);
                                g_string_append_c(out, p[1]);
                                p += 2;
                                continue;
                        }
                        g_string_append_c(out, *p);
                        newline_indent(out, ++level);
                        break;
                case '}': case ']':
                        newline_indent(out, level > 0 ? --level : 0);
                        g_string_append_c(out, *p);
                        break;
                case ',':
                        g_string_append_c(out, ',');
                        newline_indent(out, level);
                        break;
                case ':':
                        g_string_append_len(out, " : ", 3);
                        break;
                }
                p++;
        }
}

char *json_text(JsonNode *node, bool pretty) {
        return json_text_fix(json_to_string(node, pretty));
}
