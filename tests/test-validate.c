/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "labelselector.h"
#include "util.h"
#include "validate.h"

typedef int (*Validator)(const char *s, GError **error);

static void expect(Validator f, const char *s, bool ok) {
        g_autoptr(GError) e = NULL;
        int r = f(s, &e);
        if (ok && r < 0)
                g_error("\"%s\" refused: %s", s, e->message);
        if (!ok && r >= 0)
                g_error("\"%s\" accepted", s);
        if (!ok)
                g_assert_nonnull(e);
}

static void test_label(void) {
        expect(validate_dns1123_label, "a", true);
        expect(validate_dns1123_label, "my-ns-1", true);
        expect(validate_dns1123_label, "123", true);
        expect(validate_dns1123_label, "", false);
        expect(validate_dns1123_label, "-a", false);
        expect(validate_dns1123_label, "a-", false);
        expect(validate_dns1123_label, "A", false);
        expect(validate_dns1123_label, "a.b", false);
        expect(validate_dns1123_label, "a_b", false);
        g_autofree char *l63 = g_strnfill(63, 'a'), *l64 = g_strnfill(64, 'a');
        expect(validate_dns1123_label, l63, true);
        expect(validate_dns1123_label, l64, false);
}

static void test_subdomain(void) {
        expect(validate_dns1123_subdomain, "a.b-c.d", true);
        expect(validate_dns1123_subdomain, "my-secret", true);
        expect(validate_dns1123_subdomain, "a..b", false);
        expect(validate_dns1123_subdomain, ".a", false);
        expect(validate_dns1123_subdomain, "a.", false);
        expect(validate_dns1123_subdomain, "UPPER", false);
        g_autofree char *s254 = g_strnfill(254, 'a');
        expect(validate_dns1123_subdomain, s254, false);
}

static void test_qualified_name(void) {
        expect(validate_qualified_name, "app", true);
        expect(validate_qualified_name, "kubevirt.io/vm", true);
        expect(validate_qualified_name, "app.kubernetes.io/name", true);
        expect(validate_qualified_name, "My_Key.x", true);
        expect(validate_qualified_name, "/x", false);
        expect(validate_qualified_name, "a/", false);
        expect(validate_qualified_name, "a/b/c", false);
        expect(validate_qualified_name, "Bad.Prefix/x", false);
        expect(validate_qualified_name, "_x", false);
        expect(validate_qualified_name, "", false);
}

static void test_label_value(void) {
        expect(validate_label_value, "", true);
        expect(validate_label_value, "v1.2_3-x", true);
        expect(validate_label_value, "-x", false);
        expect(validate_label_value, "a b", false);
        g_autofree char *v64 = g_strnfill(64, 'v');
        expect(validate_label_value, v64, false);
}

static void test_config_key(void) {
        expect(validate_config_key, "ca.pem", true);
        expect(validate_config_key, ".dockerconfigjson", true);
        expect(validate_config_key, "KEY_NAME", true);
        expect(validate_config_key, "..data", false);
        expect(validate_config_key, ".", false);
        expect(validate_config_key, "a/b", false);
        expect(validate_config_key, "", false);
}

static int base64_check(const char *s, GError **error) {
        return validate_base64(s, NULL, error);
}

static void test_base64(void) {
        size_t n;
        expect(base64_check, "", true);
        expect(base64_check, "aGVsbG8=", true);
        expect(base64_check, "aGVsbG8h", true);
        expect(base64_check, "aGVsbA==", true);
        expect(base64_check, "aGVsbG8", false);
        expect(base64_check, "aGV=bG8=", false);
        expect(base64_check, "aGVs bG8", false);
        expect(base64_check, "a===", false);
        g_assert_cmpint(validate_base64("aGVsbA==", &n, NULL), ==, 0);
        g_assert_cmpuint(n, ==, 4);
}

static bool selects(const char *sel, const char *labels_json) {
        g_autoptr(LabelSelector) s = NULL;
        g_autoptr(JsonParser) p = json_parser_new();
        g_assert_cmpint(label_selector_parse(sel, &s, NULL), ==, 0);
        g_assert_true(json_parser_load_from_data(p, labels_json, -1, NULL));
        return label_selector_matches(s, json_node_get_object(json_parser_get_root(p)));
}

static void test_label_selector(void) {
        const char *l = "{\"app\": \"web\", \"tier\": \"front\", \"env\": \"prod\"}";
        g_assert_true(selects("app=web", l));
        g_assert_true(selects("app==web", l));
        g_assert_false(selects("app=db", l));
        g_assert_true(selects("app!=db", l));
        g_assert_true(selects("app!=db", "{}"));
        g_assert_true(selects("env in (prod, qa)", l));
        g_assert_false(selects("env notin (prod,qa)", l));
        g_assert_true(selects("tier", l));
        g_assert_false(selects("!tier", l));
        g_assert_true(selects("!legacy", l));
        g_assert_true(selects("app=web,tier=front", l));
        g_assert_false(selects("app=web,tier=back", l));
        g_assert_true(selects("", l));
        g_assert_true(selects("app=", "{\"app\": \"\"}"));
        g_assert_false(selects("app=", l));

        static const char *const bad[] = { "=x", "app in prod", "app in (a", "app ~ x", "a b", "bad key!=1" };
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autoptr(LabelSelector) s = NULL;
                g_autoptr(GError) e = NULL;
                if (label_selector_parse(bad[i], &s, &e) >= 0)
                        g_error("selector \"%s\" accepted", bad[i]);
        }
}

static char *format(const char *sel_json, GError **error) {
        g_autoptr(JsonParser) p = json_parser_new();
        g_assert_true(json_parser_load_from_data(p, sel_json, -1, NULL));
        return label_selector_format(json_node_get_object(json_parser_get_root(p)), error);
}

/* a metav1.LabelSelector in the string form (a pool's status.labelSelector) */
static void test_label_selector_format(void) {
        static const char *const good[][2] = {
                { "{}", "" },
                { "{\"matchLabels\": {\"tier\": \"front\", \"app\": \"web\"}}", "app=web,tier=front" },
                { "{\"matchExpressions\": [{\"key\": \"env\", \"operator\": \"In\", \"values\": [\"prod\", \"qa\"]},"
                  "{\"key\": \"x\", \"operator\": \"NotIn\", \"values\": [\"1\"]},"
                  "{\"key\": \"y\", \"operator\": \"Exists\"}, {\"key\": \"z\", \"operator\": \"DoesNotExist\"}],"
                  "\"matchLabels\": {\"app\": \"web\"}}",
                  "app=web,env in (prod,qa),x notin (1),y,!z" },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(good); i++) {
                g_autofree char *s = format(good[i][0], NULL);
                g_assert_cmpstr(s, ==, good[i][1]);
        }
        static const char *const bad[][2] = {
                { "{\"matchExpressions\": [{\"key\": \"a\", \"operator\": \"Near\"}]}", "matchExpressions[0].operator" },
                { "{\"matchExpressions\": [{\"key\": \"a\", \"operator\": \"In\"}]}", "matchExpressions[0].values" },
                { "{\"matchExpressions\": [{\"key\": \"a\", \"operator\": \"Exists\", \"values\": [\"b\"]}]}",
                  "matchExpressions[0].values" },
                { "{\"matchLabels\": {\"bad key\": \"x\"}}", "key" },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
                g_autoptr(GError) e = NULL;
                g_autofree char *s = format(bad[i][0], &e);
                g_assert_null(s);
                g_assert_nonnull(strstr(e->message, bad[i][1]));
        }
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/validate/dns1123-label", test_label);
        g_test_add_func("/validate/dns1123-subdomain", test_subdomain);
        g_test_add_func("/validate/qualified-name", test_qualified_name);
        g_test_add_func("/validate/label-value", test_label_value);
        g_test_add_func("/validate/config-key", test_config_key);
        g_test_add_func("/validate/base64", test_base64);
        g_test_add_func("/validate/label-selector", test_label_selector);
        g_test_add_func("/validate/label-selector-format", test_label_selector_format);
        return g_test_run();
}
