# SPDX-License-Identifier: LGPL-2.1-or-later
"""VirtualMachineExport (export.kubevirt.io) and edgevirtctl vmexport:
exports of a claim, a stopped VM and a snapshot, their status checked
against KubeVirt's OpenAPI schema, downloads in raw, gzip and qcow2 that
qemu-img finds identical to the source, the checksum, the manifests, the
token, the ttl, deletion and bad input."""
import base64
import gzip
import json
import os
import subprocess

import dbus
import pytest
import yaml

from conftest import COMPAT, ROOT, Client, Daemon, expect_error, path_encode, wait_until
from test_cli import complete, ctl, openapi_check  # noqa: F401 (the fixture)
from test_export_push import fill, sha256_file, volume_path

EXPORT = "org.edgevirt.EdgeVirt1.VirtualMachineExport"
MANIFESTS = (
    "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\n"
    "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 16Mi}}}\n---\n"
    "apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata: {name: web, labels: {app: web}}\n"
    "spec:\n  runStrategy: Halted\n"
    "  dataVolumeTemplates:\n  - metadata: {name: web-root}\n"
    "    spec: {source: {blank: {}}, storage: {resources: {requests: {storage: 8Mi}}}}\n"
    "  template:\n    spec:\n      domain: {memory: {guest: 64Mi}, devices: {disks: [{name: root, disk: {}}]}}\n"
    "      volumes: [{name: root, dataVolume: {name: web-root}},\n"
    "                {name: data, persistentVolumeClaim: {claimName: data}}]\n")


def export_doc(name, kind, source, **spec):
    group = {"VirtualMachine": "kubevirt.io", "VirtualMachineSnapshot": "snapshot.kubevirt.io"}.get(kind)
    src = {"kind": kind, "name": source}
    if group:
        src["apiGroup"] = group
    return json.dumps({"apiVersion": "export.kubevirt.io/v1beta1", "kind": "VirtualMachineExport",
                       "metadata": {"name": name, "namespace": "shop"}, "spec": {"source": src, **spec}})


def export_obj(bus, name):
    return dbus.Interface(bus.conn.get_object("org.edgevirt.EdgeVirt1",
                                              f"{ROOT}/namespace/shop/vmexport/{path_encode(name)}"), EXPORT)


def wait_ready(c, name, timeout=30):
    wait_until(lambda: c.get_json("vmexport", "shop", name).get("status", {}).get("phase") == "Ready",
               timeout=timeout, what=f"export {name} to be Ready")
    return c.get_json("vmexport", "shop", name)


def token_of(c, doc):
    secret = c.get_json("secret", "shop", doc["status"]["tokenSecretRef"])
    return base64.b64decode(secret["data"]["token"]).decode()


@pytest.fixture
def shop(ctl, bus):
    ctl("new-project", "shop")
    ctl("apply", "-f", "-", input=MANIFESTS)
    ctl("start", "web")
    ctl("stop", "web")
    for claim in ("data", "web-root"):
        ctl("wait", f"pvc/{claim}", "--for=jsonpath={.status.phase}=Bound", "--timeout=30s")
    sums = {}
    for claim in ("data", "web-root"):
        path = volume_path(bus, "shop", claim)
        fill(path, claim)
        sums[claim] = sha256_file(path)
    return sums


def schema_check(doc):
    with open(os.path.join(COMPAT, "kubevirt-openapi.json")) as f:
        definitions = json.load(f)["definitions"]
    openapi_check(definitions["v1.VirtualMachineExport"], definitions, doc, "VirtualMachineExport")


def test_export_of_a_claim_downloads_in_each_format(bus, ctl, shop, tmp_path):
    c = Client(bus.conn)
    c.apply(export_doc("ex", "PersistentVolumeClaim", "data"))
    doc = wait_ready(c, "ex")
    schema_check(doc)
    st = doc["status"]
    assert st["tokenSecretRef"] == "export-token-ex"
    assert doc["metadata"]["annotations"]["checksum.edgevirt.io/data"] == shop["data"]
    vols = st["links"]["internal"]["volumes"]
    assert [v["name"] for v in vols] == ["data"]
    assert [f["format"] for f in vols[0]["formats"]] == ["raw", "gzip", "qcow2"]
    assert vols[0]["formats"][0]["url"] == \
        "edgevirt://localhost/namespaces/shop/virtualmachineexports/ex/volumes/data/disk.img"
    assert st["links"]["internal"]["cert"] == "" and "external" not in st["links"]
    assert "manifests" not in st["links"]["internal"]      # a claim has no VM
    token = token_of(c, doc)
    x = export_obj(bus, "ex")
    src = volume_path(bus, "shop", "data")
    for fmt in ("raw", "gzip", "qcow2"):
        out = tmp_path / f"out.{fmt}"
        with open(out, "wb") as f:
            checksum, written = x.Download("data", fmt, token, dbus.types.UnixFd(f.fileno()), {})
        assert checksum == shop["data"]
        assert written == (os.path.getsize(out) if fmt != "raw" else written)
        if fmt == "gzip":
            with gzip.open(out) as g, open(tmp_path / "unzipped", "wb") as u:
                u.write(g.read())
            out, fmt = tmp_path / "unzipped", "raw"
        subprocess.run(["qemu-img", "compare", "-f", "raw", "-F", fmt, src, str(out)], check=True,
                       capture_output=True)
    assert sha256_file(tmp_path / "out.raw") == shop["data"]
    # holes stay holes in a file; the qcow2 leaves them out: 16 MiB with 384 KiB of data
    assert os.stat(tmp_path / "out.raw").st_blocks * 512 < 2 << 20
    assert os.path.getsize(tmp_path / "out.qcow2") < 1 << 20
