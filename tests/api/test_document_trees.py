# SPDX-License-Identifier: LGPL-2.1-or-later
"""Documents kept as compact text, their trees dropped when idle
(docs/architecture.md, "Scale"): here the daemon drops every tree at
(nearly) each turn of its loop (EDGEVIRT_TEST_TREES_IDLE_MS=1), so each
call and each controller pass reads documents parsed again from their
text.  A change shows at once in Get, List, the properties and
GetManagedObjects; the controllers drive a VM from start to stop."""
import os

import dbus
import pytest

from conftest import Client, Daemon, wait_until
from test_vm import VM_IFACE, vm_obj, vm_path, vm_yaml, vmi_path, wait_status, VMI_IFACE


@pytest.fixture
def client(bus, state_dir):
    d = Daemon(bus, state_dir, env=dict(os.environ, EDGEVIRT_TEST_TREES_IDLE_MS="1")).start()
    yield Client(bus.conn)
    d.stop()


OBJECT_IFACE = "org.edgevirt.EdgeVirt1.Object"


def views(client, name):
    """The VM as Get, List, its properties and GetManagedObjects show it
    (properties: both interfaces' in one dict)."""
    got = client.get_json("vm", "default", name)
    listed = [i for i in client.list("vm", "default")["items"] if i["metadata"]["name"] == name]
    props = dict(client.props(vm_path(name), VM_IFACE), **client.props(vm_path(name), OBJECT_IFACE))
    entry = client.managed_objects()[vm_path(name)]
    return got, listed[0], props, dict(entry[VM_IFACE], **entry[OBJECT_IFACE])


def test_changes_show_at_once_and_controllers_work(client):
    client.apply(vm_yaml("tree", strategy="Halted"))
    wait_status(client, "tree", "Stopped")
    got, listed, props, managed = views(client, "tree")
    assert props["RunStrategy"] == managed["RunStrategy"] == got["spec"]["runStrategy"] == "Halted"

    # a new document (an Apply) is what every view shows right away
    client.apply(vm_yaml("tree", strategy="Halted").replace("metadata: {name: tree}",
                                                           "metadata: {name: tree, labels: {tier: one}}"))
    got, listed, props, managed = views(client, "tree")
    assert got["metadata"]["labels"] == {"tier": "one"} and got == listed
    assert dict(props["Labels"]) == {"tier": "one"} and dict(managed["Labels"]) == {"tier": "one"}

    # the controllers read the VM (dropped between their passes), make and
    # follow its instance, and stop it again
    vm_obj(client, "tree").Start({})
    assert client.get_json("vm", "default", "tree")["spec"]["runStrategy"] == "Always"
    wait_status(client, "tree", "Running")
    assert client.props(vmi_path("tree"), VMI_IFACE)["Phase"] == "Running"
    got, listed, props, managed = views(client, "tree")
    assert got["status"]["ready"] is True and listed["status"]["ready"] is True
    assert props["Instance"] == vmi_path("tree") == managed["Instance"]
    vm_obj(client, "tree").Stop({})
    wait_status(client, "tree", "Stopped")
    wait_until(lambda: not client.exists("vmi", "default", "tree"), what="the instance to go")
    assert client.get_json("vm", "default", "tree")["metadata"]["labels"] == {"tier": "one"}


def test_garbage_collection_reads_dropped_owners(client):
    """Deleting a VM in the foreground looks for its dependents through
    every document's text (model_has_dependents)."""
    client.apply(vm_yaml("owner", strategy="Always"))
    wait_status(client, "owner", "Running")
    client.delete("vm", "default", "owner", propagation_policy="Foreground")
    wait_until(lambda: not client.exists("vm", "default", "owner") and not client.exists("vmi", "default", "owner"),
               what="the VM and its instance to go")
    with pytest.raises(dbus.DBusException):
        client.props(vm_path("owner"), VM_IFACE)
