/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "daemon.h"

#define BUS_NAME "org.edgevirt.EdgeVirt1"
#define BUS_MANAGER_PATH "/org/edgevirt/EdgeVirt1"
#define BUS_MANAGER_INTERFACE "org.edgevirt.EdgeVirt1.Manager"
#define BUS_OBJECT_INTERFACE "org.edgevirt.EdgeVirt1.Object"
#define BUS_NAMESPACE_INTERFACE "org.edgevirt.EdgeVirt1.Namespace"
#define BUS_PVC_INTERFACE "org.edgevirt.EdgeVirt1.PersistentVolumeClaim"
#define BUS_DATAVOLUME_INTERFACE "org.edgevirt.EdgeVirt1.DataVolume"
#define BUS_VM_INTERFACE "org.edgevirt.EdgeVirt1.VirtualMachine"
#define BUS_VMI_INTERFACE "org.edgevirt.EdgeVirt1.VirtualMachineInstance"

/* Export the manager and every object, and follow model changes with
 * InterfacesAdded/InterfacesRemoved/PropertiesChanged. */
int bus_export(Daemon *d);
/* Per-caller token buckets for method calls (0 calls a second: off). */
int bus_rate_limit_install(sd_bus *bus, unsigned per_second, unsigned burst);

int bus_manager_register(Daemon *d);
int bus_objects_register(Daemon *d);

extern const sd_bus_vtable bus_namespace_vtable[];
extern const sd_bus_vtable bus_pvc_vtable[];
extern const sd_bus_vtable bus_datavolume_vtable[];
extern const sd_bus_vtable bus_vm_vtable[];
extern const sd_bus_vtable bus_vmi_vtable[];

/* Property getters every object interface shares (userdata: Object). */
int bus_property_get_labels(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error);
