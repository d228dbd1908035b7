/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "manifest.h"
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
        g_assert_nonnull(strstr(e4, "line 3, column 1: duplicate key \"a\""));
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

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/manifest/scalars", test_scalars);
        g_test_add_func("/manifest/multi-document", test_multi_document);
        g_test_add_func("/manifest/json", test_json);
        g_test_add_func("/manifest/errors-have-position", test_errors_have_position);
        g_test_add_func("/manifest/anchors-and-merge", test_anchors_and_merge);
        g_test_add_func("/manifest/alias-bomb", test_alias_bomb);
        g_test_add_func("/manifest/deep-nesting", test_deep_nesting);
        g_test_add_func("/manifest/bad-bytes", test_bad_bytes);
        g_test_add_func("/manifest/yaml-round-trip", test_yaml_round_trip);
        return g_test_run();
}
