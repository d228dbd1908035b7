/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* DataSource (cdi.kubevirt.io/v1beta1), as CDI's datasource-controller:
 * spec.source.pvc (a claim, perhaps a DataVolume's), .snapshot (a volume
 * snapshot of a VM snapshot) or .dataSource (another DataSource of the
 * namespace, whose source this one takes: a pointer, one step at most);
 * status.conditions Ready says whether it can be cloned from now,
 * status.source is what it resolved to. */
#include "datasource-status.h"
#include "datasource.h"
#include "json-util.h"
#include "log.h"
#include "snapshot-status.h"
#include "util.h"

static int datasource_admit(Model *m, JsonObject *doc, JsonObject *old, GPtrArray *warnings, GError **error) {
        JsonObject *src = json_get_object(json_get_object(doc, "spec"), "source");
        const char *ns = json_get_string(json_get_object(doc, "metadata"), "namespace");
        JsonObject *snap = json_get_object(src, "snapshot");
        g_autoptr(GList) members = src ? json_object_get_members(src) : NULL;

        if (g_list_length(members) > 1)
                return ev_error_set(error, EINVAL, "spec.source: Invalid value: give one source (pvc, snapshot or "
                                    "dataSource), %u given", g_list_length(members));
        const char *snap_ns = json_get_string(snap, "namespace");
        if (snap && !isempty(snap_ns) && !streq(snap_ns, ns ?: ""))
                return ev_error_set(error, EOPNOTSUPP, "spec.source.snapshot.namespace: a volume snapshot is restored "
                                    "in its own namespace (point a DataSource there at it)");
        return 0;
}

static void datasource_init_status(JsonObject *doc) {
        JsonObject *status = json_object_new();
        status_set_condition(status, "Ready", false, "NoSource", "No source PVC set");
        json_object_set_object_member(doc, "status", status);
}

/* Ready, its reason and message, as CDI's handlePvcSource and
 * handleSnapshotSource decide them. */
static bool source_ready(Model *m, Object *ds, JsonObject *src, const char **ret_reason, char **ret_message,
                         Object **ret_dv, Object **ret_claim) {
        JsonObject *pvc = json_get_object(src, "pvc"), *snap = json_get_object(src, "snapshot");
        JsonObject *from = pvc ? pvc : snap;
        const char *from_ns = json_get_string(from, "namespace");
        const char *ns = isempty(from_ns) ? ds->namespace : from_ns;
        const char *name = json_get_string(from, "name");
        Object *claim = NULL, *dv = NULL;

        if (!from) {
                *ret_reason = "NoSource";
                *ret_message = g_strdup("No source PVC set");
                return false;
        }
        if (snap) {
                uint64_t bytes;
                g_autoptr(GError) e = NULL;
                if (snapshot_volume_size(m, ns, name, &bytes, &e) < 0) {
                        *ret_reason = "NotFound";
                        *ret_message = g_strdup("VolumeSnapshot not found");
                        return false;
                }
        } else if (model_get(m, &kind_datavolume, ns, name, &dv, NULL) == 0) {
                const char *phase = object_status_string(dv, "phase") ?: "Pending";
                if (!streq(phase, "Succeeded")) {
                        *ret_reason = phase;
                        *ret_message = g_strdup_printf("Import DataVolume phase %s", phase);
                        return false;
                }
        } else if (model_get(m, &kind_pvc, ns, name, &claim, NULL) < 0) {
                *ret_reason = "NotFound";
                *ret_message = g_strdup("PVC not found");
                return false;
        }
        *ret_reason = "Ready";
        *ret_message = g_strdup("DataSource is ready to be consumed");
        if (pvc && !claim)
                (void) model_get(m, &kind_pvc, ns, name, &claim, NULL);
        *ret_dv = dv;
        *ret_claim = claim;
        return true;
}

/* spec.source.dataSource: the source of the DataSource it points at, as
 * CDI's ResolveDataSourceChain (same namespace, not itself, one step);
 * NULL with CDI's reason and message when it cannot be followed. */
static JsonObject *follow_pointer(Model *m, Object *ds, JsonObject *ptr, const char **ret_reason,
                                  char **ret_message) {
        const char *ns = json_get_string(ptr, "namespace"), *name = json_get_string(ptr, "name");
        Object *target = NULL;

        if (!isempty(ns) && !streq(ns, ds->namespace)) {
                *ret_reason = "CrossNamespaceReference";
                *ret_message = g_strdup("DataSource cannot reference a DataSource in another namespace");
                return NULL;
        }
        if (streq_ptr(name, ds->name)) {
                *ret_reason = "SelfReference";
                *ret_message = g_strdup("DataSource cannot self-reference");
                return NULL;
        }
        if (model_get(m, &kind_datasource, ds->namespace, name, &target, NULL) < 0) {
                *ret_reason = "NotFound";
                *ret_message = g_strdup_printf("datasources.cdi.kubevirt.io \"%s\" not found", name);
                return NULL;
        }
        JsonObject *src = json_get_object(json_get_object(object_root(target), "spec"), "source");
        if (!src) {
                *ret_reason = "NoSource";
                *ret_message = g_strdup("No source PVC set");
                return NULL;
        }
        if (json_get_object(src, "dataSource")) {
                *ret_reason = "MaxReferenceDepthReached";
                *ret_message = g_strdup("DataSource reference chain exceeds maximum depth of 1");
                return NULL;
        }
        return src;
}

static int datasource_reconcile(Model *m, Object *ds) {
        g_autoptr(GError) e = NULL;
        g_autofree char *message = NULL;
        const char *reason = NULL;

        if (object_is_deleting(ds))
                return 0;
        JsonNode *doc = json_deep_copy(object_doc(ds));
        JsonObject *root = json_node_get_object(doc);
        JsonObject *src = json_get_object(json_get_object(root, "spec"), "source");
        JsonObject *status = json_ensure_object(root, "status");
        Object *dv = NULL, *claim = NULL;
        JsonObject *ptr = json_get_object(src, "dataSource");
        if (ptr)
                src = follow_pointer(m, ds, ptr, &reason, &message);
        bool ready = (!ptr || src) && source_ready(m, ds, src, &reason, &message, &dv, &claim);

        if (ready) {
                /* as CDI's CopyAllowedLabels: the default instance type and
                 * preference of its import DataVolume and claim */
                g_autoptr(JsonObject) copied = json_object_new();
                datasource_copy_default_labels(dv ? object_labels(dv) : NULL, copied);
                datasource_copy_default_labels(claim ? object_labels(claim) : NULL, copied);
                if (json_object_get_size(copied))
                        datasource_copy_default_labels(copied, json_ensure_object(json_ensure_object(root, "metadata"),
                                                                                  "labels"));
        }

        status_set_condition(status, "Ready", ready, reason, message);
        if (ready) {
                g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), src);
                json_object_set_member(status, "source", json_deep_copy(node));
        } else
                json_object_set_object_member(status, "source", json_object_new());
        if (model_update(m, ds, doc, &e) < 0) {
                log_object(G_LOG_LEVEL_WARNING, ds, "cannot write status: %s", e->message);
                return -EIO;
        }
        return 0;
}

/* The DataSources whose spec.source.FIELD names namespace/name (name
 * NULL: any) look again; and, unless they are pointers themselves, the
 * pointers at them (a target being deleted is not reconciled, its
 * pointers still follow its claim). */
static void enqueue_naming(Model *m, const char *field, const char *namespace, const char *name) {
        g_autoptr(GPtrArray) all = model_list(m, &kind_datasource, streq(field, "pvc") ? NULL : namespace, NULL);
        for (guint i = 0; i < all->len; i++) {
                Object *ds = all->pdata[i];
                JsonObject *src = json_get_object(json_get_object(object_root(ds), "spec"), "source");
                JsonObject *from = json_get_object(src, field);
                const char *ns = json_get_string(from, "namespace");
                if (!from || (name && !streq_ptr(json_get_string(from, "name"), name)) ||
                    !streq(isempty(ns) ? ds->namespace : ns, namespace))
                        continue;
                model_enqueue(m, ds);
                if (!streq(field, "dataSource"))
                        enqueue_naming(m, "dataSource", ds->namespace, ds->name);
        }
}

/* A claim, DataVolume, volume snapshot or DataSource changed: the
 * DataSources naming it look again. */
static void source_changed(Model *m, Object *o, ModelEvent event, void *userdata) {
        if (o->kind == &kind_vmsnapshot_content)
                enqueue_naming(m, "snapshot", o->namespace, NULL);
        else
                enqueue_naming(m, o->kind == &kind_datasource ? "dataSource" : "pvc", o->namespace, o->name);
}

static const ModelWatch source_watch = { .changed = source_changed };

void datasource_controller_start(Model *m) {
        model_watch(m, &kind_pvc, &source_watch, NULL);
        model_watch(m, &kind_datavolume, &source_watch, NULL);
        model_watch(m, &kind_vmsnapshot_content, &source_watch, NULL);
        model_watch(m, &kind_datasource, &source_watch, NULL);
}

void datasource_controller_stop(Model *m) {
        model_unwatch(m, &source_watch, NULL);
}

const KindInfo kind_datasource = {
        .kind = "DataSource",
        .group = "cdi.kubevirt.io",
        .versions = (const char *const[]) { "v1beta1", NULL },
        .plural = "datasources",
        .short_names = (const char *const[]) { "das", NULL },
        .path_segment = "datasource",
        .schema = "io.kubevirt.cdi.v1beta1.DataSource",
        .namespaced = true,
        .admit = datasource_admit,
        .init_status = datasource_init_status,
        .reconcile = datasource_reconcile,
};
