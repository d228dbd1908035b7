# SPDX-License-Identifier: LGPL-2.1-or-later
"""Issue 21 on a real libvirtd and QEMU (TCG): a VM with
firmware.bootloader.efi {secureBoot (KubeVirt's default), persistent} runs
Debian's secure-boot OVMF with SMM, from a variable store of its own made
from the template with Microsoft's keys.  No operating system: the
firmware's own writes show what is kept.  OVMF counts boots in its "MTC"
variable (the monotonic counter's high word, incremented and written back
at each boot): one more than the template after the first boot, two more
after a stop and a start, which a store copied again from the template
would not be.  Secure Boot is on: a platform key is enrolled (user mode),
SecureBootEnable is 1, the loader is the secure one with SMM.  The vTPM:
its persistent state kept by libvirt across a stop and removed with the VM.
And a real operating system (tests/guest/build-efi-guest.sh): Debian booted
through shim, GRUB and its kernel, all signed, with Secure Boot on, counting
its boots in EFI variables of its own, whose count goes on after a stop and
a start."""
import os
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import uuid

import pytest

from conftest import TOP, WORK, servers, virsh
from test_system import NS, setup_ns, vm, vmi, wait_status, wait_until

TEMPLATE = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"
EFI_GLOBAL = "8be4df61-93ca-11d2-aa0d-00e098032b8c"
SWTPM = "/var/lib/libvirt/swtpm"     # libvirt's swtpm_storage_dir on qemu:///system


def variables(path):
    """The live variables of an OVMF authenticated variable store: {(name, vendor guid): data}."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[0x28:0x2c] == b"_FVH", f"{path}: not a firmware volume"
    off = struct.unpack_from("<H", data, 0x30)[0] + 28     # after the variable store's header
    found = {}
    while off + 60 <= len(data):
        start, state = struct.unpack_from("<HB", data, off)
        if start != 0x55AA:
            break
        name_size, data_size = struct.unpack_from("<II", data, off + 36)
        guid = str(uuid.UUID(bytes_le=data[off + 44:off + 60]))
        name = data[off + 60:off + 60 + name_size].decode("utf-16-le").rstrip("\0")
        value = data[off + 60 + name_size:off + 60 + name_size + data_size]
        if state in (0x3F, 0x3E):       # added (and not deleted)
            found[(name, guid)] = value
        off = (off + 60 + name_size + data_size + 3) & ~3
    return found


def vm_doc(name, bootloader, memory="64Mi", devices="autoattachGraphicsDevice: false"):
    """A VM without disks or network: its firmware is all it runs."""
    return f"""
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {{name: {name}, namespace: {NS}}}
spec:
  runStrategy: Always
  template:
    spec:
      terminationGracePeriodSeconds: 0
      domain:
        memory: {{guest: {memory}}}
        firmware: {{bootloader: {bootloader}}}
        devices: {{autoattachPodInterface: false, {devices}}}
"""


def mtc(path):
    """OVMF's boot count in the store; -1 while QEMU is writing it (caught between two writes)."""
    try:
        return struct.unpack("<I", next(v for (n, _), v in variables(path).items() if n == "MTC"))[0]
    except (struct.error, StopIteration, UnicodeDecodeError, AssertionError):
        return -1


def test_secure_boot_store_survives_a_restart(client, state_dir):
    setup_ns(client)
    client.apply(vm_doc("efi", "{efi: {persistent: true}}", memory="256Mi"))
    wait_status(client, "efi", "Running")
    uid = client.get_json("vm", NS, "efi")["metadata"]["uid"]
    store = os.path.join(state_dir, "instances", uid, "nvram.fd")
    xml = virsh("dumpxml", f"{NS}_efi")
    assert "<loader readonly='yes' secure='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.secboot.fd" in xml, xml
    assert f"<nvram template='{TEMPLATE}'>{store}</nvram>" in xml, xml
    assert "<smm state='on'/>" in xml, xml

    base = mtc(TEMPLATE)
    wait_until(lambda: mtc(store) == base + 1, timeout=180, what="OVMF to count its first boot in the VM's store")
    v = variables(store)
    assert v[("SecureBootEnable", "f0a30bc7-af08-4556-99c4-001009c93a44")] == b"\x01"
    assert len(v[("PK", EFI_GLOBAL)]) > 100, "no platform key: Secure Boot would be in setup mode"
    assert b"Microsoft" in v[("db", "d719b2cb-3d3a-4596-a3bc-dad00e67656f")]

    vm(client, "efi").Stop({})
    wait_status(client, "efi", "Stopped")
    assert mtc(store) == base + 1
    vm(client, "efi").Start({})
    wait_status(client, "efi", "Running")
    wait_until(lambda: mtc(store) == base + 2, timeout=180,
               what="the second boot counted on top of the first (the store was kept, not made again)")

    client.delete("vm", NS, "efi")
    wait_until(lambda: not os.path.exists(os.path.dirname(store)), timeout=60, what="the store to go with its VM")


def test_persistent_vtpm_state_is_kept_and_goes_with_the_vm(client):
    """swtpm (Debian's swtpm, swtpm-tools) behind libvirt: the state of
    tpm {persistent: true} (tpm-crb, persistent_state) outlives a stop and
    is the same TPM at the next start; tpm {} loses it at the stop."""
    setup_ns(client)
    bios = "{bios: {useSerial: true}}"
    client.apply(vm_doc("ptpm", bios, devices="tpm: {persistent: true}, autoattachGraphicsDevice: false") + "---" +
                 vm_doc("etpm", bios, devices="tpm: {}, autoattachGraphicsDevice: false"))
    wait_status(client, "ptpm", "Running")
    wait_status(client, "etpm", "Running")
    xml = virsh("dumpxml", f"{NS}_ptpm")
    assert "<tpm model='tpm-crb'>" in xml and "persistent_state='yes'" in xml, xml
    assert "<tpm model='tpm-tis'>" in virsh("dumpxml", f"{NS}_etpm")
    kept = os.path.join(SWTPM, client.get_json("vm", NS, "ptpm")["metadata"]["uid"])
    lost = os.path.join(SWTPM, client.get_json("vm", NS, "etpm")["metadata"]["uid"])
    state = os.path.join(kept, "tpm2", "tpm2-00.permall")
    wait_until(lambda: os.path.exists(state), timeout=30, what="swtpm to write the TPM's state")
    assert os.path.exists(lost)
    with open(state, "rb") as f:
        before = f.read()

    for name in ("ptpm", "etpm"):
        vm(client, name).Stop({})
    wait_status(client, "ptpm", "Stopped")
    wait_status(client, "etpm", "Stopped")
    assert os.path.exists(state), "the persistent vTPM's state went at the stop"
    wait_until(lambda: not os.path.exists(lost), timeout=30, what="libvirt to drop the ephemeral vTPM's state")
    # not the same bytes: swtpm rewrites its counters and clock in this file
    # at the stop (a CI run saw byte 949 change); the file staying is the point
    assert os.path.getsize(state) == len(before) > 0
    vm(client, "ptpm").Start({})
    wait_status(client, "ptpm", "Running")
    assert os.path.exists(state)

    client.delete("vm", NS, "ptpm")
    client.delete("vm", NS, "etpm")
    wait_until(lambda: not os.path.exists(kept), timeout=60, what="the vTPM's state to go with its VM")


def permall(root, uid):
    path = os.path.join(root, uid, "tpm2", "tpm2-00.permall")
    with open(path, "rb") as f:
        st = os.stat(path)
        return f.read(), (st.st_uid, st.st_gid, st.st_mode & 0o7777)


def test_vtpm_state_goes_into_snapshots_restores_and_clones(client):
    """A VirtualMachineSnapshot of a stopped VM with tpm {persistent: true}
    copies swtpm's state as libvirt keeps it (owner libvirt's swtpm user,
    modes kept); a restore writes those bytes back over a changed state
    and the VM starts on them; a clone gets identical bytes under its own
    UUID, and its own copy goes with it."""
    setup_ns(client)
    client.apply(vm_doc("stpm", "{bios: {useSerial: true}}",
                        devices="tpm: {persistent: true}, autoattachGraphicsDevice: false"))
    wait_status(client, "stpm", "Running")
    uid = client.get_json("vm", NS, "stpm")["metadata"]["uid"]
    state = os.path.join(SWTPM, uid, "tpm2", "tpm2-00.permall")
    wait_until(lambda: os.path.exists(state), timeout=30, what="swtpm to write the TPM's state")
    vm(client, "stpm").Stop({})
    wait_status(client, "stpm", "Stopped")
    before = permall(SWTPM, uid)
    assert before[1][0] != 0, "libvirt runs swtpm as a user of its own here"

    def phase(kind, name, key):
        return client.get_json(kind, NS, name).get("status", {}).get(key)

    api = "snapshot.kubevirt.io/v1beta1"
    target = "{apiGroup: kubevirt.io, kind: VirtualMachine, name: stpm}"
    client.apply(f"apiVersion: {api}\nkind: VirtualMachineSnapshot\nmetadata: {{name: ts, namespace: {NS}}}\n"
                 f"spec:\n  source: {target}\n")
    wait_until(lambda: phase("vmsnapshot", "ts", "phase") in ("Succeeded", "Failed"), timeout=60, what="snapshot")
    assert phase("vmsnapshot", "ts", "phase") == "Succeeded"
    with open(state, "r+b") as f:
        f.write(b"not the TPM's state")
    assert permall(SWTPM, uid)[0] != before[0]

    client.apply(f"apiVersion: {api}\nkind: VirtualMachineRestore\nmetadata: {{name: tr, namespace: {NS}}}\n"
                 f"spec:\n  target: {target}\n  virtualMachineSnapshotName: ts\n")
    wait_until(lambda: phase("vmrestore", "tr", "complete"), timeout=60, what="restore")
    assert permall(SWTPM, uid) == before
    vm(client, "stpm").Start({})
    wait_status(client, "stpm", "Running")      # swtpm takes the restored state
    vm(client, "stpm").Stop({})
    wait_status(client, "stpm", "Stopped")

    client.apply(f"apiVersion: clone.kubevirt.io/v1beta1\nkind: VirtualMachineClone\n"
                 f"metadata: {{name: tc, namespace: {NS}}}\nspec:\n  source: {target}\n"
                 f"  target: {{apiGroup: kubevirt.io, kind: VirtualMachine, name: stpm-2}}\n")
    wait_until(lambda: phase("vmclone", "tc", "phase") in ("Succeeded", "Failed"), timeout=90, what="clone")
    assert phase("vmclone", "tc", "phase") == "Succeeded"
    clone_uid = client.get_json("vm", NS, "stpm-2")["metadata"]["uid"]
    assert clone_uid != uid and permall(SWTPM, clone_uid)[0] == permall(SWTPM, uid)[0]
    assert permall(SWTPM, clone_uid)[1] == before[1]

    client.delete("vm", NS, "stpm-2")
    wait_until(lambda: not os.path.exists(os.path.join(SWTPM, clone_uid)), timeout=60,
               what="the clone's vTPM state to go with it")
    assert os.path.exists(state)
    client.delete("vm", NS, "stpm")
    wait_until(lambda: not os.path.exists(os.path.join(SWTPM, uid)), timeout=60, what="the vTPM's state to go")
@pytest.fixture(scope="module")
def efi_guest_server():
    """The Secure Boot guest (built once, cached), served over http."""
    out = subprocess.run([os.path.join(TOP, "tests", "guest", "build-efi-guest.sh")], capture_output=True, text=True)
    if out.returncode != 0:
        raise AssertionError("cannot build the EFI test guest: " + out.stderr[-2000:])
    tmp = tempfile.mkdtemp(prefix="web-", dir=WORK)
    srv = servers.Lighttpd(out.stdout.strip(), tmp)
    yield srv
    srv.stop()
    shutil.rmtree(tmp, ignore_errors=True)


GUEST_VARS = "5e0c3a4e-8f1d-4b8e-9a51-6564676576a1"    # the guest's own (edgevirt-nvram-count)
# Under TCG with SMM: the whole test (import and two boots) took 128 s in the lane here,
# a boot alone about 2 min on a busy machine; 420 s per boot leaves margin for a slower one.
BOOT_TIMEOUT = 420


def sb_guest_doc(url):
    return f"""
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {{name: sbguest, namespace: {NS}}}
spec:
  runStrategy: Always
  dataVolumeTemplates:
  - metadata: {{name: sbguest-root}}
    spec:
      source: {{http: {{url: "{url}"}}}}
      storage: {{resources: {{requests: {{storage: 2Gi}}}}}}
  template:
    spec:
      startStrategy: Paused
      terminationGracePeriodSeconds: 0
      domain:
        memory: {{guest: 512Mi}}
        firmware: {{bootloader: {{efi: {{secureBoot: true, persistent: true}}}}}}
        devices:
          autoattachPodInterface: false
          autoattachGraphicsDevice: false
          disks: [{{name: root, disk: {{bus: virtio}}}}]
      volumes: [{{name: root, dataVolume: {{name: sbguest-root}}}}]
"""


def boot_log(client, n):
    """The serial console from the first byte until the guest has said it is
    at boot n (the whole line).  The instance starts paused
    (startStrategy: Paused) and is let go once the console is open: a
    pty's output before a reader comes is lost (CI lost the kernel's
    lockdown line that way, the console opened after the VM ran)."""
    start = time.monotonic()
    said = re.compile(rf"edgevirt-nvram: boot {n}, SecureBoot=\d+\r?\n".encode())
    s = socket.socket(fileno=vmi(client, "sbguest").OpenConsole({}).take())
    vm(client, "sbguest").Unpause({})
    s.settimeout(BOOT_TIMEOUT)
    got = b""
    try:
        while not said.search(got) and time.monotonic() < start + BOOT_TIMEOUT:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    finally:
        s.close()
    out = got.decode(errors="replace")
    assert said.search(got), out[-3000:]
    print(f"boot {n}: the guest counted it {time.monotonic() - start:.0f} s after the console opened")
    return out


def check_secure_boot(out):
    assert "Secure boot disabled" not in out, out[-3000:]
    # Linux's own word (arch/x86/kernel/setup.c), from the boot_params shim and the EFI stub filled
    assert re.search(r"secureboot: Secure boot enabled", out), out[-3000:]
    assert "Kernel is locked down from EFI Secure Boot" in out, out[-3000:]
    # SecureBoot read by the guest from efivarfs once up
    assert re.search(r"edgevirt-nvram: boot \d+, SecureBoot=1", out), out[-3000:]


def test_real_guest_boots_with_secure_boot_and_keeps_its_nvram(client, efi_guest_server, state_dir):
    setup_ns(client)
    client.apply(sb_guest_doc(efi_guest_server.url("efi-guest.qcow2")))
    wait_status(client, "sbguest", "Paused", timeout=300)
    store = os.path.join(state_dir, "instances", client.get_json("vm", NS, "sbguest")["metadata"]["uid"], "nvram.fd")
    check_secure_boot(boot_log(client, 1))
    mine = {n for (n, g) in variables(store) if g == GUEST_VARS}
    assert mine == {"EdgevirtBoot1"}, f"the guest's variable is not in the VM's store {store}: {mine}"

    vm(client, "sbguest").Stop({})
    wait_status(client, "sbguest", "Stopped", timeout=120)
    vm(client, "sbguest").Start({})
    wait_status(client, "sbguest", "Paused", timeout=120)
    # the guest found the first boot's variable: the same NVRAM, not a new copy of the template
    check_secure_boot(boot_log(client, 2))
    mine = {n for (n, g) in variables(store) if g == GUEST_VARS}
    assert mine == {"EdgevirtBoot1", "EdgevirtBoot2"}, mine

    client.delete("vm", NS, "sbguest")
    wait_until(lambda: not os.path.exists(os.path.dirname(store)), timeout=120, what="the store to go with its VM")
