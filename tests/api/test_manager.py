# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Manager's verbs, every error they give, and the objects on the bus."""
import time
import base64
import json
import os
import re
import subprocess
import uuid
from unittest.mock import ANY

import dbus
import pytest
import yaml

from conftest import DAEMON, ERR, NAME, NAMESPACE, OBJECT, ROOT, expect_error, wait_until

NS_DEMO = "/org/edgevirt/EdgeVirt1/namespace/demo"

DEMO = """
apiVersion: v1
kind: Namespace
metadata:
  name: demo
  labels: {team: blue}
---
apiVersion: v1
kind: Secret
metadata:
  name: db-pass
  namespace: demo
  labels: {app: db}
stringData:
  password: hunter2
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
  namespace: demo
  labels: {app: web}
data:
  mode: fast
"""


def test_apply_creates_in_document_order(client):
    paths = client.apply(DEMO)
    assert paths == [NS_DEMO, NS_DEMO + "/secret/db_2dpass", NS_DEMO + "/configmap/app_2dconfig"]
    secret = client.get_json("Secret", "demo", "db-pass")
    assert secret["apiVersion"] == "v1" and secret["kind"] == "Secret"
    meta = secret["metadata"]
    uuid.UUID(meta["uid"])
    assert meta["generation"] == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["creationTimestamp"])
    assert int(meta["resourceVersion"]) > 0
    # stringData is written into data, base64-encoded, as Kubernetes does
    assert "stringData" not in secret
    assert base64.b64decode(secret["data"]["password"]) == b"hunter2"
    assert secret["type"] == "Opaque"


def test_namespace_object_on_bus(client):
    client.apply(DEMO)
    props = client.props(NS_DEMO, NAMESPACE)
    assert props["Name"] == "demo"
    assert props["Phase"] == "Active"
    assert dict(props["Labels"]) == {"team": "blue"}
    assert props["Uid"] == client.get_json("ns", "", "demo")["metadata"]["uid"]
    generic = client.props(NS_DEMO + "/secret/db_2dpass", OBJECT)
    assert generic["Kind"] == "Secret" and generic["Namespace"] == "demo" and generic["Name"] == "db-pass"
    assert dict(generic["Labels"]) == {"app": "db"}


def test_get_yaml_and_json_agree(client):
    client.apply(DEMO)
    as_yaml = yaml.safe_load(client.get("configmap", "demo", "app-config", output="yaml"))
    as_json = client.get_json("cm", "demo", "app-config")
    assert as_yaml == as_json
    expect_error("org.freedesktop.DBus.Error.InvalidArgs", client.get, "cm", "demo", "app-config", output="xml")


def test_get_not_found_names_object(client):
    msg = expect_error("NotFound", client.get, "secret", "default", "nope")
    assert 'secrets "nope" not found' in msg
    msg = expect_error("NotSupported", client.get, "gadget", "default", "x")
    assert "gadget" in msg


def test_list_and_label_selector(client):
    client.apply(DEMO)
    client.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other, labels: {app: db}}\n")
    everything = client.list("ConfigMap")
    assert everything["kind"] == "ConfigMapList" and everything["apiVersion"] == "v1"
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in everything["items"]] == \
        [("default", "other"), ("demo", "app-config")]
    assert int(everything["metadata"]["resourceVersion"]) > 0
    only_demo = client.list("configmaps", "demo")
    assert [i["metadata"]["name"] for i in only_demo["items"]] == ["app-config"]
    db = client.list("cm", "", label_selector="app=db")
    assert [i["metadata"]["name"] for i in db["items"]] == ["other"]
    assert client.list("cm", "", label_selector="app in (web, db),app!=web")["items"][0]["metadata"]["name"] == "other"
    assert client.list("namespaces", "", label_selector="team")["items"][0]["metadata"]["name"] == "demo"
    as_yaml = yaml.safe_load(str(client.manager.List("cm", "demo", {"output": "yaml"})))
    assert as_yaml["items"][0]["data"] == {"mode": "fast"}
    msg = expect_error("org.freedesktop.DBus.Error.InvalidArgs", client.list, "cm", "", label_selector="app in web")
    assert "label-selector" in msg


def test_list_and_get_show_each_change_at_once(client):
    """List and Get write JSON from each object's remembered text: every
    change (an Apply, a controller's status, an event counted again)
    replaces it, and the layout is the generator's."""
    doc = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fresh}\ndata: {v: '%s'}\n"
    client.apply(doc % "1")
    first = client.get_json("cm", "default", "fresh")
    assert first["data"]["v"] == "1"
    assert [i["data"]["v"] for i in client.list("cm", "default")["items"]] == ["1"]
    for value in ("2", "3"):
        client.apply(doc % value)
        got = client.get_json("cm", "default", "fresh")
        assert got["data"]["v"] == value
        assert int(got["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
        listed = client.list("cm", "default")
        assert listed["items"] == [got]
        assert yaml.safe_load(client.get("cm", "default", "fresh", output="yaml")) == got
        assert yaml.safe_load(str(client.manager.List("cm", "default", {"output": "yaml"}))) == listed
    text = client.get("cm", "default", "fresh")
    assert text.startswith('{\n  "apiVersion" : "v1",\n') and '\n  "data" : {\n    "v" : "3"\n  }' in text, text
    client.delete("cm", "default", "fresh")
    assert client.list("cm", "default")["items"] == []


def without_list_version(doc):
    """A List's resourceVersion is the model's: any write between two calls moves it."""
    if doc.get("kind", "").endswith("List"):
        doc["metadata"].pop("resourceVersion")
    return doc


def test_json_compact_is_the_same_json_without_layout(client):
    """output "json-compact": what the API server sends a program, the
    documents as they are; "json" lays them out for people."""
    assert json.loads(str(client.manager.List("cm", "default", {"output": "json-compact"}))) == \
        {"apiVersion": "v1", "kind": "ConfigMapList", "metadata": {"resourceVersion": ANY}, "items": []}
    for name, labels in (("one", "{app: web}"), ("two", "{app: db, tier: '2'}")):
        client.apply(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, labels: {labels}}}\n"
                     "data: {text: \"a \\\"quoted\\\" line,\\nand {braces}: [x]\"}\n")
    for call in (lambda o: client.manager.Get("cm", "default", "two", o),
                 lambda o: client.manager.List("cm", "default", o),
                 lambda o: client.manager.List("cm", "", {**o, "label-selector": "app=db"})):
        laid_out = str(call({"output": "json"}))
        compact = str(call({"output": "json-compact"}))
        assert without_list_version(json.loads(compact)) == without_list_version(json.loads(laid_out))
        assert "\n" not in compact and '" : ' not in compact and compact.startswith('{"apiVersion":"v1","kind":')
        assert len(compact) < 0.8 * len(laid_out)
    assert [i["metadata"]["name"] for i in json.loads(str(
        client.manager.List("cm", "default", {"output": "json-compact"})))["items"]] == ["one", "two"]
    msg = expect_error("org.freedesktop.DBus.Error.InvalidArgs", client.manager.List, "cm", "default",
                       {"output": "jsonc"})
    assert msg == 'option "output": "jsonc" is not one of json, json-compact, yaml', msg


def memory_measurable():
    """RssAnon means nothing under valgrind (the lane's wrapper) or with
    AddressSanitizer (its quarantine keeps what is freed)."""
    if os.environ.get("EDGEVIRT_DAEMON_WRAPPER"):
        return False
    return "libasan" not in subprocess.run(["ldd", DAEMON], capture_output=True, text=True).stdout


def rss_anon_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("RssAnon:"))


@pytest.mark.parametrize("syntax", ["yaml", "json"])
def test_apply_keeps_nothing_it_parsed(daemon, client, syntax):
    """Every Apply parses its text into a tree and admits a copy: neither
    may outlive it.  (json-glib's json_node_init_object takes a reference
    of its own: each parsed container, and each admitted document, stayed
    in memory for good, about 14 times the text's size.)"""
    if not memory_measurable():
        pytest.skip("RssAnon is not the daemon's own under valgrind or AddressSanitizer")
    data = {"k%04d" % i: "value %d" % i for i in range(2000)}
    doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"}, "data": data}
    text = yaml.safe_dump(doc) if syntax == "yaml" else json.dumps(doc)
    for i in range(5):          # the allocator's pools settle
        client.apply(text.replace("value 1", "value %d-%d" % (1, i)))
    before = rss_anon_kib(daemon.proc.pid)
    for i in range(30):
        client.apply(text.replace("value 1", "value %d-%d" % (2, i)))
    grown = rss_anon_kib(daemon.proc.pid) - before
    # leaking, 30 Applies kept about 30 x 0.7 MB here
    assert grown < 4096, f"RssAnon grew by {grown} KiB over 30 Applies"


def test_update_generation_and_resource_version(client):
    client.apply(DEMO)
    first = client.get_json("cm", "demo", "app-config")
    # identical apply: nothing written
    client.apply(DEMO)
    same = client.get_json("cm", "demo", "app-config")
    assert same["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    # a label change: new resourceVersion, same generation
    client.apply(DEMO.replace("app: web", "app: web2"))
    relabeled = client.get_json("cm", "demo", "app-config")
    assert int(relabeled["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    assert relabeled["metadata"]["generation"] == 1
    assert relabeled["metadata"]["uid"] == first["metadata"]["uid"]
    assert relabeled["metadata"]["creationTimestamp"] == first["metadata"]["creationTimestamp"]
    # a data change: the generation moves
    client.apply(DEMO.replace("mode: fast", "mode: slow"))
    changed = client.get_json("cm", "demo", "app-config")
    assert changed["metadata"]["generation"] == 2
    assert changed["data"] == {"mode": "slow"}


def test_resource_version_conflict(client):
    client.apply(DEMO)
    cur = client.get_json("cm", "demo", "app-config")
    rv = cur["metadata"]["resourceVersion"]
    cur["data"]["mode"] = "v2"
    client.apply(json.dumps(cur))          # current resourceVersion: accepted
    cur["data"]["mode"] = "v3"             # now stale
    msg = expect_error("Conflict", client.apply, json.dumps(cur))
    assert "the object has been modified" in msg and rv in msg
    assert client.get_json("cm", "demo", "app-config")["data"]["mode"] == "v2"
    # and on create a resourceVersion makes no sense
    msg = expect_error("Invalid", client.apply,
                       "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fresh, resourceVersion: '5'}\n")
    assert "metadata.resourceVersion" in msg


def test_uid_precondition(client):
    client.apply(DEMO)
    msg = expect_error("Conflict", client.apply,
                       "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app-config, namespace: demo, uid: "
                       + str(uuid.uuid4()) + "}\n")
    assert "UID" in msg


def test_dry_run_changes_nothing(client, signals):
    paths = client.apply(DEMO, dry_run=True)
    assert paths[0] == NS_DEMO
    assert not client.exists("ns", "", "demo")
    assert NS_DEMO not in client.managed_objects()
    client.apply(DEMO)
    client.delete("cm", "demo", "app-config", dry_run=True)
    assert client.exists("cm", "demo", "app-config")


def test_one_apply_is_one_transaction(client):
    bad = DEMO + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name, namespace: demo}\n"
    msg = expect_error("Invalid", client.apply, bad)
    assert msg.startswith("document 4 (ConfigMap demo/Bad_Name): metadata.name")
    assert not client.exists("ns", "", "demo")
    assert not client.exists("secret", "demo", "db-pass")


def test_default_namespace_and_namespace_option(client):
    p = client.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    assert p == ["/org/edgevirt/EdgeVirt1/namespace/default/configmap/a"]
    client.apply(DEMO)
    p = client.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n", namespace="demo")
    assert p == [NS_DEMO + "/configmap/b"]
    msg = expect_error("Invalid", client.apply,
                       "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: demo}\n", namespace="default")
    assert "does not match" in msg
    msg = expect_error("NotFound", client.apply, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: ghost}\n")
    assert 'namespaces "ghost" not found' in msg


def test_namespace_may_come_after_its_content(client):
    reordered = "\n---\n".join(reversed(DEMO.split("---")))
    paths = client.apply(reordered)
    assert paths[-1] == NS_DEMO


def test_field_validation_modes(client, signals):
    doc = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fv, surprise: 1}\ndata: {a: b}\nspec: {x: 1}\n"
    msg = expect_error("Invalid", client.apply, doc)
    assert "metadata.surprise: unknown field" in msg and "spec: unknown field" in msg
    client.apply(doc, field_validation="Warn")
    wait_until(lambda: len(signals.of("Warning")) == 2, what="two Warning signals")
    warnings = sorted(str(s[3][0]) for s in signals.of("Warning"))
    assert warnings == ["metadata.surprise: unknown field, dropped", "spec: unknown field, dropped"]
    stored = client.get_json("cm", "default", "fv")
    assert "spec" not in stored and "surprise" not in stored["metadata"]
    client.apply(doc.replace("fv", "fv2"), field_validation="Ignore")
    assert client.exists("cm", "default", "fv2")
    expect_error("org.freedesktop.DBus.Error.InvalidArgs", client.apply, doc, field_validation="Lenient")


def test_options_are_checked(client):
    msg = expect_error("org.freedesktop.DBus.Error.InvalidArgs", client.manager.Apply, DEMO,
                       dbus.Dictionary({"namespaces": "x"}, signature="sv"))
    assert 'unknown option "namespaces"' in msg
    msg = expect_error("org.freedesktop.DBus.Error.InvalidArgs", client.manager.Apply, DEMO,
                       dbus.Dictionary({"dry-run": "yes"}, signature="sv"))
    assert '"dry-run" must be of type b' in msg


@pytest.mark.parametrize("doc,fragment", [
    ("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: 'not base64!'}\n", "data.k: illegal base64"),
    ("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {'bad/key': aGk=}\n", "data[bad/key]"),
    ("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/tls\ndata: {tls.crt: aGk=}\n", "tls.key"),
    ("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/basic-auth\n", "username"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\nbinaryData: {a: aGk=}\n", "duplicate of key"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: 1}\n", "data.a: must be a string"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: UPPER}\n", "metadata.name: Invalid value: \"UPPER\""),
    ("apiVersion: v1\nkind: Namespace\nmetadata: {name: a.b}\n", "RFC 1123 label"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, labels: {'bad key': x}}\n", "metadata.labels"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, labels: {k: 'bad value'}}\n", "metadata.labels.k"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, annotations: {'-x': y}}\n", "metadata.annotations"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, finalizers: ['a b']}\n", "metadata.finalizers[0]"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, ownerReferences: [{apiVersion: v1, kind: X, name: z, uid: nope}]}\n",
     "metadata.ownerReferences[0].uid"),
    ("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", "metadata.name: Required value"),
    ("kind: ConfigMap\nmetadata: {name: c}\n", "apiVersion: required"),
    ("apiVersion: v1\nmetadata: {name: c}\n", "kind: required"),
    ("- just\n- a list\n", "must be a mapping"),
    ("", "no objects"),
])
def test_invalid_documents(client, doc, fragment):
    msg = expect_error("Invalid", client.apply, doc)
    assert fragment in msg, msg


def test_malformed_text_has_line_and_column(client):
    msg = expect_error("Invalid", client.apply, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n   oops: y\n")
    assert re.search(r"line 5, column \d+", msg), msg
    msg = expect_error("Invalid", client.apply, '{\n  "apiVersion": "v1",\n  "kind": \n}')
    assert re.search(r"line 4, column \d+", msg), msg
    msg = expect_error("Invalid", client.apply, "a: 1\na: 2\n")
    assert msg.startswith('a: Duplicate value: "a"') and "(line 2, column 1)" in msg, msg  # the path first (issue 15)


def test_unsupported_kinds_and_versions(client):
    msg = expect_error("NotSupported", client.apply, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n")
    assert "Deployment" in msg and "supported kinds" in msg
    msg = expect_error("NotSupported", client.apply, "apiVersion: v2\nkind: Secret\nmetadata: {name: d}\n")
    assert "v2" in msg


def test_secret_rules(client):
    client.apply("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/basic-auth\n"
                 "stringData: {username: u, password: p}\n")
    msg = expect_error("Invalid", client.apply, "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: Opaque\n")
    assert "type" in msg and "immutable" in msg
    client.apply("apiVersion: v1\nkind: Secret\nmetadata: {name: frozen}\nimmutable: true\ndata: {a: aGk=}\n")
    msg = expect_error("Invalid", client.apply,
                       "apiVersion: v1\nkind: Secret\nmetadata: {name: frozen}\nimmutable: true\ndata: {a: aG8=}\n")
    assert "field is immutable" in msg
    big = "x" * (1024 * 1024 + 1)
    msg = expect_error("Invalid", client.apply,
                       "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata: {a: '" + big + "'}\n")
    assert "Too long" in msg


def test_generate_name(client):
    p = client.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: job-}\n")
    name = p[0].rsplit("/", 1)[1]
    assert re.fullmatch(r"job_2d[a-z0-9]{5}", name)
    items = client.list("cm", "default")["items"]
    assert items[0]["metadata"]["name"].startswith("job-")
    assert items[0]["metadata"]["generateName"] == "job-"


def test_kind_list_is_expanded(client):
    doc = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "one"}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "two"}},
    ]}
    assert len(client.apply(json.dumps(doc))) == 2
    assert client.exists("cm", "default", "one") and client.exists("secret", "default", "two")


def test_openshift_project_spellings(client):
    client.apply("apiVersion: project.openshift.io/v1\nkind: ProjectRequest\nmetadata: {name: proj}\n"
                 "displayName: My Project\ndescription: Things\n")
    ns = client.get_json("namespace", "", "proj")
    assert ns["kind"] == "Namespace"
    assert ns["metadata"]["annotations"] == {"openshift.io/display-name": "My Project",
                                             "openshift.io/description": "Things"}
    client.apply("apiVersion: project.openshift.io/v1\nkind: Project\nmetadata: {name: proj2}\n")
    assert client.get_json("project", "", "proj2")["status"]["phase"] == "Active"
    assert client.props("/org/edgevirt/EdgeVirt1/namespace/proj", NAMESPACE)["DisplayName"] == "My Project"


def test_create_namespace(client, signals):
    path = client.manager.CreateNamespace("made", {"labels": dbus.Dictionary({"a": "b"}, signature="ss"),
                                                    "display-name": "Made"})
    assert path == "/org/edgevirt/EdgeVirt1/namespace/made"
    ns = client.get_json("ns", "", "made")
    assert ns["metadata"]["labels"] == {"a": "b"}
    assert ns["metadata"]["annotations"]["openshift.io/display-name"] == "Made"
    assert ns["spec"]["finalizers"] == ["kubernetes"]
    wait_until(lambda: signals.of("InterfacesAdded"), what="InterfacesAdded")
    added = signals.of("InterfacesAdded")[0][3]
    assert added[0] == path and NAMESPACE in added[1] and OBJECT in added[1]
    msg = expect_error("AlreadyExists", client.manager.CreateNamespace, "made", {})
    assert 'namespaces "made" already exists' in msg
    expect_error("Invalid", client.manager.CreateNamespace, "Not_Valid", {})


def test_delete_namespace_terminates_and_empties(client, signals):
    client.apply(DEMO)
    # a finalizer on a ConfigMap holds the namespace in Terminating
    client.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: held, namespace: demo, finalizers: [example.com/hold]}\n")
    client.manager.DeleteNamespace("demo")
    wait_until(lambda: not client.exists("secret", "demo", "db-pass"), what="the secret to go")
    ns = client.get_json("ns", "", "demo")
    assert ns["status"]["phase"] == "Terminating" and "deletionTimestamp" in ns["metadata"]
    assert client.props(NS_DEMO, NAMESPACE)["Phase"] == "Terminating"
    wait_until(lambda: any(s[3][0] == NAMESPACE and s[3][1].get("Phase") == "Terminating"
                           for s in signals.of("PropertiesChanged", NS_DEMO)), what="Phase Terminating signal")
    msg = expect_error("Forbidden", client.apply,
                       "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: late, namespace: demo}\n")
    assert "being terminated" in msg
    held = client.get_json("cm", "demo", "held")
    assert "deletionTimestamp" in held["metadata"]
    # the holder lets go: the object, then the namespace, go
    held["metadata"]["finalizers"] = []
    client.apply(json.dumps(held))
    wait_until(lambda: not client.exists("ns", "", "demo"), what="the namespace to go")
    removed = lambda: [s[3][0] for s in signals.of("InterfacesRemoved")]
    wait_until(lambda: NS_DEMO in removed(), what="InterfacesRemoved of the namespace")
    assert NS_DEMO + "/secret/db_2dpass" in removed()
    assert NS_DEMO not in client.managed_objects()


def test_default_namespace_stays(client):
    msg = expect_error("Forbidden", client.manager.DeleteNamespace, "default")
    assert "may not be deleted" in msg
    expect_error("NotFound", client.manager.DeleteNamespace, "ghost")


def owner_and_child(client, child_name="child"):
    client.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: owner}\n")
    uid = client.get_json("cm", "default", "owner")["metadata"]["uid"]
    client.apply("apiVersion: v1\nkind: Secret\nmetadata:\n  name: " + child_name + "\n  ownerReferences:\n"
                 "  - {apiVersion: v1, kind: ConfigMap, name: owner, uid: " + uid + ", controller: true}\n")
    return uid


def test_delete_cascades_to_dependents(client):
    owner_and_child(client)
    client.delete("cm", "default", "owner")
    assert not client.exists("cm", "default", "owner")
    wait_until(lambda: not client.exists("secret", "default", "child"), what="the dependent to go")


def test_delete_orphan_keeps_dependents(client):
    owner_and_child(client)
    client.delete("cm", "default", "owner", propagation_policy="Orphan")
    assert not client.exists("cm", "default", "owner")
    child = client.get_json("secret", "default", "child")
    assert "ownerReferences" not in child["metadata"] or child["metadata"]["ownerReferences"] == []


def test_delete_foreground(client):
    owner_and_child(client)
    client.delete("cm", "default", "owner", propagation_policy="Foreground")
    wait_until(lambda: not client.exists("cm", "default", "owner"), what="the owner to go")
    assert not client.exists("secret", "default", "child")


def test_orphans_are_collected(client):
    # an owner that does not exist: the garbage collector removes the dependent
    client.apply("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stray\n  ownerReferences:\n"
                 "  - {apiVersion: v1, kind: ConfigMap, name: gone, uid: " + str(uuid.uuid4()) + "}\n")
    wait_until(lambda: not client.exists("cm", "default", "stray"), what="the stray dependent to go")


def test_delete_errors_and_preconditions(client):
    expect_error("NotFound", client.delete, "cm", "default", "none")
    client.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: p}\n")
    msg = expect_error("Conflict", client.delete, "cm", "default", "p", resource_version="1")
    assert "precondition" in msg
    expect_error("Conflict", client.delete, "cm", "default", "p", uid=str(uuid.uuid4()))
    expect_error("org.freedesktop.DBus.Error.InvalidArgs", client.delete, "cm", "default", "p",
                 propagation_policy="Sideways")
    client.delete("cm", "default", "p", uid=client.get_json("cm", "default", "p")["metadata"]["uid"])
    assert not client.exists("cm", "default", "p")


def test_properties_changed_on_update(client, signals):
    client.apply(DEMO)
    path = NS_DEMO + "/configmap/app_2dconfig"
    client.apply(DEMO.replace("app: web", "app: api"))
    wait_until(lambda: any(s[3][0] == OBJECT for s in signals.of("PropertiesChanged", path)),
               what="PropertiesChanged")
    changed = [s[3][1] for s in signals.of("PropertiesChanged", path) if s[3][0] == OBJECT][-1]
    assert dict(changed["Labels"]) == {"app": "api"}


def test_managed_objects_and_manager_properties(client):
    client.apply(DEMO)
    objs = client.managed_objects()
    assert set(objs) >= {"/org/edgevirt/EdgeVirt1/namespace/default", NS_DEMO,
                         NS_DEMO + "/secret/db_2dpass", NS_DEMO + "/configmap/app_2dconfig"}
    assert objs[NS_DEMO][NAMESPACE]["Phase"] == "Active"
    props = client.props(ROOT, "org.edgevirt.EdgeVirt1.Manager")
    assert "v1/Secret" in props["Kinds"] and "project.openshift.io/v1/Project" in props["Kinds"]
    assert props["LibvirtURI"] == "test:///default"
    assert props["Version"]


def test_document_size_limit(bus, state_dir, tmp_path):
    from conftest import Client, Daemon
    conf = tmp_path / "edgevirtd.conf"
    conf.write_text("[Limits]\nMaxDocumentSize=200\nMaxObjectsPerApply=2\n")
    d = Daemon(bus, state_dir, ["--config=" + str(conf)]).start()
    try:
        c = Client(bus.conn)
        msg = expect_error("LimitExceeded", c.apply, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {a: '" + "x" * 300 + "'}\n")
        assert "limit of 200" in msg
        three = "\n---\n".join("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m%d}" % i for i in range(3))
        msg = expect_error("LimitExceeded", c.apply, three)
        assert "3 objects" in msg
    finally:
        d.stop()


def test_objects_per_namespace_limit(bus, state_dir, tmp_path):
    from conftest import Client, Daemon
    conf = tmp_path / "edgevirtd.conf"
    conf.write_text("[Limits]\nMaxObjectsPerNamespace=3\n")
    d = Daemon(bus, state_dir, ["--config=" + str(conf)]).start()
    try:
        c = Client(bus.conn)
        cm = lambda n, ns="default": f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {n}, namespace: {ns}}}\n"
        c.apply(cm("a") + "---\n" + cm("b"))
        # one Apply that would pass the limit is refused whole
        msg = expect_error("LimitExceeded", c.apply, cm("c") + "---\n" + cm("d"))
        assert "namespace default holds 3 objects" in msg and "MaxObjectsPerNamespace" in msg
        assert not c.exists("cm", "default", "c")
        c.apply(cm("c"))
        expect_error("LimitExceeded", c.apply, cm("d"))
        c.apply(cm("a").replace("metadata:", "data: {k: v}\nmetadata:"))    # updates still work
        c.manager.CreateNamespace("other", {})
        c.apply(cm("x", "other"))                                            # other namespaces too
        c.delete("cm", "default", "a")
        c.apply(cm("d"))                                                     # room again
    finally:
        d.stop()


def test_callers_are_rate_limited(bus, state_dir, tmp_path):
    """A caller past its budget gets LimitExceeded at once; other callers
    are not affected, and the budget refills."""
    import dbus as _dbus
    from conftest import Client, Daemon
    conf = tmp_path / "edgevirtd.conf"
    conf.write_text("[Limits]\nCallsPerSecond=5\nCallBurst=10\n")
    d = Daemon(bus, state_dir, ["--config=" + str(conf)]).start()
    try:
        flooder = Client(_dbus.bus.BusConnection(bus.address))
        answers, refused = 0, []
        for _ in range(40):
            try:
                flooder.get("ns", "", "default")
                answers += 1
            except _dbus.DBusException as e:
                refused.append(e)
        # the burst (less what dbus-python spends introspecting), then refusals
        assert 5 <= answers <= 10 and len(refused) == 40 - answers, answers
        assert refused[0].get_dbus_name() == "org.edgevirt.EdgeVirt1.Error.LimitExceeded"
        assert "at most 5 a second (bursts of 10)" in refused[0].get_dbus_message()
        # someone else is served meanwhile
        Client(_dbus.bus.BusConnection(bus.address)).get("ns", "", "default")
        time.sleep(1.0)
        flooder.get("ns", "", "default")
    finally:
        d.stop()


def test_interfaces_added_and_removed_name_what_get_managed_objects_lists(client, signals):
    """An object manager client takes an object as gone once every interface
    it knew of is removed (GIO's GDBusObjectManagerClient does): the signals
    name the standard interfaces GetManagedObjects lists too."""
    client.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: listed}\ndata: {k: v}\n")
    path = ROOT + "/namespace/default/configmap/listed"
    listed = set(client.managed_objects()[path].keys())
    assert "org.freedesktop.DBus.Properties" in listed and OBJECT in listed
    wait_until(lambda: signals.of("InterfacesAdded"), what="InterfacesAdded")
    added = [s[3] for s in signals.of("InterfacesAdded") if s[3][0] == path]
    assert set(added[0][1].keys()) == listed
    client.delete("cm", "default", "listed")
    wait_until(lambda: [s for s in signals.of("InterfacesRemoved") if s[3][0] == path], what="InterfacesRemoved")
    removed = [s[3] for s in signals.of("InterfacesRemoved") if s[3][0] == path]
    assert set(removed[0][1]) == listed


def test_events_have_an_object_manager_of_their_own(client, signals):
    """A namespace's Events are listed by its own ObjectManager at
    ROOT/namespace/NS/event, which sends their InterfacesAdded and
    InterfacesRemoved; the root's lists every other object and none of
    them (a box with 1000 VMs has as many Events again).  The manager comes
    and goes with its namespace."""
    events = ROOT + "/namespace/evns/event"
    client.manager.CreateNamespace("evns", {})
    assert client.managed_objects(events) == {}
    client.apply("apiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata: {name: box, namespace: evns}\n"
                 "spec: {runStrategy: Halted, template: {spec: {domain: {memory: {guest: 16Mi}}}}}\n---\n"
                 "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: disk, namespace: evns}\n"
                 "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 8Mi}}}\n")
    wait_until(lambda: client.managed_objects(events), what="the claim's Event (bound)")
    listed = client.managed_objects(events)
    assert all(p.startswith(events + "/") and v[OBJECT]["Kind"] == "Event" for p, v in listed.items()), listed
    root = client.managed_objects()
    assert ROOT + "/namespace/evns/vm/box" in root
    assert not [p for p in root if "/event/" in p], "the root's manager lists Events"
    intro = str(client.conn.get_object(NAME, events).Introspect(dbus_interface="org.freedesktop.DBus.Introspectable"))
    assert all(f'node name="{p[len(events) + 1:]}"' in intro for p in listed), intro
    # the namespace's own path still shows its interfaces and children
    intro = str(client.conn.get_object(NAME, ROOT + "/namespace/evns").Introspect(
        dbus_interface="org.freedesktop.DBus.Introspectable"))
    assert NAMESPACE in intro and OBJECT in intro and 'node name="vm/box"' in intro, intro
    first = next(iter(listed))
    wait_until(lambda: signals.of("InterfacesAdded", events), what="InterfacesAdded from the Events' manager")
    assert first in [s[3][0] for s in signals.of("InterfacesAdded", events)]
    assert not [s for s in signals.of("InterfacesAdded", ROOT) if "/event/" in s[3][0]]
    # edgevirtctl's get -w and wait follow every manager's signals; a client of
    # the namespace's manager sees the Events go with the namespace
    client.manager.DeleteNamespace("evns")
    wait_until(lambda: first in [s[3][0] for s in signals.of("InterfacesRemoved", events)],
               what="the Event's InterfacesRemoved from its manager")
    wait_until(lambda: not client.exists("ns", "", "evns"), what="the namespace gone")
    msg = expect_error("org.freedesktop.DBus.Error.UnknownObject", client.managed_objects, events)
    assert "evns/event" in msg, msg
