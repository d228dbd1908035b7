/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VirtualMachine (kubevirt.io/v1): the declared VM.  Its run strategy
 * decides whether an instance (a VMI of the same name, owned by it) should
 * exist; virtctl's verbs become state-change requests in its status, as in
 * KubeVirt, so they survive a restart.  dataVolumeTemplates become
 * DataVolumes the VM owns.  A VM whose instances keep failing backs off
 * (10 s doubling to 5 min) and shows CrashLoopBackOff. */
#include "log.h"
#include "instancetype.h"
#include "hostdev.h"
#include "json-util.h"
#include "services.h"
#include "snapshot-status.h"
#include "util.h"
#include "vm-status.h"
#include "vm-memorydump.h"
#include "vm.h"
#include "vmi-admit.h"
#include "vmi-status.h"

#define BACKOFF_BASE_SECONDS 10
#define BACKOFF_MAX_SECONDS 300
#define HEALTHY_RUN_SECONDS 300         /* an instance that ran this long resets the count */

static JsonObject *spec_of(Object *o) {
        return json_get_object(object_root(o), "spec");
}

static JsonObject *status_of(Object *o) {
        return json_get_object(object_root(o), "status");
}

/* --- admission --- */

static int vm_admit(Model *m, JsonObject *doc, JsonObject *old, GPtrArray *warnings, GError **error) {
        JsonObject *spec = json_get_object(doc, "spec");
        JsonObject *tmpl = json_get_object(spec, "template");
        const char *rs = json_get_string(spec, "runStrategy");
        static const char *const strategies[] = { "Always", "RerunOnFailure", "Manual", "Halted", "Once", NULL };

        if (rs && json_object_has_member(spec, "running"))
                return ev_error_set(error, EINVAL,
                                    "spec.running: Forbidden: running and runStrategy are mutually exclusive; use "
                                    "runStrategy");
        if (rs && !g_strv_contains(strategies, rs))
                return ev_error_set(error, EINVAL,
                                    "spec.runStrategy: Unsupported value: \"%s\": supported values: \"Always\", "
                                    "\"RerunOnFailure\", \"Manual\", \"Halted\", \"Once\"", rs);
        if (!tmpl)
                return ev_error_set(error, EINVAL, "spec.template: Required value");
        int inferred = instancetype_infer(m, json_get_string(json_get_object(doc, "metadata"), "namespace"), spec,
                                          error);
        if (inferred < 0)
                return inferred;
        if (vm_template_annotations_admit(json_get_object(tmpl, "metadata"), "spec.template.metadata", error) < 0)
                return -EOPNOTSUPP;
        int r = vmi_spec_admit(json_get_object(tmpl, "spec"), "spec.template.spec",
                               !json_get_object(spec, "instancetype"), warnings, error);
        if (r < 0)
                return r;
        if ((r = hostdev_admit_spec(m, json_get_object(tmpl, "spec"), "spec.template.spec", error)) < 0)
                return r;
        JsonObject *meta = json_get_object(doc, "metadata");
        JsonObject *old_tmpl = json_get_object(json_get_object(old, "spec"), "template");
        if ((r = vm_firmware_uuid_admit(m, json_get_string(meta, "namespace"), json_get_string(meta, "name"),
                                        json_get_object(tmpl, "spec"), json_get_object(old_tmpl, "spec"),
                                        "spec.template.spec", error)) < 0)
                return r;
        JsonArray *dvts = json_get_array(spec, "dataVolumeTemplates");
        g_autoptr(GHashTable) names = g_hash_table_new(g_str_hash, g_str_equal);
        for (guint i = 0; dvts && i < json_array_get_length(dvts); i++) {
                JsonObject *t = json_array_get_object_element(dvts, i);
                const char *name = json_get_string(json_get_object(t, "metadata"), "name");
                if (!name)
                        return ev_error_set(error, EINVAL, "spec.dataVolumeTemplates[%u].metadata.name: Required value",
                                            i);
                if (!g_hash_table_add(names, (char *) name))
                        return ev_error_set(error, EINVAL,
                                            "spec.dataVolumeTemplates[%u].metadata.name: Duplicate value: \"%s\"", i,
                                            name);
                if (!json_get_object(t, "spec"))
                        return ev_error_set(error, EINVAL, "spec.dataVolumeTemplates[%u].spec: Required value", i);
        }
        return 0;
}

static void vm_init_status(JsonObject *doc) {
        JsonObject *status = json_object_new();
        JsonObject *spec = json_get_object(doc, "spec");
        const char *rs = json_get_string(spec, "runStrategy");
        json_object_set_string_member(status, "printableStatus", "Stopped");
        json_object_set_boolean_member(status, "ready", FALSE);
        json_object_set_boolean_member(status, "created", FALSE);
        json_object_set_string_member(status, "runStrategy",
                                      rs ? rs : json_get_bool(spec, "running", false) ? "Always" : "Halted");
        json_object_set_object_member(doc, "status", status);
}

struct VmController {
        Model *model;
        Services *services;
        GHashTable *dumping;            /* uids of VMs whose memory dump runs (vm-memorydump.c) */
};

/* --- status --- */

typedef struct VmStatus {
        const char *failure;            /* Failure condition message; NULL: clear */
        const char *failure_reason;
} VmStatus;

static gint64 retry_after(Object *vm) {
        JsonObject *sf = json_get_object(status_of(vm), "startFailure");
        const char *ts = json_get_string(sf, "retryAfterTimestamp");
        g_autoptr(GDateTime) dt = ts ? g_date_time_new_from_iso8601(ts, NULL) : NULL;
        return dt ? g_date_time_to_unix(dt) * G_USEC_PER_SEC : 0;
}

static bool backing_off(Object *vm) {
        return retry_after(vm) > g_get_real_time();
}

/* --- the rules (pure) --- */

static bool phase_finished(const char *phase) {
        return streq_ptr(phase, "Succeeded") || streq_ptr(phase, "Failed");
}

VmRunDecision vm_run_decide(const VmRunFacts *f) {
        VmRunDecision d = { VM_RUN_NOTHING };
        bool vmi = f->instance_uid != NULL;
        bool finished = vmi && phase_finished(f->instance_phase);
        bool deleting = vmi && f->instance_deleting;
        bool want = false;

        /* state-change requests (virtctl start/stop/restart) first */
        if (f->request) {
                if (streq(f->request, "Stop")) {
                        if (vmi && !deleting && (!f->request_uid || streq(f->request_uid, f->instance_uid))) {
                                if (streq(f->strategy, "Manual") || f->more_requests || finished)
                                        d.action = VM_RUN_DELETE;
                                else if (!f->instance_stopping)
                                        d.action = VM_RUN_STOP;
                        }
                        d.request_done = true;
                } else if (streq(f->request, "Start")) {
                        if (vmi && finished && !deleting)
                                d.action = VM_RUN_DELETE;       /* the request stays: then a new one */
                        else if (!vmi)
                                want = d.request_done = true;
                } else
                        d.request_done = true;
        } else if (streq(f->strategy, "Halted")) {
                if (vmi && !deleting)
                        d.action = VM_RUN_DELETE;
        } else if (streq(f->strategy, "Always") || streq(f->strategy, "RerunOnFailure")) {
                bool failed = finished && streq(f->instance_phase, "Failed");
                d.count_failure = failed;
                if (finished && !deleting && (streq(f->strategy, "Always") || failed))
                        d.action = VM_RUN_DELETE;
                else if (!vmi)
                        want = true;
        } else if (streq(f->strategy, "Once"))
                want = !vmi && !f->created && !f->start_failure;

        if (want && f->restoring)
                want = false;           /* the restore queues the VM when it is done */
        if (want && f->backing_off) {
                want = false;
                d.wait_backoff = true;
        }
        if (want)
                d.action = VM_RUN_CREATE;
        return d;
}

const char *vm_run_printable(const VmRunFacts *f) {
        if (f->deleting)
                return "Terminating";
        if (!f->instance_uid)
                return f->backing_off ? "CrashLoopBackOff" : "Stopped";
        if (f->instance_stopping)
                return "Stopping";
        if (streq(f->instance_phase, "Running"))
                return f->instance_paused ? "Paused" : "Running";
        if (phase_finished(f->instance_phase))
                return f->backing_off ? "CrashLoopBackOff" : "Stopped";
        if (f->instance_waiting)
                return f->instance_waiting;     /* WaitingForVolumeBinding, ErrorPvcNotFound, DataVolumeError */
        return "Starting";
}

bool vm_run_ready(const VmRunFacts *f) {
        return f->instance_uid && streq(f->instance_phase, "Running") && !f->instance_paused &&
               !f->instance_stopping;
}

/* What the rules need to know of vm and its instance vmi (may be NULL). */
static VmRunFacts run_facts(Model *m, Object *vm, Object *vmi) {
        JsonArray *requests = json_get_array(status_of(vm), "stateChangeRequests");
        JsonObject *req = requests && json_array_get_length(requests) > 0 ?
                          json_array_get_object_element(requests, 0) : NULL;

        return (VmRunFacts) {
                .strategy = vm_run_strategy(vm),
                .deleting = object_is_deleting(vm),
                .request = req ? json_get_string(req, "action") ?: "" : NULL,
                .request_uid = json_get_string(json_get_object(req, "data"), "uid"),
                .more_requests = requests && json_array_get_length(requests) > 1,
                .created = json_get_bool(status_of(vm), "created", false),
                .start_failure = status_of(vm) && json_object_has_member(status_of(vm), "startFailure"),
                .restoring = snapshot_restore_in_progress(m, vm),
                .backing_off = backing_off(vm),
                .instance_uid = vmi ? vmi->uid : NULL,
                .instance_phase = vmi ? vmi_phase(vmi) : NULL,
                .instance_deleting = vmi && object_is_deleting(vmi),
                .instance_stopping = vmi && services_instance_stopping(model_services(m), vmi),
                .instance_paused = vmi && vmi_is_paused(vmi),
                .instance_waiting = vmi ? vmi_waiting_reason(vmi) : NULL,
        };
}

static void write_status(Model *m, Object *vm, Object *vmi, const VmStatus *u, JsonArray *requests,
                         JsonObject *start_failure, bool keep_failure, JsonObject *refs) {
        JsonNode *doc = json_deep_copy(object_doc(vm));
        JsonObject *status = json_ensure_object(json_node_get_object(doc), "status");
        VmRunFacts facts = run_facts(m, vm, vmi);
        const char *ps = vm_run_printable(&facts);
        bool ready = vm_run_ready(&facts);

        json_object_set_string_member(status, "printableStatus", ps);
        json_object_set_boolean_member(status, "ready", ready);
        json_object_set_boolean_member(status, "created", vmi != NULL);
        json_object_set_string_member(status, "runStrategy", vm_run_strategy(vm));
        status_set_condition(status, "Ready", ready, ready ? "" : vmi ? "GuestNotRunning" : "VMINotExists",
                      ready ? "" : vmi ? "the guest is not running" : "no instance exists");
        status_set_condition(status, "Paused", vmi && vmi_is_paused(vmi),
                             vmi && vmi_is_paused(vmi) ? "PausedByUser" : "", "");
        if (!keep_failure)
                status_set_condition(status, "Failure", u->failure != NULL, u->failure_reason, u->failure);
        if (requests) {
                if (json_array_get_length(requests) > 0)
                        json_object_set_array_member(status, "stateChangeRequests", json_array_ref(requests));
                else
                        json_object_remove_member(status, "stateChangeRequests");
        }
        if (start_failure)
                json_object_set_object_member(status, "startFailure", json_object_ref(start_failure));
        static const char *const ref_members[] = { "instancetypeRef", "preferenceRef", NULL };
        for (const char *const *r = ref_members; refs && *r; r++) {
                JsonNode *n = json_object_get_member(refs, *r);
                if (n)
                        json_object_set_member(status, *r, json_deep_copy(n));
                else
                        json_object_remove_member(status, *r);
        }
        if (json_equal(doc, object_doc(vm))) {
                json_node_unref(doc);
                return;
        }
        model_write_status(m, vm, doc);
}

/* A VM backing off is looked at again when its time is up (and then
 * shows it starts again).  At the daemon's start every VM is reconciled:
 * back-offs that ended meanwhile start at once. */
static void look_again_after_backoff(Model *m, Object *vm) {
        gint64 at = retry_after(vm), now = g_get_real_time();

        if (at > now)
                model_enqueue_later(m, vm, (uint64_t) (at - now) + 1000);
}

/* --- reconcile --- */

static int ensure_datavolumes(Model *m, Object *vm, GError **error) {
        JsonArray *dvts = json_get_array(spec_of(vm), "dataVolumeTemplates");
        for (guint i = 0; dvts && i < json_array_get_length(dvts); i++) {
                JsonObject *t = json_array_get_object_element(dvts, i);
                const char *name = json_get_string(json_get_object(t, "metadata"), "name");
                Object *dv = NULL;
                if (model_get(m, &kind_datavolume, vm->namespace, name, &dv, NULL) == 0) {
                        if (!object_owned_by(dv, vm) && !object_is_deleting(dv))
                                log_object(G_LOG_LEVEL_DEBUG, dv, "exists and is not owned by VM %s; using it",
                                           vm->name);
                        continue;
                }
                g_autoptr(JsonObject) doc = json_object_new();
                JsonObject *meta = json_node_get_object(json_deep_copy(json_object_get_member(t, "metadata")));
                JsonArray *owners = json_array_new();
                json_object_set_string_member(doc, "apiVersion", "cdi.kubevirt.io/v1beta1");
                json_object_set_string_member(doc, "kind", "DataVolume");
                json_object_set_string_member(meta, "namespace", vm->namespace);
                json_array_add_object_element(owners, vm_owner_reference(vm));
                json_object_set_array_member(meta, "ownerReferences", owners);
                json_object_set_object_member(doc, "metadata", meta);
                json_object_set_member(doc, "spec", json_deep_copy(json_object_get_member(t, "spec")));
                if (model_apply_object(m, doc, false, error) < 0) {
                        ev_error_prefix(error, "spec.dataVolumeTemplates[%u]", i);
                        return -EINVAL;
                }
        }
        return 0;
}

static int create_instance(Model *m, Object *vm, JsonObject *status, GError **error) {
        JsonObject *tmpl = json_get_object(spec_of(vm), "template");
        g_autoptr(JsonObject) doc = json_object_new();
        JsonObject *meta = json_object_new();
        JsonNode *spec = json_deep_copy(json_object_get_member(tmpl, "spec"));
        JsonObject *tmeta = json_get_object(tmpl, "metadata");
        JsonArray *owners = json_array_new();

        json_object_set_string_member(doc, "apiVersion", KUBEVIRT_API);
        json_object_set_string_member(doc, "kind", "VirtualMachineInstance");
        json_object_set_string_member(meta, "name", vm->name);
        json_object_set_string_member(meta, "namespace", vm->namespace);
        JsonObject *labels = json_get_object(tmeta, "labels") ?
                             json_node_get_object(json_deep_copy(json_object_get_member(tmeta, "labels"))) :
                             json_object_new();
        json_object_set_string_member(labels, "kubevirt.io/vm", vm->name);
        json_object_set_object_member(meta, "labels", labels);
        if (json_get_object(tmeta, "annotations"))
                json_object_set_member(meta, "annotations",
                                       json_deep_copy(json_object_get_member(tmeta, "annotations")));
        json_array_add_object_element(owners, vm_owner_reference(vm));
        json_object_set_array_member(meta, "ownerReferences", owners);
        json_object_set_object_member(doc, "metadata", meta);
        json_object_set_member(doc, "spec", spec);
        if (instancetype_expand(m, vm->namespace, spec_of(vm), json_node_get_object(spec), status, error) < 0)
                return -EINVAL;
        return model_apply_object(m, doc, false, error);
}

/* A failed instance under Always/RerunOnFailure: count it and back off. */
static JsonObject *record_failure(Object *vm, Object *vmi) {
        JsonObject *old = json_get_object(status_of(vm), "startFailure");
        JsonObject *sf;
        gint64 count = json_get_int(old, "consecutiveFailCount", 0);
        JsonArray *ts = json_get_array(json_get_object(object_root(vmi), "status"), "phaseTransitionTimestamps");
        gint64 ran = 0;

        if (streq_ptr(json_get_string(old, "lastFailedVMIUID"), vmi->uid))
                return NULL;    /* counted already */
        for (guint i = 0; ts && i < json_array_get_length(ts); i++) {
                JsonObject *t = json_array_get_object_element(ts, i);
                if (streq_ptr(json_get_string(t, "phase"), "Running")) {
                        g_autoptr(GDateTime) dt =
                                g_date_time_new_from_iso8601(json_get_string(t, "phaseTransitionTimestamp"), NULL);
                        if (dt)
                                ran = g_get_real_time() / G_USEC_PER_SEC - g_date_time_to_unix(dt);
                }
        }
        count = ran >= HEALTHY_RUN_SECONDS ? 1 : count + 1;
        gint64 delay = BACKOFF_BASE_SECONDS << MIN(count - 1, 8);
        if (delay > BACKOFF_MAX_SECONDS)
                delay = BACKOFF_MAX_SECONDS;
        g_autoptr(GDateTime) at = g_date_time_new_from_unix_utc(g_get_real_time() / G_USEC_PER_SEC + delay);
        g_autofree char *when = g_date_time_format(at, "%Y-%m-%dT%H:%M:%SZ");
        sf = json_object_new();
        json_object_set_int_member(sf, "consecutiveFailCount", count);
        json_object_set_string_member(sf, "lastFailedVMIUID", vmi->uid);
        json_object_set_string_member(sf, "retryAfterTimestamp", when);
        return sf;
}

static JsonArray *copy_requests(Object *vm) {
        if (!json_get_array(status_of(vm), "stateChangeRequests"))
                return json_array_new();
        g_autoptr(JsonNode) copy = json_deep_copy(json_object_get_member(status_of(vm), "stateChangeRequests"));
        return json_node_dup_array(copy);
}

static int vm_reconcile(Model *m, Object *vm) {
        g_autoptr(GError) e = NULL;
        g_autoptr(JsonArray) requests = copy_requests(vm);
        g_autoptr(JsonObject) failure = NULL;
        g_autoptr(JsonObject) refs = NULL;
        g_autofree char *failure_message = NULL;
        VmStatus st = { 0 };
        Object *vmi, *other = NULL;

        if (object_is_deleting(vm))
                return 0;       /* its instance and DataVolumes are collected as its dependents */
        if (model_services(m) && model_services(m)->vms)
                vm_memory_dump_reconcile(m, vm, model_services(m)->vms->dumping);
        if (ensure_datavolumes(m, vm, &e) < 0) {
                write_status(m, vm, vm_instance(m, vm), &(VmStatus) { .failure = e->message,
                                                                      .failure_reason = "FailedCreate" },
                             NULL, NULL, false, NULL);
                return 0;
        }
        vmi = vm_instance(m, vm);
        if (!vmi && model_get(m, &kind_vmi, vm->namespace, vm->name, &other, NULL) == 0) {
                write_status(m, vm, NULL,
                             &(VmStatus) { .failure = "a VirtualMachineInstance of this name exists and is not owned "
                                                      "by the VM",
                                           .failure_reason = "FailedCreate" }, NULL, NULL, false, NULL);
                return 0;
        }
        VmRunFacts facts = run_facts(m, vm, vmi);
        VmRunDecision d = vm_run_decide(&facts);

        if (d.request_done)
                json_array_remove_element(requests, 0);
        if (d.count_failure && (failure = record_failure(vm, vmi))) {
                /* the instance goes; what happened to it stays on the VM (a copy: deleting it
                 * replaces its document) */
                const char *reason = json_get_string(json_get_object(object_root(vmi), "status"), "reason");
                failure_message = g_strdup(reason ? reason : "the instance failed");
                st.failure = failure_message;
                st.failure_reason = "InstanceFailed";
        }
        if (d.action == VM_RUN_DELETE)
                (void) model_delete_object(m, vmi, PROPAGATION_BACKGROUND, NULL);
        else if (d.action == VM_RUN_STOP)
                (void) services_instance_stop(model_services(m), vmi, -1, NULL);
        bool want = d.action == VM_RUN_CREATE;
        if (want) {
                refs = json_object_new();
                if (create_instance(m, vm, refs, &e) < 0) {
                        write_status(m, vm, NULL, &(VmStatus) { .failure = e->message,
                                                                .failure_reason = "FailedCreate" },
                                     requests, failure, false, NULL);
                        look_again_after_backoff(m, vm);
                        return 0;
                }
                vmi = vm_instance(m, vm);
        }
        /* no running instance: what went wrong last stays shown */
        write_status(m, vm, vmi, &st, requests, failure, !st.failure && (!vmi || vmi_is_finished(vmi)) && !want, refs);
        look_again_after_backoff(m, vm);
        return 0;
}

const KindInfo kind_vm = {
        .kind = "VirtualMachine",
        .group = "kubevirt.io",
        .versions = (const char *const[]) { "v1", "v1alpha3", NULL },
        .plural = "virtualmachines",
        .short_names = (const char *const[]) { "vm", "vms", NULL },
        .path_segment = "vm",
        .schema = "v1.VirtualMachine",
        .namespaced = true,
        .admit = vm_admit,
        .init_status = vm_init_status,
        .reconcile = vm_reconcile,
};

/* --- verbs --- */

static int add_requests(Model *m, Object *vm, const char *const *actions, const char *uid, const char *set_strategy,
                        GError **error) {
        JsonNode *doc = json_deep_copy(object_doc(vm));
        JsonObject *root = json_node_get_object(doc);
        JsonObject *status = json_ensure_object(root, "status");
        JsonArray *reqs = json_get_array(status, "stateChangeRequests");

        if (set_strategy) {
                JsonObject *spec = json_get_object(root, "spec");
                /* a VM written with the legacy field keeps it */
                if (json_object_has_member(spec, "running"))
                        json_object_set_boolean_member(spec, "running", streq(set_strategy, "Always"));
                else
                        json_object_set_string_member(spec, "runStrategy", set_strategy);
                json_object_set_string_member(status, "runStrategy", set_strategy);
                json_object_remove_member(status, "startFailure");
        }
        for (const char *const *a = actions; a && *a; a++) {
                JsonObject *r = json_object_new();
                if (!reqs) {
                        reqs = json_array_new();
                        json_object_set_array_member(status, "stateChangeRequests", reqs);
                }
                json_object_set_string_member(r, "action", *a);
                if (uid && streq(*a, "Stop")) {
                        JsonObject *data = json_object_new();
                        json_object_set_string_member(data, "uid", uid);
                        json_object_set_object_member(r, "data", data);
                }
                json_array_add_object_element(reqs, r);
        }
        if (model_update(m, vm, doc, error) < 0)
                return -EIO;
        model_enqueue(m, vm);
        return 0;
}

static bool instance_running(Model *m, Object *vmi) {
        return vmi && !vmi_is_finished(vmi) && !object_is_deleting(vmi);
}

int vm_start(Model *m, Object *vm, bool paused, GError **error) {
        const char *strategy = vm_run_strategy(vm);
        Object *vmi = vm_instance(m, vm);

        if (object_is_deleting(vm))
                return ev_error_set(error, EBUSY, "VM %s/%s is being deleted", vm->namespace, vm->name);
        if (instance_running(m, vmi))
                return ev_error_set(error, EBUSY, "VM %s/%s is already running", vm->namespace, vm->name);
        if (streq(strategy, "Once"))
                return ev_error_set(error, EBUSY, "VM %s/%s: runStrategy Once does not support manual start requests",
                                    vm->namespace, vm->name);
        if (streq(strategy, "Halted"))
                return add_requests(m, vm, NULL, NULL, "Always", error);
        if (streq(strategy, "Always"))
                /* waiting out a crash loop: start now */
                return add_requests(m, vm, NULL, NULL, "Always", error);
        return add_requests(m, vm, (const char *const[]) { "Start", NULL }, NULL, NULL, error);
}

int vm_stop(Model *m, Object *vm, bool force, int64_t grace, GError **error) {
        const char *strategy = vm_run_strategy(vm);
        Object *vmi = vm_instance(m, vm);

        if (!instance_running(m, vmi) && !(streq(strategy, "Always") || streq(strategy, "RerunOnFailure")))
                return ev_error_set(error, EBUSY, "VM %s/%s is not running", vm->namespace, vm->name);
        if (streq(strategy, "Halted"))
                return ev_error_set(error, EBUSY, "VM %s/%s is not running", vm->namespace, vm->name);
        if (vmi && instance_running(m, vmi) && (force || grace >= 0))
                (void) services_instance_stop(model_services(m), vmi, force ? 0 : grace, NULL);
        if (streq(strategy, "Always") || streq(strategy, "RerunOnFailure"))
                return add_requests(m, vm, NULL, NULL, "Halted", error);
        return add_requests(m, vm, (const char *const[]) { "Stop", NULL }, vmi ? vmi->uid : NULL, NULL, error);
}

int vm_restart(Model *m, Object *vm, bool force, int64_t grace, GError **error) {
        const char *strategy = vm_run_strategy(vm);
        Object *vmi = vm_instance(m, vm);

        if (streq(strategy, "Halted"))
                return ev_error_set(error, EBUSY,
                                    "VM %s/%s: runStrategy Halted does not support manual restart requests",
                                    vm->namespace, vm->name);
        if (!instance_running(m, vmi))
                return ev_error_set(error, EBUSY, "VM %s/%s is not running", vm->namespace, vm->name);
        if (force || grace >= 0)
                (void) services_instance_stop(model_services(m), vmi, force ? 0 : grace, NULL);
        return add_requests(m, vm, (const char *const[]) { "Stop", "Start", NULL }, vmi->uid, NULL, error);
}

/* --- the controller: its watch --- */

/* The VM of the instance's name, owner or not: a VM made again under the
 * name of one being deleted waits for the old instance to go. */
static void instance_changed(Model *m, Object *vmi, ModelEvent event, void *userdata) {
        Object *vm = NULL;
        if (model_get(m, &kind_vm, vmi->namespace, vmi->name, &vm, NULL) == 0)
                model_enqueue(m, vm);
}

static const ModelWatch instance_watch = { .changed = instance_changed };

int vm_controller_new(Model *m, Services *s, VmController **ret) {
        g_autoptr(VmController) c = g_new0(VmController, 1);

        c->model = m;
        c->services = s;
        c->dumping = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        model_watch(m, &kind_vmi, &instance_watch, c);
        *ret = g_steal_pointer(&c);
        return 0;
}

VmController *vm_controller_free(VmController *c) {
        if (!c)
                return NULL;
        model_unwatch(c->model, &instance_watch, c);
        g_hash_table_unref(c->dumping);
        g_free(c);
        return NULL;
}
