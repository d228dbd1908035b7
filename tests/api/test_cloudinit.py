# SPDX-License-Identifier: LGPL-2.1-or-later
"""cloud-init seeds: KubeVirt's cloudInitNoCloud and cloudInitConfigDrive
volumes and SSH keys from accessCredentials become an ISO image per
instance (built with libisofs), read back here with isoinfo.  That a real
guest reads them is the system lane's business."""
import base64
import json
import os
import subprocess

import pytest
import yaml

from conftest import expect_error, wait_until

KEY1 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBbQp0Rr1a9XK6g4g2k8Cw7rM1Pp3T8p0j4m2Vx0Y9n8 one@edge"
KEY2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF1bQp0Rr1a9XK6g4g2k8Cw7rM1Pp3T8p0j4m2Vx0Y9n two@edge"


def b64(s):
    return base64.b64encode(s.encode()).decode()


def iso_file(iso, path):
    return subprocess.run(["isoinfo", "-R", "-i", iso, "-x", path], capture_output=True, check=True).stdout.decode()


def iso_volume_id(iso):
    out = subprocess.run(["isoinfo", "-d", "-i", iso], capture_output=True, text=True, check=True).stdout
    return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Volume id:"))


def iso_files(iso):
    out = subprocess.run(["isoinfo", "-R", "-f", "-i", iso], capture_output=True, text=True, check=True).stdout
    return sorted(out.split())


def running_uid(client, name):
    wait_until(lambda: client.exists("vmi", "default", name) and
               client.get_json("vmi", "default", name)["status"]["phase"] in ("Running", "Failed"), what=f"{name} to start")
    vmi = client.get_json("vmi", "default", name)
    assert vmi["status"]["phase"] == "Running", vmi["status"]
    return vmi["metadata"]["uid"]


VM = """
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: NAME}
spec:
  runStrategy: Always
  template:
    spec:
      hostname: HOST
      accessCredentials:
      - sshPublicKey:
          source: {secret: {secretName: keys}}
          propagationMethod: {PROP: {}}
      domain:
        memory: {guest: 64Mi}
        devices:
          disks: [{name: seed, cdrom: {bus: sata}}]
      volumes:
      - name: seed
        VOLUME
"""


def keys_secret(client):
    client.apply(f"apiVersion: v1\nkind: Secret\nmetadata: {{name: keys}}\n"
                 f"stringData: {{a: '{KEY1}', b: '{KEY2}'}}\n")


def test_nocloud_seed(client, state_dir):
    keys_secret(client)
    userdata = b64("#cloud-config\nruncmd: [[touch, /done]]\n")
    client.apply("apiVersion: v1\nkind: Secret\nmetadata: {name: ud}\n" f"data: {{userdata: {userdata}}}\n")
    doc = (VM.replace("NAME", "nc").replace("HOST", "edge-box").replace("PROP", "noCloud")
           .replace("VOLUME", "cloudInitNoCloud: {secretRef: {name: ud}, networkDataBase64: " + b64("version: 2\n") + "}"))
    client.apply(doc)
    uid = running_uid(client, "nc")
    iso = os.path.join(state_dir, "instances", uid, "seed.iso")
    assert iso_volume_id(iso) == "cidata"
    assert iso_files(iso) == ["/meta-data", "/network-config", "/user-data"]
    meta = yaml.safe_load(iso_file(iso, "/meta-data"))
    assert meta == {"instance-id": "nc.default", "local-hostname": "edge-box", "public-keys": [KEY1, KEY2]}
    assert iso_file(iso, "/user-data") == "#cloud-config\nruncmd: [[touch, /done]]\n"
    assert iso_file(iso, "/network-config") == "version: 2\n"
    # the seed goes with the instance; instance-id stays with the VM
    client.delete("vm", "default", "nc")
    wait_until(lambda: not os.path.exists(iso), what="the seed to be removed")


def test_configdrive_seed(client, state_dir):
    keys_secret(client)
    doc = (VM.replace("NAME", "cd").replace("      hostname: HOST\n", "").replace("PROP", "configDrive")
           .replace("VOLUME", 'cloudInitConfigDrive: {userData: "#!/bin/sh\\necho hi\\n"}'))
    client.apply(doc)
    uid = running_uid(client, "cd")
    iso = os.path.join(state_dir, "instances", uid, "seed.iso")
    assert iso_volume_id(iso) == "config-2"
    assert iso_files(iso) == ["/openstack", "/openstack/latest", "/openstack/latest/meta_data.json",
                              "/openstack/latest/user_data"]
    meta = json.loads(iso_file(iso, "/openstack/latest/meta_data.json"))
    assert meta["uuid"] == "cd.default" and meta["hostname"] == "cd"
    assert sorted(meta["public_keys"].values()) == sorted([KEY1, KEY2])
    assert iso_file(iso, "/openstack/latest/user_data") == "#!/bin/sh\necho hi\n"


def failure(client, name):
    conds = client.get_json("vm", "default", name)["status"].get("conditions", [])
    return next((c["message"] for c in conds if c["type"] == "Failure" and c["status"] == "True"), "")


def test_missing_secret_fails_the_instance_naming_it(client):
    keys_secret(client)
    doc = (VM.replace("NAME", "nosec").replace("HOST", "x").replace("PROP", "noCloud")
           .replace("VOLUME", "cloudInitNoCloud: {secretRef: {name: absent}}"))
    client.apply(doc)
    # the instance fails and goes (runStrategy Always); the VM keeps why
    wait_until(lambda: "absent" in failure(client, "nosec"), what="the failure on the VM")
    msg = failure(client, "nosec")
    assert "spec.volumes[0].cloudInitNoCloud.secretRef" in msg and "Secret default/absent not found" in msg, msg
    assert client.get_json("vm", "default", "nosec")["status"]["printableStatus"] == "CrashLoopBackOff"
    # the Secret made meanwhile: when the first back-off (10 s) ends, the VM
    # starts again by itself — nothing else changes to wake it
    client.apply("apiVersion: v1\nkind: Secret\nmetadata: {name: absent}\nstringData: {userdata: x}\n")
    wait_until(lambda: client.get_json("vm", "default", "nosec")["status"]["printableStatus"] == "Running",
               timeout=40, what="the VM to start again after its back-off")
    # without the keys' Secret, the accessCredentials entry is named
    client.delete("secret", "default", "keys")
    client.apply(VM.replace("NAME", "nokeys").replace("HOST", "x").replace("PROP", "noCloud")
                 .replace("VOLUME", "cloudInitNoCloud: {userData: x}"))
    wait_until(lambda: "accessCredentials[0]" in failure(client, "nokeys"), what="the missing keys on the VM")


def test_seed_admission(client):
    base = VM.replace("HOST", "x").replace("PROP", "noCloud")
    msg = expect_error("Invalid", client.apply, base.replace("NAME", "a").replace("VOLUME", "cloudInitNoCloud: {}"))
    assert "cloudInitNoCloud: Required value" in msg
    msg = expect_error("Invalid", client.apply, base.replace("NAME", "b").replace("VOLUME", "cloudInitConfigDrive: {userData: x}"))
    assert "accessCredentials[0].sshPublicKey.propagationMethod" in msg and "cloudInitNoCloud" in msg
    # through the agent: to whom
    msg = expect_error("Invalid", client.apply,
                       VM.replace("NAME", "c").replace("HOST", "x").replace("PROP", "qemuGuestAgent")
                       .replace("VOLUME", "cloudInitNoCloud: {userData: x}"))
    assert "accessCredentials[0].sshPublicKey.propagationMethod.qemuGuestAgent.users: required value" in msg


AGENT_VM = """
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: NAME}
spec:
  runStrategy: Always
  template:
    spec:
      accessCredentials: CREDS
      domain:
        memory: {guest: 64Mi}
"""


@pytest.mark.parametrize("creds,fragment", [
    ("[{sshPublicKey: {source: {secret: {secretName: k}}, propagationMethod: {qemuGuestAgent: {users: []}}}}]",
     "accessCredentials[0].sshPublicKey.propagationMethod.qemuGuestAgent.users: Required value"),
    ("[{sshPublicKey: {source: {secret: {secretName: k}}, propagationMethod: {qemuGuestAgent: {users: ['../x']}}}}]",
     "qemuGuestAgent.users[0]: Invalid value"),
    ("[{sshPublicKey: {source: {secret: {secretName: k}}, propagationMethod: {qemuGuestAgent: {users: [a]}, noCloud: {}}}}]",
     "accessCredentials[0].sshPublicKey.propagationMethod: Invalid value: give only one of"),
    ("[{userPassword: {source: {secret: {secretName: p}}, propagationMethod: {}}}]",
     "accessCredentials[0].userPassword.propagationMethod.qemuGuestAgent: Required value"),
    ("[{userPassword: {source: {secret: {}}, propagationMethod: {qemuGuestAgent: {}}}}]",
     "accessCredentials[0].userPassword.source.secret.secretName: Required value"),
    ("[{userPassword: {source: {secret: {secretName: p}}, propagationMethod: {qemuGuestAgent: {}}},"
     " sshPublicKey: {source: {secret: {secretName: k}}, propagationMethod: {qemuGuestAgent: {users: [a]}}}}]",
     "accessCredentials[0]: Invalid value: give exactly one of sshPublicKey, userPassword"),
])
def test_agent_credentials_admission(client, creds, fragment):
    msg = expect_error("Invalid", client.apply, AGENT_VM.replace("NAME", "bad").replace("CREDS", creds))
    assert fragment in msg


def test_agent_credentials_wait_for_the_agent(client):
    """Keys and passwords through the guest agent: the instance says
    whether they reached the guest (a real agent: the system lane).  The
    test driver has no agent, so they wait, and say so."""
    client.apply("apiVersion: v1\nkind: Secret\nmetadata: {name: pw}\nstringData: {root: hunter2}\n")
    keys_secret(client)
    creds = ("[{sshPublicKey: {source: {secret: {secretName: keys}}, propagationMethod: {qemuGuestAgent: {users: [root, ops]}}}},"
             " {userPassword: {source: {secret: {secretName: pw}}, propagationMethod: {qemuGuestAgent: {}}}}]")
    client.apply(AGENT_VM.replace("NAME", "ga").replace("CREDS", creds))
    running_uid(client, "ga")
    cond = {c["type"]: c for c in client.get_json("vmi", "default", "ga")["status"]["conditions"]}
    assert cond["AccessCredentialsSynchronized"]["status"] == "False"
    assert cond["AccessCredentialsSynchronized"]["reason"] == "AccessCredentialsSyncFailed"
    assert cond["AccessCredentialsSynchronized"]["message"] == "the guest agent is not connected"
    # an instance without such credentials has no such condition
    client.apply(AGENT_VM.replace("NAME", "plain").replace("      accessCredentials: CREDS\n", ""))
    running_uid(client, "plain")
    assert "AccessCredentialsSynchronized" not in {c["type"] for c in client.get_json("vmi", "default", "plain")["status"]["conditions"]}
