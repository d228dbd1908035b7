/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* RFC 6902 JSON Patch as VirtualMachineRestore and VirtualMachineClone
 * apply it (json_patch_apply). */
#include "json-util.h"
#include "manifest.h"
#include "util.h"

static JsonNode *parse(const char *text) {
        g_autoptr(JsonParser) p = json_parser_new();
        g_assert_true(json_parser_load_from_data(p, text, -1, NULL));
        return json_node_copy(json_parser_get_root(p));
}

/* Apply op (JSON text) to doc (JSON text): the result as compact JSON, or
 * NULL with *msg set. */
static char *patch(const char *doc, const char *op, char **msg) {
        g_autoptr(JsonNode) d = parse(doc), o = parse(op);
        g_autoptr(GError) e = NULL;
        if (json_patch_apply(d, json_node_get_object(o), &e) < 0) {
                *msg = g_strdup(e->message);
                return NULL;
        }
        return json_to_string(d, FALSE);
}

static void ok(const char *doc, const char *op, const char *want) {
        g_autofree char *msg = NULL;
        g_autofree char *got = patch(doc, op, &msg);
        if (!got)
                g_error("%s: %s", op, msg);
        g_assert_cmpstr(got, ==, want);
}

static void bad(const char *doc, const char *op, const char *fragment) {
        g_autofree char *msg = NULL;
        g_autofree char *got = patch(doc, op, &msg);
        g_assert_null(got);
        g_assert_nonnull(strstr(msg, fragment));
}

static void test_operations(void) {
        const char *vm = "{\"spec\":{\"ifaces\":[{\"name\":\"a\",\"mac\":\"x\"},{\"name\":\"b\"}]}}";
        ok(vm, "{\"op\":\"remove\",\"path\":\"/spec/ifaces/0/mac\"}",
           "{\"spec\":{\"ifaces\":[{\"name\":\"a\"},{\"name\":\"b\"}]}}");
        ok(vm, "{\"op\":\"replace\",\"path\":\"/spec/ifaces/0/mac\",\"value\":\"y\"}",
           "{\"spec\":{\"ifaces\":[{\"name\":\"a\",\"mac\":\"y\"},{\"name\":\"b\"}]}}");
        ok(vm, "{\"op\":\"add\",\"path\":\"/spec/ifaces/1\",\"value\":{\"name\":\"c\"}}",
           "{\"spec\":{\"ifaces\":[{\"name\":\"a\",\"mac\":\"x\"},{\"name\":\"c\"},{\"name\":\"b\"}]}}");
        ok(vm, "{\"op\":\"add\",\"path\":\"/spec/ifaces/-\",\"value\":1}",
           "{\"spec\":{\"ifaces\":[{\"name\":\"a\",\"mac\":\"x\"},{\"name\":\"b\"},1]}}");
        ok(vm, "{\"op\":\"replace\",\"path\":\"/spec/ifaces/1\",\"value\":2}",
           "{\"spec\":{\"ifaces\":[{\"name\":\"a\",\"mac\":\"x\"},2]}}");
        ok(vm, "{\"op\":\"add\",\"path\":\"/spec/new~1key~0\",\"value\":true}",
           "{\"spec\":{\"ifaces\":[{\"name\":\"a\",\"mac\":\"x\"},{\"name\":\"b\"}],\"new/key~\":true}}");
        ok(vm, "{\"op\":\"test\",\"path\":\"/spec/ifaces/1/name\",\"value\":\"b\"}", vm);
}

static void test_errors(void) {
        const char *vm = "{\"spec\":{\"ifaces\":[{\"name\":\"a\"}]}}";
        bad(vm, "{\"op\":\"remove\",\"path\":\"/spec/nothing\"}", "no such member");
        bad(vm, "{\"op\":\"replace\",\"path\":\"/spec/ifaces/3\",\"value\":1}", "no such array element");
        bad(vm, "{\"op\":\"remove\",\"path\":\"/spec/ifaces/01\"}", "no such array element");
        bad(vm, "{\"op\":\"add\",\"path\":\"/status/x\",\"value\":1}", "no such path");
        bad(vm, "{\"op\":\"test\",\"path\":\"/spec/ifaces/0/name\",\"value\":\"z\"}", "differs");
        bad(vm, "{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/b\"}", "not supported");
        bad(vm, "{\"op\":\"add\",\"path\":\"/spec/x\"}", "\"value\" is required");
        bad(vm, "{\"op\":\"add\",\"path\":\"spec\",\"value\":1}", "starts with /");
}

/* A patch adds a value below a path: each within the readers' depth, the
 * result beyond it, which admission then refuses (json_deeper_than). */
static void test_depth_after_patches(void) {
        g_autoptr(GString) doc = g_string_new(NULL), value = g_string_new(NULL), path = g_string_new("");
        for (int i = 0; i < 100; i++) {
                g_string_append(doc, "{\"a\":");
                g_string_append(value, "{\"b\":");
                g_string_append(path, "/a");
        }
        g_string_append(doc, "{}");
        g_string_append(value, "1");
        for (int i = 0; i < 100; i++) {
                g_string_append_c(doc, '}');
                g_string_append_c(value, '}');
        }
        g_autoptr(JsonNode) d = parse(doc->str);
        g_autofree char *op_text = g_strdup_printf("{\"op\": \"add\", \"path\": \"%s/x\", \"value\": %s}", path->str,
                                                   value->str);
        g_autoptr(JsonNode) op = parse(op_text);
        g_autoptr(GError) e = NULL;
        g_assert_false(json_deeper_than(d, 128));
        g_assert_false(json_deeper_than(op, 128));
        g_assert_cmpint(json_patch_apply(d, json_node_get_object(op), &e), ==, 0);
        g_assert_true(json_deeper_than(d, 128));
        g_assert_false(json_deeper_than(d, 300));
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/jsonpatch/operations", test_operations);
        g_test_add_func("/jsonpatch/errors", test_errors);
        g_test_add_func("/jsonpatch/depth-after-patches", test_depth_after_patches);
        return g_test_run();
}
