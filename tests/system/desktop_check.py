# SPDX-License-Identifier: LGPL-2.1-or-later
"""edgevirt-desktop on a real guest (test_guest.py): what the desktop lane's
test driver cannot give — the guest agent's facts arriving live on an open
VM page, and a serial console connected to a real domain.  The desktop
lane's X session and AT-SPI helpers (tests/desktop) are reused; the app
runs as root here, like the lane's own client, on the lane's private bus."""
import importlib.util
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DESKTOP = os.path.join(HERE, "..", "desktop")
sys.path.insert(0, DESKTOP)
_spec = importlib.util.spec_from_file_location("desktop_conftest", os.path.join(DESKTOP, "conftest.py"))
desk = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(desk)
ui = desk.ui


VIEWER = """#!/usr/bin/python3
import socket, sys
host, port = sys.argv[1].removeprefix("vnc://").rsplit(":", 1)
with socket.create_connection((host, int(port)), timeout=30) as s:
    data = s.recv(12)
open("{out}.part", "wb").write(data)
__import__("os").rename("{out}.part", "{out}")
"""


def fact(app, title):
    """The value shown in the page's row so titled ("Hostname": "edge-guest")."""
    row = app.one("list item", name_is=title)
    return None if row is None else row.get_description()


class DesktopOnGuest:
    """The app started before the guest boots, its VM page open."""

    def __init__(self, bus_address, namespace, vm):
        if not os.path.exists(desk.APP):
            raise AssertionError(f"{desk.APP} is not built (meson -Ddesktop=enabled)")
        # the session sets these for its AT-SPI client: put back at the end
        self.saved_env = {k: os.environ.get(k) for k in ("DBUS_SESSION_BUS_ADDRESS", "DISPLAY")}
        self.session = desk.Session()
        self.results = desk.RESULTS
        self.vm = vm
        # a stand-in remote-viewer: records what the app's VNC port says
        self.viewer_out = os.path.join(self.session.tmp, "viewer.out")
        bindir = os.path.join(self.session.tmp, "bin")
        os.makedirs(bindir)
        with open(os.path.join(bindir, "remote-viewer"), "w") as f:
            f.write(VIEWER.format(out=self.viewer_out))
        os.chmod(os.path.join(bindir, "remote-viewer"), 0o755)
        env = dict(self.session.env, EDGEVIRT_BUS=bus_address, PATH=bindir + ":" + self.session.env["PATH"])
        self.app = ui.App([desk.APP], env, os.path.join(self.session.tmp, "app.log"))
        try:
            self.app.wait_one("list item", name_is=namespace)
            ui.select(self.app.wait_one("list", name_is="Projects"), namespace)
            ui.click(self.app.wait_one("push button", name_is=f"Open {vm}"))
        except Exception:
            self.stop()
            raise

    def screenshot(self, name):
        return ui.screenshot(self.session.display, os.path.join(self.results, name + ".png"))

    def wait_agent_facts(self, hostname, timeout):
        """The page, left open while the guest booted, shows what its agent says."""
        app = self.app
        ui.wait(lambda: fact(app, "Guest agent") == "Connected", timeout,
                f"the page to say the agent is connected (says {fact(app, 'Guest agent')})")
        ui.wait(lambda: fact(app, "Hostname") == hostname, 60,
                f"the hostname {hostname!r} on the page (shows {fact(app, 'Hostname')})")
        ui.wait(lambda: "Debian GNU/Linux 12" in (fact(app, "Operating system") or ""), 60,
                f"the guest's OS on the page (shows {fact(app, 'Operating system')})")
        self.screenshot("vm-page-real-guest")

    def check_console(self):
        """The serial console connects to the domain's console and stays up;
        a Return makes getty print its prompt again (see the screenshot)."""
        app = self.app
        ui.click(app.wait_one("push button", name_is="Serial Console"))
        title = f"Serial Console of {self.vm}"
        window = ui.wait(lambda: app.window(title), 20, "the console window")
        ui.wait(lambda: "Connected" in ui.label_texts(window), 30,
                f"the console to connect (shows {ui.label_texts(window)})")
        ui.focus(app)
        ui.keys("Return")
        ui.wait(lambda: "Connected" in ui.label_texts(window), 5, "the console to stay connected")
        self.screenshot("console-real-guest")
        assert app.one("label", name_has="Cannot open the console") is None

    def check_vnc(self):
        """Graphical Console: the app's loopback port, spliced to OpenVNC(),
        speaks RFB to the viewer it starts."""
        ui.click(self.app.wait_one("push button", name_is="Graphical Console"))
        deadline = time.monotonic() + 30
        while not os.path.exists(self.viewer_out):
            assert time.monotonic() < deadline, "the viewer was not started, or got nothing"
            time.sleep(0.2)
        data = open(self.viewer_out, "rb").read()
        assert data.startswith(b"RFB 003."), data

    def stop(self):
        if getattr(self, "app", None):
            desk.api.stop_process(self.app.proc)
            self.app.log.close()
        self.session.stop()
        for k, v in self.saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
