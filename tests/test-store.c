/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <glib/gstdio.h>

#include "store.h"
#include "util.h"

static int count_row(const StoreRow *row, void *userdata) {
        GHashTable *seen = userdata;
        g_hash_table_insert(seen, g_strdup(row->uid), g_strdup(row->document));
        return 0;
}

static void put(Store *s, const char *uid, const char *name, const char *doc) {
        uint64_t rv;
        StoreRow row = { .uid = uid, .group = "", .kind = "Secret", .namespace = "default", .name = name,
                        .document = doc };
        g_assert_cmpint(store_next_resource_version(s, &rv, NULL), ==, 0);
        row.resource_version = rv;
        g_assert_cmpint(store_put(s, &row, NULL), ==, 0);
}

static void test_persistence_and_rollback(void) {
        g_autofree char *dir = g_dir_make_tmp("edgevirt-store-XXXXXX", NULL);
        g_autofree char *path = g_build_filename(dir, "objects.db", NULL);
        g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        Store *s = NULL;

        g_assert_cmpint(store_open(path, &s, NULL), ==, 0);
        g_assert_cmpuint(store_current_resource_version(s), ==, 0);
        g_assert_cmpint(store_begin(s, NULL), ==, 0);
        put(s, "u1", "a", "{\"a\":1}");
        put(s, "u2", "b", "{\"b\":1}");
        g_assert_cmpint(store_commit(s, NULL), ==, 0);
        g_assert_cmpuint(store_current_resource_version(s), ==, 2);

        /* A rolled-back transaction leaves no trace, not even its versions. */
        g_assert_cmpint(store_begin(s, NULL), ==, 0);
        put(s, "u3", "c", "{}");
        g_assert_cmpint(store_delete(s, "u1", NULL), ==, 0);
        store_rollback(s);
        g_assert_cmpuint(store_current_resource_version(s), ==, 2);
        store_free(s);

        g_assert_cmpint(store_open(path, &s, NULL), ==, 0);
        g_assert_cmpuint(store_current_resource_version(s), ==, 2);
        g_assert_cmpint(store_load(s, count_row, seen, NULL), ==, 0);
        g_assert_cmpuint(g_hash_table_size(seen), ==, 2);
        g_assert_cmpstr(g_hash_table_lookup(seen, "u1"), ==, "{\"a\":1}");

        /* The same name twice is refused by the store itself. */
        g_autoptr(GError) e = NULL;
        uint64_t rv;
        StoreRow dup = { .uid = "u9", .group = "", .kind = "Secret", .namespace = "default", .name = "a",
                        .document = "{}" };
        g_assert_cmpint(store_begin(s, NULL), ==, 0);
        store_next_resource_version(s, &rv, NULL);
        dup.resource_version = rv;
        g_assert_cmpint(store_put(s, &dup, &e), <, 0);
        store_rollback(s);

        g_assert_cmpint(store_begin(s, NULL), ==, 0);
        g_assert_cmpint(store_delete(s, "u1", NULL), ==, 0);
        g_assert_cmpint(store_commit(s, NULL), ==, 0);
        store_free(s);

        g_hash_table_remove_all(seen);
        g_assert_cmpint(store_open(path, &s, NULL), ==, 0);
        g_assert_cmpint(store_load(s, count_row, seen, NULL), ==, 0);
        g_assert_cmpuint(g_hash_table_size(seen), ==, 1);
        store_free(s);

        g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
        g_assert_cmpint(system(cmd), ==, 0);
}

static void test_unwritable(void) {
        g_autoptr(GError) e = NULL;
        Store *s = NULL;
        g_assert_cmpint(store_open("/nonexistent-dir/objects.db", &s, &e), <, 0);
        g_assert_nonnull(strstr(e->message, "/nonexistent-dir/objects.db"));
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/store/persistence-and-rollback", test_persistence_and_rollback);
        g_test_add_func("/store/unwritable", test_unwritable);
        return g_test_run();
}
