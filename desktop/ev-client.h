/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The D-Bus client layer of edgevirt-desktop: the bus connection, the
 * object manager (every object and its properties, followed through
 * InterfacesAdded/Removed and PropertiesChanged), calls that allow
 * interactive authorization, and the names of the interfaces. */
#pragma once

#include <gio/gio.h>
#include <gio/gunixfdlist.h>

G_BEGIN_DECLS

#define EV_BUS_NAME "org.edgevirt.EdgeVirt1"
#define EV_ROOT_PATH "/org/edgevirt/EdgeVirt1"
#define EV_IFACE_MANAGER "org.edgevirt.EdgeVirt1.Manager"
#define EV_IFACE_OBJECT "org.edgevirt.EdgeVirt1.Object"
#define EV_IFACE_NAMESPACE "org.edgevirt.EdgeVirt1.Namespace"
#define EV_IFACE_VM "org.edgevirt.EdgeVirt1.VirtualMachine"
#define EV_IFACE_VMI "org.edgevirt.EdgeVirt1.VirtualMachineInstance"
#define EV_IFACE_DV "org.edgevirt.EdgeVirt1.DataVolume"
#define EV_IFACE_PVC "org.edgevirt.EdgeVirt1.PersistentVolumeClaim"
#define EV_IFACE_SNAPSHOT "org.edgevirt.EdgeVirt1.VirtualMachineSnapshot"

typedef enum {
        EV_CLIENT_CONNECTING,   /* the bus or the object manager on the way */
        EV_CLIENT_NO_BUS,       /* the bus cannot be reached (see error) */
        EV_CLIENT_NO_SERVICE,   /* the bus is there, edgevirtd is not */
        EV_CLIENT_READY,        /* edgevirtd owns its name: objects are live */
} EvClientState;

#define EV_TYPE_CLIENT (ev_client_get_type())
G_DECLARE_FINAL_TYPE(EvClient, ev_client, EV, CLIENT, GObject)

/* bus: "system", "session" or a D-Bus address; connecting starts at once
 * and the "state" property follows it. */
EvClient *ev_client_new(const char *bus);
EvClientState ev_client_get_state(EvClient *c);
const char *ev_client_get_bus(EvClient *c);
/* why the bus cannot be reached, for EV_CLIENT_NO_BUS */
const char *ev_client_get_error(EvClient *c);
/* NULL unless connected; objects are there while READY */
GDBusObjectManager *ev_client_get_manager(EvClient *c);
GDBusConnection *ev_client_get_connection(EvClient *c);

/* A method call with interactive authorization allowed (polkit's agent
 * asks when it must); fds may be NULL. */
void ev_client_call(EvClient *c, const char *path, const char *iface, const char *method, GVariant *params,
                    GUnixFDList *fds, GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
GVariant *ev_client_call_finish(EvClient *c, GAsyncResult *res, GUnixFDList **out_fds, GError **error);
/* Manager.Apply(document, {}) */
void ev_client_apply(EvClient *c, const char *document, gboolean dry_run, GCancellable *cancellable,
                     GAsyncReadyCallback callback, gpointer user_data);

/* The message of an error as a user should read it (the D-Bus error
 * name stripped; an invisible object said as such). */
char *ev_error_text(const GError *error);
/* TRUE for errors a user caused by a decision (authorization refused) */
gboolean ev_error_is_denied(const GError *error);

/* sd_bus_path_encode's escaping: .../namespace/<ns>/<segment>/<name> */
char *ev_object_path(const char *ns, const char *segment, const char *name);

/* What a path names: its namespace, the kind's segment ("vm", "pvc"...;
 * NULL for the namespace itself) and name, decoded; FALSE for paths
 * outside namespaces.  An object removed has lost its interfaces (and
 * their properties) by the time the object manager says so: its path
 * still says what it was. */
gboolean ev_path_parse(const char *path, char **ns, char **segment, char **name);

/* Cached properties of an object's interface; NULL/FALSE/def when absent. */
GDBusProxy *ev_object_proxy(GDBusObject *object, const char *iface);
char *ev_prop_string(GDBusObject *object, const char *iface, const char *name);
gboolean ev_prop_bool(GDBusObject *object, const char *iface, const char *name);
double ev_prop_double(GDBusObject *object, const char *iface, const char *name, double def);
GVariant *ev_prop(GDBusObject *object, const char *iface, const char *name);
/* The object path segment of a namespaced kind ("VirtualMachine": "vm"), or NULL. */
const char *ev_segment_of_kind(const char *kind);
/* the Object interface's Kind, Namespace, Name (borrowed from the cache) */
const char *ev_object_kind(GDBusObject *object);
const char *ev_object_namespace(GDBusObject *object);
const char *ev_object_name(GDBusObject *object);
/* the object of kind segment ("vm", "vmi", ...) in ns, or NULL */
GDBusObject *ev_client_lookup(EvClient *c, const char *ns, const char *segment, const char *name);

G_END_DECLS
