# SPDX-License-Identifier: LGPL-2.1-or-later
"""Restarts: what was acknowledged survives SIGKILL; SIGTERM stops cleanly;
interrupted work goes on after a restart."""
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess

from conftest import DAEMON, NAMESPACE, Client, Daemon, expect_error, wait_until


def snapshot(client):
    out = {}
    for kind in ("namespaces", "secrets", "configmaps"):
        for item in client.list(kind)["items"]:
            m = item["metadata"]
            out[(kind, m.get("namespace", ""), m["name"])] = item
    return out


def test_sigkill_loses_nothing_acknowledged(bus, state_dir):
    d = Daemon(bus, state_dir).start()
    c = Client(bus.conn)
    try:
        c.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: keep}\n")
        for i in range(20):
            c.apply(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm{i}, namespace: keep}}\ndata: {{i: '{i}'}}\n")
        c.apply("apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: keep}\nstringData: {k: v}\n")
        c.delete("cm", "keep", "cm3")
        before = snapshot(c)
        d.restart(signal.SIGKILL)
        after = snapshot(c)
        assert after == before
        assert ("configmaps", "keep", "cm3") not in after
        # the cluster-wide resourceVersion keeps growing across restarts
        rv_before = max(int(i["metadata"]["resourceVersion"]) for i in before.values())
        c.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: new, namespace: keep}\n")
        assert int(c.get_json("cm", "keep", "new")["metadata"]["resourceVersion"]) > rv_before
        # the bus objects come back too
        assert "/org/edgevirt/EdgeVirt1/namespace/keep/configmap/cm0" in c.managed_objects()
    finally:
        d.stop()


def test_sigkill_during_a_stream_of_applies(bus, state_dir):
    """Every Apply that got a reply before the kill is there afterwards."""
    d = Daemon(bus, state_dir).start()
    c = Client(bus.conn)
    acked = []
    try:
        pending = []
        for i in range(200):
            name = f"burst{i}"
            pending.append(name)
            c.manager.Apply(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\n", {},
                            reply_handler=lambda paths, n=name: acked.append(n),
                            error_handler=lambda e: None)
        wait_until(lambda: len(acked) >= 50, what="50 acknowledged applies")
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        d.start()
        names = {i["metadata"]["name"] for i in c.list("cm", "default")["items"]}
        assert set(acked) <= names, set(acked) - names
    finally:
        d.stop()


def test_sigterm_stops_cleanly(bus, state_dir):
    d = Daemon(bus, state_dir).start()
    assert d.kill(signal.SIGTERM) == 0
    assert "stopping" in d.read_log()


def test_namespace_termination_resumes_after_restart(bus, state_dir):
    d = Daemon(bus, state_dir).start()
    c = Client(bus.conn)
    try:
        c.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: gone}\n---\n"
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: held, namespace: gone, finalizers: [example.com/x]}\n")
        c.manager.DeleteNamespace("gone")
        d.restart(signal.SIGKILL)
        assert c.props("/org/edgevirt/EdgeVirt1/namespace/gone", NAMESPACE)["Phase"] == "Terminating"
        held = c.get_json("cm", "gone", "held")
        held["metadata"]["finalizers"] = []
        c.apply(json.dumps(held))
        wait_until(lambda: not c.exists("ns", "", "gone"), what="the namespace to go after the restart")
    finally:
        d.stop()


def test_store_from_newer_daemon_is_refused(bus, state_dir):
    import sqlite3
    d = Daemon(bus, state_dir).start()
    d.stop()
    db = sqlite3.connect(state_dir + "/objects.db")
    db.execute("UPDATE meta SET value = 99 WHERE key = 'schema_version'")
    db.commit()
    db.close()
    d2 = Daemon(bus, state_dir).start(wait=False)
    assert d2.proc.wait(timeout=10) != 0
    assert "newer edgevirtd" in d2.read_log()


def run_daemon(*args):
    return subprocess.run([DAEMON, *args], capture_output=True, text=True, timeout=10)


def test_command_line(tmp_path):
    r = run_daemon("--help")
    assert r.returncode == 0 and "--bus=system|session|ADDRESS" in r.stdout and "--libvirt-uri" in r.stdout
    r = run_daemon("--version")
    assert r.returncode == 0 and r.stdout.startswith("edgevirtd ")
    r = run_daemon("--bogus")
    assert r.returncode != 0
    r = run_daemon("--bus=nonsense", "--state-dir=" + str(tmp_path / "s"), "--config=" + str(tmp_path / "none.conf"))
    assert r.returncode != 0 and "none.conf" in r.stderr
    empty = tmp_path / "e.conf"
    empty.write_text("")
    r = run_daemon("--bus=nonsense", "--state-dir=" + str(tmp_path / "s"), "--config=" + str(empty))
    assert r.returncode != 0 and "give system, session or a D-Bus address" in r.stderr


def test_config_errors_name_the_setting(tmp_path):
    for text, fragment in [("[Daemon]\nStateDir=/x\n", "[Daemon] has no setting StateDir"),
                           ("[Storage]\nx=1\n", "unknown section [Storage]"),
                           ("[Limits]\nMaxDocumentSize=lots\n", "MaxDocumentSize=lots"),
                           ("[Limits]\nCallsPerSecond=-3\n", "CallsPerSecond=-3"),
                           ("[Network]\nNatSubnet=10.0.2.0/33\n", "NatSubnet=10.0.2.0/33: expected an IPv4 network"),
                           ("[Network]\nNatSubnet=fast\n", "NatSubnet=fast"),
                           ("[Network]\nNatBridge=br0\n", "[Network] has no setting NatBridge"),
                           ("[Manifests]\nDirectory=manifests.d\n",
                            "[Manifests] Directory=manifests.d is not an absolute path"),
                           ("[Manifests]\nPath=/x\n", "[Manifests] has no setting Path"),
                           ("[Daemon]\nLogLevel=loud\n", "[Daemon] LogLevel=loud: expected err, warning, notice"),
                           ("not ini", "edgevirtd.conf")]:
        conf = tmp_path / "edgevirtd.conf"
        conf.write_text(text)
        r = run_daemon("--bus=session", "--config=" + str(conf), "--state-dir=" + str(tmp_path / "s"))
        assert r.returncode != 0 and fragment in r.stderr, (text, r.stderr)


def test_log_level(bus, tmp_path):
    """--log-level and [Daemon] LogLevel=: notice (the default) writes the
    model's "created" lines, warning does not, the command line wins."""
    client = Client(bus.conn)
    for args, conf, created in [((), "", True), (("--log-level=warning",), "", False),
                                ((), "[Daemon]\nLogLevel=err\n", False),
                                (("--log-level=info",), "[Daemon]\nLogLevel=err\n", True)]:
        d = Daemon(bus, str(tmp_path / f"s{len(args)}{len(conf)}"), extra_args=args)
        with open(d.config, "w") as f:
            f.write(conf)
        d.start()
        try:
            client.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: logged}\n")
            assert client.exists("configmap", "default", "logged")
        finally:
            d.stop()
        assert ("ConfigMap default/logged: created" in d.read_log()) == created, (args, conf, d.read_log())
    (tmp_path / "empty.conf").write_text("")
    r = run_daemon("--log-level=loud", "--bus=session", "--state-dir=" + str(tmp_path / "x"),
                   "--config=" + str(tmp_path / "empty.conf"))
    assert r.returncode != 0 and "--log-level=loud: expected err, warning, notice, info or debug" in r.stderr


def test_config_file_sets_state_directory(bus, tmp_path):
    conf = tmp_path / "edgevirtd.conf"
    conf.write_text(f"[Daemon]\nStateDirectory={tmp_path}/from-config\nLibvirtURI=test:///custom\n")
    proc = subprocess.Popen([DAEMON, "--bus=" + bus.address, "--config=" + str(conf)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: bus.conn.name_has_owner("org.edgevirt.EdgeVirt1") or proc.poll() is not None)
        props = Client(bus.conn).props("/org/edgevirt/EdgeVirt1", "org.edgevirt.EdgeVirt1.Manager")
        assert props["StateDirectory"] == f"{tmp_path}/from-config"
        assert props["LibvirtURI"] == "test:///custom"
        assert (tmp_path / "from-config" / "objects.db").exists()
    finally:
        proc.terminate()
        proc.wait()


def test_second_daemon_on_the_same_bus_fails(bus, state_dir, daemon, tmp_path):
    d2 = Daemon(bus, str(tmp_path / "other")).start(wait=False)
    assert d2.proc.wait(timeout=10) != 0
    assert "another edgevirtd" in d2.read_log()


def modes(state_dir):
    """Mode bits of everything the daemon keeps, by path below state_dir."""
    out = {}
    for top, dirs, files in os.walk(state_dir):
        for n in dirs + files:
            p = os.path.join(top, n)
            if not os.path.islink(p):
                out[os.path.relpath(p, state_dir)] = stat.S_IMODE(os.lstat(p).st_mode)
    return out


def test_state_is_private_whatever_the_umask(bus, state_dir):
    """Started by hand with umask 022, the daemon still keeps the store (with
    every Secret), seeds and volumes to itself; files an earlier, laxer
    start left readable are made private at start."""
    old = os.umask(0o022)
    try:
        d = Daemon(bus, state_dir).start()
        c = Client(bus.conn)
        c.apply("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {password: hunter2}\n"
                "---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: disk}\n"
                "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}}\n"
                "---\napiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\nmetadata: {name: box}\n"
                "spec:\n  domain: {memory: {guest: 16Mi}}\n"
                "  volumes: [{name: ci, cloudInitNoCloud: {userData: \"#cloud-config\\npassword: hunter2\\n\"}}]\n")
        wait_until(lambda: c.get_json("vmi", "default", "box").get("status", {}).get("phase") == "Running",
                   what="the instance to run")
        wait_until(lambda: c.get_json("pvc", "default", "disk").get("status", {}).get("phase") == "Bound",
                   what="the claim to be bound")
        got = modes(state_dir)
        files = {p: m for p, m in got.items() if not os.path.isdir(os.path.join(state_dir, p))}
        assert "objects.db" in files and any(p.endswith(".iso") for p in files), got
        for p, m in files.items():
            assert m & 0o077 == 0, f"{p} is {oct(m)}: readable by others"
        # directories: at most traversable (QEMU's user opens disks below them)
        for p, m in got.items():
            if p not in files:
                assert m & 0o066 == 0, f"{p} is {oct(m)}"
        # ... and QEMU's user gets to the volumes, seeds and images by name
        for p in ("volumes", "volumes/local", "instances", "images"):
            assert got[p] & 0o001, f"{p} is {oct(got[p])}: QEMU cannot reach what is below"
        d.stop()
        # an earlier start with a laxer umask (before this fix) left these
        for n in ("objects.db", "objects.db-wal", "objects.db-shm"):
            if os.path.exists(os.path.join(state_dir, n)):
                os.chmod(os.path.join(state_dir, n), 0o644)
        d.start()
        for n in ("objects.db", "objects.db-wal", "objects.db-shm"):
            p = os.path.join(state_dir, n)
            assert not os.path.exists(p) or stat.S_IMODE(os.stat(p).st_mode) == 0o600, n
        d.stop()
    finally:
        os.umask(old)


def test_a_sockets_directory_made_by_another_user_is_refused(bus, state_dir):
    """Outside the unit the instances' sockets live in /tmp/edgevirt-HASH:
    made there first by another user, it is not used (they could swap what
    is inside)."""
    digest = hashlib.sha256(state_dir.encode()).hexdigest()[:12]
    planted = f"/tmp/edgevirt-{digest}"
    os.mkdir(planted, 0o777)
    os.chown(planted, 65534, 65534)
    try:
        d = Daemon(bus, state_dir).start(wait=False)
        assert d.proc.wait(timeout=30) != 0
        assert "is not a directory of the daemon's own user" in d.read_log(), d.read_log()
    finally:
        shutil.rmtree(planted, ignore_errors=True)
    Daemon(bus, state_dir).start().stop()       # once it is gone, the daemon makes its own


def test_control_characters_survive_json_and_a_restart(bus, state_dir):
    """json-glib 1.6 writes U+001F raw in strings, which no strict JSON
    reader takes: Get's reply and the store would hold invalid JSON."""
    d = Daemon(bus, state_dir).start()
    try:
        client = Client(bus.conn)
        client.apply('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ctl, annotations: {a: "x\\x1fy\\x01z"}}\n'
                     'data: {k: "\\x1f"}\n')
        doc = client.get_json("configmap", "default", "ctl")       # json.loads: strict
        assert doc["metadata"]["annotations"]["a"] == "x\x1fy\x01z" and doc["data"]["k"] == "\x1f"
        d.restart()
        client = Client(bus.conn)
        assert client.get_json("configmap", "default", "ctl")["data"]["k"] == "\x1f"
    finally:
        d.stop()
