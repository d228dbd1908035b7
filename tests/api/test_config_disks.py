# SPDX-License-Identifier: LGPL-2.1-or-later
"""KubeVirt's config disks: configMap, secret and sysprep volumes become an
ISO image per instance (libisofs, as the cloud-init seeds), the object's
keys as files at its root, read back here with isoinfo.  The volume label
is the volume's volumeLabel, else "cfgdata" ("unattendCD" for sysprep),
as KubeVirt writes them.  A missing object holds the instance Pending
until it comes (optional: an empty disk)."""
import base64
import os
import subprocess

from conftest import expect_error, wait_until
from test_cloudinit import iso_file, iso_files, iso_volume_id


def vmi(name, volume, disk="{name: cfg, cdrom: {bus: sata}}"):
    return (f"apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\nmetadata: {{name: {name}}}\n"
            f"spec:\n  terminationGracePeriodSeconds: 0\n"
            f"  domain: {{memory: {{guest: 64Mi}}, devices: {{disks: [{disk}]}}}}\n"
            f"  volumes: [{{name: cfg, {volume}}}]\n")


def phase(client, name):
    return client.get_json("vmi", "default", name).get("status", {}).get("phase")


def running_iso(client, state_dir, name):
    wait_until(lambda: phase(client, name) in ("Running", "Failed"), what=f"{name} to start")
    got = client.get_json("vmi", "default", name)
    assert got["status"]["phase"] == "Running", got["status"]
    return os.path.join(state_dir, "instances", got["metadata"]["uid"], "cfg.iso")


def test_config_map_and_secret_disks(client, state_dir):
    blob = bytes(range(256))
    client.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\n"
                 "data: {app.conf: \"port=8080\\n\", README: hello}\n"
                 f"binaryData: {{logo.bin: {base64.b64encode(blob).decode()}}}\n")
    client.apply(vmi("with-cm", "configMap: {name: app}"))
    iso = running_iso(client, state_dir, "with-cm")
    assert iso_volume_id(iso) == "cfgdata"
    assert iso_files(iso) == ["/README", "/app.conf", "/logo.bin"]
    assert iso_file(iso, "/app.conf") == "port=8080\n" and iso_file(iso, "/README") == "hello"
    raw = subprocess.run(["isoinfo", "-R", "-i", iso, "-x", "/logo.bin"], capture_output=True, check=True).stdout
    assert raw == blob, (len(raw), raw[:300])

    client.apply("apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {user: admin, pass: s3cret}\n")
    client.apply(vmi("with-secret", "secret: {secretName: creds, volumeLabel: OEMDRV}", disk="{name: cfg, disk: {}}"))
    iso = running_iso(client, state_dir, "with-secret")
    assert iso_volume_id(iso) == "OEMDRV"
    assert iso_files(iso) == ["/pass", "/user"]
    assert iso_file(iso, "/pass") == "s3cret" and iso_file(iso, "/user") == "admin"
    # the image goes with the instance
    client.delete("vmi", "default", "with-secret")
    wait_until(lambda: not os.path.exists(iso), what="the config disk to be removed")


def test_missing_object_waits_and_optional_is_empty(client, state_dir):
    client.apply(vmi("waits", "configMap: {name: later}"))
    wait_until(lambda: client.get_json("vmi", "default", "waits").get("status", {}).get("conditions"),
               what="the instance to say why it waits")
    st = client.get_json("vmi", "default", "waits")["status"]
    assert st["phase"] == "Pending", st
    msgs = [c.get("message", "") for c in st["conditions"]]
    assert any('MountVolume.SetUp failed for volume "cfg" : configmap "later" not found' in m for m in msgs), st
    assert any(c.get("reason") == "FailedMount" for c in st["conditions"]), st
    client.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: later}\ndata: {k: v}\n")
    iso = running_iso(client, state_dir, "waits")
    assert iso_files(iso) == ["/k"]

    client.apply(vmi("optional", "secret: {secretName: absent, optional: true}"))
    iso = running_iso(client, state_dir, "optional")
    assert iso_volume_id(iso) == "cfgdata" and iso_files(iso) == []


def test_sysprep_disk(client, state_dir):
    client.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: unattend}\n"
                 "data: {Autounattend.xml: '<unattend/>', unattend.xml: '<u/>'}\n")
    client.apply(vmi("win", "sysprep: {configMap: {name: unattend}}"))
    iso = running_iso(client, state_dir, "win")
    assert iso_volume_id(iso) == "unattendCD"
    assert iso_files(iso) == ["/Autounattend.xml", "/unattend.xml"]
    assert iso_file(iso, "/Autounattend.xml") == "<unattend/>"
    # without autounattend.xml the instance fails, saying so (as virt-launcher)
    client.apply("apiVersion: v1\nkind: Secret\nmetadata: {name: wrong}\nstringData: {other.xml: x}\n")
    client.apply(vmi("win2", "sysprep: {secret: {name: wrong}}"))
    wait_until(lambda: phase(client, "win2") == "Failed", what="the instance to fail")
    msgs = [c.get("message", "") for c in client.get_json("vmi", "default", "win2")["status"].get("conditions", [])]
    assert any("should contain autounattend.xml" in m and "Secret wrong" in m for m in msgs), msgs


def test_config_volume_admission(client):
    msg = expect_error("Invalid", client.apply, vmi("bad", "configMap: {optional: true}"))
    assert "spec.volumes[0].configMap.name: Required value" in msg, msg
    msg = expect_error("Invalid", client.apply, vmi("bad", "secret: {}"))
    assert "spec.volumes[0].secret.secretName: Required value" in msg, msg
    msg = expect_error("Invalid", client.apply, vmi("bad", "sysprep: {}"))
    assert "spec.volumes[0].sysprep" in msg and "one of configMap and secret" in msg, msg
    msg = expect_error("Invalid", client.apply, vmi("bad", "sysprep: {configMap: {name: a}, secret: {name: b}}"))
    assert "spec.volumes[0].sysprep" in msg, msg
    # still refused, with the reason
    msg = expect_error("NotSupported", client.apply, vmi("bad", "serviceAccount: {serviceAccountName: default}"))
    assert "serviceAccount" in msg, msg


def test_sysprep_with_unattend_xml_and_messages(client, state_dir):
    # unattend.xml alone will do (KubeVirt's validateUnattendPresence)
    client.apply("apiVersion: v1\nkind: Secret\nmetadata: {name: late-unattend}\nstringData: {unattend.xml: <u/>}\n")
    client.apply(vmi("win3", "sysprep: {secret: {name: late-unattend}}"))
    assert iso_files(running_iso(client, state_dir, "win3")) == ["/unattend.xml"]
    # a missing sysprep object says which volume, as the others
    client.apply(vmi("win4", "sysprep: {configMap: {name: nowhere}}"))
    wait_until(lambda: client.get_json("vmi", "default", "win4").get("status", {}).get("conditions"),
               what="the instance to say why it waits")
    msgs = [c.get("message", "") for c in client.get_json("vmi", "default", "win4")["status"]["conditions"]]
    assert any('MountVolume.SetUp failed for volume "cfg" : configmap "nowhere" not found' in m for m in msgs), msgs
    # of two volumes waiting, the worse one speaks (and first)
    client.apply("apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\nmetadata: {name: two}\n"
                 "spec:\n  domain: {memory: {guest: 64Mi}}\n"
                 "  volumes: [{name: cfg, configMap: {name: absent}}, {name: data, persistentVolumeClaim: "
                 "{claimName: absent}}]\n")
    wait_until(lambda: client.get_json("vmi", "default", "two").get("status", {}).get("conditions"),
               what="the instance to say why it waits")
    conds = client.get_json("vmi", "default", "two")["status"]["conditions"]
    assert any(c.get("reason") == "FailedMount" and 'configmap "absent"' in c.get("message", "") for c in conds), conds


def test_volume_label_is_an_iso_volume_id(client):
    msg = expect_error("Invalid", client.apply, vmi("bad", "configMap: {name: a, volumeLabel: " + "L" * 33 + "}"))
    assert "spec.volumes[0].configMap.volumeLabel" in msg and "32" in msg, msg
