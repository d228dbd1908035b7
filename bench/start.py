#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Driver of bench/run-start.sh: a private bus, edgevirtd on qemu:///system,
VMs whose guest is SeaBIOS on an empty disk (the start path, not a boot)."""
import os
import re
import statistics
import subprocess
import sys
import threading
import time

import dbus

import privatebus

work, rounds, parallel = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
build = os.environ["EDGEVIRT_BUILD"]
NAME, ROOT = "org.edgevirt.EdgeVirt1", "/org/edgevirt/EdgeVirt1"
NS = "bench"

sock, bus_pid = privatebus.start(work)
state = os.path.join(work, "state")
os.mkdir(state, 0o711)
open(os.path.join(work, "empty.conf"), "w").close()
daemon = subprocess.Popen([os.path.join(build, "dbus", "edgevirtd"), "--bus=unix:path=" + sock, "--state-dir=" + state,
                           "--config=" + os.path.join(work, "empty.conf"), "--libvirt-uri=qemu:///system"],
                          stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "daemon.log"), "w"))
with open(os.path.join(work, "daemon.pid"), "w") as f:
    f.write(str(daemon.pid))
conn = dbus.bus.BusConnection("unix:path=" + sock)
for _ in range(100):
    if conn.name_has_owner(NAME):
        break
    time.sleep(0.05)
manager = dbus.Interface(conn.get_object(NAME, ROOT), NAME + ".Manager")
manager.CreateNamespace(NS, {})


def vm_doc(name):
    return f"""apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata: {{name: {name}, namespace: {NS}}}
spec:
  runStrategy: Halted
  template:
    spec:
      terminationGracePeriodSeconds: 0
      domain:
        memory: {{guest: 64Mi}}
        devices:
          autoattachGraphicsDevice: false
          disks: [{{name: scratch, disk: {{}}}}]
          interfaces: [{{name: default, slirp: {{}}}}]
      networks: [{{name: default, pod: {{}}}}]
      volumes: [{{name: scratch, emptyDisk: {{capacity: 16Mi}}}}]
"""


def props(path, iface):
    return dbus.Interface(conn.get_object(NAME, path), "org.freedesktop.DBus.Properties").GetAll(iface)


def vm_path(n):
    return f"{ROOT}/namespace/{NS}/vm/{n.replace('-', '_2d')}"


def virsh(*args):
    return subprocess.run(["virsh", "-c", "qemu:///system", *args], capture_output=True, text=True, check=True).stdout


def running(n):
    r = subprocess.run(["virsh", "-c", "qemu:///system", "domstate", f"{NS}_{n}"], capture_output=True, text=True)
    return r.stdout.strip() == "running"


def wait(cond, timeout=300):
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise SystemExit("timed out")
        time.sleep(0.005)


def start_and_wait(n):
    vm = dbus.Interface(conn.get_object(NAME, vm_path(n)), NAME + ".VirtualMachine")
    t0 = time.monotonic()
    vm.Start({})
    wait(lambda: props(vm_path(n), NAME + ".VirtualMachine")["PrintableStatus"] == "Running")
    return time.monotonic() - t0


def stop_and_wait(n):
    dbus.Interface(conn.get_object(NAME, vm_path(n)), NAME + ".VirtualMachine").Stop({"force": True})
    wait(lambda: props(vm_path(n), NAME + ".VirtualMachine")["PrintableStatus"] == "Stopped")


manager.Apply(vm_doc("single"), {})
ours, peer = [], []
start_and_wait("single")        # warm-up: capabilities, the first QEMU
xml = virsh("dumpxml", "--inactive", f"{NS}_single")
uid = str(props(f"{ROOT}/namespace/{NS}/vmi/single", "org.edgevirt.EdgeVirt1.Object")["Uid"])
stop_and_wait("single")
# the same domain under another name, without our metadata or uuid, with
# files of its own where the instance had its (they go with the instance)
peer_dir = os.path.join(work, "peer")
os.mkdir(peer_dir, 0o777)
x = re.sub(r"<name>[^<]*</name>", "<name>peer_single</name>", xml, count=1)
x = re.sub(r"<uuid>[^<]*</uuid>", "", x, count=1)
x = re.sub(r"<metadata>.*?</metadata>", "", x, flags=re.S)
x = re.sub(r"/[^'\"<>]*/" + uid + r"/", peer_dir + "/", x)
with open(os.path.join(peer_dir, "scratch.img"), "wb") as f:
    f.truncate(16 << 20)
peer_xml = os.path.join(work, "peer.xml")
with open(peer_xml, "w") as f:
    f.write(x)
for _ in range(rounds):
    ours.append(start_and_wait("single"))
    stop_and_wait("single")
    t0 = time.monotonic()
    virsh("create", peer_xml)
    peer.append(time.monotonic() - t0)
    virsh("destroy", "peer_single")
o, p = statistics.median(ours), statistics.median(peer)
print(f"start/single: edgevirt {o:.3f}s, virsh create {p:.3f}s, ratio {o / p:.2f} (median of {rounds})")

names = [f"par-{i}" for i in range(parallel)]
manager.Apply("---\n".join(vm_doc(n) for n in names), {})
latencies, stop = [], threading.Event()


def probe():
    c = dbus.bus.BusConnection("unix:path=" + sock)
    m = dbus.Interface(c.get_object(NAME, ROOT), NAME + ".Manager")
    while not stop.is_set():
        t0 = time.monotonic()
        m.Get("ns", "", NS, {})
        latencies.append(time.monotonic() - t0)
        time.sleep(0.01)


t = threading.Thread(target=probe)
t.start()
t0 = time.monotonic()
for n in names:
    dbus.Interface(conn.get_object(NAME, vm_path(n)), NAME + ".VirtualMachine").Start({})
wait(lambda: all(props(vm_path(n), NAME + ".VirtualMachine")["PrintableStatus"] == "Running" for n in names), timeout=900)
total = time.monotonic() - t0
stop.set()
t.join()
latencies.sort()
print(f"start/parallel: {parallel} VMs running after {total:.2f}s; unrelated Get meanwhile: "
      f"median {1000 * statistics.median(latencies):.1f} ms, max {1000 * latencies[-1]:.1f} ms ({len(latencies)} calls)")
for n in names:
    dbus.Interface(conn.get_object(NAME, vm_path(n)), NAME + ".VirtualMachine").Stop({"force": True})
daemon.terminate()
daemon.wait()
os.kill(bus_pid, 15)
