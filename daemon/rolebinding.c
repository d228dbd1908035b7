/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* RoleBinding (rbac.authorization.k8s.io/v1): OpenShift's project roles on
 * one node.  A binding gives Unix users and groups one of the ClusterRoles
 * admin, edit or view in its namespace (docs/security.md); the D-Bus layer
 * asks rbac_role() who may see and do what there. */
#include <grp.h>
#include <pwd.h>

#include "json-util.h"
#include "model.h"
#include "rolebinding.h"
#include "util.h"

#define RBAC_GROUP "rbac.authorization.k8s.io"

static const char *const role_names[] = { [ROLE_VIEW] = "view", [ROLE_EDIT] = "edit", [ROLE_ADMIN] = "admin" };

const char *rbac_role_name(Role r) {
        return r > ROLE_NONE && r <= ROLE_ADMIN ? role_names[r] : "none";
}

static Role role_from_name(const char *name) {
        for (Role r = ROLE_VIEW; r <= ROLE_ADMIN; r++)
                if (streq_ptr(name, role_names[r]))
                        return r;
        return ROLE_NONE;
}

static int rolebinding_admit(Model *m, JsonObject *doc, JsonObject *old, GPtrArray *warnings, GError **error) {
        JsonObject *ref = json_get_object(doc, "roleRef");
        JsonArray *subjects = json_get_array(doc, "subjects");

        if (!streq_ptr(json_get_string(ref, "apiGroup"), RBAC_GROUP))
                return ev_error_set(error, EINVAL,
                                    "roleRef.apiGroup: Unsupported value: \"%s\": supported values: \"" RBAC_GROUP "\"",
                                    json_get_string(ref, "apiGroup") ?: "");
        if (streq_ptr(json_get_string(ref, "kind"), "Role"))
                return ev_error_set(error, EOPNOTSUPP,
                                    "roleRef.kind: Unsupported value: \"Role\": not supported on edgevirt: namespaced "
                                    "Roles with their own rules are not; bind the ClusterRoles admin, edit or view");
        if (!streq_ptr(json_get_string(ref, "kind"), "ClusterRole"))
                return ev_error_set(error, EINVAL,
                                    "roleRef.kind: Unsupported value: \"%s\": supported values: \"ClusterRole\"",
                                    json_get_string(ref, "kind") ?: "");
        if (role_from_name(json_get_string(ref, "name")) == ROLE_NONE)
                return ev_error_set(error, EOPNOTSUPP,
                                    "roleRef.name: Unsupported value: \"%s\": not supported on edgevirt: "
                                    "the ClusterRoles here are admin, edit and view", json_get_string(ref, "name"));
        g_autoptr(JsonNode) a = old ? json_node_init_object(json_node_alloc(), json_get_object(old, "roleRef")) : NULL;
        g_autoptr(JsonNode) b = json_node_init_object(json_node_alloc(), ref);
        if (old && !json_equal(a, b))
                return ev_error_set(error, EINVAL, "roleRef: Invalid value: cannot change roleRef");
        for (guint i = 0; subjects && i < json_array_get_length(subjects); i++) {
                JsonObject *s = json_array_get_object_element(subjects, i);
                const char *kind = json_get_string(s, "kind"), *name = json_get_string(s, "name");
                if (streq_ptr(kind, "ServiceAccount"))
                        return ev_error_set(error, EOPNOTSUPP,
                                            "subjects[%u].kind: Unsupported value: \"ServiceAccount\": not supported "
                                            "on edgevirt: there are no service accounts; name a Unix user or group", i);
                if (!streq_ptr(kind, "User") && !streq_ptr(kind, "Group"))
                        return ev_error_set(error, EINVAL,
                                            "subjects[%u].kind: Unsupported value: \"%s\": supported values: "
                                            "\"User\", \"Group\"", i, kind ?: "");
                if (isempty(name))
                        return ev_error_set(error, EINVAL, "subjects[%u].name: Required value", i);
                if (json_get_string(s, "apiGroup") && !streq(json_get_string(s, "apiGroup"), RBAC_GROUP))
                        return ev_error_set(error, EINVAL,
                                            "subjects[%u].apiGroup: Unsupported value: \"%s\": supported values: \""
                                            RBAC_GROUP "\"", i, json_get_string(s, "apiGroup"));
                /* a user or group unknown here binds nothing: say so */
                if (warnings && streq(kind, "User") && !getpwnam(name))
                        g_ptr_array_add(warnings,
                                        g_strdup_printf("subjects[%u]: there is no user %s on this node", i, name));
                if (warnings && streq(kind, "Group") && !getgrnam(name))
                        g_ptr_array_add(warnings,
                                        g_strdup_printf("subjects[%u]: there is no group %s on this node", i, name));
        }
        return 0;
}

const KindInfo kind_rolebinding = {
        .kind = "RoleBinding",
        .group = RBAC_GROUP,
        .versions = (const char *const[]) { "v1", NULL },
        .plural = "rolebindings",
        .path_segment = "rolebinding",
        .schema = "io.k8s.api.rbac.v1.RoleBinding",
        .namespaced = true,
        .admit = rolebinding_admit,
};

Role rbac_role(Model *m, const char *namespace, const char *user, const char *const *groups) {
        g_autoptr(GPtrArray) bindings = NULL;
        Role best = ROLE_NONE;

        if (isempty(namespace))
                return ROLE_NONE;
        bindings = model_list(m, &kind_rolebinding, namespace, NULL);
        for (guint i = 0; i < bindings->len; i++) {
                JsonObject *doc = object_root(bindings->pdata[i]);
                Role r = role_from_name(json_get_string(json_get_object(doc, "roleRef"), "name"));
                JsonArray *subjects = json_get_array(doc, "subjects");
                if (r <= best)
                        continue;
                for (guint j = 0; subjects && j < json_array_get_length(subjects); j++) {
                        JsonObject *s = json_array_get_object_element(subjects, j);
                        const char *kind = json_get_string(s, "kind"), *name = json_get_string(s, "name");
                        if ((streq_ptr(kind, "User") && streq_ptr(name, user)) ||
                            (streq_ptr(kind, "Group") && groups && g_strv_contains(groups, name ?: ""))) {
                                best = r;
                                break;
                        }
                }
        }
        return best;
}

int rbac_make_admin(Model *m, const char *namespace, const char *user, GError **error) {
        g_autoptr(JsonObject) binding = json_object_new();
        JsonObject *meta = json_object_new(), *ref = json_object_new(), *subject = json_object_new();
        JsonArray *subjects = json_array_new();

        json_object_set_string_member(binding, "apiVersion", "rbac.authorization.k8s.io/v1");
        json_object_set_string_member(binding, "kind", "RoleBinding");
        json_object_set_string_member(meta, "name", "admin");
        json_object_set_string_member(meta, "namespace", namespace);
        json_object_set_object_member(binding, "metadata", meta);
        json_object_set_string_member(ref, "apiGroup", "rbac.authorization.k8s.io");
        json_object_set_string_member(ref, "kind", "ClusterRole");
        json_object_set_string_member(ref, "name", "admin");
        json_object_set_object_member(binding, "roleRef", ref);
        json_object_set_string_member(subject, "kind", "User");
        json_object_set_string_member(subject, "name", user);
        json_array_add_object_element(subjects, subject);
        json_object_set_array_member(binding, "subjects", subjects);
        return model_apply_object(m, binding, false, error);
}
