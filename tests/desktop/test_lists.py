# SPDX-License-Identifier: LGPL-2.1-or-later
"""The main window follows the daemon: objects applied through the API
appear with their status, changes made by other clients show, the service
going away and coming back is said and recovered from."""
import os

import dbus

import ui
from conftest import BUILD, api

VM = """
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {{name: {name}, namespace: {ns}}}
spec:
  runStrategy: {strategy}
  template:
    spec:
      domain: {{memory: {{guest: 64Mi}}}}
"""


def vm(name, ns="team", strategy="Halted"):
    return VM.format(name=name, ns=ns, strategy=strategy)


def vm_status(app, name):
    """The status label of the VM's row, as a screen reader reads it."""
    row = app.one("list item", name_is=name)
    if row is None:
        return None
    return row.get_description()


def wait_status(app, name, want, timeout=30):
    return ui.wait(lambda: vm_status(app, name) == want, timeout, f"{name} to show {want!r} "
                   f"(shows {vm_status(app, name)!r})")


def test_objects_applied_appear_with_their_status(client, desktop):
    app = desktop.start()
    # the first project nobody may see is shown: team (edit), viewonly (view)
    app.wait_one("list item", name_is="team")
    app.wait_one("list item", name_is="viewonly")
    assert app.one("list item", name_is="default") is None, "a namespace without a role is not listed"
    client.apply(vm("web", strategy="Always") + "---\n" + vm("db"))
    wait_status(app, "web", "Running")
    wait_status(app, "db", "Stopped")
    # the row's start/stop button says what it does to which VM
    app.wait_one("push button", name_is="Stop web")
    app.wait_one("push button", name_is="Start db")
    desktop.screenshot("vms")
    # and it goes when deleted
    client.delete("vm", "team", "db")
    ui.wait(lambda: app.one("list item", name_is="db") is None, 30, "db's row to go")


def test_a_start_by_another_client_shows(client, desktop):
    client.apply(vm("web"))
    app = desktop.start()
    wait_status(app, "web", "Stopped")
    obj = client.conn.get_object(api.NAME, api.ROOT + "/namespace/team/vm/web")
    dbus.Interface(obj, "org.edgevirt.EdgeVirt1.VirtualMachine").Start(dbus.Dictionary({}, signature="sv"))
    wait_status(app, "web", "Running")
    app.wait_one("push button", name_is="Stop web")


def test_the_start_button_starts_a_vm(client, desktop):
    client.apply(vm("web"))
    app = desktop.start()
    wait_status(app, "web", "Stopped")
    ui.click(app.wait_one("push button", name_is="Start web"))
    api.wait_until(lambda: client.props(api.ROOT + "/namespace/team/vm/web",
                                        "org.edgevirt.EdgeVirt1.VirtualMachine")["PrintableStatus"] == "Running",
                   what="the VM to run")
    wait_status(app, "web", "Running")


def test_a_denied_call_shows_its_error(client, desktop):
    client.apply(vm("guarded", ns="viewonly"))
    app = desktop.start()
    app.wait_one("list item", name_is="viewonly")
    ui.select(app.one("list", name_is="Projects"), "viewonly")
    wait_status(app, "guarded", "Stopped")
    ui.click(app.wait_one("push button", name_is="Start guarded"))
    toast = app.wait_one("label", name_has="Could not start guarded:")
    # said as a refusal, naming the polkit action the daemon asked for
    assert "Not allowed" in ui.text(toast) and "org.edgevirt.EdgeVirt1.vm.lifecycle" in ui.text(toast), ui.text(toast)
    desktop.screenshot("denied")
    # and nothing happened
    assert client.props(api.ROOT + "/namespace/viewonly/vm/guarded",
                        "org.edgevirt.EdgeVirt1.VirtualMachine")["RunStrategy"] == "Halted"


def test_the_service_going_away_is_said_and_recovered_from(client, daemon, desktop):
    client.apply(vm("web"))
    app = desktop.start()
    wait_status(app, "web", "Stopped")
    daemon.kill()
    app.wait_one("label", name_is="The edgevirt Service Is Not Running")
    ui.wait(lambda: app.one("list item", name_is="web") is None, 30, "the VM's row to go with the service")
    desktop.screenshot("offline")
    daemon.start()
    wait_status(app, "web", "Stopped")
    assert app.one("label", name_is="The edgevirt Service Is Not Running") is None


def test_the_bus_going_away_is_said_and_recovered_from(client, daemon, bus, desktop):
    """--bus=unix:path=… (the quick start's bus): the bus daemon restarted."""
    client.apply(vm("web"))
    app = desktop.start()
    wait_status(app, "web", "Stopped")
    daemon.kill()
    bus.down()
    app.wait_one("label", name_is="Cannot Reach the Bus", timeout=30)
    bus.up()
    daemon.start()
    wait_status(app, "web", "Stopped", timeout=60)
    assert app.one("label", name_is="Cannot Reach the Bus") is None


def test_in_german(client, desktop):
    client.apply(vm("web") + "---\n" + vm("db", strategy="Always"))
    app = desktop.start({"LANGUAGE": "de", "EDGEVIRT_LOCALEDIR": os.path.join(BUILD, "po")})
    wait_status(app, "web", "Angehalten")
    wait_status(app, "db", "Läuft")
    app.wait_one("push button", name_is="web starten")
    app.wait_one("push button", name_is="Neue virtuelle Maschine")
    desktop.screenshot("german")
