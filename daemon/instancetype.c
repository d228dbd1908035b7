/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* instancetype.kubevirt.io: VirtualMachine(Cluster)Instancetype and
 * VirtualMachine(Cluster)Preference, and their expansion into the spec of
 * a VM's instance, as KubeVirt does it: an instance type's values are
 * required (a VM that sets something else conflicts), a preference's only
 * fill what the VM leaves open. */
#include "instancetype.h"
#include "json-util.h"
#include "model.h"
#include "quantity.h"
#include "util.h"
#include "vmi-admit.h"

static int instancetype_admit(Model *m, JsonObject *doc, JsonObject *old, GPtrArray *warnings, GError **error) {
        JsonObject *spec = json_get_object(doc, "spec");
        JsonObject *mem = json_get_object(spec, "memory");

        int64_t vcpus = json_get_int(json_get_object(spec, "cpu"), "guest", 0);
        if (vcpus < 1)
                return ev_error_set(error, EINVAL, "spec.cpu.guest: Invalid value: must be at least 1");
        if (vcpus > VMI_MAX_VCPUS)
                return ev_error_set(error, EINVAL, "spec.cpu.guest: Invalid value: %" G_GINT64_FORMAT ": out of range "
                                    "(a guest has at most %d vCPUs)", vcpus, VMI_MAX_VCPUS);
        if (!json_get_string(mem, "guest"))
                return ev_error_set(error, EINVAL, "spec.memory.guest: Required value");
        if (vmi_admit_guest_memory(json_get_string(mem, "guest"), "spec", "memory.guest", error) < 0)
                return -EINVAL;
        if (json_get_object(mem, "hugepages"))
                return ev_error_set(error, EOPNOTSUPP,
                                    "spec.memory.hugepages: not supported on edgevirt: huge pages are not configured "
                                    "on this node");
        if (json_get_bool(json_get_object(spec, "cpu"), "dedicatedCPUPlacement", false))
                return ev_error_set(error, EOPNOTSUPP,
                                    "spec.cpu.dedicatedCPUPlacement: not supported on edgevirt: dedicated CPU "
                                    "placement "
                                    "needs a CPU manager, which this node does not have");
        if (json_get_int(mem, "overcommitPercent", 0) < 0 || json_get_int(mem, "overcommitPercent", 0) > 100)
                return ev_error_set(error, EINVAL,
                                    "spec.memory.overcommitPercent: Invalid value: must be between 0 and 100");
        return 0;
}

#define INSTANCETYPE_VERSIONS (const char *const[]) { "v1beta1", NULL }

const KindInfo kind_instancetype = {
        .kind = "VirtualMachineInstancetype",
        .group = "instancetype.kubevirt.io",
        .versions = INSTANCETYPE_VERSIONS,
        .plural = "virtualmachineinstancetypes",
        .short_names = (const char *const[]) { "vminstancetype", "vminstancetypes", "vmf", "vmfs", NULL },
        .path_segment = "instancetype",
        .schema = "v1beta1.VirtualMachineInstancetype",
        .namespaced = true,
        .admit = instancetype_admit,
};

const KindInfo kind_cluster_instancetype = {
        .kind = "VirtualMachineClusterInstancetype",
        .group = "instancetype.kubevirt.io",
        .versions = INSTANCETYPE_VERSIONS,
        .plural = "virtualmachineclusterinstancetypes",
        .short_names = (const char *const[]) { "vmclusterinstancetype", "vmclusterinstancetypes", "vmcf", "vmcfs",
                                               NULL },
        .path_segment = "clusterinstancetype",
        .schema = "v1beta1.VirtualMachineClusterInstancetype",
        .namespaced = false,
        .admit = instancetype_admit,
};

const KindInfo kind_preference = {
        .kind = "VirtualMachinePreference",
        .group = "instancetype.kubevirt.io",
        .versions = INSTANCETYPE_VERSIONS,
        .plural = "virtualmachinepreferences",
        .short_names = (const char *const[]) { "vmpref", "vmprefs", "vmp", "vmps", NULL },
        .path_segment = "preference",
        .schema = "v1beta1.VirtualMachinePreference",
        .namespaced = true,
};

const KindInfo kind_cluster_preference = {
        .kind = "VirtualMachineClusterPreference",
        .group = "instancetype.kubevirt.io",
        .versions = INSTANCETYPE_VERSIONS,
        .plural = "virtualmachineclusterpreferences",
        .short_names = (const char *const[]) { "vmcp", "vmcps", NULL },
        .path_segment = "clusterpreference",
        .schema = "v1beta1.VirtualMachineClusterPreference",
        .namespaced = false,
};

/* --- expansion --- */

static Object *find_ref(Model *m, const char *ns, JsonObject *ref, const KindInfo *namespaced, const KindInfo *cluster,
                        const char *field, GError **error) {
        const char *kind = json_get_string(ref, "kind");
        const char *name = json_get_string(ref, "name");
        const KindInfo *k;
        Object *o = NULL;

        if (!kind || streq(kind, cluster->kind) || g_ascii_strcasecmp(kind, cluster->plural) == 0)
                k = cluster;
        else if (streq(kind, namespaced->kind) || g_ascii_strcasecmp(kind, namespaced->plural) == 0)
                k = namespaced;
        else {
                ev_error_set(error, EINVAL, "%s.kind: Unsupported value: \"%s\": supported values: \"%s\", \"%s\"",
                             field, kind, cluster->kind, namespaced->kind);
                return NULL;
        }
        if (!name) {
                ev_error_set(error, EINVAL, "%s.name: Required value", field);
                return NULL;
        }
        if (model_get(m, k, k->namespaced ? ns : NULL, name, &o, NULL) < 0) {
                ev_error_set(error, ENOENT, "%s: %s \"%s\" not found", field, k->kind, name);
                return NULL;
        }
        return o;
}

static int conflict(const char *field, GError **error) {
        return ev_error_set(error, EINVAL,
                            "spec.template.spec.%s: Invalid value: conflicts with the selected instance type", field);
}

/* Set member to value unless it holds the same value already; a different
 * value is a conflict with the instance type. */
static int require_int(JsonObject *o, const char *member, gint64 value, const char *field, GError **error) {
        if (json_object_has_member(o, member) && json_get_int(o, member, -1) != value)
                return conflict(field, error);
        json_object_set_int_member(o, member, value);
        return 0;
}

static int require_string(JsonObject *o, const char *member, const char *value, bool quantity, const char *field,
                          GError **error) {
        const char *have = json_get_string(o, member);
        if (have && !streq(have, value)) {
                int64_t a, b;
                if (!quantity || quantity_parse_int64(have, &a, NULL) < 0 ||
                    quantity_parse_int64(value, &b, NULL) < 0 || a != b)
                        return conflict(field, error);
        }
        json_object_set_string_member(o, member, value);
        return 0;
}

static int apply_instancetype(JsonObject *it, JsonObject *pref, JsonObject *vmi, GError **error) {
        JsonObject *domain = json_ensure_object(vmi, "domain");
        JsonObject *icpu = json_get_object(it, "cpu"), *imem = json_get_object(it, "memory");
        JsonObject *cpu = json_ensure_object(domain, "cpu");
        const char *topology = json_get_string(json_get_object(pref, "cpu"), "preferredCPUTopology");
        gint64 guest = json_get_int(icpu, "guest", 1);
        gint64 sockets = 1, cores = 1, threads = 1;

        if (!topology || streq(topology, "preferSockets") || streq(topology, "sockets") ||
            streq(topology, "preferAny") || streq(topology, "any") ||
            streq(topology, "preferSpread") || streq(topology, "spread"))
                sockets = guest;
        else if (streq(topology, "preferCores") || streq(topology, "cores"))
                cores = guest;
        else if (streq(topology, "preferThreads") || streq(topology, "threads"))
                threads = guest;
        else
                return ev_error_set(error, EINVAL,
                                    "preference spec.cpu.preferredCPUTopology: Unsupported value: \"%s\"", topology);
        if (require_int(cpu, "sockets", sockets, "domain.cpu.sockets", error) < 0 ||
            require_int(cpu, "cores", cores, "domain.cpu.cores", error) < 0 ||
            require_int(cpu, "threads", threads, "domain.cpu.threads", error) < 0)
                return -EINVAL;
        if (json_get_string(icpu, "model") &&
            require_string(cpu, "model", json_get_string(icpu, "model"), false, "domain.cpu.model", error) < 0)
                return -EINVAL;
        const char *mem = json_get_string(imem, "guest");
        if (require_string(json_ensure_object(domain, "memory"), "guest", mem, true, "domain.memory.guest", error) < 0)
                return -EINVAL;
        gint64 overcommit = json_get_int(imem, "overcommitPercent", 0);
        if (overcommit > 0) {
                int64_t bytes = 0;
                (void) quantity_parse_int64(mem, &bytes, NULL);
                g_autofree char *req = g_strdup_printf("%" G_GINT64_FORMAT, bytes * (100 - overcommit) / 100);
                json_object_set_string_member(json_ensure_object(json_ensure_object(domain, "resources"), "requests"),
                                              "memory", req);
        }
        if (json_get_string(it, "ioThreadsPolicy"))
                json_object_set_string_member(domain, "ioThreadsPolicy", json_get_string(it, "ioThreadsPolicy"));
        return 0;
}

static void prefer_string(JsonObject *o, const char *member, JsonObject *pref, const char *pmember) {
        const char *v = json_get_string(pref, pmember);
        if (v && !json_object_has_member(o, member))
                json_object_set_string_member(o, member, v);
}

static void prefer_bool(JsonObject *o, const char *member, JsonObject *pref, const char *pmember) {
        if (pref && json_object_has_member(pref, pmember) && !json_object_has_member(o, member))
                json_object_set_boolean_member(o, member, json_get_bool(pref, pmember, false));
}

static void prefer_object(JsonObject *o, const char *member, JsonObject *pref, const char *pmember) {
        JsonNode *n = pref ? json_object_get_member(pref, pmember) : NULL;
        if (n && !json_object_has_member(o, member))
                json_object_set_member(o, member, json_deep_copy(n));
}

static void apply_preference(JsonObject *pref, JsonObject *vmi) {
        JsonObject *domain = json_ensure_object(vmi, "domain");
        JsonObject *pdev = json_get_object(pref, "devices");
        JsonObject *devices = json_ensure_object(domain, "devices");
        JsonArray *disks = json_get_array(devices, "disks");
        JsonArray *ifaces = json_get_array(devices, "interfaces");

        for (guint i = 0; disks && i < json_array_get_length(disks); i++) {
                JsonObject *d = json_array_get_object_element(disks, i);
                if (json_get_object(d, "cdrom"))
                        prefer_string(json_get_object(d, "cdrom"), "bus", pdev, "preferredCdromBus");
                else if (json_get_object(d, "lun"))
                        prefer_string(json_get_object(d, "lun"), "bus", pdev, "preferredLunBus");
                else
                        prefer_string(json_ensure_object(d, "disk"), "bus", pdev, "preferredDiskBus");
                prefer_string(d, "cache", pdev, "preferredDiskCache");
                prefer_string(d, "io", pdev, "preferredDiskIO");
        }
        for (guint i = 0; ifaces && i < json_array_get_length(ifaces); i++)
                prefer_string(json_array_get_object_element(ifaces, i), "model", pdev, "preferredInterfaceModel");
        prefer_bool(devices, "autoattachGraphicsDevice", pdev, "preferredAutoattachGraphicsDevice");
        prefer_bool(devices, "autoattachMemBalloon", pdev, "preferredAutoattachMemBalloon");
        prefer_bool(devices, "autoattachPodInterface", pdev, "preferredAutoattachPodInterface");
        prefer_bool(devices, "autoattachSerialConsole", pdev, "preferredAutoattachSerialConsole");
        prefer_bool(devices, "autoattachInputDevice", pdev, "preferredAutoattachInputDevice");
        prefer_object(devices, "rng", pdev, "preferredRng");
        prefer_object(devices, "tpm", pdev, "preferredTPM");      /* tpm {enabled: false} in the VM wins */
        if (json_get_string(pdev, "preferredVideoType"))
                prefer_string(json_ensure_object(devices, "video"), "type", pdev, "preferredVideoType");

        JsonObject *pfw = json_get_object(pref, "firmware");
        if (pfw && !json_get_object(json_get_object(domain, "firmware"), "bootloader")) {
                JsonObject *bl = json_object_new();
                if (json_get_bool(pfw, "preferredUseEfi", false) || json_get_object(pfw, "preferredEfi")) {
                        JsonObject *efi = json_get_object(pfw, "preferredEfi") ?
                                json_node_get_object(json_deep_copy(json_object_get_member(pfw, "preferredEfi"))) :
                                json_object_new();
                        if (json_object_has_member(pfw, "preferredUseSecureBoot") &&
                            !json_object_has_member(efi, "secureBoot"))
                                json_object_set_boolean_member(efi, "secureBoot",
                                                               json_get_bool(pfw, "preferredUseSecureBoot", false));
                        json_object_set_object_member(bl, "efi", efi);
                } else if (json_get_bool(pfw, "preferredUseBios", false)) {
                        JsonObject *bios = json_object_new();
                        if (json_get_bool(pfw, "preferredUseBiosSerial", false))
                                json_object_set_boolean_member(bios, "useSerial", TRUE);
                        json_object_set_object_member(bl, "bios", bios);
                }
                if (json_object_get_size(bl) > 0)
                        json_object_set_object_member(json_ensure_object(domain, "firmware"), "bootloader", bl);
                else
                        json_object_unref(bl);
        }
        JsonObject *pfeat = json_get_object(pref, "features");
        if (pfeat) {
                JsonObject *features = json_ensure_object(domain, "features");
                prefer_object(features, "acpi", pfeat, "preferredAcpi");
                prefer_object(features, "apic", pfeat, "preferredApic");
                prefer_object(features, "hyperv", pfeat, "preferredHyperv");
                prefer_object(features, "kvm", pfeat, "preferredKvm");
                prefer_object(features, "smm", pfeat, "preferredSmm");
        }
        prefer_string(json_ensure_object(domain, "machine"), "type", json_get_object(pref, "machine"),
                      "preferredMachineType");
        if (json_object_get_size(json_get_object(domain, "machine")) == 0)
                json_object_remove_member(domain, "machine");
        JsonObject *pclock = json_get_object(pref, "clock");
        if (pclock) {
                JsonObject *clock = json_ensure_object(domain, "clock");
                JsonNode *offset = json_object_get_member(pclock, "preferredClockOffset");
                if (offset && !json_object_has_member(clock, "utc") && !json_object_has_member(clock, "timezone")) {
                        JsonObject *off = json_node_get_object(offset);
                        prefer_object(clock, "utc", off, "utc");
                        prefer_string(clock, "timezone", off, "timezone");
                }
                prefer_object(clock, "timer", pclock, "preferredTimer");
        }
        if (json_object_has_member(pref, "preferredTerminationGracePeriodSeconds") &&
            !json_object_has_member(vmi, "terminationGracePeriodSeconds"))
                json_object_set_int_member(vmi, "terminationGracePeriodSeconds",
                                           json_get_int(pref, "preferredTerminationGracePeriodSeconds", 0));
}

static int check_requirements(JsonObject *pref, JsonObject *vmi, GError **error) {
        JsonObject *req = json_get_object(pref, "requirements");
        JsonObject *cpu = json_get_object(json_get_object(vmi, "domain"), "cpu");
        gint64 vcpus = json_get_int(cpu, "sockets", 1) * json_get_int(cpu, "cores", 1) *
                       json_get_int(cpu, "threads", 1);
        gint64 need_cpu = json_get_int(json_get_object(req, "cpu"), "guest", 0);
        const char *need_mem = json_get_string(json_get_object(req, "memory"), "guest");
        int64_t have = 0, need = 0;

        if (need_cpu > vcpus)
                return ev_error_set(error, EINVAL,
                                    "spec.preference: the preference requires %" G_GINT64_FORMAT " vCPUs, "
                                    "the VM has %" G_GINT64_FORMAT,
                                    need_cpu, vcpus);
        if (need_mem) {
                (void) quantity_parse_int64(need_mem, &need, NULL);
                (void) quantity_parse_int64(json_get_string(json_get_object(json_get_object(vmi, "domain"), "memory"),
                                                            "guest"), &have, NULL);
                if (have && need > have)
                        return ev_error_set(error, EINVAL,
                                            "spec.preference: the preference requires %s of memory, the VM has less",
                                            need_mem);
        }
        return 0;
}

int instancetype_expand(Model *m, const char *ns, JsonObject *vm_spec, JsonObject *vmi_spec, JsonObject *status,
                        GError **error) {
        JsonObject *itref = json_get_object(vm_spec, "instancetype");
        JsonObject *pref_ref = json_get_object(vm_spec, "preference");
        Object *it = NULL, *pref = NULL;

        if (itref &&
            !(it = find_ref(m, ns, itref, &kind_instancetype, &kind_cluster_instancetype, "spec.instancetype", error)))
                return -ENOENT;
        if (pref_ref &&
            !(pref = find_ref(m, ns, pref_ref, &kind_preference, &kind_cluster_preference, "spec.preference", error)))
                return -ENOENT;
        JsonObject *pspec = pref ? json_get_object(object_root(pref), "spec") : NULL;
        if (it && apply_instancetype(json_get_object(object_root(it), "spec"), pspec, vmi_spec, error) < 0)
                return -EINVAL;
        if (pref) {
                apply_preference(pspec, vmi_spec);
                if (check_requirements(pspec, vmi_spec, error) < 0)
                        return -EINVAL;
        }
        if (status) {
                Object *refs[] = { it, pref };
                const char *members[] = { "instancetypeRef", "preferenceRef" };
                for (int i = 0; i < 2; i++) {
                        if (!refs[i]) {
                                json_object_remove_member(status, members[i]);
                                continue;
                        }
                        JsonObject *r = json_object_new();
                        json_object_set_string_member(r, "kind", refs[i]->kind->kind);
                        json_object_set_string_member(r, "name", refs[i]->name);
                        json_object_set_object_member(status, members[i], r);
                }
        }
        return 0;
}

/* --- inferFromVolume (KubeVirt's pkg/instancetype infer) --- */

/* An error the Ignore failure policy may ignore: no label, a volume of a
 * kind that carries none. */
#define IGNORABLE ENODATA

typedef struct Infer {
        Model *m;
        const char *name_label, *kind_label;
        const char *name, *kind;        /* found */
} Infer;

static int from_labels(Infer *f, JsonObject *labels, const char *what, GError **error) {
        f->name = json_get_string(labels, f->name_label);
        f->kind = json_get_string(labels, f->kind_label);
        if (!f->name)
                return ev_error_set(error, IGNORABLE, "unable to find required %s label on %s", f->name_label, what);
        return 0;
}

static int from_claim(Infer *f, const char *ns, const char *name, GError **error) {
        Object *pvc = NULL;
        g_autofree char *what = g_strdup_printf("PersistentVolumeClaim %s/%s", ns, name);
        if (model_get(f->m, &kind_pvc, ns, name, &pvc, NULL) < 0)
                return ev_error_set(error, ENOENT, "%s not found", what);
        return from_labels(f, object_labels(pvc), what, error);
}

static int from_datasource(Infer *f, const char *ns, const char *name, GError **error) {
        Object *ds = NULL;
        g_autofree char *what = g_strdup_printf("DataSource %s/%s", ns, name);
        if (model_get(f->m, &kind_datasource, ns, name, &ds, NULL) < 0)
                return ev_error_set(error, ENOENT, "%s not found", what);
        if (json_get_string(object_labels(ds), f->name_label))
                return from_labels(f, object_labels(ds), what, error);
        JsonObject *pvc = json_get_object(json_get_object(json_get_object(object_root(ds), "spec"), "source"), "pvc");
        if (pvc)
                return from_claim(f, json_get_string(pvc, "namespace") ?: ns, json_get_string(pvc, "name"), error);
        return from_labels(f, object_labels(ds), what, error);
}

static int from_dv_spec(Infer *f, const char *ns, JsonObject *spec, GError **error) {
        JsonObject *pvc = json_get_object(json_get_object(spec, "source"), "pvc");
        JsonObject *ref = json_get_object(spec, "sourceRef");
        if (pvc)
                return from_claim(f, json_get_string(pvc, "namespace") ?: ns, json_get_string(pvc, "name"), error);
        if (ref)
                return from_datasource(f, json_get_string(ref, "namespace") ?: ns, json_get_string(ref, "name"), error);
        return ev_error_set(error, IGNORABLE, "unable to infer defaults from a DataVolume spec whose source is neither "
                            "pvc nor sourceRef");
}

static int from_datavolume(Infer *f, const char *ns, JsonObject *vm_spec, const char *name, GError **error) {
        JsonArray *dvts = json_get_array(vm_spec, "dataVolumeTemplates");
        Object *dv = NULL;
        for (guint i = 0; dvts && i < json_array_get_length(dvts); i++) {
                JsonObject *t = json_array_get_object_element(dvts, i);
                if (streq_ptr(json_get_string(json_get_object(t, "metadata"), "name"), name))
                        return from_dv_spec(f, ns, json_get_object(t, "spec"), error);
        }
        if (model_get(f->m, &kind_datavolume, ns, name, &dv, NULL) < 0)
                return from_claim(f, ns, name, error);  /* a DataVolume collected: its claim */
        if (json_get_string(object_labels(dv), f->name_label))
                return from_labels(f, object_labels(dv), "the DataVolume", error);
        return from_dv_spec(f, ns, json_get_object(object_root(dv), "spec"), error);
}

static int infer_volume(Infer *f, const char *ns, JsonObject *vm_spec, const char *volume, GError **error) {
        JsonArray *vols = json_get_array(json_get_object(json_get_object(vm_spec, "template"), "spec"), "volumes");
        for (guint i = 0; vols && i < json_array_get_length(vols); i++) {
                JsonObject *v = json_array_get_object_element(vols, i);
                if (!streq_ptr(json_get_string(v, "name"), volume))
                        continue;
                if (json_get_object(v, "persistentVolumeClaim"))
                        return from_claim(f, ns, json_get_string(json_get_object(v, "persistentVolumeClaim"),
                                                                 "claimName"), error);
                if (json_get_object(v, "dataVolume"))
                        return from_datavolume(f, ns, vm_spec, json_get_string(json_get_object(v, "dataVolume"),
                                                                               "name"), error);
                return ev_error_set(error, IGNORABLE, "unable to infer defaults from volume %s as type is not "
                                    "supported", volume);
        }
        return ev_error_set(error, EINVAL, "unable to find volume %s to infer defaults", volume);
}

int instancetype_infer(Model *m, const char *ns, JsonObject *vm_spec, GError **error) {
        static const struct {
                const char *field, *name_label, *kind_label, *default_kind;
        } matchers[] = {
                { "instancetype", "instancetype.kubevirt.io/default-instancetype",
                  "instancetype.kubevirt.io/default-instancetype-kind", "VirtualMachineClusterInstancetype" },
                { "preference", "instancetype.kubevirt.io/default-preference",
                  "instancetype.kubevirt.io/default-preference-kind", "VirtualMachineClusterPreference" },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(matchers); i++) {
                JsonObject *ref = json_get_object(vm_spec, matchers[i].field);
                const char *volume = json_get_string(ref, "inferFromVolume");
                const char *policy = json_get_string(ref, "inferFromVolumeFailurePolicy") ?: "Reject";
                Infer f = { .m = m, .name_label = matchers[i].name_label, .kind_label = matchers[i].kind_label };
                g_autoptr(GError) e = NULL;

                if (!volume)
                        continue;
                if (!streq(policy, "Reject") && !streq(policy, "Ignore"))
                        return ev_error_set(error, EINVAL, "spec.%s.inferFromVolumeFailurePolicy: Unsupported value: "
                                            "\"%s\": supported values: \"Reject\", \"Ignore\"", matchers[i].field,
                                            policy);
                if (json_get_string(ref, "name"))
                        return ev_error_set(error, EINVAL, "spec.%s.name: Invalid value: name and inferFromVolume "
                                            "cannot both be given", matchers[i].field);
                int r = infer_volume(&f, ns, vm_spec, volume, &e);
                if (r == -IGNORABLE && streq(policy, "Ignore")) {
                        json_object_remove_member(vm_spec, matchers[i].field);
                        continue;
                }
                if (r < 0)
                        return ev_error_set(error, r == -ENOENT ? ENOENT : EINVAL, "spec.%s.inferFromVolume: %s",
                                            matchers[i].field, e->message);
                g_autofree char *name = g_strdup(f.name), *kind = g_strdup(f.kind ?: matchers[i].default_kind);
                json_object_remove_member(ref, "inferFromVolume");
                json_object_remove_member(ref, "inferFromVolumeFailurePolicy");
                json_object_set_string_member(ref, "name", name);
                json_object_set_string_member(ref, "kind", kind);
        }
        return 0;
}
