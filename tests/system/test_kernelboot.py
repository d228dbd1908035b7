# SPDX-License-Identifier: LGPL-2.1-or-later
"""firmware.kernelBoot on a real libvirtd and QEMU (TCG): the test guest's
kernel and initrd (tests/guest/build-guest.sh, read out of its ext4 with
debugfs) packed into an OCI image as KubeVirt's vmi-kernel-boot example
names them, pushed to docker-registry on loopback; the VM boots that
kernel with the initrd, and the serial console shows the kernel's command
line with the given kernelArgs and the initrd being unpacked."""
import os
import shutil
import subprocess
import tempfile
import uuid

from conftest import WORK, api, servers
from test_ephemeral import Registry
from test_system import read_until, setup_ns, vm, vmi, wait_status

NS = "sys"


def guest_boot_files(guest_image, tmp):
    """The guest's kernel and initrd, as bytes."""
    raw = os.path.join(tmp, "guest.raw")
    subprocess.run(["qemu-img", "convert", "-O", "raw", guest_image, raw], check=True)
    fs = raw + "?offset=1048576"     # the one partition starts at 1 MiB
    names = subprocess.run(["debugfs", "-R", "ls -p /boot", fs], capture_output=True, text=True, check=True).stdout
    files = [line.split("/")[5] for line in names.splitlines() if line.count("/") >= 6]
    out = {}
    for prefix in ("vmlinuz-", "initrd.img-"):
        [name] = [f for f in files if f.startswith(prefix)]
        dest = os.path.join(tmp, prefix.rstrip("-"))
        subprocess.run(["debugfs", "-R", f"dump /boot/{name} {dest}", fs], capture_output=True, check=True)
        out[prefix] = open(dest, "rb").read()
    os.unlink(raw)
    return out["vmlinuz-"], out["initrd.img-"]


def kernel_vm(image, args):
    return f"""
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {{name: kb, namespace: {NS}}}
spec:
  runStrategy: Always
  template:
    spec:
      startStrategy: Paused
      terminationGracePeriodSeconds: 0
      domain:
        memory: {{guest: 512Mi}}
        devices: {{}}
        firmware:
          kernelBoot:
            kernelArgs: "{args}"
            container:
              image: {image}
              kernelPath: /boot/vmlinuz-virt
              initrdPath: /boot/initramfs-virt
              imagePullPolicy: IfNotPresent
"""


def test_kernel_boot_from_an_image(client, guest_image, state_dir):
    tmp = tempfile.mkdtemp(prefix="kb-", dir=WORK)
    reg = Registry(tmp)
    try:
        kernel, initrd = guest_boot_files(guest_image, tmp)
        oci = os.path.join(tmp, "oci")
        servers.layout(oci, "v1", [servers.image(oci, [{"boot/vmlinuz-virt": kernel, "boot/initramfs-virt": initrd}])])
        subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci:{oci}:v1",
                        f"docker://{reg.host}/edgevirt/kernel:v1"], check=True, capture_output=True)
        setup_ns(client)
        marker = "edgevirt.test=" + uuid.uuid4().hex[:12]
        args = f"console=ttyS0 {marker} panic=-1"
        client.apply(kernel_vm(f"{reg.host}/edgevirt/kernel:v1", args))
        wait_status(client, "kb", "Paused", timeout=300)
        fd = vmi(client, "kb").OpenConsole({})
        vm(client, "kb").Unpause({})
        out = read_until(fd, "Freeing initrd memory", timeout=240)
        assert "Linux version" in out and f"Command line: {args}" in out, out[-3000:]
        assert "Freeing initrd memory" in out, out[-3000:]
        vm(client, "kb").Stop({})
        api.wait_until(lambda: not client.exists("vmi", NS, "kb"), timeout=60, what="the instance to go")
    finally:
        reg.stop()
        shutil.rmtree(tmp, ignore_errors=True)
