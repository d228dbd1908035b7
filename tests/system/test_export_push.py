# SPDX-License-Identifier: LGPL-2.1-or-later
"""edgevirtctl export --push-disks of a real guest that runs: its disk is
pushed from a snapshot taken with its file systems frozen through the
guest agent, not read while the guest writes it; the pushed image imports
again, its bytes checked against the checksum it carries.  One boot."""
import json
import os
import subprocess
import tempfile

from conftest import WORK, agent_up, api, guest_vm, servers

NS = "sys"
CTL = os.path.join(api.BUILD, "edgevirtctl", "edgevirtctl")
wait_until = api.wait_until
BOOT = 600      # TCG: the agent answers after about a minute here


def test_a_running_guest_is_pushed_from_a_frozen_snapshot(client, daemon, image_server):
    if not client.exists("ns", "", NS):
        client.manager.CreateNamespace(NS, {})
    tmp = tempfile.mkdtemp(prefix="registry-", dir=WORK)
    registry = servers.Registry(tmp)
    try:
        client.apply(guest_vm(NS, "pushed", f'{{http: {{url: "{image_server.url("guest.qcow2")}"}}}}'))
        wait_until(lambda: client.exists("dv", NS, "pushed-root") and
                   client.get_json("dv", NS, "pushed-root").get("status", {}).get("phase") in ("Succeeded", "Failed"),
                   timeout=600, what="the import")
        wait_until(lambda: agent_up(client, NS, "pushed"), timeout=BOOT, what="the guest agent")

        env = dict(os.environ, EDGEVIRT_BUS=daemon.bus.address, LC_ALL="C")
        r = subprocess.run([CTL, "export", "-n", NS, f"--push-disks={registry.host}/edge", "-o", "json"],
                           capture_output=True, text=True, env=env, timeout=1200)
        assert r.returncode == 0, r.stderr
        assert "VM pushed runs: taking snapshot export-pushed-" in r.stderr, r.stderr
        # the snapshot was taken with the file systems frozen through the agent, and is gone; the guest runs on
        assert "taken (Online, GuestAgent)" in r.stderr, r.stderr
        assert not client.list("vmsnapshot", NS)["items"]
        assert client.get_json("vmi", NS, "pushed")["status"]["phase"] == "Running"
        vm = next(d for d in json.loads(r.stdout)["items"] if d["kind"] == "VirtualMachine")
        dvt = vm["spec"]["dataVolumeTemplates"][0]
        url = dvt["spec"]["source"]["registry"]["url"]
        checksum = dvt["metadata"]["annotations"]["edgevirt.io/disk-checksum"]
        assert url == f"docker://{registry.host}/edge/{NS}-pushed-root:sha256-{checksum.split(':')[1]}"

        # imported again: the importer checks the bytes against the image's checksum
        client.apply(f"apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\nmetadata: {{name: copy, namespace: {NS}}}\n"
                     f"spec: {{source: {{registry: {{url: '{url}'}}}}, storage: {{resources: {{requests: {{storage: 3Gi}}}}}}}}\n")
        wait_until(lambda: client.get_json("dv", NS, "copy").get("status", {}).get("phase") in ("Succeeded", "Failed"),
                   timeout=900, what="the import of the pushed disk")
        assert client.get_json("dv", NS, "copy")["status"]["phase"] == "Succeeded", client.get_json("dv", NS, "copy")
    finally:
        client.delete("vm", NS, "pushed")
        registry.stop()
