/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <math.h>
#include <yaml.h>

#include "json-read.h"
#include "json-util.h"
#include "manifest.h"
#include "util.h"

/* Limits against hostile documents: nesting depth, and nodes created
 * (aliases are copied, so this also bounds "billion laughs" expansion). */
#define MAX_DEPTH JSON_MAX_DEPTH
#define MAX_NODES (1u << 20)

typedef struct Frame {
        JsonNode *node;         /* object or array under construction */
        char *pending_key;      /* for objects: the key awaiting its value */
        bool pending_merge;     /* that key is YAML's merge key: a plain << */
        yaml_mark_t key_mark;
        char *anchor;
        GHashTable *explicit;   /* once a merge key (<<) came: the keys given explicitly */
} Frame;

typedef struct Parser {
        GArray *stack;                  /* Frame */
        GHashTable *anchors;            /* name -> JsonNode (owned copy) */
        unsigned n_nodes;
        GError **error;
} Parser;

static int fail_at(GError **error, const yaml_mark_t *mark, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static int fail_at(GError **error, const yaml_mark_t *mark, const char *fmt, ...) {
        g_autofree char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        msg = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        return ev_error_set(error, EINVAL, "line %zu, column %zu: %s",
                            mark->line + 1, mark->column + 1, msg);
}

/* --- scalar resolution (YAML 1.1 as go-yaml v2 / sigs.k8s.io/yaml) --- */

static const char *const true_words[] = { "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON",
                                          NULL };
static const char *const false_words[] = { "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF",
                                           NULL };

static bool in_list(const char *s, const char *const *l) {
        for (; *l; l++)
                if (streq(s, *l))
                        return true;
        return false;
}

static bool is_null_word(const char *s) {
        return *s == 0 || streq(s, "~") || streq(s, "null") || streq(s, "Null") || streq(s, "NULL");
}

/* Integers: [-+]?(0b[01_]+ | 0x[0-9a-fA-F_]+ | 0o?[0-7_]+ | [0-9][0-9_]*).
 * Returns false when the text is not an integer or does not fit. */
static bool parse_int(const char *s, gint64 *ret) {
        g_autofree char *clean = NULL;
        const char *p = s;
        bool neg = false;
        int base = 10;
        char *w, *end;

        if (*p == '-' || *p == '+')
                neg = *p++ == '-';
        if (!*p)
                return false;
        if (p[0] == '0' && (p[1] == 'b' || p[1] == 'x' || p[1] == 'o')) {
                base = p[1] == 'b' ? 2 : p[1] == 'x' ? 16 : 8;
                p += 2;
        } else if (p[0] == '0' && p[1])
                base = 8;
        if (!*p || *p == '_')
                return false;
        clean = g_strdup(p);
        for (w = clean; *p; p++) {
                if (*p == '_')
                        continue;
                if (!g_ascii_isxdigit(*p))
                        return false;
                *w++ = *p;
        }
        *w = 0;
        errno = 0;
        guint64 v = g_ascii_strtoull(clean, &end, base);
        if (errno || *end)
                return false;
        if (neg ? v > (guint64) G_MAXINT64 + 1 : v > G_MAXINT64)
                return false;
        *ret = neg ? (gint64) (0 - v) : (gint64) v;
        return true;
}

/* Floats: [-+]?(\.[0-9]+|[0-9][0-9_]*(\.[0-9_]*)?)([eE][-+]?[0-9]+)?, .inf, .nan */
static bool parse_float(const char *s, double *ret) {
        const char *p = s;
        bool digits = false;

        if (*p == '-' || *p == '+')
                p++;
        if (streq(p, ".inf") || streq(p, ".Inf") || streq(p, ".INF")) {
                *ret = s[0] == '-' ? -INFINITY : INFINITY;
                return true;
        }
        if (p == s && (streq(p, ".nan") || streq(p, ".NaN") || streq(p, ".NAN"))) {
                *ret = NAN;
                return true;
        }
        if (*p == '.') {
                if (!g_ascii_isdigit(p[1]))
                        return false;
        } else {
                if (!g_ascii_isdigit(*p))
                        return false;
                while (g_ascii_isdigit(*p) || *p == '_')
                        p++, digits = true;
        }
        if (*p == '.') {
                p++;
                while (g_ascii_isdigit(*p) || *p == '_')
                        p++, digits = true;
        }
        if (!digits)
                return false;
        if (*p == 'e' || *p == 'E') {
                p++;
                if (*p == '-' || *p == '+')
                        p++;
                if (!g_ascii_isdigit(*p))
                        return false;
                while (g_ascii_isdigit(*p))
                        p++;
        }
        if (*p)
                return false;
        g_autofree char *clean = g_strdup(s);
        char *w = clean;
        for (const char *r = s; *r; r++)
                if (*r != '_')
                        *w++ = *r;
        *w = 0;
        *ret = g_ascii_strtod(clean, NULL);
        return true;
}

static JsonNode *resolve_plain(const char *s) {
        JsonNode *n = json_node_alloc();
        gint64 i;
        double d;

        if (is_null_word(s))
                return json_node_init_null(n);
        if (in_list(s, true_words))
                return json_node_init_boolean(n, TRUE);
        if (in_list(s, false_words))
                return json_node_init_boolean(n, FALSE);
        if (parse_int(s, &i))
                return json_node_init_int(n, i);
        if (parse_float(s, &d) && isfinite(d))
                return json_node_init_double(n, d);
        return json_node_init_string(n, s);
}

/* YAML 1.1 timestamps (2001-12-14, 2001-12-14T21:59:43Z): Kubernetes
 * reads them as strings, but other YAML readers would make dates of them. */
static bool looks_like_timestamp(const char *s) {
        return g_ascii_isdigit(s[0]) && g_ascii_isdigit(s[1]) && g_ascii_isdigit(s[2]) &&
               g_ascii_isdigit(s[3]) && s[4] == '-' && g_ascii_isdigit(s[5]);
}

gboolean manifest_plain_is_string(const char *s) {
        g_autoptr(JsonNode) n = resolve_plain(s);
        double d;

        if (looks_like_timestamp(s))
                return FALSE;
        /* A non-finite float resolves to a string above (JSON cannot hold it),
         * but must still be quoted to read back the same. */
        return JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING && !parse_float(s, &d);
}

#define MERGE_TAG "tag:yaml.org,2002:merge"

/* YAML's merge key is a plain << (or one tagged !!merge, or "!"), as
 * go-yaml v2 reads it; a quoted '<<' is an ordinary key. */
static bool is_merge_key(const yaml_event_t *ev) {
        const char *tag = (const char *) ev->data.scalar.tag;

        if (tag && !streq(tag, "!"))
                return streq(tag, MERGE_TAG);
        /* libyaml takes a scalar tagged "!" as plain-implicit, and go-yaml merges it */
        return (tag || ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) &&
               streq((const char *) ev->data.scalar.value, "<<");
}

static JsonNode *resolve_scalar(const yaml_event_t *ev, GError **error) {
        const char *value = (const char *) ev->data.scalar.value;
        const char *tag = (const char *) ev->data.scalar.tag;
        JsonNode *n;
        gint64 i;
        double d;

        if (tag && !streq(tag, "!")) {
                if (streq(tag, YAML_STR_TAG))
                        return json_node_init_string(json_node_alloc(), value);
                if (streq(tag, YAML_NULL_TAG))
                        return json_node_init_null(json_node_alloc());
                if (streq(tag, YAML_BOOL_TAG)) {
                        if (in_list(value, true_words))
                                return json_node_init_boolean(json_node_alloc(), TRUE);
                        if (in_list(value, false_words))
                                return json_node_init_boolean(json_node_alloc(), FALSE);
                } else if (streq(tag, YAML_INT_TAG)) {
                        if (parse_int(value, &i))
                                return json_node_init_int(json_node_alloc(), i);
                } else if (streq(tag, MERGE_TAG)) {
                        if (streq(value, "<<"))
                                return json_node_init_string(json_node_alloc(), value);
                } else if (streq(tag, YAML_FLOAT_TAG)) {
                        if (parse_int(value, &i))
                                return json_node_init_double(json_node_alloc(), (double) i);
                        if (parse_float(value, &d) && isfinite(d))
                                return json_node_init_double(json_node_alloc(), d);
                } else {
                        fail_at(error, &ev->start_mark, "unsupported tag %s", tag);
                        return NULL;
                }
                fail_at(error, &ev->start_mark, "cannot decode \"%s\" as %s", value, tag);
                return NULL;
        }
        if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || (tag && streq(tag, "!")))
                return json_node_init_string(json_node_alloc(), value);
        n = resolve_plain(value);
        return n;
}

/* --- event-driven tree building --- */

static Frame *top(Parser *p) {
        return p->stack->len ? &g_array_index(p->stack, Frame, p->stack->len - 1) : NULL;
}

/* The field path of the value being read, or (key != NULL) of that key of
 * the innermost mapping. */
static char *path_here(Parser *p, const char *key, size_t key_len) {
        g_autofree JsonPathStep *steps = g_new0(JsonPathStep, p->stack->len + 1);
        size_t n = 0;

        for (guint i = 0; i < p->stack->len; i++) {
                Frame *f = &g_array_index(p->stack, Frame, i);
                if (json_path_step_into(f->node, f->pending_key, &steps[n]))
                        n++;
        }
        if (key)
                steps[n++] = (JsonPathStep) { .key = key, .key_len = key_len };
        return json_path_string(steps, n);
}

/* "PATH: MESSAGE (line L, column C)", as the JSON reader says it. */
static int fail_path(Parser *p, const yaml_mark_t *mark, const char *key, size_t key_len, const char *fmt, ...)
        G_GNUC_PRINTF(5, 6);
static int fail_path(Parser *p, const yaml_mark_t *mark, const char *key, size_t key_len, const char *fmt, ...) {
        g_autofree char *msg = NULL, *path = path_here(p, key, key_len);
        va_list ap;

        va_start(ap, fmt);
        msg = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        return ev_error_set(p->error, EINVAL, "%s: %s (line %zu, column %zu)", path, msg,
                            mark->line + 1, mark->column + 1);
}

/* A scalar holding a NUL character ("\0", "\x00", "\u0000" in a double-
 * quoted scalar): libyaml keeps it, C strings would cut it there. */
static int refuse_nul(Parser *p, const yaml_event_t *ev) {
        const char *value = (const char *) ev->data.scalar.value;
        size_t len = ev->data.scalar.length;
        Frame *f = top(p);
        bool is_key = f && JSON_NODE_HOLDS_OBJECT(f->node) && !f->pending_key;
        g_autofree char *shown = NULL;

        if (!memchr(value, 0, len))
                return 0;
        shown = json_quote_for_message(value, len);
        if (is_key)
                return fail_path(p, &ev->start_mark, value, len,
                                 "Invalid value: %s: a key must not contain a NUL character", shown);
        return fail_path(p, &ev->start_mark, NULL, 0, "Invalid value: %s: must not contain a NUL character", shown);
}

/* Nodes in a tree built here, and its nesting levels (*depth; at most
 * MAX_DEPTH, so the recursion is bounded). */
static unsigned measure(JsonNode *n, unsigned *depth) {
        unsigned c = 1, d, deepest = 0;

        *depth = 0;
        if (JSON_NODE_HOLDS_OBJECT(n)) {
                JsonObjectIter it;
                const char *unused_name;
                JsonNode *v;
                json_object_iter_init_ordered(&it, json_node_get_object(n));
                while (json_object_iter_next_ordered(&it, &unused_name, &v)) {
                        c += measure(v, &d);
                        deepest = MAX(deepest, d);
                }
        } else if (JSON_NODE_HOLDS_ARRAY(n)) {
                JsonArray *a = json_node_get_array(n);
                for (guint i = 0; i < json_array_get_length(a); i++) {
                        c += measure(json_array_get_element(a, i), &d);
                        deepest = MAX(deepest, d);
                }
        } else
                return c;
        *depth = deepest + 1;
        return c;
}

/* A merge key's value merged into the mapping o as go-yaml v2 does it, in
 * the place it is given: its keys override what came before (an explicit
 * key after it overrides them again); of a list of mappings, the first
 * that has a key gives it. */
static void merge_into(JsonObject *o, JsonNode *src) {
        if (JSON_NODE_HOLDS_ARRAY(src)) {
                JsonArray *a = json_node_get_array(src);
                for (guint i = json_array_get_length(a); i-- > 0;)
                        merge_into(o, json_array_get_element(a, i));
                return;
        }
        JsonObjectIter it;
        const char *k;
        JsonNode *v;
        json_object_iter_init_ordered(&it, json_node_get_object(src));
        while (json_object_iter_next_ordered(&it, &k, &v))
                json_object_set_member(o, k, json_deep_copy(v));
}

static bool mergeable(JsonNode *value) {
        if (JSON_NODE_HOLDS_OBJECT(value))
                return true;
        if (!JSON_NODE_HOLDS_ARRAY(value))
                return false;
        JsonArray *a = json_node_get_array(value);
        for (guint i = 0; i < json_array_get_length(a); i++)
                if (!JSON_NODE_HOLDS_OBJECT(json_array_get_element(a, i)))
                        return false;
        return true;
}

/* Attach a finished value to the enclosing container, or return it as the
 * document root (*root).  merge_key: value is a scalar read as YAML's
 * merge key (is_merge_key).  Takes ownership of value. */
static int attach(Parser *p, JsonNode *value, bool merge_key, const char *anchor, const yaml_mark_t *mark,
                  JsonNode **root) {
        Frame *f = top(p);

        /* a reference: an alias copies it when used (and counts its nodes
         * then); a copy here, uncounted, let anchors nested in anchors
         * multiply memory by their depth */
        if (anchor)
                g_hash_table_replace(p->anchors, g_strdup(anchor), json_node_ref(value));

        if (!f) {
                *root = value;
                return 0;
        }
        if (JSON_NODE_HOLDS_ARRAY(f->node)) {
                json_array_add_element(json_node_get_array(f->node), value);
                return 0;
        }
        JsonObject *o = json_node_get_object(f->node);
        if (!f->pending_key) {
                /* value is a key */
                if (!JSON_NODE_HOLDS_VALUE(value) && !JSON_NODE_HOLDS_NULL(value)) {
                        json_node_unref(value);
                        return fail_at(p->error, mark, "mapping keys must be scalars");
                }
                if (JSON_NODE_HOLDS_NULL(value))
                        f->pending_key = g_strdup("null");
                else if (json_node_get_value_type(value) == G_TYPE_STRING)
                        f->pending_key = g_strdup(json_node_get_string(value));
                else if (json_node_get_value_type(value) == G_TYPE_BOOLEAN)
                        f->pending_key = g_strdup(json_node_get_boolean(value) ? "true" : "false");
                else if (json_node_get_value_type(value) == G_TYPE_INT64)
                        f->pending_key = g_strdup_printf("%" G_GINT64_FORMAT, json_node_get_int(value));
                else {
                        char buf[G_ASCII_DTOSTR_BUF_SIZE];
                        f->pending_key = g_strdup(g_ascii_dtostr(buf, sizeof buf, json_node_get_double(value)));
                }
                f->pending_merge = merge_key;
                f->key_mark = *mark;
                json_node_unref(value);
                return 0;
        }
        g_autofree char *key = g_steal_pointer(&f->pending_key);
        if (f->pending_merge) {
                if (!mergeable(value)) {
                        json_node_unref(value);
                        return fail_path(p, &f->key_mark, NULL, 0, "Invalid value: the merge key << takes a "
                                         "mapping or a list of mappings (quote it, '<<', for a key of that name)");
                }
                if (!f->explicit) {
                        /* the keys so far were all given explicitly */
                        f->explicit = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
                        JsonObjectIter it;
                        const char *k;
                        json_object_iter_init_ordered(&it, o);
                        while (json_object_iter_next_ordered(&it, &k, NULL))
                                g_hash_table_add(f->explicit, g_strdup(k));
                }
                merge_into(o, value);
                json_node_unref(value);
                return 0;
        }
        /* an explicit key given twice is an error; one a merge gave, an override */
        if (f->explicit ? !g_hash_table_add(f->explicit, g_strdup(key)) : json_object_has_member(o, key)) {
                g_autofree char *shown = json_quote_for_message(key, strlen(key));
                json_node_unref(value);
                return fail_path(p, &f->key_mark, key, strlen(key), "Duplicate value: %s: the key is given twice",
                                 shown);
        }
        json_object_set_member(o, key, value);
        return 0;
}

static void frame_clear(Frame *f) {
        g_clear_pointer(&f->node, json_node_unref);
        g_clear_pointer(&f->pending_key, g_free);
        g_clear_pointer(&f->anchor, g_free);
        g_clear_pointer(&f->explicit, g_hash_table_unref);
}

static int push(Parser *p, JsonNode *container, const char *anchor, const yaml_mark_t *mark) {
        if (p->stack->len >= MAX_DEPTH) {
                json_node_unref(container);
                return fail_path(p, mark, NULL, 0, "Invalid value: nested deeper than %d levels", MAX_DEPTH);
        }
        Frame f = { .node = container, .anchor = g_strdup(anchor) };
        g_array_append_val(p->stack, f);
        return 0;
}

static int pop(Parser *p, const yaml_mark_t *mark, JsonNode **root) {
        Frame f = *top(p);
        /* The frame's contents move to f; shrinking runs the clear func. */
        memset(top(p), 0, sizeof(Frame));
        g_array_set_size(p->stack, p->stack->len - 1);
        JsonNode *node = g_steal_pointer(&f.node);

        int r = attach(p, node, false, f.anchor, mark, root);
        frame_clear(&f);
        return r;
}

static int parse_yaml(const char *text, size_t len, GPtrArray *docs, GError **error) {
        yaml_parser_t parser;
        yaml_event_t ev;
        Parser p = {
                .stack = g_array_new(FALSE, TRUE, sizeof(Frame)),
                .anchors = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify) json_node_unref),
                .error = error,
        };
        JsonNode *root = NULL;
        int r = 0;
        bool done = false;

        g_array_set_clear_func(p.stack, (GDestroyNotify) frame_clear);
        if (!yaml_parser_initialize(&parser))
                return ev_error_set(error, ENOMEM, "out of memory");
        yaml_parser_set_input_string(&parser, (const unsigned char *) text, len);

        while (!done && r >= 0) {
                if (!yaml_parser_parse(&parser, &ev)) {
                        r = fail_at(error, &parser.problem_mark, "%s%s%s",
                                    parser.problem ? parser.problem : "syntax error",
                                    parser.context ? " " : "", parser.context ? parser.context : "");
                        break;
                }
                const char *anchor = NULL;
                switch (ev.type) {
                case YAML_STREAM_END_EVENT:
                        done = true;
                        break;
                case YAML_DOCUMENT_START_EVENT:
                        root = NULL;
                        g_hash_table_remove_all(p.anchors);
                        break;
                case YAML_DOCUMENT_END_EVENT:
                        if (root && !JSON_NODE_HOLDS_NULL(root))
                                g_ptr_array_add(docs, root);
                        else if (root)
                                json_node_unref(root);
                        root = NULL;
                        break;
                case YAML_SCALAR_EVENT: {
                        if ((r = refuse_nul(&p, &ev)) < 0)
                                break;
                        JsonNode *n = resolve_scalar(&ev, error);
                        if (!n) {
                                r = -EINVAL;
                                break;
                        }
                        if (++p.n_nodes > MAX_NODES) {
                                json_node_unref(n);
                                r = fail_at(error, &ev.start_mark, "document has more than %u nodes", MAX_NODES);
                                break;
                        }
                        r = attach(&p, n, is_merge_key(&ev), (const char *) ev.data.scalar.anchor, &ev.start_mark,
                                   &root);
                        break;
                }
                case YAML_SEQUENCE_START_EVENT:
                        anchor = (const char *) ev.data.sequence_start.anchor;
                        p.n_nodes++;
                        r = push(&p, json_array_node_new(), anchor, &ev.start_mark);
                        break;
                case YAML_MAPPING_START_EVENT:
                        anchor = (const char *) ev.data.mapping_start.anchor;
                        p.n_nodes++;
                        r = push(&p, json_object_node_new(), anchor, &ev.start_mark);
                        break;
                case YAML_SEQUENCE_END_EVENT:
                case YAML_MAPPING_END_EVENT:
                        r = pop(&p, &ev.start_mark, &root);
                        break;
                case YAML_ALIAS_EVENT: {
                        JsonNode *target = g_hash_table_lookup(p.anchors, ev.data.alias.anchor);
                        if (!target) {
                                r = fail_at(error, &ev.start_mark, "unknown anchor \"%s\"", ev.data.alias.anchor);
                                break;
                        }
                        unsigned depth, nodes = measure(target, &depth);
                        if (p.stack->len + depth > MAX_DEPTH) {
                                r = fail_path(&p, &ev.start_mark, NULL, 0, "Invalid value: nested deeper than %d "
                                              "levels (through alias *%s)", MAX_DEPTH, ev.data.alias.anchor);
                                break;
                        }
                        p.n_nodes += nodes;
                        if (p.n_nodes > MAX_NODES) {
                                r = fail_at(error, &ev.start_mark, "aliases expand to more than %u nodes", MAX_NODES);
                                break;
                        }
                        r = attach(&p, json_deep_copy(target), false, NULL, &ev.start_mark, &root);
                        break;
                }
                default:
                        break;
                }
                yaml_event_delete(&ev);
        }
        if (r < 0 && root)
                json_node_unref(root);
        yaml_parser_delete(&parser);
        g_array_unref(p.stack);
        g_hash_table_unref(p.anchors);
        return r;
}

/* JSON goes through our own bounded reader (json-read.c says why). */
static int parse_json(const char *text, size_t len, GPtrArray *docs, GError **error) {
        JsonNode *root = json_read(text, len, error);

        if (!root)
                return -EINVAL;
        if (JSON_NODE_HOLDS_NULL(root))
                json_node_unref(root);
        else
                g_ptr_array_add(docs, root);
        return 0;
}

int manifest_parse(const char *text, size_t len, GPtrArray **ret, GError **error) {
        g_autoptr(GPtrArray) docs = g_ptr_array_new_with_free_func((GDestroyNotify) json_node_unref);
        size_t i = 0;
        int r;

        if (memchr(text, 0, len))
                return ev_error_set(error, EINVAL, "document contains a NUL byte");
        if (!g_utf8_validate(text, (gssize) len, NULL))
                return ev_error_set(error, EINVAL, "document is not valid UTF-8");

        while (i < len && g_ascii_isspace(text[i]))
                i++;
        /* A JSON document (one object or array) gets the strict JSON
         * reader; everything else, including JSON inside "---" streams, is
         * read as YAML, of which JSON is a subset. */
        if (i < len && (text[i] == '{' || text[i] == '['))
                r = parse_json(text, len, docs, error);
        else
                r = parse_yaml(text, len, docs, error);
        if (r < 0)
                return r;
        *ret = g_steal_pointer(&docs);
        return 0;
}

/* --- output --- */

static int emit(yaml_emitter_t *em, yaml_event_t *ev) {
        return yaml_emitter_emit(em, ev) ? 0 : -EIO;
}

static int emit_scalar(yaml_emitter_t *em, const char *s, yaml_scalar_style_t style) {
        yaml_event_t ev;
        yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *) s, (int) strlen(s), 1, 1, style);
        return emit(em, &ev);
}

static int emit_node(yaml_emitter_t *em, JsonNode *n) {
        yaml_event_t ev;
        int r = 0;

        switch (json_node_get_node_type(n)) {
        case JSON_NODE_OBJECT: {
                JsonObjectIter it;
                const char *k;
                JsonNode *v;
                yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
                if ((r = emit(em, &ev)) < 0)
                        return r;
                json_object_iter_init_ordered(&it, json_node_get_object(n));
                while (r >= 0 && json_object_iter_next_ordered(&it, &k, &v)) {
                        /* a plain << would read back as the merge key */
                        yaml_scalar_style_t style = manifest_plain_is_string(k) && !streq(k, "<<")
                                                            ? YAML_ANY_SCALAR_STYLE
                                                            : YAML_SINGLE_QUOTED_SCALAR_STYLE;
                        r = emit_scalar(em, k, style);
                        if (r >= 0)
                                r = emit_node(em, v);
                }
                if (r < 0)
                        return r;
                yaml_mapping_end_event_initialize(&ev);
                return emit(em, &ev);
        }
        case JSON_NODE_ARRAY: {
                JsonArray *a = json_node_get_array(n);
                yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
                if ((r = emit(em, &ev)) < 0)
                        return r;
                for (guint i = 0; r >= 0 && i < json_array_get_length(a); i++)
                        r = emit_node(em, json_array_get_element(a, i));
                if (r < 0)
                        return r;
                yaml_sequence_end_event_initialize(&ev);
                return emit(em, &ev);
        }
        case JSON_NODE_NULL:
                return emit_scalar(em, "null", YAML_PLAIN_SCALAR_STYLE);
        case JSON_NODE_VALUE:
                break;
        }
        GType t = json_node_get_value_type(n);
        if (t == G_TYPE_STRING) {
                const char *s = json_node_get_string(n);
                yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
                if (strchr(s, '\n'))
                        style = YAML_LITERAL_SCALAR_STYLE;
                else if (!manifest_plain_is_string(s))
                        style = YAML_SINGLE_QUOTED_SCALAR_STYLE;
                return emit_scalar(em, s, style);
        }
        if (t == G_TYPE_BOOLEAN)
                return emit_scalar(em, json_node_get_boolean(n) ? "true" : "false", YAML_PLAIN_SCALAR_STYLE);
        if (t == G_TYPE_INT64) {
                char buf[32];
                g_snprintf(buf, sizeof buf, "%" G_GINT64_FORMAT, json_node_get_int(n));
                return emit_scalar(em, buf, YAML_PLAIN_SCALAR_STYLE);
        }
        char buf[G_ASCII_DTOSTR_BUF_SIZE];
        g_ascii_dtostr(buf, sizeof buf, json_node_get_double(n));
        if (!strpbrk(buf, ".eEn"))
                g_strlcat(buf, ".0", sizeof buf);
        return emit_scalar(em, buf, YAML_PLAIN_SCALAR_STYLE);
}

static int write_handler(void *data, unsigned char *buffer, size_t size) {
        g_string_append_len(data, (const char *) buffer, (gssize) size);
        return 1;
}

char *manifest_to_yaml(JsonNode *node) {
        yaml_emitter_t em;
        yaml_event_t ev;
        GString *out = g_string_new(NULL);
        int r;

        yaml_emitter_initialize(&em);
        yaml_emitter_set_output(&em, write_handler, out);
        yaml_emitter_set_unicode(&em, 1);
        yaml_emitter_set_width(&em, -1);
        yaml_emitter_set_indent(&em, 2);

        yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
        r = emit(&em, &ev);
        if (r >= 0) {
                yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
                r = emit(&em, &ev);
        }
        if (r >= 0)
                r = emit_node(&em, node);
        if (r >= 0) {
                yaml_document_end_event_initialize(&ev, 1);
                r = emit(&em, &ev);
        }
        if (r >= 0) {
                yaml_stream_end_event_initialize(&ev);
                r = emit(&em, &ev);
        }
        yaml_emitter_delete(&em);
        g_assert(r >= 0);  /* emitting a well-formed tree to memory cannot fail */
        return g_string_free(out, FALSE);
}

char *manifest_to_json(JsonNode *node, gboolean pretty) {
        g_autoptr(JsonGenerator) gen = json_generator_new();

        json_generator_set_root(gen, node);
        json_generator_set_pretty(gen, pretty);
        json_generator_set_indent(gen, 2);
        return json_text_fix(json_generator_to_data(gen, NULL));
}
