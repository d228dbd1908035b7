/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Read-only facts of snapshots and restores (snapshot-status.h). */
#include "json-util.h"
#include "quantity.h"
#include "snapshot-status.h"
#include "util.h"

int snapshot_volume_source(Model *m, const char *namespace, const char *name, char **ret_id, const char **ret_class,
                           const char **ret_content_uid, GError **error) {
        g_autoptr(GPtrArray) contents = model_list(m, &kind_vmsnapshot_content, namespace, NULL);

        for (guint i = 0; i < contents->len; i++) {
                Object *c = contents->pdata[i];
                JsonArray *backups = json_get_array(json_get_object(object_root(c), "spec"), "volumeBackups");
                const char *ids = json_get_string(json_get_object(object_metadata(c), "annotations"),
                                                  SNAPSHOT_VOLUME_IDS);
                g_auto(GStrv) list = g_strsplit(ids ? ids : "", ",", -1);
                for (guint j = 0; backups && j < json_array_get_length(backups); j++) {
                        JsonObject *b = json_array_get_object_element(backups, j);
                        if (!streq_ptr(json_get_string(b, "volumeSnapshotName"), name))
                                continue;
                        if (object_is_deleting(c))
                                return ev_error_set(error, ENOENT, "volume snapshot %s is being deleted", name);
                        if (!json_get_bool(json_get_object(object_root(c), "status"), "readyToUse", false) ||
                            j >= g_strv_length(list))
                                return ev_error_set(error, EAGAIN, "volume snapshot %s is not ready to use", name);
                        *ret_id = g_strdup(list[j]);
                        *ret_class = json_get_string(json_get_object(json_get_object(b, "persistentVolumeClaim"),
                                                                     "spec"), "storageClassName");
                        *ret_content_uid = c->uid;
                        return 0;
                }
        }
        return ev_error_set(error, ENOENT, "volume snapshot %s/%s not found", namespace, name);
}

int snapshot_claim_copy(Model *m, const char *namespace, const char *snapshot, const char *claim, char **ret_id,
                        const char **ret_class, GError **error) {
        Object *snap = NULL, *content = NULL;
        const char *content_uid;
        int r;

        if ((r = model_get(m, &kind_vmsnapshot, namespace, snapshot, &snap, error)) < 0)
                return r;
        JsonObject *status = json_get_object(object_root(snap), "status");
        const char *content_name = json_get_string(status, "virtualMachineSnapshotContentName");
        if (!json_get_bool(status, "readyToUse", false) || !content_name)
                return ev_error_set(error, EBUSY, "snapshot %s is not ready to use", snapshot);
        if ((r = model_get(m, &kind_vmsnapshot_content, namespace, content_name, &content, error)) < 0)
                return r;
        JsonArray *backups = json_get_array(json_get_object(object_root(content), "spec"), "volumeBackups");
        for (guint i = 0; backups && i < json_array_get_length(backups); i++) {
                JsonObject *b = json_array_get_object_element(backups, i);
                if (!streq_ptr(json_get_string(json_get_object(json_get_object(b, "persistentVolumeClaim"),
                                                               "metadata"), "name"), claim))
                        continue;
                r = snapshot_volume_source(m, namespace, json_get_string(b, "volumeSnapshotName"), ret_id, ret_class,
                                           &content_uid, error);
                return r == -EAGAIN ? -EBUSY : r;
        }
        return ev_error_set(error, ENOENT, "snapshot %s holds no copy of claim %s", snapshot, claim);
}

int snapshot_volume_size(Model *m, const char *namespace, const char *name, uint64_t *ret, GError **error) {
        g_autoptr(GPtrArray) contents = model_list(m, &kind_vmsnapshot_content, namespace, NULL);
        for (guint i = 0; i < contents->len; i++) {
                JsonArray *backups = json_get_array(json_get_object(object_root(contents->pdata[i]), "spec"),
                                                    "volumeBackups");
                for (guint j = 0; backups && j < json_array_get_length(backups); j++) {
                        JsonObject *b = json_array_get_object_element(backups, j);
                        if (streq_ptr(json_get_string(b, "volumeSnapshotName"), name)) {
                                JsonObject *spec = json_get_object(json_get_object(b, "persistentVolumeClaim"), "spec");
                                int64_t bytes = 0;
                                JsonObject *requests = json_get_object(json_get_object(spec, "resources"), "requests");
                                if (quantity_parse_int64(json_get_string(requests, "storage"), &bytes, error) < 0)
                                        return -EINVAL;
                                *ret = (uint64_t) bytes;
                                return 0;
                        }
                }
        }
        return ev_error_set(error, ENOENT, "volume snapshot %s/%s not found", namespace, name);
}

bool snapshot_restore_failed(Object *r) {
        return streq_ptr(object_condition(r, "Ready", "reason"), "Failed");
}

bool snapshot_restore_in_progress(Model *m, Object *vm) {
        g_autoptr(GPtrArray) restores = model_list(m, &kind_vmrestore, vm->namespace, NULL);
        for (guint i = 0; i < restores->len; i++) {
                Object *r = restores->pdata[i];
                JsonObject *target = json_get_object(json_get_object(object_root(r), "spec"), "target");
                if (streq_ptr(json_get_string(target, "name"), vm->name) &&
                    !json_get_bool(json_get_object(object_root(r), "status"), "complete", false) &&
                    !snapshot_restore_failed(r) && !object_is_deleting(r))
                        return true;
        }
        return false;
}

const char *snapshot_content_snapshot_uid(Object *content) {
        static const char prefix[] = "vmsnapshot-content-";
        if (!g_str_has_prefix(content->name, prefix) || !g_uuid_string_is_valid(content->name + strlen(prefix)))
                return NULL;
        return content->name + strlen(prefix);
}
