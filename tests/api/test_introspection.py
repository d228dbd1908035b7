# SPDX-License-Identifier: LGPL-2.1-or-later
"""Each interface's XML in dbus/ is exactly what the running daemon says."""
import glob
import os
import xml.etree.ElementTree as ET

import dbus
import pytest

from conftest import NAME, ROOT, TOP

XMLS = sorted(glob.glob(os.path.join(TOP, "dbus", "org.edgevirt.EdgeVirt1.*.xml")))
# Where a live object of each interface is found in a fresh daemon.
PATHS = {
    "org.edgevirt.EdgeVirt1.Manager": ROOT,
    "org.edgevirt.EdgeVirt1.Namespace": ROOT + "/namespace/default",
    "org.edgevirt.EdgeVirt1.Object": ROOT + "/namespace/default",
    "org.edgevirt.EdgeVirt1.PersistentVolumeClaim": ROOT + "/namespace/default/pvc/probe",
    "org.edgevirt.EdgeVirt1.DataVolume": ROOT + "/namespace/default/datavolume/probe_2ddv",
    "org.edgevirt.EdgeVirt1.VirtualMachine": ROOT + "/namespace/default/vm/probe",
    "org.edgevirt.EdgeVirt1.VirtualMachineInstance": ROOT + "/namespace/default/vmi/probe",
    "org.edgevirt.EdgeVirt1.VirtualMachineSnapshot": ROOT + "/namespace/default/vmsnapshot/probe",
    "org.edgevirt.EdgeVirt1.VirtualMachineExport": ROOT + "/namespace/default/vmexport/probe",
}
# Objects the paths above need.
SETUP = ("apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: probe}\n"
         "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}}\n"
         "---\napiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\nmetadata: {name: probe-dv}\n"
         "spec: {source: {blank: {}}, storage: {resources: {requests: {storage: 1Mi}}}}\n"
         "---\napiVersion: kubevirt.io/v1\nkind: VirtualMachine\nmetadata: {name: probe}\n"
         "spec: {runStrategy: Halted, template: {spec: {domain: {memory: {guest: 16Mi}}}}}\n"
         "---\napiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\nmetadata: {name: probe}\n"
         "spec: {domain: {memory: {guest: 16Mi}}}\n"
         "---\napiVersion: snapshot.kubevirt.io/v1beta1\nkind: VirtualMachineSnapshot\nmetadata: {name: probe}\n"
         "spec: {source: {apiGroup: kubevirt.io, kind: VirtualMachine, name: probe}}\n"
         "---\napiVersion: export.kubevirt.io/v1beta1\nkind: VirtualMachineExport\nmetadata: {name: probe}\n"
         "spec: {source: {kind: PersistentVolumeClaim, name: probe}}\n")


def shape(iface):
    """An interface as comparable data: members, args, types, access, annotations."""
    def annotations(el):
        return tuple(sorted((a.get("name"), a.get("value")) for a in el.findall("annotation")))
    members = []
    for el in iface:
        if el.tag == "annotation":
            continue
        args = tuple((a.get("name"), a.get("type"), a.get("direction", "in" if el.tag == "method" else "out"))
                     for a in el.findall("arg"))
        members.append((el.tag, el.get("name"), el.get("type"), el.get("access"), args, annotations(el)))
    return sorted(members)


def test_every_interface_has_xml_and_contract():
    assert {os.path.basename(x)[:-4] for x in XMLS} == set(PATHS)
    for x in XMLS:
        assert os.path.exists(x[:-4] + ".txt"), "no plain-text contract beside " + x


@pytest.mark.parametrize("path", XMLS, ids=[os.path.basename(x) for x in XMLS])
def test_xml_matches_daemon(client, path):
    client.apply(SETUP)
    ours = ET.parse(path).getroot().find("interface")
    name = ours.get("name")
    obj = client.conn.get_object(NAME, PATHS[name])
    live_xml = dbus.Interface(obj, "org.freedesktop.DBus.Introspectable").Introspect()
    live = [i for i in ET.fromstring(str(live_xml)).findall("interface") if i.get("name") == name]
    assert live, f"{name} not on {PATHS[name]}"
    assert shape(ours) == shape(live[0])
