/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VMI spec -> libvirt domain XML.  Pure: everything the node decides
 * (paths, sockets, KVM or TCG) comes in through DomainHost, so the same
 * spec and host give the same text, which tests/domain/ pins.  Defaults
 * follow KubeVirt's: q35, virtio disks and NICs, ACPI on, UTC clock, a
 * serial console, VNC, a memory balloon, a guest-agent channel. */
#include <stdarg.h>

#include "domain.h"
#include "json-util.h"
#include "quantity.h"
#include "util.h"

typedef struct Xml {
        GString *s;
        int depth;
} Xml;

static void line(Xml *x, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void line(Xml *x, const char *fmt, ...) {
        va_list ap;
        g_autofree char *text = NULL;

        va_start(ap, fmt);
        text = g_markup_vprintf_escaped(fmt, ap);
        va_end(ap);
        for (int i = 0; i < x->depth; i++)
                g_string_append(x->s, "  ");
        g_string_append(x->s, text);
        g_string_append_c(x->s, '\n');
}

/* A line built of pieces that were escaped already. */
static void raw_line(Xml *x, const char *text) {
        for (int i = 0; i < x->depth; i++)
                g_string_append(x->s, "  ");
        g_string_append(x->s, text);
        g_string_append_c(x->s, '\n');
}

/* Append an escaped attribute. */
static void attr(GString *s, const char *name, const char *value) {
        g_autofree char *v = g_markup_escape_text(value, -1);
        g_string_append_printf(s, " %s='%s'", name, v);
}

#define open_tag(x, ...) do { line(x, __VA_ARGS__); (x)->depth++; } while (0)
#define close_tag(x, ...) do { (x)->depth--; line(x, __VA_ARGS__); } while (0)

static int64_t quantity_bytes(const char *s) {
        int64_t v = 0;
        if (!s || quantity_parse_int64(s, &v, NULL) < 0)
                return 0;
        return v;
}

int64_t domain_guest_memory(JsonObject *spec) {
        JsonObject *domain = json_get_object(spec, "domain");
        JsonObject *res = json_get_object(domain, "resources");
        int64_t v = quantity_bytes(json_get_string(json_get_object(domain, "memory"), "guest"));
        if (!v)
                v = quantity_bytes(json_get_string(json_get_object(res, "requests"), "memory"));
        if (!v)
                v = quantity_bytes(json_get_string(json_get_object(res, "limits"), "memory"));
        return v;
}

static bool feature_on(JsonObject *features, const char *name, bool def) {
        if (!features || !json_object_has_member(features, name))
                return def;
        return json_get_bool(json_get_object(features, name), "enabled", true);
}

JsonArray *domain_disks(JsonObject *spec) {
        JsonArray *disks = json_array_new();
        JsonArray *given = json_get_array(json_get_object(json_get_object(spec, "domain"), "devices"), "disks");
        JsonArray *volumes = json_get_array(spec, "volumes");

        for (guint i = 0; given && i < json_array_get_length(given); i++)
                json_array_add_element(disks, json_deep_copy(json_array_get_element(given, i)));
        for (guint i = 0; volumes && i < json_array_get_length(volumes); i++) {
                const char *name = json_get_string(json_array_get_object_element(volumes, i), "name");
                bool found = false;
                for (guint j = 0; given && j < json_array_get_length(given); j++)
                        found = found || streq_ptr(json_get_string(json_array_get_object_element(given, j), "name"),
                                                   name);
                if (!found) {
                        JsonObject *d = json_object_new();
                        json_object_set_string_member(d, "name", name);
                        json_object_set_object_member(d, "disk", json_object_new());
                        json_array_add_object_element(disks, d);
                }
        }
        return disks;
}

static JsonObject *volume_named(JsonObject *spec, const char *name) {
        JsonArray *volumes = json_get_array(spec, "volumes");
        for (guint i = 0; volumes && i < json_array_get_length(volumes); i++) {
                JsonObject *v = json_array_get_object_element(volumes, i);
                if (streq_ptr(json_get_string(v, "name"), name))
                        return v;
        }
        return NULL;
}

char *domain_target_name(const char *prefix, unsigned n) {
        /* vda..vdz, vdaa..: the kernel's naming */
        GString *s = g_string_new(prefix);
        char buf[8];
        int len = 0;
        n++;
        while (n > 0 && len < (int) sizeof buf) {
                n--;
                buf[len++] = (char) ('a' + n % 26);
                n /= 26;
        }
        while (len > 0)
                g_string_append_c(s, buf[--len]);
        return g_string_free(s, FALSE);
}

/* The bus and target device of disks[i] (n_vd, n_sd: how many of each
 * kind came before); the device kind ("disk", "cdrom", "lun") in *device. */
static int disk_target(JsonObject *d, guint i, unsigned *n_vd, unsigned *n_sd, const char **device,
                       const char **ret_bus, char **ret_dev, GError **error) {
        *device = json_get_object(d, "cdrom") ? "cdrom" : json_get_object(d, "lun") ? "lun" : "disk";
        const char *bus = json_get_string(json_get_object(d, *device), "bus");

        if (!bus)
                bus = streq(*device, "disk") ? "virtio" : streq(*device, "cdrom") ? "sata" : "scsi";
        if (streq(bus, "virtio"))
                *ret_dev = domain_target_name("vd", (*n_vd)++);
        else if (streq(bus, "sata") || streq(bus, "scsi") || streq(bus, "usb"))
                *ret_dev = domain_target_name("sd", (*n_sd)++);
        else
                return ev_error_set(error, EINVAL,
                                    "spec.domain.devices.disks[%u].%s.bus: Unsupported value: \"%s\": "
                                    "supported values: "
                                    "\"virtio\", \"sata\", \"scsi\", \"usb\"", i, *device, bus);
        *ret_bus = bus;
        return 0;
}

/* One <disk> element: disk d of the spec, on src, as dev on bus. */
static void write_disk(Xml *x, JsonObject *d, const char *device, const char *bus, const char *dev,
                       const DomainVolume *src) {
        const char *name = json_get_string(d, "name");
        bool readonly = json_get_bool(json_get_object(d, device), "readonly", streq(device, "cdrom"));
        const char *cache = json_get_string(d, "cache");
        const char *io = json_get_string(d, "io");
        const char *policy = json_get_string(d, "errorPolicy");
        g_autoptr(GString) driver = g_string_new("<driver name='qemu'");

        attr(driver, "type", src->format ? src->format : "raw");
        /* O_DIRECT is KubeVirt's default where the storage allows it;
         * read-only images are shared and cached */
        attr(driver, "cache", cache ? cache : src->readonly ? "writethrough" : "none");
        if (io && !streq(io, "default"))
                attr(driver, "io", io);
        if (policy)
                attr(driver, "error_policy", policy);
        if (!src->readonly && !streq(device, "cdrom"))
                g_string_append(driver, " discard='unmap'");
        g_string_append(driver, "/>");

        open_tag(x, "<disk type='%s' device='%s'>", src->block ? "block" : "file", device);
        raw_line(x, driver->str);
        /* no path: an empty tray */
        if (src->path && src->block)
                line(x, "<source dev='%s'/>", src->path);
        else if (src->path)
                line(x, "<source file='%s'/>", src->path);
        if (src->backing) {
                /* named here, not probed from the overlay's header */
                bool on_dev = g_str_has_prefix(src->backing, "/dev/");
                open_tag(x, "<backingStore type='%s'>", on_dev ? "block" : "file");
                line(x, "<format type='raw'/>");
                line(x, on_dev ? "<source dev='%s'/>" : "<source file='%s'/>", src->backing);
                line(x, "<backingStore/>");
                close_tag(x, "</backingStore>");
        }
        line(x, "<target dev='%s' bus='%s'/>", dev, bus);
        if (readonly || src->readonly)
                line(x, "<readonly/>");
        if (json_get_bool(d, "shareable", false))
                line(x, "<shareable/>");
        if (json_get_string(d, "serial"))
                line(x, "<serial>%s</serial>", json_get_string(d, "serial"));
        if (json_get_int(d, "bootOrder", 0) > 0)
                line(x, "<boot order='%u'/>", (unsigned) json_get_int(d, "bootOrder", 0));
        JsonObject *bs = json_get_object(json_get_object(d, "blockSize"), "custom");
        if (bs)
                line(x, "<blockio logical_block_size='%u' physical_block_size='%u'/>",
                     (unsigned) json_get_int(bs, "logical", 512), (unsigned) json_get_int(bs, "physical", 512));
        line(x, "<alias name='ua-%s'/>", name);
        close_tag(x, "</disk>");
}

/* A cdrom without a volume: no medium (cached as a claim put in it will
 * be: libvirt changes the medium, not the driver). */
static const DomainVolume empty_tray = { .format = "raw" };

/* Disks of the spec; only the one named only (NULL: all), as target (NULL:
 * numbered in order). */
static int write_disks(Xml *x, JsonObject *spec, GHashTable *volumes, const char *only, const char *target,
                       bool *ret_scsi, bool *ret_usb, GError **error) {
        g_autoptr(JsonArray) disks = domain_disks(spec);
        unsigned n_vd = 0, n_sd = 0;
        bool found = false;

        for (guint i = 0; i < json_array_get_length(disks); i++) {
                JsonObject *d = json_array_get_object_element(disks, i);
                const char *name = json_get_string(d, "name");
                const DomainVolume *src = volumes ? g_hash_table_lookup(volumes, name) : NULL;
                const char *device, *bus = NULL;
                g_autofree char *dev = NULL;

                if (only && !streq_ptr(name, only))
                        continue;
                if (!volume_named(spec, name) && json_get_object(d, "cdrom"))
                        src = &empty_tray;
                else if (!volume_named(spec, name))
                        return ev_error_set(error, EINVAL,
                                            "spec.domain.devices.disks[%u].name: Invalid value: \"%s\": no volume has "
                                            "this name", i, name);
                if (!src)
                        return ev_error_set(error, ENOENT, "spec.volumes: volume \"%s\" has no source on this node",
                                            name);
                if (disk_target(d, i, &n_vd, &n_sd, &device, &bus, &dev, error) < 0)
                        return -EINVAL;
                *ret_scsi = *ret_scsi || streq(bus, "scsi");
                *ret_usb = *ret_usb || streq(bus, "usb");
                write_disk(x, d, device, bus, target ? target : dev, src);
                found = true;
        }
        if (only && !found)
                return ev_error_set(error, ENOENT, "spec.domain.devices.disks: no disk named \"%s\"", only);
        return 0;
}

GHashTable *domain_disk_targets(JsonObject *spec) {
        g_autoptr(JsonArray) disks = domain_disks(spec);
        GHashTable *t = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        unsigned n_vd = 0, n_sd = 0;

        for (guint i = 0; i < json_array_get_length(disks); i++) {
                JsonObject *d = json_array_get_object_element(disks, i);
                const char *device, *bus;
                char *dev = NULL;
                if (disk_target(d, i, &n_vd, &n_sd, &device, &bus, &dev, NULL) == 0)
                        g_hash_table_insert(t, g_strdup(json_get_string(d, "name")), dev);
        }
        return t;
}

char *domain_disk_xml(JsonObject *spec, GHashTable *volumes, const char *name, const char *target, GError **error) {
        g_autoptr(GString) s = g_string_new(NULL);
        Xml x = { .s = s };
        bool scsi = false, usb = false;

        if (write_disks(&x, spec, volumes, name, target, &scsi, &usb, error) < 0)
                return NULL;
        return g_string_free(g_steal_pointer(&s), FALSE);
}

static const char *binding_of(JsonObject *iface) {
        static const char *const bindings[] = { "masquerade", "bridge", "slirp", "passt", "sriov", "macvtap", NULL };
        for (const char *const *b = bindings; *b; b++)
                if (json_object_has_member(iface, *b))
                        return *b;
        return NULL;
}

static int write_interfaces(Xml *x, JsonObject *spec, const DomainHost *h, GError **error) {
        JsonObject *devices = json_get_object(json_get_object(spec, "domain"), "devices");
        JsonArray *ifaces = json_get_array(devices, "interfaces");
        JsonArray *networks = json_get_array(spec, "networks");
        g_autoptr(JsonArray) implicit = NULL;

        /* No interfaces and no networks: KubeVirt attaches the pod network
         * with masquerade unless autoattachPodInterface is false. */
        if (!ifaces && !networks && json_get_bool(devices, "autoattachPodInterface", true)) {
                JsonObject *i = json_object_new();
                implicit = json_array_new();
                json_object_set_string_member(i, "name", "default");
                json_object_set_object_member(i, "masquerade", json_object_new());
                json_array_add_object_element(implicit, i);
                ifaces = implicit;
        }
        for (guint i = 0; ifaces && i < json_array_get_length(ifaces); i++) {
                JsonObject *iface = json_array_get_object_element(ifaces, i);
                const char *name = json_get_string(iface, "name");
                const char *binding = binding_of(iface);
                const char *model = json_get_string(iface, "model");
                const char *mac = json_get_string(iface, "macAddress");

                if (!binding)
                        return ev_error_set(error, EINVAL,
                                            "spec.domain.devices.interfaces[%u]: Required value: a binding "
                                            "(masquerade, bridge or slirp) is needed", i);
                if (streq(binding, "masquerade")) {
                        open_tag(x, "<interface type='network'>");
                        line(x, "<source network='%s'/>", h->nat_network ? h->nat_network : "default");
                } else if (streq(binding, "bridge")) {
                        if (!h->bridge)
                                return ev_error_set(error, EOPNOTSUPP,
                                                    "spec.domain.devices.interfaces[%u].bridge: no host bridge is "
                                                    "configured on this node ([Network] Bridge= in edgevirtd.conf)", i);
                        open_tag(x, "<interface type='bridge'>");
                        line(x, "<source bridge='%s'/>", h->bridge);
                } else if (streq(binding, "slirp") || streq(binding, "passt")) {
                        open_tag(x, "<interface type='user'>");
                } else
                        return ev_error_set(error, EOPNOTSUPP,
                                            "spec.domain.devices.interfaces[%u].%s: not available on this node", i,
                                            binding);
                if (mac)
                        line(x, "<mac address='%s'/>", mac);
                line(x, "<model type='%s'/>", model ? model : "virtio");
                if (json_get_int(iface, "bootOrder", 0) > 0)
                        line(x, "<boot order='%u'/>", (unsigned) json_get_int(iface, "bootOrder", 0));
                else
                        line(x, "<rom enabled='no'/>");
                if (json_get_int(iface, "acpiIndex", 0) > 0)
                        line(x, "<acpi index='%u'/>", (unsigned) json_get_int(iface, "acpiIndex", 0));
                line(x, "<alias name='ua-%s'/>", name);
                close_tag(x, "</interface>");
        }
        return 0;
}

static void write_cpu(Xml *x, JsonObject *domain, const DomainHost *h) {
        JsonObject *cpu = json_get_object(domain, "cpu");
        const char *model = json_get_string(cpu, "model");
        unsigned sockets = (unsigned) json_get_int(cpu, "sockets", 1);
        unsigned cores = (unsigned) json_get_int(cpu, "cores", 1);
        unsigned threads = (unsigned) json_get_int(cpu, "threads", 1);
        JsonArray *features = json_get_array(cpu, "features");

        /* host-model/host-passthrough need KVM; under TCG QEMU's default
         * model stands in for them */
        if (!model)
                model = h->kvm ? "host-model" : NULL;
        if (model && (streq(model, "host-model") || streq(model, "host-passthrough"))) {
                if (h->kvm)
                        open_tag(x, "<cpu mode='%s'>", model);
                else
                        open_tag(x, "<cpu>");
                model = NULL;
        } else if (model)
                open_tag(x, "<cpu mode='custom' match='exact'>");
        else
                open_tag(x, "<cpu>");
        if (model)
                line(x, "<model fallback='forbid'>%s</model>", model);
        line(x, "<topology sockets='%u' dies='1' cores='%u' threads='%u'/>", sockets, cores, threads);
        for (guint i = 0; features && i < json_array_get_length(features); i++) {
                JsonObject *f = json_array_get_object_element(features, i);
                line(x, "<feature policy='%s' name='%s'/>",
                     json_get_string(f, "policy") ? json_get_string(f, "policy") : "require",
                     json_get_string(f, "name"));
        }
        close_tag(x, "</cpu>");
}

static void write_features(Xml *x, JsonObject *domain, bool smm) {
        JsonObject *features = json_get_object(domain, "features");
        JsonObject *hv = json_get_object(features, "hyperv");
        static const char *const hv_simple[] = { "relaxed", "vapic", "vpindex", "runtime", "synic", "reset",
                                                 "frequencies", "reenlightenment", "tlbflush", "ipi", "evmcs", NULL };

        open_tag(x, "<features>");
        if (feature_on(features, "acpi", true))
                line(x, "<acpi/>");
        if (feature_on(features, "apic", true))
                line(x, "<apic/>");
        if (smm)
                line(x, "<smm state='on'/>");
        if (hv) {
                open_tag(x, "<hyperv mode='custom'>");
                for (const char *const *f = hv_simple; *f; f++)
                        if (json_object_has_member(hv, *f))
                                line(x, "<%s state='%s'/>", *f, feature_on(hv, *f, true) ? "on" : "off");
                if (json_object_has_member(hv, "spinlocks")) {
                        JsonObject *sl = json_get_object(hv, "spinlocks");
                        if (feature_on(hv, "spinlocks", true))
                                line(x, "<spinlocks state='on' retries='%u'/>",
                                     (unsigned) json_get_int(sl, "spinlocks", 4096));
                        else
                                line(x, "<spinlocks state='off'/>");
                }
                if (json_object_has_member(hv, "synictimer"))
                        line(x, "<stimer state='%s'/>", feature_on(hv, "synictimer", true) ? "on" : "off");
                if (json_object_has_member(hv, "vendorid")) {
                        JsonObject *v = json_get_object(hv, "vendorid");
                        if (feature_on(hv, "vendorid", true) && json_get_string(v, "vendorid"))
                                line(x, "<vendor_id state='on' value='%s'/>", json_get_string(v, "vendorid"));
                }
                close_tag(x, "</hyperv>");
        }
        JsonObject *kvm = json_get_object(features, "kvm");
        if (kvm)
                line(x, "<kvm><hidden state='%s'/></kvm>", json_get_bool(kvm, "hidden", false) ? "on" : "off");
        if (features && json_object_has_member(features, "pvspinlock"))
                line(x, "<pvspinlock state='%s'/>", feature_on(features, "pvspinlock", true) ? "on" : "off");
        close_tag(x, "</features>");
}

static void write_clock(Xml *x, JsonObject *domain) {
        JsonObject *clock = json_get_object(domain, "clock");
        JsonObject *timer = json_get_object(clock, "timer");
        const char *tz = json_get_string(clock, "timezone");
        JsonObject *utc = json_get_object(clock, "utc");

        if (tz)
                open_tag(x, "<clock offset='timezone' timezone='%s'>", tz);
        else if (utc && json_object_has_member(utc, "offsetSeconds"))
                open_tag(x, "<clock offset='variable' adjustment='%" G_GINT64_FORMAT "' basis='utc'>",
                         json_get_int(utc, "offsetSeconds", 0));
        else
                open_tag(x, "<clock offset='utc'>");
        static const char *const timers[] = { "hpet", "pit", "rtc", "kvm", "hyperv", NULL };
        for (const char *const *t = timers; *t; t++) {
                JsonObject *o = json_get_object(timer, *t);
                const char *name = streq(*t, "kvm") ? "kvmclock" : streq(*t, "hyperv") ? "hypervclock" : *t;
                if (!o)
                        continue;
                g_autoptr(GString) attrs = g_string_new(NULL);
                g_string_append(attrs, "<timer");
                attr(attrs, "name", name);
                if (json_get_string(o, "tickPolicy"))
                        attr(attrs, "tickpolicy", json_get_string(o, "tickPolicy"));
                if (json_get_string(o, "track"))
                        attr(attrs, "track", json_get_string(o, "track"));
                attr(attrs, "present", json_get_bool(o, "present", true) ? "yes" : "no");
                g_string_append(attrs, "/>");
                raw_line(x, attrs->str);
        }
        close_tag(x, "</clock>");
}

/* firmware.kernelBoot: QEMU loads the kernel and initrd itself. */
static void write_kernel_boot(Xml *x, JsonObject *kernel_boot, const DomainHost *h) {
        const char *args = json_get_string(kernel_boot, "kernelArgs");

        if (h->kernel)
                line(x, "<kernel>%s</kernel>", h->kernel);
        if (h->initrd)
                line(x, "<initrd>%s</initrd>", h->initrd);
        if (!isempty(args) && (h->kernel || h->initrd))
                line(x, "<cmdline>%s</cmdline>", args);
}

/* devices.hostDevices and devices.gpus, as the node resolved them
 * (hostdev.c): managed, so libvirt binds a PCI device to vfio-pci and back. */
static void write_host_devices(Xml *x, GArray *devs, bool *usb) {
        for (guint i = 0; devs && i < devs->len; i++) {
                const DomainHostDevice *d = &g_array_index(devs, DomainHostDevice, i);
                open_tag(x, "<hostdev mode='subsystem' type='%s' managed='yes'>",
                         d->type == DOMAIN_HOSTDEV_USB ? "usb" : "pci");
                open_tag(x, "<source>");
                if (d->type == DOMAIN_HOSTDEV_USB) {
                        *usb = true;
                        line(x, "<vendor id='0x%04x'/>", d->vendor);
                        line(x, "<product id='0x%04x'/>", d->product);
                        if (d->usb_bus >= 0)
                                line(x, "<address bus='%d' device='%d'/>", d->usb_bus, d->usb_device);
                } else
                        line(x, "<address domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'/>",
                             d->pci_domain, d->pci_bus, d->pci_slot, d->pci_function);
                close_tag(x, "</source>");
                close_tag(x, "</hostdev>");
        }
}

static int write_os(Xml *x, JsonObject *spec, const DomainHost *h, bool *ret_smm, GError **error) {
        JsonObject *domain = json_get_object(spec, "domain");
        JsonObject *firmware = json_get_object(domain, "firmware");
        JsonObject *bootloader = json_get_object(firmware, "bootloader");
        JsonObject *efi = json_get_object(bootloader, "efi");
        JsonObject *bios = json_get_object(bootloader, "bios");
        const char *machine = json_get_string(json_get_object(domain, "machine"), "type");
        bool secure = efi && json_get_bool(efi, "secureBoot", true);

        if (isempty(machine))
                machine = NULL;         /* "" is the default, as in KubeVirt */

        *ret_smm = feature_on(json_get_object(domain, "features"), "smm", false) || secure;
        if (efi) {
                const char *code = secure ? h->efi_code_secure : h->efi_code;
                const char *vars = secure ? h->efi_vars_secure : h->efi_vars;
                if (!code || !vars)
                        return ev_error_set(error, EOPNOTSUPP,
                                            "spec.domain.firmware.bootloader.efi: %sEFI firmware (OVMF) is not "
                                            "installed on this node",
                                            secure ? "secure-boot " : "");
                if (machine && !g_str_has_prefix(machine, "q35") && !g_str_has_prefix(machine, "pc-q35"))
                        return ev_error_set(error, EINVAL,
                                            "spec.domain.machine.type: Invalid value: \"%s\": EFI %sneeds a q35 "
                                            "machine",
                                            machine, secure ? "with secure boot " : "");
        }
        open_tag(x, "<os>");
        line(x, "<type arch='x86_64' machine='%s'>hvm</type>", machine ? machine : "q35");
        if (efi) {
                line(x, "<loader readonly='yes' secure='%s' type='pflash'>%s</loader>", secure ? "yes" : "no",
                     secure ? h->efi_code_secure : h->efi_code);
                line(x, "<nvram template='%s'>%s</nvram>", secure ? h->efi_vars_secure : h->efi_vars,
                     h->nvram ? h->nvram : "");
        }
        if (bios && json_get_bool(bios, "useSerial", false))
                line(x, "<bios useserial='yes'/>");
        write_kernel_boot(x, json_get_object(firmware, "kernelBoot"), h);
        line(x, "<smbios mode='sysinfo'/>");
        close_tag(x, "</os>");
        return 0;
}

/* The domain's identity: name, uuid, our metadata (how adoption finds its
 * instance), memory, vCPUs and the I/O thread. */
static void write_identity(Xml *x, JsonObject *domain, const DomainHost *h, const char *uuid, int64_t memory,
                           unsigned vcpus) {
        line(x, "<name>%s</name>", h->domain_name);
        if (uuid)
                line(x, "<uuid>%s</uuid>", uuid);
        open_tag(x, "<metadata>");
        open_tag(x, "<edgevirt:instance xmlns:edgevirt='%s'>", DOMAIN_XMLNS);
        line(x, "<edgevirt:namespace>%s</edgevirt:namespace>", h->namespace);
        line(x, "<edgevirt:name>%s</edgevirt:name>", h->name);
        line(x, "<edgevirt:uid>%s</edgevirt:uid>", h->vmi_uid);
        if (h->owner)
                line(x, "<edgevirt:owner>%s</edgevirt:owner>", h->owner);
        close_tag(x, "</edgevirt:instance>");
        close_tag(x, "</metadata>");
        line(x, "<memory unit='b'>%" G_GINT64_FORMAT "</memory>", memory);
        line(x, "<vcpu placement='static'>%u</vcpu>", vcpus ? vcpus : 1);
        if (json_get_string(domain, "ioThreadsPolicy"))
                line(x, "<iothreads>1</iothreads>");
}

/* The SMBIOS system entries the guest sees (KubeVirt's, with our name). */
static void write_sysinfo(Xml *x, JsonObject *firmware, const char *uuid) {
        open_tag(x, "<sysinfo type='smbios'>");
        open_tag(x, "<system>");
        line(x, "<entry name='manufacturer'>edgevirt</entry>");
        line(x, "<entry name='product'>None</entry>");
        line(x, "<entry name='family'>KubeVirt</entry>");
        if (uuid)
                line(x, "<entry name='uuid'>%s</entry>", uuid);
        if (json_get_string(firmware, "serial"))
                line(x, "<entry name='serial'>%s</entry>", json_get_string(firmware, "serial"));
        close_tag(x, "</system>");
        close_tag(x, "</sysinfo>");
}

/* The serial console on its socket (and its log), and the guest agent's
 * channel. */
static void write_console(Xml *x, JsonObject *devices, const DomainHost *h) {
        if (json_get_bool(devices, "autoattachSerialConsole", true) && h->console_socket) {
                open_tag(x, "<serial type='unix'>");
                line(x, "<source mode='bind' path='%s'/>", h->console_socket);
                if (h->console_log && json_get_bool(devices, "logSerialConsole", true))
                        line(x, "<log file='%s' append='on'/>", h->console_log);
                line(x, "<target port='0'/>");
                close_tag(x, "</serial>");
                open_tag(x, "<console type='unix'>");
                line(x, "<source mode='bind' path='%s'/>", h->console_socket);
                line(x, "<target type='serial' port='0'/>");
                close_tag(x, "</console>");
        }
        open_tag(x, "<channel type='unix'>");
        line(x, "<target type='virtio' name='org.qemu.guest_agent.0'/>");
        close_tag(x, "</channel>");
}

/* VNC on its socket and the video device, unless the spec turns graphics
 * off. */
static void write_graphics(Xml *x, JsonObject *devices, JsonObject *firmware, const DomainHost *h) {
        if (json_get_bool(devices, "autoattachGraphicsDevice", true)) {
                const char *video = json_get_string(json_get_object(devices, "video"), "type");
                if (h->vnc_socket) {
                        open_tag(x, "<graphics type='vnc'>");
                        line(x, "<listen type='socket' socket='%s'/>", h->vnc_socket);
                        close_tag(x, "</graphics>");
                }
                line(x, "<video><model type='%s' heads='1'/></video>",
                     video ? video : json_get_object(json_get_object(firmware, "bootloader"), "efi") ? "bochs" : "vga");
        }
}

/* Input devices; *usb becomes true when one of them needs the USB
 * controller. */
static void write_inputs(Xml *x, JsonObject *devices, bool *usb) {
        JsonArray *inputs = json_get_array(devices, "inputs");
        for (guint i = 0; inputs && i < json_array_get_length(inputs); i++) {
                JsonObject *in = json_array_get_object_element(inputs, i);
                const char *bus = json_get_string(in, "bus") ? json_get_string(in, "bus") : "usb";
                *usb = *usb || streq(bus, "usb");
                line(x, "<input type='%s' bus='%s'><alias name='ua-%s'/></input>",
                     json_get_string(in, "type") ? json_get_string(in, "type") : "tablet", bus,
                     json_get_string(in, "name"));
        }
        if (!inputs && json_get_bool(devices, "autoattachInputDevice", false)) {
                *usb = true;
                line(x, "<input type='tablet' bus='usb'/>");
        }
}

/* The remaining devices: random number generator, watchdog, sound, TPM and
 * the memory balloon. */
static void write_other_devices(Xml *x, JsonObject *devices) {
        if (devices && json_object_has_member(devices, "rng")) {
                open_tag(x, "<rng model='virtio'>");
                line(x, "<backend model='random'>/dev/urandom</backend>");
                close_tag(x, "</rng>");
        }
        JsonObject *wd = json_get_object(devices, "watchdog");
        if (wd && json_get_object(wd, "i6300esb")) {
                const char *action = json_get_string(json_get_object(wd, "i6300esb"), "action");
                line(x, "<watchdog model='i6300esb' action='%s'/>", action ? action : "reset");
        }
        JsonObject *sound = json_get_object(devices, "sound");
        if (sound)
                line(x, "<sound model='%s'/>",
                     json_get_string(sound, "model") ? json_get_string(sound, "model") : "ich9");
        JsonObject *tpm = json_get_object(devices, "tpm");
        if (tpm && json_get_bool(tpm, "enabled", true)) {
                /* as KubeVirt's: a persistent vTPM is a CRB one whose swtpm state libvirt keeps */
                bool persistent = json_get_bool(tpm, "persistent", false);
                open_tag(x, "<tpm model='%s'>", persistent ? "tpm-crb" : "tpm-tis");
                if (persistent)
                        line(x, "<backend type='emulator' version='2.0' persistent_state='yes'/>");
                else
                        line(x, "<backend type='emulator' version='2.0'/>");
                close_tag(x, "</tpm>");
        }
        if (json_get_bool(devices, "autoattachMemBalloon", true)) {
                open_tag(x, "<memballoon model='virtio'>");
                line(x, "<stats period='10'/>");
                close_tag(x, "</memballoon>");
        } else
                line(x, "<memballoon model='none'/>");
}

char *domain_xml(JsonObject *spec, const DomainHost *h, GError **error) {
        JsonObject *domain = json_get_object(spec, "domain");
        JsonObject *devices = json_get_object(domain, "devices");
        JsonObject *cpu = json_get_object(domain, "cpu");
        JsonObject *firmware = json_get_object(domain, "firmware");
        g_autoptr(GString) s = g_string_new(NULL);
        Xml x = { .s = s };
        int64_t memory = domain_guest_memory(spec);
        unsigned vcpus = (unsigned) (json_get_int(cpu, "sockets", 1) * json_get_int(cpu, "cores", 1) *
                                     json_get_int(cpu, "threads", 1));
        const char *uuid = json_get_string(firmware, "uuid") ? json_get_string(firmware, "uuid") : h->uuid;
        bool smm = false, scsi = false, usb = false;

        if (memory <= 0) {
                ev_error_set(error, EINVAL, "spec.domain.memory.guest: Required value: no memory requested (set "
                             "spec.domain.memory.guest or spec.domain.resources.requests.memory)");
                return NULL;
        }
        JsonObject *tpm = json_get_object(devices, "tpm");
        if (tpm && json_get_bool(tpm, "enabled", true) && !h->swtpm) {
                ev_error_set(error, EOPNOTSUPP, "spec.domain.devices.tpm: TPM emulation (swtpm) is not installed on "
                             "this node");
                return NULL;
        }
        open_tag(&x, "<domain type='%s'>", h->kvm ? "kvm" : "qemu");
        write_identity(&x, domain, h, uuid, memory, vcpus);
        write_sysinfo(&x, firmware, uuid);
        if (write_os(&x, spec, h, &smm, error) < 0)
                return NULL;
        write_features(&x, domain, smm);
        write_cpu(&x, domain, h);
        write_clock(&x, domain);
        line(&x, "<on_poweroff>destroy</on_poweroff>");
        line(&x, "<on_reboot>restart</on_reboot>");
        line(&x, "<on_crash>destroy</on_crash>");
        open_tag(&x, "<devices>");
        if (write_disks(&x, spec, h->volumes, NULL, NULL, &scsi, &usb, error) < 0)
                return NULL;
        /* KubeVirt's: a virtio-scsi controller for the disks hotplugged
         * later, unless devices.disableHotplug */
        if (scsi || !json_get_bool(devices, "disableHotplug", false))
                line(&x, "<controller type='scsi' index='0' model='virtio-scsi'/>");
        if (write_interfaces(&x, spec, h, error) < 0)
                return NULL;
        write_console(&x, devices, h);
        write_graphics(&x, devices, firmware, h);
        write_inputs(&x, devices, &usb);
        write_host_devices(&x, h->hostdevs, &usb);
        line(&x, "<controller type='usb' index='0' model='%s'/>", usb ? "qemu-xhci" : "none");
        write_other_devices(&x, devices);
        close_tag(&x, "</devices>");
        close_tag(&x, "</domain>");
        return g_string_free(g_steal_pointer(&s), FALSE);
}
