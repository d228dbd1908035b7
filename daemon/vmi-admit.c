/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* KubeVirt's admission rules for an instance spec (its webhook's checks
 * beyond the schema): disks and volumes that match, buses, boot order,
 * networks and interfaces, memory, annotations; and what this node can
 * run at all (vCPUs, memory, disks).  Pure but for the host's memory size:
 * shared by VMs' templates and VirtualMachineInstances. */
#include <unistd.h>

#include "domain.h"
#include "json-util.h"
#include "quantity.h"
#include "util.h"
#include "vmi-admit.h"

static bool unique_names(JsonArray *a, const char *path, GError **error) {
        g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
        for (guint i = 0; a && i < json_array_get_length(a); i++) {
                const char *name = json_get_string(json_array_get_object_element(a, i), "name");
                if (!name) {
                        ev_error_set(error, EINVAL, "%s[%u].name: Required value", path, i);
                        return false;
                }
                if (!g_hash_table_add(seen, (char *) name)) {
                        ev_error_set(error, EINVAL, "%s[%u].name: Duplicate value: \"%s\"", path, i, name);
                        return false;
                }
        }
        return true;
}

static bool has_named(JsonArray *a, const char *name) {
        for (guint i = 0; a && i < json_array_get_length(a); i++)
                if (streq_ptr(json_get_string(json_array_get_object_element(a, i), "name"), name))
                        return true;
        return false;
}

static int check_disks(JsonArray *disks, JsonArray *volumes, const char *path, GError **error) {
        g_autoptr(GHashTable) boot = g_hash_table_new(g_direct_hash, g_direct_equal);

        for (guint i = 0; disks && i < json_array_get_length(disks); i++) {
                JsonObject *d = json_array_get_object_element(disks, i);
                const char *name = json_get_string(d, "name");
                unsigned targets = !!json_object_has_member(d, "disk") + !!json_object_has_member(d, "cdrom") +
                                   !!json_object_has_member(d, "lun");
                gint64 order = json_get_int(d, "bootOrder", 0);

                /* a cdrom without a volume is an empty tray (KubeVirt's
                 * inject/eject: a hotpluggable volume of its name fills it) */
                if (!has_named(volumes, name) && !json_object_has_member(d, "cdrom"))
                        return ev_error_set(error, EINVAL,
                                            "%s.domain.devices.disks[%u].name: Invalid value: \"%s\": no volume of "
                                            "this name "
                                            "in %s.volumes (only a cdrom may be empty)", path, i, name, path);
                if (targets > 1)
                        return ev_error_set(error, EINVAL,
                                            "%s.domain.devices.disks[%u]: Invalid value: give one of disk, cdrom or "
                                            "lun", path, i);
                const char *bus = json_get_string(json_get_object(d, "disk"), "bus");
                if (bus && !streq(bus, "virtio") && !streq(bus, "sata") && !streq(bus, "scsi") && !streq(bus, "usb"))
                        return ev_error_set(error, EINVAL,
                                            "%s.domain.devices.disks[%u].disk.bus: Unsupported value: \"%s\": "
                                            "supported values: "
                                            "\"virtio\", \"sata\", \"scsi\", \"usb\"", path, i, bus);
                bus = json_get_string(json_get_object(d, "cdrom"), "bus");
                if (bus && !streq(bus, "sata") && !streq(bus, "scsi"))
                        return ev_error_set(error, EINVAL,
                                            "%s.domain.devices.disks[%u].cdrom.bus: Unsupported value: \"%s\": "
                                            "supported values: "
                                            "\"sata\", \"scsi\"", path, i, bus);
                bus = json_get_string(json_get_object(d, "lun"), "bus");
                if (bus && !streq(bus, "scsi"))
                        return ev_error_set(error, EINVAL,
                                            "%s.domain.devices.disks[%u].lun.bus: Unsupported value: \"%s\": "
                                            "supported values: "
                                            "\"scsi\"", path, i, bus);
                const char *cache = json_get_string(d, "cache");
                if (cache && !streq(cache, "none") && !streq(cache, "writethrough") && !streq(cache, "writeback"))
                        return ev_error_set(error, EINVAL,
                                            "%s.domain.devices.disks[%u].cache: Unsupported value: \"%s\": supported "
                                            "values: "
                                            "\"none\", \"writethrough\", \"writeback\"", path, i, cache);
                const char *io = json_get_string(d, "io");
                if (io && !streq(io, "native") && !streq(io, "threads") && !streq(io, "default"))
                        return ev_error_set(error, EINVAL,
                                            "%s.domain.devices.disks[%u].io: Unsupported value: \"%s\": supported "
                                            "values: "
                                            "\"native\", \"threads\", \"default\"", path, i, io);
                const char *policy = json_get_string(d, "errorPolicy");
                if (policy && !streq(policy, "stop") && !streq(policy, "ignore") && !streq(policy, "report") &&
                    !streq(policy, "enospace"))
                        return ev_error_set(error, EINVAL,
                                            "%s.domain.devices.disks[%u].errorPolicy: Unsupported value: \"%s\": "
                                            "supported values: "
                                            "\"stop\", \"ignore\", \"report\", \"enospace\"", path, i, policy);
                if (order < 0 || (order > 0 && !g_hash_table_add(boot, GINT_TO_POINTER(order))))
                        return ev_error_set(error, EINVAL,
                                            "%s.domain.devices.disks[%u].bootOrder: Invalid value: %" G_GINT64_FORMAT
                                            ": must be positive and unique", path, i, order);
        }
        return 0;
}

/* configMap and secret volumes name their object, with a volume label an
 * ISO can carry; a sysprep volume names one ConfigMap or Secret (config
 * disks, seed.c); an ephemeral volume names its claim. */
static int check_config_volume(JsonObject *v, const char *path, guint i, GError **error) {
        JsonObject *sysprep = json_get_object(v, "sysprep");
        if (json_get_object(v, "configMap") && isempty(json_get_string(json_get_object(v, "configMap"), "name")))
                return ev_error_set(error, EINVAL, "%s.volumes[%u].configMap.name: Required value", path, i);
        if (json_get_object(v, "secret") && isempty(json_get_string(json_get_object(v, "secret"), "secretName")))
                return ev_error_set(error, EINVAL, "%s.volumes[%u].secret.secretName: Required value", path, i);
        /* an ISO 9660 volume id is at most 32 characters (xorrisofs, which KubeVirt runs, refuses more) */
        const char *source = json_get_object(v, "configMap") ? "configMap" : "secret";
        const char *label = json_get_string(json_get_object(v, source), "volumeLabel");
        if (label && strlen(label) > 32)
                return ev_error_set(error, EINVAL, "%s.volumes[%u].%s.volumeLabel: Invalid value: \"%s\": at most 32 "
                                    "characters (an ISO 9660 volume id)", path, i, source, label);
        if (json_get_object(v, "ephemeral") &&
            isempty(json_get_string(json_get_object(json_get_object(v, "ephemeral"), "persistentVolumeClaim"),
                                    "claimName")))
                return ev_error_set(error, EINVAL, "%s.volumes[%u].ephemeral.persistentVolumeClaim.claimName: "
                                    "Required value", path, i);
        if (!sysprep)
                return 0;
        JsonObject *cm = json_get_object(sysprep, "configMap"), *secret = json_get_object(sysprep, "secret");
        if (!cm == !secret)
                return ev_error_set(error, EINVAL, "%s.volumes[%u].sysprep: Invalid value: give one of configMap and "
                                    "secret", path, i);
        if (isempty(json_get_string(cm ? cm : secret, "name")))
                return ev_error_set(error, EINVAL, "%s.volumes[%u].sysprep.%s.name: Required value", path, i,
                                    cm ? "configMap" : "secret");
        return 0;
}

static int check_volumes(JsonArray *volumes, const char *path, GError **error) {
        for (guint i = 0; volumes && i < json_array_get_length(volumes); i++) {
                JsonObject *v = json_array_get_object_element(volumes, i);
                unsigned n = json_object_get_size(v) - (json_object_has_member(v, "name") ? 1 : 0);
                if (n != 1)
                        return ev_error_set(error, EINVAL,
                                            "%s.volumes[%u]: Invalid value: a volume needs exactly one source, %u "
                                            "given", path, i, n);
                if (json_get_object(v, "persistentVolumeClaim") &&
                    !json_get_string(json_get_object(v, "persistentVolumeClaim"), "claimName"))
                        return ev_error_set(error, EINVAL,
                                            "%s.volumes[%u].persistentVolumeClaim.claimName: Required value", path, i);
                if (json_get_object(v, "dataVolume") && !json_get_string(json_get_object(v, "dataVolume"), "name"))
                        return ev_error_set(error, EINVAL, "%s.volumes[%u].dataVolume.name: Required value", path, i);
                JsonObject *ci = json_get_object(v, "cloudInitNoCloud") ? json_get_object(v, "cloudInitNoCloud")
                                                                        : json_get_object(v, "cloudInitConfigDrive");
                if (ci && json_object_get_size(ci) == 0)
                        return ev_error_set(error, EINVAL,
                                            "%s.volumes[%u].%s: Required value: give userData, userDataBase64, "
                                            "secretRef or network data", path, i,
                                            json_get_object(v, "cloudInitNoCloud") ? "cloudInitNoCloud" :
                                            "cloudInitConfigDrive");
                if (check_config_volume(v, path, i, error) < 0)
                        return -EINVAL;
                if (json_get_object(v, "emptyDisk")) {
                        int64_t cap = 0;
                        const char *s = json_get_string(json_get_object(v, "emptyDisk"), "capacity");
                        if (!s || quantity_parse_int64(s, &cap, NULL) < 0 || cap <= 0)
                                return ev_error_set(error, EINVAL,
                                                    "%s.volumes[%u].emptyDisk.capacity: Required value: a positive "
                                                    "size", path, i);
                }
        }
        return 0;
}

static int check_networks(JsonObject *spec, const char *path, GError **error) {
        JsonArray *ifaces = json_get_array(json_get_object(json_get_object(spec, "domain"), "devices"), "interfaces");
        JsonArray *networks = json_get_array(spec, "networks");
        unsigned pods = 0;

        if (!unique_names(ifaces, "spec.domain.devices.interfaces", error) ||
            !unique_names(networks, "spec.networks", error))
                return -EINVAL;
        for (guint i = 0; networks && i < json_array_get_length(networks); i++) {
                JsonObject *n = json_array_get_object_element(networks, i);
                if (json_get_object(n, "pod"))
                        pods++;
                else if (!json_object_has_member(n, "multus"))
                        return ev_error_set(error, EINVAL,
                                            "%s.networks[%u]: Required value: a network source (pod) is needed", path,
                                            i);
                if (!has_named(ifaces, json_get_string(n, "name")))
                        return ev_error_set(error, EINVAL,
                                            "%s.networks[%u].name: Invalid value: \"%s\": no interface of this name",
                                            path, i, json_get_string(n, "name"));
        }
        if (pods > 1)
                return ev_error_set(error, EINVAL, "%s.networks: Invalid value: more than one pod network", path);
        for (guint i = 0; ifaces && i < json_array_get_length(ifaces); i++) {
                JsonObject *iface = json_array_get_object_element(ifaces, i);
                const char *name = json_get_string(iface, "name");
                unsigned bindings = 0;
                static const char *const all[] = { "masquerade", "bridge", "slirp", "passt", "sriov", "macvtap",
                                                   "binding", NULL };
                for (const char *const *b = all; *b; b++)
                        bindings += json_object_has_member(iface, *b);
                if (!has_named(networks, name))
                        return ev_error_set(error, EINVAL,
                                            "%s.domain.devices.interfaces[%u].name: Invalid value: \"%s\": no network "
                                            "of this name "
                                            "in %s.networks", path, i, name, path);
                if (bindings != 1)
                        return ev_error_set(error, EINVAL,
                                            "%s.domain.devices.interfaces[%u]: Invalid value: give exactly one binding "
                                            "(masquerade, bridge or slirp)", path, i);
                const char *model = json_get_string(iface, "model");
                static const char *const models[] = { "virtio", "e1000", "e1000e", "igb", "ne2k_pci", "pcnet",
                                                      "rtl8139", NULL };
                if (model && !g_strv_contains(models, model))
                        return ev_error_set(error, EINVAL,
                                            "%s.domain.devices.interfaces[%u].model: Unsupported value: \"%s\": "
                                            "supported values: "
                                            "virtio, e1000, e1000e, igb, ne2k_pci, pcnet, rtl8139", path, i, model);
                const char *mac = json_get_string(iface, "macAddress");
                if (mac && !g_regex_match_simple("^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$", mac, 0, 0))
                        return ev_error_set(error, EINVAL,
                                            "%s.domain.devices.interfaces[%u].macAddress: Invalid value: \"%s\": "
                                            "must be a MAC address", path, i, mac);
        }
        return 0;
}

/* accessCredentials: one credential per entry, its Secret, and a way to
 * the guest — a cloud-init volume of the kind named, or the agent with the
 * users to give the keys to. */
static int check_access_credentials(JsonObject *spec, JsonArray *volumes, const char *path, GError **error) {
        JsonArray *creds = json_get_array(spec, "accessCredentials");

        for (guint i = 0; creds && i < json_array_get_length(creds); i++) {
                JsonObject *cred = json_array_get_object_element(creds, i);
                JsonObject *key = json_get_object(cred, "sshPublicKey"), *pw = json_get_object(cred, "userPassword");
                const char *what = key ? "sshPublicKey" : "userPassword";
                JsonObject *prop = json_get_object(key ? key : pw, "propagationMethod");
                JsonObject *agent = json_get_object(prop, "qemuGuestAgent");

                if (!key == !pw)
                        return ev_error_set(error, EINVAL,
                                            "%s.accessCredentials[%u]: Invalid value: give exactly one of "
                                            "sshPublicKey, userPassword",
                                            path, i);
                if (isempty(json_get_string(json_get_object(json_get_object(key ? key : pw, "source"), "secret"),
                                            "secretName")))
                        return ev_error_set(error, EINVAL,
                                            "%s.accessCredentials[%u].%s.source.secret.secretName: Required value",
                                            path, i, what);
                if (pw) {
                        if (!agent)
                                return ev_error_set(error, EINVAL,
                                                    "%s.accessCredentials[%u].userPassword.propagationMethod."
                                                    "qemuGuestAgent: Required value", path, i);
                        continue;
                }
                unsigned methods = !!agent + !!json_get_object(prop, "noCloud") +
                                   !!json_get_object(prop, "configDrive");
                if (methods != 1)
                        return ev_error_set(error, EINVAL,
                                            "%s.accessCredentials[%u].sshPublicKey.propagationMethod: %s: "
                                            "noCloud, configDrive or qemuGuestAgent", path, i,
                                            methods ? "Invalid value: give only one of" : "Required value");
                if (agent) {
                        JsonArray *users = json_get_array(agent, "users");
                        if (!users || json_array_get_length(users) == 0)
                                return ev_error_set(error, EINVAL,
                                                    "%s.accessCredentials[%u].sshPublicKey.propagationMethod."
                                                    "qemuGuestAgent.users: Required value: the guest users whose "
                                                    "authorized_keys the Secret's keys become", path, i);
                        for (guint j = 0; j < json_array_get_length(users); j++) {
                                const char *u = json_array_get_string_element(users, j);
                                if (isempty(u) || strchr(u, '/') || strchr(u, ':'))
                                        return ev_error_set(error, EINVAL,
                                                            "%s.accessCredentials[%u].sshPublicKey."
                                                            "propagationMethod.qemuGuestAgent.users[%u]: "
                                                            "Invalid value: \"%s\": not a user name",
                                                            path, i, j, u ? u : "");
                        }
                        continue;
                }
                const char *want = json_get_object(prop, "noCloud") ? "cloudInitNoCloud" : "cloudInitConfigDrive";
                bool found = false;
                for (guint j = 0; volumes && j < json_array_get_length(volumes); j++)
                        found = found || json_get_object(json_array_get_object_element(volumes, j), want);
                if (!found)
                        return ev_error_set(error, EINVAL,
                                            "%s.accessCredentials[%u].sshPublicKey.propagationMethod: Invalid value: "
                                            "propagating keys through %s needs a %s volume", path, i,
                                            json_get_object(prop, "noCloud") ? "noCloud" : "configDrive", want);
        }
        return 0;
}

/* QEMU's q35 machine runs at most 255 vCPUs without an IOMMU that remaps
 * interrupts (which edgevirt does not give guests); each disk takes a PCI
 * Express port of it, and libvirt runs out of them past about 200. */
#define MAX_DISKS 128

static uint64_t host_memory_bytes(void) {
        long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
        return pages > 0 && size > 0 ? (uint64_t) pages * (uint64_t) size : UINT64_MAX;
}

static int check_memory(JsonObject *o, const char *member, const char *path, const char *field, GError **error) {
        return vmi_admit_guest_memory(json_get_string(o, member), path, field, error);
}

int vmi_admit_guest_memory(const char *v, const char *path, const char *field, GError **error) {
        g_autoptr(GError) e = NULL;
        int64_t bytes;

        if (!v)
                return 0;
        if (quantity_parse_int64(v, &bytes, &e) < 0)
                return ev_error_set(error, EINVAL, "%s.%s: Invalid value: \"%s\": %s", path, field, v, e->message);
        if (bytes <= 0)
                return ev_error_set(error, EINVAL, "%s.%s: Invalid value: \"%s\": must be greater than zero", path,
                                    field, v);
        uint64_t host = host_memory_bytes();
        if ((uint64_t) bytes > host)
                return ev_error_set(error, EINVAL,
                                    "%s.%s: Invalid value: \"%s\": more than this node's memory (%" G_GUINT64_FORMAT
                                    " MiB)", path, field, v, host >> 20);
        return 0;
}

/* What a guest of this node can have: vCPUs, memory, disks. */
static int check_resources(JsonObject *domain, JsonObject *cpu, JsonArray *disks, JsonArray *volumes, const char *path,
                           GError **error) {
        static const char *const topo[] = { "sockets", "cores", "threads", NULL };
        JsonObject *res = json_get_object(domain, "resources");
        int64_t vcpus = 1;

        for (const char *const *t = topo; *t; t++) {
                if (!cpu || !json_object_has_member(cpu, *t))
                        continue;
                int64_t n = json_get_int(cpu, *t, 0);
                if (n < 1)
                        return ev_error_set(error, EINVAL, "%s.domain.cpu.%s: Invalid value: must be at least 1", path,
                                            *t);
                if (n > VMI_MAX_VCPUS)
                        return ev_error_set(error, EINVAL,
                                            "%s.domain.cpu.%s: Invalid value: %" G_GINT64_FORMAT ": out of range "
                                            "(a guest has at most %d vCPUs)", path, *t, n, VMI_MAX_VCPUS);
                vcpus *= n;
        }
        if (vcpus > VMI_MAX_VCPUS)
                return ev_error_set(error, EINVAL,
                                    "%s.domain.cpu: Invalid value: sockets × cores × threads = %" G_GINT64_FORMAT
                                    " vCPUs: a guest has at most %d", path, vcpus, VMI_MAX_VCPUS);
        if (check_memory(json_get_object(domain, "memory"), "guest", path, "domain.memory.guest", error) < 0 ||
            check_memory(json_get_object(domain, "memory"), "maxGuest", path, "domain.memory.maxGuest", error) < 0 ||
            check_memory(json_get_object(res, "requests"), "memory", path, "domain.resources.requests.memory",
                         error) < 0 ||
            check_memory(json_get_object(res, "limits"), "memory", path, "domain.resources.limits.memory", error) < 0)
                return -EINVAL;
        guint n_disks = disks ? json_array_get_length(disks) : 0,
                n_volumes = volumes ? json_array_get_length(volumes) : 0;
        if (MAX(n_disks, n_volumes) > MAX_DISKS)
                return ev_error_set(error, EINVAL, "%s.%s: Too many: %u: a guest has at most %d disks", path,
                                    n_disks > n_volumes ? "domain.devices.disks" : "volumes", MAX(n_disks, n_volumes),
                                    MAX_DISKS);
        return 0;
}

/* An absolute path to a file without "." or ".." parts (KubeVirt's). */
static bool plain_absolute(const char *p) {
        g_auto(GStrv) parts = g_strsplit(p, "/", -1);
        if (p[0] != '/' || g_str_has_suffix(p, "/"))
                return false;
        for (char **s = parts + 1; *s; s++)
                if (!**s || streq(*s, ".") || streq(*s, ".."))
                        return false;
        return true;
}

/* firmware.kernelBoot, as KubeVirt's webhook checks it. */
static int check_kernel_boot(JsonObject *firmware, const char *path, GError **error) {
        JsonObject *kb = json_get_object(firmware, "kernelBoot");
        JsonObject *ct = json_get_object(kb, "container");
        const char *files[] = { "kernelPath", "initrdPath" };

        if (!kb)
                return 0;
        if (!ct)
                return isempty(json_get_string(kb, "kernelArgs")) ? 0 :
                       ev_error_set(error, EINVAL, "%s.domain.firmware.kernelBoot.kernelArgs: Invalid value: kernel "
                                    "arguments cannot be provided without an external kernel (kernelBoot.container)",
                                    path);
        if (isempty(json_get_string(ct, "image")))
                return ev_error_set(error, EINVAL, "%s.domain.firmware.kernelBoot.container.image: Required value",
                                    path);
        if (isempty(json_get_string(ct, "kernelPath")) && isempty(json_get_string(ct, "initrdPath")))
                return ev_error_set(error, EINVAL, "%s.domain.firmware.kernelBoot.container: Required value: give at "
                                    "least one of kernelPath, initrdPath", path);
        for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
                const char *f = json_get_string(ct, files[i]);
                if (!isempty(f) && !plain_absolute(f))
                        return ev_error_set(error, EINVAL, "%s.domain.firmware.kernelBoot.container.%s: Invalid "
                                            "value: \"%s\": must be an absolute path to a file without relative "
                                            "components", path, files[i], f);
        }
        return 0;
}

int vmi_spec_admit(JsonObject *spec, const char *path, bool need_memory, GPtrArray *warnings, GError **error) {
        JsonObject *domain = json_get_object(spec, "domain");
        JsonObject *devices = json_get_object(domain, "devices");
        JsonObject *cpu = json_get_object(domain, "cpu");
        JsonArray *volumes = json_get_array(spec, "volumes");
        const char *arch = json_get_string(spec, "architecture");

        if (!domain)
                return ev_error_set(error, EINVAL, "%s.domain: Required value", path);
        if (arch && !streq(arch, "amd64"))
                return ev_error_set(error, EOPNOTSUPP,
                                    "%s.architecture: Unsupported value: \"%s\": this node runs amd64 guests only",
                                    path, arch);
        if (check_resources(domain, cpu, json_get_array(devices, "disks"), volumes, path, error) < 0)
                return -EINVAL;
        if (need_memory && domain_guest_memory(spec) <= 0)
                return ev_error_set(error, EINVAL,
                                    "%s.domain.memory.guest: Required value: no memory requested (set "
                                    "%s.domain.memory.guest "
                                    "or %s.domain.resources.requests.memory)", path, path, path);
        if (!unique_names(volumes, "spec.volumes", error) ||
            !unique_names(json_get_array(devices, "disks"), "spec.domain.devices.disks", error))
                return -EINVAL;
        if (check_volumes(volumes, path, error) < 0 ||
            check_disks(json_get_array(devices, "disks"), volumes, path, error) < 0 ||
            check_networks(spec, path, error) < 0)
                return -EINVAL;
        if (check_kernel_boot(json_get_object(domain, "firmware"), path, error) < 0)
                return -EINVAL;
        JsonObject *bl = json_get_object(json_get_object(domain, "firmware"), "bootloader");
        if (json_get_object(bl, "bios") && json_get_object(bl, "efi"))
                return ev_error_set(error, EINVAL,
                                    "%s.domain.firmware.bootloader: Invalid value: give bios or efi, not both", path);
        JsonObject *smm = json_get_object(json_get_object(domain, "features"), "smm");
        if (json_get_object(bl, "efi") && json_get_bool(json_get_object(bl, "efi"), "secureBoot", true) && smm &&
            !json_get_bool(smm, "enabled", true))
                return ev_error_set(error, EINVAL,
                                    "%s.domain.features.smm.enabled: Invalid value: false: EFI secure boot "
                                    "(firmware.bootloader.efi.secureBoot, true unless set false) needs SMM", path);
        if (json_get_int(spec, "terminationGracePeriodSeconds", 0) < 0)
                return ev_error_set(error, EINVAL,
                                    "%s.terminationGracePeriodSeconds: Invalid value: must not be negative", path);
        if (check_access_credentials(spec, volumes, path, error) < 0)
                return -EINVAL;
        const char *start = json_get_string(spec, "startStrategy");
        if (start && !streq(start, "Paused"))
                return ev_error_set(error, EINVAL,
                                    "%s.startStrategy: Unsupported value: \"%s\": supported values: \"Paused\"", path,
                                    start);
        static const char *const ignored[] = { "nodeSelector", "affinity", "tolerations", "topologySpreadConstraints",
                                               "schedulerName",
                                               "priorityClassName", "dnsPolicy", NULL };
        for (const char *const *f = ignored; *f && warnings; f++)
                if (json_object_has_member(spec, *f))
                        g_ptr_array_add(warnings, g_strdup_printf("%s.%s: has no effect on a single node", path, *f));
        return 0;
}

static int check_annotations(JsonObject *meta, const char *path, GError **error) {
        JsonObject *ann = json_get_object(meta, "annotations");
        if (json_get_string(ann, "hooks.kubevirt.io/hookSidecars"))
                return ev_error_set(error, EOPNOTSUPP,
                                    "%s.annotations[hooks.kubevirt.io/hookSidecars]: not supported on edgevirt: "
                                    "sidecar hooks run in a virt-launcher pod, which edgevirt does not have", path);
        return 0;
}

int vm_template_annotations_admit(JsonObject *meta, const char *path, GError **error) {
        return check_annotations(meta, path, error);
}

