/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* kubectl's JSONPath templates: text and {expressions}; an expression is
 * a path of .field, ['field'], [N], [-N], [*], [start:end],
 * [?(@.path OP literal)] (==, !=, <, >, <=, >=), ..field (recursive);
 * {range EXPR}...{end} repeats its body per result; {"text"} is literal
 * text with \n and \t.  Results of one expression print separated by
 * spaces; strings bare, other values as compact JSON. */
#include <stdlib.h>
#include <string.h>

#include "jsonpath.h"
#include "util.h"

typedef enum StepKind { STEP_FIELD, STEP_INDEX, STEP_ALL, STEP_SLICE, STEP_FILTER, STEP_RECURSE } StepKind;

typedef struct Step {
        StepKind kind;
        char *name;                     /* FIELD, RECURSE */
        long index, end;                /* INDEX; SLICE (end = LONG_MAX: open) */
        char *filter_path;              /* FILTER: "@.a.b" relative path */
        char *op;                       /* FILTER: NULL = exists */
        JsonNode *literal;              /* FILTER */
} Step;

static void step_free(Step *s) {
        g_free(s->name);
        g_free(s->filter_path);
        g_free(s->op);
        if (s->literal)
                json_node_unref(s->literal);
        g_free(s);
}

static int parse_literal(const char *s, JsonNode **ret, GError **error) {
        g_autoptr(JsonParser) p = json_parser_new();
        g_autofree char *text = NULL;
        s += strspn(s, " ");
        if (*s == '\'') {
                /* 'single quoted' as kubectl accepts */
                const char *end = strrchr(s + 1, '\'');
                if (!end)
                        return ev_error_set(error, EINVAL, "jsonpath: unterminated string in filter");
                g_autofree char *inner = g_strndup(s + 1, end - s - 1);
                *ret = json_node_init_string(json_node_alloc(), inner);
                return 0;
        }
        text = g_strstrip(g_strdup(s));
        if (!json_parser_load_from_data(p, text, -1, NULL))
                return ev_error_set(error, EINVAL, "jsonpath: \"%s\" is not a literal", text);
        *ret = json_node_copy(json_parser_get_root(p));
        return 0;
}

/* ".a.b[0][*]['x'][?(@.t=="R")]..c" -> steps */
static int parse_path(const char *expr, GPtrArray *steps, GError **error) {
        const char *p = expr;

        if (*p == '$')
                p++;
        if (*p == '@')
                p++;
        while (*p) {
                Step *s = g_new0(Step, 1);
                g_ptr_array_add(steps, s);
                if (p[0] == '.' && p[1] == '.') {
                        const char *start = p + 2;
                        size_t n = strcspn(start, ".[");
                        s->kind = STEP_RECURSE;
                        s->name = g_strndup(start, n);
                        p = start + n;
                } else if (*p == '.') {
                        const char *start = ++p;
                        GString *name = g_string_new(NULL);
                        while (*p && *p != '.' && *p != '[') {
                                if (*p == '\\' && p[1])         /* \. in a key: a dot */
                                        p++;
                                g_string_append_c(name, *p++);
                        }
                        if (p == start) {
                                g_string_free(name, TRUE);
                                /* "." alone: the current object */
                                g_ptr_array_remove(steps, s);
                                step_free(s);
                                continue;
                        }
                        s->kind = STEP_FIELD;
                        s->name = g_string_free(name, FALSE);
                } else if (*p == '[') {
                        const char *close;
                        if (p[1] == '?') {
                                /* [?(@.path OP literal)] */
                                close = strstr(p, ")]");
                                if (!close || p[2] != '(')
                                        return ev_error_set(error, EINVAL, "jsonpath: unterminated filter in \"%s\"",
                                                            expr);
                                g_autofree char *cond = g_strndup(p + 3, close - p - 3);
                                static const char *const ops[] = { "==", "!=", "<=", ">=", "<", ">", NULL };
                                char *at = NULL;
                                const char *op = NULL;
                                for (const char *const *o = ops; *o && !at; o++)
                                        if ((at = strstr(cond, *o)))
                                                op = *o;
                                s->kind = STEP_FILTER;
                                if (at) {
                                        s->filter_path = g_strstrip(g_strndup(cond, at - cond));
                                        s->op = g_strdup(op);
                                        if (parse_literal(at + strlen(op), &s->literal, error) < 0)
                                                return -EINVAL;
                                } else
                                        s->filter_path = g_strstrip(g_strdup(cond));
                                p = close + 2;
                                continue;
                        }
                        close = strchr(p, ']');
                        if (!close)
                                return ev_error_set(error, EINVAL, "jsonpath: unterminated [ in \"%s\"", expr);
                        g_autofree char *inner = g_strstrip(g_strndup(p + 1, close - p - 1));
                        char *colon = strchr(inner, ':');
                        if (streq(inner, "*"))
                                s->kind = STEP_ALL;
                        else if (inner[0] == '\'' || inner[0] == '"') {
                                s->kind = STEP_FIELD;
                                s->name = g_strndup(inner + 1, strlen(inner) >= 2 ? strlen(inner) - 2 : 0);
                        } else if (colon) {
                                s->kind = STEP_SLICE;
                                *colon = 0;
                                s->index = *inner ? strtol(inner, NULL, 10) : 0;
                                s->end = colon[1] ? strtol(colon + 1, NULL, 10) : G_MAXLONG;
                        } else {
                                char *end;
                                s->kind = STEP_INDEX;
                                s->index = strtol(inner, &end, 10);
                                if (*end || !*inner)
                                        return ev_error_set(error, EINVAL, "jsonpath: \"[%s]\" is not an index", inner);
                        }
                        p = close + 1;
                } else
                        return ev_error_set(error, EINVAL, "jsonpath: unexpected \"%c\" in \"%s\"", *p, expr);
        }
        return 0;
}

static void eval_steps(GPtrArray *steps, guint at, JsonNode *node, GPtrArray *out);

static int compare(JsonNode *a, JsonNode *b) {
        if (JSON_NODE_HOLDS_VALUE(a) && JSON_NODE_HOLDS_VALUE(b)) {
                GType ta = json_node_get_value_type(a), tb = json_node_get_value_type(b);
                if (ta == G_TYPE_STRING && tb == G_TYPE_STRING)
                        return strcmp(json_node_get_string(a), json_node_get_string(b));
                if (ta != G_TYPE_STRING && tb != G_TYPE_STRING && ta != G_TYPE_BOOLEAN && tb != G_TYPE_BOOLEAN) {
                        double x = ta == G_TYPE_INT64 ? (double) json_node_get_int(a) : json_node_get_double(a);
                        double y = tb == G_TYPE_INT64 ? (double) json_node_get_int(b) : json_node_get_double(b);
                        return x < y ? -1 : x > y ? 1 : 0;
                }
                if (ta == G_TYPE_BOOLEAN && tb == G_TYPE_BOOLEAN)
                        return json_node_get_boolean(a) == json_node_get_boolean(b) ? 0 : 1;
        }
        return 2;       /* not comparable: unequal, and neither less nor greater */
}

static bool filter_match(Step *s, JsonNode *item) {
        g_autoptr(GPtrArray) steps = g_ptr_array_new_with_free_func((GDestroyNotify) step_free);
        g_autoptr(GPtrArray) found = g_ptr_array_new();
        if (parse_path(s->filter_path, steps, NULL) < 0)
                return false;
        eval_steps(steps, 0, item, found);
        if (!s->op)
                return found->len > 0;
        for (guint i = 0; i < found->len; i++) {
                int c = compare(found->pdata[i], s->literal);
                if ((streq(s->op, "==") && c == 0) || (streq(s->op, "!=") && c != 0) ||
                    (streq(s->op, "<") && c == -1) ||
                    (streq(s->op, ">") && c == 1) || (streq(s->op, "<=") && (c == -1 || c == 0)) ||
                    (streq(s->op, ">=") && (c == 1 || c == 0)))
                        return true;
        }
        return false;
}

static void recurse(GPtrArray *steps, guint at, const char *name, JsonNode *node, GPtrArray *out) {
        if (JSON_NODE_HOLDS_OBJECT(node)) {
                JsonObject *o = json_node_get_object(node);
                JsonObjectIter it;
                const char *k;
                JsonNode *v;
                if (json_object_has_member(o, name))
                        eval_steps(steps, at + 1, json_object_get_member(o, name), out);
                json_object_iter_init_ordered(&it, o);
                while (json_object_iter_next_ordered(&it, &k, &v))
                        recurse(steps, at, name, v, out);
        } else if (JSON_NODE_HOLDS_ARRAY(node)) {
                JsonArray *a = json_node_get_array(node);
                for (guint i = 0; i < json_array_get_length(a); i++)
                        recurse(steps, at, name, json_array_get_element(a, i), out);
        }
}

static void eval_steps(GPtrArray *steps, guint at, JsonNode *node, GPtrArray *out) {
        if (!node)
                return;
        if (at == steps->len) {
                g_ptr_array_add(out, node);
                return;
        }
        Step *s = steps->pdata[at];
        JsonArray *a = JSON_NODE_HOLDS_ARRAY(node) ? json_node_get_array(node) : NULL;
        long n = a ? (long) json_array_get_length(a) : 0;

        switch (s->kind) {
        case STEP_FIELD:
                if (JSON_NODE_HOLDS_OBJECT(node))
                        eval_steps(steps, at + 1, json_object_get_member(json_node_get_object(node), s->name), out);
                break;
        case STEP_INDEX: {
                long i = s->index < 0 ? n + s->index : s->index;
                if (a && i >= 0 && i < n)
                        eval_steps(steps, at + 1, json_array_get_element(a, (guint) i), out);
                break;
        }
        case STEP_SLICE: {
                long from = s->index < 0 ? MAX(n + s->index, 0) : MIN(s->index, n);
                long to = s->end == G_MAXLONG ? n : s->end < 0 ? MAX(n + s->end, 0) : MIN(s->end, n);
                for (long i = from; a && i < to; i++)
                        eval_steps(steps, at + 1, json_array_get_element(a, (guint) i), out);
                break;
        }
        case STEP_ALL:
                if (a)
                        for (long i = 0; i < n; i++)
                                eval_steps(steps, at + 1, json_array_get_element(a, (guint) i), out);
                else if (JSON_NODE_HOLDS_OBJECT(node)) {
                        JsonObjectIter it;
                        const char *k;
                        JsonNode *v;
                        json_object_iter_init_ordered(&it, json_node_get_object(node));
                        while (json_object_iter_next_ordered(&it, &k, &v))
                                eval_steps(steps, at + 1, v, out);
                }
                break;
        case STEP_FILTER:
                for (long i = 0; a && i < n; i++)
                        if (filter_match(s, json_array_get_element(a, (guint) i)))
                                eval_steps(steps, at + 1, json_array_get_element(a, (guint) i), out);
                break;
        case STEP_RECURSE:
                recurse(steps, at, s->name, node, out);
                break;
        }
}

int jsonpath_eval(const char *expr, JsonNode *root, GPtrArray **ret, GError **error) {
        g_autoptr(GPtrArray) steps = g_ptr_array_new_with_free_func((GDestroyNotify) step_free);
        g_autoptr(GPtrArray) out = g_ptr_array_new();

        if (parse_path(expr, steps, error) < 0)
                return -EINVAL;
        eval_steps(steps, 0, root, out);
        *ret = g_steal_pointer(&out);
        return 0;
}

char *jsonpath_value_text(JsonNode *n) {
        if (JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING)
                return g_strdup(json_node_get_string(n));
        if (JSON_NODE_HOLDS_NULL(n))
                return g_strdup("");
        return json_to_string(n, FALSE);
}

/* Render from *pos until the end or an {end} that closes a range. */
static int render(const char **pos, JsonNode *current, GString *out, bool in_range, GError **error) {
        const char *p = *pos;

        while (*p) {
                if (*p != '{') {
                        g_string_append_c(out, *p++);
                        continue;
                }
                const char *close = strchr(p, '}');
                if (!close)
                        return ev_error_set(error, EINVAL, "jsonpath: unclosed { in template");
                g_autofree char *expr = g_strstrip(g_strndup(p + 1, close - p - 1));
                p = close + 1;
                if (streq(expr, "end")) {
                        if (!in_range)
                                return ev_error_set(error, EINVAL, "jsonpath: {end} without {range}");
                        *pos = p;
                        return 1;
                }
                if (expr[0] == '"') {
                        g_autofree char *inner = g_strndup(expr + 1, strlen(expr) >= 2 ? strlen(expr) - 2 : 0);
                        g_autofree char *unescaped = g_strcompress(inner);
                        g_string_append(out, unescaped);
                        continue;
                }
                if (g_str_has_prefix(expr, "range ")) {
                        g_autoptr(GPtrArray) items = NULL;
                        const char *body = p;
                        if (jsonpath_eval(g_strstrip(expr + 6), current, &items, error) < 0)
                                return -EINVAL;
                        if (items->len == 0) {
                                /* skip the body: render it into nothing */
                                g_autoptr(GString) sink = g_string_new(NULL);
                                g_autoptr(JsonNode) empty = json_node_init_null(json_node_alloc());
                                const char *q = body;
                                if (render(&q, empty, sink, true, error) < 0)
                                        return -EINVAL;
                                p = q;
                                continue;
                        }
                        for (guint i = 0; i < items->len; i++) {
                                const char *q = body;
                                int r = render(&q, items->pdata[i], out, true, error);
                                if (r < 0)
                                        return r;
                                if (r == 0)
                                        return ev_error_set(error, EINVAL, "jsonpath: {range} without {end}");
                                p = q;
                        }
                        continue;
                }
                g_autoptr(GPtrArray) found = NULL;
                if (jsonpath_eval(expr, current, &found, error) < 0)
                        return -EINVAL;
                for (guint i = 0; i < found->len; i++) {
                        g_autofree char *t = jsonpath_value_text(found->pdata[i]);
                        g_string_append_printf(out, "%s%s", i ? " " : "", t);
                }
        }
        *pos = p;
        return 0;
}

int jsonpath_render(const char *template, JsonNode *root, GString *out, GError **error) {
        const char *p = template;
        int r = render(&p, root, out, false, error);
        return r < 0 ? r : 0;
}
