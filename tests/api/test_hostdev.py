# SPDX-License-Identifier: LGPL-2.1-or-later
"""Host devices (docs/vms.md "Host devices", docs/configuration.md
[HostDevice NAME]): VMs ask for permitted devices by name in
devices.hostDevices / devices.gpus; unknown names are refused with the
permitted ones; one running VM holds a device, a second waits
(HostDeviceInUse) until the first lets go; PCI devices and pinned USB
devices are found in sysfs (a fake tree here, $EDGEVIRT_SYSFS).  libvirt's
test driver takes the domain; real passthrough cannot be tested on this
host (tests/system/test_hostdev.py shows a real libvirt's refusal of an
absent USB device reaching the VM)."""
import os

import pytest

from conftest import Client, Daemon, expect_error, wait_until
from test_persistence import run_daemon
from test_policy import AS_NOBODY, run_client
from test_polkit import polkit_bus  # noqa: F401 (a fixture)
from test_vm import vm_status, vm_yaml

CONFIG = """
[HostDevice kubevirt.io/usb-storage]
Type=usb
Vendor=0x46f4
Product=0x0001

[HostDevice example.com/token]
Type=usb
Vendor=0x1234
Product=0x5678
Bus=1
Port=2

[HostDevice nvidia.com/T4]
Type=pci
Vendor=0x10de
Device=0x1eb8

[HostDevice example.com/twin]
Type=pci
Vendor=0x1af4
Device=0x1000

[HostDevice example.com/stick]
Type=usb
Vendor=0x0781
Product=0x5567

[HostDevice example.com/absent]
Type=pci
Vendor=0xdead
Device=0xbeef
"""


def fake_sysfs(root):
    def attrs(d, **kv):
        os.makedirs(d, exist_ok=True)
        for k, v in kv.items():
            with open(os.path.join(d, k), "w") as f:
                f.write(v + "\n")
    attrs(os.path.join(root, "bus/pci/devices/0000:00:1f.2"), vendor="0x8086", device="0x2922")
    attrs(os.path.join(root, "bus/pci/devices/0000:3b:00.0"), vendor="0x10de", device="0x1eb8")
    attrs(os.path.join(root, "bus/pci/devices/0000:05:00.0"), vendor="0x1af4", device="0x1000")
    attrs(os.path.join(root, "bus/pci/devices/0000:06:00.0"), vendor="0x1af4", device="0x1000")
    attrs(os.path.join(root, "bus/usb/devices/2-1"), idVendor="0781", idProduct="5567", devnum="3")
    attrs(os.path.join(root, "bus/usb/devices/2-3"), idVendor="0781", idProduct="5567", devnum="5")
    attrs(os.path.join(root, "bus/usb/devices/1-2"), idVendor="1234", idProduct="5678", devnum="7")


@pytest.fixture
def client(bus, state_dir, tmp_path):
    sysfs = str(tmp_path / "sys")
    fake_sysfs(sysfs)
    d = Daemon(bus, state_dir, env=dict(os.environ, EDGEVIRT_SYSFS=sysfs))
    with open(d.config, "w") as f:
        f.write(CONFIG)
    d.start()
    yield Client(bus.conn)
    d.stop()


def hostdev_vm(name, device, kind="hostDevices"):
    return vm_yaml(name).replace("devices:", f"devices:\n          {kind}: [{{name: d, deviceName: {device}}}]")


def synchronized(client, name):
    vmi = client.get_json("vmi", "default", name)
    return next((c for c in vmi.get("status", {}).get("conditions", []) if c["type"] == "Synchronized"), {})


def test_unknown_names_are_refused_with_the_permitted_ones(client):
    msg = expect_error("Invalid", client.apply, hostdev_vm("x", "kubevirt.io/storage"))
    assert ("spec.template.spec.domain.devices.hostDevices[0].deviceName: Unsupported value: \"kubevirt.io/storage\"" in msg
            and "permitted: kubevirt.io/usb-storage, example.com/token, nvidia.com/T4, example.com/twin,"
            " example.com/stick, example.com/absent" in msg), msg
    msg = expect_error("Invalid", client.apply, hostdev_vm("x", "nvidia.com/A100", kind="gpus"))
    assert "devices.gpus[0].deviceName" in msg, msg
    doc = vm_yaml("x").replace("devices:", "devices:\n          gpus: [{name: g, deviceName: nvidia.com/T4, "
                               "virtualGPUOptions: {display: {enabled: true}}}]")
    assert "virtualGPUOptions" in expect_error("NotSupported", client.apply, doc)
    doc = vm_yaml("x").replace("devices:", "devices:\n          hostDevices: [{name: a, deviceName: nvidia.com/T4}, "
                               "{name: b, deviceName: nvidia.com/T4}]")
    assert "Duplicate value" in expect_error("Invalid", client.apply, doc)


def test_a_device_in_use_makes_the_second_vm_wait(client):
    client.apply(hostdev_vm("first", "kubevirt.io/usb-storage"))
    wait_until(lambda: vm_status(client, "first") == "Running", timeout=30, what="the first VM to run")
    client.apply(hostdev_vm("second", "kubevirt.io/usb-storage"))
    wait_until(lambda: synchronized(client, "second").get("reason") == "HostDeviceInUse", timeout=30,
               what="the second VM to wait for the device")
    cond = synchronized(client, "second")
    assert "host device kubevirt.io/usb-storage is in use by the running VM default/first" in cond["message"], cond
    assert client.get_json("vmi", "default", "second")["status"]["phase"] == "Pending"
    # another namespace is not told which VM holds it
    client.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: other}\n")
    client.apply(hostdev_vm("third", "kubevirt.io/usb-storage").replace("{name: third}",
                                                                          "{name: third, namespace: other}"))
    third = lambda: next((c for c in client.get_json("vmi", "other", "third").get("status", {}).get("conditions", [])
                          if c["type"] == "Synchronized"), {}) if client.exists("vmi", "other", "third") else {}
    wait_until(lambda: third().get("reason") == "HostDeviceInUse", timeout=30, what="the VM in other to wait")
    msg = third()["message"]
    assert msg == "host device kubevirt.io/usb-storage is in use by another VM; waiting for it", msg
    client.delete("vm", "other", "third")
    # another device is free meanwhile
    client.apply(hostdev_vm("gpu", "nvidia.com/T4", kind="gpus"))
    wait_until(lambda: vm_status(client, "gpu") == "Running", timeout=30, what="the GPU VM to run")
    # the first lets go: the second starts
    client.delete("vm", "default", "first")
    wait_until(lambda: vm_status(client, "second") == "Running", timeout=30, what="the second VM to run")


@pytest.mark.parametrize("name,want", [
    ("twin", "host device example.com/twin: 2 PCI devices 1af4:1000 on this host (0000:05:00.0, 0000:06:00.0); "
             "choose one with Address="),
    ("stick", "host device example.com/stick: 2 USB devices 0781:5567 on this host (2-1, 2-3); "
              "choose one with Bus= and Port="),
])
def test_two_alike_devices_without_a_pin_are_refused(client, name, want):
    client.apply(hostdev_vm(name, "example.com/" + name))
    wait_until(lambda: vm_status(client, name) == "CrashLoopBackOff", timeout=30, what="the start to fail")
    cond = next(c for c in client.get_json("vm", "default", name)["status"]["conditions"] if c["type"] == "Failure")
    assert cond["message"] == want, cond


def test_devices_the_host_lacks_fail_the_start(client):
    client.apply(hostdev_vm("absent", "example.com/absent"))
    wait_until(lambda: vm_status(client, "absent") == "CrashLoopBackOff", timeout=30, what="the start to fail")
    cond = next(c for c in client.get_json("vm", "default", "absent")["status"]["conditions"] if c["type"] == "Failure")
    assert cond["message"] == "host device example.com/absent: no PCI device dead:beef on this host", cond
    # a pinned USB device found at its bus and port runs
    client.apply(hostdev_vm("token", "example.com/token"))
    wait_until(lambda: vm_status(client, "token") == "Running", timeout=30, what="the pinned USB device's VM")


@pytest.mark.parametrize("text,fragment", [
    ("[HostDevice x]\nType=serial\n", "[HostDevice x] needs Type=usb or Type=pci"),
    ("[HostDevice x]\nType=usb\nVendor=46f4\nProduct=0x0001\n", "[HostDevice x] Vendor=46f4 is not a 16-bit id"),
    ("[HostDevice x]\nType=usb\nVendor=0x46f4\n", "[HostDevice x] needs Product=0xHHHH"),
    ("[HostDevice x]\nType=pci\nVendor=0x46f4\nProduct=0x0001\n", "[HostDevice x] has no setting Product for Type=pci"),
    ("[HostDevice x]\nType=usb\nVendor=0x46f4\nProduct=0x0001\nBus=1\n", "pins a device with both Bus= and Port="),
    ("[HostDevice x]\nType=pci\nVendor=0x10de\nDevice=0x1eb8\nAddress=3b:00.0\n", "Address=3b:00.0 is not a PCI address"),
    ("[HostDevice a b]\nType=pci\nVendor=0x10de\nDevice=0x1eb8\n", "a host device's name is letters"),
    ("[HostDevice a]\nType=pci\nVendor=0x10de\nDevice=0x1eb8\nAddress=0000:3b:00.0\n"
     "[HostDevice b]\nType=pci\nVendor=0x10de\nDevice=0x1eb8\n",
     "[HostDevice b] and [HostDevice a] may be one device (10de:1eb8): give each its own Address="),
    ("[HostDevice a]\nType=usb\nVendor=0x1234\nProduct=0x5678\nBus=1\nPort=2\n"
     "[HostDevice b]\nType=usb\nVendor=0x1234\nProduct=0x5678\nBus=1\nPort=2\n",
     "[HostDevice b] and [HostDevice a] may be one device (1234:5678): give each its own Bus= and Port="),
])
def test_config_errors(tmp_path, text, fragment):
    conf = tmp_path / "edgevirtd.conf"
    conf.write_text(text)
    r = run_daemon("--bus=session", "--config=" + str(conf), "--state-dir=" + str(tmp_path / "s"))
    assert r.returncode != 0 and fragment in r.stderr, (text, r.stderr)


# Run as nobody in the namespace "open", where test_polkit.py's rule lets
# nobody apply; its vm.hostdevice rule allows device names starting "open".
POLKIT_CALLS = r"""
vm_doc = lambda n, dev: (f"apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata: {{name: {n}, namespace: open}}\n"
                         f"spec:\n  runStrategy: Halted\n  template:\n    spec:\n      domain:\n"
                         f"        memory: {{guest: 64Mi}}\n        devices:\n"
                         f"          hostDevices: [{{name: d, deviceName: {dev}}}]\n")
pool_doc = lambda n, dev: (f"apiVersion: pool.kubevirt.io/v1alpha1\nkind: VirtualMachinePool\n"
                           f"metadata: {{name: {n}, namespace: open}}\nspec:\n  replicas: 1\n"
                           f"  selector: {{matchLabels: {{app: p}}}}\n  virtualMachineTemplate:\n"
                           f"    metadata: {{labels: {{app: p}}}}\n    spec:\n      runStrategy: Halted\n"
                           f"      template:\n        metadata: {{labels: {{app: p}}}}\n        spec:\n"
                           f"          domain:\n            memory: {{guest: 64Mi}}\n            devices:\n"
                           f"              hostDevices: [{{name: d, deviceName: {dev}}}]\n")
calls = {
    "allowed": lambda: m.Apply(vm_doc("mine", "open/usb"), {}),
    "denied": lambda: m.Apply(vm_doc("theirs", "example.com/usb"), {}),
    "pool": lambda: m.Apply(pool_doc("pool", "example.com/usb"), {}),
    "plain": lambda: m.Apply(cm("open", "made"), {}),
}
"""


def test_only_admins_give_host_devices(polkit_bus, tmp_path):
    """vm.hostdevice: asked when a VM that asks for a host device is
    applied, on top of object.apply; no role grants it."""
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=polkit_bus.address)
    d = Daemon(polkit_bus, str(tmp_path / "state"), env=env)
    with open(d.config, "w") as f:
        f.write("[HostDevice open/usb]\nType=usb\nVendor=0x46f4\nProduct=0x0001\n"
                "[HostDevice example.com/usb]\nType=usb\nVendor=0x1234\nProduct=0x5678\n")
    d.start()
    try:
        root = Client(polkit_bus.conn)
        root.manager.CreateNamespace("open", {})
        got = run_client(POLKIT_CALLS, polkit_bus.address, AS_NOBODY, timeout=60)
        assert got["allowed"] == "ok" and root.exists("vm", "open", "mine"), got
        assert got["denied"] == ("org.edgevirt.EdgeVirt1.Error.AccessDenied: spec.template.spec.domain.devices."
                                 "hostDevices[0].deviceName: not authorized: org.edgevirt.EdgeVirt1.vm.hostdevice "
                                 "in namespace open (HostDevice example.com/usb)"), got
        assert not root.exists("vm", "open", "theirs")
        # a pool's VMs are made by its controller: the pool itself is checked
        assert got["pool"] == ("org.edgevirt.EdgeVirt1.Error.AccessDenied: spec.virtualMachineTemplate.spec.template."
                               "spec.domain.devices.hostDevices[0].deviceName: not authorized: "
                               "org.edgevirt.EdgeVirt1.vm.hostdevice in namespace open (HostDevice example.com/usb)"), got
        assert not root.exists("vmpool", "open", "pool") and not root.exists("vm", "open", "pool-0")
        assert got["plain"] == "ok"
        # root needs no polkit
        root.apply("apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata: {name: rootvm, namespace: open}\n"
                   "spec:\n  runStrategy: Halted\n  template:\n    spec:\n      domain:\n        memory: {guest: 64Mi}\n"
                   "        devices:\n          hostDevices: [{name: d, deviceName: example.com/usb}]\n")
        assert root.exists("vm", "open", "rootvm")
    finally:
        d.stop()
