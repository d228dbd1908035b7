# SPDX-License-Identifier: LGPL-2.1-or-later
"""DataVolumes: every source, every image format and compression, auth,
TLS with a private CA, checksums, retries, uploads through a file
descriptor, hostile images, deletion during an import."""
import base64
import os
import shutil
import signal
import subprocess
import tempfile

import dbus
import pytest

from conftest import expect_error, path_encode, wait_until
from servers import SIZE, Lighttpd, QuirkServer, make_images, same_bytes

DV_IFACE = "org.edgevirt.EdgeVirt1.DataVolume"
PVC_IFACE = "org.edgevirt.EdgeVirt1.PersistentVolumeClaim"


@pytest.fixture(scope="module")
def images():
    d = tempfile.mkdtemp(prefix="edgevirt-images-")
    os.chmod(d, 0o755)
    raw = make_images(d)
    yield d, raw
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def web(images):
    tmp = tempfile.mkdtemp(prefix="edgevirt-web-")
    server = Lighttpd(images[0], tmp)
    yield server
    server.stop()
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def quirks(images):
    server = QuirkServer(images[0])
    yield server
    server.stop()


def dv(name, source, size="64Mi", namespace=None):
    ns = f", namespace: {namespace}" if namespace else ""
    return (f"apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\nmetadata: {{name: {name}{ns}}}\n"
            f"spec:\n  source: {source}\n  storage:\n    resources: {{requests: {{storage: {size}}}}}\n")


def dv_path(name, namespace="default"):
    return f"/org/edgevirt/EdgeVirt1/namespace/{path_encode(namespace)}/datavolume/{path_encode(name)}"


def status(client, name):
    return client.get_json("dv", "default", name).get("status", {})


def wait_done(client, name, want=("Succeeded", "Failed"), timeout=60):
    wait_until(lambda: status(client, name).get("phase") in want, timeout=timeout, what=f"DataVolume {name} to finish")
    return status(client, name)


def volume(client, name):
    path = f"/org/edgevirt/EdgeVirt1/namespace/default/pvc/{path_encode(name)}"
    return str(client.props(path, PVC_IFACE)["VolumePath"])


def ready_message(st):
    return next((c["message"] for c in st.get("conditions", []) if c["type"] == "Ready"), "")


@pytest.mark.parametrize("image", ["disk.raw", "disk.raw.gz", "disk.raw.xz", "disk.raw.zst", "disk.raw.bz2",
                                   "disk.qcow2", "disk.qcow2.xz", "disk.vmdk", "disk.vmdk.gz", "disk.vhd",
                                   "disk.vhdx", "disk.vdi"])
def test_http_import_every_format(client, daemon, images, web, image):
    # room for formats whose geometry rounds the virtual size up (vhd)
    client.apply(dv("img", f"{{http: {{url: '{web.url(image)}'}}}}", size="80Mi"))
    st = wait_done(client, "img")
    assert st["phase"] == "Succeeded", ready_message(st)
    assert st["progress"] == "100.00%" and st["claimName"] == "img"
    target = volume(client, "img")
    assert same_bytes(target, images[1]), "the imported bytes differ from the image"
    assert os.stat(target).st_blocks * 512 < 1 << 20, "the volume must stay sparse"
    # the import's scratch space (a whole qcow2 for some) does not outlive it
    scratch = os.path.join(daemon.state_dir, "scratch", client.get_json("dv", "default", "img")["metadata"]["uid"])
    wait_until(lambda: not os.path.exists(scratch), what="the scratch directory to be removed")


def test_status_on_the_bus(client, web, signals):
    client.apply(dv("watched", f"{{http: {{url: '{web.url('disk.raw.xz')}'}}}}"))
    wait_done(client, "watched")
    props = client.props(dv_path("watched"), DV_IFACE)
    assert props["Phase"] == "Succeeded" and props["Progress"] == 100.0 and props["ProgressText"] == "100.00%"
    assert props["RestartCount"] == 0 and props["ClaimName"] == "watched"
    conds = {c[0]: c[1] for c in props["Conditions"]}
    assert conds == {"Bound": "True", "Running": "False", "Ready": "True"}
    wait_until(lambda: any(s[3][0] == DV_IFACE and s[3][1].get("Phase") == "Succeeded"
                           for s in signals.of("PropertiesChanged", dv_path("watched"))), what="Phase signal")
    # the claim belongs to the DataVolume
    pvc = client.get_json("pvc", "default", "watched")
    assert pvc["metadata"]["ownerReferences"][0]["kind"] == "DataVolume"
    client.delete("dv", "default", "watched")
    wait_until(lambda: not client.exists("pvc", "default", "watched"), what="the claim to go with its DataVolume")


def secret(name, user, password):
    enc = lambda s: base64.b64encode(s.encode()).decode()
    return (f"apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}}}\n"
            f"data: {{accessKeyId: {enc(user)}, secretKey: {enc(password)}}}\n")


def test_basic_auth_from_a_secret(client, images, web):
    client.apply(secret("creds", "importer", "s3cret"))
    client.apply(dv("private", f"{{http: {{url: '{web.url('private/disk.raw.gz')}', secretRef: creds}}}}"))
    assert wait_done(client, "private")["phase"] == "Succeeded"
    assert same_bytes(volume(client, "private"), images[1])
    client.apply(dv("no-creds", f"{{http: {{url: '{web.url('private/disk.raw.gz')}'}}}}"))
    st = wait_done(client, "no-creds")
    assert st["phase"] == "Failed" and "401" in ready_message(st)


def test_tls_with_a_private_ca(client, images, web):
    client.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ca}\ndata:\n  ca.pem: |\n"
                 + "".join("    " + line + "\n" for line in web.ca.splitlines()))
    client.apply(dv("tls", f"{{http: {{url: '{web.url('disk.qcow2', tls=True)}', certConfigMap: ca}}}}"))
    assert wait_done(client, "tls")["phase"] == "Succeeded"
    assert same_bytes(volume(client, "tls"), images[1])
    client.apply(dv("tls-unknown-ca", f"{{http: {{url: '{web.url('disk.qcow2', tls=True)}'}}}}"))
    st = wait_done(client, "tls-unknown-ca")
    assert st["phase"] == "Failed" and "TLS" in ready_message(st)


def test_checksum(client, images, web):
    import hashlib
    digest = hashlib.sha256(open(os.path.join(images[0], "disk.raw.xz"), "rb").read()).hexdigest()
    client.apply(dv("sum-ok", f"{{http: {{url: '{web.url('disk.raw.xz')}', checksum: 'sha256:{digest}'}}}}"))
    assert wait_done(client, "sum-ok")["phase"] == "Succeeded"
    client.apply(dv("sum-bad", f"{{http: {{url: '{web.url('disk.raw.xz')}', checksum: 'sha256:{'0' * 64}'}}}}"))
    st = wait_done(client, "sum-bad")
    assert st["phase"] == "Failed" and "checksum mismatch" in ready_message(st)
    msg = expect_error("Invalid", client.apply, dv("sum-form", f"{{http: {{url: '{web.url('x')}', checksum: 'crc:12'}}}}"))
    assert "spec.source.http.checksum" in msg


def test_not_found_fails(client, web):
    client.apply(dv("missing", f"{{http: {{url: '{web.url('nope.img')}'}}}}"))
    st = wait_done(client, "missing")
    assert st["phase"] == "Failed" and "404" in ready_message(st)


@pytest.mark.parametrize("image,fragment", [
    ("backed.qcow2", "backing file"),
    ("datafile.qcow2", "external data file"),
    ("huge.qcow2", "larger than the volume"),
    ("bomb.raw.gz", "larger than the volume"),
    ("truncated.raw.xz", "truncated"),
])
def test_hostile_images_are_refused(client, web, image, fragment):
    client.apply(dv("hostile", f"{{http: {{url: '{web.url(image)}'}}}}"))
    st = wait_done(client, "hostile")
    assert st["phase"] == "Failed", st
    assert fragment in ready_message(st), ready_message(st)


def test_image_larger_than_the_claim(client, web):
    client.apply(dv("small", f"{{http: {{url: '{web.url('disk.raw.zst')}'}}}}", size="32Mi"))
    st = wait_done(client, "small")
    assert st["phase"] == "Failed" and "larger than the volume" in ready_message(st) and "33554432" in ready_message(st)


@pytest.mark.parametrize("path", ["drop", "dropfull"])
def test_a_dropped_connection_resumes(client, images, quirks, path):
    """With Range (206) the transfer continues where it stopped; a server
    that ignores Range sends all again and the importer skips what it has.
    Either way the import goes on without starting over."""
    client.apply(dv("flaky", f"{{http: {{url: '{quirks.url(path + '/disk.raw.gz')}'}}}}"))
    st = wait_done(client, "flaky", want=("Succeeded", "Failed"), timeout=30)
    assert st["phase"] == "Succeeded", ready_message(st)
    assert st["restartCount"] == 0
    assert same_bytes(volume(client, "flaky"), images[1])
    # drop: the dropped request, then a Range request (206); dropfull: the
    # dropped one, a Range request answered 200 (refused), then all of it
    assert quirks.requests(f"/{path}/disk.raw.gz") == (2 if path == "drop" else 3)


def test_a_server_error_is_retried_with_backoff(client, images, quirks):
    client.apply(dv("fails-once", f"{{http: {{url: '{quirks.url('error503/disk.raw.gz')}'}}}}"))
    st = wait_done(client, "fails-once", want=("Succeeded", "Failed"), timeout=30)
    assert st["phase"] == "Succeeded" and st["restartCount"] == 1
    assert same_bytes(volume(client, "fails-once"), images[1])


def test_extra_headers_and_secret_headers(client, images, quirks):
    client.apply(dv("hdr", f"{{http: {{url: '{quirks.url('header/disk.raw.gz')}', extraHeaders: ['X-Token: let-me-in']}}}}"))
    assert wait_done(client, "hdr")["phase"] == "Succeeded"
    tok = base64.b64encode(b"X-Token: let-me-in").decode()
    client.apply(f"apiVersion: v1\nkind: Secret\nmetadata: {{name: hdrs}}\ndata: {{token: {tok}}}\n")
    client.apply(dv("shdr", f"{{http: {{url: '{quirks.url('header/disk.raw.gz')}', secretExtraHeaders: [hdrs]}}}}"))
    assert wait_done(client, "shdr")["phase"] == "Succeeded"
    client.apply(dv("nohdr", f"{{http: {{url: '{quirks.url('header/disk.raw.gz')}'}}}}"))
    assert "403" in ready_message(wait_done(client, "nohdr"))


def test_redirect_to_another_scheme_is_refused(client, quirks):
    client.apply(dv("redir", f"{{http: {{url: '{quirks.url('redirect')}'}}}}"))
    st = wait_done(client, "redir")
    assert st["phase"] == "Failed"


def test_upload_a_file_and_a_pipe(client, images):
    client.apply(dv("up-file", "{upload: {}}") + "---\n" + dv("up-pipe", "{upload: {}}"))
    wait_done(client, "up-file", want=("UploadReady",))
    obj = dbus.Interface(client.conn.get_object("org.edgevirt.EdgeVirt1", dv_path("up-file")), DV_IFACE)
    with open(os.path.join(images[0], "disk.qcow2"), "rb") as f:
        obj.Upload(dbus.types.UnixFd(f), {})
    assert wait_done(client, "up-file")["phase"] == "Succeeded"
    assert same_bytes(volume(client, "up-file"), images[1])

    wait_done(client, "up-pipe", want=("UploadReady",))
    r, w = os.pipe()
    obj = dbus.Interface(client.conn.get_object("org.edgevirt.EdgeVirt1", dv_path("up-pipe")), DV_IFACE)
    obj.Upload(dbus.types.UnixFd(r), {})
    os.close(r)
    with open(os.path.join(images[0], "disk.raw.xz"), "rb") as f:
        data = f.read()
    os.write(w, data)
    os.close(w)
    assert wait_done(client, "up-pipe")["phase"] == "Succeeded"
    assert same_bytes(volume(client, "up-pipe"), images[1])
    # no second upload once done
    msg = expect_error("Conflict", obj.Upload, dbus.types.UnixFd(open("/dev/null", "rb")), {})
    assert "not UploadReady" in msg


def test_upload_errors(client, web):
    client.apply(dv("not-upload", f"{{http: {{url: '{web.url('disk.raw')}'}}}}"))
    obj = dbus.Interface(client.conn.get_object("org.edgevirt.EdgeVirt1", dv_path("not-upload")), DV_IFACE)
    expect_error("Invalid", obj.Upload, dbus.types.UnixFd(open("/dev/null", "rb")), {})
    client.apply(dv("bad-upload", "{upload: {}}"))
    wait_done(client, "bad-upload", want=("UploadReady",))
    obj = dbus.Interface(client.conn.get_object("org.edgevirt.EdgeVirt1", dv_path("bad-upload")), DV_IFACE)
    with open("/dev/null", "rb") as f:
        obj.Upload(dbus.types.UnixFd(f), {})
    # an empty upload fails; the DataVolume waits for another
    wait_until(lambda: status(client, "bad-upload").get("restartCount", 0) >= 1, what="the failed upload to count")
    st = status(client, "bad-upload")
    assert st["phase"] == "UploadReady" and "empty" in ready_message(st)


def test_blank_and_clone(client, images, web):
    client.apply(dv("src", f"{{http: {{url: '{web.url('disk.raw.gz')}'}}}}") + "---\n" + dv("empty", "{blank: {}}"))
    assert wait_done(client, "src")["phase"] == "Succeeded"
    assert wait_done(client, "empty")["phase"] == "Succeeded"
    with open(volume(client, "empty"), "rb") as f:
        assert f.read(1 << 20) == bytes(1 << 20)
    client.manager.CreateNamespace("other", {})
    client.apply("apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\nmetadata: {name: copy, namespace: other}\n"
                 "spec:\n  source: {pvc: {namespace: default, name: src}}\n  storage: {}\n")
    wait_until(lambda: client.get_json("dv", "other", "copy").get("status", {}).get("phase") == "Succeeded",
               what="the clone", timeout=60)
    copy = str(client.props("/org/edgevirt/EdgeVirt1/namespace/other/pvc/copy", PVC_IFACE)["VolumePath"])
    assert same_bytes(copy, images[1])
    assert client.get_json("pvc", "other", "copy")["status"]["capacity"]["storage"] == "64Mi"


def test_delete_during_an_import(client, quirks):
    client.apply(dv("slow", f"{{http: {{url: '{quirks.url('slow/disk.raw.gz')}'}}}}"))
    wait_until(lambda: status(client, "slow").get("phase") == "ImportInProgress", what="the import to run", timeout=30)
    target = volume(client, "slow")
    assert subprocess.run(["pgrep", "-f", "edgevirt-importer.*slow/disk"], capture_output=True).returncode == 0
    client.delete("dv", "default", "slow")
    wait_until(lambda: not client.exists("dv", "default", "slow") and not client.exists("pvc", "default", "slow"),
               what="the DataVolume and its claim to go", timeout=30)
    assert not os.path.exists(target)
    assert subprocess.run(["pgrep", "-f", "edgevirt-importer.*slow/disk"], capture_output=True).returncode != 0


def test_the_daemon_ignores_sigpipe(daemon):
    """A peer gone mid-write (libvirtd killed while a call was being sent)
    is an error, not the daemon's death (what the programs it runs start
    with: test_images.py, tests/test-spawn.c)."""
    with open(f"/proc/{daemon.proc.pid}/status") as f:
        ignored = int(next(line for line in f if line.startswith("SigIgn:")).split()[1], 16)
    assert ignored & (1 << (signal.SIGPIPE - 1)), "edgevirtd must ignore SIGPIPE"


@pytest.mark.parametrize("source,error,fragment", [
    ("{http: {url: 'ftp://example.com/x.img'}}", "Invalid", "spec.source.http.url"),
    ("{http: {url: 'https://x/y', insecureSkipVerify: true}}", "NotSupported", "insecureSkipVerify"),
    ("{registry: {url: 'oci-archive:///x.tar'}}", "Invalid", "spec.source.registry.url"),
    ("{registry: {imageStream: fedora}}", "NotSupported", "spec.source.registry.imageStream"),
    ("{s3: {url: 'https://x/y'}}", "NotSupported", "spec.source.s3"),
    ("{blank: {}, upload: {}}", "Invalid", "exactly one source"),
    ("{}", "Invalid", "exactly one source"),
])
def test_refused_datavolumes(client, source, error, fragment):
    msg = expect_error(error, client.apply, dv("bad", source))
    assert fragment in msg, msg


def test_size_is_required_except_for_clones(client):
    msg = expect_error("Invalid", client.apply, "apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\n"
                       "metadata: {name: nosize}\nspec: {source: {blank: {}}, storage: {}}\n")
    assert "spec.storage.resources.requests.storage: Required value" in msg


def annotated_pvc(name, annotations, size="64Mi"):
    ann = "".join(f"    {k}: '{v}'\n" for k, v in annotations.items())
    return (f"apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: {name}\n  annotations:\n{ann}"
            f"spec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: {size}}}}}}}\n")


def pvc_annotation(client, name, key):
    return client.get_json("pvc", "default", name)["metadata"].get("annotations", {}).get(key)


def test_pvc_annotated_the_cdi_way(client, images, web):
    client.apply(secret("pvc-creds", "importer", "s3cret"))
    client.apply(annotated_pvc("annotated", {
        "cdi.kubevirt.io/storage.import.endpoint": web.url("private/disk.raw.gz"),
        "cdi.kubevirt.io/storage.import.secretName": "pvc-creds",
        "cdi.kubevirt.io/storage.import.source": "http"}))
    wait_until(lambda: pvc_annotation(client, "annotated", "cdi.kubevirt.io/storage.pod.phase") in ("Succeeded", "Failed"),
               what="the annotated import", timeout=60)
    assert pvc_annotation(client, "annotated", "cdi.kubevirt.io/storage.pod.phase") == "Succeeded", \
        pvc_annotation(client, "annotated", "cdi.kubevirt.io/storage.condition.running.message")
    assert same_bytes(volume(client, "annotated"), images[1])
    # blank, and a failure reported where CDI reports it
    client.apply(annotated_pvc("annotated-blank", {"cdi.kubevirt.io/storage.import.source": "none"}))
    wait_until(lambda: pvc_annotation(client, "annotated-blank", "cdi.kubevirt.io/storage.pod.phase") == "Succeeded",
               what="the blank annotated claim")
    client.apply(annotated_pvc("annotated-404", {"cdi.kubevirt.io/storage.import.endpoint": web.url("nope.img")}))
    wait_until(lambda: pvc_annotation(client, "annotated-404", "cdi.kubevirt.io/storage.pod.phase") == "Failed",
               what="the failed annotated import")
    assert "404" in pvc_annotation(client, "annotated-404", "cdi.kubevirt.io/storage.condition.running.message")


def test_pvc_annotations_are_checked(client):
    msg = expect_error("NotSupported", client.apply,
                       annotated_pvc("ann-registry", {"cdi.kubevirt.io/storage.import.source": "registry"}))
    assert "cdi.kubevirt.io/storage.import.source" in msg
    msg = expect_error("Invalid", client.apply,
                       annotated_pvc("ann-ftp", {"cdi.kubevirt.io/storage.import.endpoint": "ftp://x/y"}))
    assert "storage.import.endpoint" in msg


def test_a_claim_in_use_waits_to_be_deleted(client, quirks):
    """pvc-protection: deleting a claim an import is writing marks it; it
    goes only once nothing uses it (here: the import is stopped)."""
    client.apply(dv("busy", f"{{http: {{url: '{quirks.url('slow/disk.raw.gz')}'}}}}"))
    wait_until(lambda: status(client, "busy").get("phase") == "ImportInProgress", what="the import to run", timeout=30)
    client.delete("pvc", "default", "busy")
    pvc = client.get_json("pvc", "default", "busy")
    assert "deletionTimestamp" in pvc["metadata"]
    assert "kubernetes.io/pvc-protection" in pvc["metadata"]["finalizers"]
    assert os.path.exists(volume(client, "busy"))
    client.delete("dv", "default", "busy")
    wait_until(lambda: not client.exists("pvc", "default", "busy"), what="the claim to go once unused", timeout=30)


def test_a_deleted_claim_is_made_again(client, images, web):
    client.apply(dv("again", f"{{http: {{url: '{web.url('disk.raw.gz')}'}}}}"))
    assert wait_done(client, "again")["phase"] == "Succeeded"
    first_uid = client.get_json("pvc", "default", "again")["metadata"]["uid"]
    client.delete("pvc", "default", "again")
    wait_until(lambda: client.exists("pvc", "default", "again") and
               client.get_json("pvc", "default", "again")["metadata"]["uid"] != first_uid,
               what="a new claim", timeout=30)
    assert wait_done(client, "again")["phase"] == "Succeeded"
    assert same_bytes(volume(client, "again"), images[1])
