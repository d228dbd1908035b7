/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Permitted host devices: the [HostDevice NAME] sections of the
 * configuration, what a VM may ask for, and where a device is on this host
 * (sysfs), for the domain's <hostdev>. */
#include <stdio.h>

#include "hostdev.h"
#include "json-util.h"
#include "services.h"
#include "util.h"

#define HOSTDEV_PREFIX "HostDevice "

static const char *const usb_keys[] = { "Type", "Vendor", "Product", "Bus", "Port", NULL };
static const char *const pci_keys[] = { "Type", "Vendor", "Device", "Address", NULL };

void host_device_config_free(HostDeviceConfig *d) {
        if (!d)
                return;
        g_free(d->name);
        g_free(d->address);
        g_free(d);
}

static bool valid_name(const char *n) {
        return *n && strspn(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/") == strlen(n);
}

/* A 16-bit id written 0xHHHH. */
static int get_id(GKeyFile *kf, const char *path, const char *group, const char *key, unsigned *ret, GError **error) {
        g_autofree char *v = g_key_file_get_string(kf, group, key, NULL);
        guint64 n;

        if (!v)
                return ev_error_set(error, EINVAL, "%s: [%s] needs %s=0xHHHH", path, group, key);
        if (!g_str_has_prefix(v, "0x") || strlen(v) != 6 || !g_ascii_string_to_unsigned(v + 2, 16, 0, 0xffff, &n, NULL))
                return ev_error_set(error, EINVAL, "%s: [%s] %s=%s is not a 16-bit id written 0xHHHH", path, group,
                                    key, v);
        *ret = (unsigned) n;
        return 0;
}

static int get_number(GKeyFile *kf, const char *path, const char *group, const char *key, int *ret, GError **error) {
        g_autofree char *v = g_key_file_get_string(kf, group, key, NULL);
        guint64 n;

        *ret = -1;
        if (!v)
                return 0;
        if (!g_ascii_string_to_unsigned(v, 10, 1, 255, &n, NULL))
                return ev_error_set(error, EINVAL, "%s: [%s] %s=%s is not a number from 1 to 255", path, group, key,
                                    v);
        *ret = (int) n;
        return 0;
}

static bool parse_pci_address(const char *a, DomainHostDevice *d) {
        char end;
        return a && sscanf(a, "%4x:%2x:%2x.%1x%c", &d->pci_domain, &d->pci_bus, &d->pci_slot, &d->pci_function,
                           &end) == 4 && strlen(a) == 12 && d->pci_slot < 32 && d->pci_function < 8;
}

int hostdev_config_load(GKeyFile *kf, const char *path, const char *group, GPtrArray *out, GError **error) {
        g_autoptr(HostDeviceConfig) d = g_new0(HostDeviceConfig, 1);
        g_autofree char *type = g_key_file_get_string(kf, group, "Type", NULL);
        g_auto(GStrv) keys = g_key_file_get_keys(kf, group, NULL, NULL);
        DomainHostDevice probe;

        d->name = g_strdup(group + strlen(HOSTDEV_PREFIX));
        if (!valid_name(d->name))
                return ev_error_set(error, EINVAL, "%s: [%s]: a host device's name is letters, digits and . _ - / "
                                    "(such as kubevirt.io/usb-storage)", path, group);
        if (hostdev_find(out, d->name))
                return ev_error_set(error, EINVAL, "%s: [%s] is there twice", path, group);
        if (!type || (!streq(type, "usb") && !streq(type, "pci")))
                return ev_error_set(error, EINVAL, "%s: [%s] needs Type=usb or Type=pci", path, group);
        d->type = streq(type, "usb") ? DOMAIN_HOSTDEV_USB : DOMAIN_HOSTDEV_PCI;
        for (char **k = keys; k && *k; k++)
                if (!g_strv_contains(d->type == DOMAIN_HOSTDEV_USB ? usb_keys : pci_keys, *k))
                        return ev_error_set(error, EINVAL, "%s: [%s] has no setting %s for Type=%s", path, group, *k,
                                            type);
        if (get_id(kf, path, group, "Vendor", &d->vendor, error) < 0 ||
            get_id(kf, path, group, d->type == DOMAIN_HOSTDEV_USB ? "Product" : "Device", &d->product, error) < 0)
                return -EINVAL;
        if (d->type == DOMAIN_HOSTDEV_USB) {
                if (get_number(kf, path, group, "Bus", &d->bus, error) < 0 ||
                    get_number(kf, path, group, "Port", &d->port, error) < 0)
                        return -EINVAL;
                if ((d->bus < 0) != (d->port < 0))
                        return ev_error_set(error, EINVAL, "%s: [%s] pins a device with both Bus= and Port=", path,
                                            group);
        } else {
                d->bus = d->port = -1;
                d->address = g_key_file_get_string(kf, group, "Address", NULL);
                if (d->address && !parse_pci_address(d->address, &probe))
                        return ev_error_set(error, EINVAL, "%s: [%s] Address=%s is not a PCI address such as "
                                            "0000:00:1f.2", path, group, d->address);
        }
        /* two sections that may be one device would let two VMs hold it */
        for (guint i = 0; i < out->len; i++) {
                const HostDeviceConfig *e = out->pdata[i];
                bool pinned = d->type == DOMAIN_HOSTDEV_PCI ? d->address && e->address : d->bus >= 0 && e->bus >= 0;
                if (e->type != d->type || e->vendor != d->vendor || e->product != d->product ||
                    (pinned && (d->bus != e->bus || d->port != e->port || g_strcmp0(d->address, e->address))))
                        continue;
                return ev_error_set(error, EINVAL, "%s: [%s] and [HostDevice %s] may be one device (%04x:%04x): "
                                    "give each its own %s", path, group, e->name, d->vendor, d->product,
                                    d->type == DOMAIN_HOSTDEV_PCI ? "Address=" : "Bus= and Port=");
        }
        g_ptr_array_add(out, g_steal_pointer(&d));
        return 0;
}

const HostDeviceConfig *hostdev_find(GPtrArray *permitted, const char *name) {
        for (guint i = 0; permitted && name && i < permitted->len; i++) {
                const HostDeviceConfig *d = permitted->pdata[i];
                if (streq(d->name, name))
                        return d;
        }
        return NULL;
}

char *hostdev_names(GPtrArray *permitted) {
        g_autoptr(GStrvBuilder) b = g_strv_builder_new();
        for (guint i = 0; permitted && i < permitted->len; i++)
                g_strv_builder_add(b, ((HostDeviceConfig *) permitted->pdata[i])->name);
        g_auto(GStrv) names = g_strv_builder_end(b);
        return names[0] ? g_strjoinv(", ", names) : g_strdup("none are configured");
}

int hostdev_admit(JsonObject *devices, GPtrArray *permitted, const char *path, GError **error) {
        static const char *const lists[] = { "hostDevices", "gpus" };
        g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

        for (size_t l = 0; l < G_N_ELEMENTS(lists); l++) {
                JsonArray *a = json_get_array(devices, lists[l]);
                for (guint i = 0; a && i < json_array_get_length(a); i++) {
                        JsonObject *dev = json_array_get_object_element(a, i);
                        const char *name = json_get_string(dev, "deviceName");
                        if (isempty(name))
                                return ev_error_set(error, EINVAL, "%s.domain.devices.%s[%u].deviceName: Required "
                                                    "value", path, lists[l], i);
                        if (json_object_has_member(dev, "virtualGPUOptions"))
                                return ev_error_set(error, EOPNOTSUPP, "%s.domain.devices.%s[%u].virtualGPUOptions: "
                                                    "not supported on edgevirt: mediated (virtual) GPUs are not "
                                                    "supported, only whole devices", path, lists[l], i);
                        if (!hostdev_find(permitted, name)) {
                                g_autofree char *names = hostdev_names(permitted);
                                return ev_error_set(error, EINVAL, "%s.domain.devices.%s[%u].deviceName: Unsupported "
                                                    "value: \"%s\": not a host device permitted on this node "
                                                    "(permitted: %s; [HostDevice NAME] in the daemon's "
                                                    "configuration)", path, lists[l], i, name, names);
                        }
                        if (!g_hash_table_add(seen, (char *) name))
                                return ev_error_set(error, EINVAL, "%s.domain.devices.%s[%u].deviceName: Duplicate "
                                                    "value: \"%s\": each host device is one device, given once",
                                                    path, lists[l], i, name);
                }
        }
        return 0;
}

int hostdev_admit_spec(Model *m, JsonObject *vmi_spec, const char *path, GError **error) {
        Services *s = m ? model_services(m) : NULL;
        JsonObject *devices = json_get_object(json_get_object(vmi_spec, "domain"), "devices");
        return hostdev_admit(devices, s ? s->host_devices : NULL, path, error);
}

GPtrArray *hostdev_requested(JsonObject *vmi_spec) {
        static const char *const lists[] = { "hostDevices", "gpus" };
        JsonObject *devices = json_get_object(json_get_object(vmi_spec, "domain"), "devices");
        GPtrArray *out = g_ptr_array_new();

        for (size_t l = 0; l < G_N_ELEMENTS(lists); l++) {
                JsonArray *a = json_get_array(devices, lists[l]);
                for (guint i = 0; a && i < json_array_get_length(a); i++) {
                        const char *name = json_get_string(json_array_get_object_element(a, i), "deviceName");
                        if (name)
                                g_ptr_array_add(out, (char *) name);
                }
        }
        return out;
}

static gint by_name(gconstpointer a, gconstpointer b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* A sysfs attribute as a number (base: 16 for ids, 10 for numbers), -1 when absent. */
static long read_attr(const char *dir, const char *attr, int base) {
        g_autofree char *path = g_build_filename(dir, attr, NULL);
        g_autofree char *text = NULL;

        if (!g_file_get_contents(path, &text, NULL, NULL))
                return -1;
        char *end;
        long v = strtol(g_strstrip(text), &end, base);
        return *end || end == text ? -1 : v;
}

static int resolve_pci(const HostDeviceConfig *d, const char *sysfs, DomainHostDevice *ret, GError **error) {
        g_autofree char *root = g_build_filename(sysfs, "bus", "pci", "devices", NULL);
        g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GDir) dir = g_dir_open(root, 0, NULL);
        const char *n;

        while (dir && (n = g_dir_read_name(dir)))
                if (!d->address || streq(n, d->address))
                        g_ptr_array_add(names, g_strdup(n));
        g_ptr_array_sort(names, by_name);
        g_autoptr(GString) found = g_string_new(NULL);
        guint matches = 0;
        for (guint i = 0; i < names->len; i++) {
                g_autofree char *dev = g_build_filename(root, names->pdata[i], NULL);
                DomainHostDevice at = *ret;
                if (read_attr(dev, "vendor", 16) == (long) d->vendor && read_attr(dev, "device", 16) ==
                    (long) d->product && parse_pci_address(names->pdata[i], &at)) {
                        g_string_append_printf(found, "%s%s", matches++ ? ", " : "", (char *) names->pdata[i]);
                        if (matches == 1)
                                *ret = at;
                }
        }
        /* two alike: which one is the guest's is not guessed (the host's own could be unbound) */
        if (matches > 1)
                return ev_error_set(error, EINVAL, "host device %s: %u PCI devices %04x:%04x on this host (%s); "
                                    "choose one with Address=", d->name, matches, d->vendor, d->product, found->str);
        if (matches == 1)
                return 0;
        return ev_error_set(error, ENODEV, "host device %s: no PCI device %04x:%04x%s%s on this host", d->name,
                            d->vendor, d->product, d->address ? " at " : "", d->address ? d->address : "");
}

/* An unpinned USB device is left to libvirt to find by vendor and
 * product, unless two are plugged in: which one is the guest's is not
 * guessed. */
static int usb_unpinned(const HostDeviceConfig *d, const char *sysfs, GError **error) {
        g_autofree char *root = g_build_filename(sysfs, "bus", "usb", "devices", NULL);
        g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GDir) dir = g_dir_open(root, 0, NULL);
        const char *n;

        while (dir && (n = g_dir_read_name(dir))) {
                g_autofree char *dev = g_build_filename(root, n, NULL);
                if (read_attr(dev, "idVendor", 16) == (long) d->vendor && read_attr(dev, "idProduct", 16) ==
                    (long) d->product)
                        g_ptr_array_add(names, g_strdup(n));
        }
        if (names->len < 2)
                return 0;
        g_ptr_array_sort(names, by_name);
        g_ptr_array_add(names, NULL);
        g_autofree char *found = g_strjoinv(", ", (char **) names->pdata);
        return ev_error_set(error, EINVAL, "host device %s: %u USB devices %04x:%04x on this host (%s); choose one "
                            "with Bus= and Port=", d->name, names->len - 1, d->vendor, d->product, found);
}

static int resolve_usb(const HostDeviceConfig *d, const char *sysfs, DomainHostDevice *ret, GError **error) {
        ret->usb_bus = ret->usb_device = -1;
        if (d->bus < 0)
                return usb_unpinned(d, sysfs, error);
        g_autofree char *name = g_strdup_printf("%d-%d", d->bus, d->port);
        g_autofree char *dev = g_build_filename(sysfs, "bus", "usb", "devices", name, NULL);
        long devnum = read_attr(dev, "devnum", 10);
        if (devnum < 0 || read_attr(dev, "idVendor", 16) != (long) d->vendor ||
            read_attr(dev, "idProduct", 16) != (long) d->product)
                return ev_error_set(error, ENODEV, "host device %s: no USB device %04x:%04x on bus %d port %d", d->name,
                                    d->vendor, d->product, d->bus, d->port);
        ret->usb_bus = d->bus;
        ret->usb_device = (int) devnum;
        return 0;
}

int hostdev_resolve(const HostDeviceConfig *d, const char *sysfs, DomainHostDevice *ret, GError **error) {
        *ret = (DomainHostDevice) { .type = d->type, .vendor = d->vendor, .product = d->product, .usb_bus = -1,
                                    .usb_device = -1 };
        return d->type == DOMAIN_HOSTDEV_PCI ? resolve_pci(d, sysfs, ret, error) : resolve_usb(d, sysfs, ret, error);
}
