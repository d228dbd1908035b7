# SPDX-License-Identifier: LGPL-2.1-or-later
"""KubeVirt's ephemeral VM on a real guest: the test guest
(tests/guest/build-guest.sh) packed as a containerDisk (its raw.xz under
/disk/ in an OCI image), pushed to Debian's docker-registry on loopback,
pulled into the image cache and booted on a per-instance overlay.  What
the guest writes is gone after a restart; the cached image is untouched.
Its cloud-init comes from a ConfigDrive (config-2, OpenStack layout) with
the SSH key propagated there.  Two boots.  And an ephemeral volume on a
claim: the writes go to the instance's overlay, the claim keeps its bytes
(no boot: written through QEMU's monitor)."""
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile

import dbus

from conftest import WORK, api, servers, virsh
from test_guest import NS, NAME, VM_IFACE, VMI_IFACE, BOOT, ssh

wait_until = api.wait_until


def blob(oci, path):
    """Move a file into the layout's blobs; its descriptor fields."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    digest = h.hexdigest()
    os.makedirs(os.path.join(oci, "blobs", "sha256"), exist_ok=True)
    size = os.path.getsize(path)
    shutil.move(path, os.path.join(oci, "blobs", "sha256", digest))
    return "sha256:" + digest, size


def container_disk(oci, disk):
    """An OCI layout tagged v1: one gzip'd layer holding disk/<name>."""
    os.makedirs(oci)
    tar_path = os.path.join(oci, "layer.tar")
    with tarfile.open(tar_path, "w") as t:
        info = tarfile.TarInfo("disk")
        info.type = tarfile.DIRTYPE
        info.mode = 0o555
        t.addfile(info)
        t.add(disk, arcname="disk/" + os.path.basename(disk))
    diff = "sha256:" + hashlib.sha256(open(tar_path, "rb").read()).hexdigest()
    gz_path = tar_path + ".gz"
    with open(tar_path, "rb") as src, gzip.open(gz_path, "wb", compresslevel=1) as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    os.unlink(tar_path)
    layer, layer_size = blob(oci, gz_path)
    cfg_path = os.path.join(oci, "config.json")
    with open(cfg_path, "w") as f:
        json.dump({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [diff]}}, f)
    cfg, cfg_size = blob(oci, cfg_path)
    man_path = os.path.join(oci, "manifest.json")
    with open(man_path, "w") as f:
        json.dump({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                   "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg, "size": cfg_size},
                   "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer,
                               "size": layer_size}]}, f)
    man, man_size = blob(oci, man_path)
    with open(os.path.join(oci, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    with open(os.path.join(oci, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": man,
                                                      "size": man_size,
                                                      "annotations": {"org.opencontainers.image.ref.name": "v1"}}]}, f)


class Registry:
    def __init__(self, tmp):
        self.port = servers.free_port()
        conf = os.path.join(tmp, "registry.yml")
        with open(conf, "w") as f:
            json.dump({"version": 0.1, "storage": {"filesystem": {"rootdirectory": os.path.join(tmp, "storage")}},
                       "http": {"addr": f"127.0.0.1:{self.port}"}, "log": {"level": "error"}}, f)
        self.proc = subprocess.Popen(["docker-registry", "serve", conf], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        servers.wait_listening(self.proc, self.port, "docker-registry")
        self.host = f"127.0.0.1:{self.port}"

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def manifests(image, pubkey):
    return f"""
apiVersion: v1
kind: Secret
metadata: {{name: eph-key, namespace: {NS}}}
stringData: {{key1: "{pubkey}"}}
---
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {{name: eph, namespace: {NS}}}
spec:
  runStrategy: Always
  template:
    spec:
      terminationGracePeriodSeconds: 120
      accessCredentials:
      - sshPublicKey:
          source: {{secret: {{secretName: eph-key}}}}
          propagationMethod: {{configDrive: {{}}}}
      domain:
        cpu: {{cores: 1}}
        memory: {{guest: 1Gi}}
        devices:
          disks:
          - {{name: root, disk: {{bus: virtio}}, bootOrder: 1}}
          - {{name: cloudinit, cdrom: {{bus: sata}}}}
          interfaces: [{{name: default, masquerade: {{}}}}]
      networks: [{{name: default, pod: {{}}}}]
      volumes:
      - {{name: root, containerDisk: {{image: "{image}"}}}}
      - name: cloudinit
        cloudInitConfigDrive:
          userData: |
            #cloud-config
            hostname: ephemeral
"""


def vm_path(name):
    return f"{api.ROOT}/namespace/{NS}/vm/{api.path_encode(name)}"


def vmi_path(name):
    return f"{api.ROOT}/namespace/{NS}/vmi/{api.path_encode(name)}"


def booted(client):
    """The agent answers and the guest has an address on the lane's network: its IP."""
    if not client.exists("vmi", NS, "eph"):
        return None
    props = client.props(vmi_path("eph"), VMI_IFACE)
    if not bool(props["AgentConnected"]):
        return None
    from conftest import SUBNET
    return next((str(ip) for ip in props["IPAddresses"] if str(ip).startswith(SUBNET + ".")), None)


def test_container_disk_vm_forgets_its_writes(client, guest_image, state_dir):
    tmp = tempfile.mkdtemp(prefix="oci-", dir=WORK)
    reg = Registry(tmp)
    try:
        container_disk(os.path.join(tmp, "oci"), os.path.join(os.path.dirname(guest_image), "guest.raw.xz"))
        subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci:{tmp}/oci:v1",
                        f"docker://{reg.host}/edgevirt/guest:v1"], check=True, capture_output=True)
        if not client.exists("ns", "", NS):
            client.manager.CreateNamespace(NS, {})
        key = os.path.join(state_dir, "id_eph")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
        client.apply(manifests(f"{reg.host}/edgevirt/guest:v1", open(key + ".pub").read().strip()))
        wait_until(lambda: str(client.props(vm_path("eph"), VM_IFACE)["PrintableStatus"]) == "Running", timeout=600,
                   what="the image pull and the VM to run")
        [(digest, refs, vsize, _, _, _, users)] = client.manager.ListImages()
        assert users == 1 and int(vsize) == 2 << 30, (digest, vsize, users)
        cached = os.path.join(state_dir, "images", str(digest)[7:] + ".img")
        before = hashlib.sha256(open(cached, "rb").read(64 << 20)).hexdigest()

        wait_until(lambda: booted(client), timeout=BOOT, what="the guest agent and an address")
        ip = booted(client)
        wait_until(lambda: ssh(key, ip, "true").returncode == 0, timeout=180, what=f"ssh to {ip}")
        r = ssh(key, ip, "hostname; echo written > /var/tmp/persist && sync")
        assert r.returncode == 0 and r.stdout.split() == ["ephemeral"], r.stdout + r.stderr

        # a restart is a new instance on a new overlay: the write is gone
        first = client.get_json("vmi", NS, "eph")["metadata"]["uid"]
        vm = dbus.Interface(client.conn.get_object(NAME, vm_path("eph")), VM_IFACE)
        vm.Restart({})
        wait_until(lambda: client.exists("vmi", NS, "eph") and client.get_json("vmi", NS, "eph")["metadata"]["uid"] != first
                   and booted(client), timeout=BOOT, what="the guest after the restart")
        ip = booted(client)
        wait_until(lambda: ssh(key, ip, "true").returncode == 0, timeout=180, what=f"ssh to {ip} after the restart")
        r = ssh(key, ip, "cat /var/tmp/persist 2>&1 || echo absent")
        assert r.stdout.strip().endswith("absent"), r.stdout + r.stderr
        assert hashlib.sha256(open(cached, "rb").read(64 << 20)).hexdigest() == before
        vm.Stop({"gracePeriod": dbus.Int64(0)})
        wait_until(lambda: not client.exists("vmi", NS, "eph"), timeout=60, what="the instance to go")
        instances = os.path.join(state_dir, "instances")
        wait_until(lambda: os.listdir(instances) == [], timeout=30, what="the overlays to be removed")
        assert os.path.exists(cached)
    finally:
        reg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def test_ephemeral_claim_takes_no_write(client, state_dir):
    """An ephemeral volume on a real QEMU: the guest's writes (made here
    through the monitor's qemu-io, no guest OS needed) land in the
    instance's overlay; the claim behind it keeps its bytes, and the
    overlay goes with the instance.  No boot."""
    if not client.exists("ns", "", NS):
        client.manager.CreateNamespace(NS, {})
    client.apply(f"apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {{name: golden, namespace: {NS}}}\n"
                 "spec: {accessModes: [ReadOnlyMany], resources: {requests: {storage: 16Mi}}}\n")
    wait_until(lambda: client.get_json("pvc", NS, "golden").get("status", {}).get("phase") == "Bound", timeout=60,
               what="the claim")
    pvc_path = f"{api.ROOT}/namespace/{NS}/pvc/golden"
    backing = str(client.props(pvc_path, NAME + ".PersistentVolumeClaim")["VolumePath"])
    subprocess.run(["qemu-io", "-f", "raw", "-c", "write -P 0x11 0 64k", backing], check=True, capture_output=True)
    client.apply(f"apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\nmetadata: {{name: eph-claim, namespace: {NS}}}\n"
                 "spec:\n  terminationGracePeriodSeconds: 0\n  domain: {memory: {guest: 64Mi}}\n"
                 "  volumes: [{name: root, ephemeral: {persistentVolumeClaim: {claimName: golden}}}]\n")
    wait_until(lambda: client.get_json("vmi", NS, "eph-claim").get("status", {}).get("phase") in ("Running", "Failed"),
               timeout=120, what="the instance to run")
    vmi = client.get_json("vmi", NS, "eph-claim")
    assert vmi["status"]["phase"] == "Running", vmi["status"]
    overlay = os.path.join(state_dir, "instances", vmi["metadata"]["uid"], "root.qcow2")
    # the disk's device (its qdev path); qemu-io says nothing here unless it fails
    device = "/machine/peripheral/ua-root/virtio-backend"
    for command in ("write -P 0x5a 0 4k", "flush"):     # flushed: the overlay's qcow2 tables on disk
        out = virsh("qemu-monitor-command", f"{NS}_eph-claim", "--hmp", f'qemu-io -d {device} "{command}"')
        assert out == "", out
    # the overlay has the write, the claim its own bytes
    read = subprocess.run(["qemu-io", "-U", "-r", "-f", "qcow2", "-c", "read -P 0x5a 0 4k", "-c",
                           "read -P 0x11 4k 60k", overlay], capture_output=True, text=True)
    assert read.returncode == 0 and "Pattern verification failed" not in read.stdout, read.stdout + read.stderr
    claim = subprocess.run(["qemu-io", "-U", "-r", "-f", "raw", "-c", "read -P 0x11 0 64k", backing],
                           capture_output=True, text=True)
    assert claim.returncode == 0 and "Pattern verification failed" not in claim.stdout, claim.stdout
    client.delete("vmi", NS, "eph-claim")
    wait_until(lambda: not os.path.exists(overlay), timeout=60, what="the overlay to go with the instance")
