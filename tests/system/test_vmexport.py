# SPDX-License-Identifier: LGPL-2.1-or-later
"""edgevirtctl vmexport download of a real guest that runs: the export
takes a snapshot with the guest's file systems frozen through its agent,
the disk comes out of it as a compressed qcow2 whose bytes are the
export's checksum, and a new VM whose disk is uploaded from that file
boots to its guest agent.  One extra boot."""
import hashlib
import os
import subprocess
import tempfile

from conftest import WORK, agent_up, api, guest_vm

NS = "vmx"
NAME = "org.edgevirt.EdgeVirt1"
CTL = os.path.join(api.BUILD, "edgevirtctl", "edgevirtctl")
wait_until = api.wait_until
BOOT = 600      # TCG: the agent answers after about a minute here


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return "sha256:" + h.hexdigest()


def test_a_running_guest_exported_from_its_snapshot_boots_elsewhere(client, daemon, image_server):
    if not client.exists("ns", "", NS):
        client.manager.CreateNamespace(NS, {})
    tmp = tempfile.mkdtemp(prefix="vmexport-", dir=WORK)
    env = dict(os.environ, EDGEVIRT_BUS=daemon.bus.address, LC_ALL="C")

    def ctl(*args, timeout=1200):
        r = subprocess.run([CTL, "-n", NS, *args], capture_output=True, text=True, env=env, timeout=timeout)
        assert r.returncode == 0, f"edgevirtctl {' '.join(args)}: {r.stderr}"
        return r
    try:
        client.apply(guest_vm(NS, "src", f'{{http: {{url: "{image_server.url("guest.qcow2")}"}}}}'))
        wait_until(lambda: client.exists("dv", NS, "src-root") and
                   client.get_json("dv", NS, "src-root").get("status", {}).get("phase") in ("Succeeded", "Failed"),
                   timeout=600, what="the import")
        wait_until(lambda: agent_up(client, NS, "src"), timeout=BOOT, what="the guest agent")

        out = os.path.join(tmp, "root.qcow2")
        r = ctl("vmexport", "download", "move", "--vm=src", "--volume=src-root", "--format=qcow2",
                f"--output={out}", "--keep-vme")
        # a running guest: from a snapshot the export took, the file systems frozen through the agent
        snap = client.get_json("vmsnapshot", NS, "vmexport-move")
        assert snap["status"]["indications"] == ["Online", "GuestAgent"], snap["status"]
        assert client.get_json("vmi", NS, "src")["status"]["phase"] == "Running"
        export = client.get_json("vmexport", NS, "move")
        checksum = export["metadata"]["annotations"]["checksum.edgevirt.io/src-root"]
        assert checksum in r.stdout, r.stdout
        with open(out, "rb") as f:
            assert f.read(4) == b"QFI\xfb"
        # compressed, holes and zeros left out: far below the 3 GiB disk
        assert os.path.getsize(out) < 1 << 30, os.path.getsize(out)
        ctl("vmexport", "delete", "move")
        wait_until(lambda: not client.exists("vmsnapshot", NS, "vmexport-move"), what="the export's snapshot to go")
        client.delete("vm", NS, "src")     # its memory for the copy
        wait_until(lambda: not client.exists("vmi", NS, "src"), timeout=120, what="the source VM to stop")

        # elsewhere: a VM whose disk is uploaded from the file boots
        client.apply(guest_vm(NS, "dst", "{upload: {}}"))
        wait_until(lambda: client.exists("dv", NS, "dst-root") and
                   client.get_json("dv", NS, "dst-root").get("status", {}).get("phase") == "UploadReady",
                   timeout=120, what="the upload DataVolume")
        ctl("image-upload", "dv", "dst-root", "--no-create", f"--image-path={out}")
        path = client.props(f"{api.ROOT}/namespace/{NS}/pvc/dst_2droot",
                            NAME + ".PersistentVolumeClaim")["VolumePath"]
        assert sha256_of(str(path)) == checksum
        wait_until(lambda: agent_up(client, NS, "dst"), timeout=BOOT, what="the copy's guest agent")
    finally:
        for name in ("src", "dst"):
            if client.exists("vm", NS, name):
                client.delete("vm", NS, name)
        subprocess.run(["rm", "-rf", tmp])
