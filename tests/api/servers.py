# SPDX-License-Identifier: LGPL-2.1-or-later
"""Test images and servers for the importer: images in every format made
with qemu-img and the compressors at test time, around a known pattern; a
real lighttpd on loopback (plain, basic auth, TLS with a CA made here); and
a small Python server for the misbehaviours lighttpd will not do; Debian's
docker-registry on loopback and OCI images built here to push to it."""
import gzip
import hashlib
import http.server
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import threading
import time

SIZE = 64 << 20
PATTERN = [(0, b"EDGEVIRT-BOOT-SECTOR"), (1 << 20, b"pattern at one MiB" * 200), (40 << 20, b"near the end")]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(*cmd, **kw):
    subprocess.run(cmd, check=True, capture_output=True, **kw)


def make_raw(d):
    """d/disk.raw: SIZE bytes, PATTERN at its offsets, holes elsewhere."""
    raw = os.path.join(d, "disk.raw")
    with open(raw, "wb") as f:
        f.truncate(SIZE)
        for off, data in PATTERN:
            f.seek(off)
            f.write(data)
    return raw


def make_images(d):
    raw = make_raw(d)
    run("gzip", "-k", raw)
    run("xz", "-k", "-T2", raw)
    run("zstd", "-q", raw)
    run("bzip2", "-k", raw)
    for fmt, ext in [("qcow2", "qcow2"), ("vmdk", "vmdk"), ("vpc", "vhd"), ("vhdx", "vhdx"), ("vdi", "vdi")]:
        run("qemu-img", "convert", "-f", "raw", "-O", fmt, raw, os.path.join(d, "disk." + ext))
    run("xz", "-k", "-T2", os.path.join(d, "disk.qcow2"))
    run("gzip", "-k", os.path.join(d, "disk.vmdk"))
    # hostile ones
    run("qemu-img", "create", "-q", "-f", "qcow2", "-b", "/etc/hostname", "-F", "raw", os.path.join(d, "backed.qcow2"), "64M")
    run("qemu-img", "create", "-q", "-f", "qcow2", "-o", f"data_file={d}/external.raw,data_file_raw=on",
        os.path.join(d, "datafile.qcow2"), "64M")
    run("qemu-img", "create", "-q", "-f", "qcow2", os.path.join(d, "huge.qcow2"), "1T")
    with gzip.open(os.path.join(d, "bomb.raw.gz"), "wb", compresslevel=1) as f:
        chunk = bytes(1 << 20)
        for _ in range(256):
            f.write(chunk)
    xz = open(os.path.join(d, "disk.raw.xz"), "rb").read()
    open(os.path.join(d, "truncated.raw.xz"), "wb").write(xz[: len(xz) // 2])
    open(os.path.join(d, "notanimage.txt"), "w").write("hello\n")
    os.makedirs(os.path.join(d, "private"))
    shutil.copy(os.path.join(d, "disk.raw.gz"), os.path.join(d, "private", "disk.raw.gz"))
    return raw


def same_bytes(volume, image):
    """The volume starts with the image's bytes (and is zero past them)."""
    if subprocess.run(["cmp", "-s", "-n", str(SIZE), volume, image]).returncode != 0:
        return False
    with open(volume, "rb") as f:
        f.seek(SIZE)
        rest = f.read()
    return rest.count(0) == len(rest)


def make_ca(d):
    """A CA and a localhost certificate signed by it."""
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=edgevirt test CA",
        "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.pem")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
        "-keyout", f"{d}/server.key", "-out", f"{d}/server.csr")
    with open(f"{d}/ext.cnf", "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("openssl", "x509", "-req", "-in", f"{d}/server.csr", "-CA", f"{d}/ca.pem", "-CAkey", f"{d}/ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", f"{d}/ext.cnf", "-out", f"{d}/server.crt")
    with open(f"{d}/server.pem", "w") as f:
        f.write(open(f"{d}/server.crt").read() + open(f"{d}/server.key").read())


def wait_listening(proc, port, what):
    """Until proc accepts connections on 127.0.0.1:port; its stderr if it dies."""
    for _ in range(400):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"{what} did not start: " + proc.stderr.read().decode())
            time.sleep(0.02)
    raise RuntimeError(f"{what} does not listen on port {port}")


class Lighttpd:
    def __init__(self, root, tmp):
        self.port, self.tls_port = free_port(), free_port()
        make_ca(tmp)
        with open(f"{tmp}/users", "w") as f:
            f.write("importer:s3cret\n")
        conf = f"""
server.document-root = "{root}"
server.bind = "127.0.0.1"
server.port = {self.port}
server.modules = ("mod_auth", "mod_authn_file", "mod_openssl")
server.errorlog = "{tmp}/lighttpd.log"
auth.backend = "plain"
auth.backend.plain.userfile = "{tmp}/users"
auth.require = ("/private/" => ("method" => "basic", "realm" => "images", "require" => "valid-user"))
$SERVER["socket"] == "127.0.0.1:{self.tls_port}" {{
    ssl.engine = "enable"
    ssl.pemfile = "{tmp}/server.pem"
}}
"""
        with open(f"{tmp}/lighttpd.conf", "w") as f:
            f.write(conf)
        self.proc = subprocess.Popen(["lighttpd", "-D", "-f", f"{tmp}/lighttpd.conf"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.ca = open(f"{tmp}/ca.pem").read()
        wait_listening(self.proc, self.port, "lighttpd")

    def url(self, path, tls=False):
        return f"https://localhost:{self.tls_port}/{path}" if tls else f"http://127.0.0.1:{self.port}/{path}"

    def stop(self):
        self.proc.terminate()
        self.proc.wait()



def send_range(handler, data):
    """Answer an open-ended Range request ("bytes=N-") with the rest of
    data (206); False when the request asks for no such range."""
    rng = handler.headers.get("Range", "")
    if not (rng.startswith("bytes=") and rng.endswith("-")):
        return False
    start = int(rng[6:-1])
    handler.send_response(206)
    handler.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
    handler.send_header("Content-Length", str(len(data) - start))
    handler.end_headers()
    handler.wfile.write(data[start:])
    return True

class Quirks(http.server.BaseHTTPRequestHandler):
    """/drop/F: the first request of F stops half-way, later ones honour
    Range; /dropfull/F: the same, but Range is ignored (200 again);
    /slow/F: trickles;
    /header/F: 403 without "X-Token: let-me-in"; /redirect: to file://."""
    root = None
    seen = {}
    lock = threading.Lock()

    def log_message(self, *a):
        pass

    def do_GET(self):
        parts = self.path.strip("/").split("/", 1)
        with self.lock:
            first = self.seen.setdefault(self.path, 0) == 0
            self.seen[self.path] += 1
        if parts[0] == "redirect":
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.end_headers()
            return
        if len(parts) != 2:
            self.send_error(404)
            return
        kind, name = parts
        path = os.path.join(self.root, name)
        if not os.path.isfile(path):
            self.send_error(404)
            return
        data = open(path, "rb").read()
        if kind == "header" and self.headers.get("X-Token") != "let-me-in":
            self.send_error(403)
            return
        if kind == "error503" and first:
            self.send_error(503)
            return
        if kind == "drop" and send_range(self, data):
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            if kind in ("drop", "dropfull") and first:
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if kind == "slow":
                for i in range(0, len(data), 1024):
                    self.wfile.write(data[i:i + 1024])
                    time.sleep(0.05)
                return
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


class QuirkServer:
    def __init__(self, root):
        Quirks.root = root
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quirks)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}/{path}"

    def requests(self, path):
        return Quirks.seen.get(path, 0)

    def stop(self):
        self.server.shutdown()


# --- a container registry (docker-registry on loopback) and OCI images for it ---

def blob(layout, data):
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as f:
        f.write(data)
    return "sha256:" + digest


def layer(files, compression="gzip"):
    """A gzip'd (or zstd'd) tar of {path: bytes}; returns (compressed, uncompressed digest)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mode = 0o644
            t.addfile(info, io.BytesIO(data))
    plain = raw.getvalue()
    if compression == "zstd":
        packed = subprocess.run(["zstd", "-q", "-c"], input=plain, capture_output=True, check=True).stdout
    else:
        packed = gzip.compress(plain, compresslevel=1)
    return packed, "sha256:" + hashlib.sha256(plain).hexdigest()


def image(layout, layers, arch="amd64", compression="gzip", labels=None):
    """Blobs and a manifest for the layers; returns the manifest descriptor."""
    descs, diff_ids = [], []
    for files in layers:
        gz, diff = layer(files, compression)
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+" + compression, "digest": blob(layout, gz),
                      "size": len(gz)})
        diff_ids.append(diff)
    config = {"architecture": arch, "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    if labels:
        config["config"] = {"Labels": labels}
    config = json.dumps(config).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": blob(layout, config),
                                      "size": len(config)},
                           "layers": descs}).encode()
    return {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": blob(layout, manifest), "size": len(manifest),
            "platform": {"architecture": arch, "os": "linux"}}


def layout(d, name, manifests, index=False):
    """An OCI layout holding one image (or an index of several) tagged name."""
    os.makedirs(os.path.join(d, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(d, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    if index:
        idx = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}).encode()
        top = {"mediaType": "application/vnd.oci.image.index.v1+json", "digest": blob(d, idx), "size": len(idx)}
    else:
        top = dict(manifests[0])
        top.pop("platform")
    top["annotations"] = {"org.opencontainers.image.ref.name": name}
    with open(os.path.join(d, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [top]}, f)


class Registry:
    def __init__(self, tmp, auth=False, tls=False, token=None):
        self.port = free_port()
        self.root = os.path.join(tmp, "storage")
        conf = {"version": 0.1, "storage": {"filesystem": {"rootdirectory": self.root}, "delete": {"enabled": True}},
                "http": {"addr": f"127.0.0.1:{self.port}"}, "log": {"level": "error"}}
        self.creds = None
        if auth:
            pw = os.path.join(tmp, "htpasswd")
            out = subprocess.run(["htpasswd", "-Bbn", "puller", "s3cret"], capture_output=True, text=True, check=True).stdout
            open(pw, "w").write(out)
            conf["auth"] = {"htpasswd": {"realm": "edgevirt-test", "path": pw}}
            self.creds = "puller:s3cret"
        if token:
            conf["auth"] = {"token": {"realm": f"http://127.0.0.1:{token.port}/token", "service": "edgevirt-test",
                                      "issuer": "edgevirt-test-issuer", "rootcertbundle": token.bundle}}
            self.creds = "puller:s3cret"
        self.cert_dir = None
        if tls:
            make_ca(tmp)
            conf["http"]["tls"] = {"certificate": f"{tmp}/server.crt", "key": f"{tmp}/server.key"}
            self.cert_dir = os.path.join(tmp, "certs")
            os.makedirs(self.cert_dir)
            shutil.copy(f"{tmp}/ca.pem", os.path.join(self.cert_dir, "ca.crt"))
            self.ca = open(f"{tmp}/ca.pem").read()
        path = os.path.join(tmp, "config.yml")
        with open(path, "w") as f:
            json.dump(conf, f)         # JSON is YAML
        self.proc = subprocess.Popen(["docker-registry", "serve", path], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_listening(self.proc, self.port, "docker-registry")
        self.host = f"{'localhost' if tls else '127.0.0.1'}:{self.port}"

    def push(self, oci_dir, name, all_images=False):
        cmd = ["skopeo", "copy", "--quiet", "--dest-tls-verify=false" if not self.cert_dir else f"--dest-cert-dir={self.cert_dir}"]
        if self.creds:
            cmd.append(f"--dest-creds={self.creds}")
        if all_images:
            cmd.append("--all")
        cmd += [f"oci:{oci_dir}:{name.split(':')[1]}", f"docker://{self.host}/{name}"]
        subprocess.run(cmd, check=True, capture_output=True)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
