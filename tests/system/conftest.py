# SPDX-License-Identifier: LGPL-2.1-or-later
"""Fixtures for the system lane: the API lane's helpers (tests/api/conftest.py,
loaded under another name) with the daemon on qemu:///system and its state
in a directory QEMU's user can traverse."""
import importlib.util
import os
import subprocess
import tempfile

import pytest

_spec = importlib.util.spec_from_file_location("apiconf", os.path.join(os.path.dirname(__file__), "..", "api", "conftest.py"))
api = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(api)

_spec = importlib.util.spec_from_file_location("servers", os.path.join(os.path.dirname(__file__), "..", "api", "servers.py"))
servers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(servers)

WORK = os.environ.get("EDGEVIRT_SYSTEM_WORK", "/tmp")
# the lane's own NAT subnet: a host's edgevirt network (10.0.2.0/24) may be up
SUBNET = "10.213.0"
TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def virsh(*args, check=True):
    r = subprocess.run(["virsh", "-c", "qemu:///system", *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"virsh {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout.strip()


def guest_vm(namespace, name, source):
    """A VirtualMachine booting the lane's Debian guest from a 3 GiB
    DataVolume (`<name>-root`) filled from source (a DataVolume source)."""
    return f"""
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  runStrategy: Always
  dataVolumeTemplates:
  - metadata: {{name: {name}-root}}
    spec:
      source: {source}
      storage: {{resources: {{requests: {{storage: 3Gi}}}}}}
  template:
    spec:
      domain:
        cpu: {{cores: 1}}
        memory: {{guest: 1Gi}}
        devices:
          autoattachPodInterface: false
          disks: [{{name: root, disk: {{bus: virtio}}}}]
      volumes: [{{name: root, dataVolume: {{name: {name}-root}}}}]
"""


def agent_up(client, namespace, name):
    """The VM's instance is there and its guest agent connected."""
    path = f"{api.ROOT}/namespace/{api.path_encode(namespace)}/vmi/{api.path_encode(name)}"
    return client.exists("vmi", namespace, name) and \
        bool(client.props(path, api.NAME + ".VirtualMachineInstance")["AgentConnected"])


@pytest.fixture
def bus():
    b = api.Bus(tempfile.mkdtemp(prefix="edgevirt-bus-"))
    yield b
    b.stop()


@pytest.fixture
def state_dir():
    d = tempfile.mkdtemp(prefix="state-", dir=WORK)
    os.chmod(d, 0o711)
    return d


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def daemon(bus, state_dir):
    d = api.Daemon(bus, state_dir, ["--libvirt-uri=qemu:///system"])
    # the metrics endpoint on (test_guest.py reads the real guest's counters)
    d.metrics_port = free_port()
    with open(d.config, "w") as f:
        # a network of its own, so a host's "edgevirt" network is left alone
        f.write(f"[Network]\nNatNetwork=edgevirt-test\nNatSubnet={SUBNET}.0/24\n"
                f"[Metrics]\nListen=127.0.0.1:{d.metrics_port}\nCacheSeconds=1\n")
    d.start()
    yield d
    d.stop()
    # SIGTERM ends it cleanly (not killed after the stop's timeout)
    assert d.proc.returncode == 0, f"edgevirtd did not stop on SIGTERM (exit {d.proc.returncode})"
    for name in virsh("list", "--name", check=False).split():
        if name.startswith("sys_"):
            virsh("destroy", name, check=False)


@pytest.fixture
def client(bus, daemon):
    return api.Client(bus.conn)


@pytest.fixture(scope="session")
def guest_image():
    """The cached real guest (tests/guest/build-guest.sh builds it once)."""
    out = subprocess.run([os.path.join(TOP, "tests", "guest", "build-guest.sh")], capture_output=True, text=True)
    if out.returncode != 0:
        raise AssertionError("cannot build the test guest: " + out.stderr[-2000:])
    return os.path.join(out.stdout.strip(), "guest.qcow2")    # guest.raw.xz beside it


@pytest.fixture(scope="session")
def image_server(guest_image):
    tmp = tempfile.mkdtemp(prefix="web-", dir=WORK)
    srv = servers.Lighttpd(os.path.dirname(guest_image), tmp)
    yield srv
    srv.stop()
