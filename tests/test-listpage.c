/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "listpage.h"
#include "object.h"
#include "util.h"

static void test_token_round_trip(void) {
        g_autofree char *t = list_continue_token("ConfigMap", "ns1", "app=web", "ns1", "b");
        g_autofree char *ns = NULL, *name = NULL;
        g_autoptr(GError) e = NULL;

        g_assert_cmpint(list_continue_parse(t, "ConfigMap", "ns1", "app=web", &ns, &name, &e), ==, 0);
        g_assert_cmpstr(ns, ==, "ns1");
        g_assert_cmpstr(name, ==, "b");
}

static void expect_refused(const char *token, const char *kind, const char *ns, const char *selector,
                           const char *message) {
        g_autofree char *rns = NULL, *rname = NULL;
        g_autoptr(GError) e = NULL;

        g_assert_cmpint(list_continue_parse(token, kind, ns, selector, &rns, &rname, &e), ==, -EINVAL);
        g_assert_nonnull(e);
        if (!strstr(e->message, message))
                g_error("token \"%s\": \"%s\" does not say \"%s\"", token, e->message, message);
        g_assert_null(rns);
}

static void test_token_foreign(void) {
        g_autofree char *t = list_continue_token("ConfigMap", "", NULL, "a", "b");
        expect_refused(t, "Secret", "", NULL, "continues a List of ConfigMap in all namespaces");
        expect_refused(t, "ConfigMap", "a", NULL, "continues a List of ConfigMap in all namespaces");
        expect_refused(t, "ConfigMap", "", "x=y", "not this one");
        g_autofree char *sel = list_continue_token("Secret", "ns", "x=y", "ns", "b");
        expect_refused(sel, "Secret", "ns", NULL, "in namespace ns with label selector x=y, not this one");
}

static void test_token_malformed(void) {
        g_autofree char *short_fields = g_base64_encode((const guchar *) "edgevirt-list-1\nConfigMap\n\n\na", 29);
        g_autofree char *no_name = g_base64_encode((const guchar *) "edgevirt-list-1\nConfigMap\n\n\na\n", 30);
        g_autofree char *other_version = g_base64_encode((const guchar *) "edgevirt-list-2\nConfigMap\n\n\na\nb", 31);
        g_autofree char *with_nul = g_base64_encode((const guchar *) "edgevirt-list-1\nConfigMap\n\n\na\nb\0c", 34);
        g_autofree char *huge = g_strnfill(5000, 'A');

        expect_refused("", "ConfigMap", "", NULL, "not a continue token");
        expect_refused("not base64!", "ConfigMap", "", NULL, "not a continue token");
        expect_refused("AAAA", "ConfigMap", "", NULL, "not a continue token");
        expect_refused(short_fields, "ConfigMap", "", NULL, "not a continue token");
        expect_refused(no_name, "ConfigMap", "", NULL, "not a continue token");
        expect_refused(other_version, "ConfigMap", "", NULL, "not a continue token");
        expect_refused(with_nul, "ConfigMap", "", NULL, "not a continue token");
        expect_refused(huge, "ConfigMap", "", NULL, "not a continue token");
}

/* objects named by "ns/name" strings, sorted as model_list sorts them */
static GPtrArray *objects_of(const char *const *keys) {
        GPtrArray *a = g_ptr_array_new_with_free_func(g_free);
        for (const char *const *k = keys; *k; k++) {
                Object *o = g_new0(Object, 1);
                g_auto(GStrv) f = g_strsplit(*k, "/", 2);
                o->namespace = (char *) g_intern_string(f[0]);
                o->name = (char *) g_intern_string(f[1]);
                g_ptr_array_add(a, o);
        }
        return a;
}

static void test_start(void) {
        const char *const keys[] = { "a/x", "a/y", "b/a", "b/c", NULL };
        g_autoptr(GPtrArray) objects = objects_of(keys);

        g_assert_cmpuint(list_continue_start(objects, "a", "x"), ==, 1);
        g_assert_cmpuint(list_continue_start(objects, "a", "y"), ==, 2);
        g_assert_cmpuint(list_continue_start(objects, "b", "c"), ==, 4);
        /* the last one served is gone: the next in order */
        g_assert_cmpuint(list_continue_start(objects, "b", "b"), ==, 3);
        g_assert_cmpuint(list_continue_start(objects, "a", "z"), ==, 2);
        g_assert_cmpuint(list_continue_start(objects, "", "z"), ==, 0);
        g_assert_cmpuint(list_continue_start(objects, "c", ""), ==, 4);
}

/* Pages of two while objects come and go between pages: every object
 * present throughout is served exactly once. */
static void test_walk_with_changes(void) {
        const char *const before[] = { "a/1", "a/2", "a/3", "b/1", "b/2", "c/1", NULL };
        const char *const between[] = { "a/0", "a/3", "a/4", "b/2", "b/9", "c/1", "d/1", NULL };
        const char *const throughout[] = { "a/3", "b/2", "c/1" };
        g_autoptr(GHashTable) served = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_autoptr(GPtrArray) first = objects_of(before), later = objects_of(between);
        g_autofree char *ns = g_strdup(""), *name = NULL;
        guint start = 0;

        for (int page = 0; page < 10; page++) {
                GPtrArray *now = page == 0 ? first : later;
                if (name)
                        start = list_continue_start(now, ns, name);
                if (start >= now->len)
                        break;
                for (guint i = start; i < MIN(start + 2, now->len); i++) {
                        Object *o = now->pdata[i];
                        g_autofree char *key = g_strdup_printf("%s/%s", o->namespace, o->name);
                        g_assert_false(g_hash_table_contains(served, key));
                        g_hash_table_add(served, g_steal_pointer(&key));
                        g_free(ns), g_free(name);
                        ns = g_strdup(o->namespace), name = g_strdup(o->name);
                }
        }
        for (size_t i = 0; i < G_N_ELEMENTS(throughout); i++)
                g_assert_true(g_hash_table_contains(served, throughout[i]));
        g_assert_true(g_hash_table_contains(served, "a/1") && g_hash_table_contains(served, "a/2"));
        g_assert_false(g_hash_table_contains(served, "a/0"));   /* before the position when it came */
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/listpage/token-round-trip", test_token_round_trip);
        g_test_add_func("/listpage/token-foreign", test_token_foreign);
        g_test_add_func("/listpage/token-malformed", test_token_malformed);
        g_test_add_func("/listpage/start", test_start);
        g_test_add_func("/listpage/walk-with-changes", test_walk_with_changes);
        return g_test_run();
}
