# SPDX-License-Identifier: LGPL-2.1-or-later
"""units/: the bus policy on a bus configured like the system bus, with a
real unprivileged caller; the hardened unit's exposure; translations."""
import gettext
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile

import pytest

from conftest import BUILD, TOP, Client, Daemon, wait_until

SYSTEM_LIKE = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={sock}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
  </policy>
  <include>{policy}</include>
</busconfig>
"""

# A client run as another Unix user (setpriv): CALLS, Python source that
# fills `calls` (name -> callable) with the names below at hand, becomes
# each call's outcome — "ok", the plain list it built (D-Bus arrays are
# "ok" too), or "ERROR.NAME: message".
CLIENT_HEAD = r"""
import json, sys, dbus
bus = dbus.bus.BusConnection(sys.argv[1])
ROOT = "/org/edgevirt/EdgeVirt1"
obj = lambda p: bus.get_object("org.edgevirt.EdgeVirt1", p)
m = dbus.Interface(obj(ROOT), "org.edgevirt.EdgeVirt1.Manager")
om = dbus.Interface(obj(ROOT), "org.freedesktop.DBus.ObjectManager")
vm = lambda ns: dbus.Interface(obj(f"{ROOT}/namespace/{ns}/vm/box"), "org.edgevirt.EdgeVirt1.VirtualMachine")
cm = lambda ns, n: f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {n}, namespace: {ns}}}\n"
E = dbus.Dictionary({}, signature="sv")
"""

CLIENT_TAIL = r"""
out = {}
for name, call in calls.items():
    try:
        r = call()
        out[name] = r if type(r) is list else "ok"  # a plain list: what a call chose to report
    except dbus.DBusException as e:
        out[name] = e.get_dbus_name() + ": " + e.get_dbus_message()
print(json.dumps(out))
"""

AS_NOBODY = ["--reuid=65534", "--regid=65534", "--clear-groups"]


def run_client(calls, address, user, *argv, timeout=60):
    """CALLS run as USER (setpriv arguments) on the bus at ADDRESS."""
    r = subprocess.run(["setpriv", *user, "/usr/bin/python3", "-c", CLIENT_HEAD + calls + CLIENT_TAIL, address, *argv],
                       capture_output=True, text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


# Run as "nobody".
CALLS = r"""
calls = {
    "GetManagedObjects": lambda: om.GetManagedObjects(),
    "GetConfigMap": lambda: m.Get("cm", "default", "public", {}),
    "ListConfigMaps": lambda: m.List("cm", "", {}),
    "GetSecret": lambda: m.Get("secret", "default", "private", {}),
    "ListSecrets": lambda: m.List("secret", "", {}),
    "Apply": lambda: m.Apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: evil}\n", {}),
    "Delete": lambda: m.Delete("cm", "default", "public", {}),
    "CreateNamespace": lambda: m.CreateNamespace("evil", {}),
    "DeleteNamespace": lambda: m.DeleteNamespace("default"),
}
"""


class SystemLikeBus:
    """A dbus-daemon configured like the system bus with edgevirt's bus
    policy (and more policy files to include), in a directory of its own."""

    def __init__(self, prefix, includes=()):
        import dbus
        self.tmp = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.tmp, 0o755)
        sock = os.path.join(self.tmp, "bus.sock")
        conf = os.path.join(self.tmp, "bus.conf")
        text = SYSTEM_LIKE.format(sock=sock, policy=os.path.join(TOP, "units", "org.edgevirt.EdgeVirt1.conf"))
        for inc in includes:
            text = text.replace("</busconfig>", f"  <include>{inc}</include>\n</busconfig>")
        with open(conf, "w") as f:
            f.write(text)
        self.pid = int(subprocess.check_output(["dbus-daemon", "--config-file=" + conf, "--fork", "--print-pid"],
                                               text=True).split()[0])
        self.address = "unix:path=" + sock
        self.conn = dbus.bus.BusConnection(self.address)

    def stop(self):
        self.conn.close()
        os.kill(self.pid, signal.SIGTERM)
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture
def system_like_bus():
    b = SystemLikeBus("edgevirt-sysbus-")
    yield b
    b.stop()


def test_bus_policy_for_unprivileged_callers(system_like_bus, tmp_path):
    state = tmp_path / "state"
    # no polkit to ask (tests/api/test_polkit.py has one): what polkit
    # guards is refused; what the bus policy opened is read
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS="unix:path=" + str(tmp_path / "no-such-bus"))
    d = Daemon(system_like_bus, str(state), env=env).start()
    try:
        root = Client(system_like_bus.conn)
        root.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: public}\n---\n"
                   "apiVersion: v1\nkind: Secret\nmetadata: {name: private}\nstringData: {k: v}\n")
        # error names only: the messages are not this test's business
        got = {k: v.split(": ", 1)[0] for k, v in run_client(CALLS, system_like_bus.address, AS_NOBODY).items()}
        print("unprivileged caller saw:", got)
        denied = "org.edgevirt.EdgeVirt1.Error.AccessDenied"
        # nobody has no role in "default" and polkit cannot say object.read:
        # nothing to see there (lists across namespaces are empty)
        assert got == {
            "GetManagedObjects": "ok",
            "GetConfigMap": denied,
            "ListConfigMaps": "ok",
            "GetSecret": denied,
            "ListSecrets": "ok",
            "Apply": denied,
            "Delete": denied,
            "CreateNamespace": denied,
            "DeleteNamespace": denied,
        }
        # nothing the unprivileged caller tried happened; root still reads secrets
        assert root.exists("cm", "default", "public") and not root.exists("cm", "default", "evil")
        assert root.get_json("secret", "default", "private")["data"] == {"k": "dg=="}
    finally:
        d.stop()


def test_unit_is_hardened():
    unit = os.path.join(BUILD, "units", "edgevirtd.service")
    r = subprocess.run(["systemd-analyze", "security", "--offline=true", unit], capture_output=True, text=True)
    m = re.search(r"Overall exposure level for edgevirtd.service: ([0-9.]+)", r.stdout)
    assert m, r.stdout + r.stderr
    # docs/security.md records the score and why each protection left off is off
    assert float(m.group(1)) <= 2.7, r.stdout
    text = open(unit).read()
    assert "Type=notify" in text and "ExecStart=" in text and "/edgevirtd --bus=system" in text


def test_translations_are_built():
    mo_dir = os.path.join(BUILD, "po")
    t = gettext.translation("edgevirt", localedir=mo_dir, languages=["de"])
    assert t.gettext("Delete objects") == "Objekte löschen"
    policy = open(os.path.join(BUILD, "units", "org.edgevirt.EdgeVirt1.policy")).read()
    assert 'xml:lang="de"' in policy and "Objekte löschen" in policy


def test_system_bus_and_readiness_notification(system_like_bus, tmp_path):
    """--bus=system (here: a bus like the system bus, found through
    DBUS_SYSTEM_BUS_ADDRESS as sd-bus does), READY=1 once the name is owned,
    STOPPING=1 on SIGTERM — what Type=notify needs."""
    import socket
    notify_path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(notify_path)
    sock.settimeout(10)
    env = dict(os.environ, NOTIFY_SOCKET=notify_path, DBUS_SYSTEM_BUS_ADDRESS=system_like_bus.address)
    conf = tmp_path / "empty.conf"
    conf.write_text("")
    proc = subprocess.Popen([os.path.join(BUILD, "dbus", "edgevirtd"), "--bus=system",
                             "--state-dir=" + str(tmp_path / "state"), "--config=" + str(conf)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        ready = sock.recv(4096).decode()
        assert "READY=1" in ready
        # ready means callable: the name is owned before READY=1 is sent
        assert system_like_bus.conn.name_has_owner("org.edgevirt.EdgeVirt1")
        props = Client(system_like_bus.conn).props("/org/edgevirt/EdgeVirt1", "org.edgevirt.EdgeVirt1.Manager")
        assert props["LibvirtURI"] == "qemu:///system"
        proc.terminate()
        assert "STOPPING=1" in sock.recv(4096).decode()
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()
