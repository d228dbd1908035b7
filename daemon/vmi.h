/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "hypervisor.h"
#include "model.h"
#include "vmi-admit.h"

typedef struct Services Services;
typedef struct VmiController VmiController;

/* VirtualMachineInstances (kind_vmi, kind.h).  An instance's facts are in
 * vmi-status.h; what other controllers ask of this one (is it stopping,
 * stop it, hold it still for a snapshot), in services.h's InstanceOps. */

/* Starts by listing libvirt's domains: adopts ours, removes what nothing
 * owns any more.  Watches claims and DataVolumes (instances wait for their
 * volumes). */
int vmi_controller_new(Model *m, Services *s, VmiController **ret);
VmiController *vmi_controller_free(VmiController *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VmiController, vmi_controller_free)

/* Lifecycle verbs on an instance; errors say why not (EBUSY: not in a
 * state where this makes sense). */
int vmi_pause(Model *m, Object *vmi, GError **error);
int vmi_unpause(Model *m, Object *vmi, GError **error);
int vmi_soft_reboot(Model *m, Object *vmi, GError **error);
int vmi_reset(Model *m, Object *vmi, GError **error);
/* A disk hotplugged into a running instance (virtctl addvolume): the
 * DataVolume or claim named name, as a volume and a disk of that name. */
typedef struct HotplugVolume {
        const char *name;
        const char *serial;             /* NULL: none */
        const char *bus;                /* NULL: scsi (the only one) */
} HotplugVolume;

/* The volume ({name, dataVolume|persistentVolumeClaim: {..., hotpluggable:
 * true}}) and disk a hotplug adds to a spec in namespace; errors name the
 * option that is wrong or the source that is missing. */
int vmi_hotplug_entries(Model *m, const char *namespace, const HotplugVolume *v, JsonObject **ret_volume,
                        JsonObject **ret_disk, GError **error);
/* Attach v to the running instance (its spec gains the volume and disk at
 * once, status.volumeStatus follows the attach; a failed attach takes them
 * out again), or take a hotpluggable volume out.  instance_only: not in
 * the VM's template (virtctl addvolume without --persist): the template
 * does not take it out again (annotation edgevirt.org/instance-hotplugs). */
int vmi_add_volume(Model *m, Object *vmi, const HotplugVolume *v, bool instance_only, GError **error);
int vmi_remove_volume(Model *m, Object *vmi, const char *name, GError **error);
/* A connected socket to the serial console / VNC server; the caller owns it. */
int vmi_open_console(Model *m, Object *vmi, GError **error);
int vmi_open_vnc(Model *m, Object *vmi, GError **error);
/* Where the serial console's (vnc false) or VNC server's socket is, or
 * would be, bound (QEMU listens there; OpenConsole/OpenVNC connect). */
char *vmi_socket_path(Model *m, Object *vmi, bool vnc);

/* The guest agent: connected (libvirt's agent events), and its last facts
 * in KubeVirt's guest agent info layout (hostname, os, timezone, userList,
 * fsInfo.disks), refreshed every 30 s; NULL before the first answer. */
bool vmi_agent_connected(Model *m, Object *vmi);
JsonObject *vmi_guest_info(Model *m, Object *vmi);
