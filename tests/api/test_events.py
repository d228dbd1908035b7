# SPDX-License-Identifier: LGPL-2.1-or-later
"""Kubernetes Events (daemon/event.c, event-rules.c): recorded when a VM
starts and stops and when an import fails, with KubeVirt's and CDI's
reasons; repeats coalesced; bounded per namespace; expired; read-only to
users but deletable; gone with their namespace; edgevirtctl get events and
describe."""
import os
import subprocess

import dbus
import pytest

from conftest import BUILD, Client, Daemon, expect_error, wait_until
from test_vm import vm_obj, vm_yaml, wait_status

CTL = os.path.join(BUILD, "edgevirtctl", "edgevirtctl")


def events(client, ns="default"):
    return client.list("event", ns)["items"]


def find(client, reason, name, ns="default"):
    return [e for e in events(client, ns) if e["reason"] == reason and e["involvedObject"]["name"] == name]


def ctl(bus, *args):
    env = dict(os.environ, EDGEVIRT_BUS=bus.address)
    return subprocess.run([CTL, *args], capture_output=True, text=True, env=env, timeout=60, check=True).stdout


def test_vm_start_stop_and_an_import(bus, client):
    client.apply(vm_yaml("web", volumes="{name: scratch, emptyDisk: {capacity: 1Gi}}",
                         disks="{name: scratch, disk: {bus: virtio}}"))
    wait_status(client, "web", "Running")
    wait_until(lambda: find(client, "Started", "web"), what="the instance's Started event")
    started = find(client, "Started", "web")[0]
    vmi = client.get_json("vmi", "default", "web")
    assert started["type"] == "Normal" and started["count"] == 1
    assert started["involvedObject"]["kind"] == "VirtualMachineInstance"
    assert started["involvedObject"]["uid"] == vmi["metadata"]["uid"]
    assert started["source"]["component"] == "edgevirtd" and started["firstTimestamp"] == started["lastTimestamp"]
    wait_until(lambda: find(client, "SuccessfulCreate", "web"), what="the VM's SuccessfulCreate event")
    # a new VM is Stopped for a moment before it starts: that is no stop
    assert not find(client, "SuccessfulDelete", "web"), find(client, "SuccessfulDelete", "web")

    vm_obj(client, "web").Stop({})
    wait_status(client, "web", "Stopped")
    wait_until(lambda: find(client, "SuccessfulDelete", "web"), what="the VM's stop event")

    # an import (from a port where nothing listens: it keeps trying, as CDI does)
    client.apply("""apiVersion: cdi.kubevirt.io/v1beta1
kind: DataVolume
metadata: {name: broken}
spec:
  source: {http: {url: "http://127.0.0.1:9/none.img"}}
  storage: {resources: {requests: {storage: 16Mi}}}
""")
    wait_until(lambda: find(client, "ImportInProgress", "broken") or find(client, "ImportScheduled", "broken"),
               what="the import's first event", timeout=30)

    # get events as kubectl prints them; describe lists the object's events
    out = ctl(bus, "get", "events")
    assert out.splitlines()[0].split() == ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert any("Started" in line and "virtualmachineinstance/web" in line for line in out.splitlines()), out
    out = ctl(bus, "describe", "vm", "web")
    assert "# Events:" in out and "SuccessfulCreate" in out and "SuccessfulDelete" in out, out
    # the events.k8s.io spelling reads the same objects (compared once no more
    # are being written: the recorder writes a few per turn of the loop)
    def names(kind):
        return sorted(e["metadata"]["name"] for e in client.list(kind, "default")["items"])
    wait_until(lambda: names("events.events.k8s.io") == names("event"), what="the same events in both spellings")


def test_read_only_deletable_and_gone_with_the_namespace(bus, client):
    client.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n")
    client.apply(vm_yaml("job", strategy="Once").replace("{name: job}", "{name: job, namespace: team}"))
    wait_until(lambda: find(client, "Started", "job", "team"), what="an event in team")
    msg = expect_error("Forbidden", client.apply, """apiVersion: v1
kind: Event
metadata: {name: fake, namespace: team}
involvedObject: {kind: Pod, name: x}
reason: Fake
""")
    assert "edgevirtd records events itself" in msg
    ev = find(client, "Started", "job", "team")[0]
    client.delete("event", "team", ev["metadata"]["name"])
    assert not client.exists("event", "team", ev["metadata"]["name"])
    wait_until(lambda: events(client, "team"), what="another event in team")
    client.manager.DeleteNamespace("team")
    wait_until(lambda: not client.exists("namespace", "", "team"), timeout=30, what="team gone")
    assert events(client, "team") == []


def configured(bus, state_dir, text):
    d = Daemon(bus, state_dir)
    with open(d.config, "w") as f:
        f.write(text)
    return d.start()


def test_repeats_coalesce(bus, client):
    client.apply(vm_yaml("again", strategy="Halted"))
    vm = vm_obj(client, "again")
    for _ in range(2):
        vm.Start({})
        wait_status(client, "again", "Running")
        vm.Stop({})
        wait_status(client, "again", "Stopped")
    wait_until(lambda: [e["count"] for e in find(client, "SuccessfulCreate", "again")
                        if e["involvedObject"]["kind"] == "VirtualMachine"] == [2], what="one event, count 2")
    e = [e for e in find(client, "SuccessfulCreate", "again") if e["involvedObject"]["kind"] == "VirtualMachine"][0]
    assert e["lastTimestamp"] >= e["firstTimestamp"]


def test_bounded_per_namespace(bus, state_dir):
    d = configured(bus, state_dir, "[Events]\nMaxPerNamespace=3\n")
    try:
        client = Client(bus.conn)
        for i in range(3):
            client.apply(vm_yaml(f"v{i}"))
            wait_status(client, f"v{i}", "Running")
        wait_until(lambda: find(client, "Started", "v2"), what="the last VM's Started event")
        assert len(events(client)) == 3     # 9 were recorded; the oldest went
        assert find(client, "Started", "v2")
    finally:
        d.stop()


def test_expire(bus, state_dir):
    d = configured(bus, state_dir, "[Events]\nTimeToLive=2\n")
    try:
        client = Client(bus.conn)
        client.apply(vm_yaml("brief"))
        wait_until(lambda: find(client, "Started", "brief"), what="an event")
        wait_until(lambda: not events(client), timeout=10, what="the events expired after 2 s")
    finally:
        d.stop()


def test_config_errors(tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text("[Events]\nTimeToLive=forever\n")
    r = subprocess.run([os.path.join(BUILD, "dbus", "edgevirtd"), "--bus=session", "--config=" + str(conf),
                        "--state-dir=" + str(tmp_path / "s")], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "[Events] TimeToLive=forever" in r.stderr
