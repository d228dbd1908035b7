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
#define BUS_VMSNAPSHOT_INTERFACE "org.edgevirt.EdgeVirt1.VirtualMachineSnapshot"
#define BUS_VMEXPORT_INTERFACE "org.edgevirt.EdgeVirt1.VirtualMachineExport"

/* Export the manager and every object, and follow model changes with
 * InterfacesAdded/InterfacesRemoved/PropertiesChanged. */
int bus_export(Daemon *d);
/* Per-caller token buckets for method calls, in d->ratelimit (0 calls a
 * second: off, and NULL). */
int bus_rate_limit_install(Daemon *d, unsigned per_second, unsigned burst);
/* Charge the caller of m for a reply of that many bytes (rl NULL: off). */
void bus_rate_limit_charge(RateLimit *rl, sd_bus_message *m, size_t bytes);

/* Replies that must fit in one bus message (dbus/reply-size.c).  The
 * longest text a one-string reply may carry. */
size_t bus_reply_max_text(Daemon *d);
/* Reply with text, or refuse (ReplyTooLarge, naming what) when it would
 * not fit; either way the caller is charged for the bytes. */
int bus_reply_text(Daemon *d, sd_bus_message *m, const char *text, const char *what, sd_bus_error *error);
/* Refuse GetManagedObjects and Introspect calls whose replies would not
 * fit (a filter; install it before the rate limit's and authz's). */
int bus_reply_guard_install(Daemon *d);

/* GetManagedObjects from entries kept per object (dbus/managed-objects.c). */
ManagedObjects *bus_managed_objects_new(void);
ManagedObjects *bus_managed_objects_free(ManagedObjects *mo);
/* The objects of the reply to call: those with a path the caller sees, of
 * the manager at the root (every object but the Events) or of the one of
 * events_of's Events. */
GPtrArray *bus_managed_objects_list(Daemon *d, sd_bus_message *call, const char *events_of);
/* The reply's body size, listing objects; their entries are kept. */
int bus_managed_objects_size(Daemon *d, sd_bus_message *call, GPtrArray *objects, size_t *ret);
/* Send the reply to call, listing objects. */
int bus_managed_objects_reply(Daemon *d, sd_bus_message *call, GPtrArray *objects);
/* o changed or went: its entry, and its owners' (whose properties may
 * show it), are written again when next asked for. */
void bus_managed_objects_forget(Daemon *d, Object *o);

int bus_manager_register(Daemon *d);
int bus_objects_register(Daemon *d);

extern const sd_bus_vtable bus_namespace_vtable[];
extern const sd_bus_vtable bus_pvc_vtable[];
extern const sd_bus_vtable bus_datavolume_vtable[];
extern const sd_bus_vtable bus_vm_vtable[];
extern const sd_bus_vtable bus_vmi_vtable[];
extern const sd_bus_vtable bus_vmsnapshot_vtable[];
extern const sd_bus_vtable bus_vmexport_vtable[];

/* The interfaces (at most 2) an object of kind is exported with, and
 * their vtables; returns how many. */
size_t bus_object_interfaces(const KindInfo *kind, const char *ifaces[2], const sd_bus_vtable *vtables[2]);
/* o's interfaces and their properties, as GetManagedObjects and
 * InterfacesAdded give them ("a{sa{sv}}"): the standard interfaces (empty),
 * then ours with every property.  path: o's. */
int bus_append_object_interfaces(sd_bus_message *m, Object *o, const char *path);
/* Whether the ObjectManager of namespace's Events (object_path_events) is
 * there for the caller of call: the namespace exists and the caller sees it. */
bool bus_events_manager_visible(Daemon *d, sd_bus_message *call, const char *namespace);

/* Property getters every object interface shares (userdata: Object). */
int bus_property_get_labels(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error);
