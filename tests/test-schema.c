/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "manifest.h"
#include "object.h"
#include "schema.h"
#include "util.h"

static JsonNode *parse1(const char *text) {
        g_autoptr(GPtrArray) docs = NULL;
        g_assert_cmpint(manifest_parse(text, strlen(text), &docs, NULL), ==, 0);
        return json_node_ref(docs->pdata[0]);
}

static char *validate(const char *def, const char *text, FieldValidation mode, GPtrArray *warnings, JsonNode **ret) {
        g_autoptr(JsonNode) n = parse1(text);
        g_autoptr(GError) e = NULL;
        int r = schema_validate(def, n, mode, warnings, &e);
        if (ret)
                *ret = json_node_ref(n);
        return r < 0 ? g_strdup(e->message) : NULL;
}

static void test_accepts_valid(void) {
        g_autofree char *e = validate("io.k8s.api.core.v1.Secret",
                                      "apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  labels: {x: z}\n"
                                      "  ownerReferences:\n  - {apiVersion: v1, kind: ConfigMap, name: c, uid: u}\n"
                                      "type: Opaque\ndata: {k: aGk=}\nstringData: {p: q}\n",
                                      FIELD_VALIDATION_STRICT, NULL, NULL);
        if (e)
                g_error("%s", e);
}

static void test_strict_names_every_path(void) {
        g_autofree char *e = validate("io.k8s.api.core.v1.Secret",
                                      "apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  bogus: 1\n"
                                      "  labels: {x: 1}\ndata: {k: \"!!\"}\nspec: {}\nimmutable: yes-please\n",
                                      FIELD_VALIDATION_STRICT, NULL, NULL);
        g_assert_nonnull(e);
        g_assert_nonnull(strstr(e, "metadata.bogus: unknown field"));
        g_assert_nonnull(strstr(e, "metadata.labels.x: must be a string, not an integer"));
        g_assert_nonnull(strstr(e, "data.k: illegal base64 data"));
        g_assert_nonnull(strstr(e, "spec: unknown field"));
        g_assert_nonnull(strstr(e, "immutable: must be a boolean, not a string"));
}

static void test_warn_and_ignore_drop(void) {
        g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(JsonNode) n = NULL;
        g_autofree char *e = validate("io.k8s.api.core.v1.ConfigMap",
                                      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, extra: 1}\nfoo: bar\ndata: "
                                      "{a: b}\n", FIELD_VALIDATION_WARN, warnings, &n);
        g_assert_null(e);
        g_assert_cmpuint(warnings->len, ==, 2);
        g_assert_cmpstr(warnings->pdata[0], ==, "metadata.extra: unknown field, dropped");
        g_assert_false(json_object_has_member(json_node_get_object(n), "foo"));

        g_autoptr(GPtrArray) w2 = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(JsonNode) n2 = NULL;
        g_autofree char *e2 = validate("io.k8s.api.core.v1.ConfigMap", "apiVersion: v1\nkind: ConfigMap\nfoo: bar\n",
                                       FIELD_VALIDATION_IGNORE, w2, &n2);
        g_assert_null(e2);
        g_assert_cmpuint(w2->len, ==, 0);
        g_assert_false(json_object_has_member(json_node_get_object(n2), "foo"));
        /* type errors are errors in every mode */
        g_autofree char *e3 = validate("io.k8s.api.core.v1.ConfigMap", "apiVersion: v1\nkind: ConfigMap\ndata: [1]\n",
                                       FIELD_VALIDATION_IGNORE, NULL, NULL);
        g_assert_nonnull(strstr(e3, "data: must be an object, not an array"));
}

static void test_nulls_are_unset(void) {
        g_autoptr(JsonNode) n = NULL;
        g_autofree char *e = validate("io.k8s.api.core.v1.ConfigMap",
                                      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, labels: null}\ndata:\n",
                                      FIELD_VALIDATION_STRICT, NULL, &n);
        g_assert_null(e);
        g_assert_false(json_object_has_member(json_node_get_object(n), "data"));
}

static void test_required(void) {
        g_autofree char *e = validate("io.k8s.api.core.v1.ConfigMap",
                                      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  ownerReferences: [{kind: X}]\n",
                                      FIELD_VALIDATION_STRICT, NULL, NULL);
        g_assert_nonnull(strstr(e, "metadata.ownerReferences[0].uid: required value"));
}

static void test_kind_names(void) {
        const KindInfo *k;
        static const struct { const char *name; const KindInfo *kind; } names[] = {
                { "Secret", &kind_secret }, { "secrets", &kind_secret }, { "secret", &kind_secret },
                { "cm", &kind_configmap }, { "configmaps.v1", &kind_configmap }, { "ns", &kind_namespace },
                { "Project", &kind_namespace }, { "projects.project.openshift.io", &kind_namespace },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
                g_assert_cmpint(kind_from_name(names[i].name, &k, NULL), ==, 0);
                g_assert_true(k == names[i].kind);
        }
        g_autoptr(GError) e = NULL;
        g_assert_cmpint(kind_from_name("gadgets", &k, &e), ==, -EOPNOTSUPP);
        g_assert_nonnull(strstr(e->message, "gadgets"));
        g_clear_error(&e);
        g_assert_cmpint(kind_from_document("v2", "Secret", &k, &e), ==, -EOPNOTSUPP);
        g_assert_nonnull(strstr(e->message, "v2"));
        g_clear_error(&e);
        g_assert_cmpint(kind_from_document("apps/v1", "Deployment", &k, &e), ==, -EOPNOTSUPP);
        g_assert_nonnull(strstr(e->message, "supported kinds"));
        for (const KindInfo *const *kk = kind_all(); *kk; kk++)
                g_assert_true(schema_has_definition((*kk)->schema));
}

/* Values past what a field can hold say "out of range", with the path and
 * the value: quantities as strings or bare numbers, integers beyond 64
 * bits (which the readers keep as doubles), int32 fields. */
static void test_out_of_range(void) {
        static const struct { const char *def, *text, *want; } cases[] = {
                { "io.k8s.api.core.v1.PersistentVolumeClaim",
                  "{\"spec\": {\"resources\": {\"requests\": {\"storage\": 1180591620717411303424}}}}",
                  "spec.resources.requests.storage: quantity \"1180591620717411303424\" is out of range" },
                { "io.k8s.api.core.v1.PersistentVolumeClaim",
                  "{\"spec\": {\"resources\": {\"requests\": {\"storage\": 9223372036854775808}}}}",
                  "spec.resources.requests.storage: quantity \"9223372036854775808\" is out of range" },
                { "io.k8s.api.core.v1.PersistentVolumeClaim",
                  "{\"spec\": {\"resources\": {\"requests\": {\"storage\": \"9223372036854775808\"}}}}",
                  "spec.resources.requests.storage: quantity \"9223372036854775808\" is out of range" },
                { "io.k8s.api.core.v1.PersistentVolumeClaim",
                  "spec:\n  resources:\n    requests:\n      storage: 8Ei\n",
                  "spec.resources.requests.storage: quantity \"8Ei\" is out of range" },
                { "v1.VirtualMachine",
                  "{\"spec\": {\"template\": {\"spec\": {\"domain\": {\"memory\": {\"guest\": \"8Ei\"}}}}}}",
                  "spec.template.spec.domain.memory.guest: quantity \"8Ei\" is out of range" },
                { "v1.VirtualMachine",
                  "{\"spec\": {\"template\": {\"spec\": {\"terminationGracePeriodSeconds\": 1180591620717411303424}}}}",
                  "spec.template.spec.terminationGracePeriodSeconds: Invalid value: 1180591620717411303424: "
                  "out of range for a 64-bit" },
                { "v1.VirtualMachine",
                  "spec:\n  template:\n    spec:\n      domain:\n        cpu:\n          cores: 18446744073709551616\n",
                  "spec.template.spec.domain.cpu.cores: Invalid value: 18446744073709551616: "
                  "out of range for a 64-bit" },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
                g_autofree char *e = validate(cases[i].def, cases[i].text, FIELD_VALIDATION_IGNORE, NULL, NULL);
                if (!e || !strstr(e, cases[i].want))
                        g_error("%s: got \"%s\", wanted \"%s\"", cases[i].text, e ? e : "no error", cases[i].want);
        }
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/schema/accepts-valid", test_accepts_valid);
        g_test_add_func("/schema/strict-names-every-path", test_strict_names_every_path);
        g_test_add_func("/schema/warn-and-ignore-drop", test_warn_and_ignore_drop);
        g_test_add_func("/schema/nulls-are-unset", test_nulls_are_unset);
        g_test_add_func("/schema/required", test_required);
        g_test_add_func("/schema/out-of-range", test_out_of_range);
        g_test_add_func("/kind/names", test_kind_names);
        return g_test_run();
}
