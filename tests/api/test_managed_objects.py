# SPDX-License-Identifier: LGPL-2.1-or-later
"""GetManagedObjects is answered from entries the daemon keeps per object
and writes again only when the object changes (dbus/managed-objects.c):
through a VM's life, a snapshot and deletions, every object's entry says
what Properties.GetAll says of it at the same moment, value and D-Bus
type, at the root's manager and at the Events'."""
import dbus

from conftest import NAME, ROOT, wait_until
from test_snapshots import VM, box, ready, snapshot  # noqa: F401 (box: a fixture)
from test_vm import vm_obj, vmi_obj, vmi_path, wait_status

OURS = NAME + "."


def same(a, b):
    """Equal values of the same D-Bus types, all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def mismatches(client, manager=ROOT):
    """What GetManagedObjects at manager lists that GetAll, asked right
    after, says otherwise (empty: they agree)."""
    out = []
    for path, ifaces in client.managed_objects(manager).items():
        for iface, props in ifaces.items():
            if not iface.startswith(OURS):
                continue
            try:
                now = client.props(path, iface)
            except dbus.DBusException as e:     # gone in between
                out.append((path, iface, str(e)))
                continue
            if not same(props, now):
                out.append((path, iface, {k: (props.get(k), now.get(k)) for k in set(props) | set(now)
                                          if not same(props.get(k), now.get(k))}))
    return out


def agree(client, what, manager=ROOT):
    """GetManagedObjects and GetAll agree, once the controllers are done
    with what just happened (an entry that stays stale never would)."""
    last = []

    def check():
        last[:] = mismatches(client, manager)
        return not last
    try:
        wait_until(check, timeout=10, what=what)
    except AssertionError:
        raise AssertionError(f"{what}: GetManagedObjects and GetAll differ: {last}")


def test_entries_follow_every_change(box):
    client = box
    agree(client, "the VM and its claims made")
    before = client.managed_objects()
    vm = before[ROOT + "/namespace/default/vm/box"]
    assert vm[OURS + "VirtualMachine"]["Instance"] == dbus.ObjectPath("/")
    assert dict(vm[OURS + "Object"]["Labels"]) == {"app": "box"}

    # a new document: labels, and a generation
    client.apply(VM.replace("metadata: {name: box, labels: {app: box}}",
                            "metadata: {name: box, labels: {app: box, tier: two}}"))
    agree(client, "the VM labelled")
    vm = client.managed_objects()[ROOT + "/namespace/default/vm/box"]
    assert dict(vm[OURS + "Object"]["Labels"]) == {"app": "box", "tier": "two"}

    # a snapshot comes and becomes ready (its phase, its conditions)
    client.apply(snapshot("first"))
    ready(client, "first")
    agree(client, "the snapshot ready")

    # the VM's instance: the VM's Instance and Ready follow it, which are
    # the VM's properties but change with the instance (its owner's entry)
    vm_obj(client, "box").Start({})
    wait_status(client, "box", "Running", timeout=30)
    agree(client, "the VM running")
    vm = client.managed_objects()[ROOT + "/namespace/default/vm/box"]
    assert vm[OURS + "VirtualMachine"]["Instance"] == vmi_path("box")
    vmi_obj(client, "box").Pause({})
    wait_status(client, "box", "Paused")
    agree(client, "the instance paused")
    assert client.managed_objects()[vmi_path("box")][OURS + "VirtualMachineInstance"]["Paused"] == dbus.Boolean(True)
    vmi_obj(client, "box").Unpause({})
    wait_status(client, "box", "Running")
    agree(client, "the instance running again")
    vm_obj(client, "box").Stop({})
    wait_status(client, "box", "Stopped", timeout=30)
    wait_until(lambda: vmi_path("box") not in client.managed_objects(), what="the instance to go")
    agree(client, "the VM stopped")
    vm = client.managed_objects()[ROOT + "/namespace/default/vm/box"]
    assert vm[OURS + "VirtualMachine"]["Instance"] == dbus.ObjectPath("/")

    # every Event of it, at the Events' manager
    agree(client, "the Events", ROOT + "/namespace/default/event")
    assert client.managed_objects(ROOT + "/namespace/default/event")

    # a deleted object is gone from the reply; the rest still agree
    client.delete("vmsnapshot", "default", "first")
    wait_until(lambda: ROOT + "/namespace/default/vmsnapshot/first" not in client.managed_objects(),
               what="the snapshot to go")
    agree(client, "the snapshot deleted")
