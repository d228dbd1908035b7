/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Every stored object with a path is exported below
 * /org/edgevirt/EdgeVirt1/namespace with the generic
 * org.edgevirt.EdgeVirt1.Object interface, plus its kind's typed interface
 * when it has one; model changes become ObjectManager and
 * PropertiesChanged signals. */
#include "authz.h"
#include "bus-calls.h"
#include "bus.h"
#include "bus-util.h"
#include "json-util.h"
#include "log.h"
#include "object-path.h"
#include "snapshot.h"
#include "util.h"

/* The typed interface of each kind that has one: one line per kind. */
static const struct {
        const KindInfo *kind;
        const char *interface;
        const sd_bus_vtable *vtable;
} typed_interfaces[] = {
        { &kind_namespace, BUS_NAMESPACE_INTERFACE, bus_namespace_vtable },
        { &kind_pvc, BUS_PVC_INTERFACE, bus_pvc_vtable },
        { &kind_datavolume, BUS_DATAVOLUME_INTERFACE, bus_datavolume_vtable },
        { &kind_vm, BUS_VM_INTERFACE, bus_vm_vtable },
        { &kind_vmi, BUS_VMI_INTERFACE, bus_vmi_vtable },
        { &kind_vmsnapshot, BUS_VMSNAPSHOT_INTERFACE, bus_vmsnapshot_vtable },
        { &kind_vmexport, BUS_VMEXPORT_INTERFACE, bus_vmexport_vtable },
};

static const char *typed_interface_of(const KindInfo *kind) {
        for (size_t i = 0; i < G_N_ELEMENTS(typed_interfaces); i++)
                if (typed_interfaces[i].kind == kind)
                        return typed_interfaces[i].interface;
        return NULL;
}

/* The call an object lookup serves when it reads on the caller's behalf
 * (properties, introspection, the object manager); NULL when the daemon
 * looks for itself (signals emitted while handling another call) or for a
 * method of ours, which authorizes itself (authz.h). */
static sd_bus_message *lookup_caller(sd_bus *bus, const char *path) {
        sd_bus_message *m = sd_bus_get_current_message(bus);
        const char *iface = m && sd_bus_message_is_method_call(m, NULL, NULL) ? sd_bus_message_get_interface(m) : NULL;

        if (streq_ptr(iface, "org.freedesktop.DBus.Properties") ||
            streq_ptr(iface, "org.freedesktop.DBus.ObjectManager") ||
            streq_ptr(iface, "org.freedesktop.DBus.Introspectable"))
                return m;
        return NULL;
}

static int object_find(sd_bus *bus, const char *path, const char *interface, void *userdata, void **found,
                       sd_bus_error *error) {
        Daemon *d = userdata;
        Object *o = object_path_find(d->model, path);

        if (!o)
                return 0;
        if (!streq(interface, BUS_OBJECT_INTERFACE) && !streq_ptr(interface, typed_interface_of(o->kind)))
                return 0;
        /* objects of namespaces where the caller has no role are not there for them */
        if (!authz_can_see(d->authz, lookup_caller(bus, path), o->kind, o->namespace, o->name))
                return 0;
        *found = o;
        return 1;
}

static int node_enumerator(sd_bus *bus, const char *path, void *userdata, char ***nodes, sd_bus_error *error) {
        Daemon *d = userdata;
        g_autoptr(GPtrArray) objects = model_list(d->model, NULL, NULL, NULL);
        sd_bus_message *m = lookup_caller(bus, path);
        char **l = calloc(objects->len + 1, sizeof(char *));
        size_t n = 0;

        if (!l)
                return -ENOMEM;
        for (guint i = 0; i < objects->len; i++) {
                Object *o = objects->pdata[i];
                if (!o->kind->path_segment)
                        continue;
                g_autofree char *p = object_path_of(o);
                if (g_str_has_prefix(p, path) && p[strlen(path)] == '/' &&
                    authz_can_see(d->authz, m, o->kind, o->namespace, o->name))
                        l[n++] = strdup(p);
        }
        *nodes = l;
        return 1;
}

int bus_property_get_labels(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return bus_append_string_map(reply, json_get_object(object_metadata(userdata), "labels"));
}

static int property_get_annotations(sd_bus *bus, const char *path, const char *interface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return bus_append_string_map(reply, json_get_object(object_metadata(userdata), "annotations"));
}

static int property_get_uid(sd_bus *bus, const char *path, const char *interface, const char *property,
                            sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return bus_append_string(reply, object_meta_string(userdata, "uid"));
}

static int property_get_creation_timestamp(sd_bus *bus, const char *path, const char *interface, const char *property,
                                           sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return bus_append_string(reply, object_meta_string(userdata, "creationTimestamp"));
}

static int property_get_resource_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                         sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return bus_append_string(reply, object_meta_string(userdata, "resourceVersion"));
}

static int property_get_deletion_timestamp(sd_bus *bus, const char *path, const char *interface, const char *property,
                                           sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return bus_append_string(reply, object_meta_string(userdata, "deletionTimestamp"));
}

static int property_get_kind(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        return sd_bus_message_append(reply, "s", o->kind->kind);
}

static int property_get_namespace(sd_bus *bus, const char *path, const char *interface, const char *property,
                                  sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        return sd_bus_message_append(reply, "s", o->namespace);
}

static int property_get_name(sd_bus *bus, const char *path, const char *interface, const char *property,
                             sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        return sd_bus_message_append(reply, "s", o->name);
}

static int property_get_api_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        g_autofree char *av = kind_api_version(o->kind);
        return sd_bus_message_append(reply, "s", av);
}

static int property_get_generation(sd_bus *bus, const char *path, const char *interface, const char *property,
                                   sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        return sd_bus_message_append(reply, "x", json_get_int(object_metadata(o), "generation", 0));
}

static int property_get_owners(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        JsonArray *owners = json_get_array(object_metadata(o), "ownerReferences");
        int r;

        r = sd_bus_message_open_container(reply, 'a', "(ssss)");
        if (r < 0)
                return r;
        for (guint i = 0; owners && i < json_array_get_length(owners); i++) {
                JsonObject *ref = json_array_get_object_element(owners, i);
                r = sd_bus_message_append(reply, "(ssss)", json_get_string(ref, "apiVersion") ?: "",
                                          json_get_string(ref, "kind") ?: "", json_get_string(ref, "name") ?: "",
                                          json_get_string(ref, "uid") ?: "");
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static const sd_bus_vtable object_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("ApiVersion", "s", property_get_api_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Kind", "s", property_get_kind, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Namespace", "s", property_get_namespace, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Name", "s", property_get_name, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Uid", "s", property_get_uid, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("CreationTimestamp", "s", property_get_creation_timestamp, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ResourceVersion", "s", property_get_resource_version, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Generation", "x", property_get_generation, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("DeletionTimestamp", "s", property_get_deletion_timestamp, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Labels", "a{ss}", bus_property_get_labels, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Annotations", "a{ss}", property_get_annotations, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("OwnerReferences", "a(ssss)", property_get_owners, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_VTABLE_END
};

size_t bus_object_interfaces(const KindInfo *kind, const char *ifaces[2], const sd_bus_vtable *vtables[2]) {
        size_t n = 0;

        ifaces[n] = BUS_OBJECT_INTERFACE;
        vtables[n++] = object_vtable;
        for (size_t i = 0; i < G_N_ELEMENTS(typed_interfaces); i++)
                if (typed_interfaces[i].kind == kind) {
                        ifaces[n] = typed_interfaces[i].interface;
                        vtables[n++] = typed_interfaces[i].vtable;
                }
        return n;
}

int bus_append_object_interfaces(sd_bus_message *m, Object *o, const char *path) {
        static const char *const standard[] = { "org.freedesktop.DBus.Peer", "org.freedesktop.DBus.Introspectable",
                                                 "org.freedesktop.DBus.Properties" };
        const char *ifaces[2];
        const sd_bus_vtable *vtables[2];
        size_t n = bus_object_interfaces(o->kind, ifaces, vtables);
        int r;

        if ((r = sd_bus_message_open_container(m, 'a', "{sa{sv}}")) < 0)
                return r;
        for (size_t i = 0; i < G_N_ELEMENTS(standard); i++)
                if ((r = sd_bus_message_append(m, "{sa{sv}}", standard[i], 0)) < 0)
                        return r;
        for (size_t i = 0; i < n; i++) {
                if ((r = sd_bus_message_open_container(m, 'e', "sa{sv}")) < 0 ||
                    (r = sd_bus_message_append(m, "s", ifaces[i])) < 0 ||
                    (r = sd_bus_message_open_container(m, 'a', "{sv}")) < 0)
                        return r;
                for (const sd_bus_vtable *v = vtables[i]; v->type != _SD_BUS_VTABLE_END; v++) {
                        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                        bool property = v->type == _SD_BUS_VTABLE_PROPERTY ||
                                        v->type == _SD_BUS_VTABLE_WRITABLE_PROPERTY;
                        if (!property || !v->x.property.get)
                                continue;
                        if ((r = sd_bus_message_open_container(m, 'e', "sv")) < 0 ||
                            (r = sd_bus_message_append(m, "s", v->x.property.member)) < 0 ||
                            (r = sd_bus_message_open_container(m, 'v', v->x.property.signature)) < 0 ||
                            (r = v->x.property.get(sd_bus_message_get_bus(m), path, ifaces[i], v->x.property.member,
                                                   m, (uint8_t *) o + v->x.property.offset, &e)) < 0 ||
                            (r = sd_bus_message_close_container(m)) < 0 || (r = sd_bus_message_close_container(m)) < 0)
                                return r;
                }
                if ((r = sd_bus_message_close_container(m)) < 0 || (r = sd_bus_message_close_container(m)) < 0)
                        return r;
        }
        return sd_bus_message_close_container(m);
}

/* --- the Events' object managers ---
 * Each namespace's Events have an ObjectManager of their own at
 * BUS_NAMESPACE_PREFIX/<namespace>/event (object_path_events): Events are
 * records of what happened, many and short-lived, and the ObjectManager at
 * the root lists the objects a client keeps in step with (a 1000-VM box
 * has as many Events again; docs/dbus-api.md).  No sd-bus object manager
 * is registered there: that would make the namespace's path a node of
 * sd-bus' tree, which shows it in introspection to callers who may not
 * see the namespace, introspects it without the fallbacks above it, and
 * dispatches a call that expects no reply to a second fallback.  Instead
 * the reply guard answers GetManagedObjects there (reply-size.c) and the
 * Events' InterfacesAdded and InterfacesRemoved are sent from that path by
 * on_model_event (emit_event_signal). */

bool bus_events_manager_visible(Daemon *d, sd_bus_message *call, const char *namespace) {
        Object *ns;

        return model_get(d->model, &kind_namespace, "", namespace, &ns, NULL) >= 0 &&
               authz_can_see(d->authz, call, &kind_namespace, "", namespace);
}

static int emit_event_signal(Daemon *d, Object *o, const char *path, char **removed) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        g_autofree char *manager = object_path_events(o->namespace);
        int r;

        r = sd_bus_message_new_signal(d->bus, &m, manager, "org.freedesktop.DBus.ObjectManager",
                                      removed ? "InterfacesRemoved" : "InterfacesAdded");
        if (r >= 0)
                r = sd_bus_message_append(m, "o", path);
        if (r >= 0)
                r = removed ? sd_bus_message_append_strv(m, removed) : bus_append_object_interfaces(m, o, path);
        if (r >= 0)
                r = sd_bus_send(d->bus, m, NULL);
        return r;
}

static void on_model_event(Model *m, Object *o, ModelEvent event, void *userdata) {
        Daemon *d = userdata;
        const char *typed = typed_interface_of(o->kind);
        char *ifaces[] = { (char *) BUS_OBJECT_INTERFACE, (char *) typed, NULL };
        g_autofree char *path = NULL;
        char *all_ifaces[] = { (char *) "org.freedesktop.DBus.Peer", (char *) "org.freedesktop.DBus.Introspectable",
                               (char *) "org.freedesktop.DBus.Properties", (char *) BUS_OBJECT_INTERFACE,
                               (char *) typed, NULL };
        int r = 0;

        bus_managed_objects_forget(d, o);
        if (o->kind->namespaced && !o->kind->path_segment)
                return;
        /* InterfacesAdded and InterfacesRemoved name what GetManagedObjects
         * lists for the object, the standard interfaces included: a client
         * takes an object as gone when all it knew of are removed (GIO's
         * GDBusObjectManagerClient does). */
        path = object_path_of(o);
        switch (event) {
        case MODEL_EVENT_ADDED:
                r = o->kind == &kind_event ? emit_event_signal(d, o, path, NULL)
                                           : sd_bus_emit_object_added(d->bus, path);
                break;
        case MODEL_EVENT_REMOVED:
                r = o->kind == &kind_event ? emit_event_signal(d, o, path, all_ifaces)
                                           : sd_bus_emit_interfaces_removed_strv(d->bus, path, all_ifaces);
                break;
        case MODEL_EVENT_CHANGED:
                for (char **i = ifaces; *i && r >= 0; i++)
                        r = sd_bus_emit_properties_changed_strv(d->bus, path, *i, NULL);
                break;
        }
        if (r < 0)
                log_object(G_LOG_LEVEL_WARNING, o, "cannot emit its signal: %s", g_strerror(-r));
}

/* Object paths hang below one prefix per cluster-scoped kind:
 * .../namespace (namespaces, and every namespaced object below them),
 * .../storageclass, ... */
static int register_prefix(Daemon *d, const char *prefix) {
        int r;

        r = bus_calls_add_fallback_vtable(d, prefix, BUS_OBJECT_INTERFACE, object_vtable, object_find);
        if (r < 0)
                return r;
        for (size_t i = 0; i < G_N_ELEMENTS(typed_interfaces); i++) {
                r = bus_calls_add_fallback_vtable(d, prefix, typed_interfaces[i].interface, typed_interfaces[i].vtable,
                                                  object_find);
                if (r < 0)
                        return r;
        }
        return sd_bus_add_node_enumerator(d->bus, NULL, prefix, node_enumerator, d);
}

int bus_objects_register(Daemon *d) {
        int r;

        for (const KindInfo *const *k = kind_all(); *k; k++) {
                if ((*k)->namespaced || !(*k)->path_segment || (*k)->stored_as)
                        continue;
                g_autofree char *prefix = g_strdup_printf(BUS_OBJECT_ROOT "/%s", (*k)->path_segment);
                r = register_prefix(d, prefix);
                if (r < 0)
                        return r;
        }
        model_set_observer(d->model, on_model_event, d);
        return 0;
}

int bus_export(Daemon *d) {
        int r;

        r = sd_bus_add_object_manager(d->bus, NULL, BUS_MANAGER_PATH);
        if (r < 0)
                return r;
        r = bus_manager_register(d);
        if (r < 0)
                return r;
        return bus_objects_register(d);
}
