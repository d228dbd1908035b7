# SPDX-License-Identifier: LGPL-2.1-or-later
"""Import slots: every importer process (http, uploads) counts against
[Imports] MaxImports and MaxImportsPerNamespace; waiting imports start
fairly across namespaces; an upload that brings nothing fails after
UploadIdleTimeout; a server that stalls mid-body gives its slot back while
the importer backs off, and the transfer resumes with a Range request."""
import gzip
import http.server
import os
import shutil
import tempfile
import threading

import dbus
import pytest

from conftest import Client, Daemon, expect_error, path_encode, wait_until
from servers import make_raw, same_bytes, send_range

DV_IFACE = "org.edgevirt.EdgeVirt1.DataVolume"
PVC_IFACE = "org.edgevirt.EdgeVirt1.PersistentVolumeClaim"


@pytest.fixture(scope="module")
def images():
    d = tempfile.mkdtemp(prefix="edgevirt-slots-")
    raw = make_raw(d)
    with open(raw, "rb") as src, gzip.open(raw + ".gz", "wb", compresslevel=1) as dst:
        shutil.copyfileobj(src, dst)
    yield d, raw
    shutil.rmtree(d, ignore_errors=True)


class Slow(http.server.BaseHTTPRequestHandler):
    """/gate/KEY/F: waits until the test opens KEY's gate, then sends F;
    /stall/F: the first request sends half of F and then nothing (the
    connection stays open), later ones honour Range; /plain/F: F."""
    root = None
    lock = threading.Lock()
    order = []                      # first request of each path, in order
    ranges = {}                     # path -> Range headers seen
    log = []                        # every request: (path, Range)
    gates = {}
    stop = threading.Event()

    def log_message(self, *a):
        pass

    def do_GET(self):
        parts = self.path.strip("/").split("/")
        with self.lock:
            if self.path not in self.ranges:
                self.order.append(self.path)
            self.ranges.setdefault(self.path, []).append(self.headers.get("Range", ""))
            self.log.append((self.path, self.headers.get("Range", "")))
            first = len(self.ranges[self.path]) == 1
        data = open(os.path.join(self.root, parts[-1]), "rb").read()
        if parts[0] == "gate":
            with self.lock:
                gate = self.gates.setdefault(parts[1], threading.Event())
            gate.wait(120)
        try:
            if send_range(self, data):
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if parts[0] == "stall" and first:
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.stop.wait(120)
                return
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    @classmethod
    def open_gate(cls, key):
        with cls.lock:
            cls.gates.setdefault(key, threading.Event()).set()


@pytest.fixture
def server(images):
    Slow.root = images[0]
    Slow.order, Slow.ranges, Slow.gates, Slow.log = [], {}, {}, []
    Slow.stop = threading.Event()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    srv.url = lambda path: f"http://127.0.0.1:{srv.server_address[1]}/{path}"
    yield srv
    Slow.stop.set()
    for g in list(Slow.gates.values()):
        g.set()
    srv.shutdown()


def start_daemon(bus, state_dir, config):
    d = Daemon(bus, state_dir)
    with open(d.config, "w") as f:
        f.write("[Imports]\n" + config)
    return d.start()


@pytest.fixture
def make_daemon(bus, state_dir):
    started = []

    def make(config):
        d = start_daemon(bus, state_dir, config)
        started.append(d)
        return d, Client(bus.conn)
    yield make
    for d in started:
        d.stop()


def dv(name, namespace, source):
    return (f"apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\n"
            f"metadata: {{name: {name}, namespace: {namespace}}}\n"
            f"spec:\n  source: {source}\n  storage:\n    resources: {{requests: {{storage: 64Mi}}}}\n")


def namespace(client, name):
    client.apply(f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}}}\n")


def status(client, ns, name):
    return client.get_json("dv", ns, name).get("status", {})


def wait_phase(client, ns, name, phases, timeout=60):
    wait_until(lambda: status(client, ns, name).get("phase") in phases, timeout=timeout,
               what=f"DataVolume {ns}/{name} to be {phases}")
    return status(client, ns, name)


def ready_message(st):
    return next((c["message"] for c in st.get("conditions", []) if c["type"] == "Ready"), "")


def upload_iface(client, ns, name):
    path = f"/org/edgevirt/EdgeVirt1/namespace/{path_encode(ns)}/datavolume/{path_encode(name)}"
    return dbus.Interface(client.conn.get_object("org.edgevirt.EdgeVirt1", path), DV_IFACE)


def upload_pipe(client, ns, name):
    """Upload the read end of a new pipe; returns the write end."""
    r, w = os.pipe()
    try:
        upload_iface(client, ns, name).Upload(dbus.types.UnixFd(r), {})
    finally:
        os.close(r)
    return w


def volume(client, ns, name):
    path = f"/org/edgevirt/EdgeVirt1/namespace/{path_encode(ns)}/pvc/{path_encode(name)}"
    return str(client.props(path, PVC_IFACE)["VolumePath"])


def importers(daemon):
    """The daemon's edgevirt-importer children."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        if int(fields[1]) == daemon.proc.pid and comm.startswith("edgevirt-import"):
            found.append(int(pid))
    return found


def write_all(fd, path):
    """Send the file through the pipe and close it."""
    with open(path, "rb") as f:
        view = memoryview(f.read())
    while view:
        view = view[os.write(fd, view[:1 << 20]):]
    os.close(fd)


def test_an_idle_upload_fails_and_may_be_sent_again(make_daemon, images):
    daemon, client = make_daemon("UploadIdleTimeout=2\n")
    client.apply(dv("idle", "default", "{upload: {}}"))
    wait_phase(client, "default", "idle", ("UploadReady",))
    w = upload_pipe(client, "default", "idle")
    os.write(w, open(images[1] + ".gz", "rb").read(4096))     # a start, then nothing
    wait_phase(client, "default", "idle", ("UploadInProgress",), timeout=10)
    try:
        # the client keeps its end open: only the idle time-out ends it
        wait_until(lambda: "upload idle for 2 s" in ready_message(status(client, "default", "idle")), timeout=30,
                   what="the upload to fail as idle")
        st = status(client, "default", "idle")
        assert st["phase"] == "UploadReady" and st["restartCount"] == 1
        assert "no data received" in ready_message(st)
        assert importers(daemon) == []
    finally:
        os.close(w)
    # retriable: a new Upload starts it again
    w = upload_pipe(client, "default", "idle")
    write_all(w, images[1] + ".gz")
    assert wait_phase(client, "default", "idle", ("Succeeded", "Failed"))["phase"] == "Succeeded"
    assert same_bytes(volume(client, "default", "idle"), images[1])


def test_a_trickling_upload_fails_as_too_slow(make_daemon, images):
    """A byte now and then is not an upload: at least 64 KiB must come in
    every UploadIdleTimeout, else the slot would be held for ever."""
    daemon, client = make_daemon("UploadIdleTimeout=2\n")
    client.apply(dv("trickle", "default", "{upload: {}}"))
    wait_phase(client, "default", "trickle", ("UploadReady",))
    w = upload_pipe(client, "default", "trickle")
    data = open(images[1] + ".gz", "rb").read(64)
    stop = threading.Event()

    def trickle():
        for b in data:
            if stop.wait(0.3):
                return
            try:
                os.write(w, bytes([b]))
            except OSError:
                return
    t = threading.Thread(target=trickle)
    t.start()
    try:
        wait_until(lambda: "upload too slow" in ready_message(status(client, "default", "trickle")), timeout=30,
                   what="the trickling upload to fail")
        st = status(client, "default", "trickle")
        assert st["phase"] == "UploadReady" and "at least 64 KiB every 2 s" in ready_message(st), st
        assert importers(daemon) == []
    finally:
        stop.set()
        t.join()
        os.close(w)


def test_uploads_count_against_the_caps(make_daemon, images, server):
    daemon, client = make_daemon("MaxImports=2\nMaxImportsPerNamespace=1\nUploadIdleTimeout=300\n")
    namespace(client, "up-a")
    namespace(client, "up-b")
    client.apply("---\n".join(dv(f"u{i}", "up-a", "{upload: {}}") for i in range(3)))
    for i in range(3):
        wait_phase(client, "up-a", f"u{i}", ("UploadReady",))
    writers = []
    try:
        writers.append(upload_pipe(client, "up-a", "u0"))
        wait_phase(client, "up-a", "u0", ("UploadInProgress",), timeout=10)
        # the namespace's one slot is taken: the next waits with its fd...
        writers.append(upload_pipe(client, "up-a", "u1"))
        st = wait_phase(client, "up-a", "u1", ("UploadScheduled",), timeout=10)
        assert "waiting for an import slot" in ready_message(st)
        # ...and no more than the cap may wait
        r, w = os.pipe()
        msg = expect_error("Conflict", upload_iface(client, "up-a", "u2").Upload, dbus.types.UnixFd(r), {})
        os.close(r)
        os.close(w)
        assert "for an import slot" in msg and "try again" in msg
        assert status(client, "up-a", "u2")["phase"] == "UploadReady"
        assert len(importers(daemon)) == 1
        # another namespace still imports, while up-a's uploads hang
        client.apply(dv("web", "up-b", f"{{http: {{url: '{server.url('plain/disk.raw.gz')}'}}}}"))
        st = wait_phase(client, "up-b", "web", ("Succeeded", "Failed"), timeout=30)
        assert st["phase"] == "Succeeded", ready_message(st)
        assert status(client, "up-a", "u0")["phase"] == "UploadInProgress"
        assert status(client, "up-a", "u1")["phase"] == "UploadScheduled"
        assert len(importers(daemon)) == 1
        # the first ends: the waiting one starts, and finishes
        write_all(writers.pop(0), images[1] + ".gz")
        assert wait_phase(client, "up-a", "u0", ("Succeeded", "Failed"))["phase"] == "Succeeded"
        wait_phase(client, "up-a", "u1", ("UploadInProgress",), timeout=10)
        write_all(writers.pop(0), images[1] + ".gz")
        assert wait_phase(client, "up-a", "u1", ("Succeeded", "Failed"))["phase"] == "Succeeded"
        assert same_bytes(volume(client, "up-a", "u1"), images[1])
    finally:
        for w in writers:
            os.close(w)


def test_a_stalled_server_gives_its_slot_back(make_daemon, images, server):
    daemon, client = make_daemon("MaxImports=1\nStallTimeout=2\n")
    stalled = "stall/disk.raw.gz"
    client.apply(dv("stalled", "default", f"{{http: {{url: '{server.url(stalled)}'}}}}"))
    wait_until(lambda: f"/{stalled}" in Slow.ranges, timeout=10, what="the stalling request")
    client.apply(dv("other", "default", f"{{http: {{url: '{server.url('plain/disk.raw.gz')}'}}}}"))
    # the stalled transfer breaks after 2 s and waits without its slot:
    # the other import runs meanwhile
    st = wait_phase(client, "default", "other", ("Succeeded", "Failed"), timeout=30)
    assert st["phase"] == "Succeeded", ready_message(st)
    # then it takes a slot again and resumes where it stopped
    st = wait_phase(client, "default", "stalled", ("Succeeded", "Failed"), timeout=30)
    assert st["phase"] == "Succeeded", ready_message(st)
    assert st["restartCount"] == 0
    assert same_bytes(volume(client, "default", "stalled"), images[1])
    seen = Slow.ranges[f"/{stalled}"]
    assert len(seen) == 2 and seen[0] == "" and seen[1].startswith("bytes=") and seen[1] != "bytes=0-"
    # in that order: the stalled request, the other import, the resumption
    assert [p for p, _ in Slow.log] == [f"/{stalled}", "/plain/disk.raw.gz", f"/{stalled}"], Slow.log


def test_waiting_imports_start_fairly_across_namespaces(make_daemon, images, server):
    daemon, client = make_daemon("MaxImports=1\n")
    namespace(client, "fair-a")
    namespace(client, "fair-b")
    busy = [f"a{i}" for i in range(4)]
    client.apply("---\n".join(dv(n, "fair-a", f"{{http: {{url: '{server.url(f'gate/{n}/disk.raw.gz')}'}}}}")
                              for n in busy))
    wait_until(lambda: len(Slow.order) == 1, timeout=10, what="the first import of fair-a")
    first = Slow.order[0].split("/")[2]
    for n in busy:
        if n != first:
            wait_phase(client, "fair-a", n, ("ImportScheduled",), timeout=10)
    client.apply(dv("b0", "fair-b", f"{{http: {{url: '{server.url('gate/b0/disk.raw.gz')}'}}}}"))
    wait_phase(client, "fair-b", "b0", ("ImportScheduled",), timeout=10)
    # the one slot frees: fair-b's single import goes before fair-a's queue
    Slow.open_gate(first)
    wait_until(lambda: len(Slow.order) == 2, timeout=30, what="the next import")
    assert Slow.order[1] == "/gate/b0/disk.raw.gz", Slow.order
    assert len(importers(daemon)) <= 1
    for n in busy + ["b0"]:
        Slow.open_gate(n)
    for n in busy:
        assert wait_phase(client, "fair-a", n, ("Succeeded", "Failed"))["phase"] == "Succeeded"
    assert wait_phase(client, "fair-b", "b0", ("Succeeded", "Failed"))["phase"] == "Succeeded"
