/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* json_pretty_append: a compact text laid out exactly as json-glib lays out
 * the tree (List and Get build their JSON from each object's remembered
 * compact text). */
#include "json-util.h"
#include "util.h"

static void same_as_generator(const char *text) {
        g_autoptr(JsonParser) p = json_parser_new();
        g_assert_true(json_parser_load_from_data(p, text, -1, NULL));
        JsonNode *root = json_parser_get_root(p);
        g_autofree char *compact = json_text(root, false), *want = json_text(root, true);
        g_autoptr(GString) got = g_string_new(NULL);

        json_pretty_append(got, compact, 0);
        g_assert_cmpstr(got->str, ==, want);

        /* the same value as an item of a List (level 2), as the generator
         * lays it out there */
        g_autoptr(JsonBuilder) b = json_builder_new();
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "items");
        json_builder_begin_array(b);
        json_builder_add_value(b, json_node_copy(root));
        json_builder_end_array(b);
        json_builder_end_object(b);
        g_autoptr(JsonNode) list = json_builder_get_root(b);
        g_autofree char *list_want = json_text(list, true);
        g_autoptr(GString) list_got = g_string_new("{\n  \"items\" : [\n    ");
        json_pretty_append(list_got, compact, 2);
        g_string_append(list_got, "\n  ]\n}");
        g_assert_cmpstr(list_got->str, ==, list_want);
}

static void test_layout(void) {
        same_as_generator("{}");
        same_as_generator("[]");
        same_as_generator("{\"a\":{},\"b\":[],\"c\":[{},[],[[]],[{}],{\"x\":{}}]}");
        same_as_generator("{\"a\":{\"b\":{\"c\":{\"d\":{}}}},\"e\":[1,[2,[3,{\"f\":[]}]]]}");
        same_as_generator("[1,-2.5,3e+20,true,false,null,\"\",\"s\"]");
        same_as_generator("{\"k\":0,\"k2\":1.0000000000000002}");
}

static void test_strings(void) {
        /* what is a delimiter outside a string is text inside one */
        same_as_generator("{\"{,}\":\"[:],\\\"{\\\\\",\"q\\\"\":\"\\\\\","
                          "\"z\":\"a\\\\\\\"b\"}");
        same_as_generator("{\"ctl\":\"\\u0001\\u001f\\n\\t\\b\\f\\r\","
                          "\"uni\":\"\xc3\xa4\xe2\x82\xac\xf0\x9f\x98\x80\"}");
        same_as_generator("[\"\\\\\",\"\\\\\\\\\",\"\\\"\",\"x\\\\\"]");
}

static void test_deep(void) {
        /* indents longer than the layout's run of spaces */
        g_autoptr(GString) deep = g_string_new(NULL);
        for (int i = 0; i < 40; i++)
                g_string_append(deep, i % 2 ? "[" : "{\"k\":");
        g_string_append(deep, "{}");
        for (int i = 40; i-- > 0;)
                g_string_append(deep, i % 2 ? "]" : "}");
        same_as_generator(deep->str);
}

static void test_object_document(void) {
        same_as_generator("{\"apiVersion\":\"kubevirt.io/v1\",\"kind\":\"VirtualMachine\",\"metadata\":{\"name\":\"vm\","
                          "\"labels\":{\"app\":\"a\"},\"annotations\":{}},\"spec\":{\"template\":{\"spec\":{\"domain\":"
                          "{\"devices\":{\"interfaces\":[{\"name\":\"default\",\"masquerade\":{}}]}},\"networks\":"
                          "[{\"name\":\"default\",\"pod\":{}}]}}},\"status\":{\"conditions\":[]}}");
}

/* json_text_fix: what json-glib 1.6 writes that no strict reader takes */
static void test_text_fix(void) {
        g_autofree char *a = json_text_fix(g_strdup("{\"n\":[1e+308.0,-2.5e-07.0,1.0,1e5,3.0]}"));
        g_autofree char *b = json_text_fix(g_strdup("{\"s\":\"x\x1f 1e+30.0 \\\" e9.0\"}"));
        g_autofree char *c = json_text_fix(g_strdup("[true,false,10.0]"));

        g_assert_cmpstr(a, ==, "{\"n\":[1e+308,-2.5e-07,1.0,1e5,3.0]}");
        /* inside a string nothing but U+001F changes */
        g_assert_cmpstr(b, ==, "{\"s\":\"x\\u001f 1e+30.0 \\\" e9.0\"}");
        g_assert_cmpstr(c, ==, "[true,false,10.0]");
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/json-pretty/layout", test_layout);
        g_test_add_func("/json-pretty/strings", test_strings);
        g_test_add_func("/json-pretty/deep", test_deep);
        g_test_add_func("/json-pretty/object-document", test_object_document);
        g_test_add_func("/json-pretty/text-fix", test_text_fix);
        return g_test_run();
}
