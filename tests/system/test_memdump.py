# SPDX-License-Identifier: LGPL-2.1-or-later
"""virtctl memory-dump on a real QEMU (TCG): libvirt's memory-only dump of
a running SeaBIOS guest into a claim made for it, read back through
OpenMemoryDump as an ELF core (program headers for the guest's memory),
the claim's file kept at its size, the guest still running."""
import os
import struct

import dbus

from conftest import api
from test_system import NS, setup_ns, vm, vm_doc, wait_status

wait_until = api.wait_until
MI = 1 << 20


def request(client, name):
    return client.get_json("vm", NS, name).get("status", {}).get("memoryDumpRequest") or {}


def test_memory_dump_of_a_running_guest(client):
    setup_ns(client)
    client.apply(vm_doc("dumped"))
    wait_status(client, "dumped", "Running")
    v = vm(client, "dumped")
    v.MemoryDump("dumped-mem", {"createClaim": dbus.Boolean(True)})
    wait_until(lambda: request(client, "dumped").get("phase") in ("Completed", "Failed"), timeout=300,
               what=f"the dump to end ({request(client, 'dumped')})")
    req = request(client, "dumped")
    assert req["phase"] == "Completed", req
    fd, size, file_name = v.OpenMemoryDump({})
    with os.fdopen(fd.take(), "rb") as f:
        head = f.read(64)
        f.seek(0, os.SEEK_END)
        volume = f.tell()
        f.seek(0)
        elf = f.read(size)
    assert head[:4] == b"\x7fELF" and head[4] == 2          # ELF64, as KubeVirt's dumps
    e_type, e_machine = struct.unpack_from("<HH", head, 16)
    e_phnum = struct.unpack_from("<H", head, 56)[0]
    # a core (notes and memory); QEMU says EM_386 while the guest is not in
    # long mode (SeaBIOS, as here), EM_X86_64 once it is
    assert e_type == 4 and e_machine in (3, 62) and e_phnum >= 2
    assert 64 * MI <= size <= volume == 164 * MI, (size, volume)
    assert len(elf) == size and file_name == req["fileName"]
    assert client.get_json("vm", NS, "dumped")["status"]["printableStatus"] == "Running"
    v.RemoveMemoryDump({})
    client.delete("vm", NS, "dumped")
