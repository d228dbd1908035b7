# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fixtures for the desktop lane: an X server (Xvfb), a session bus with
its accessibility bus, edgevirtd on a private bus with the libvirt test
driver (as tests/api starts it) and edgevirt-desktop on it, run as the
user nobody with the roles RoleBindings give it: edit in "team", view in
"viewonly", none elsewhere; no polkit to ask, so what a role does not give
is refused, as on a host where polkit says no.  The tests act as root on
the private bus (another client) and drive the app over AT-SPI."""
import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))

# tests/api's daemon, bus and client (its module also makes the process
# hermetic: a home, XDG directories and the C locale of the tests' own)
_spec = importlib.util.spec_from_file_location("api_conftest", os.path.join(TOP, "tests", "api", "conftest.py"))
api = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(api)

import ui  # noqa: E402

BUILD = api.BUILD
APP = os.path.join(BUILD, "desktop", "edgevirt-desktop")
RESULTS = os.environ.get("EDGEVIRT_DESKTOP_RESULTS", os.path.join(BUILD, "test-results", "desktop"))
UID = 65534     # nobody
GID = 65534     # nogroup

# The private bus lets other users on (the app runs as nobody).
PRIVATE_BUS = api.BUS_CONFIG.replace('<policy context="default">', '<policy context="default">\n    <allow user="*"/>')

# nobody's session bus: the same, and the session services (the
# accessibility bus launcher is started through it)
SESSION_BUS = PRIVATE_BUS.replace("<auth>EXTERNAL</auth>", "<auth>EXTERNAL</auth>\n  <standard_session_servicedirs/>")

SETUP = """
apiVersion: v1
kind: Namespace
metadata: {name: team}
---
apiVersion: v1
kind: Namespace
metadata: {name: viewonly}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: desktop-user, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: nobody}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: desktop-user, namespace: viewonly}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: nobody}]
"""


def owned_dir(path, mode=0o700):
    os.makedirs(path, exist_ok=True)
    os.chown(path, UID, GID)
    os.chmod(path, mode)
    return path


class Session:
    """Xvfb, and a session bus of nobody's with the accessibility bus."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="edgevirt-desktop-")
        os.chmod(self.tmp, 0o755)
        self.home = owned_dir(os.path.join(self.tmp, "home"))
        self.runtime = owned_dir(os.path.join(self.tmp, "runtime"))
        r, w = os.pipe()
        os.makedirs(RESULTS, exist_ok=True)
        self.xvfb_log = open(os.path.join(RESULTS, "xvfb.log"), "w")
        # -noreset: the server would reset when its last client goes (the
        # probe below, an app between tests), refusing whoever comes meanwhile
        self.xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-screen", "0", "1280x900x24", "-nolisten", "tcp",
                                      "-ac", "-noreset"], pass_fds=(w,), stdout=self.xvfb_log,
                                     stderr=subprocess.STDOUT)
        os.close(w)
        number = b""
        while not number.endswith(b"\n"):
            chunk = os.read(r, 16)
            if not chunk:
                raise RuntimeError("Xvfb did not start")
            number += chunk
        os.close(r)
        self.display = ":" + number.decode().strip()
        self.wait_for_x(number.decode().strip())
        busdir = owned_dir(os.path.join(self.tmp, "bus"), 0o755)
        sock = os.path.join(busdir, "session.sock")
        with open(os.path.join(busdir, "session.conf"), "w") as f:
            f.write(SESSION_BUS.format(sock=sock))
        self.env = self.user_env()
        out = subprocess.check_output(["setpriv", f"--reuid={UID}", f"--regid={GID}", "--clear-groups",
                                       "dbus-daemon", "--config-file=" + os.path.join(busdir, "session.conf"),
                                       "--fork", "--print-pid"], env=self.env, text=True)
        self.bus_pid = int(out.split()[0])
        self.address = "unix:path=" + sock
        self.env["DBUS_SESSION_BUS_ADDRESS"] = self.address
        # the tests' own AT-SPI client finds the accessibility bus through it
        os.environ["DBUS_SESSION_BUS_ADDRESS"] = self.address
        os.environ["DISPLAY"] = self.display

    def wait_for_x(self, number):
        """Until the server takes connections on its socket."""
        path = f"/tmp/.X11-unix/X{number}"
        deadline = time.monotonic() + 30
        while True:
            if self.xvfb.poll() is not None:
                raise RuntimeError(f"Xvfb exited ({self.xvfb.returncode})")
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(path)
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Xvfb does not listen on {path}")
                time.sleep(0.05)

    def user_env(self):
        h = self.home
        return {"PATH": "/usr/bin:/bin", "HOME": h, "USER": "nobody", "LOGNAME": "nobody",
                "XDG_RUNTIME_DIR": self.runtime, "XDG_CONFIG_HOME": h + "/config", "XDG_CACHE_HOME": h + "/cache",
                "XDG_DATA_HOME": h + "/data", "XDG_STATE_HOME": h + "/state", "DISPLAY": self.display,
                "GDK_BACKEND": "x11", "GTK_A11Y": "atspi", "NO_AT_BRIDGE": "0", "GTK_USE_PORTAL": "0",
                "GSETTINGS_BACKEND": "memory", "GSETTINGS_SCHEMA_DIR": os.path.join(BUILD, "desktop", "data"),
                "LC_ALL": "C.UTF-8", "G_MESSAGES_DEBUG": "edgevirt-desktop"}

    def stop(self):
        for pid in (self.bus_pid,):
            try:
                os.kill(pid, 15)
            except ProcessLookupError:
                pass
        self.xvfb.terminate()
        self.xvfb.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def session():
    if not os.path.exists(APP):
        pytest.fail(f"{APP} is not built (meson -Ddesktop=enabled)")
    s = Session()
    yield s
    s.stop()


@pytest.fixture
def bus():
    tmp = tempfile.mkdtemp(prefix="edgevirt-desktop-bus-")
    os.chmod(tmp, 0o755)
    b = api.Bus(tmp, PRIVATE_BUS)
    yield b
    b.stop()
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def daemon(bus, tmp_path):
    # no polkit to ask: what nobody's roles do not give is refused
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS="unix:path=" + str(tmp_path / "no-polkit"))
    d = api.Daemon(bus, str(tmp_path / "state"), env=env).start()
    yield d
    d.stop()


@pytest.fixture
def client(bus, daemon):
    c = api.Client(bus.conn)
    c.apply(SETUP)
    return c


class Desktop:
    """Starts edgevirt-desktop as nobody on the private bus."""

    def __init__(self, session, bus, request):
        self.session, self.bus, self.request = session, bus, request
        self.apps = []

    def start(self, extra_env=None, args=()):
        env = dict(self.session.env, EDGEVIRT_BUS=self.bus.address, **(extra_env or {}))
        log = os.path.join(self.session.tmp, f"app-{self.request.node.name}-{len(self.apps)}.log")
        app = ui.App(["setpriv", f"--reuid={UID}", f"--regid={GID}", "--clear-groups", APP, *args], env, log)
        self.apps.append(app)
        return app

    def screenshot(self, name):
        return ui.screenshot(self.session.display, os.path.join(RESULTS, name + ".png"))

    def stop(self):
        for a in self.apps:
            api.stop_process(a.proc)
            a.log.close()


@pytest.fixture
def desktop(session, bus, request):
    d = Desktop(session, bus, request)
    yield d
    if getattr(request.node, "rep_call", None) and request.node.rep_call.failed:
        for a in d.apps:
            try:
                print("accessible tree:\n" + a.dump())
            except Exception as e:      # the app may be gone
                print("no accessible tree:", e)
    d.stop()
    if getattr(request.node, "rep_call", None) and request.node.rep_call.failed:
        for a in d.apps:
            print("app log:\n" + open(a.log_path).read())


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
