/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>

#include "ev-manifest.h"

G_DEFINE_QUARK(ev-manifest-error-quark, ev_manifest_error)

static gboolean is_dns_label(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > 63 || !g_ascii_isalnum(s[0]) || !g_ascii_isalnum(s[n - 1]))
                return FALSE;
        for (const char *p = s; *p; p++)
                if (!(g_ascii_islower(*p) || g_ascii_isdigit(*p) || *p == '-'))
                        return FALSE;
        return TRUE;
}

/* A Kubernetes quantity as a person types one: digits, then a suffix. */
static gboolean is_quantity(const char *s) {
        static const char *const suffixes[] = { "", "Ki", "Mi", "Gi", "Ti", "k", "M", "G", "T" };
        const char *p = s;

        while (g_ascii_isdigit(*p))
                p++;
        if (p == s)
                return FALSE;
        for (size_t i = 0; i < G_N_ELEMENTS(suffixes); i++)
                if (g_str_equal(p, suffixes[i]))
                        return TRUE;
        return FALSE;
}

static gboolean is_ssh_key(const char *s) {
        static const char *const types[] = { "ssh-ed25519 ", "ssh-rsa ", "ecdsa-sha2-", "sk-ssh-ed25519@",
                                             "sk-ecdsa-sha2-", "ssh-dss " };

        for (size_t i = 0; i < G_N_ELEMENTS(types); i++)
                if (g_str_has_prefix(s, types[i]))
                        return strchr(s, '\n') == NULL || strchr(s, '\n')[1] == '\0';
        return FALSE;
}

static gboolean fail(GError **error, EvField field, const char *message) {
        g_set_error_literal(error, EV_MANIFEST_ERROR, field, message);
        return FALSE;
}

static gboolean check(const EvVmSpec *s, GError **error) {
        if (!s->name || !*s->name)
                return fail(error, EV_FIELD_NAME, _("A name is required"));
        if (!is_dns_label(s->name))
                return fail(error, EV_FIELD_NAME, _("Lower-case letters, digits and “-”, at most 63, starting and "
                                                    "ending with a letter or digit"));
        if (!s->ns || !*s->ns)
                return fail(error, EV_FIELD_NAMESPACE, _("Choose a project"));
        if (s->source == EV_DISK_URL && (!s->url || !(g_str_has_prefix(s->url, "http://") ||
                                                       g_str_has_prefix(s->url, "https://")) ||
                                         strlen(s->url) < strlen("http://x")))
                return fail(error, EV_FIELD_URL, _("An http:// or https:// address of a disk image"));
        if (s->source == EV_DISK_UPLOAD && (!s->file || !*s->file))
                return fail(error, EV_FIELD_FILE, _("Choose an image file"));
        if (s->source == EV_DISK_UPLOAD && !g_file_test(s->file, G_FILE_TEST_IS_REGULAR))
                return fail(error, EV_FIELD_FILE, _("No such file"));
        if (s->source == EV_DISK_CONTAINER && (!s->image || !*s->image || strchr(s->image, ' ')))
                return fail(error, EV_FIELD_IMAGE, _("A registry reference, such as quay.io/containerdisks/"
                                                     "debian:12"));
        if (s->source != EV_DISK_CONTAINER && (!s->disk_size || !is_quantity(s->disk_size)))
                return fail(error, EV_FIELD_DISK_SIZE, _("A size such as 10Gi or 512Mi"));
        if (!(s->instancetype && *s->instancetype)) {
                if (s->cpus < 1 || s->cpus > 512)
                        return fail(error, EV_FIELD_CPUS, _("From 1 to 512"));
                if (!s->memory || !is_quantity(s->memory))
                        return fail(error, EV_FIELD_MEMORY, _("A size such as 2Gi or 512Mi"));
        }
        if (s->ssh_key && *s->ssh_key && !is_ssh_key(s->ssh_key))
                return fail(error, EV_FIELD_SSH_KEY, _("One public key, as in ~/.ssh/id_ed25519.pub: "
                                                       "“ssh-ed25519 AAAA… comment”"));
        if (s->user_data && *s->user_data && !g_str_has_prefix(s->user_data, "#cloud-config") &&
            !g_str_has_prefix(s->user_data, "#!"))
                return fail(error, EV_FIELD_USER_DATA, _("Cloud-init user data starts with “#cloud-config” or "
                                                         "“#!” (a script)"));
        return TRUE;
}

char *ev_manifest_disk_name(const char *vm) {
        return g_strdup_printf("%s-disk", vm);
}

static char *secret_name(const char *vm) {
        return g_strdup_printf("%s-ssh-key", vm);
}

/* Open the objects of a dotted path ("spec.source.http") as members; the
 * number opened, for close(). */
static int open_path(JsonBuilder *b, const char *path) {
        g_auto(GStrv) parts = g_strsplit(path, ".", -1);
        int n = 0;

        for (char **p = parts; *p; p++, n++) {
                json_builder_set_member_name(b, *p);
                json_builder_begin_object(b);
        }
        return n;
}

static void close_objects(JsonBuilder *b, int n) {
        while (n-- > 0)
                json_builder_end_object(b);
}

/* "a.b.c" = value: the objects a and b around member c */
static void member_string(JsonBuilder *b, const char *path, const char *value) {
        const char *dot = strrchr(path, '.');
        g_autofree char *outer = dot ? g_strndup(path, dot - path) : NULL;
        int n = outer ? open_path(b, outer) : 0;

        json_builder_set_member_name(b, dot ? dot + 1 : path);
        json_builder_add_string_value(b, value);
        close_objects(b, n);
}

static void member_int(JsonBuilder *b, const char *name, gint64 value) {
        json_builder_set_member_name(b, name);
        json_builder_add_int_value(b, value);
}

/* the start of a document: apiVersion, kind, metadata */
static void begin_document(JsonBuilder *b, const char *api_version, const char *kind, const char *name,
                           const char *ns) {
        json_builder_begin_object(b);
        member_string(b, "apiVersion", api_version);
        member_string(b, "kind", kind);
        open_path(b, "metadata");
        member_string(b, "name", name);
        member_string(b, "namespace", ns);
        close_objects(b, 1);
}

static void add_secret(JsonBuilder *b, const EvVmSpec *s) {
        g_autofree char *name = secret_name(s->name), *key = g_strstrip(g_strdup(s->ssh_key));

        begin_document(b, "v1", "Secret", name, s->ns);
        member_string(b, "stringData.key1", key);
        json_builder_end_object(b);
}

static void add_disk_template(JsonBuilder *b, const EvVmSpec *s) {
        g_autofree char *dv = ev_manifest_disk_name(s->name);
        int n;

        json_builder_set_member_name(b, "dataVolumeTemplates");
        json_builder_begin_array(b);
        json_builder_begin_object(b);
        member_string(b, "metadata.name", dv);
        n = open_path(b, "spec");
        if (s->source == EV_DISK_URL)
                member_string(b, "source.http.url", s->url);
        else
                close_objects(b, open_path(b, "source.upload"));
        member_string(b, "storage.resources.requests.storage", s->disk_size);
        close_objects(b, n);
        json_builder_end_object(b);
        json_builder_end_array(b);
}

/* one entry of devices.disks: the volume on virtio (a cloud kernel sees
 * no SATA, docs/vms.md) */
static void add_disk(JsonBuilder *b, const char *name, gboolean boot) {
        json_builder_begin_object(b);
        member_string(b, "name", name);
        if (boot)
                member_int(b, "bootOrder", 1);
        member_string(b, "disk.bus", "virtio");
        json_builder_end_object(b);
}

static void add_domain(JsonBuilder *b, const EvVmSpec *s, gboolean cloud_init) {
        int n = open_path(b, "domain");

        if (!(s->instancetype && *s->instancetype)) {
                open_path(b, "cpu");
                member_int(b, "cores", s->cpus);
                close_objects(b, 1);
                member_string(b, "memory.guest", s->memory);
        }
        open_path(b, "devices");
        json_builder_set_member_name(b, "disks");
        json_builder_begin_array(b);
        add_disk(b, "root", TRUE);
        if (cloud_init)
                add_disk(b, "cloudinit", FALSE);
        json_builder_end_array(b);
        close_objects(b, n + 1);
}

static void add_volumes(JsonBuilder *b, const EvVmSpec *s, gboolean cloud_init) {
        g_autofree char *dv = ev_manifest_disk_name(s->name);

        json_builder_set_member_name(b, "volumes");
        json_builder_begin_array(b);
        json_builder_begin_object(b);
        member_string(b, "name", "root");
        if (s->source == EV_DISK_CONTAINER)
                member_string(b, "containerDisk.image", s->image);
        else
                member_string(b, "dataVolume.name", dv);
        json_builder_end_object(b);
        if (cloud_init) {
                json_builder_begin_object(b);
                member_string(b, "name", "cloudinit");
                member_string(b, "cloudInitNoCloud.userData",
                              s->user_data && *s->user_data ? s->user_data : "#cloud-config\n");
                json_builder_end_object(b);
        }
        json_builder_end_array(b);
}

/* the key's Secret, put in the seed's meta-data by the daemon (noCloud) */
static void add_access(JsonBuilder *b, const EvVmSpec *s) {
        g_autofree char *secret = secret_name(s->name);
        int n;

        json_builder_set_member_name(b, "accessCredentials");
        json_builder_begin_array(b);
        json_builder_begin_object(b);
        n = open_path(b, "sshPublicKey");
        member_string(b, "source.secret.secretName", secret);
        close_objects(b, open_path(b, "propagationMethod.noCloud"));
        close_objects(b, n);
        json_builder_end_object(b);
        json_builder_end_array(b);
}

static void add_vm(JsonBuilder *b, const EvVmSpec *s) {
        gboolean key = s->ssh_key && *s->ssh_key, cloud_init = key || (s->user_data && *s->user_data);
        int n;

        begin_document(b, "kubevirt.io/v1", "VirtualMachine", s->name, s->ns);
        n = open_path(b, "spec");
        member_string(b, "runStrategy", s->start ? "Always" : "Halted");
        if (s->instancetype && *s->instancetype) {
                open_path(b, "instancetype");
                member_string(b, "kind", s->cluster_instancetype ? "VirtualMachineClusterInstancetype"
                                                                 : "VirtualMachineInstancetype");
                member_string(b, "name", s->instancetype);
                close_objects(b, 1);
        }
        if (s->source != EV_DISK_CONTAINER)
                add_disk_template(b, s);
        n += open_path(b, "template.spec");
        add_domain(b, s, cloud_init);
        if (key)
                add_access(b, s);
        add_volumes(b, s, cloud_init);
        close_objects(b, n);
        json_builder_end_object(b);
}

char *ev_manifest_build(const EvVmSpec *s, GError **error) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        g_autoptr(JsonNode) root = NULL;
        gboolean key = s->ssh_key && *s->ssh_key;

        if (!check(s, error))
                return NULL;
        if (key) {
                json_builder_begin_object(b);
                member_string(b, "apiVersion", "v1");
                member_string(b, "kind", "List");
                json_builder_set_member_name(b, "items");
                json_builder_begin_array(b);
                add_secret(b, s);
                add_vm(b, s);
                json_builder_end_array(b);
                json_builder_end_object(b);
        } else {
                add_vm(b, s);
        }
        root = json_builder_get_root(b);
        return json_to_string(root, TRUE);
}

/* source (snapshot) or target (restore): the VM, a member of the open spec */
static void add_vm_ref(JsonBuilder *b, const char *member, const char *vm) {
        int n = open_path(b, member);

        member_string(b, "apiGroup", "kubevirt.io");
        member_string(b, "kind", "VirtualMachine");
        member_string(b, "name", vm);
        close_objects(b, n);
}

char *ev_manifest_snapshot(const char *ns, const char *name, const char *vm) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        g_autoptr(JsonNode) root = NULL;

        begin_document(b, "snapshot.kubevirt.io/v1beta1", "VirtualMachineSnapshot", name, ns);
        open_path(b, "spec");
        add_vm_ref(b, "source", vm);
        close_objects(b, 2);
        root = json_builder_get_root(b);
        return json_to_string(root, TRUE);
}

char *ev_manifest_restore(const char *ns, const char *name, const char *vm, const char *snapshot) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        g_autoptr(JsonNode) root = NULL;

        begin_document(b, "snapshot.kubevirt.io/v1beta1", "VirtualMachineRestore", name, ns);
        open_path(b, "spec");
        add_vm_ref(b, "target", vm);
        member_string(b, "virtualMachineSnapshotName", snapshot);
        close_objects(b, 2);
        root = json_builder_get_root(b);
        return json_to_string(root, TRUE);
}

EvField ev_manifest_field_of(const char *message, const char **rest) {
        static const struct { const char *prefix; EvField field; } map[] = {
                { "metadata.name", EV_FIELD_NAME },
                { "metadata.namespace", EV_FIELD_NAMESPACE },
                { "spec.dataVolumeTemplates[0].spec.source", EV_FIELD_URL },
                { "spec.dataVolumeTemplates[0].spec.storage", EV_FIELD_DISK_SIZE },
                { "spec.dataVolumeTemplates[0].metadata.name", EV_FIELD_NAME },
                { "spec.instancetype", EV_FIELD_INSTANCETYPE },
                { "spec.template.spec.domain.cpu", EV_FIELD_CPUS },
                { "spec.template.spec.domain.memory", EV_FIELD_MEMORY },
                { "spec.template.spec.domain.resources", EV_FIELD_MEMORY },
                { "spec.template.spec.volumes[0].containerDisk", EV_FIELD_IMAGE },
                { "spec.template.spec.volumes[1].cloudInitNoCloud", EV_FIELD_USER_DATA },
                { "spec.template.spec.accessCredentials", EV_FIELD_SSH_KEY },
                { "stringData", EV_FIELD_SSH_KEY },
        };
        const char *best = NULL;
        EvField field = EV_FIELD_NONE;

        /* the path follows what names the object: "document 2 (VirtualMachine
         * ns/name): ", "VirtualMachine ns/name: "; the earliest path wins */
        for (size_t i = 0; i < G_N_ELEMENTS(map); i++)
                for (const char *p = strstr(message, map[i].prefix); p; p = strstr(p + 1, map[i].prefix))
                        if ((p == message || (p >= message + 2 && g_str_has_prefix(p - 2, ": "))) &&
                            (!best || p < best)) {
                                best = p;
                                field = map[i].field;
                                break;
                        }
        if (rest)
                *rest = best ? best : message;
        return field;
}
