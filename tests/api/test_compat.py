# SPDX-License-Identifier: LGPL-2.1-or-later
"""The KubeVirt and CDI example manifests (tests/compat, copied from
../shared/compat): kinds edgevirt keeps must apply; the others must be
refused with NotSupported naming the kind, never half-applied."""
import glob
import os

import pytest
import yaml

from conftest import COMPAT, expect_error

SUPPORTED = {"Namespace", "Secret", "ConfigMap"}
MANIFESTS = sorted(glob.glob(os.path.join(COMPAT, "*-examples", "*.yaml")))


def kinds_of(path):
    with open(path) as f:
        return [d.get("kind") for d in yaml.safe_load_all(f) if d]


@pytest.mark.parametrize("path", MANIFESTS, ids=[os.path.relpath(p, COMPAT) for p in MANIFESTS])
def test_compat_manifest(client, path):
    with open(path) as f:
        text = f.read()
    kinds = kinds_of(path)
    if set(kinds) <= SUPPORTED:
        for doc in yaml.safe_load_all(text):
            ns = (doc or {}).get("metadata", {}).get("namespace")
            if ns and not client.exists("ns", "", ns):
                client.manager.CreateNamespace(ns, {})
        paths = client.apply(text)
        assert len(paths) == len(kinds)
        for doc in yaml.safe_load_all(text):
            if doc:
                got = client.get_json(doc["kind"], doc["metadata"].get("namespace", "default"), doc["metadata"]["name"])
                assert got["metadata"]["name"] == doc["metadata"]["name"]
    else:
        msg = expect_error("NotSupported", client.apply, text)
        unsupported = [k for k in kinds if k not in SUPPORTED]
        assert unsupported[0] in msg


def test_compat_set_is_present():
    assert len(MANIFESTS) >= 40
