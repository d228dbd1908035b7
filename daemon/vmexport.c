/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VirtualMachineExport (export.kubevirt.io), as KubeVirt's export
 * controller, served through D-Bus instead of an export server behind an
 * Ingress (docs/export.md):
 *
 * - spec.source: a PersistentVolumeClaim (one volume), a
 *   VirtualMachineSnapshot (its copies of the VM's claims) or a
 *   VirtualMachine (its claims when it is stopped; when it runs, a
 *   VirtualMachineSnapshot vmexport-<export> owned by the export, the
 *   guest frozen through its agent, and that snapshot's copies).
 *   Volumes are named after their claims, as KubeVirt names them.
 * - The token: spec.tokenSecretRef's Secret, else export-token-<export>
 *   made with a random token, owned by the export; status.tokenSecretRef
 *   names it.  A download must bring it.
 * - Each volume's sha256 (of its raw disk) is taken before the export is
 *   Ready and kept in the annotation checksum.edgevirt.io/<volume> (the
 *   status has no field for it); a download checks the disk still hashes
 *   to it.
 * - status.links.internal: per volume the formats raw, gzip and qcow2 at
 *   edgevirt:// URLs naming the export and volume, the manifests "all";
 *   cert is "" (no TLS endpoint: the bytes come through a descriptor).
 * - ttlDuration (default 2h) from creationTimestamp: then the export is
 *   deleted, with what it owns (status.ttlExpirationTime). */
#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include "imagecache-archive.h"
#include "json-util.h"
#include "log.h"
#include "pvc-status.h"
#include "secret.h"
#include "services.h"
#include "snapshot-status.h"
#include "storage.h"
#include "util.h"
#include "validate.h"
#include "vm-status.h"
#include "vmexport.h"
#include "vmi-status.h"

#define EXPORT_GROUP "export.kubevirt.io"
#define EXPORT_API EXPORT_GROUP "/v1beta1"
#define DEFAULT_TTL_USEC (INT64_C(2) * 3600 * G_USEC_PER_SEC)
#define RETRY_USEC (2 * G_USEC_PER_SEC)
#define URL_BASE "edgevirt://localhost/namespaces"

const char *const vmexport_formats[] = { "raw", "gzip", "qcow2", NULL };
static const char *const format_files[] = { "disk.img", "disk.img.gz", "disk.qcow2", NULL };

/* uid → volumes still being hashed, of exports whose checksums run */
static GHashTable *hashing;
/* uid → why hashing failed (HashError), shown in the status until it is tried again */
typedef struct HashError {
        char *message;
        gint64 retry_at;                /* monotonic */
} HashError;
static GHashTable *hash_errors;

static void hash_error_free(void *p) {
        HashError *he = p;
        g_free(he->message);
        g_free(he);
}
/* claim uid → downloads reading it in place */
static GHashTable *held;

static JsonObject *spec_of(Object *x) {
        return json_get_object(object_root(x), "spec");
}

static JsonObject *source_of(Object *x) {
        return json_get_object(spec_of(x), "source");
}

/* Whether now + ttl is a time (GDateTime ends with the year 9999); creation
 * is now or shortly before. */
static bool expiry_representable(int64_t ttl) {
        g_autoptr(GDateTime) now = g_date_time_new_now_utc();
        g_autoptr(GDateTime) at = g_date_time_add(now, ttl);
        return at != NULL;
}

static int vmexport_admit(Model *m, JsonObject *doc, JsonObject *old, GPtrArray *warnings, GError **error) {
        JsonObject *spec = json_get_object(doc, "spec"), *source = json_get_object(spec, "source");
        const char *kind = json_get_string(source, "kind"), *group = json_get_string(source, "apiGroup") ?: "";
        const char *ttl = json_get_string(spec, "ttlDuration"), *token = json_get_string(spec, "tokenSecretRef");
        static const char *const groups[][2] = { { "VirtualMachine", "kubevirt.io" },
                                                 { "VirtualMachineSnapshot", "snapshot.kubevirt.io" },
                                                 { "PersistentVolumeClaim", "" } };
        g_autoptr(GError) e = NULL;
        size_t i;

        if (old && !json_equal(json_object_get_member(doc, "spec"), json_object_get_member(old, "spec")))
                return ev_error_set(error, EINVAL, "spec: Forbidden: spec is immutable after creation");
        for (i = 0; i < G_N_ELEMENTS(groups) && !streq_ptr(kind, groups[i][0]); i++)
                ;
        if (i == G_N_ELEMENTS(groups))
                return ev_error_set(error, EINVAL, "spec.source.kind: Unsupported value: \"%s\": supported values: "
                                    "\"VirtualMachine\", \"VirtualMachineSnapshot\", \"PersistentVolumeClaim\"",
                                    kind ?: "");
        if (!streq(group, groups[i][1]))
                return ev_error_set(error, EINVAL, "spec.source.apiGroup: Invalid value: \"%s\": a %s is in the "
                                    "API group \"%s\"", group, kind, groups[i][1]);
        if (isempty(json_get_string(source, "name")))
                return ev_error_set(error, EINVAL, "spec.source.name: Required value");
        if (ttl && duration_usec(ttl) < 0)
                return ev_error_set(error, EINVAL, "spec.ttlDuration: Invalid value: \"%s\": not a duration (2h0m0s)",
                                    ttl);
        if (ttl && !expiry_representable(duration_usec(ttl)))
                return ev_error_set(error, EINVAL, "spec.ttlDuration: Invalid value: \"%s\": the export would "
                                    "expire after the year 9999", ttl);
        if (token && validate_dns1123_subdomain(token, &e) < 0)
                return ev_error_set(error, EINVAL, "spec.tokenSecretRef: Invalid value: \"%s\": %s", token,
                                    e->message);
        return 0;
}

static void vmexport_init_status(JsonObject *doc) {
        JsonObject *status = json_object_new();
        json_object_set_string_member(status, "phase", "Pending");
        json_object_set_object_member(doc, "status", status);
}

/* --- the source's volumes --- */

typedef struct Volumes {
        GPtrArray *names;               /* claims' names */
        GPtrArray *paths;
        GPtrArray *claims;              /* the claims' uids, NULL for snapshot copies */
        GPtrArray *sources;             /* what each checksum is of: the claim's or snapshot content's uid */
        bool no_snapshot;               /* a running VM: say so, take no snapshot (a download's look) */
        const char *vm;                 /* the VM's name, for a VM or a snapshot of one */
        const char *reason;             /* not yet: why (a condition's reason) */
} Volumes;

static void volumes_clear(Volumes *v) {
        g_clear_pointer(&v->names, g_ptr_array_unref);
        g_clear_pointer(&v->paths, g_ptr_array_unref);
        g_clear_pointer(&v->claims, g_ptr_array_unref);
        g_clear_pointer(&v->sources, g_ptr_array_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Volumes, volumes_clear)

static void volumes_add(Volumes *v, const char *name, char *path, const char *claim_uid, const char *source) {
        g_ptr_array_add(v->names, g_strdup(name));
        g_ptr_array_add(v->paths, path);
        g_ptr_array_add(v->claims, g_strdup(claim_uid));
        g_ptr_array_add(v->sources, g_strdup(source));
}

static char *snapshot_of(Object *x) {
        return g_strdup_printf("vmexport-%s", x->name);
}

/* A claim's own volume, when nothing else holds it. */
static int claim_volume(Model *m, Object *x, const char *name, Volumes *v, GError **error) {
        Object *pvc = NULL;
        if (model_get(m, &kind_pvc, x->namespace, name, &pvc, NULL) < 0) {
                v->reason = "PVCNotFound";
                return ev_error_set(error, EAGAIN, "PersistentVolumeClaim %s/%s not found", x->namespace, name);
        }
        if (!streq_ptr(object_status_string(pvc, "phase"), "Bound")) {
                v->reason = "PVCPending";
                return ev_error_set(error, EAGAIN, "PersistentVolumeClaim %s/%s is not Bound yet", x->namespace,
                                    name);
        }
        unsigned ours = held ? GPOINTER_TO_UINT(g_hash_table_lookup(held, pvc->uid)) : 0;
        if (services_pvc_users(model_services(m), pvc->uid) > ours) {
                v->reason = "InUse";
                return ev_error_set(error, EAGAIN, "PersistentVolumeClaim %s/%s is in use (a running VM or an "
                                    "import writes it)", x->namespace, name);
        }
        volumes_add(v, name, pvc_volume_path(m, pvc), pvc->uid, pvc->uid);
        return 0;
}

/* Every copy a ready snapshot holds. */
static int snapshot_volumes(Model *m, Object *x, const char *snapshot, Volumes *v, GError **error) {
        Object *snap = NULL, *content = NULL;
        if (model_get(m, &kind_vmsnapshot, x->namespace, snapshot, &snap, NULL) < 0) {
                v->reason = "SnapshotNotFound";
                return ev_error_set(error, EAGAIN, "VirtualMachineSnapshot %s/%s not found", x->namespace, snapshot);
        }
        JsonObject *status = json_get_object(object_root(snap), "status");
        v->vm = json_get_string(json_get_object(json_get_object(object_root(snap), "spec"), "source"), "name");
        if (streq_ptr(json_get_string(status, "phase"), "Failed")) {
                v->reason = "SnapshotFailed";
                return ev_error_set(error, EAGAIN, "VirtualMachineSnapshot %s/%s failed", x->namespace, snapshot);
        }
        const char *content_name = json_get_string(status, "virtualMachineSnapshotContentName");
        if (!json_get_bool(status, "readyToUse", false) || !content_name ||
            model_get(m, &kind_vmsnapshot_content, x->namespace, content_name, &content, NULL) < 0) {
                v->reason = "SnapshotInProgress";
                return ev_error_set(error, EAGAIN, "VirtualMachineSnapshot %s/%s is not ready to use yet",
                                    x->namespace, snapshot);
        }
        JsonArray *backups = json_get_array(json_get_object(object_root(content), "spec"), "volumeBackups");
        for (guint i = 0; backups && i < json_array_get_length(backups); i++) {
                JsonObject *b = json_array_get_object_element(backups, i);
                const char *claim = json_get_string(json_get_object(json_get_object(b, "persistentVolumeClaim"),
                                                                    "metadata"), "name");
                g_autofree char *id = NULL;
                const char *class = NULL;
                StorageBackend *backend;
                if (!claim)
                        continue;
                if (snapshot_claim_copy(m, x->namespace, snapshot, claim, &id, &class, error) < 0 ||
                    !(backend = services_backend(model_services(m), class))) {
                        v->reason = "SnapshotInProgress";
                        g_clear_error(error);
                        return ev_error_set(error, EAGAIN, "the copy of claim %s in VirtualMachineSnapshot %s/%s "
                                            "cannot be read", claim, x->namespace, snapshot);
                }
                volumes_add(v, claim, backend->ops->path(backend, id), NULL, content->uid);
        }
        return 0;
}

/* A running VM is exported from a snapshot the export owns: made here. */
static int take_snapshot(Model *m, Object *x, const char *vm, Volumes *v, GError **error) {
        g_autofree char *name = snapshot_of(x);
        g_autoptr(JsonObject) doc = json_object_new();
        JsonObject *meta = json_object_new(), *spec = json_object_new(), *src = json_object_new();
        JsonObject *labels = json_object_new();
        JsonArray *owners = json_array_new();

        json_object_set_string_member(doc, "apiVersion", "snapshot.kubevirt.io/v1beta1");
        json_object_set_string_member(doc, "kind", "VirtualMachineSnapshot");
        json_object_set_string_member(meta, "name", name);
        json_object_set_string_member(meta, "namespace", x->namespace);
        json_object_set_string_member(labels, "edgevirt.io/vmexport", x->name);
        json_object_set_object_member(meta, "labels", labels);
        json_array_add_object_element(owners, object_owner_reference(x, EXPORT_API));
        json_object_set_array_member(meta, "ownerReferences", owners);
        json_object_set_object_member(doc, "metadata", meta);
        json_object_set_string_member(src, "apiGroup", "kubevirt.io");
        json_object_set_string_member(src, "kind", "VirtualMachine");
        json_object_set_string_member(src, "name", vm);
        json_object_set_object_member(spec, "source", src);
        json_object_set_object_member(doc, "spec", spec);
        if (model_apply_object(m, doc, false, error) < 0) {
                ev_error_prefix(error, "cannot take VirtualMachineSnapshot %s of the running VM", name);
                return -EIO;
        }
        log_object(G_LOG_LEVEL_INFO, x, "VM %s runs: exporting it from snapshot %s", vm, name);
        v->reason = "SnapshotInProgress";
        return ev_error_set(error, EAGAIN, "VM %s runs: taking VirtualMachineSnapshot %s/%s to export it from",
                            vm, x->namespace, name);
}

static int vm_volumes(Model *m, Object *x, const char *name, Volumes *v, GError **error) {
        g_autofree char *snap = snapshot_of(x);
        Object *vm = NULL, *owned = NULL, *vmi;

        if (model_get(m, &kind_vmsnapshot, x->namespace, snap, &owned, NULL) == 0 && object_owned_by(owned, x))
                return snapshot_volumes(m, x, snap, v, error);
        if (model_get(m, &kind_vm, x->namespace, name, &vm, NULL) < 0) {
                v->reason = "VMNotFound";
                return ev_error_set(error, EAGAIN, "VirtualMachine %s/%s not found", x->namespace, name);
        }
        v->vm = vm->name;
        if ((vmi = vm_instance(m, vm)) && !vmi_is_finished(vmi) && v->no_snapshot) {
                v->reason = "SnapshotInProgress";
                return ev_error_set(error, EAGAIN, "VM %s runs: the export is to be read from a "
                                    "VirtualMachineSnapshot of it, not taken yet; wait for the export to be Ready "
                                    "again", vm->name);
        }
        if (vmi && !vmi_is_finished(vmi))
                return take_snapshot(m, x, vm->name, v, error);
        JsonArray *volumes = json_get_array(json_get_object(json_get_object(json_get_object(object_root(vm), "spec"),
                                                                             "template"), "spec"), "volumes");
        for (guint i = 0; volumes && i < json_array_get_length(volumes); i++) {
                JsonObject *vol = json_array_get_object_element(volumes, i);
                const char *claim = json_get_string(json_get_object(vol, "persistentVolumeClaim"), "claimName") ?:
                                    json_get_string(json_get_object(vol, "dataVolume"), "name");
                if (claim && claim_volume(m, x, claim, v, error) < 0)
                        return -EAGAIN;
        }
        return 0;
}

/* The source's volumes, or -EAGAIN with error and v->reason saying why not yet. */
static int source_volumes(Model *m, Object *x, Volumes *v, GError **error) {
        const char *kind = json_get_string(source_of(x), "kind"), *name = json_get_string(source_of(x), "name");
        int r;

        v->names = g_ptr_array_new_with_free_func(g_free);
        v->paths = g_ptr_array_new_with_free_func(g_free);
        v->claims = g_ptr_array_new_with_free_func(g_free);
        v->sources = g_ptr_array_new_with_free_func(g_free);
        if (streq_ptr(kind, "PersistentVolumeClaim"))
                r = claim_volume(m, x, name, v, error);
        else if (streq_ptr(kind, "VirtualMachineSnapshot"))
                r = snapshot_volumes(m, x, name, v, error);
        else
                r = vm_volumes(m, x, name, v, error);
        if (r == 0 && v->names->len == 0) {
                v->reason = "NoVolumes";
                return ev_error_set(error, EAGAIN, "%s %s/%s has no volumes to export", kind, x->namespace, name);
        }
        return r < 0 ? -EAGAIN : 0;
}

void vmexport_hold_claim(Model *m, const char *uid, bool hold) {
        Services *s = model_services(m);
        unsigned n;

        if (!held)
                held = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        n = GPOINTER_TO_UINT(g_hash_table_lookup(held, uid));
        if (!hold && n == 0)
                return;
        n = hold ? n + 1 : n - 1;
        if (n)
                g_hash_table_insert(held, g_strdup(uid), GUINT_TO_POINTER(n));
        else
                g_hash_table_remove(held, uid);
        services_pvc_use(s, uid, hold);
        services_pvc_lock(s, uid, hold);
        if (!hold)
                model_enqueue_kind(m, &kind_vmi);       /* a guest may wait for it */
}

/* --- the token --- */

static char *token_secret_name(Object *x) {
        const char *given = json_get_string(spec_of(x), "tokenSecretRef");
        return given ? g_strdup(given) : g_strdup_printf("export-token-%s", x->name);
}

static int ensure_token(Model *m, Object *x, const char *name, GError **error) {
        Object *secret = NULL;
        unsigned char raw[24];

        if (model_get(m, &kind_secret, x->namespace, name, &secret, NULL) == 0)
                return 0;
        if (json_get_string(spec_of(x), "tokenSecretRef"))
                return ev_error_set(error, ENOENT, "spec.tokenSecretRef: Secret %s/%s not found", x->namespace, name);
        if (getrandom(raw, sizeof raw, 0) != sizeof raw)
                return ev_error_set(error, EIO, "cannot make a token: %s", g_strerror(errno));
        g_autoptr(GString) hex = g_string_new(NULL);
        for (size_t i = 0; i < sizeof raw; i++)
                g_string_append_printf(hex, "%02x", raw[i]);
        g_autofree char *b64 = g_base64_encode((const guchar *) hex->str, hex->len);
        g_autoptr(JsonObject) doc = json_object_new();
        JsonObject *meta = json_object_new(), *data = json_object_new();
        JsonArray *owners = json_array_new();
        json_object_set_string_member(doc, "apiVersion", "v1");
        json_object_set_string_member(doc, "kind", "Secret");
        json_object_set_string_member(meta, "name", name);
        json_object_set_string_member(meta, "namespace", x->namespace);
        json_array_add_object_element(owners, object_owner_reference(x, EXPORT_API));
        json_object_set_array_member(meta, "ownerReferences", owners);
        json_object_set_object_member(doc, "metadata", meta);
        json_object_set_string_member(data, VMEXPORT_TOKEN_KEY, b64);
        json_object_set_object_member(doc, "data", data);
        if (model_apply_object(m, doc, false, error) < 0) {
                ev_error_prefix(error, "cannot make the token Secret %s", name);
                return -EIO;
        }
        return 0;
}

/* Constant-time: the SHA-256 digests of both compared with every byte
 * looked at, so neither the length nor the first difference shows in the time. */
static bool token_equal(const char *token, const char *want, size_t n) {
        guint8 a[32], b[32];
        gsize la = sizeof a, lb = sizeof b;
        g_autoptr(GChecksum) ca = g_checksum_new(G_CHECKSUM_SHA256);
        g_autoptr(GChecksum) cb = g_checksum_new(G_CHECKSUM_SHA256);
        unsigned diff = 0;

        g_checksum_update(ca, (const guchar *) token, strlen(token));
        g_checksum_update(cb, (const guchar *) want, n);
        g_checksum_get_digest(ca, a, &la);
        g_checksum_get_digest(cb, b, &lb);
        for (size_t i = 0; i < sizeof a; i++)
                diff |= a[i] ^ b[i];
        return diff == 0;
}

int vmexport_check_token(Model *m, Object *x, const char *token, GError **error) {
        g_autofree char *name = g_strdup(object_status_string(x, "tokenSecretRef") ?: "");
        g_autoptr(GBytes) want = isempty(name) ? NULL : secret_value(m, x->namespace, name, VMEXPORT_TOKEN_KEY,
                                                                     error);
        if (!want && error && *error)
                return -ENOENT;
        gsize n = 0;
        const char *w = want ? g_bytes_get_data(want, &n) : NULL;
        if (isempty(token) || !w || !token_equal(token, w, n))
                return ev_error_set(error, EACCES, "token: not the token of VirtualMachineExport %s/%s (the key "
                                    "\"" VMEXPORT_TOKEN_KEY "\" of Secret %s)", x->namespace, x->name, name);
        return 0;
}

/* --- checksums --- */

typedef struct Hash {
        Model *m;
        char *uid;
        char *volume;
        char *source;                   /* the uid of what is hashed (Volumes.sources) */
        char *claim;                    /* the claim held while it is read in place, or NULL */
} Hash;

static void hash_free(Hash *h) {
        if (h->claim)
                vmexport_hold_claim(h->m, h->claim, false);
        g_free(h->uid);
        g_free(h->volume);
        g_free(h->source);
        g_free(h->claim);
        g_free(h);
}

/* The failures of exports gone (deleted while they waited to try again). */
static void forget_gone(Model *m) {
        GHashTableIter it;
        const char *uid;

        if (!hash_errors)
                return;
        g_hash_table_iter_init(&it, hash_errors);
        while (g_hash_table_iter_next(&it, (void **) &uid, NULL))
                if (!model_find_uid(m, uid))
                        g_hash_table_iter_remove(&it);
}

static void hashed(GPtrArray *out, const GError *e, void *userdata) {
        Hash *h = userdata;
        Object *x = model_find_uid(h->m, h->uid);
        unsigned left = GPOINTER_TO_UINT(g_hash_table_lookup(hashing, h->uid));

        if (left <= 1)
                g_hash_table_remove(hashing, h->uid);
        else
                g_hash_table_insert(hashing, g_strdup(h->uid), GUINT_TO_POINTER(left - 1));
        if (x && !object_is_deleting(x) && out && out->len >= 1) {
                g_autoptr(GError) ue = NULL;
                JsonNode *doc = json_deep_copy(object_doc(x));
                JsonObject *ann = json_ensure_object(json_ensure_object(json_node_get_object(doc), "metadata"),
                                                     "annotations");
                g_autofree char *key = g_strconcat(VMEXPORT_CHECKSUM_PREFIX, h->volume, NULL);
                g_autofree char *of = g_strconcat(VMEXPORT_CHECKSUM_SOURCE_PREFIX, h->volume, NULL);
                json_object_set_string_member(ann, key, out->pdata[0]);
                json_object_set_string_member(ann, of, h->source);
                if (model_update(h->m, x, doc, &ue) < 0)
                        log_object(G_LOG_LEVEL_WARNING, x, "cannot record the checksum of %s: %s", h->volume,
                                   ue->message);
        } else if (x && !object_is_deleting(x) && e) {
                log_object(G_LOG_LEVEL_WARNING, x, "cannot hash volume %s: %s", h->volume, e->message);
                HashError *he = g_new0(HashError, 1);
                he->message = g_strdup_printf("cannot hash volume %s: %s", h->volume, e->message);
                he->retry_at = g_get_monotonic_time() + 5 * RETRY_USEC;
                if (!hash_errors)
                        hash_errors = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, hash_error_free);
                g_hash_table_insert(hash_errors, g_strdup(h->uid), he);
                model_enqueue(h->m, x);
        }
        forget_gone(h->m);
        hash_free(h);
}

/* The checksum of volume i, when it was taken of what the volume is read
 * from now (a VM's claims, then the copies of the snapshot taken when it
 * started, are different sources of the same volume names). */
static const char *checksum_of(Object *x, Volumes *v, guint i) {
        JsonObject *ann = json_get_object(object_metadata(x), "annotations");
        g_autofree char *key = g_strconcat(VMEXPORT_CHECKSUM_PREFIX, (char *) v->names->pdata[i], NULL);
        g_autofree char *of = g_strconcat(VMEXPORT_CHECKSUM_SOURCE_PREFIX, (char *) v->names->pdata[i], NULL);
        return streq_ptr(json_get_string(ann, of), v->sources->pdata[i]) ? json_get_string(ann, key) : NULL;
}

/* Volumes not hashed yet: their hashing started (unless it runs); their number. */
static unsigned hash_volumes(Model *m, Object *x, Volumes *v) {
        unsigned missing = 0;
        bool running = hashing && g_hash_table_contains(hashing, x->uid);

        if (!hashing)
                hashing = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        for (guint i = 0; i < v->names->len; i++) {
                if (checksum_of(x, v, i))
                        continue;
                missing++;
                if (running || !model_services(m) || !model_services(m)->images)
                        continue;
                g_autoptr(GError) e = NULL;
                Hash *h = g_new0(Hash, 1);
                h->m = m;
                h->uid = g_strdup(x->uid);
                h->volume = g_strdup(v->names->pdata[i]);
                h->source = g_strdup(v->sources->pdata[i]);
                h->claim = g_strdup(v->claims->pdata[i]);
                if (h->claim)           /* read in place: in use while it is */
                        vmexport_hold_claim(m, h->claim, true);
                g_hash_table_insert(hashing, g_strdup(x->uid), GUINT_TO_POINTER(missing));
                if (imagecache_export_volume(model_services(m)->images, v->paths->pdata[i], "sha256", NULL, -1, NULL,
                                             hashed, h, &e) < 0) {
                        log_object(G_LOG_LEVEL_WARNING, x, "cannot hash volume %s: %s", h->volume, e->message);
                        g_hash_table_remove(hashing, x->uid);
                        hash_free(h);
                        model_enqueue_later(m, x, 5 * RETRY_USEC);
                        return missing;
                }
        }
        return missing;
}

/* --- status --- */

static char *url_of(Object *x, const char *rest) {
        return g_strdup_printf(URL_BASE "/%s/virtualmachineexports/%s/%s", x->namespace, x->name, rest);
}

static JsonObject *links_of(Object *x, Volumes *v) {
        JsonObject *internal = json_object_new(), *links = json_object_new();
        JsonArray *volumes = json_array_new(), *manifests = json_array_new();
        JsonObject *all = json_object_new();

        json_object_set_string_member(internal, "cert", "");
        for (guint i = 0; i < v->names->len; i++) {
                JsonObject *vol = json_object_new();
                JsonArray *formats = json_array_new();
                for (size_t f = 0; vmexport_formats[f]; f++) {
                        JsonObject *fo = json_object_new();
                        g_autofree char *rest = g_strdup_printf("volumes/%s/%s", (char *) v->names->pdata[i],
                                                                format_files[f]);
                        g_autofree char *url = url_of(x, rest);
                        json_object_set_string_member(fo, "format", vmexport_formats[f]);
                        json_object_set_string_member(fo, "url", url);
                        json_array_add_object_element(formats, fo);
                }
                json_object_set_string_member(vol, "name", v->names->pdata[i]);
                json_object_set_array_member(vol, "formats", formats);
                json_array_add_object_element(volumes, vol);
        }
        json_object_set_array_member(internal, "volumes", volumes);
        if (v->vm) {
                g_autofree char *url = url_of(x, "manifests/all");
                json_object_set_string_member(all, "type", "all");
                json_object_set_string_member(all, "url", url);
                json_array_add_object_element(manifests, all);
                json_object_set_array_member(internal, "manifests", manifests);
        } else {
                json_object_unref(all);
                json_array_unref(manifests);
        }
        json_object_set_object_member(links, "internal", internal);
        return links;
}

static void write_status(Model *m, Object *x, const char *token, const char *expires, Volumes *v, const char *reason,
                         const char *message) {
        JsonNode *doc = json_deep_copy(object_doc(x));
        JsonObject *status = json_ensure_object(json_node_get_object(doc), "status");
        bool ready = reason == NULL;

        json_object_set_string_member(status, "phase", ready ? "Ready" : "Pending");
        status_set_condition(status, "Ready", ready, ready ? "Ready" : reason, message ?: "");
        if (token)
                json_object_set_string_member(status, "tokenSecretRef", token);
        if (expires)
                json_object_set_string_member(status, "ttlExpirationTime", expires);
        else
                json_object_remove_member(status, "ttlExpirationTime");
        if (v && v->vm)
                json_object_set_string_member(status, "virtualMachineName", v->vm);
        if (ready)
                json_object_set_object_member(status, "links", links_of(x, v));
        else
                json_object_remove_member(status, "links");
        if (json_equal(doc, object_doc(x))) {
                json_node_unref(doc);
                return;
        }
        model_write_status(m, x, doc);
}

/* creationTimestamp + ttlDuration; the time left (<= 0: expired). */
static char *expiry_of(Object *x, gint64 *ret_left) {
        int64_t ttl = duration_usec(json_get_string(spec_of(x), "ttlDuration"));
        g_autoptr(GDateTime) created = g_date_time_new_from_iso8601(object_meta_string(x, "creationTimestamp"), NULL);
        g_autoptr(GDateTime) now = g_date_time_new_now_utc();
        g_autoptr(GDateTime) at = created ? g_date_time_add(created, ttl >= 0 ? ttl : DEFAULT_TTL_USEC) : NULL;

        *ret_left = at ? g_date_time_difference(at, now) : G_MAXINT64;        /* never, when unrepresentable */
        return at ? g_date_time_format(at, "%Y-%m-%dT%H:%M:%SZ") : NULL;
}

static int vmexport_reconcile(Model *m, Object *x) {
        g_autoptr(JsonNode) keep = json_node_ref(object_doc(x));
        g_auto(Volumes) v = { 0 };
        g_autoptr(GError) e = NULL;
        gint64 left;

        forget_gone(m);
        if (object_is_deleting(x)) {
                if (hash_errors)
                        g_hash_table_remove(hash_errors, x->uid);
                return 0;
        }
        g_autofree char *expires = expiry_of(x, &left);
        if (left <= 0) {
                log_object(G_LOG_LEVEL_INFO, x, "its ttlDuration is over: deleting it");
                if (model_delete_object(m, x, PROPAGATION_BACKGROUND, &e) < 0)
                        log_object(G_LOG_LEVEL_WARNING, x, "cannot delete the expired export: %s", e->message);
                return 0;
        }
        if (expires)
                model_enqueue_later(m, x, (uint64_t) left + G_USEC_PER_SEC / 10);
        g_autofree char *token = token_secret_name(x);
        if (ensure_token(m, x, token, &e) < 0) {
                write_status(m, x, NULL, expires, NULL, "TokenSecretMissing", e->message);
                model_enqueue_later(m, x, RETRY_USEC);
                return 0;
        }
        if (source_volumes(m, x, &v, &e) < 0) {
                write_status(m, x, token, expires, &v, v.reason ?: "SourceNotReady", e->message);
                model_enqueue_later(m, x, RETRY_USEC);
                return 0;
        }
        HashError *failed = hash_errors ? g_hash_table_lookup(hash_errors, x->uid) : NULL;
        gint64 wait = failed ? failed->retry_at - g_get_monotonic_time() : 0;
        if (failed && wait > 0) {       /* said until it is tried again */
                write_status(m, x, token, expires, &v, "ChecksumFailed", failed->message);
                model_enqueue_later(m, x, (uint64_t) wait);
                return 0;
        }
        if (failed)
                g_hash_table_remove(hash_errors, x->uid);
        unsigned missing = hash_volumes(m, x, &v);
        if (missing) {
                g_autofree char *msg = g_strdup_printf("hashing %u of %u volumes (sha256 of the raw disk)", missing,
                                                       v.names->len);
                write_status(m, x, token, expires, &v, "ComputingChecksums", msg);
                return 0;
        }
        write_status(m, x, token, expires, &v, NULL, NULL);
        return 0;
}

int vmexport_volume(Model *m, Object *x, const char *volume, char **ret_path, const char **ret_checksum,
                    char **ret_claim_uid, GError **error) {
        g_auto(Volumes) v = { 0 };
        g_autoptr(GError) e = NULL;

        if (!streq_ptr(object_status_string(x, "phase"), "Ready"))
                return ev_error_set(error, EBUSY, "VirtualMachineExport %s/%s is %s, not Ready", x->namespace, x->name,
                                    object_status_string(x, "phase") ?: "new");
        v.no_snapshot = true;
        if (source_volumes(m, x, &v, &e) < 0) {
                model_enqueue(m, x);    /* its status to say so */
                return ev_error_set(error, EBUSY, "VirtualMachineExport %s/%s: %s", x->namespace, x->name, e->message);
        }
        for (guint i = 0; i < v.names->len; i++)
                if (streq(v.names->pdata[i], volume)) {
                        if (!(*ret_checksum = checksum_of(x, &v, i))) {
                                model_enqueue(m, x);
                                return ev_error_set(error, EBUSY, "VirtualMachineExport %s/%s: volume %s is read "
                                                    "from another source now, not hashed yet; wait for the export "
                                                    "to be Ready again", x->namespace, x->name, volume);
                        }
                        *ret_path = g_strdup(v.paths->pdata[i]);
                        *ret_claim_uid = g_strdup(v.claims->pdata[i]);
                        return 0;
                }
        g_ptr_array_add(v.names, NULL);
        g_autofree char *names = g_strjoinv(", ", (char **) v.names->pdata);
        return ev_error_set(error, ENOENT, "volume: VirtualMachineExport %s/%s has no volume \"%s\" (it has: %s)",
                            x->namespace, x->name, volume, names);
}

/* --- manifests --- */

/* A volume's size: a file's length or a block device's (lvm-thin), whose
 * stat size is 0; lseek to the end tells both. */
static uint64_t volume_size(const char *path) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        off_t end = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;

        if (fd >= 0)
                close(fd);
        return end > 0 ? (uint64_t) end : 0;
}

static JsonObject *upload_datavolume(const char *name, const char *path, const char *checksum) {
        JsonObject *dv = json_object_new(), *meta = json_object_new(), *spec = json_object_new();
        JsonObject *source = json_object_new(), *storage = json_object_new(), *res = json_object_new();
        JsonObject *req = json_object_new(), *ann = json_object_new();
        g_autofree char *quantity = g_strdup_printf("%" G_GUINT64_FORMAT, volume_size(path));

        json_object_set_string_member(dv, "apiVersion", "cdi.kubevirt.io/v1beta1");
        json_object_set_string_member(dv, "kind", "DataVolume");
        json_object_set_string_member(meta, "name", name);
        if (checksum)
                json_object_set_string_member(ann, "edgevirt.io/disk-checksum", checksum);
        json_object_set_object_member(meta, "annotations", ann);
        json_object_set_object_member(dv, "metadata", meta);
        json_object_set_object_member(source, "upload", json_object_new());
        json_object_set_object_member(spec, "source", source);
        json_object_set_string_member(req, "storage", quantity);
        json_object_set_object_member(res, "requests", req);
        json_object_set_object_member(storage, "resources", res);
        json_object_set_object_member(spec, "storage", storage);
        json_object_set_object_member(dv, "spec", spec);
        return dv;
}

/* The VM as a cluster takes it: no status, only its name, labels and
 * annotations; the dataVolumeTemplates of exported volumes upload. */
static JsonObject *clean_vm(Object *vm, Volumes *v, GHashTable *in_vm) {
        g_autoptr(JsonNode) n = json_deep_copy(object_doc(vm));
        JsonObject *o = json_node_get_object(n), *meta = json_get_object(o, "metadata"), *clean = json_object_new();
        static const char *const kept[] = { "name", "labels", "annotations" };

        for (size_t i = 0; i < G_N_ELEMENTS(kept); i++)
                if (json_object_has_member(meta, kept[i]))
                        json_object_set_member(clean, kept[i], json_deep_copy(json_object_get_member(meta, kept[i])));
        json_object_set_object_member(o, "metadata", clean);
        json_object_remove_member(o, "status");
        JsonArray *dvts = json_get_array(json_get_object(o, "spec"), "dataVolumeTemplates");
        for (guint i = 0; dvts && i < json_array_get_length(dvts); i++) {
                JsonObject *t = json_array_get_object_element(dvts, i), *tspec = json_ensure_object(t, "spec");
                const char *name = json_get_string(json_get_object(t, "metadata"), "name");
                guint at;
                if (!name || !g_ptr_array_find_with_equal_func(v->names, name, g_str_equal, &at))
                        continue;
                JsonObject *source = json_object_new();
                json_object_set_object_member(source, "upload", json_object_new());
                json_object_remove_member(tspec, "sourceRef");
                json_object_set_object_member(tspec, "source", source);
                g_hash_table_add(in_vm, g_strdup(name));
        }
        return json_object_ref(o);
}

int vmexport_manifests(Model *m, Object *x, const char *type, JsonNode **ret, GError **error) {
        g_auto(Volumes) v = { 0 };
        g_autoptr(GError) e = NULL;
        g_autoptr(GHashTable) in_vm = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        Object *vm = NULL;

        if (!streq_ptr(type, "all"))
                return ev_error_set(error, EINVAL, "type: Unsupported value: \"%s\": supported values: \"all\"",
                                    type ?: "");
        if (!streq_ptr(object_status_string(x, "phase"), "Ready"))
                return ev_error_set(error, EBUSY, "VirtualMachineExport %s/%s is %s, not Ready", x->namespace, x->name,
                                    object_status_string(x, "phase") ?: "new");
        v.no_snapshot = true;
        if (source_volumes(m, x, &v, &e) < 0) {
                model_enqueue(m, x);
                return ev_error_set(error, EBUSY, "VirtualMachineExport %s/%s: %s", x->namespace, x->name, e->message);
        }
        JsonObject *list = json_object_new();
        JsonArray *items = json_array_new();
        json_object_set_string_member(list, "apiVersion", "v1");
        json_object_set_string_member(list, "kind", "List");
        if (v.vm && model_get(m, &kind_vm, x->namespace, v.vm, &vm, NULL) == 0)
                json_array_add_object_element(items, clean_vm(vm, &v, in_vm));
        for (guint i = 0; i < v.names->len; i++)
                if (!g_hash_table_contains(in_vm, v.names->pdata[i]))
                        json_array_add_object_element(items, upload_datavolume(v.names->pdata[i], v.paths->pdata[i],
                                                                               checksum_of(x, &v, i)));
        json_object_set_array_member(list, "items", items);
        *ret = json_node_init_object(json_node_alloc(), list);
        json_object_unref(list);
        return 0;
}

const KindInfo kind_vmexport = {
        .kind = "VirtualMachineExport",
        .group = EXPORT_GROUP,
        /* v1beta1 as virtctl 1.0-1.5 writes it; v1 as KubeVirt's schema now publishes it */
        .versions = (const char *const[]) { "v1beta1", "v1", "v1alpha1", NULL },
        .plural = "virtualmachineexports",
        .short_names = (const char *const[]) { "vmexport", "vmexports", NULL },
        .path_segment = "vmexport",
        .schema = "v1.VirtualMachineExport",
        .namespaced = true,
        .admit = vmexport_admit,
        .init_status = vmexport_init_status,
        .reconcile = vmexport_reconcile,
};
