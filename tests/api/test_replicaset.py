# SPDX-License-Identifier: LGPL-2.1-or-later
"""VirtualMachineInstanceReplicaSets (kubevirt.io/v1) on libvirt's test
driver, as KubeVirt's replicaset controller: instances named by
generateName from the set, owned by it, scaled up and down, made again when
deleted or finished, adopted and let go by their labels, paused; status,
Events, admission, edgevirtctl scale and get."""
import json
import os

from conftest import expect_error, wait_until
from test_cli import complete, ctl  # noqa: F401 (the fixture)


def rs_yaml(name="rs", replicas=2, labels="{app: rs}", selector="{matchLabels: {app: rs}}", extra="",
            template_meta="", volumes="", disks=""):
    replicas_line = f"replicas: {replicas}" if replicas is not None else ""
    return f"""
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstanceReplicaSet
metadata: {{name: {name}}}
spec:
  {replicas_line}
  {extra}
  selector: {selector}
  template:
    metadata: {{labels: {labels}, annotations: {{team: blue}}{template_meta}}}
    spec:
      terminationGracePeriodSeconds: 0
      domain:
        memory: {{guest: 64Mi}}
        devices: {{disks: [{disks}]}}
      volumes: [{volumes}]
"""


def instances(client, ns="default"):
    return {i["metadata"]["name"]: i for i in client.list("vmi", ns)["items"]
            if not i["metadata"].get("deletionTimestamp")}


def names(client):
    return sorted(instances(client))


def wait_count(client, n, prefix="rs"):
    wait_until(lambda: len([v for v in names(client) if v.startswith(prefix)]) == n,
               what=f"{n} instances (are {names(client)})")
    return names(client)


def status(client, name="rs"):
    return client.get_json("vmirs", "default", name).get("status", {})


def events(client, name="rs"):
    return [(e["type"], e["reason"], e["message"]) for e in client.list("event", "default")["items"]
            if e["involvedObject"]["kind"] == "VirtualMachineInstanceReplicaSet"
            and e["involvedObject"]["name"] == name]


def test_replica_set_makes_owned_instances_and_scales(client):
    client.apply(rs_yaml(replicas=3))
    got = wait_count(client, 3)
    rs = client.get_json("vmirs", "default", "rs")
    for name in got:
        # KubeVirt's names: generateName from the set's name, 5 random characters
        assert name.startswith("rs") and len(name) == 7, name
        vmi = client.get_json("vmi", "default", name)
        owner = vmi["metadata"]["ownerReferences"][0]
        assert owner["kind"] == "VirtualMachineInstanceReplicaSet" and owner["uid"] == rs["metadata"]["uid"]
        assert owner["controller"] and owner["apiVersion"] == "kubevirt.io/v1"
        assert vmi["metadata"]["labels"] == {"app": "rs"} and vmi["metadata"]["annotations"] == {"team": "blue"}
    wait_until(lambda: status(client).get("readyReplicas") == 3, what="three Ready instances")
    st = status(client)
    assert st["replicas"] == 3 and st["labelSelector"] == "app=rs" and "conditions" not in st, st
    created = [e for e in events(client) if e[1] == "SuccessfulCreate"]
    assert len(created) == 3 and all(e[0] == "Normal" and e[2].startswith(
        "Started the virtual machine by creating the new virtual machine instance rs") for e in created), created

    # an instance deleted by hand is made again, under a new name
    victim = got[0]
    client.delete("vmi", "default", victim)
    wait_until(lambda: victim not in names(client) and len(names(client)) == 3, what="a replacement")

    # scaling down takes instances away; the set says how
    # (applied as a user applies a file: no resourceVersion, so the set's own status writes do not conflict)
    client.apply(rs_yaml(replicas=1))
    wait_count(client, 1)
    wait_until(lambda: status(client).get("replicas") == 1, what="status.replicas 1")
    deleted = [e for e in events(client) if e[1] == "SuccessfulDelete"]
    assert len(deleted) == 2 and all(e[2].startswith(
        "Stopped the virtual machine by deleting the virtual machine instance ") for e in deleted), deleted

    # the set's deletion takes its instances
    client.delete("vmirs", "default", "rs")
    wait_until(lambda: names(client) == [], what="the instances to go with the set")


def test_template_names_and_large_scale_up(client):
    """A template's generateName (or name) is the instances' prefix; at most
    10 are made per pass (burstReplicas), the rest on the next ones."""
    client.apply(rs_yaml(replicas=12, template_meta=", generateName: web-"))
    got = wait_count(client, 12, prefix="web-")
    assert all(n.startswith("web-") and len(n) == 9 for n in got), got
    client.delete("vmirs", "default", "rs")
    wait_until(lambda: names(client) == [], what="the instances to go")


def test_adopts_and_lets_go_by_labels(client):
    # an instance nobody controls whose labels the selector takes is adopted
    client.apply("apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\nmetadata: {name: stray, labels: {app: rs}}\n"
                 "spec: {terminationGracePeriodSeconds: 0, domain: {memory: {guest: 64Mi}}}\n")
    client.apply(rs_yaml(replicas=2))
    wait_count(client, 2, prefix="")
    assert "stray" in names(client)
    owner = client.get_json("vmi", "default", "stray")["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "VirtualMachineInstanceReplicaSet" and owner["name"] == "rs"
    # ... and one relabelled out of the set is let go (and replaced)
    stray = client.get_json("vmi", "default", "stray")
    stray["metadata"]["labels"] = {"app": "other"}
    del stray["status"]
    del stray["metadata"]["resourceVersion"]     # as a user's file: the instance's status writes do not conflict
    client.apply(json.dumps(stray))
    wait_until(lambda: "ownerReferences" not in client.get_json("vmi", "default", "stray")["metadata"],
               what="the relabelled instance to be let go")
    wait_until(lambda: len([n for n in names(client) if n != "stray"]) == 2, what="a replacement")
    # an instance another controller owns is never taken
    client.apply("apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata: {name: owned}\n"
                 "spec:\n  runStrategy: Always\n  template:\n    metadata: {labels: {app: rs}}\n"
                 "    spec: {terminationGracePeriodSeconds: 0, domain: {memory: {guest: 64Mi}}}\n")
    wait_until(lambda: "owned" in names(client), what="the VM's instance")
    assert client.get_json("vmi", "default", "owned")["metadata"]["ownerReferences"][0]["kind"] == "VirtualMachine"
    assert status(client)["replicas"] == 2
    client.delete("vmirs", "default", "rs")
    wait_until(lambda: sorted(names(client)) == ["owned", "stray"], what="the set's instances to go")


def test_finished_instances_are_made_again(client, state_dir):
    """An instance that fails (its start interrupted twice, as in
    test_vm) is deleted and replaced, with KubeVirt's Event."""
    client.apply("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: gate}\n"
                 "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}}\n")
    wait_until(lambda: client.get_json("pvc", "default", "gate").get("status", {}).get("phase") == "Bound",
               what="the claim")
    client.delete("pvc", "default", "gate")
    wait_until(lambda: not client.exists("pvc", "default", "gate"), what="the claim to go")
    client.apply(rs_yaml(replicas=1, volumes="{name: d, persistentVolumeClaim: {claimName: gate}}",
                         disks="{name: d, disk: {}}"))
    first = wait_count(client, 1)[0]
    wait_until(lambda: client.get_json("vmi", "default", first).get("status", {}).get("phase") == "Pending",
               what="the instance to wait for its claim")
    uid = client.get_json("vmi", "default", first)["metadata"]["uid"]
    os.makedirs(os.path.join(state_dir, "instances", uid), exist_ok=True)
    with open(os.path.join(state_dir, "instances", uid, "start-attempts"), "w") as f:
        f.write("2\n")
    client.apply("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: gate}\n"
                 "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}}\n")
    wait_until(lambda: first not in names(client) and len(names(client)) == 1, what="the failed instance replaced")
    assert ("Normal", "SuccessfulDelete", f"Deleted finished virtual machine: {uid}") in events(client)
    wait_until(lambda: list(instances(client).values())[0].get("status", {}).get("phase") == "Running",
               what="the replacement to run")


def test_paused_sets_wait(client):
    client.apply(rs_yaml(replicas=1, extra="paused: true"))
    wait_until(lambda: any(c["type"] == "ReplicaPaused" and c["status"] == "True" and c["reason"] == "Paused"
                           for c in status(client).get("conditions", [])), what="ReplicaPaused")
    assert names(client) == []
    assert ("Normal", "SuccessfulPaused", "Paused") in events(client)
    client.apply(rs_yaml(replicas=1))
    wait_count(client, 1)
    wait_until(lambda: "conditions" not in status(client), what="the condition to go")
    assert ("Normal", "SuccessfulResumed", "Resumed") in events(client)


def test_admission(client):
    msg = expect_error("Invalid", client.apply, rs_yaml(selector="{matchLabels: {app: db}}"))
    assert "spec.selector" in msg and "does not match" in msg, msg
    msg = expect_error("Invalid", client.apply, rs_yaml(replicas=-1))
    assert "spec.replicas" in msg
    msg = expect_error("Invalid", client.apply, rs_yaml(selector="{matchExpressions: [{key: app, operator: Near}]}"))
    assert "spec.selector: matchExpressions[0].operator" in msg, msg
    msg = expect_error("Invalid", client.apply, rs_yaml(selector="{}"))
    assert "spec.selector" in msg and "empty" in msg, msg
    # the schema: selector and template are required
    msg = expect_error("Invalid", client.apply, "apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstanceReplicaSet\n"
                       "metadata: {name: rs}\nspec: {template: {spec: {domain: {memory: {guest: 64Mi}}}}}\n")
    assert "spec.selector" in msg, msg
    # the template is checked as the instances it makes
    msg = expect_error("Invalid", client.apply, rs_yaml(disks="{name: nowhere, disk: {}}"))
    assert "spec.template" in msg and "nowhere" in msg, msg
    assert not client.exists("vmirs", "default", "rs")


def test_scale_verb_and_table(ctl, client):  # noqa: F811
    ctl("apply", "-f", "-", input=rs_yaml(replicas=1))
    wait_count(client, 1)
    assert ctl("scale", "vmirs", "rs", "--replicas=2").stdout == \
        "virtualmachineinstancereplicaset.kubevirt.io/rs scaled\n"
    wait_count(client, 2)
    wait_until(lambda: ctl("get", "vmirs").stdout.splitlines()[1].split()[:4] == ["rs", "2", "2", "2"],
               what="the set's table row")
    assert ctl("get", "vmirs").stdout.splitlines()[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    r = ctl("scale", "vmirs", "nope", "--replicas=2", ok=False)
    assert r.returncode == 1 and "nope" in r.stderr
    assert complete(ctl, "edgevirtctl scale ") == {"vmpool", "vmirs"}
    assert complete(ctl, "edgevirtctl scale vmirs ") == {"rs"}
    # export writes the set, not its instances (the cluster's set makes them)
    exported = ctl("export").stdout
    assert "kind: VirtualMachineInstanceReplicaSet" in exported and "kind: VirtualMachineInstance\n" not in exported


def test_failing_instances_back_off(client):
    """Instances that fail at once (a sysprep disk without its file) are not
    made again in a tight loop: 1 s, then 2, 4... until they run."""
    client.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: unattend}\ndata: {other.xml: x}\n")
    client.apply(rs_yaml(replicas=1, volumes="{name: s, sysprep: {configMap: {name: unattend}}}",
                         disks="{name: s, cdrom: {bus: sata}}"))
    wait_until(lambda: sum(e[1] == "SuccessfulCreate" for e in events(client)) >= 2, what="a second try")
    import time
    time.sleep(3)
    # at most one more in those 3 s (the second wait is 2 s, the third 4 s)
    assert sum(e[1] == "SuccessfulCreate" for e in events(client)) <= 3, events(client)
    assert client.get_json("vmirs", "default", "rs")["spec"]["replicas"] == 1     # the daemon answers
    # with the file there, the next try runs and the set settles
    client.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: unattend}\ndata: {unattend.xml: <u/>}\n")
    wait_until(lambda: status(client).get("readyReplicas") == 1, timeout=70,
               what="a running instance")


def test_failed_creation_is_tried_again(bus, state_dir, tmp_path):
    """A creation refused (the namespace's object limit) is tried again
    later, as KubeVirt's queue does, and succeeds once there is room."""
    from conftest import Client, Daemon
    conf = tmp_path / "edgevirtd.conf"
    conf.write_text("[Limits]\nMaxObjectsPerNamespace=4\n")
    d = Daemon(bus, state_dir, ["--config=" + str(conf)]).start()
    try:
        c = Client(bus.conn)
        c.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: filler}\n")
        c.apply(rs_yaml(replicas=3))
        wait_until(lambda: any(x["type"] == "ReplicaFailure" and x["reason"] == "FailedCreate"
                               for x in status(c).get("conditions", [])), what="ReplicaFailure")
        assert len(names(c)) == 2
        c.delete("cm", "default", "filler")
        wait_until(lambda: len(names(c)) == 3, timeout=30, what="the third instance, once there is room")
        wait_until(lambda: "conditions" not in status(c), what="the condition to go")
    finally:
        d.stop()


def test_admission_of_names_and_labels(client):
    msg = expect_error("Invalid", client.apply, rs_yaml(labels="{}", selector="{matchExpressions: [{key: app, "
                                                        "operator: DoesNotExist}]}"))
    assert "spec.template.metadata.labels: Required value" in msg, msg
    msg = expect_error("Invalid", client.apply, rs_yaml(template_meta=", generateName: Web_"))
    assert "spec.template.metadata" in msg and "Web_" in msg, msg
