/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* StorageClass (storage.k8s.io/v1): read-only objects made from the
 * [StorageClass NAME] sections of the configuration, so users see with
 * Get/List what `kubectl get storageclass` shows on a cluster. */
#include "json-util.h"
#include "model.h"
#include "storage.h"
#include "storageclass.h"
#include "util.h"

const KindInfo kind_storageclass = {
        .kind = "StorageClass",
        .group = "storage.k8s.io",
        .versions = (const char *const[]) { "v1", NULL },
        .plural = "storageclasses",
        .short_names = (const char *const[]) { "sc", NULL },
        .path_segment = "storageclass",
        .schema = "io.k8s.api.storage.v1.StorageClass",
        .namespaced = false,
        .read_only = "storage classes come from the daemon's configuration ([StorageClass NAME] in edgevirtd.conf)",
};

static JsonNode *class_document(const StorageClassConfig *c) {
        g_autoptr(JsonObject) doc = json_object_new();
        JsonObject *meta = json_object_new(), *params = json_object_new();
        g_autofree char *provisioner = g_strdup_printf("edgevirt.io/%s", c->backend);

        json_object_set_string_member(doc, "apiVersion", "storage.k8s.io/v1");
        json_object_set_string_member(doc, "kind", "StorageClass");
        json_object_set_string_member(meta, "name", c->name);
        if (c->is_default) {
                JsonObject *ann = json_object_new();
                json_object_set_string_member(ann, "storageclass.kubernetes.io/is-default-class", "true");
                json_object_set_object_member(meta, "annotations", ann);
        }
        json_object_set_object_member(doc, "metadata", meta);
        json_object_set_string_member(doc, "provisioner", provisioner);
        if (c->path)
                json_object_set_string_member(params, "path", c->path);
        if (c->volume_group)
                json_object_set_string_member(params, "volumeGroup", c->volume_group);
        if (c->thin_pool)
                json_object_set_string_member(params, "thinPool", c->thin_pool);
        if (c->capacity) {
                g_autofree char *cap = g_strdup_printf("%" G_GUINT64_FORMAT, c->capacity);
                json_object_set_string_member(params, "capacity", cap);
        }
        json_object_set_object_member(doc, "parameters", params);
        json_object_set_string_member(doc, "reclaimPolicy", "Delete");
        json_object_set_string_member(doc, "volumeBindingMode", "Immediate");
        json_object_set_boolean_member(doc, "allowVolumeExpansion", TRUE);
        return json_node_init_object(json_node_alloc(), doc);
}

int storageclass_sync(Model *m, GPtrArray *configs, GError **error) {
        g_autoptr(GPtrArray) docs = g_ptr_array_new_with_free_func((GDestroyNotify) json_node_unref);

        for (guint i = 0; i < configs->len; i++)
                g_ptr_array_add(docs, class_document(configs->pdata[i]));
        return model_sync(m, &kind_storageclass, docs, error);
}
