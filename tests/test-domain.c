/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Domain XML golden files: every VM/VMI example in tests/compat and the
 * specs in tests/domain/ (*.yaml) give exactly tests/domain/<name>.xml (KVM
 * and TCG variants for one of them).  EDGEVIRT_UPDATE_GOLDEN=1 rewrites the
 * files; review the diff before committing it. */
#include <glib.h>

#include "domain.h"
#include "hostdev.h"
#include "json-util.h"
#include "manifest.h"
#include "util.h"

#define SRC_DIR SOURCE_ROOT "/tests"

static JsonObject *vmi_spec_of(JsonObject *doc) {
        const char *kind = json_get_string(doc, "kind");
        if (streq_ptr(kind, "VirtualMachine"))
                return json_get_object(json_get_object(json_get_object(doc, "spec"), "template"), "spec");
        if (streq_ptr(kind, "VirtualMachineInstance"))
                return json_get_object(doc, "spec");
        return NULL;
}

/* What a node would resolve, made up but stable: claims are block devices
 * of an lvm-thin class, the rest files. */
/* An interned copy (lives as long as the test) of a formatted string. */
static const char *intern_printf(const char *fmt, const char *arg) {
        g_autofree char *s = g_strdup_printf(fmt, arg);
        return g_intern_string(s);
}

static GHashTable *fake_volumes(JsonObject *spec) {
        GHashTable *t = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        JsonArray *volumes = json_get_array(spec, "volumes");
        for (guint i = 0; volumes && i < json_array_get_length(volumes); i++) {
                JsonObject *v = json_array_get_object_element(volumes, i);
                const char *name = json_get_string(v, "name");
                DomainVolume *dv = g_new0(DomainVolume, 1);
                dv->format = "raw";
                if (json_get_object(v, "persistentVolumeClaim") || json_get_object(v, "dataVolume")) {
                        dv->path = intern_printf("/dev/edgevirt/pvc-%s", name);
                        dv->block = true;
                } else if (json_get_object(v, "containerDisk")) {
                        dv->path = intern_printf("/var/lib/edgevirt/instances/UID/%s.qcow2", name);
                        dv->format = "qcow2";
                        dv->backing = "/var/lib/edgevirt/images/"
                                      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.img";
                } else if (json_get_object(v, "ephemeral")) {
                        dv->path = intern_printf("/var/lib/edgevirt/instances/UID/%s.qcow2", name);
                        dv->format = "qcow2";
                        dv->backing = intern_printf("/dev/edgevirt/pvc-%s", name);
                } else if (json_get_object(v, "cloudInitNoCloud") || json_get_object(v, "cloudInitConfigDrive") ||
                           json_get_object(v, "configMap") || json_get_object(v, "secret") ||
                           json_get_object(v, "sysprep")) {
                        dv->path = intern_printf("/run/edgevirt/UID/%s.iso", name);
                        dv->readonly = true;
                } else
                        dv->path = intern_printf("/var/lib/edgevirt/instances/UID/%s.img", name);
                g_hash_table_insert(t, g_strdup(name), dv);
        }
        return t;
}

/* Host devices as a node would resolve them: names with "nvidia" or "pci"
 * a PCI device, others a USB device (pinned when the name says "pinned"). */
static GArray *fake_hostdevs(JsonObject *spec) {
        g_autoptr(GPtrArray) names = hostdev_requested(spec);
        GArray *a = g_array_new(FALSE, TRUE, sizeof(DomainHostDevice));

        for (guint i = 0; i < names->len; i++) {
                const char *n = names->pdata[i];
                DomainHostDevice d = { .type = strstr(n, "nvidia") || strstr(n, "pci") ? DOMAIN_HOSTDEV_PCI :
                                               DOMAIN_HOSTDEV_USB,
                                       .vendor = 0x46f4, .product = 0x0001, .usb_bus = -1, .usb_device = -1,
                                       .pci_bus = 0x3b, .pci_slot = 0x1f, .pci_function = 2 };
                if (strstr(n, "pinned"))
                        d.usb_bus = 1, d.usb_device = 4;
                g_array_append_val(a, d);
        }
        return a;
}

static char *render(JsonObject *doc, bool kvm, GError **error) {
        JsonObject *spec = vmi_spec_of(doc);
        JsonObject *meta = json_get_object(doc, "metadata");
        const char *name = json_get_string(meta, "name");
        g_autofree char *domain_name = g_strdup_printf("default_%s", name);
        g_autoptr(GHashTable) volumes = fake_volumes(spec);
        g_autoptr(GArray) hostdevs = fake_hostdevs(spec);
        JsonObject *kernel_boot = json_get_object(json_get_object(json_get_object(spec, "domain"), "firmware"),
                                                  "kernelBoot");
        JsonObject *container = json_get_object(kernel_boot, "container");
        const char *hex = "HEX";
        DomainHost h = {
                .kvm = kvm,
                .domain_name = domain_name,
                .uuid = "6a1c4b2e-0000-4000-8000-000000000001",
                .namespace = "default",
                .name = name,
                .vmi_uid = "0f4c2b9a-0000-4000-8000-000000000002",
                .owner = "owner-id",
                .nat_network = "edgevirt",
                .bridge = "br0",
                .console_socket = "/run/edgevirt/UID/console.sock",
                .console_log = "/run/edgevirt/UID/console.log",
                .vnc_socket = "/run/edgevirt/UID/vnc.sock",
                .efi_code = "/usr/share/OVMF/OVMF_CODE_4M.fd",
                .efi_vars = "/usr/share/OVMF/OVMF_VARS_4M.fd",
                .efi_code_secure = "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd",
                .efi_vars_secure = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd",
                .nvram = "/var/lib/edgevirt/instances/UID/nvram.fd",
                .swtpm = true,
                .volumes = volumes,
                .hostdevs = hostdevs,
                .kernel = json_get_string(container, "kernelPath") ?
                          intern_printf("/var/lib/edgevirt/images/boot/%s/kernel", hex) : NULL,
                .initrd = json_get_string(container, "initrdPath") ?
                          intern_printf("/var/lib/edgevirt/images/boot/%s/initrd", hex) : NULL,
        };
        return domain_xml(spec, &h, error);
}

static void check_golden(const char *golden, const char *xml) {
        g_autofree char *want = NULL;

        if (g_getenv("EDGEVIRT_UPDATE_GOLDEN")) {
                g_assert_true(g_file_set_contents(golden, xml, -1, NULL));
                return;
        }
        if (!g_file_get_contents(golden, &want, NULL, NULL))
                g_error("%s is missing; run with EDGEVIRT_UPDATE_GOLDEN=1 to write it", golden);
        if (!streq(want, xml)) {
                g_printerr("%s differs; got:\n%s", golden, xml);
                g_test_fail();
        }
}

static void test_file(gconstpointer data) {
        const char *path = data;
        g_autofree char *text = NULL;
        g_autoptr(GPtrArray) docs = NULL;
        g_autoptr(GError) e = NULL;
        gsize len;

        g_assert_true(g_file_get_contents(path, &text, &len, NULL));
        g_assert_cmpint(manifest_parse(text, len, &docs, &e), ==, 0);
        for (guint i = 0; i < docs->len; i++) {
                JsonObject *doc = json_node_get_object(docs->pdata[i]);
                if (!vmi_spec_of(doc))
                        continue;
                g_autofree char *base = g_path_get_basename(path);
                *strrchr(base, '.') = 0;
                /* one KVM rendering shows the difference; the rest as this node runs them */
                bool kvm = streq(base, "vmi-fedora");
                g_autofree char *xml = render(doc, kvm, &e);
                g_autofree char *golden = g_strdup_printf(SRC_DIR "/domain/%s.xml", base);
                if (!xml) {
                        /* the expected refusal is golden too */
                        g_autofree char *msg = g_strdup_printf("error: %s\n", e->message);
                        check_golden(golden, msg);
                        g_clear_error(&e);
                        continue;
                }
                check_golden(golden, xml);
                if (kvm) {
                        g_autofree char *tcg = render(doc, false, &e);
                        g_autofree char *golden_tcg = g_strdup_printf(SRC_DIR "/domain/%s-tcg.xml", base);
                        g_assert_nonnull(tcg);
                        check_golden(golden_tcg, tcg);
                }
        }
}

/* The same input gives the same text: nothing depends on time or order
 * of a hash table. */
static void test_pure(void) {
        g_autofree char *text = NULL;
        g_autoptr(GPtrArray) docs = NULL;
        gsize len;

        g_assert_true(g_file_get_contents(SRC_DIR "/domain/features.yaml", &text, &len, NULL));
        g_assert_cmpint(manifest_parse(text, len, &docs, NULL), ==, 0);
        g_autofree char *a = render(json_node_get_object(docs->pdata[0]), false, NULL);
        g_autofree char *b = render(json_node_get_object(docs->pdata[0]), false, NULL);
        g_assert_nonnull(a);
        g_assert_cmpstr(a, ==, b);
}

/* The element AddVolume attaches: the spec's disk alone, on the target
 * chosen beside the running domain's disks. */
static void test_hotplug_disk(void) {
        g_autofree char *text = NULL;
        g_autoptr(GPtrArray) docs = NULL;
        g_autoptr(GError) e = NULL;
        gsize len;

        g_assert_true(g_file_get_contents(SRC_DIR "/domain/hotplug-scsi.yaml", &text, &len, NULL));
        g_assert_cmpint(manifest_parse(text, len, &docs, NULL), ==, 0);
        JsonObject *spec = vmi_spec_of(json_node_get_object(docs->pdata[0]));
        g_autoptr(GHashTable) volumes = fake_volumes(spec);
        g_autofree char *xml = domain_disk_xml(spec, volumes, "data", "sdc", &e);
        g_assert_no_error(e);
        check_golden(SRC_DIR "/domain/hotplug-scsi.disk", xml);
        g_assert_null(domain_disk_xml(spec, volumes, "nothing", "sdc", &e));
        g_assert_cmpstr(e->message, ==, "spec.domain.devices.disks: no disk named \"nothing\"");
}

static void add_dir(const char *dir, const char *prefix) {
        g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
        g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
        const char *n;

        g_assert_nonnull(d);
        while ((n = g_dir_read_name(d)))
                if (g_str_has_suffix(n, ".yaml"))
                        g_ptr_array_add(names, g_strdup(n));
        g_ptr_array_sort(names, (GCompareFunc) g_strcmp0);
        for (guint i = 0; i < names->len; i++) {
                const char *name = *(const char **) &names->pdata[i];
                g_autofree char *testpath = g_strdup_printf("/domain/%s/%s", prefix, name);
                g_test_add_data_func_full(testpath, g_build_filename(dir, name, NULL), test_file, g_free);
        }
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        add_dir(SRC_DIR "/compat/kubevirt-examples", "compat");
        add_dir(SRC_DIR "/domain", "specs");
        g_test_add_func("/domain/pure", test_pure);
        g_test_add_func("/domain/hotplug-disk", test_hotplug_disk);
        return g_test_run();
}
