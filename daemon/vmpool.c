/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VirtualMachinePool (pool.kubevirt.io), as KubeVirt's pool controller:
 * spec.replicas VirtualMachines of spec.virtualMachineTemplate, named
 * <pool>-<ordinal> (the lowest ordinals whose name is free), labelled and
 * annotated as the template says and owned by the pool (deleting it
 * deletes them).  The template's dataVolumeTemplates are per VM: each is
 * named <template name>-<ordinal>, and the VM's volumes naming it
 * (dataVolume.name, persistentVolumeClaim.claimName) are renamed alike, as
 * KubeVirt's indexVMSpec does.  Scaling down deletes the highest ordinals
 * first; a VM deleted by hand is made again.  A changed template reaches
 * the VMs (their spec, labels and annotations: KubeVirt's opportunistic
 * update; a running instance keeps its spec until it restarts); a VM
 * carries the template's revision in the label kubevirt.io/vm-pool-revision-name.
 * spec.paused stops all of that.  Status: replicas, readyReplicas (VMs
 * Ready), labelSelector (the selector's string form) and the conditions
 * ReplicaFailure and ReplicaPaused; Events SuccessfulCreate,
 * SuccessfulDelete and FailedCreate, as KubeVirt's controller records. */
#include "event.h"
#include "json-util.h"
#include "labelselector.h"
#include "log.h"
#include "services.h"
#include "util.h"
#include "vm-status.h"

#define VMPOOL_API "pool.kubevirt.io/v1beta1"
#define REVISION_LABEL "kubevirt.io/vm-pool-revision-name"
/* VMs made per reconcile (KubeVirt's burstReplicas idea): the rest on the
 * next pass, so a large scale-up does not hold the main loop */
#define BURST_REPLICAS 10u

static JsonObject *spec_of(JsonObject *doc) {
        return json_get_object(doc, "spec");
}

static JsonObject *template_of(JsonObject *doc) {
        return json_get_object(spec_of(doc), "virtualMachineTemplate");
}

static JsonObject *copy_of(JsonObject *o) {
        if (!o)
                return json_object_new();
        g_autoptr(JsonNode) n = json_node_init_object(json_node_alloc(), o);
        g_autoptr(JsonNode) copy = json_deep_copy(n);
        return json_object_ref(json_node_get_object(copy));
}

static void rename_claims(JsonObject *spec, GHashTable *renamed) {
        JsonArray *volumes = json_get_array(json_get_object(json_get_object(spec, "template"), "spec"), "volumes");
        for (guint i = 0; volumes && i < json_array_get_length(volumes); i++) {
                JsonObject *v = json_array_get_object_element(volumes, i);
                JsonObject *dv = json_get_object(v, "dataVolume");
                JsonObject *pvc = json_get_object(v, "persistentVolumeClaim");
                const char *to;
                if (dv && (to = g_hash_table_lookup(renamed, json_get_string(dv, "name") ?: "")))
                        json_object_set_string_member(dv, "name", to);
                if (pvc && (to = g_hash_table_lookup(renamed, json_get_string(pvc, "claimName") ?: "")))
                        json_object_set_string_member(pvc, "claimName", to);
        }
}

/* The template's VM spec for one ordinal: its DataVolumes its own. */
static JsonNode *indexed_spec(JsonObject *pool_doc, unsigned ordinal) {
        JsonNode *spec = json_deep_copy(json_object_get_member(template_of(pool_doc), "spec"));
        JsonArray *dvts = json_get_array(json_node_get_object(spec), "dataVolumeTemplates");
        g_autoptr(GHashTable) renamed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

        for (guint i = 0; dvts && i < json_array_get_length(dvts); i++) {
                JsonObject *meta = json_ensure_object(json_array_get_object_element(dvts, i), "metadata");
                const char *name = json_get_string(meta, "name") ?: "";
                char *to = g_strdup_printf("%s-%u", name, ordinal);
                g_hash_table_replace(renamed, g_strdup(name), to);
                json_object_set_string_member(meta, "name", to);
        }
        rename_claims(json_node_get_object(spec), renamed);
        return spec;
}

/* The template's revision: its first 10 hex digits of SHA-256, after the
 * pool's name (KubeVirt names ControllerRevisions <pool>-<hash>). */
static char *revision_of(const char *pool, JsonObject *pool_doc) {
        g_autoptr(JsonNode) n = json_node_init_object(json_node_alloc(), template_of(pool_doc));
        g_autofree char *text = json_text(n, false);
        g_autofree char *sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, text, -1);
        return g_strdup_printf("%s-%.10s", pool, sum);
}

/* The VM of one ordinal: name, namespace, the template's metadata, the
 * pool as its controller.  Owned by the caller. */
static JsonObject *vm_document(Object *pool, unsigned ordinal, const char *revision) {
        JsonObject *tmeta = json_get_object(template_of(object_root(pool)), "metadata");
        JsonObject *doc = json_object_new(), *meta = json_object_new();
        JsonObject *labels = copy_of(json_get_object(tmeta, "labels"));
        JsonArray *owners = json_array_new();
        g_autofree char *name = g_strdup_printf("%s-%u", pool->name, ordinal);

        json_object_set_string_member(doc, "apiVersion", KUBEVIRT_API);
        json_object_set_string_member(doc, "kind", "VirtualMachine");
        json_object_set_string_member(meta, "name", name);
        json_object_set_string_member(meta, "namespace", pool->namespace);
        json_object_set_string_member(labels, REVISION_LABEL, revision);
        json_object_set_object_member(meta, "labels", labels);
        if (json_get_object(tmeta, "annotations"))
                json_object_set_object_member(meta, "annotations", copy_of(json_get_object(tmeta, "annotations")));
        json_array_add_object_element(owners, object_owner_reference(pool, VMPOOL_API));
        json_object_set_array_member(meta, "ownerReferences", owners);
        json_object_set_object_member(doc, "metadata", meta);
        json_object_set_member(doc, "spec", indexed_spec(object_root(pool), ordinal));
        return doc;
}

/* --- admission --- */

static int check_selector(JsonObject *spec, GError **error) {
        JsonObject *labels = json_get_object(json_get_object(json_get_object(spec, "virtualMachineTemplate"),
                                                             "metadata"), "labels");
        g_autoptr(LabelSelector) sel = NULL;
        g_autofree char *s = label_selector_format(json_get_object(spec, "selector"), error);

        if (!s) {
                ev_error_prefix(error, "spec.selector");
                return -EINVAL;
        }
        if (isempty(s))
                return ev_error_set(error, EINVAL, "spec.selector: Invalid value: empty selector is invalid for a "
                                    "pool (it would select every VM)");
        if (label_selector_parse(s, &sel, error) < 0)
                return -EINVAL;
        if (!label_selector_matches(sel, labels))
                return ev_error_set(error, EINVAL, "spec.virtualMachineTemplate.metadata.labels: Invalid value: "
                                    "selector \"%s\" does not match the template's labels", s);
        return 0;
}

static int pool_admit(Model *m, JsonObject *doc, JsonObject *old, GPtrArray *warnings, GError **error) {
        JsonObject *spec = spec_of(doc), *meta = json_get_object(doc, "metadata");
        gint64 replicas = json_get_int(spec, "replicas", 1);

        if (replicas < 0)
                return ev_error_set(error, EINVAL, "spec.replicas: Invalid value: %" G_GINT64_FORMAT
                                    ": must be greater than or equal to 0", replicas);
        if (!json_get_object(template_of(doc), "spec"))
                return ev_error_set(error, EINVAL, "spec.virtualMachineTemplate.spec: Required value");
        if (check_selector(spec, error) < 0)
                return -EINVAL;
        /* the VMs must be VMs KubeVirt (and we) take: the first as it would be made */
        g_autoptr(JsonObject) vm = json_object_new();
        JsonObject *vmeta = json_object_new();
        g_autofree char *name = g_strdup_printf("%s-0", json_get_string(meta, "name") ?: "");
        json_object_set_string_member(vmeta, "name", name);
        json_object_set_string_member(vmeta, "namespace", json_get_string(meta, "namespace") ?: "");
        json_object_set_object_member(vm, "metadata", vmeta);
        json_object_set_member(vm, "spec", indexed_spec(doc, 0));
        if (kind_vm.admit(m, vm, NULL, warnings, error) < 0) {
                ev_error_prefix(error, "spec.virtualMachineTemplate");
                return -EINVAL;
        }
        return 0;
}

/* --- reconcile --- */

/* The ordinal of a pool's VM (<pool>-<n>); -1 if its name has none. */
static gint64 ordinal_of(Object *pool, Object *vm) {
        size_t n = strlen(pool->name);
        guint64 v;
        if (strncmp(vm->name, pool->name, n) != 0 || vm->name[n] != '-' ||
            !g_ascii_string_to_unsigned(vm->name + n + 1, 10, 0, G_MAXINT32, &v, NULL))
                return -1;
        return (gint64) v;
}

static gint highest_first(gconstpointer a, gconstpointer b, gpointer pool) {
        gint64 x = ordinal_of(pool, *(Object *const *) a), y = ordinal_of(pool, *(Object *const *) b);
        return x < y ? 1 : x > y ? -1 : 0;
}

/* The pool's VMs (not being deleted), highest ordinal first. */
static GPtrArray *members_of(Model *m, Object *pool) {
        g_autoptr(GPtrArray) vms = model_list(m, &kind_vm, pool->namespace, NULL);
        GPtrArray *out = g_ptr_array_new();
        for (guint i = 0; i < vms->len; i++)
                if (object_owned_by(vms->pdata[i], pool) && !object_is_deleting(vms->pdata[i]))
                        g_ptr_array_add(out, vms->pdata[i]);
        g_ptr_array_sort_with_data(out, highest_first, pool);
        return out;
}

static int scale_up(Model *m, Object *pool, guint have, gint64 want, const char *revision, GError **error) {
        unsigned made = 0;
        for (unsigned ordinal = 0; have < want; ordinal++) {
                if (made == BURST_REPLICAS) {
                        model_enqueue(m, pool);
                        return 0;
                }
                g_autofree char *name = g_strdup_printf("%s-%u", pool->name, ordinal);
                Object *taken = NULL;
                if (model_get(m, &kind_vm, pool->namespace, name, &taken, NULL) == 0)
                        continue;
                g_autoptr(JsonObject) doc = vm_document(pool, ordinal, revision);
                if (model_apply_object(m, doc, false, error) < 0) {
                        ev_error_prefix(error, "cannot create VirtualMachine %s", name);
                        return -EIO;
                }
                log_object(G_LOG_LEVEL_INFO, pool, "created VirtualMachine %s", name);
                if (model_services(m))
                        event_record(model_services(m)->events, pool, false, "SuccessfulCreate",
                                     "Created VM %s/%s", pool->namespace, name);
                have++;
                made++;
        }
        return 0;
}

/* A VM of an older template takes the new one (its identity kept). */
static int update_member(Model *m, Object *pool, Object *vm, const char *revision, GError **error) {
        JsonObject *labels = object_labels(vm);
        gint64 ordinal = ordinal_of(pool, vm);

        if (streq_ptr(labels ? json_get_string(labels, REVISION_LABEL) : NULL, revision) || ordinal < 0)
                return 0;
        g_autoptr(JsonObject) want = vm_document(pool, (unsigned) ordinal, revision);
        JsonNode *doc = json_deep_copy(object_doc(vm));
        JsonObject *root = json_node_get_object(doc), *meta = json_get_object(root, "metadata");
        JsonObject *wmeta = json_get_object(want, "metadata");
        json_object_set_member(meta, "labels", json_deep_copy(json_object_get_member(wmeta, "labels")));
        if (json_get_object(wmeta, "annotations"))
                json_object_set_member(meta, "annotations",
                                       json_deep_copy(json_object_get_member(wmeta, "annotations")));
        else
                json_object_remove_member(meta, "annotations");
        json_object_set_member(root, "spec", json_deep_copy(json_object_get_member(want, "spec")));
        if (model_update(m, vm, doc, error) < 0) {
                ev_error_prefix(error, "cannot update VirtualMachine %s", vm->name);
                return -EIO;
        }
        return 0;
}

/* failure: why the last reconcile failed (reason FailedCreate, FailedUpdate
 * or FailedDelete), NULL: it did not */
static void write_status(Model *m, Object *pool, const char *reason, const char *failure) {
        g_autoptr(GPtrArray) members = members_of(m, pool);
        JsonNode *doc = json_deep_copy(object_doc(pool));
        JsonObject *status = json_ensure_object(json_node_get_object(doc), "status");
        g_autofree char *selector = label_selector_format(json_get_object(spec_of(object_root(pool)), "selector"),
                                                          NULL);
        bool paused = json_get_bool(spec_of(object_root(pool)), "paused", false);
        guint ready = 0;

        for (guint i = 0; i < members->len; i++)
                ready += vm_ready(members->pdata[i]);
        json_object_set_int_member(status, "replicas", members->len);
        json_object_set_int_member(status, "readyReplicas", ready);
        json_object_set_string_member(status, "labelSelector", selector ?: "");
        status_set_condition(status, "ReplicaFailure", failure != NULL, failure ? reason : "", failure ?: "");
        status_set_condition(status, "ReplicaPaused", paused, paused ? "Paused" : "",
                             paused ? "Pool controller is paused" : "");
        if (json_equal(doc, object_doc(pool))) {
                json_node_unref(doc);
                return;
        }
        model_write_status(m, pool, doc);
}

static int pool_reconcile(Model *m, Object *pool) {
        JsonObject *spec = spec_of(object_root(pool));
        gint64 want = json_get_int(spec, "replicas", 1);
        g_autoptr(GPtrArray) members = NULL;
        g_autofree char *revision = NULL;
        g_autoptr(GError) e = NULL;
        const char *reason = "FailedDelete";

        if (object_is_deleting(pool))
                return 0;
        if (json_get_bool(spec, "paused", false)) {
                write_status(m, pool, NULL, NULL);
                return 0;
        }
        revision = revision_of(pool->name, object_root(pool));
        members = members_of(m, pool);
        /* highest ordinals go first */
        for (guint i = 0; i < members->len && (gint64) (members->len - i) > want; i++) {
                Object *vm = members->pdata[i];
                g_autofree char *name = g_strdup(vm->name);
                log_object(G_LOG_LEVEL_INFO, pool, "scaling down: deleting VirtualMachine %s", name);
                if (model_delete_object(m, vm, PROPAGATION_BACKGROUND, &e) < 0)
                        break;
                if (model_services(m))
                        event_record(model_services(m)->events, pool, false, "SuccessfulDelete",
                                     "Deleted VM %s/%s", pool->namespace, name);
        }
        if (!e)
                reason = "FailedUpdate";
        for (guint i = 0; !e && i < members->len; i++)
                if ((gint64) (members->len - i) <= want)
                        (void) update_member(m, pool, members->pdata[i], revision, &e);
        if (!e)
                reason = "FailedCreate";
        if (!e && members->len < want)
                (void) scale_up(m, pool, members->len, want, revision, &e);
        if (e) {
                log_object(G_LOG_LEVEL_WARNING, pool, "%s", e->message);
                if (model_services(m))
                        event_record(model_services(m)->events, pool, true, reason, "%s", e->message);
        }
        write_status(m, pool, e ? reason : NULL, e ? e->message : NULL);
        return 0;
}

const KindInfo kind_vmpool = {
        .kind = "VirtualMachinePool",
        .group = "pool.kubevirt.io",
        .versions = (const char *const[]) { "v1beta1", "v1alpha1", NULL },
        .plural = "virtualmachinepools",
        .short_names = (const char *const[]) { "vmpool", "vmpools", NULL },
        .path_segment = "vmpool",
        .schema = "v1beta1.VirtualMachinePool",
        .namespaced = true,
        .admit = pool_admit,
        .init_status = status_init_replicas,
        .reconcile = pool_reconcile,
};
