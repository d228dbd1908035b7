# SPDX-License-Identifier: LGPL-2.1-or-later
"""DataVolumes from container registries (containerDisks): Debian's
docker-registry (the reference registry) on loopback, plain, with basic
auth (htpasswd) and with TLS from a test CA; images built here as OCI
layouts (a /disk/ layer holding a qcow2 with a known pattern; a multi-arch
index; an image without /disk/) and pushed with skopeo."""
import hashlib
import json
import os
import subprocess
import time

import pytest

import servers
from servers import Registry, image, layer, layout
from conftest import expect_error, wait_until


def free_port():
    return servers.free_port()


class TokenServer:
    """A token service as docker-registry's token auth wants it: a JWT
    (RS256, the signing certificate in x5c) for a basic-authenticated
    user, scoped to what was asked; anonymous callers are refused."""

    def __init__(self, tmp):
        import http.server
        import threading
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
        from cryptography.x509.oid import NameOID
        import datetime

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "edgevirt token signer")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(1).not_valid_before(now - datetime.timedelta(hours=1))
                .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
        self.bundle = os.path.join(tmp, "token-ca.pem")
        with open(self.bundle, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        der = cert.public_bytes(serialization.Encoding.DER)
        self.requests = []
        server = self

        def b64url(b):
            return __import__("base64").urlsafe_b64encode(b).rstrip(b"=").decode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                from urllib.parse import parse_qs, urlparse
                q = parse_qs(urlparse(self.path).query)
                auth = self.headers.get("Authorization", "")
                server.requests.append((self.path, auth))
                if auth != "Basic " + __import__("base64").b64encode(b"puller:s3cret").decode():
                    self.send_response(401)
                    self.end_headers()
                    return
                access = []
                for scope in q.get("scope", []):
                    kind, repo, actions = scope.split(":")
                    access.append({"type": kind, "name": repo, "actions": actions.split(",")})
                t = int(time.time())
                header = {"typ": "JWT", "alg": "RS256", "x5c": [__import__("base64").b64encode(der).decode()]}
                claims = {"iss": "edgevirt-test-issuer", "sub": "puller", "aud": q.get("service", [""])[0],
                          "exp": t + 300, "nbf": t - 10, "iat": t, "jti": str(t), "access": access}
                signing = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
                sig = key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())
                body = json.dumps({"token": signing + "." + b64url(sig)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()


@pytest.fixture(scope="module")
def disk(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("disk"))
    raw = os.path.join(d, "disk.raw")
    with open(raw, "wb") as f:
        f.truncate(servers.SIZE)
        for off, data in servers.PATTERN:
            f.seek(off)
            f.write(data)
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, os.path.join(d, "disk.qcow2")], check=True)
    return raw, open(os.path.join(d, "disk.qcow2"), "rb").read()


@pytest.fixture(scope="module")
def images(tmp_path_factory, disk):
    """OCI layouts: a containerDisk, a multi-arch index, one without /disk/, one with two disk files."""
    d = str(tmp_path_factory.mktemp("oci"))
    _, qcow2 = disk
    base = {"etc/os-release": b"ID=test\n"}
    out = {}
    out["cd"] = os.path.join(d, "cd")
    layout(out["cd"], "v1", [image(out["cd"], [base, {"disk/": b"", "disk/disk.qcow2": qcow2}])])
    out["multi"] = os.path.join(d, "multi")
    arm = image(out["multi"], [{"disk/disk.img": b"arm64 is not for this node" * 100}], arch="arm64")
    amd = image(out["multi"], [{"disk/disk.qcow2": qcow2}])
    layout(out["multi"], "v1", [arm, amd], index=True)
    out["nodisk"] = os.path.join(d, "nodisk")
    layout(out["nodisk"], "v1", [image(out["nodisk"], [base])])
    out["two"] = os.path.join(d, "two")
    layout(out["two"], "v1", [image(out["two"], [{"disk/a.qcow2": qcow2, "disk/b.qcow2": qcow2}])])
    return out


@pytest.fixture(scope="module")
def plain(tmp_path_factory, images):
    r = Registry(str(tmp_path_factory.mktemp("reg")))
    r.push(images["cd"], "kubevirt/cirros:v1")
    r.push(images["multi"], "kubevirt/multi:v1", all_images=True)
    r.push(images["nodisk"], "kubevirt/nodisk:v1")
    r.push(images["two"], "kubevirt/two:v1")
    yield r
    r.stop()


def dv(name, url, extra=""):
    return (f"apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\nmetadata: {{name: {name}}}\n"
            f"spec:\n  source: {{registry: {{url: \"{url}\"{extra}}}}}\n  storage: {{resources: {{requests: {{storage: 128Mi}}}}}}\n")


def finished(client, name, timeout=60):
    wait_until(lambda: client.get_json("dv", "default", name).get("status", {}).get("phase") in ("Succeeded", "Failed"),
               timeout=timeout, what=f"{name} to finish")
    return client.get_json("dv", "default", name)["status"]


def message(status):
    return next(c["message"] for c in status["conditions"] if c["type"] == "Running")


def volume_of(client, name):
    return str(client.props(f"/org/edgevirt/EdgeVirt1/namespace/default/pvc/{name.replace('-', '_2d')}",
                            "org.edgevirt.EdgeVirt1.PersistentVolumeClaim")["VolumePath"])


def test_import_a_container_disk(client, plain, disk):
    client.apply(dv("cd", f"docker://{plain.host}/kubevirt/cirros:v1"))
    st = finished(client, "cd")
    assert st["phase"] == "Succeeded", st
    servers.same_bytes(volume_of(client, "cd"), disk[0])


def test_multi_arch_index_picks_amd64(client, plain, disk):
    client.apply(dv("multi", f"docker://{plain.host}/kubevirt/multi:v1"))
    st = finished(client, "multi")
    assert st["phase"] == "Succeeded", st
    servers.same_bytes(volume_of(client, "multi"), disk[0])


@pytest.mark.parametrize("ref,words", [
    ("kubevirt/nodisk:v1", "no file under /disk/"),
    ("kubevirt/two:v1", "more than one disk file"),
    ("kubevirt/cirros:nosuchtag", "not found"),
    ("kubevirt/nosuchrepo:v1", "not found"),
])
def test_errors_say_what_happened(client, plain, ref, words):
    name = "e-" + hashlib.sha1(ref.encode()).hexdigest()[:8]
    client.apply(dv(name, f"docker://{plain.host}/{ref}"))
    st = finished(client, name)
    assert st["phase"] == "Failed" and words in message(st), st


def test_corrupted_layer_is_refused(client, tmp_path, images):
    r = Registry(str(tmp_path))
    try:
        r.push(images["cd"], "kubevirt/cirros:v1")
        # swap the disk layer in the registry's storage for another valid
        # layer: only its digest tells
        blobs = os.path.join(r.root, "docker", "registry", "v2", "blobs", "sha256")
        biggest = max((os.path.join(dp, f) for dp, _, fs in os.walk(blobs) for f in fs), key=os.path.getsize)
        forged, _ = layer({"disk/disk.img": b"forged" * 1000})
        open(biggest, "wb").write(forged)
        client.apply(dv("bad", f"docker://{r.host}/kubevirt/cirros:v1"))
        st = finished(client, "bad", timeout=120)
        assert st["phase"] == "Failed" and "checksum mismatch" in message(st), st
    finally:
        r.stop()


def test_basic_auth_and_tls(client, tmp_path, images, disk):
    r = Registry(str(tmp_path), auth=True, tls=True)
    try:
        r.push(images["cd"], "kubevirt/cirros:v1")
        client.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: reg-ca}\ndata:\n  ca.pem: |\n" +
                     "".join("    " + line + "\n" for line in r.ca.splitlines()))
        url = f"docker://{r.host}/kubevirt/cirros:v1"
        client.apply(dv("noauth", url, ", certConfigMap: reg-ca"))
        st = finished(client, "noauth")
        assert st["phase"] == "Failed" and "unauthorized" in message(st), st
        client.apply("apiVersion: v1\nkind: Secret\nmetadata: {name: reg-creds}\n"
                     "stringData: {accessKeyId: puller, secretKey: s3cret}\n")
        client.apply(dv("authed", url, ", certConfigMap: reg-ca, secretRef: reg-creds"))
        st = finished(client, "authed")
        assert st["phase"] == "Succeeded", st
        servers.same_bytes(volume_of(client, "authed"), disk[0])
        # without the CA the TLS check fails
        client.apply(dv("noca", url, ", secretRef: reg-creds"))
        st = finished(client, "noca")
        assert st["phase"] == "Failed" and "certificate" in message(st).lower(), st
    finally:
        r.stop()


def test_bearer_token(client, tmp_path, images, disk):
    token = TokenServer(str(tmp_path))
    r = Registry(str(tmp_path), token=token)
    try:
        r.push(images["cd"], "kubevirt/cirros:v1")
        url = f"docker://{r.host}/kubevirt/cirros:v1"
        client.apply(dv("anon", url))
        st = finished(client, "anon")
        assert st["phase"] == "Failed" and "token service refused anonymous access" in message(st), st
        client.apply("apiVersion: v1\nkind: Secret\nmetadata: {name: tok-creds}\n"
                     "stringData: {accessKeyId: puller, secretKey: s3cret}\n")
        client.apply(dv("tok", url, ", secretRef: tok-creds"))
        st = finished(client, "tok")
        assert st["phase"] == "Succeeded", st
        servers.same_bytes(volume_of(client, "tok"), disk[0])
        # the scope asked for is the repository's pull
        assert any("scope=repository%3Akubevirt%2Fcirros%3Apull" in path for path, _ in token.requests), token.requests
    finally:
        r.stop()
        token.stop()


def test_admission(client):
    msg = expect_error("Invalid", client.apply, dv("x", "https://example.com/x"))
    assert "spec.source.registry.url" in msg and "docker://" in msg
    msg = expect_error("NotSupported", client.apply, dv("x", "docker://example.com/x", ", pullMethod: node"))
    assert "pullMethod" in msg
    msg = expect_error("NotSupported", client.apply,
                       "apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\nmetadata: {name: x}\n"
                       "spec: {source: {registry: {imageStream: fedora}}, storage: {resources: {requests: {storage: 1Gi}}}}\n")
    assert "imageStream" in msg
