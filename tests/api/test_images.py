# SPDX-License-Identifier: LGPL-2.1-or-later
"""The image cache (docs/images.md) and containerDisk volumes: images
pulled once and shared by DataVolumes and VMs, listed and removed over
D-Bus, collected past the cache's size, and ephemeral overlays per VM
instance.  Registries are Debian's docker-registry on loopback; the
images are built here (tests/api/test_registry.py's helpers)."""
import json
import os
import subprocess
import uuid

import dbus
import pytest

import servers
from conftest import Client, Daemon, expect_error, wait_until
from test_registry import Registry, disk, finished, image, layout, volume_of  # noqa: F401 (disk: a fixture)
from test_vm import vm_status, vm_yaml, vmi_uid


def unique_image(tmp, qcow2, compression="gzip"):
    """An OCI layout of a containerDisk no other test has (its own digest)."""
    d = os.path.join(tmp, "oci-" + uuid.uuid4().hex[:8])
    stamp = {"etc/stamp": uuid.uuid4().hex.encode()}
    layout(d, "v1", [image(d, [stamp, {"disk/": b"", "disk/disk.qcow2": qcow2}], compression=compression)])
    return d


@pytest.fixture
def registry(tmp_path):
    r = Registry(str(tmp_path))
    yield r
    r.stop()


def images(client):
    return [(str(d), [str(x) for x in refs], int(vs), int(db), int(p), int(lu), int(u))
            for d, refs, vs, db, p, lu, u in client.manager.ListImages()]


def drop_layers(r):
    """Remove the registry's layer blobs (everything but the JSON of
    manifests and configs): what is still served after this comes from
    edgevirt's cache."""
    blobs = os.path.join(r.root, "docker", "registry", "v2", "blobs", "sha256")
    for f in (os.path.join(dp, f) for dp, _, fs in os.walk(blobs) for f in fs if f == "data"):
        if not open(f, "rb").read(1) == b"{":
            os.unlink(f)


def dv(name, url):
    return (f"apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\nmetadata: {{name: {name}}}\n"
            f"spec:\n  source: {{registry: {{url: \"{url}\"}}}}\n  storage: {{resources: {{requests: {{storage: 128Mi}}}}}}\n")


def test_second_import_comes_from_the_cache(client, registry, tmp_path, disk):
    registry.push(unique_image(str(tmp_path), disk[1]), "kubevirt/once:v1")
    url = f"docker://{registry.host}/kubevirt/once:v1"
    client.apply(dv("first", url))
    st = finished(client, "first")
    assert st["phase"] == "Succeeded", st
    [(digest, refs, vsize, on_disk, pulled, used, users)] = images(client)
    assert digest.startswith("sha256:") and refs == [url] and vsize == servers.SIZE and users == 0
    assert 0 < on_disk < vsize          # sparse
    drop_layers(registry)
    client.apply(dv("second", url))
    st = finished(client, "second")
    assert st["phase"] == "Succeeded", st
    servers.same_bytes(volume_of(client, "second"), disk[0])
    [(_, _, _, _, pulled2, used2, _)] = images(client)
    assert pulled2 == pulled and used2 >= used


def test_zstd_layers(client, registry, tmp_path, disk):
    registry.push(unique_image(str(tmp_path), disk[1], compression="zstd"), "kubevirt/zstd:v1")
    client.apply(dv("zst", f"docker://{registry.host}/kubevirt/zstd:v1"))
    st = finished(client, "zst")
    assert st["phase"] == "Succeeded", st
    servers.same_bytes(volume_of(client, "zst"), disk[0])


def test_pull_list_remove(client, registry, tmp_path, disk):
    registry.push(unique_image(str(tmp_path), disk[1]), "kubevirt/pulled:v1")
    ref = f"{registry.host}/kubevirt/pulled:v1"
    digest = str(client.manager.PullImage(ref, dbus.Dictionary({}, signature="sv")))
    [(d, refs, vsize, _, _, _, users)] = images(client)
    assert d == digest and refs == ["docker://" + ref] and vsize == servers.SIZE and users == 0
    # pulling again finds it; nothing new
    assert str(client.manager.PullImage("docker://" + ref, dbus.Dictionary({}, signature="sv"))) == digest
    assert len(images(client)) == 1
    client.manager.RemoveImage(ref)
    assert images(client) == []
    msg = expect_error("NotFound", client.manager.RemoveImage, digest)
    assert digest in msg
    msg = expect_error("Failed", client.manager.PullImage, f"{registry.host}/kubevirt/nosuch:v1", dbus.Dictionary({}, signature="sv"))
    assert "not found" in msg


def test_unused_images_are_collected_past_the_cache_size(bus, state_dir, registry, tmp_path, disk):
    d = Daemon(bus, state_dir)
    with open(d.config, "w") as f:
        f.write("[Images]\nCacheSize=1\nMinimumAge=1\n")
    d.start()
    try:
        client = Client(bus.conn)
        registry.push(unique_image(str(tmp_path), disk[1]), "kubevirt/a:v1")
        registry.push(unique_image(str(tmp_path), disk[1]), "kubevirt/b:v1")
        vm = vm_yaml("keeper", volumes=f"{{name: root, containerDisk: {{image: '{registry.host}/kubevirt/a:v1'}}}}",
                     disks="{name: root, disk: {bus: virtio}}")
        client.apply(vm)
        wait_until(lambda: vm_status(client, "keeper") == "Running", timeout=60, what="keeper to run")
        # in use: kept although the cache is over its size
        [(a, _, _, _, _, _, users)] = images(client)
        assert users == 1
        b = str(client.manager.PullImage(f"{registry.host}/kubevirt/b:v1", dbus.Dictionary({}, signature="sv")))
        # b is unused and over the size: collected a second (MinimumAge) after
        wait_until(lambda: [i[0] for i in images(client)] == [a], timeout=10, what="b to be collected")
        wait_until(lambda: not os.path.exists(os.path.join(state_dir, "images", b[7:] + ".img")), what="b's file to go")
        msg = expect_error("Conflict", client.manager.RemoveImage, a)
        assert "in use" in msg
        client.delete("vm", "default", "keeper")
        wait_until(lambda: images(client) == [], timeout=30, what="the image to be collected once unused")
    finally:
        d.stop()


def container_disk_vm(name, image_ref, extra=""):
    return vm_yaml(name, volumes=f"{{name: root, containerDisk: {{image: '{image_ref}'{extra}}}}}",
                   disks="{name: root, disk: {bus: virtio}}")


def test_container_disk_vm_runs_on_an_overlay(client, registry, tmp_path, state_dir, disk):
    registry.push(unique_image(str(tmp_path), disk[1]), "kubevirt/eph:v1")
    client.apply(container_disk_vm("eph", f"{registry.host}/kubevirt/eph:v1"))
    wait_until(lambda: vm_status(client, "eph") == "Running", timeout=60, what="the VM to run")
    # the kubelet's events, on the instance: Pulling, then Pulled
    wait_until(lambda: {"Pulling", "Pulled"} <= {e["reason"] for e in client.list("event", "default")["items"]
                                                 if e["involvedObject"]["name"] == "eph"}, what="the pull's events")
    [(digest, refs, _, _, _, _, users)] = images(client)
    assert users == 1 and refs == [f"docker://{registry.host}/kubevirt/eph:v1"]
    uid = vmi_uid(client, "eph")
    overlay = os.path.join(state_dir, "instances", uid, "root.qcow2")
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", "-U", overlay], capture_output=True, text=True,
                                     check=True).stdout)
    assert info["format"] == "qcow2" and info["virtual-size"] == servers.SIZE
    assert info["full-backing-filename"] == os.path.join(state_dir, "images", digest[7:] + ".img")
    assert info["backing-filename-format"] == "raw"
    # a second VM on the same image shares the cached file
    client.apply(container_disk_vm("eph2", f"{registry.host}/kubevirt/eph:v1"))
    wait_until(lambda: vm_status(client, "eph2") == "Running", timeout=60, what="the second VM to run")
    assert [i[6] for i in images(client)] == [2]
    # stopping throws the overlay away; the image stays cached
    client.delete("vm", "default", "eph")
    wait_until(lambda: not os.path.exists(overlay), timeout=30, what="the overlay to go")
    assert [i[6] for i in images(client)] == [1]


def test_programs_the_daemon_runs_start_with_no_signal_blocked(bus, state_dir, registry, tmp_path, disk):
    """The overlay's qemu-img (run from a worker thread, where SIGTERM,
    SIGINT and SIGCHLD are blocked for sd-event) starts with nothing
    blocked: a qemu-img first on the daemon's PATH writes down its own
    signal state, then runs the real one.  (Its SIGPIPE is not looked at:
    GLib's fork path resets it whatever the daemon does; tests/test-spawn.c
    tests the reset itself.)"""
    bin_dir, record = tmp_path / "bin", tmp_path / "qemu-img.status"
    bin_dir.mkdir()
    stub = bin_dir / "qemu-img"
    # perl (not sh: dash clears the mask it starts with) copies its own
    # /proc status lines, then becomes the real qemu-img
    stub.write_text("#!/usr/bin/perl\n"
                    "open(my $in, '<', '/proc/self/status') or die; open(my $out, '>', $ARGV[-1] =~ /qcow2$/ ? "
                    f"'{record}' : '/dev/null') or die;\n"
                    "print $out grep { /^Sig/ } <$in>; close($out);\nexec('/usr/bin/qemu-img', @ARGV) or die;\n")
    stub.chmod(0o755)
    d = Daemon(bus, state_dir, env=dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}"))
    d.start()
    try:
        client = Client(bus.conn)
        registry.push(unique_image(str(tmp_path), disk[1]), "kubevirt/sig:v1")
        client.apply(container_disk_vm("sig", f"{registry.host}/kubevirt/sig:v1"))
        wait_until(lambda: vm_status(client, "sig") == "Running", timeout=60, what="the VM to run")
        status = dict(line.split(":\t") for line in record.read_text().splitlines())
        assert int(status["SigBlk"], 16) == 0, status
    finally:
        d.stop()


def test_pull_errors_show_on_the_vm(client, registry, tmp_path, disk):
    registry.push(unique_image(str(tmp_path), disk[1]), "kubevirt/here:v1")
    client.apply(container_disk_vm("missing", f"{registry.host}/kubevirt/here:nosuchtag"))
    wait_until(lambda: vm_status(client, "missing") == "ErrImagePull", timeout=60, what="ErrImagePull")
    vmi = client.get_json("vmi", "default", "missing")
    cond = next(c for c in vmi["status"]["conditions"] if c["type"] == "Synchronized")
    assert cond["reason"] == "ErrImagePull" and "nosuchtag" in cond["message"] and "not found" in cond["message"], cond
    assert vmi["status"]["phase"] == "Scheduling"
    # one Warning event says so, however often the pull is retried
    failed = [e for e in client.list("event", "default")["items"]
              if e["reason"] == "Failed" and e["involvedObject"]["name"] == "missing"]
    assert len(failed) == 1 and failed[0]["type"] == "Warning" and "nosuchtag" in failed[0]["message"], failed
    client.apply(container_disk_vm("never", f"{registry.host}/kubevirt/here:v1", ", imagePullPolicy: Never"))
    wait_until(lambda: vm_status(client, "never") == "ErrImageNeverPull", timeout=30, what="ErrImageNeverPull")
    # once the image is there, the same VM starts
    client.manager.PullImage(f"{registry.host}/kubevirt/here:v1", dbus.Dictionary({}, signature="sv"))
    client.delete("vm", "default", "never")
    wait_until(lambda: not client.exists("vm", "default", "never"), what="never to go")
    client.apply(container_disk_vm("never", f"{registry.host}/kubevirt/here:v1", ", imagePullPolicy: Never"))
    wait_until(lambda: vm_status(client, "never") == "Running", timeout=30, what="the cached image to start the VM")


def test_image_pull_secret(client, registry, tmp_path, disk):
    # the secret must be a docker config; a wrong one is named
    registry.push(unique_image(str(tmp_path), disk[1]), "kubevirt/sec:v1")
    client.apply("apiVersion: v1\nkind: Secret\nmetadata: {name: bad-pull}\ntype: kubernetes.io/dockerconfigjson\n"
                 "stringData: {.dockerconfigjson: 'not json'}\n")
    client.apply(container_disk_vm("sec", f"{registry.host}/kubevirt/sec:v1", ", imagePullSecret: bad-pull"))
    wait_until(lambda: vm_status(client, "sec") == "ErrImagePull", timeout=30, what="ErrImagePull")
    cond = next(c for c in client.get_json("vmi", "default", "sec")["status"]["conditions"] if c["type"] == "Synchronized")
    assert "imagePullSecret bad-pull" in cond["message"] and "docker config" in cond["message"], cond
    # a config for this registry (the registry here takes anyone) works
    auth = __import__("base64").b64encode(b"puller:s3cret").decode()
    cfg = json.dumps({"auths": {registry.host: {"auth": auth}}})
    client.apply("apiVersion: v1\nkind: Secret\nmetadata: {name: bad-pull}\ntype: kubernetes.io/dockerconfigjson\n"
                 f"stringData: {{.dockerconfigjson: '{cfg}'}}\n")
    client.delete("vm", "default", "sec")
    wait_until(lambda: not client.exists("vm", "default", "sec"), what="sec to go")
    client.apply(container_disk_vm("sec", f"{registry.host}/kubevirt/sec:v1", ", imagePullSecret: bad-pull"))
    wait_until(lambda: vm_status(client, "sec") == "Running", timeout=60, what="the VM to run")


def test_container_disk_path_is_refused(client):
    msg = expect_error("NotSupported", client.apply,
                       container_disk_vm("p", "example.com/x:v1", ", path: /custom/disk.img"))
    assert "containerDisk.path" in msg


def test_cli_images_pull_rmi(bus, client, registry, tmp_path, disk):
    from test_cli import CTL
    registry.push(unique_image(str(tmp_path), disk[1]), "kubevirt/cli:v1")
    env = dict(os.environ, EDGEVIRT_BUS=bus.address, XDG_CONFIG_HOME=str(tmp_path / "config"), LC_ALL="C")

    def ctl(*args, ok=True):
        r = subprocess.run([CTL, *args], capture_output=True, text=True, env=env, timeout=60)
        assert (r.returncode == 0) == ok, r.stdout + r.stderr
        return r

    digest = ctl("pull", f"{registry.host}/kubevirt/cli:v1").stdout.strip()
    assert digest.startswith("sha256:") and len(digest) == 71
    table = ctl("images").stdout.splitlines()
    assert table[0].split()[:2] == ["IMAGE", "DIGEST"]
    row = table[1].split()
    assert row[0] == f"{registry.host}/kubevirt/cli:v1" and digest.startswith(row[1]) and row[2:4] == ["64.0", "MiB"], table
    [entry] = json.loads(ctl("images", "-o", "json").stdout)
    assert entry["digest"] == digest and entry["virtualSize"] == servers.SIZE and entry["users"] == 0
    assert "not found" in ctl("pull", f"{registry.host}/kubevirt/nosuch:v1", ok=False).stderr
    assert "removed" in ctl("rmi", digest).stdout
    assert ctl("images", "-o", "json").stdout.strip() == "[]"
    assert "no image" in ctl("rmi", digest, ok=False).stderr


def test_image_larger_than_the_claim(client, registry, tmp_path, disk):
    registry.push(unique_image(str(tmp_path), disk[1]), "kubevirt/big:v1")
    client.apply(dv("small", f"docker://{registry.host}/kubevirt/big:v1").replace("128Mi", "16Mi"))
    st = finished(client, "small")
    msg = next(c["message"] for c in st["conditions"] if c["type"] == "Running")
    assert st["phase"] == "Failed" and "larger than the volume" in msg and str(servers.SIZE) in msg, st
    # nothing half-made stays in the cache
    assert images(client) == []


def test_pull_with_a_pull_secret(client, registry, tmp_path, disk):
    registry.push(unique_image(str(tmp_path), disk[1]), "kubevirt/sec:v1")
    ref = f"{registry.host}/kubevirt/sec:v1"
    opts = dbus.Dictionary({"namespace": "default", "pull-secret": "nope"}, signature="sv")
    msg = expect_error("NotFound", client.manager.PullImage, ref, opts)
    assert "imagePullSecret nope" in msg
    # the older .dockercfg form serves too (the registry here takes anyone)
    cfg = json.dumps({registry.host: {"auth": __import__("base64").b64encode(b"u:p").decode()}})
    client.apply("apiVersion: v1\nkind: Secret\nmetadata: {name: old}\ntype: kubernetes.io/dockercfg\n"
                 f"stringData: {{.dockercfg: '{cfg}'}}\n")
    opts = dbus.Dictionary({"namespace": "default", "pull-secret": "old"}, signature="sv")
    assert str(client.manager.PullImage(ref, opts)).startswith("sha256:")
