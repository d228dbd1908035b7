# SPDX-License-Identifier: LGPL-2.1-or-later
"""Keyboard only, with real key presses (XTest through xdotool; the lane
runs no window manager, so the test gives the window the focus as one
would): the shortcuts the Keyboard Shortcuts window lists do what it says,
and a VM is found, opened and started with Tab, Return and Space alone."""
import ui
from conftest import api
from test_lists import vm, wait_status

VM_PATH = api.ROOT + "/namespace/team/vm/web"


def tab_to(app, role_name, name_is, most=60):
    """Press Tab until the object so named has the keyboard focus."""
    for _ in range(most):
        node = ui.focused(app)
        if node is not None and ui.role(node) == role_name and ui.name(node) == name_is:
            return node
        ui.keys("Tab")
    raise AssertionError(f"Tab never reached {role_name} {name_is!r} (last: {ui.describe(ui.focused(app))})")


def view_selected(app, title):
    """The view switcher's tab so titled is the selected one."""
    tabs = app.all("page tab", name_is=title)
    return tabs and all(ui.has_state(t, "selected") for t in tabs)


def back_shown(app):
    return ui.has_state(app.one("push button", name_is="Back"), "visible")


def shortcuts_window(app):
    return next((w for w in app.windows() if w is not None and "Show Shortcuts" in ui.label_texts(w)), None)


def test_the_listed_shortcuts_work(client, desktop):
    client.apply(vm("web"))
    app = desktop.start()
    wait_status(app, "web", "Stopped")
    ui.focus(app)

    ui.keys("ctrl+question")
    window = ui.wait(lambda: shortcuts_window(app), 10, "the Keyboard Shortcuts window")
    listed = ui.label_texts(window)
    for title in ("New Virtual Machine", "Back to the List", "Main Menu", "Close Window", "Quit",
                  "Show Virtual Machines", "Show Volumes", "Show Snapshots"):
        assert title in listed, f"{title!r} is not in the shortcuts window: {listed}"
    desktop.screenshot("shortcuts")
    ui.keys("Escape")
    ui.wait(lambda: shortcuts_window(app) is None, 10, "the shortcuts window to close")

    ui.focus(app)
    ui.keys("ctrl+n")
    ui.wait(lambda: app.window("New Virtual Machine"), 10, "the New Virtual Machine dialog")
    ui.keys("Escape")
    ui.wait(lambda: app.window("New Virtual Machine") is None, 10, "the dialog to close")

    # F10 opens the main menu, whose first item is Keyboard Shortcuts
    ui.focus(app)
    ui.keys("F10")
    ui.keys("Return")
    ui.wait(lambda: shortcuts_window(app), 10, "the Keyboard Shortcuts window from the main menu")
    ui.keys("Escape")
    ui.wait(lambda: shortcuts_window(app) is None, 10, "the shortcuts window to close")

    # Alt+2 shows the Volumes, Alt+1 the VMs again
    ui.focus(app)
    ui.keys("alt+2")
    ui.wait(lambda: view_selected(app, "Volumes"), 10, "the Volumes view")
    ui.keys("alt+1")
    ui.wait(lambda: view_selected(app, "Virtual Machines"), 10, "the VMs view")

def test_a_vm_is_opened_and_started_from_the_keyboard(client, desktop):
    client.apply(vm("web"))
    app = desktop.start()
    wait_status(app, "web", "Stopped")
    ui.focus(app)
    tab_to(app, "push button", "Open web")
    ui.keys("Return")
    start = app.wait_one("push button", name_is="Start")
    tab_to(app, "push button", "Start")
    ui.keys("space")
    api.wait_until(lambda: client.props(VM_PATH, "org.edgevirt.EdgeVirt1.VirtualMachine")["PrintableStatus"]
                   == "Running", what="the VM to run")
    assert start is not None
    # Alt+Left leaves the page; Ctrl+W closes the window, and with it the app
    assert back_shown(app)
    ui.keys("alt+Left")
    ui.wait(lambda: not back_shown(app), 10, "the list again (no Back button)")
    ui.keys("ctrl+w")
    app.proc.wait(timeout=10)
