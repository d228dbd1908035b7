# SPDX-License-Identifier: LGPL-2.1-or-later
"""VirtualMachines and their instances on libvirt's test driver
(test:///default): admission against KubeVirt's rules, runStrategy and
virtctl's verbs, volumes the instance waits for, instance types, status
on the bus and in Get.  Real guests run in the system lane."""
import os

import dbus
import pytest

from conftest import expect_error, path_encode, wait_until

NAME = "org.edgevirt.EdgeVirt1"
VM_IFACE = NAME + ".VirtualMachine"
VMI_IFACE = NAME + ".VirtualMachineInstance"
ROOT = "/org/edgevirt/EdgeVirt1"


def vm_path(name, ns="default"):
    return f"{ROOT}/namespace/{path_encode(ns)}/vm/{path_encode(name)}"


def vmi_path(name, ns="default"):
    return f"{ROOT}/namespace/{path_encode(ns)}/vmi/{path_encode(name)}"


def vm_yaml(name, strategy="Always", volumes="", disks="", extra_spec="", memory="memory: {guest: 64Mi}"):
    strategy_line = f"runStrategy: {strategy}" if strategy else ""
    return f"""
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {{name: {name}}}
spec:
  {strategy_line}
  {extra_spec}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 0
      domain:
        {memory}
        devices:
          disks: [{disks}]
      volumes: [{volumes}]
"""


def vm_obj(client, name):
    return dbus.Interface(client.conn.get_object(NAME, vm_path(name)), VM_IFACE)


def vmi_obj(client, name):
    return dbus.Interface(client.conn.get_object(NAME, vmi_path(name)), VMI_IFACE)


def vm_status(client, name):
    return str(client.props(vm_path(name), VM_IFACE)["PrintableStatus"])


def wait_status(client, name, want, timeout=10):
    wait_until(lambda: vm_status(client, name) == want, timeout=timeout, what=f"VM {name} to be {want} (is {vm_status(client, name)})")


def vmi_uid(client, name):
    return client.get_json("vmi", "default", name)["metadata"]["uid"]


def test_always_runs_and_shows_status(client):
    client.apply(vm_yaml("web", volumes="{name: scratch, emptyDisk: {capacity: 1Gi}}", disks="{name: scratch, disk: {bus: virtio}}"))
    wait_status(client, "web", "Running")
    vm = client.get_json("vm", "default", "web")
    assert vm["status"]["ready"] is True and vm["status"]["created"] is True
    assert vm["status"]["runStrategy"] == "Always"
    props = client.props(vm_path("web"), VM_IFACE)
    assert props["Ready"] and props["RunStrategy"] == "Always" and props["Instance"] == vmi_path("web")
    vmi = client.get_json("vmi", "default", "web")
    assert vmi["status"]["phase"] == "Running"
    assert vmi["metadata"]["labels"]["kubevirt.io/vm"] == "web" and vmi["metadata"]["labels"]["app"] == "web"
    owner = vmi["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "VirtualMachine" and owner["uid"] == vm["metadata"]["uid"] and owner["controller"]
    vp = client.props(vmi_path("web"), VMI_IFACE)
    assert vp["Phase"] == "Running" and vp["Ready"] and not vp["Paused"]
    assert vp["DomainName"] == "default_web"
    # the test driver hands out addresses; they reach status and the bus
    wait_until(lambda: len(client.props(vmi_path("web"), VMI_IFACE)["IPAddresses"]) > 0, what="an IP address")
    vmi = client.get_json("vmi", "default", "web")
    assert vmi["status"]["interfaces"][0]["name"] == "default"
    assert vmi["status"]["interfaces"][0]["ipAddress"]
    conds = {c[0]: c[1] for c in client.props(vmi_path("web"), VMI_IFACE)["Conditions"]}
    assert conds["Ready"] == "True" and conds["Paused"] == "False"


def test_halted_does_not_run_and_start_stop_follow_kubevirt(client):
    client.apply(vm_yaml("idle", strategy="Halted"))
    wait_status(client, "idle", "Stopped")
    assert not client.exists("vmi", "default", "idle")
    vm = vm_obj(client, "idle")
    msg = expect_error("Conflict", vm.Stop, {})
    assert "not running" in msg
    vm.Start({})
    wait_status(client, "idle", "Running")
    # virtctl start on a Halted VM makes it Always, as KubeVirt does
    assert client.get_json("vm", "default", "idle")["spec"]["runStrategy"] == "Always"
    msg = expect_error("Conflict", vm.Start, {})
    assert "already running" in msg
    vm.Stop({})
    wait_status(client, "idle", "Stopped")
    assert client.get_json("vm", "default", "idle")["spec"]["runStrategy"] == "Halted"
    wait_until(lambda: not client.exists("vmi", "default", "idle"), what="the instance to go")


def test_legacy_running_field(client):
    client.apply(vm_yaml("legacy", strategy=None, extra_spec="running: false"))
    wait_status(client, "legacy", "Stopped")
    assert client.props(vm_path("legacy"), VM_IFACE)["RunStrategy"] == "Halted"
    vm_obj(client, "legacy").Start({})
    wait_status(client, "legacy", "Running")
    spec = client.get_json("vm", "default", "legacy")["spec"]
    assert spec["running"] is True and "runStrategy" not in spec
    msg = expect_error("Invalid", client.apply, vm_yaml("both", strategy="Always", extra_spec="running: true"))
    assert "spec.running" in msg and "mutually exclusive" in msg


def test_manual_and_restart(client):
    client.apply(vm_yaml("man", strategy="Manual"))
    wait_status(client, "man", "Stopped")
    vm = vm_obj(client, "man")
    vm.Start({})
    wait_status(client, "man", "Running")
    first = vmi_uid(client, "man")
    vm.Restart({})
    wait_until(lambda: client.exists("vmi", "default", "man") and vmi_uid(client, "man") != first
               and client.get_json("vmi", "default", "man")["status"]["phase"] == "Running", what="a new instance")
    assert client.get_json("vm", "default", "man")["spec"]["runStrategy"] == "Manual"
    vm.Stop({"gracePeriod": dbus.Int64(0)})
    wait_status(client, "man", "Stopped")
    wait_until(lambda: not client.exists("vmi", "default", "man"), what="the instance to go")
    msg = expect_error("Conflict", vm.Restart, {})
    assert "not running" in msg
    msg = expect_error("org.freedesktop.DBus.Error.InvalidArgs", vm.Stop, {"gracePeriod": dbus.Int64(-1)})
    assert "gracePeriod" in msg
    msg = expect_error("org.freedesktop.DBus.Error.InvalidArgs", vm.Stop, {"grace": dbus.Int64(1)})
    assert "unknown option" in msg


def test_once_runs_once(client):
    client.apply(vm_yaml("once", strategy="Once"))
    wait_status(client, "once", "Running")
    msg = expect_error("Conflict", vm_obj(client, "once").Start, {})
    assert "already running" in msg
    vm_obj(client, "once").Stop({})
    wait_status(client, "once", "Stopped")
    # it stays stopped: the finished instance is kept, nothing restarts it
    assert client.get_json("vmi", "default", "once")["status"]["phase"] == "Succeeded"
    msg = expect_error("Conflict", vm_obj(client, "once").Start, {})
    assert "Once" in msg


def test_rerun_on_failure_stop_keeps_it_stopped(client):
    client.apply(vm_yaml("rerun", strategy="RerunOnFailure"))
    wait_status(client, "rerun", "Running")
    vm_obj(client, "rerun").Stop({})
    wait_status(client, "rerun", "Stopped")
    assert client.get_json("vm", "default", "rerun")["spec"]["runStrategy"] == "Halted"


def test_pause_unpause_and_soft_reboot(client):
    client.apply(vm_yaml("pz"))
    wait_status(client, "pz", "Running")
    vm = vm_obj(client, "pz")
    vm.Pause({})
    wait_status(client, "pz", "Paused")
    assert client.props(vmi_path("pz"), VMI_IFACE)["Paused"]
    msg = expect_error("Conflict", vm.Pause, {})
    assert "already paused" in msg
    msg = expect_error("Conflict", vm.SoftReboot, {})
    assert "paused" in msg
    vmi_obj(client, "pz").Unpause({})
    wait_status(client, "pz", "Running")
    msg = expect_error("Conflict", vm.Unpause, {})
    assert "not paused" in msg
    vm.SoftReboot({})


def test_reset(client):
    """virtctl reset: the reset button; the instance stays, an Event says so."""
    client.apply(vm_yaml("rs"))
    wait_status(client, "rs", "Running")
    uid = client.get_json("vmi", "default", "rs")["metadata"]["uid"]
    vm_obj(client, "rs").Reset({})
    vmi_obj(client, "rs").Reset({})

    def resets():
        return [e for e in client.list("event", "default")["items"]
                if e["reason"] == "Reset" and e["involvedObject"]["uid"] == uid]
    wait_until(lambda: resets() and resets()[0]["count"] == 2, what="the instance's Reset event, counted twice")
    assert resets()[0]["type"] == "Normal" and resets()[0]["involvedObject"]["kind"] == "VirtualMachineInstance"
    assert client.get_json("vmi", "default", "rs")["metadata"]["uid"] == uid, "a reset keeps the instance"
    wait_status(client, "rs", "Running")
    vm_obj(client, "rs").Stop({})
    wait_status(client, "rs", "Stopped")
    msg = expect_error("Conflict", vm_obj(client, "rs").Reset, {})
    assert "not running" in msg


def test_start_paused_strategy(client):
    client.apply(vm_yaml("sp", extra_spec="").replace("terminationGracePeriodSeconds: 0",
                                                       "terminationGracePeriodSeconds: 0\n      startStrategy: Paused"))
    wait_status(client, "sp", "Paused")
    vm_obj(client, "sp").Unpause({})
    wait_status(client, "sp", "Running")


def test_console_without_a_socket_says_why(client):
    client.apply(vm_yaml("con"))
    wait_status(client, "con", "Running")
    msg = expect_error("NotFound", vmi_obj(client, "con").OpenConsole, {})
    assert "serial console" in msg


def test_waits_for_claims_and_datavolumes(client):
    client.apply(vm_yaml("needs", volumes="{name: root, persistentVolumeClaim: {claimName: later}}",
                         disks="{name: root, disk: {bus: virtio}}"))
    wait_status(client, "needs", "ErrorPvcNotFound")
    assert "later" in str(client.props(vmi_path("needs"), VMI_IFACE)["Reason"]) or \
        any("later" in c[3] for c in client.props(vmi_path("needs"), VMI_IFACE)["Conditions"])
    client.apply("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: later}\n"
                 "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 16Mi}}}\n")
    wait_status(client, "needs", "Running")
    # a claim a running VM uses keeps its protection finalizer
    client.delete("pvc", "default", "later")
    pvc = client.get_json("pvc", "default", "later")
    assert pvc["metadata"].get("deletionTimestamp") and "kubernetes.io/pvc-protection" in pvc["metadata"]["finalizers"]
    vm_obj(client, "needs").Stop({})
    wait_until(lambda: not client.exists("pvc", "default", "later"), what="the claim to go once the VM stopped")


def test_datavolume_templates_are_made_and_owned(client):
    client.apply("""
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: withdv}
spec:
  runStrategy: Always
  dataVolumeTemplates:
  - metadata: {name: withdv-root}
    spec:
      source: {blank: {}}
      storage: {resources: {requests: {storage: 32Mi}}}
  template:
    spec:
      domain:
        memory: {guest: 64Mi}
        devices: {disks: [{name: root, disk: {}}]}
      volumes: [{name: root, dataVolume: {name: withdv-root}}]
""")
    wait_status(client, "withdv", "Running", timeout=20)
    dv = client.get_json("dv", "default", "withdv-root")
    vm = client.get_json("vm", "default", "withdv")
    assert dv["metadata"]["ownerReferences"][0]["uid"] == vm["metadata"]["uid"]
    assert dv["status"]["phase"] == "Succeeded"
    client.delete("vm", "default", "withdv")
    wait_until(lambda: not client.exists("dv", "default", "withdv-root") and not client.exists("vmi", "default", "withdv"),
               what="the VM's DataVolume and instance to be collected")


def test_failed_datavolume_shows_on_the_vm(client):
    client.apply("""
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: baddv}
spec:
  runStrategy: Always
  dataVolumeTemplates:
  - metadata: {name: baddv-root}
    spec:
      source: {http: {url: "http://127.0.0.1:9/nothing.img"}}
      storage: {resources: {requests: {storage: 32Mi}}}
  template:
    spec:
      domain:
        memory: {guest: 64Mi}
        devices: {disks: [{name: root, disk: {}}]}
      volumes: [{name: root, dataVolume: {name: baddv-root}}]
""")
    wait_until(lambda: vm_status(client, "baddv") in ("WaitingForVolumeBinding", "DataVolumeError"),
               what="the VM to wait for its DataVolume")


def test_instancetype_and_preference_expand(client):
    client.apply("""
apiVersion: instancetype.kubevirt.io/v1beta1
kind: VirtualMachineClusterInstancetype
metadata: {name: c2}
spec: {cpu: {guest: 2}, memory: {guest: 96Mi}}
---
apiVersion: instancetype.kubevirt.io/v1beta1
kind: VirtualMachinePreference
metadata: {name: cores}
spec:
  cpu: {preferredCPUTopology: preferCores}
  devices: {preferredDiskBus: sata, preferredInterfaceModel: e1000e}
  preferredTerminationGracePeriodSeconds: 5
""")
    client.apply("""
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: typed}
spec:
  runStrategy: Always
  instancetype: {name: c2}
  preference: {kind: VirtualMachinePreference, name: cores}
  template:
    spec:
      domain:
        devices:
          disks: [{name: scratch, disk: {}}]
          interfaces: [{name: default, masquerade: {}}]
      networks: [{name: default, pod: {}}]
      volumes: [{name: scratch, emptyDisk: {capacity: 16Mi}}]
""")
    wait_status(client, "typed", "Running")
    spec = client.get_json("vmi", "default", "typed")["spec"]
    assert spec["domain"]["cpu"] == {"sockets": 1, "cores": 2, "threads": 1}
    assert spec["domain"]["memory"]["guest"] == "96Mi"
    assert spec["domain"]["devices"]["disks"][0]["disk"]["bus"] == "sata"
    assert spec["domain"]["devices"]["interfaces"][0]["model"] == "e1000e"
    assert spec["terminationGracePeriodSeconds"] == 5
    st = client.get_json("vm", "default", "typed")["status"]
    assert st["instancetypeRef"]["name"] == "c2" and st["preferenceRef"]["kind"] == "VirtualMachinePreference"


def test_instancetype_conflict_and_missing_are_reported(client):
    client.apply("apiVersion: instancetype.kubevirt.io/v1beta1\nkind: VirtualMachineInstancetype\n"
                 "metadata: {name: small}\nspec: {cpu: {guest: 1}, memory: {guest: 64Mi}}\n")
    client.apply(vm_yaml("clash", memory="memory: {guest: 128Mi}", extra_spec="instancetype: {kind: VirtualMachineInstancetype, name: small}"))
    wait_until(lambda: any(c[0] == "Failure" and c[1] == "True" and "domain.memory.guest" in c[3]
                           for c in client.props(vm_path("clash"), VM_IFACE)["Conditions"]), what="a conflict on the VM")
    assert not client.exists("vmi", "default", "clash")
    client.apply(vm_yaml("same", memory="memory: {guest: 64Mi}", extra_spec="instancetype: {kind: VirtualMachineInstancetype, name: small}"))
    wait_status(client, "same", "Running")      # the same value is no conflict
    client.apply(vm_yaml("nosuch", memory="", extra_spec="instancetype: {name: nosuch}"))
    wait_until(lambda: any(c[0] == "Failure" and "not found" in c[3] for c in client.props(vm_path("nosuch"), VM_IFACE)["Conditions"]),
               what="a missing instance type on the VM")


@pytest.mark.parametrize("doc,error,fragment", [
    (vm_yaml("x", disks="{name: nothere, disk: {}}"), "Invalid", "spec.template.spec.domain.devices.disks[0].name"),
    (vm_yaml("x", strategy="Sometimes"), "Invalid", "spec.runStrategy"),
    (vm_yaml("x", memory=""), "Invalid", "spec.template.spec.domain.memory.guest"),
    (vm_yaml("x", volumes="{name: a, emptyDisk: {capacity: 1Gi}}, {name: a, emptyDisk: {capacity: 1Gi}}"), "Invalid", "Duplicate"),
    (vm_yaml("x", volumes="{name: a, emptyDisk: {capacity: 1Gi}}", disks="{name: a, cdrom: {bus: virtio}}"), "Invalid", "cdrom.bus"),
    (vm_yaml("x", memory="memory: {guest: 64Mi, hugepages: {pageSize: 2Mi}}"), "NotSupported", "hugepages"),
    (vm_yaml("x").replace("terminationGracePeriodSeconds: 0", "terminationGracePeriodSeconds: 0\n      architecture: arm64"),
     "NotSupported", "spec.template.spec.architecture"),
    (vm_yaml("x", volumes="{name: c, containerDisk: {image: quay.io/x, path: /x.img}}"), "NotSupported", "containerDisk.path"),
    (vm_yaml("x").replace("devices:", "devices:\n          gpus: [{name: g, deviceName: nvidia.com/X}]"),
     "Invalid", "spec.template.spec.domain.devices.gpus[0].deviceName: Unsupported value: \"nvidia.com/X\": not a host "
     "device permitted on this node (permitted: none are configured"),
    ("apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstanceMigration\nmetadata: {name: m}\nspec: {vmiName: x}\n",
     "NotSupported", "live migration needs a second node"),
])
def test_refusals_name_the_field(client, doc, error, fragment):
    msg = expect_error(error, client.apply, doc)
    assert fragment in msg, msg


def test_vmi_spec_is_immutable(client):
    doc = """
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {name: plain}
spec:
  domain: {memory: {guest: MEM}, devices: {}}
"""
    client.apply(doc.replace("MEM", "64Mi"))
    wait_until(lambda: client.get_json("vmi", "default", "plain")["status"]["phase"] == "Running", what="the VMI to run")
    msg = expect_error("Invalid", client.apply, doc.replace("MEM", "128Mi"))
    assert "cannot change" in msg
    client.delete("vmi", "default", "plain")
    wait_until(lambda: not client.exists("vmi", "default", "plain"), what="the VMI to go")


def test_deleting_a_vm_stops_and_removes_its_instance(client, signals):
    client.apply(vm_yaml("gone"))
    wait_status(client, "gone", "Running")
    client.delete("vm", "default", "gone")
    wait_until(lambda: not client.exists("vm", "default", "gone") and not client.exists("vmi", "default", "gone"),
               what="VM and instance to go")
    wait_until(lambda: any(s[3][0] == VM_IFACE for s in signals.of("PropertiesChanged", vm_path("gone"))),
               what="PropertiesChanged of the VM interface")


def test_interfaces_are_introspectable(client):
    client.apply(vm_yaml("intro"))
    wait_status(client, "intro", "Running")
    xml = client.conn.get_object(NAME, vm_path("intro")).Introspect(dbus_interface="org.freedesktop.DBus.Introspectable")
    assert VM_IFACE in xml
    xml = client.conn.get_object(NAME, vmi_path("intro")).Introspect(dbus_interface="org.freedesktop.DBus.Introspectable")
    assert VMI_IFACE in xml


def test_instances_starting_at_once_share_the_pod_network(client):
    # a fresh host: the first instances define the NAT network together
    client.apply("\n---\n".join(vm_yaml(f"many{i}") for i in range(6)))
    for i in range(6):
        wait_status(client, f"many{i}", "Running", timeout=30)
        # at the first try: no failed start on the way
        assert "startFailure" not in client.get_json("vm", "default", f"many{i}")["status"], i


MANY_VOLUMES = ", ".join(f"{{name: v{i}, emptyDisk: {{capacity: 1Mi}}}}" for i in range(129))


@pytest.mark.parametrize("memory,fragment", [
    # what libvirt would allocate for, or the node cannot give, is refused at admission with the field
    ("memory: {guest: 64Mi}\n        cpu: {cores: 2147483648}",
     "spec.template.spec.domain.cpu.cores: Invalid value: 2147483648: out of range (a guest has at most 255 vCPUs)"),
    ("memory: {guest: 64Mi}\n        cpu: {cores: 4294967297}", "spec.template.spec.domain.cpu.cores: Invalid value: 4294967297"),
    ("memory: {guest: 64Mi}\n        cpu: {sockets: 16, cores: 16, threads: 2}",
     "spec.template.spec.domain.cpu: Invalid value: sockets × cores × threads = 512 vCPUs: a guest has at most 255"),
    ("memory: {guest: 8Ei}", "spec.template.spec.domain.memory.guest: quantity \"8Ei\" is out of range"),
    ("memory: {guest: 1Pi}", "spec.template.spec.domain.memory.guest: Invalid value: \"1Pi\": more than this node's memory"),
    ("resources: {requests: {memory: 1Pi}}", "spec.template.spec.domain.resources.requests.memory: Invalid value: \"1Pi\": more"),
])
def test_resources_beyond_the_node_are_refused(client, memory, fragment):
    msg = expect_error("Invalid", client.apply, vm_yaml("huge", memory=memory))
    assert fragment in msg, msg
    assert "no memory requested" not in msg


def test_too_many_disks_and_vcpus_of_instance_types_are_refused(client):
    msg = expect_error("Invalid", client.apply, vm_yaml("many", volumes=MANY_VOLUMES))
    assert "spec.template.spec.volumes: Too many: 129: a guest has at most 128 disks" in msg, msg
    msg = expect_error("Invalid", client.apply, "apiVersion: instancetype.kubevirt.io/v1beta1\nkind: VirtualMachineInstancetype\n"
                       "metadata: {name: big}\nspec: {cpu: {guest: 4096}, memory: {guest: 1Gi}}\n")
    assert "spec.cpu.guest: Invalid value: 4096: out of range" in msg, msg
    msg = expect_error("Invalid", client.apply, "apiVersion: instancetype.kubevirt.io/v1beta1\nkind: VirtualMachineInstancetype\n"
                       "metadata: {name: big}\nspec: {cpu: {guest: 2}, memory: {guest: 8Ei}}\n")
    assert "spec.memory.guest: quantity \"8Ei\" is out of range" in msg, msg


def test_a_start_the_daemon_did_not_live_through_is_not_tried_a_third_time(client, state_dir):
    """The instance waits for its claim; meanwhile its start is marked as
    twice interrupted (as if the hypervisor had taken the daemon down while
    starting it): when the claim comes, it fails with the reason instead of
    being started again."""
    client.apply("apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\nmetadata: {name: crashy}\n"
                 "spec:\n  domain: {memory: {guest: 16Mi}, devices: {disks: [{name: d, disk: {}}]}}\n"
                 "  volumes: [{name: d, persistentVolumeClaim: {claimName: later}}]\n")
    wait_until(lambda: client.get_json("vmi", "default", "crashy").get("status", {}).get("phase") == "Pending",
               what="the instance to wait for its claim")
    uid = client.get_json("vmi", "default", "crashy")["metadata"]["uid"]
    os.makedirs(os.path.join(state_dir, "instances", uid), exist_ok=True)
    with open(os.path.join(state_dir, "instances", uid, "start-attempts"), "w") as f:
        f.write("2\n")
    client.apply("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: later}\n"
                 "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}}\n")
    wait_until(lambda: client.get_json("vmi", "default", "crashy").get("status", {}).get("phase") == "Failed",
               what="the instance to fail")
    conds = client.get_json("vmi", "default", "crashy")["status"].get("conditions", [])
    assert any("stopped 2 times while starting" in (c.get("message") or "") for c in conds), conds
    # and an instance that starts normally leaves no count behind
    client.apply("apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\nmetadata: {name: fine}\n"
                 "spec: {domain: {memory: {guest: 16Mi}}}\n")
    wait_until(lambda: client.get_json("vmi", "default", "fine").get("status", {}).get("phase") == "Running",
               what="the instance to run")
    fine = client.get_json("vmi", "default", "fine")["metadata"]["uid"]
    wait_until(lambda: not os.path.exists(os.path.join(state_dir, "instances", fine, "start-attempts")),
               what="the count to go")
