/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "json-util.h"
#include "labelselector.h"
#include "util.h"
#include "validate.h"

typedef enum Op { OP_EQ, OP_NE, OP_IN, OP_NOTIN, OP_EXISTS, OP_NOT_EXISTS } Op;

typedef struct Requirement {
        char *key;
        Op op;
        char **values;
} Requirement;

struct LabelSelector {
        GArray *reqs;
};

static void requirement_clear(Requirement *r) {
        g_free(r->key);
        g_strfreev(r->values);
}

LabelSelector *label_selector_free(LabelSelector *sel) {
        if (!sel)
                return NULL;
        g_array_unref(sel->reqs);
        g_free(sel);
        return NULL;
}

static void skip_ws(const char **p) {
        while (**p == ' ' || **p == '\t')
                (*p)++;
}

static char *read_token(const char **p) {
        const char *start = *p;
        while (**p && !strchr(" \t,=!()", **p))
                (*p)++;
        return g_strndup(start, *p - start);
}

static int parse_values(const char **p, const char *s, GPtrArray *values, GError **error) {
        skip_ws(p);
        if (**p != '(')
                return ev_error_set(error, EINVAL, "label selector \"%s\": expected '(' after set operator", s);
        (*p)++;
        for (;;) {
                skip_ws(p);
                g_autofree char *v = read_token(p);
                g_autoptr(GError) e = NULL;
                if (validate_label_value(v, &e) < 0)
                        return ev_error_set(error, EINVAL, "label selector \"%s\": value %s", s, e->message);
                g_ptr_array_add(values, g_steal_pointer(&v));
                skip_ws(p);
                if (**p == ',') {
                        (*p)++;
                        continue;
                }
                if (**p == ')') {
                        (*p)++;
                        return 0;
                }
                return ev_error_set(error, EINVAL, "label selector \"%s\": expected ',' or ')' in value set", s);
        }
}

int label_selector_parse(const char *s, LabelSelector **ret, GError **error) {
        g_autoptr(LabelSelector) sel = g_new0(LabelSelector, 1);
        const char *p = s;

        sel->reqs = g_array_new(FALSE, TRUE, sizeof(Requirement));
        g_array_set_clear_func(sel->reqs, (GDestroyNotify) requirement_clear);

        skip_ws(&p);
        while (*p) {
                Requirement r = { 0 };
                g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func(g_free);
                g_autoptr(GError) e = NULL;
                bool negated = false;

                skip_ws(&p);
                if (*p == '!') {
                        negated = true;
                        p++;
                        skip_ws(&p);
                }
                r.key = read_token(&p);
                if (validate_qualified_name(r.key, &e) < 0) {
                        g_free(r.key);
                        return ev_error_set(error, EINVAL, "label selector \"%s\": key %s", s, e->message);
                }
                skip_ws(&p);
                if (negated) {
                        r.op = OP_NOT_EXISTS;
                } else if (*p == ',' || *p == 0) {
                        r.op = OP_EXISTS;
                } else if (p[0] == '=' || p[0] == '!') {
                        if (p[0] == '!' && p[1] != '=') {
                                g_free(r.key);
                                return ev_error_set(error, EINVAL, "label selector \"%s\": expected \"!=\"", s);
                        }
                        r.op = p[0] == '!' ? OP_NE : OP_EQ;
                        p += p[0] == '!' || p[1] == '=' ? 2 : 1;
                        skip_ws(&p);
                        g_autofree char *v = read_token(&p);
                        if (validate_label_value(v, &e) < 0) {
                                g_free(r.key);
                                return ev_error_set(error, EINVAL, "label selector \"%s\": value %s", s, e->message);
                        }
                        g_ptr_array_add(values, g_steal_pointer(&v));
                } else {
                        g_autofree char *op = read_token(&p);
                        int k;
                        if (streq(op, "in"))
                                r.op = OP_IN;
                        else if (streq(op, "notin"))
                                r.op = OP_NOTIN;
                        else {
                                g_free(r.key);
                                return ev_error_set(error, EINVAL, "label selector \"%s\": unknown operator \"%s\"", s,
                                                    op);
                        }
                        k = parse_values(&p, s, values, error);
                        if (k < 0) {
                                g_free(r.key);
                                return k;
                        }
                }
                g_ptr_array_add(values, NULL);
                r.values = (char **) g_ptr_array_steal(values, NULL);
                g_array_append_val(sel->reqs, r);
                skip_ws(&p);
                if (*p == ',')
                        p++;
                else if (*p)
                        return ev_error_set(error, EINVAL, "label selector \"%s\": unexpected \"%s\"", s, p);
        }
        *ret = g_steal_pointer(&sel);
        return 0;
}

bool label_selector_matches(const LabelSelector *sel, JsonObject *labels) {
        for (guint i = 0; i < sel->reqs->len; i++) {
                const Requirement *r = &g_array_index(sel->reqs, Requirement, i);
                JsonNode *n = labels ? json_object_get_member(labels, r->key) : NULL;
                const char *v = n && JSON_NODE_HOLDS_VALUE(n) ? json_node_get_string(n) : NULL;
                bool in = v && g_strv_contains((const char *const *) r->values, v);

                switch (r->op) {
                case OP_EQ:
                case OP_IN:
                        if (!in)
                                return false;
                        break;
                case OP_NE:
                case OP_NOTIN:
                        if (in)
                                return false;
                        break;
                case OP_EXISTS:
                        if (!v)
                                return false;
                        break;
                case OP_NOT_EXISTS:
                        if (v)
                                return false;
                        break;
                }
        }
        return true;
}

static const char *const expression_ops[][2] = {
        { "In", "in" }, { "NotIn", "notin" }, { "Exists", "" }, { "DoesNotExist", "!" },
};

/* One matchExpressions entry in the string form; NULL with error. */
static char *format_expression(JsonObject *x, guint i, GError **error) {
        const char *key = json_get_string(x, "key"), *op = json_get_string(x, "operator");
        JsonArray *values = json_get_array(x, "values");
        guint n = values ? json_array_get_length(values) : 0;

        for (size_t k = 0; k < G_N_ELEMENTS(expression_ops); k++) {
                if (!streq_ptr(op, expression_ops[k][0]))
                        continue;
                bool set = k < 2;
                if (set != (n > 0)) {
                        ev_error_set(error, EINVAL, "matchExpressions[%u].values: Invalid value: %s", i,
                                     set ? "must be specified when `operator` is 'In' or 'NotIn'" :
                                           "may not be specified when `operator` is 'Exists' or 'DoesNotExist'");
                        return NULL;
                }
                if (!set)
                        return g_strdup_printf("%s%s", expression_ops[k][1], key ?: "");
                g_autoptr(GString) s = g_string_new(NULL);
                g_string_append_printf(s, "%s %s (", key ?: "", expression_ops[k][1]);
                for (guint v = 0; v < n; v++)
                        g_string_append_printf(s, "%s%s", v ? "," : "", json_array_get_string_element(values, v) ?: "");
                g_string_append_c(s, ')');
                return g_string_free(g_steal_pointer(&s), FALSE);
        }
        ev_error_set(error, EINVAL, "matchExpressions[%u].operator: Unsupported value: \"%s\": supported values: "
                     "\"In\", \"NotIn\", \"Exists\", \"DoesNotExist\"", i, op ?: "");
        return NULL;
}

char *label_selector_format(JsonObject *sel, GError **error) {
        JsonObject *labels = json_get_object(sel, "matchLabels");
        JsonArray *exprs = json_get_array(sel, "matchExpressions");
        g_autoptr(GPtrArray) parts = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(LabelSelector) parsed = NULL;

        if (labels) {
                g_autoptr(GList) keys = g_list_sort(json_object_get_members(labels), (GCompareFunc) strcmp);
                for (GList *k = keys; k; k = k->next)
                        g_ptr_array_add(parts, g_strdup_printf("%s=%s", (const char *) k->data,
                                                               json_get_string(labels, k->data) ?: ""));
        }
        for (guint i = 0; exprs && i < json_array_get_length(exprs); i++) {
                char *x = format_expression(json_array_get_object_element(exprs, i), i, error);
                if (!x)
                        return NULL;
                g_ptr_array_add(parts, x);
        }
        g_ptr_array_add(parts, NULL);
        g_autofree char *s = g_strjoinv(",", (char **) parts->pdata);
        if (label_selector_parse(s, &parsed, error) < 0)
                return NULL;
        return g_steal_pointer(&s);
}
