# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fixtures for the API lane: a private dbus-daemon and the built edgevirtd
on it with a temporary state directory, talked to as any client would."""
import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import time

import dbus
import dbus.mainloop.glib
import pytest
from gi.repository import GLib

dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)

# Hermetic: nothing of the user's environment reaches the daemon or the CLI
# (an edgevirtctl context in ~/.config, a German LANGUAGE): a home and XDG
# directories of the tests' own, the C locale.
_HOME = tempfile.mkdtemp(prefix="edgevirt-tests-home-")
os.environ.update(HOME=_HOME, XDG_CONFIG_HOME=os.path.join(_HOME, "config"), XDG_STATE_HOME=os.path.join(_HOME, "state"),
                  XDG_CACHE_HOME=os.path.join(_HOME, "cache"), XDG_DATA_HOME=os.path.join(_HOME, "data"), LC_ALL="C")
os.environ.pop("LANGUAGE", None)
os.environ.pop("EDGEVIRT_BUS", None)

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("EDGEVIRT_BUILD", os.path.join(TOP, "build"))
DAEMON = os.path.join(BUILD, "dbus", "edgevirtd")
COMPAT = os.path.join(TOP, "tests", "compat")

NAME = "org.edgevirt.EdgeVirt1"
ROOT = "/org/edgevirt/EdgeVirt1"
MANAGER = "org.edgevirt.EdgeVirt1.Manager"
OBJECT = "org.edgevirt.EdgeVirt1.Object"
NAMESPACE = "org.edgevirt.EdgeVirt1.Namespace"
ERR = "org.edgevirt.EdgeVirt1.Error."

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={sock}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def path_encode(s):
    """sd_bus_path_encode's escaping of one path segment."""
    if not s:
        return "_"
    # a byte at a time; a letter, or a digit after the first byte, as it is
    return "".join(chr(b) if chr(b).isascii() and (chr(b).isalpha() or (i and chr(b).isdigit())) else "_%02x" % b
                   for i, b in enumerate(s.encode()))


def wait_until(cond, timeout=10.0, what="condition"):
    """Run the GLib main loop (so signals arrive) until cond() is true."""
    ctx = GLib.MainContext.default()
    deadline = time.monotonic() + timeout
    # A tick wakes the loop to re-check conditions no bus message drives
    # (a process exiting).
    tick = GLib.timeout_add(20, lambda: True)
    last = 0.0
    try:
        while True:
            # at most 100 checks a second, however many signals arrive: a
            # condition costs calls, and the daemon rate-limits callers
            now = time.monotonic()
            if now - last >= 0.01:
                last = now
                if cond():
                    return
            if now > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            ctx.iteration(True)
    finally:
        GLib.source_remove(tick)


class Bus:
    def __init__(self, tmp, config=None):
        """config: a bus configuration with {sock} for its socket (tests/desktop lets other users on)."""
        self.sock = os.path.join(tmp, "bus.sock")
        self.conf = os.path.join(tmp, "bus.conf")
        with open(self.conf, "w") as f:
            f.write((config or BUS_CONFIG).format(sock=self.sock))
        self.address = "unix:path=" + self.sock
        self._start()

    def _start(self):
        out = subprocess.check_output(
            ["dbus-daemon", "--config-file=" + self.conf, "--fork", "--print-pid"], text=True)
        self.pid = int(out.split()[0])
        self.conn = dbus.bus.BusConnection(self.address)

    def down(self):
        """The bus gone (its clients see it close); up() brings it back at the same address."""
        self.stop()
        wait_until(lambda: not os.path.exists(f"/proc/{self.pid}"), what="the bus to exit")
        if os.path.exists(self.sock):
            os.unlink(self.sock)

    def up(self):
        self._start()

    def stop(self):
        try:
            self.conn.close()
        except Exception:
            pass
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def stop_process(proc, timeout=10):
    """SIGTERM, then SIGKILL when it has not exited within timeout seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Daemon:
    """The daemon under test; restartable over the same state directory."""

    def __init__(self, bus, state_dir, extra_args=(), env=None):
        self.bus = bus
        self.env = env
        self.state_dir = state_dir
        self.extra_args = list(extra_args)
        self.proc = None
        self.log_path = state_dir + ".log"
        self.config = state_dir + ".conf"
        open(self.config, "a").close()

    def start(self, wait=True):
        self.log = open(self.log_path, "a")
        # EDGEVIRT_DAEMON_WRAPPER: run the daemon under a tool (valgrind)
        wrapper = os.environ.get("EDGEVIRT_DAEMON_WRAPPER", "").split()
        self.proc = subprocess.Popen(
            wrapper + [DAEMON, "--bus=" + self.bus.address, "--state-dir=" + self.state_dir,
             "--config=" + self.config, "--libvirt-uri=test:///default"] + self.extra_args,
            stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self):
        conn = self.bus.conn
        # under a wrapper (valgrind) the start takes many times longer; the
        # wait ends as soon as the name is owned either way
        wrapped = bool(os.environ.get("EDGEVIRT_DAEMON_WRAPPER", "").strip())
        wait_until(lambda: conn.name_has_owner(NAME) or self.proc.poll() is not None,
                   timeout=120 if wrapped else 30, what="edgevirtd to own its name")
        if self.proc.poll() is not None:
            raise AssertionError("edgevirtd exited: " + self.read_log())

    def read_log(self):
        with open(self.log_path) as f:
            return f.read()

    def kill(self, sig=signal.SIGKILL):
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=10)
        self.remove_runtime_dir()
        conn = self.bus.conn
        wait_until(lambda: not conn.name_has_owner(NAME), what="the name to be released")
        return rc

    def restart(self, sig=signal.SIGKILL):
        self.kill(sig)
        return self.start()

    def stop(self):
        if self.proc:
            stop_process(self.proc)
        self.remove_runtime_dir()

    def remove_runtime_dir(self):
        """The sockets directory a daemon outside /var/lib/edgevirt makes
        (daemon/vmi.c: /tmp/edgevirt-<sha256 of the state directory>); the
        test driver's guests are gone with the daemon."""
        digest = hashlib.sha256(self.state_dir.encode()).hexdigest()[:12]
        shutil.rmtree(f"/tmp/edgevirt-{digest}", ignore_errors=True)


class Client:
    """A thin client: the manager's verbs with Python values."""

    def __init__(self, conn):
        self.conn = conn

    @property
    def manager(self):
        return dbus.Interface(self.conn.get_object(NAME, ROOT), MANAGER)

    def apply(self, document, **options):
        return [str(p) for p in self.manager.Apply(document, options_dict(options))]

    def get(self, kind, namespace, name, **options):
        return str(self.manager.Get(kind, namespace, name, options_dict(options)))

    def get_json(self, kind, namespace, name):
        import json
        return json.loads(self.get(kind, namespace, name))

    def list(self, kind, namespace="", **options):
        import json
        return json.loads(str(self.manager.List(kind, namespace, options_dict(options))))

    def delete(self, kind, namespace, name, **options):
        self.manager.Delete(kind, namespace, name, options_dict(options))

    def props(self, path, interface):
        obj = self.conn.get_object(NAME, path)
        return dbus.Interface(obj, "org.freedesktop.DBus.Properties").GetAll(interface)

    def managed_objects(self, path=ROOT):
        """GetManagedObjects of the manager at path: the root's, or a
        namespace's Events' (ROOT/namespace/NS/event)."""
        om = dbus.Interface(self.conn.get_object(NAME, path), "org.freedesktop.DBus.ObjectManager")
        return {str(k): v for k, v in om.GetManagedObjects().items()}

    def exists(self, kind, namespace, name):
        try:
            self.get(kind, namespace, name)
            return True
        except dbus.DBusException as e:
            assert e.get_dbus_name() == ERR + "NotFound", e
            return False


def options_dict(options):
    out = {}
    for k, v in options.items():
        key = k.replace("_", "-")
        if isinstance(v, bool):
            out[key] = dbus.Boolean(v)
        elif isinstance(v, dict):
            out[key] = dbus.Dictionary(v, signature="ss")
        else:
            out[key] = dbus.String(v)
    return dbus.Dictionary(out, signature="sv")


@pytest.fixture
def bus():
    tmp = tempfile.mkdtemp(prefix="edgevirt-bus-")
    b = Bus(tmp)
    yield b
    b.stop()
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def state_dir():
    d = tempfile.mkdtemp(prefix="edgevirt-state-")
    yield os.path.join(d, "state")
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def daemon(bus, state_dir):
    d = Daemon(bus, state_dir).start()
    yield d
    d.stop()


@pytest.fixture
def client(bus, daemon):
    return Client(bus.conn)


def expect_error(name, fn, *args, **kwargs):
    """Call fn and return the D-Bus error message; fail unless it raises
    the named edgevirt (or D-Bus) error."""
    with pytest.raises(dbus.DBusException) as info:
        fn(*args, **kwargs)
    full = name if "." in name else ERR + name
    assert info.value.get_dbus_name() == full, info.value
    return info.value.get_dbus_message()


class Signals:
    """Records the daemon's signals on the bus."""

    def __init__(self, conn):
        self.items = []
        self.conn = conn
        self.match = conn.add_signal_receiver(
            self._on, sender_keyword="sender", path_keyword="path",
            interface_keyword="interface", member_keyword="member", bus_name=NAME)

    def _on(self, *args, **kw):
        self.items.append((kw["interface"], kw["member"], kw["path"], args))

    def of(self, member, path=None):
        return [s for s in self.items if s[1] == member and (path is None or s[2] == path)]

    def close(self):
        self.match.remove()


@pytest.fixture
def signals(bus, daemon):
    s = Signals(bus.conn)
    yield s
    s.close()
