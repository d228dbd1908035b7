/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VirtualMachineSnapshot and VirtualMachineSnapshotContent
 * (snapshot.kubevirt.io; snapshot.h; VirtualMachineRestore is restore.c).
 *
 * A snapshot waits for its VM's claims to be Bound (and DataVolumes
 * Succeeded), holds a running guest still (file systems frozen through the
 * agent, else paused) while each claim's volume is cloned by its backend
 * into a volume of the snapshot's own ("snap-<snapshot uid>-<n>"), lets the
 * guest go and records the VM and the claims in a content object.  The
 * content owns the copies: deleting it frees them. */
#include <stdio.h>
#include <unistd.h>

#include "log.h"
#include "firmware-store.h"
#include "json-util.h"
#include "object.h"
#include "pvc-status.h"
#include "services.h"
#include "snapshot-private.h"
#include "snapshot-status.h"
#include "snapshot.h"
#include "storage.h"
#include "util.h"
#include "validate.h"
#include "vm-status.h"
#include "vmi-status.h"
#include "worker.h"

#define API SNAPSHOT_GROUP "/v1beta1"
#define RETRY_USEC G_USEC_PER_SEC
#define SPACE_RETRY_MIN_USEC G_USEC_PER_SEC
#define SPACE_RETRY_MAX_USEC (30 * G_USEC_PER_SEC)
#define WAITING_FOR_SPACE "Waiting for space"

const char *const snapshot_versions[] = { "v1beta1", "v1alpha1", NULL };

/* The snapshots' controller (services->snapshots): work under way. */
struct SnapshotController {
        GHashTable *running;    /* object uid -> a snapshot being taken, a content's volumes being freed */
        GHashTable *freed;      /* content uids whose volumes are gone */
        GHashTable *space_due;  /* snapshot uid -> when (monotonic µs) to try again for want of space */
};

SnapshotController *snapshot_controller_new(void) {
        SnapshotController *c = g_new0(SnapshotController, 1);
        c->running = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        c->freed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        c->space_due = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        return c;
}

SnapshotController *snapshot_controller_free(SnapshotController *c) {
        if (!c)
                return NULL;
        g_hash_table_unref(c->running);
        g_hash_table_unref(c->freed);
        g_hash_table_unref(c->space_due);
        g_free(c);
        return NULL;
}

/* NULL when it does not run (no services): nothing is under way then. */
static SnapshotController *controller(Model *m) {
        Services *s = model_services(m);
        return s ? s->snapshots : NULL;
}

static bool running(Model *m, const char *uid) {
        SnapshotController *c = controller(m);
        return c && g_hash_table_contains(c->running, uid);
}

/* --- small helpers --- */

/* Look at o again in a while (it waits for something no event announces). */
static void retry_later(Model *m, Object *o) {
        model_enqueue_later(m, o, RETRY_USEC);
}

JsonNode *snapshot_status_edit(Object *o, JsonObject **ret_status) {
        JsonNode *doc = json_deep_copy(object_doc(o));
        *ret_status = json_ensure_object(json_node_get_object(doc), "status");
        return doc;
}

void snapshot_status_commit(Model *m, Object *o, JsonNode *doc) {
        if (json_equal(doc, object_doc(o))) {
                json_node_unref(doc);
                return;
        }
        model_write_status(m, o, doc);
}

static void set_error(JsonObject *status, const char *message) {
        JsonObject *err = json_object_new();
        g_autofree char *now = ev_timestamp_now();
        json_object_set_string_member(err, "message", message);
        json_object_set_string_member(err, "time", now);
        json_object_set_object_member(status, "error", err);
}

/* How long the snapshot has been trying (since it was made) and how long
 * it may (its failureDeadline, 5m0s by default), in µs. */
static void snapshot_clock(Object *o, int64_t *ret_elapsed, int64_t *ret_deadline) {
        int64_t deadline = duration_usec(json_get_string(json_get_object(object_root(o), "spec"), "failureDeadline"));
        g_autoptr(GDateTime) created = g_date_time_new_from_iso8601(object_meta_string(o, "creationTimestamp"), NULL);
        g_autoptr(GDateTime) now = g_date_time_new_now_utc();

        *ret_elapsed = created ? g_date_time_difference(now, created) : 0;
        *ret_deadline = deadline >= 0 ? deadline : SNAPSHOT_DEFAULT_DEADLINE_USEC;
}

int snapshot_check_vm_reference(JsonObject *ref, const char *field, GError **error) {
        const char *group = json_get_string(ref, "apiGroup"), *kind = json_get_string(ref, "kind");
        if (!ref)
                return ev_error_set(error, EINVAL, "%s: Required value", field);
        if (!streq_ptr(group, "kubevirt.io"))
                return ev_error_set(error, EINVAL,
                                    "%s.apiGroup: Unsupported value: \"%s\": supported values: \"kubevirt.io\"", field,
                                    group ? group : "");
        if (!streq_ptr(kind, "VirtualMachine"))
                return ev_error_set(error, EINVAL,
                                    "%s.kind: Unsupported value: \"%s\": supported values: \"VirtualMachine\"", field,
                                    kind ? kind : "");
        if (isempty(json_get_string(ref, "name")))
                return ev_error_set(error, EINVAL, "%s.name: Required value", field);
        return 0;
}

int snapshot_spec_immutable(JsonObject *doc, JsonObject *old, GError **error) {
        if (old && !json_equal(json_object_get_member(doc, "spec"), json_object_get_member(old, "spec")))
                return ev_error_set(error, EINVAL, "spec: Forbidden: spec is immutable after creation");
        return 0;
}

/* The claim behind a VM volume (a claim or a DataVolume's), NULL for
 * volumes a snapshot leaves out (containerDisks, ephemeral overlays, cloud-init,
 * config disks, empty disks). */
static const char *volume_claim(JsonObject *volume, bool *is_dv) {
        const char *claim = json_get_string(json_get_object(volume, "persistentVolumeClaim"), "claimName");
        *is_dv = false;
        if (claim)
                return claim;
        *is_dv = true;
        return json_get_string(json_get_object(volume, "dataVolume"), "name");
}

static JsonArray *vm_volumes(JsonObject *vm_doc) {
        return json_get_array(json_get_object(json_get_object(json_get_object(vm_doc, "spec"), "template"), "spec"),
                              "volumes");
}

/* --- VirtualMachineSnapshot --- */

static int vmsnapshot_admit(Model *m, JsonObject *doc, JsonObject *old, GPtrArray *warnings, GError **error) {
        JsonObject *spec = json_get_object(doc, "spec");
        const char *policy = json_get_string(spec, "deletionPolicy");
        const char *deadline = json_get_string(spec, "failureDeadline");

        if (snapshot_spec_immutable(doc, old, error) < 0 ||
            snapshot_check_vm_reference(json_get_object(spec, "source"), "spec.source", error) < 0)
                return -EINVAL;
        if (policy && !streq(policy, "Delete") && !streq(policy, "Retain"))
                return ev_error_set(error, EINVAL, "spec.deletionPolicy: Unsupported value: \"%s\": "
                                    "supported values: \"Delete\", \"Retain\"", policy);
        if (deadline && duration_usec(deadline) < 0)
                return ev_error_set(error, EINVAL, "spec.failureDeadline: Invalid value: \"%s\": not a duration (5m0s)",
                                    deadline);
        return 0;
}

static void vmsnapshot_init_status(JsonObject *doc) {
        JsonObject *status = json_object_new();
        json_object_set_boolean_member(status, "readyToUse", FALSE);
        json_object_set_string_member(status, "phase", "InProgress");
        json_object_set_object_member(doc, "status", status);
}

typedef struct CopyJob {
        StorageBackend *backend;
        char *src_id, *dst_id;
        VolumeRequest req;
        char *ns, *name, *uid;
        bool made;
} CopyJob;

static void copy_job_free(CopyJob *j) {
        g_free(j->src_id);
        g_free(j->dst_id);
        g_free(j->ns);
        g_free(j->name);
        g_free(j->uid);
        g_free(j);
}

typedef struct SnapRun {
        Model *m;
        char *uid;                      /* the snapshot's */
        char *vmi_uid;                  /* online: the instance held still */
        const char *how;                /* vmi_quiesce's answer */
        GPtrArray *jobs;                /* CopyJob */
        JsonNode *vm;                   /* the VM as it was (metadata, spec) */
        JsonArray *backups;             /* volumeBackups */
        char *store_src, *store_dst;    /* the VM's EFI variable store, and the snapshot's copy */
        char *tpm_src, *tpm_dst;        /* its persistent vTPM's swtpm state, and the snapshot's copy */
        int r;
        GError *error;
        char *release_error;
} SnapRun;

static void snap_run_free(SnapRun *run) {
        SnapshotController *c = controller(run->m);
        if (c && g_hash_table_lookup(c->running, run->uid) == run)
                g_hash_table_remove(c->running, run->uid);
        g_free(run->uid);
        g_free(run->vmi_uid);
        g_free(run->store_src);
        g_free(run->store_dst);
        g_free(run->tpm_src);
        g_free(run->tpm_dst);
        g_ptr_array_unref(run->jobs);
        if (run->vm)
                json_node_unref(run->vm);
        if (run->backups)
                json_array_unref(run->backups);
        g_clear_error(&run->error);
        g_free(run->release_error);
        g_free(run);
}

static void progressing(Model *m, Object *o, bool on, const char *reason, const char *message) {
        JsonObject *status;
        JsonNode *doc = snapshot_status_edit(o, &status);
        status_set_condition(status, "Progressing", on, reason, message);
        status_set_condition(status, "Ready", false, reason, message);
        snapshot_status_commit(m, o, doc);
}

static void snapshot_fail(Model *m, Object *o, const char *message) {
        JsonObject *status;
        JsonNode *doc = snapshot_status_edit(o, &status);
        json_object_set_string_member(status, "phase", "Failed");
        json_object_set_boolean_member(status, "readyToUse", FALSE);
        set_error(status, message);
        status_set_condition(status, "Progressing", false, "Failed", message);
        status_set_condition(status, "Ready", false, "Failed", message);
        snapshot_status_commit(m, o, doc);
}

/* A copy (or the content recording it) that found no room: a full file
 * system or thin pool under the copies, or under the object store.  As
 * KubeVirt does, the snapshot keeps trying until its failureDeadline:
 * nothing of this try is left (copy_work removed its copies), the reason
 * is in status.error and in the conditions, and the next try comes after
 * a back-off that grows with the time spent (1 to 30 s), never past the
 * deadline. */
static bool short_of_space(int r) {
        return r == -ENOSPC || r == -EDQUOT;
}

static void snapshot_wait_for_space(Model *m, Object *snap, const char *reason) {
        int64_t elapsed, deadline;
        snapshot_clock(snap, &elapsed, &deadline);
        int64_t delay = CLAMP(elapsed / 2, SPACE_RETRY_MIN_USEC, SPACE_RETRY_MAX_USEC);
        if (deadline > 0)
                delay = MAX(MIN(delay, deadline - elapsed + G_USEC_PER_SEC / 10), G_USEC_PER_SEC / 10);

        JsonObject *status;
        JsonNode *doc = snapshot_status_edit(snap, &status);
        int seconds = (int) ((delay + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC);
        g_autofree char *msg = deadline > 0 ?
                g_strdup_printf("%s; trying again in %d s, until the failureDeadline (%d s left)", reason, seconds,
                                (int) (MAX(deadline - elapsed, 0) / G_USEC_PER_SEC)) :
                g_strdup_printf("%s; trying again in %d s (failureDeadline 0: no deadline)", reason, seconds);
        set_error(status, reason);
        status_set_condition(status, "Progressing", false, WAITING_FOR_SPACE, msg);
        status_set_condition(status, "Ready", false, WAITING_FOR_SPACE, msg);
        /* not before then, whatever wakes it meanwhile (this status write does) */
        g_hash_table_insert(controller(m)->space_due, g_strdup(snap->uid),
                            g_memdup2(&(gint64) { g_get_monotonic_time() + delay }, sizeof(gint64)));
        snapshot_status_commit(m, snap, doc);
        /* even when the status could not be written (the store's file system full too) */
        model_enqueue_later(m, snap, (uint64_t) delay);
}

/* Waiting for space and not due yet: look again then. */
static bool space_not_due(Model *m, Object *o) {
        SnapshotController *c = controller(m);
        gint64 *due = g_hash_table_lookup(c->space_due, o->uid), now = g_get_monotonic_time();
        if (due && now < *due) {
                model_enqueue_later(m, o, (uint64_t) (*due - now));
                return true;
        }
        g_hash_table_remove(c->space_due, o->uid);
        return false;
}

static void copy_work(void *data) {
        SnapRun *run = data;
        /* what a run cut short by a restart left */
        for (guint i = 0; i < run->jobs->len && run->r >= 0; i++) {
                CopyJob *j = run->jobs->pdata[i];
                run->r = j->backend->ops->remove(j->backend, j->dst_id, &run->error);
        }
        for (guint i = 0; i < run->jobs->len && run->r >= 0; i++) {
                CopyJob *j = run->jobs->pdata[i];
                run->r = j->backend->ops->clone(j->backend, j->src_id, &j->req, &run->error);
                j->made = run->r >= 0;
        }
        /* the EFI variable store (efi.persistent), while the guest is held still too */
        if (run->store_dst)
                (void) unlink(run->store_dst);
        if (run->r >= 0 && run->store_dst && access(run->store_src, F_OK) == 0)
                run->r = firmware_store_copy(run->store_src, run->store_dst, &run->error);
        /* and the vTPM's state (tpm.persistent), owners and modes kept */
        if (run->tpm_dst)
                ev_remove_tree(run->tpm_dst);
        if (run->r >= 0 && run->tpm_dst && access(run->tpm_src, F_OK) == 0)
                run->r = firmware_tpm_copy(run->tpm_src, run->tpm_dst, &run->error);
        if (run->r < 0 && run->store_dst)
                (void) unlink(run->store_dst);
        if (run->r < 0 && run->tpm_dst)
                ev_remove_tree(run->tpm_dst);
        if (run->r < 0)
                for (guint i = 0; i < run->jobs->len; i++) {
                        CopyJob *j = run->jobs->pdata[i];
                        if (j->made)
                                (void) j->backend->ops->remove(j->backend, j->dst_id, NULL);
                }
}

/* The content: the VM and its claims as they were, and the copies. */
static int make_content(SnapRun *run, Object *snap, GError **error) {
        Model *m = run->m;
        g_autofree char *name = g_strdup_printf("vmsnapshot-content-%s", snap->uid);
        g_autoptr(GString) ids = g_string_new(NULL);
        JsonObject *doc = json_object_new(), *meta = json_object_new(), *spec = json_object_new(),
                   *source = json_object_new();

        json_object_set_string_member(doc, "apiVersion", API);
        json_object_set_string_member(doc, "kind", "VirtualMachineSnapshotContent");
        json_object_set_string_member(meta, "name", name);
        json_object_set_string_member(meta, "namespace", snap->namespace);
        for (guint i = 0; i < run->jobs->len; i++)
                g_string_append_printf(ids, "%s%s", i ? "," : "", ((CopyJob *) run->jobs->pdata[i])->dst_id);
        json_object_set_string_member(json_ensure_object(meta, "annotations"), SNAPSHOT_VOLUME_IDS, ids->str);
        /* Retain: the content outlives its snapshot */
        if (!streq_ptr(json_get_string(json_get_object(object_root(snap), "spec"), "deletionPolicy"), "Retain")) {
                JsonArray *owners = json_array_new();
                json_array_add_object_element(owners, object_owner_reference(snap, API));
                json_object_set_array_member(meta, "ownerReferences", owners);
        }
        json_object_set_object_member(doc, "metadata", meta);
        json_object_set_member(source, "virtualMachine", json_node_ref(run->vm));
        json_object_set_object_member(spec, "source", source);
        json_object_set_string_member(spec, "virtualMachineSnapshotName", snap->name);
        json_object_set_array_member(spec, "volumeBackups", json_array_ref(run->backups));
        json_object_set_object_member(doc, "spec", spec);

        int r = model_apply_object(m, doc, true, error);
        json_object_unref(doc);
        if (r < 0)
                return r;

        Object *content = NULL;
        if (model_get(m, &kind_vmsnapshot_content, snap->namespace, name, &content, error) < 0)
                return -ENOENT;
        JsonObject *status;
        JsonNode *cdoc = snapshot_status_edit(content, &status);
        g_autofree char *now = ev_timestamp_now();
        JsonArray *vss = json_array_new();
        for (guint i = 0; i < json_array_get_length(run->backups); i++) {
                JsonObject *v = json_object_new();
                json_object_set_string_member(v, "volumeSnapshotName",
                                              json_get_string(json_array_get_object_element(run->backups, i),
                                                              "volumeSnapshotName"));
                json_object_set_boolean_member(v, "readyToUse", TRUE);
                json_object_set_string_member(v, "creationTime", now);
                json_array_add_object_element(vss, v);
        }
        json_object_set_boolean_member(status, "readyToUse", TRUE);
        json_object_set_string_member(status, "creationTime", now);
        json_object_set_array_member(status, "volumeSnapshotStatus", vss);
        snapshot_status_commit(m, content, cdoc);
        return 0;
}

static void remove_copies_work(void *data) {
        GPtrArray *jobs = data;
        for (guint i = 0; i < jobs->len; i++) {
                CopyJob *j = jobs->pdata[i];
                g_autoptr(GError) e = NULL;
                if (j->backend->ops->remove(j->backend, j->dst_id, &e) < 0) {
                        g_autofree char *snap = g_strndup(j->name, strcspn(j->name, "/"));  /* "SNAP/VOLUME" */
                        log_ref(G_LOG_LEVEL_WARNING, "VirtualMachineSnapshot", j->ns, snap, j->uid,
                                "cannot free the snapshot volume %s: %s", j->dst_id, e->message);
                }
        }
}

/* The snapshot's copy of the EFI variable store goes (its directory). */
static void forget_store(Model *m, const char *snapshot_uid) {
        g_autofree char *store = firmware_snapshot_store(model_services(m)->state_dir, snapshot_uid);
        if (store)
                worker_submit(model_services(m)->worker, ev_remove_tree, g_free, g_path_get_dirname(store));
}

static void snapshot_finish(SnapRun *run) {
        Model *m = run->m;
        Object *snap = model_find_uid(m, run->uid);
        g_autoptr(GError) e = NULL;

        if (!snap || object_is_deleting(snap)) {
                /* gone meanwhile: so are the copies */
                if (run->r >= 0) {
                        worker_submit(model_services(m)->worker, remove_copies_work, (WorkDone) g_ptr_array_unref,
                                      g_ptr_array_ref(run->jobs));
                        forget_store(m, run->uid);
                }
                snap_run_free(run);
                if (snap)
                        model_enqueue(m, snap);         /* its finalize waited for this */
                return;
        }
        int r;
        if (run->r < 0) {
                g_autofree char *msg = g_strdup_printf("copying the volumes failed: %s",
                                                       run->error ? run->error->message : g_strerror(-run->r));
                if (short_of_space(run->r))
                        snapshot_wait_for_space(m, snap, msg);
                else
                        snapshot_fail(m, snap, msg);
        } else if ((r = make_content(run, snap, &e)) < 0) {
                g_autofree char *msg = g_strdup_printf("cannot record the snapshot: %s", e->message);
                if (short_of_space(r))
                        snapshot_wait_for_space(m, snap, msg);
                else
                        snapshot_fail(m, snap, msg);
                /* nothing owns the copies: they go */
                worker_submit(model_services(m)->worker, remove_copies_work, (WorkDone) g_ptr_array_unref,
                              g_ptr_array_ref(run->jobs));
                forget_store(m, run->uid);
        } else {
                JsonObject *status;
                JsonNode *doc = snapshot_status_edit(snap, &status);
                g_autofree char *now = ev_timestamp_now();
                g_autofree char *content = g_strdup_printf("vmsnapshot-content-%s", snap->uid);
                json_object_set_string_member(status, "phase", "Succeeded");
                json_object_set_boolean_member(status, "readyToUse", TRUE);
                json_object_set_string_member(status, "creationTime", now);
                json_object_set_string_member(status, "virtualMachineSnapshotContentName", content);
                status_set_condition(status, "Progressing", false, "Operation complete", "");
                status_set_condition(status, "Ready", true, "Operation complete", "");
                json_object_remove_member(status, "error");     /* an earlier try's */
                if (run->release_error)
                        set_error(status, run->release_error);
                snapshot_status_commit(m, snap, doc);
        }
        snap_run_free(run);
}

static void released(void *userdata, int r, const char *error) {
        SnapRun *run = userdata;
        if (r < 0)
                run->release_error = g_strdup_printf("the guest could not be let go after the copy (%s): %s", run->how,
                                                     error);
        snapshot_finish(run);
}

static void copy_done(void *data) {
        SnapRun *run = data;
        Object *vmi = run->vmi_uid ? model_find_uid(run->m, run->vmi_uid) : NULL;
        if (vmi)
                services_instance_release(model_services(run->m), vmi, run->how, released, run);
        else
                released(run, 0, NULL);
}

static void quiesced(void *userdata, int r, const char *error) {
        SnapRun *run = userdata;
        Object *vmi = run->vmi_uid ? model_find_uid(run->m, run->vmi_uid) : NULL;
        if (r < 0 && streq_ptr(run->how, "GuestAgent") && vmi) {
                /* the agent cannot freeze (no fsfreeze, a Windows guest without
                 * VSS): pause instead, as without an agent, and say so */
                Object *snap = model_find_uid(run->m, run->uid);
                if (snap) {
                        JsonObject *status;
                        JsonNode *doc = snapshot_status_edit(snap, &status);
                        JsonArray *ind = json_get_array(status, "indications");
                        JsonArray *src = json_get_array(status, "sourceIndications");
                        JsonObject *qf = json_object_new();
                        g_autofree char *msg = g_strdup_printf("freezing the file systems failed (%s): "
                                                               "the guest was paused instead", error);
                        if (ind)
                                json_array_add_string_element(ind, "QuiesceFailed");
                        json_object_set_string_member(qf, "indication", "QuiesceFailed");
                        json_object_set_string_member(qf, "message", msg);
                        if (src)
                                json_array_add_object_element(src, qf);
                        else
                                json_object_unref(qf);
                        snapshot_status_commit(run->m, snap, doc);
                }
                services_instance_quiesce(model_services(run->m), vmi, false, &run->how, quiesced, run);
                return;
        }
        if (r < 0) {
                Object *snap = model_find_uid(run->m, run->uid);
                g_autofree char *msg = g_strdup_printf("cannot hold the running guest still (%s): %s", run->how, error);
                if (snap)
                        snapshot_fail(run->m, snap, msg);
                snap_run_free(run);
                return;
        }
        worker_submit(model_services(run->m)->worker, copy_work, copy_done, run);
}

/* Ready to copy?  NULL when so; else why not (the claims are not there
 * yet...).  Fills run's jobs and backups. */
static char *prepare(Model *m, Object *snap, Object *vm, bool online, SnapRun *run, JsonArray *included,
                     JsonArray *excluded) {
        Services *s = model_services(m);
        JsonArray *volumes = vm_volumes(object_root(vm));

        for (guint i = 0; volumes && i < json_array_get_length(volumes); i++) {
                JsonObject *vol = json_array_get_object_element(volumes, i);
                const char *vname = json_get_string(vol, "name");
                bool is_dv;
                const char *claim = volume_claim(vol, &is_dv);
                Object *pvc = NULL, *dv = NULL;

                if (!claim) {
                        json_array_add_string_element(excluded, vname);
                        continue;
                }
                json_array_add_string_element(included, vname);
                if (is_dv && (model_get(m, &kind_datavolume, vm->namespace, claim, &dv, NULL) < 0 ||
                              !streq_ptr(object_status_string(dv, "phase"), "Succeeded")))
                        return g_strdup_printf("waiting for DataVolume %s to succeed", claim);
                if (model_get(m, &kind_pvc, vm->namespace, claim, &pvc, NULL) < 0)
                        return g_strdup_printf("waiting for claim %s", claim);
                if (!streq_ptr(object_status_string(pvc, "phase"), "Bound") || object_is_deleting(pvc))
                        return g_strdup_printf("waiting for claim %s to be Bound", claim);
                /* users besides the running guest: an import or upload writing it */
                if (services_pvc_users(s, pvc->uid) > (online ? 1u : 0u))
                        return g_strdup_printf("waiting for claim %s: it is being written", claim);
                StorageBackend *b = services_backend(s, pvc_storage_class(pvc));
                if (!b)
                        return g_strdup_printf("claim %s has no usable storage class", claim);

                CopyJob *j = g_new0(CopyJob, 1);
                j->backend = b;
                j->src_id = storage_volume_id(pvc->uid);
                j->dst_id = g_strdup_printf("snap-%s-%u", snap->uid, run->jobs->len);
                j->ns = g_strdup(snap->namespace);
                j->name = g_strdup_printf("%s/%s", snap->name, vname);
                j->uid = g_strdup(snap->uid);
                j->req = (VolumeRequest) { .id = j->dst_id, .size = pvc_capacity_bytes(pvc), .namespace = j->ns,
                                           .name = j->name, .uid = j->uid };
                g_ptr_array_add(run->jobs, j);

                /* the claim as it was, without what binds it to this volume */
                JsonObject *backup = json_object_new(), *claim_doc = json_object_new(), *cmeta = json_object_new();
                json_object_set_string_member(cmeta, "name", pvc->name);
                json_object_set_string_member(cmeta, "namespace", pvc->namespace);
                if (object_labels(pvc))
                        json_object_set_member(cmeta, "labels",
                                               json_deep_copy(json_object_get_member(object_metadata(pvc), "labels")));
                json_object_set_object_member(claim_doc, "metadata", cmeta);
                JsonNode *pspec = json_deep_copy(json_object_get_member(object_root(pvc), "spec"));
                JsonObject *ps = json_node_get_object(pspec);
                json_object_remove_member(ps, "volumeName");
                json_object_remove_member(ps, "dataSource");
                json_object_remove_member(ps, "dataSourceRef");
                /* the size it has now */
                JsonObject *pvc_status = json_get_object(object_root(pvc), "status");
                g_autofree char *capacity = g_strdup(json_get_string(json_get_object(pvc_status, "capacity"),
                                                                     "storage"));
                if (capacity)
                        json_object_set_string_member(json_ensure_object(json_ensure_object(ps, "resources"),
                                                                         "requests"), "storage", capacity);
                json_object_set_member(claim_doc, "spec", pspec);
                json_object_set_string_member(backup, "volumeName", vname);
                json_object_set_object_member(backup, "persistentVolumeClaim", claim_doc);
                g_autofree char *vsname = g_strdup_printf("vmsnapshot-%s-volume-%s", snap->uid, vname);
                json_object_set_string_member(backup, "volumeSnapshotName", vsname);
                json_array_add_object_element(run->backups, backup);
        }
        return NULL;
}

#define LOCKED "Source locked and operation in progress"

typedef struct Release {
        Model *m;
        char *uid;                      /* the snapshot's */
} Release;

static void released_after_restart(void *userdata, int r, const char *error) {
        Release *rel = userdata;

        if (r < 0)
                log_object(G_LOG_LEVEL_WARNING, model_find_uid(rel->m, rel->uid),
                           "cannot let a guest go after a snapshot cut short: %s", error);
        g_free(rel->uid);
        g_free(rel);
}

/* Past its failureDeadline: Failed, saying why it did not complete (the
 * last try's error, or what it waited for). */
static bool past_deadline(Model *m, Object *o) {
        int64_t elapsed, deadline;
        snapshot_clock(o, &elapsed, &deadline);
        if (deadline == 0 || elapsed <= deadline)       /* 0: no deadline, as KubeVirt reads it */
                return false;
        const char *why = streq_ptr(object_condition(o, "Progressing", "reason"), WAITING_FOR_SPACE) ?
                json_get_string(json_get_object(json_get_object(object_root(o), "status"), "error"), "message") :
                object_condition(o, "Progressing", "message");
        const char *given = json_get_string(json_get_object(object_root(o), "spec"), "failureDeadline");
        g_autofree char *msg = g_strdup_printf("the snapshot did not complete within its failureDeadline (%s)%s%s",
                                               given ?: "5m0s", isempty(why) ? "" : ": ", isempty(why) ? "" : why);
        snapshot_fail(m, o, msg);
        g_hash_table_remove(controller(m)->space_due, o->uid);
        return true;
}

static int vmsnapshot_reconcile(Model *m, Object *o) {
        g_autoptr(JsonNode) keep = json_node_ref(object_doc(o));       /* spec outlives status writes */
        JsonObject *spec = json_get_object(object_root(o), "spec");
        const char *phase = object_status_string(o, "phase");
        Object *vm = NULL;

        if (object_is_deleting(o) || streq_ptr(phase, "Succeeded") || streq_ptr(phase, "Failed") ||
            running(m, o->uid))
                return 0;
        if (!controller(m) || !model_services(m)->worker)
                return 0;
        if (past_deadline(m, o) || space_not_due(m, o))
                return 0;

        const char *vm_name = json_get_string(json_get_object(spec, "source"), "name");
        if (model_get(m, &kind_vm, o->namespace, vm_name, &vm, NULL) < 0) {
                progressing(m, o, false, "Source does not exist", "VirtualMachine not found");
                retry_later(m, o);
                return 0;
        }
        if (snapshot_restore_in_progress(m, vm)) {
                progressing(m, o, false, "Source is being restored", "a VirtualMachineRestore of the VM is under way");
                retry_later(m, o);
                return 0;
        }

        Object *vmi = vm_instance(m, vm);
        bool online = vmi && streq(vmi_phase(vmi), "Running") && !object_is_deleting(vmi);
        if (streq_ptr(object_condition(o, "Progressing", "reason"), LOCKED)) {
                /* cut short by a restart of the daemon: the guest may still be held */
                JsonArray *ind = json_get_array(json_get_object(object_root(o), "status"), "indications");
                const char *how = json_array_has_string(ind, "GuestAgent") ? "GuestAgent" :
                                  json_array_has_string(ind, "NoGuestAgent") ? "Paused" : NULL;
                if (online && how) {
                        Release *rel = g_new0(Release, 1);
                        rel->m = m;
                        rel->uid = g_strdup(o->uid);
                        services_instance_release(model_services(m), vmi, how, released_after_restart, rel);
                }
                progressing(m, o, false, "Restarted", "edgevirtd restarted during the snapshot; taking it again");
        }

        SnapRun *run = g_new0(SnapRun, 1);
        run->m = m;
        run->uid = g_strdup(o->uid);
        run->jobs = g_ptr_array_new_with_free_func((GDestroyNotify) copy_job_free);
        run->backups = json_array_new();
        g_autoptr(JsonArray) included = json_array_new(), excluded = json_array_new();
        g_autofree char *wait = prepare(m, o, vm, online, run, included, excluded);
        if (wait) {
                progressing(m, o, false, "Source not ready", wait);
                snap_run_free(run);
                retry_later(m, o);
                return 0;
        }
        run->store_src = firmware_vm_store(model_services(m)->state_dir, vm->uid);
        run->store_dst = firmware_snapshot_store(model_services(m)->state_dir, o->uid);
        JsonObject *vmi_spec = json_get_object(json_get_object(json_get_object(object_root(vm), "spec"), "template"),
                                               "spec");
        if (firmware_tpm_persistent(vmi_spec)) {
                run->tpm_src = firmware_tpm_dir(model_services(m)->libvirt_uri, firmware_tpm_uuid(vmi_spec, vm->uid));
                run->tpm_dst = run->tpm_src ? firmware_snapshot_tpm(model_services(m)->state_dir, o->uid) : NULL;
        }

        /* the VM as it is now */
        JsonObject *vcopy = json_object_new(), *vmeta = json_object_new();
        json_object_set_string_member(vmeta, "name", vm->name);
        json_object_set_string_member(vmeta, "namespace", vm->namespace);
        json_object_set_string_member(vmeta, "uid", vm->uid);
        for (const char *const *k = (const char *const[]) { "labels", "annotations", NULL }; *k; k++)
                if (json_object_has_member(object_metadata(vm), *k))
                        json_object_set_member(vmeta, *k,
                                               json_deep_copy(json_object_get_member(object_metadata(vm), *k)));
        json_object_set_object_member(vcopy, "metadata", vmeta);
        json_object_set_member(vcopy, "spec", json_deep_copy(json_object_get_member(object_root(vm), "spec")));
        run->vm = json_node_init_object(json_node_alloc(), vcopy);
        json_object_unref(vcopy);

        bool agent = online && services_instance_agent_connected(model_services(m), vmi);
        JsonObject *status;
        JsonNode *doc = snapshot_status_edit(o, &status);
        JsonArray *indications = json_array_new(), *source_ind = json_array_new();
        static const struct { const char *name, *message; } known[] = {
                { "Online", "the snapshot was taken while the VM ran" },
                { "GuestAgent", "the guest's file systems were frozen through the agent during the copy" },
                { "NoGuestAgent", "no guest agent: the guest was paused during the copy" },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(known); i++) {
                if (!online || (i == 1 && !agent) || (i == 2 && agent))
                        continue;
                JsonObject *ind = json_object_new();
                json_array_add_string_element(indications, known[i].name);
                json_object_set_string_member(ind, "indication", known[i].name);
                json_object_set_string_member(ind, "message", known[i].message);
                json_array_add_object_element(source_ind, ind);
        }
        json_object_set_array_member(status, "indications", indications);
        json_object_set_array_member(status, "sourceIndications", source_ind);
        json_object_set_string_member(status, "phase", "InProgress");
        json_object_set_string_member(status, "sourceUID", vm->uid);
        JsonObject *lists = json_object_new();
        json_object_set_array_member(lists, "includedVolumes", json_array_ref(included));
        json_object_set_array_member(lists, "excludedVolumes", json_array_ref(excluded));
        json_object_set_object_member(status, "snapshotVolumes", lists);
        status_set_condition(status, "Progressing", true, LOCKED, "");
        status_set_condition(status, "Ready", false, "Not ready", "");
        g_hash_table_insert(controller(m)->running, g_strdup(o->uid), run);
        snapshot_status_commit(m, o, doc);
        if (online) {
                run->vmi_uid = g_strdup(vmi->uid);
                services_instance_quiesce(model_services(m), vmi, true, &run->how, quiesced, run);
        } else
                quiesced(run, 0, NULL);
        return 0;
}

static int vmsnapshot_finalize(Model *m, Object *o) {
        return running(m, o->uid) ? 0 : 1;
}

const KindInfo kind_vmsnapshot = {
        .kind = "VirtualMachineSnapshot",
        .group = SNAPSHOT_GROUP,
        .versions = snapshot_versions,
        .plural = "virtualmachinesnapshots",
        .short_names = (const char *const[]) { "vmsnapshot", "vmsnapshots", NULL },
        .path_segment = "vmsnapshot",
        .schema = "v1beta1.VirtualMachineSnapshot",
        .namespaced = true,
        .admit = vmsnapshot_admit,
        .init_status = vmsnapshot_init_status,
        .reconcile = vmsnapshot_reconcile,
        .finalize = vmsnapshot_finalize,
};

/* --- VirtualMachineSnapshotContent --- */

static int content_admit(Model *m, JsonObject *doc, JsonObject *old, GPtrArray *warnings, GError **error) {
        return snapshot_spec_immutable(doc, old, error);
}

/* The copies a content owns: the backend and id of each volume backup. */
static GPtrArray *content_volumes(Model *m, Object *content) {
        GPtrArray *jobs = g_ptr_array_new_with_free_func((GDestroyNotify) copy_job_free);
        const char *ids = json_get_string(json_get_object(object_metadata(content), "annotations"),
                                          SNAPSHOT_VOLUME_IDS);
        JsonArray *backups = json_get_array(json_get_object(object_root(content), "spec"), "volumeBackups");
        g_auto(GStrv) list = g_strsplit(ids ? ids : "", ",", -1);

        for (guint i = 0; list[i] && *list[i] && backups && i < json_array_get_length(backups); i++) {
                JsonObject *pvc = json_get_object(json_array_get_object_element(backups, i), "persistentVolumeClaim");
                StorageBackend *b = services_backend(model_services(m),
                                                     json_get_string(json_get_object(pvc, "spec"), "storageClassName"));
                if (!b)
                        continue;
                CopyJob *j = g_new0(CopyJob, 1);
                j->backend = b;
                j->dst_id = g_strdup(list[i]);
                g_ptr_array_add(jobs, j);
        }
        return jobs;
}

typedef struct Freeing {
        Model *m;
        char *uid;
        GPtrArray *jobs;
        char *store_dir;                /* its copy of the EFI variable store; NULL: none */
} Freeing;

static void freeing_done(void *data) {
        Freeing *f = data;
        Object *o = model_find_uid(f->m, f->uid);
        SnapshotController *c = controller(f->m);
        g_hash_table_remove(c->running, f->uid);
        g_hash_table_add(c->freed, g_strdup(f->uid));
        if (o)
                model_enqueue(f->m, o);
        g_ptr_array_unref(f->jobs);
        g_free(f->uid);
        g_free(f->store_dir);
        g_free(f);
}

static void freeing_work(void *data) {
        Freeing *f = data;
        remove_copies_work(f->jobs);
        if (f->store_dir)
                ev_remove_tree(f->store_dir);
}

static int content_finalize(Model *m, Object *o) {
        SnapshotController *c = controller(m);
        if (c && g_hash_table_remove(c->freed, o->uid))
                return 1;
        if (running(m, o->uid))
                return 0;
        if (!c || !model_services(m)->worker)
                return 1;
        if (services_claim_source_in_use(model_services(m), o->uid)) {
                retry_later(m, o);      /* a restore is copying from it */
                return 0;
        }
        Freeing *f = g_new0(Freeing, 1);
        f->m = m;
        f->uid = g_strdup(o->uid);
        f->jobs = content_volumes(m, o);
        g_autofree char *store = firmware_snapshot_store(model_services(m)->state_dir,
                                                         snapshot_content_snapshot_uid(o));
        f->store_dir = store ? g_path_get_dirname(store) : NULL;
        g_hash_table_insert(c->running, g_strdup(o->uid), f);
        worker_submit(model_services(m)->worker, freeing_work, freeing_done, f);
        return 0;
}

const KindInfo kind_vmsnapshot_content = {
        .kind = "VirtualMachineSnapshotContent",
        .group = SNAPSHOT_GROUP,
        .versions = snapshot_versions,
        .plural = "virtualmachinesnapshotcontents",
        .short_names = (const char *const[]) { "vmsnapshotcontent", "vmsnapshotcontents", NULL },
        .path_segment = "vmsnapshotcontent",
        .schema = "v1beta1.VirtualMachineSnapshotContent",
        .namespaced = true,
        .read_only = "edgevirt makes one for each VirtualMachineSnapshot",
        .user_deletable = true,
        .admit = content_admit,
        .finalize = content_finalize,
};
