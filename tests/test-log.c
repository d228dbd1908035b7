/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* log_object: the fields a journald entry about an object carries. */
#include <errno.h>
#include <string.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#include "kind.h"
#include "log.h"
#include "object.h"

static GHashTable *seen;
static GLogLevelFlags seen_level;

static GLogWriterOutput capture(GLogLevelFlags level, const GLogField *fields, gsize n, gpointer userdata) {
        seen_level = level;
        for (gsize i = 0; i < n; i++)
                g_hash_table_replace(seen, g_strdup(fields[i].key),
                                     fields[i].length < 0 ? g_strdup(fields[i].value)
                                                          : g_strndup(fields[i].value, fields[i].length));
        return G_LOG_WRITER_HANDLED;
}

static Object *make(const KindInfo *kind, const char *json) {
        return object_new(kind, json_from_string(json, NULL));
}

static void test_namespaced(void) {
        g_autoptr(Object) o = make(&kind_vm,
                                   "{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\",\"uid\":\"u-1\"}}");

        g_hash_table_remove_all(seen);
        log_object(G_LOG_LEVEL_MESSAGE, o, "phase %s", "Running");
        g_assert_cmpint(seen_level, ==, G_LOG_LEVEL_MESSAGE);
        g_assert_cmpstr(g_hash_table_lookup(seen, "MESSAGE"), ==, "VirtualMachine shop/web: phase Running");
        g_assert_cmpstr(g_hash_table_lookup(seen, "OBJECT_KIND"), ==, "VirtualMachine");
        g_assert_cmpstr(g_hash_table_lookup(seen, "OBJECT_NAMESPACE"), ==, "shop");
        g_assert_cmpstr(g_hash_table_lookup(seen, "OBJECT_NAME"), ==, "web");
        g_assert_cmpstr(g_hash_table_lookup(seen, "OBJECT_UID"), ==, "u-1");
        g_assert_cmpstr(g_hash_table_lookup(seen, "PRIORITY"), ==, "5");
        /* where in the code: the caller's file, line and function */
        g_assert_cmpstr(g_hash_table_lookup(seen, "CODE_FILE"), ==, __FILE__);
        g_assert_cmpstr(g_hash_table_lookup(seen, "CODE_FUNC"), ==, "test_namespaced");
        g_assert_nonnull(g_hash_table_lookup(seen, "CODE_LINE"));
        g_assert_null(g_hash_table_lookup(seen, "MESSAGE_ID"));
}

static void test_message_id(void) {
        g_autoptr(Object) o = make(&kind_vm, "{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\",\"uid\":\"u-1\"}}");

        g_hash_table_remove_all(seen);
        log_object_id(G_LOG_LEVEL_MESSAGE, o, LOG_MESSAGE_ID_OBJECT_CREATED, "created");
        g_assert_cmpstr(g_hash_table_lookup(seen, "MESSAGE_ID"), ==, LOG_MESSAGE_ID_OBJECT_CREATED);
        g_assert_cmpuint(strlen(LOG_MESSAGE_ID_OBJECT_CREATED), ==, 32);
        g_assert_cmpstr(g_hash_table_lookup(seen, "MESSAGE"), ==, "VirtualMachine shop/web: created");
}

static void test_levels(void) {
        GLogLevelFlags l;

        g_assert_cmpint(log_level_from_string("loud", &l), ==, -EINVAL);
        g_assert_cmpint(log_level_from_string("warning", &l), ==, 0);
        log_setup(l, false);
        g_assert_true(log_level_written(G_LOG_LEVEL_CRITICAL));
        g_assert_true(log_level_written(G_LOG_LEVEL_WARNING));
        g_assert_false(log_level_written(G_LOG_LEVEL_MESSAGE));
        g_assert_false(log_level_written(G_LOG_LEVEL_DEBUG));
        g_assert_cmpint(log_level_from_string("debug", &l), ==, 0);
        log_setup(l, false);
        g_assert_true(log_level_written(G_LOG_LEVEL_DEBUG));
        g_assert_cmpint(log_level_from_string("err", &l), ==, 0);
        log_setup(l, false);
        g_assert_true(log_level_written(G_LOG_LEVEL_ERROR));
        g_assert_false(log_level_written(G_LOG_LEVEL_WARNING));
}

static void test_cluster_scoped(void) {
        g_autoptr(Object) o = make(&kind_namespace, "{\"metadata\":{\"name\":\"shop\",\"uid\":\"u-2\"}}");

        g_hash_table_remove_all(seen);
        log_object(G_LOG_LEVEL_WARNING, o, "removed");
        g_assert_cmpint(seen_level, ==, G_LOG_LEVEL_WARNING);
        g_assert_cmpstr(g_hash_table_lookup(seen, "MESSAGE"), ==, "Namespace shop: removed");
        g_assert_cmpstr(g_hash_table_lookup(seen, "OBJECT_NAMESPACE"), ==, "");
        g_assert_cmpstr(g_hash_table_lookup(seen, "OBJECT_UID"), ==, "u-2");
        g_assert_cmpstr(g_hash_table_lookup(seen, "PRIORITY"), ==, "4");
}

/* An object looked up and not found: the message as it is, no OBJECT_*. */
/* log_ref: the same fields from names alone (a worker thread's message) */
static void test_ref(void) {
        g_hash_table_remove_all(seen);
        log_ref(G_LOG_LEVEL_WARNING, "VirtualMachineSnapshot", "shop", "nightly", "u-9", "cannot free %s", "v1");
        g_assert_cmpstr(g_hash_table_lookup(seen, "MESSAGE"), ==,
                        "VirtualMachineSnapshot shop/nightly: cannot free v1");
        g_assert_cmpstr(g_hash_table_lookup(seen, "OBJECT_KIND"), ==, "VirtualMachineSnapshot");
        g_assert_cmpstr(g_hash_table_lookup(seen, "OBJECT_NAMESPACE"), ==, "shop");
        g_assert_cmpstr(g_hash_table_lookup(seen, "OBJECT_NAME"), ==, "nightly");
        g_assert_cmpstr(g_hash_table_lookup(seen, "OBJECT_UID"), ==, "u-9");
        g_assert_cmpstr(g_hash_table_lookup(seen, "CODE_FUNC"), ==, "test_ref");
}

static void test_no_object(void) {
        g_hash_table_remove_all(seen);
        log_object(G_LOG_LEVEL_WARNING, NULL, "libvirt: %s: gone", "ns_web");
        g_assert_cmpstr(g_hash_table_lookup(seen, "MESSAGE"), ==, "libvirt: ns_web: gone");
        g_assert_null(g_hash_table_lookup(seen, "OBJECT_NAME"));
        g_assert_null(g_hash_table_lookup(seen, "OBJECT_KIND"));
        g_assert_cmpstr(g_hash_table_lookup(seen, "CODE_FUNC"), ==, "test_no_object");
        g_assert_cmpstr(g_hash_table_lookup(seen, "PRIORITY"), ==, "4");
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        g_log_set_writer_func(capture, NULL, NULL);
        g_test_add_func("/log/namespaced", test_namespaced);
        g_test_add_func("/log/cluster-scoped", test_cluster_scoped);
        g_test_add_func("/log/message-id", test_message_id);
        g_test_add_func("/log/levels", test_levels);
        g_test_add_func("/log/no-object", test_no_object);
        g_test_add_func("/log/ref", test_ref);
        return g_test_run();
}
