# SPDX-License-Identifier: LGPL-2.1-or-later
"""Host devices on a real libvirtd and QEMU (TCG): this host has no spare
USB device, no IOMMU and no vfio, and QEMU cannot emulate the host side of
usb-host or vfio-pci, so a device cannot really be passed through here.
What can be checked: the <hostdev> edgevirt writes for a permitted USB
device is taken by the real libvirt, which refuses to start the domain
because the device is absent, and that refusal reaches the VM as its
Failure condition and a Failed event (not a silent hang)."""
from conftest import SUBNET, api
from test_system import setup_ns, status

NS = "sys"
# QEMU's own emulated USB storage ids: no such device is plugged into this host
CONFIG = f"""[Network]
NatNetwork=edgevirt-test
NatSubnet={SUBNET}.0/24
[HostDevice kubevirt.io/usb-storage]
Type=usb
Vendor=0x46f4
Product=0x0001
"""

VM = f"""
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {{name: usb, namespace: {NS}}}
spec:
  runStrategy: Always
  template:
    spec:
      terminationGracePeriodSeconds: 0
      domain:
        memory: {{guest: 64Mi}}
        devices:
          hostDevices: [{{name: stick, deviceName: kubevirt.io/usb-storage}}]
"""


def test_absent_usb_device_is_refused_by_libvirt(bus, state_dir):
    d = api.Daemon(bus, state_dir, ["--libvirt-uri=qemu:///system"])
    with open(d.config, "w") as f:
        f.write(CONFIG)
    d.start()
    try:
        client = api.Client(bus.conn)
        setup_ns(client)
        client.apply(VM)
        api.wait_until(lambda: status(client, "usb") == "CrashLoopBackOff", timeout=60, what="the start to fail")
        vm = client.get_json("vm", NS, "usb")
        cond = next(c for c in vm["status"]["conditions"] if c["type"] == "Failure")
        # libvirt's own words: "Did not find USB device 46f4:1" on a host with
        # USB, "cannot open directory '/sys/bus/usb/devices'" on one without (this one)
        assert "Did not find USB device 46f4" in cond["message"] or "/sys/bus/usb/devices" in cond["message"], cond
        events = [e["message"] for e in client.list("event", NS)["items"] if e["reason"] == "Failed"]
        assert cond["message"] in events, events
        client.delete("vm", NS, "usb")
    finally:
        d.stop()
