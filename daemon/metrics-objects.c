/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The labels and values follow KubeVirt's collectors
 * (pkg/monitoring/metrics/virt-controller: vmistats_collector.go,
 * vmstats_collector.go, vmsnapshot.go; virt-handler's domainstats) and
 * CDI's (pkg/monitoring/metrics/cdi-importer, cdi-cloner, cdi-controller),
 * read from the objects' documents as those read theirs. */
#include "instancetype.h"
#include "json-util.h"
#include "metrics-objects.h"
#include "quantity.h"
#include "snapshot.h"
#include "util.h"
#include "vmi.h"
#include "vmi-status.h"

#define ANNOTATION_PREFIX "vm.kubevirt.io/"
#define VENDOR_LABEL "instancetype.kubevirt.io/vendor"
#define OTHER "<other>"
#define LABEL_PREFIX "kubernetes_vmi_label_"

typedef struct Labels {
        const char *v[40];              /* name, value, ..., NULL */
        size_t n;
} Labels;

static void add(Labels *l, const char *name, const char *value) {
        g_assert(l->n + 2 < G_N_ELEMENTS(l->v));
        l->v[l->n++] = name;
        l->v[l->n++] = value;
        l->v[l->n] = NULL;
}

MetricsVmi *metrics_vmi_free(MetricsVmi *v) {
        if (!v)
                return NULL;
        g_free(v->domain);
        g_ptr_array_unref(v->labels);
        g_free(v);
        return NULL;
}

static char *lower(const char *s) {
        return s ? g_ascii_strdown(s, -1) : NULL;
}

/* vm.kubevirt.io/os, workload, flavor of annotations (may be NULL). */
static void add_system_info(Labels *l, JsonObject *annotations) {
        add(l, "os", json_get_string(annotations, ANNOTATION_PREFIX "os"));
        add(l, "workload", json_get_string(annotations, ANNOTATION_PREFIX "workload"));
        add(l, "flavor", json_get_string(annotations, ANNOTATION_PREFIX "flavor"));
}

/* KubeVirt names an instance type or preference only when a vendor it
 * knows made it; others are "<other>", none is no label. */
static const char *resource_name(Model *m, JsonObject *ref, const KindInfo *namespaced, const KindInfo *cluster,
                                 const char *namespace) {
        const char *name = json_get_string(ref, "name"), *kind = json_get_string(ref, "kind");
        const KindInfo *k = kind && g_ascii_strcasecmp(kind, namespaced->kind) == 0 ? namespaced : cluster;
        Object *o = NULL;

        if (!ref || isempty(name))
                return NULL;
        if (model_get(m, k, k == namespaced ? namespace : "", name, &o, NULL) < 0)
                return OTHER;
        const char *vendor = json_get_string(object_labels(o), VENDOR_LABEL);
        return streq_ptr(vendor, "kubevirt.io") || streq_ptr(vendor, "redhat.com") ? o->name : OTHER;
}

static void add_instancetype(Labels *l, Model *m, JsonObject *vm_spec, const char *namespace) {
        add(l, "instance_type", resource_name(m, json_get_object(vm_spec, "instancetype"), &kind_instancetype,
                                              &kind_cluster_instancetype, namespace));
        add(l, "preference", resource_name(m, json_get_object(vm_spec, "preference"), &kind_preference,
                                           &kind_cluster_preference, namespace));
}

/* The VM an instance belongs to (its controller owner), or NULL. */
static Object *owner_vm(Model *m, Object *vmi) {
        JsonArray *owners = json_get_array(object_metadata(vmi), "ownerReferences");
        for (guint i = 0; owners && i < json_array_get_length(owners); i++) {
                JsonObject *ref = json_array_get_object_element(owners, i);
                Object *o = streq_ptr(json_get_string(ref, "kind"), "VirtualMachine") ?
                            model_find_uid(m, json_get_string(ref, "uid")) : NULL;
                if (o && o->kind == &kind_vm)
                        return o;
        }
        return NULL;
}

/* KubeVirt's runtime labels: node, namespace, name, and the instance's
 * labels as kubernetes_vmi_label_<key with . / - as _>. */
static MetricsVmi *vmi_identity(Object *vmi) {
        MetricsVmi *v = g_new0(MetricsVmi, 1);
        JsonObject *labels = object_labels(vmi);

        v->domain = vmi_domain_name(vmi);
        v->labels = g_ptr_array_new_with_free_func(g_free);
        g_ptr_array_add(v->labels, g_strdup("node"));
        g_ptr_array_add(v->labels, g_strdup(object_status_string(vmi, "nodeName")));
        g_ptr_array_add(v->labels, g_strdup("namespace"));
        g_ptr_array_add(v->labels, g_strdup(vmi->namespace));
        g_ptr_array_add(v->labels, g_strdup("name"));
        g_ptr_array_add(v->labels, g_strdup(vmi->name));
        g_autoptr(GList) keys = labels ? json_object_get_members(labels) : NULL;
        keys = g_list_sort(keys, (GCompareFunc) strcmp);
        g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        for (GList *k = keys; k; k = k->next) {
                g_autofree char *key = g_strconcat(LABEL_PREFIX, k->data, NULL);
                g_strdelimit(key, "./-", '_');
                /* a.b and a_b would be one label twice: Prometheus refuses
                 * the whole scrape then; the first (in sorted order) stays */
                if (!g_hash_table_add(seen, g_strdup(key)))
                        continue;
                g_ptr_array_add(v->labels, g_steal_pointer(&key));
                g_ptr_array_add(v->labels, g_strdup(json_get_string(labels, k->data)));
        }
        g_ptr_array_add(v->labels, NULL);
        g_ptr_array_set_size(v->labels, v->labels->len - 1);    /* NULL-terminated past len */
        return v;
}

/* kubevirt_vmi_filesystem_*: the guest agent's file systems. */
static void collect_filesystems(Model *m, Object *vmi, MetricsVmi *id, PromSet *set) {
        JsonObject *guest = vmi_guest_info(m, vmi);
        JsonArray *disks = json_get_array(json_get_object(guest, "fsInfo"), "disks");

        for (guint i = 0; disks && i < json_array_get_length(disks); i++) {
                JsonObject *d = json_array_get_object_element(disks, i);
                g_autoptr(GPtrArray) l = g_ptr_array_new();
                for (guint k = 0; k < id->labels->len; k++)
                        g_ptr_array_add(l, id->labels->pdata[k]);
                const char *extra[] = { "disk_name", json_get_string(d, "diskName"), "mount_point",
                                        json_get_string(d, "mountPoint"), "file_system_type",
                                        json_get_string(d, "fileSystemType") };
                for (size_t k = 0; k < G_N_ELEMENTS(extra); k++)
                        g_ptr_array_add(l, (gpointer) extra[k]);
                g_ptr_array_add(l, NULL);
                if (json_object_has_member(d, "totalBytes"))
                        prom_samplev(set, "kubevirt_vmi_filesystem_capacity_bytes",
                                     "kubevirt_vmi_filesystem_capacity_bytes",
                                     (double) json_get_int(d, "totalBytes", 0), (const char *const *) l->pdata);
                if (json_object_has_member(d, "usedBytes"))
                        prom_samplev(set, "kubevirt_vmi_filesystem_used_bytes", "kubevirt_vmi_filesystem_used_bytes",
                                     (double) json_get_int(d, "usedBytes", 0), (const char *const *) l->pdata);
        }
}

static void collect_vmi(Model *m, Object *vmi, PromSet *set, GHashTable *phases, GHashTable *vmis) {
        JsonObject *status = json_get_object(object_root(vmi), "status");
        JsonObject *os = json_get_object(status, "guestOSInfo");
        Object *vm = owner_vm(m, vmi);
        g_autofree char *phase = lower(object_status_string(vmi, "phase"));
        Labels l = {};

        add(&l, "node", json_get_string(status, "nodeName"));
        add(&l, "phase", phase);
        add_system_info(&l, json_get_object(object_metadata(vmi), "annotations"));
        if (vm)
                add_instancetype(&l, m, json_get_object(object_root(vm), "spec"), vm->namespace);
        add(&l, "guest_os_kernel_release", json_get_string(os, "kernelRelease"));
        add(&l, "guest_os_machine", json_get_string(json_get_object(status, "machine"), "type"));
        add(&l, "guest_os_arch", json_get_string(os, "machine"));
        add(&l, "guest_os_name", json_get_string(os, "name"));
        add(&l, "guest_os_version_id", json_get_string(os, "versionId"));
        /* phase_count: the same labels but namespace and name, summed.  The
         * names are ours; the values (annotations, what the guest agent
         * says) are escaped, so none can carry the separator. */
        g_autoptr(GString) key = g_string_new(NULL);
        for (size_t i = 0; i < l.n; i += 2) {
                g_autofree char *value = g_strescape(l.v[i + 1] ? l.v[i + 1] : "", NULL);
                g_string_append_printf(key, "%s\x1f%s\x1f", l.v[i], value);
        }
        guint n = GPOINTER_TO_UINT(g_hash_table_lookup(phases, key->str));
        g_hash_table_replace(phases, g_strdup(key->str), GUINT_TO_POINTER(n + 1));
        add(&l, "namespace", vmi->namespace);
        add(&l, "name", vmi->name);
        prom_samplev(set, "kubevirt_vmi_info", "kubevirt_vmi_info", 1, l.v);

        if (!streq_ptr(object_status_string(vmi, "phase"), "Running"))
                return;
        MetricsVmi *id = vmi_identity(vmi);
        collect_filesystems(m, vmi, id, set);
        g_hash_table_replace(vmis, g_strdup(id->domain), id);
}

static gint compare_strings(gconstpointer a, gconstpointer b, gpointer unused) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static void collect_phase_counts(GHashTable *phases, PromSet *set) {
        guint n;
        g_autofree gpointer *keys = g_hash_table_get_keys_as_array(phases, &n);

        g_qsort_with_data(keys, (gint) n, sizeof *keys, compare_strings, NULL);     /* a stable text */
        for (guint i = 0; i < n; i++) {
                gpointer v = g_hash_table_lookup(phases, keys[i]);
                g_auto(GStrv) f = g_strsplit(keys[i], "\x1f", -1);
                g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func(g_free);
                Labels l = {};
                for (size_t k = 0; f[k] && f[k + 1]; k += 2) {
                        g_ptr_array_add(values, g_strcompress(f[k + 1]));
                        add(&l, f[k], values->pdata[values->len - 1]);
                }
                prom_samplev(set, "kubevirt_vmi_phase_count", "kubevirt_vmi_phase_count",
                             (double) GPOINTER_TO_UINT(v), l.v);
        }
}

/* KubeVirt's status groups of a VM's printable status. */
static const char *status_group(const char *status) {
        static const char *const groups[][8] = {
                { "starting", "Provisioning", "Starting", "WaitingForVolumeBinding", NULL },
                { "running", "Running", NULL },
                { "migrating", "Migrating", NULL },
                { "non_running", "Stopped", "Paused", "Stopping", "Terminating", NULL },
                { "error", "CrashLoopBackOff", "Unknown", "ErrorUnschedulable", "ErrImagePull", "ImagePullBackOff",
                  "ErrorPvcNotFound", "DataVolumeError" },
        };
        for (size_t g = 0; g < G_N_ELEMENTS(groups); g++)
                for (size_t i = 1; i < G_N_ELEMENTS(groups[g]) && groups[g][i]; i++)
                        if (streq_ptr(status, groups[g][i]))
                                return groups[g][0];
        return "<unknown>";
}

static void request(PromSet *set, Object *vm, double value, const char *resource, const char *unit,
                    const char *source) {
        prom_sample(set, "kubevirt_vm_resource_requests", "kubevirt_vm_resource_requests", value, "name", vm->name,
                    "namespace", vm->namespace, "resource", resource, "unit", unit, "source", source, NULL);
}

static bool quantity_value(const char *text, bool milli, double *ret) {
        Quantity q;
        int64_t v;

        if (!text || quantity_parse(text, &q, NULL) < 0 ||
            (milli ? quantity_to_milli(&q, &v) : quantity_to_int64(&q, &v)) < 0)
                return false;
        *ret = milli ? (double) v / 1000.0 : (double) v;
        return *ret != 0;
}

/* kubevirt_vm_resource_requests of spec (the template's, instance type
 * and preference applied), as vmstats_collector.go reports them. */
static void collect_requests(Object *vm, JsonObject *spec, PromSet *set) {
        JsonObject *domain = json_get_object(spec, "domain"), *cpu = json_get_object(domain, "cpu");
        JsonObject *requests = json_get_object(json_get_object(domain, "resources"), "requests");
        JsonObject *memory = json_get_object(domain, "memory");
        static const char *const topology[] = { "cores", "threads", "sockets" };
        double v, guest = 0, domain_memory = 0;

        if (quantity_value(json_get_string(requests, "memory"), false, &domain_memory))
                request(set, vm, domain_memory, "memory", "bytes", "domain");
        if (quantity_value(json_get_string(memory, "guest"), false, &guest))
                request(set, vm, guest, "memory", "bytes", "guest");
        if (quantity_value(json_get_string(json_get_object(memory, "hugepages"), "pageSize"), false, &v))
                request(set, vm, v, "memory", "bytes", "hugepages");
        if (guest > 0 || domain_memory > 0)
                request(set, vm, guest > 0 ? guest : domain_memory, "memory", "bytes", "guest_effective");
        for (size_t i = 0; cpu && i < G_N_ELEMENTS(topology); i++)
                if (json_get_int(cpu, topology[i], 0) > 0)
                        request(set, vm, (double) json_get_int(cpu, topology[i], 0), "cpu", topology[i], "domain");
        if (quantity_value(json_get_string(requests, "cpu"), true, &v))
                request(set, vm, v, "cpu", "cores", "requests");
        else if (!cpu)
                for (size_t i = 0; i < G_N_ELEMENTS(topology); i++)
                        request(set, vm, 1, "cpu", topology[i], "default");
        double vcpus = 1;
        for (size_t i = 0; cpu && i < G_N_ELEMENTS(topology); i++)
                vcpus *= (double) MAX(json_get_int(cpu, topology[i], 1), 1);
        request(set, vm, vcpus, "cpu", "cores", "guest_effective");
}

static void collect_vm(Model *m, Object *vm, PromSet *set) {
        JsonObject *spec = json_get_object(object_root(vm), "spec");
        JsonObject *template = json_get_object(spec, "template");
        JsonObject *tspec = json_get_object(template, "spec");
        const char *printable = object_status_string(vm, "printableStatus");
        g_autofree char *status = lower(printable);
        Labels l = {};

        add(&l, "name", vm->name);
        add(&l, "namespace", vm->namespace);
        add_system_info(&l, json_get_object(json_get_object(template, "metadata"), "annotations"));
        add(&l, "machine_type", json_get_string(json_get_object(json_get_object(tspec, "domain"), "machine"), "type"));
        add_instancetype(&l, m, spec, vm->namespace);
        add(&l, "status", status);
        add(&l, "status_group", status_group(printable));
        prom_samplev(set, "kubevirt_vm_info", "kubevirt_vm_info", 1, l.v);

        if (!tspec)
                return;
        /* as KubeVirt, on a copy with the instance type and preference applied */
        g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), tspec);
        g_autoptr(JsonNode) copy = json_deep_copy(node);
        JsonObject *vmi_spec = json_node_get_object(copy);
        if (instancetype_expand(m, vm->namespace, spec, vmi_spec, NULL, NULL) < 0)
                vmi_spec = tspec;
        collect_requests(vm, vmi_spec, set);
}

static void collect_snapshot(Object *s, PromSet *set) {
        const char *created = object_status_string(s, "creationTime");
        g_autoptr(GDateTime) t = created ? g_date_time_new_from_iso8601(created, NULL) : NULL;

        if (!streq_ptr(object_status_string(s, "phase"), "Succeeded") || !t)
                return;
        prom_sample(set, "kubevirt_vmsnapshot_succeeded_timestamp_seconds",
                    "kubevirt_vmsnapshot_succeeded_timestamp_seconds", (double) g_date_time_to_unix(t),
                    "name", json_get_string(json_get_object(json_get_object(object_root(s), "spec"), "source"), "name"),
                    "snapshot_name", s->name, "namespace", s->namespace, NULL);
}

static void declare_kubevirt(PromSet *set) {
        static const struct { const char *name; PromType type; const char *help; } f[] = {
                { "kubevirt_vmi_info", PROM_GAUGE, "Information about VirtualMachineInstances." },
                { "kubevirt_vmi_phase_count", PROM_GAUGE,
                  "Sum of VMIs per phase and node. `phase` can be one of the following: [`Pending`, `Scheduling`, "
                  "`Scheduled`, `Running`, `Succeeded`, `Failed`, `Unknown`]." },
                { "kubevirt_vmi_filesystem_capacity_bytes", PROM_GAUGE, "Total VM filesystem capacity in bytes." },
                { "kubevirt_vmi_filesystem_used_bytes", PROM_GAUGE, "Used VM filesystem capacity in bytes." },
                { "kubevirt_vm_info", PROM_GAUGE, "Information about Virtual Machines." },
                { "kubevirt_vm_resource_requests", PROM_GAUGE,
                  "Resources requested by Virtual Machine. Reports memory and CPU requests." },
                { "kubevirt_vmsnapshot_succeeded_timestamp_seconds", PROM_GAUGE,
                  "Returns the timestamp of successful virtual machine snapshot." },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(f); i++)
                prom_family(set, f[i].name, f[i].type, f[i].help);
}

void metrics_collect_kubevirt(Model *m, PromSet *set, GHashTable *vmis) {
        g_autoptr(GPtrArray) instances = model_list(m, &kind_vmi, NULL, NULL);
        g_autoptr(GPtrArray) vms = model_list(m, &kind_vm, NULL, NULL);
        g_autoptr(GPtrArray) snapshots = model_list(m, &kind_vmsnapshot, NULL, NULL);
        g_autoptr(GHashTable) phases = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

        declare_kubevirt(set);
        for (guint i = 0; i < instances->len; i++)
                collect_vmi(m, instances->pdata[i], set, phases, vmis);
        collect_phase_counts(phases, set);
        for (guint i = 0; i < vms->len; i++)
                collect_vm(m, vms->pdata[i], set);
        for (guint i = 0; i < snapshots->len; i++)
                collect_snapshot(snapshots->pdata[i], set);
}

/* --- CDI --- */

/* CDI's source kinds that clone a claim (the rest import); spec.sourceRef
 * clones the DataSource's. */
static bool clones(JsonObject *spec) {
        JsonObject *source = json_get_object(spec, "source");
        return json_object_has_member(spec, "sourceRef") || json_object_has_member(source, "pvc") ||
               json_object_has_member(source, "snapshot");
}

/* CDI's dataimportcron metric: 1 while a cron is not UpToDate (pending:
 * waiting for a default storage class, which one always is here). */
static void collect_crons(Model *m, PromSet *set) {
        g_autoptr(GPtrArray) crons = model_list(m, &kind_dataimportcron, NULL, NULL);
        const char *name = "kubevirt_cdi_dataimportcron_outdated";

        prom_family(set, name, PROM_GAUGE, "DataImportCron has an outdated import");
        for (guint i = 0; i < crons->len; i++) {
                Object *c = crons->pdata[i];
                bool outdated = !streq_ptr(object_condition(c, "UpToDate", "status"), "True");
                prom_sample(set, name, name, outdated ? 1 : 0, "namespace", c->namespace, "cron_name", c->name,
                            "pending", "false", NULL);
        }
}

void metrics_collect_cdi(Model *m, PromSet *set) {
        g_autoptr(GPtrArray) dvs = model_list(m, &kind_datavolume, NULL, NULL);
        unsigned pending = 0;

        prom_family(set, "kubevirt_cdi_import_progress_total", PROM_COUNTER, "The import progress in percentage");
        prom_family(set, "kubevirt_cdi_clone_progress_total", PROM_COUNTER, "The clone progress in percentage");
        prom_family(set, "kubevirt_cdi_datavolume_pending", PROM_GAUGE,
                    "Number of DataVolumes pending for default storage class to be configured");
        for (guint i = 0; i < dvs->len; i++) {
                Object *dv = dvs->pdata[i];
                JsonObject *spec = json_get_object(object_root(dv), "spec");
                const char *progress = object_status_string(dv, "progress");
                const char *claim = object_status_string(dv, "claimName");
                const char *phase = object_status_string(dv, "phase");
                Object *pvc = NULL;

                /* a class the claim names does not exist (a default one always does here) */
                if (!streq_ptr(phase, "Succeeded") && !streq_ptr(phase, "Failed") &&
                    streq_ptr(object_condition(dv, "Ready", "reason"), "StorageClassNotFound"))
                        pending++;
                if (!spec || !progress || !g_ascii_isdigit(progress[0]) ||
                    model_get(m, &kind_pvc, dv->namespace, claim ? claim : dv->name, &pvc, NULL) < 0)
                        continue;
                const char *family = clones(spec) ? "kubevirt_cdi_clone_progress_total" :
                                     "kubevirt_cdi_import_progress_total";
                /* ownerUID: the claim's uid, as CDI's importer and cloner label it */
                prom_sample(set, family, family, g_ascii_strtod(progress, NULL), "ownerUID", pvc->uid,
                            "namespace", dv->namespace, "name", dv->name, NULL);
        }
        prom_sample(set, "kubevirt_cdi_datavolume_pending", "kubevirt_cdi_datavolume_pending", pending, NULL);
        collect_crons(m, set);
}
