# SPDX-License-Identifier: LGPL-2.1-or-later
"""A phone-sized window (360 pixels wide, from the settings the app keeps:
the window's size and the project shown last) and the graphical console's
port when no viewer is there to start (the lane installs neither
remote-viewer nor vncviewer)."""
import os
import socket

import ui
from conftest import GID, UID
from test_lists import vm, wait_status


def keyfile(session):
    return os.path.join(session.home, "config", "glib-2.0", "settings", "keyfile")


def test_phone_sized_and_settings_kept(client, desktop, session):
    path = keyfile(session)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("[org/edgevirt/Desktop]\nwindow-width=360\nwindow-height=720\nlast-namespace='viewonly'\n")
    for d in (os.path.dirname(os.path.dirname(os.path.dirname(path))), os.path.dirname(os.path.dirname(path)),
              os.path.dirname(path), path):
        os.chown(d, UID, GID)
    client.apply(vm("phone", ns="viewonly"))
    try:
        app = desktop.start({"GSETTINGS_BACKEND": "keyfile"})
        # the project kept from the last time is shown
        wait_status(app, "phone", "Stopped")
        row = app.one("list item", name_is="phone")
        extents = row.get_extents(ui.Atspi.CoordType.WINDOW)
        assert extents.width <= 360, f"the row is {extents.width} pixels wide in a 360-pixel window"
        desktop.screenshot("phone")
        # choosing another project is kept for the next start
        ui.select(app.wait_one("list", name_is="Projects"), "team")
        ui.wait(lambda: "last-namespace='team'" in open(path).read(), 20, "the choice to be saved")
    finally:
        os.unlink(path)


def test_graphical_console_without_a_viewer_gives_its_port(client, desktop):
    client.apply(vm("web", strategy="Always"))
    app = desktop.start()
    wait_status(app, "web", "Running")
    ui.click(app.wait_one("push button", name_is="Open web"))
    ui.click(app.wait_one("push button", name_is="Graphical Console"))
    dialog = ui.wait(lambda: next((w for w in app.windows() if w is not None and
                                   any("127.0.0.1:" in t for t in ui.label_texts(w))), None), 20, "the port")
    text = next(t for t in ui.label_texts(dialog) if "127.0.0.1:" in t)
    port = int(text.split("127.0.0.1:")[1].split()[0])
    # a viewer connecting there reaches OpenVNC: the test driver has no VNC, which the window says
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        app.wait_one("label", name_has="Cannot open the graphical console of web")
        assert s.recv(16) == b"", "the connection closes when there is no display"
    ui.click(app.wait_one("push button", name_has="Close", root=dialog))
    ui.wait(lambda: refused(port), 20, "the port to close with the message")


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except OSError:
        return True
