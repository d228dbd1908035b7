#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Driver of bench/run-import.sh: the same images imported by every tool,
rounds interleaved (every round runs each tool once, in an order of its
own: a shuffle seeded by the round's number, so each tool follows different
ones and the figures can be split by the tool that ran just before), on every target file system, each
tool's output freed (and the freeing synced) before the next run.

Tools (per image kind; see run-import.sh's head):
  daemon     edgevirtd on a private bus: Apply a DataVolume with an http
             source into a storage class on the target, timed from Apply to
             Phase Succeeded, seen in a PropertiesChanged signal (nothing is
             spawned while it waits); Delete and wait until the claim is gone
  importer   edgevirt-importer alone, into a fresh sparse file
  pull       systemd-pull
  cdi        CDI's pipeline
  bound      the slowest unavoidable stage alone (compressed raw:
             decompressing the local file; other formats: a local
             qemu-img convert into a fresh file, flushed)

Printed per target and image: wall time min / median / max of the rounds
and the median CPU time (user + system of the tool and its children; the
daemon's with its importer), then the ratios of the medians."""
import argparse
import atexit
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time

from gi.repository import Gio, GLib

import privatebus

NAME, ROOT = "org.edgevirt.EdgeVirt1", "/org/edgevirt/EdgeVirt1"
NS = "bench"
TIMEOUT = 300

p = argparse.ArgumentParser()
p.add_argument("--work", required=True, help="the run's directory on the disk")
p.add_argument("--target", action="append", required=True, help="NAME=DIR: a file system to import into")
p.add_argument("--url", required=True)
p.add_argument("--cache", required=True)
p.add_argument("--images", required=True)
p.add_argument("--tools", default="daemon,importer,pull,cdi,bound")
p.add_argument("--rounds", type=int, default=5)
p.add_argument("--log", help="every run, a line each: target image round tool previous-tool wall cpu")
args = p.parse_args()
build = os.environ["EDGEVIRT_BUILD"]
importer = os.path.join(build, "storage", "importer", "edgevirt-importer")
targets = dict(t.split("=", 1) for t in args.target)
images = args.images.split()
size = os.stat(os.path.join(args.cache, "root.raw")).st_size
devnull = subprocess.DEVNULL


def fail(what, detail):
    raise SystemExit(f"bench/import: {what} failed: {detail}")


# --- the daemon ---

sock, bus_pid = privatebus.start(args.work)
state = os.path.join(args.work, "state")
os.mkdir(state, 0o711)
config = os.path.join(args.work, "edgevirtd.conf")
with open(config, "w") as f:
    f.write("[Limits]\nCallsPerSecond=1000000\nCallBurst=1000000\n")
    for name, d in targets.items():
        os.makedirs(os.path.join(d, "volumes"), exist_ok=True)
        f.write(f"\n[StorageClass {name}]\nBackend=dir\nPath={d}/volumes\n")
daemon = subprocess.Popen([os.environ.get("EDGEVIRTD") or os.path.join(build, "dbus", "edgevirtd"),
                           "--bus=unix:path=" + sock, "--state-dir=" + state, "--config=" + config,
                           "--libvirt-uri=test:///default"],
                          stdout=devnull, stderr=open(os.path.join(args.work, "daemon.log"), "a"))


@atexit.register
def stop():
    """The daemon and the bus go with the driver, also when a run failed."""
    if daemon.poll() is None:
        daemon.terminate()
        daemon.wait()
    try:
        os.kill(bus_pid, 15)
    except ProcessLookupError:
        pass


conn = Gio.DBusConnection.new_for_address_sync(
    "unix:path=" + sock,
    Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
ctx = GLib.MainContext.default()


def call(iface, method, sig, values):
    return conn.call_sync(NAME, ROOT, NAME + "." + iface, method, GLib.Variant(sig, values), None,
                          Gio.DBusCallFlags.NONE, 120000, None)


def iterate_until(cond, what):
    end = time.monotonic() + TIMEOUT
    tick = GLib.timeout_add(50, lambda: True)       # wakes the loop for conditions no signal drives
    try:
        while not cond():
            if time.monotonic() > end:
                fail(what, "timed out")
            ctx.iteration(True)
    finally:
        GLib.source_remove(tick)


def owned():
    return conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameHasOwner",
                          GLib.Variant("(s)", (NAME,)), None, Gio.DBusCallFlags.NONE, -1, None).unpack()[0]


def exists(kind, name):
    try:
        call("Manager", "Get", "(sssa{sv})", (kind, NS, name, {}))
        return True
    except GLib.Error as e:
        if "NotFound" in e.message or "not found" in e.message.lower():
            return False
        raise


iterate_until(lambda: owned() or daemon.poll() is not None, "the daemon's start")
if daemon.poll() is not None:
    fail("the daemon's start", open(os.path.join(args.work, "daemon.log")).read()[-2000:])
call("Manager", "Apply", "(sa{sv})", (f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {NS}}}\n", {}))
runs = 0


def daemon_import(target, image):
    """(wall, CPU) of Apply → Succeeded of a DataVolume; freed (deleted,
    gone) afterwards, neither timed nor counted."""
    global runs
    runs += 1
    name = f"dv{runs}"
    path = f"{ROOT}/namespace/{NS}/datavolume/{name}"
    seen = {}

    def on_changed(_c, _sender, _path, _iface, _signal, params):
        iface, changed, _ = params.unpack()
        if iface == NAME + ".DataVolume" and "Phase" in changed:
            seen["phase"] = changed["Phase"]
            if changed["Phase"] in ("Succeeded", "Failed"):
                seen["end"] = time.monotonic()
                seen.setdefault("message", changed.get("Message"))

    sub = conn.signal_subscribe(NAME, "org.freedesktop.DBus.Properties", "PropertiesChanged", path, None,
                                Gio.DBusSignalFlags.NONE, on_changed)
    doc = (f"apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\nmetadata: {{name: {name}, namespace: {NS}}}\n"
           f"spec:\n  source: {{http: {{url: \"{args.url}/{image}\"}}}}\n"
           f"  storage: {{storageClassName: {target}, resources: {{requests: {{storage: \"{size}\"}}}}}}\n")
    cpu = daemon_cpu()
    t0 = time.monotonic()
    call("Manager", "Apply", "(sa{sv})", (doc, {}))
    iterate_until(lambda: "end" in seen, f"the DataVolume {name}")
    # its importer's CPU time is the daemon's once reaped (sd-event reaps
    # after the handler that wrote Succeeded)
    iterate_until(lambda: not daemon_children(), "the importer's end")
    cpu = daemon_cpu() - cpu
    conn.signal_unsubscribe(sub)
    if seen["phase"] != "Succeeded":
        fail(f"the DataVolume {name}", seen.get("message"))
    wall = seen["end"] - t0
    call("Manager", "Delete", "(sssa{sv})", ("dv", NS, name, {}))
    iterate_until(lambda: not exists("pvc", name) and not exists("dv", name), f"deleting {name}")
    return wall, cpu


def daemon_children():
    """The daemon's child processes, zombies too."""
    n = 0
    for t in os.listdir(f"/proc/{daemon.pid}/task"):
        try:
            with open(f"/proc/{daemon.pid}/task/{t}/children") as f:
                n += len(f.read().split())
        except FileNotFoundError:
            pass
    return n


def daemon_cpu():
    """The daemon's CPU time and that of its children it reaped (its importers)."""
    with open(f"/proc/{daemon.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")      # utime stime cutime cstime


# --- the other tools: one shell command each, into out (a directory of the target's) ---

def src(image):
    return os.path.join(args.cache, image)


def decompressor(image):
    return "xz -dc" if image.endswith(".xz") else "gzip -dc" if image.endswith(".gz") else None


def fresh(out):
    return f't="{out}/t"; truncate -s {size} "$t"; '


def command(tool, target, image, out):
    url = f"{args.url}/{image}"
    dec = decompressor(image)
    if tool == "importer":
        return (fresh(out) + f'mkdir "{out}/s"; '
                f'"{importer}" --url="{url}" --target="$t" --size={size} --scratch="{out}/s"')
    if tool == "pull" and dec:
        return f'/lib/systemd/systemd-pull raw --verify=no --direct "{url}" "{out}/t"'
    if tool == "pull":
        if not image.endswith(".qcow2"):
            return None     # systemd-pull: raw and qcow2 only
        return (f'mkdir "{out}/root"; /lib/systemd/systemd-pull raw --verify=no --convert-qcow2=yes '
                f'--image-root="{out}/root" "{url}" bench')
    if tool == "cdi" and dec:
        return fresh(out) + f'curl -sf "{url}" | {dec} | dd of="$t" bs=1M conv=sparse,notrunc status=none'
    if tool == "cdi":
        return (fresh(out) + f's="{out}/nbd.sock"; nbdkit --readonly --exit-with-parent -U "$s" '
                f'--filter=readahead --filter=retry curl url="{url}" retry-exponential=no & n=$!; '
                f'while [ ! -S "$s" ]; do sleep 0.01; done; '
                f'qemu-img convert -t none -O raw -n "nbd+unix:///?socket=$s" "$t"; r=$?; '
                f'kill $n; wait $n 2>/dev/null; exit $r')
    if tool == "bound" and dec:
        return f'{"xz -T2 -dc" if image.endswith(".xz") else dec} <"{src(image)}" >/dev/null'
    if tool == "bound":
        return fresh(out) + f'qemu-img convert -t writeback -O raw -n --target-is-zero "{src(image)}" "$t"'
    raise AssertionError(tool)


def shell_run(cmd, out):
    t0 = time.monotonic()
    r = subprocess.run(["bash", "-c", cmd], stdout=devnull, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    if r.returncode != 0:
        fail(cmd, r.stderr.strip()[-500:])
    return wall


def children_cpu():
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def settle(image):
    """Before a run: dirty data written out, the source out of the page cache."""
    os.sync()
    fd = os.open(src(image), os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)


def run(tool, target, image):
    """(wall, cpu) of one run, or None when the tool has no way for this image."""
    out = os.path.join(targets[target], "out")
    os.mkdir(out)
    try:
        if tool == "daemon":
            settle(image)
            return daemon_import(target, image)
        cmd = command(tool, target, image, out)
        if cmd is None:
            return None
        settle(image)
        cpu = children_cpu()
        wall = shell_run(cmd, out)
        return wall, children_cpu() - cpu
    finally:
        shutil.rmtree(out)
        os.sync()


tools = args.tools.split(",")
results = {}
after = {}          # (target, image, tool, the tool that ran just before) -> walls
log = open(args.log, "w") if args.log else None
start_load = os.getloadavg()
t_start = time.monotonic()
previous = "-"
for target in targets:
    for image in images:
        for r in range(args.rounds):
            for tool in random.Random(r).sample(tools, len(tools)):
                got = run(tool, target, image)
                if not got:
                    continue
                results.setdefault((target, image, tool), []).append(got)
                after.setdefault((target, image, tool, previous), []).append(got[0])
                if log:
                    print(target, image, r + 1, tool, previous, f"{got[0]:.3f}", f"{got[1]:.3f}", file=log, flush=True)
                previous = tool
            print(f"  {target} {image} round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)

stop()


def med(key):
    got = results.get(key)
    return statistics.median(w for w, _ in got) if got else None


def ratio(a, b):
    return f"{a / b:5.2f}" if a and b else "  n/a"


print(f"\nbench/import: {size} bytes virtual, lighttpd on loopback, {args.rounds} rounds interleaved; "
      f"load average {start_load[0]:.2f} at the start, {os.getloadavg()[0]:.2f} at the end; "
      f"{time.monotonic() - t_start:.0f} s")
print("wall seconds min/median/max (median CPU seconds)")
for target in targets:
    print(f"\n[{target}: {targets[target]}]")
    print(f"{'image':22} " + " ".join(f"{t:>24}" for t in tools) +
          "   pull/daemon cdi/daemon daemon/bound importer/bound")
    for image in images:
        cells = []
        for tool in tools:
            got = results.get((target, image, tool))
            if not got:
                cells.append(f"{'—':>24}")
                continue
            w = sorted(x for x, _ in got)
            cpu = statistics.median(c for _, c in got)
            cells.append(f"{w[0]:.2f}/{statistics.median(w):.2f}/{w[-1]:.2f} ({cpu:.2f})".rjust(24))
        d, b = med((target, image, "daemon")), med((target, image, "bound"))
        print(f"{image:22} " + " ".join(cells) +
              f"   {ratio(med((target, image, 'pull')), d):>11} {ratio(med((target, image, 'cdi')), d):>10}"
              f" {ratio(d, b):>12} {ratio(med((target, image, 'importer')), b):>14}")

print("\nin company: median wall seconds of daemon and importer by the tool that ran just before (runs)")
for target in targets:
    for image in images:
        for tool in ("daemon", "importer"):
            cells = [f"after {prev} {statistics.median(w):.2f} ({len(w)})"
                     for (t, i, u, prev), w in sorted(after.items()) if (t, i, u) == (target, image, tool)]
            if cells:
                print(f"{target:6} {image:22} {tool:9} " + ", ".join(cells))
