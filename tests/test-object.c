/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Documents kept as text, their trees dropped when idle (object.h,
 * object_doc): what is read after a drop is the current document, whether
 * it changed before or after the drop; a reference taken on a tree outlives
 * the drop; the model's timer does drop idle trees. */
#include "json-util.h"
#include "model.h"
#include "model-fixture.h"
#include "object.h"
#include "util.h"

static const char MAP[] = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m, labels: {app: one}}\n"
                          "data: {a: one, b: \"two \\u00e9\"}\n";

static void setup(Fixture *f, gconstpointer data) {
        fixture_setup(f);
        fixture_apply(f, MAP);
}

static Object *map(Fixture *f) {
        Object *o = NULL;
        g_assert_cmpint(model_get(f->model, &kind_configmap, "default", "m", &o, NULL), ==, 0);
        return o;
}

/* Every tree goes: the first call forgets who read one, the second drops. */
static void drop_all(Object *o) {
        unsigned left;
        object_trees_drop_idle(&left);
        object_trees_drop_idle(&left);
        g_assert_cmpuint(left, ==, 0);
        g_assert_null(o->tree);
}

static const char *data_of(Object *o, const char *key) {
        return json_get_string(json_get_object(object_root(o), "data"), key);
}

static void test_read_after_drop(Fixture *f, gconstpointer data) {
        Object *o = map(f);
        g_autofree char *before = g_strdup(object_json(o));
        g_autofree char *tree_text = json_text(object_doc(o), false);

        g_assert_cmpstr(before, ==, tree_text);
        drop_all(o);
        g_assert_cmpstr(object_json(o), ==, before);
        g_assert_null(o->tree);                  /* the text is read without a tree */
        g_assert_cmpstr(data_of(o, "b"), ==, "two \u00e9");
        g_assert_cmpstr(json_get_string(object_labels(o), "app"), ==, "one");
        g_assert_nonnull(o->tree);
        g_autofree char *again = json_text(object_doc(o), false);
        g_assert_cmpstr(again, ==, before);
}

static void test_apply_while_dropped(Fixture *f, gconstpointer data) {
        Object *o = map(f);

        drop_all(o);
        fixture_apply(f, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m}\ndata: {a: three}\n");
        g_assert_true(map(f) == o);             /* the same object, a new document */
        g_assert_cmpstr(data_of(o, "a"), ==, "three");
        g_assert_nonnull(strstr(object_json(o), "\"three\""));
        drop_all(o);
        g_assert_cmpstr(data_of(o, "a"), ==, "three");
        g_assert_null(data_of(o, "b"));
}

static void test_update_while_dropped(Fixture *f, gconstpointer data) {
        Object *o = map(f);
        g_autoptr(GError) e = NULL;

        drop_all(o);
        JsonNode *doc = json_deep_copy(object_doc(o));
        json_object_set_string_member(json_get_object(json_node_get_object(doc), "data"), "a", "four");
        g_assert_cmpint(model_update(f->model, o, doc, &e), ==, 0);
        g_assert_no_error(e);
        drop_all(o);
        g_assert_cmpstr(data_of(o, "a"), ==, "four");
        g_assert_nonnull(strstr(object_json(o), "\"four\""));
}

static void test_reference_outlives_drop(Fixture *f, gconstpointer data) {
        Object *o = map(f);
        g_autoptr(JsonNode) kept = json_node_ref(object_doc(o));

        drop_all(o);
        g_assert_cmpstr(json_get_string(json_get_object(json_node_get_object(kept), "data"), "a"), ==, "one");
        g_assert_true(object_doc(o) != kept);   /* a tree of its own, equal */
        g_assert_true(json_node_equal(object_doc(o), kept));
}

/* The model's timer drops a tree nobody reads, between two dispatches. */
static void test_timer_drops(Fixture *f, gconstpointer data) {
        Object *o = map(f);
        gint64 end = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;

        g_assert_nonnull(object_doc(o));
        while (o->tree && g_get_monotonic_time() < end)
                g_assert_cmpint(sd_event_run(f->event, 100 * 1000), >=, 0);
        g_assert_null(o->tree);
        g_assert_cmpstr(data_of(o, "a"), ==, "one");
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/object/trees/read-after-drop", Fixture, NULL, setup, test_read_after_drop,
                   fixture_teardown);
        g_test_add("/object/trees/apply-while-dropped", Fixture, NULL, setup, test_apply_while_dropped,
                   fixture_teardown);
        g_test_add("/object/trees/update-while-dropped", Fixture, NULL, setup, test_update_while_dropped,
                   fixture_teardown);
        g_test_add("/object/trees/reference-outlives-drop", Fixture, NULL, setup, test_reference_outlives_drop,
                   fixture_teardown);
        g_test_add("/object/trees/timer-drops", Fixture, NULL, setup, test_timer_drops, fixture_teardown);
        return g_test_run();
}
