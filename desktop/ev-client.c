/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "ev-client.h"

#define CALL_TIMEOUT_MSEC (5 * 60 * 1000)     /* a person may be typing a password for polkit */
#define RECONNECT_SECONDS 2                     /* while there is no bus: try again */

struct _EvClient {
        GObject parent;
        char *bus;
        char *error;
        EvClientState state;
        GDBusConnection *connection;
        GDBusObjectManager *manager;
        GCancellable *cancellable;
        guint reconnect;                /* the timeout that connects again */
};

G_DEFINE_TYPE(EvClient, ev_client, G_TYPE_OBJECT)

enum { PROP_0, PROP_STATE, N_PROPS };
static GParamSpec *props[N_PROPS];

static void set_state(EvClient *c, EvClientState state, const char *error) {
        if (c->state == state && g_strcmp0(c->error, error) == 0)
                return;
        c->state = state;
        g_free(c->error);
        c->error = g_strdup(error);
        g_object_notify_by_pspec(G_OBJECT(c), props[PROP_STATE]);
}

static void connect_bus(EvClient *c);

static gboolean on_reconnect(gpointer user_data) {
        EvClient *c = user_data;

        c->reconnect = 0;
        connect_bus(c);
        return G_SOURCE_REMOVE;
}

/* No bus (not there yet, or gone: a private bus restarted, the system
 * bus going down and up): the window says so, and we try again. */
static void no_bus(EvClient *c, const char *why) {
        set_state(c, EV_CLIENT_NO_BUS, why);
        if (!c->reconnect)
                c->reconnect = g_timeout_add_seconds(RECONNECT_SECONDS, on_reconnect, c);
}

static void on_name_owner(GObject *manager, GParamSpec *pspec, gpointer user_data) {
        EvClient *c = user_data;
        g_autofree char *owner = g_dbus_object_manager_client_get_name_owner(G_DBUS_OBJECT_MANAGER_CLIENT(manager));
        set_state(c, owner ? EV_CLIENT_READY : EV_CLIENT_NO_SERVICE, NULL);
}

static void on_closed(GDBusConnection *connection, gboolean remote_peer_vanished, GError *error, gpointer user_data) {
        EvClient *c = user_data;
        g_autofree char *msg = g_strdup_printf(_("The connection to the bus was closed: %s"),
                                               error ? error->message : _("the bus went away"));
        if (connection != c->connection)
                return;
        g_clear_object(&c->manager);
        g_clear_object(&c->connection);
        no_bus(c, msg);
}

static void on_manager(GObject *source, GAsyncResult *res, gpointer user_data) {
        g_autoptr(EvClient) c = user_data;
        g_autoptr(GError) e = NULL;
        GDBusObjectManager *m = g_dbus_object_manager_client_new_finish(res, &e);

        if (!m) {
                if (!g_error_matches(e, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
                        g_clear_object(&c->connection);
                        no_bus(c, e->message);
                }
                return;
        }
        c->manager = m;
        g_signal_connect_object(m, "notify::name-owner", G_CALLBACK(on_name_owner), c, 0);
        on_name_owner(G_OBJECT(m), NULL, c);
}

static void on_connection(GObject *source, GAsyncResult *res, gpointer user_data) {
        g_autoptr(EvClient) c = user_data;
        g_autoptr(GError) e = NULL;
        GDBusConnection *conn;

        if (g_str_equal(c->bus, "system") || g_str_equal(c->bus, "session"))
                conn = g_bus_get_finish(res, &e);
        else
                conn = g_dbus_connection_new_for_address_finish(res, &e);
        if (!conn) {
                if (!g_error_matches(e, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
                        g_autofree char *msg = g_strdup_printf(_("Cannot connect to the %s bus: %s"), c->bus,
                                                               e->message);
                        no_bus(c, msg);
                }
                return;
        }
        c->connection = conn;
        g_dbus_connection_set_exit_on_close(conn, FALSE);
        g_signal_connect_object(conn, "closed", G_CALLBACK(on_closed), c, 0);
        g_dbus_object_manager_client_new(conn, G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_DO_NOT_AUTO_START, EV_BUS_NAME,
                                         EV_ROOT_PATH, NULL, NULL, NULL, c->cancellable, on_manager,
                                         g_object_ref(c));
}

static void connect_bus(EvClient *c) {
        if (g_str_equal(c->bus, "system") || g_str_equal(c->bus, "session"))
                g_bus_get(g_str_equal(c->bus, "system") ? G_BUS_TYPE_SYSTEM : G_BUS_TYPE_SESSION, c->cancellable,
                          on_connection, g_object_ref(c));
        else
                g_dbus_connection_new_for_address(c->bus,
                                                  G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
                                                  G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
                                                  NULL, c->cancellable, on_connection, g_object_ref(c));
}

EvClient *ev_client_new(const char *bus) {
        EvClient *c = g_object_new(EV_TYPE_CLIENT, NULL);

        c->bus = g_strdup(bus && *bus ? bus : "system");
        connect_bus(c);
        return c;
}

static void ev_client_dispose(GObject *object) {
        EvClient *c = EV_CLIENT(object);

        g_cancellable_cancel(c->cancellable);
        g_clear_handle_id(&c->reconnect, g_source_remove);
        g_clear_object(&c->manager);
        g_clear_object(&c->connection);
        G_OBJECT_CLASS(ev_client_parent_class)->dispose(object);
}

static void ev_client_finalize(GObject *object) {
        EvClient *c = EV_CLIENT(object);

        g_clear_object(&c->cancellable);
        g_free(c->bus);
        g_free(c->error);
        G_OBJECT_CLASS(ev_client_parent_class)->finalize(object);
}

static void ev_client_get_property(GObject *object, guint id, GValue *value, GParamSpec *pspec) {
        if (id == PROP_STATE)
                g_value_set_int(value, EV_CLIENT(object)->state);
        else
                G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
}

static void ev_client_class_init(EvClientClass *klass) {
        GObjectClass *oc = G_OBJECT_CLASS(klass);

        oc->dispose = ev_client_dispose;
        oc->finalize = ev_client_finalize;
        oc->get_property = ev_client_get_property;
        props[PROP_STATE] = g_param_spec_int("state", NULL, NULL, EV_CLIENT_CONNECTING, EV_CLIENT_READY,
                                             EV_CLIENT_CONNECTING, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
        g_object_class_install_properties(oc, N_PROPS, props);
}

static void ev_client_init(EvClient *c) {
        c->cancellable = g_cancellable_new();
}

EvClientState ev_client_get_state(EvClient *c) {
        return c->state;
}

const char *ev_client_get_bus(EvClient *c) {
        return c->bus;
}

const char *ev_client_get_error(EvClient *c) {
        return c->error;
}

GDBusObjectManager *ev_client_get_manager(EvClient *c) {
        return c->manager;
}

GDBusConnection *ev_client_get_connection(EvClient *c) {
        return c->connection;
}

static void on_call_done(GObject *source, GAsyncResult *res, gpointer user_data) {
        g_autoptr(GTask) task = user_data;
        g_autoptr(GUnixFDList) fds = NULL;
        GError *e = NULL;
        GVariant *reply = g_dbus_connection_call_with_unix_fd_list_finish(G_DBUS_CONNECTION(source), &fds, res, &e);

        if (!reply) {
                g_task_return_error(task, e);
                return;
        }
        if (fds)
                g_task_set_task_data(task, g_steal_pointer(&fds), g_object_unref);
        g_task_return_pointer(task, reply, (GDestroyNotify) g_variant_unref);
}

void ev_client_call(EvClient *c, const char *path, const char *iface, const char *method, GVariant *params,
                    GUnixFDList *fds, GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data) {
        GTask *task = g_task_new(c, cancellable, callback, user_data);

        if (!c->connection) {
                if (params)
                        g_variant_unref(g_variant_ref_sink(params));
                g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                                        _("Not connected to the edgevirt service"));
                g_object_unref(task);
                return;
        }
        g_dbus_connection_call_with_unix_fd_list(c->connection, EV_BUS_NAME, path, iface, method, params, NULL,
                                                 G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION |
                                                 G_DBUS_CALL_FLAGS_NO_AUTO_START,
                                                 CALL_TIMEOUT_MSEC, fds, cancellable, on_call_done, task);
}

GVariant *ev_client_call_finish(EvClient *c, GAsyncResult *res, GUnixFDList **out_fds, GError **error) {
        GTask *task = G_TASK(res);

        if (out_fds)
                *out_fds = g_task_get_task_data(task) ? g_object_ref(g_task_get_task_data(task)) : NULL;
        return g_task_propagate_pointer(task, error);
}

void ev_client_apply(EvClient *c, const char *document, gboolean dry_run, GCancellable *cancellable,
                     GAsyncReadyCallback callback, gpointer user_data) {
        GVariantBuilder opts;

        g_variant_builder_init(&opts, G_VARIANT_TYPE_VARDICT);
        if (dry_run)
                g_variant_builder_add(&opts, "{sv}", "dry-run", g_variant_new_boolean(TRUE));
        ev_client_call(c, EV_ROOT_PATH, EV_IFACE_MANAGER, "Apply", g_variant_new("(sa{sv})", document, &opts), NULL,
                       cancellable, callback, user_data);
}

char *ev_error_text(const GError *error) {
        g_autofree char *name = g_dbus_error_get_remote_error(error);
        g_autoptr(GError) copy = g_error_copy(error);

        if (g_strcmp0(name, "org.freedesktop.DBus.Error.UnknownObject") == 0 ||
            g_strcmp0(name, "org.freedesktop.DBus.Error.UnknownMethod") == 0)
                return g_strdup(_("It is gone, or you may not see it"));
        if (g_strcmp0(name, "org.freedesktop.DBus.Error.ServiceUnknown") == 0 ||
            g_strcmp0(name, "org.freedesktop.DBus.Error.NameHasNoOwner") == 0)
                return g_strdup(_("The edgevirt service is not running"));
        g_dbus_error_strip_remote_error(copy);
        if (ev_error_is_denied(error))
                /* TRANSLATORS: %s is the service's reason, naming the polkit action */
                return g_strdup_printf(_("Not allowed: %s"), copy->message);
        return g_strdup(copy->message);
}

gboolean ev_error_is_denied(const GError *error) {
        g_autofree char *name = g_dbus_error_get_remote_error(error);

        return g_strcmp0(name, "org.edgevirt.EdgeVirt1.Error.AccessDenied") == 0 ||
               g_strcmp0(name, "org.freedesktop.DBus.Error.AccessDenied") == 0 ||
               g_strcmp0(name, "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired") == 0;
}

/* As sd_bus_path_encode: "" is "_", and every byte but a letter, or a
 * digit after the first byte, is _xx. */
static void append_encoded(GString *s, const char *segment) {
        if (!*segment) {
                g_string_append_c(s, '_');
                return;
        }
        for (const char *p = segment; *p; p++)
                if (g_ascii_isalpha(*p) || (p > segment && g_ascii_isdigit(*p)))
                        g_string_append_c(s, *p);
                else
                        g_string_append_printf(s, "_%02x", (unsigned char) *p);
}

char *ev_object_path(const char *ns, const char *segment, const char *name) {
        GString *s = g_string_new(EV_ROOT_PATH "/namespace/");

        append_encoded(s, ns);
        if (segment) {
                g_string_append_printf(s, "/%s/", segment);
                append_encoded(s, name);
        }
        return g_string_free(s, FALSE);
}

static char *decode_segment(const char *s, size_t n) {
        GString *out = g_string_new(NULL);

        if (n == 1 && s[0] == '_')
                return g_string_free(out, FALSE);       /* "" */
        for (size_t i = 0; i < n; i++) {
                int hi, lo;
                if (s[i] == '_' && i + 2 < n && (hi = g_ascii_xdigit_value(s[i + 1])) >= 0 &&
                    (lo = g_ascii_xdigit_value(s[i + 2])) >= 0) {
                        g_string_append_c(out, (char) (hi << 4 | lo));
                        i += 2;
                } else {
                        g_string_append_c(out, s[i]);
                }
        }
        return g_string_free(out, FALSE);
}

gboolean ev_path_parse(const char *path, char **ns, char **segment, char **name) {
        const char *prefix = EV_ROOT_PATH "/namespace/", *p, *slash, *slash2;

        *ns = *segment = *name = NULL;
        if (!g_str_has_prefix(path, prefix))
                return FALSE;
        p = path + strlen(prefix);
        slash = strchr(p, '/');
        *ns = decode_segment(p, slash ? (size_t) (slash - p) : strlen(p));
        if (!slash)
                return TRUE;            /* the namespace itself */
        slash2 = strchr(slash + 1, '/');
        if (!slash2 || strchr(slash2 + 1, '/')) {
                g_clear_pointer(ns, g_free);
                return FALSE;
        }
        *segment = g_strndup(slash + 1, slash2 - slash - 1);
        *name = decode_segment(slash2 + 1, strlen(slash2 + 1));
        return TRUE;
}

GDBusProxy *ev_object_proxy(GDBusObject *object, const char *iface) {
        GDBusInterface *i = object ? g_dbus_object_get_interface(object, iface) : NULL;

        return i ? G_DBUS_PROXY(i) : NULL;      /* a new reference */
}

GVariant *ev_prop(GDBusObject *object, const char *iface, const char *name) {
        g_autoptr(GDBusProxy) p = ev_object_proxy(object, iface);

        return p ? g_dbus_proxy_get_cached_property(p, name) : NULL;
}

char *ev_prop_string(GDBusObject *object, const char *iface, const char *name) {
        g_autoptr(GVariant) v = ev_prop(object, iface, name);

        return v && g_variant_is_of_type(v, G_VARIANT_TYPE_STRING) ? g_variant_dup_string(v, NULL) : NULL;
}

gboolean ev_prop_bool(GDBusObject *object, const char *iface, const char *name) {
        g_autoptr(GVariant) v = ev_prop(object, iface, name);

        return v && g_variant_is_of_type(v, G_VARIANT_TYPE_BOOLEAN) && g_variant_get_boolean(v);
}

double ev_prop_double(GDBusObject *object, const char *iface, const char *name, double def) {
        g_autoptr(GVariant) v = ev_prop(object, iface, name);

        return v && g_variant_is_of_type(v, G_VARIANT_TYPE_DOUBLE) ? g_variant_get_double(v) : def;
}

/* Kind, namespace and name never change: read once from the Object
 * interface and kept on the object, so that they are still there when the
 * object manager announces it removed (by then without interfaces); an
 * object first seen then is known by its path. */
typedef struct {
        char *kind, *ns, *name;
} Identity;

static void identity_free(gpointer data) {
        Identity *id = data;

        g_free(id->kind);
        g_free(id->ns);
        g_free(id->name);
        g_free(id);
}

/* The path segments of the namespaced kinds the app knows (dbus/object-path.c) */
static const char *const segments[][2] = {
        { "vm", "VirtualMachine" }, { "vmi", "VirtualMachineInstance" }, { "datavolume", "DataVolume" },
        { "pvc", "PersistentVolumeClaim" }, { "vmsnapshot", "VirtualMachineSnapshot" },
        { "vmsnapshotcontent", "VirtualMachineSnapshotContent" }, { "vmrestore", "VirtualMachineRestore" },
        { "vmclone", "VirtualMachineClone" }, { "instancetype", "VirtualMachineInstancetype" },
        { "event", "Event" },
};

static const char *kind_of_segment(const char *segment) {
        for (size_t i = 0; segment && i < G_N_ELEMENTS(segments); i++)
                if (g_str_equal(segment, segments[i][0]))
                        return segments[i][1];
        return segment ? "" : "Namespace";
}

const char *ev_segment_of_kind(const char *kind) {
        for (size_t i = 0; i < G_N_ELEMENTS(segments); i++)
                if (g_str_equal(kind, segments[i][1]))
                        return segments[i][0];
        return NULL;
}

static Identity *identity(GDBusObject *object) {
        Identity *id = g_object_get_data(G_OBJECT(object), "ev-identity");
        g_autofree char *ns = NULL, *segment = NULL, *name = NULL;

        if (id)
                return id;
        id = g_new0(Identity, 1);
        id->kind = ev_prop_string(object, EV_IFACE_OBJECT, "Kind");
        if (id->kind) {
                id->ns = ev_prop_string(object, EV_IFACE_OBJECT, "Namespace");
                id->name = ev_prop_string(object, EV_IFACE_OBJECT, "Name");
        } else if (ev_path_parse(g_dbus_object_get_object_path(object), &ns, &segment, &name)) {
                id->kind = g_strdup(kind_of_segment(segment));
                id->ns = segment ? g_steal_pointer(&ns) : g_strdup("");
                id->name = segment ? g_steal_pointer(&name) : g_steal_pointer(&ns);
        }
        if (!id->kind)
                id->kind = g_strdup("");
        if (!id->ns)
                id->ns = g_strdup("");
        if (!id->name)
                id->name = g_strdup("");
        g_object_set_data_full(G_OBJECT(object), "ev-identity", id, identity_free);
        return id;
}

const char *ev_object_kind(GDBusObject *object) {
        return identity(object)->kind;
}

const char *ev_object_namespace(GDBusObject *object) {
        return identity(object)->ns;
}

const char *ev_object_name(GDBusObject *object) {
        return identity(object)->name;
}

GDBusObject *ev_client_lookup(EvClient *c, const char *ns, const char *segment, const char *name) {
        g_autofree char *path = NULL;

        if (!c->manager || !ns || !name)
                return NULL;
        path = ev_object_path(ns, segment, name);
        return g_dbus_object_manager_get_object(c->manager, path);
}
