# SPDX-License-Identifier: LGPL-2.1-or-later
"""The KubeVirt and CDI example manifests (tests/compat, copied from
../shared/compat).  Each either applies — and, where it can work without
the Internet, works — or is refused with the field or kind and the reason.
Nothing is half-applied either way."""
import glob
import os

import pytest
import yaml

from conftest import COMPAT, expect_error, wait_until

MANIFESTS = sorted(os.path.relpath(p, COMPAT) for p in glob.glob(os.path.join(COMPAT, "*-examples", "*.yaml")))

# What edgevirt refuses today, and the words the refusal must contain.
REFUSED = {
    "cdi-examples/example-cdiconfig.yaml": ("NotSupported", "CDIConfig"),
    "cdi-examples/import-archive-block-datavolume.yaml": ("NotSupported", "spec.contentType"),
    "cdi-examples/import-archive-datavolume.yaml": ("NotSupported", "spec.contentType"),
    "cdi-examples/import-block-pv.yaml": ("NotSupported", "PersistentVolume"),
    "cdi-examples/import-kubevirt-datavolume-gcs.yaml": ("NotSupported", "spec.source.gcs"),
    "cdi-examples/import-kubevirt-datavolume-skip-tls.yaml": ("NotSupported", "spec.source.http.insecureSkipVerify"),
    "cdi-examples/upload-block-datavolume-token.yaml": ("NotSupported", "UploadTokenRequest"),
    "cdi-examples/upload-datavolume-token.yaml": ("NotSupported", "UploadTokenRequest"),
    "cdi-examples/vddk-args-annotation.yaml": ("NotSupported", "spec.source.vddk"),
    "cdi-examples/vddk-args-field.yaml": ("NotSupported", "spec.source.vddk"),
    "kubevirt-examples/example-migration-policy.yaml": ("NotSupported", "MigrationPolicy: not supported on edgevirt: live migration"),
    "kubevirt-examples/preemtible.yaml": ("NotSupported", "PriorityClass"),
    "kubevirt-examples/vm-cirros-with-sidecar-hook-configmap.yaml": ("NotSupported", "hooks.kubevirt.io/hookSidecars"),
    "kubevirt-examples/vmi-fedora-isolated.yaml": ("NotSupported", "spec.domain.cpu.dedicatedCpuPlacement"),
    "kubevirt-examples/vmi-host-disk.yaml": ("NotSupported", "spec.volumes[0].hostDisk"),
    "kubevirt-examples/vmi-multus-ptp.yaml": ("NotSupported", "spec.networks[0].multus"),
    "kubevirt-examples/vmi-preset-small.yaml": ("NotSupported", "VirtualMachineInstancePreset"),
    # no [HostDevice kubevirt.io/storage] in the test configuration: refused with what is permitted
    "kubevirt-examples/vmi-usb.yaml": ("Invalid", "spec.domain.devices.hostDevices[0].deviceName: Unsupported value: \"kubevirt.io/storage\""),
}

# Where the accepted VM examples settle offline: the VMs are Halted; the
# PVC of vmi-pvc.yaml does not exist here, which the instance says
# (Pending); a containerDisk's registry (registry:5000) cannot be reached,
# so those instances stay Scheduling with ErrImagePull.
VM_STATUS = {"VirtualMachine": ("printableStatus", "Stopped"),
             "VirtualMachineInstance": ("phase", "Pending")}


def settles_at(doc):
    if doc["kind"] == "VirtualMachineInstance" and any("containerDisk" in v for v in doc["spec"].get("volumes", [])):
        return ("phase", "Scheduling")
    return VM_STATUS[doc["kind"]]

# What a manifest needs to exist first, as a user would have it.
PREREQS = {
    "cdi-examples/clone-datavolume.yaml":
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: source-ns}\n---\n"
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: source-datavolume, namespace: source-ns}\n"
        "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 64Mi}}}\n",
    "cdi-examples/clone-block-datavolume.yaml":
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: import-kubevirt-block-datavolume}\n"
        "spec: {accessModes: [ReadWriteOnce], volumeMode: Block, resources: {requests: {storage: 64Mi}}}\n",
}
# The phase a DataVolume reaches offline; http imports from the Internet
# are only checked to be accepted (tests/api/test_datavolume.py imports for real).
DONE = {"blank": "Succeeded", "upload": "UploadReady", "pvc": "Succeeded"}


def documents(text):
    return [d for d in yaml.safe_load_all(text) if d]


@pytest.mark.parametrize("name", MANIFESTS)
def test_compat_manifest(client, name):
    with open(os.path.join(COMPAT, name)) as f:
        text = f.read()
    docs = documents(text)
    if name in REFUSED:
        error, fragment = REFUSED[name]
        msg = expect_error(error, client.apply, text)
        assert (fragment or docs[0]["kind"]) in msg, msg
        for d in docs:
            if d["kind"] in ("Secret", "ConfigMap", "DataVolume", "PersistentVolumeClaim", "VirtualMachine",
                             "VirtualMachineInstance"):
                assert not client.exists(d["kind"], d["metadata"].get("namespace", "default"), d["metadata"]["name"])
        return
    if name in PREREQS:
        client.apply(PREREQS[name])
        wait_until(lambda: all(i.get("status", {}).get("phase") == "Bound" for i in client.list("pvc")["items"]),
                   what="the prerequisite claim to be Bound")
    for d in docs:
        ns = d.get("metadata", {}).get("namespace")
        if ns and not client.exists("ns", "", ns):
            client.manager.CreateNamespace(ns, {})
    paths = client.apply(text)
    assert len(paths) == len(docs)
    for d in docs:
        ns = d["metadata"].get("namespace", "default")
        got = client.get_json(d["kind"], ns, d["metadata"]["name"])
        assert got["metadata"]["name"] == d["metadata"]["name"]
        if d["kind"] == "DataVolume":
            kind = next(iter(d["spec"]["source"]))
            if kind in DONE:
                wait_until(lambda: client.get_json("dv", ns, d["metadata"]["name"])["status"]["phase"] == DONE[kind],
                           what=f"{name} to reach {DONE[kind]}", timeout=30)
        if d["kind"] == "VirtualMachineInstanceReplicaSet":
            # its instances are made and counted (they wait for their unreachable registry)
            want = d["spec"]["replicas"]
            wait_until(lambda: client.get_json(d["kind"], ns, d["metadata"]["name"])["status"]["replicas"] == want,
                       what=f"{name} to count {want} instances", timeout=30)
            owned = [i for i in client.list("vmi", ns)["items"]
                     if i["metadata"].get("ownerReferences", [{}])[0].get("name") == d["metadata"]["name"]]
            assert len(owned) == want and all(i["metadata"]["labels"] == d["spec"]["template"]["metadata"]["labels"]
                                              for i in owned), owned
        if d["kind"] in VM_STATUS:
            want = settles_at(d)
            wait_until(lambda: client.get_json(d["kind"], ns, d["metadata"]["name"]).get("status", {}).get(want[0]) == want[1],
                       what=f"{name} to show {want[0]} {want[1]}", timeout=30)


def test_compat_set_is_present():
    assert len(MANIFESTS) >= 50
