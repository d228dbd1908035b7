# SPDX-License-Identifier: LGPL-2.1-or-later
"""The whole product on a real guest (Debian 12 with cloud-init, the QEMU
guest agent and OpenSSH; tests/guest/build-guest.sh): a manifest set as a
user writes it — a Secret with an SSH key, a ConfigMap, a VM whose
DataVolume imports the image (raw.xz) over HTTP, whose cloud-init sets the
hostname and runs commands (one reads the ConfigMap's config disk, mounted
by its label) — followed on signals to DataVolume Succeeded, VM Running and
AgentConnected (and on edgevirt-desktop's VM page, open while the guest
boots: the agent's facts arrive live, the serial console connects, the
graphical console's port speaks RFB; desktop_check.py); then the guest is checked through the agent and over SSH,
keys and a password reach a user through the agent (accessCredentials
qemuGuestAgent) and follow their Secret, the metrics endpoint's counters
of the guest (CPU, network, disk) grow while it works, an online snapshot is taken with
the file systems frozen through the agent, and after a stop and a restore
the disk holds what it held at the snapshot.  Two boots."""
import json
import os
import subprocess
import time

import dbus

from conftest import SUBNET, api, virsh
from desktop_check import DesktopOnGuest

NS = "sys"
NAME = "org.edgevirt.EdgeVirt1"
VMI_IFACE = NAME + ".VirtualMachineInstance"
VM_IFACE = NAME + ".VirtualMachine"
wait_until = api.wait_until
BOOT = 600      # TCG: the agent answers after about a minute here; CI may be slower


def vm_path(name):
    return f"{api.ROOT}/namespace/{NS}/vm/{api.path_encode(name)}"


def vmi_path(name):
    return f"{api.ROOT}/namespace/{NS}/vmi/{api.path_encode(name)}"


def manifests(url, pubkey, agent_pubkey):
    return f"""
apiVersion: v1
kind: Secret
metadata: {{name: admin-key, namespace: {NS}}}
stringData: {{key1: "{pubkey}"}}
---
{agent_key_secret(agent_pubkey)}
---
apiVersion: v1
kind: Secret
metadata: {{name: ops-password, namespace: {NS}}}
stringData: {{ops: "{OPS_PASSWORD}"}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: app-config, namespace: {NS}}}
data: {{greeting: hello-from-a-configmap}}
---
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {{name: guest, namespace: {NS}}}
spec:
  runStrategy: Always
  dataVolumeTemplates:
  - metadata: {{name: guest-root}}
    spec:
      source: {{http: {{url: "{url}"}}}}
      storage: {{resources: {{requests: {{storage: 3Gi}}}}}}
  template:
    spec:
      hostname: edge-guest
      terminationGracePeriodSeconds: 120
      accessCredentials:
      - sshPublicKey:
          source: {{secret: {{secretName: admin-key}}}}
          propagationMethod: {{noCloud: {{}}}}
      # through the guest agent, to a user cloud-init makes (so the first
      # tries fail until it is there), following the Secret
      - sshPublicKey:
          source: {{secret: {{secretName: agent-key}}}}
          propagationMethod: {{qemuGuestAgent: {{users: [ops]}}}}
      - userPassword:
          source: {{secret: {{secretName: ops-password}}}}
          propagationMethod: {{qemuGuestAgent: {{}}}}
      domain:
        cpu: {{cores: 1}}
        memory: {{guest: 1Gi}}
        devices:
          disks:
          - {{name: root, disk: {{bus: virtio}}, bootOrder: 1}}
          - {{name: cloudinit, cdrom: {{bus: sata}}}}
          - {{name: config, disk: {{bus: virtio}}, serial: CONFIG}}
          interfaces: [{{name: default, masquerade: {{}}}}]
      networks: [{{name: default, pod: {{}}}}]
      volumes:
      - {{name: root, dataVolume: {{name: guest-root}}}}
      - name: cloudinit
        cloudInitNoCloud:
          userData: |
            #cloud-config
            users: [default, {{name: ops, shell: /bin/bash}}]
            runcmd:
              - [sh, -c, "echo made-by-cloud-init > /var/tmp/edgevirt-marker"]
              # the ConfigMap's config disk, found by its label as a KubeVirt guest would
              - [sh, -c, "mount -o ro LABEL=cfgdata /mnt && cp /mnt/greeting /var/tmp/edgevirt-config; umount /mnt"]
      - name: config
        configMap: {{name: app-config}}
"""


OPS_PASSWORD = "edge-Virt-42"
SNAPSHOT = f"""apiVersion: snapshot.kubevirt.io/v1beta1
kind: VirtualMachineSnapshot
metadata: {{name: before, namespace: {NS}}}
spec: {{source: {{apiGroup: kubevirt.io, kind: VirtualMachine, name: guest}}}}
"""
RESTORE = f"""apiVersion: snapshot.kubevirt.io/v1beta1
kind: VirtualMachineRestore
metadata: {{name: back, namespace: {NS}}}
spec: {{target: {{apiGroup: kubevirt.io, kind: VirtualMachine, name: guest}}, virtualMachineSnapshotName: before}}
"""


def agent_key_secret(pubkey):
    return f"apiVersion: v1\nkind: Secret\nmetadata: {{name: agent-key, namespace: {NS}}}\nstringData: {{k: \"{pubkey}\"}}\n"


def ssh(key, ip, *cmd, user="debian"):
    r = subprocess.run(["ssh", "-i", key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                        "-o", "ConnectTimeout=10", "-o", "BatchMode=yes", f"{user}@{ip}", *cmd],
                       capture_output=True, text=True, timeout=60)
    return r


def agent_command(domain, command, **arguments):
    cmd = json.dumps({"execute": command, "arguments": arguments} if arguments else {"execute": command})
    return json.loads(virsh("qemu-agent-command", domain, cmd))["return"]


def agent_read_file(domain, path):
    """A guest file's text through the QEMU guest agent (guest-file-*)."""
    import base64
    handle = agent_command(domain, "guest-file-open", path=path, mode="r")
    try:
        return base64.b64decode(agent_command(domain, "guest-file-read", handle=handle, count=65536)["buf-b64"]).decode()
    finally:
        agent_command(domain, "guest-file-close", handle=handle)


def agent_up(client):
    return client.exists("vmi", NS, "guest") and bool(client.props(vmi_path("guest"), VMI_IFACE)["AgentConnected"]) \
        and str(client.props(vmi_path("guest"), VMI_IFACE)["GuestHostname"]) != ""


def guest_ip(client):
    for ip in client.props(vmi_path("guest"), VMI_IFACE)["IPAddresses"]:
        if str(ip).startswith(SUBNET + "."):
            return str(ip)
    return None


def new_ssh_key(directory, name):
    key = os.path.join(directory, name)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    return key


def credentials_synchronized(client):
    conds = {c["type"]: c for c in client.get_json("vmi", NS, "guest")["status"]["conditions"]}
    c = conds.get("AccessCredentialsSynchronized", {})
    return c.get("status") == "True"


def check_agent_credentials(client, ip, agent_key, new_key):
    """accessCredentials through the agent: ops gets the key of agent-key as
    its authorized_keys and its password from ops-password; a new key in
    the Secret replaces the old one in the running guest."""
    wait_until(lambda: credentials_synchronized(client), timeout=180,
               what="the access credentials to reach the guest")
    r = ssh(agent_key, ip, "id -un", user="ops")
    assert r.stdout.strip() == "ops", r.stdout + r.stderr
    shadow = {ln.split(":")[0]: ln.split(":")[1] for ln in agent_read_file("sys_guest", "/etc/shadow").splitlines()}
    # libc's crypt (yescrypt here) through perl: Python's crypt module is going away
    again = subprocess.run(["perl", "-e", "print crypt($ARGV[0], $ARGV[1])", OPS_PASSWORD, shadow["ops"]],
                           capture_output=True, text=True, check=True).stdout
    assert shadow["ops"].startswith("$") and again == shadow["ops"], "the password of ops is not the Secret's"
    # the Secret changes: the guest follows, the old key no longer opens
    client.apply(agent_key_secret(open(new_key + ".pub").read().strip()))
    wait_until(lambda: ssh(new_key, ip, "true", user="ops").returncode == 0, timeout=120,
               what="the new key of agent-key in the guest")
    assert ssh(agent_key, ip, "true", user="ops").returncode != 0, "the replaced key still opens"
    assert credentials_synchronized(client)


def scrape(port):
    import http.client
    from prometheus_client.parser import text_string_to_metric_families
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", "/metrics")
    r = c.getresponse()
    text = r.read().decode()
    assert r.status == 200, text
    series = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.labels.get("namespace") == NS and s.labels.get("name") == "guest":
                key = (s.name, tuple(sorted((k, v) for k, v in s.labels.items() if k not in ("namespace", "name",
                                                                                              "node"))))
                series[key] = s.value
    return text, series


def total(series, name, **labels):
    found = [v for (n, lab), v in series.items() if n == name and all(dict(lab).get(k) == x for k, x in labels.items())]
    assert found, f"no {name} {labels} for the guest"
    return sum(found)


def check_metrics_move(port, key, ip):
    """KubeVirt's counters of the running guest, from libvirt's statistics:
    they grow between two scrapes while the guest writes its disk, burns
    CPU and sends over its interface."""
    text, before = scrape(port)
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    lint = [ln for ln in (r.stdout + r.stderr).splitlines() if ln.strip() and not (
        ln.startswith("kubevirt_cdi_") and "camelCase" in ln or ln.startswith("kubevirt_vmi_phase_count "))]
    assert not lint, lint
    r = ssh(key, ip, "dd if=/dev/zero of=/var/tmp/metrics-probe bs=1M count=32 oflag=direct status=none && "
            "sync && rm /var/tmp/metrics-probe && head -c 4000000 /dev/zero")
    assert r.returncode == 0 and len(r.stdout) == 4000000, r.stderr
    time.sleep(1.5)     # past CacheSeconds=1
    _, after = scrape(port)
    for name, labels, at_least in (
            ("kubevirt_vmi_cpu_usage_seconds_total", {}, 0.01),
            ("kubevirt_vmi_vcpu_seconds_total", {"id": "0"}, 0.01),
            ("kubevirt_vmi_network_transmit_bytes_total", {"interface": "default"}, 4000000),
            # (segmentation offload: a packet carries up to 64 KiB)
            ("kubevirt_vmi_network_transmit_packets_total", {"interface": "default"}, 4000000 // 65536),
            ("kubevirt_vmi_network_receive_bytes_total", {"interface": "default"}, 1),
            ("kubevirt_vmi_storage_write_traffic_bytes_total", {"drive": "root"}, 32 << 20),
            ("kubevirt_vmi_storage_iops_write_total", {"drive": "root"}, 32)):
        grown = total(after, name, **labels) - total(before, name, **labels)
        assert grown >= at_least, f"{name} {labels} grew by {grown}, expected at least {at_least}"
    assert total(after, "kubevirt_vmi_memory_domain_bytes") == 1 << 30
    assert total(after, "kubevirt_vmi_memory_resident_bytes") > 64 << 20
    assert 0 < total(after, "kubevirt_vmi_memory_available_bytes") <= 1 << 30
    assert total(after, "kubevirt_vmi_filesystem_capacity_bytes", mount_point="/") > 0
    assert total(after, "kubevirt_vmi_info", phase="running") == 1


def test_real_guest_end_to_end(client, daemon, image_server, state_dir):
    if not client.exists("ns", "", NS):
        client.manager.CreateNamespace(NS, {})
    key, agent_key, new_key = (new_ssh_key(state_dir, n) for n in ("id_ed25519", "agent_ed25519", "new_ed25519"))
    pubkey = open(key + ".pub").read().strip()
    # the raw.xz: streamed, decompressed and written sparse (the quick start imports the qcow2)
    client.apply(manifests(image_server.url("guest.raw.xz"), pubkey, open(agent_key + ".pub").read().strip()))

    dv = f"{api.ROOT}/namespace/{NS}/datavolume/guest_2droot"
    wait_until(lambda: client.exists("dv", NS, "guest-root") and
               str(client.props(dv, NAME + ".DataVolume")["Phase"]) in ("Succeeded", "Failed"), timeout=600,
               what="the import")
    assert str(client.props(dv, NAME + ".DataVolume")["Phase"]) == "Succeeded", client.get_json("dv", NS, "guest-root")["status"]
    wait_until(lambda: str(client.props(vm_path("guest"), VM_IFACE)["PrintableStatus"]) == "Running", timeout=120,
               what="the VM to run")
    # the desktop app's VM page, open while the guest boots, follows its agent
    desktop = DesktopOnGuest(daemon.bus.address, NS, "guest")
    try:
        desktop.wait_agent_facts("edge-guest", BOOT)
        desktop.check_console()
        desktop.check_vnc()
    finally:
        desktop.stop()
    wait_until(lambda: agent_up(client), timeout=BOOT, what="the guest agent")

    # through the agent
    props = client.props(vmi_path("guest"), VMI_IFACE)
    assert str(props["GuestHostname"]) == "edge-guest"
    assert props["GuestOS"]["id"] == "debian" and props["GuestOS"]["versionId"] == "12", props["GuestOS"]
    info = json.loads(dbus.Interface(client.conn.get_object(NAME, vmi_path("guest")), VMI_IFACE).GuestOSInfo({}))
    assert info["os"]["prettyName"].startswith("Debian GNU/Linux 12")
    fs = json.loads(dbus.Interface(client.conn.get_object(NAME, vmi_path("guest")), VMI_IFACE).FilesystemList({}))
    assert any(d.get("mountPoint") == "/" for d in fs["items"]), fs
    status = client.get_json("vmi", NS, "guest")["status"]
    assert status["guestOSInfo"]["id"] == "debian"

    # the address in status answers ssh, with the key from the Secret; cloud-init ran the command
    wait_until(lambda: guest_ip(client) is not None, timeout=120, what="the guest's address from the agent")
    ip = guest_ip(client)
    wait_until(lambda: ssh(key, ip, "true").returncode == 0, timeout=180, what=f"ssh to {ip}")
    check_metrics_move(daemon.metrics_port, key, ip)
    # runcmd runs in cloud-init's last stage, which may end after sshd is up
    r = ssh(key, ip, "cloud-init status --wait >/dev/null; cat /var/tmp/edgevirt-marker; hostname; "
                     "cat /var/tmp/edgevirt-config")
    assert r.stdout.split() == ["made-by-cloud-init", "edge-guest", "hello-from-a-configmap"], r.stdout + r.stderr
    # and the file through the guest agent itself (libvirt's agent channel)
    assert agent_read_file("sys_guest", "/var/tmp/edgevirt-marker").strip() == "made-by-cloud-init"
    check_agent_credentials(client, ip, agent_key, new_key)
    r = ssh(key, ip, "echo survives > /var/tmp/persist && sync")
    assert r.returncode == 0, r.stderr

    # an online snapshot: the file systems frozen through the agent for the copy, thawed after
    client.apply(SNAPSHOT)
    wait_until(lambda: client.get_json("vmsnapshot", NS, "before")["status"].get("phase") in ("Succeeded", "Failed"),
               timeout=300, what="the snapshot")
    st = client.get_json("vmsnapshot", NS, "before")["status"]
    assert st["phase"] == "Succeeded" and st["indications"] == ["Online", "GuestAgent"], st
    r = ssh(key, ip, "echo after-the-snapshot > /var/tmp/later && sync && cat /var/tmp/persist")
    assert r.returncode == 0 and r.stdout.strip() == "survives", "the guest is not thawed: " + r.stderr

    # a graceful stop (ACPI, systemd powers off), the restore, a start: the disk is as it was at the snapshot
    first = client.get_json("vmi", NS, "guest")["metadata"]["uid"]
    vm = dbus.Interface(client.conn.get_object(NAME, vm_path("guest")), VM_IFACE)
    vm.Stop({})
    wait_until(lambda: str(client.props(vm_path("guest"), VM_IFACE)["PrintableStatus"]) == "Stopped", timeout=180,
               what="the guest to power off")
    client.apply(RESTORE)
    wait_until(lambda: client.get_json("vmrestore", NS, "back").get("status", {}).get("complete"), timeout=300,
               what="the restore")
    # the snapshot's spec says Always: it starts by itself; else start it
    if client.get_json("vm", NS, "guest")["spec"].get("runStrategy") in ("Halted", "Manual"):
        vm.Start({})
    wait_until(lambda: client.exists("vmi", NS, "guest") and client.get_json("vmi", NS, "guest")["metadata"]["uid"] != first
               and agent_up(client), timeout=BOOT, what="the guest agent after the restart")
    wait_until(lambda: guest_ip(client) is not None, timeout=120, what="the address after the restart")
    ip = guest_ip(client)
    wait_until(lambda: ssh(key, ip, "true").returncode == 0, timeout=180, what=f"ssh to {ip} after the restart")
    assert ssh(key, ip, "cat /var/tmp/persist").stdout.strip() == "survives"
    assert ssh(key, ip, "test -e /var/tmp/later").returncode == 1, "a file written after the snapshot survived the restore"
    vm.Stop({"gracePeriod": dbus.Int64(0)})
