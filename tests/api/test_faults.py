# SPDX-License-Identifier: LGPL-2.1-or-later
"""Faults a host really has (issue 23; docs/architecture.md, "Recovery"):
the file system of the state directory or of a storage class full during
an Apply, an import (streamed or converted), a clone and a snapshot; the
daemon SIGKILLed at random points of a scripted workload, of a
VirtualMachineClone and of a hotplug, and started again."""
import datetime
import json
import os
import random
import signal
import sqlite3
import subprocess
import tempfile
import shutil
import time

import dbus
import pytest

from conftest import Client, Daemon, wait_until
from servers import Lighttpd
import test_snapshots as snaps

MI = 1 << 20


class Tmpfs:
    """A small tmpfs at path (we run as root), unmounted at the end."""

    def __init__(self, path, size):
        os.makedirs(path, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", path], check=True)
        self.path = path
        self.filler = os.path.join(path, "filler")

    def fill(self):
        """Take every free byte (the filler is no file of the daemon's)."""
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            for chunk in (MI, 4096):
                try:
                    while True:
                        os.write(fd, b"\xff" * chunk)
                except OSError:
                    pass
        finally:
            os.close(fd)

    def free(self):
        os.unlink(self.filler)

    def umount(self):
        subprocess.run(["umount", "-l", self.path], check=False)


@pytest.fixture
def tmp():
    d = tempfile.mkdtemp(prefix="edgevirt-faults-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def web(tmp):
    """lighttpd serving rand.raw: 8 MiB that do not compress or sparsify."""
    root = os.path.join(tmp, "www")
    os.makedirs(root)
    with open(os.path.join(root, "rand.raw"), "wb") as f:
        f.write(random.Random(23).randbytes(8 * MI))
    # qcow2, streamOptimized vmdk, vdi and vhdx are read in one pass; a
    # qcow2 with an internal snapshot through nbdkit and qemu-img convert;
    # monolithicSparse vmdk through a scratch copy and qemu-img convert
    for name, fmt, opts in (("rand.qcow2", "qcow2", []), ("rand.vmdk", "vmdk", ["-o", "subformat=streamOptimized"]),
                            ("rand.vdi", "vdi", []), ("rand.vhdx", "vhdx", []), ("snap.qcow2", "qcow2", []),
                            ("sparse.vmdk", "vmdk", ["-o", "subformat=monolithicSparse"])):
        subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", fmt] + opts +
                       [os.path.join(root, "rand.raw"), os.path.join(root, name)], check=True)
    subprocess.run(["qemu-img", "snapshot", "-c", "before", os.path.join(root, "snap.qcow2")], check=True)
    server = Lighttpd(root, tmp)
    yield server
    server.stop()


def dv(name, url, size="16Mi"):
    return (f"apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\nmetadata: {{name: {name}}}\n"
            f"spec:\n  source: {{http: {{url: '{url}'}}}}\n  storage: {{resources: {{requests: {{storage: {size}}}}}}}\n")


def status(client, kind, name, namespace="default"):
    return client.get_json(kind, namespace, name).get("status", {})


def message(st):
    return next((c.get("message", "") for c in st.get("conditions", []) if c["type"] == "Running"), "")


def files(top):
    """Every file below top with the bytes it takes."""
    out = {}
    for d, _, names in os.walk(top):
        for n in names:
            p = os.path.join(d, n)
            out[os.path.relpath(p, top)] = os.lstat(p).st_blocks * 512
    return out


def store_ok(state_dir):
    db = sqlite3.connect(os.path.join(state_dir, "objects.db"))
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()


# --- ENOSPC ---


def test_state_directory_full_during_apply(bus, tmp):
    """The object store cannot grow: the Apply fails naming the file system,
    nothing of it is kept, the store is intact, and once space is freed the
    same Apply goes through."""
    fs = Tmpfs(os.path.join(tmp, "state"), "8m")
    d = Daemon(bus, fs.path)
    try:
        d.start()
        c = Client(bus.conn)
        c.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: before}\ndata: {k: v}\n")
        fs.fill()
        big = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata: {x: '" + "y" * MI + "'}\n"
        with pytest.raises(dbus.DBusException) as e:
            c.apply(big)
        msg = e.value.get_dbus_message()
        assert f"the file system of {fs.path} is full" in msg and "nothing was changed" in msg, msg
        assert not c.exists("cm", "default", "big")
        assert c.exists("cm", "default", "before")
        fs.free()
        c.apply(big)
        d.restart(signal.SIGKILL)
        assert c.get_json("cm", "default", "big")["data"]["x"] == "y" * MI
        d.stop()
        assert store_ok(fs.path)
    finally:
        d.stop()
        fs.umount()


@pytest.mark.parametrize("image", ["rand.raw", "snap.qcow2", "sparse.vmdk"])
def test_state_directory_full_during_an_import(bus, tmp, web, image):
    """Volumes, scratch space and the object store on one full file system:
    the import fails for want of space and gives back what it wrote (the
    volume emptied, the scratch copy removed), so its status (retrying, the
    full file system named) can be stored; once space is freed the import
    goes on and ends Succeeded, the store intact."""
    fs = Tmpfs(os.path.join(tmp, "state"), "24m")
    d = Daemon(bus, fs.path)
    try:
        d.start()
        c = Client(bus.conn)
        with open(fs.filler, "wb") as f:    # a little left: not enough for 8 MiB
            f.write(b"\xff" * (24 * MI - 4 * MI))
        c.apply(dv("imp", web.url(image)))
        wait_until(lambda: f"the file system of {fs.path}" in message(status(c, "dv", "imp")), timeout=30,
                   what="the DataVolume to say the file system is full")
        assert status(c, "dv", "imp")["phase"] in ("ImportScheduled", "ImportInProgress")
        assert not [n for n in files(fs.path) if n.startswith("scratch/") and n.endswith(".vmdk")]
        fs.free()
        wait_until(lambda: status(c, "dv", "imp").get("phase") == "Succeeded", timeout=60,
                   what="the import to go on once space is freed")
        d.stop()
        assert store_ok(fs.path)
    finally:
        d.stop()
        fs.umount()


@pytest.fixture
def full_state(bus, tmp):
    """The daemon with its state directory (so its class `local`'s volumes,
    its scratch space and its object store) on a tmpfs of 48 MiB (the
    class's capacity: room for a VM clone's claims); yields (fs, client,
    leave) where leave(n) fills it up to n bytes left."""
    fs = Tmpfs(os.path.join(tmp, "state"), "48m")
    d = Daemon(bus, fs.path)

    def leave(n):
        st = os.statvfs(fs.path)
        with open(fs.filler, "wb") as f:
            f.write(b"\xff" * (st.f_bavail * st.f_frsize - n))
    try:
        d.start()
        yield fs, Client(bus.conn), leave
        d.stop()
        assert store_ok(fs.path)
    finally:
        d.stop()
        fs.umount()


def test_state_directory_full_during_a_clone(full_state, tmp, web):
    """A DataVolume cloned from a claim when the state directory has too
    little room for the copy: the claim says so (the file system named),
    nothing half-copied stays, and once space is freed the clone goes on
    by itself and ends Succeeded with the source's bytes."""
    fs, c, leave = full_state
    c.apply(dv("src", web.url("rand.raw"), size="8Mi"))     # the class has room for a copy: the disk has not
    wait_until(lambda: status(c, "dv", "src").get("phase") == "Succeeded", timeout=30, what="the source")
    leave(4 * MI)
    before = set(files(fs.path))
    c.apply("apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\nmetadata: {name: copy}\n"
            "spec:\n  source: {pvc: {namespace: default, name: src}}\n"
            "  storage: {resources: {requests: {storage: 8Mi}}}\n")
    full = f"the file system of {fs.path}/volumes/local is full"
    wait_until(lambda: full in json.dumps(status(c, "pvc", "copy")) or full in json.dumps(status(c, "dv", "copy")),
               timeout=30, what="the clone to say the file system is full")
    assert status(c, "dv", "copy").get("phase") != "Failed", status(c, "dv", "copy")

    def half_copies():
        now = files(fs.path)
        return [n for n in set(now) - before if not n.startswith("objects.db") and now[n]]
    # nothing of a failed try keeps its space (between tries: the next one
    # may be writing when a look comes, so the look is repeated)
    wait_until(lambda: not half_copies(), timeout=30, what="no half copy to take space")
    fs.free()
    wait_until(lambda: status(c, "dv", "copy").get("phase") == "Succeeded", timeout=60,
               what="the clone to go on once space is freed")
    assert not [n for n in files(fs.path) if "/.tmp-" in n], files(fs.path)
    uid = c.get_json("pvc", "default", "copy")["metadata"]["uid"]
    with open(os.path.join(fs.path, "volumes", "local", f"pvc-{uid}.img"), "rb") as a, \
            open(os.path.join(tmp, "www", "rand.raw"), "rb") as b:
        assert a.read(8 * MI) == b.read()


def test_state_directory_full_during_a_snapshot(full_state):
    """A snapshot when the state directory has too little room for its
    copies: it waits for space (saying so, nothing of a try left), and
    once space is freed it succeeds."""
    fs, c, leave = full_state
    c.apply(snaps.VM)
    wait_until(lambda: status(c, "dv", "data").get("phase") == "Succeeded" and
               status(c, "pvc", "disk").get("phase") == "Bound", what="the VM's claims")
    snaps.write(snaps.volume(c, "disk"), 0, random.Random(1).randbytes(6 * MI))
    leave(3 * MI)
    c.apply(snaps.snapshot("snap"))
    wait_until(lambda: condition(status(c, "vmsnapshot", "snap"), "Progressing").get("reason") == "Waiting for space",
               timeout=30, what="the snapshot to wait for space")
    st = status(c, "vmsnapshot", "snap")
    assert f"the file system of {fs.path}/volumes/local is full" in st["error"]["message"], st
    assert not [n for n in files(fs.path) if "snap-" in n or "/.tmp" in n], files(fs.path)
    fs.free()
    snaps.ready(c, "snap")


def test_state_directory_full_during_a_vm_clone(full_state):
    """A VirtualMachineClone when the state directory has too little room
    for the copies of the source's disks: it waits (its snapshot waiting
    for space, saying so) instead of failing, and once space is freed the
    clone ends Succeeded with a VM whose disk has the source's bytes."""
    fs, c, leave = full_state
    c.apply(snaps.VM)
    wait_until(lambda: status(c, "dv", "data").get("phase") == "Succeeded" and
               status(c, "pvc", "disk").get("phase") == "Bound", what="the VM's claims")
    data = random.Random(2).randbytes(6 * MI)
    snaps.write(snaps.volume(c, "disk"), 0, data)
    leave(3 * MI)
    c.apply(snaps.CLONE.replace("name: x", "name: copy") +
            "  target: {apiGroup: kubevirt.io, kind: VirtualMachine, name: box-2}\n")

    def waiting():
        return [s for s in c.list("vmsnapshot")["items"]
                if condition(s.get("status", {}), "Progressing").get("reason") == "Waiting for space"]
    wait_until(lambda: waiting(), timeout=30, what="the clone's snapshot to wait for space")
    assert f"the file system of {fs.path}/volumes/local is full" in waiting()[0]["status"]["error"]["message"]
    assert status(c, "vmclone", "copy").get("phase") not in ("Failed", "Succeeded"), status(c, "vmclone", "copy")
    fs.free()
    wait_until(lambda: status(c, "vmclone", "copy").get("phase") in ("Succeeded", "Failed"), timeout=60,
               what="the clone to end")
    assert status(c, "vmclone", "copy")["phase"] == "Succeeded", status(c, "vmclone", "copy")
    vm = c.get_json("vm", "default", "box-2")
    claim = next(v["persistentVolumeClaim"]["claimName"] for v in vm["spec"]["template"]["spec"]["volumes"]
                 if v["name"] == "root")
    with open(snaps.volume(c, claim), "rb") as f:
        assert f.read(len(data)) == data


@pytest.fixture
def small_class(bus, tmp):
    """make(size): the daemon with its class `local` on a tmpfs of size that
    hands out 1Gi (more than the disk has, as thin provisioning does)."""
    made = []

    def make(size):
        fs = Tmpfs(os.path.join(tmp, "volumes"), size)
        d = Daemon(bus, os.path.join(tmp, "state"))
        made.append((fs, d))
        with open(d.config, "w") as f:
            f.write(f"[StorageClass local]\nBackend=dir\nPath={fs.path}\nCapacity=1Gi\n")
        d.start()
        return fs, Client(bus.conn)
    yield make
    for fs, d in made:
        d.stop()
        fs.umount()


@pytest.mark.parametrize("image", ["rand.raw", "rand.qcow2", "rand.vmdk", "rand.vdi", "rand.vhdx", "snap.qcow2",
                                   "sparse.vmdk"])
def test_class_full_during_an_import_then_it_goes_on(small_class, tmp, web, image):
    """The volumes' file system full mid-import: the DataVolume says which
    file system is full and backs off, the half-written volume is emptied
    (its space given back), and the import goes on by itself once space is
    freed."""
    fs, c = small_class("12m")
    with open(fs.filler, "wb") as f:    # 6 MiB left: not enough for 8
        f.write(b"\xff" * 6 * MI)
    c.apply(dv("imp", web.url(image)))
    wait_until(lambda: "is full" in message(status(c, "dv", "imp")), timeout=30, what="the import to hit ENOSPC")
    st = status(c, "dv", "imp")
    assert f"the file system of {fs.path} is full" in message(st) and "retrying in" in message(st), st
    assert st["phase"] != "Failed" and st["restartCount"] >= 1, st
    # nothing half-written: the volume is empty again
    vols = {n: b for n, b in files(fs.path).items() if n.startswith("pvc-")}
    assert len(vols) == 1 and list(vols.values()) == [0], vols
    fs.free()
    wait_until(lambda: status(c, "dv", "imp").get("phase") == "Succeeded", timeout=40,
               what="the import to go on once space is freed")
    with open(os.path.join(fs.path, next(iter(vols))), "rb") as a, \
            open(os.path.join(tmp, "www", "rand.raw"), "rb") as b:
        assert a.read(8 * MI) == b.read()
    assert not [n for n in files(fs.path) if n.startswith(".")]


def iso_seconds(stamp):
    """An RFC 3339 time as Kubernetes writes it (…Z), in seconds."""
    return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()


def condition(st, kind):
    return next((c for c in st.get("conditions", []) if c["type"] == kind), {})


def snapshot_into_a_full_class(small_class, deadline):
    """The VM of test_snapshots with 6 MiB written, its class's file system
    then full, and a snapshot with failureDeadline deadline asked for; once
    it says it waits for space: (fs, client, the files before)."""
    fs, c = small_class("16m")
    c.apply(snaps.VM)
    wait_until(lambda: status(c, "dv", "data").get("phase") == "Succeeded" and
               status(c, "pvc", "disk").get("phase") == "Bound", what="the VM's claims")
    snaps.write(snaps.volume(c, "disk"), 0, random.Random(1).randbytes(6 * MI))
    before = set(files(fs.path))
    fs.fill()
    c.apply(snaps.snapshot("full", extra=f"  failureDeadline: {deadline}\n"))
    wait_until(lambda: condition(status(c, "vmsnapshot", "full"), "Progressing").get("reason") == "Waiting for space",
               timeout=30, what="the snapshot to wait for space")
    st = status(c, "vmsnapshot", "full")
    full = f"the file system of {fs.path} is full"
    assert st["phase"] == "InProgress" and full in st["error"]["message"], st
    msg = condition(st, "Progressing")["message"]
    assert full in msg and "trying again in" in msg and "failureDeadline" in msg, st
    # nothing of the try is left between tries
    assert set(files(fs.path)) == before | {"filler"}, files(fs.path)
    return fs, c, before


def test_a_failure_deadline_of_0s_is_no_deadline(small_class):
    """As KubeVirt reads it: failureDeadline 0s never fails the snapshot, which
    waits for space past any deadline a default would give and then succeeds."""
    fs, c, before = snapshot_into_a_full_class(small_class, "0s")
    msg = condition(status(c, "vmsnapshot", "full"), "Progressing")["message"]
    assert "(failureDeadline 0: no deadline)" in msg and "until the failureDeadline" not in msg, msg
    time.sleep(3)       # tries come every second or more: several have failed meanwhile
    st = status(c, "vmsnapshot", "full")
    assert st["phase"] == "InProgress" and condition(st, "Progressing")["reason"] == "Waiting for space", st
    fs.free()
    snaps.ready(c, "full")


def test_class_full_during_a_snapshot_until_its_deadline(small_class):
    """A snapshot's copy runs out of space: it tries again (saying why)
    until its failureDeadline, then fails naming the file system, no
    partial copy left; after space is freed a new snapshot succeeds."""
    fs, c, before = snapshot_into_a_full_class(small_class, "8s")
    wait_until(lambda: status(c, "vmsnapshot", "full").get("phase") == "Failed", timeout=30,
               what="the snapshot to fail at its deadline")
    st = status(c, "vmsnapshot", "full")
    # timed from the snapshot's own creation (whole seconds), not the setup
    made = c.get_json("vmsnapshot", "default", "full")["metadata"]["creationTimestamp"]
    failed = st["error"]["time"]
    assert iso_seconds(failed) - iso_seconds(made) >= 7, f"failed before its failureDeadline: {made} → {failed}"
    assert st["error"]["message"].startswith("the snapshot did not complete within its failureDeadline (8s): "
                                             "copying the volumes failed: ") and \
        f"the file system of {fs.path} is full" in st["error"]["message"], st
    assert condition(st, "Ready")["status"] == "False" and condition(st, "Ready")["reason"] == "Failed", st
    assert set(files(fs.path)) == before | {"filler"}, files(fs.path)
    fs.free()
    c.apply(snaps.snapshot("roomy"))
    snaps.ready(c, "roomy")


def test_class_full_during_a_snapshot_then_space_freed(small_class):
    """The same snapshot, space freed before its deadline: it succeeds by
    itself, its error of the tries gone."""
    fs, c, before = snapshot_into_a_full_class(small_class, "2m")
    fs.free()
    st = snaps.ready(c, "full")
    assert "error" not in st and condition(st, "Ready")["status"] == "True", st
    made = set(files(fs.path)) - before
    assert len(made) == 2 and all(n.startswith("snap-") for n in made), made     # its copies, root and data


# --- SIGKILL at random points of a workload ---

WORKLOAD_ROUNDS = 8
SETTLE_SECONDS = 60


def in_namespace(text, ns):
    """snaps.VM's documents, in namespace ns (top-level metadata only)."""
    return text.replace("\nmetadata: {name: ", f"\nmetadata: {{namespace: {ns}, name: ")


class Killer:
    """SIGKILLs the daemon delay seconds from now (from another thread, so
    the workload is cut wherever it is)."""

    def __init__(self, daemon, delay):
        import threading
        self.timer = threading.Timer(delay, lambda: os.kill(daemon.proc.pid, signal.SIGKILL))
        self.timer.start()

    def join(self):
        self.timer.join()


def seeded():
    """The seed of this run's random moments (EDGEVIRT_FAULT_SEED=N runs
    one again), said, and its generator."""
    seed = int(os.environ.get("EDGEVIRT_FAULT_SEED", time.time_ns() % 100000))
    print(f"EDGEVIRT_FAULT_SEED={seed}")
    return seed, random.Random(seed)


def killed_during(bus, d, delay, work):
    """Run work() with the daemon SIGKILLed delay seconds after it starts
    (what work raises then is the kill's doing), and start it again."""
    killer = Killer(d, delay)
    try:
        work()
    except (dbus.DBusException, AssertionError):
        pass
    killer.join()
    d.proc.wait(timeout=10)
    wait_until(lambda: not bus.conn.name_has_owner("org.edgevirt.EdgeVirt1"), what="the name to go")
    d.remove_runtime_dir()
    d.start()


def workload(c, ns, previous, url, acked):
    """Import, clone, a VM, its snapshot and a restore in namespace ns; the
    namespace of the round before deleted. acked gets what was answered."""
    def apply(kind, name, text):
        c.apply(text, namespace=ns)
        acked.append((kind, ns, name))

    c.apply(f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n")
    acked.append(("ns", "", ns))
    apply("dv", "imp", dv("imp", url))
    apply("dv", "copy", "apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\nmetadata: {name: copy}\n"
          f"spec:\n  source: {{pvc: {{namespace: {ns}, name: imp}}}}\n"
          "  storage: {resources: {requests: {storage: 16Mi}}}\n")
    apply("vm", "box", in_namespace(snaps.VM, ns))
    wait_until(lambda: status(c, "dv", "data", ns).get("phase") == "Succeeded" and
               status(c, "pvc", "disk", ns).get("phase") == "Bound", timeout=20, what="the VM's claims")
    apply("vmsnapshot", "snap", snaps.snapshot("snap"))
    wait_until(lambda: status(c, "vmsnapshot", "snap", ns).get("phase") in ("Succeeded", "Failed"), timeout=20,
               what="the snapshot")
    apply("vmrestore", "back", snaps.restore("back", "snap"))
    if previous:
        # asked for: gone or going whether or not the answer comes back
        acked.append(("deleted", "", previous))
        c.manager.DeleteNamespace(previous)


def settled(c):
    """Every DataVolume, snapshot and restore in a final phase, no namespace
    terminating; a list of what is not."""
    left = []
    for item in c.list("dv")["items"]:
        if item.get("status", {}).get("phase") not in ("Succeeded", "Failed"):
            left.append(("dv", item["metadata"]["namespace"], item["metadata"]["name"], item.get("status")))
    for item in c.list("vmsnapshot")["items"]:
        if item.get("status", {}).get("phase") not in ("Succeeded", "Failed"):
            left.append(("vmsnapshot", item["metadata"]["namespace"], item["metadata"]["name"], item.get("status")))
    for item in c.list("vmrestore")["items"]:
        st = item.get("status", {})
        if not st.get("complete") and not any(x.get("reason") == "Failed" for x in st.get("conditions", [])):
            left.append(("vmrestore", item["metadata"]["namespace"], item["metadata"]["name"], st))
    for item in c.list("ns")["items"]:
        if item.get("status", {}).get("phase") == "Terminating":
            left.append(("ns", "", item["metadata"]["name"], item.get("status")))
    return left


def volume_problems(c, volumes):
    """Volume files without their claim or snapshot, claims Bound without
    their file, temporary files left."""
    problems = []
    claims = {}
    for item in c.list("pvc")["items"]:
        claims[item["metadata"]["uid"]] = item
    snapshots = {item["metadata"]["uid"] for item in c.list("vmsnapshot")["items"]}
    names = set(os.listdir(volumes))
    for n in names:
        if n.startswith("pvc-") and n.endswith(".img"):
            if n[4:-4] not in claims:
                problems.append(f"{n}: no claim")
        elif n.startswith("snap-") and n.endswith(".img"):
            if n[5:41] not in snapshots:
                problems.append(f"{n}: no snapshot")
        else:
            problems.append(f"{n}: not a volume")
    for uid, item in claims.items():
        if item.get("status", {}).get("phase") == "Bound" and f"pvc-{uid}.img" not in names:
            problems.append(f"claim {item['metadata']['namespace']}/{item['metadata']['name']}: Bound, no file")
    return problems


def test_sigkill_at_random_points_of_a_workload(bus, tmp, web):
    seed, rng = seeded()
    state = os.path.join(tmp, "state")
    d = Daemon(bus, state).start()
    c = Client(bus.conn)
    acked = []
    try:
        previous = None
        for i in range(WORKLOAD_ROUNDS):
            ns = f"round{i}"
            delay = rng.uniform(0.02, 0.7)
            killed_during(bus, d, delay, lambda: workload(c, ns, previous, web.url("rand.raw"), acked))
            print(f"round {i}: killed after {delay:.2f} s, {len(acked)} answered so far")
            deleted = {n for k, _, n in acked if k == "deleted"}
            for kind, namespace, name in acked:
                if kind != "deleted" and (namespace or name) not in deleted:
                    assert c.exists(kind, namespace, name), (seed, i, delay, kind, namespace, name)
            previous = ns
        wait_until(lambda: not settled(c), timeout=SETTLE_SECONDS, what="every phase to be final")
        assert not volume_problems(c, os.path.join(state, "volumes", "local")), \
            (seed, volume_problems(c, os.path.join(state, "volumes", "local")))
        leftovers = [n for n in files(state) if "/.tmp" in n or n.startswith(".tmp") or "partial" in n]
        assert not leftovers, (seed, leftovers)
    finally:
        d.stop()


def test_sigkill_during_a_vm_clone(bus, tmp):
    """A VirtualMachineClone cut by SIGKILL at a seeded random moment (its
    snapshot, its restore, the temporary objects' deletion), the daemon
    started again, four times: every clone ends Succeeded, its VM has the
    source's bytes, no temporary snapshot or restore is left, no volume
    without its claim or snapshot, no temporary file."""
    seed, rng = seeded()
    state = os.path.join(tmp, "state")
    d = Daemon(bus, state).start()
    c = Client(bus.conn)
    try:
        c.apply(snaps.VM)
        wait_until(lambda: status(c, "dv", "data").get("phase") == "Succeeded" and
                   status(c, "pvc", "disk").get("phase") == "Bound", what="the VM's claims")
        data = random.Random(3).randbytes(6 * MI)
        snaps.write(snaps.volume(c, "disk"), 0, data)
        for i in range(4):
            delay = rng.uniform(0.0, 0.4)
            clone = (snaps.CLONE.replace("name: x", f"name: copy{i}") +
                     f"  target: {{apiGroup: kubevirt.io, kind: VirtualMachine, name: box-{i}}}\n")

            def work():
                c.apply(clone)
                wait_until(lambda: status(c, "vmclone", f"copy{i}").get("phase") == "Succeeded", timeout=5,
                           what="the clone")
            killed_during(bus, d, delay, work)
            print(f"clone {i}: killed after {delay:.2f} s")
            if not c.exists("vmclone", "default", f"copy{i}"):    # killed before the answer: ask again
                c.apply(clone)
            wait_until(lambda: status(c, "vmclone", f"copy{i}").get("phase") in ("Succeeded", "Failed"),
                       timeout=SETTLE_SECONDS, what="the clone to end")
            assert status(c, "vmclone", f"copy{i}")["phase"] == "Succeeded", (seed, i, status(c, "vmclone", f"copy{i}"))
            vm = c.get_json("vm", "default", f"box-{i}")
            claim = next(v["persistentVolumeClaim"]["claimName"] for v in vm["spec"]["template"]["spec"]["volumes"]
                         if v["name"] == "root")
            with open(snaps.volume(c, claim), "rb") as f:
                assert f.read(len(data)) == data, (seed, i)
        wait_until(lambda: not c.list("vmsnapshot")["items"] and not c.list("vmrestore")["items"],
                   timeout=SETTLE_SECONDS, what="the temporary snapshots and restores to go")
        wait_until(lambda: not volume_problems(c, os.path.join(state, "volumes", "local")), timeout=SETTLE_SECONDS,
                   what="the temporary snapshots' volumes to go")
        leftovers = [n for n in files(state) if "/.tmp" in n or n.startswith(".tmp") or "partial" in n]
        assert not leftovers, (seed, leftovers)
    finally:
        d.stop()


def test_sigkill_during_a_hotplug(bus, tmp):
    """AddVolume on a running VM (libvirt's test driver, whose attach
    fails) cut by SIGKILL at a seeded random moment, the daemon started
    again, four times: the volume is never left half there — not in the
    VM's spec, in the instance's spec only with its status, no status
    stuck in a transient phase — and the claim is not held: it can be
    deleted.  (The test driver's domains do not outlive the daemon: each
    round has a VM of its own.)"""
    from test_vm import vm_obj, vm_yaml, wait_status
    seed, rng = seeded()
    d = Daemon(bus, os.path.join(tmp, "state")).start()
    c = Client(bus.conn)
    claim = ("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {{name: {0}}}\n"
             "spec: {{accessModes: [ReadWriteOnce], resources: {{requests: {{storage: 16Mi}}}}}}\n")

    def half_there(vm_name, name):
        """What is wrong with volume name of VM vm_name now (None: consistent and final)."""
        if name in json.dumps(c.get_json("vm", "default", vm_name)["spec"]):
            return "in the VM's spec"
        try:
            vmi = c.get_json("vmi", "default", vm_name)
        except dbus.DBusException as e:     # no instance (its domain gone with the test driver): nothing half there
            if not e.get_dbus_name().endswith(".NotFound"):
                raise
            return None
        in_spec = any(v["name"] == name for v in vmi["spec"].get("volumes", []))
        st = next((v for v in vmi.get("status", {}).get("volumeStatus", []) if v["name"] == name), None)
        if in_spec != (st is not None):
            return f"spec {in_spec}, status {st}"
        if st and st.get("phase") != "Ready":
            return f"status {st}"
        return None
    try:
        for i in range(4):
            vm, name = f"hp{i}", f"hp-data{i}"
            c.apply(vm_yaml(vm))
            c.apply(claim.format(name))
            wait_status(c, vm, "Running")
            wait_until(lambda: status(c, "pvc", name).get("phase") == "Bound", what="the claim")
            delay = rng.uniform(0.0, 0.1)     # the test driver's attach fails within milliseconds

            def work():
                vm_obj(c, vm).AddVolume(name, {"serial": f"D{i}"})
                wait_until(lambda: False, timeout=2, what="the kill")
            killed_during(bus, d, delay, work)
            print(f"hotplug {i}: killed after {delay:.2f} s")
            wait_until(lambda: half_there(vm, name) is None, timeout=30, what=f"volume {name} to be whole or gone")
            c.delete("pvc", "default", name)
            wait_until(lambda: not c.exists("pvc", "default", name), timeout=30,
                       what=f"the claim {name}, not held, to go")
            c.delete("vm", "default", vm)
    finally:
        d.stop()
