/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VirtualMachineClone (clone.kubevirt.io), as KubeVirt makes one: a
 * snapshot of the source VM (or the source snapshot itself), then a
 * restore of it to a new VM with JSON patches that give it an identity of
 * its own (no MAC addresses, SMBIOS serial or firmware UUID of the
 * source's unless asked; filtered labels and annotations), then the
 * temporary snapshot and restore go.  docs/snapshots.md. */
#include <fnmatch.h>

#include "log.h"
#include "clone.h"
#include "json-read.h"
#include "json-util.h"
#include "manifests-dir.h"
#include "object.h"
#include "snapshot-status.h"
#include "util.h"

#define GROUP "clone.kubevirt.io"
#define SNAPSHOT_API "snapshot.kubevirt.io/v1beta1"
#define RETRY_USEC G_USEC_PER_SEC       /* looking again at what no change of ours announces */

static const char *const VERSIONS[] = { "v1beta1", "v1alpha1", NULL };

static bool source_is_snapshot(JsonObject *spec) {
        return streq_ptr(json_get_string(json_get_object(spec, "source"), "kind"), "VirtualMachineSnapshot");
}

static int clone_admit(Model *m, JsonObject *doc, JsonObject *old, GPtrArray *warnings, GError **error) {
        JsonObject *spec = json_get_object(doc, "spec"), *src = json_get_object(spec, "source"),
                   *target = json_get_object(spec, "target");
        const char *kind = json_get_string(src, "kind"), *group = json_get_string(src, "apiGroup");
        const char *policy = json_get_string(spec, "volumeNamePolicy");

        if (old && !json_equal(json_object_get_member(doc, "spec"), json_object_get_member(old, "spec")))
                return ev_error_set(error, EINVAL, "spec: Forbidden: spec is immutable after creation");
        if (!(streq_ptr(kind, "VirtualMachine") && streq_ptr(group, "kubevirt.io")) &&
            !(streq_ptr(kind, "VirtualMachineSnapshot") && streq_ptr(group, "snapshot.kubevirt.io")))
                return ev_error_set(error, EINVAL, "spec.source: Unsupported value: \"%s%s%s\": "
                                    "supported values: \"kubevirt.io/VirtualMachine\", "
                                    "\"snapshot.kubevirt.io/VirtualMachineSnapshot\"",
                                    group ? group : "", group ? "/" : "", kind ? kind : "");
        if (isempty(json_get_string(src, "name")))
                return ev_error_set(error, EINVAL, "spec.source.name: Required value");
        if (target && (!streq_ptr(json_get_string(target, "kind"), "VirtualMachine") ||
                       !streq_ptr(json_get_string(target, "apiGroup"), "kubevirt.io")))
                return ev_error_set(error, EINVAL,
                                    "spec.target: Unsupported value: supported values: \"kubevirt.io/VirtualMachine\"");
        if (target && !isempty(json_get_string(target, "name")) && !source_is_snapshot(spec) &&
            streq(json_get_string(target, "name"), json_get_string(src, "name")))
                return ev_error_set(error, EINVAL, "spec.target.name: Invalid value: the target cannot be the source");
        if (policy && !streq(policy, "RandomizeNames"))
                return ev_error_set(error, EOPNOTSUPP, "spec.volumeNamePolicy: Unsupported value: \"%s\": "
                                    "supported values: \"RandomizeNames\"", policy);
        JsonArray *patches = json_get_array(spec, "patches");
        for (guint i = 0; patches && i < json_array_get_length(patches); i++) {
                const char *text = json_array_get_string_element(patches, i) ?: "";
                g_autoptr(GError) e = NULL;
                g_autoptr(JsonNode) p = json_read_object(text, strlen(text), &e);
                if (!p)
                        return ev_error_set(error, EINVAL, "spec.patches[%u]: Invalid value: a JSON Patch operation "
                                            "is expected: %s", i, e->message);
        }
        return 0;
}

/* KubeVirt's filters: a key is kept when it matches a filter ("*", "app*")
 * and no negated one ("!secret-*"); no filters keep everything. */
static bool kept(JsonArray *filters, const char *key) {
        bool wanted = false, refused = false;
        if (!filters || json_array_get_length(filters) == 0)
                return true;
        for (guint i = 0; i < json_array_get_length(filters); i++) {
                const char *f = json_array_get_string_element(filters, i);
                if (!f)
                        continue;
                if (f[0] == '!')
                        refused = refused || fnmatch(f + 1, key, 0) == 0;
                else
                        wanted = wanted || fnmatch(f, key, 0) == 0;
        }
        return wanted && !refused;
}

static JsonNode *filtered(JsonObject *map, JsonArray *filters) {
        JsonObject *out = json_object_new();
        g_autoptr(GList) keys = map ? json_object_get_members(map) : NULL;
        for (GList *l = keys; l; l = l->next)
                if (kept(filters, l->data))
                        json_object_set_member(out, l->data, json_node_copy(json_object_get_member(map, l->data)));
        JsonNode *n = json_node_init_object(json_node_alloc(), out);
        json_object_unref(out);
        return n;
}

static void add_patch(JsonArray *patches, const char *op, const char *path, JsonNode *value) {
        JsonObject *p = json_object_new();
        json_object_set_string_member(p, "op", op);
        json_object_set_string_member(p, "path", path);
        if (value)
                json_object_set_member(p, "value", value);
        g_autoptr(JsonNode) n = json_node_init_object(json_node_alloc(), p);
        json_object_unref(p);
        g_autofree char *text = json_text(n, FALSE);
        json_array_add_string_element(patches, text);
}

static JsonNode *string_node(const char *s) {
        JsonNode *n = json_node_alloc();
        json_node_init_string(n, s);
        return n;
}

/* What makes the clone a VM of its own, as patches on the snapshot's VM. */
static JsonArray *identity_patches(JsonObject *spec, JsonObject *src_vm) {
        JsonArray *out = json_array_new();
        JsonObject *vspec = json_get_object(src_vm, "spec"), *tmpl = json_get_object(vspec, "template");
        JsonObject *domain = json_get_object(json_get_object(tmpl, "spec"), "domain");
        JsonArray *ifaces = json_get_array(json_get_object(domain, "devices"), "interfaces");
        JsonObject *macs = json_get_object(spec, "newMacAddresses");
        JsonObject *firmware = json_get_object(domain, "firmware");
        JsonObject *filters = json_get_object(spec, "template");

        add_patch(out, "add", "/metadata/labels",
                  filtered(json_get_object(json_get_object(src_vm, "metadata"), "labels"),
                           json_get_array(spec, "labelFilters")));
        JsonNode *annotations = filtered(json_get_object(json_get_object(src_vm, "metadata"), "annotations"),
                                         json_get_array(spec, "annotationFilters"));
        /* a clone made through the API is no manifest file's object: the
         * file's next sync would prune it, its disks with it */
        json_object_remove_member(json_node_get_object(annotations), MANIFEST_FILE_ANNOTATION);
        add_patch(out, "add", "/metadata/annotations", annotations);
        if (json_get_object(tmpl, "metadata")) {
                JsonObject *tm = json_get_object(tmpl, "metadata");
                add_patch(out, "add", "/spec/template/metadata/labels",
                          filtered(json_get_object(tm, "labels"), json_get_array(filters, "labelFilters")));
                add_patch(out, "add", "/spec/template/metadata/annotations",
                          filtered(json_get_object(tm, "annotations"), json_get_array(filters, "annotationFilters")));
        }
        for (guint i = 0; ifaces && i < json_array_get_length(ifaces); i++) {
                JsonObject *iface = json_array_get_object_element(ifaces, i);
                const char *mac = json_get_string(macs, json_get_string(iface, "name") ?: "");
                g_autofree char *path =
                        g_strdup_printf("/spec/template/spec/domain/devices/interfaces/%u/macAddress", i);
                if (mac)
                        add_patch(out, "add", path, string_node(mac));
                else if (json_get_string(iface, "macAddress"))
                        add_patch(out, "remove", path, NULL);
        }
        if (json_get_string(spec, "newSMBiosSerial")) {
                if (!firmware)
                        add_patch(out, "add", "/spec/template/spec/domain/firmware",
                                  json_object_node_new());
                add_patch(out, "add", "/spec/template/spec/domain/firmware/serial",
                          string_node(json_get_string(spec, "newSMBiosSerial")));
        } else if (json_get_string(firmware, "serial"))
                add_patch(out, "remove", "/spec/template/spec/domain/firmware/serial", NULL);
        if (json_get_string(firmware, "uuid"))
                add_patch(out, "remove", "/spec/template/spec/domain/firmware/uuid", NULL);
        JsonArray *user = json_get_array(spec, "patches");
        for (guint i = 0; user && i < json_array_get_length(user); i++)
                json_array_add_string_element(out, json_array_get_string_element(user, i));
        return out;
}

static void set_phase(Model *m, Object *o, const char *phase, const char *reason, const char *message, const char *snap,
                      const char *restore, const char *target) {
        JsonNode *doc = json_deep_copy(object_doc(o));
        JsonObject *status = json_ensure_object(json_node_get_object(doc), "status");
        bool done = streq(phase, "Succeeded"), failed = streq(phase, "Failed");

        json_object_set_string_member(status, "phase", phase);
        if (snap)
                json_object_set_string_member(status, "snapshotName", snap);
        if (restore)
                json_object_set_string_member(status, "restoreName", restore);
        if (target)
                json_object_set_string_member(status, "targetName", target);
        if (!json_object_has_member(status, "creationTime")) {
                g_autofree char *now = ev_timestamp_now();
                json_object_set_string_member(status, "creationTime", now);
        }
        status_set_condition(status, "Progressing", !done && !failed, reason, message ? message : "");
        status_set_condition(status, "Ready", done, reason, message ? message : "");
        if (json_equal(doc, object_doc(o))) {
                json_node_unref(doc);
                return;
        }
        model_write_status(m, o, doc);
}

static JsonObject *owned_doc(Object *clone, const char *kind, const char *name) {
        JsonObject *doc = json_object_new(), *meta = json_object_new(), *ref = json_object_new();
        JsonArray *owners = json_array_new();
        json_object_set_string_member(doc, "apiVersion", SNAPSHOT_API);
        json_object_set_string_member(doc, "kind", kind);
        json_object_set_string_member(meta, "name", name);
        json_object_set_string_member(meta, "namespace", clone->namespace);
        json_object_set_string_member(ref, "apiVersion", GROUP "/v1beta1");
        json_object_set_string_member(ref, "kind", "VirtualMachineClone");
        json_object_set_string_member(ref, "name", clone->name);
        json_object_set_string_member(ref, "uid", clone->uid);
        json_object_set_boolean_member(ref, "controller", TRUE);
        json_array_add_object_element(owners, ref);
        json_object_set_array_member(meta, "ownerReferences", owners);
        json_object_set_object_member(doc, "metadata", meta);
        return doc;
}

static JsonObject *vm_reference(const char *name) {
        JsonObject *ref = json_object_new();
        json_object_set_string_member(ref, "apiGroup", "kubevirt.io");
        json_object_set_string_member(ref, "kind", "VirtualMachine");
        json_object_set_string_member(ref, "name", name);
        return ref;
}

static int clone_reconcile(Model *m, Object *o) {
        g_autoptr(JsonNode) keep = json_node_ref(object_doc(o));       /* spec outlives status writes */
        JsonObject *spec = json_get_object(object_root(o), "spec");
        const char *phase = object_status_string(o, "phase");
        const char *src_name = json_get_string(json_get_object(spec, "source"), "name");
        bool from_snapshot = source_is_snapshot(spec);
        g_autofree char *tmp_snap = g_strdup_printf("tmp-snapshot-%s", o->uid);
        g_autofree char *tmp_restore = g_strdup_printf("tmp-restore-%s", o->uid);
        g_autofree char *generated = g_strdup_printf("clone-%.8s", o->uid);
        const char *target = json_get_string(json_get_object(spec, "target"), "name");
        const char *snap_name = from_snapshot ? src_name : tmp_snap;
        Object *snap = NULL, *restore = NULL, *vm = NULL;
        g_autoptr(GError) e = NULL;

        if (object_is_deleting(o) || streq_ptr(phase, "Succeeded") || streq_ptr(phase, "Failed"))
                return 0;
        if (isempty(target))
                target = generated;

        /* the snapshot */
        if (model_get(m, &kind_vmsnapshot, o->namespace, snap_name, &snap, NULL) < 0) {
                if (from_snapshot) {
                        set_phase(m, o, "SnapshotInProgress", "SourceDoesNotExist",
                                  "the source snapshot does not exist", NULL, NULL, NULL);
                        model_enqueue_later(m, o, RETRY_USEC);
                        return 0;
                }
                if (model_get(m, &kind_vm, o->namespace, src_name, &vm, NULL) < 0) {
                        set_phase(m, o, "SnapshotInProgress", "SourceDoesNotExist", "the source VM does not exist",
                                  NULL, NULL, NULL);
                        model_enqueue_later(m, o, RETRY_USEC);
                        return 0;
                }
                g_autoptr(JsonObject) doc = owned_doc(o, "VirtualMachineSnapshot", tmp_snap);
                JsonObject *sspec = json_object_new();
                json_object_set_object_member(sspec, "source", vm_reference(src_name));
                json_object_set_object_member(doc, "spec", sspec);
                if (model_apply_object(m, doc, false, &e) < 0) {
                        g_autofree char *msg = g_strdup_printf("cannot snapshot the source: %s", e->message);
                        set_phase(m, o, "Failed", "Failed", msg, NULL, NULL, NULL);
                        return 0;
                }
                set_phase(m, o, "SnapshotInProgress", "SnapshotInProgress", NULL, tmp_snap, NULL, NULL);
                return 0;
        }
        const char *sphase = object_status_string(snap, "phase");
        if (streq_ptr(sphase, "Failed")) {
                set_phase(m, o, "Failed", "Failed", "the snapshot of the source failed", snap_name, NULL, NULL);
                return 0;
        }
        if (!json_get_bool(json_get_object(object_root(snap), "status"), "readyToUse", false)) {
                set_phase(m, o, "SnapshotInProgress", "SnapshotInProgress", NULL, snap_name, NULL, NULL);
                if (from_snapshot)
                        model_enqueue_later(m, o, RETRY_USEC);      /* not ours: its changes do not wake us */
                return 0;
        }

        /* the restore to the new VM */
        if (model_get(m, &kind_vmrestore, o->namespace, tmp_restore, &restore, NULL) < 0) {
                Object *content = NULL;
                if (model_get(m, &kind_vm, o->namespace, target, &vm, NULL) == 0) {
                        g_autofree char *msg = g_strdup_printf("the target VM %s exists already", target);
                        set_phase(m, o, "Failed", "Failed", msg, snap_name, NULL, NULL);
                        return 0;
                }
                if (model_get(m, &kind_vmsnapshot_content, o->namespace,
                              object_status_string(snap, "virtualMachineSnapshotContentName"), &content, NULL) < 0) {
                        set_phase(m, o, "Failed", "Failed", "the snapshot's content is gone", snap_name, NULL, NULL);
                        return 0;
                }
                JsonObject *src_vm = json_get_object(json_get_object(json_get_object(object_root(content), "spec"),
                                                                     "source"), "virtualMachine");
                g_autoptr(JsonObject) doc = owned_doc(o, "VirtualMachineRestore", tmp_restore);
                JsonObject *rspec = json_object_new();
                json_object_set_object_member(rspec, "target", vm_reference(target));
                json_object_set_string_member(rspec, "virtualMachineSnapshotName", snap_name);
                json_object_set_array_member(rspec, "patches", identity_patches(spec, src_vm));
                json_object_set_object_member(doc, "spec", rspec);
                if (model_apply_object(m, doc, false, &e) < 0) {
                        g_autofree char *msg = g_strdup_printf("cannot restore to %s: %s", target, e->message);
                        set_phase(m, o, "Failed", "Failed", msg, snap_name, NULL, NULL);
                        return 0;
                }
                set_phase(m, o, "RestoreInProgress", "RestoreInProgress", NULL, snap_name, tmp_restore, target);
                return 0;
        }
        JsonObject *rstatus = json_get_object(object_root(restore), "status");
        if (snapshot_restore_failed(restore)) {
                g_autofree char *msg = g_strdup_printf("the restore failed: %s",
                                                       object_condition(restore, "Ready", "message") ?: "");
                set_phase(m, o, "Failed", "Failed", msg, snap_name, tmp_restore, target);
                return 0;
        }
        if (!json_get_bool(rstatus, "complete", false)) {
                set_phase(m, o, "RestoreInProgress", "RestoreInProgress", NULL, snap_name, tmp_restore, target);
                return 0;
        }
        /* done: what was made for the way goes (the new VM's claims are its own) */
        (void) model_delete_object(m, restore, PROPAGATION_BACKGROUND, NULL);
        if (!from_snapshot)
                (void) model_delete_object(m, snap, PROPAGATION_BACKGROUND, NULL);
        set_phase(m, o, "Succeeded", "Succeeded", NULL, snap_name, tmp_restore, target);
        return 0;
}

const KindInfo kind_vmclone = {
        .kind = "VirtualMachineClone",
        .group = GROUP,
        .versions = VERSIONS,
        .plural = "virtualmachineclones",
        .short_names = (const char *const[]) { "vmclone", "vmclones", NULL },
        .path_segment = "vmclone",
        .schema = "v1beta1.VirtualMachineClone",
        .namespaced = true,
        .admit = clone_admit,
        .reconcile = clone_reconcile,
};
