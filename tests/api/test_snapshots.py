# SPDX-License-Identifier: LGPL-2.1-or-later
"""KubeVirt's snapshots on one node (docs/snapshots.md): a
VirtualMachineSnapshot copies a VM's claims (the dir backend's clone
here; lvm-thin's is the device-mapper lane's) and records the VM in a
VirtualMachineSnapshotContent; a VirtualMachineRestore puts the VM back
on new claims made from the copies.  The bytes are checked, not only the
status."""
import glob
import json
import os
import subprocess

import dbus
import pytest

from conftest import BUILD, ROOT, expect_error, path_encode, wait_until
from test_pvc import read_at as read, write_pattern as write

CTL = os.path.join(BUILD, "edgevirtctl", "edgevirtctl")

PVC_IFACE = "org.edgevirt.EdgeVirt1.PersistentVolumeClaim"
VM_IFACE = "org.edgevirt.EdgeVirt1.VirtualMachine"
MI = 1 << 20

VM = """
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: disk, labels: {app: box}}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 8Mi}}}
---
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: box, labels: {app: box}}
spec:
  runStrategy: Halted
  dataVolumeTemplates:
  - metadata: {name: data}
    spec: {source: {blank: {}}, storage: {resources: {requests: {storage: 4Mi}}}}
  template:
    spec:
      domain:
        memory: {guest: 64Mi}
        devices:
          disks: [{name: root, disk: {}}, {name: data, disk: {}}, {name: seed, cdrom: {bus: sata}}]
      volumes:
      - {name: root, persistentVolumeClaim: {claimName: disk}}
      - {name: data, dataVolume: {name: data}}
      - {name: seed, cloudInitNoCloud: {userData: "#cloud-config\\n"}}
"""


def snapshot(name, vm="box", extra=""):
    return (f"apiVersion: snapshot.kubevirt.io/v1beta1\nkind: VirtualMachineSnapshot\nmetadata: {{name: {name}}}\n"
            f"spec:\n  source: {{apiGroup: kubevirt.io, kind: VirtualMachine, name: {vm}}}\n{extra}")


def restore(name, snap, vm="box", extra=""):
    return (f"apiVersion: snapshot.kubevirt.io/v1beta1\nkind: VirtualMachineRestore\nmetadata: {{name: {name}}}\n"
            f"spec:\n  target: {{apiGroup: kubevirt.io, kind: VirtualMachine, name: {vm}}}\n"
            f"  virtualMachineSnapshotName: {snap}\n{extra}")


CLONE = """apiVersion: clone.kubevirt.io/v1beta1
kind: VirtualMachineClone
metadata: {name: x}
spec:
  source: {apiGroup: kubevirt.io, kind: VirtualMachine, name: box}
"""


def volume(client, claim):
    return str(client.props(f"{ROOT}/namespace/default/pvc/{path_encode(claim)}", PVC_IFACE)["VolumePath"])


def status(client, kind, name):
    return client.get_json(kind, "default", name).get("status", {})


def ready(client, name):
    wait_until(lambda: status(client, "vmsnapshot", name).get("phase") in ("Succeeded", "Failed"), timeout=30,
               what=f"snapshot {name}")
    st = status(client, "vmsnapshot", name)
    assert st["phase"] == "Succeeded" and st["readyToUse"] is True, st
    return st


def restored(client, name):
    wait_until(lambda: status(client, "vmrestore", name).get("complete") or
               any(c.get("reason") == "Failed" for c in status(client, "vmrestore", name).get("conditions", [])),
               timeout=30, what=f"restore {name}")
    st = status(client, "vmrestore", name)
    assert st["complete"] is True, st
    return st


@pytest.fixture
def box(client):
    client.apply(VM)
    wait_until(lambda: status(client, "dv", "data").get("phase") == "Succeeded" and
               status(client, "pvc", "disk").get("phase") == "Bound", what="the VM's claims", timeout=30)
    write(volume(client, "disk"), 0, b"A" * MI)
    write(volume(client, "disk"), 5 * MI, b"a" * 4096)
    write(volume(client, "data"), MI, b"C" * 4096)
    return client


def test_snapshot_and_restore_of_a_stopped_vm(box, bus):
    client = box
    client.conn_address = bus.address
    client.apply(snapshot("first"))
    st = ready(client, "first")
    assert st["snapshotVolumes"] == {"includedVolumes": ["root", "data"], "excludedVolumes": ["seed"]}
    assert st["indications"] == [] and st["sourceUID"] == client.get_json("vm", "default", "box")["metadata"]["uid"]
    content = client.get_json("vmsnapshotcontent", "default", st["virtualMachineSnapshotContentName"])
    assert content["status"]["readyToUse"] is True
    backups = {b["volumeName"]: b for b in content["spec"]["volumeBackups"]}
    assert set(backups) == {"root", "data"}
    assert backups["root"]["persistentVolumeClaim"]["spec"]["resources"]["requests"]["storage"] == "8Mi"
    assert content["spec"]["source"]["virtualMachine"]["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"] == \
        {"claimName": "disk"}
    assert content["metadata"]["ownerReferences"][0]["kind"] == "VirtualMachineSnapshot"
    # the content is the daemon's: read-only
    msg = expect_error("Forbidden", client.apply, "apiVersion: snapshot.kubevirt.io/v1beta1\nkind: VirtualMachineSnapshotContent\n"
                       "metadata: {name: mine}\nspec: {source: {}}\n")
    assert "read-only" in msg

    # the disks change after the snapshot
    write(volume(client, "disk"), 0, b"B" * MI)
    write(volume(client, "data"), MI, b"D" * 4096)

    client.apply(restore("back", "first"))
    st = restored(client, "back")
    claims = {r["volumeName"]: r["persistentVolumeClaim"] for r in st["restores"]}
    assert set(claims) == {"root", "data"} and all(c.startswith("restore-") for c in claims.values())
    assert st["deletedDataVolumes"] == ["data"]
    vm = client.get_json("vm", "default", "box")
    vols = {v["name"]: v for v in vm["spec"]["template"]["spec"]["volumes"]}
    assert vols["root"] == {"name": "root", "persistentVolumeClaim": {"claimName": claims["root"]}}
    assert vols["data"] == {"name": "data", "persistentVolumeClaim": {"claimName": claims["data"]}}
    assert "cloudInitNoCloud" in vols["seed"] and "dataVolumeTemplates" not in vm["spec"]
    # what was read stays as it is: the claim keeps its volume, the content its VM
    assert client.get_json("pvc", "default", "disk")["spec"]["volumeName"].startswith("pvc-")
    again = client.get_json("vmsnapshotcontent", "default", content["metadata"]["name"])
    assert again["spec"] == content["spec"]
    # the bytes of the snapshot, not the later ones
    assert read(volume(client, claims["root"]), 0, MI) == b"A" * MI
    assert read(volume(client, claims["root"]), 5 * MI, 4096) == b"a" * 4096
    assert read(volume(client, claims["data"]), MI, 4096) == b"C" * 4096
    claim = client.get_json("pvc", "default", claims["root"])
    assert claim["metadata"]["labels"] == {"app": "box"} and claim["metadata"]["ownerReferences"][0]["name"] == "box"
    assert claim["spec"]["dataSource"]["kind"] == "VolumeSnapshot"
    wait_until(lambda: not client.exists("dv", "default", "data"), what="the old DataVolume to go")
    # the old claim stays (it was not the VM's)
    assert read(volume(client, "disk"), 0, 4) == b"BBBB"

    # as kubectl shows them
    env = dict(os.environ, EDGEVIRT_BUS=client.conn_address, LC_ALL="C")
    rows = subprocess.run([CTL, "get", "vmsnapshot"], capture_output=True, text=True, env=env, check=True).stdout.splitlines()
    assert rows[0].split() == ["NAME", "SOURCEKIND", "SOURCENAME", "PHASE", "READYTOUSE", "CREATIONTIME", "ERROR"]
    assert rows[1].split()[:5] == ["first", "VirtualMachine", "box", "Succeeded", "true"]
    rows = subprocess.run([CTL, "get", "vmrestore"], capture_output=True, text=True, env=env, check=True).stdout.splitlines()
    assert rows[0].split() == ["NAME", "TARGETKIND", "TARGETNAME", "COMPLETE", "RESTORETIME", "ERROR"]
    assert rows[1].split()[:4] == ["back", "VirtualMachine", "box", "true"]

    # the VM starts on the restored claims
    dbus.Interface(client.conn.get_object("org.edgevirt.EdgeVirt1", f"{ROOT}/namespace/default/vm/box"), VM_IFACE).Start({})
    wait_until(lambda: client.exists("vmi", "default", "box") and status(client, "vmi", "box").get("phase") == "Running",
               what="the restored VM to run", timeout=30)
    vmi_vols = client.get_json("vmi", "default", "box")["spec"]["volumes"]
    assert {"name": "root", "persistentVolumeClaim": {"claimName": claims["root"]}} in vmi_vols


def test_online_snapshot_pauses_a_guest_without_agent(box):
    client = box
    client.apply(VM.replace("runStrategy: Halted", "runStrategy: Always"))
    wait_until(lambda: client.exists("vmi", "default", "box") and status(client, "vmi", "box").get("phase") == "Running",
               what="the VM to run", timeout=30)
    client.apply(snapshot("live"))
    st = ready(client, "live")
    assert st["indications"] == ["Online", "NoGuestAgent"]
    assert {i["indication"] for i in st["sourceIndications"]} == {"Online", "NoGuestAgent"}
    # and it runs on, not paused
    wait_until(lambda: client.get_json("vm", "default", "box")["status"]["printableStatus"] == "Running",
               what="the VM to run on", timeout=10)
    # a restore waits for the VM to stop; FailImmediate does not wait
    client.apply(restore("now", "live", extra="  targetReadinessPolicy: FailImmediate\n"))
    wait_until(lambda: any(c.get("reason") == "Failed" for c in status(client, "vmrestore", "now").get("conditions", [])),
               what="the restore to fail")
    assert "running" in next(c["message"] for c in status(client, "vmrestore", "now")["conditions"] if c["type"] == "Ready")


def test_deletion_policies_free_the_copies(box):
    client = box
    store = os.path.dirname(volume(client, "disk"))
    client.apply(snapshot("gone") + "---\n" + snapshot("kept", extra="  deletionPolicy: Retain\n"))
    gone, kept = ready(client, "gone"), ready(client, "kept")
    gone_uid = client.get_json("vmsnapshot", "default", "gone")["metadata"]["uid"]
    kept_uid = client.get_json("vmsnapshot", "default", "kept")["metadata"]["uid"]
    assert len(glob.glob(os.path.join(store, f"snap-{gone_uid}-*"))) == 2
    assert len(glob.glob(os.path.join(store, f"snap-{kept_uid}-*"))) == 2

    # a claim from a volume snapshot, as Kubernetes writes one
    vs = client.get_json("vmsnapshotcontent", "default", kept["virtualMachineSnapshotContentName"])["spec"]["volumeBackups"][0]
    client.apply("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: by-hand}\n"
                 "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 8Mi}}, "
                 f"dataSource: {{apiGroup: snapshot.storage.k8s.io, kind: VolumeSnapshot, name: {vs['volumeSnapshotName']}}}}}\n")
    wait_until(lambda: status(client, "pvc", "by-hand").get("phase") == "Bound", what="the claim from the snapshot")
    assert read(volume(client, "by-hand"), 0, MI) == b"A" * MI

    client.delete("vmsnapshot", "default", "gone")
    client.delete("vmsnapshot", "default", "kept")
    wait_until(lambda: not client.exists("vmsnapshotcontent", "default", gone["virtualMachineSnapshotContentName"]),
               what="the Delete policy's content to go")
    wait_until(lambda: not glob.glob(os.path.join(store, f"snap-{gone_uid}-*")), what="its copies to be freed")
    # Retain: the content and its copies outlive the snapshot, until deleted themselves
    assert client.exists("vmsnapshotcontent", "default", kept["virtualMachineSnapshotContentName"])
    assert len(glob.glob(os.path.join(store, f"snap-{kept_uid}-*"))) == 2
    client.delete("vmsnapshotcontent", "default", kept["virtualMachineSnapshotContentName"])
    wait_until(lambda: not glob.glob(os.path.join(store, f"snap-{kept_uid}-*")), what="the retained copies to be freed")
    # a claim waits for a volume snapshot that is not there
    client.apply("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: orphan}\n"
                 "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 8Mi}}, "
                 f"dataSource: {{apiGroup: snapshot.storage.k8s.io, kind: VolumeSnapshot, name: {vs['volumeSnapshotName']}}}}}\n")
    wait_until(lambda: "not found" in str(status(client, "pvc", "orphan").get("conditions", "")), what="the claim to say why")


def test_restore_makes_a_missing_vm(box):
    client = box
    client.apply(snapshot("first"))
    ready(client, "first")
    client.apply(restore("clone", "first", vm="box-copy"))
    st = restored(client, "clone")
    vm = client.get_json("vm", "default", "box-copy")
    assert vm["metadata"]["labels"] == {"app": "box"}
    claim = {r["volumeName"]: r["persistentVolumeClaim"] for r in st["restores"]}["root"]
    assert read(volume(client, claim), 0, MI) == b"A" * MI


@pytest.mark.parametrize("doc,error,fragment", [
    (snapshot("x").replace("kind: VirtualMachine, name", "kind: Pod, name"), "Invalid", "spec.source.kind"),
    (snapshot("x").replace("apiGroup: kubevirt.io, ", ""), "Invalid", "spec.source.apiGroup"),
    (snapshot("x", extra="  deletionPolicy: Keep\n"), "Invalid", "spec.deletionPolicy"),
    (snapshot("x", extra="  failureDeadline: soon\n"), "Invalid", "spec.failureDeadline"),
    (restore("x", "s", extra="  patches: ['not json']\n"), "Invalid", "spec.patches[0]"),
    (restore("x", "s", extra="  patches: ['{\"op\": \"replace\", \"path\": \"/metadata/name\", \"value\": \"y\"}']\n"),
     "Invalid", "/metadata/name cannot be patched"),
    (CLONE.replace("kind: VirtualMachine, name: box}", "kind: Pod, name: box}", 1), "Invalid", "spec.source"),
    (CLONE + "  volumeNamePolicy: KeepNames\n", "NotSupported", "spec.volumeNamePolicy"),
    (restore("x", "s", extra="  targetReadinessPolicy: StopTarget\n"), "NotSupported", "spec.targetReadinessPolicy"),
    (restore("x", "s", extra="  volumeRestorePolicy: InPlace\n"), "NotSupported", "spec.volumeRestorePolicy"),
])
def test_admission(client, doc, error, fragment):
    msg = expect_error(error, client.apply, doc)
    assert fragment in msg, msg


def test_spec_is_immutable(client):
    client.apply(snapshot("s"))
    msg = expect_error("Invalid", client.apply, snapshot("s", vm="other"))
    assert "immutable" in msg


def test_copies_survive_a_restart(box, daemon):
    """The copies are the content's, not orphans of a claim: a restart's
    scan of the storage classes keeps them."""
    client = box
    store = os.path.dirname(volume(client, "disk"))
    client.apply(snapshot("durable"))
    ready(client, "durable")
    uid = client.get_json("vmsnapshot", "default", "durable")["metadata"]["uid"]
    daemon.restart()
    wait_until(lambda: status(client, "pvc", "disk").get("phase") == "Bound", what="the claims after the restart")
    assert len(glob.glob(os.path.join(store, f"snap-{uid}-*"))) == 2
    write(volume(client, "disk"), 0, b"B" * MI)
    client.apply(restore("after", "durable"))
    st = restored(client, "after")
    claim = {r["volumeName"]: r["persistentVolumeClaim"] for r in st["restores"]}["root"]
    assert read(volume(client, claim), 0, MI) == b"A" * MI


def test_datavolume_from_a_volume_snapshot(box):
    """CDI's source.snapshot names a volume snapshot: here a snapshot's copy."""
    client = box
    client.apply(snapshot("src"))
    st = ready(client, "src")
    vs = next(b["volumeSnapshotName"] for b in
              client.get_json("vmsnapshotcontent", "default", st["virtualMachineSnapshotContentName"])["spec"]["volumeBackups"]
              if b["volumeName"] == "root")
    client.apply("apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\nmetadata: {name: from-snap}\n"
                 f"spec: {{source: {{snapshot: {{name: {vs}}}}}, storage: {{}}}}\n")
    wait_until(lambda: status(client, "dv", "from-snap").get("phase") == "Succeeded", what="the DataVolume", timeout=30)
    assert client.get_json("pvc", "default", "from-snap")["spec"]["resources"]["requests"]["storage"] == "8Mi"
    assert read(volume(client, "from-snap"), 0, MI) == b"A" * MI
    # a DataSource may name the volume snapshot: clones by reference copy it too
    client.apply("apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataSource\nmetadata: {name: snap-os}\n"
                 f"spec: {{source: {{snapshot: {{name: {vs}}}}}}}\n---\n"
                 "apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\nmetadata: {name: from-snap-os}\n"
                 "spec: {sourceRef: {kind: DataSource, name: snap-os}, storage: {}}\n")
    wait_until(lambda: status(client, "dv", "from-snap-os").get("phase") == "Succeeded", what="the clone", timeout=30)
    assert status(client, "das", "snap-os")["source"] == {"snapshot": {"name": vs}}
    assert read(volume(client, "from-snap-os"), 0, MI) == b"A" * MI
    msg = expect_error("NotSupported", client.apply, "apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\nmetadata: {name: x}\n"
                       f"spec: {{source: {{snapshot: {{name: {vs}, namespace: other}}}}, storage: {{}}}}\n")
    assert "spec.source.snapshot.namespace" in msg


def test_restore_with_patches(box):
    client = box
    client.apply(snapshot("p"))
    ready(client, "p")
    client.apply(restore("patched", "p", extra="  patches:\n"
                         "  - '{\"op\": \"replace\", \"path\": \"/spec/template/spec/domain/memory/guest\", \"value\": \"96Mi\"}'\n"
                         "  - '{\"op\": \"add\", \"path\": \"/metadata/labels/restored\", \"value\": \"yes\"}'\n"))
    restored(client, "patched")
    vm = client.get_json("vm", "default", "box")
    assert vm["spec"]["template"]["spec"]["domain"]["memory"]["guest"] == "96Mi"
    assert vm["metadata"]["labels"] == {"app": "box", "restored": "yes"}
    # a patch that does not apply fails the restore with the reason
    client.apply(restore("wrong", "p", extra="  patches: ['{\"op\": \"remove\", \"path\": \"/spec/nothing\"}']\n"))
    wait_until(lambda: any(c.get("reason") == "Failed" for c in status(client, "vmrestore", "wrong").get("conditions", [])),
               what="the restore to fail")
    msg = next(c["message"] for c in status(client, "vmrestore", "wrong")["conditions"] if c["type"] == "Ready")
    assert "spec.patches[0]" in msg and "/spec/nothing" in msg, msg


def test_clone_a_vm(box, bus):
    """VirtualMachineClone: a VM of its own from the source's disks, MAC
    addresses and serial not copied unless asked, labels filtered; the
    temporary snapshot and restore gone afterwards."""
    client = box
    client.conn_address = bus.address
    client.apply(VM.replace("      domain:\n        memory: {guest: 64Mi}\n",
                            "      domain:\n        memory: {guest: 64Mi}\n"
                            "        firmware: {serial: src-serial, uuid: 5d307ca9-b3ef-428c-8861-06e72d69f223}\n")
                 .replace("          disks: [", "          interfaces: [{name: default, masquerade: {}, macAddress: '02:00:00:00:00:01'}]\n"
                          "          disks: [")
                 .replace("      volumes:\n", "      networks: [{name: default, pod: {}}]\n      volumes:\n")
                 .replace("metadata: {name: box, labels: {app: box}}", "metadata: {name: box, labels: {app: box, secret-tier: gold}}"))
    client.apply("apiVersion: clone.kubevirt.io/v1beta1\nkind: VirtualMachineClone\nmetadata: {name: copy}\nspec:\n"
                 "  source: {apiGroup: kubevirt.io, kind: VirtualMachine, name: box}\n"
                 "  target: {apiGroup: kubevirt.io, kind: VirtualMachine, name: box-2}\n"
                 "  labelFilters: ['!secret-*', '*']\n"
                 "  newMacAddresses: {default: '02:00:00:00:00:99'}\n")
    wait_until(lambda: status(client, "vmclone", "copy").get("phase") in ("Succeeded", "Failed"), timeout=60, what="the clone")
    st = status(client, "vmclone", "copy")
    assert st["phase"] == "Succeeded" and st["targetName"] == "box-2", json.dumps(st)
    vm = client.get_json("vm", "default", "box-2")
    assert vm["metadata"]["labels"] == {"app": "box"}
    dom = vm["spec"]["template"]["spec"]["domain"]
    assert dom["devices"]["interfaces"][0]["macAddress"] == "02:00:00:00:00:99"
    assert "serial" not in dom.get("firmware", {}) and "uuid" not in dom.get("firmware", {})
    claim = next(v for v in vm["spec"]["template"]["spec"]["volumes"] if v["name"] == "root")["persistentVolumeClaim"]["claimName"]
    assert read(volume(client, claim), 0, MI) == b"A" * MI
    # the source is untouched; the temporary objects are gone
    src = client.get_json("vm", "default", "box")
    assert next(v for v in src["spec"]["template"]["spec"]["volumes"] if v["name"] == "root") == \
        {"name": "root", "persistentVolumeClaim": {"claimName": "disk"}}
    wait_until(lambda: not client.exists("vmsnapshot", "default", st["snapshotName"]) and
               not client.exists("vmrestore", "default", st["restoreName"]), what="the temporary snapshot and restore to go")
    # without newMacAddresses the MAC is not copied; a generated name
    client.apply(CLONE.replace("name: x", "name: plain"))
    wait_until(lambda: status(client, "vmclone", "plain").get("phase") in ("Succeeded", "Failed"), timeout=60, what="the clone")
    target = status(client, "vmclone", "plain")["targetName"]
    assert target.startswith("clone-")
    plain = client.get_json("vm", "default", target)["spec"]["template"]["spec"]["domain"]
    assert "macAddress" not in plain["devices"]["interfaces"][0] and plain["memory"]["guest"] == "64Mi"
    env = dict(os.environ, EDGEVIRT_BUS=client.conn_address, LC_ALL="C")
    rows = subprocess.run([CTL, "get", "vmclone"], capture_output=True, text=True, env=env, check=True).stdout.splitlines()
    assert rows[0].split() == ["NAME", "PHASE", "SOURCEVIRTUALMACHINE", "TARGETVIRTUALMACHINE"]
    assert rows[1].split() == ["copy", "Succeeded", "box", "box-2"]
    # a clone onto an existing VM fails with the reason
    client.apply(CLONE.replace("name: x", "name: onto") + "  target: {apiGroup: kubevirt.io, kind: VirtualMachine, name: box-2}\n")
    wait_until(lambda: status(client, "vmclone", "onto").get("phase") == "Failed", what="the clone to fail", timeout=30)
    assert "exists" in next(c["message"] for c in status(client, "vmclone", "onto")["conditions"] if c["type"] == "Ready")


def test_snapshot_state_on_the_bus(client, signals):
    """The VirtualMachineSnapshot interface: the state a front end shows,
    followed by PropertiesChanged (and a failure's reason)."""
    client.apply(VM)
    client.apply(snapshot("onbus"))
    path = f"{ROOT}/namespace/default/vmsnapshot/onbus"
    iface = "org.edgevirt.EdgeVirt1.VirtualMachineSnapshot"
    ready(client, "onbus")
    props = client.props(path, iface)
    assert props["Phase"] == "Succeeded" and props["ReadyToUse"] and props["Source"] == "box"
    assert props["CreationTime"] == status(client, "vmsnapshot", "onbus")["creationTime"]
    assert list(props["Indications"]) == status(client, "vmsnapshot", "onbus").get("indications", [])
    assert props["Error"] == ""
    wait_until(lambda: any(s[3][0] == iface and s[3][1].get("Phase") == "Succeeded"
                           for s in signals.of("PropertiesChanged", path)), what="the Phase signalled")
    # a snapshot of no VM fails, and says why
    client.apply(snapshot("orphan", vm="nosuch", extra="  failureDeadline: 1s\n"))
    wait_until(lambda: client.props(f"{ROOT}/namespace/default/vmsnapshot/orphan", iface)["Phase"] == "Failed",
               timeout=30, what="the snapshot of no VM to fail")
    assert client.props(f"{ROOT}/namespace/default/vmsnapshot/orphan", iface)["Error"]


def test_ephemeral_and_config_volumes_are_left_out(client):
    """An ephemeral volume (an overlay: its claim is not the VM's) and a
    config disk are made again at each start: a snapshot leaves them out."""
    client.apply("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: golden}\n"
                 "spec: {accessModes: [ReadOnlyMany], resources: {requests: {storage: 8Mi}}}\n---\n"
                 "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {k: v}\n---\n"
                 "apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata: {name: cattle}\n"
                 "spec:\n  runStrategy: Halted\n  template:\n    spec:\n      domain: {memory: {guest: 64Mi}}\n"
                 "      volumes: [{name: root, ephemeral: {persistentVolumeClaim: {claimName: golden}}},\n"
                 "                {name: cfg, configMap: {name: app}}]\n")
    client.apply(snapshot("cattle-snap", vm="cattle"))
    st = ready(client, "cattle-snap")
    assert st["snapshotVolumes"] == {"includedVolumes": [], "excludedVolumes": ["root", "cfg"]}, st
