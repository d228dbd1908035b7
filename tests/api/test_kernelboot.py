# SPDX-License-Identifier: LGPL-2.1-or-later
"""firmware.kernelBoot (docs/vms.md): the kernel and initrd named by
kernelPath/initrdPath come out of a registry image through the image
cache, into STATE/images/boot/HEX/, and the VM starts with them; what
KubeVirt's webhook refuses is refused.  Booting such a kernel on a real
QEMU is tests/system/test_kernelboot.py."""
import hashlib
import os
import stat
import uuid

import dbus
import pytest

from conftest import expect_error, wait_until
from test_registry import Registry, image, layout
from test_vm import vm_status, vm_yaml


@pytest.fixture
def registry(tmp_path):
    r = Registry(str(tmp_path))
    yield r
    r.stop()


def kernel_vm(name, ref, kernel="/boot/vmlinuz", initrd="/boot/initrd.img", args="console=ttyS0", extra=""):
    paths = ", ".join(f"{k}: '{v}'" for k, v in (("kernelPath", kernel), ("initrdPath", initrd)) if v)
    return vm_yaml(name).replace(
        "        devices:",
        f"        firmware: {{kernelBoot: {{kernelArgs: '{args}', container: {{image: '{ref}', {paths}{extra}}}}}}}\n"
        "        devices:")


def boot_image(tmp, layers):
    d = os.path.join(tmp, "oci-" + uuid.uuid4().hex[:8])
    layout(d, "v1", [image(d, [{"etc/stamp": uuid.uuid4().hex.encode()}] + layers)])
    return d


def cached(state_dir, path):
    """The cached copy of path (of whichever image has it)."""
    name = hashlib.sha256(path.lstrip("/").encode()).hexdigest()[:32]
    boot = os.path.join(state_dir, "images", "boot")
    found = [os.path.join(boot, d, name) for d in os.listdir(boot) if os.path.exists(os.path.join(boot, d, name))]
    assert len(found) == 1, found
    return found[0]


def test_kernel_and_initrd_come_from_the_image(client, registry, tmp_path, state_dir):
    # the upper layer's kernel replaces the lower one's
    layers = [{"boot/vmlinuz": b"old kernel", "boot/initrd.img": b"the initrd" * 100},
              {"boot/vmlinuz": b"new kernel" * 1000}]
    registry.push(boot_image(str(tmp_path), layers), "kubevirt/kb:v1")
    client.apply(kernel_vm("kb", f"{registry.host}/kubevirt/kb:v1"))
    wait_until(lambda: vm_status(client, "kb") == "Running", timeout=60, what="the kernel-boot VM to run")
    kernel, initrd = cached(state_dir, "/boot/vmlinuz"), cached(state_dir, "/boot/initrd.img")
    assert open(kernel, "rb").read() == b"new kernel" * 1000
    assert open(initrd, "rb").read() == b"the initrd" * 100
    # QEMU reads them as its own user, by name: no other user lists them
    assert stat.S_IMODE(os.stat(kernel).st_mode) == 0o644
    assert stat.S_IMODE(os.stat(os.path.dirname(kernel)).st_mode) == 0o711
    assert stat.S_IMODE(os.stat(os.path.dirname(os.path.dirname(kernel))).st_mode) == 0o711
    # the pull's events, as for a containerDisk
    wait_until(lambda: {"Pulling", "Pulled"} <= {e["reason"] for e in client.list("event", "default")["items"]
                                                 if e["involvedObject"]["name"] == "kb"}, what="the pull's events")
    # a second VM of the same image and paths takes the cached files (no pull: the registry is gone)
    registry.stop()
    client.apply(kernel_vm("kb2", f"{registry.host}/kubevirt/kb:v1", extra=", imagePullPolicy: IfNotPresent"))
    wait_until(lambda: vm_status(client, "kb2") == "Running", timeout=30, what="the second VM to run")


def status_message(client, name):
    vmi = client.get_json("vmi", "default", name)
    return next((c["message"] for c in vmi.get("status", {}).get("conditions", []) if c["type"] == "Synchronized"), "")


@pytest.mark.parametrize("files,kernel,initrd,fragment", [
    ([{"boot/vmlinuz": b"k"}], "/boot/nothere", None, "the image docker://"),
    ([{"boot/vmlinuz": b"k", "boot/initrd.img": b"i"}, {"boot/.wh.initrd.img": b""}], "/boot/vmlinuz",
     "/boot/initrd.img", "no file /boot/initrd.img (a layer removes it)"),
])
def test_missing_files_are_named(client, registry, tmp_path, files, kernel, initrd, fragment):
    registry.push(boot_image(str(tmp_path), files), "kubevirt/bad:v1")
    client.apply(kernel_vm("bad", f"{registry.host}/kubevirt/bad:v1", kernel=kernel, initrd=initrd))
    wait_until(lambda: vm_status(client, "bad") == "ErrImagePull", timeout=60, what="ErrImagePull")
    msg = status_message(client, "bad")
    assert msg.startswith("kernel boot: ") and fragment in msg and (kernel in msg or initrd in msg), msg


def test_never_pull_without_the_files(client, registry, tmp_path):
    registry.push(boot_image(str(tmp_path), [{"boot/vmlinuz": b"k"}]), "kubevirt/nev:v1")
    client.apply(kernel_vm("nev", f"{registry.host}/kubevirt/nev:v1", initrd=None, extra=", imagePullPolicy: Never"))
    wait_until(lambda: vm_status(client, "nev") == "ErrImageNeverPull", timeout=30, what="ErrImageNeverPull")


@pytest.mark.parametrize("kernel_boot,fragment", [
    ("{kernelArgs: console=ttyS0}",
     "firmware.kernelBoot.kernelArgs: Invalid value: kernel arguments cannot be provided without an external kernel"),
    ("{container: {image: quay.io/x/k:1}}", "firmware.kernelBoot.container: Required value: give at least one of "
     "kernelPath, initrdPath"),
    ("{container: {image: quay.io/x/k:1, kernelPath: boot/vmlinuz}}",
     "firmware.kernelBoot.container.kernelPath: Invalid value: \"boot/vmlinuz\": must be an absolute path"),
    ("{container: {image: quay.io/x/k:1, initrdPath: /boot/../initrd}}", "container.initrdPath: Invalid value"),
    ("{container: {kernelPath: /boot/vmlinuz}}", "firmware.kernelBoot.container.image: Required value"),
])
def test_admission(client, kernel_boot, fragment):
    doc = vm_yaml("x").replace("        devices:", f"        firmware: {{kernelBoot: {kernel_boot}}}\n        devices:")
    msg = expect_error("Invalid", client.apply, doc)
    assert fragment in msg, msg


def test_rmi_takes_the_boot_files_of_its_image(client, registry, tmp_path, state_dir):
    registry.push(boot_image(str(tmp_path), [{"boot/vmlinuz": b"k", "disk/disk.img": b"\0" * (1 << 20)}]),
                  "kubevirt/both:v1")
    ref = f"{registry.host}/kubevirt/both:v1"
    client.apply(kernel_vm("both", ref, initrd=None))
    wait_until(lambda: vm_status(client, "both") == "Running", timeout=60, what="the kernel-boot VM to run")
    kernel = cached(state_dir, "/boot/vmlinuz")
    client.manager.PullImage(ref, dbus.Dictionary({}, signature="sv"))
    client.manager.RemoveImage(ref)
    wait_until(lambda: not os.path.exists(os.path.dirname(kernel)), timeout=10, what="boot/HEX to go")
