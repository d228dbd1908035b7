# SPDX-License-Identifier: LGPL-2.1-or-later
"""KubeVirt's ephemeral volumes on libvirt's test driver: a qcow2 overlay
per instance on the claim (its backing file, read and never written),
made at start and removed with the instance; the claim is held in use
meanwhile.  That a real QEMU writes into the overlay and not the claim is
the system lane's (tests/system/test_ephemeral.py)."""
import json
import os
import subprocess

from conftest import expect_error, path_encode, wait_until

PVC_IFACE = "org.edgevirt.EdgeVirt1.PersistentVolumeClaim"


def claim(client, name="golden", size="16Mi"):
    client.apply(f"apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {{name: {name}}}\n"
                 f"spec: {{accessModes: [ReadOnlyMany], resources: {{requests: {{storage: {size}}}}}}}\n")
    wait_until(lambda: client.get_json("pvc", "default", name).get("status", {}).get("phase") == "Bound",
               what="the claim to be Bound")
    path = f"/org/edgevirt/EdgeVirt1/namespace/default/pvc/{path_encode(name)}"
    return str(client.props(path, PVC_IFACE)["VolumePath"])


def vmi(name, claim_name="golden"):
    return (f"apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\nmetadata: {{name: {name}}}\n"
            "spec:\n  terminationGracePeriodSeconds: 0\n  domain: {memory: {guest: 64Mi}}\n"
            f"  volumes: [{{name: root, ephemeral: {{persistentVolumeClaim: {{claimName: {claim_name}}}}}}}]\n")


def running(client, name):
    wait_until(lambda: client.get_json("vmi", "default", name).get("status", {}).get("phase") in ("Running", "Failed"),
               what=f"{name} to start")
    got = client.get_json("vmi", "default", name)
    assert got["status"]["phase"] == "Running", got["status"]
    return got["metadata"]["uid"]


def test_ephemeral_overlays_on_a_shared_claim(client, state_dir):
    backing = claim(client)
    with open(backing, "r+b") as f:
        f.write(b"golden bytes")
    before = os.stat(backing).st_mtime_ns
    # two instances on one claim, each with its own overlay
    client.apply(vmi("one") + "---\n" + vmi("two"))
    overlays = [os.path.join(state_dir, "instances", running(client, n), "root.qcow2") for n in ("one", "two")]
    for o in overlays:
        info = json.loads(subprocess.run(["qemu-img", "info", "-U", "--output=json", o], capture_output=True,
                                         text=True, check=True).stdout)
        assert info["format"] == "qcow2" and info["backing-filename"] == backing, info
        assert info["backing-filename-format"] == "raw" and info["virtual-size"] == 16 << 20, info
    assert os.stat(backing).st_mtime_ns == before
    # the claim is in use: its protection finalizer holds a deletion
    client.delete("pvc", "default", "golden")
    wait_until(lambda: client.get_json("pvc", "default", "golden")["metadata"].get("deletionTimestamp"),
               what="the claim to be marked for deletion")
    assert client.get_json("pvc", "default", "golden")["status"]["phase"] == "Bound"
    # the overlays go with their instances, and then the claim
    client.delete("vmi", "default", "one")
    client.delete("vmi", "default", "two")
    wait_until(lambda: not any(os.path.exists(o) for o in overlays), what="the overlays to be removed")
    wait_until(lambda: not client.exists("pvc", "default", "golden"), what="the claim to go")


def test_ephemeral_waits_for_its_claim(client):
    client.apply(vmi("early", "later"))
    wait_until(lambda: client.get_json("vmi", "default", "early").get("status", {}).get("conditions"),
               what="the instance to say why it waits")
    st = client.get_json("vmi", "default", "early")["status"]
    assert st["phase"] == "Pending" and any("later" in c.get("message", "") for c in st["conditions"]), st
    claim(client, "later")
    running(client, "early")


def test_ephemeral_admission(client):
    msg = expect_error("Invalid", client.apply,
                       "apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\nmetadata: {name: bad}\n"
                       "spec:\n  domain: {memory: {guest: 64Mi}}\n"
                       "  volumes: [{name: root, ephemeral: {persistentVolumeClaim: {readOnly: true}}}]\n")
    assert "spec.volumes[0].ephemeral.persistentVolumeClaim.claimName: Required value" in msg, msg
