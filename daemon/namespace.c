/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Namespace, and OpenShift's Project/ProjectRequest spellings of it. */
#include "json-util.h"
#include "log.h"
#include "model.h"
#include "util.h"

#define FINALIZER_KUBERNETES "kubernetes"

static void namespace_init_status(JsonObject *doc) {
        JsonObject *status = json_object_new();
        json_object_set_string_member(status, "phase", "Active");
        json_object_set_object_member(doc, "status", status);
}

static int namespace_admit(Model *m, JsonObject *doc, JsonObject *old, GPtrArray *warnings, GError **error) {
        /* As Kubernetes: the namespace controller's own finalizer. */
        json_object_add_to_string_set(json_ensure_object(doc, "spec"), "finalizers", FINALIZER_KUBERNETES);
        return 0;
}

static void namespace_mark_deleting(JsonObject *doc) {
        json_object_set_string_member(json_ensure_object(doc, "status"), "phase", "Terminating");
}

/* A terminating namespace deletes what it holds; it goes once empty. */
static int namespace_finalize(Model *m, Object *ns) {
        g_autoptr(GPtrArray) content = NULL;
        GPtrArray *all = model_list(m, NULL, ns->name, NULL);
        bool empty = true;
        int r = 0;

        content = g_ptr_array_new_with_free_func((GDestroyNotify) object_unref);
        for (guint i = 0; i < all->len; i++) {
                Object *o = all->pdata[i];
                if (o->kind->namespaced)
                        g_ptr_array_add(content, object_ref(o));
        }
        g_ptr_array_unref(all);

        for (guint i = 0; i < content->len; i++) {
                Object *o = content->pdata[i];
                g_autoptr(GError) e = NULL;
                empty = false;
                if (object_is_deleting(o) || !model_find_uid(m, o->uid))
                        continue;
                r = model_delete_object(m, o, PROPAGATION_BACKGROUND, &e);
                if (r < 0) {
                        log_object(G_LOG_LEVEL_WARNING, o, "deleting it with its namespace failed: %s", e->message);
                        return r;
                }
        }
        /* Not empty yet: every later change to what is left (an object
         * removed, a finalizer dropped) queues the namespace again. */
        return empty ? 1 : 0;
}

const KindInfo kind_namespace = {
        .kind = "Namespace",
        .group = "",
        .versions = (const char *const[]) { "v1", NULL },
        .plural = "namespaces",
        .short_names = (const char *const[]) { "ns", NULL },
        .path_segment = "namespace",
        .schema = "io.k8s.api.core.v1.Namespace",
        .namespaced = false,
        .name_is_label = true,
        .admit = namespace_admit,
        .init_status = namespace_init_status,
        .mark_deleting = namespace_mark_deleting,
        .finalize = namespace_finalize,
};

static void set_core_kind(JsonObject *doc) {
        json_object_set_string_member(doc, "apiVersion", "v1");
        json_object_set_string_member(doc, "kind", "Namespace");
}

static int project_convert(JsonObject *doc, GError **error) {
        set_core_kind(doc);
        return 0;
}

const KindInfo kind_project = {
        .kind = "Project",
        .group = "project.openshift.io",
        .versions = (const char *const[]) { "v1", NULL },
        .plural = "projects",
        .schema = "com.github.openshift.api.project.v1.Project",
        .stored_as = &kind_namespace,
        .convert = project_convert,
};

/* oc new-project's request: displayName and description become the
 * annotations OpenShift keeps them in. */
static int project_request_convert(JsonObject *doc, GError **error) {
        const char *display = json_get_string(doc, "displayName");
        const char *description = json_get_string(doc, "description");
        JsonObject *annotations = NULL;

        if (display || description)
                annotations = json_ensure_object(json_ensure_object(doc, "metadata"), "annotations");
        if (display)
                json_object_set_string_member(annotations, "openshift.io/display-name", display);
        if (description)
                json_object_set_string_member(annotations, "openshift.io/description", description);
        json_object_remove_member(doc, "displayName");
        json_object_remove_member(doc, "description");
        set_core_kind(doc);
        return 0;
}

const KindInfo kind_project_request = {
        .kind = "ProjectRequest",
        .group = "project.openshift.io",
        .versions = (const char *const[]) { "v1", NULL },
        .plural = "projectrequests",
        .schema = "com.github.openshift.api.project.v1.ProjectRequest",
        .stored_as = &kind_namespace,
        .convert = project_request_convert,
};
