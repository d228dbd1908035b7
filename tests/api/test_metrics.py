# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Prometheus endpoint (docs/observability.md): [Metrics] Listen= in
edgevirtd.conf, GET /metrics only, an optional bearer token, TLS with
client certificates, a cache that
keeps scrapers from making libvirt's statistics hot, and connections that
cannot stall the daemon.  The text must parse with the Prometheus client
library's own parser and pass promtool's checks."""
import calendar
import http.client
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time

import dbus
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import NAME, ROOT, Client, Daemon, wait_until
from servers import make_ca, run

# promtool's lint disagrees with two names KubeVirt and CDI chose, kept as
# they are so that their dashboards and alerts work: CDI's progress label
# ownerUID (lint wants snake_case) and kubevirt_vmi_phase_count (a gauge
# whose name ends in _count).  Nothing else may be reported.
KNOWN_LINT = (
    ("kubevirt_cdi_import_progress_total", "label names should be written in 'snake_case' not 'camelCase'"),
    ("kubevirt_cdi_clone_progress_total", "label names should be written in 'snake_case' not 'camelCase'"),
    ("kubevirt_vmi_phase_count", 'non-histogram and non-summary metrics should not have "_count" suffix'),
)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Endpoint:
    def __init__(self, port, token=None):
        self.port = port
        self.token = token

    def get(self, path="/metrics", token=None, method="GET", headers=None, timeout=10):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = dict(headers or {})
        token = token if token is not None else self.token
        if token:
            h["Authorization"] = "Bearer " + token
        c.request(method, path, headers=h)
        r = c.getresponse()
        body = r.read().decode()
        c.close()
        return r.status, body, r

    def scrape(self):
        status, text, r = self.get()
        assert status == 200, text
        assert r.getheader("Content-Type").startswith("text/plain; version=0.0.4")
        return text


def families(text):
    return {f.name: f for f in text_string_to_metric_families(text)}


def samples(text, series, **labels):
    """Samples of the series whose labels include labels."""
    out = []
    for f in text_string_to_metric_families(text):
        for s in f.samples:
            if s.name == series and all(s.labels.get(k) == v for k, v in labels.items()):
                out.append(s)
    return out


def value(text, series, **labels):
    found = samples(text, series, **labels)
    assert len(found) == 1, f"{series} {labels}: {found}"
    return found[0].value


def promtool(text):
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    problems = [line for line in (r.stdout + r.stderr).splitlines()
                if line.strip() and not any(line == f"{name} {msg}" for name, msg in KNOWN_LINT)]
    assert not problems, "\n".join(problems)
    return r


def start(bus, state_dir, extra=""):
    port = free_port()
    d = Daemon(bus, state_dir)
    with open(d.config, "w") as f:
        f.write(f"[Metrics]\nListen=127.0.0.1:{port}\nCacheSeconds=2\nTimeout=3\n{extra}")
    d.start()
    return d, port


@pytest.fixture
def metrics(bus, state_dir):
    d, port = start(bus, state_dir)
    yield Endpoint(port)
    d.stop()


@pytest.fixture
def mclient(bus, metrics):
    return Client(bus.conn)


def test_off_by_default(bus, state_dir):
    d = Daemon(bus, state_dir).start()
    try:
        assert "serving metrics" not in d.read_log()
    finally:
        d.stop()


def test_bad_settings_name_the_key(bus, state_dir):
    for text, key in (("Listen=localhost\n", "Listen"), ("Listen=127.0.0.1:0\n", "Listen"),
                      ("CacheSeconds=0\n", "CacheSeconds"), ("Port=1\n", "Port"),
                      ("BearerTokenFile=relative\n", "BearerTokenFile")):
        d = Daemon(bus, state_dir)
        with open(d.config, "w") as f:
            f.write("[Metrics]\n" + text)
        d.start(wait=False)
        assert d.proc.wait(timeout=10) != 0
        assert key in d.read_log(), d.read_log()
        os.unlink(d.log_path)


def test_scrape_parses_and_passes_promtool(metrics, mclient):
    text = metrics.scrape()
    fams = families(text)
    promtool(text)
    assert value(text, "edgevirt_build_info", version="0.1.0") == 1
    assert fams["edgevirt_metrics_collections"].type == "counter"  # the parser drops _total
    # objects per kind and namespace: the default namespace and class exist
    assert value(text, "edgevirt_objects", kind="Namespace") >= 1
    assert value(text, "edgevirt_objects", kind="StorageClass") == 1
    assert value(text, "edgevirt_storageclass_capacity_bytes", storageclass="local") > 0
    assert value(text, "edgevirt_storageclass_allocated_bytes", storageclass="local") == 0
    assert value(text, "edgevirt_importers_running") == 0
    assert value(text, "edgevirt_importers_max") == 4
    assert value(text, "edgevirt_image_cache_bytes") == 0
    # libvirt answered the collection's one statistics call (the test
    # driver's statistics are the domains' states only: no kubevirt_vmi_cpu_*)
    assert value(text, "edgevirt_libvirt_up") == 1
    # the process: a real RSS and descriptors
    assert value(text, "process_resident_memory_bytes") > 1 << 20
    assert value(text, "process_open_fds") > 3


def test_objects_and_calls_are_counted(metrics, mclient):
    mclient.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n"
                  "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata: {k: v}\n")
    with pytest.raises(dbus.DBusException):
        mclient.get("ConfigMap", "default", "missing")
    time.sleep(2.1)     # past the cache
    text = metrics.scrape()
    assert value(text, "edgevirt_objects", kind="ConfigMap", namespace="default") == 2
    mgr = "org.edgevirt.EdgeVirt1.Manager"
    assert value(text, "edgevirt_dbus_calls_total", interface=mgr, method="Apply") >= 1
    assert value(text, "edgevirt_dbus_calls_total", interface=mgr, method="Get",
                 error="org.edgevirt.EdgeVirt1.Error.NotFound") == 1
    applies = value(text, "edgevirt_dbus_call_duration_seconds_count", interface=mgr, method="Apply")
    assert applies == value(text, "edgevirt_dbus_call_duration_seconds_bucket", interface=mgr, method="Apply",
                            le="+Inf")
    assert value(text, "edgevirt_dbus_call_duration_seconds_sum", interface=mgr, method="Apply") > 0


def test_only_get_metrics(metrics):
    assert metrics.get("/")[0] == 404
    assert metrics.get("/metrics/x")[0] == 404
    status, body, r = metrics.get(method="HEAD")
    assert status == 200 and body == "" and int(r.getheader("Content-Length")) > 1000
    status, _, r = metrics.get(method="POST")
    assert status == 405 and "GET" in r.getheader("Allow")
    status, _, _ = metrics.get(headers={"Content-Length": "5"}, method="GET")
    assert status == 413


def test_request_too_large_is_refused(metrics):
    status, _, _ = metrics.get(headers={"X-Big": "a" * 64 * 1024})
    assert status in (413, 414, 431)
    # and the endpoint serves on
    metrics.scrape()


def test_cache_shares_one_collection(metrics):
    first = metrics.scrape()
    second = metrics.scrape()
    n = value(first, "edgevirt_metrics_collections_total")
    assert value(second, "edgevirt_metrics_collections_total") == n
    # CacheSeconds=2: a later scrape is a new collection
    wait_until(lambda: value(metrics.scrape(), "edgevirt_metrics_collections_total") == n + 1, timeout=10,
               what="a new collection once the text is older than CacheSeconds")


def test_a_hung_libvirt_wedges_nothing(bus, state_dir):
    """libvirt stuck in the statistics call (here: held 6 s by a test hook):
    with Timeout=2 the scrape gets what is in after 1 s with libvirt counted
    as down, the next scrapes queue no call behind the stuck one, and once
    it returns the figures come back."""
    port = free_port()
    d = Daemon(bus, state_dir, env=dict(os.environ, EDGEVIRT_TEST_DOMAIN_STATS_DELAY_MS="6000"))
    with open(d.config, "w") as f:
        f.write(f"[Metrics]\nListen=127.0.0.1:{port}\nCacheSeconds=1\nTimeout=2\n")
    d.start()
    try:
        endpoint = Endpoint(port)
        started = time.monotonic()
        text = endpoint.scrape()
        assert value(text, "edgevirt_libvirt_up") == 0
        assert value(text, "edgevirt_build_info", version="0.1.0") == 1
        assert time.monotonic() - started < 6, "the scrape waited for the stuck call"
        time.sleep(1.1)
        text = endpoint.scrape()        # a new collection, none queued behind the stuck call
        assert value(text, "edgevirt_libvirt_up") == 0
        wait_until(lambda: value(endpoint.scrape(), "edgevirt_libvirt_up") == 1, timeout=30,
                   what="libvirt counted as up once its call returned")
        assert "not complete after 1 s" in d.read_log()
    finally:
        d.stop()


def test_slow_client_stalls_nothing(metrics, mclient):
    idle = [socket.create_connection(("127.0.0.1", metrics.port)) for _ in range(3)]
    half = socket.create_connection(("127.0.0.1", metrics.port))
    half.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")     # and never the end of the header
    try:
        t = time.monotonic()
        metrics.scrape()
        mclient.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
        assert time.monotonic() - t < 2
        # the idle and the half-sent ones are closed after Timeout= (3 s), unanswered
        for s in idle + [half]:
            s.settimeout(10)
            data = b""
            while chunk := s.recv(4096):
                data += chunk
            assert b" 200 " not in data
    finally:
        for s in idle + [half]:
            s.close()


def test_bearer_token(bus, state_dir, tmp_path):
    token = "s3cr3t-token-0123456789"
    path = tmp_path / "token"
    path.write_text(token + "\n")
    d, port = start(bus, state_dir, f"BearerTokenFile={path}\n")
    try:
        e = Endpoint(port)
        status, _, r = e.get()
        assert status == 401 and r.getheader("WWW-Authenticate").startswith("Bearer")
        assert e.get(token="s3cr3t-token-0123456788")[0] == 401
        assert e.get(token=token + "x")[0] == 401
        assert e.get(token=token)[0] == 200
    finally:
        d.stop()


def test_short_token_is_refused(bus, state_dir, tmp_path):
    path = tmp_path / "token"
    path.write_text("short\n")
    d = Daemon(bus, state_dir)
    with open(d.config, "w") as f:
        f.write(f"[Metrics]\nListen=127.0.0.1:{free_port()}\nBearerTokenFile={path}\n")
    d.start(wait=False)
    assert d.proc.wait(timeout=10) != 0
    assert "BearerTokenFile" in d.read_log()



class Pki:
    """A CA and a server certificate for localhost (servers.make_ca), a
    client certificate that CA signed, one another CA signed and a
    self-signed one."""
    def __init__(self, d):
        self.d = str(d)
        make_ca(self.d)
        self.trusted = self.client("trusted", "ca")
        run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=other CA",
            "-keyout", f"{self.d}/other-ca.key", "-out", f"{self.d}/other-ca.pem")
        self.stranger = self.client("stranger", "other-ca")
        self.pinned = self.client("pinned", None)
        self.client_ca = f"{self.d}/clients.pem"
        with open(self.client_ca, "w") as f:      # the CA, and one scraper's own certificate (as Incus)
            f.write(open(f"{self.d}/ca.pem").read() + open(self.pinned[0]).read())

    def client(self, name, ca):
        crt, key = f"{self.d}/{name}.crt", f"{self.d}/{name}.key"
        if ca is None:
            run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
                "-keyout", key, "-out", crt)
        else:
            run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", key,
                "-out", f"{self.d}/{name}.csr")
            run("openssl", "x509", "-req", "-in", f"{self.d}/{name}.csr", "-CA", f"{self.d}/{ca}.pem",
                "-CAkey", f"{self.d}/{ca}.key", "-CAcreateserial", "-days", "2", "-out", crt)
        return crt, key

    def settings(self, client_ca=True):
        text = f"TLSCertificateFile={self.d}/server.crt\nTLSKeyFile={self.d}/server.key\n"
        return text + (f"TLSClientCAFile={self.client_ca}\n" if client_ca else "")


_pki = {}


def tls_files(tmp_path):
    """One Pki for the module: making keys costs seconds."""
    if "pki" not in _pki:
        d = tmp_path.parent / "pki"
        d.mkdir(exist_ok=True)
        _pki["pki"] = Pki(d)
    return _pki["pki"]


class TlsEndpoint(Endpoint):
    def __init__(self, port, pki):
        super().__init__(port)
        self.pki = pki

    def get(self, path="/metrics", token=None, method="GET", headers=None, timeout=10, cert="trusted"):
        ctx = ssl.create_default_context(cafile=f"{self.pki.d}/ca.pem")
        if cert:
            ctx.load_cert_chain(*getattr(self.pki, cert))
        c = http.client.HTTPSConnection("localhost", self.port, timeout=timeout, context=ctx)
        c.request(method, path, headers=dict(headers or {}))
        r = c.getresponse()
        body = r.read().decode()
        c.close()
        return r.status, body, r


def test_tls_client_certificates(bus, state_dir, tmp_path):
    """[Metrics] TLSClientCAFile=: a scraper whose certificate a CA listed
    there signed, or whose own certificate is listed, scrapes; one without a
    certificate, or with another CA's, gets 403; plain HTTP gets nothing."""
    pki = tls_files(tmp_path)
    d, port = start(bus, state_dir, pki.settings())
    try:
        e = TlsEndpoint(port, pki)
        text = e.scrape()
        assert value(text, "edgevirt_build_info", version="0.1.0") == 1
        assert e.get(cert="pinned")[0] == 200
        for cert in (None, "stranger"):
            status, body, _ = e.get(cert=cert)
            assert status == 403 and "client certificate" in body, (cert, status, body)
        with pytest.raises((http.client.HTTPException, OSError)):
            status = Endpoint(port).get(timeout=3)[0]
            assert status != 200
    finally:
        d.stop()


def test_tls_without_client_certificates(bus, state_dir, tmp_path):
    """TLS alone (with a token for authentication) serves any client."""
    pki = tls_files(tmp_path)
    token = "s3cr3t-token-0123456789"
    (tmp_path / "token").write_text(token)
    d, port = start(bus, state_dir, pki.settings(client_ca=False) + f"BearerTokenFile={tmp_path}/token\n")
    try:
        e = TlsEndpoint(port, pki)
        assert e.get(cert=None)[0] == 401
        assert e.get(cert=None, headers={"Authorization": "Bearer " + token})[0] == 200
    finally:
        d.stop()


def test_bad_tls_settings_name_the_key(bus, state_dir, tmp_path):
    pki = tls_files(tmp_path)
    (tmp_path / "junk").write_text("not a certificate\n")
    for text, key in ((f"TLSKeyFile={pki.d}/server.key\n", "TLSKeyFile"),
                      (f"TLSClientCAFile={pki.client_ca}\n", "TLSClientCAFile"),
                      ("TLSCertificateFile=server.crt\nTLSKeyFile=/k\n", "TLSCertificateFile"),
                      (pki.settings() + f"TLSClientCAFile={tmp_path}/junk\n", "TLSClientCAFile"),
                      (f"TLSCertificateFile={pki.d}/server.crt\nTLSKeyFile={pki.d}/trusted.key\n", "TLS")):
        d = Daemon(bus, state_dir)
        with open(d.config, "w") as f:
            f.write(f"[Metrics]\nListen=127.0.0.1:{free_port()}\n" + text)
        d.start(wait=False)
        assert d.proc.wait(timeout=10) != 0
        assert key in d.read_log(), d.read_log()
        os.unlink(d.log_path)

OBJECTS = """
apiVersion: instancetype.kubevirt.io/v1beta1
kind: VirtualMachineClusterInstancetype
metadata: {name: vendored, labels: {instancetype.kubevirt.io/vendor: kubevirt.io}}
spec: {cpu: {guest: 2}, memory: {guest: 96Mi}}
---
apiVersion: instancetype.kubevirt.io/v1beta1
kind: VirtualMachineInstancetype
metadata: {name: mine}
spec: {cpu: {guest: 1}, memory: {guest: 64Mi}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: disk}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 8Mi}}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: src}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 8Mi}}}
---
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: web}
spec:
  runStrategy: Always
  template:
    metadata:
      labels: {app: web, kubevirt.io/size: small}
      annotations: {vm.kubevirt.io/os: fedora, vm.kubevirt.io/workload: server}
    spec:
      domain:
        memory: {guest: 64Mi}
        devices: {disks: [{name: root, disk: {}}]}
      volumes: [{name: root, persistentVolumeClaim: {claimName: disk}}]
---
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: typed}
spec:
  runStrategy: Always
  instancetype: {name: vendored}
  template:
    spec:
      domain: {devices: {}}
---
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: own}
spec:
  runStrategy: Halted
  instancetype: {kind: VirtualMachineInstancetype, name: mine}
  template:
    spec:
      domain: {devices: {}}
---
apiVersion: cdi.kubevirt.io/v1beta1
kind: DataVolume
metadata: {name: blank}
spec: {source: {blank: {}}, storage: {resources: {requests: {storage: 4Mi}}}}
---
apiVersion: cdi.kubevirt.io/v1beta1
kind: DataVolume
metadata: {name: copy}
spec: {source: {pvc: {namespace: default, name: src}}, storage: {resources: {requests: {storage: 8Mi}}}}
---
apiVersion: cdi.kubevirt.io/v1beta1
kind: DataVolume
metadata: {name: lost}
spec: {source: {blank: {}}, storage: {storageClassName: nowhere, resources: {requests: {storage: 4Mi}}}}
"""


def phase(client, kind, name):
    return client.get_json(kind, "default", name).get("status", {}).get("phase")


def test_kubevirt_and_cdi_objects(metrics, mclient):
    mclient.apply(OBJECTS)
    wait_until(lambda: phase(mclient, "vmi", "web") == "Running" and phase(mclient, "vmi", "typed") == "Running" and
               phase(mclient, "dv", "blank") == "Succeeded" and phase(mclient, "dv", "copy") == "Succeeded",
               timeout=30, what="the VMs to run and the DataVolumes to be filled")
    mclient.apply("apiVersion: snapshot.kubevirt.io/v1beta1\nkind: VirtualMachineSnapshot\nmetadata: {name: first}\n"
                  "spec:\n  source: {apiGroup: kubevirt.io, kind: VirtualMachine, name: web}\n")
    wait_until(lambda: phase(mclient, "vmsnapshot", "first") == "Succeeded", timeout=30, what="the snapshot")
    created = mclient.get_json("vmsnapshot", "default", "first")["status"]["creationTime"]
    time.sleep(2.1)
    text = metrics.scrape()
    promtool(text)
    node = socket.gethostname()

    # instances: info and the count per phase (the running ones)
    assert value(text, "kubevirt_vmi_phase_count", phase="running", node=node, os="fedora") == 1
    assert sum(s.value for s in samples(text, "kubevirt_vmi_phase_count", phase="running")) == 2
    info = samples(text, "kubevirt_vmi_info", namespace="default", name="web")
    assert len(info) == 1 and info[0].value == 1
    assert info[0].labels["phase"] == "running" and info[0].labels["node"] == node
    assert info[0].labels["os"] == "fedora" and info[0].labels["workload"] == "server"
    assert info[0].labels["guest_os_machine"] == "q35"
    assert samples(text, "kubevirt_vmi_info", name="typed")[0].labels["instance_type"] == "vendored"

    # VMs: info with KubeVirt's status groups, requests as KubeVirt counts them
    vm = samples(text, "kubevirt_vm_info", name="web")[0].labels
    assert vm["status"] == "running" and vm["status_group"] == "running" and vm["os"] == "fedora"
    own = samples(text, "kubevirt_vm_info", name="own")[0].labels
    assert own["status"] == "stopped" and own["status_group"] == "non_running" and own["instance_type"] == "<other>"
    req = "kubevirt_vm_resource_requests"
    assert value(text, req, name="web", resource="memory", source="guest") == 64 << 20
    assert value(text, req, name="web", resource="cpu", unit="cores", source="default") == 1
    assert value(text, req, name="typed", resource="memory", source="guest") == 96 << 20
    assert value(text, req, name="typed", resource="cpu", unit="cores", source="guest_effective") == 2
    assert value(text, req, name="own", resource="memory", source="guest") == 64 << 20

    # snapshots
    ts = value(text, "kubevirt_vmsnapshot_succeeded_timestamp_seconds", name="web", snapshot_name="first",
               namespace="default")
    assert ts == calendar.timegm(time.strptime(created, "%Y-%m-%dT%H:%M:%SZ"))

    # CDI: progress by the claim's uid, the pending one counted
    blank_claim = mclient.get_json("pvc", "default", "blank")["metadata"]["uid"]
    copy_claim = mclient.get_json("pvc", "default", "copy")["metadata"]["uid"]
    assert value(text, "kubevirt_cdi_import_progress_total", ownerUID=blank_claim) == 100
    assert value(text, "kubevirt_cdi_clone_progress_total", ownerUID=copy_claim) == 100
    assert value(text, "kubevirt_cdi_datavolume_pending") == 1
    # objects per kind
    assert value(text, "edgevirt_objects", kind="VirtualMachine", namespace="default") == 3
    assert value(text, "edgevirt_objects", kind="VirtualMachineInstance", namespace="default") == 2
    assert value(text, "edgevirt_objects", kind="DataVolume", namespace="default") == 3


def test_golden_image_metrics(metrics, mclient):
    """CDI's dataimportcron_outdated (a cron whose registry cannot be
    reached is outdated) and sourceRef clones counted as clones."""
    mclient.apply("apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\nmetadata: {name: src}\n"
                  "spec: {source: {blank: {}}, storage: {resources: {requests: {storage: 16Mi}}}}\n---\n"
                  "apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataSource\nmetadata: {name: src-os}\n"
                  "spec: {source: {pvc: {name: src}}}\n---\n"
                  "apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\nmetadata: {name: by-ref}\n"
                  "spec: {sourceRef: {kind: DataSource, name: src-os}, storage: {}}\n---\n"
                  "apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataImportCron\nmetadata: {name: offline}\n"
                  "spec:\n  schedule: '@daily'\n  managedDataSource: offline-os\n  template:\n    spec:\n"
                  f"      source: {{registry: {{url: 'docker://127.0.0.1:{free_port()}/x/y:1'}}}}\n"
                  "      storage: {resources: {requests: {storage: 16Mi}}}\n")
    wait_until(lambda: mclient.get_json("dv", "default", "by-ref").get("status", {}).get("phase") == "Succeeded",
               what="the clone by reference")
    wait_until(lambda: any(c["reason"] == "PollFailed" for c in
                           mclient.get_json("dic", "default", "offline").get("status", {}).get("conditions", [])),
               what="the poll to fail")
    # the published text may be CacheSeconds old
    wait_until(lambda: samples(metrics.scrape(), "kubevirt_cdi_dataimportcron_outdated", cron_name="offline"),
               what="the cron in the metrics")
    text = metrics.scrape()
    by_ref = mclient.get_json("pvc", "default", "by-ref")["metadata"]["uid"]
    assert value(text, "kubevirt_cdi_clone_progress_total", ownerUID=by_ref) == 100
    assert value(text, "kubevirt_cdi_dataimportcron_outdated", namespace="default", cron_name="offline",
                 pending="false") == 1


@pytest.mark.parametrize("tls", [False, True], ids=["http", "tls"])
def test_socket_activation(bus, state_dir, tmp_path, tls):
    """As edgevirtd-metrics.socket: systemd listens, the first scrape
    starts the daemon, which serves on the socket it was passed (no
    [Metrics] Listen= needed) -- with TLS and client certificates too."""
    from conftest import DAEMON, NAME
    port = free_port()
    d = Daemon(bus, state_dir)
    if tls:
        pki = tls_files(tmp_path)
        with open(d.config, "w") as f:
            f.write(f"[Metrics]\n{pki.settings()}")
    log = open(d.log_path, "a")
    proc = subprocess.Popen(["systemd-socket-activate", "-l", f"127.0.0.1:{port}", "--fdname=metrics", DAEMON,
                             "--bus=" + bus.address, "--state-dir=" + state_dir, "--config=" + d.config,
                             "--libvirt-uri=test:///default"], stdout=log, stderr=subprocess.STDOUT)
    try:
        # (connecting would start the daemon already)
        wait_until(lambda: "Listening on" in d.read_log(), what="the socket to listen")
        time.sleep(0.5)
        assert not bus.conn.name_has_owner(NAME)        # nothing runs before a scrape
        if tls:
            assert TlsEndpoint(port, pki).get(cert=None)[0] == 403
        text = (TlsEndpoint(port, pki) if tls else Endpoint(port)).scrape()
        assert value(text, "edgevirt_build_info", version="0.1.0") == 1
        assert bus.conn.name_has_owner(NAME)
        assert "serving metrics on the socket systemd passed" in d.read_log()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        d.remove_runtime_dir()


def test_hostile_label_values_stay_values(metrics, mclient):
    """Annotations and labels are anyone's strings: a separator byte, quotes,
    a newline or two label keys that map to one metric label name must
    neither stop the daemon nor break the text (found by review)."""
    mclient.apply("""apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata:
  name: odd
  annotations: {vm.kubevirt.io/os: "a\\x1fb\\x1f} 1\\nforged{x=\\"1\\"", vm.kubevirt.io/workload: "\\x1f\\x1f\\x1f"}
  labels: {a.b: one, a_b: two}
spec: {domain: {memory: {guest: 16Mi}, devices: {}}}
""")
    wait_until(lambda: phase(mclient, "vmi", "odd") == "Running", timeout=30, what="the instance to run")
    time.sleep(2.1)
    text = metrics.scrape()
    promtool(text)
    assert "forged" not in families(text)
    info = samples(text, "kubevirt_vmi_info", name="odd")
    assert len(info) == 1 and info[0].labels["os"] == "a\x1fb\x1f} 1\nforged{x=\"1\"", info[0].labels
    count = [s for s in samples(text, "kubevirt_vmi_phase_count", phase="running") if s.labels.get("workload")]
    assert count and count[0].labels["workload"] == "\x1f\x1f\x1f", count
    assert mclient.manager.Get("ns", "", "default", {})     # the daemon still answers


def test_documented_scrape_config_passes_promtool(tmp_path):
    """docs/observability.md's Prometheus configuration, its tls_config
    included (promtool wants the files it names to exist)."""
    doc = open(os.path.join(os.path.dirname(__file__), "../../docs/observability.md")).read()
    text = doc.split("## A Prometheus scrape configuration", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    assert "tls_config" in text and "cert_file" in text
    for name in ("edgevirt-ca.pem", "edgevirt-client.crt", "edgevirt-client.key", "edgevirt-token"):
        (tmp_path / name).write_text("")
    (tmp_path / "prometheus.yml").write_text(text.replace("/etc/prometheus/", f"{tmp_path}/"))
    r = subprocess.run(["promtool", "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout + r.stderr


INSTANCE = """apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {name: %s}
spec: {domain: {memory: {guest: 16Mi}, devices: {}}}
"""


def test_phase_transition_histograms(metrics, mclient):
    """KubeVirt's virt-controller histograms, from the instance's status
    moves: from creation to each phase, between phases, from deletion to
    the final phase; KubeVirt's buckets (0.5 s to 1 h)."""
    mclient.apply(INSTANCE % "timed")
    wait_until(lambda: phase(mclient, "vmi", "timed") == "Running", timeout=30, what="the instance to run")
    vmi = mclient.get_json("vmi", "default", "timed")
    phases = [t["phase"] for t in vmi["status"]["phaseTransitionTimestamps"]]
    assert phases[0] == "Pending" and phases[-1] == "Running", phases
    wait_until(lambda: samples(metrics.scrape(), "kubevirt_vmi_phase_transition_time_from_creation_seconds_count",
                               phase="Running"), timeout=10, what="the Running transition")
    text = metrics.scrape()
    promtool(text)
    fams = families(text)
    assert fams["kubevirt_vmi_phase_transition_time_from_creation_seconds"].type == "histogram"
    created = "kubevirt_vmi_phase_transition_time_from_creation_seconds"
    for p in phases:
        assert value(text, created + "_count", phase=p) == 1, (p, phases)
    les = [s.labels["le"] for s in samples(text, created + "_bucket", phase="Running")]
    assert les == ["0.5", "1", "2", "5", "10", "20", "30", "40", "50", "60", "90", "120", "180", "300", "600",
                   "1200", "1800", "3600", "+Inf"], les
    assert samples(text, created + "_bucket", phase="Running", le="3600")[0].value == 1
    # between phases: the first from creation (no last_phase), then each from the one before
    between = "kubevirt_vmi_phase_transition_time_seconds_count"
    assert [s for s in samples(text, between, phase=phases[0]) if "last_phase" not in s.labels]
    for before, after in zip(phases, phases[1:]):
        assert value(text, between, phase=after, last_phase=before) == 1, (before, after)
    mclient.delete("vmi", "default", "timed")
    wait_until(lambda: not mclient.exists("vmi", "default", "timed"), timeout=30, what="the instance to go")
    wait_until(lambda: samples(metrics.scrape(), "kubevirt_vmi_phase_transition_time_from_deletion_seconds_count"),
               timeout=10, what="the deletion's transition")
    final = samples(metrics.scrape(), "kubevirt_vmi_phase_transition_time_from_deletion_seconds_count")
    assert len(final) == 1 and final[0].labels["phase"] in ("Succeeded", "Failed") and final[0].value == 1, final


def test_console_connections_are_counted(metrics, mclient, state_dir):
    """kubevirt_console_active_connections / kubevirt_vnc_active_connections:
    the kernel's count of connections to the instance's console sockets,
    so a file descriptor OpenConsole() handed out counts while it is open.
    The test driver has no QEMU: the test listens on the console socket in
    its place."""
    import hashlib
    mclient.apply(INSTANCE % "con")
    wait_until(lambda: phase(mclient, "vmi", "con") == "Running", timeout=30, what="the instance to run")
    uid = mclient.get_json("vmi", "default", "con")["metadata"]["uid"]
    digest = hashlib.sha256(state_dir.encode()).hexdigest()[:12]
    rdir = f"/tmp/edgevirt-{digest}/{uid}"
    os.makedirs(rdir, exist_ok=True)
    qemu = socket.socket(socket.AF_UNIX)
    qemu.bind(f"{rdir}/console.sock")
    qemu.listen(4)
    qemu.settimeout(10)

    def counts():
        text = metrics.scrape()
        return (value(text, "kubevirt_console_active_connections", namespace="default", vmi="con"),
                value(text, "kubevirt_vnc_active_connections", namespace="default", vmi="con"))

    wait_until(lambda: counts() == (0, 0), timeout=10, what="no connections")
    obj = dbus.Interface(mclient.conn.get_object(NAME, f"{ROOT}/namespace/default/vmi/con"),
                         "org.edgevirt.EdgeVirt1.VirtualMachineInstance")
    held = [socket.socket(fileno=obj.OpenConsole({}).take()) for _ in range(2)]
    accepted = [qemu.accept()[0] for _ in held]
    for s in accepted:
        s.settimeout(10)
    wait_until(lambda: counts() == (2, 0), timeout=10, what="two console connections")
    held.pop().close()
    accepted[1].recv(1)         # the end of the closed one, as QEMU sees it
    accepted.pop().close()
    wait_until(lambda: counts() == (1, 0), timeout=10, what="one console connection")
    for s in held + accepted + [qemu]:
        s.close()
