/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* edgevirtctl's JSONPath against kubectl's documented examples. */
#include <glib.h>
#include <json-glib/json-glib.h>

#include "jsonpath.h"

static const char *doc =
        "{\"kind\": \"List\", \"items\": ["
        " {\"kind\": \"None\", \"metadata\": {\"name\": \"127.0.0.1\", \"labels\": {\"app.kubernetes.io/name\": "
        "\"x\"}},"
        "  \"status\": {\"capacity\": {\"cpu\": \"4\"}, \"addresses\": [{\"type\": \"LegacyHostIP\", \"address\": "
        "\"127.0.0.1\"}],"
        "   \"conditions\": [{\"type\": \"Ready\", \"status\": \"True\"}, {\"type\": \"Paused\", \"status\": "
        "\"False\"}]}},"
        " {\"kind\": \"None\", \"metadata\": {\"name\": \"127.0.0.2\"},"
        "  \"status\": {\"capacity\": {\"cpu\": \"8\"}, \"addresses\": [{\"type\": \"LegacyHostIP\", \"address\": "
        "\"127.0.0.2\"},"
        "   {\"type\": \"another\", \"address\": \"127.0.0.3\"}], \"conditions\": []}}"
        "], \"users\": [{\"name\": \"myself\", \"user\": {}}, {\"name\": \"e2e\", \"user\": {\"username\": \"admin\", "
        "\"password\": \"secret\"}}],"
        " \"n\": 3}";

static char *render(const char *template) {
        g_autoptr(JsonParser) p = json_parser_new();
        g_autoptr(GString) s = g_string_new(NULL);
        g_autoptr(GError) e = NULL;
        g_assert_true(json_parser_load_from_data(p, doc, -1, NULL));
        if (jsonpath_render(template, json_parser_get_root(p), s, &e) < 0)
                return g_strdup_printf("ERROR %s", e->message);
        return g_string_free(g_steal_pointer(&s), FALSE);
}

static void check(const char *template, const char *want) {
        g_autofree char *got = render(template);
        g_assert_cmpstr(got, ==, want);
}

static void test_kubectl_examples(void) {
        check("{.kind}", "List");
        check("{['kind']}", "List");
        check("{.items[0].metadata.name}", "127.0.0.1");
        check("{.items[*].metadata.name}", "127.0.0.1 127.0.0.2");
        check("{.items[-1].metadata.name}", "127.0.0.2");
        check("{.items[0:1].metadata.name}", "127.0.0.1");
        check("{.users[?(@.name==\"e2e\")].user.password}", "secret");
        check("{.users[?(@.name=='e2e')].user.username}", "admin");
        check("{..address}", "127.0.0.1 127.0.0.2 127.0.0.3");
        check("{.items[*].status.capacity}", "{\"cpu\":\"4\"} {\"cpu\":\"8\"}");
        check("{range .items[*]}[{.metadata.name}, {.status.capacity.cpu}] {end}", "[127.0.0.1, 4] [127.0.0.2, 8] ");
        check("{range .items[*]}{.metadata.name}{\"\\t\"}"
              "{.status.addresses[?(@.type==\"LegacyHostIP\")].address}{\"\\n\"}{end}",
              "127.0.0.1\t127.0.0.1\n127.0.0.2\t127.0.0.2\n");
        check("{.items[0].status.conditions[?(@.type==\"Ready\")].status}", "True");
        check("{.items[0].metadata.labels.app\\.kubernetes\\.io/name}", "x");
        check("{.n}", "3");
        check("{.users[?(@.user.username)].name}", "e2e");
        check("names: {.items[*].metadata.name}.", "names: 127.0.0.1 127.0.0.2.");
        check("{.nothing}", "");
        check("{range .none[*]}x{end}after", "after");
}

static void test_errors(void) {
        g_autofree char *a = render("{.items[}");
        g_autofree char *b = render("{.kind");
        g_autofree char *c = render("{end}");
        g_autofree char *d = render("{.items[x]}");
        g_assert_true(g_str_has_prefix(a, "ERROR jsonpath: unterminated"));
        g_assert_true(g_str_has_prefix(b, "ERROR jsonpath: unclosed"));
        g_assert_true(g_str_has_prefix(c, "ERROR jsonpath: {end} without {range}"));
        g_assert_true(g_str_has_prefix(d, "ERROR jsonpath: \"[x]\" is not an index"));
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/jsonpath/kubectl-examples", test_kubectl_examples);
        g_test_add_func("/jsonpath/errors", test_errors);
        return g_test_run();
}
