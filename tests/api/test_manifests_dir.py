# SPDX-License-Identifier: LGPL-2.1-or-later
"""The manifests directories (daemon/manifests-dir.c, docs/fleet.md): applied
at start and on change, vendor files replaced and masked by the admin's,
objects pruned when they leave their file, API objects never pruned, a
bad file changing nothing."""
import json
import os
import subprocess

import pytest
import yaml

from conftest import BUILD, Client, Daemon, wait_until

CTL = os.path.join(BUILD, "edgevirtctl", "edgevirtctl")

ANNOTATION = "edgevirt.io/manifest-file"

SITE = """apiVersion: v1
kind: Namespace
metadata: {name: site}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: site}
data: {mode: edge}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: extra, namespace: site}
data: {x: "1"}
"""


@pytest.fixture
def dirs(tmp_path):
    vendor, admin = tmp_path / "vendor.d", tmp_path / "admin.d"
    vendor.mkdir()
    admin.mkdir()
    return vendor, admin


@pytest.fixture
def started(bus, state_dir, dirs):
    vendor, admin = dirs
    d = Daemon(bus, state_dir)
    with open(d.config, "w") as f:
        f.write(f"[Manifests]\nDirectory={admin}\nVendorDirectory={vendor}\n")
    yield d
    d.stop()


def cm(client, ns, name):
    return json.loads(client.get("configmap", ns, name))


def exists(client, kind, ns, name):
    return client.exists(kind, ns, name)


def test_applied_at_start_with_the_annotation(bus, started, dirs):
    vendor, admin = dirs
    (admin / "10-site.yaml").write_text(SITE)
    started.start()
    client = Client(bus.conn)
    doc = cm(client, "site", "settings")
    assert doc["data"] == {"mode": "edge"}
    assert doc["metadata"]["annotations"][ANNOTATION] == "10-site.yaml"
    ns = json.loads(client.get("namespace", "", "site"))
    assert ns["metadata"]["annotations"][ANNOTATION] == "10-site.yaml"

    # edgevirtctl describe says where it came from, and stays YAML
    env = dict(os.environ, EDGEVIRT_BUS=bus.address, LC_ALL="C")
    r = subprocess.run([CTL, "describe", "configmap", "settings", "-n", "site"], capture_output=True, text=True,
                       env=env, timeout=60, check=True)
    assert r.stdout.startswith("# Source: the manifests file 10-site.yaml of the host"), r.stdout
    assert yaml.safe_load(r.stdout)["data"] == {"mode": "edge"}
    client.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: plain, namespace: site}\n")
    r = subprocess.run([CTL, "describe", "configmap", "plain", "-n", "site"], capture_output=True, text=True,
                       env=env, timeout=60, check=True)
    assert "Source:" not in r.stdout


def test_change_prune_and_api_objects(bus, started, dirs):
    vendor, admin = dirs
    site = admin / "10-site.yaml"
    site.write_text(SITE)
    started.start()
    client = Client(bus.conn)
    # made through the API in the same namespace: never pruned
    client.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: mine, namespace: site}\ndata: {a: b}\n")

    # a changed value is applied again
    site.write_text(SITE.replace("mode: edge", "mode: central"))
    wait_until(lambda: cm(client, "site", "settings")["data"] == {"mode": "central"}, what="the change applied")

    # a document that leaves its file goes; the others and the API's stay
    site.write_text(SITE.split("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra")[0])
    wait_until(lambda: not exists(client, "configmap", "site", "extra"), what="extra pruned")
    assert exists(client, "configmap", "site", "settings")
    assert exists(client, "configmap", "site", "mine")

    # a new file in the same namespace
    (admin / "20-more.json").write_text(json.dumps(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "more", "namespace": "site"}}))
    wait_until(lambda: exists(client, "configmap", "site", "more"), what="the new file applied")
    assert cm(client, "site", "more")["metadata"]["annotations"][ANNOTATION] == "20-more.json"

    # the file goes: its objects go, the other file's stay
    os.unlink(admin / "20-more.json")
    wait_until(lambda: not exists(client, "configmap", "site", "more"), what="the file's objects pruned")
    assert exists(client, "configmap", "site", "settings")


def test_bad_file_changes_nothing_and_says_where(bus, started, dirs):
    vendor, admin = dirs
    site = admin / "10-site.yaml"
    site.write_text(SITE)
    started.start()
    client = Client(bus.conn)
    before = cm(client, "site", "settings")

    # not YAML: nothing changes, nothing is pruned
    site.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [broken\n")
    wait_until(lambda: "10-site.yaml" in started.read_log() and "nothing of it changed" in started.read_log(),
               what="the parse error logged")
    assert cm(client, "site", "settings") == before
    assert exists(client, "configmap", "site", "extra")

    # valid YAML, an invalid field in the third document: the line and field
    bad = SITE.replace('data: {x: "1"}', "data: {x: 1}\nspec: {}")
    site.write_text(bad)
    # the document starts at its "---", three lines above its metadata (1-based: index - 2)
    line = bad.split("\n").index("metadata: {name: extra, namespace: site}") - 2
    wait_until(lambda: f"10-site.yaml, line {line}: document 3 (ConfigMap site/extra)" in started.read_log(),
               what="the admission error logged")
    log = started.read_log()
    assert "data.x: must be a string" in log, log
    assert cm(client, "site", "settings") == before
    assert exists(client, "configmap", "site", "extra")
    # and an operator reading events sees both refusals, about the file
    def rejections():
        return [e for e in client.list("event", "default")["items"] if e["reason"] == "ManifestRejected"]
    wait_until(lambda: len(rejections()) == 2, what="two ManifestRejected events")
    for e in rejections():
        assert e["type"] == "Warning"
        assert e["involvedObject"]["kind"] == "ManifestFile" and e["involvedObject"]["name"] == "10-site.yaml"
        assert e["involvedObject"]["fieldPath"] == str(site)
    assert any(f"line {line}: document 3 (ConfigMap site/extra): data.x: must be a string" in e["message"]
               for e in rejections()), rejections()

    # fixed: applied again
    site.write_text(SITE.replace("mode: edge", "mode: fixed"))
    wait_until(lambda: cm(client, "site", "settings")["data"] == {"mode": "fixed"}, what="the fixed file applied")


def test_vendor_replaced_and_masked(bus, started, dirs, tmp_path):
    vendor, admin = dirs
    (vendor / "50-defaults.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: defaults}\ndata: {from: vendor}\n")
    (vendor / "60-other.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\ndata: {from: vendor}\n")
    (admin / "50-defaults.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: defaults}\ndata: {from: admin}\n")
    started.start()
    client = Client(bus.conn)
    assert cm(client, "default", "defaults")["data"] == {"from": "admin"}
    assert cm(client, "default", "other")["data"] == {"from": "vendor"}

    # an empty file of the same name masks the vendor's: its objects go
    (admin / "60-other.yaml").write_text("")
    wait_until(lambda: not exists(client, "configmap", "default", "other"), what="the masked file's objects pruned")

    # the admin's copy removed: the vendor's applies again
    os.unlink(admin / "50-defaults.yaml")
    wait_until(lambda: cm(client, "default", "defaults")["data"] == {"from": "vendor"}, what="the vendor's copy")


def test_directory_made_later_and_namespace_in_another_file(bus, started, dirs, tmp_path):
    vendor, admin = dirs
    os.rmdir(admin)
    started.start()
    client = Client(bus.conn)
    staging = tmp_path / "staging"
    staging.mkdir()
    # the objects' file sorts before the file that makes their namespace
    (staging / "00-apps.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app, namespace: later}\ndata: {a: b}\n")
    (staging / "99-namespace.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: later}\n")
    os.rename(staging, admin)
    wait_until(lambda: exists(client, "configmap", "later", "app"), what="the new directory applied")


def test_survives_restart_without_churn(bus, started, dirs):
    vendor, admin = dirs
    (admin / "10-site.yaml").write_text(SITE)
    started.start()
    client = Client(bus.conn)
    rv = cm(client, "site", "settings")["metadata"]["resourceVersion"]
    started.restart()
    client = Client(bus.conn)
    assert cm(client, "site", "settings")["metadata"]["resourceVersion"] == rv


def test_a_clone_of_a_file_vm_is_not_pruned(bus, started, dirs):
    """A VirtualMachineClone copies the source's annotations: the clone
    (made through the API) must not carry the file's, or the file's next
    sync would delete it and its disks."""
    from test_snapshots import VM
    vendor, admin = dirs
    site = admin / "30-box.yaml"
    site.write_text(VM)
    started.start()
    client = Client(bus.conn)
    client.apply("apiVersion: clone.kubevirt.io/v1beta1\nkind: VirtualMachineClone\nmetadata: {name: copy}\nspec:\n"
                 "  source: {apiGroup: kubevirt.io, kind: VirtualMachine, name: box}\n"
                 "  target: {apiGroup: kubevirt.io, kind: VirtualMachine, name: box-2}\n")
    wait_until(lambda: client.get_json("vmclone", "default", "copy").get("status", {}).get("phase") == "Succeeded",
               timeout=60, what="the clone")
    clone = client.get_json("vm", "default", "box-2")
    assert ANNOTATION not in clone["metadata"].get("annotations", {})
    # the file changes (a sync runs): the source stays, so does the clone
    site.write_text(VM.replace("storage: 8Mi", "storage: 16Mi"))
    wait_until(lambda: client.get_json("pvc", "default", "disk")["spec"]["resources"]["requests"]["storage"] == "16Mi",
               what="the file applied again")
    assert client.exists("vm", "default", "box-2") and client.exists("vm", "default", "box")


def test_a_link_to_dev_null_masks_and_dev_zero_is_refused(bus, started, dirs):
    vendor, admin = dirs
    (vendor / "50-x.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-x}\n")
    (vendor / "60-y.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-y}\n")
    started.start()
    client = Client(bus.conn)
    assert client.exists("configmap", "default", "cm-x") and client.exists("configmap", "default", "cm-y")
    os.symlink("/dev/null", admin / "50-x.yaml")
    wait_until(lambda: not client.exists("configmap", "default", "cm-x"), what="the masked file's object pruned")
    # a device that never ends is no mask and is not read: the vendor's cm-y stays
    os.symlink("/dev/zero", admin / "60-y.yaml")
    wait_until(lambda: "60-y.yaml: not a regular file (nor a link to /dev/null)" in started.read_log(),
               what="the refusal logged")
    assert client.exists("configmap", "default", "cm-y")
