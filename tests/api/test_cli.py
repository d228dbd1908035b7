# SPDX-License-Identifier: LGPL-2.1-or-later
"""edgevirtctl against a daemon on a private bus: verbs, tables, output
formats, exit codes, upload with progress, waiting on signals."""
import json
import os
import subprocess
import threading
import time

import dbus
import pytest
import yaml

from conftest import BUILD, TOP, Client, wait_until
from test_vm import vm_yaml, vmi_obj, wait_status

CTL = os.path.join(BUILD, "edgevirtctl", "edgevirtctl")


@pytest.fixture
def ctl(bus, daemon, tmp_path):
    env = dict(os.environ, EDGEVIRT_BUS=bus.address, XDG_CONFIG_HOME=str(tmp_path / "config"), LC_ALL="C")

    def run(*args, input=None, ok=True):
        r = subprocess.run([CTL, *args], capture_output=True, text=True, env=env, input=input, timeout=60)
        if ok and r.returncode != 0:
            raise AssertionError(f"edgevirtctl {' '.join(args)} failed: {r.stderr}")
        return r
    run.config = tmp_path / "config" / "edgevirt" / "edgevirtctl.conf"
    run.env = env
    run.daemon = daemon
    run.bus_address = bus.address
    return run


def test_projects(ctl):
    r = ctl("new-project", "team-a", "--display-name=Team A")
    assert 'Now using project "team-a"' in r.stdout
    assert "Namespace=team-a" in ctl.config.read_text()
    assert 'Using project "team-a"' in ctl("project").stdout
    ctl("project", "default")
    assert 'Using project "default"' in ctl("project").stdout
    r = ctl("project", "nowhere", ok=False)
    assert r.returncode == 1 and 'namespaces "nowhere" not found' in r.stderr
    r = ctl("new-project", "team-a", ok=False)
    assert r.returncode == 1 and "already exists" in r.stderr


def test_apply_a_directory_and_get_tables(ctl):
    r = ctl("apply", "-f", os.path.join(TOP, "examples"))
    assert "namespace/edge-demo applied" in r.stdout and "pvc/disk applied" in r.stdout
    ctl("wait", "pvc/disk", "-n", "edge-demo", "--for=jsonpath={.status.phase}=Bound", "--timeout=30s")
    out = ctl("get", "pvc", "-n", "edge-demo").stdout.splitlines()
    assert out[0].split() == ["NAME", "STATUS", "CAPACITY", "ACCESS", "MODES", "STORAGECLASS", "AGE"]
    # examples/vm.yaml's DataVolume makes a claim too (its import needs the Internet)
    assert next(r for r in out[1:] if r.startswith("disk ")).split()[:5] == ["disk", "Bound", "1Gi", "RWO", "local"]
    assert "vm/debian applied" in r.stdout
    out = ctl("get", "secrets", "-A").stdout.splitlines()
    assert out[0].split()[:3] == ["NAMESPACE", "NAME", "TYPE"]
    assert out[1].split()[:4] == ["edge-demo", "image-credentials", "Opaque", "2"]
    assert ctl("get", "cm", "-n", "edge-demo", "-o", "name").stdout == "configmap/vm-settings\n"
    listed = json.loads(ctl("get", "cm", "-n", "edge-demo", "-o", "json").stdout)
    assert listed["kind"] == "ConfigMapList" and listed["items"][0]["data"]["hostname"] == "edge-vm-1"
    one = yaml.safe_load(ctl("get", "cm", "vm-settings", "-n", "edge-demo", "-o", "yaml").stdout)
    assert one["metadata"]["labels"] == {"app": "demo-vm"}
    assert ctl("get", "cm", "-A", "-l", "app=demo-vm", "-o", "name").stdout == "configmap/vm-settings\n"
    assert ctl("get", "cm", "-A", "-l", "app=other", "-o", "name").stdout == ""
    assert "local (default)" in ctl("get", "storageclasses").stdout
    wide = ctl("get", "pvc", "-n", "edge-demo", "-o", "wide").stdout.splitlines()
    disk = next(r for r in wide[1:] if r.startswith("disk "))
    assert wide[0].split()[-3:] == ["VOLUMEMODE", "VOLUME", "AGE"] and "Filesystem" in disk and "pvc-" in disk
    # one object by name, wide too
    one = ctl("get", "pvc", "disk", "-n", "edge-demo", "-o", "wide").stdout.splitlines()
    assert one[0].split()[-3:] == ["VOLUMEMODE", "VOLUME", "AGE"] and "Filesystem" in one[1], one
    both = ctl("get", "secrets,configmaps", "-n", "edge-demo").stdout
    assert "image-credentials" in both and "vm-settings" in both
    assert ctl("get", "secrets,cm", "-n", "edge-demo", "-o", "name").stdout == "secret/image-credentials\nconfigmap/vm-settings\n"
    assert "phase: Bound" in ctl("describe", "pvc", "disk", "-n", "edge-demo").stdout


def test_apply_stdin_and_errors(ctl):
    doc = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: from-stdin}\ndata: {a: b}\n"
    assert "configmap/from-stdin applied" in ctl("apply", "-f", "-", input=doc).stdout
    r = ctl("apply", "-f", "-", input="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad}\n", ok=False)
    assert r.returncode == 1 and "metadata.name" in r.stderr
    r = ctl("apply", "-f", "-", "-n", "other", input="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: default}\n", ok=False)
    assert r.returncode == 1 and "does not match" in r.stderr
    r = ctl("get", "gadgets", ok=False)
    assert r.returncode == 1 and "gadgets" in r.stderr
    r = ctl("get", "cm", "missing", ok=False)
    assert r.returncode == 1 and 'configmaps "missing" not found' in r.stderr
    r = ctl("frobnicate", ok=False)
    assert r.returncode == 1 and "unknown command" in r.stderr
    assert "image-upload" in ctl("--help").stdout


def test_delete_by_name_and_by_file(ctl, tmp_path):
    f = tmp_path / "two.yaml"
    f.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: one}\n---\n"
                 "apiVersion: v1\nkind: Secret\nmetadata: {name: two}\nstringData: {k: v}\n")
    ctl("apply", "-f", str(f))
    r = ctl("delete", "-f", str(f))
    assert 'configmap "one" deleted' in r.stdout and 'secret "two" deleted' in r.stdout
    ctl("apply", "-f", str(f))
    assert 'configmap "one" deleted' in ctl("delete", "configmap", "one").stdout
    r = ctl("delete", "configmap", "one", ok=False)
    assert r.returncode == 1 and "not found" in r.stderr


def test_wait_follows_signals(ctl):
    ctl("apply", "-f", "-", input="apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\nmetadata: {name: empty}\n"
        "spec: {source: {blank: {}}, storage: {resources: {requests: {storage: 8Mi}}}}\n")
    assert "dv/empty condition met" in ctl("wait", "dv/empty", "--for=condition=Ready", "--timeout=30s").stdout
    assert "condition met" in ctl("wait", "dv/empty", '--for=jsonpath={.status.conditions[?(@.type=="Ready")].status}=True',
                                  "--timeout=30s").stdout
    out = ctl("get", "dv", "-o", 'jsonpath={range .items[*]}{.metadata.name}={.status.phase}{"\\n"}{end}').stdout
    assert out == "empty=Succeeded\n", out
    assert ctl("get", "dv", "empty", "-o", "jsonpath={.spec.source}").stdout == '{"blank":{}}'
    r = ctl("get", "dv", "-o", "jsonpath={.items[", ok=False)
    assert r.returncode == 1 and "jsonpath" in r.stderr
    r = ctl("wait", "dv/empty", "--for=condition=Running", "--timeout=1s", ok=False)
    assert r.returncode == 1 and "timed out" in r.stderr
    ctl("delete", "dv", "empty")
    ctl("wait", "dv/empty", "--for=delete", "--timeout=30s")


def test_image_upload(ctl, client, tmp_path):
    image = tmp_path / "disk.raw"
    with open(image, "wb") as f:
        f.truncate(8 << 20)
        f.seek(4096)
        f.write(b"uploaded by edgevirtctl")
    r = ctl("image-upload", "dv", "up", f"--image-path={image}", "--size=8Mi")
    assert "completed successfully" in r.stdout and "created" in r.stderr
    got = json.loads(ctl("get", "dv", "up", "-o", "json").stdout)
    assert got["status"]["phase"] == "Succeeded"
    # the bytes arrived in the claim's volume
    volume = str(client.props("/org/edgevirt/EdgeVirt1/namespace/default/pvc/up",
                              "org.edgevirt.EdgeVirt1.PersistentVolumeClaim")["VolumePath"])
    with open(volume, "rb") as f:
        f.seek(4096)
        assert f.read(23) == b"uploaded by edgevirtctl"
    r = ctl("image-upload", "dv", "up", f"--image-path={image}", ok=False)
    assert r.returncode == 1 and "Succeeded" in r.stderr
    r = ctl("image-upload", "dv", "nope", f"--image-path={image}", "--no-create", ok=False)
    assert r.returncode == 1 and "--size" in r.stderr


def openapi_check(schema, definitions, value, path="spec"):
    """A small OpenAPI v2 walk: known fields, types, required members."""
    if "$ref" in schema:
        return openapi_check(definitions[schema["$ref"].split("/")[-1]], definitions, value, path)
    t = schema.get("type")
    if t == "object" and "properties" in schema:
        assert isinstance(value, dict), path
        for k, v in value.items():
            assert k in schema["properties"], f"{path}.{k}: not in KubeVirt's schema"
            openapi_check(schema["properties"][k], definitions, v, f"{path}.{k}")
        for k in schema.get("required", []):
            assert k in value, f"{path}.{k}: required by KubeVirt's schema"
    elif t == "array":
        assert isinstance(value, list), path
        for i, v in enumerate(value):
            openapi_check(schema.get("items", {}), definitions, v, f"{path}[{i}]")
    elif t == "string":
        assert isinstance(value, str), path


def test_export_round_trip(ctl, bus, tmp_path):
    from conftest import COMPAT, Daemon
    ctl("new-project", "shop")
    ctl("apply", "-f", "-", input=(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, labels: {app: shop}}\ndata: {a: b}\n---\n"
        "apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {accessKeyId: u, secretKey: p}\n---\n"
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {name: devs}\n"
        "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}\n"
        "subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: developers}]\n---\n"
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\n"
        "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 16Mi}}}\n---\n"
        "apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\nmetadata: {name: disk}\n"
        "spec: {source: {blank: {}}, storage: {resources: {requests: {storage: 16Mi}}}}\n---\n"
        "apiVersion: instancetype.kubevirt.io/v1beta1\nkind: VirtualMachineInstancetype\nmetadata: {name: small}\n"
        "spec: {cpu: {guest: 1}, memory: {guest: 64Mi}}\n---\n"
        "apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata: {name: web}\n"
        "spec:\n  runStrategy: Always\n  instancetype: {kind: VirtualMachineInstancetype, name: small}\n"
        "  dataVolumeTemplates:\n  - metadata: {name: web-root}\n"
        "    spec: {source: {blank: {}}, storage: {resources: {requests: {storage: 16Mi}}}}\n"
        "  template:\n    spec:\n      domain: {devices: {disks: [{name: root, disk: {}}]}}\n"
        "      volumes: [{name: root, dataVolume: {name: web-root}}]\n"))
    ctl("wait", "dv/disk", "--for=condition=Ready", "--timeout=30s")
    ctl("wait", "vm/web", "--for=condition=Ready", "--timeout=30s")
    exported = ctl("export").stdout
    docs = [d for d in yaml.safe_load_all(exported) if d]
    kinds = sorted(d["kind"] for d in docs)
    # the DataVolume's own claim is not exported: the DataVolume makes it
    # again; nor are the VM's instance and the DataVolume of its template
    assert kinds == ["ConfigMap", "DataVolume", "Namespace", "PersistentVolumeClaim", "RoleBinding", "Secret", "VirtualMachine",
                     "VirtualMachineInstancetype"]
    for d in docs:
        assert "status" not in d
        assert not {"uid", "resourceVersion", "creationTimestamp", "generation", "ownerReferences"} & set(d["metadata"])
        if d["kind"] == "PersistentVolumeClaim":
            assert "volumeName" not in d["spec"] and "storageClassName" not in d["spec"]
            assert "finalizers" not in d["metadata"]
    # what KubeVirt's published schema says of a DataVolume's spec
    with open(os.path.join(COMPAT, "kubevirt-openapi.json")) as f:
        definitions = json.load(f)["definitions"]
    dv = next(d for d in docs if d["kind"] == "DataVolume")
    openapi_check(definitions["v1beta1.DataVolumeSpec"], definitions, dv["spec"])
    openapi_check(definitions["k8s.io.api.core.v1.PersistentVolumeClaimSpec"], definitions,
                  next(d for d in docs if d["kind"] == "PersistentVolumeClaim")["spec"])
    openapi_check(definitions["v1.VirtualMachine"], definitions, next(d for d in docs if d["kind"] == "VirtualMachine"))
    openapi_check(definitions["v1beta1.VirtualMachineInstancetype"], definitions,
                  next(d for d in docs if d["kind"] == "VirtualMachineInstancetype"))

    # apply to a fresh daemon (the first one leaves the bus name to it):
    # the same objects come back, and export the same again
    ctl.daemon.stop()
    fresh = Daemon(bus, str(tmp_path / "fresh-state")).start()
    try:
        ctl("apply", "-f", "-", input=exported)
        ctl("wait", "dv/disk", "-n", "shop", "--for=condition=Ready", "--timeout=30s")
        ctl("wait", "vm/web", "-n", "shop", "--for=condition=Ready", "--timeout=30s")
        assert ctl("export", "-n", "shop").stdout == exported
        c = Client(bus.conn)
        assert c.get_json("secret", "shop", "creds")["data"] == secret_data(docs)
    finally:
        fresh.stop()


def secret_data(docs):
    return next(d for d in docs if d["kind"] == "Secret")["data"]


def complete(ctl, line):
    """What bash completion offers for a command line."""
    script = (f"source /usr/share/bash-completion/bash_completion\n"
              f"source {TOP}/edgevirtctl/edgevirtctl.bash\n"
              f"export PATH={os.path.dirname(CTL)}:$PATH\n"
              f"COMP_LINE='{line}'; COMP_WORDS=({line}); COMP_CWORD=${{#COMP_WORDS[@]}}\n"
              f"[[ '{line}' == *' ' ]] && COMP_WORDS+=('') && COMP_CWORD=$((COMP_CWORD))\n"
              f"COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); COMP_POINT=${{#COMP_LINE}}\n"
              f"_edgevirtctl; printf '%s\\n' \"${{COMPREPLY[@]}}\"\n")
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                       env=dict(os.environ, EDGEVIRT_BUS=ctl.bus_address), timeout=30)
    return set(r.stdout.split())


def test_bash_completion(ctl):
    ctl("apply", "-f", "-", input="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n")
    assert {"get", "apply", "image-upload", "export"} <= complete(ctl, "edgevirtctl ")
    assert complete(ctl, "edgevirtctl ex") == {"export"}
    assert complete(ctl, "edgevirtctl res") == {"reset", "restart"}
    assert {"pvc", "dv", "configmaps", "dic", "das"} <= complete(ctl, "edgevirtctl get ")
    assert "settings" in complete(ctl, "edgevirtctl get cm ")
    assert complete(ctl, "edgevirtctl get cm -o ") == {"json", "yaml", "name", "wide"}
    assert complete(ctl, "edgevirtctl credentials ") == {"add-ssh-key", "remove-ssh-key", "set-password"}
    assert complete(ctl, "edgevirtctl credentials set-password --p") == {"--password="}
    assert {"--file=", "--create-secret"} <= complete(ctl, "edgevirtctl credentials add-ssh-key --")
    assert complete(ctl, "edgevirtctl add") == {"addvolume"}
    assert complete(ctl, "edgevirtctl addvolume box --") == {"--volume-name", "--persist", "--serial", "--bus"}
    assert complete(ctl, "edgevirtctl removevolume box --") == {"--volume-name", "--persist"}


def test_addvolume_removevolume(ctl):
    """virtctl addvolume/removevolume: --bus is the disk's bus, as in
    virtctl (the D-Bus bus comes from EDGEVIRT_BUS); --persist on a
    stopped VM writes its template."""
    ctl("apply", "-f", "-", input="apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata: {name: hot}\n"
        "spec: {runStrategy: Halted, template: {spec: {domain: {memory: {guest: 64Mi}}}}}\n---\n"
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: extra}\n"
        "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 16Mi}}}\n")
    assert "extra" in complete(ctl, "edgevirtctl addvolume hot --volume-name ")
    r = ctl("addvolume", "hot", "--volume-name=extra", ok=False)
    assert r.returncode == 1 and "not running" in r.stderr and "persist" in r.stderr
    r = ctl("addvolume", "hot", ok=False)
    assert r.returncode == 1 and "usage: edgevirtctl addvolume VM --volume-name=NAME" in r.stderr
    r = ctl("addvolume", "hot", "--volume-name=extra", "--persist", "--bus=virtio", ok=False)
    assert r.returncode == 1 and "scsi" in r.stderr
    r = ctl("addvolume", "hot", "--volume-name=extra", "--persist", "--bus=scsi", "--serial=EX1")
    assert r.stdout == "Successfully submitted add volume request to VM hot for volume extra\n"
    disks = json.loads(ctl("get", "vm", "hot", "-o", "json").stdout)["spec"]["template"]["spec"]["domain"]["devices"]
    assert disks["disks"] == [{"name": "extra", "disk": {"bus": "scsi"}, "serial": "EX1"}]
    r = ctl("removevolume", "hot", "--volume-name=extra", "--persist")
    assert r.stdout == "Successfully submitted remove volume request to VM hot for volume extra\n"
    assert "extra" not in ctl("get", "vm", "hot", "-o", "json").stdout
    r = ctl("removevolume", "nothing", "--volume-name=extra", ok=False)
    assert r.returncode == 1 and 'VirtualMachine "nothing" not found' in r.stderr


def test_man_pages_render():
    for page in ("edgevirtctl.1", "edgevirtd.8"):
        r = subprocess.run(["groff", "-man", "-ww", "-z", os.path.join(TOP, "docs", "man", page)],
                           capture_output=True, text=True)
        assert r.returncode == 0 and r.stderr == "", r.stderr


class Watch:
    """edgevirtctl get ... -w running, its lines read as they come."""

    def __init__(self, ctl, *args):
        self.proc = subprocess.Popen([CTL, "get", *args, "-w", "--timeout=30s"], stdout=subprocess.PIPE, text=True,
                                     env=ctl.env)
        self.lines = []
        threading.Thread(target=lambda: self.lines.extend(iter(self.proc.stdout.readline, "")), daemon=True).start()

    def wait_for(self, word):
        deadline = time.monotonic() + 20
        while not any(word in line for line in list(self.lines)):
            assert time.monotonic() < deadline, f"no '{word}' in {self.lines}"
            time.sleep(0.05)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        assert self.proc.wait(timeout=10) == 0


def test_get_watch_follows_changes(ctl):
    ctl("apply", "-f", "-", input="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: before}\n")
    with Watch(ctl, "cm", "-n", "default") as w:
        w.wait_for("before")
        assert w.lines[0].split()[:2] == ["NAME", "DATA"]
        ctl("apply", "-f", "-", input="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: during}\ndata: {a: b}\n")
        w.wait_for("during")
        assert sum("before" in line for line in w.lines) == 1, "unchanged objects are not printed again"


def test_get_watch_shows_an_event_that_comes_alone(ctl):
    """get -w of Events: a reset changes no object, it only records an
    Event, which comes from the namespace's Events manager
    (ROOT/namespace/NS/event), not the root's."""
    client = Client(dbus.bus.BusConnection(ctl.bus_address))
    client.apply(vm_yaml("alone"))
    wait_status(client, "alone", "Running")
    with Watch(ctl, "events", "-n", "default") as w:
        w.wait_for("Started")
        time.sleep(2)       # the start's last changes are signalled: the reset's Event comes alone
        assert not any("Reset" in line for line in w.lines), w.lines
        vmi_obj(client, "alone").Reset({})
        w.wait_for("Reset")


def test_create(ctl, tmp_path):
    key = tmp_path / "id_ed25519.pub"
    key.write_text("ssh-ed25519 AAAAC3Nza... user@host\n")
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"\x00\xff binary")
    assert "secret/ssh created" in ctl("create", "secret", "generic", "ssh", f"--from-file=key={key}",
                                       "--from-literal=user=debian").stdout
    s = json.loads(ctl("get", "secret", "ssh", "-o", "json").stdout)
    import base64
    assert base64.b64decode(s["data"]["key"]).decode() == key.read_text()
    assert base64.b64decode(s["data"]["user"]) == b"debian" and s["type"] == "Opaque"
    assert "configmap/cfg created" in ctl("create", "configmap", "cfg", "--from-literal=mode=fast",
                                          f"--from-file={key}", f"--from-file=raw={blob}").stdout
    cm = json.loads(ctl("get", "cm", "cfg", "-o", "json").stdout)
    assert cm["data"] == {"mode": "fast", "id_ed25519.pub": key.read_text()}
    assert base64.b64decode(cm["binaryData"]["raw"]) == blob.read_bytes()
    r = ctl("create", "configmap", "cfg", ok=False)
    assert r.returncode == 1 and "already exists" in r.stderr
    r = ctl("create", "configmap", "bad", "--from-literal=novalue", ok=False)
    assert r.returncode == 1 and "KEY=VALUE" in r.stderr
    r = ctl("create", "secret", "generic", "tls", "--type=kubernetes.io/tls", "--from-literal=tls.crt=x", ok=False)
    assert r.returncode == 1 and "tls.key" in r.stderr
    assert "namespace/made created" in ctl("create", "namespace", "made").stdout
    assert 'Using project "default"' in ctl("project").stdout


def test_german(ctl, bus):
    """The CLI's strings go through gettext; the German catalog is built."""
    env = dict(os.environ, EDGEVIRT_BUS=bus.address, LANG="C.UTF-8", LC_ALL="C.UTF-8", LANGUAGE="de",
               EDGEVIRT_LOCALEDIR=os.path.join(os.path.dirname(os.path.dirname(CTL)), "po"))
    r = subprocess.run([CTL, "frobnicate"], capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "unbekannter Befehl „frobnicate“" in r.stderr, r.stderr
    r = subprocess.run([CTL, "--help"], capture_output=True, text=True, env=env)
    assert "KubeVirt- und CDI-Objekte auf einem Knoten" in r.stdout
    r = subprocess.run([CTL, "start", "nosuch"], capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "nicht gefunden" in r.stderr, r.stderr
    r = subprocess.run([CTL, "credentials", "rotate", "--user=x", "vm"], capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "unbekannter credentials-Befehl „rotate“" in r.stderr, r.stderr


def test_german_catalog_is_complete(tmp_path):
    """Every string of the CLI's sources has its German translation (the
    catalog merged with what the sources say now)."""
    sources = [line.strip() for line in open(os.path.join(TOP, "po", "POTFILES")) if line.strip().startswith("edgevirtctl/")]
    pot, merged = tmp_path / "cli.pot", tmp_path / "de.po"
    subprocess.run(["xgettext", "--from-code=UTF-8", "-k_", "-kN_", "-D", TOP, "-o", str(pot), *sources], check=True)
    subprocess.run(["msgmerge", "-q", "--no-fuzzy-matching", os.path.join(TOP, "po", "de.po"), str(pot), "-o", str(merged)],
                   check=True)
    r = subprocess.run(["msgfmt", "--statistics", "-o", "/dev/null", str(merged)], capture_output=True, text=True, check=True)
    assert "untranslated" not in r.stderr and "fuzzy" not in r.stderr, \
        r.stderr + " in po/de.po (run ninja edgevirt-update-po and translate)"


def test_vm_verbs_and_tables(ctl):
    """virtctl's verbs and the VM tables, on libvirt's test driver (the
    console and VNC through a real terminal are in the system lane)."""
    ctl("apply", "-f", "-", input="apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata: {name: box}\n"
        "spec: {runStrategy: Halted, template: {spec: {domain: {memory: {guest: 64Mi}}}}}\n")
    rows = ctl("get", "vm").stdout.splitlines()
    assert rows[0].split() == ["NAME", "AGE", "STATUS", "READY"] and rows[1].split()[2:] == ["Stopped", "False"]
    assert ctl("start", "box").stdout == "VM box was scheduled to start\n"
    ctl("wait", "vm/box", "--for=condition=Ready", "--timeout=30s")
    rows = ctl("get", "vmi").stdout.splitlines()
    assert rows[0].split() == ["NAME", "AGE", "PHASE", "IP", "NODENAME", "READY"] and rows[1].split()[2] == "Running"
    assert ctl("get", "vm", "-o", "wide").stdout.splitlines()[0].split() == ["NAME", "AGE", "STATUS", "RUNSTRATEGY", "READY", ]
    r = ctl("start", "box", ok=False)
    assert r.returncode == 1 and "already running" in r.stderr
    assert "scheduled to pause" in ctl("pause", "vm", "box").stdout
    ctl("wait", "vm/box", "--for=jsonpath={.status.printableStatus}=Paused", "--timeout=30s")
    r = ctl("soft-reboot", "box", ok=False)
    assert r.returncode == 1 and "paused" in r.stderr
    assert "scheduled to unpause" in ctl("unpause", "vmi", "box").stdout
    ctl("wait", "vm/box", "--for=jsonpath={.status.printableStatus}=Running", "--timeout=30s")
    assert "soft reboot" in ctl("soft-reboot", "box").stdout
    assert ctl("reset", "box").stdout == "VM box was scheduled to reset\n"
    uid = ctl("get", "vmi", "box", "-o", "jsonpath={.metadata.uid}").stdout
    ctl("restart", "box", "--grace-period=0")
    ctl("wait", "vmi/box", "--for=jsonpath={.status.phase}=Running", "--timeout=30s")
    wait_until(lambda: ctl("get", "vmi", "box", "-o", "jsonpath={.metadata.uid}", ok=False).stdout not in ("", uid),
               what="a new instance")
    r = ctl("guestosinfo", "box", ok=False)
    assert r.returncode == 1 and "guest agent is not connected" in r.stderr
    r = ctl("pause", "box", ok=False)
    assert r.returncode == 1 and "usage" in r.stderr
    r = ctl("start", "box", "--force", ok=False)
    assert r.returncode == 1 and "--force" in r.stderr
    assert ctl("stop", "box", "--force").stdout == "VM box was scheduled to stop\n"
    ctl("wait", "vmi/box", "--for=delete", "--timeout=30s")
    r = ctl("stop", "box", ok=False)
    assert r.returncode == 1 and "not running" in r.stderr
    r = ctl("console", "box", ok=False)
    assert r.returncode == 1 and "not running" in r.stderr


CRED_VM = """apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {name: NAME}
spec:
  runStrategy: Halted
  template:
    spec:
      domain: {memory: {guest: 64Mi}}
      accessCredentials:
      - sshPublicKey:
          source: {secret: {secretName: shared-keys}}
          propagationMethod: {qemuGuestAgent: {users: [ops]}}
      - userPassword:
          source: {secret: {secretName: passwords}}
          propagationMethod: {qemuGuestAgent: {}}
"""


def secret_values(ctl, name):
    import base64
    data = json.loads(ctl("get", "secret", name, "-o", "json").stdout).get("data", {})
    return {k: base64.b64decode(v).decode() for k, v in data.items()}


def test_credentials_verbs(ctl, tmp_path):
    """virtctl credentials: keys and passwords in the Secrets behind a VM's
    accessCredentials (the guest follows them: docs/vms.md)."""
    key1 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOne one@edge"
    key2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITwo two@edge"
    (tmp_path / "k2.pub").write_text(key2 + "\n")
    ctl("apply", "-f", "-", input="apiVersion: v1\nkind: Secret\nmetadata: {name: shared-keys}\n"
        f"stringData: {{a: \"{key1}\"}}\n---\napiVersion: v1\nkind: Secret\nmetadata: {{name: passwords}}\nstringData: {{root: x}}\n")
    ctl("apply", "-f", "-", input=CRED_VM.replace("NAME", "box"))

    # a Secret the VM does not own is changed only with --force
    r = ctl("credentials", "add-ssh-key", "--user=ops", f"--file={tmp_path / 'k2.pub'}", "box", ok=False)
    assert r.returncode == 1 and "not owned by VM box" in r.stderr and "--force" in r.stderr
    assert 'Added the key to Secret "shared-keys"' in ctl("credentials", "add-ssh-key", "--user=ops",
                                                          f"--file={tmp_path / 'k2.pub'}", "--force", "box").stdout
    assert sorted(secret_values(ctl, "shared-keys").values()) == [key1, key2]
    assert "already holds this key" in ctl("credentials", "add-ssh-key", "--user=ops", f"--value={key2}", "box").stdout
    assert 'Removed the key from Secret "shared-keys"' in ctl("credentials", "remove-ssh-key", "--user=ops",
                                                              f"--value={key1}", "--force", "box").stdout
    assert list(secret_values(ctl, "shared-keys").values()) == [key2]
    assert "No Secret of user ops holds this key" in ctl("credentials", "remove-ssh-key", "--user=ops", f"--value={key1}",
                                                          "box").stdout

    # a user without a Secret: a new one the VM owns, and an entry in the VM
    out = ctl("credentials", "add-ssh-key", "--user=admin", f"--value={key1}", "box").stdout
    assert "new Secret" in out
    vm = json.loads(ctl("get", "vm", "box", "-o", "json").stdout)
    entry = vm["spec"]["template"]["spec"]["accessCredentials"][2]["sshPublicKey"]
    made = entry["source"]["secret"]["secretName"]
    assert made.startswith("box-ssh-key-") and entry["propagationMethod"]["qemuGuestAgent"]["users"] == ["admin"]
    owner = json.loads(ctl("get", "secret", made, "-o", "json").stdout)["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "VirtualMachine" and owner["uid"] == vm["metadata"]["uid"]
    assert list(secret_values(ctl, made).values()) == [key1]
    # that one is the VM's: no --force needed
    ctl("credentials", "add-ssh-key", "--user=admin", f"--value={key2}", "box")
    assert sorted(secret_values(ctl, made).values()) == [key1, key2]

    # passwords
    r = ctl("credentials", "set-password", "--user=ops", "--password=s3cret", "box", ok=False)
    assert r.returncode == 1 and "not owned" in r.stderr
    ctl("credentials", "set-password", "--user=ops", "--password=s3cret", "--force", "box")
    assert secret_values(ctl, "passwords") == {"root": "x", "ops": "s3cret"}

    # a running VM gets a new Secret only with --force (it takes effect at its next start)
    ctl("apply", "-f", "-", input=CRED_VM.replace("NAME", "run").replace("Halted", "Always"))
    ctl("wait", "vmi/run", "--for=jsonpath={.status.phase}=Running", "--timeout=30s")
    r = ctl("credentials", "add-ssh-key", "--user=new", f"--value={key1}", "run", ok=False)
    assert r.returncode == 1 and "is running" in r.stderr
    # errors name what is wrong
    r = ctl("credentials", "add-ssh-key", "--user=ops", "--value=nokey", "box", ok=False)
    assert r.returncode == 1 and "not an SSH public key" in r.stderr
    r = ctl("credentials", "add-ssh-key", "--value=" + key1, "box", ok=False)
    assert r.returncode == 1 and "--user" in r.stderr
    r = ctl("credentials", "set-password", "--user=ops", "--password=x", "nosuch", ok=False)
    assert r.returncode == 1 and "not found" in r.stderr
    r = ctl("credentials", "rotate", "--user=ops", "box", ok=False)
    assert r.returncode == 1 and "unknown credentials command" in r.stderr
    # the Secret the VM owns goes with it; the shared ones stay
    ctl("delete", "vm", "box")
    wait_until(lambda: ctl("get", "secret", made, ok=False).returncode != 0, what="the VM's Secret to be collected")
    assert ctl("get", "secret", "shared-keys", ok=False).returncode == 0


OLD_DAEMON = r'''
import sys, dbus, dbus.service, dbus.mainloop.glib
from gi.repository import GLib
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
conn = dbus.bus.BusConnection(sys.argv[1])
calls = open(sys.argv[2], "a", buffering=1)
ITEM = '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "from-old", "namespace": "default"}}'

class Manager(dbus.service.Object):
    @dbus.service.method("org.edgevirt.EdgeVirt1.Manager", in_signature="ssa{sv}", out_signature="s")
    def List(self, kind, namespace, options):
        output = str(options.get("output", "json"))
        calls.write(output + "\n")
        if output not in ("json", "yaml"):
            raise dbus.exceptions.DBusException(f'option "output": "{output}" is not one of json, yaml',
                                                name="org.freedesktop.DBus.Error.InvalidArgs")
        return '{\n  "apiVersion" : "v1",\n  "kind" : "ConfigMapList",\n  "metadata" : {},\n  "items" : [' + ITEM + ']\n}'

name = dbus.service.BusName("org.edgevirt.EdgeVirt1", conn)
Manager(conn, "/org/edgevirt/EdgeVirt1")
print("ready", flush=True)
GLib.MainLoop().run()
'''


def test_get_from_a_daemon_older_than_json_compact(bus, tmp_path):
    """edgevirtctl parses its List pages from "json-compact"; a daemon from
    before it refuses that output, and edgevirtctl asks again, laid out."""
    calls = tmp_path / "calls"
    old = subprocess.Popen(["/usr/bin/python3", "-c", OLD_DAEMON, bus.address, str(calls)], stdout=subprocess.PIPE,
                           text=True)
    try:
        assert old.stdout.readline().strip() == "ready"
        env = dict(os.environ, EDGEVIRT_BUS=bus.address, XDG_CONFIG_HOME=str(tmp_path / "config"), LC_ALL="C")
        r = subprocess.run([CTL, "get", "cm", "-o", "name"], capture_output=True, text=True, env=env, timeout=60)
        assert r.returncode == 0, r.stderr
        assert r.stdout.split() == ["configmap/from-old"]
        assert calls.read_text().split() == ["json-compact", "json"]
    finally:
        old.terminate()
        old.wait()
