# SPDX-License-Identifier: LGPL-2.1-or-later
"""Replies the bus would refuse, List paging, losing the bus, and the rate
limit weighing calls by the bytes they produce."""
import json
import os
import shutil
import signal
import subprocess
import tempfile

import dbus
import pytest

from conftest import BUS_CONFIG, ERR, NAME, ROOT, Bus, Client, Daemon, expect_error, wait_until

SMALL = 2 * 1024 * 1024         # the smallest MaxMessageSize the daemon takes


class LimitedBus(Bus):
    """A private bus whose max_message_size is the given one."""

    def __init__(self, tmp, max_message_size):
        limited = BUS_CONFIG.replace(
            "</busconfig>", f'  <limit name="max_message_size">{max_message_size}</limit>\n</busconfig>')
        global_config = BUS_CONFIG
        try:
            import conftest
            conftest.BUS_CONFIG = limited
            super().__init__(tmp)
        finally:
            conftest.BUS_CONFIG = global_config


@pytest.fixture
def limited(request, state_dir):
    """(bus, daemon, client) with the bus's and the daemon's message size
    set to the parameter (default: SMALL)."""
    size = getattr(request, "param", SMALL)
    tmp = tempfile.mkdtemp(prefix="edgevirt-bus-")
    bus = LimitedBus(tmp, size)
    conf = os.path.join(tmp, "edgevirtd.conf")
    with open(conf, "w") as f:
        f.write(f"[Limits]\nMaxMessageSize={size}\nMaxDocumentSize={min(3 << 20, (size - (1 << 20)) // 8)}\n")
    d = Daemon(bus, state_dir, ["--config=" + conf]).start()
    yield bus, d, Client(bus.conn)
    d.stop()
    bus.stop()
    shutil.rmtree(tmp, ignore_errors=True)


def cm(name, ns="default", data=None, annotations=None):
    doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}}
    if data is not None:
        doc["data"] = data
    if annotations is not None:
        doc["metadata"]["annotations"] = annotations
    return json.dumps(doc)


def many(docs):
    """One Apply of several JSON documents: a v1 List."""
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": [json.loads(d) for d in docs]})


def list_page(client, kind, namespace="", output="json", **options):
    opts = dbus.Dictionary({k.replace("_", "-"): (dbus.Int64(v) if k == "limit" else dbus.String(v))
                            for k, v in options.items()}, signature="sv")
    opts["output"] = dbus.String(output)
    return json.loads(str(client.manager.List(kind, namespace, opts))) if output.startswith("json") else \
        str(client.manager.List(kind, namespace, opts))


def walk(client, kind, namespace="", limit=None, **options):
    """Every page of a List; returns (names in order, pages)."""
    names, pages, token = [], [], None
    while True:
        extra = dict(options)
        if limit:
            extra["limit"] = limit
        if token:
            extra["continue"] = token
        page = list_page(client, kind, namespace, **extra)
        pages.append(page)
        names += [(i["metadata"].get("namespace", ""), i["metadata"]["name"]) for i in page["items"]]
        token = page["metadata"].get("continue")
        if not token:
            assert "remainingItemCount" not in page["metadata"]
            return names, pages
        assert page["metadata"]["remainingItemCount"] > 0


def owns_name(bus):
    return bus.conn.name_has_owner(NAME)


def test_list_pages_walk_every_object_once(client):
    client.manager.CreateNamespace("other", {})
    client.apply(many(cm("c%02d" % i, "default" if i % 3 else "other") for i in range(23)))
    client.apply(cm("sel-a", data={}).replace('"name"', '"labels": {"app": "x"}, "name"'))
    everything, _ = walk(client, "cm")
    assert len(everything) == 24
    assert everything == sorted(everything)
    for limit in (1, 2, 5, 7, 25, 26, 500):
        names, pages = walk(client, "cm", limit=limit)
        assert names == everything, limit
        assert all(len(p["items"]) <= limit for p in pages)
        if limit < len(everything):
            assert pages[0]["metadata"]["remainingItemCount"] == len(everything) - limit
        in_default, _ = walk(client, "configmaps", "default", limit=limit)
        assert in_default == [n for n in everything if n[0] == "default"]
        # the same pages without layout (what edgevirtctl asks for)
        _, compact = walk(client, "cm", limit=limit, output="json-compact")
        assert [(p["items"], p["metadata"].get("continue"), p["metadata"].get("remainingItemCount"))
                for p in compact] == \
            [(p["items"], p["metadata"].get("continue"), p["metadata"].get("remainingItemCount")) for p in pages], limit
    assert walk(client, "cm", limit=1, label_selector="app=x")[0] == [("default", "sel-a")]


def test_list_pages_while_objects_change(client):
    client.apply(many(cm("c%02d" % i) for i in range(10)))
    first = list_page(client, "cm", "default", limit=4)
    served = [i["metadata"]["name"] for i in first["items"]]
    client.delete("cm", "default", served[-1])          # the last one served goes
    client.delete("cm", "default", "c07")               # one not yet served goes
    client.apply(many([cm("c00a"), cm("c05a")]))    # one before the position, one after
    names, _ = walk(client, "cm", "default", limit=3, **{"continue": first["metadata"]["continue"]})
    served += [n for _, n in names]
    for throughout in ["c%02d" % i for i in range(10) if i != 7]:
        if throughout != served[3]:
            assert served.count(throughout) == 1, (throughout, served)
    assert "c05a" in served and "c00a" not in served and "c07" not in served


def test_list_paging_options_are_checked(client):
    for bad in (0, -1):
        msg = expect_error("org.freedesktop.DBus.Error.InvalidArgs", list_page, client, "cm", limit=bad)
        assert 'option "limit"' in msg
    for token in ("garbage!", "", "AAAA", "x" * 10000):
        msg = expect_error("org.freedesktop.DBus.Error.InvalidArgs", list_page, client, "cm", limit=1,
                           **{"continue": token})
        assert 'option "continue": not a continue token' in msg, msg
    client.apply(many([cm("a"), cm("b")]))
    token = list_page(client, "cm", "default", limit=1)["metadata"]["continue"]
    for other in (("secret", "default", {}), ("cm", "", {}), ("cm", "default", {"label_selector": "a=b"})):
        msg = expect_error("org.freedesktop.DBus.Error.InvalidArgs", list_page, client, other[0], other[1],
                           limit=1, **{"continue": token}, **other[2])
        assert 'option "continue": the token continues a List of ConfigMap in namespace default' in msg, msg


def test_list_that_would_not_fit_is_refused_and_paged(limited):
    bus, daemon, client = limited
    value = "v" * 100_000
    for i in range(24):
        client.apply(cm("big%02d" % i, data={"k": value}))
    for output in ("json", "json-compact", "yaml"):
        msg = expect_error("ReplyTooLarge", list_page, client, "cm", "default", output=output)
        assert "List of ConfigMap: the reply would be" in msg and 'option "limit"' in msg, msg
    assert owns_name(bus)
    names, pages = walk(client, "cm", "default", limit=500)
    assert len(names) == 24 and len(pages) >= 2
    assert all(len(p["items"]) < 24 for p in pages)      # short pages: what fits
    assert owns_name(bus) and daemon.proc.poll() is None


def test_one_object_too_large_for_a_message(limited):
    """YAML aliases make a document larger than its text; its JSON (control
    characters escaped six bytes each) is larger than the bus takes."""
    bus, daemon, client = limited
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: huge}\ndata:\n  k0: &v \"" + "\\x01" * 20000 + "\"\n"
    text += "".join("  k%d: *v\n" % i for i in range(1, 40))
    client.apply(text)
    msg = expect_error("ReplyTooLarge", client.get, "cm", "default", "huge")
    assert "ConfigMap default/huge as json is" in msg and "more than one message on the bus carries" in msg, msg
    msg = expect_error("ReplyTooLarge", list_page, client, "cm", "default", limit=10)
    assert "List of ConfigMap: default/huge alone is" in msg, msg
    assert owns_name(bus)
    client.apply(cm("small"))
    assert client.get_json("cm", "default", "small")["metadata"]["name"] == "small"


def test_get_managed_objects_that_would_not_fit(limited):
    bus, daemon, client = limited
    note = {"note": "n" * 100_000}
    for i in range(24):
        client.apply(cm("a%02d" % i, annotations=note))
    msg = expect_error("ReplyTooLarge", client.managed_objects)
    assert "GetManagedObjects of /org/edgevirt/EdgeVirt1: the reply would be" in msg, msg
    assert owns_name(bus)
    for i in range(20):
        client.delete("cm", "default", "a%02d" % i)
    objs = client.managed_objects()         # now it fits
    assert len([p for p in objs if "/configmap/a" in p]) == 4
    assert owns_name(bus) and daemon.proc.poll() is None


def test_get_managed_objects_measures_what_changed(limited):
    """The reply's size is known from each object's remembered entry: an
    object that grows is measured again (a stale size would let a reply
    through that the bus refuses, losing the daemon's connection), and
    what changed is in the next reply."""
    bus, daemon, client = limited
    for i in range(24):
        client.apply(cm("g%02d" % i, annotations={"note": "small"}))
    objs = client.managed_objects()         # every entry measured and remembered
    assert len([p for p in objs if "/configmap/g" in p]) == 24
    for i in range(24):
        client.apply(cm("g%02d" % i, annotations={"note": "n" * 100_000}))
    msg = expect_error("ReplyTooLarge", client.managed_objects)
    assert "GetManagedObjects of /org/edgevirt/EdgeVirt1: the reply would be" in msg, msg
    assert owns_name(bus)
    for i in range(23):
        client.delete("cm", "default", "g%02d" % i)
    client.apply(cm("g23", annotations={"note": "grown, then small again"}))
    objs = client.managed_objects()
    mine = [v for p, v in objs.items() if p.endswith("/configmap/g23")]
    assert len(mine) == 1
    assert dict(mine[0][NAME + ".Object"]["Annotations"]) == {"note": "grown, then small again"}
    assert owns_name(bus) and daemon.proc.poll() is None


@pytest.mark.parametrize("limited", [32 * 1024 * 1024], indirect=True)
def test_system_bus_limit_with_megabyte_configmaps(limited):
    """The issue's case at dbus-daemon's system-bus default: 36 ConfigMaps
    of about 1 MB."""
    bus, daemon, client = limited
    value = "x" * 1_000_000
    for i in range(36):
        client.apply(cm("m%02d" % i, data={"k": value}))
    msg = expect_error("ReplyTooLarge", list_page, client, "cm", "default")
    assert 'option "limit"' in msg
    assert owns_name(bus)
    names, pages = walk(client, "cm", "default", limit=500)
    assert len(names) == 36 and len(pages) == 2
    assert owns_name(bus) and daemon.proc.poll() is None


def run_ctl(bus, *args):
    from conftest import BUILD
    env = dict(os.environ, EDGEVIRT_BUS=bus.address, LC_ALL="C", XDG_CONFIG_HOME=tempfile.mkdtemp())
    return subprocess.run([os.path.join(BUILD, "edgevirtctl", "edgevirtctl"), *args], capture_output=True, text=True,
                          env=env, timeout=60)


def test_cli_lists_in_chunks(limited):
    """edgevirtctl get pages (--chunk-size, default 500): a listing larger
    than one message works; --chunk-size=0 asks for it at once."""
    bus, daemon, client = limited
    for i in range(24):
        client.apply(cm("big%02d" % i, data={"k": "v" * 100_000}))
    for args in ([], ["--chunk-size=5"], ["--chunk-size=1"]):
        r = run_ctl(bus, "get", "cm", "-n", "default", "-o", "name", *args)
        assert r.returncode == 0, r.stderr
        assert r.stdout.split() == ["configmap/big%02d" % i for i in range(24)]
    r = run_ctl(bus, "get", "cm", "-n", "default", "-o", "json", "--chunk-size=7")
    listed = json.loads(r.stdout)
    assert len(listed["items"]) == 24 and "continue" not in listed["metadata"]
    r = run_ctl(bus, "get", "cm", "-A", "-o", "yaml")
    import yaml
    assert r.returncode == 0, r.stderr
    assert [i["metadata"]["name"] for i in yaml.safe_load(r.stdout)["items"]] == ["big%02d" % i for i in range(24)]
    r = run_ctl(bus, "get", "cm", "-n", "default", "--chunk-size=0")
    assert r.returncode != 0 and 'option "limit"' in r.stderr
    r = run_ctl(bus, "get", "cm", "--chunk-size=-1")
    assert r.returncode != 0 and "--chunk-size" in r.stderr
    assert owns_name(bus)


def test_message_size_setting_is_checked(tmp_path):
    from conftest import DAEMON
    for text, fragment in [("[Limits]\nMaxMessageSize=65536\n", "MaxMessageSize=65536 is less than 2097152"),
                           ("[Limits]\nMaxMessageSize=4194304\n", "MaxDocumentSize=3145728 is more than an eighth"),
                           ("[Limits]\nMaxMessageSize=lots\n", "MaxMessageSize=lots")]:
        conf = tmp_path / "edgevirtd.conf"
        conf.write_text(text)
        r = subprocess.run([DAEMON, "--bus=session", "--config=" + str(conf), "--state-dir=" + str(tmp_path / "s")],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode != 0 and fragment in r.stderr, (text, r.stderr)


def test_daemon_exits_nonzero_when_the_bus_goes_away(bus, daemon):
    os.kill(bus.pid, signal.SIGKILL)
    rc = daemon.proc.wait(timeout=10)
    assert rc != 0
    assert "lost the connection to the bus" in daemon.read_log()


def test_rate_limit_weighs_reply_bytes(bus, state_dir, tmp_path):
    """A client pulling large Lists is refused well before one making as many
    small calls; a third client's small calls pass meanwhile."""
    conf = tmp_path / "edgevirtd.conf"
    conf.write_text("[Limits]\nCallsPerSecond=5\nCallBurst=200\n")
    d = Daemon(bus, state_dir, ["--config=" + str(conf)]).start()
    try:
        Client(bus.conn).apply(many(cm("c%d" % i, data={"k": "v" * 50_000}) for i in range(10)))
        heavy = Client(dbus.bus.BusConnection(bus.address))
        light = Client(dbus.bus.BusConnection(bus.address))
        other = Client(dbus.bus.BusConnection(bus.address))
        heavy_refused = light_refused = 0
        for _ in range(30):
            try:
                heavy.list("cm", "default")
            except dbus.DBusException as e:
                assert e.get_dbus_name() == ERR + "LimitExceeded", e
                assert "one more call for every 16 KiB" in e.get_dbus_message()
                heavy_refused += 1
            try:
                light.get("ns", "", "default")
            except dbus.DBusException:
                light_refused += 1
            other.get("ns", "", "default")
        assert heavy_refused >= 15, heavy_refused
        assert light_refused == 0
    finally:
        d.stop()


def test_introspect_that_would_not_fit_is_refused(limited):
    """Introspect of a namespace names every object below it ("configmap/<name>"
    for each): 7,600 ConfigMaps of 253-character names are more than the 2 MiB
    bus takes, and the reply is refused instead of sent (counting one node per
    kind, the guard once let it go, and the bus disconnected the daemon)."""
    bus, daemon, client = limited
    stem = "c" * 248
    for first in range(0, 7600, 300):     # Applies under this bus' MaxDocumentSize
        client.apply(many([cm("%s%05d" % (stem, i)) for i in range(first, min(first + 300, 7600))]))
    obj = bus.conn.get_object(NAME, ROOT + "/namespace/default", introspect=False)
    msg = expect_error("ReplyTooLarge", obj.Introspect, dbus_interface="org.freedesktop.DBus.Introspectable")
    assert "Introspect of /org/edgevirt/EdgeVirt1/namespace/default: the reply would be" in msg, msg
    assert owns_name(bus) and daemon.proc.poll() is None
