# SPDX-License-Identifier: LGPL-2.1-or-later
"""edgevirtctl export --push-disks (PersistentVolumeClaim.Push): the VMs'
disks pushed as containerDisks to a docker-registry on loopback, the
manifests turned into DataVolumes importing them; a fresh daemon applying
the export gets the same bytes; a second export sends no blob again."""
import hashlib
import io
import json
import os
import re
import socket
import subprocess
import tarfile
import time
import urllib.request

import dbus
import pytest
import yaml

from conftest import COMPAT, ROOT, Client, Daemon, expect_error, path_encode, wait_until
from servers import Registry
from test_cli import CTL, complete, ctl, openapi_check  # noqa: F401 (the fixture)

PVC = "org.edgevirt.EdgeVirt1.PersistentVolumeClaim"
MANIFESTS = (
    "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\n"
    "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 16Mi}}}\n---\n"
    "apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\nmetadata: {name: disk}\n"
    "spec: {source: {blank: {}}, storage: {resources: {requests: {storage: 8Mi}}}}\n---\n"
    "apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata: {name: web}\n"
    "spec:\n  runStrategy: Halted\n"
    "  dataVolumeTemplates:\n  - metadata: {name: web-root}\n"
    "    spec: {source: {blank: {}}, storage: {resources: {requests: {storage: 16Mi}}}}\n"
    "  template:\n    spec:\n      domain: {memory: {guest: 64Mi}, devices: {disks: [{name: root, disk: {}}]}}\n"
    "      volumes: [{name: root, dataVolume: {name: web-root}},\n"
    "                {name: data, persistentVolumeClaim: {claimName: data}},\n"
    "                {name: disk, dataVolume: {name: disk}}]\n")
CLAIMS = ("web-root", "data", "disk")


def volume_path(bus, ns, claim):
    c = Client(bus.conn)
    return str(c.props(f"{ROOT}/namespace/{path_encode(ns)}/pvc/{path_encode(claim)}", PVC)["VolumePath"])


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


def fill(path, seed):
    """Data in a few places and holes between (a sparse disk)."""
    with open(path, "r+b") as f:
        for i, off in enumerate((0, 3 << 20, 7 << 20)):
            f.seek(off)
            f.write(hashlib.sha256(f"{seed}{i}".encode()).digest() * 4096)


def registry_get(reg, path, accept=None):
    req = urllib.request.Request(f"http://{reg.host}/v2/{path}")
    if accept:
        req.add_header("Accept", accept)
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read()


@pytest.fixture
def registry(tmp_path):
    (tmp_path / "registry").mkdir()
    r = Registry(str(tmp_path / "registry"))
    yield r
    r.stop()


@pytest.fixture
def shop(ctl, bus):
    ctl("new-project", "shop")
    ctl("apply", "-f", "-", input=MANIFESTS)
    for claim in CLAIMS:
        ctl("wait", f"pvc/{claim}", "--for=jsonpath={.status.phase}=Bound", "--timeout=30s")
    ctl("wait", "dv/disk", "--for=condition=Ready", "--timeout=30s")
    ctl("wait", "dv/web-root", "--for=condition=Ready", "--timeout=30s")
    sums = {}
    for i, claim in enumerate(CLAIMS):
        path = volume_path(bus, "shop", claim)
        fill(path, claim)
        sums[claim] = sha256_file(path)
    return sums


def test_push_disks_and_import_them_on_a_fresh_daemon(ctl, bus, tmp_path, registry, shop):
    prefix = f"{registry.host}/edge"
    r = ctl("export", f"--push-disks={prefix}", "--tls-verify=false", "-o", "json")
    docs = json.loads(r.stdout)["items"]
    by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    # the claim became a DataVolume of its name, the DataVolumes (template
    # and object) import the pushed images, tagged by their content
    assert ("PersistentVolumeClaim", "data") not in by
    sources = {"data": by[("DataVolume", "data")], "disk": by[("DataVolume", "disk")],
               "web-root": by[("VirtualMachine", "web")]["spec"]["dataVolumeTemplates"][0]}
    for claim, dv in sources.items():
        tag = "sha256-" + shop[claim].split(":")[1]
        assert dv["spec"]["source"] == {"registry": {"url": f"docker://{prefix}/shop-{claim}:{tag}"}}, dv
        assert dv["metadata"]["annotations"]["edgevirt.io/disk-checksum"] == shop[claim]
    assert by[("DataVolume", "data")]["spec"]["storage"] == {
        "accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem", "resources": {"requests": {"storage": "16Mi"}}}
    assert r.stderr.count("pushed docker://") == 3
    # progress, from the daemon's PushProgress signals: the last one says all is sent
    done = re.findall(r"^  data: (\d+) of (\d+) bytes$", r.stderr, re.M)
    assert done and done[-1][0] == done[-1][1] and int(done[-1][1]) > 0, r.stderr
    # what KubeVirt's published schema says of them
    with open(os.path.join(COMPAT, "kubevirt-openapi.json")) as f:
        definitions = json.load(f)["definitions"]
    for name in ("data", "disk"):
        dv = by[("DataVolume", name)]
        assert set(dv) == {"apiVersion", "kind", "metadata", "spec"} and dv["apiVersion"] == "cdi.kubevirt.io/v1beta1"
        openapi_check(definitions["v1beta1.DataVolumeSpec"], definitions, dv["spec"])
        openapi_check(definitions["k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta"], definitions, dv["metadata"],
                      "metadata")
    openapi_check(definitions["v1.VirtualMachine"], definitions, by[("VirtualMachine", "web")], "VirtualMachine")

    # a containerDisk: one layer, disk/disk.qcow2 owned by 107, the checksum annotated
    tag = "sha256-" + shop["data"].split(":")[1]
    ref = f"docker://{prefix}/shop-data:{tag}"
    info = json.loads(subprocess.run(["skopeo", "inspect", "--tls-verify=false", ref], check=True,
                                     capture_output=True, text=True).stdout)
    assert len(info["Layers"]) == 1 and info["Architecture"] == "amd64" and info["Os"] == "linux"
    manifest = json.loads(registry_get(registry, f"edge/shop-data/manifests/{tag}",
                                       "application/vnd.oci.image.manifest.v1+json"))
    assert manifest["annotations"] == {"org.edgevirt.disk.checksum": shop["data"],
                                       "org.edgevirt.disk.size": str(16 << 20)}
    blob = registry_get(registry, f"edge/shop-data/blobs/{manifest['layers'][0]['digest']}")
    assert "sha256:" + hashlib.sha256(blob).hexdigest() == manifest["layers"][0]["digest"]
    with tarfile.open(fileobj=io.BytesIO(blob)) as t:
        members = {m.name: m for m in t.getmembers()}
        assert set(members) == {"disk", "disk/disk.qcow2"}
        assert (members["disk/disk.qcow2"].uid, members["disk/disk.qcow2"].gid) == (107, 107)
        qcow2 = t.extractfile("disk/disk.qcow2").read()
    assert qcow2[:4] == b"QFI\xfb"
    # holes are not sent: 16 MiB with 384 KiB of data (compressed)
    assert len(blob) < 1 << 20, len(blob)

    # again: the same references, no blob sent again
    again = ctl("export", f"--push-disks={prefix}", "--tls-verify=false", "-o", "json")
    assert json.loads(again.stdout) == json.loads(r.stdout)
    assert again.stderr.count(" 0 bytes sent)") == 3, again.stderr

    # a fresh daemon applying the export gets the same bytes
    ctl.daemon.stop()
    fresh = Daemon(bus, str(tmp_path / "fresh-state")).start()
    try:
        ctl("apply", "-f", "-", input=r.stdout)
        for claim in CLAIMS:
            ctl("wait", f"dv/{claim}", "-n", "shop", "--for=condition=Ready", "--timeout=60s")
        for claim in CLAIMS:
            assert sha256_file(volume_path(bus, "shop", claim)) == shop[claim], claim
    finally:
        fresh.stop()


def test_push_errors(ctl, bus, registry, shop):
    c = Client(bus.conn)
    pvc = dbus.Interface(bus.conn.get_object("org.edgevirt.EdgeVirt1", f"{ROOT}/namespace/shop/pvc/data"), PVC)
    # bad input named
    msg = expect_error("org.freedesktop.DBus.Error.InvalidArgs", pvc.Push, f"{registry.host}/edge/Data:v1", {})
    assert "repository" in msg and "no tag" in msg
    msg = expect_error("org.freedesktop.DBus.Error.InvalidArgs", pvc.Push, f"{registry.host}/x", {"tls-verfy": False})
    assert "tls-verfy" in msg
    msg = expect_error("NotFound", pvc.Push, f"{registry.host}/x", {"creds-secret": "nope"})
    assert msg.startswith("creds-secret: ") and "nope" in msg
    # nothing listening there: the reason, from the importer
    r = ctl("export", "--push-disks=127.0.0.1:1/edge", ok=False)
    assert r.returncode == 1 and "pushing the disk of claim" in r.stderr and "127.0.0.1:1" in r.stderr, r.stderr
    r = ctl("export", "--tls-verify=false", ok=False)
    assert r.returncode == 1 and "--push-disks" in r.stderr
    # a running VM's disk is being written: refused
    ctl("start", "web")
    wait_until(lambda: c.get_json("vmi", "shop", "web").get("status", {}).get("phase") == "Running",
               timeout=30, what="the VM to run")
    msg = expect_error("Conflict", pvc.Push, f"{registry.host}/edge/x", {"tls-verify": False})
    assert "in use" in msg


def test_completion_offers_the_push_options(ctl):
    assert {"--push-disks=", "--tls-verify=", "--creds-secret="} <= complete(ctl, "edgevirtctl export --")


def test_push_with_credentials(ctl, tmp_path, shop):
    (tmp_path / "auth-registry").mkdir()
    reg = Registry(str(tmp_path / "auth-registry"), auth=True)
    try:
        prefix = f"{reg.host}/edge"
        r = ctl("export", f"--push-disks={prefix}", ok=False)
        assert r.returncode == 1 and "unauthorized" in r.stderr, r.stderr
        ctl("apply", "-f", "-", input="apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\n"
                                      "stringData: {accessKeyId: puller, secretKey: s3cret}\n")
        docs = json.loads(ctl("export", f"--push-disks={prefix}", "--creds-secret=creds", "-o", "json").stdout)["items"]
        dv = next(d for d in docs if d["kind"] == "DataVolume" and d["metadata"]["name"] == "data")
        url = dv["spec"]["source"]["registry"]["url"]
        assert dv["spec"]["source"]["registry"]["secretRef"] == "creds" and url.startswith(f"docker://{prefix}/shop-data:")
        subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"--creds={reg.creds}", url], check=True,
                       capture_output=True)
    finally:
        reg.stop()


def test_an_image_whose_disk_is_not_its_checksum_is_refused(ctl, bus, registry, shop):
    prefix = f"{registry.host}/edge"
    ctl("export", f"--push-disks={prefix}")
    tag = "sha256-" + shop["data"].split(":")[1]
    manifest = json.loads(registry_get(registry, f"edge/shop-data/manifests/{tag}",
                                       "application/vnd.oci.image.manifest.v1+json"))
    # the same layer under a manifest claiming other bytes
    manifest["annotations"]["org.edgevirt.disk.checksum"] = "sha256:" + "0" * 64
    req = urllib.request.Request(f"http://{registry.host}/v2/edge/shop-data/manifests/tampered",
                                 data=json.dumps(manifest).encode(), method="PUT",
                                 headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    urllib.request.urlopen(req, timeout=30).close()
    for name, ref in (("good", tag), ("bad", "tampered")):
        ctl("apply", "-f", "-", input=(
            f"apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\nmetadata: {{name: {name}}}\n"
            f"spec: {{source: {{registry: {{url: 'docker://{prefix}/shop-data:{ref}'}}}}, "
            "storage: {resources: {requests: {storage: 16Mi}}}}\n"))
    ctl("wait", "dv/good", "--for=condition=Ready", "--timeout=60s")
    assert sha256_file(volume_path(bus, "shop", "good")) == shop["data"]
    c = Client(bus.conn)
    wait_until(lambda: "not the sha256:0000" in json.dumps(c.get_json("dv", "shop", "bad").get("status", {})),
               timeout=60, what="the tampered image to be refused")
    status = c.get_json("dv", "shop", "bad")["status"]
    assert status.get("phase") != "Succeeded" and "org.edgevirt.disk.checksum" in json.dumps(status), status


def test_a_running_vm_is_pushed_from_a_snapshot(ctl, bus, registry, shop):
    c = Client(bus.conn)
    ctl("start", "web")
    wait_until(lambda: c.get_json("vmi", "shop", "web").get("status", {}).get("phase") == "Running",
               timeout=30, what="the VM to run")
    pvc = dbus.Interface(bus.conn.get_object("org.edgevirt.EdgeVirt1", f"{ROOT}/namespace/shop/pvc/data"), PVC)
    msg = expect_error("NotFound", pvc.Push, f"{registry.host}/edge/x", {"snapshot": "nope"})
    assert msg.startswith("snapshot: ") and "nope" in msg
    prefix = f"{registry.host}/edge"
    r = ctl("export", f"--push-disks={prefix}", "-o", "json")
    assert "VM web runs: taking snapshot export-web-" in r.stderr, r.stderr
    assert re.search(r"snapshot export-web-[0-9a-f]{8} taken \(Online, (GuestAgent|NoGuestAgent)\)", r.stderr), r.stderr
    docs = json.loads(r.stdout)["items"]
    data = next(d for d in docs if d["kind"] == "DataVolume" and d["metadata"]["name"] == "data")
    assert data["metadata"]["annotations"]["edgevirt.io/disk-checksum"] == shop["data"]
    assert r.stderr.count("pushed docker://") == 3
    # the snapshot was the export's: it is gone, the VM runs on
    wait_until(lambda: not c.list("vmsnapshot", "shop")["items"], timeout=30,
               what="the export's snapshot to go")
    assert c.get_json("vmi", "shop", "web")["status"]["phase"] == "Running"


def test_push_to_a_token_registry(ctl, tmp_path, shop):
    from test_registry import TokenServer
    (tmp_path / "token-registry").mkdir()
    token = TokenServer(str(tmp_path / "token-registry"))
    reg = Registry(str(tmp_path / "token-registry"), token=token)
    try:
        ctl("apply", "-f", "-", input="apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\n"
                                      "stringData: {accessKeyId: puller, secretKey: s3cret}\n")
        docs = json.loads(ctl("export", f"--push-disks={reg.host}/edge", "--creds-secret=creds", "-o", "json").stdout)
        assert sum(1 for d in docs["items"] if d["kind"] == "DataVolume") == 2
        # the first token (the HEAD's) was for pulling; pushing asked for another
        scopes = [p for p, _ in token.requests if "push" in p]
        assert scopes, token.requests
    finally:
        reg.stop()
        token.stop()


def test_a_guest_waits_for_a_push_of_its_disk(ctl, bus, shop):
    """While a Push reads a claim, no guest may take it (its bytes would change between
    the checksum and the layer): the VM stays Pending with the reason, then starts."""
    c = Client(bus.conn)
    stuck = socket.socket()
    stuck.bind(("127.0.0.1", 0))
    stuck.listen(8)            # never accepts: the push waits on its connection
    env = dict(os.environ, EDGEVIRT_BUS=ctl.bus_address, XDG_CONFIG_HOME=str(ctl.config.parent.parent), LC_ALL="C")
    push = subprocess.Popen([CTL, "export", f"--push-disks=127.0.0.1:{stuck.getsockname()[1]}/edge"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1)          # the first claim's push is under way
        ctl("start", "web")
        wait_until(lambda: "being pushed to a registry" in json.dumps(
            c.get_json("vmi", "shop", "web") if c.exists("vmi", "shop", "web") else {}),
            timeout=30, what="the VM to wait for the push")
        assert c.get_json("vmi", "shop", "web")["status"]["phase"] == "Pending"
    finally:
        stuck.close()          # the push fails; the claim is free again
        push.wait(timeout=60)
    wait_until(lambda: c.get_json("vmi", "shop", "web").get("status", {}).get("phase") == "Running",
               timeout=30, what="the VM to run once the push ended")


def test_an_export_that_dies_leaves_a_labelled_snapshot(ctl, bus, shop):
    """The snapshot export takes of a running VM is labelled, so a client that dies
    before deleting it leaves something findable (docs/export.md)."""
    c = Client(bus.conn)
    ctl("start", "web")
    wait_until(lambda: c.get_json("vmi", "shop", "web").get("status", {}).get("phase") == "Running",
               timeout=30, what="the VM to run")
    stuck = socket.socket()
    stuck.bind(("127.0.0.1", 0))
    stuck.listen(8)
    env = dict(os.environ, EDGEVIRT_BUS=ctl.bus_address, XDG_CONFIG_HOME=str(ctl.config.parent.parent), LC_ALL="C")
    push = subprocess.Popen([CTL, "export", f"--push-disks=127.0.0.1:{stuck.getsockname()[1]}/edge"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: c.list("vmsnapshot", "shop")["items"], timeout=30, what="the export's snapshot")
    finally:
        push.kill()
        push.wait(timeout=30)
        stuck.close()
    snap = c.list("vmsnapshot", "shop")["items"][0]
    assert snap["metadata"]["labels"] == {"edgevirt.io/export-push": "true"}, snap["metadata"]
    listed = ctl("get", "vmsnapshot", "-l", "edgevirt.io/export-push=true", "-o", "name").stdout.split()
    assert len(listed) == 1 and listed[0].endswith("/" + snap["metadata"]["name"]), listed
