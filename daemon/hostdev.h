/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "domain.h"
#include "model.h"

/* Host devices a VM may be given (docs/configuration.md, [HostDevice
 * NAME]): the single-node counterpart of KubeVirt's permittedHostDevices.
 * VMs ask for one by its NAME in devices.hostDevices[].deviceName or
 * devices.gpus[].deviceName. */
typedef struct HostDeviceConfig {
        char *name;                     /* the resource name, e.g. "kubevirt.io/usb-storage" */
        DomainHostDeviceType type;
        unsigned vendor;                /* Vendor= */
        unsigned product;               /* Product= (USB) or Device= (PCI) */
        int bus, port;                  /* USB Bus=, Port= (the hub port, sysfs "BUS-PORT"); -1: any */
        char *address;                  /* PCI Address= ("0000:00:1f.2"), NULL: the first device that matches */
} HostDeviceConfig;

void host_device_config_free(HostDeviceConfig *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HostDeviceConfig, host_device_config_free)

/* The section [HostDevice NAME] of kf (group) into out; errors name the
 * file, the section and the key. */
int hostdev_config_load(GKeyFile *kf, const char *path, const char *group, GPtrArray *out, GError **error);

/* The permitted device called name, or NULL. */
const HostDeviceConfig *hostdev_find(GPtrArray *permitted, const char *name);
/* "a, b" (the names, for messages), or "none are configured". */
char *hostdev_names(GPtrArray *permitted);

/* Admission: every devices.hostDevices[] and devices.gpus[] names a
 * permitted device (the error lists them), at most once per VM. */
int hostdev_admit(JsonObject *devices, GPtrArray *permitted, const char *path, GError **error);

/* hostdev_admit for a VMI spec (also a VM's template spec, at path) with
 * the devices the daemon of m permits. */
int hostdev_admit_spec(Model *m, JsonObject *vmi_spec, const char *path, GError **error);

/* The resource names a VMI spec asks for (borrowed strings, in order). */
GPtrArray *hostdev_requested(JsonObject *vmi_spec);

/* What libvirt needs for d, found under sysfs (the host's /sys; tests give
 * another root): a PCI device's address by vendor/device (or Address=
 * checked), a pinned USB device's bus and device number.  -ENODEV with a
 * message naming the device when it is not there. */
int hostdev_resolve(const HostDeviceConfig *d, const char *sysfs, DomainHostDevice *ret, GError **error);
