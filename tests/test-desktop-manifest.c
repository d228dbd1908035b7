/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The create dialog's documents (desktop/ev-manifest.c): what each form
 * makes, what it refuses and which field a daemon's message names. */
#include <glib.h>
#include <json-glib/json-glib.h>

#include "ev-manifest.h"

static JsonObject *parse(const char *text, JsonParser *p) {
        g_assert_true(json_parser_load_from_data(p, text, -1, NULL));
        return json_node_get_object(json_parser_get_root(p));
}

static const char *at(JsonObject *o, const char *path) {
        g_autoptr(JsonNode) root = json_node_new(JSON_NODE_OBJECT);
        g_autoptr(JsonNode) hit = NULL;
        JsonArray *a;

        json_node_set_object(root, o);
        hit = json_path_query(path, root, NULL);
        a = json_node_get_array(hit);
        return json_array_get_length(a) ? json_array_get_string_element(a, 0) : NULL;
}

/* how many nodes match (json-glib's paths must not index past an end) */
static guint count(JsonObject *o, const char *path) {
        g_autoptr(JsonNode) root = json_node_new(JSON_NODE_OBJECT);
        g_autoptr(JsonNode) hit = NULL;

        json_node_set_object(root, o);
        hit = json_path_query(path, root, NULL);
        return json_array_get_length(json_node_get_array(hit));
}

static EvVmSpec base(void) {
        return (EvVmSpec) { .name = "web", .ns = "team", .source = EV_DISK_URL, .url = "http://example.org/d.qcow2",
                            .disk_size = "4Gi", .cpus = 2, .memory = "1Gi", .start = TRUE };
}

static void test_url_disk(void) {
        EvVmSpec s = base();
        g_autoptr(GError) e = NULL;
        g_autofree char *doc = ev_manifest_build(&s, &e);
        g_autoptr(JsonParser) p = json_parser_new();
        JsonObject *o;

        g_assert_no_error(e);
        o = parse(doc, p);
        g_assert_cmpstr(at(o, "$.kind"), ==, "VirtualMachine");
        g_assert_cmpstr(at(o, "$.metadata.namespace"), ==, "team");
        g_assert_cmpstr(at(o, "$.spec.runStrategy"), ==, "Always");
        g_assert_cmpstr(at(o, "$.spec.dataVolumeTemplates[0].metadata.name"), ==, "web-disk");
        g_assert_cmpstr(at(o, "$.spec.dataVolumeTemplates[0].spec.source.http.url"), ==, s.url);
        g_assert_cmpstr(at(o, "$.spec.dataVolumeTemplates[0].spec.storage.resources.requests.storage"), ==, "4Gi");
        g_assert_cmpstr(at(o, "$.spec.template.spec.volumes[0].dataVolume.name"), ==, "web-disk");
        g_assert_cmpstr(at(o, "$.spec.template.spec.domain.memory.guest"), ==, "1Gi");
        g_assert_cmpuint(count(o, "$.spec.template.spec.domain.cpu.cores"), ==, 1);
        g_assert_cmpstr(at(o, "$.spec.template.spec.domain.devices.disks[0].disk.bus"), ==, "virtio");
        g_assert_cmpuint(count(o, "$.spec.template.spec.volumes[*].name"), ==, 1);   /* no cloud-init asked for */
}

static void test_upload_key_and_user_data(void) {
        EvVmSpec s = base();
        g_autoptr(GError) e = NULL;
        g_autofree char *doc = NULL;
        g_autoptr(JsonParser) p = json_parser_new();
        JsonObject *o;

        s.source = EV_DISK_UPLOAD;
        s.file = "/etc/hostname";
        s.ssh_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB me@host\n";
        s.user_data = "#cloud-config\nruncmd: [[touch, /x]]\n";
        s.start = FALSE;
        doc = ev_manifest_build(&s, &e);
        g_assert_no_error(e);
        o = parse(doc, p);
        g_assert_cmpstr(at(o, "$.kind"), ==, "List");
        g_assert_cmpstr(at(o, "$.items[0].kind"), ==, "Secret");
        g_assert_cmpstr(at(o, "$.items[0].metadata.name"), ==, "web-ssh-key");
        g_assert_cmpstr(at(o, "$.items[0].stringData.key1"), ==, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB me@host");
        g_assert_cmpstr(at(o, "$.items[1].spec.runStrategy"), ==, "Halted");
        g_assert_nonnull(at(o, "$.items[1].spec.dataVolumeTemplates[0].metadata.name"));
        g_assert_cmpstr(at(o, "$.items[1].spec.template.spec.accessCredentials[0].sshPublicKey.source.secret"
                              ".secretName"), ==, "web-ssh-key");
        g_assert_cmpstr(at(o, "$.items[1].spec.template.spec.volumes[1].cloudInitNoCloud.userData"), ==,
                        s.user_data);
}

static void test_container_and_instancetype(void) {
        EvVmSpec s = base();
        g_autoptr(GError) e = NULL;
        g_autofree char *doc = NULL;
        g_autoptr(JsonParser) p = json_parser_new();
        JsonObject *o;

        s.source = EV_DISK_CONTAINER;
        s.image = "quay.io/containerdisks/debian:12";
        s.instancetype = "u1.small";
        s.cluster_instancetype = TRUE;
        s.memory = "";
        doc = ev_manifest_build(&s, &e);
        g_assert_no_error(e);
        o = parse(doc, p);
        g_assert_cmpuint(count(o, "$.spec.dataVolumeTemplates"), ==, 0);
        g_assert_cmpstr(at(o, "$.spec.template.spec.volumes[0].containerDisk.image"), ==, s.image);
        g_assert_cmpstr(at(o, "$.spec.instancetype.kind"), ==, "VirtualMachineClusterInstancetype");
        g_assert_cmpstr(at(o, "$.spec.instancetype.name"), ==, "u1.small");
        g_assert_cmpuint(count(o, "$.spec.template.spec.domain.cpu"), ==, 0);   /* the type says */
        g_assert_null(at(o, "$.spec.template.spec.domain.memory.guest"));
}

static void expect_refused(EvVmSpec s, EvField field) {
        g_autoptr(GError) e = NULL;
        g_autofree char *doc = ev_manifest_build(&s, &e);

        g_assert_null(doc);
        g_assert_error(e, EV_MANIFEST_ERROR, (int) field);
        g_assert_cmpstr(e->message, !=, "");
}

static void test_refusals(void) {
        EvVmSpec s;

        s = base(), s.name = "";
        expect_refused(s, EV_FIELD_NAME);
        s = base(), s.name = "Web_1";
        expect_refused(s, EV_FIELD_NAME);
        s = base(), s.url = "ftp://example.org/d.img";
        expect_refused(s, EV_FIELD_URL);
        s = base(), s.source = EV_DISK_UPLOAD, s.file = "/no/such/file";
        expect_refused(s, EV_FIELD_FILE);
        s = base(), s.source = EV_DISK_CONTAINER, s.image = "";
        expect_refused(s, EV_FIELD_IMAGE);
        s = base(), s.disk_size = "lots";
        expect_refused(s, EV_FIELD_DISK_SIZE);
        s = base(), s.cpus = 0;
        expect_refused(s, EV_FIELD_CPUS);
        s = base(), s.memory = "1 GB";
        expect_refused(s, EV_FIELD_MEMORY);
        s = base(), s.ssh_key = "not a key";
        expect_refused(s, EV_FIELD_SSH_KEY);
        s = base(), s.user_data = "runcmd: []";
        expect_refused(s, EV_FIELD_USER_DATA);
}

static void test_field_of(void) {
        const char *rest;

        g_assert_cmpint(ev_manifest_field_of("document 2 (VirtualMachine team/web): spec.template.spec.domain.memory"
                                             ".guest: quantities must match", &rest), ==, EV_FIELD_MEMORY);
        g_assert_cmpstr(rest, ==, "spec.template.spec.domain.memory.guest: quantities must match");
        g_assert_cmpint(ev_manifest_field_of("metadata.name: a lowercase RFC 1123 label", NULL), ==, EV_FIELD_NAME);
        g_assert_cmpint(ev_manifest_field_of("VirtualMachine team/web: spec.template.spec.domain.memory.guest: "
                                             "Invalid value: \"0\"", &rest), ==, EV_FIELD_MEMORY);
        g_assert_cmpstr(rest, ==, "spec.template.spec.domain.memory.guest: Invalid value: \"0\"");
        g_assert_cmpint(ev_manifest_field_of("spec.dataVolumeTemplates[0].spec.source.http.url: bad", NULL), ==,
                        EV_FIELD_URL);
        /* a path one character in: no byte before the message is looked at
         * (the sanitizer lane reads this from a heap copy of its own size) */
        g_autofree char *one_in = g_strdup("xmetadata.name: taken");
        g_assert_cmpint(ev_manifest_field_of(one_in, NULL), ==, EV_FIELD_NONE);
        g_assert_cmpint(ev_manifest_field_of("not authorized", &rest), ==, EV_FIELD_NONE);
        g_assert_cmpstr(rest, ==, "not authorized");
}

static void test_snapshot_and_restore(void) {
        g_autoptr(JsonParser) p = json_parser_new(), q = json_parser_new();
        g_autofree char *snap = ev_manifest_snapshot("team", "web-1", "web");
        g_autofree char *restore = ev_manifest_restore("team", "web-1-restore", "web", "web-1");
        JsonObject *o = parse(snap, p), *r = parse(restore, q);

        g_assert_cmpstr(at(o, "$.kind"), ==, "VirtualMachineSnapshot");
        g_assert_cmpstr(at(o, "$.apiVersion"), ==, "snapshot.kubevirt.io/v1beta1");
        g_assert_cmpstr(at(o, "$.metadata.namespace"), ==, "team");
        g_assert_cmpstr(at(o, "$.metadata.name"), ==, "web-1");
        g_assert_cmpstr(at(o, "$.spec.source.kind"), ==, "VirtualMachine");
        g_assert_cmpstr(at(o, "$.spec.source.apiGroup"), ==, "kubevirt.io");
        g_assert_cmpstr(at(o, "$.spec.source.name"), ==, "web");
        g_assert_cmpstr(at(r, "$.kind"), ==, "VirtualMachineRestore");
        g_assert_cmpstr(at(r, "$.spec.target.name"), ==, "web");
        g_assert_cmpstr(at(r, "$.spec.virtualMachineSnapshotName"), ==, "web-1");
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/desktop-manifest/url-disk", test_url_disk);
        g_test_add_func("/desktop-manifest/upload-key-user-data", test_upload_key_and_user_data);
        g_test_add_func("/desktop-manifest/container-instancetype", test_container_and_instancetype);
        g_test_add_func("/desktop-manifest/refusals", test_refusals);
        g_test_add_func("/desktop-manifest/field-of", test_field_of);
        g_test_add_func("/desktop-manifest/snapshot-restore", test_snapshot_and_restore);
        return g_test_run();
}
