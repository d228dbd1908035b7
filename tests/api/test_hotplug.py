# SPDX-License-Identifier: LGPL-2.1-or-later
"""Disk hotplug (virtctl addvolume/removevolume) on libvirt's test driver:
AddVolume/RemoveVolume on a VM and on its instance, the spec they change,
status.volumeStatus, persist into the VM's template, and the refusals.
A real guest seeing the disk is the system lane's (tests/system)."""
from conftest import expect_error, wait_until
from test_vm import vm_obj, vm_yaml, vmi_obj, wait_status

CLAIM = ("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {{name: {0}}}\n"
         "spec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 16Mi}}}}}}\n")


def running_vm(client, name):
    client.apply(vm_yaml(name))
    wait_status(client, name, "Running")


def volume_status(client, vm, name):
    vmi = client.get_json("vmi", "default", vm)
    return next((v for v in vmi["status"].get("volumeStatus", []) if v["name"] == name), None)


def wait_phase(client, vm, name, phase):
    wait_until(lambda: (volume_status(client, vm, name) or {}).get("phase") == phase,
               what=f"volume {name} to be {phase}")
    return volume_status(client, vm, name)


def test_failed_attach_leaves_spec_as_it_was(client):
    """libvirt's test driver has no device attach: the attach fails, and
    the volume leaves the instance's spec and status again, the claim is
    not held, an Event says why.  (The system lane attaches for real.)"""
    client.apply(CLAIM.format("hp-data"))
    running_vm(client, "hp")
    before = client.get_json("vmi", "default", "hp")["spec"]
    vm_obj(client, "hp").AddVolume("hp-data", {"serial": "DATA1"})

    def failed():
        return [e for e in client.list("event", "default")["items"]
                if e["reason"] == "VolumeAttachFailed" and e["involvedObject"]["name"] == "hp"]
    wait_until(failed, what="the VolumeAttachFailed event")
    assert failed()[0]["type"] == "Warning" and "hp-data" in failed()[0]["message"]
    vmi = client.get_json("vmi", "default", "hp")
    assert vmi["spec"] == before and not vmi["status"].get("volumeStatus")
    assert "hp-data" not in str(client.get_json("vm", "default", "hp")["spec"])
    client.delete("pvc", "default", "hp-data")
    wait_until(lambda: not client.exists("pvc", "default", "hp-data"), what="the claim, not held, to go")


def test_persist_on_stopped_vm(client):
    """persist writes the template (the volume hotpluggable, its disk on
    scsi); a stopped VM takes only that; the next start has the disk."""
    client.apply("apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\nmetadata: {name: hpp-dv}\n"
                 "spec: {source: {blank: {}}, storage: {resources: {requests: {storage: 16Mi}}}}\n")
    client.apply(vm_yaml("hpp", strategy="Halted"))
    wait_until(lambda: client.get_json("dv", "default", "hpp-dv").get("status", {}).get("phase") == "Succeeded",
               what="the DataVolume")
    vm = vm_obj(client, "hpp")
    msg = expect_error("Conflict", vm.AddVolume, "hpp-dv", {})
    assert "not running" in msg and "persist" in msg
    vm.AddVolume("hpp-dv", {"persist": True, "bus": "scsi", "serial": "D-1"})
    tmpl = client.get_json("vm", "default", "hpp")["spec"]["template"]["spec"]
    assert {"name": "hpp-dv", "dataVolume": {"name": "hpp-dv", "hotpluggable": True}} in tmpl["volumes"]
    assert {"name": "hpp-dv", "disk": {"bus": "scsi"}, "serial": "D-1"} in tmpl["domain"]["devices"]["disks"]
    assert "hpp-dv" in expect_error("AlreadyExists", vm.AddVolume, "hpp-dv", {"persist": True})
    vm.Start({})
    wait_status(client, "hpp", "Running")
    assert any(v["name"] == "hpp-dv" for v in client.get_json("vmi", "default", "hpp")["spec"]["volumes"])
    # the template would attach it again: only with persist
    assert "remove it with persist" in expect_error("Conflict", vm.RemoveVolume, "hpp-dv", {})
    vm.Stop({})
    wait_status(client, "hpp", "Stopped")
    assert "not running" in expect_error("Conflict", vm.RemoveVolume, "other", {})
    vm.RemoveVolume("hpp-dv", {"persist": True})
    tmpl = client.get_json("vm", "default", "hpp")["spec"]["template"]["spec"]
    assert all(v["name"] != "hpp-dv" for v in tmpl["volumes"] + tmpl["domain"]["devices"]["disks"])
    assert "no volume" in expect_error("NotFound", vm.RemoveVolume, "hpp-dv", {"persist": True})


def test_refusals(client):
    client.apply(CLAIM.format("hpr-data"))
    running_vm(client, "hpr")
    vm = vm_obj(client, "hpr")
    assert "virtio" in expect_error("NotSupported", vm.AddVolume, "hpr-data", {"bus": "virtio"})
    assert "ide" in expect_error("Invalid", vm.AddVolume, "hpr-data", {"bus": "ide"})
    assert "serial" in expect_error("Invalid", vm.AddVolume, "hpr-data", {"serial": "a b"})
    assert "no DataVolume or PersistentVolumeClaim \"nothing\"" in expect_error("NotFound", vm.AddVolume, "nothing", {})
    assert "Bad_Name" in expect_error("Invalid", vm.AddVolume, "Bad_Name", {})
    msg = expect_error("org.freedesktop.DBus.Error.InvalidArgs", vm.AddVolume, "hpr-data", {"unknown": True})
    assert "unknown" in msg.lower()
    assert "persist" in expect_error("NotSupported", vmi_obj(client, "hpr").AddVolume, "hpr-data",
                                     {"persist": True})
    assert "no volume" in expect_error("NotFound", vm.RemoveVolume, "nothing", {})
    # a claim that is not bound cannot be attached yet; nothing changed
    client.apply("apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\nmetadata: {name: hpr-bad}\n"
                 "spec: {source: {http: {url: 'http://127.0.0.1:9/none.img'}}, "
                 "storage: {resources: {requests: {storage: 16Mi}}}}\n")
    msg = expect_error("Conflict", vm.AddVolume, "hpr-bad", {})
    assert "hpr-bad" in msg
    assert all(v["name"] != "hpr-bad" for v in client.get_json("vmi", "default", "hpr")["spec"]["volumes"])
    vm.Stop({})
    wait_status(client, "hpr", "Stopped")
    assert "not running" in expect_error("Conflict", vm.AddVolume, "hpr-data", {})


def events_of(client, name, reason):
    return [e for e in client.list("event", "default")["items"]
            if e["reason"] == reason and e["involvedObject"]["name"] == name]


def test_declarative_hotplug_is_tried_once(client):
    """A hotpluggable volume applied to a running VM's template is attached
    to its instance at once (here libvirt's test driver refuses: the spec
    stays as it was, and the template is not tried again until it
    changes); taking a hotpluggable volume out of the template detaches
    it."""
    client.apply(CLAIM.format("hpd-data"))
    client.apply(CLAIM.format("hpd-root"))
    root = "{name: root, persistentVolumeClaim: {claimName: hpd-root, hotpluggable: true}}"
    client.apply(vm_yaml("hpd", volumes=root, disks="{name: root, disk: {bus: scsi}}"))
    wait_status(client, "hpd", "Running")
    vmi_before = client.get_json("vmi", "default", "hpd")["spec"]
    client.apply(vm_yaml("hpd", volumes=root + ", {name: extra, persistentVolumeClaim: "
                         "{claimName: hpd-data, hotpluggable: true}}",
                         disks="{name: root, disk: {bus: scsi}}, {name: extra, disk: {bus: scsi}, serial: X1}"))
    wait_until(lambda: events_of(client, "hpd", "VolumeAttachFailed"), what="the template's attach to be tried")
    assert "extra" in events_of(client, "hpd", "VolumeAttachFailed")[0]["message"]
    assert client.get_json("vmi", "default", "hpd")["spec"] == vmi_before
    # not again while the template stays (the VM is reconciled meanwhile)
    vm_obj(client, "hpd").Reset({})
    wait_until(lambda: events_of(client, "hpd", "Reset"), what="the reset")
    assert events_of(client, "hpd", "VolumeAttachFailed")[0]["count"] == 1
    # a disk not on scsi cannot be hotplugged: said on the VM
    client.apply(vm_yaml("hpd", volumes=root + ", {name: extra, persistentVolumeClaim: "
                         "{claimName: hpd-data, hotpluggable: true}}",
                         disks="{name: root, disk: {bus: scsi}}, {name: extra, disk: {bus: virtio}}"))
    wait_until(lambda: [e for e in events_of(client, "hpd", "VolumeAttachFailed")
                        if e["involvedObject"]["kind"] == "VirtualMachine"], what="the refusal on the VM")
    # the template loses a hotpluggable volume of the start: it is detached
    # (the test driver cannot: the failure is said once)
    client.apply(vm_yaml("hpd"))
    wait_until(lambda: events_of(client, "hpd", "VolumeDetachFailed"), what="the detach to be tried")
    assert "root" in events_of(client, "hpd", "VolumeDetachFailed")[0]["message"]
    assert any(v["name"] == "root" for v in client.get_json("vmi", "default", "hpd")["spec"]["volumes"])
    # the status entry the removal wrote is the volume's (its name outlived
    # the document it came from)
    entry = wait_phase(client, "hpd", "root", "Ready")
    assert entry["reason"] == "VolumeDetachFailed" and entry["target"]


def test_cdrom_inject_failure_keeps_the_empty_tray(client):
    """A cdrom without a volume is an empty tray; a hotpluggable volume of
    its name in the template is put in (the test driver cannot: the tray
    stays empty, the spec as it was)."""
    client.apply(CLAIM.format("hpc-iso"))
    client.apply(vm_yaml("hpc", disks="{name: tray, cdrom: {bus: sata}}"))
    wait_status(client, "hpc", "Running")
    before = client.get_json("vmi", "default", "hpc")["spec"]
    client.apply(vm_yaml("hpc", disks="{name: tray, cdrom: {bus: sata}}",
                         volumes="{name: tray, persistentVolumeClaim: {claimName: hpc-iso, hotpluggable: true}}"))
    wait_until(lambda: events_of(client, "hpc", "VolumeAttachFailed"), what="the medium to be tried")
    wait_until(lambda: client.get_json("vmi", "default", "hpc")["spec"] == before
               and not client.get_json("vmi", "default", "hpc")["status"].get("volumeStatus"),
               what="the tray to be empty again")
