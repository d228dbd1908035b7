#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Driver of bench/run-scale.sh: one daemon on a private bus and the libvirt
test driver, N VirtualMachines applied (Halted, each with an instance type
of its own spec: the documents a real box keeps), then the figures issue 23
sets targets for:

- GetManagedObjects and List vm (output json-compact, as a program asks;
  laid out too, as people read it), median of ROUNDS: the wall time seen
  by an sd-bus client (bench-call: it reads a reply's body only when asked,
  so this is the daemon's and the bus' time) and by a Gio client (which
  parses the whole body before it hands the reply over: a client
  library's cost on top), and the daemon's and the bus' CPU time per call
  (mean; robust on a loaded machine);
- the daemon's private memory (RssAnon in /proc/PID/status), empty and
  with the N VMs;
- a restart with them: SIGTERM, start again, until the name is owned and
  one Get is answered."""
import os
import statistics
import subprocess
import sys
import time

from gi.repository import Gio, GLib

import privatebus

work, count, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
build = os.environ["EDGEVIRT_BUILD"]
binary = os.environ.get("EDGEVIRTD") or os.path.join(build, "dbus", "edgevirtd")
NAME, ROOT = "org.edgevirt.EdgeVirt1", "/org/edgevirt/EdgeVirt1"
NS = "scale"

sock, bus_pid = privatebus.start(work, max_message_size=32 << 20)
state = os.path.join(work, "state")
os.mkdir(state, 0o711)
config = os.path.join(work, "edgevirtd.conf")
with open(config, "w") as f:
    # room for N objects in one namespace; the bench client is not held back
    f.write(f"[Limits]\nMaxObjectsPerNamespace={max(count * 2, 10000)}\nCallsPerSecond=1000000\nCallBurst=1000000\n")


def start_daemon():
    # G_SLICE as the unit sets it (units/edgevirtd.service.in)
    p = subprocess.Popen([binary, "--bus=unix:path=" + sock,
                          "--state-dir=" + state, "--config=" + config, "--libvirt-uri=test:///default"],
                         env=dict(os.environ, G_SLICE="always-malloc"), stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "daemon.log"), "a"))
    with open(os.path.join(work, "daemon.pid"), "w") as f:
        f.write(str(p.pid))
    return p


conn = Gio.DBusConnection.new_for_address_sync(
    "unix:path=" + sock, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
    None, None)


def call(path, iface, method, args, timeout=120000):
    """The call's time as a Gio client sees it (Gio parses the whole reply
    before it returns it)."""
    msg = Gio.DBusMessage.new_method_call(NAME, path, iface, method)
    if args is not None:
        msg.set_body(args)
    t0 = time.monotonic()
    reply, _ = conn.send_message_with_reply_sync(msg, Gio.DBusSendMessageFlags.NONE, timeout, None)
    t = time.monotonic() - t0
    if reply.get_message_type() == Gio.DBusMessageType.ERROR:
        raise SystemExit(f"{method}: {reply.get_error_name()}: {reply.get_body().unpack()}")
    return t, reply


def wait_owned(timeout=60):
    end = time.monotonic() + timeout
    while True:
        r = conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner",
                           GLib.Variant("(s)", (NAME,)), None, Gio.DBusCallFlags.NONE, -1, None)
        if r.unpack()[0]:
            return
        if time.monotonic() > end:
            raise SystemExit("the daemon did not own its name")
        time.sleep(0.005)


def rss_anon(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024.0


def vm_doc(i):
    return f"""apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: vm-{i:04d}
  namespace: {NS}
  labels: {{app: scale, shard: "s{i % 10}"}}
spec:
  runStrategy: Halted
  template:
    metadata: {{labels: {{app: scale}}}}
    spec:
      domain:
        cpu: {{cores: 1}}
        memory: {{guest: 128Mi}}
        devices:
          disks: [{{name: root, disk: {{bus: virtio}}}}, {{name: cloudinit, disk: {{bus: virtio}}}}]
          interfaces: [{{name: default, masquerade: {{}}}}]
      networks: [{{name: default, pod: {{}}}}]
      volumes:
      - {{name: root, containerDisk: {{image: "quay.io/containerdisks/fedora:40"}}}}
      - name: cloudinit
        cloudInitNoCloud: {{userData: "#cloud-config\\nhostname: vm-{i:04d}\\n"}}
"""


def cpu_seconds(pid):
    """The daemon's CPU time so far (user + system)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(fn):
    """fn's median wall time over ROUNDS calls, the daemon's and the
    dbus-daemon's mean CPU time per call (ms): the CPU figures hold on a
    loaded machine too.  One
    call first, not counted (what the daemon learns once, it learns there)."""
    fn()
    cpu, bus_cpu = cpu_seconds(daemon.pid), cpu_seconds(bus_pid)
    wall = statistics.median(fn() for _ in range(rounds))
    return (1000 * wall, 1000 * (cpu_seconds(daemon.pid) - cpu) / rounds,
            1000 * (cpu_seconds(bus_pid) - bus_cpu) / rounds)


daemon = start_daemon()
wait_owned()
time.sleep(1)   # the start-up scans (storage classes, libvirt's domains) are done
empty_rss = rss_anon(daemon.pid)
call(ROOT, NAME + ".Manager", "CreateNamespace", GLib.Variant("(sa{sv})", (NS, {})))
batch = 100
for first in range(0, count, batch):
    text = "---\n".join(vm_doc(i) for i in range(first, min(first + batch, count)))
    call(ROOT, NAME + ".Manager", "Apply", GLib.Variant("(sa{sv})", (text, {})))
time.sleep(1)
gmo, gmo_cpu, gmo_bus = timed(lambda: call(ROOT, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", None)[0])


def list_vms(options):
    return call(ROOT, NAME + ".Manager", "List", GLib.Variant("(ssa{sv})", ("vm", NS, options)))[0]


lst, lst_cpu, lst_bus = timed(lambda: list_vms({"output": GLib.Variant("s", "json-compact")}))
laid, laid_cpu, laid_bus = timed(lambda: list_vms({}))


def sd_bus_client(*args):
    """The median wall time of the call from bench-call (an sd-bus client),
    and the median time it then takes to walk the reply's values."""
    out = subprocess.run([os.path.join(build, "bench", "bench-call"), "unix:path=" + sock, str(rounds), *args],
                         check=True, capture_output=True, text=True).stdout.split("\n")
    times = [tuple(map(float, line.split())) for line in out if line]
    return statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)


sd_gmo, sd_gmo_walk = sd_bus_client("GetManagedObjects")
sd_lst, sd_lst_walk = sd_bus_client("List", "vm", NS)
busy_rss = rss_anon(daemon.pid)
time.sleep(5)   # past the model's drop of idle document trees (twice MODEL_TREES_IDLE_USEC)
full_rss = rss_anon(daemon.pid)

daemon.terminate()
daemon.wait()
t0 = time.monotonic()
daemon = start_daemon()
wait_owned()
call(ROOT, NAME + ".Manager", "Get", GLib.Variant("(sssa{sv})", ("vm", NS, f"vm-{count - 1:04d}", {})))
restart = time.monotonic() - t0
_, reply = call(ROOT, NAME + ".Manager", "List", GLib.Variant("(ssa{sv})", ("vm", NS, {"limit": GLib.Variant("x", 1)})))
daemon.terminate()
daemon.wait()
os.kill(bus_pid, 15)

print(f"scale/{count} VMs: daemon {binary}")
print(f"scale/{count} VMs: GetManagedObjects {sd_gmo:.1f} ms (target <= 30), List vm {sd_lst:.1f} ms "
      f"(target <= 15), median of {rounds}, an sd-bus client; it then walks the replies in {sd_gmo_walk:.1f} "
      f"and {sd_lst_walk:.1f} ms")
print(f"scale/{count} VMs: a Gio client (parses the reply before it returns): GetManagedObjects {gmo:.1f} ms, "
      f"List vm {lst:.1f} ms")
print(f"scale/{count} VMs: CPU per call: GetManagedObjects {gmo_cpu:.1f} ms (dbus-daemon {gmo_bus:.1f} ms), "
      f"List vm {lst_cpu:.1f} ms (dbus-daemon {lst_bus:.1f} ms)")
print(f"scale/{count} VMs: List vm laid out (output json, for people) {laid:.1f} ms, CPU {laid_cpu:.1f} ms "
      f"(dbus-daemon {laid_bus:.1f} ms)")
print(f"scale/{count} VMs: RssAnon {full_rss:.1f} MiB (target <= 24) at rest, {busy_rss:.1f} MiB right after "
      f"the calls, empty {empty_rss:.1f} MiB; "
      f"restart until a Get is answered {restart:.2f} s (target <= 1)")
