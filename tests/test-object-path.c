/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Objects' D-Bus paths (dbus/object-path.h): made from kind, namespace
 * and name, and read back into the stored object, on a real model. */
#include <glib/gstdio.h>

#include "object-path.h"
#include "util.h"

static void test_make(void) {
        g_autofree char *p1 = object_path_make(&kind_namespace, "", "my-ns");
        g_autofree char *p2 = object_path_make(&kind_secret, "my-ns", "a.b");
        g_autofree char *p3 = object_path_make(&kind_configmap, "default", "cm");
        g_autofree char *p4 = object_path_make(&kind_storageclass, "", "local");
        g_assert_cmpstr(p1, ==, "/org/edgevirt/EdgeVirt1/namespace/my_2dns");
        g_assert_cmpstr(p2, ==, "/org/edgevirt/EdgeVirt1/namespace/my_2dns/secret/a_2eb");
        g_assert_cmpstr(p3, ==, "/org/edgevirt/EdgeVirt1/namespace/default/configmap/cm");
        g_assert_cmpstr(p4, ==, "/org/edgevirt/EdgeVirt1/storageclass/local");
}

static void test_find(void) {
        static const char TEXT[] = "apiVersion: v1\nkind: Namespace\nmetadata: {name: my-ns}\n"
                                   "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a.b, namespace: my-ns}\n"
                                   "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n";
        ModelLimits limits = { .max_document_size = 1 << 20, .max_objects_per_apply = 100,
                              .max_objects_per_namespace = 1000 };
        g_autoptr(GError) e = NULL;
        g_autoptr(GPtrArray) names = NULL;
        g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
        ApplyOptions opts = { 0 };
        sd_event *event = NULL;
        Model *m = NULL;

        g_autofree char *dir = g_dir_make_tmp("edgevirt-object-path-XXXXXX", NULL);
        g_autofree char *state = g_build_filename(dir, "state", NULL);
        g_assert_cmpint(sd_event_new(&event), >=, 0);
        g_assert_cmpint(model_new(event, state, &limits, &m, &e), ==, 0);
        g_assert_cmpint(model_apply(m, TEXT, strlen(TEXT), &opts, &names, warnings, &e), ==, 0);
        g_assert_no_error(e);
        g_assert_cmpuint(names->len, ==, 3);

        /* each applied object is found at the path made of its name */
        for (guint i = 0; i < names->len; i++) {
                ObjectName *n = names->pdata[i];
                g_autofree char *path = object_path_make(n->kind, n->namespace, n->name);
                Object *o = object_path_find(m, path);
                g_assert_nonnull(o);
                g_assert_cmpstr(o->name, ==, n->name);
                g_autofree char *again = object_path_of(o);
                g_assert_cmpstr(again, ==, path);
        }
        g_assert_nonnull(object_path_find(m, "/org/edgevirt/EdgeVirt1/namespace/default"));
        /* only an object's own path: no other spelling, kind or level */
        static const char *const missing[] = {
                "/org/edgevirt/EdgeVirt1/namespace/my_2dns/configmap/a_2Eb",    /* escaped differently */
                "/org/edgevirt/EdgeVirt1/namespace/_/configmap/cm",             /* "" is not "default" */
                "/org/edgevirt/EdgeVirt1/namespace/default/secret/cm",
                "/org/edgevirt/EdgeVirt1/namespace/default/configmap",
                "/org/edgevirt/EdgeVirt1/configmap/cm",
                "/org/edgevirt/EdgeVirt1/namespace/my_2dns/configmap/a_2eb/x",
                "/org/edgevirt/EdgeVirt1",
                "/",
        };
        for (size_t i = 0; i < G_N_ELEMENTS(missing); i++)
                g_assert_null(object_path_find(m, missing[i]));

        model_free(m);
        sd_event_unref(event);
        g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
        g_assert_cmpint(system(cmd), ==, 0);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/object-path/make", test_make);
        g_test_add_func("/object-path/find", test_find);
        return g_test_run();
}
