# SPDX-License-Identifier: LGPL-2.1-or-later
"""Namespace roles for users other than root (RoleBindings to the
ClusterRoles admin, edit and view, as OpenShift's project roles), on a bus
configured like the system bus with edgevirt's bus policy and no polkit
to ask: what a role does not give is refused, and a namespace where the
caller has no role is invisible.  Callers: nobody (edit), daemon (view),
sys (admin through its group), bin (no role)."""
import json
import os
import threading

import pytest

from conftest import BUILD, Client, Daemon, expect_error, wait_until
from test_policy import run_client, system_like_bus  # noqa: F401 (fixture)

SETUP = """
apiVersion: v1
kind: Namespace
metadata: {{name: {ns}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: c, namespace: {ns}}}
data: {{k: v}}
---
apiVersion: v1
kind: Secret
metadata: {{name: s, namespace: {ns}}}
stringData: {{k: v}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: src, namespace: {ns}}}
spec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 1Mi}}}}}}
---
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {{name: box, namespace: {ns}}}
spec: {{runStrategy: Halted, template: {{spec: {{domain: {{memory: {{guest: 16Mi}}}}}}}}}}
"""

BINDINGS = """
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: editors, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: nobody}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: viewers, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: User, name: daemon}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: admins, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin}
subjects: [{kind: Group, name: sys}]
"""

CALLS = r"""
user = sys.argv[2]
props = lambda p: dbus.Interface(obj(p), "org.freedesktop.DBus.Properties").GetAll("org.edgevirt.EdgeVirt1.Object")
rb = lambda ns, n: (f"apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: {n}, namespace: {ns}}}\n"
                    "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}\n"
                    "subjects: [{kind: User, name: bin}]\n")
dv = lambda ns, src_ns, n: (f"apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\nmetadata: {{name: {n}, namespace: {ns}}}\n"
                            f"spec: {{source: {{pvc: {{namespace: {src_ns}, name: src}}}}, storage: {{resources: {{requests: {{storage: 1Mi}}}}}}}}\n")
calls = {
    "get team": lambda: m.Get("cm", "team", "c", {}),
    "get other": lambda: m.Get("cm", "other", "c", {}),
    "list": lambda: sorted({i["metadata"]["namespace"] for i in json.loads(m.List("cm", "", {"output": "json"}))["items"]}),
    "namespaces": lambda: sorted(i["metadata"]["name"] for i in json.loads(m.List("ns", "", {"output": "json"}))["items"]),
    "managed": lambda: sorted({str(p).split("/")[5] for p in om.GetManagedObjects() if str(p).startswith(ROOT + "/namespace/")}),
    # each namespace's Events have their own ObjectManager
    "events team": lambda: sorted({str(p).split("/")[5] for p in dbus.Interface(obj(ROOT + "/namespace/team/event"), "org.freedesktop.DBus.ObjectManager").GetManagedObjects()}),
    "events other": lambda: sorted({str(p).split("/")[5] for p in dbus.Interface(obj(ROOT + "/namespace/other/event"), "org.freedesktop.DBus.ObjectManager").GetManagedObjects()}),
    "events nosuch": lambda: sorted(dbus.Interface(obj(ROOT + "/namespace/nosuch/event"), "org.freedesktop.DBus.ObjectManager").GetManagedObjects()),
    "introspected": lambda: sorted({n.get("name").split("/")[0] for n in __import__("xml.etree.ElementTree", fromlist=["ET"]).fromstring(str(dbus.Interface(obj(ROOT + "/namespace"), "org.freedesktop.DBus.Introspectable").Introspect())).findall("node")}),
    "props team": lambda: str(props(f"{ROOT}/namespace/team/configmap/c")["Name"]),
    "props other": lambda: str(props(f"{ROOT}/namespace/other/configmap/c")["Name"]),
    "secret team": lambda: m.Get("secret", "team", "s", {}),
    "secrets": lambda: sorted({i["metadata"]["namespace"] for i in json.loads(m.List("secret", "", {"output": "json"}))["items"]}),
    "apply team": lambda: m.Apply(cm("team", "by-" + user), {}),
    "apply other": lambda: m.Apply(cm("other", "by-" + user), {}),
    "start team": lambda: vm("team").Start(E),
    "start other": lambda: vm("other").Start(E),
    "rolebinding team": lambda: m.Apply(rb("team", "by-" + user), {}),
    "clone same": lambda: m.Apply(dv("team", "team", "same-" + user), {}),
    "clone across": lambda: m.Apply(dv("team", "other", "across-" + user), {}),
    "delete other": lambda: m.Delete("cm", "other", "c", {}),
}
"""


def run_as(bus, uid, user):
    """CALLS as a Unix user; errors by their last name ("AccessDenied")."""
    got = run_client(CALLS, bus.address, [f"--reuid={uid}", f"--regid={uid}", "--init-groups"], user)
    return {k: v.split(": ", 1)[0].split(".")[-1] if isinstance(v, str) else v for k, v in got.items()}


def start_with_roles(bus, tmp_path):
    """The daemon with no polkit to ask, namespaces team and other as SETUP
    makes them, and BINDINGS in team: (daemon, root's client)."""
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS="unix:path=" + str(tmp_path / "no-polkit"))
    d = Daemon(bus, str(tmp_path / "state"), env=env).start()
    root = Client(bus.conn)
    try:
        root.apply(SETUP.format(ns="team"))
        root.apply(SETUP.format(ns="other"))
        root.apply(BINDINGS)
    except BaseException:
        d.stop()
        raise
    return d, root


def test_roles_decide_what_users_see_and_do(system_like_bus, tmp_path):  # noqa: F811
    d, root = start_with_roles(system_like_bus, tmp_path)
    try:
        # the VMs' Events ("created"), in each namespace's Events' manager
        for ns in ("team", "other"):
            wait_until(lambda: root.managed_objects(f"/org/edgevirt/EdgeVirt1/namespace/{ns}/event"), what=f"an Event in {ns}")
        stranger = run_as(system_like_bus, 2, "bin")           # no role (until sys binds it below)
        nobody = run_as(system_like_bus, 65534, "nobody")      # edit
        viewer = run_as(system_like_bus, 1, "daemon")          # view
        admin = run_as(system_like_bus, 3, "sys")              # admin, through the group sys
        print(json.dumps({"edit": nobody, "view": viewer, "admin": admin, "none": stranger}, indent=1))

        for who in (nobody, viewer, admin):
            assert who["get team"] == "ok" and who["props team"] == "ok"
            assert who["get other"] == "AccessDenied" and who["props other"] == "UnknownObject"
            assert who["list"] == ["team"] and who["namespaces"] == ["team"] and who["managed"] == ["team"]
            assert who["events team"] == ["team"] and who["events other"] == "UnknownObject"
            assert who["introspected"] == ["team"]
            assert who["apply other"] == "AccessDenied" and who["start other"] == "UnknownObject"
            assert who["delete other"] == "AccessDenied" and who["clone across"] == "AccessDenied"
        for who in (nobody, admin):
            assert who["secret team"] == "ok" and who["secrets"] == ["team"]
            assert who["apply team"] == "ok" and who["start team"] in ("ok", "Conflict") and who["clone same"] == "ok"
        assert viewer["secret team"] == "AccessDenied" and viewer["secrets"] == []
        assert viewer["apply team"] == "AccessDenied" and viewer["start team"] == "AccessDenied"
        assert viewer["clone same"] == "AccessDenied"
        # only an admin binds roles
        assert admin["rolebinding team"] == "ok" and nobody["rolebinding team"] == "AccessDenied"
        # no role: nothing there at all
        assert stranger["list"] == [] and stranger["namespaces"] == [] and stranger["managed"] == []
        # not even that a namespace is there: its Events' manager is as unknown as a missing one's
        assert stranger["events team"] == "UnknownObject" and stranger["events other"] == "UnknownObject"
        assert stranger["events nosuch"] == "UnknownObject" and stranger["introspected"] == []
        assert stranger["get team"] == "AccessDenied" and stranger["props team"] == "UnknownObject"
        assert stranger["apply team"] == "AccessDenied" and stranger["secrets"] == []
        # what was refused did not happen; what was allowed did
        assert root.exists("cm", "team", "by-nobody") and root.exists("cm", "team", "by-sys")
        assert not root.exists("cm", "team", "by-daemon") and not root.exists("cm", "other", "by-nobody")
        assert root.exists("cm", "other", "c") and not root.exists("dv", "team", "across-nobody")
        assert root.exists("rolebinding", "team", "by-sys") and not root.exists("rolebinding", "team", "by-nobody")
        # the binding sys made gives bin the view role: now bin sees team
        assert run_as(system_like_bus, 2, "bin")["list"] == ["team"]
        # each refusal is a Warning event of its namespace, for its admins: who, what, on what
        denials = [e for e in root.list("event", "team")["items"] if e["reason"] == "AccessDenied"]
        mine = [e["message"] for e in denials if e["message"].startswith("uid 1 was refused ")]
        assert any(m.startswith("uid 1 was refused org.edgevirt.EdgeVirt1.object.apply on a ConfigMap") and
                   "(polkit could not be asked" in m for m in mine), mine
        # no names: one caller's refusals coalesce, whatever names it tries
        assert len(mine) == len(set(mine)) and not any("by-daemon" in m for m in mine), mine
        assert all(e["type"] == "Warning" and e["involvedObject"]["kind"] == "Namespace" for e in denials)
        assert [e for e in root.list("event", "other")["items"] if e["reason"] == "AccessDenied"]
    finally:
        d.stop()


# Every method of every typed interface, on an object of a namespace where
# the caller has no role and on paths where nothing is: the answers must be
# the same, so that nobody learns what is there.
METHODS = r"""
import dbus.types
I = "org.edgevirt.EdgeVirt1."
null = lambda: dbus.types.UnixFd(open("/dev/null"))
methods = {
    "vm": ("VirtualMachine", {"Start": (E,), "Stop": (E,), "Restart": (E,), "Pause": (E,), "Unpause": (E,), "SoftReboot": (E,),
                                        "Reset": (E,), "AddVolume": ("x", E), "RemoveVolume": ("x", E)}),
    "vmi": ("VirtualMachineInstance", {m: (E,) for m in ("GuestOSInfo", "UserList", "FilesystemList", "Pause", "Unpause",
                                                         "SoftReboot", "Reset", "OpenConsole", "OpenVNC")}
                              | {"AddVolume": ("x", E), "RemoveVolume": ("x", E)}),
    "datavolume": ("DataVolume", {"Upload": None}),
}
calls = {}
for seg, (iface, ms) in methods.items():
    for where in ("other/%s/running" % seg, "other/%s/ghost" % seg, "nowhere/%s/running" % seg):
        for meth, args in ms.items():
            def call(where=where, iface=iface, meth=meth, args=args):
                try:
                    getattr(dbus.Interface(obj(f"{ROOT}/namespace/{where}"), I + iface), meth)(*(args or (null(), E)))
                    return ["ok"]
                except dbus.DBusException as e:
                    return [e.get_dbus_name(), e.get_dbus_message().replace(where.replace("-", "_2d"), "PATH")]
            calls[f"{where.split('/')[0]}/{seg}/{where.split('/')[2]} {meth}"] = call
"""

HIDDEN = """
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: running, namespace: other}
spec: {runStrategy: Always, template: {spec: {domain: {memory: {guest: 16Mi}}}}}
---
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {name: running, namespace: other}
spec: {domain: {memory: {guest: 16Mi}}}
---
apiVersion: cdi.kubevirt.io/v1beta1
kind: DataVolume
metadata: {name: running, namespace: other}
spec: {source: {upload: {}}, storage: {resources: {requests: {storage: 1Mi}}}}
"""


def test_hidden_objects_answer_every_method_as_missing_ones(system_like_bus, tmp_path):  # noqa: F811
    d, root = start_with_roles(system_like_bus, tmp_path)
    try:
        root.apply(HIDDEN)
        wait_until(lambda: root.get_json("vmi", "other", "running").get("status", {}).get("phase") == "Running",
                   timeout=60, what="the hidden instance to run")
        wait_until(lambda: root.get_json("dv", "other", "running").get("status", {}).get("phase") == "UploadReady",
                   timeout=60, what="the hidden upload to be ready")
        got = run_client(METHODS, system_like_bus.address, ["--reuid=65534", "--regid=65534", "--init-groups"], "nobody")
        print(json.dumps(got, indent=1))
        for key, outcome in got.items():
            where, meth = key.split(" ")
            ns, seg, name = where.split("/")
            if name == "running" and ns == "other":
                assert outcome == got[f"other/{seg}/ghost {meth}"] == got[f"nowhere/{seg}/running {meth}"], key
                assert outcome[0] == "org.freedesktop.DBus.Error.UnknownObject", (key, outcome)
        # nothing happened to what was hidden
        assert root.get_json("vmi", "other", "running")["status"]["phase"] == "Running"
        assert not root.get_json("vmi", "other", "running")["status"].get("paused")
        assert root.get_json("dv", "other", "running")["status"]["phase"] == "UploadReady"
    finally:
        d.stop()


# Every field through which an object names a claim of another namespace to
# clone (references.h): a user with edit in team and no role in other.
ACROSS = {
    "pvc spec.dataSourceRef": (
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: x, namespace: team}\n"
        "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}},"
        " dataSourceRef: {kind: PersistentVolumeClaim, name: src, namespace: other}}\n"),
    "dv spec.source.pvc": (
        "apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\nmetadata: {name: x, namespace: team}\n"
        "spec: {source: {pvc: {namespace: other, name: src}}, storage: {}}\n"),
    "dv spec.pvc.dataSourceRef": (
        "apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\nmetadata: {name: x, namespace: team}\n"
        "spec: {source: {blank: {}}, pvc: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}},"
        " dataSourceRef: {kind: PersistentVolumeClaim, name: src, namespace: other}}}\n"),
    "vm spec.dataVolumeTemplates[0].spec.source.pvc": (
        "apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata: {name: x, namespace: team}\n"
        "spec: {runStrategy: Halted, dataVolumeTemplates: [{metadata: {name: x-disk},"
        " spec: {source: {pvc: {namespace: other, name: src}}, storage: {}}}],"
        " template: {spec: {domain: {memory: {guest: 16Mi}}}}}\n"),
    "vm spec.dataVolumeTemplates[0].spec.pvc.dataSourceRef": (
        "apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata: {name: x, namespace: team}\n"
        "spec: {runStrategy: Halted, dataVolumeTemplates: [{metadata: {name: x-disk},"
        " spec: {source: {blank: {}}, pvc: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}},"
        " dataSourceRef: {kind: PersistentVolumeClaim, name: src, namespace: other}}}}],"
        " template: {spec: {domain: {memory: {guest: 16Mi}}}}}\n"),
    "vmrestore spec.patches[0]": (
        "apiVersion: snapshot.kubevirt.io/v1beta1\nkind: VirtualMachineRestore\nmetadata: {name: x, namespace: team}\n"
        "spec: {target: {apiGroup: kubevirt.io, kind: VirtualMachine, name: box}, virtualMachineSnapshotName: snap,"
        " patches: ['{\"op\": \"add\", \"path\": \"/spec/dataVolumeTemplates\", \"value\": [{\"metadata\": {\"name\": \"d\"},"
        " \"spec\": {\"source\": {\"pvc\": {\"namespace\": \"other\", \"name\": \"src\"}}, \"storage\": {}}}]}']}\n"),
    "vmclone spec.patches[0]": (
        "apiVersion: clone.kubevirt.io/v1beta1\nkind: VirtualMachineClone\nmetadata: {name: x, namespace: team}\n"
        "spec: {source: {apiGroup: kubevirt.io, kind: VirtualMachine, name: box},"
        " target: {apiGroup: kubevirt.io, kind: VirtualMachine, name: box2},"
        " patches: ['{\"op\": \"replace\", \"path\": \"/spec/dataVolumeTemplates/0/spec/source/pvc/namespace\","
        " \"value\": \"other\"}']}\n"),
}


def test_every_field_naming_another_namespace_needs_rights_there(system_like_bus, tmp_path):  # noqa: F811
    d, root = start_with_roles(system_like_bus, tmp_path)
    try:
        # the same documents naming their own namespace instead (a dry run)
        same = {k: v.replace("namespace: other", "namespace: team").replace('"other"', '"team"')
                for k, v in ACROSS.items()}
        calls = (f"ACROSS = {ACROSS!r}\nSAME = {same!r}\n"
                 "calls = {k: (lambda v=v: m.Apply(v, {})) for k, v in ACROSS.items()}\n"
                 "calls.update({'same ' + k: (lambda v=v: m.Apply(v, {'dry-run': True})) for k, v in SAME.items()})\n")
        got = run_client(calls, system_like_bus.address, ["--reuid=65534", "--regid=65534", "--init-groups"], "nobody")
        print(json.dumps(got, indent=1))
        for what in ACROSS:
            field = what.split(" ", 1)[1]
            # no polkit here to ask: the role decides
            assert got[what].startswith("org.edgevirt.EdgeVirt1.Error.AccessDenied: " + field + ": "), (what, got[what])
            # the same document naming its own namespace is fine (or refused for another reason)
            assert "AccessDenied" not in got["same " + what], (what, got["same " + what])
        assert not root.exists("pvc", "team", "x") and not root.exists("dv", "team", "x")
        assert not root.exists("vm", "team", "x")
    finally:
        d.stop()


def test_a_stuck_user_lookup_holds_only_its_caller(system_like_bus, tmp_path):  # noqa: F811
    """A caller's groups come from NSS, which can hang (LDAP away): the
    lookup runs off the main loop and holds that caller's calls alone."""
    gate = tmp_path / "gate"
    gate.touch()
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS="unix:path=" + str(tmp_path / "no-polkit"),
               LD_PRELOAD=os.path.join(BUILD, "tests", "libnss-gate.so"), EDGEVIRT_TEST_NSS_GATE=str(gate),
               # the sanitizer build: its runtime need not come first here
               ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0")
    d = Daemon(system_like_bus, str(tmp_path / "state"), env=env).start()
    try:
        root = Client(system_like_bus.conn)
        root.apply(SETUP.format(ns="team"))
        root.apply(BINDINGS)
        got = []
        caller = threading.Thread(target=lambda: got.append(run_as(system_like_bus, 65534, "nobody")))
        caller.start()
        wait_until(lambda: os.path.exists(str(gate) + ".entered"), timeout=30, what="the lookup of nobody to hang")
        # the daemon answers everyone else meanwhile
        assert root.get_json("cm", "team", "c")["data"] == {"k": "v"}
        root.apply(SETUP.format(ns="other"))
        assert caller.is_alive() and not got, "nobody's calls ran before its groups were known"
        gate.unlink()
        caller.join(60)
        assert got, "nobody's calls were not answered after the lookup"
        nobody = got[0]
        # and then as if nothing had happened: the edit role in team
        assert nobody["get team"] == "ok" and nobody["apply team"] == "ok" and nobody["list"] == ["team"]
        assert nobody["get other"] == "AccessDenied"
        assert root.exists("cm", "team", "by-nobody")
    finally:
        if gate.exists():
            gate.unlink()
        d.stop()


@pytest.mark.parametrize("doc,error,fragment", [
    ("roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: User, name: x}]\n",
     "NotSupported", "roleRef.name"),
    ("roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: edit}\n", "NotSupported", "roleRef.kind"),
    ("roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}\n"
     "subjects: [{kind: ServiceAccount, name: default, namespace: default}]\n", "NotSupported", "subjects[0].kind"),
    ("roleRef: {kind: ClusterRole, name: view}\n", "Invalid", "roleRef.apiGroup"),
])
def test_rolebinding_admission(client, doc, error, fragment):
    head = "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: rb}\n"
    msg = expect_error(error, client.apply, head + doc)
    assert fragment in msg


def test_roleref_is_immutable(client):
    head = "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: rb}\n"
    client.apply(head + "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}\n")
    msg = expect_error("Invalid", client.apply, head + "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}\n")
    assert "cannot change roleRef" in msg


# Applies into a namespace without a role: whatever is stored there (or
# not), the answer is the same refusal, so nothing of it is learnt.
PROBES = r"""
cm = lambda ns, extra: f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c, namespace: {ns}{extra}}}\n"
secret = lambda ns, v: (f"apiVersion: v1\nkind: Secret\nmetadata: {{name: imm, namespace: {ns}}}\nimmutable: true\n"
                        f"stringData: {{password: {v}}}\n")
calls = {}
for ns in ("other", "nowhere"):
    calls.update({
        f"plain {ns}": lambda ns=ns: m.Apply(cm(ns, ""), {}),
        f"resourceVersion {ns}": lambda ns=ns: m.Apply(cm(ns, ", resourceVersion: '1'"), {}),
        f"uid {ns}": lambda ns=ns: m.Apply(cm(ns, ", uid: abc"), {}),
        f"secret guess {ns}": lambda ns=ns: m.Apply(secret(ns, "letmein"), {}),
        f"secret right {ns}": lambda ns=ns: m.Apply(secret(ns, "hunter2"), {}),
        f"option {ns}": lambda ns=ns: m.Apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n", {"namespace": ns}),
    })
"""


def test_applies_where_the_caller_has_no_role_learn_nothing(system_like_bus, tmp_path):  # noqa: F811
    d, root = start_with_roles(system_like_bus, tmp_path)
    try:
        root.apply("apiVersion: v1\nkind: Secret\nmetadata: {name: imm, namespace: other}\nimmutable: true\n"
                   "stringData: {password: hunter2}\n")
        got = run_client(PROBES, system_like_bus.address, ["--reuid=65534", "--regid=65534", "--init-groups"], "nobody")
        print(json.dumps(got, indent=1))
        # one answer for all (no polkit to ask here: the role decides)
        answers = {outcome.replace(key.rsplit(" ", 1)[1], "NS") for key, outcome in got.items()}
        assert len(answers) == 1 and answers.pop().startswith("org.edgevirt.EdgeVirt1.Error.AccessDenied: "), got
        assert root.get_json("secret", "other", "imm")["data"]["password"] == "aHVudGVyMg=="
    finally:
        d.stop()
