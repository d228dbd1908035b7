/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VirtualMachineInstanceReplicaSet (kubevirt.io/v1), as KubeVirt's
 * replicaset controller: spec.replicas (default 1) running instances of
 * spec.template, each named from the template's name or generateName, else
 * the set's own name, plus 5 random characters (generateName), labelled
 * with the template's labels and owned by the set as its controller
 * (deleting the set deletes them).  The set counts the instances its
 * selector picks: an instance without a controller whose labels match is
 * adopted, one of its own whose labels no longer match is let go.  A
 * finished instance (Succeeded or Failed) is deleted and made again.
 * Scaling down deletes instances that are not Ready first, then the
 * newest.  A set whose instances fail (or that cannot make them) backs off
 * before it makes the next: 1 s, doubling to 5 min, until its instances
 * are all Ready (KubeVirt's rate-limited queue; a template that fails at
 * once must not spin).  spec.paused stops all of that.  Status: replicas (instances
 * not finished nor being deleted), readyReplicas, labelSelector and the
 * conditions ReplicaFailure (FailedCreate, FailedDelete) and ReplicaPaused,
 * present only while true, as KubeVirt writes them; Events
 * SuccessfulCreate, SuccessfulDelete, FailedCreate, FailedDelete,
 * SuccessfulPaused and SuccessfulResumed with KubeVirt's messages. */
#include "event.h"
#include "json-util.h"
#include "labelselector.h"
#include "log.h"
#include "services.h"
#include "util.h"
#include "validate.h"
#include "vm-status.h"
#include "vmi-status.h"
#include "vmirs.h"

/* instances made per reconcile (KubeVirt's burstReplicas) */
#define BURST_REPLICAS 10u
#define BACKOFF_FIRST_USEC (1 * G_USEC_PER_SEC)
#define BACKOFF_MAX_USEC (300 * G_USEC_PER_SEC)

/* A set's failures in a row and when it may make instances again (in
 * memory: a restart starts afresh). */
typedef struct Backoff {
        unsigned streak;
        gint64 until;
} Backoff;

static GHashTable *backoffs;    /* set uid -> Backoff */

static JsonObject *spec_of(JsonObject *doc) {
        return json_get_object(doc, "spec");
}

static JsonObject *template_meta(JsonObject *doc) {
        return json_get_object(json_get_object(spec_of(doc), "template"), "metadata");
}

/* The selector, parsed; NULL (error set) when it is empty or wrong. */
static LabelSelector *selector_of(JsonObject *doc, GError **error) {
        g_autofree char *s = label_selector_format(json_get_object(spec_of(doc), "selector"), error);
        LabelSelector *sel = NULL;

        if (!s) {
                ev_error_prefix(error, "spec.selector");
                return NULL;
        }
        if (isempty(s)) {
                ev_error_set(error, EINVAL, "spec.selector: Invalid value: an empty selector is refused for a replica "
                             "set (it would take every instance of the namespace)");
                return NULL;
        }
        if (label_selector_parse(s, &sel, error) < 0)
                return NULL;
        return sel;
}

/* The prefix of its instances' names, as KubeVirt's getVirtualMachineBaseName
 * (admission checks the same). */
static const char *base_name(Object *rs) {
        JsonObject *meta = template_meta(object_root(rs));
        if (!isempty(json_get_string(meta, "name")))
                return json_get_string(meta, "name");
        if (!isempty(json_get_string(meta, "generateName")))
                return json_get_string(meta, "generateName");
        return rs->name;
}

/* An instance of the template named name (owned by the caller). */
static JsonObject *vmi_document(JsonObject *rs_doc, const char *name, const char *namespace, JsonObject *owner) {
        JsonObject *tmpl = json_get_object(spec_of(rs_doc), "template");
        JsonObject *doc = json_object_new(), *meta = json_object_new();
        JsonObject *tmeta = json_get_object(tmpl, "metadata");

        json_object_set_string_member(doc, "apiVersion", KUBEVIRT_API);
        json_object_set_string_member(doc, "kind", "VirtualMachineInstance");
        json_object_set_string_member(meta, "name", name);
        json_object_set_string_member(meta, "namespace", namespace);
        if (json_get_object(tmeta, "labels"))
                json_object_set_member(meta, "labels", json_deep_copy(json_object_get_member(tmeta, "labels")));
        if (json_get_object(tmeta, "annotations"))
                json_object_set_member(meta, "annotations",
                                       json_deep_copy(json_object_get_member(tmeta, "annotations")));
        if (owner) {
                JsonArray *owners = json_array_new();
                json_array_add_object_element(owners, owner);
                json_object_set_array_member(meta, "ownerReferences", owners);
        }
        json_object_set_object_member(doc, "metadata", meta);
        json_object_set_member(doc, "spec", json_deep_copy(json_object_get_member(tmpl, "spec")));
        return doc;
}

/* --- admission (KubeVirt's ValidateVMIRSSpec) --- */

static int rs_admit(Model *m, JsonObject *doc, JsonObject *old, GPtrArray *warnings, GError **error) {
        JsonObject *spec = spec_of(doc), *meta = json_get_object(doc, "metadata");
        gint64 replicas = json_get_int(spec, "replicas", 1);

        if (replicas < 0)
                return ev_error_set(error, EINVAL, "spec.replicas: Invalid value: %" G_GINT64_FORMAT
                                    ": must be greater than or equal to 0", replicas);
        if (!json_get_object(json_get_object(spec, "template"), "spec"))
                return ev_error_set(error, EINVAL, "spec.template.spec: Required value: missing virtual machine "
                                    "template");
        g_autoptr(LabelSelector) sel = selector_of(doc, error);
        if (!sel)
                return -EINVAL;
        /* KubeVirt's controller will not act on a template without labels */
        JsonObject *labels = json_get_object(template_meta(doc), "labels");
        if (!labels || json_object_get_size(labels) == 0)
                return ev_error_set(error, EINVAL, "spec.template.metadata.labels: Required value: a replica set "
                                    "finds its instances by their labels");
        if (!label_selector_matches(sel, labels))
                return ev_error_set(error, EINVAL, "spec.selector: Invalid value: selector does not match labels "
                                    "(spec.template.metadata.labels)");
        /* the instances must be instances KubeVirt (and we) take: one as it would be made */
        const char *base = !isempty(json_get_string(template_meta(doc), "name")) ?
                           json_get_string(template_meta(doc), "name") :
                           !isempty(json_get_string(template_meta(doc), "generateName")) ?
                           json_get_string(template_meta(doc), "generateName") : json_get_string(meta, "name");
        g_autofree char *name = g_strdup_printf("%.58sxxxxx", base ?: "");
        g_autoptr(GError) e = NULL;
        if (validate_dns1123_subdomain(name, &e) < 0)
                return ev_error_set(error, EINVAL, "spec.template.metadata: Invalid value: \"%s\": the instances' "
                                    "names (%s and 5 characters): %s", base ?: "", base ?: "", e->message);
        g_autoptr(JsonObject) vmi = vmi_document(doc, name, json_get_string(meta, "namespace") ?: "", NULL);
        if (kind_vmi.admit(m, vmi, NULL, warnings, error) < 0) {
                ev_error_prefix(error, "spec.template");
                return -EINVAL;
        }
        return 0;
}

/* --- reconcile --- */

static void record(Model *m, Object *rs, bool warning, const char *reason, const char *fmt, ...) G_GNUC_PRINTF(5, 6);
static void record(Model *m, Object *rs, bool warning, const char *reason, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        g_autofree char *msg = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        log_object(warning ? G_LOG_LEVEL_WARNING : G_LOG_LEVEL_INFO, rs, "%s", msg);
        if (model_services(m))
                event_record(model_services(m)->events, rs, warning, reason, "%s", msg);
}

/* The uid of o's controller (the ownerReference with controller: true). */
static const char *controller_uid(Object *o) {
        JsonArray *owners = json_get_array(object_metadata(o), "ownerReferences");
        for (guint i = 0; owners && i < json_array_get_length(owners); i++) {
                JsonObject *ref = json_array_get_object_element(owners, i);
                if (json_get_bool(ref, "controller", false))
                        return json_get_string(ref, "uid");
        }
        return NULL;
}

/* Adopt (an ownerReference to rs added) or let go (rs's removed). */
static int set_owned(Model *m, Object *rs, Object *vmi, bool owned, GError **error) {
        g_autoptr(JsonNode) doc = json_deep_copy(object_doc(vmi));
        JsonObject *meta = json_ensure_object(json_node_get_object(doc), "metadata");
        JsonArray *owners = json_get_array(meta, "ownerReferences");

        if (owned) {
                if (!owners) {
                        owners = json_array_new();
                        json_object_set_array_member(meta, "ownerReferences", owners);
                }
                json_array_add_object_element(owners, object_owner_reference(rs, KUBEVIRT_API));
        } else
                for (guint i = json_array_get_length(owners); i > 0; i--)
                        if (streq_ptr(json_get_string(json_array_get_object_element(owners, i - 1), "uid"), rs->uid))
                                json_array_remove_element(owners, i - 1);
        if (owners && json_array_get_length(owners) == 0)
                json_object_remove_member(meta, "ownerReferences");
        return model_update(m, vmi, g_steal_pointer(&doc), error);
}

static gint delete_order(gconstpointer a, gconstpointer b) {
        Object *x = *(Object *const *) a, *y = *(Object *const *) b;
        bool rx = streq_ptr(object_condition(x, "Ready", "status"), "True");
        bool ry = streq_ptr(object_condition(y, "Ready", "status"), "True");
        if (rx != ry)
                return rx ? 1 : -1;
        int c = g_strcmp0(object_meta_string(y, "creationTimestamp"), object_meta_string(x, "creationTimestamp"));
        return c ? c : g_strcmp0(x->name, y->name);
}

/* The instances rs counts, adopting and letting go as its selector says:
 * those not finished, not being deleted (in the order they are deleted
 * in), and the finished ones. */
static int claim_instances(Model *m, Object *rs, const LabelSelector *sel, GPtrArray *active, GPtrArray *finished,
                           GError **error) {
        g_autoptr(GPtrArray) vmis = model_list(m, &kind_vmi, rs->namespace, NULL);

        for (guint i = 0; i < vmis->len; i++) {
                Object *vmi = vmis->pdata[i];
                const char *controller = controller_uid(vmi);
                bool matches = label_selector_matches(sel, object_labels(vmi));
                if (object_is_deleting(vmi) || (controller && !streq(controller, rs->uid)))
                        continue;
                if (!controller && matches && set_owned(m, rs, vmi, true, error) < 0)
                        return -EIO;
                if (controller && !matches) {
                        if (set_owned(m, rs, vmi, false, error) < 0)
                                return -EIO;
                        continue;
                }
                if (!matches)
                        continue;
                g_ptr_array_add(vmi_is_finished(vmi) ? finished : active, vmi);
        }
        g_ptr_array_sort(active, delete_order);
        return 0;
}

static int create_instances(Model *m, Object *rs, guint n, GError **error) {
        for (guint made = 0; made < n; made++) {
                g_autofree char *name = NULL;
                Object *taken = NULL;
                do {
                        g_free(name);
                        name = model_generate_name(base_name(rs));
                } while (model_get(m, &kind_vmi, rs->namespace, name, &taken, NULL) == 0);
                g_autoptr(JsonObject) doc = vmi_document(object_root(rs), name, rs->namespace,
                                                         object_owner_reference(rs, KUBEVIRT_API));
                if (model_apply_object(m, doc, false, error) < 0) {
                        record(m, rs, true, "FailedCreate", "Error creating virtual machine instance: %s",
                               (*error)->message);
                        return -EIO;
                }
                record(m, rs, false, "SuccessfulCreate",
                       "Started the virtual machine by creating the new virtual machine instance %s", name);
        }
        return 0;
}

/* Deletes the first n of vmis (finished: they are finished ones) and
 * takes them out of vmis: they may be gone. */
static void delete_instances(Model *m, Object *rs, GPtrArray *vmis, guint n, bool finished, GError **error) {
        guint i;
        for (i = 0; i < n && i < vmis->len; i++) {
                Object *vmi = vmis->pdata[i];
                g_autofree char *name = g_strdup(vmi->name), *uid = g_strdup(vmi->uid);
                if (model_delete_object(m, vmi, PROPAGATION_BACKGROUND, error) < 0) {
                        record(m, rs, true, "FailedDelete", "Error deleting %s %s: %s",
                               finished ? "finished virtual machine" : "virtual machine instance", name,
                               (*error)->message);
                        break;
                }
                if (finished)
                        record(m, rs, false, "SuccessfulDelete", "Deleted finished virtual machine: %s", uid);
                else
                        record(m, rs, false, "SuccessfulDelete",
                               "Stopped the virtual machine by deleting the virtual machine instance %s", uid);
        }
        g_ptr_array_remove_range(vmis, 0, i);
}

static Backoff *backoff_of(Object *rs, bool make) {
        Backoff *b = backoffs ? g_hash_table_lookup(backoffs, rs->uid) : NULL;
        if (!b && make && backoffs) {
                b = g_new0(Backoff, 1);
                g_hash_table_insert(backoffs, g_strdup(rs->uid), b);
        }
        return b;
}

/* One more failure: no instance is made for a while (and rs looks again then). */
static void backoff_fail(Model *m, Object *rs) {
        Backoff *b = backoff_of(rs, true);
        if (!b)
                return;
        gint64 delay = MIN(BACKOFF_FIRST_USEC << MIN(b->streak, 16u), BACKOFF_MAX_USEC);
        b->streak++;
        b->until = g_get_monotonic_time() + delay;
        model_enqueue_later(m, rs, (uint64_t) delay);
}

static bool backing_off(Object *rs) {
        Backoff *b = backoff_of(rs, false);
        return b && g_get_monotonic_time() < b->until;
}

/* Still backing off: look again when it ends (an earlier timer of rs's
 * may have woken this pass: the model keeps one timer per object). */
static void look_again_after_backoff(Model *m, Object *rs) {
        Backoff *b = backoff_of(rs, false);
        gint64 left = b ? b->until - g_get_monotonic_time() : 0;
        if (left > 0)
                model_enqueue_later(m, rs, (uint64_t) left);
}

static bool any_failed(GPtrArray *vmis) {
        for (guint i = 0; i < vmis->len; i++)
                if (streq(vmi_phase(vmis->pdata[i]), "Failed"))
                        return true;
        return false;
}

static guint count_ready(GPtrArray *vmis) {
        guint ready = 0;
        for (guint i = 0; i < vmis->len; i++)
                ready += streq_ptr(object_condition(vmis->pdata[i], "Ready", "status"), "True");
        return ready;
}

static void remove_condition(JsonObject *status, const char *type) {
        JsonArray *conds = json_get_array(status, "conditions");
        if (!conds)
                return;
        for (guint i = json_array_get_length(conds); i > 0; i--)
                if (streq_ptr(json_get_string(json_array_get_object_element(conds, i - 1), "type"), type))
                        json_array_remove_element(conds, i - 1);
}

/* failure: why scaling failed (reason FailedCreate or FailedDelete), or NULL */
static void write_status(Model *m, Object *rs, GPtrArray *active, const char *reason, const char *failure) {
        JsonNode *doc = json_deep_copy(object_doc(rs));
        JsonObject *status = json_ensure_object(json_node_get_object(doc), "status");
        g_autofree char *selector = label_selector_format(json_get_object(spec_of(object_root(rs)), "selector"), NULL);
        bool paused = json_get_bool(spec_of(object_root(rs)), "paused", false);
        bool was_paused = streq_ptr(object_condition(rs, "ReplicaPaused", "status"), "True");
        json_object_set_int_member(status, "replicas", active->len);
        json_object_set_int_member(status, "readyReplicas", count_ready(active));
        json_object_set_string_member(status, "labelSelector", selector ?: "");
        if (failure && !object_condition(rs, "ReplicaFailure", "status"))
                status_set_condition(status, "ReplicaFailure", true, reason, failure);
        else if (!failure && !backing_off(rs))  /* a failure stands until it is tried again */
                remove_condition(status, "ReplicaFailure");
        if (paused)
                status_set_condition(status, "ReplicaPaused", true, "Paused", "Controller got paused");
        else
                remove_condition(status, "ReplicaPaused");
        if (json_get_array(status, "conditions") && !json_array_get_length(json_get_array(status, "conditions")))
                json_object_remove_member(status, "conditions");
        if (json_equal(doc, object_doc(rs))) {
                json_node_unref(doc);
                return;
        }
        model_write_status(m, rs, doc);
        if (paused != was_paused)
                record(m, rs, false, paused ? "SuccessfulPaused" : "SuccessfulResumed", paused ? "Paused" : "Resumed");
}

static int rs_reconcile(Model *m, Object *rs) {
        JsonObject *spec = spec_of(object_root(rs));
        gint64 want = json_get_int(spec, "replicas", 1);
        g_autoptr(GPtrArray) active = g_ptr_array_new(), finished = g_ptr_array_new();
        g_autoptr(LabelSelector) sel = NULL;
        g_autoptr(GError) e = NULL;
        const char *reason = NULL;

        if (object_is_deleting(rs))
                return 0;
        sel = selector_of(object_root(rs), &e);
        if (!sel || claim_instances(m, rs, sel, active, finished, &e) < 0) {
                log_object(G_LOG_LEVEL_WARNING, rs, "%s", e->message);
                return -EIO;
        }
        if (!json_get_bool(spec, "paused", false)) {
                if (any_failed(finished))
                        backoff_fail(m, rs);
                else if (count_ready(active) == active->len && active->len == want && backoffs)
                        g_hash_table_remove(backoffs, rs->uid);
                if (active->len > want) {
                        reason = "FailedDelete";
                        delete_instances(m, rs, active, MIN(active->len - (guint) want, BURST_REPLICAS), false, &e);
                } else if (active->len < want && backing_off(rs))
                        look_again_after_backoff(m, rs);
                else if (active->len < want) {
                        reason = "FailedCreate";
                        guint n = MIN((guint) want - active->len, BURST_REPLICAS);
                        if (create_instances(m, rs, n, &e) < 0)
                                backoff_fail(m, rs);        /* tried again later, as KubeVirt's queue does */
                        else if (n < (guint) want - active->len)
                                model_enqueue(m, rs);       /* the rest on the next pass */
                }
                if (!e && finished->len) {
                        reason = "FailedDelete";
                        delete_instances(m, rs, finished, MIN(finished->len, BURST_REPLICAS), true, &e);
                }
        }
        /* what was made is counted when its creation comes back (the owner is enqueued) */
        write_status(m, rs, active, reason, e ? e->message : NULL);
        return 0;
}

const KindInfo kind_vmirs = {
        .kind = "VirtualMachineInstanceReplicaSet",
        .group = "kubevirt.io",
        .versions = (const char *const[]) { "v1", "v1alpha3", NULL },
        .plural = "virtualmachineinstancereplicasets",
        .short_names = (const char *const[]) { "vmirs", "vmirss", NULL },
        .path_segment = "vmirs",
        .schema = "v1.VirtualMachineInstanceReplicaSet",
        .namespaced = true,
        .admit = rs_admit,
        .init_status = status_init_replicas,
        .reconcile = rs_reconcile,
};

/* An instance without a controller changed: the sets of its namespace
 * whose selector takes it look (their own instances reach them as their
 * owner). */
static void orphan_changed(Model *m, Object *vmi, ModelEvent event, void *userdata) {
        if (controller_uid(vmi) || object_is_deleting(vmi))
                return;
        g_autoptr(GPtrArray) sets = model_list(m, &kind_vmirs, vmi->namespace, NULL);
        for (guint i = 0; i < sets->len; i++) {
                g_autoptr(LabelSelector) sel = selector_of(object_root(sets->pdata[i]), NULL);
                if (sel && label_selector_matches(sel, object_labels(vmi)))
                        model_enqueue(m, sets->pdata[i]);
        }
}

static const ModelWatch orphan_watch = { .changed = orphan_changed };

/* A set gone: its back-off with it. */
static void set_changed(Model *m, Object *rs, ModelEvent event, void *userdata) {
        if (event == MODEL_EVENT_REMOVED && backoffs)
                g_hash_table_remove(backoffs, rs->uid);
}

static const ModelWatch set_watch = { .changed = set_changed };

void vmirs_controller_start(Model *m) {
        backoffs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        model_watch(m, &kind_vmi, &orphan_watch, NULL);
        model_watch(m, &kind_vmirs, &set_watch, NULL);
}

void vmirs_controller_stop(Model *m) {
        model_unwatch(m, &orphan_watch, NULL);
        model_unwatch(m, &set_watch, NULL);
        g_clear_pointer(&backoffs, g_hash_table_unref);
}
