# SPDX-License-Identifier: LGPL-2.1-or-later
"""Golden images (docs/fleet.md): CDI's DataSource and DataImportCron.
A DataSource names the claim new DataVolumes clone from (spec.sourceRef,
also in a VM's dataVolumeTemplates); a DataImportCron polls a registry
(Debian's docker-registry on loopback, images pushed with skopeo), imports
each new digest into a DataVolume of its own, points its DataSource at the
newest and collects the old ones."""
import json
import os
import subprocess
import urllib.request

import dbus
import pytest
import yaml

from conftest import BUILD, expect_error, path_encode, wait_until
from servers import Registry, image, layout

PVC_IFACE = "org.edgevirt.EdgeVirt1.PersistentVolumeClaim"
CTL = os.path.join(BUILD, "edgevirtctl", "edgevirtctl")
DEFAULT_IT = "instancetype.kubevirt.io/default-instancetype"
DEFAULT_PREF = "instancetype.kubevirt.io/default-preference"
DISK = 4 << 20


def disk_bytes(tag):
    """A raw disk whose bytes say which version it is."""
    data = bytearray(DISK)
    for off in (0, 1 << 20, DISK - 4096):
        mark = f"golden image {tag} at {off}".encode()
        data[off:off + len(mark)] = mark
    return bytes(data)


def push(registry, tmp, tag, repo="golden/disk:latest", labels=None):
    d = os.path.join(str(tmp), f"oci-{tag}")
    layout(d, repo.split(":")[1], [image(d, [{"disk/": b"", "disk/disk.img": disk_bytes(tag)}], labels=labels)])
    registry.push(d, repo)


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("golden-reg")
    r = Registry(str(tmp))
    # the image names its default instance type and preference, as containerdisks do
    push(r, tmp, "v1", "golden/base:v1", labels={"instancetype.kubevirt.io/default-instancetype": "u1.small",
                                                  "instancetype.kubevirt.io/default-preference": "fedora",
                                                  "org.opencontainers.image.title": "not copied"})
    yield r, tmp
    r.stop()


def status(client, kind, name, namespace="default"):
    return client.get_json(kind, namespace, name).get("status", {})


def condition(st, kind):
    return next((c for c in st.get("conditions", []) if c["type"] == kind), {})


def volume(client, name, namespace="default"):
    path = f"/org/edgevirt/EdgeVirt1/namespace/{path_encode(namespace)}/pvc/{path_encode(name)}"
    return str(client.props(path, PVC_IFACE)["VolumePath"])


def holds(client, name, tag, namespace="default"):
    with open(volume(client, name, namespace), "rb") as f:
        return f.read(DISK) == disk_bytes(tag)


def succeeded(client, name, namespace="default", timeout=60):
    wait_until(lambda: client.exists("dv", namespace, name) and
               status(client, "dv", name, namespace).get("phase") in ("Succeeded", "Failed"),
               timeout=timeout, what=f"DataVolume {name} to finish")
    st = status(client, "dv", name, namespace)
    assert st["phase"] == "Succeeded", st
    return st


def datasource(name, pvc, namespace="default"):
    return (f"apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataSource\nmetadata: {{name: {name}, namespace: {namespace}}}\n"
            f"spec:\n  source: {{pvc: {{name: {pvc}, namespace: default}}}}\n")


def ref_dv(name, source, namespace="default", extra=""):
    return (f"apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\nmetadata: {{name: {name}, namespace: {namespace}}}\n"
            f"spec:\n  sourceRef: {{kind: DataSource, name: {source}{extra}}}\n  storage: {{}}\n")


def ready(client, name, namespace="default"):
    return condition(status(client, "datasource", name, namespace), "Ready").get("status") == "True"


def import_base(client, reg):
    client.apply("apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\nmetadata: {name: base}\n"
                 f"spec:\n  source: {{registry: {{url: 'docker://{reg.host}/golden/base:v1'}}}}\n"
                 "  storage: {resources: {requests: {storage: 16Mi}}}\n")


def test_datasource_and_source_ref_clones(client, registry):
    import_base(client, registry[0])
    client.apply(datasource("base-os", "base"))
    succeeded(client, "base")
    wait_until(lambda: ready(client, "base-os"), what="the DataSource to be Ready")
    st = status(client, "datasource", "base-os")
    assert st["source"] == {"pvc": {"name": "base", "namespace": "default"}}
    # the image's labels, recorded on the claim and taken by the DataSource (as CDI)
    for kind, name in (("pvc", "base"), ("das", "base-os")):
        labels = client.get_json(kind, "default", name)["metadata"].get("labels", {})
        assert labels.get(DEFAULT_IT) == "u1.small" and labels.get(DEFAULT_PREF) == "fedora", (kind, labels)
        assert "org.opencontainers.image.title" not in labels
    assert condition(st, "Ready")["reason"] == "Ready"

    # a clone by reference, in another namespace too
    client.manager.CreateNamespace("golden-other", {})
    client.apply(ref_dv("by-ref", "base-os") + "---\n" + ref_dv("by-ref", "base-os", "golden-other", ", namespace: default"))
    succeeded(client, "by-ref")
    succeeded(client, "by-ref", "golden-other")
    assert holds(client, "by-ref", "v1") and holds(client, "by-ref", "v1", "golden-other")
    assert client.get_json("pvc", "default", "by-ref")["spec"]["dataSourceRef"]["name"] == "base"
    assert client.get_json("pvc", "default", "by-ref")["status"]["capacity"]["storage"] == "16Mi"

    # a VM's dataVolumeTemplates
    client.apply("apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata: {name: from-golden}\nspec:\n"
                 "  runStrategy: Halted\n"
                 "  dataVolumeTemplates:\n"
                 "  - metadata: {name: from-golden-root}\n"
                 "    spec: {sourceRef: {kind: DataSource, name: base-os}, storage: {}}\n"
                 "  template:\n    spec:\n      domain: {devices: {}, resources: {requests: {memory: 64Mi}}}\n"
                 "      volumes: [{name: root, dataVolume: {name: from-golden-root}}]\n")
    succeeded(client, "from-golden-root")
    assert holds(client, "from-golden-root", "v1")
    # and a VM infers them from the volume
    client.apply(infer_vm("inferred-from-image", source="base-os"))
    spec = client.get_json("vm", "default", "inferred-from-image")["spec"]
    assert spec["instancetype"] == {"name": "u1.small", "kind": "VirtualMachineClusterInstancetype"}
    assert spec["preference"] == {"name": "fedora", "kind": "VirtualMachineClusterPreference"}


def test_source_ref_waits_for_its_datasource(client, registry):
    import_base(client, registry[0])
    client.apply(ref_dv("early", "later-os"))
    wait_until(lambda: "later-os" in condition(status(client, "dv", "early"), "Ready").get("message", ""),
               what="the DataVolume to say what it waits for")
    assert status(client, "dv", "early")["phase"] == "Pending"
    assert "not found" in condition(status(client, "dv", "early"), "Ready")["message"]
    # a DataSource whose claim is missing is not Ready, and says so
    client.apply(datasource("later-os", "later-claim"))
    wait_until(lambda: condition(status(client, "datasource", "later-os"), "Ready").get("reason") == "NotFound",
               what="the DataSource to say its claim is missing")
    assert status(client, "dv", "early")["phase"] == "Pending"
    succeeded(client, "base")
    assert status(client, "dv", "early")["phase"] == "Pending"
    client.apply(datasource("later-os", "base"))
    succeeded(client, "early")
    assert holds(client, "early", "v1")


@pytest.mark.parametrize("spec,error,fragment", [
    ("{source: {blank: {}}, sourceRef: {kind: DataSource, name: x}, storage: {}}", "Invalid", "not both"),
    ("{sourceRef: {kind: PersistentVolumeClaim, name: x}, storage: {}}", "Invalid", "spec.sourceRef.kind"),
    ("{sourceRef: {kind: DataSource}, storage: {}}", "Invalid", "spec.sourceRef.name"),
])
def test_refused_source_refs(client, spec, error, fragment):
    msg = expect_error(error, client.apply, "apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\n"
                       f"metadata: {{name: bad-ref}}\nspec: {spec}\n")
    assert fragment in msg, msg


def pointer(name, target, namespace="default"):
    return (f"apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataSource\nmetadata: {{name: {name}}}\n"
            f"spec:\n  source: {{dataSource: {{name: {target}, namespace: {namespace}}}}}\n")


def reason_is(client, name, reason):
    return condition(status(client, "datasource", name), "Ready").get("reason") == reason


def test_datasource_pointing_at_another(client, registry):
    """CDI's DataSource pointers: spec.source.dataSource takes the source of
    another DataSource of the namespace (one step), follows it as it
    changes, and says with CDI's reasons when it cannot."""
    import_base(client, registry[0])
    # before its target exists: NotFound, in CDI's words
    client.apply(pointer("current-os", "base-os"))
    wait_until(lambda: reason_is(client, "current-os", "NotFound"), what="the pointer to miss its target")
    st = status(client, "datasource", "current-os")
    assert condition(st, "Ready")["message"] == 'datasources.cdi.kubevirt.io "base-os" not found', st
    assert st["source"] == {}
    client.apply(datasource("base-os", "base"))
    succeeded(client, "base")
    wait_until(lambda: ready(client, "current-os"), what="the pointer to follow its target to Ready")
    pst = status(client, "datasource", "current-os")
    assert pst["source"] == {"pvc": {"name": "base", "namespace": "default"}}, pst
    # the resolved import's instance type labels are the pointer's too (CDI's CopyAllowedLabels)
    labels = client.get_json("das", "default", "current-os")["metadata"].get("labels", {})
    assert labels.get(DEFAULT_IT) == "u1.small" and labels.get(DEFAULT_PREF) == "fedora", labels
    # a DataVolume clones through it
    client.apply(ref_dv("via-pointer", "current-os"))
    succeeded(client, "via-pointer")
    assert holds(client, "via-pointer", "v1")
    assert client.get_json("pvc", "default", "via-pointer")["spec"]["dataSourceRef"]["name"] == "base"

    # one step only; same namespace only
    client.apply(pointer("chained-os", "current-os"))
    wait_until(lambda: reason_is(client, "chained-os", "MaxReferenceDepthReached"), what="the chain's refusal")
    assert "maximum depth of 1" in condition(status(client, "datasource", "chained-os"), "Ready")["message"]
    assert status(client, "datasource", "chained-os")["source"] == {}
    client.apply(pointer("across-os", "base-os", "golden-elsewhere"))
    wait_until(lambda: reason_is(client, "across-os", "CrossNamespaceReference"), what="the cross-namespace refusal")
    # itself (CDI takes it and says so); a target without a source
    client.apply(pointer("self-os", "self-os", "''"))
    wait_until(lambda: reason_is(client, "self-os", "SelfReference"), what="the self-reference")
    assert condition(status(client, "datasource", "self-os"), "Ready")["message"] == "DataSource cannot self-reference"
    client.apply("apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataSource\nmetadata: {name: empty-os}\n")
    client.apply(pointer("at-empty-os", "empty-os"))
    wait_until(lambda: reason_is(client, "at-empty-os", "NoSource"), what="the pointer at a DataSource without a source")

    # the target moves to a missing claim, then goes: the pointer follows
    client.apply(datasource("base-os", "no-such-claim"))
    wait_until(lambda: reason_is(client, "current-os", "NotFound") and
               condition(status(client, "datasource", "current-os"), "Ready")["message"] == "PVC not found",
               what="the pointer to follow its target off its claim")
    assert status(client, "datasource", "current-os")["source"] == {}
    client.apply(datasource("base-os", "base"))
    wait_until(lambda: ready(client, "current-os"), what="the pointer to be Ready again")
    client.delete("datasource", "default", "base-os")
    wait_until(lambda: reason_is(client, "current-os", "NotFound"), what="the pointer to see its target gone")
    # and a DataVolume cloning from it waits, saying why
    client.apply(ref_dv("via-dangling", "current-os"))
    wait_until(lambda: "base-os" in condition(status(client, "dv", "via-dangling"), "Ready").get("message", ""),
               what="the DataVolume to say what it waits for")
    assert status(client, "dv", "via-dangling")["phase"] == "Pending"

    # a target held by a finalizer while it is deleted is not reconciled: its pointer still follows its claim
    client.apply(datasource("held-os", "base").replace("metadata: {", "metadata: {finalizers: [example.com/hold], "))
    client.apply(pointer("at-held-os", "held-os"))
    wait_until(lambda: ready(client, "at-held-os"), what="the pointer at the held DataSource")
    client.delete("datasource", "default", "held-os")
    assert client.exists("datasource", "default", "held-os")
    client.delete("dv", "default", "base")
    wait_until(lambda: reason_is(client, "at-held-os", "NotFound"), what="the pointer to see the held target's claim go")


def test_refused_datasources(client):
    msg = expect_error("Invalid", client.apply, "apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataSource\n"
                       "metadata: {name: two}\nspec: {source: {pvc: {name: a}, snapshot: {name: b}}}\n")
    assert "spec.source" in msg, msg
    msg = expect_error("Invalid", client.apply, "apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataSource\n"
                       "metadata: {name: nameless}\nspec: {source: {dataSource: {namespace: default}}}\n")
    assert "spec.source.dataSource.name" in msg, msg


def manifest_digest(reg, repo="golden/disk", tag="latest"):
    req = urllib.request.Request(f"http://{reg.host}/v2/{repo}/manifests/{tag}", method="HEAD", headers={
        "Accept": "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"})
    with urllib.request.urlopen(req) as r:
        return r.headers["Docker-Content-Digest"]


def cron(reg, schedule="0 0 1 1 *", keep=1, extra="", labels=""):
    return ("apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataImportCron\n"
            f"metadata: {{name: fedora-cron, labels: {{{labels}}}}}\nspec:\n"
            f"  schedule: '{schedule}'\n  managedDataSource: fedora\n  importsToKeep: {keep}\n{extra}"
            "  template:\n    spec:\n"
            f"      source: {{registry: {{url: 'docker://{reg.host}/golden/disk:latest'}}}}\n"
            "      storage: {resources: {requests: {storage: 16Mi}}}\n")


def points_at(client, name):
    st = status(client, "datasource", "fedora")
    return ready(client, "fedora") and st.get("source", {}).get("pvc", {}).get("name") == name


def test_data_import_cron_rolls_forward_and_collects(client, bus, tmp_path):
    reg = Registry(str(tmp_path))
    try:
        push(reg, tmp_path, "v1")
        d1 = manifest_digest(reg)
        first = "fedora-" + d1[len("sha256:"):][:12]
        # polled at creation: the digest is imported, the DataSource made and pointed at it
        client.apply(cron(reg))
        wait_until(lambda: points_at(client, first), timeout=60, what="the DataSource to point at the first import")
        st = status(client, "dataimportcron", "fedora-cron")
        assert st["currentImports"] == [{"dataVolumeName": first, "digest": d1}]
        assert st["lastImportedPVC"] == {"name": first, "namespace": "default"}
        assert condition(st, "UpToDate")["status"] == "True" and st["sourceFormat"] == "pvc"
        dv = client.get_json("dv", "default", first)
        assert dv["metadata"]["labels"]["cdi.kubevirt.io/dataImportCron"] == "fedora-cron"
        assert dv["spec"]["source"]["registry"]["url"] == f"docker://{reg.host}/golden/disk@{d1}"
        ds = client.get_json("datasource", "default", "fedora")
        assert ds["metadata"]["labels"]["cdi.kubevirt.io/dataImportCron"] == "fedora-cron"
        assert holds(client, first, "v1")
        client.apply(ref_dv("vm-one", "fedora"))
        succeeded(client, "vm-one")
        assert holds(client, "vm-one", "v1")

        # a new digest under the same tag; a change of the spec polls again (as CDI)
        push(reg, tmp_path, "v2")
        d2 = manifest_digest(reg)
        assert d2 != d1
        second = "fedora-" + d2[len("sha256:"):][:12]
        client.apply(cron(reg, schedule="0 0 1 2 *"))
        wait_until(lambda: points_at(client, second), timeout=60, what="the DataSource to roll forward")
        assert holds(client, second, "v2")
        # importsToKeep 1: the old import and its claim are collected
        wait_until(lambda: not client.exists("dv", "default", first) and not client.exists("pvc", "default", first),
                   what="the old import to be collected")
        client.apply(ref_dv("vm-two", "fedora"))
        succeeded(client, "vm-two")
        assert holds(client, "vm-two", "v2") and holds(client, "vm-one", "v1")
        st = status(client, "dataimportcron", "fedora-cron")
        assert st["currentImports"][0]["digest"] == d2 and condition(st, "UpToDate")["status"] == "True"
    finally:
        reg.stop()

    # offline: the registry is gone; a poll fails, the DataSource stays, the cron says why
    client.apply(cron(reg, schedule="0 0 1 3 *"))
    wait_until(lambda: condition(status(client, "dataimportcron", "fedora-cron"), "UpToDate").get("reason") ==
               "PollFailed", timeout=30, what="the failed poll to show")
    msg = condition(status(client, "dataimportcron", "fedora-cron"), "UpToDate")["message"]
    assert reg.host in msg and f"stays on {second}" in msg, msg
    assert points_at(client, second) and client.exists("dv", "default", second)

    # the USB stick: the template's image loaded from an archive into the image
    # cache; the next poll, the registry still gone, rolls forward from the cache
    d = str(tmp_path / "oci-v3")
    layout(d, "latest", [image(d, [{"disk/": b"", "disk/disk.img": disk_bytes("v3")}])])
    archive = str(tmp_path / "v3.tar")
    subprocess.run(["skopeo", "copy", "-q", f"oci:{d}:latest", f"oci-archive:{archive}:{reg.host}/golden/disk:latest"],
                   check=True, capture_output=True)
    with open(archive, "rb") as f:
        loaded = client.manager.LoadImages(dbus.types.UnixFd(f), "", dbus.Dictionary({}, signature="sv"))
    d3 = str(loaded[0][1])
    third = "fedora-" + d3[len("sha256:"):][:12]
    client.apply(cron(reg, schedule="0 0 1 4 *"))
    wait_until(lambda: points_at(client, third), timeout=60, what="the DataSource to roll forward from the cache")
    assert holds(client, third, "v3")
    st = status(client, "dataimportcron", "fedora-cron")
    assert condition(st, "UpToDate")["status"] == "True", st
    assert [e for e in client.list("event", "default")["items"] if e["reason"] == "ImageFromCache"
            and d3 in e["message"] and e["involvedObject"]["name"] == "fedora-cron"]

    # edgevirtctl: kubectl's names and columns; export leaves what the cron makes to the cron
    def ctl(*args):
        env = dict(os.environ, EDGEVIRT_BUS=bus.address, XDG_CONFIG_HOME=str(tmp_path / "config"), LC_ALL="C")
        return subprocess.run([CTL, *args], capture_output=True, text=True, env=env, check=True).stdout
    assert ctl("get", "dic").split() == ["NAME", "FORMAT", "fedora-cron", "pvc"]
    assert ctl("get", "das", "fedora").split()[:3] == ["NAME", "AGE", "fedora"]
    assert "fedora-cron" in ctl("describe", "dataimportcron", "fedora-cron")
    exported = [d for d in yaml.safe_load_all(ctl("export")) if d]
    kinds = {(d["kind"], d["metadata"]["name"]) for d in exported}
    assert ("DataImportCron", "fedora-cron") in kinds and ("DataVolume", "vm-two") in kinds
    assert ("DataSource", "fedora") not in kinds and ("DataVolume", second) not in kinds


def test_retention_none_takes_imports_along(client, tmp_path):
    reg = Registry(str(tmp_path))
    try:
        push(reg, tmp_path, "v1")
        name = "fedora-" + manifest_digest(reg)[len("sha256:"):][:12]
        client.apply(cron(reg, extra="  retentionPolicy: None\n",
                          labels=f"'{DEFAULT_IT}': u1.small, '{DEFAULT_PREF}': fedora, other: x"))
        wait_until(lambda: points_at(client, name), timeout=60, what="the first import")
        # the cron's default instance type and preference go to its imports and its DataSource, as CDI's
        for kind in ("dv", "das"):
            labels = client.get_json(kind, "default", name if kind == "dv" else "fedora")["metadata"]["labels"]
            assert labels[DEFAULT_IT] == "u1.small" and labels[DEFAULT_PREF] == "fedora" and "other" not in labels
    finally:
        reg.stop()
    client.delete("dataimportcron", "default", "fedora-cron")
    wait_until(lambda: not any(client.exists(k, "default", n) for k, n in
                               (("dic", "fedora-cron"), ("dv", name), ("pvc", name), ("das", "fedora"))),
               what="the cron, its import and its DataSource to go")


@pytest.mark.parametrize("change,error,fragment", [
    ("schedule: '61 * * * *'", "Invalid", "spec.schedule: Invalid value: minute: \"61\""),
    ("schedule: '@every 5m'", "Invalid", "spec.schedule"),
    ("importsToKeep: -1", "Invalid", "spec.importsToKeep"),
    ("managedDataSource: Not_A_Name", "Invalid", "spec.managedDataSource"),
    ("serviceAccountName: importer", "NotSupported", "spec.serviceAccountName"),
    ("template: {spec: {source: {http: {url: 'http://x/y'}}, storage: {resources: {requests: {storage: 1Gi}}}}}",
     "NotSupported", "spec.template.spec.source.registry.url"),
    ("template: {spec: {source: {registry: {url: 'docker://x/y'}}}}", "Invalid", "spec.template: spec.storage"),
])
def test_refused_data_import_crons(client, change, error, fragment):
    doc = {"apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataImportCron", "metadata": {"name": "bad-cron"},
           "spec": {"schedule": "@daily", "managedDataSource": "fedora",
                    "template": {"spec": {"source": {"registry": {"url": "docker://x/y:1"}},
                                          "storage": {"resources": {"requests": {"storage": "1Gi"}}}}}}}
    key, value = change.split(": ", 1)
    doc["spec"][key] = yaml.safe_load(value)
    msg = expect_error(error, client.apply, json.dumps(doc))
    assert fragment in msg, msg


def infer_vm(name, policy="Reject", source="labelled-os", domain="{devices: {}}"):
    return (f"apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata: {{name: {name}}}\nspec:\n"
            "  runStrategy: Halted\n"
            f"  instancetype: {{inferFromVolume: root, inferFromVolumeFailurePolicy: {policy}}}\n"
            f"  preference: {{inferFromVolume: root, inferFromVolumeFailurePolicy: {policy}}}\n"
            f"  dataVolumeTemplates:\n  - metadata: {{name: {name}-root}}\n"
            f"    spec: {{sourceRef: {{kind: DataSource, name: {source}}}, storage: {{}}}}\n"
            f"  template:\n    spec:\n      domain: {domain}\n"
            f"      volumes: [{{name: root, dataVolume: {{name: {name}-root}}}}]\n")


def test_infer_from_volume(client):
    """KubeVirt's inferFromVolume reads the default-instancetype/preference
    labels a DataSource took from its claim (CDI's CopyAllowedLabels)."""
    client.apply("apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\n"
                 f"metadata: {{name: labelled, labels: {{'{DEFAULT_IT}': u1.medium, '{DEFAULT_PREF}': fedora, "
                 f"'{DEFAULT_PREF}-kind': VirtualMachinePreference}}}}\n"
                 "spec: {source: {blank: {}}, storage: {resources: {requests: {storage: 16Mi}}}}\n")
    client.apply(datasource("labelled-os", "labelled") + "---\n" + datasource("plain-os", "plain"))
    client.apply("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: plain}\n"
                 "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 16Mi}}}\n")
    wait_until(lambda: ready(client, "labelled-os") and ready(client, "plain-os"), what="the DataSources")
    labels = client.get_json("das", "default", "labelled-os")["metadata"]["labels"]
    assert labels[DEFAULT_IT] == "u1.medium" and labels[DEFAULT_PREF + "-kind"] == "VirtualMachinePreference"

    client.apply(infer_vm("inferred"))
    spec = client.get_json("vm", "default", "inferred")["spec"]
    assert spec["instancetype"] == {"name": "u1.medium", "kind": "VirtualMachineClusterInstancetype"}
    assert spec["preference"] == {"name": "fedora", "kind": "VirtualMachinePreference"}

    # no label: Reject refuses the VM naming what is missing, Ignore drops the matcher
    msg = expect_error("Invalid", client.apply, infer_vm("rejected", source="plain-os"))
    assert "spec.instancetype.inferFromVolume" in msg and DEFAULT_IT in msg, msg
    client.apply(infer_vm("ignored", policy="Ignore", source="plain-os",
                          domain="{devices: {}, resources: {requests: {memory: 64Mi}}}"))
    spec = client.get_json("vm", "default", "ignored")["spec"]
    assert "instancetype" not in spec and "preference" not in spec
    msg = expect_error("NotFound", client.apply, infer_vm("nowhere", source="missing-os"))
    assert "DataSource default/missing-os not found" in msg, msg


def test_a_restart_polls_again(client, daemon, tmp_path):
    """The cron, its imports and its DataSource survive SIGKILL, and the
    daemon polls once more when it starts: a digest pushed meanwhile rolls
    the DataSource forward without a change to the cron."""
    reg = Registry(str(tmp_path))
    try:
        push(reg, tmp_path, "v1")
        first = "fedora-" + manifest_digest(reg)[len("sha256:"):][:12]
        client.apply(cron(reg))
        wait_until(lambda: points_at(client, first), timeout=60, what="the first import")
        push(reg, tmp_path, "v2")
        second = "fedora-" + manifest_digest(reg)[len("sha256:"):][:12]
        daemon.restart()
        wait_until(lambda: points_at(client, second), timeout=60, what="the DataSource to roll forward")
        assert holds(client, second, "v2")
        st = status(client, "dataimportcron", "fedora-cron")
        assert condition(st, "UpToDate")["status"] == "True" and st["currentImports"][0]["dataVolumeName"] == second
    finally:
        reg.stop()


def test_the_schedule_polls(client, tmp_path):
    """"* * * * *" polls at the next whole minute (at most one minute of
    waiting: the only test here that waits for the clock)."""
    reg = Registry(str(tmp_path))
    try:
        push(reg, tmp_path, "v1")
        first = "fedora-" + manifest_digest(reg)[len("sha256:"):][:12]
        client.apply(cron(reg, schedule="* * * * *"))
        wait_until(lambda: points_at(client, first), timeout=60, what="the first import")
        push(reg, tmp_path, "v2")
        second = "fedora-" + manifest_digest(reg)[len("sha256:"):][:12]
        wait_until(lambda: points_at(client, second), timeout=90, what="the schedule to poll and roll forward")
        assert holds(client, second, "v2")
    finally:
        reg.stop()
