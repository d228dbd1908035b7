# SPDX-License-Identifier: LGPL-2.1-or-later
"""A VM's page: its actions (pause, resume, reboot, restart, stop, force
off after a confirmation, delete after a confirmation naming the
DataVolumes that go with it), its status and events in words, snapshots
taken and restored, and the serial console saying why it cannot open."""
import ui
from conftest import api

VM = """
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: web, namespace: team}
spec:
  runStrategy: Always
  dataVolumeTemplates:
  - metadata: {name: web-root}
    spec:
      source: {blank: {}}
      storage: {resources: {requests: {storage: 32Mi}}}
  template:
    spec:
      terminationGracePeriodSeconds: 0
      domain:
        memory: {guest: 64Mi}
        devices: {disks: [{name: root, disk: {}}]}
      volumes: [{name: root, dataVolume: {name: web-root}}]
"""

VM_PATH = api.ROOT + "/namespace/team/vm/web"


def vm_props(client):
    return client.props(VM_PATH, "org.edgevirt.EdgeVirt1.VirtualMachine")


def page_status(app):
    """The status under the VM's name on its page (the label described as "Status")."""
    for n in app.all("label"):
        if n.get_description() == "Status":
            return ui.text(n)
    return None


def wait_page_status(app, want, timeout=30):
    ui.wait(lambda: page_status(app) == want, timeout, f"the page to show {want!r} (shows {page_status(app)!r})")


def button(app, label):
    """A button of the page's action bar (named by its label alone)."""
    return app.wait_one("push button", name_is=label)


def confirm(app, heading, response):
    """Answer the confirmation dialog whose heading is given; its text."""
    dialog = ui.wait(lambda: next((w for w in app.windows() if w is not None and heading in
                                   " ".join(ui.label_texts(w))), None), 20, f"the dialog {heading!r}")
    body = " ".join(ui.label_texts(dialog))
    ui.click(app.wait_one("push button", name_has=response, root=dialog))
    return body


def open_vm(client, desktop):
    client.apply(VM)
    api.wait_until(lambda: vm_props(client)["PrintableStatus"] == "Running", 60, what="web to run")
    app = desktop.start()
    ui.click(app.wait_one("push button", name_is="Open web"))
    wait_page_status(app, "Running")
    return app


def test_actions_from_the_vm_page(client, desktop):
    app = open_vm(client, desktop)
    desktop.screenshot("vm-page")
    ui.click(button(app, "Pause"))
    wait_page_status(app, "Paused")
    ui.click(button(app, "Resume"))
    wait_page_status(app, "Running")
    ui.click(button(app, "Restart"))
    app.wait_one("label", name_is="Restarting web", timeout=10)
    wait_page_status(app, "Running")
    ui.click(button(app, "Stop"))
    wait_page_status(app, "Stopped")
    assert vm_props(client)["RunStrategy"] == "Halted"
    ui.click(button(app, "Start"))
    wait_page_status(app, "Running")
    # forcing off asks first; cancelled, nothing happens
    ui.click(button(app, "Force Off"))
    confirm(app, "Force web Off?", "Cancel")
    assert vm_props(client)["RunStrategy"] == "Always"
    ui.click(button(app, "Force Off"))
    body = confirm(app, "Force web Off?", "Force Off")
    assert "lost" in body
    wait_page_status(app, "Stopped")


def test_delete_names_what_goes_with_it(client, desktop):
    app = open_vm(client, desktop)
    ui.click(button(app, "Delete"))
    body = confirm(app, "Delete web?", "Delete")
    assert "web-root" in body, body
    api.wait_until(lambda: not client.exists("vm", "team", "web") and not client.exists("dv", "team", "web-root"),
                   60, what="the VM and its DataVolume to go")
    # back to the list, where it is gone
    ui.wait(lambda: app.one("list item", name_is="web") is None, 30, "web's row to go")


def test_status_conditions_and_events_in_words(client, desktop):
    app = open_vm(client, desktop)
    app.wait_one("list item", name_is="Ready: the guest runs")
    # the daemon's Events of the VM and its instance: the reason in words, its message below
    started = app.wait_one("list item", name_is="Started running")
    assert any("VirtualMachineInstance started" in t for t in ui.label_texts(started)), ui.label_texts(started)
    app.wait_one("list item", name_is="Instance created")
    disk = app.wait_one("list item", name_is="web-root")
    assert "Ready" in ui.label_texts(disk)
    # what the guest agent would tell, said to be missing rather than blank
    agent = app.wait_one("list item", name_is="Guest agent")
    assert "Not connected" in ui.label_texts(agent)


def test_events_arriving_while_the_page_is_open(client, desktop):
    """An Event that comes alone, and comes again, shows on the open page:
    a reset changes nothing of the VM or its instance, only its Event
    (InterfacesAdded, then PropertiesChanged with its count, from the
    namespace's Events manager).  The VM's name starts with a digit, which
    its Events' paths escape (sd_bus_path_encode) as the page must too."""
    client.apply(VM.replace("name: web, namespace: team", "name: 7up, namespace: team")
                 .replace("web-root", "7up-root"))
    path = api.ROOT + "/namespace/team/vm/_37up"
    api.wait_until(lambda: client.props(path, "org.edgevirt.EdgeVirt1.VirtualMachine")["PrintableStatus"] ==
                   "Running", 60, what="7up to run")
    app = desktop.start()
    ui.click(app.wait_one("push button", name_is="Open 7up"))
    wait_page_status(app, "Running")
    app.wait_one("list item", name_is="Started running")
    assert not app.all("list item", name_is="Reset")
    vmi = client.conn.get_object(api.NAME, api.ROOT + "/namespace/team/vmi/_37up")
    vmi.Reset({}, dbus_interface="org.edgevirt.EdgeVirt1.VirtualMachineInstance")
    reset = app.wait_one("list item", name_is="Reset", timeout=20)
    assert any("hard reset" in t for t in ui.label_texts(reset)), ui.label_texts(reset)
    vmi.Reset({}, dbus_interface="org.edgevirt.EdgeVirt1.VirtualMachineInstance")
    ui.wait(lambda: any("(2 times)" in t for n in app.all("list item", name_is="Reset") for t in ui.label_texts(n)),
            20, "the Reset counted twice")


def test_snapshot_taken_and_restored(client, desktop):
    app = open_vm(client, desktop)
    ui.click(button(app, "Take Snapshot"))
    api.wait_until(lambda: client.list("vmsnapshot", "team")["items"], 30, what="a snapshot to be made")
    snap = client.list("vmsnapshot", "team")["items"][0]["metadata"]["name"]
    assert snap.startswith("web-")
    api.wait_until(lambda: client.get_json("vmsnapshot", "team", snap).get("status", {}).get("phase") == "Succeeded",
                   60, what="the snapshot to be ready")
    # back to the lists, to the Snapshots view (a hidden view's buttons do nothing)
    ui.click(app.wait_one("push button", name_is="Back"))
    ui.click(app.wait_one("page tab", name_is="Snapshots"))
    row = app.wait_one("list item", name_is=snap)
    ui.wait(lambda: "Ready" in (row.get_description() or ""), 30, "the snapshot's row to say it is ready")
    desktop.screenshot("snapshots")
    ui.click(app.wait_one("push button", name_is="Restore from " + snap))
    body = confirm(app, f"Restore web from {snap}?", "Stop and Restore")
    assert "must be stopped" in body, body
    api.wait_until(lambda: [r for r in client.list("vmrestore", "team")["items"]
                            if r.get("status", {}).get("complete")], 90, what="the restore to complete")
    restore = client.list("vmrestore", "team")["items"][0]
    assert restore["spec"]["virtualMachineSnapshotName"] == snap and restore["spec"]["target"]["name"] == "web"
    # the VM runs again as the snapshot had it (runStrategy Always)
    api.wait_until(lambda: vm_props(client)["PrintableStatus"] == "Running", 60, what="web to run again")


def test_console_says_why_it_cannot_open(client, desktop):
    app = open_vm(client, desktop)
    ui.click(button(app, "Serial Console"))
    window = ui.wait(lambda: app.window("Serial Console of web"), 20, "the console window")
    # the test driver gives no serial console: the daemon says so, and so does the window
    app.wait_one("label", name_has="Cannot open the console", root=window)
    app.wait_one("push button", name_is="Reconnect", root=window)
