# SPDX-License-Identifier: LGPL-2.1-or-later
"""Issue 21: EFI with secure boot and SMM, a variable store (NVRAM) kept per
VM (firmware.bootloader.efi.persistent) and a vTPM (devices.tpm), on
libvirt's test driver: what admission says, where the store is and that it
outlives an instance, that it goes with its VM.  A real firmware writing
its store runs in the system lane (tests/system/test_efi.py)."""
import os
import shutil

import pytest

from conftest import expect_error, wait_until
from test_vm import vm_obj, vmi_uid, wait_status

OVMF = "/usr/share/OVMF"
pytestmark = pytest.mark.skipif(not os.path.exists(f"{OVMF}/OVMF_VARS_4M.ms.fd"), reason="needs Debian's ovmf")


def efi_vm(name, efi="{}", strategy="Always", devices="", features="", namespace="default", uuid=None):
    firmware = f"uuid: {uuid}, " if uuid else ""
    return f"""
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  runStrategy: {strategy}
  template:
    spec:
      terminationGracePeriodSeconds: 0
      domain:
        memory: {{guest: 64Mi}}
        firmware: {{{firmware}bootloader: {{efi: {efi}}}}}
        {features}
        devices: {{{devices}}}
"""


def nvram(state_dir, uid):
    return os.path.join(state_dir, "instances", uid, "nvram.fd")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def test_secure_boot_needs_smm(client):
    msg = expect_error("Invalid", client.apply, efi_vm("nosmm", features="features: {smm: {enabled: false}}"))
    assert "spec.template.spec.domain.features.smm.enabled: Invalid value: false" in msg, msg
    assert "secure boot" in msg, msg
    # without secure boot, SMM may be off
    client.apply(efi_vm("nosmm", efi="{secureBoot: false}", strategy="Halted",
                        features="features: {smm: {enabled: false}}"))


def test_persistent_store_outlives_the_instance_and_goes_with_the_vm(client, state_dir):
    client.apply(efi_vm("win", efi="{persistent: true}"))
    wait_status(client, "win", "Running")
    vm_uid = client.get_json("vm", "default", "win")["metadata"]["uid"]
    store = nvram(state_dir, vm_uid)
    # made from the secure-boot template (Microsoft's keys enrolled)
    assert read(store) == read(f"{OVMF}/OVMF_VARS_4M.ms.fd")
    # what the firmware writes (here: by hand) is there at the next start
    with open(store, "r+b") as f:
        f.seek(0x1000)
        f.write(b"written-by-the-firmware")
    first = vmi_uid(client, "win")
    vm_obj(client, "win").Stop({})
    wait_status(client, "win", "Stopped")
    wait_until(lambda: not os.path.exists(os.path.join(state_dir, "instances", first)),
               what="the stopped instance's own files to go")
    vm_obj(client, "win").Start({})
    wait_status(client, "win", "Running")
    assert vmi_uid(client, "win") != first
    assert b"written-by-the-firmware" in read(store)
    client.delete("vm", "default", "win")
    wait_until(lambda: not os.path.exists(os.path.dirname(store)), what="the VM's store to go with it")


def test_store_without_persistent_is_fresh_at_each_start(client, state_dir):
    client.apply(efi_vm("fresh", efi="{secureBoot: false}"))
    wait_status(client, "fresh", "Running")
    first = vmi_uid(client, "fresh")
    store = nvram(state_dir, first)
    assert read(store) == read(f"{OVMF}/OVMF_VARS_4M.fd")
    with open(store, "r+b") as f:
        f.write(b"gone-at-stop")
    vm_obj(client, "fresh").Restart({})
    wait_until(lambda: client.get_json("vmi", "default", "fresh")["metadata"]["uid"] != first
               and client.get_json("vmi", "default", "fresh").get("status", {}).get("phase") == "Running",
               what="a new instance")
    assert read(nvram(state_dir, vmi_uid(client, "fresh"))) == read(f"{OVMF}/OVMF_VARS_4M.fd")
    wait_until(lambda: not os.path.exists(store), what="the old instance's store to go")
    vm_uid = client.get_json("vm", "default", "fresh")["metadata"]["uid"]
    assert not os.path.exists(nvram(state_dir, vm_uid))


def test_tpm_is_accepted_as_kubevirt_spells_it(client):
    for spec in ("{}", "{persistent: true}", "{enabled: false}"):
        client.apply(efi_vm("tpm", strategy="Halted", devices=f"tpm: {spec}"), dry_run=True)
    msg = expect_error("Invalid", client.apply, efi_vm("tpm", strategy="Halted", devices="tpm: {persistent: 1}"))
    assert "spec.template.spec.domain.devices.tpm.persistent" in msg, msg


def test_tpm_starts_where_swtpm_is_installed(client):
    client.apply("apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\nmetadata: {name: vtpm}\n"
                 "spec: {domain: {memory: {guest: 64Mi}, devices: {tpm: {persistent: true}}}}\n")
    want = "Running" if shutil.which("swtpm") else "Failed"
    wait_until(lambda: client.get_json("vmi", "default", "vtpm").get("status", {}).get("phase") == want,
               what=f"the instance to be {want}")
    if want == "Failed":
        conds = client.get_json("vmi", "default", "vtpm")["status"]["conditions"]
        assert any("spec.domain.devices.tpm: TPM emulation (swtpm) is not installed on this node"
                   in (c.get("message") or "") for c in conds), conds


def test_a_disabled_tpm_needs_no_swtpm(client):
    client.apply(efi_vm("notpm", devices="tpm: {enabled: false}"))
    wait_status(client, "notpm", "Running")


def clone_vm(client, name, source, target):
    """A VirtualMachineClone of source to target, done: the new VM's uid."""
    from test_snapshots import CLONE, status
    client.apply(CLONE.replace("name: x", f"name: {name}").replace("name: box", f"name: {source}") +
                 f"  target: {{apiGroup: kubevirt.io, kind: VirtualMachine, name: {target}}}\n")
    wait_until(lambda: status(client, "vmclone", name).get("phase") in ("Succeeded", "Failed"), timeout=60,
               what="the clone")
    assert status(client, "vmclone", name)["phase"] == "Succeeded"
    return client.get_json("vm", "default", target)["metadata"]["uid"]


def test_snapshot_restore_and_clone_carry_the_store(client, state_dir):
    """A VirtualMachineSnapshot copies the VM's store beside its volumes; a
    restore brings those bytes back, a clone's VM starts from them; the copy
    goes with the snapshot's content."""
    from test_snapshots import ready, restore, restored, snapshot
    client.apply(efi_vm("fw", efi="{persistent: true}"))
    wait_status(client, "fw", "Running")
    vm_uid = client.get_json("vm", "default", "fw")["metadata"]["uid"]
    store = nvram(state_dir, vm_uid)
    with open(store, "r+b") as f:
        f.seek(0x1000)
        f.write(b"before-the-snapshot")
    vm_obj(client, "fw").Stop({})
    wait_status(client, "fw", "Stopped")
    client.apply(snapshot("s1", vm="fw"))
    ready(client, "s1")
    snap_uid = client.get_json("vmsnapshot", "default", "s1")["metadata"]["uid"]
    copy = os.path.join(state_dir, "snapshots", snap_uid, "nvram.fd")
    assert read(copy) == read(store)
    with open(store, "r+b") as f:
        f.seek(0x1000)
        f.write(b"after--the-snapshot")
    client.apply(restore("r1", "s1", vm="fw"))
    restored(client, "r1")
    assert b"before-the-snapshot" in read(store) and b"after--the-snapshot" not in read(store)

    clone_uid = clone_vm(client, "fwc", "fw", "fw-2")
    assert read(nvram(state_dir, clone_uid)) == read(store)

    client.delete("vmsnapshot", "default", "s1")
    wait_until(lambda: not os.path.exists(os.path.dirname(copy)), what="the snapshot's copy to go with its content")


def test_a_preference_adds_a_vtpm_the_vm_can_drop(client):
    client.apply("apiVersion: instancetype.kubevirt.io/v1beta1\nkind: VirtualMachinePreference\n"
                 "metadata: {name: win11}\nspec:\n  devices: {preferredTPM: {persistent: true}}\n"
                 "  firmware: {preferredEfi: {persistent: true}}\n")
    for name, devices in (("with", ""), ("without", "tpm: {enabled: false}")):
        client.apply(efi_vm(name, strategy="Halted", devices=devices).replace(
            "  template:", "  preference: {kind: VirtualMachinePreference, name: win11}\n  template:"))
        vm_obj(client, name).Start({})
        wait_until(lambda: client.exists("vmi", "default", name), what=f"the instance of {name}")
    assert client.get_json("vmi", "default", "with")["spec"]["domain"]["devices"]["tpm"] == {"persistent": True}
    assert client.get_json("vmi", "default", "without")["spec"]["domain"]["devices"]["tpm"] == {"enabled": False}


@pytest.fixture
def swtpm_root(tmp_path):
    return str(tmp_path / "swtpm")


@pytest.fixture
def tpm_client(bus, state_dir, swtpm_root):
    """The test driver has no swtpm state directory: the daemon is told one
    (EDGEVIRT_SWTPM_ROOT, firmware-store.c) where the test writes what swtpm
    would have."""
    from conftest import Client, Daemon
    d = Daemon(bus, state_dir, env=dict(os.environ, EDGEVIRT_SWTPM_ROOT=swtpm_root)).start()
    yield Client(bus.conn), d
    d.stop()


def write_tpm_state(root, uuid, data):
    """A state as libvirt's swtpm user leaves it (here: nobody's, mode 0600)."""
    path = os.path.join(root, uuid, "tpm2", "tpm2-00.permall")
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)
    if os.geteuid() == 0:
        for p in (path, os.path.dirname(path), os.path.dirname(os.path.dirname(path))):
            os.chown(p, 65534, 65534)
    return path


def owner_mode(path):
    st = os.stat(path)
    return st.st_uid, st.st_gid, st.st_mode & 0o7777


@pytest.mark.skipif(not shutil.which("swtpm"), reason="needs swtpm")
def test_snapshot_restore_and_clone_carry_the_vtpm_state(tpm_client, state_dir, swtpm_root):
    """A snapshot of a VM with tpm {persistent: true} copies libvirt's swtpm
    state of the VM's UUID (owners and modes kept); a restore writes those
    bytes back; a clone gets its own copy under its own UUID."""
    from test_snapshots import ready, restore, restored, snapshot
    client, _ = tpm_client
    client.apply(efi_vm("tp", devices="tpm: {persistent: true}"))
    wait_status(client, "tp", "Running")
    vm_uid = client.get_json("vm", "default", "tp")["metadata"]["uid"]
    marker = os.path.join(state_dir, "instances", vm_uid, "swtpm-uuid")
    wait_until(lambda: os.path.exists(marker), what="the VM's vTPM marker")
    assert read(marker) == vm_uid.encode()
    state = write_tpm_state(swtpm_root, vm_uid, b"tpm-before-the-snapshot")
    want = owner_mode(state)
    vm_obj(client, "tp").Stop({})
    wait_status(client, "tp", "Stopped")

    client.apply(snapshot("s1", vm="tp"))
    ready(client, "s1")
    snap_uid = client.get_json("vmsnapshot", "default", "s1")["metadata"]["uid"]
    copy = os.path.join(state_dir, "snapshots", snap_uid, "swtpm", "tpm2", "tpm2-00.permall")
    assert read(copy) == b"tpm-before-the-snapshot" and owner_mode(copy) == want
    with open(state, "wb") as f:
        f.write(b"tpm-after--the-snapshot")
    client.apply(restore("r1", "s1", vm="tp"))
    restored(client, "r1")
    assert read(state) == b"tpm-before-the-snapshot" and owner_mode(state) == want
    client.delete("vmrestore", "default", "r1")     # finalized: its entry of the copy goes with it
    wait_until(lambda: not client.exists("vmrestore", "default", "r1"), what="the restore to go")

    clone_uid = clone_vm(client, "tpc", "tp", "tp-2")
    cloned = os.path.join(swtpm_root, clone_uid, "tpm2", "tpm2-00.permall")
    assert read(cloned) == b"tpm-before-the-snapshot" and owner_mode(cloned) == want
    assert read(os.path.join(state_dir, "instances", clone_uid, "swtpm-uuid")) == clone_uid.encode()

    client.delete("vmsnapshot", "default", "s1")
    wait_until(lambda: not os.path.exists(os.path.dirname(os.path.dirname(copy))),
               what="the snapshot's copy to go with its content")
    client.delete("vm", "default", "tp-2")
    wait_until(lambda: not os.path.exists(os.path.join(swtpm_root, clone_uid)), what="the clone's vTPM state to go")
    assert read(state) == b"tpm-before-the-snapshot"


@pytest.mark.skipif(not shutil.which("swtpm"), reason="needs swtpm")
def test_vtpm_state_of_a_vm_deleted_while_down_goes_at_the_next_start(tpm_client, state_dir, swtpm_root):
    """What the daemon finds at its start: the instance directory of a VM it
    no longer has, with a marker naming its vTPM's state, goes with that
    state; another swtpm state (no marker of ours names it) stays."""
    client, d = tpm_client
    client.apply(efi_vm("kept", devices="tpm: {persistent: true}"))
    wait_status(client, "kept", "Running")
    kept_uid = client.get_json("vm", "default", "kept")["metadata"]["uid"]
    kept = write_tpm_state(swtpm_root, kept_uid, b"a VM that is still there")
    gone_uid, foreign_uid = "0b8a4f9e-6c1d-4d8e-9f3a-2b7c5e1d0a11", "5e0c2a7b-3f4d-4a6e-8b1c-9d2e7f6a3b22"
    gone = write_tpm_state(swtpm_root, gone_uid, b"a VM deleted while the daemon was down")
    foreign = write_tpm_state(swtpm_root, foreign_uid, b"not edgevirt's")
    d.kill()
    os.makedirs(os.path.join(state_dir, "instances", gone_uid))
    with open(os.path.join(state_dir, "instances", gone_uid, "swtpm-uuid"), "w") as f:
        f.write(gone_uid)
    d.start()
    # the state goes first, then the instance directory (firmware_forget_vm)
    wait_until(lambda: not os.path.exists(os.path.join(state_dir, "instances", gone_uid)),
               what="the gone VM's instance directory to go")
    assert not os.path.exists(os.path.join(swtpm_root, gone_uid))
    assert read(foreign) == b"not edgevirt's" and read(kept) == b"a VM that is still there"
    assert not os.path.exists(gone)


WINDOWS_UUID = "5d307ca9-b3ef-428c-8861-06e72d69f223"    # KubeVirt's vmi-windows.yaml fixes this one


@pytest.mark.skipif(not shutil.which("swtpm"), reason="needs swtpm")
def test_a_firmware_uuid_is_one_vms_in_every_namespace(tpm_client, state_dir, swtpm_root):
    """The domain UUID names libvirt's vTPM state: a second VM or VMI with
    the firmware.uuid of another, in any namespace, is refused, and the
    first one's state stays when that VM goes."""
    client, _ = tpm_client
    for ns in ("team-a", "team-b"):
        client.apply(f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n")
    client.apply(efi_vm("win", devices="tpm: {persistent: true}", namespace="team-a", uuid=WINDOWS_UUID))
    wait_until(lambda: client.get_json("vm", "team-a", "win").get("status", {}).get("printableStatus") == "Running",
               what="team-a's VM to run")
    marker = os.path.join(state_dir, "instances", client.get_json("vm", "team-a", "win")["metadata"]["uid"],
                          "swtpm-uuid")
    wait_until(lambda: os.path.exists(marker), what="the VM's vTPM marker")
    state = write_tpm_state(swtpm_root, WINDOWS_UUID, b"team-a's sealed keys")
    for ns, uuid in (("team-b", WINDOWS_UUID), ("default", WINDOWS_UUID.upper())):
        msg = expect_error("Invalid", client.apply, efi_vm("win", devices="tpm: {}", namespace=ns, uuid=uuid))
        assert f'spec.template.spec.domain.firmware.uuid: Duplicate value: "{uuid}"' in msg
        assert "team-a" not in msg      # nothing said of the other namespace
    vmi = f"""
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {{name: other, namespace: team-b}}
spec: {{domain: {{memory: {{guest: 64Mi}}, firmware: {{uuid: {WINDOWS_UUID}}}, devices: {{}}}}}}
"""
    assert "spec.domain.firmware.uuid: Duplicate value" in expect_error("Invalid", client.apply, vmi)
    client.apply(efi_vm("plain", namespace="team-a", strategy="Halted"))
    vm_uid = client.get_json("vm", "team-a", "plain")["metadata"]["uid"]
    msg = expect_error("Invalid", client.apply, efi_vm("uid", namespace="team-b", uuid=vm_uid))
    assert "Duplicate value" in msg     # nor the uid another VM's domain has
    assert not client.exists("vm", "team-b", "win") and read(state) == b"team-a's sealed keys"
    client.apply(efi_vm("win", devices="tpm: {persistent: true}", namespace="team-a", uuid=WINDOWS_UUID,
                        strategy="Halted"))     # its own uuid it keeps
    client.delete("vm", "team-a", "win")
    wait_until(lambda: not os.path.exists(state), what="team-a's vTPM state to go with its VM")


@pytest.mark.skipif(not shutil.which("swtpm"), reason="needs swtpm")
def test_only_the_vtpm_state_a_vm_started_goes_with_it(tpm_client, state_dir, swtpm_root):
    """A VM or VMI that goes removes no swtpm state of its firmware.uuid it
    did not start: none without a persistent vTPM, none never started."""
    client, _ = tpm_client
    uuids = ["0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5", "1d2e3f4a-5b6c-4d7e-8f90-91a2b3c4d5e6",
             "2e3f4a5b-6c7d-4e8f-9001-a2b3c4d5e6f7"]
    states = [write_tpm_state(swtpm_root, u, b"another domain's") for u in uuids]
    client.apply(efi_vm("notpm", uuid=uuids[0]))
    client.apply(efi_vm("never", strategy="Halted", devices="tpm: {persistent: true}", uuid=uuids[1]))
    client.apply(f"""
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {{name: alone}}
spec: {{terminationGracePeriodSeconds: 0, domain: {{memory: {{guest: 64Mi}}, firmware: {{uuid: {uuids[2]}}},
        devices: {{tpm: {{}}}}}}}}
""")
    wait_status(client, "notpm", "Running")
    wait_until(lambda: client.get_json("vmi", "default", "alone")["status"].get("phase") == "Running",
               what="the VMI to run")
    dirs = [os.path.join(state_dir, "instances", client.get_json(k, "default", n)["metadata"]["uid"])
            for k, n in (("vm", "notpm"), ("vmi", "alone"))]
    for kind, name in (("vm", "notpm"), ("vm", "never"), ("vmi", "alone")):
        client.delete(kind, "default", name)
    for kind, name in (("vm", "notpm"), ("vm", "never"), ("vmi", "alone")):
        wait_until(lambda: not client.exists(kind, "default", name), what=f"{kind} {name} to go")
    wait_until(lambda: not any(os.path.exists(d) for d in dirs), what="the instances' files to go")
    assert all(read(s) == b"another domain's" for s in states)


@pytest.mark.skipif(not shutil.which("swtpm"), reason="needs swtpm")
def test_a_restore_writes_no_vtpm_state_onto_another_vms_uuid(tpm_client, state_dir, swtpm_root):
    """A restore whose patches give the target the firmware.uuid of another
    VM copies no vTPM state there (and the VM's admission refuses it)."""
    from test_snapshots import ready, restore, snapshot, status
    client, _ = tpm_client
    client.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a}\n")
    client.apply(efi_vm("win", devices="tpm: {persistent: true}", namespace="team-a", uuid=WINDOWS_UUID,
                        strategy="Halted"))
    theirs = write_tpm_state(swtpm_root, WINDOWS_UUID, b"team-a's sealed keys")
    client.apply(efi_vm("mine", devices="tpm: {persistent: true}"))
    wait_status(client, "mine", "Running")
    mine_uid = client.get_json("vm", "default", "mine")["metadata"]["uid"]
    write_tpm_state(swtpm_root, mine_uid, b"mine")
    vm_obj(client, "mine").Stop({})
    wait_status(client, "mine", "Stopped")
    client.apply(snapshot("s", vm="mine"))
    ready(client, "s")
    patch = '{"op": "add", "path": "/spec/template/spec/domain/firmware/uuid", "value": "%s"}' % WINDOWS_UUID
    client.apply(restore("r", "s", vm="mine", extra=f"  patches: ['{patch}']\n"))
    wait_until(lambda: status(client, "vmrestore", "r").get("complete") or
               any(c.get("reason") == "Failed" for c in status(client, "vmrestore", "r").get("conditions", [])),
               timeout=30, what="the restore to end")
    assert read(theirs) == b"team-a's sealed keys"
    assert "uuid" not in client.get_json("vm", "default", "mine")["spec"]["template"]["spec"]["domain"]["firmware"]
