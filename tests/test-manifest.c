/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <sys/resource.h>

#include "json-read.h"
#include "manifest.h"
#include "manifests-dir.h"
#include "util.h"

static GPtrArray *parse_ok(const char *text) {
        g_autoptr(GError) e = NULL;
        GPtrArray *docs = NULL;
        if (manifest_parse(text, strlen(text), &docs, &e) < 0)
                g_error("parse failed: %s\n%s", e->message, text);
        return docs;
}

static char *parse_err(const char *text) {
        g_autoptr(GError) e = NULL;
        g_autoptr(GPtrArray) docs = NULL;
        if (manifest_parse(text, strlen(text), &docs, &e) >= 0)
                g_error("parse succeeded:\n%s", text);
        return g_strdup(e->message);
}

static JsonObject *doc0(GPtrArray *docs) {
        return json_node_get_object(docs->pdata[0]);
}

static void test_scalars(void) {
        g_autoptr(GPtrArray) docs = parse_ok(
                "s: hello\n"
                "q: \"true\"\n"
                "b1: true\n"
                "b2: yes\n"
                "b3: Off\n"
                "i1: 42\n"
                "i2: -0x1F\n"
                "i3: 0o17\n"
                "i4: 017\n"
                "i5: 1_000\n"
                "f1: 1.5\n"
                "f2: 1e3\n"
                "n1: ~\n"
                "n2:\n"
                "v: 1.2.3\n"
                "t: !!str 12\n"
                "big: 99999999999999999999\n"
                "lit: |\n  line1\n  line2\n");
        JsonObject *o = doc0(docs);
        g_assert_cmpstr(json_object_get_string_member(o, "s"), ==, "hello");
        g_assert_cmpstr(json_object_get_string_member(o, "q"), ==, "true");
        g_assert_true(json_object_get_boolean_member(o, "b1"));
        g_assert_true(json_object_get_boolean_member(o, "b2"));
        g_assert_false(json_object_get_boolean_member(o, "b3"));
        g_assert_cmpint(json_object_get_int_member(o, "i1"), ==, 42);
        g_assert_cmpint(json_object_get_int_member(o, "i2"), ==, -31);
        g_assert_cmpint(json_object_get_int_member(o, "i3"), ==, 15);
        g_assert_cmpint(json_object_get_int_member(o, "i4"), ==, 15);
        g_assert_cmpint(json_object_get_int_member(o, "i5"), ==, 1000);
        g_assert_cmpfloat(json_object_get_double_member(o, "f1"), ==, 1.5);
        g_assert_cmpfloat(json_object_get_double_member(o, "f2"), ==, 1000.0);
        g_assert_true(json_object_get_null_member(o, "n1"));
        g_assert_true(json_object_get_null_member(o, "n2"));
        g_assert_cmpstr(json_object_get_string_member(o, "v"), ==, "1.2.3");
        g_assert_cmpstr(json_object_get_string_member(o, "t"), ==, "12");
        g_assert_cmpfloat(json_object_get_double_member(o, "big"), >, 9e19);
        g_assert_cmpstr(json_object_get_string_member(o, "lit"), ==, "line1\nline2\n");
}

static void test_multi_document(void) {
        g_autoptr(GPtrArray) docs = parse_ok("---\na: 1\n---\n# only a comment\n---\nb: 2\n...\n---\nc: 3\n");
        g_assert_cmpuint(docs->len, ==, 3);
        g_assert_true(json_object_has_member(json_node_get_object(docs->pdata[2]), "c"));
}

static void test_json(void) {
        g_autoptr(GPtrArray) docs = parse_ok("  {\"apiVersion\": \"v1\", \"data\": {\"x\": \"1\"}, \"n\": 3}");
        g_assert_cmpuint(docs->len, ==, 1);
        g_assert_cmpint(json_object_get_int_member(doc0(docs), "n"), ==, 3);
        /* JSON documents inside a YAML stream */
        g_autoptr(GPtrArray) docs2 = parse_ok("a: 1\n---\n{\"b\": 2}\n");
        g_assert_cmpuint(docs2->len, ==, 2);
}

static void test_errors_have_position(void) {
        g_autofree char *e1 = parse_err("a: 1\nb:\n  c: 2\n   d: 3\n");
        g_assert_nonnull(strstr(e1, "line 4, column"));
        g_autofree char *e2 = parse_err("{\"a\": 1,\n \"b\": }");
        g_assert_nonnull(strstr(e2, "line 2, column"));
        g_autofree char *e3 = parse_err("a: [1, 2\n");
        g_assert_nonnull(strstr(e3, "line "));
        g_autofree char *e4 = parse_err("a: 1\nb: 2\na: 3\n");
        g_assert_nonnull(strstr(e4, "a: Duplicate value: \"a\": the key is given twice (line 3, column 1)"));
        g_autofree char *e5 = parse_err("a: *nope\n");
        g_assert_nonnull(strstr(e5, "unknown anchor"));
        g_autofree char *e6 = parse_err("a: !!int abc\n");
        g_assert_nonnull(strstr(e6, "line 1"));
}

static void test_anchors_and_merge(void) {
        g_autoptr(GPtrArray) docs = parse_ok(
                "base: &b {x: 1, z: 2}\n"
                "copy: *b\n"
                "merged:\n  <<: *b\n  z: 3\n");
        JsonObject *o = doc0(docs);
        JsonObject *copy = json_object_get_object_member(o, "copy");
        JsonObject *merged = json_object_get_object_member(o, "merged");
        g_assert_cmpint(json_object_get_int_member(copy, "x"), ==, 1);
        g_assert_cmpint(json_object_get_int_member(merged, "x"), ==, 1);
        g_assert_cmpint(json_object_get_int_member(merged, "z"), ==, 3);
        /* a copy, not a shared node */
        g_assert_true(json_object_get_object_member(o, "base") != copy);
}

/* Only a plain << (or !!merge) merges, as in go-yaml: a quoted '<<' and
 * JSON's "<<" are keys of that name, and they survive a round trip
 * through our YAML (the fuzzer found a plain << written for one). */
static void test_merge_key_only_plain(void) {
        g_autoptr(GPtrArray) quoted = parse_ok("m: {'<<': {x: 1}}\nk:\n  \"<<\": 2\n");
        g_autoptr(GPtrArray) tagged = parse_ok("b: &b {x: 1}\nm: {!!merge <<: *b, y: 2}\n");
        g_autoptr(GPtrArray) json = parse_ok("{\"<<\": {\"x\": 1}, \"a\": [{\"<<\": [{\"y\": 2}]}]}");
        g_autoptr(GPtrArray) list = parse_ok("a: &a {x: 1}\nb: &b {x: 2, w: 2}\nm:\n  <<: [*a, *b]\n");

        JsonObject *q = doc0(quoted);
        g_assert_cmpint(json_object_get_int_member(json_object_get_object_member(json_object_get_object_member(q, "m"),
                                                                                  "<<"), "x"), ==, 1);
        g_assert_cmpint(json_object_get_int_member(json_object_get_object_member(q, "k"), "<<"), ==, 2);
        g_autofree char *twice = parse_err("m: {'<<': 1, \"<<\": 2}\n");
        g_assert_nonnull(strstr(twice, "given twice"));
        JsonObject *t = json_object_get_object_member(doc0(tagged), "m");
        g_assert_cmpint(json_object_get_int_member(t, "x"), ==, 1);
        g_assert_false(json_object_has_member(t, "<<"));
        /* the first mapping of a merge list wins */
        JsonObject *m = json_object_get_object_member(doc0(list), "m");
        g_assert_cmpint(json_object_get_int_member(m, "x"), ==, 1);
        g_assert_cmpint(json_object_get_int_member(m, "w"), ==, 2);

        JsonNode *doc = json->pdata[0];
        g_assert_true(json_object_has_member(json_node_get_object(doc), "<<"));
        g_autofree char *yaml = manifest_to_yaml(doc);
        g_assert_null(strstr(yaml, "\n<<:"));
        g_autoptr(GPtrArray) again = parse_ok(yaml);
        g_assert_true(json_node_equal(doc, again->pdata[0]));

        g_autofree char *scalar = parse_err("m:\n  <<: 1\n");
        g_assert_nonnull(strstr(scalar, "merge key << takes a mapping or a list of mappings"));
        g_autofree char *in_list = parse_err("m:\n  <<: [{x: 1}, 2]\n");
        g_assert_nonnull(strstr(in_list, "merge key"));
        g_autofree char *bad_tag = parse_err("m: {!!merge x: {y: 1}}\n");
        g_assert_nonnull(strstr(bad_tag, "cannot decode"));
}

/* Where a merge key stands matters, as in go-yaml v2 (sigs.k8s.io/yaml,
 * kubectl): its keys override those before it, keys after it override its;
 * a key given twice is still an error, and a "!"-tagged << merges too. */
static void test_merge_key_in_order(void) {
        g_autoptr(GPtrArray) docs = parse_ok("a: {x: 2, <<: {x: 1, w: 1}}\n"
                                             "b: {<<: {x: 1, w: 1}, x: 2}\n"
                                             "c: {<<: {x: 1}, <<: {x: 2}}\n"
                                             "d: {! <<: {x: 1}}\n");
        JsonObject *o = doc0(docs);
        g_assert_cmpint(json_object_get_int_member(json_object_get_object_member(o, "a"), "x"), ==, 1);
        g_assert_cmpint(json_object_get_int_member(json_object_get_object_member(o, "b"), "x"), ==, 2);
        g_assert_cmpint(json_object_get_int_member(json_object_get_object_member(o, "b"), "w"), ==, 1);
        g_assert_cmpint(json_object_get_int_member(json_object_get_object_member(o, "c"), "x"), ==, 2);
        g_assert_cmpint(json_object_get_int_member(json_object_get_object_member(o, "d"), "x"), ==, 1);
        g_autofree char *twice = parse_err("m: {<<: {x: 1}, x: 2, x: 3}\n");
        g_assert_nonnull(strstr(twice, "given twice"));
        g_autofree char *around = parse_err("m: {x: 1, <<: {x: 2}, x: 3}\n");
        g_assert_nonnull(strstr(around, "given twice"));
}

/* An anchor is kept by reference until an alias copies it: anchors nested
 * in anchors once cost a copy per level, uncounted (a reviewer made one of
 * 120 KB take 260 MB).  Each level's copy would be as large as the text. */
static void test_nested_anchors_are_not_copied(void) {
        g_autoptr(GString) s = g_string_new("a: ");
        for (int i = 0; i < 100; i++)
                g_string_append_printf(s, "&a%d [", i);
        for (int i = 0; i < 20000; i++)
                g_string_append(s, "x, ");
        g_string_append(s, "x");
        for (int i = 0; i < 100; i++)
                g_string_append_c(s, ']');
        g_string_append(s, "\nb: *a99\n");
        struct rusage before, after;
        getrusage(RUSAGE_SELF, &before);
        g_autoptr(GPtrArray) docs = parse_ok(s->str);
        getrusage(RUSAGE_SELF, &after);
        JsonArray *b = json_object_get_array_member(doc0(docs), "b");
        g_assert_cmpuint(json_array_get_length(b), ==, 20001);
        /* two trees of 20,000 strings are a few MB (more under ASan); a copy
         * per level, 2 million nodes, were over 200 MB */
        g_test_message("peak RSS grew by %ld KiB", after.ru_maxrss - before.ru_maxrss);
        g_assert_cmpint(after.ru_maxrss - before.ru_maxrss, <, 64 * 1024);
}

static void test_alias_bomb(void) {
        g_autoptr(GString) s = g_string_new("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for (int i = 1; i < 10; i++)
                g_string_append_printf(s, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n",
                                       i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
        g_autofree char *e = parse_err(s->str);
        g_assert_nonnull(strstr(e, "nodes"));
}

static void test_deep_nesting(void) {
        g_autofree char *open = g_strnfill(1000, '['), *close = g_strnfill(1000, ']');
        g_autofree char *text = g_strdup_printf("a: %s%s\n", open, close);
        g_autofree char *e = parse_err(text);
        g_assert_nonnull(strstr(e, "nested"));
}

static void test_bad_bytes(void) {
        g_autoptr(GError) e = NULL;
        g_autoptr(GPtrArray) docs = NULL;
        g_assert_cmpint(manifest_parse("a: \xff\xfe\n", 6, &docs, &e), ==, -EINVAL);
        g_assert_nonnull(strstr(e->message, "UTF-8"));
}

static void test_yaml_round_trip(void) {
        const char *text =
                "apiVersion: v1\n"
                "kind: ConfigMap\n"
                "data:\n"
                "  bool-like: \"yes\"\n"
                "  num-like: \"0123\"\n"
                "  float-like: \"1e3\"\n"
                "  null-like: \"~\"\n"
                "  empty: \"\"\n"
                "  multi: |\n    a\n    b\n"
                "  colon: \"a: b\"\n"
                "  'y': quoted key\n"
                "  unicode: \"h\\u00e9llo\"\n"
                "  inf-like: \".inf\"\n"
                "  date-like: \"2026-11-25T18:00:00Z\"\n"
                "list: [1, 2.5, true, null, {x: [a]}]\n";
        g_autoptr(GPtrArray) docs = parse_ok(text);
        g_autofree char *yaml = manifest_to_yaml(docs->pdata[0]);
        g_autoptr(GPtrArray) again = parse_ok(yaml);
        if (!json_node_equal(docs->pdata[0], again->pdata[0]))
                g_error("round trip changed the document:\n%s", yaml);
        g_autofree char *json = manifest_to_json(docs->pdata[0], TRUE);
        g_autoptr(GPtrArray) again2 = parse_ok(json);
        g_assert_true(json_node_equal(docs->pdata[0], again2->pdata[0]));
        /* key order is kept */
        g_assert_true(g_str_has_prefix(yaml, "apiVersion: v1\nkind: ConfigMap\n"));
        g_assert_nonnull(strstr(yaml, "date-like: '2026-11-25T18:00:00Z'"));
}

/* 60,000 levels, as in the attack: refused with the path (shortened), and
 * no stack overflow on the way in or out. */
static void test_json_deep_nesting(void) {
        g_autoptr(GString) s = g_string_new("{\"x\":");
        for (int i = 0; i < 60000; i++)
                g_string_append(s, "{\"a\":");
        g_string_append(s, "1");
        for (int i = 0; i <= 60000; i++)
                g_string_append_c(s, '}');
        g_autofree char *e = parse_err(s->str);
        g_assert_nonnull(strstr(e, "x.a.a.a.a.a.a.a.(112 levels left out).a.a.a.a.a.a.a.a: "
                                   "Invalid value: nested deeper than 128 levels"));
        g_autofree char *many_open = g_strnfill(5000, '['), *many_close = g_strnfill(5000, ']');
        g_autofree char *arrays = g_strdup_printf("{\"spec\":{\"l\":%s%s}}", many_open, many_close);
        g_autofree char *e2 = parse_err(arrays);
        g_assert_true(g_str_has_prefix(e2, "spec.l[0][0][0][0][0][0].(112 levels left out)[0]"));

        /* exactly 128 levels are fine, 129 are not */
        g_autofree char *open = g_strnfill(128, '['), *close = g_strnfill(128, ']');
        g_autofree char *ok = g_strdup_printf("%s%s", open, close);
        g_autoptr(GPtrArray) docs = parse_ok(ok);
        g_autofree char *too = g_strdup_printf("[%s%s]", open, close);
        g_autofree char *e3 = parse_err(too);
        g_assert_nonnull(strstr(e3, "nested deeper than 128 levels"));
}

static void test_yaml_depth_has_path(void) {
        g_autoptr(GString) s = g_string_new("spec:\n  x: ");
        for (int i = 0; i < 200; i++)
                g_string_append(s, "{a: ");
        g_string_append(s, "1");
        for (int i = 0; i < 200; i++)
                g_string_append_c(s, '}');
        g_autofree char *e = parse_err(s->str);
        g_assert_true(g_str_has_prefix(e, "spec.x.a.a.a.a.a.a.(112 levels left out).a.a.a.a.a.a.a.a: "
                                          "Invalid value: nested deeper"));

        /* an alias does not carry a document past the limit */
        g_autofree char *opening = g_strnfill(100, '['), *closing = g_strnfill(100, ']');
        g_autofree char *deep = g_strdup_printf("a: &d %s%s\nb: %s*d%s\n", opening, closing, opening, closing);
        g_autofree char *e2 = parse_err(deep);
        g_assert_nonnull(strstr(e2, "b[0][0]"));
        g_assert_nonnull(strstr(e2, "nested deeper than 128 levels (through alias *d)"));
}

static void test_nul_refused(void) {
        static const struct { const char *text, *want; } cases[] = {
                { "{\"metadata\": {\"name\": \"a\\u0000b\"}}",
                  "metadata.name: Invalid value: \"a\\u0000b\": must not contain a NUL" },
                { "{\"data\": {\"a\\u0000b\": \"1\", \"a\": \"2\"}}",
                  "data[a\\u0000b]: Invalid value: \"a\\u0000b\": a key must not" },
                { "{\"l\": [\"x\", \"\\u0000\"]}", "l[1]: Invalid value: \"\\u0000\": must not contain" },
                { "metadata:\n  name: \"a\\0b\"\n",
                  "metadata.name: Invalid value: \"a\\u0000b\": must not contain a NUL" },
                { "data:\n  \"a\\x00b\": \"1\"\n", "data[a\\u0000b]: Invalid value: \"a\\u0000b\": a key must not" },
                { "data:\n  k: [\"\\u0000\"]\n", "data.k[0]: Invalid value: \"\\u0000\": must not contain" },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *e = parse_err(cases[i].text);
                if (!strstr(e, cases[i].want))
                        g_error("%s: got \"%s\", wanted \"%s\"", cases[i].text, e, cases[i].want);
        }
}

static void test_json_duplicate_keys(void) {
        g_autofree char *e1 = parse_err("{\"a\": 1, \"a\": 2}");
        g_assert_true(g_str_has_prefix(e1, "a: Duplicate value: \"a\": the key is given twice (line 1, column 10)"));
        /* compared decoded */
        g_autofree char *e2 = parse_err("{\"metadata\": {\"labels\": {\"a/b\": \"1\", \"\\u0061\\/b\": \"2\"}}}");
        g_assert_true(g_str_has_prefix(e2, "metadata.labels[a/b]: Duplicate value"));
        /* the same key in two objects is fine */
        g_autoptr(GPtrArray) docs = parse_ok("{\"a\": {\"k\": 1}, \"b\": {\"k\": 2}}");
}

/* What json-glib let through or mangled, and what the reader keeps. */
static void test_json_strict(void) {
        static const char *const refused[] = {
                "{'a': 1}", "{\"a\": 1, /* c */ \"b\": 2}", "{\"a\": 0x10}", "{\"a\": 01}", "{\"a\": .5}",
                "{\"a\": +1}", "{\"a\": 1,}", "[1,]", "{\"a\": \"\\ud800\"}", "{\"a\": \"\\udc00x\"}",
                "{\"a\": \"\\x41\"}", "{\"a\": \"tab\t\"}",
                "{\"a\": true} x", "{\"a\": NaN}", "{a: 1}", "[", "{\"a\"}", "{\"a\" 1}", "[1 2]", "[1}", "{\"a\": 1]",
        };
        for (size_t i = 0; i < G_N_ELEMENTS(refused); i++) {
                g_autofree char *e = parse_err(refused[i]);
                g_assert_true(g_str_has_prefix(e, "line 1, column "));
        }
        g_autofree char *e = parse_err("{\"spec\": {\"f\": 1e400}}");
        g_assert_true(g_str_has_prefix(e, "spec.f: Invalid value: 1e400: out of range"));

        g_autoptr(GPtrArray) docs = parse_ok("{\"big\": 1180591620717411303424, \"max\": 9223372036854775807, "
                                             "\"min\": -9223372036854775808, \"over\": 9223372036854775808, "
                                             "\"f\": -0.5e1, "
                                             "\"s\": \"\\ud83d\\ude00\\\"\\\\\\/\\b\\f\\n\\r\\t\", "
                                             "\"n\": null, \"t\": true, \"e\": [], \"o\": {}}");
        JsonObject *o = doc0(docs);
        g_assert_cmpfloat(json_object_get_double_member(o, "big"), ==, 1180591620717411303424.0);
        g_assert_cmpint(json_node_get_value_type(json_object_get_member(o, "max")), ==, G_TYPE_INT64);
        g_assert_cmpint(json_object_get_int_member(o, "max"), ==, G_MAXINT64);
        g_assert_cmpint(json_object_get_int_member(o, "min"), ==, G_MININT64);
        g_assert_cmpint(json_node_get_value_type(json_object_get_member(o, "over")), ==, G_TYPE_DOUBLE);
        g_assert_cmpfloat(json_object_get_double_member(o, "f"), ==, -5.0);
        g_assert_cmpstr(json_object_get_string_member(o, "s"), ==, "\xf0\x9f\x98\x80\"\\/\b\f\n\r\t");
        g_assert_true(json_object_get_null_member(o, "n"));
        g_assert_true(json_object_get_boolean_member(o, "t"));

        g_autoptr(GError) err = NULL;
        g_assert_null(json_read_object("[1]", 3, &err));
        g_assert_nonnull(strstr(err->message, "not a JSON object"));
        g_autoptr(JsonNode) n = json_read_object(" {\"a\": [1, {\"b\": \"c\"}]} \n", 25, NULL);
        g_assert_nonnull(n);
}

/* The line each document of a manifests-directory file starts on, for
 * its error messages (daemon/manifests-dir.c). */
static void test_document_lines(void) {
        const char *text = "# comment\n"
                           "apiVersion: v1\n"          /* 2: document 0 starts at its first line */
                           "kind: A\n"
                           "---\n"                     /* 4: document 1 */
                           "kind: B\n"
                           "data: |\n"
                           "  --- not a separator\n"
                           "--- # comment\n"           /* 8: document 2 */
                           "kind: C\n";
        g_assert_cmpuint(manifest_document_line(text, 0), ==, 2);
        g_assert_cmpuint(manifest_document_line(text, 1), ==, 4);
        g_assert_cmpuint(manifest_document_line(text, 2), ==, 8);
        /* a separator before the first document starts it; empty documents count not */
        g_assert_cmpuint(manifest_document_line("---\nkind: A\n---\n---\nkind: B\n", 0), ==, 1);
        g_assert_cmpuint(manifest_document_line("---\nkind: A\n---\n---\nkind: B\n", 1), ==, 4);
        g_assert_cmpuint(manifest_document_line("{\"kind\": \"A\"}", 0), ==, 1);
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/manifest/document-lines", test_document_lines);
        g_test_add_func("/manifest/scalars", test_scalars);
        g_test_add_func("/manifest/multi-document", test_multi_document);
        g_test_add_func("/manifest/json", test_json);
        g_test_add_func("/manifest/errors-have-position", test_errors_have_position);
        g_test_add_func("/manifest/anchors-and-merge", test_anchors_and_merge);
        g_test_add_func("/manifest/merge-key-only-plain", test_merge_key_only_plain);
        g_test_add_func("/manifest/merge-key-in-order", test_merge_key_in_order);
        g_test_add_func("/manifest/nested-anchors-are-not-copied", test_nested_anchors_are_not_copied);
        g_test_add_func("/manifest/alias-bomb", test_alias_bomb);
        g_test_add_func("/manifest/deep-nesting", test_deep_nesting);
        g_test_add_func("/manifest/bad-bytes", test_bad_bytes);
        g_test_add_func("/manifest/yaml-round-trip", test_yaml_round_trip);
        g_test_add_func("/manifest/json-deep-nesting", test_json_deep_nesting);
        g_test_add_func("/manifest/yaml-depth-has-path", test_yaml_depth_has_path);
        g_test_add_func("/manifest/nul-refused", test_nul_refused);
        g_test_add_func("/manifest/json-duplicate-keys", test_json_duplicate_keys);
        g_test_add_func("/manifest/json-strict", test_json_strict);
        return g_test_run();
}
