# SPDX-License-Identifier: LGPL-2.1-or-later
"""libvirtd SIGKILLed and started again while VMs start and stop (issue 23;
docs/architecture.md, "Recovery"): the daemon's connection comes back, the
status catches up, nothing is lost and no VM gets a second domain.  Only
a libvirtd this lane started (run.sh: EDGEVIRT_LIBVIRTD_STARTED) is
killed; its replacement is listed for run.sh to stop."""
import os
import signal
import subprocess
import time

import pytest

from conftest import api, virsh
from test_system import NS, domstate, setup_ns, vm, vm_doc, wait_status

wait_until = api.wait_until


def ours():
    """The pid of libvirtd when its parent is a tini this lane started."""
    started = os.environ.get("EDGEVIRT_LIBVIRTD_STARTED", "").split()
    for pid in subprocess.run(["pgrep", "-x", "libvirtd"], capture_output=True, text=True).stdout.split():
        with open(f"/proc/{pid}/stat") as f:
            ppid = f.read().rsplit(")", 1)[1].split()[1]
        if ppid in started:
            return int(pid)
    return None


class Libvirtd:
    def __init__(self):
        self.pid = ours()
        if not self.pid:
            pytest.skip("libvirtd was not started by this lane (run.sh): not ours to kill")
        self.started = os.environ["EDGEVIRT_LIBVIRTD_STARTED"].split()

    def kill(self):
        os.kill(self.pid, signal.SIGKILL)
        wait_until(lambda: not os.path.exists(f"/proc/{self.pid}") or
                   open(f"/proc/{self.pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z",
                   what="libvirtd to die")
        wait_until(lambda: subprocess.run(["virsh", "-c", "qemu:///system", "version"],
                                          capture_output=True).returncode != 0, what="libvirtd to stop answering")

    def start(self):
        work = os.environ["EDGEVIRT_SYSTEM_WORK"]
        log = open(os.path.join(work, "libvirtd-restarted.log"), "a")
        proc = subprocess.Popen(["setsid", "tini", "-s", "--", "libvirtd"], stdout=log, stderr=subprocess.STDOUT)
        # run.sh stops what this file lists, with what it started itself
        with open(os.path.join(work, "libvirt-started"), "a") as f:
            f.write(f"{proc.pid}\n")
        self.started.append(str(proc.pid))
        os.environ["EDGEVIRT_LIBVIRTD_STARTED"] = " ".join(self.started)
        wait_until(lambda: subprocess.run(["virsh", "-c", "qemu:///system", "version"],
                                          capture_output=True).returncode == 0, timeout=30,
                   what="the new libvirtd to answer")
        self.pid = ours()


def domains():
    """The running domains of the lane's namespace, by name (a list: a
    second domain of one VM would show twice)."""
    return sorted(n for n in virsh("list", "--name", check=False).split() if n.startswith(NS + "_"))


def qemus():
    """QEMU processes running a guest of the lane's namespace."""
    out = subprocess.run(["pgrep", "-af", "qemu-system"], capture_output=True, text=True).stdout
    return sorted(line.split("guest=", 1)[1].split(",", 1)[0] for line in out.splitlines()
                  if f"guest={NS}_" in line)


def vmi_uid(client, name):
    """The instance's uid; None between two instances."""
    return client.get_json("vmi", NS, name)["metadata"]["uid"] if client.exists("vmi", NS, name) else None


def test_libvirtd_killed_while_vms_start_and_stop(client, daemon):
    libvirtd = Libvirtd()
    setup_ns(client)
    client.apply(vm_doc("steady"))
    client.apply(vm_doc("stopping"))
    wait_status(client, "steady", "Running")
    wait_status(client, "stopping", "Running")
    steady = client.get_json("vmi", NS, "steady")["metadata"]["uid"]

    libvirtd.kill()
    # asked for while libvirtd is gone: a start and a stop
    client.apply(vm_doc("starting"))
    vm(client, "stopping").Stop({"force": True})
    time.sleep(1)       # the controllers meet the dead connection
    libvirtd.start()

    wait_status(client, "starting", "Running", timeout=120)
    wait_status(client, "stopping", "Stopped", timeout=120)
    wait_status(client, "steady", "Running")
    assert client.get_json("vmi", NS, "steady")["metadata"]["uid"] == steady, "the running guest was kept"
    assert domains() == [f"{NS}_starting", f"{NS}_steady"]
    assert qemus() == [f"{NS}_starting", f"{NS}_steady"]

    # events flow again on the new connection: a guest killed outside is seen
    virsh("destroy", f"{NS}_steady")
    wait_until(lambda: vmi_uid(client, "steady") not in (steady, None), timeout=60,
               what="the destroyed guest to be noticed")

    # killed again in the middle of a start
    client.apply(vm_doc("racing"))
    libvirtd.kill()
    libvirtd.start()
    wait_status(client, "racing", "Running", timeout=120)
    wait_status(client, "steady", "Running", timeout=180)
    assert domains() == [f"{NS}_racing", f"{NS}_starting", f"{NS}_steady"]
    assert qemus() == [f"{NS}_racing", f"{NS}_starting", f"{NS}_steady"]
    for name in ("racing", "starting", "steady"):
        vm(client, name).Stop({"force": True})
    wait_until(lambda: not domains(), timeout=60, what="every domain to go")
    assert domstate("stopping") == ""
