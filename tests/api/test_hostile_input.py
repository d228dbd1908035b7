# SPDX-License-Identifier: LGPL-2.1-or-later
"""Hostile documents (docs/security.md): nesting that overflowed the
daemon's stack, NUL characters that cut names and merged keys, JSON keys
given twice, and values out of range that were refused for the wrong
reason.  Each is refused as Invalid with the field path, and nothing is
stored."""
import json
import os

import pytest

from conftest import ERR, Client, Daemon, expect_error
from test_policy import AS_NOBODY, run_client, system_like_bus  # noqa: F401 (fixture)

# Run as nobody, who has no role anywhere: the document is read before the
# caller's rights are known, so this must hold for anyone.
DEEP_CALLS = r"""
deep = '{"x":' + '{"a":' * 60000 + '1' + '}' * 60001
calls = {
    "deep": lambda: m.Apply(deep, {}),
    "list after": lambda: m.List("cm", "", {}),
}
"""


def test_deep_json_from_a_caller_without_a_role(system_like_bus, tmp_path):  # noqa: F811
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS="unix:path=" + str(tmp_path / "no-polkit"))
    d = Daemon(system_like_bus, str(tmp_path / "state"), env=env).start()
    try:
        got = run_client(DEEP_CALLS, system_like_bus.address, AS_NOBODY)
        name, _, message = got["deep"].partition(": ")
        assert name == ERR + "Invalid", got
        assert message.startswith("x.a.a.a.a.a.a.a.(112 levels left out).a.a.a.a.a.a.a.a: "
                                  "Invalid value: nested deeper than 128 levels"), message
        assert got["list after"] == "ok", got
        # still on the bus, for everyone
        root = Client(system_like_bus.conn)
        root.apply('{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "alive"}}')
        assert root.exists("cm", "default", "alive")
        assert d.proc.poll() is None
    finally:
        d.stop()


def test_deep_yaml_names_the_path(client):
    doc = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata:\n  k: " + "[" * 500 + "]" * 500 + "\n"
    msg = expect_error("Invalid", client.apply, doc)
    assert msg.startswith("data.k[0][0][0][0][0][0].(112 levels left out)[0]"), msg
    assert "nested deeper than 128 levels" in msg


CM_JSON = '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": %s}, "data": %s}'
CM_YAML = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  %s\n'


@pytest.mark.parametrize("doc, want", [
    (CM_JSON % ('"a\\u0000b"', '{}'), 'metadata.name: Invalid value: "a\\u0000b": must not contain a NUL character'),
    (CM_JSON % ('"n"', '{"a\\u0000b": "1", "a": "2"}'),
     'data[a\\u0000b]: Invalid value: "a\\u0000b": a key must not contain a NUL character'),
    (CM_JSON % ('"n"', '{"k": "x\\u0000y"}'), 'data.k: Invalid value: "x\\u0000y": must not contain a NUL character'),
    (CM_YAML % ('"a\\0b"', 'k: v'), 'metadata.name: Invalid value: "a\\u0000b": must not contain a NUL character'),
    (CM_YAML % ('n', '"a\\x00b": "1"\n  a: "2"'),
     'data[a\\u0000b]: Invalid value: "a\\u0000b": a key must not contain a NUL character'),
    (CM_YAML % ('n', 'k: "x\\u0000y"'), 'data.k: Invalid value: "x\\u0000y": must not contain a NUL character'),
], ids=["json-name", "json-key", "json-value", "yaml-name", "yaml-key", "yaml-value"])
def test_nul_is_refused_with_the_path(client, doc, want):
    msg = expect_error("Invalid", client.apply, doc)
    assert msg.startswith(want), msg
    assert client.list("cm")["items"] == []


@pytest.mark.parametrize("doc, want", [
    (CM_JSON % ('"d"', '{"a": "1", "a": "2"}'), 'data.a: Duplicate value: "a": the key is given twice'),
    (CM_JSON % ('"d"', '{"a": "1", "\\u0061": "2"}'), 'data.a: Duplicate value: "a": the key is given twice'),
    ('{"apiVersion": "v1", "kind": "ConfigMap", "kind": "Secret", "metadata": {"name": "d"}}',
     'kind: Duplicate value: "kind": the key is given twice'),
], ids=["plain", "escaped", "top-level"])
def test_json_duplicate_keys_are_refused_with_the_path(client, doc, want):
    msg = expect_error("Invalid", client.apply, doc)
    assert msg.startswith(want), msg
    assert client.list("cm")["items"] == [] and client.list("secret")["items"] == []


PVC = '{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "p"}, ' \
      '"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": %s}}}}'
VM = '{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "metadata": {"name": "v"}, ' \
     '"spec": {"runStrategy": "Halted", "template": {"spec": {"domain": {%s}}}}}'


@pytest.mark.parametrize("doc, want", [
    (PVC % '"9223372036854775808"', 'spec.resources.requests.storage: quantity "9223372036854775808" is out of range'),
    (PVC % '"8Ei"', 'spec.resources.requests.storage: quantity "8Ei" is out of range'),
    (PVC % str(2 ** 70), 'spec.resources.requests.storage: quantity "1180591620717411303424" is out of range'),
    (VM % '"memory": {"guest": "8Ei"}', 'spec.template.spec.domain.memory.guest: quantity "8Ei" is out of range'),
    (VM % '"resources": {"requests": {"memory": "8Ei"}}',
     'spec.template.spec.domain.resources.requests.memory: quantity "8Ei" is out of range'),
    (VM % ('"memory": {"guest": "1Gi"}, "cpu": {"cores": %d}' % 2 ** 70),
     'spec.template.spec.domain.cpu.cores: Invalid value: 1180591620717411303424: out of range for a 64-bit integer'),
], ids=["storage-2^63", "storage-8Ei", "storage-2^70-number", "vm-memory-guest", "vm-memory-request", "cores-2^70"])
def test_out_of_range_values_say_so(client, doc, want):
    msg = expect_error("Invalid", client.apply, doc)
    assert want in msg, msg
    assert client.list("pvc")["items"] == [] and client.list("vm")["items"] == []


def test_what_json_glib_let_through_is_refused(client):
    """Comments, single quotes and hex numbers are not JSON (Kubernetes
    refuses them); a number past a double's range is out of range."""
    for doc in ("{'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'q'}}",
                '{"apiVersion": "v1", /* c */ "kind": "ConfigMap", "metadata": {"name": "q"}}',
                '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "q", "generation": 0x10}}'):
        msg = expect_error("Invalid", client.apply, doc)
        assert msg.startswith("line 1, column "), msg
    msg = expect_error("Invalid", client.apply, CM_JSON % ('"q"', '{"k": 1e400}'))
    assert msg.startswith("data.k: Invalid value: 1e400: out of range"), msg
    assert client.list("cm")["items"] == []
    json.loads(client.get("ns", "", "default"))  # and the daemon answers
