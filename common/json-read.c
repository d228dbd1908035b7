/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A small, strict, iterative JSON reader for everything that arrives from
 * outside: Apply documents, documents loaded back from the object store,
 * docker configs in Secrets, patches, a registry's replies.
 *
 * Why not json-glib's JsonParser: it recurses once per nesting level while
 * parsing and again while freeing (60,000 levels of "{"a":" overflow the
 * stack), offers no depth limit, keeps the last of two equal keys without a
 * word, cuts strings at "\u0000" (so "a\u0000b" becomes "a" and two keys can
 * collapse into one), wraps integers beyond 64 bits ("2^70" reads as -1),
 * reads 1e400 as infinity, and accepts comments, single quotes and hex
 * numbers that Kubernetes refuses.  This reader keeps an explicit stack,
 * refuses all of these with the field path, and builds json-glib nodes, so
 * the rest of the code keeps using json-glib's tree. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "json-read.h"
#include "util.h"

#define MAX_PATH_STEPS 16       /* deeper paths in messages are shortened */
#define MAX_SHOWN_BYTES 64      /* of a key or value in a message */

/* --- messages --- */

static void append_escaped(GString *out, const char *s, size_t len, bool quoted) {
        size_t shown = len > MAX_SHOWN_BYTES ? MAX_SHOWN_BYTES : len;

        /* cut on a character boundary */
        while (shown < len && shown > 0 && ((unsigned char) s[shown] & 0xC0) == 0x80)
                shown--;
        if (quoted)
                g_string_append_c(out, '"');
        for (size_t i = 0; i < shown; i++) {
                unsigned char c = (unsigned char) s[i];
                if (c < 0x20 || c == 0x7f)
                        g_string_append_printf(out, "\\u%04x", c);
                else if (quoted && (c == '"' || c == '\\'))
                        g_string_append_printf(out, "\\%c", c);
                else
                        g_string_append_c(out, (char) c);
        }
        if (shown < len)
                g_string_append(out, "...");
        if (quoted)
                g_string_append_c(out, '"');
}

char *json_quote_for_message(const char *s, size_t len) {
        GString *out = g_string_new(NULL);
        append_escaped(out, s, len, true);
        return g_string_free(out, FALSE);
}

static bool plain_word(const char *s, size_t len) {
        if (len == 0)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!g_ascii_isalnum(s[i]) && s[i] != '_' && s[i] != '-')
                        return false;
        return true;
}

static void append_step(GString *out, const JsonPathStep *step) {
        if (!step->key) {
                g_string_append_printf(out, "[%u]", step->index);
                return;
        }
        if (!plain_word(step->key, step->key_len)) {
                g_string_append_c(out, '[');
                append_escaped(out, step->key, step->key_len, false);
                g_string_append_c(out, ']');
                return;
        }
        if (out->len)
                g_string_append_c(out, '.');
        g_string_append_len(out, step->key, (gssize) step->key_len);
}

bool json_path_step_into(JsonNode *container, const char *key, JsonPathStep *ret) {
        if (JSON_NODE_HOLDS_ARRAY(container)) {
                *ret = (JsonPathStep) { .index = json_array_get_length(json_node_get_array(container)) };
                return true;
        }
        if (!key)
                return false;
        *ret = (JsonPathStep) { .key = key, .key_len = strlen(key) };
        return true;
}

char *json_path_string(const JsonPathStep *steps, size_t n) {
        GString *out = g_string_new(NULL);

        for (size_t i = 0; i < n; i++) {
                if (n > MAX_PATH_STEPS && i == MAX_PATH_STEPS / 2) {
                        size_t skip = n - MAX_PATH_STEPS;
                        g_string_append_printf(out, ".(%zu levels left out)", skip);
                        i += skip - 1;
                        continue;
                }
                append_step(out, &steps[i]);
        }
        if (!out->len)
                g_string_append(out, "<root>");
        return g_string_free(out, FALSE);
}

/* --- the reader --- */

typedef struct Frame {
        JsonNode *node;         /* object or array being read (owned until closed) */
        char *key;              /* objects: the member whose value is being read */
} Frame;

typedef struct Reader {
        const char *text;
        size_t len, pos;
        Frame stack[JSON_MAX_DEPTH];
        size_t depth;
        JsonNode *root;
        GString *buf;           /* the string being decoded */
        GError **error;
} Reader;

static void position(const Reader *r, size_t pos, unsigned *line, unsigned *column) {
        *line = 1;
        *column = 1;
        for (size_t i = 0; i < pos && i < r->len; i++) {
                if (r->text[i] == '\n') {
                        (*line)++;
                        *column = 1;
                } else if (((unsigned char) r->text[i] & 0xC0) != 0x80)
                        (*column)++;
        }
}

/* The failure helpers set the error and return false. */
static bool fail_syntax(Reader *r, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static bool fail_syntax(Reader *r, const char *fmt, ...) {
        g_autofree char *msg = NULL;
        unsigned line, column;
        va_list ap;

        va_start(ap, fmt);
        msg = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        position(r, r->pos, &line, &column);
        ev_error_set(r->error, EINVAL, "line %u, column %u: %s", line, column, msg);
        return false;
}

/* An error about the value being read, or (key != NULL) about that key of
 * the innermost object: "PATH: MESSAGE (line L, column C)". */
static bool fail_at_path(Reader *r, const char *key, size_t key_len, size_t at, const char *fmt, ...)
        G_GNUC_PRINTF(5, 6);
static bool fail_at_path(Reader *r, const char *key, size_t key_len, size_t at, const char *fmt, ...) {
        g_autofree JsonPathStep *steps = g_new0(JsonPathStep, r->depth + 1);
        g_autofree char *msg = NULL, *path = NULL;
        size_t n = 0;
        unsigned line, column;
        va_list ap;

        for (size_t i = 0; i < r->depth; i++)
                if (json_path_step_into(r->stack[i].node, r->stack[i].key, &steps[n]))
                        n++;
        if (key)
                steps[n++] = (JsonPathStep) { .key = key, .key_len = key_len };
        path = json_path_string(steps, n);
        va_start(ap, fmt);
        msg = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        position(r, at, &line, &column);
        ev_error_set(r->error, EINVAL, "%s: %s (line %u, column %u)", path, msg, line, column);
        return false;
}

static void skip_space(Reader *r) {
        while (r->pos < r->len && (r->text[r->pos] == ' ' || r->text[r->pos] == '\t' || r->text[r->pos] == '\r' ||
                                   r->text[r->pos] == '\n'))
                r->pos++;
}

static int hex4(const char *s, size_t avail) {
        int v = 0;
        if (avail < 4)
                return -1;
        for (int i = 0; i < 4; i++) {
                int d = g_ascii_xdigit_value(s[i]);
                if (d < 0)
                        return -1;
                v = v * 16 + d;
        }
        return v;
}

/* One \uXXXX escape (r->pos at the 'u'), or a surrogate pair, appended to
 * r->buf as UTF-8.  False on a malformed escape. */
static bool read_unicode_escape(Reader *r) {
        int cp = hex4(r->text + r->pos + 1, r->len - r->pos - 1);

        if (cp < 0)
                return fail_syntax(r, "\\u must be followed by four hex digits");
        r->pos += 5;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
                return fail_syntax(r, "\\u%04X is half of a surrogate pair, without its first half",
                                   (unsigned) cp);
        if (cp >= 0xD800 && cp <= 0xDBFF) {
                int low = r->len - r->pos >= 6 && r->text[r->pos] == '\\' && r->text[r->pos + 1] == 'u'
                          ? hex4(r->text + r->pos + 2, r->len - r->pos - 2) : -1;
                if (low < 0xDC00 || low > 0xDFFF)
                        return fail_syntax(r, "\\u%04X is half of a surrogate pair, without its second half",
                                           (unsigned) cp);
                r->pos += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        g_string_append_unichar(r->buf, (gunichar) cp);
        return true;
}

/* The string at r->pos (its opening quote) decoded into r->buf, which may
 * then hold NUL characters: the callers refuse them with the path. */
static bool read_string(Reader *r) {
        static const char escapes[] = "\"\"\\\\//b\bf\fn\nr\rt\t";

        g_string_truncate(r->buf, 0);
        r->pos++;
        for (;;) {
                if (r->pos >= r->len)
                        return fail_syntax(r, "the string does not end");
                char c = r->text[r->pos];
                if (c == '"') {
                        r->pos++;
                        return true;
                }
                if ((unsigned char) c < 0x20)
                        return fail_syntax(r, "control character U+%04X in a string (write it as an escape)",
                                           (unsigned char) c);
                if (c != '\\') {
                        g_string_append_c(r->buf, c);
                        r->pos++;
                        continue;
                }
                r->pos++;
                if (r->pos < r->len && r->text[r->pos] == 'u') {
                        if (!read_unicode_escape(r))
                                return false;
                        continue;
                }
                const char *e = r->pos < r->len && r->text[r->pos] ? strchr(escapes, r->text[r->pos]) : NULL;
                if (!e || (e - escapes) % 2)
                        return fail_syntax(r, "unknown escape in a string");
                g_string_append_c(r->buf, e[1]);
                r->pos++;
        }
}

static size_t digits(Reader *r) {
        size_t start = r->pos;
        while (r->pos < r->len && g_ascii_isdigit(r->text[r->pos]))
                r->pos++;
        return r->pos - start;
}

/* Past a number's text: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?;
 * *integer when it has neither fraction nor exponent. */
static bool skip_number(Reader *r, bool *integer) {
        *integer = true;
        if (r->text[r->pos] == '-')
                r->pos++;
        if (r->pos < r->len && r->text[r->pos] == '0')
                r->pos++;
        else if (digits(r) == 0)
                return fail_syntax(r, "a number needs digits");
        if (r->pos < r->len && r->text[r->pos] == '.') {
                r->pos++;
                *integer = false;
                if (digits(r) == 0)
                        return fail_syntax(r, "a number needs digits after its decimal point");
        }
        if (r->pos < r->len && (r->text[r->pos] == 'e' || r->text[r->pos] == 'E')) {
                r->pos++;
                *integer = false;
                if (r->pos < r->len && (r->text[r->pos] == '+' || r->text[r->pos] == '-'))
                        r->pos++;
                if (digits(r) == 0)
                        return fail_syntax(r, "a number needs digits in its exponent");
        }
        return true;
}

static JsonNode *read_number(Reader *r) {
        size_t start = r->pos;
        bool integer;

        if (!skip_number(r, &integer))
                return NULL;
        g_autofree char *literal = g_strndup(r->text + start, r->pos - start);
        if (integer) {
                errno = 0;
                gint64 v = g_ascii_strtoll(literal, NULL, 10);
                if (errno == 0)
                        return json_node_init_int(json_node_alloc(), v);
        }
        double d = g_ascii_strtod(literal, NULL);
        if (!isfinite(d)) {
                fail_at_path(r, NULL, 0, start, "Invalid value: %s: out of range (past what a double holds)", literal);
                return NULL;
        }
        return json_node_init_double(json_node_alloc(), d);
}

static JsonNode *read_scalar(Reader *r) {
        static const struct { const char *word; int kind; } words[] = { { "true", 1 }, { "false", 0 }, { "null", -1 } };
        char c = r->text[r->pos];

        if (c == '"') {
                size_t start = r->pos;
                if (!read_string(r))
                        return NULL;
                if (memchr(r->buf->str, 0, r->buf->len)) {
                        g_autofree char *shown = json_quote_for_message(r->buf->str, r->buf->len);
                        fail_at_path(r, NULL, 0, start, "Invalid value: %s: must not contain a NUL character",
                                     shown);
                        return NULL;
                }
                return json_node_init_string(json_node_alloc(), r->buf->str);
        }
        if (c == '-' || g_ascii_isdigit(c))
                return read_number(r);
        for (size_t i = 0; i < G_N_ELEMENTS(words); i++) {
                size_t n = strlen(words[i].word);
                if (r->len - r->pos >= n && memcmp(r->text + r->pos, words[i].word, n) == 0) {
                        r->pos += n;
                        if (words[i].kind < 0)
                                return json_node_init_null(json_node_alloc());
                        return json_node_init_boolean(json_node_alloc(), words[i].kind);
                }
        }
        fail_syntax(r, "a value (object, array, string, number, true, false or null) was expected");
        return NULL;
}

/* Hand a finished value to the innermost open container, or make it the
 * document.  Takes ownership. */
static void attach(Reader *r, JsonNode *value) {
        if (r->depth == 0) {
                r->root = value;
                return;
        }
        Frame *f = &r->stack[r->depth - 1];
        if (JSON_NODE_HOLDS_ARRAY(f->node)) {
                json_array_add_element(json_node_get_array(f->node), value);
                return;
        }
        json_object_set_member(json_node_get_object(f->node), f->key, value);
        g_clear_pointer(&f->key, g_free);
}

static bool open_container(Reader *r, char c) {
        if (r->depth >= JSON_MAX_DEPTH)
                return fail_at_path(r, NULL, 0, r->pos, "Invalid value: nested deeper than %d levels",
                                    JSON_MAX_DEPTH);
        r->stack[r->depth++] = (Frame) {
                .node = c == '{' ? json_object_node_new() : json_array_node_new(),
        };
        r->pos++;
        return true;
}

static void close_container(Reader *r) {
        Frame f = r->stack[--r->depth];
        g_free(f.key);
        attach(r, f.node);
        r->pos++;
}

/* A key and its colon (r->pos at the opening quote). */
static bool read_key(Reader *r) {
        Frame *f = &r->stack[r->depth - 1];
        size_t start = r->pos;

        if (!read_string(r))
                return false;
        if (memchr(r->buf->str, 0, r->buf->len)) {
                g_autofree char *shown = json_quote_for_message(r->buf->str, r->buf->len);
                return fail_at_path(r, r->buf->str, r->buf->len, start,
                                    "Invalid value: %s: a key must not contain a NUL character", shown);
        }
        if (json_object_has_member(json_node_get_object(f->node), r->buf->str)) {
                g_autofree char *shown = json_quote_for_message(r->buf->str, r->buf->len);
                return fail_at_path(r, r->buf->str, r->buf->len, start, "Duplicate value: %s: the key is given twice",
                                    shown);
        }
        skip_space(r);
        if (r->pos >= r->len || r->text[r->pos] != ':')
                return fail_syntax(r, "':' was expected after the key");
        r->pos++;
        f->key = g_strdup(r->buf->str);
        return true;
}

typedef enum { WANT_VALUE, WANT_KEY, AFTER_VALUE } State;

static bool step(Reader *r, State *state, bool *may_close) {
        char c = r->text[r->pos];
        bool in_object = r->depth > 0 && JSON_NODE_HOLDS_OBJECT(r->stack[r->depth - 1].node);
        bool closing = *may_close && c == (in_object ? '}' : ']');

        *may_close = false;
        if (closing || (*state == AFTER_VALUE && r->depth > 0 && c == (in_object ? '}' : ']'))) {
                close_container(r);
                *state = AFTER_VALUE;
                return true;
        }
        switch (*state) {
        case WANT_VALUE:
                if (c == '{' || c == '[') {
                        *state = c == '{' ? WANT_KEY : WANT_VALUE;
                        *may_close = true;
                        return open_container(r, c);
                }
                JsonNode *n = read_scalar(r);
                if (!n)
                        return false;
                attach(r, n);
                *state = AFTER_VALUE;
                return true;
        case WANT_KEY:
                if (c != '"')
                        return fail_syntax(r, "a key (a string in double quotes) was expected");
                *state = WANT_VALUE;
                return read_key(r);
        case AFTER_VALUE:
                if (r->depth == 0)
                        return fail_syntax(r, "unexpected text after the document");
                if (c != ',')
                        return fail_syntax(r, "',' or '%c' was expected", in_object ? '}' : ']');
                r->pos++;
                *state = in_object ? WANT_KEY : WANT_VALUE;
                return true;
        }
        return false;
}

JsonNode *json_read(const char *text, size_t len, GError **error) {
        g_autoptr(GString) buf = g_string_new(NULL);
        g_autofree Reader *r = g_new0(Reader, 1);
        State state = WANT_VALUE;
        bool may_close = false, ok = true;
        const char *bad;

        *r = (Reader) { .text = text, .len = len, .buf = buf, .error = error };
        if (!g_utf8_validate(text, (gssize) len, &bad)) {
                r->pos = (size_t) (bad - text);
                fail_syntax(r, "the document is not valid UTF-8");
                return NULL;
        }
        for (;;) {
                skip_space(r);
                if (r->pos >= r->len)
                        break;
                if (!step(r, &state, &may_close)) {
                        ok = false;
                        break;
                }
        }
        if (ok && (state != AFTER_VALUE || r->depth > 0)) {
                fail_syntax(r, "the document ends too early");
                ok = false;
        }
        if (ok)
                return r->root;
        while (r->depth > 0) {
                Frame *f = &r->stack[--r->depth];
                json_node_unref(f->node);
                g_free(f->key);
        }
        g_clear_pointer(&r->root, json_node_unref);
        return NULL;
}

JsonNode *json_object_node_new(void) {
        JsonObject *o = json_object_new();
        JsonNode *n = json_node_init_object(json_node_alloc(), o);

        json_object_unref(o);
        return n;
}

JsonNode *json_array_node_new(void) {
        JsonArray *a = json_array_new();
        JsonNode *n = json_node_init_array(json_node_alloc(), a);

        json_array_unref(a);
        return n;
}

JsonNode *json_read_object(const char *text, size_t len, GError **error) {
        JsonNode *n = json_read(text, len, error);

        if (n && !JSON_NODE_HOLDS_OBJECT(n)) {
                json_node_unref(n);
                ev_error_set(error, EINVAL, "the document is not a JSON object");
                return NULL;
        }
        return n;
}
