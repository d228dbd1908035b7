# SPDX-License-Identifier: LGPL-2.1-or-later
"""Air-gapped images (docs/images.md): image archives loaded into the
image cache through a file descriptor (LoadImages) and written out of it
(SaveImage); a VM whose containerDisk says imagePullPolicy: Never boots
from a loaded image with no registry anywhere.  Archives are made by
skopeo (oci-archive:, docker-archive:) from OCI layouts built here, or
by hand where skopeo cannot make them (several images, broken ones)."""
import gzip
import hashlib
import io
import json
import lzma
import os
import subprocess
import tarfile
import uuid

import dbus
import pytest

import servers
from conftest import expect_error, wait_until
from test_images import container_disk_vm, images
from servers import blob, image, layout
from test_registry import disk  # noqa: F401 (a fixture)
from test_vm import vm_status

NO_OPTIONS = dbus.Dictionary({}, signature="sv")


def oci_layout(tmp, qcow2, tag="v1"):
    """An OCI layout of a containerDisk of its own (a unique layer)."""
    d = os.path.join(tmp, "oci-" + uuid.uuid4().hex[:8])
    stamp = {"etc/stamp": uuid.uuid4().hex.encode()}
    layout(d, tag, [image(d, [stamp, {"disk/": b"", "disk/disk.qcow2": qcow2}])])
    return d


def skopeo(src, dst):
    subprocess.run(["skopeo", "copy", "-q", src, dst], check=True, capture_output=True)


def load(client, path, name=""):
    with open(path, "rb") as f:
        return [(str(r), str(d)) for r, d in client.manager.LoadImages(dbus.types.UnixFd(f), name, NO_OPTIONS)]


def tar_of(members):
    """A tar of {name: bytes}, in that order."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return out.getvalue()


def layout_members(d):
    out = {}
    for dp, _, fs in os.walk(d):
        for f in sorted(fs):
            p = os.path.join(dp, f)
            out[os.path.relpath(p, d)] = open(p, "rb").read()
    return out


def cache_files(state_dir):
    d = os.path.join(state_dir, "images")
    return sorted(f for f in os.listdir(d)) if os.path.isdir(d) else []


def test_oci_archive_and_docker_archive_load(client, state_dir, tmp_path, disk):
    d = oci_layout(str(tmp_path), disk[1])
    oci = str(tmp_path / "disk.oci.tar")
    skopeo(f"oci:{d}:v1", f"oci-archive:{oci}:example.com/vm/disk:v1")
    [(ref, digest)] = load(client, oci)
    assert ref == "docker://example.com/vm/disk:v1" and digest.startswith("sha256:")
    [(d2, refs, vsize, _, _, _, users)] = images(client)
    assert d2 == digest and refs == [ref] and vsize == servers.SIZE and users == 0
    servers.same_bytes(os.path.join(state_dir, "images", digest[7:] + ".img"), disk[0])
    # docker save's format, of another image; gzip'd, through a pipe (not seekable: spooled)
    d = oci_layout(str(tmp_path), disk[1])
    dock = str(tmp_path / "disk.docker.tar")
    skopeo(f"oci:{d}:v1", f"docker-archive:{dock}:example.com/vm/other:v2")
    r, w = os.pipe()
    writer = subprocess.Popen(["gzip", "-c", dock], stdout=w)
    os.close(w)
    loaded = client.manager.LoadImages(dbus.types.UnixFd(r), "", NO_OPTIONS)
    os.close(r)
    writer.wait()
    [(ref2, digest2)] = [(str(a), str(b)) for a, b in loaded]
    assert ref2 == "docker://example.com/vm/other:v2" and digest2 != digest
    assert sorted(i[0] for i in images(client)) == sorted([digest, digest2])
    servers.same_bytes(os.path.join(state_dir, "images", digest2[7:] + ".img"), disk[0])
    # a Docker Hub name, as docker save writes it: both spellings reach it
    d = oci_layout(str(tmp_path), disk[1])
    hub = str(tmp_path / "hub.tar")
    skopeo(f"oci:{d}:v1", f"docker-archive:{hub}:cirros-disk:v1")
    loaded = load(client, hub)
    assert sorted(r for r, _ in loaded) == ["docker://cirros-disk:v1", "docker://docker.io/library/cirros-disk:v1"]


def test_several_images_load_all_or_need_no_name(client, state_dir, tmp_path, disk):
    # an OCI layout with two images under two names
    d = str(tmp_path / "two")
    descs = []
    for name in ("example.com/vm/a:1", "example.com/vm/b:1"):
        m = image(d, [{"etc/stamp": name.encode()}, {"disk/disk.qcow2": disk[1]}])
        m.pop("platform")
        m["annotations"] = {"org.opencontainers.image.ref.name": name}
        descs.append(m)
    with open(os.path.join(d, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with open(os.path.join(d, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": descs}, f)
    archive = str(tmp_path / "two.tar")
    open(archive, "wb").write(tar_of(layout_members(d)))
    msg = expect_error("Invalid", load, client, archive, "example.com/vm/one:1")
    assert "holds 2 images" in msg and images(client) == []
    loaded = load(client, archive)
    assert sorted(r for r, _ in loaded) == ["docker://example.com/vm/a:1", "docker://example.com/vm/b:1"]
    assert sorted(i[0] for i in images(client)) == sorted(dg for _, dg in loaded)


def test_unnamed_image_takes_the_name_given(client, tmp_path, disk):
    d = oci_layout(str(tmp_path), disk[1], tag="v1")        # a bare tag: no name
    archive = str(tmp_path / "bare.tar")
    skopeo(f"oci:{d}:v1", f"oci-archive:{archive}:v1")
    msg = expect_error("Invalid", load, client, archive)
    assert "does not name the image" in msg and images(client) == []
    [(ref, _)] = load(client, archive, "example.com/vm/named:v3")
    assert ref == "docker://example.com/vm/named:v3"


def test_bad_archives_are_refused_and_change_nothing(client, state_dir, tmp_path, disk):
    d = oci_layout(str(tmp_path), disk[1])
    members = layout_members(d)
    members["index.json"] = json.dumps({**json.loads(members["index.json"]), "manifests": [
        {**json.loads(members["index.json"])["manifests"][0],
         "annotations": {"org.opencontainers.image.ref.name": "example.com/vm/bad:v1"}}]}).encode()
    good = tar_of(members)
    # a layer whose bytes do not match its digest (still a valid gzip'd tar)
    big = max(members, key=lambda k: len(members[k]))
    corrupt = dict(members)
    corrupt[big] = gzip.compress(gzip.decompress(members[big])[:-1] + b"\x01")
    # an xz layer with bytes after its end marker (the decoder stops there;
    # the digest must still cover them)
    x = str(tmp_path / "xz")
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as t:
        info = tarfile.TarInfo("disk/disk.qcow2")
        info.size = len(disk[1])
        t.addfile(info, io.BytesIO(disk[1]))
    xz = lzma.compress(raw.getvalue(), format=lzma.FORMAT_XZ)
    layer_digest = blob(x, xz)
    with open(os.path.join(x, "blobs", "sha256", layer_digest[7:]), "ab") as f:
        f.write(bytes(8))        # stream padding: valid xz, not the digested bytes
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()]}})
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": blob(x, config.encode()), "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+xz", "digest": layer_digest,
                                       "size": len(xz)}]}).encode()
    with open(os.path.join(x, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                   "digest": blob(x, manifest), "size": len(manifest),
                   "annotations": {"org.opencontainers.image.ref.name": "example.com/vm/xz:v1"}}]}, f)
    cases = {
        "digest": (tar_of(corrupt), "digest mismatch"),
        "xz trailer": (tar_of(layout_members(x)), "digest mismatch"),
        "truncated": (good[:len(good) // 2], "truncated"),
        "not an image": (tar_of({"hello.txt": b"hi"}), "not an image archive"),
        "not a tar": (b"just some bytes, not a tar archive at all" * 30, "not a tar archive"),
        "empty": (b"", "empty"),
    }
    for what, (data, words) in cases.items():
        path = str(tmp_path / (what.replace(" ", "-") + ".tar"))
        open(path, "wb").write(data)
        msg = expect_error("Invalid", load, client, path)
        assert words in msg, (what, msg)
        assert images(client) == [] and cache_files(state_dir) == [], what
    # the fd must be readable
    with open(str(tmp_path / "w"), "wb") as f:
        msg = expect_error("org.freedesktop.DBus.Error.InvalidArgs", client.manager.LoadImages,
                           dbus.types.UnixFd(f), "", NO_OPTIONS)
    assert "not open for reading" in msg
    msg = expect_error("org.freedesktop.DBus.Error.InvalidArgs", client.manager.LoadImages,
                       dbus.types.UnixFd(open("/dev/null", "rb")), "", dbus.Dictionary({"x": "y"}, signature="sv"))
    assert "unknown option" in msg
    for name, words in (("a\nloaded sha256:" + "0" * 64 + " 1 evil:v1", "not an image reference"),
                        ("sha256:" + "0" * 64, "a digest names no image")):
        msg = expect_error("org.freedesktop.DBus.Error.InvalidArgs", client.manager.LoadImages,
                           dbus.types.UnixFd(open("/dev/null", "rb")), name, NO_OPTIONS)
        assert words in msg, msg


def test_vm_boots_from_a_loaded_image_with_pull_policy_never(client, tmp_path, disk):
    d = oci_layout(str(tmp_path), disk[1])
    archive = str(tmp_path / "vm.tar")
    skopeo(f"oci:{d}:v1", f"oci-archive:{archive}:registry.invalid/vm/airgap:v1")
    image_ref = "registry.invalid/vm/airgap:v1"
    client.apply(container_disk_vm("airgap", image_ref, ", imagePullPolicy: Never"))
    wait_until(lambda: vm_status(client, "airgap") == "ErrImageNeverPull", timeout=30, what="ErrImageNeverPull")
    # loading the image is enough: the waiting VM starts by itself
    load(client, archive)
    wait_until(lambda: vm_status(client, "airgap") == "Running", timeout=30, what="the loaded image to start the VM")
    client.apply(container_disk_vm("airgap2", image_ref, ", imagePullPolicy: IfNotPresent"))
    wait_until(lambda: vm_status(client, "airgap2") == "Running", timeout=30, what="IfNotPresent to use it too")
    [(_, _, _, _, _, _, users)] = images(client)
    assert users == 2


def test_save_and_load_round_trip(client, state_dir, tmp_path, disk):
    d = oci_layout(str(tmp_path), disk[1])
    archive = str(tmp_path / "in.tar")
    skopeo(f"oci:{d}:v1", f"oci-archive:{archive}:example.com/vm/trip:v1")
    [(ref, digest)] = load(client, archive)
    out = str(tmp_path / "out.tar")
    with open(out, "wb") as f:
        saved = str(client.manager.SaveImage("example.com/vm/trip:v1", dbus.types.UnixFd(f), NO_OPTIONS))
    assert saved.startswith("sha256:")
    # what other tools read: skopeo sees one amd64 image with the disk layer
    info = json.loads(subprocess.run(["skopeo", "inspect", f"oci-archive:{out}"], capture_output=True, text=True,
                                     check=True).stdout)
    assert info["Digest"] == saved and info["Architecture"] == "amd64" and len(info["Layers"]) == 1
    with tarfile.open(out) as t:
        index = json.load(t.extractfile("index.json"))
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "example.com/vm/trip:v1"
    # the same image saved again, by digest, is the same bytes
    again = str(tmp_path / "again.tar")
    with open(again, "wb") as f:
        assert str(client.manager.SaveImage(digest, dbus.types.UnixFd(f), NO_OPTIONS)) == saved
    assert open(again, "rb").read() == open(out, "rb").read()
    # removed, then loaded back from the saved archive: the same disk
    client.manager.RemoveImage(ref)
    assert images(client) == []
    [(ref2, digest2)] = load(client, out)
    assert ref2 == ref and digest2 == saved
    servers.same_bytes(os.path.join(state_dir, "images", saved[7:] + ".img"), disk[0])
    # errors
    with open(str(tmp_path / "x"), "wb") as f:
        msg = expect_error("NotFound", client.manager.SaveImage, "example.com/vm/none:v1", dbus.types.UnixFd(f),
                           NO_OPTIONS)
    assert "example.com/vm/none:v1" in msg
    msg = expect_error("org.freedesktop.DBus.Error.InvalidArgs", client.manager.SaveImage, ref,
                       dbus.types.UnixFd(open("/dev/null", "rb")), NO_OPTIONS)
    assert "not open for writing" in msg


def test_edgevirtctl_images_load_and_save(bus, client, state_dir, tmp_path, disk):
    from test_cli import CTL, complete

    env = dict(os.environ, EDGEVIRT_BUS=bus.address, LC_ALL="C")

    def ctl(*args, ok=True, **kw):
        r = subprocess.run([CTL, *args], capture_output=True, text=True, env=env, timeout=120, **kw)
        assert (r.returncode == 0) == ok, (args, r.stdout, r.stderr)
        return r
    # an OCI layout directory, sent as a tar the CLI makes
    d = oci_layout(str(tmp_path), disk[1])
    r = ctl("images", "load", "-i", d, "example.com/vm/fromdir:v1")
    [(digest, refs, *_)] = images(client)
    assert refs == ["docker://example.com/vm/fromdir:v1"]
    assert r.stdout == f"Loaded image: example.com/vm/fromdir:v1 ({digest})\n"
    out = str(tmp_path / "saved.tar")
    r = ctl("images", "save", "example.com/vm/fromdir:v1", "-o", out)
    assert "saved example.com/vm/fromdir:v1 (sha256:" in r.stderr
    ctl("rmi", "example.com/vm/fromdir:v1")
    # a file, and stdin
    r = ctl("images", "load", "-i", out)
    assert r.stdout.startswith("Loaded image: example.com/vm/fromdir:v1 (sha256:")
    ctl("rmi", "example.com/vm/fromdir:v1")
    with open(out, "rb") as f:
        r = ctl("images", "load", "-i", "-", "example.com/vm/stdin:v1", stdin=f)
    assert [i[1] for i in images(client)] == [["docker://example.com/vm/stdin:v1"]]
    # errors: named, nothing left behind
    r = ctl("images", "save", "example.com/vm/none:v1", "-o", str(tmp_path / "none.tar"), ok=False)
    assert "example.com/vm/none:v1" in r.stderr and not os.path.exists(tmp_path / "none.tar")
    bad = str(tmp_path / "bad.tar")
    open(bad, "wb").write(b"x" * 2048)
    r = ctl("images", "load", "-i", bad, ok=False)
    assert "not a tar archive" in r.stderr
    r = ctl("images", "load", "-i", str(tmp_path), ok=False)
    assert "no index.json" in r.stderr
    r = ctl("images", "load", ok=False)
    assert "usage: edgevirtctl images load -i" in r.stderr
    # completion
    comp = type("C", (), {"bus_address": bus.address})
    assert complete(comp, "edgevirtctl images ") == {"load", "save"}
    assert "example.com/vm/stdin:v1" in complete(comp, "edgevirtctl images save ")


def test_a_client_that_stops_sending_or_reading_is_given_up(bus, state_dir, tmp_path, disk):
    from conftest import Client, Daemon
    d = Daemon(bus, state_dir)
    with open(d.config, "w") as f:
        f.write("[Imports]\nUploadIdleTimeout=1\n")
    d.start()
    try:
        client = Client(bus.conn)
        r, w = os.pipe()        # w stays open and silent
        msg = expect_error("Invalid", client.manager.LoadImages, dbus.types.UnixFd(r), "", NO_OPTIONS)
        assert "idle for 1 s" in msg and images(client) == []
        os.close(r)
        os.close(w)
        layout_dir = oci_layout(str(tmp_path), disk[1])
        archive = str(tmp_path / "a.tar")
        skopeo(f"oci:{layout_dir}:v1", f"oci-archive:{archive}:example.com/vm/idle:v1")
        load(client, archive)
        r, w = os.pipe()        # nobody reads r
        msg = expect_error("Failed", client.manager.SaveImage, "example.com/vm/idle:v1", dbus.types.UnixFd(w),
                           NO_OPTIONS)
        assert "took nothing for 1 s" in msg
        os.close(r)
        os.close(w)
        [(_, _, _, _, _, _, users)] = images(client)
        assert users == 0       # the save's use of the image ended with it
    finally:
        d.stop()


def test_docker_save_with_a_shared_layer_linked(client, state_dir, tmp_path, disk):
    """docker save (before 25) stores a layer two images share once and
    links the second directory's layer.tar to the first."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as t:
        info = tarfile.TarInfo("disk/disk.qcow2")
        info.size = len(disk[1])
        t.addfile(info, io.BytesIO(disk[1]))
    layer = raw.getvalue()
    diff = "sha256:" + hashlib.sha256(layer).hexdigest()
    out = io.BytesIO()
    entries = []
    with tarfile.open(fileobj=out, mode="w") as t:
        def add(name, data):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        add("aaa/layer.tar", layer)
        link = tarfile.TarInfo("bbb/layer.tar")
        link.type = tarfile.SYMTYPE
        link.linkname = "../aaa/layer.tar"
        t.addfile(link)
        for name, layer_file in (("one", "aaa/layer.tar"), ("two", "bbb/layer.tar")):
            config = json.dumps({"architecture": "amd64", "os": "linux", "created": name,
                                 "rootfs": {"type": "layers", "diff_ids": [diff]}}).encode()
            config_name = hashlib.sha256(config).hexdigest() + ".json"
            add(config_name, config)
            entries.append({"Config": config_name, "RepoTags": [f"example.com/vm/{name}:v1"], "Layers": [layer_file]})
        add("manifest.json", json.dumps(entries).encode())
    archive = str(tmp_path / "shared.tar")
    open(archive, "wb").write(out.getvalue())
    loaded = load(client, archive)
    assert sorted(r for r, _ in loaded) == ["docker://example.com/vm/one:v1", "docker://example.com/vm/two:v1"]
    for _, digest in loaded:
        servers.same_bytes(os.path.join(state_dir, "images", digest[7:] + ".img"), disk[0])
    # a config whose name is not its digest is refused
    bad = out.getvalue().replace(b'"created": "one"', b'"created": "0ne"')
    open(archive, "wb").write(bad)
    client.manager.RemoveImage("example.com/vm/one:v1")
    client.manager.RemoveImage("example.com/vm/two:v1")
    msg = expect_error("Invalid", load, client, archive)
    assert "digest mismatch: the config" in msg and images(client) == []
