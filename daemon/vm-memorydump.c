/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virtctl memory-dump (KubeVirt's VirtualMachine memorydump and
 * removememorydump subresources): a running guest's memory, dumped by
 * libvirt as KubeVirt's virt-launcher does it (memory only, ELF), into a
 * claim.  The request is the VM's status.memoryDumpRequest: Associating
 * (asked; the claim may still be binding), InProgress (libvirt dumps),
 * then Completed (fileName, endTimestamp) or Failed (message).  The dump's
 * bytes are the claim volume's first bytes (a dir class claim is a file:
 * edgevirt does not make a file system in it as KubeVirt's hotplug does);
 * its length is the claim's annotation edgevirt.io/memory-dump-size, and
 * OpenMemoryDump hands a reader of exactly that.  So an existing claim takes
 * a dump only if annotated edgevirt.io/memory-dump-claim=true (createClaim
 * sets it): a disk must not be wiped by a vm.lifecycle verb. */
#include <fcntl.h>

#include "domain.h"
#include "json-util.h"
#include "log.h"
#include "pvc-status.h"
#include "services.h"
#include "util.h"
#include "validate.h"
#include "vm-memorydump.h"
#include "vm-status.h"
#include "vmi-status.h"

#define DUMP_OVERHEAD_BYTES (100ull << 20)     /* KubeVirt's memory dump overhead, 100Mi */
#define RETRY_USEC (1 * G_USEC_PER_SEC)

static JsonObject *request_of(Object *vm) {
        return json_get_object(json_get_object(object_root(vm), "status"), "memoryDumpRequest");
}

static bool dump_in_progress(JsonObject *req) {
        const char *phase = json_get_string(req, "phase");
        return streq_ptr(phase, "Associating") || streq_ptr(phase, "InProgress");
}

/* The request's new phase (and what goes with it); NULL phase: no request. */
/* vm's document with status.memoryDumpRequest req (NULL: none) */
static JsonNode *request_doc(Object *vm, JsonObject *req) {
        JsonNode *doc = json_deep_copy(object_doc(vm));
        JsonObject *status = json_ensure_object(json_node_get_object(doc), "status");

        if (req)
                json_object_set_object_member(status, "memoryDumpRequest", json_object_ref(req));
        else
                json_object_remove_member(status, "memoryDumpRequest");
        return doc;
}

static int write_request(Model *m, Object *vm, JsonObject *req, GError **error) {
        return model_update(m, vm, request_doc(vm, req), error);
}

static JsonObject *request_copy(Object *vm) {
        g_autoptr(JsonNode) n = json_node_init_object(json_node_alloc(), request_of(vm));
        g_autoptr(JsonNode) copy = json_deep_copy(n);
        return json_object_ref(json_node_get_object(copy));
}

/* The request failed (returns 0: the controller goes on). */
static int request_fail(Model *m, Object *vm, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static int request_fail(Model *m, Object *vm, const char *fmt, ...) {
        g_autoptr(JsonObject) req = request_copy(vm);
        g_autofree char *msg = NULL, *now = ev_timestamp_now();
        va_list ap;

        va_start(ap, fmt);
        msg = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        json_object_set_string_member(req, "phase", "Failed");
        json_object_set_string_member(req, "message", msg);
        json_object_set_string_member(req, "endTimestamp", now);
        log_object(G_LOG_LEVEL_WARNING, vm, "memory dump failed: %s", msg);
        model_write_status(m, vm, request_doc(vm, req));
        return 0;
}

/* What a dump of the running instance takes: its memory and KubeVirt's overhead. */
static uint64_t needed_bytes(Object *vmi) {
        int64_t memory = domain_guest_memory(json_get_object(object_root(vmi), "spec"));
        return (uint64_t) MAX(memory, 0) + DUMP_OVERHEAD_BYTES;
}

static Object *running_instance(Model *m, Object *vm, GError **error) {
        Object *vmi = vm_instance(m, vm);
        if (!vmi || vmi_is_finished(vmi) || object_is_deleting(vmi)) {
                ev_error_set(error, EBUSY, "VM %s/%s is not running: a memory dump needs a running guest",
                             vm->namespace, vm->name);
                return NULL;
        }
        return vmi;
}

static int make_claim(Model *m, Object *vm, const char *name, uint64_t size, const char *storage_class,
                        GError **error) {
        g_autoptr(JsonObject) doc = json_object_new();
        JsonObject *meta = json_object_new(), *spec = json_object_new(), *requests = json_object_new();
        JsonObject *resources = json_object_new();
        JsonArray *modes = json_array_new();
        g_autofree char *quantity = g_strdup_printf("%" G_GUINT64_FORMAT, size);

        json_object_set_string_member(doc, "apiVersion", "v1");
        json_object_set_string_member(doc, "kind", "PersistentVolumeClaim");
        json_object_set_string_member(meta, "name", name);
        json_object_set_string_member(meta, "namespace", vm->namespace);
        json_object_set_string_member(json_ensure_object(meta, "annotations"), MEMORY_DUMP_CLAIM, "true");
        json_object_set_object_member(doc, "metadata", meta);
        json_array_add_string_element(modes, "ReadWriteOnce");
        json_object_set_array_member(spec, "accessModes", modes);
        json_object_set_string_member(requests, "storage", quantity);
        json_object_set_object_member(resources, "requests", requests);
        json_object_set_object_member(spec, "resources", resources);
        if (!isempty(storage_class))
                json_object_set_string_member(spec, "storageClassName", storage_class);
        json_object_set_object_member(doc, "spec", spec);
        if (model_apply_object(m, doc, false, error) < 0) {
                ev_error_prefix(error, "cannot create PersistentVolumeClaim %s", name);
                return -EINVAL;
        }
        return 0;
}

int vm_memory_dump(Model *m, Object *vm, const char *claim_name, bool create_claim, const char *storage_class,
                   GError **error) {
        Object *vmi, *claim = NULL;
        g_autoptr(GError) e = NULL;
        uint64_t need;

        if (validate_dns1123_subdomain(claim_name, &e) < 0)
                return ev_error_set(error, EINVAL, "claimName: Invalid value: \"%s\": %s", claim_name ?: "",
                                    e->message);
        if (!create_claim && !isempty(storage_class))
                return ev_error_set(error, EINVAL, "storageClass: only with createClaim");
        if (object_is_deleting(vm))
                return ev_error_set(error, EBUSY, "VM %s/%s is being deleted", vm->namespace, vm->name);
        if (dump_in_progress(request_of(vm)))
                return ev_error_set(error, EBUSY, "VM %s/%s: a memory dump into %s is in progress", vm->namespace,
                                    vm->name, json_get_string(request_of(vm), "claimName"));
        if (!(vmi = running_instance(m, vm, error)))
                return -EBUSY;
        need = needed_bytes(vmi);
        bool exists = model_get(m, &kind_pvc, vm->namespace, claim_name, &claim, NULL) == 0;
        if (create_claim && exists)
                return ev_error_set(error, EEXIST, "PersistentVolumeClaim %s/%s already exists; leave out "
                                    "createClaim to dump into it", vm->namespace, claim_name);
        if (!create_claim && !exists)
                return ev_error_set(error, ENOENT, "PersistentVolumeClaim %s/%s not found (createClaim makes one)",
                                    vm->namespace, claim_name);
        if (exists && !streq_ptr(json_get_string(json_get_object(object_metadata(claim), "annotations"),
                                                 MEMORY_DUMP_CLAIM), "true"))
                return ev_error_set(error, EINVAL, "PersistentVolumeClaim %s/%s was not made for memory dumps: a "
                                    "dump overwrites the claim's volume from its first byte, its contents would "
                                    "be lost; use createClaim (edgevirtctl memory-dump get --create-claim) for "
                                    "a new claim, or annotate this one %s=true to give it up to dumps",
                                    vm->namespace, claim_name, MEMORY_DUMP_CLAIM);
        if (exists && MAX(pvc_requested_bytes(claim), pvc_capacity_bytes(claim)) < need) {
                g_autofree char *has = pvc_format_bytes(MAX(pvc_requested_bytes(claim), pvc_capacity_bytes(claim)));
                g_autofree char *needs = pvc_format_bytes(need);
                return ev_error_set(error, EINVAL, "PersistentVolumeClaim %s/%s is too small for a memory dump: "
                                    "it has %s, the guest's memory and 100Mi overhead need %s", vm->namespace,
                                    claim_name, has, needs);
        }
        if (create_claim && make_claim(m, vm, claim_name, need, storage_class, error) < 0)
                return -EINVAL;
        g_autoptr(JsonObject) req = json_object_new();
        json_object_set_string_member(req, "claimName", claim_name);
        json_object_set_string_member(req, "phase", "Associating");
        if (write_request(m, vm, req, error) < 0)
                return -EIO;
        model_enqueue(m, vm);
        return 0;
}

int vm_memory_dump_remove(Model *m, Object *vm, GError **error) {
        JsonObject *req = request_of(vm);
        if (!req)
                return ev_error_set(error, ENOENT, "VM %s/%s has no memory dump", vm->namespace, vm->name);
        if (dump_in_progress(req))
                return ev_error_set(error, EBUSY, "VM %s/%s: the memory dump into %s is in progress; remove it "
                                    "once it ends", vm->namespace, vm->name, json_get_string(req, "claimName"));
        return write_request(m, vm, NULL, error) < 0 ? -EIO : 0;
}

int vm_memory_dump_open(Model *m, Object *vm, uint64_t *ret_size, char **ret_file_name, GError **error) {
        JsonObject *req = request_of(vm);
        const char *claim_name = json_get_string(req, "claimName");
        Object *claim = NULL;
        guint64 size;

        if (!req || !streq_ptr(json_get_string(req, "phase"), "Completed"))
                return ev_error_set(error, EBUSY, "VM %s/%s has no completed memory dump (phase %s)", vm->namespace,
                                    vm->name, req ? json_get_string(req, "phase") : "none");
        if (model_get(m, &kind_pvc, vm->namespace, claim_name, &claim, NULL) < 0)
                return ev_error_set(error, ENOENT, "PersistentVolumeClaim %s/%s of the memory dump is gone",
                                    vm->namespace, claim_name);
        const char *s = json_get_string(json_get_object(object_metadata(claim), "annotations"), MEMORY_DUMP_SIZE);
        if (!s || !g_ascii_string_to_unsigned(s, 10, 0, G_MAXUINT64, &size, NULL))
                return ev_error_set(error, ENOENT, "PersistentVolumeClaim %s/%s holds no memory dump (annotation "
                                    "%s)", vm->namespace, claim_name, MEMORY_DUMP_SIZE);
        g_autofree char *path = pvc_volume_path(m, claim);
        int fd = isempty(path) ? -ENOENT : open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return ev_error_set(error, ENOENT, "cannot open the volume of PersistentVolumeClaim %s/%s: %s",
                                    vm->namespace, claim_name, isempty(path) ? "not bound" : g_strerror(errno));
        *ret_size = size;
        *ret_file_name = g_strdup(json_get_string(req, "fileName"));
        return fd;
}

/* --- the VM controller's part --- */

typedef struct DumpJob {
        Model *model;
        GHashTable *dumping;
        char *vm_uid;
        char *claim;
        char *claim_uid;        /* held (services_pvc_use) while the dump runs */
        char *file_name;
} DumpJob;

static void dump_job_free(DumpJob *j) {
        Services *s = model_services(j->model);
        if (j->claim_uid && s)
                services_pvc_use(s, j->claim_uid, false);
        g_free(j->claim_uid);
        g_hash_table_remove(j->dumping, j->vm_uid);
        g_hash_table_unref(j->dumping);
        g_free(j->vm_uid);
        g_free(j->claim);
        g_free(j->file_name);
        g_free(j);
}

static void note_size(Model *m, Object *vm, const char *claim_name, uint64_t size) {
        Object *claim = NULL;
        g_autoptr(GError) e = NULL;
        g_autofree char *text = g_strdup_printf("%" G_GUINT64_FORMAT, size);

        if (model_get(m, &kind_pvc, vm->namespace, claim_name, &claim, NULL) < 0)
                return;
        JsonNode *doc = json_deep_copy(object_doc(claim));
        JsonObject *meta = json_ensure_object(json_node_get_object(doc), "metadata");
        json_object_set_string_member(json_ensure_object(meta, "annotations"), MEMORY_DUMP_SIZE, text);
        if (model_update(m, claim, doc, &e) < 0)
                log_object(G_LOG_LEVEL_WARNING, claim, "cannot note the memory dump's size: %s", e->message);
}

static void dump_done(void *userdata, int r, const char *error, uint64_t size) {
        DumpJob *j = userdata;
        Model *m = j->model;
        Object *vm = model_find_uid(m, j->vm_uid);
        JsonObject *req = vm ? request_of(vm) : NULL;

        g_hash_table_remove(j->dumping, j->vm_uid);
        if (!req || !streq_ptr(json_get_string(req, "claimName"), j->claim) ||
            !streq_ptr(json_get_string(req, "phase"), "InProgress")) {
                dump_job_free(j);
                return;
        }
        if (r < 0) {
                (void) request_fail(m, vm, "%s", error ?: g_strerror(-r));
                dump_job_free(j);
                return;
        }
        note_size(m, vm, j->claim, size);
        g_autoptr(JsonObject) done = request_copy(vm);
        g_autofree char *now = ev_timestamp_now();
        json_object_set_string_member(done, "phase", "Completed");
        json_object_set_string_member(done, "endTimestamp", now);
        json_object_set_string_member(done, "fileName", j->file_name);
        log_object(G_LOG_LEVEL_INFO, vm, "memory dump into %s completed: %" G_GUINT64_FORMAT " bytes", j->claim,
                   size);
        model_write_status(m, vm, request_doc(vm, done));
        dump_job_free(j);
}

/* KubeVirt's name of the dump file: <vm>-<claim>-<YYYYMMDD-HHMMSS>.memory.dump */
static char *dump_file_name(Object *vm, const char *claim) {
        g_autoptr(GDateTime) now = g_date_time_new_now_utc();
        g_autofree char *stamp = g_date_time_format(now, "%Y%m%d-%H%M%S");
        return g_strdup_printf("%s-%s-%s.memory.dump", vm->name, claim, stamp);
}

static int start_dump(Model *m, Object *vm, JsonObject *req, GHashTable *dumping) {
        const char *claim_name = json_get_string(req, "claimName");
        Services *s = model_services(m);
        Object *claim = NULL, *vmi;
        g_autoptr(GError) e = NULL;

        if (model_get(m, &kind_pvc, vm->namespace, claim_name, &claim, NULL) < 0)
                return request_fail(m, vm, "PersistentVolumeClaim %s not found", claim_name);
        if (!streq_ptr(object_status_string(claim, "phase"), "Bound")) {
                model_enqueue_later(m, vm, RETRY_USEC);         /* made just now: binding */
                return 0;
        }
        if (!(vmi = running_instance(m, vm, &e)))
                return request_fail(m, vm, "%s", e->message);
        if (services_pvc_users(s, claim->uid) > 0)
                return request_fail(m, vm, "PersistentVolumeClaim %s is in use (a running guest's disk, or an "
                                    "import); dump into a claim of its own", claim_name);
        g_autofree char *path = pvc_volume_path(m, claim);
        if (isempty(path))
                return request_fail(m, vm, "PersistentVolumeClaim %s has no volume", claim_name);
        DumpJob *j = g_new0(DumpJob, 1);
        j->model = m;
        j->dumping = g_hash_table_ref(dumping);
        j->vm_uid = g_strdup(vm->uid);
        j->claim = g_strdup(claim_name);
        j->file_name = dump_file_name(vm, claim_name);
        g_hash_table_add(dumping, g_strdup(vm->uid));
        if (s) {        /* no guest may take it, nor may it go, while libvirt writes it */
                j->claim_uid = g_strdup(claim->uid);
                services_pvc_use(s, j->claim_uid, true);
        }
        if (services_instance_memory_dump(s, vmi, path, dump_done, j, &e) < 0) {
                dump_job_free(j);
                return request_fail(m, vm, "%s", e->message);
        }
        g_autoptr(JsonObject) running = request_copy(vm);
        g_autofree char *now = ev_timestamp_now();
        json_object_set_string_member(running, "phase", "InProgress");
        json_object_set_string_member(running, "startTimestamp", now);
        model_write_status(m, vm, request_doc(vm, running));
        return 0;
}

void vm_memory_dump_reconcile(Model *m, Object *vm, GHashTable *dumping) {
        JsonObject *req = request_of(vm);
        const char *phase = json_get_string(req, "phase");

        if (streq_ptr(phase, "InProgress") && !g_hash_table_contains(dumping, vm->uid))
                (void) request_fail(m, vm, "the dump was cut short: the daemon restarted while it ran");
        else if (streq_ptr(phase, "Associating"))
                (void) start_dump(m, vm, req, dumping);
}
