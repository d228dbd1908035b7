# SPDX-License-Identifier: LGPL-2.1-or-later
"""Memory dumps (virtctl memory-dump) on libvirt's test driver: the
request on the VM's status, the claim made or checked, the dump in the
claim's volume (the test driver writes its own small dump: memory-only
ELF dumps of a real guest are in the system lane), OpenMemoryDump,
RemoveMemoryDump, errors, and edgevirtctl memory-dump."""
import os
import re

import dbus

from conftest import expect_error, wait_until
from test_cli import complete, ctl  # noqa: F401 (the fixture)
from test_vm import vm_obj, vm_yaml, wait_status

TEST_DRIVER_DUMP = b"TestGuestMagic\0"      # what libvirt's test driver writes as a dump
MI = 1 << 20


def request(client, name="web"):
    return client.get_json("vm", "default", name).get("status", {}).get("memoryDumpRequest")


def wait_phase(client, phase, name="web"):
    wait_until(lambda: (request(client, name) or {}).get("phase") == phase,
               what=f"memory dump {phase} (is {request(client, name)})")
    return request(client, name)


def claim_yaml(name, size, for_dumps=True):
    annotations = "annotations: {edgevirt.io/memory-dump-claim: 'true'}" if for_dumps else ""
    return f"""
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: {name}, {annotations}}}
spec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: {size}}}}}}}
"""


def running_vm(client, name="web"):
    client.apply(vm_yaml(name))
    wait_status(client, name, "Running")
    return vm_obj(client, name)


def test_dump_into_a_new_claim_then_read_and_remove(client):
    vm = running_vm(client)
    vm.MemoryDump("dump", {"createClaim": dbus.Boolean(True)})
    req = wait_phase(client, "Completed")
    assert req["claimName"] == "dump" and req["startTimestamp"] and req["endTimestamp"]
    assert re.fullmatch(r"web-dump-\d{8}-\d{6}\.memory\.dump", req["fileName"]), req
    claim = client.get_json("pvc", "default", "dump")
    # the guest's 64Mi and KubeVirt's 100Mi overhead
    assert claim["spec"]["resources"]["requests"]["storage"] == str(164 * MI)
    assert claim["metadata"]["annotations"]["edgevirt.io/memory-dump-size"] == str(len(TEST_DRIVER_DUMP))
    assert claim["metadata"]["annotations"]["edgevirt.io/memory-dump-claim"] == "true"

    fd, size, file_name = vm.OpenMemoryDump({})
    with os.fdopen(fd.take(), "rb") as f:
        data = f.read()
    assert size == len(TEST_DRIVER_DUMP) and file_name == req["fileName"]
    assert data[:size] == TEST_DRIVER_DUMP
    assert len(data) == 164 * MI          # the claim kept its size

    vm.RemoveMemoryDump({})
    assert request(client) is None
    assert client.exists("pvc", "default", "dump")
    assert "no completed memory dump" in expect_error("Conflict", vm.OpenMemoryDump, {})
    assert "no memory dump" in expect_error("NotFound", vm.RemoveMemoryDump, {})


def test_dump_into_an_existing_claim_and_refusals(client):
    client.apply(claim_yaml("small", "32Mi"))
    client.apply(claim_yaml("big", "200Mi"))
    client.apply(claim_yaml("db-disk", "200Mi", for_dumps=False))
    client.apply(vm_yaml("idle", strategy="Halted"))
    idle = vm_obj(client, "idle")
    assert "not running" in expect_error("Conflict", idle.MemoryDump, "big", {})
    vm = running_vm(client)
    msg = expect_error("Invalid", vm.MemoryDump, "small", {})
    assert "too small" in msg and "164Mi" in msg
    assert "not found" in expect_error("NotFound", vm.MemoryDump, "nope", {})
    # a claim not given up to dumps (a disk) is never overwritten
    msg = expect_error("Invalid", vm.MemoryDump, "db-disk", {})
    assert ("PersistentVolumeClaim default/db-disk was not made for memory dumps: a dump overwrites the claim's "
            "volume from its first byte, its contents would be lost; use createClaim" in msg and
            "edgevirt.io/memory-dump-claim=true" in msg), msg
    assert request(client) is None
    assert "already exists" in expect_error("AlreadyExists", vm.MemoryDump, "big",
                                            {"createClaim": dbus.Boolean(True)})
    assert "storageClass" in expect_error("Invalid", vm.MemoryDump, "big", {"storageClass": "local"})
    assert "claimName" in expect_error("Invalid", vm.MemoryDump, "Bad_Name", {})
    expect_error("org.freedesktop.DBus.Error.InvalidArgs", vm.MemoryDump, "big", {"bogus": "x"})

    vm.MemoryDump("big", {})
    wait_phase(client, "Completed")
    # a second dump into the same claim replaces the first
    vm.MemoryDump("big", {})
    assert wait_phase(client, "Completed")["claimName"] == "big"


def test_a_claim_in_use_fails_the_request(client):
    client.apply(claim_yaml("disk", "200Mi"))
    client.apply(vm_yaml("web", volumes="{name: disk, persistentVolumeClaim: {claimName: disk}}",
                         disks="{name: disk, disk: {bus: virtio}}"))
    wait_status(client, "web", "Running")
    vm_obj(client, "web").MemoryDump("disk", {})
    req = wait_phase(client, "Failed")
    assert "in use" in req["message"]


def test_memory_dump_verbs(ctl, client, tmp_path):  # noqa: F811
    running_vm(client)
    r = ctl("memory-dump", "get", "web", ok=False)
    assert r.returncode == 1 and "--claim-name" in r.stderr
    assert ctl("memory-dump", "get", "web", "--claim-name=dump", "--create-claim").stdout == \
        "Successfully submitted memory dump request of VM web\n"
    wait_phase(client, "Completed")
    out = tmp_path / "web.dump"
    r = ctl("memory-dump", "download", "web", f"--output={out}")
    assert "written to" in r.stdout and out.read_bytes() == TEST_DRIVER_DUMP
    r = ctl("memory-dump", "download", "web", f"--output={out}", ok=False)
    assert r.returncode == 1 and str(out) in r.stderr          # never overwritten
    # without --claim-name: into the claim of the last request
    ctl("memory-dump", "get", "web")
    wait_phase(client, "Completed")
    assert "remove memory dump" in ctl("memory-dump", "remove", "web").stdout
    r = ctl("memory-dump", "get", "nope", "--claim-name=dump", ok=False)
    assert r.returncode == 1 and "nope" in r.stderr
    r = ctl("memory-dump", "remove", "web", "--create-claim", ok=False)
    assert r.returncode == 1 and "--create-claim" in r.stderr
    assert complete(ctl, "edgevirtctl memory-dump ") == {"get", "remove", "download"}
    assert complete(ctl, "edgevirtctl memory-dump get ") == {"web"}
    assert {"--claim-name=", "--create-claim"} <= complete(ctl, "edgevirtctl memory-dump get web --")
