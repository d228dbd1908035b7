# SPDX-License-Identifier: LGPL-2.1-or-later
"""Golden images (docs/fleet.md): CDI's DataSource and DataImportCron.
A DataSource names the claim new DataVolumes clone from (spec.sourceRef,
also in a VM's dataVolumeTemplates); a DataImportCron polls a registry
(Debian's docker-registry on loopback, images pushed with skopeo), imports
each new digest into a DataVolume of its own, points its DataSource at the
newest and collects the old ones."""
import os

import pytest

from conftest import expect_error, path_encode, wait_until
from servers import Registry, image, layout

PVC_IFACE = "org.edgevirt.EdgeVirt1.PersistentVolumeClaim"
DISK = 4 << 20


def disk_bytes(tag):
    """A raw disk whose bytes say which version it is."""
    data = bytearray(DISK)
    for off in (0, 1 << 20, DISK - 4096):
        mark = f"golden image {tag} at {off}".encode()
        data[off:off + len(mark)] = mark
    return bytes(data)


def push(registry, tmp, tag, repo="golden/disk:latest"):
    d = os.path.join(str(tmp), f"oci-{tag}")
    layout(d, repo.split(":")[1], [image(d, [{"disk/": b"", "disk/disk.img": disk_bytes(tag)}])])
    registry.push(d, repo)


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("golden-reg")
    r = Registry(str(tmp))
    push(r, tmp, "v1", "golden/base:v1")
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


def test_refused_datasources(client):
    msg = expect_error("NotSupported", client.apply, "apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataSource\n"
                       "metadata: {name: chained}\nspec: {source: {dataSource: {name: other}}}\n")
    assert "spec.source.dataSource" in msg, msg
    msg = expect_error("Invalid", client.apply, "apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataSource\n"
                       "metadata: {name: two}\nspec: {source: {pvc: {name: a}, snapshot: {name: b}}}\n")
    assert "spec.source" in msg, msg
