# SPDX-License-Identifier: LGPL-2.1-or-later
"""Authorization with a real polkitd: the daemon's actions (built from
units/org.edgevirt.EdgeVirt1.policy.in) and a test rule that allows or
denies by the details the daemon passes (namespace, name), on a bus
configured like the system bus.  polkitd runs in a mount namespace of its
own, so the test's actions and rule replace the host's only for it.  Each
action is tried by user nobody where the rule allows it and where it does
not; root needs no polkit."""
import json
import os
import shutil
import subprocess
import time

import pytest

from conftest import BUILD, Client, Daemon, wait_until
from test_policy import AS_NOBODY, SystemLikeBus, run_client

POLKITD = "/usr/lib/polkit-1/polkitd"

# Allowed: namespace "open", names starting "open", image references naming
# "/open"; "ask" wants an admin's password; the rest is denied.
RULE = r"""
polkit.addRule(function(action, subject) {
    if (action.id.indexOf("org.edgevirt.EdgeVirt1.") !== 0)
        return polkit.Result.NOT_HANDLED;
    var ns = action.lookup("namespace") || "", name = action.lookup("name") || "";
    if (subject.user !== "nobody")
        return polkit.Result.NOT_HANDLED;
    if (ns === "ask" || name === "ask")
        return polkit.Result.AUTH_ADMIN;
    if (action.id === "org.edgevirt.EdgeVirt1.secret.read" && name.indexOf("hidden") === 0)
        return polkit.Result.NO;
    if (action.id === "org.edgevirt.EdgeVirt1.vm.hostdevice")
        return name.indexOf("open") === 0 ? polkit.Result.YES : polkit.Result.NO;
    if (ns === "open" || name.indexOf("open") === 0 || name.indexOf("/open") >= 0)
        return polkit.Result.YES;
    return polkit.Result.NO;
});
"""

# Run as nobody (test_policy.run_client): each call's outcome.
CALLS = r"""
vmi = lambda ns: dbus.Interface(obj(f"{ROOT}/namespace/{ns}/vmi/box"), "org.edgevirt.EdgeVirt1.VirtualMachineInstance")
dv = lambda ns: dbus.Interface(obj(f"{ROOT}/namespace/{ns}/datavolume/up"), "org.edgevirt.EdgeVirt1.DataVolume")
null = lambda: dbus.types.UnixFd(open("/dev/null"))
pvc = lambda ns: dbus.Interface(obj(f"{ROOT}/namespace/{ns}/pvc/up"), "org.edgevirt.EdgeVirt1.PersistentVolumeClaim")
vmexport = lambda ns: dbus.Interface(obj(f"{ROOT}/namespace/{ns}/vmexport/ex"), "org.edgevirt.EdgeVirt1.VirtualMachineExport")
calls = {}
for ns in ("open", "closed"):
    calls.update({
        f"object.apply {ns}": lambda ns=ns: m.Apply(cm(ns, "made"), {}),
        f"object.delete {ns}": lambda ns=ns: m.Delete("cm", ns, "there", {}),
        f"namespace.manage create {ns}": lambda ns=ns: m.CreateNamespace(ns + "-new", {}),
        f"namespace.manage delete {ns}": lambda ns=ns: m.DeleteNamespace(ns + "-old"),
        f"namespace.manage apply {ns}": lambda ns=ns: m.Apply(f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}-applied}}\n", {}),
        f"secret.read get {ns}": lambda ns=ns: m.Get("secret", ns, "s", {}),
        f"secret.read list {ns}": lambda ns=ns: m.List("secret", ns, {}),
        f"vm.lifecycle {ns}": lambda ns=ns: vm(ns).Start(E),
        f"vm.lifecycle vmi {ns}": lambda ns=ns: vmi(ns).Pause(E),
        f"vm.console {ns}": lambda ns=ns: vmi(ns).OpenConsole(E),
        f"vm.hotplug {ns}": lambda ns=ns: vm(ns).AddVolume("nothing", dbus.Dictionary({"persist": True}, signature="sv")),
        f"datavolume.upload {ns}": lambda ns=ns: dv(ns).Upload(null(), E),
        f"pvc.export {ns}": lambda ns=ns: pvc(ns).Push("127.0.0.1:1/x", E),
        f"vmexport.download {ns}": lambda ns=ns: vmexport(ns).Download("up", "raw", "t0ken",
                                                                       dbus.types.UnixFd(open("/dev/null", "w")), E),
        f"image.manage {ns}": lambda ns=ns: m.RemoveImage(f"127.0.0.1:1/{ns}:v1"),
        f"image.manage load {ns}": lambda ns=ns: m.LoadImages(null(), f"127.0.0.1:1/{ns}:v1", {}),
        f"image.manage save {ns}": lambda ns=ns: m.SaveImage(f"127.0.0.1:1/{ns}:v1",
                                                             dbus.types.UnixFd(open("/dev/null", "w")), {}),
        f"object.read {ns}": lambda ns=ns: m.Get("cm", ns, "c2", {}),
        f"object.read list {ns}": lambda ns=ns: m.List("cm", ns, {}),
        f"secret.read pull {ns}": lambda ns=ns: m.PullImage("127.0.0.1:1/open:v1", {"namespace": ns, "pull-secret": "s"}),
    })
calls["object.apply ask"] = lambda: m.Apply(cm("ask", "made"), {})
# using a Secret is reading it: objects that name one need secret.read
calls["secret.read import"] = lambda: m.Apply(
    "apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\nmetadata: {name: steal, namespace: open}\n"
    "spec: {source: {http: {url: 'http://127.0.0.1:1/x', secretRef: hidden-creds}}, "
    "storage: {resources: {requests: {storage: 1Mi}}}}\n", {})
calls["secret.read cloud-init"] = lambda: m.Apply(
    "apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata: {name: steal, namespace: open}\n"
    "spec: {runStrategy: Halted, template: {spec: {domain: {memory: {guest: 16Mi}}, "
    "volumes: [{name: ci, cloudInitNoCloud: {secretRef: {name: hidden-ci}}}]}}}\n", {})
"""

SETUP = """
apiVersion: v1
kind: Namespace
metadata: {{name: {ns}}}
---
apiVersion: v1
kind: Namespace
metadata: {{name: {ns}-old}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: there, namespace: {ns}}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: c2, namespace: {ns}}}
---
apiVersion: v1
kind: Secret
metadata: {{name: s, namespace: {ns}}}
stringData: {{k: v}}
---
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {{name: box, namespace: {ns}}}
spec: {{runStrategy: Manual, template: {{spec: {{domain: {{memory: {{guest: 16Mi}}}}}}}}}}
---
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {{name: box, namespace: {ns}}}
spec: {{domain: {{memory: {{guest: 16Mi}}}}}}
---
apiVersion: cdi.kubevirt.io/v1beta1
kind: DataVolume
metadata: {{name: up, namespace: {ns}}}
spec: {{source: {{upload: {{}}}}, storage: {{resources: {{requests: {{storage: 1Mi}}}}}}}}
---
apiVersion: v1
kind: Secret
metadata: {{name: export-token, namespace: {ns}}}
stringData: {{token: t0ken}}
---
apiVersion: export.kubevirt.io/v1beta1
kind: VirtualMachineExport
metadata: {{name: ex, namespace: {ns}}}
spec: {{source: {{kind: PersistentVolumeClaim, name: up}}, tokenSecretRef: export-token}}
"""


@pytest.fixture
def polkit_bus(tmp_path):
    """A system-like bus with our bus policy and polkit's, and polkitd on it
    with the test's actions and rule (mount namespace)."""
    bus = SystemLikeBus("edgevirt-polkit-", ["/usr/share/dbus-1/system.d/org.freedesktop.PolicyKit1.conf"])
    tmp, address = bus.tmp, bus.address
    actions = os.path.join(tmp, "actions")
    rules = os.path.join(tmp, "rules")
    os.makedirs(actions)
    os.makedirs(rules)
    shutil.copy(os.path.join(BUILD, "units", "org.edgevirt.EdgeVirt1.policy"), actions)
    with open(os.path.join(rules, "50-edgevirt-test.rules"), "w") as f:
        f.write(RULE)
    for d in (tmp, actions, rules):
        os.chmod(d, 0o755)
    script = (f"mount --make-rprivate / && mount --bind {actions} /usr/share/polkit-1/actions && "
              f"mount --bind {rules} /etc/polkit-1/rules.d && mount -t tmpfs tmpfs /usr/share/polkit-1/rules.d && "
              f"exec {POLKITD} --no-debug")
    polkitd = subprocess.Popen(["unshare", "-m", "sh", "-c", script], env=dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=address),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 20
    while not bus.conn.name_has_owner("org.freedesktop.PolicyKit1"):
        if polkitd.poll() is not None or time.monotonic() > deadline:
            raise AssertionError("polkitd did not start: " + (polkitd.stdout.read() if polkitd.poll() is not None else "timeout"))
        time.sleep(0.05)
    yield bus
    polkitd.terminate()
    polkitd.wait()
    bus.stop()


def test_each_action_allowed_and_denied_by_polkit(polkit_bus, tmp_path):
    # the daemon reaches polkit on "its system bus": here, the same test bus
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=polkit_bus.address)
    d = Daemon(polkit_bus, str(tmp_path / "state"), env=env).start()
    try:
        root = Client(polkit_bus.conn)
        for ns in ("open", "closed"):
            root.apply(SETUP.format(ns=ns))
        root.manager.CreateNamespace("ask", {})
        wait_until(lambda: all(root.get_json("vmi", ns, "box").get("status", {}).get("phase") == "Running"
                               for ns in ("open", "closed")), timeout=90, what="the instances to run")
        wait_until(lambda: all(root.get_json("dv", ns, "up").get("status", {}).get("phase") == "UploadReady"
                               for ns in ("open", "closed")), timeout=90, what="the uploads to be ready")
        got = run_client(CALLS, polkit_bus.address, AS_NOBODY, timeout=120)
        print(json.dumps(got, indent=1))
        denied = "org.edgevirt.EdgeVirt1.Error.AccessDenied"
        # methods of objects in a namespace the caller may not read: as if there were none
        on_objects = ("vm.lifecycle", "vm.console", "vm.hotplug", "datavolume.upload", "pvc.export",
                      "vmexport.download")
        for what, outcome in got.items():
            if what.endswith(" closed") and what.split()[0] in on_objects:
                assert outcome.startswith("org.freedesktop.DBus.Error.UnknownObject: Unknown object"), (what, outcome)
            elif what.endswith(" closed"):
                assert outcome.startswith(denied + ": not authorized: org.edgevirt.EdgeVirt1." + what.split()[0]), (what, outcome)
            elif what.endswith(" open"):
                assert not outcome.startswith(denied), (what, outcome)
        # allowed calls did what they say; a console needs a running QEMU, which the test driver has not
        assert got["object.apply open"] == "ok" and root.exists("cm", "open", "made")
        assert got["object.delete open"] == "ok"
        assert got["namespace.manage create open"] == "ok" and root.exists("ns", "", "open-new")
        # who made a namespace is its admin (oc new-project)
        binding = root.get_json("rolebinding", "open-new", "admin")
        assert binding["roleRef"]["name"] == "admin" and binding["subjects"] == [{"kind": "User", "name": "nobody"}], binding
        assert got["namespace.manage apply open"] == "ok" and root.exists("ns", "", "open-applied")
        assert got["secret.read get open"] == "ok" and got["secret.read list open"] == "ok"
        assert got["vm.lifecycle open"].endswith("already running") or got["vm.lifecycle open"] == "ok" \
            or "Conflict" in got["vm.lifecycle open"], got["vm.lifecycle open"]
        assert got["datavolume.upload open"] == "ok"
        # allowed: the upload's importer has the claim, which is not pushed from under it
        assert got["pvc.export open"].startswith("org.edgevirt.EdgeVirt1.Error.Conflict: claim open/up is "), got
        # allowed, the token right: the upload's importer has the claim, so the export waits
        assert got["vmexport.download open"].startswith("org.edgevirt.EdgeVirt1.Error.Conflict: "
                                                        "VirtualMachineExport open/ex is Pending, not Ready"), got
        # allowed: the volume is looked for (persist: the VM need not run)
        assert got["vm.hotplug open"].startswith("org.edgevirt.EdgeVirt1.Error.NotFound: no DataVolume or "
                                                 "PersistentVolumeClaim \"nothing\""), got["vm.hotplug open"]
        assert got["image.manage open"].startswith("org.edgevirt.EdgeVirt1.Error.NotFound")
        # allowed: the archive (/dev/null) is read and refused; no such image to save
        assert got["image.manage load open"].startswith("org.edgevirt.EdgeVirt1.Error.Invalid: the archive is empty"), got
        assert got["image.manage save open"].startswith("org.edgevirt.EdgeVirt1.Error.NotFound"), got
        assert got["object.read open"] == "ok" and got["object.read list open"] == "ok"
        # the Secret may be read: it is, and is no docker config
        assert got["secret.read pull open"].startswith("org.edgevirt.EdgeVirt1.Error.NotFound: imagePullSecret s:"), got
        for what, field in (("import", "spec.source.http.secretRef"),
                            ("cloud-init", "spec.template.spec.volumes[0].cloudInitNoCloud.secretRef.name")):
            assert got["secret.read " + what] == (denied + f": {field}: not authorized: org.edgevirt.EdgeVirt1.secret.read "
                                                  f"in namespace open (Secret hidden-{'creds' if what == 'import' else 'ci'})"), got
        assert not root.exists("dv", "open", "steal") and not root.exists("vm", "open", "steal")
        # denied calls changed nothing
        assert not root.exists("cm", "closed", "made") and root.exists("cm", "closed", "there")
        assert not root.exists("ns", "", "closed-new") and root.exists("ns", "", "closed-old")
        assert not root.exists("ns", "", "closed-applied")
        assert root.get_json("dv", "closed", "up")["status"]["phase"] == "UploadReady"
        # an admin's password: asked for only when the caller allows interaction
        assert got["object.apply ask"].startswith("org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"), got
    finally:
        d.stop()
