# SPDX-License-Identifier: LGPL-2.1-or-later
"""VirtualMachinePools (pool.kubevirt.io) on libvirt's test driver: VMs
<pool>-<n> owned by the pool, per-VM DataVolumes <template>-<n>, scaling
up and down (highest ordinals first), a VM deleted by hand made again,
template changes reaching the VMs, paused pools, status, admission, and
edgevirtctl scale."""
import dbus

from conftest import expect_error, wait_until
from test_cli import complete, ctl  # noqa: F401 (the fixture)


def pool_yaml(name="web", replicas=2, labels="{app: web}", selector="{matchLabels: {app: web}}", extra="",
              strategy="Halted", dv_templates="", volumes="", disks="", api="pool.kubevirt.io/v1alpha1"):
    replicas_line = f"replicas: {replicas}" if replicas is not None else ""
    return f"""
apiVersion: {api}
kind: VirtualMachinePool
metadata: {{name: {name}}}
spec:
  {replicas_line}
  {extra}
  selector: {selector}
  virtualMachineTemplate:
    metadata: {{labels: {labels}, annotations: {{team: blue}}}}
    spec:
      runStrategy: {strategy}
      dataVolumeTemplates: [{dv_templates}]
      template:
        metadata: {{labels: {labels}}}
        spec:
          terminationGracePeriodSeconds: 0
          domain:
            memory: {{guest: 64Mi}}
            devices: {{disks: [{disks}]}}
          volumes: [{volumes}]
"""


def vm_names(client, ns="default"):
    return sorted(i["metadata"]["name"] for i in client.list("vm", ns)["items"]
                  if not i["metadata"].get("deletionTimestamp"))


def pool_events(client, name="web"):
    return [e for e in client.list("event", "default")["items"]
            if e["involvedObject"]["kind"] == "VirtualMachinePool" and e["involvedObject"]["name"] == name]


def wait_vms(client, want):
    wait_until(lambda: vm_names(client) == want, what=f"VMs {want} (are {vm_names(client)})")


def test_pool_makes_owned_vms_and_scales(client):
    client.apply(pool_yaml(replicas=3))
    wait_vms(client, ["web-0", "web-1", "web-2"])
    pool = client.get_json("vmpool", "default", "web")
    assert pool["apiVersion"] == "pool.kubevirt.io/v1beta1"
    vm = client.get_json("vm", "default", "web-1")
    owner = vm["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "VirtualMachinePool" and owner["uid"] == pool["metadata"]["uid"] and owner["controller"]
    assert vm["metadata"]["labels"]["app"] == "web" and vm["metadata"]["annotations"] == {"team": "blue"}
    assert vm["metadata"]["labels"]["kubevirt.io/vm-pool-revision-name"].startswith("web-")
    assert vm["spec"]["runStrategy"] == "Halted"
    wait_until(lambda: client.get_json("vmpool", "default", "web")["status"].get("replicas") == 3,
               what="status.replicas 3")
    status = client.get_json("vmpool", "default", "web")["status"]
    assert status["labelSelector"] == "app=web" and status["readyReplicas"] == 0

    # scale down: the highest ordinals go
    pool["spec"]["replicas"] = 1
    del pool["status"]
    client.apply(__import__("json").dumps(pool))
    wait_vms(client, ["web-0"])
    # what happened, as Events on the pool (KubeVirt's reasons)
    wait_until(lambda: {(e["reason"], e["message"]) for e in pool_events(client)} >= {
        ("SuccessfulCreate", "Created VM default/web-2"), ("SuccessfulDelete", "Deleted VM default/web-2"),
        ("SuccessfulDelete", "Deleted VM default/web-1")}, what="the pool's events")
    # a VM deleted by hand is made again, under its old name
    client.delete("vm", "default", "web-0")
    wait_until(lambda: client.exists("vm", "default", "web-0") and
               client.get_json("vm", "default", "web-0")["metadata"]["uid"] != vm["metadata"]["uid"],
               what="web-0 made again")
    # the pool's deletion takes its VMs
    client.delete("vmpool", "default", "web")
    wait_vms(client, [])


def test_large_scale_up_comes_in_bursts(client):
    """At most 10 VMs per reconcile (burstReplicas): the rest on the next passes."""
    client.apply(pool_yaml(replicas=13))
    wait_vms(client, sorted(f"web-{i}" for i in range(13)))
    client.delete("vmpool", "default", "web")
    wait_vms(client, [])


def test_lowest_free_ordinals_and_foreign_vms(client):
    # a VM of a pool's name that the pool does not own is left alone and skipped
    client.apply("""
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: web-0, labels: {app: web}}
spec: {runStrategy: Halted, template: {spec: {domain: {memory: {guest: 64Mi}}}}}
""")
    client.apply(pool_yaml(replicas=2))
    wait_vms(client, ["web-0", "web-1", "web-2"])
    assert "ownerReferences" not in client.get_json("vm", "default", "web-0")["metadata"]
    client.delete("vmpool", "default", "web")
    wait_vms(client, ["web-0"])


def test_data_volume_templates_are_per_vm(client):
    dvt = "{metadata: {name: disk}, spec: {source: {blank: {}}, storage: {resources: {requests: {storage: 16Mi}}}}}"
    client.apply(pool_yaml(replicas=2, dv_templates=dvt, volumes="{name: disk, dataVolume: {name: disk}}",
                           disks="{name: disk, disk: {bus: virtio}}"))
    wait_vms(client, ["web-0", "web-1"])
    for n in (0, 1):
        vm = client.get_json("vm", "default", f"web-{n}")
        assert vm["spec"]["dataVolumeTemplates"][0]["metadata"]["name"] == f"disk-{n}"
        assert vm["spec"]["template"]["spec"]["volumes"][0]["dataVolume"]["name"] == f"disk-{n}"
        wait_until(lambda: client.exists("dv", "default", f"disk-{n}"), what=f"DataVolume disk-{n}")
        owner = client.get_json("dv", "default", f"disk-{n}")["metadata"]["ownerReferences"][0]
        assert owner["kind"] == "VirtualMachine" and owner["name"] == f"web-{n}"
    assert not client.exists("dv", "default", "disk")


def test_template_change_reaches_vms_and_paused_pools_wait(client):
    client.apply(pool_yaml(replicas=1))
    wait_vms(client, ["web-0"])
    old = client.get_json("vm", "default", "web-0")
    client.apply(pool_yaml(replicas=1, labels="{app: web, tier: front}"))
    wait_until(lambda: client.get_json("vm", "default", "web-0")["metadata"]["labels"].get("tier") == "front",
               what="the new template on web-0")
    new = client.get_json("vm", "default", "web-0")
    assert new["metadata"]["uid"] == old["metadata"]["uid"]
    assert (new["metadata"]["labels"]["kubevirt.io/vm-pool-revision-name"] !=
            old["metadata"]["labels"]["kubevirt.io/vm-pool-revision-name"])

    client.apply(pool_yaml(replicas=3, extra="paused: true"))
    wait_until(lambda: any(c["type"] == "ReplicaPaused" and c["status"] == "True"
                           for c in client.get_json("vmpool", "default", "web")["status"].get("conditions", [])),
               what="ReplicaPaused")
    assert vm_names(client) == ["web-0"]
    client.apply(pool_yaml(replicas=3))
    wait_vms(client, ["web-0", "web-1", "web-2"])


def test_admission(client):
    msg = expect_error("Invalid", client.apply, pool_yaml(selector="{matchLabels: {app: db}}"))
    assert "spec.virtualMachineTemplate.metadata.labels" in msg and "app=db" in msg
    msg = expect_error("Invalid", client.apply, pool_yaml(replicas=-1))
    assert "spec.replicas" in msg
    msg = expect_error("Invalid", client.apply, pool_yaml(selector="{matchExpressions: [{key: app, operator: Near}]}"))
    assert "spec.selector: matchExpressions[0].operator" in msg
    msg = expect_error("Invalid", client.apply, pool_yaml(selector="{}"))
    assert "spec.selector" in msg
    # the template is checked as the VMs it makes
    msg = expect_error("Invalid", client.apply, pool_yaml(strategy="Sometimes"))
    assert "spec.virtualMachineTemplate" in msg and "runStrategy" in msg
    msg = expect_error("NotSupported", client.apply, pool_yaml(extra="updateStrategy: {unmanaged: {}}"))
    assert "spec.updateStrategy" in msg


def test_scale_verb_and_table(ctl, client):  # noqa: F811
    ctl("apply", "-f", "-", input=pool_yaml(replicas=1))
    wait_vms(client, ["web-0"])
    assert ctl("scale", "vmpool", "web", "--replicas=2").stdout == \
        "virtualmachinepool.pool.kubevirt.io/web scaled\n"
    wait_vms(client, ["web-0", "web-1"])
    wait_until(lambda: ctl("get", "vmpool").stdout.splitlines()[1].split()[:4] == ["web", "2", "2", "0"],
               what="the pool's table row")
    assert ctl("get", "vmpool").stdout.splitlines()[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    r = ctl("scale", "vmpool", "web", "--replicas=x", ok=False)
    assert r.returncode == 1 and "--replicas" in r.stderr
    r = ctl("scale", "vm", "web-0", "--replicas=2", ok=False)
    assert r.returncode == 1 and "only VM pools" in r.stderr
    r = ctl("scale", "vmpool", "nope", "--replicas=2", ok=False)
    assert r.returncode == 1 and "nope" in r.stderr
    assert "scale" in complete(ctl, "edgevirtctl sc")
    assert complete(ctl, "edgevirtctl scale ") == {"vmpool", "vmirs"}
    assert complete(ctl, "edgevirtctl scale vmpool ") == {"web"}
    assert complete(ctl, "edgevirtctl scale vmpool web --r") == {"--replicas="}
    exported = ctl("export").stdout
    assert "kind: VirtualMachinePool" in exported and "name: web-0" not in exported
