/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PersistentVolumeClaim: validation, and the controller that gives each
 * claim a volume in its storage class, grows it, clones it and frees it.
 * Storage operations block, so they run on the worker pool; their results
 * come back here on the main loop and are written as status. */
#include "log.h"
#include "datavolume-admit.h"
#include "json-util.h"
#include "model.h"
#include "pvc-status.h"
#include "pvc.h"
#include "services.h"
#include "snapshot-status.h"
#include "util.h"

#define PVC_PROTECTION "kubernetes.io/pvc-protection"
#define RETRY_USEC (5 * G_USEC_PER_SEC)

typedef enum OpKind {
        OP_SCAN,        /* prepare the class and list its volumes */
        OP_CREATE,
        OP_CLONE,       /* same backend: the backend's clone */
        OP_COPY,        /* another backend: create, then copy the data */
        OP_EXPAND,
        OP_REMOVE,
} OpKind;

typedef struct ClassState {
        StorageBackend *backend;
        bool scanned;
        char *error;                    /* why the class is not usable, or NULL */
} ClassState;

struct PvcController {
        Model *model;
        Services *services;
        GHashTable *classes;            /* name -> ClassState */
        GHashTable *ops;                /* claim uid -> PvcOp in flight */
        GHashTable *removed;            /* claim uids whose volume is gone */
        sd_event_source *retry;
        unsigned scans_pending;
};

typedef struct PvcOp {
        PvcController *c;
        OpKind kind;
        char *uid;
        char *class_name;
        StorageBackend *backend;
        StorageBackend *src_backend;    /* clone/copy */
        char *src_id;
        char *src_uid;
        VolumeRequest req;              /* strings owned below */
        char *id, *namespace, *name;
        /* results */
        int r;
        GError *error;
        uint64_t size;
        GPtrArray *volumes;             /* scan */
} PvcOp;

static void op_free(PvcOp *op) {
        g_free(op->uid);
        g_free(op->class_name);
        g_free(op->src_id);
        g_free(op->src_uid);
        g_free(op->id);
        g_free(op->namespace);
        g_free(op->name);
        g_clear_error(&op->error);
        if (op->volumes)
                g_ptr_array_unref(op->volumes);
        g_free(op);
}

static void class_state_free(ClassState *cs) {
        g_free(cs->error);
        g_free(cs);
}

/* --- helpers on claim documents --- */

static JsonObject *spec_of(JsonObject *doc) {
        return json_get_object(doc, "spec");
}

/* The claim's source, from dataSourceRef (which may name a namespace) or
 * dataSource; NULL when it is not a clone. */
static JsonObject *data_source(JsonObject *doc, const char **ret_namespace) {
        JsonObject *spec = spec_of(doc);
        JsonObject *ref = json_get_object(spec, "dataSourceRef");
        if (!ref)
                ref = json_get_object(spec, "dataSource");
        if (ret_namespace && ref)
                *ret_namespace = json_get_string(ref, "namespace");
        return ref;
}

/* --- the rules (pure) --- */

ClaimStep pvc_next_step(const ClaimFacts *f) {
        bool bound = streq_ptr(f->phase, "Bound");

        if (f->deleting)        /* pvc-protection: let go once nothing uses the claim */
                return f->protected && !f->in_use ? CLAIM_LET_GO : CLAIM_NOTHING;
        if (f->busy)
                return CLAIM_NOTHING;   /* the operation's end or the scan queues it again */
        if (!f->class_known)
                return bound ? CLAIM_NOTHING : CLAIM_CLASS_NOT_FOUND;
        if (!f->class_ready)
                return bound ? CLAIM_NOTHING : CLAIM_CLASS_NOT_READY;
        if (streq_ptr(f->phase, "Lost"))
                return CLAIM_NOTHING;
        if (!bound)
                return CLAIM_PROVISION;
        return f->requested > f->capacity ? CLAIM_EXPAND : CLAIM_NOTHING;
}

ClaimOutcome pvc_operation_outcome(bool expand, int r) {
        if (r == -ENOSPC)
                return (ClaimOutcome) { .phase = "Pending", .reason = "NotEnoughSpace", .retry = true };
        if (r < 0 && expand)
                return (ClaimOutcome) { .retry = true };
        if (r < 0)
                return (ClaimOutcome) { .phase = "Pending", .reason = "ProvisioningFailed", .retry = true };
        return (ClaimOutcome) { .phase = "Bound", .bind = !expand };
}

ClaimOutcome pvc_scan_outcome(const char *phase, bool deleting, bool volume_found) {
        bool bound = streq_ptr(phase, "Bound");
        if (volume_found && !bound && !deleting)
                return (ClaimOutcome) { .phase = "Bound", .bind = true };       /* adopted */
        if (!volume_found && bound)
                return (ClaimOutcome) { .phase = "Lost", .reason = "VolumeMissing" };
        return (ClaimOutcome) { 0 };
}

/* --- admission --- */

static int pvc_admit(Model *m, JsonObject *doc, JsonObject *old, GPtrArray *warnings, GError **error) {
        JsonObject *spec = spec_of(doc);
        JsonArray *modes = json_get_array(spec, "accessModes");
        const char *storage = pvc_requested_storage(doc);
        Services *s = model_services(m);

        if (!spec)
                return ev_error_set(error, EINVAL, "spec: Required value");
        int ra = datavolume_admit_pvc_annotations(doc, error);
        if (ra < 0)
                return ra;
        if (!modes || json_array_get_length(modes) == 0)
                return ev_error_set(error, EINVAL,
                                    "spec.accessModes: Required value: at least 1 access mode is required");
        if (!storage)
                return ev_error_set(error, EINVAL, "spec.resources.requests.storage: Required value");
        if (pvc_quantity_bytes(storage) == 0)
                return ev_error_set(error, EINVAL, "spec.resources.requests.storage: Invalid value: \"%s\": "
                                    "must be greater than zero", storage);
        if (!json_get_string(spec, "volumeMode"))
                json_object_set_string_member(spec, "volumeMode", "Filesystem");
        /* As Kubernetes' DefaultStorageClass admission: an unset class is
         * the default one. */
        if (!json_get_string(spec, "storageClassName") && s && s->backends->len > 0)
                json_object_set_string_member(spec, "storageClassName",
                                              ((StorageBackend *) s->backends->pdata[0])->config->name);

        JsonObject *ds = json_get_object(spec, "dataSource"), *dsr = json_get_object(spec, "dataSourceRef");
        for (int i = 0; i < 2; i++) {
                JsonObject *ref = i ? dsr : ds;
                const char *field = i ? "spec.dataSourceRef" : "spec.dataSource";
                if (!ref)
                        continue;
                const char *kind = json_get_string(ref, "kind");
                const char *group = json_get_string(ref, "apiGroup");
                bool snapshot = streq_ptr(kind, "VolumeSnapshot") && streq_ptr(group, SNAPSHOT_STORAGE_GROUP);
                if (!snapshot && (!streq_ptr(kind, "PersistentVolumeClaim") || !isempty(group)))
                        return ev_error_set(error, EOPNOTSUPP,
                                            "%s.kind: Unsupported value: \"%s%s%s\": supported values: "
                                            "\"PersistentVolumeClaim\", \"" SNAPSHOT_STORAGE_GROUP "/VolumeSnapshot\" "
                                            "(volume populators are not supported on edgevirt; use a DataVolume)",
                                            field, group ? group : "", group ? "/" : "", kind ? kind : "");
                if (snapshot && !isempty(json_get_string(ref, "namespace")))
                        return ev_error_set(error, EOPNOTSUPP,
                                            "%s.namespace: a volume snapshot is restored in its own namespace", field);
                if (isempty(json_get_string(ref, "name")))
                        return ev_error_set(error, EINVAL, "%s.name: Required value", field);
        }
        if (ds && dsr && (!streq_ptr(json_get_string(ds, "name"), json_get_string(dsr, "name")) ||
                          !isempty(json_get_string(dsr, "namespace"))))
                return ev_error_set(error, EINVAL,
                                    "spec.dataSource: Invalid value: must match spec.dataSourceRef when both are set");

        if (!old) {
                /* As Kubernetes' StorageObjectInUseProtection admission. */
                json_object_add_to_string_set(json_get_object(doc, "metadata"), "finalizers", PVC_PROTECTION);
                return 0;
        }

        /* Updates: only the storage request may change, and only up. */
        JsonObject *old_spec = spec_of(old);
        const char *old_storage = pvc_requested_storage(old);
        if (pvc_quantity_bytes(storage) < pvc_quantity_bytes(old_storage))
                return ev_error_set(error, EINVAL, "spec.resources.requests.storage: Forbidden: field can not be "
                                    "less than previous value (%s, requested %s)", old_storage, storage);
        if (!json_get_string(spec, "volumeName") && json_get_string(old_spec, "volumeName"))
                json_object_set_string_member(spec, "volumeName", json_get_string(old_spec, "volumeName"));
        /* a finalizer the controller owns is kept unless the claim is going */
        JsonObject *meta = json_get_object(doc, "metadata");
        JsonArray *old_f = json_get_array(json_get_object(old, "metadata"), "finalizers");
        if (json_array_has_string(old_f, PVC_PROTECTION) &&
            !json_get_string(json_get_object(old, "metadata"), "deletionTimestamp"))
                json_object_add_to_string_set(meta, "finalizers", PVC_PROTECTION);

        g_autoptr(JsonNode) a = json_node_init_object(json_node_alloc(), spec);
        g_autoptr(JsonNode) b = json_node_init_object(json_node_alloc(), old_spec);
        g_autoptr(JsonNode) ca = json_deep_copy(a), cb = json_deep_copy(b);
        JsonObject *res_a = json_get_object(json_node_get_object(ca), "resources");
        JsonObject *res_b = json_get_object(json_node_get_object(cb), "resources");
        if (json_get_object(res_a, "requests"))
                json_object_remove_member(json_get_object(res_a, "requests"), "storage");
        if (json_get_object(res_b, "requests"))
                json_object_remove_member(json_get_object(res_b, "requests"), "storage");
        if (!json_node_equal(ca, cb))
                return ev_error_set(error, EINVAL,
                                    "spec: Forbidden: spec is immutable after creation except resources.requests");
        return 0;
}

static void pvc_init_status(JsonObject *doc) {
        JsonObject *status = json_object_new();
        json_object_set_string_member(status, "phase", "Pending");
        json_object_set_object_member(doc, "status", status);
}

/* --- status writing --- */

typedef struct StatusUpdate {
        const char *phase;              /* NULL: keep */
        const char *reason;             /* Pending/Lost: why; NULL clears the condition */
        const char *message;
        uint64_t capacity;              /* 0: keep */
        bool bind;                      /* set spec.volumeName */
} StatusUpdate;

static void set_status(PvcController *c, Object *o, const StatusUpdate *u) {
        JsonNode *doc = json_deep_copy(object_doc(o));
        JsonObject *root = json_node_get_object(doc);
        JsonObject *status = json_ensure_object(root, "status");

        if (u->phase)
                json_object_set_string_member(status, "phase", u->phase);
        if (u->capacity) {
                g_autofree char *cap = pvc_format_bytes(u->capacity);
                json_object_set_string_member(json_ensure_object(status, "capacity"), "storage", cap);
                JsonArray *modes = json_get_array(spec_of(root), "accessModes");
                if (modes)
                        json_object_set_array_member(status, "accessModes", json_array_ref(modes));
        }
        if (u->bind) {
                g_autofree char *id = storage_volume_id(o->uid);
                json_object_set_string_member(spec_of(root), "volumeName", id);
        }
        if (u->reason) {
                JsonArray *conds = json_array_new();
                JsonObject *cond = json_object_new();
                g_autofree char *now = ev_timestamp_now();
                json_object_set_string_member(cond, "type", "Provisioned");
                json_object_set_string_member(cond, "status", "False");
                json_object_set_string_member(cond, "reason", u->reason);
                json_object_set_string_member(cond, "message", u->message ? u->message : "");
                /* keep the transition time while the reason stays */
                JsonArray *old = json_get_array(status, "conditions");
                JsonObject *prev = old && json_array_get_length(old) ? json_array_get_object_element(old, 0) : NULL;
                if (prev && streq_ptr(json_get_string(prev, "reason"), u->reason) &&
                    streq_ptr(json_get_string(prev, "message"), u->message))
                        json_object_set_string_member(cond, "lastTransitionTime",
                                                      json_get_string(prev, "lastTransitionTime"));
                else
                        json_object_set_string_member(cond, "lastTransitionTime", now);
                json_array_add_object_element(conds, cond);
                json_object_set_array_member(status, "conditions", conds);
        } else
                json_object_remove_member(status, "conditions");

        model_write_status(c->model, o, doc);
}

static void pending(PvcController *c, Object *o, const char *reason, const char *fmt, ...) G_GNUC_PRINTF(4, 5);
static void pending(PvcController *c, Object *o, const char *reason, const char *fmt, ...) {
        g_autofree char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        msg = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        set_status(c, o, &(StatusUpdate) { .phase = "Pending", .reason = reason, .message = msg });
        /* Space may appear, a class may get fixed, a source may bind: look again. */
        sd_event_source_set_enabled(c->retry, SD_EVENT_ONESHOT);
}

/* --- operations --- */

static void op_work(void *data) {
        PvcOp *op = data;
        StorageBackend *b = op->backend;
        g_autofree char *path = NULL;

        switch (op->kind) {
        case OP_SCAN:
                op->r = b->ops->prepare(b, &op->error);
                if (op->r >= 0)
                        op->r = b->ops->list(b, &op->volumes, &op->error);
                return;
        case OP_CREATE:
                op->r = b->ops->create(b, &op->req, &op->error);
                break;
        case OP_CLONE:
                op->r = b->ops->clone(b, op->src_id, &op->req, &op->error);
                break;
        case OP_COPY: {
                g_autofree char *src = op->src_backend->ops->path(op->src_backend, op->src_id);
                uint64_t src_size = 0;
                op->r = storage_path_size(src, &src_size, &op->error);
                if (op->r < 0)
                        break;
                VolumeRequest req = op->req;
                req.size = MAX(req.size, src_size);
                op->r = b->ops->create(b, &req, &op->error);
                if (op->r < 0)
                        break;
                path = b->ops->path(b, op->id);
                op->r = storage_sparse_copy(src, path, src_size, &op->error);
                if (op->r < 0) {
                        (void) b->ops->remove(b, op->id, NULL);   /* never a half-copied volume */
                        return;
                }
                break;
        }
        case OP_EXPAND:
                op->r = b->ops->expand(b, op->id, op->req.size, &op->error);
                break;
        case OP_REMOVE:
                op->r = b->ops->remove(b, op->id, &op->error);
                return;
        }
        if (op->r >= 0) {
                g_clear_pointer(&path, g_free);
                path = b->ops->path(b, op->id);
                op->r = storage_path_size(path, &op->size, &op->error);
        }
}

static void op_done(void *data);

static void submit(PvcController *c, PvcOp *op) {
        op->c = c;
        if (op->uid)
                g_hash_table_insert(c->ops, op->uid, op);
        worker_submit(c->services->worker, op_work, op_done, op);
}

static PvcOp *op_for(PvcController *c, OpKind kind, Object *o, ClassState *cs) {
        PvcOp *op = g_new0(PvcOp, 1);
        op->kind = kind;
        op->uid = g_strdup(o->uid);
        op->class_name = g_strdup(cs->backend->config->name);
        op->backend = cs->backend;
        op->id = storage_volume_id(o->uid);
        op->namespace = g_strdup(o->namespace);
        op->name = g_strdup(o->name);
        op->req = (VolumeRequest) {
                .id = op->id, .size = pvc_requested_bytes(o), .namespace = op->namespace, .name = op->name,
                .uid = op->uid,
        };
        return op;
}

static void enqueue_pending(PvcController *c) {
        g_autoptr(GPtrArray) all = model_list(c->model, &kind_pvc, NULL, NULL);
        for (guint i = 0; i < all->len; i++) {
                Object *o = all->pdata[i];
                if (streq_ptr(object_status_string(o, "phase"), "Pending") || object_is_deleting(o))
                        model_enqueue(c->model, o);
        }
}

/* What a message about a volume is filed under: its claim while it
 * exists, else its storage class (NULL: neither). */
static Object *volume_subject(PvcController *c, const char *uid, const char *class_name) {
        Object *o = uid ? model_find_uid(c->model, uid) : NULL;

        if (!o && class_name && model_get(c->model, &kind_storageclass, "", class_name, &o, NULL) < 0)
                o = NULL;
        return o;
}

static void scan_done(PvcController *c, PvcOp *op) {
        ClassState *cs = g_hash_table_lookup(c->classes, op->class_name);
        g_autoptr(GHashTable) found = g_hash_table_new(g_str_hash, g_str_equal);

        c->scans_pending--;
        g_clear_pointer(&cs->error, g_free);
        if (op->r < 0) {
                cs->error = g_strdup(op->error->message);
                log_object(G_LOG_LEVEL_WARNING, volume_subject(c, NULL, op->class_name),
                           "storage class %s is not usable: %s", op->class_name, cs->error);
        } else {
                cs->scanned = true;
                /* Adopt volumes whose claim exists; remove those whose claim
                 * is gone (they are ours: named and tagged by us). */
                for (guint i = 0; i < op->volumes->len; i++) {
                        VolumeInfo *v = op->volumes->pdata[i];
                        Object *o = v->uid ? model_find_uid(c->model, v->uid) : NULL;
                        if (o && o->kind == &kind_pvc && streq_ptr(pvc_storage_class(o), op->class_name)) {
                                ClaimOutcome out = pvc_scan_outcome(object_status_string(o, "phase"),
                                                                    object_is_deleting(o), true);
                                g_hash_table_add(found, o->uid);
                                if (out.phase) {
                                        log_object(G_LOG_LEVEL_MESSAGE, o, "adopting volume %s", v->id);
                                        set_status(c, o, &(StatusUpdate) { .phase = out.phase, .capacity = v->size,
                                                                           .bind = out.bind });
                                }
                                continue;
                        }
                        log_object(G_LOG_LEVEL_MESSAGE, volume_subject(c, NULL, op->class_name),
                                   "storage class %s: removing volume %s, its claim %s/%s is gone", op->class_name,
                                   v->id, v->namespace ? v->namespace : "?", v->name ? v->name : "?");
                        PvcOp *rm = g_new0(PvcOp, 1);
                        rm->kind = OP_REMOVE;
                        rm->class_name = g_strdup(op->class_name);
                        rm->backend = cs->backend;
                        rm->id = g_strdup(v->id);
                        submit(c, rm);
                }
                /* Bound claims of this class whose volume is missing are Lost. */
                g_autoptr(GPtrArray) all = model_list(c->model, &kind_pvc, NULL, NULL);
                for (guint i = 0; i < all->len; i++) {
                        Object *o = all->pdata[i];
                        if (!streq_ptr(pvc_storage_class(o), op->class_name) || g_hash_table_contains(found, o->uid))
                                continue;
                        ClaimOutcome out = pvc_scan_outcome(object_status_string(o, "phase"), object_is_deleting(o),
                                                            false);
                        if (out.phase) {
                                log_object(G_LOG_LEVEL_WARNING, o, "its volume is missing");
                                set_status(c, o, &(StatusUpdate) {
                                        .phase = out.phase, .reason = out.reason,
                                        .message = "the volume of this claim is missing from its storage class" });
                        }
                }
        }
        if (c->scans_pending == 0) {
                g_autoptr(GPtrArray) all = model_list(c->model, &kind_pvc, NULL, NULL);
                for (guint i = 0; i < all->len; i++)
                        model_enqueue(c->model, all->pdata[i]);
        }
}

static void op_done(void *data) {
        PvcOp *op = data;
        PvcController *c = op->c;
        Object *o;

        if (op->uid && g_hash_table_lookup(c->ops, op->uid) == op)
                g_hash_table_remove(c->ops, op->uid);
        if (op->kind == OP_SCAN) {
                scan_done(c, op);
                op_free(op);
                return;
        }
        o = op->uid ? model_find_uid(c->model, op->uid) : NULL;
        if (op->src_uid) {
                Object *src = model_find_uid(c->model, op->src_uid);
                if (src)
                        model_enqueue(c->model, src);   /* it may wait to be deleted */
        }

        if (op->kind == OP_REMOVE) {
                if (op->r < 0) {
                        log_object(G_LOG_LEVEL_WARNING, volume_subject(c, op->uid, op->class_name),
                                   "removing volume %s failed: %s", op->id, op->error->message);
                        sd_event_source_set_enabled(c->retry, SD_EVENT_ONESHOT);
                } else {
                        if (op->uid)
                                g_hash_table_add(c->removed, g_strdup(op->uid));
                        enqueue_pending(c);     /* space was freed */
                }
                if (o)
                        model_enqueue(c->model, o);
                op_free(op);
                return;
        }
        if (!o || object_is_deleting(o)) {
                /* The claim went while its volume was made: finalize frees it. */
                if (o)
                        model_enqueue(c->model, o);
                op_free(op);
                return;
        }
        ClaimOutcome out = pvc_operation_outcome(op->kind == OP_EXPAND, op->r);
        if (out.reason)
                pending(c, o, out.reason, "%s", op->error->message);
        else if (op->r < 0)
                log_object(G_LOG_LEVEL_WARNING, o, "expanding failed: %s", op->error->message);
        else
                set_status(c, o, &(StatusUpdate) { .phase = out.phase, .capacity = op->size, .bind = out.bind });
        if (out.retry)
                sd_event_source_set_enabled(c->retry, SD_EVENT_ONESHOT);
        op_free(op);
}

/* --- reconcile --- */

/* Is a claim being made by copying from the volume of the object with
 * this uid (a claim, a snapshot content)? */
static bool source_in_use(void *data, const char *uid) {
        PvcController *c = data;
        GHashTableIter it;
        PvcOp *op;
        g_hash_table_iter_init(&it, c->ops);
        while (g_hash_table_iter_next(&it, NULL, (void **) &op))
                if (streq_ptr(op->src_uid, uid))
                        return true;
        return false;
}

/* Registered users (imports writing it, instances running on it), or a
 * clone reading it. */
static bool in_use(PvcController *c, Object *pvc) {
        return services_pvc_users(c->services, pvc->uid) > 0 || source_in_use(c, pvc->uid);
}

/* A claim made from a volume snapshot (a VirtualMachineSnapshot's copy). */
static int provision_from_snapshot(PvcController *c, Object *o, ClassState *cs, const char *name) {
        g_autoptr(GError) e = NULL;
        g_autofree char *id = NULL;
        const char *class = NULL, *content_uid = NULL;
        int r = snapshot_volume_source(c->model, o->namespace, name, &id, &class, &content_uid, &e);

        if (r < 0) {
                pending(c, o, "WaitingForSource", "%s", e->message);
                return 0;
        }
        ClassState *src_cs = g_hash_table_lookup(c->classes, class ? class : "");
        if (!src_cs) {
                pending(c, o, "WaitingForSource", "volume snapshot %s: its storage class %s is not usable", name,
                        class ? class : "");
                return 0;
        }
        PvcOp *op = op_for(c, src_cs == cs ? OP_CLONE : OP_COPY, o, cs);
        op->src_backend = src_cs->backend;
        op->src_id = g_steal_pointer(&id);
        op->src_uid = g_strdup(content_uid);
        submit(c, op);
        return 0;
}

static int start_provisioning(PvcController *c, Object *o, ClassState *cs) {
        JsonObject *doc = object_root(o);
        const char *src_ns = NULL;
        JsonObject *src_ref = data_source(doc, &src_ns);
        PvcOp *op;

        if (!src_ref) {
                submit(c, op_for(c, OP_CREATE, o, cs));
                return 0;
        }
        if (streq_ptr(json_get_string(src_ref, "kind"), "VolumeSnapshot"))
                return provision_from_snapshot(c, o, cs, json_get_string(src_ref, "name"));
        const char *src_name = json_get_string(src_ref, "name");
        Object *src = NULL;
        g_autoptr(GError) e = NULL;
        if (!src_ns)
                src_ns = o->namespace;
        if (model_get(c->model, &kind_pvc, src_ns, src_name, &src, &e) < 0) {
                pending(c, o, "WaitingForSource", "source PVC %s/%s not found", src_ns, src_name);
                return 0;
        }
        if (!streq_ptr(object_status_string(src, "phase"), "Bound") || object_is_deleting(src)) {
                pending(c, o, "WaitingForSource", "source PVC %s/%s is not Bound", src_ns, src_name);
                return 0;
        }
        if (services_pvc_users(c->services, src->uid) > 0) {
                pending(c, o, "WaitingForSource", "source PVC %s/%s is in use (being written)", src_ns, src_name);
                return 0;
        }
        if (pvc_requested_bytes(o) < pvc_capacity_bytes(src)) {
                g_autofree char *have = pvc_format_bytes(pvc_capacity_bytes(src));
                pending(c, o, "ProvisioningFailed", "requested %s is smaller than the source PVC %s/%s (%s)",
                        pvc_requested_storage(doc), src_ns, src_name, have);
                return 0;
        }
        ClassState *src_cs = g_hash_table_lookup(c->classes, pvc_storage_class(src) ? pvc_storage_class(src) : "");
        if (!src_cs) {
                pending(c, o, "WaitingForSource", "source PVC %s/%s has no usable storage class", src_ns, src_name);
                return 0;
        }
        op = op_for(c, src_cs == cs ? OP_CLONE : OP_COPY, o, cs);
        op->src_backend = src_cs->backend;
        op->src_id = storage_volume_id(src->uid);
        op->src_uid = g_strdup(src->uid);
        submit(c, op);
        return 0;
}

static int pvc_reconcile(Model *m, Object *o) {
        PvcController *c = model_services(m)->pvc;
        const char *class_name = pvc_storage_class(o);
        ClassState *cs = class_name ? g_hash_table_lookup(c->classes, class_name) : NULL;
        g_autoptr(GError) e = NULL;
        ClaimFacts facts = {
                .phase = object_status_string(o, "phase"),
                .deleting = object_is_deleting(o),
                .protected = json_array_has_string(json_get_array(object_metadata(o), "finalizers"), PVC_PROTECTION),
                .in_use = in_use(c, o),
                .busy = g_hash_table_contains(c->ops, o->uid) || c->scans_pending > 0,
                .class_known = cs != NULL,
                .class_ready = cs && !cs->error,
                .requested = pvc_requested_bytes(o),
                .capacity = pvc_capacity_bytes(o),
        };

        switch (pvc_next_step(&facts)) {
        case CLAIM_NOTHING:
                return 0;
        case CLAIM_LET_GO: {
                JsonNode *doc = json_deep_copy(object_doc(o));
                json_array_remove_string(json_get_array(json_get_object(json_node_get_object(doc), "metadata"),
                                                        "finalizers"), PVC_PROTECTION);
                return model_update(m, o, doc, &e);
        }
        case CLAIM_CLASS_NOT_FOUND:
                pending(c, o, "StorageClassNotFound", "storageclass.storage.k8s.io \"%s\" not found",
                        class_name ? class_name : "");
                return 0;
        case CLAIM_CLASS_NOT_READY:
                pending(c, o, "StorageClassNotReady", "storage class %s: %s", class_name, cs->error);
                return 0;
        case CLAIM_PROVISION:
                return start_provisioning(c, o, cs);
        case CLAIM_EXPAND:
                submit(c, op_for(c, OP_EXPAND, o, cs));
                return 0;
        }
        return 0;
}

/* After the finalizers are gone: free the volume, then let the claim go. */
static int pvc_finalize(Model *m, Object *o) {
        PvcController *c = model_services(m)->pvc;
        ClassState *cs;

        if (g_hash_table_contains(c->ops, o->uid))
                return 0;
        if (g_hash_table_remove(c->removed, o->uid))
                return 1;
        cs = pvc_storage_class(o) ? g_hash_table_lookup(c->classes, pvc_storage_class(o)) : NULL;
        if (!cs || (!cs->scanned && cs->error))
                return 1;       /* no class, nothing of ours to free */
        submit(c, op_for(c, OP_REMOVE, o, cs));
        return 0;
}

/* A claim lost a user: a claim waiting to be deleted may go now, clones
 * of it may start. */
static void released(void *data, const char *claim_uid) {
        PvcController *c = data;
        Object *o = model_find_uid(c->model, claim_uid);

        if (o) {
                model_enqueue(c->model, o);
                enqueue_pending(c);
        }
}

const KindInfo kind_pvc = {
        .kind = "PersistentVolumeClaim",
        .group = "",
        .versions = (const char *const[]) { "v1", NULL },
        .plural = "persistentvolumeclaims",
        .short_names = (const char *const[]) { "pvc", NULL },
        .path_segment = "pvc",
        .schema = "io.k8s.api.core.v1.PersistentVolumeClaim",
        .namespaced = true,
        .admit = pvc_admit,
        .init_status = pvc_init_status,
        .reconcile = pvc_reconcile,
        .finalize = pvc_finalize,
};

/* Prepare a class and list its volumes (scan_done takes it from there). */
static void start_scan(PvcController *c, ClassState *cs) {
        PvcOp *op = g_new0(PvcOp, 1);
        op->kind = OP_SCAN;
        op->class_name = g_strdup(cs->backend->config->name);
        op->backend = cs->backend;
        c->scans_pending++;
        submit(c, op);
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        PvcController *c = userdata;
        GHashTableIter it;
        ClassState *cs;

        /* Classes that failed to prepare get another chance. */
        g_hash_table_iter_init(&it, c->classes);
        while (g_hash_table_iter_next(&it, NULL, (void **) &cs))
                if (cs->error && c->scans_pending == 0)
                        start_scan(c, cs);
        enqueue_pending(c);
        sd_event_source_set_time_relative(s, RETRY_USEC);
        return 0;
}

int pvc_controller_new(Model *m, Services *s, PvcController **ret) {
        PvcController *c = g_new0(PvcController, 1);
        int r;

        c->model = m;
        c->services = s;
        c->classes = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify) class_state_free);
        c->ops = g_hash_table_new(g_str_hash, g_str_equal);
        c->removed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        r = sd_event_add_time_relative(s->event, &c->retry, CLOCK_MONOTONIC, RETRY_USEC, 0, on_retry, c);
        if (r < 0) {
                pvc_controller_free(c);
                return r;
        }
        sd_event_source_set_enabled(c->retry, SD_EVENT_OFF);

        for (guint i = 0; i < s->backends->len; i++) {
                StorageBackend *b = s->backends->pdata[i];
                ClassState *cs = g_new0(ClassState, 1);
                cs->backend = b;
                g_hash_table_insert(c->classes, b->config->name, cs);
                start_scan(c, cs);
        }
        s->claims = (ClaimOps) { .data = c, .source_in_use = source_in_use, .released = released };
        *ret = c;
        return 0;
}

PvcController *pvc_controller_free(PvcController *c) {
        if (!c)
                return NULL;
        c->services->claims = (ClaimOps) { 0 };
        sd_event_source_disable_unref(c->retry);
        g_hash_table_unref(c->classes);
        g_hash_table_unref(c->ops);
        g_hash_table_unref(c->removed);
        g_free(c);
        return NULL;
}
