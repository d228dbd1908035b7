# SPDX-License-Identifier: LGPL-2.1-or-later
"""VirtualMachineExport (export.kubevirt.io) and edgevirtctl vmexport:
exports of a claim, a stopped VM and a snapshot, their status checked
against KubeVirt's OpenAPI schema, downloads in raw, gzip and qcow2 that
qemu-img finds identical to the source, the checksum, the manifests, the
token, the ttl, deletion and bad input."""
import base64
import gzip
import hashlib
import json
import os
import shutil
import subprocess

import dbus
import pytest
import yaml

from conftest import BUILD, COMPAT, ROOT, Client, Daemon, expect_error, path_encode, wait_until
from test_cli import CTL, complete, ctl, openapi_check  # noqa: F401 (the fixture)
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


def data_bytes(path):
    """The bytes of a sparse file that are not in holes."""
    n, fd = 0, os.open(path, os.O_RDONLY)
    try:
        size, off = os.fstat(fd).st_size, 0
        while off < size:
            try:
                data = os.lseek(fd, off, os.SEEK_DATA)
            except OSError:
                break   # a hole to the end
            off = os.lseek(fd, data, os.SEEK_HOLE)
            n += off - data
    finally:
        os.close(fd)
    return n


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
        if fmt == "raw":    # as long as the volume; its holes left as holes, not written
            assert os.path.getsize(out) == os.path.getsize(src) and written == data_bytes(src)
        else:
            assert written == os.path.getsize(out)
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


def test_export_of_a_stopped_vm_and_its_manifests_apply_on_a_fresh_daemon(bus, ctl, shop, tmp_path):
    c = Client(bus.conn)
    c.apply(export_doc("vmx", "VirtualMachine", "web", ttlDuration="1h"))
    doc = wait_ready(c, "vmx")
    schema_check(doc)
    st = doc["status"]
    assert st["virtualMachineName"] == "web"
    assert sorted(v["name"] for v in st["links"]["internal"]["volumes"]) == ["data", "web-root"]
    assert st["links"]["internal"]["manifests"] == [
        {"type": "all", "url": "edgevirt://localhost/namespaces/shop/virtualmachineexports/vmx/manifests/all"}]
    assert not c.exists("vmsnapshot", "shop", "vmexport-vmx")     # stopped: its claims as they are
    token = token_of(c, doc)
    x = export_obj(bus, "vmx")
    text = str(x.GetManifests("all", token, {}))
    items = yaml.safe_load(text)["items"]
    by = {(i["kind"], i["metadata"]["name"]): i for i in items}
    assert set(by) == {("VirtualMachine", "web"), ("DataVolume", "data")}
    vm = by[("VirtualMachine", "web")]
    assert vm["metadata"] == {"name": "web", "labels": {"app": "web"}} and "status" not in vm
    assert vm["spec"]["dataVolumeTemplates"][0]["spec"]["source"] == {"upload": {}}
    dv = by[("DataVolume", "data")]
    assert dv["spec"]["source"] == {"upload": {}}
    assert dv["metadata"]["annotations"] == {"edgevirt.io/disk-checksum": shop["data"]}
    with open(os.path.join(COMPAT, "kubevirt-openapi.json")) as f:
        definitions = json.load(f)["definitions"]
    openapi_check(definitions["v1.VirtualMachine"], definitions, vm, "VirtualMachine")
    openapi_check(definitions["v1beta1.DataVolumeSpec"], definitions, dv["spec"])
    # the disk goes along: downloaded, and uploaded into the DataVolumes on a fresh daemon
    with open(tmp_path / "root.qcow2", "wb") as f:
        x.Download("web-root", "qcow2", token, dbus.types.UnixFd(f.fileno()), {})
    ctl.daemon.stop()
    fresh = Daemon(bus, str(tmp_path / "fresh-state")).start()
    try:
        ctl("new-project", "moved")
        ctl("apply", "-n", "moved", "-f", "-", input=text)
        ctl("image-upload", "dv", "web-root", "-n", "moved", "--no-create",
            f"--image-path={tmp_path / 'root.qcow2'}")
        ctl("wait", "dv/web-root", "-n", "moved", "--for=condition=Ready", "--timeout=60s")
        assert sha256_file(volume_path(bus, "moved", "web-root")) == shop["web-root"]
    finally:
        fresh.stop()


def test_export_of_a_snapshot_and_of_a_running_vm(bus, ctl, shop, tmp_path):
    c = Client(bus.conn)
    ctl("apply", "-f", "-", input="apiVersion: snapshot.kubevirt.io/v1beta1\nkind: VirtualMachineSnapshot\n"
                                  "metadata: {name: snap}\nspec: {source: {apiGroup: kubevirt.io, "
                                  "kind: VirtualMachine, name: web}}\n")
    ctl("wait", "vmsnapshot/snap", "--for=condition=Ready", "--timeout=30s")
    fill(volume_path(bus, "shop", "data"), "changed")     # after the snapshot: not exported
    c.apply(export_doc("sx", "VirtualMachineSnapshot", "snap"))
    doc = wait_ready(c, "sx")
    schema_check(doc)
    assert doc["status"]["virtualMachineName"] == "web"
    assert doc["metadata"]["annotations"]["checksum.edgevirt.io/data"] == shop["data"]
    with open(tmp_path / "data.raw", "wb") as f:
        export_obj(bus, "sx").Download("data", "raw", token_of(c, doc), dbus.types.UnixFd(f.fileno()), {})
    assert sha256_file(tmp_path / "data.raw") == shop["data"]

    # a running VM: exported from a snapshot the export takes and owns
    ctl("start", "web")
    wait_until(lambda: c.get_json("vmi", "shop", "web").get("status", {}).get("phase") == "Running",
               timeout=30, what="the VM to run")
    changed = sha256_file(volume_path(bus, "shop", "data"))
    c.apply(export_doc("live", "VirtualMachine", "web"))
    doc = wait_ready(c, "live")
    snap = c.get_json("vmsnapshot", "shop", "vmexport-live")
    assert snap["metadata"]["ownerReferences"][0]["uid"] == doc["metadata"]["uid"]
    assert doc["metadata"]["annotations"]["checksum.edgevirt.io/data"] == changed
    c.delete("vmexport", "shop", "live")
    wait_until(lambda: not c.exists("vmsnapshot", "shop", "vmexport-live"), what="the export's snapshot to go")
    assert not c.exists("secret", "shop", "export-token-live")


def test_token_ttl_delete_and_bad_input(bus, ctl, shop, tmp_path):
    c = Client(bus.conn)
    ctl("apply", "-f", "-", input="apiVersion: v1\nkind: Secret\nmetadata: {name: mine}\n"
                                  "stringData: {token: s3cret-token}\n")
    c.apply(export_doc("ex", "PersistentVolumeClaim", "data", tokenSecretRef="mine"))
    doc = wait_ready(c, "ex")
    assert doc["status"]["tokenSecretRef"] == "mine"
    x = export_obj(bus, "ex")
    out = open(tmp_path / "out", "wb")
    fd = dbus.types.UnixFd(out.fileno())
    msg = expect_error("AccessDenied", x.Download, "data", "raw", "wrong", fd, {})
    assert "token" in msg and "mine" in msg
    expect_error("AccessDenied", x.Download, "data", "raw", "", fd, {})
    for near in ("s3cret-toke", "s3cret-token!", "s3cret-tokeN", "x" * 4096):    # compared whole, not a prefix
        expect_error("AccessDenied", x.Download, "data", "raw", near, fd, {})
    msg = expect_error("org.freedesktop.DBus.Error.InvalidArgs", x.Download, "data", "vmdk", "s3cret-token", fd, {})
    assert "format" in msg and "vmdk" in msg
    msg = expect_error("NotFound", x.Download, "nope", "raw", "s3cret-token", fd, {})
    assert '"nope"' in msg and "data" in msg
    msg = expect_error("org.freedesktop.DBus.Error.InvalidArgs", x.Download, "data", "raw", "s3cret-token",
                       dbus.types.UnixFd(open("/dev/null")), {})
    assert "not open for writing" in msg
    msg = expect_error("org.freedesktop.DBus.Error.InvalidArgs", x.GetManifests, "secret", "s3cret-token", {})
    assert "type" in msg
    checksum, _ = x.Download("data", "raw", "s3cret-token", fd, {})
    assert checksum == shop["data"]
    out.close()
    # a given token Secret is the user's: not deleted with the export
    c.delete("vmexport", "shop", "ex")
    assert c.exists("secret", "shop", "mine")

    # unknown sources wait, as KubeVirt's do, and say why
    c.apply(export_doc("lost", "PersistentVolumeClaim", "nope"))
    wait_until(lambda: "nope" in json.dumps(c.get_json("vmexport", "shop", "lost").get("status", {})),
               what="the export to say why it waits")
    st = c.get_json("vmexport", "shop", "lost")["status"]
    assert st["phase"] == "Pending"
    ready = next(cond for cond in st["conditions"] if cond["type"] == "Ready")
    assert ready["reason"] == "PVCNotFound" and "shop/nope not found" in ready["message"]
    schema_check(c.get_json("vmexport", "shop", "lost"))
    # bad specs are refused, naming the field
    for spec, field in ((export_doc("b1", "DataVolume", "data"), "spec.source.kind"),
                        (export_doc("b2", "VirtualMachine", "web", ttlDuration="soon"), "spec.ttlDuration"),
                        (export_doc("b3", "PersistentVolumeClaim", ""), "spec.source.name")):
        msg = expect_error("Invalid", c.apply, spec)
        assert field in msg, msg
    # an expiry past the year 9999 cannot be said in ttlExpirationTime
    msg = expect_error("Invalid", c.apply, export_doc("b4", "PersistentVolumeClaim", "data",
                                                      ttlDuration="100000000h"))
    assert "spec.ttlDuration" in msg and "100000000h" in msg and "9999" in msg, msg
    assert not c.exists("vmexport", "shop", "b4")
    msg = expect_error("Invalid", c.apply, export_doc("lost", "PersistentVolumeClaim", "data"))
    assert "immutable" in msg

    # the ttl: gone when it is over, with its token Secret
    c.apply(export_doc("brief", "PersistentVolumeClaim", "data", ttlDuration="3s"))
    doc = wait_ready(c, "brief")
    assert doc["status"]["ttlExpirationTime"]
    assert c.exists("secret", "shop", "export-token-brief")
    wait_until(lambda: not c.exists("vmexport", "shop", "brief"), timeout=15, what="the export to expire")
    wait_until(lambda: not c.exists("secret", "shop", "export-token-brief"), what="its token Secret to go")


def test_cli_vmexport_create_download_delete(bus, ctl, shop, tmp_path):
    c = Client(bus.conn)
    r = ctl("vmexport", "create", "cx", "--pvc=data", "--ttl=1h")
    assert "VirtualMachineExport shop/cx created" in r.stdout
    assert c.get_json("vmexport", "shop", "cx")["spec"]["ttlDuration"] == "1h"
    src = volume_path(bus, "shop", "data")
    out = tmp_path / "data.img.gz"
    r = ctl("vmexport", "download", "cx", f"--output={out}")        # gzip, virtctl's default
    assert f"written to {out} as gzip" in r.stdout and shop["data"] in r.stdout
    done = [line for line in r.stderr.splitlines() if line.startswith("  data: ")]
    assert done and done[-1].endswith(f"{16 << 20} of {16 << 20} bytes"), r.stderr
    with gzip.open(out) as g:
        raw = g.read()
    with open(src, "rb") as f:
        assert raw == f.read()
    ctl("vmexport", "download", "cx", f"--output={tmp_path / 'data.qcow2'}", "--format=qcow2", "--volume=data")
    subprocess.run(["qemu-img", "compare", "-f", "raw", "-F", "qcow2", src, str(tmp_path / "data.qcow2")],
                   check=True, capture_output=True)
    r = ctl("vmexport", "download", "cx", f"--output={tmp_path / 'x'}", "--volume=nope", ok=False)
    assert r.returncode == 1 and '"nope"' in r.stderr and "data" in r.stderr
    r = ctl("vmexport", "download", "cx", f"--output={tmp_path / 'x'}", "--format=vmdk", ok=False)
    assert r.returncode == 1 and "vmdk" in r.stderr
    assert "deleted" in ctl("vmexport", "delete", "cx").stdout
    assert not c.exists("vmexport", "shop", "cx")
    r = ctl("vmexport", "create", "bad", ok=False)
    assert r.returncode == 1 and "--vm=VM" in r.stderr
    r = ctl("vmexport", "delete", "cx", ok=False)
    assert r.returncode == 1 and "not found" in r.stderr

    # a source with download: made, used and deleted; several volumes want --volume
    r = ctl("vmexport", "download", "tmp", "--vm=web", f"--output={tmp_path / 'y'}", ok=False)
    assert r.returncode == 1 and "--volume" in r.stderr and "web-root" in r.stderr
    assert not c.exists("vmexport", "shop", "tmp")
    ctl("vmexport", "download", "tmp", "--vm=web", "--volume=web-root", "--format=raw",
        f"--output={tmp_path / 'root.img'}")
    assert sha256_file(tmp_path / "root.img") == shop["web-root"]
    assert not c.exists("vmexport", "shop", "tmp")
    ctl("vmexport", "download", "keep", "--vm=web", "--manifest", "--keep-vme", f"--output={tmp_path / 'm.yaml'}")
    kinds = [i["kind"] for i in yaml.safe_load((tmp_path / "m.yaml").read_text())["items"]]
    assert kinds == ["VirtualMachine", "DataVolume"]
    assert c.exists("vmexport", "shop", "keep")
    assert ctl("get", "vmexport", "-o", "name").stdout == "virtualmachineexport/keep\n"
    table = ctl("get", "vmexport").stdout.split("\n")
    assert table[0].split() == ["NAME", "SOURCEKIND", "SOURCENAME", "PHASE"]
    assert table[1].split() == ["keep", "VirtualMachine", "web", "Ready"]


def test_completion_offers_vmexport(ctl):
    assert complete(ctl, "edgevirtctl vmexport ") == {"create", "delete", "download"}
    assert {"--vm=", "--snapshot=", "--pvc=", "--ttl="} <= complete(ctl, "edgevirtctl vmexport create x --")
    assert {"--output=", "--volume=", "--format=", "--manifest", "--keep-vme"} <= \
        complete(ctl, "edgevirtctl vmexport download x --")


def test_a_download_holds_the_claim_it_reads(bus, ctl, shop, tmp_path):
    """A claim read in place: no guest takes it while a download reads it
    (into a FIFO nobody reads yet), and the export stays Ready."""
    c = Client(bus.conn)
    c.apply(export_doc("ex", "VirtualMachine", "web"))
    wait_ready(c, "ex")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    env = dict(os.environ, EDGEVIRT_BUS=ctl.bus_address, LC_ALL="C")
    p = subprocess.Popen([CTL, "vmexport", "download", "ex", "-n", "shop", "--volume=data", "--format=raw",
                          f"--output={fifo}"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with open(fifo, "rb") as f:
        f.read(1)
        ctl("start", "web")
        wait_until(lambda: "downloaded from an export" in json.dumps(c.get_json("vmi", "shop", "web")["status"]),
                   timeout=30, what="the VM to wait for the download")
        assert c.get_json("vmexport", "shop", "ex")["status"]["phase"] == "Ready"
        got = 1 + sum(len(b) for b in iter(lambda: f.read(1 << 20), b""))
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert got == 16 << 20 and shop["data"] in out
    wait_until(lambda: c.get_json("vmi", "shop", "web").get("status", {}).get("phase") == "Running",
               timeout=30, what="the VM to run once the download ends")


def test_namespace_export_leaves_an_exports_token_out(bus, ctl, shop):
    c = Client(bus.conn)
    c.apply(export_doc("ex", "PersistentVolumeClaim", "data"))
    wait_ready(c, "ex")
    assert c.exists("secret", "shop", "export-token-ex")
    names = {(d["kind"], d["metadata"]["name"]) for d in json.loads(ctl("export", "-o", "json").stdout)["items"]}
    assert ("Secret", "export-token-ex") not in names and ("PersistentVolumeClaim", "data") in names


def test_v1_is_taken_and_served_as_v1beta1(bus, shop):
    c = Client(bus.conn)
    c.apply(export_doc("ex", "PersistentVolumeClaim", "data").replace("export.kubevirt.io/v1beta1",
                                                                       "export.kubevirt.io/v1"))
    assert c.get_json("vmexport", "shop", "ex")["apiVersion"] == "export.kubevirt.io/v1beta1"


def test_a_volume_that_cannot_be_hashed_says_why(bus, ctl, shop):
    c = Client(bus.conn)
    ctl("apply", "-f", "-", input="apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: gone}\n"
                                  "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}}\n")
    ctl("wait", "pvc/gone", "--for=jsonpath={.status.phase}=Bound", "--timeout=30s")
    os.unlink(volume_path(bus, "shop", "gone"))
    c.apply(export_doc("ex", "PersistentVolumeClaim", "gone"))

    def reason():
        conds = c.get_json("vmexport", "shop", "ex").get("status", {}).get("conditions", [])
        return next(((x["reason"], x["message"]) for x in conds if x["type"] == "Ready"), (None, None))
    wait_until(lambda: reason()[0] == "ChecksumFailed", timeout=20, what="the export to say the hash failed")
    assert "cannot hash volume gone" in reason()[1] and "cannot read the volume" in reason()[1], reason()
    assert c.get_json("vmexport", "shop", "ex")["status"]["phase"] == "Pending"


def test_raw_into_a_file_opened_for_appending(bus, shop, tmp_path):
    """Holes are seeked over only where writes land where the file stands."""
    c = Client(bus.conn)
    c.apply(export_doc("ex", "PersistentVolumeClaim", "data"))
    doc = wait_ready(c, "ex")
    out = tmp_path / "appended"
    out.write_bytes(b"HEAD")
    with open(out, "ab") as f:
        export_obj(bus, "ex").Download("data", "raw", token_of(c, doc), dbus.types.UnixFd(f.fileno()), {})
    with open(out, "rb") as f, open(volume_path(bus, "shop", "data"), "rb") as src:
        assert f.read(4) == b"HEAD" and f.read() == src.read()


def test_a_download_over_an_older_longer_file_leaves_nothing_of_it(bus, shop, tmp_path):
    """A file opened without O_TRUNC (r+b, `3<>file`): the holes seeked over
    read as zeros and no tail of the old content stays, in every format."""
    c = Client(bus.conn)
    c.apply(export_doc("ex", "PersistentVolumeClaim", "data"))
    doc = wait_ready(c, "ex")
    src = volume_path(bus, "shop", "data")
    for fmt in ("raw", "gzip", "qcow2"):
        out = tmp_path / f"old.{fmt}"
        out.write_bytes(b"KEEP" + b"\xaa" * (os.path.getsize(src) + (8 << 20)))
        with open(out, "r+b") as f:
            f.seek(4)
            _, written = export_obj(bus, "ex").Download("data", fmt, token_of(c, doc),
                                                        dbus.types.UnixFd(f.fileno()), {})
        # raw into a file says the bytes it wrote, the holes left out
        assert os.path.getsize(out) == 4 + (os.path.getsize(src) if fmt == "raw" else written)
        with open(out, "rb") as f:
            assert f.read(4) == b"KEEP"
            body = f.read()
        if fmt == "gzip":
            body = gzip.decompress(body)
        if fmt == "qcow2":
            (tmp_path / "body.qcow2").write_bytes(body)
            subprocess.run(["qemu-img", "compare", "-f", "raw", "-F", "qcow2", src, str(tmp_path / "body.qcow2")],
                           check=True, capture_output=True)
        else:
            assert hashlib.sha256(body).hexdigest() == shop["data"].split(":", 1)[1]


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("losetup"), reason="needs root and loop devices")
def test_a_block_device_volume_is_sized_from_the_device(tmp_path):
    """lvm-thin volumes are block devices, whose st_size is 0: the export's
    progress gives their real size, so it is said twice a second, not per
    64 KiB against a total of 0."""
    img = tmp_path / "lv.img"
    with open(img, "wb") as f:
        f.truncate(8 << 20)
        f.write(os.urandom(2 << 20))
    try:
        dev = subprocess.run(["losetup", "-f", "--show", str(img)], capture_output=True, text=True, check=True).stdout.strip()
    except subprocess.CalledProcessError as e:
        pytest.skip(f"no loop device: {e.stderr.strip()}")
    try:
        (tmp_path / "scratch").mkdir()
        with open(tmp_path / "out.gz", "wb") as out:
            r = subprocess.run([os.path.join(BUILD, "storage", "importer", "edgevirt-importer"), f"--export={dev}",
                                "--format=gzip", f"--scratch={tmp_path / 'scratch'}"], stdin=out,
                               capture_output=True, text=True, timeout=60)
    finally:
        subprocess.run(["losetup", "-d", dev], check=False)
    assert r.returncode == 0, r.stderr
    progress = [line.split() for line in r.stdout.splitlines() if line.startswith("progress ")]
    assert progress and len(progress) <= 4 and all(p[2] == str(8 << 20) for p in progress), r.stdout
    assert gzip.decompress((tmp_path / "out.gz").read_bytes()) == img.read_bytes()


def test_a_vm_started_after_its_export_is_hashed_again_from_a_snapshot(bus, ctl, shop, tmp_path):
    """The checksums of the stopped VM's claims are not those of the
    snapshot the export reads once the VM runs: a download waits for the
    export to hash the snapshot (and never takes the snapshot itself)."""
    c = Client(bus.conn)
    c.apply(export_doc("vmx", "VirtualMachine", "web"))
    doc = wait_ready(c, "vmx")
    claim_uid = c.get_json("pvc", "shop", "data")["metadata"]["uid"]
    assert doc["metadata"]["annotations"]["checksum-source.edgevirt.io/data"] == claim_uid
    token = token_of(c, doc)
    ctl("start", "web")
    wait_until(lambda: c.get_json("vmi", "shop", "web").get("status", {}).get("phase") == "Running",
               timeout=30, what="the VM to run")
    fill(volume_path(bus, "shop", "data"), "written while it runs")
    changed = sha256_file(volume_path(bus, "shop", "data"))
    x = export_obj(bus, "vmx")
    with open(tmp_path / "data.raw", "wb") as f:
        msg = expect_error("Conflict", x.Download, "data", "raw", token, dbus.types.UnixFd(f.fileno()), {})
    assert "web runs" in msg and "wait" in msg, msg
    # the download took no snapshot: the export's reconcile does
    wait_until(lambda: c.exists("vmsnapshot", "shop", "vmexport-vmx"), what="the export's snapshot")
    doc = wait_ready(c, "vmx", timeout=60)
    content = c.get_json("vmsnapshot", "shop", "vmexport-vmx")["status"]["virtualMachineSnapshotContentName"]
    content_uid = c.get_json("vmsnapshotcontent", "shop", content)["metadata"]["uid"]
    ann = doc["metadata"]["annotations"]
    assert ann["checksum-source.edgevirt.io/data"] == content_uid
    assert ann["checksum.edgevirt.io/data"] == changed
    with open(tmp_path / "data.raw", "wb") as f:
        checksum, _ = x.Download("data", "raw", token, dbus.types.UnixFd(f.fileno()), {})
    assert checksum == changed and sha256_file(tmp_path / "data.raw") == changed


def test_cli_download_deletes_the_export_it_made_when_it_fails(bus, ctl, shop, tmp_path):
    c = Client(bus.conn)
    r = ctl("vmexport", "download", "tmp", "--pvc=nope", "--timeout=3s", f"--output={tmp_path / 'out'}", ok=False)
    assert r.returncode != 0, r.stdout
    assert "VirtualMachineExport shop/tmp deleted" in r.stdout, r.stdout + r.stderr
    assert not c.exists("vmexport", "shop", "tmp")
    wait_until(lambda: not c.exists("secret", "shop", "export-token-tmp"), what="the export's token Secret to go")
    assert not (tmp_path / "out").exists()
