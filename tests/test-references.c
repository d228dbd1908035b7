/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What objects make the daemon read on their writer's behalf
 * (references.h): every field, each kind.  Documents are given as
 * admitted trees, so fields the schema refuses today (Secret and
 * ConfigMap volumes, sysprep) are listed too: when they are supported,
 * their references are already checked. */
#include "clone.h"
#include "manifest.h"
#include "references.h"
#include "snapshot.h"
#include "util.h"

static int compare(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* "field action kind namespace/name" of each reference, sorted. */
static char *collect(const KindInfo *kind, const char *text) {
        g_autoptr(GPtrArray) docs = NULL, refs = g_ptr_array_new_with_free_func((GDestroyNotify) object_reference_free);
        g_autoptr(GError) e = NULL;
        g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);

        g_assert_cmpint(manifest_parse(text, strlen(text), &docs, &e), ==, 0);
        references_collect(kind, json_node_get_object(docs->pdata[0]), "team", refs);
        for (guint i = 0; i < refs->len; i++) {
                ObjectReference *r = refs->pdata[i];
                g_ptr_array_add(lines, g_strdup_printf("%s %s %s %s/%s", r->field, r->action, r->kind, r->namespace,
                                                       r->name ?: "*"));
        }
        g_ptr_array_sort(lines, compare);
        g_ptr_array_add(lines, NULL);
        return g_strjoinv("\n", (char **) lines->pdata);
}

static void test_claims(void) {
        g_autofree char *pvc = collect(&kind_pvc,
                "metadata:\n  annotations:\n    cdi.kubevirt.io/storage.import.secretName: creds\n"
                "    cdi.kubevirt.io/storage.import.certConfigMap: ca\n"
                "spec: {dataSourceRef: {kind: PersistentVolumeClaim, name: src, namespace: other}}\n");
        g_assert_cmpstr(pvc, ==,
                "metadata.annotations[cdi.kubevirt.io/storage.import.certConfigMap] object.read ConfigMap team/ca\n"
                "metadata.annotations[cdi.kubevirt.io/storage.import.secretName] secret.read Secret team/creds\n"
                "spec.dataSourceRef object.apply PersistentVolumeClaim other/src");
        /* its own namespace: writing there is reading there */
        g_autofree char *same = collect(&kind_pvc,
                                        "spec: {dataSourceRef: {kind: PersistentVolumeClaim, name: src, namespace: "
                                        "team}}\n");
        g_assert_cmpstr(same, ==, "");
}

static void test_datavolumes(void) {
        g_autofree char *clone = collect(&kind_datavolume,
                "spec:\n  source: {pvc: {namespace: other, name: a}}\n"
                "  pvc: {dataSourceRef: {kind: PersistentVolumeClaim, name: b, namespace: third}}\n"
                "  storage: {dataSourceRef: {kind: PersistentVolumeClaim, name: c, namespace: other}}\n");
        g_assert_cmpstr(clone, ==,
                "spec.pvc.dataSourceRef object.apply PersistentVolumeClaim third/b\n"
                "spec.source.pvc object.apply PersistentVolumeClaim other/a\n"
                "spec.storage.dataSourceRef object.apply PersistentVolumeClaim other/c");
        g_autofree char *snap = collect(&kind_datavolume, "spec: {source: {snapshot: {namespace: other, name: s}}}\n");
        g_assert_cmpstr(snap, ==, "spec.source.snapshot object.apply PersistentVolumeClaim other/s");
        g_autofree char *ref = collect(&kind_datavolume,
                                       "spec: {sourceRef: {kind: DataSource, namespace: golden, name: fedora}}\n");
        g_assert_cmpstr(ref, ==, "spec.sourceRef object.apply DataSource golden/fedora");
        g_autofree char *same_ref = collect(&kind_datavolume, "spec: {sourceRef: {kind: DataSource, name: fedora}}\n");
        g_assert_cmpstr(same_ref, ==, "");
        g_autofree char *ds = collect(&kind_datasource, "spec: {source: {pvc: {namespace: other, name: a}}}\n");
        g_assert_cmpstr(ds, ==, "spec.source.pvc object.apply PersistentVolumeClaim other/a");
        g_autofree char *cron = collect(&kind_dataimportcron,
                "spec: {template: {spec: {source: {registry: {url: 'docker://x/y', secretRef: pull, "
                "certConfigMap: ca}}}}}\n");
        g_assert_cmpstr(cron, ==,
                "spec.template.spec.source.registry.certConfigMap object.read ConfigMap team/ca\n"
                "spec.template.spec.source.registry.secretRef secret.read Secret team/pull");
        g_autofree char *http = collect(&kind_datavolume,
                "spec: {source: {http: {url: 'http://x', secretRef: creds, certConfigMap: ca, secretExtraHeaders: [h1, "
                "h2]}}}\n");
        g_assert_cmpstr(http, ==,
                "spec.source.http.certConfigMap object.read ConfigMap team/ca\n"
                "spec.source.http.secretExtraHeaders[0] secret.read Secret team/h1\n"
                "spec.source.http.secretExtraHeaders[1] secret.read Secret team/h2\n"
                "spec.source.http.secretRef secret.read Secret team/creds");
        g_autofree char *registry = collect(&kind_datavolume,
                "spec: {source: {registry: {url: 'docker://x/y', secretRef: pull, certConfigMap: ca}}}\n");
        g_assert_cmpstr(registry, ==,
                "spec.source.registry.certConfigMap object.read ConfigMap team/ca\n"
                "spec.source.registry.secretRef secret.read Secret team/pull");
}

static const char INSTANCE[] =
        "  volumes:\n"
        "  - {name: a, cloudInitNoCloud: {secretRef: {name: ud}, networkDataSecretRef: {name: nd}}}\n"
        "  - {name: b, cloudInitConfigDrive: {secretRef: {name: ud2}}}\n"
        "  - {name: c, containerDisk: {image: x, imagePullSecret: pull}}\n"
        "  - {name: d, secret: {secretName: vol}}\n"
        "  - {name: e, configMap: {name: cmvol}}\n"
        "  - {name: f, sysprep: {secret: {name: sp}}}\n"
        "  - {name: g, sysprep: {configMap: {name: spcm}}}\n"
        "  accessCredentials:\n"
        "  - sshPublicKey: {source: {secret: {secretName: keys}}}\n"
        "  - userPassword: {source: {secret: {secretName: pw}}}\n";

static void test_instances(void) {
        g_autofree char *text = g_strconcat("spec:\n", INSTANCE, NULL);
        g_autofree char *vmi = collect(&kind_vmi, text);
        g_assert_cmpstr(vmi, ==,
                "spec.accessCredentials[0].sshPublicKey.source.secret.secretName secret.read Secret team/keys\n"
                "spec.accessCredentials[1].userPassword.source.secret.secretName secret.read Secret team/pw\n"
                "spec.volumes[0].cloudInitNoCloud.networkDataSecretRef.name secret.read Secret team/nd\n"
                "spec.volumes[0].cloudInitNoCloud.secretRef.name secret.read Secret team/ud\n"
                "spec.volumes[1].cloudInitConfigDrive.secretRef.name secret.read Secret team/ud2\n"
                "spec.volumes[2].containerDisk.imagePullSecret secret.read Secret team/pull\n"
                "spec.volumes[3].secret.secretName secret.read Secret team/vol\n"
                "spec.volumes[4].configMap.name object.read ConfigMap team/cmvol\n"
                "spec.volumes[5].sysprep.secret.name secret.read Secret team/sp\n"
                "spec.volumes[6].sysprep.configMap.name object.read ConfigMap team/spcm");

        g_autofree char *vm_text = g_strconcat(
                "spec:\n  dataVolumeTemplates:\n  - {metadata: {name: d}, spec: {source: {pvc: {namespace: other, "
                "name: a}}}}\n"
                "  - {metadata: {name: e}, spec: {source: {http: {url: 'http://x', secretRef: creds}}}}\n"
                "  template:\n    spec:\n", NULL);
        g_auto(GStrv) lines = g_strsplit(INSTANCE, "\n", 0);
        g_autofree char *indented = g_strjoinv("\n    ", lines);
        g_autofree char *full = g_strconcat(vm_text, "    ", indented, NULL);
        g_autofree char *vm = collect(&kind_vm, full);
        g_assert_true(strstr(vm, "spec.dataVolumeTemplates[0].spec.source.pvc "
                                 "object.apply PersistentVolumeClaim other/a\n"));
        g_assert_true(strstr(vm, "spec.dataVolumeTemplates[1].spec.source.http.secretRef "
                                 "secret.read Secret team/creds\n"));
        g_assert_true(strstr(vm, "spec.template.spec.volumes[2].containerDisk.imagePullSecret "
                                 "secret.read Secret team/pull\n"));
        g_assert_true(strstr(vm, "spec.template.spec.accessCredentials[1].userPassword.source.secret.secretName "
                                 "secret.read"));
}

static void test_patches(void) {
        g_autofree char *restore = collect(&kind_vmrestore,
                "spec:\n  patches:\n"
                "  - '{\"op\": \"add\", \"path\": \"/spec/dataVolumeTemplates/-\", \"value\": {\"spec\": {\"source\": "
                "{\"pvc\": {\"namespace\": \"other\", \"name\": \"a\"}}}}}'\n"
                "  - '{\"op\": \"replace\", \"path\": \"/spec/dataVolumeTemplates/0/spec/source/pvc/namespace\", "
                "\"value\": \"third\"}'\n"
                "  - '{\"op\": \"add\", \"path\": \"/spec/template/spec/volumes/-\", \"value\": {\"name\": \"ci\", "
                "\"cloudInitNoCloud\": {\"secretRef\": {\"name\": \"ud\"}}}}'\n"
                "  - '{\"op\": \"replace\", \"path\": \"/metadata/labels/namespace\", \"value\": \"team\"}'\n");
        g_assert_cmpstr(restore, ==,
                "spec.patches[0] object.apply PersistentVolumeClaim other/a\n"
                "spec.patches[1] object.apply PersistentVolumeClaim third/*\n"
                "spec.patches[2] secret.read Secret team/ud");
        g_autofree char *headers = collect(&kind_vmrestore,
                "spec:\n  patches:\n"
                "  - '{\"op\": \"add\", \"path\": \"/spec/dataVolumeTemplates\", \"value\": [{\"spec\": {\"source\": "
                "{\"http\": {\"url\": \"http://x\", \"secretExtraHeaders\": [\"h1\", \"h2\"]}}}}]}'\n");
        g_assert_cmpstr(headers, ==,
                "spec.patches[0] secret.read Secret team/h1\n"
                "spec.patches[0] secret.read Secret team/h2");
        g_autofree char *clone = collect(&kind_vmclone,
                "spec: {patches: ['{\"op\": \"add\", \"path\": \"/spec/x\", \"value\": {\"imagePullSecret\": "
                "\"pull\"}}']}\n");
        g_assert_cmpstr(clone, ==, "spec.patches[0] secret.read Secret team/pull");
        /* config disks in a patch's value, and names put by path alone */
        g_autofree char *config = collect(&kind_vmrestore,
                "spec:\n  patches:\n"
                "  - '{\"op\": \"add\", \"path\": \"/spec/template/spec/volumes/-\", \"value\": {\"name\": \"s\", "
                "\"sysprep\": {\"secret\": {\"name\": \"unattend\"}}}}'\n"
                "  - '{\"op\": \"add\", \"path\": \"/spec/template/spec/volumes/-\", \"value\": {\"name\": \"c\", "
                "\"configMap\": {\"name\": \"app\"}}}'\n"
                "  - '{\"op\": \"replace\", \"path\": \"/spec/template/spec/volumes/0/secret/secretName\", "
                "\"value\": \"creds\"}'\n"
                "  - '{\"op\": \"replace\", \"path\": \"/spec/template/spec/volumes/1/cloudInitNoCloud/secretRef/name\", "
                "\"value\": \"ud\"}'\n"
                "  - '{\"op\": \"replace\", \"path\": \"/spec/template/spec/volumes/2/sysprep/configMap/name\", "
                "\"value\": \"win\"}'\n"
                "  - '{\"op\": \"add\", \"path\": \"/spec/dataVolumeTemplates/0/spec/source/http/secretExtraHeaders/-\", "
                "\"value\": \"h3\"}'\n"
                "  - '{\"op\": \"replace\", \"path\": \"/metadata/labels/name\", \"value\": \"not-a-secret\"}'\n");
        g_assert_cmpstr(config, ==,
                "spec.patches[0] secret.read Secret team/unattend\n"
                "spec.patches[1] object.read ConfigMap team/app\n"
                "spec.patches[2] secret.read Secret team/creds\n"
                "spec.patches[3] secret.read Secret team/ud\n"
                "spec.patches[4] object.read ConfigMap team/win\n"
                "spec.patches[5] secret.read Secret team/h3");
        /* a patch that gives the VM a host device needs vm.hostdevice */
        g_autofree char *dev = collect(&kind_vmclone,
                "spec: {patches: ['{\"op\": \"add\", \"path\": \"/spec/template/spec/domain/devices/gpus\", "
                "\"value\": [{\"name\": \"g\", \"deviceName\": \"nvidia.com/T4\"}]}']}\n");
        g_assert_cmpstr(dev, ==, "spec.patches[0] vm.hostdevice HostDevice team/nvidia.com/T4");
}

/* A VM's host devices (vm.hostdevice) and its kernel boot image's pull secret. */
static void test_host_devices_and_kernel_boot(void) {
        g_autofree char *vm = collect(&kind_vm,
                "spec:\n  template:\n    spec:\n      domain:\n"
                "        firmware: {kernelBoot: {container: {image: x, kernelPath: /k, imagePullSecret: kpull}}}\n"
                "        devices:\n"
                "          hostDevices: [{name: a, deviceName: kubevirt.io/usb-storage}]\n"
                "          gpus: [{name: g, deviceName: nvidia.com/T4}]\n");
        g_assert_cmpstr(vm, ==,
                "spec.template.spec.domain.devices.gpus[0].deviceName vm.hostdevice HostDevice team/nvidia.com/T4\n"
                "spec.template.spec.domain.devices.hostDevices[0].deviceName vm.hostdevice HostDevice "
                "team/kubevirt.io/usb-storage\n"
                "spec.template.spec.domain.firmware.kernelBoot.container.imagePullSecret secret.read Secret team/kpull");
}

/* A pool's controller makes VMs of its template unchecked: the pool carries their references. */
static void test_pool(void) {
        g_autofree char *pool = collect(&kind_vmpool,
                "spec:\n  virtualMachineTemplate:\n    spec:\n"
                "      dataVolumeTemplates:\n"
                "      - {metadata: {name: d}, spec: {source: {pvc: {namespace: other, name: a}}}}\n"
                "      template:\n        spec:\n          domain:\n            devices:\n"
                "              hostDevices: [{name: a, deviceName: kubevirt.io/usb-storage}]\n"
                "          accessCredentials:\n"
                "          - sshPublicKey: {source: {secret: {secretName: keys}}}\n");
        g_assert_cmpstr(pool, ==,
                "spec.virtualMachineTemplate.spec.dataVolumeTemplates[0].spec.source.pvc object.apply "
                "PersistentVolumeClaim other/a\n"
                "spec.virtualMachineTemplate.spec.template.spec.accessCredentials[0].sshPublicKey.source.secret."
                "secretName secret.read Secret team/keys\n"
                "spec.virtualMachineTemplate.spec.template.spec.domain.devices.hostDevices[0].deviceName "
                "vm.hostdevice HostDevice team/kubevirt.io/usb-storage");
}

/* ... and so does a replica set for its instances. */
static void test_replica_set(void) {
        g_autofree char *rs = collect(&kind_vmirs,
                "spec:\n  template:\n    spec:\n"
                "      volumes:\n      - {name: s, cloudInitNoCloud: {secretRef: {name: seed}}}\n"
                "      accessCredentials:\n"
                "      - sshPublicKey: {source: {secret: {secretName: keys}}}\n");
        g_assert_cmpstr(rs, ==,
                "spec.template.spec.accessCredentials[0].sshPublicKey.source.secret.secretName secret.read "
                "Secret team/keys\n"
                "spec.template.spec.volumes[0].cloudInitNoCloud.secretRef.name secret.read Secret team/seed");
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/references/claims", test_claims);
        g_test_add_func("/references/datavolumes", test_datavolumes);
        g_test_add_func("/references/instances", test_instances);
        g_test_add_func("/references/patches", test_patches);
        g_test_add_func("/references/host-devices-kernel-boot", test_host_devices_and_kernel_boot);
        g_test_add_func("/references/pool", test_pool);
        g_test_add_func("/references/replica-set", test_replica_set);
        return g_test_run();
}
