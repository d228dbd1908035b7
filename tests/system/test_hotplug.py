# SPDX-License-Identifier: LGPL-2.1-or-later
"""Disk hotplug on a real libvirtd and QEMU (TCG): AddVolume attaches a
claim as a scsi disk to the running domain (libvirt's live XML shows it,
with its serial, on the target volumeStatus reports), RemoveVolume takes
it out again; the SeaBIOS guest of test_system.py is enough for QEMU to
take the device.  A guest that sees the disk is not checked here."""
from conftest import api, virsh
from test_system import NS, setup_ns, vm, vm_doc, wait_status

wait_until = api.wait_until

CLAIM = (f"apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {{name: hot, namespace: {NS}}}\n"
         "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 16Mi}}}\n")


def volume_status(client, name):
    vmi = client.get_json("vmi", NS, "hp")
    return next((v for v in vmi["status"].get("volumeStatus", []) if v["name"] == name), None)


def test_hotplug_into_running_domain(client):
    setup_ns(client)
    client.apply(CLAIM)
    client.apply(vm_doc("hp"))
    wait_status(client, "hp", "Running")
    assert "<controller type='scsi' index='0' model='virtio-scsi'>" in virsh("dumpxml", f"{NS}_hp")
    vm(client, "hp").AddVolume("hot", {"serial": "HOT1"})
    wait_until(lambda: (volume_status(client, "hot") or {}).get("phase") == "Ready", timeout=60,
               what=f"the volume to be Ready (is {volume_status(client, 'hot')})")
    target = volume_status(client, "hot")["target"]
    xml = virsh("dumpxml", f"{NS}_hp")
    assert f"<target dev='{target}' bus='scsi'/>" in xml and "<serial>HOT1</serial>" in xml, xml
    assert "<alias name='ua-hot'/>" in xml
    vm(client, "hp").RemoveVolume("hot", {})
    wait_until(lambda: volume_status(client, "hot") is None, timeout=60, what="the volume to be detached")
    assert "ua-hot" not in virsh("dumpxml", f"{NS}_hp")
    assert all(v["name"] != "hot" for v in client.get_json("vmi", NS, "hp")["spec"]["volumes"])


def declared(extra=""):
    """test_system's SeaBIOS guest, with extra hotpluggable volumes."""
    doc = vm_doc("hpd")
    disks = "[{name: scratch, disk: {}}" + (", {name: hot, disk: {bus: scsi}, serial: DECL1}" if extra else "") + "]"
    vols = "[{name: scratch, emptyDisk: {capacity: 16Mi}}" + (f", {extra}" if extra else "") + "]"
    doc = doc.replace("disks: [{name: scratch, disk: {}}]", f"disks: {disks}")
    return doc.replace("volumes: [{name: scratch, emptyDisk: {capacity: 16Mi}}]", f"volumes: {vols}")


def test_declarative_hotplug(client):
    """A hotpluggable volume applied to the running VM's template is
    attached to the domain; applied without it, it is detached."""
    setup_ns(client)
    client.apply(CLAIM)
    client.apply(declared())
    wait_status(client, "hpd", "Running")
    client.apply(declared("{name: hot, persistentVolumeClaim: {claimName: hot, hotpluggable: true}}"))

    def status():
        vmi = client.get_json("vmi", NS, "hpd")
        return next((v for v in vmi["status"].get("volumeStatus", []) if v["name"] == "hot"), None)
    wait_until(lambda: (status() or {}).get("phase") == "Ready", timeout=60, what=f"the volume (is {status()})")
    xml = virsh("dumpxml", f"{NS}_hpd")
    assert f"<target dev='{status()['target']}' bus='scsi'/>" in xml and "<serial>DECL1</serial>" in xml, xml
    client.apply(declared())
    wait_until(lambda: status() is None, timeout=60, what="the volume to be detached")
    assert "ua-hot" not in virsh("dumpxml", f"{NS}_hpd")


def test_cdrom_inject_and_eject(client):
    """KubeVirt's inject/eject: an empty cdrom (a disk without a volume);
    a hotpluggable volume of its name applied to the template inserts the
    claim as its medium, taking the volume out ejects it; the drive
    stays."""
    setup_ns(client)
    client.apply(CLAIM)
    empty = vm_doc("cd").replace("disks: [{name: scratch, disk: {}}]",
                                 "disks: [{name: scratch, disk: {}}, {name: tray, cdrom: {bus: sata}}]")
    client.apply(empty)
    wait_status(client, "cd", "Running")
    xml = virsh("dumpxml", f"{NS}_cd")
    assert "<alias name='ua-tray'/>" in xml and "/hot" not in xml.split("ua-tray")[0].rsplit("<disk", 1)[1]
    client.apply(empty.replace("volumes: [{name: scratch, emptyDisk: {capacity: 16Mi}}]",
                               "volumes: [{name: scratch, emptyDisk: {capacity: 16Mi}}, "
                               "{name: tray, persistentVolumeClaim: {claimName: hot, hotpluggable: true}}]"))

    def status():
        vmi = client.get_json("vmi", NS, "cd")
        return next((v for v in vmi["status"].get("volumeStatus", []) if v["name"] == "tray"), None)

    def tray_disk():
        return virsh("dumpxml", f"{NS}_cd").split("<alias name='ua-tray'/>")[0].rsplit("<disk", 1)[1]
    wait_until(lambda: (status() or {}).get("phase") == "Ready", timeout=60, what=f"the medium (is {status()})")
    assert "<source file=" in tray_disk() and "device='cdrom'" in tray_disk(), tray_disk()
    client.apply(empty)
    wait_until(lambda: status() is None, timeout=60, what="the eject")
    assert "<source file=" not in tray_disk(), tray_disk()
    disks = client.get_json("vmi", NS, "cd")["spec"]["domain"]["devices"]["disks"]
    assert any(d["name"] == "tray" for d in disks)
