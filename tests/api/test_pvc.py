# SPDX-License-Identifier: LGPL-2.1-or-later
"""PersistentVolumeClaims on the dir backend: provisioning, expansion,
clones, capacity, deletion, restart reconciliation, storage classes."""
import os
import signal
import uuid

import pytest

from conftest import Client, Daemon, expect_error, path_encode, wait_until

PVC_IFACE = "org.edgevirt.EdgeVirt1.PersistentVolumeClaim"


def pvc(name, size="16Mi", namespace=None, extra="", spec_extra=""):
    ns = f"\n  namespace: {namespace}" if namespace else ""
    return (f"apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: {name}{ns}\n{extra}"
            f"spec:\n  accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: {size}\n{spec_extra}")


def path_of(name, namespace="default"):
    return f"/org/edgevirt/EdgeVirt1/namespace/{path_encode(namespace)}/pvc/{path_encode(name)}"


def phase(client, name, namespace="default"):
    return client.get_json("pvc", namespace, name).get("status", {}).get("phase")


def wait_phase(client, name, want, namespace="default", timeout=20):
    wait_until(lambda: phase(client, name, namespace) == want, timeout=timeout,
               what=f"PVC {namespace}/{name} to be {want}")
    return client.get_json("pvc", namespace, name)


def volume_file(client, name, namespace="default"):
    return str(client.props(path_of(name, namespace), PVC_IFACE)["VolumePath"])


def test_claim_gets_a_sparse_volume(client, daemon):
    client.apply(pvc("disk", "64Mi"))
    got = wait_phase(client, "disk", "Bound")
    assert got["status"]["capacity"]["storage"] == "64Mi"
    assert got["status"]["accessModes"] == ["ReadWriteOnce"]
    assert got["spec"]["storageClassName"] == "local"
    assert got["spec"]["volumeMode"] == "Filesystem"
    assert got["spec"]["volumeName"] == "pvc-" + got["metadata"]["uid"]
    assert "kubernetes.io/pvc-protection" in got["metadata"]["finalizers"]
    props = client.props(path_of("disk"), PVC_IFACE)
    assert props["Phase"] == "Bound" and props["Capacity"] == 64 << 20 and props["RequestedCapacity"] == 64 << 20
    assert props["StorageClass"] == "local" and list(props["AccessModes"]) == ["ReadWriteOnce"]
    f = str(props["VolumePath"])
    assert f.startswith(daemon.state_dir) and os.path.getsize(f) == 64 << 20
    assert os.stat(f).st_blocks * 512 < 1 << 20, "the volume must be sparse"


def test_block_mode_and_access_modes(client):
    client.apply(pvc("blk", spec_extra="  volumeMode: Block\n").replace("[ReadWriteOnce]", "[ReadWriteMany, ReadOnlyMany]"))
    got = wait_phase(client, "blk", "Bound")
    assert got["spec"]["volumeMode"] == "Block"
    assert client.props(path_of("blk"), PVC_IFACE)["VolumeMode"] == "Block"


def test_expand_and_refuse_shrink(client, signals):
    client.apply(pvc("grow", "16Mi"))
    wait_phase(client, "grow", "Bound")
    client.apply(pvc("grow", "48Mi"))
    wait_until(lambda: client.get_json("pvc", "default", "grow")["status"]["capacity"]["storage"] == "48Mi",
               what="the capacity to grow")
    assert os.path.getsize(volume_file(client, "grow")) == 48 << 20
    # the external resizer's event
    wait_until(lambda: [e["message"] for e in client.list("event", "default")["items"]
                        if e["reason"] == "VolumeResizeSuccessful" and e["involvedObject"]["name"] == "grow"] ==
               ["The volume was expanded to 48Mi"], what="the resize event")
    wait_until(lambda: any(s[3][0] == PVC_IFACE and s[3][1].get("Capacity") == 48 << 20
                           for s in signals.of("PropertiesChanged", path_of("grow"))), what="Capacity signal")
    msg = expect_error("Invalid", client.apply, pvc("grow", "8Mi"))
    assert "spec.resources.requests.storage: Forbidden: field can not be less than previous value" in msg
    msg = expect_error("Invalid", client.apply, pvc("grow", "48Mi").replace("ReadWriteOnce", "ReadWriteMany"))
    assert "spec is immutable" in msg


def test_delete_frees_the_volume(client):
    client.apply(pvc("gone"))
    wait_phase(client, "gone", "Bound")
    f = volume_file(client, "gone")
    assert os.path.exists(f)
    client.delete("pvc", "default", "gone")
    wait_until(lambda: not client.exists("pvc", "default", "gone"), what="the claim to go")
    assert not os.path.exists(f)


@pytest.fixture
def small(bus, state_dir, tmp_path):
    """A daemon whose default class hands out 40 MiB."""
    conf = tmp_path / "edgevirtd.conf"
    conf.write_text("[StorageClass small]\nBackend=dir\nDefault=true\nCapacity=40Mi\n"
                    f"Path={tmp_path}/small\n\n[StorageClass other]\nBackend=dir\nPath={tmp_path}/other\n")
    d = Daemon(bus, state_dir, ["--config=" + str(conf)]).start()
    yield Client(bus.conn)
    d.stop()


def test_pending_until_space_appears(small):
    c = small
    c.apply(pvc("first", "32Mi"))
    assert wait_phase(c, "first", "Bound")["spec"]["storageClassName"] == "small"
    c.apply(pvc("second", "16Mi"))
    got = wait_phase(c, "second", "Pending")
    wait_until(lambda: c.props(path_of("second"), PVC_IFACE)["Reason"] == "NotEnoughSpace", what="NotEnoughSpace")
    props = c.props(path_of("second"), PVC_IFACE)
    assert "16777216 requested" in props["Message"] and "small" in props["Message"]
    assert got["status"].get("capacity") is None
    # no half-made volume
    assert sorted(os.listdir(os.path.dirname(volume_file(c, "first")))) == [os.path.basename(volume_file(c, "first"))]
    c.delete("pvc", "default", "first")
    wait_phase(c, "second", "Bound", timeout=30)
    assert c.props(path_of("second"), PVC_IFACE)["Reason"] == ""


def test_unknown_storage_class_is_pending(client):
    client.apply(pvc("lost-class", spec_extra="  storageClassName: golden\n"))
    wait_until(lambda: client.props(path_of("lost-class"), PVC_IFACE)["Reason"] == "StorageClassNotFound",
               what="StorageClassNotFound")
    assert 'storageclass.storage.k8s.io "golden" not found' in client.props(path_of("lost-class"), PVC_IFACE)["Message"]


def write_pattern(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def read_at(path, offset, n):
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(n)


def test_clone_copies_and_isolates(client):
    client.apply(pvc("origin", "16Mi"))
    wait_phase(client, "origin", "Bound")
    src = volume_file(client, "origin")
    write_pattern(src, 0, b"edgevirt-origin")
    write_pattern(src, 9 << 20, b"deep data")
    client.apply(pvc("copy", "32Mi", spec_extra="  dataSource: {kind: PersistentVolumeClaim, name: origin}\n"))
    got = wait_phase(client, "copy", "Bound")
    assert got["status"]["capacity"]["storage"] == "32Mi"
    dst = volume_file(client, "copy")
    assert read_at(dst, 0, 15) == b"edgevirt-origin" and read_at(dst, 9 << 20, 9) == b"deep data"
    write_pattern(dst, 0, b"changed")
    assert read_at(src, 0, 15) == b"edgevirt-origin"
    assert os.path.getsize(dst) == 32 << 20


def test_clone_waits_for_its_source_and_checks_size(client):
    client.apply(pvc("later", "16Mi", spec_extra="  dataSourceRef: {kind: PersistentVolumeClaim, name: src-later}\n"))
    wait_until(lambda: client.props(path_of("later"), PVC_IFACE)["Reason"] == "WaitingForSource", what="WaitingForSource")
    client.apply(pvc("src-later", "16Mi"))
    wait_phase(client, "later", "Bound", timeout=30)
    client.apply(pvc("too-small", "8Mi", spec_extra="  dataSource: {kind: PersistentVolumeClaim, name: src-later}\n"))
    wait_until(lambda: "smaller than the source" in client.props(path_of("too-small"), PVC_IFACE)["Message"],
               what="the size complaint")


def test_clone_across_namespaces(client):
    client.manager.CreateNamespace("images", {})
    client.apply(pvc("golden", "16Mi", namespace="images"))
    wait_phase(client, "golden", "Bound", "images")
    write_pattern(volume_file(client, "golden", "images"), 4096, b"golden image")
    client.apply(pvc("mine", "16Mi", spec_extra="  dataSourceRef: {kind: PersistentVolumeClaim, name: golden, namespace: images}\n"))
    wait_phase(client, "mine", "Bound")
    assert read_at(volume_file(client, "mine"), 4096, 12) == b"golden image"


def test_clone_into_another_class_copies(small):
    c = small
    c.apply(pvc("here", "8Mi"))
    wait_phase(c, "here", "Bound")
    write_pattern(volume_file(c, "here"), 1 << 20, b"crossing classes")
    c.apply(pvc("there", "8Mi", spec_extra="  storageClassName: other\n"
                "  dataSource: {kind: PersistentVolumeClaim, name: here}\n"))
    wait_phase(c, "there", "Bound")
    dst = volume_file(c, "there")
    assert "/other/" in dst and read_at(dst, 1 << 20, 16) == b"crossing classes"
    assert os.stat(dst).st_blocks * 512 < 1 << 20, "the copy stays sparse"


@pytest.mark.parametrize("spec_extra,error,fragment", [
    ("  selector: {matchLabels: {a: b}}\n", "NotSupported", "spec.selector: not supported on edgevirt"),
    ("  dataSource: {kind: AnyVolumePopulator, apiGroup: populator.example.com, name: s}\n", "NotSupported",
     "spec.dataSource.kind: Unsupported value"),
    ("  dataSourceRef: {kind: VolumeSnapshot, apiGroup: snapshot.storage.k8s.io, name: s, namespace: other}\n", "NotSupported",
     "restored in its own namespace"),
    ("  volumeMode: Tape\n", "Invalid", "spec.volumeMode: unsupported value \"Tape\""),
])
def test_refused_claims(client, spec_extra, error, fragment):
    msg = expect_error(error, client.apply, pvc("bad", spec_extra=spec_extra))
    assert fragment in msg, msg


def test_claims_need_size_and_modes(client):
    msg = expect_error("Invalid", client.apply, "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: x}\n"
                       "spec: {accessModes: [ReadWriteOnce]}\n")
    assert "spec.resources.requests.storage: Required value" in msg
    msg = expect_error("Invalid", client.apply, "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: x}\n"
                       "spec: {resources: {requests: {storage: 1Gi}}}\n")
    assert "spec.accessModes: Required value" in msg
    msg = expect_error("Invalid", client.apply, pvc("x", "12XB"))
    assert "spec.resources.requests.storage" in msg and "12XB" in msg


def test_namespace_deletion_frees_volumes(client):
    client.manager.CreateNamespace("scratch", {})
    client.apply(pvc("tmp", namespace="scratch"))
    wait_phase(client, "tmp", "Bound", "scratch")
    f = volume_file(client, "tmp", "scratch")
    client.manager.DeleteNamespace("scratch")
    wait_until(lambda: not client.exists("ns", "", "scratch"), what="the namespace to go")
    assert not os.path.exists(f)


def test_restart_adopts_removes_orphans_and_marks_lost(bus, state_dir):
    d = Daemon(bus, state_dir).start()
    c = Client(bus.conn)
    try:
        c.apply(pvc("keep") + "---\n" + pvc("vanish"))
        wait_phase(c, "keep", "Bound")
        wait_phase(c, "vanish", "Bound")
        keep, vanish = volume_file(c, "keep"), volume_file(c, "vanish")
        write_pattern(keep, 0, b"survives")
        d.kill(signal.SIGKILL)
        orphan = os.path.join(os.path.dirname(keep), f"pvc-{uuid.uuid4()}.img")
        open(orphan, "w").close()
        os.unlink(vanish)
        d.start()
        wait_phase(c, "vanish", "Lost")
        assert c.props(path_of("vanish"), PVC_IFACE)["Reason"] == "VolumeMissing"
        wait_until(lambda: not os.path.exists(orphan), what="the orphan volume to be removed")
        assert phase(c, "keep") == "Bound" and read_at(keep, 0, 8) == b"survives"
        # a Lost claim can still be deleted
        c.delete("pvc", "default", "vanish")
        wait_until(lambda: not c.exists("pvc", "default", "vanish"), what="the lost claim to go")
    finally:
        d.stop()


def test_storage_classes_are_objects(client):
    sc = client.list("storageclasses")["items"]
    assert [s["metadata"]["name"] for s in sc] == ["local"]
    assert sc[0]["provisioner"] == "edgevirt.io/dir"
    assert sc[0]["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    assert sc[0]["allowVolumeExpansion"] is True
    assert "/org/edgevirt/EdgeVirt1/storageclass/local" in client.managed_objects()
    msg = expect_error("Forbidden", client.apply,
                       "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: mine}\nprovisioner: x\n")
    assert "configuration" in msg
    expect_error("Forbidden", client.delete, "sc", "", "local")


def test_lvm_class_without_volume_group_is_not_ready(bus, state_dir, tmp_path):
    """On this host lvm can only touch metadata: a class naming a volume
    group that does not exist is reported, and its claims wait."""
    conf = tmp_path / "edgevirtd.conf"
    conf.write_text("[StorageClass thin]\nBackend=lvm-thin\nVolumeGroup=edgevirt-missing-vg\nThinPool=pool\n"
                    "LvmConfig=devices{scan_lvs=0 obtain_device_list_from_udev=0 use_devicesfile=0 filter=[\"r|.*|\"]} "
                    "global{activation=0}\n")
    d = Daemon(bus, state_dir, ["--config=" + str(conf)]).start()
    try:
        c = Client(bus.conn)
        c.apply(pvc("thin-claim", spec_extra="  storageClassName: thin\n"))
        wait_until(lambda: c.props(path_of("thin-claim"), PVC_IFACE)["Reason"] == "StorageClassNotReady",
                   what="StorageClassNotReady", timeout=30)
        assert 'volume group "edgevirt-missing-vg" not found' in c.props(path_of("thin-claim"), PVC_IFACE)["Message"]
        # the log line is filed under the class (journald: OBJECT_KIND=StorageClass OBJECT_NAME=thin)
        wait_until(lambda: "StorageClass thin: storage class thin is not usable" in d.read_log(),
                   what="the log line about the class", timeout=10)
    finally:
        d.stop()


@pytest.mark.parametrize("text,fragment", [
    ("[StorageClass x]\nBackend=nfs\n", "Backend=nfs is not dir or lvm-thin"),
    ("[StorageClass x]\nBackend=lvm-thin\nVolumeGroup=vg\n", "needs VolumeGroup= and ThinPool="),
    ("[StorageClass x]\nBackend=dir\nCapacity=lots\n", "Capacity=lots"),
    ("[StorageClass x]\nBackend=dir\nColour=blue\n", "[StorageClass x] has no setting Colour"),
    ("[StorageClass a]\nBackend=dir\nDefault=true\n[StorageClass b]\nBackend=dir\nDefault=true\n", "both Default=true"),
    ("[StorageClass Bad_Name]\nBackend=dir\n", "class name"),
])
def test_storage_class_config_errors(tmp_path, text, fragment):
    import subprocess
    from conftest import DAEMON
    conf = tmp_path / "edgevirtd.conf"
    conf.write_text(text)
    r = subprocess.run([DAEMON, "--bus=unix:path=/nonexistent", "--config=" + str(conf),
                        "--state-dir=" + str(tmp_path / "s")], capture_output=True, text=True, timeout=10)
    assert r.returncode != 0 and fragment in r.stderr, r.stderr


@pytest.fixture
def loop_device(tmp_path):
    """A loop device over a sparse file, for LVM metadata on the host."""
    import subprocess
    backing = tmp_path / "pv.img"
    with open(backing, "wb") as f:
        f.truncate(256 << 20)
    dev = subprocess.check_output(["losetup", "--find", "--show", str(backing)], text=True).strip()
    yield dev
    subprocess.run(["losetup", "-d", dev])


def test_lvm_class_creates_its_volume_group_on_the_host(bus, state_dir, tmp_path, loop_device):
    """Metadata only (no device-mapper here, see tests/dm for the real
    thing): the class makes its volume group on Devices=, then reports that
    the thin pool cannot be made, and its claims wait with that reason."""
    import subprocess
    vg = "edgevirt-test-" + uuid.uuid4().hex[:8]
    lvm_config = ("devices{scan_lvs=0 obtain_device_list_from_udev=0 use_devicesfile=0 "
                  f"filter=[\"a|^{loop_device}$|\",\"r|.*|\"]}} global{{activation=0}} "
                  "activation{udev_sync=0 udev_rules=0 monitoring=0}")
    conf = tmp_path / "edgevirtd.conf"
    conf.write_text(f"[StorageClass thin]\nBackend=lvm-thin\nVolumeGroup={vg}\nThinPool=pool\n"
                    f"Devices={loop_device}\nLvmConfig={lvm_config}\n")
    d = Daemon(bus, state_dir, ["--config=" + str(conf)]).start()
    try:
        c = Client(bus.conn)
        c.apply(pvc("on-thin", spec_extra="  storageClassName: thin\n"))
        wait_until(lambda: c.props(path_of("on-thin"), PVC_IFACE)["Reason"] == "StorageClassNotReady",
                   what="StorageClassNotReady", timeout=60)
        msg = c.props(path_of("on-thin"), PVC_IFACE)["Message"]
        assert "thin-pool" in msg and vg in msg, msg
        vgs = subprocess.run(["lvm", "vgs", "--config", lvm_config, "--reportformat", "json", "-o", "vg_name,pv_count"],
                             capture_output=True, text=True)
        assert vg in vgs.stdout, vgs.stdout + vgs.stderr
    finally:
        d.stop()
        subprocess.run(["lvm", "vgremove", "-y", "--config", lvm_config, vg], capture_output=True)
