/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VirtualMachineRestore (snapshot.kubevirt.io; snapshot.h): admission of
 * its spec and patches, and the controller that puts a stopped VM back as a
 * VirtualMachineSnapshot recorded it.  A restore makes a claim per copied
 * volume (dataSource VolumeSnapshot, as KubeVirt does; pvc.c clones it
 * back), then gives the VM the snapshot's spec on those claims. */
#include <string.h>
#include <unistd.h>

#include "firmware-store.h"
#include "json-read.h"
#include "json-util.h"
#include "object.h"
#include "snapshot-private.h"
#include "snapshot-status.h"
#include "services.h"
#include "util.h"
#include "vm-status.h"
#include "vmi-status.h"

#define RETRY_USEC G_USEC_PER_SEC       /* looking again at what no change of ours announces */

/* KubeVirt's restore (and clone) patches: JSON Patch operations as strings,
 * on the target VM; its identity stays. */
static JsonNode *parse_patch(const char *text, GError **error) {
        return json_read_object(text ?: "", text ? strlen(text) : 0, error);
}

static int check_patches(JsonArray *patches, const char *field, GError **error) {
        static const char *const fixed[] = { "/metadata/name", "/metadata/namespace", "/metadata/uid", "/kind",
                                             "/apiVersion", NULL };
        for (guint i = 0; patches && i < json_array_get_length(patches); i++) {
                g_autoptr(GError) e = NULL;
                g_autoptr(JsonNode) p = parse_patch(json_array_get_string_element(patches, i), &e);
                const char *path = p ? json_get_string(json_node_get_object(p), "path") : NULL;
                if (!p || !path || !json_get_string(json_node_get_object(p), "op"))
                        return ev_error_set(error, EINVAL, "%s[%u]: Invalid value: a JSON Patch operation "
                                            "{\"op\", \"path\", \"value\"} is expected%s%s",
                                            field, i, e ? ": " : "", e ? e->message : "");
                for (const char *const *f = fixed; *f; f++)
                        if (streq(path, *f))
                                return ev_error_set(error, EINVAL, "%s[%u]: Invalid value: %s cannot be patched",
                                                    field, i, path);
        }
        return 0;
}

static int apply_patches(JsonArray *patches, JsonObject *vm_doc, GError **error) {
        g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), vm_doc);
        for (guint i = 0; patches && i < json_array_get_length(patches); i++) {
                g_autoptr(JsonNode) p = parse_patch(json_array_get_string_element(patches, i), NULL);
                if (!p)
                        return ev_error_set(error, EINVAL, "spec.patches[%u] does not parse", i);
                int r = json_patch_apply(node, json_node_get_object(p), error);
                if (r < 0) {
                        ev_error_prefix(error, "spec.patches[%u]", i);
                        return r;
                }
        }
        return 0;
}

static int vmrestore_admit(Model *m, JsonObject *doc, JsonObject *old, GPtrArray *warnings, GError **error) {
        JsonObject *spec = json_get_object(doc, "spec");
        const char *policy = json_get_string(spec, "targetReadinessPolicy");
        const char *names = json_get_string(spec, "volumeRestorePolicy");
        const char *owner = json_get_string(spec, "volumeOwnershipPolicy");

        if (snapshot_spec_immutable(doc, old, error) < 0 ||
            snapshot_check_vm_reference(json_get_object(spec, "target"), "spec.target", error) < 0)
                return -EINVAL;
        if (isempty(json_get_string(spec, "virtualMachineSnapshotName")))
                return ev_error_set(error, EINVAL, "spec.virtualMachineSnapshotName: Required value");
        if (check_patches(json_get_array(spec, "patches"), "spec.patches", error) < 0)
                return -EINVAL;
        if (json_get_array(spec, "volumeRestoreOverrides") &&
            json_array_get_length(json_get_array(spec, "volumeRestoreOverrides")) > 0)
                return ev_error_set(error, EOPNOTSUPP, "spec.volumeRestoreOverrides: not supported on edgevirt yet");
        if (policy && !streq(policy, "WaitGracePeriod") && !streq(policy, "WaitEventually") &&
            !streq(policy, "FailImmediate"))
                return ev_error_set(error, EOPNOTSUPP, "spec.targetReadinessPolicy: Unsupported value: \"%s\": "
                                    "supported values: \"WaitGracePeriod\", \"WaitEventually\", \"FailImmediate\" "
                                    "(stop the VM yourself)", policy);
        if (names && !streq(names, "RandomizeNames"))
                return ev_error_set(error, EOPNOTSUPP, "spec.volumeRestorePolicy: Unsupported value: \"%s\": "
                                    "supported values: \"RandomizeNames\" (restored claims get new names)", names);
        if (owner && !streq(owner, "VM") && !streq(owner, "None"))
                return ev_error_set(error, EINVAL, "spec.volumeOwnershipPolicy: Unsupported value: \"%s\": "
                                    "supported values: \"VM\", \"None\"", owner);
        return 0;
}

static void vmrestore_init_status(JsonObject *doc) {
        JsonObject *status = json_object_new();
        json_object_set_boolean_member(status, "complete", FALSE);
        json_object_set_object_member(doc, "status", status);
}

static void restore_state(Model *m, Object *o, bool progressing_, bool ready, const char *reason, const char *message) {
        JsonObject *status;
        JsonNode *doc = snapshot_status_edit(o, &status);
        status_set_condition(status, "Progressing", progressing_, reason, message);
        status_set_condition(status, "Ready", ready, reason, message);
        snapshot_status_commit(m, o, doc);
}

static char *restored_claim(Object *restore, const char *volume) {
        return g_strdup_printf("restore-%.8s-%s", restore->uid, volume);
}

/* The snapshot's VM spec on the restored claims: volumes of claims and
 * DataVolumes that were copied name the new claims, and the templates of
 * those DataVolumes go. */
static JsonNode *restored_spec(Object *restore, Object *content) {
        JsonObject *vmsrc = json_get_object(json_get_object(json_get_object(object_root(content), "spec"), "source"),
                                            "virtualMachine");
        JsonNode *spec = json_deep_copy(json_object_get_member(vmsrc, "spec"));
        JsonObject *s = json_node_get_object(spec);
        JsonArray *backups = json_get_array(json_get_object(object_root(content), "spec"), "volumeBackups");
        JsonArray *vols = json_get_array(json_get_object(json_get_object(s, "template"), "spec"), "volumes");
        JsonArray *templates = json_get_array(s, "dataVolumeTemplates");

        for (guint i = 0; vols && i < json_array_get_length(vols); i++) {
                JsonObject *v = json_array_get_object_element(vols, i);
                const char *vname = json_get_string(v, "name");
                bool backed = false;
                for (guint j = 0; backups && j < json_array_get_length(backups); j++)
                        backed = backed || streq_ptr(json_get_string(json_array_get_object_element(backups, j),
                                                                     "volumeName"), vname);
                if (!backed)
                        continue;
                const char *dv = json_get_string(json_get_object(v, "dataVolume"), "name");
                for (guint t = templates ? json_array_get_length(templates) : 0; dv && t > 0; t--)
                        if (streq_ptr(json_get_string(json_get_object(json_array_get_object_element(templates, t - 1),
                                                                      "metadata"), "name"), dv))
                                json_array_remove_element(templates, t - 1);
                g_autofree char *claim = restored_claim(restore, vname);
                json_object_remove_member(v, "dataVolume");
                json_object_remove_member(v, "persistentVolumeClaim");
                json_object_set_string_member(json_ensure_object(v, "persistentVolumeClaim"), "claimName", claim);
        }
        if (templates && json_array_get_length(templates) == 0)
                json_object_remove_member(s, "dataVolumeTemplates");
        return spec;
}

static void restore_fail(Model *m, Object *o, const char *message) {
        restore_state(m, o, false, false, "Failed", message);
}

/* A new document: apiVersion and kind, named name in namespace, with the
 * labels of from_meta (the metadata of what it is made from); *ret_meta
 * (when asked for) is its metadata, to add to. */
static JsonObject *new_document(const char *api_version, const char *kind, const char *name, const char *namespace,
                                JsonObject *from_meta, JsonObject **ret_meta) {
        JsonObject *doc = json_object_new();
        JsonObject *meta = json_object_new();
        json_object_set_string_member(doc, "apiVersion", api_version);
        json_object_set_string_member(doc, "kind", kind);
        json_object_set_string_member(meta, "name", name);
        json_object_set_string_member(meta, "namespace", namespace);
        if (json_object_has_member(from_meta, "labels"))
                json_object_set_member(meta, "labels", json_deep_copy(json_object_get_member(from_meta, "labels")));
        json_object_set_object_member(doc, "metadata", meta);
        if (ret_meta)
                *ret_meta = meta;
        return doc;
}

/* Step: there is no target VM; make it from the snapshot (with the
 * restore's patches), halted until the claims are there. */
static void restore_create_target(Model *m, Object *o, JsonObject *spec, Object *content, JsonNode *new_spec) {
        const char *vm_name = json_get_string(json_get_object(spec, "target"), "name");
        JsonObject *vmsrc = json_get_object(json_get_object(object_root(content), "spec"), "source");
        JsonObject *src_vm = json_get_object(vmsrc, "virtualMachine");
        g_autoptr(GError) e = NULL;

        g_autoptr(JsonObject) doc = new_document("kubevirt.io/v1", "VirtualMachine", vm_name, o->namespace,
                                                 json_get_object(src_vm, "metadata"), NULL);
        json_object_set_member(doc, "spec", json_deep_copy(new_spec));
        if (apply_patches(json_get_array(spec, "patches"), doc, &e) < 0 || model_apply_object(m, doc, false, &e) < 0) {
                g_autofree char *msg = g_strdup_printf("cannot create VirtualMachine %s: %s", vm_name, e->message);
                restore_fail(m, o, msg);
                return;
        }
        model_enqueue_later(m, o, RETRY_USEC);
}

/* Step: is the target VM stopped?  If not, waits for it (looks again
 * later) or, past the readiness policy's patience, fails the restore. */
static bool restore_target_stopped(Model *m, Object *o, JsonObject *spec, Object *vm) {
        const char *policy = json_get_string(spec, "targetReadinessPolicy");
        Object *vmi = vm_instance(m, vm);

        if (vmi && !vmi_is_finished(vmi)) {
                g_autoptr(GDateTime) created = g_date_time_new_from_iso8601(object_meta_string(o, "creationTimestamp"),
                                                                            NULL);
                g_autoptr(GDateTime) now = g_date_time_new_now_utc();
                if (streq_ptr(policy, "FailImmediate") ||
                    (!streq_ptr(policy, "WaitEventually") && created &&
                     g_date_time_difference(now, created) > SNAPSHOT_DEFAULT_DEADLINE_USEC)) {
                        restore_fail(m, o, "the target VM is running; stop it and restore again");
                        return false;
                }
                restore_state(m, o, false, false, "VMNotReady", "waiting for the target VM to stop");
                model_enqueue_later(m, o, RETRY_USEC);
                return false;
        }
        return true;
}

/* The claim a volume backup b is restored to: its claim as it was, named
 * claim, made from the backup's volume snapshot, owned by the VM unless
 * the restore says otherwise. */
static JsonObject *restored_claim_doc(Object *o, JsonObject *spec, JsonObject *b, const char *claim, Object *vm) {
        JsonObject *bpvc = json_get_object(b, "persistentVolumeClaim");
        JsonObject *meta;
        JsonObject *doc = new_document("v1", "PersistentVolumeClaim", claim, o->namespace,
                                       json_get_object(bpvc, "metadata"), &meta);
        if (!streq_ptr(json_get_string(spec, "volumeOwnershipPolicy"), "None")) {
                JsonArray *owners = json_array_new();
                json_array_add_object_element(owners, vm_owner_reference(vm));
                json_object_set_array_member(meta, "ownerReferences", owners);
        }
        JsonNode *pspec = json_deep_copy(json_object_get_member(bpvc, "spec"));
        JsonObject *ds = json_object_new();
        json_object_set_string_member(ds, "apiGroup", "snapshot.storage.k8s.io");
        json_object_set_string_member(ds, "kind", "VolumeSnapshot");
        json_object_set_string_member(ds, "name", json_get_string(b, "volumeSnapshotName"));
        json_object_set_object_member(json_node_get_object(pspec), "dataSource", ds);
        json_object_set_member(doc, "spec", pspec);
        return doc;
}

/* Step: the claims, made from the copies; records them in the status.
 * true when all are Bound; false when some are not yet (it looks again
 * later) or the restore failed. */
static bool restore_claims(Model *m, Object *o, JsonObject *spec, Object *content, Object *vm) {
        JsonArray *backups = json_get_array(json_get_object(object_root(content), "spec"), "volumeBackups");
        JsonArray *restores = json_array_new();
        bool all_bound = true;
        g_autoptr(GError) e = NULL;

        for (guint i = 0; backups && i < json_array_get_length(backups); i++) {
                JsonObject *b = json_array_get_object_element(backups, i);
                const char *vname = json_get_string(b, "volumeName");
                g_autofree char *claim = restored_claim(o, vname);
                Object *pvc = NULL;
                JsonObject *r = json_object_new();
                json_object_set_string_member(r, "volumeName", vname);
                json_object_set_string_member(r, "persistentVolumeClaim", claim);
                json_object_set_string_member(r, "volumeSnapshotName", json_get_string(b, "volumeSnapshotName"));
                json_array_add_object_element(restores, r);
                if (model_get(m, &kind_pvc, o->namespace, claim, &pvc, NULL) == 0) {
                        all_bound = all_bound && streq_ptr(object_status_string(pvc, "phase"), "Bound");
                        continue;
                }
                all_bound = false;
                g_autoptr(JsonObject) doc = restored_claim_doc(o, spec, b, claim, vm);
                if (model_apply_object(m, doc, false, &e) < 0) {
                        g_autofree char *msg = g_strdup_printf("cannot create claim %s: %s", claim, e->message);
                        json_array_unref(restores);
                        restore_fail(m, o, msg);
                        return false;
                }
        }
        {
                JsonObject *status;
                JsonNode *doc = snapshot_status_edit(o, &status);
                json_object_set_array_member(status, "restores", restores);
                status_set_condition(status, "Progressing", true, "RestoreInProgress",
                                     all_bound ? "" : "waiting for the restored claims");
                status_set_condition(status, "Ready", false, "RestoreInProgress", "");
                snapshot_status_commit(m, o, doc);
        }
        if (!all_bound) {
                model_enqueue_later(m, o, RETRY_USEC);
                return false;
        }
        return true;
}

/* The names of the DataVolumes the VM's templates made that new_spec no
 * longer has. */
static JsonArray *unused_templates(Object *vm, JsonNode *new_spec) {
        JsonArray *old_templates = json_get_array(json_get_object(object_root(vm), "spec"), "dataVolumeTemplates");
        JsonArray *new_templates = json_get_array(json_node_get_object(new_spec), "dataVolumeTemplates");
        JsonArray *deleted = json_array_new();
        for (guint i = 0; old_templates && i < json_array_get_length(old_templates); i++) {
                const char *dv = json_get_string(json_get_object(json_array_get_object_element(old_templates, i),
                                                                 "metadata"), "name");
                bool kept = false;
                for (guint j = 0; new_templates && j < json_array_get_length(new_templates); j++) {
                        JsonObject *t = json_array_get_object_element(new_templates, j);
                        kept = kept || streq_ptr(json_get_string(json_get_object(t, "metadata"), "name"), dv);
                }
                if (!kept && dv)
                        json_array_add_string_element(deleted, dv);
        }
        return deleted;
}

/* Step: the VM as it was, on the new claims; DataVolumes it made and no
 * longer uses go, and the restore is complete. */
static void restore_target(Model *m, Object *o, JsonObject *spec, Object *vm, JsonNode *new_spec) {
        JsonArray *deleted = unused_templates(vm, new_spec);
        g_autoptr(GError) e = NULL;

        g_autoptr(JsonObject) doc = json_object_new();
        JsonObject *meta = json_object_new();
        json_object_set_string_member(doc, "apiVersion", "kubevirt.io/v1");
        json_object_set_string_member(doc, "kind", "VirtualMachine");
        json_object_set_string_member(meta, "name", vm->name);
        json_object_set_string_member(meta, "namespace", vm->namespace);
        json_object_set_string_member(meta, "resourceVersion", object_meta_string(vm, "resourceVersion"));
        for (const char *const *k = (const char *const[]) { "labels", "annotations", "finalizers", "ownerReferences",
                                                            NULL }; *k; k++)
                if (json_object_has_member(object_metadata(vm), *k))
                        json_object_set_member(meta, *k,
                                               json_deep_copy(json_object_get_member(object_metadata(vm), *k)));
        json_object_set_object_member(doc, "metadata", meta);
        json_object_set_member(doc, "spec", json_node_ref(new_spec));
        if (apply_patches(json_get_array(spec, "patches"), doc, &e) < 0 || model_apply_object(m, doc, false, &e) < 0) {
                g_autofree char *msg = g_strdup_printf("cannot restore VirtualMachine %s: %s", vm->name, e->message);
                json_array_unref(deleted);
                restore_fail(m, o, msg);
                return;
        }
        for (guint i = 0; i < json_array_get_length(deleted); i++) {
                Object *dv = NULL;
                if (model_get(m, &kind_datavolume, o->namespace, json_array_get_string_element(deleted, i), &dv,
                              NULL) == 0)
                        (void) model_delete_object(m, dv, PROPAGATION_BACKGROUND, NULL);
        }
        JsonObject *status;
        JsonNode *sdoc = snapshot_status_edit(o, &status);
        g_autofree char *now = ev_timestamp_now();
        json_object_set_boolean_member(status, "complete", TRUE);
        json_object_set_string_member(status, "restoreTime", now);
        json_object_set_array_member(status, "deletedDataVolumes", deleted);
        status_set_condition(status, "Progressing", false, "Operation complete", "");
        status_set_condition(status, "Ready", true, "Operation complete", "");
        snapshot_status_commit(m, o, sdoc);
        model_enqueue(m, vm);           /* it may start now */
}

/* --- the EFI variable store --- */

typedef struct StoreCopy {
        Model *m;
        char *uid;                      /* the restore's */
        char *src, *dst;
        char *tpm_src, *tpm_dst;        /* the snapshot's copy of the vTPM's state, the target's; or NULL */
        char *state_dir, *vm_uid, *tpm_uuid;    /* the target's marker of its vTPM's state */
        int r;
        GError *error;
} StoreCopy;

/* restore uid -> StoreCopy under way, or NULL once it is done (until the
 * restore completes or goes; after a restart of the daemon it is copied
 * again) */
static GHashTable *store_copies;

static void store_copy_work(void *data) {
        StoreCopy *sc = data;
        if (access(sc->src, F_OK) == 0)
                sc->r = firmware_store_copy(sc->src, sc->dst, &sc->error);
        else if (unlink(sc->dst) < 0 && errno != ENOENT)        /* it had none: from the template at the start */
                sc->r = ev_error_set(&sc->error, errno, "cannot remove %s: %s", sc->dst, g_strerror(errno));
        /* a snapshot without a copy of the vTPM's state leaves the target's as it is */
        if (sc->r < 0 || !sc->tpm_dst || access(sc->tpm_src, F_OK) < 0)
                return;
        sc->r = firmware_tpm_mark(sc->state_dir, sc->vm_uid, sc->tpm_uuid, &sc->error);
        if (sc->r >= 0)
                sc->r = firmware_tpm_copy(sc->tpm_src, sc->tpm_dst, &sc->error);
}

static void store_copy_done(void *data) {
        StoreCopy *sc = data;
        Object *o = model_find_uid(sc->m, sc->uid);

        g_hash_table_insert(store_copies, g_strdup(sc->uid), NULL);
        if (!o)
                g_hash_table_remove(store_copies, sc->uid);     /* the restore went meanwhile */
        else if (sc->r < 0) {
                g_autofree char *msg = g_strdup_printf("cannot restore the EFI variable store or the vTPM's state: %s",
                                                       sc->error->message);
                g_hash_table_remove(store_copies, sc->uid);
                restore_fail(sc->m, o, msg);
        } else
                model_enqueue(sc->m, o);
        g_free(sc->uid);
        g_free(sc->src);
        g_free(sc->dst);
        g_free(sc->tpm_src);
        g_free(sc->tpm_dst);
        g_free(sc->state_dir);
        g_free(sc->vm_uid);
        g_free(sc->tpm_uuid);
        g_clear_error(&sc->error);
        g_free(sc);
}

/* Where the target's vTPM state goes: by the UUID its restored spec (the
 * restore's patches applied: a clone drops firmware.uuid) gives it. */
static void target_tpm(StoreCopy *sc, Model *m, Object *o, Object *vm, JsonNode *new_spec) {
        Services *s = model_services(m);
        g_autoptr(JsonObject) doc = new_document("kubevirt.io/v1", "VirtualMachine", vm->name, vm->namespace,
                                                 object_metadata(vm), NULL);
        json_object_set_member(doc, "spec", json_deep_copy(new_spec));
        (void) apply_patches(json_get_array(json_get_object(object_root(o), "spec"), "patches"), doc, NULL);
        JsonObject *vmi_spec = json_get_object(json_get_object(json_get_object(doc, "spec"), "template"), "spec");
        const char *uuid = firmware_tpm_uuid(vmi_spec, vm->uid);
        JsonObject *now = json_get_object(json_get_object(json_get_object(object_root(vm), "spec"), "template"),
                                          "spec");

        /* never onto the state of another VM's domain UUID (its admission refuses the spec) */
        if (vm_firmware_uuid_admit(m, vm->namespace, vm->name, vmi_spec, now, "spec.template.spec", NULL) < 0)
                return;
        sc->tpm_dst = firmware_tpm_dir(s->libvirt_uri, uuid);
        if (!sc->tpm_dst)
                return;
        sc->state_dir = g_strdup(s->state_dir);
        sc->vm_uid = g_strdup(vm->uid);
        sc->tpm_uuid = g_strdup(uuid);
}

/* Step: the VM's EFI variable store as the snapshot had it (the copy taken
 * with the volumes), or none when it had none; and its vTPM's state where
 * the snapshot has a copy.  true when done. */
static bool restore_store(Model *m, Object *o, Object *content, Object *vm, JsonNode *new_spec) {
        Services *s = model_services(m);
        gpointer running = NULL;

        if (!s || !s->worker)
                return true;
        if (!store_copies)
                store_copies = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        if (g_hash_table_lookup_extended(store_copies, o->uid, NULL, &running))
                return running == NULL;
        const char *snapshot_uid = snapshot_content_snapshot_uid(content);
        g_autofree char *src = firmware_snapshot_store(s->state_dir, snapshot_uid);
        if (!src)
                return true;    /* not one of ours */
        StoreCopy *sc = g_new0(StoreCopy, 1);
        sc->m = m;
        sc->uid = g_strdup(o->uid);
        sc->src = g_steal_pointer(&src);
        sc->dst = firmware_vm_store(s->state_dir, vm->uid);
        sc->tpm_src = firmware_snapshot_tpm(s->state_dir, snapshot_uid);
        target_tpm(sc, m, o, vm, new_spec);
        g_hash_table_insert(store_copies, g_strdup(o->uid), sc);
        worker_submit(s->worker, store_copy_work, store_copy_done, sc);
        return false;
}

/* A restore deleted part-way: it goes once its copy of the store is done
 * (that one forgets it), its entry with it. */
static int vmrestore_finalize(Model *m, Object *o) {
        gpointer running = NULL;

        if (store_copies && g_hash_table_lookup_extended(store_copies, o->uid, NULL, &running)) {
                if (running)
                        return 0;
                g_hash_table_remove(store_copies, o->uid);
        }
        return 1;
}

/* A restore waits for its snapshot to be ready, makes the target VM if
 * there is none, waits for it to stop, makes the claims and waits for
 * them to be Bound, then puts the VM back on them. */
static int vmrestore_reconcile(Model *m, Object *o) {
        /* status is written on the way: what is read of the document stays valid */
        g_autoptr(JsonNode) keep = json_node_ref(object_doc(o));
        JsonObject *spec = json_get_object(object_root(o), "spec");
        JsonObject *rstatus = json_get_object(object_root(o), "status");
        const char *vm_name = json_get_string(json_get_object(spec, "target"), "name");
        Object *snap = NULL, *content = NULL, *vm = NULL;

        if (object_is_deleting(o) || json_get_bool(rstatus, "complete", false) || snapshot_restore_failed(o))
                return 0;
        if (model_get(m, &kind_vmsnapshot, o->namespace, json_get_string(spec, "virtualMachineSnapshotName"), &snap,
                      NULL) < 0 ||
            !json_get_bool(json_get_object(object_root(snap), "status"), "readyToUse", false)) {
                restore_state(m, o, false, false, "SnapshotNotReady",
                              "waiting for the VirtualMachineSnapshot to be ready to use");
                model_enqueue_later(m, o, RETRY_USEC);
                return 0;
        }
        const char *cname = object_status_string(snap, "virtualMachineSnapshotContentName");
        if (model_get(m, &kind_vmsnapshot_content, o->namespace, cname, &content, NULL) < 0) {
                restore_fail(m, o, "the snapshot's VirtualMachineSnapshotContent is gone");
                return 0;
        }
        g_autoptr(JsonNode) new_spec = restored_spec(o, content);

        if (model_get(m, &kind_vm, o->namespace, vm_name, &vm, NULL) < 0) {
                restore_create_target(m, o, spec, content, new_spec);
                return 0;
        }
        if (!restore_target_stopped(m, o, spec, vm))
                return 0;
        if (!restore_claims(m, o, spec, content, vm) || !restore_store(m, o, content, vm, new_spec))
                return 0;
        restore_target(m, o, spec, vm, new_spec);
        if (store_copies)
                g_hash_table_remove(store_copies, o->uid);
        return 0;
}

const KindInfo kind_vmrestore = {
        .kind = "VirtualMachineRestore",
        .group = SNAPSHOT_GROUP,
        .versions = snapshot_versions,
        .plural = "virtualmachinerestores",
        .short_names = (const char *const[]) { "vmrestore", "vmrestores", NULL },
        .path_segment = "vmrestore",
        .schema = "v1beta1.VirtualMachineRestore",
        .namespaced = true,
        .admit = vmrestore_admit,
        .init_status = vmrestore_init_status,
        .reconcile = vmrestore_reconcile,
        .finalize = vmrestore_finalize,
};
