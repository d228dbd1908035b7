# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Prometheus endpoint (docs/observability.md): [Metrics] Listen= in
edgevirtd.conf, GET /metrics only, an optional bearer token, a cache that
keeps scrapers from making libvirt's statistics hot, and connections that
cannot stall the daemon.  The text must parse with the Prometheus client
library's own parser and pass promtool's checks."""
import http.client
import os
import shutil
import socket
import subprocess
import threading
import time

import dbus
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import Client, Daemon, wait_until

# CDI's importer and clone progress carry the label ownerUID, which
# promtool's lint would have in snake_case; it is kept as CDI names it.
CDI_LABEL_LINT = "label names should be written in 'snake_case' not 'camelCase'"


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


def samples(text, name, **labels):
    """Samples of the series name whose labels include labels."""
    out = []
    for f in text_string_to_metric_families(text):
        for s in f.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                out.append(s)
    return out


def value(text, name, **labels):
    found = samples(text, name, **labels)
    assert len(found) == 1, f"{name} {labels}: {found}"
    return found[0].value


def promtool(text):
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    problems = [line for line in (r.stdout + r.stderr).splitlines()
                if line.strip() and not (line.startswith("kubevirt_cdi_") and CDI_LABEL_LINT in line)]
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
    time.sleep(2.1)
    third = metrics.scrape()
    assert value(third, "edgevirt_metrics_collections_total") == n + 1


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
