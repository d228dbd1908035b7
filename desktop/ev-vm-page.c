/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n.h>

#include "ev-console.h"
#include "ev-json.h"
#include "ev-snapshots.h"
#include "ev-vm-actions.h"
#include "ev-vm-page.h"
#include "ev-vm-row.h"
#include "ev-volumes.h"

/* A group whose rows are made again on each update. */
typedef struct {
        GtkWidget *group;
        GPtrArray *rows;
} Dynamic;

struct _EvVmPage {
        GtkBox parent;
        EvWindow *window;       /* weak: the window owns the page */
        char *ns, *name;
        GtkWidget *title, *status;
        GHashTable *buttons;    /* verb → GtkButton */
        GtkWidget *strategy_row, *addresses_row, *agent_row, *node_row;
        GtkWidget *os_row, *kernel_row, *hostname_row, *timezone_row;
        Dynamic users, filesystems, conditions, disks, events;
        char *events_version;   /* the VM's and instance's ResourceVersions the events were read at */
        GCancellable *cancellable;
        GCancellable *events_cancellable;       /* the events' List in flight */
        GDBusConnection *events_bus;            /* where events_watch are */
        guint events_watch[2];  /* the namespace's Events' InterfacesAdded; Objects' PropertiesChanged */
        char *events_prefix;    /* the path of the VM's Events up to their suffix */
};

G_DEFINE_TYPE(EvVmPage, ev_vm_page, GTK_TYPE_BOX)

static void dynamic_clear(Dynamic *d) {
        for (guint i = 0; i < d->rows->len; i++)
                adw_preferences_group_remove(ADW_PREFERENCES_GROUP(d->group), d->rows->pdata[i]);
        g_ptr_array_set_size(d->rows, 0);
}

static GtkWidget *dynamic_add(Dynamic *d, const char *title, const char *subtitle) {
        GtkWidget *row = adw_action_row_new();

        adw_preferences_row_set_use_markup(ADW_PREFERENCES_ROW(row), FALSE);
        adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), title);
        if (subtitle && *subtitle)
                adw_action_row_set_subtitle(ADW_ACTION_ROW(row), subtitle);
        adw_preferences_group_add(ADW_PREFERENCES_GROUP(d->group), row);
        g_ptr_array_add(d->rows, row);
        return row;
}

static GtkWidget *fact_row(GtkWidget *group, const char *title) {
        GtkWidget *row = adw_action_row_new();

        adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), title);
        adw_preferences_row_set_use_markup(ADW_PREFERENCES_ROW(row), FALSE);
        adw_preferences_group_add(ADW_PREFERENCES_GROUP(group), row);
        return row;
}

static void set_fact(GtkWidget *row, const char *value) {
        const char *text = value && *value ? value : _("—");

        adw_action_row_set_subtitle(ADW_ACTION_ROW(row), text);
        gtk_accessible_update_property(GTK_ACCESSIBLE(row), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, text, -1);
}

/* --- the sections --- */

static void update_guest(EvVmPage *p, GDBusObject *vmi) {
        g_autoptr(GVariant) os = vmi ? ev_prop(vmi, EV_IFACE_VMI, "GuestOS") : NULL;
        g_autoptr(GVariant) users = vmi ? ev_prop(vmi, EV_IFACE_VMI, "GuestUsers") : NULL;
        g_autoptr(GVariant) fss = vmi ? ev_prop(vmi, EV_IFACE_VMI, "GuestFilesystems") : NULL;
        g_autofree char *hostname = vmi ? ev_prop_string(vmi, EV_IFACE_VMI, "GuestHostname") : NULL;
        g_autofree char *tz = vmi ? ev_prop_string(vmi, EV_IFACE_VMI, "GuestTimezone") : NULL;
        g_autofree char *kernel = NULL;
        const char *pretty = NULL, *release = NULL, *version = NULL, *name, *mount, *type;
        GVariantIter i;
        double login;
        gint64 used, total;

        if (os && g_variant_is_of_type(os, G_VARIANT_TYPE("a{ss}"))) {
                if (!g_variant_lookup(os, "prettyName", "&s", &pretty) || !*pretty)
                        g_variant_lookup(os, "name", "&s", &pretty);
                g_variant_lookup(os, "kernelRelease", "&s", &release);
                g_variant_lookup(os, "kernelVersion", "&s", &version);
                kernel = g_strjoin(" ", release ? release : "", version ? version : "", NULL);
                g_strstrip(kernel);
        }
        set_fact(p->os_row, pretty);
        set_fact(p->kernel_row, kernel);
        set_fact(p->hostname_row, hostname);
        set_fact(p->timezone_row, tz);

        dynamic_clear(&p->users);
        if (users && g_variant_is_of_type(users, G_VARIANT_TYPE("a(ssd)"))) {
                g_variant_iter_init(&i, users);
                while (g_variant_iter_next(&i, "(&s&sd)", &name, NULL, &login)) {
                        g_autoptr(GDateTime) t = g_date_time_new_from_unix_local((gint64) login);
                        g_autofree char *when = t ? g_date_time_format(t, "%x %X") : NULL;
                        g_autofree char *sub = g_strdup_printf(_("logged in since %s"), when ? when : "?");
                        dynamic_add(&p->users, name, sub);
                }
        }
        if (!p->users.rows->len)
                dynamic_add(&p->users, vmi ? _("No one is logged in") : _("The VM is not running"), NULL);

        dynamic_clear(&p->filesystems);
        if (fss && g_variant_is_of_type(fss, G_VARIANT_TYPE("a(sssxx)"))) {
                g_variant_iter_init(&i, fss);
                while (g_variant_iter_next(&i, "(&s&s&sxx)", &name, &mount, &type, &used, &total)) {
                        g_autofree char *u = g_format_size_full(used, G_FORMAT_SIZE_IEC_UNITS);
                        g_autofree char *t = g_format_size_full(total, G_FORMAT_SIZE_IEC_UNITS);
                        /* TRANSLATORS: disk, file system type, used and total size */
                        g_autofree char *sub = g_strdup_printf(_("%s, %s: %s of %s used"), name, type, u, t);
                        dynamic_add(&p->filesystems, mount, sub);
                }
        }
        if (!p->filesystems.rows->len)
                dynamic_add(&p->filesystems, _("No file systems known"),
                            _("The guest agent reports them while it is connected."));
}

/* A condition (type, status, reason, message) in words. */
static char *condition_words(const char *type, const char *status, const char *reason, const char *message) {
        gboolean yes = g_str_equal(status, "True");
        const char *why = message && *message ? message : reason;

        if (g_str_equal(type, "Ready"))
                return g_strdup(yes ? _("Ready: the guest runs") : _("Not ready"));
        if (g_str_equal(type, "Paused"))
                return g_strdup(yes ? _("Paused") : _("Not paused"));
        if (g_str_equal(type, "AgentConnected"))
                return g_strdup(yes ? _("The guest agent is connected") : _("The guest agent is not connected"));
        if (g_str_equal(type, "Failure"))
                return g_strdup(yes ? _("No instance could be made") : _("No failure"));
        if (g_str_equal(type, "Synchronized"))
                return g_strdup(yes ? _("In step with the hypervisor") : _("Not in step with the hypervisor"));
        return g_strdup_printf("%s: %s", type, why && *why ? why : status);
}

static void add_conditions(EvVmPage *p, GDBusObject *object, const char *iface) {
        g_autoptr(GVariant) conds = object ? ev_prop(object, iface, "Conditions") : NULL;
        const char *type, *status, *reason, *message;
        GVariantIter i;

        if (!conds || !g_variant_is_of_type(conds, G_VARIANT_TYPE("a(ssss)")))
                return;
        g_variant_iter_init(&i, conds);
        while (g_variant_iter_next(&i, "(&s&s&s&s)", &type, &status, &reason, &message)) {
                g_autofree char *words = condition_words(type, status, reason, message);
                dynamic_add(&p->conditions, words, message && *message ? message : reason);
        }
}

static void update_disks(EvVmPage *p, GDBusObject *vm) {
        EvClient *c = ev_window_get_client(p->window);
        g_auto(GStrv) dvs = ev_vm_owned_datavolumes(c, vm);

        dynamic_clear(&p->disks);
        for (char **n = dvs; n && *n; n++) {
                g_autoptr(GDBusObject) dv = ev_client_lookup(c, p->ns, "datavolume", *n);
                g_autofree char *phase = dv ? ev_prop_string(dv, EV_IFACE_DV, "Phase") : NULL;
                g_autofree char *message = dv ? ev_prop_string(dv, EV_IFACE_DV, "Message") : NULL;
                GtkWidget *row = dynamic_add(&p->disks, *n, message), *bar;
                GtkWidget *label = gtk_label_new(ev_datavolume_phase_text(phase));
                g_autofree char *bar_name = NULL;

                gtk_widget_add_css_class(label, "dim-label");
                adw_action_row_add_suffix(ADW_ACTION_ROW(row), label);
                if (!dv || g_strcmp0(phase, "Succeeded") == 0 || g_strcmp0(phase, "Failed") == 0)
                        continue;
                bar = gtk_progress_bar_new();
                bar_name = g_strdup_printf(_("Import progress of %s"), *n);
                gtk_widget_set_valign(bar, GTK_ALIGN_CENTER);
                gtk_widget_set_size_request(bar, 120, -1);
                gtk_progress_bar_set_show_text(GTK_PROGRESS_BAR(bar), TRUE);
                gtk_accessible_update_property(GTK_ACCESSIBLE(bar), GTK_ACCESSIBLE_PROPERTY_LABEL, bar_name, -1);
                ev_progress_bar_follow(GTK_PROGRESS_BAR(bar), dv);
                adw_action_row_add_suffix(ADW_ACTION_ROW(row), bar);
        }
        if (!p->disks.rows->len)
                dynamic_add(&p->disks, _("No DataVolumes of its own"),
                            _("Its disks are claims, container disks or made at each start."));
}

/* --- events: the daemon's Events of the VM and its instance (same name),
 * read again when either changes --- */

#define MAX_EVENTS 20

/* An event's reason in words; the daemon's message (English, as kubectl
 * shows it) goes below. */
static const char *reason_words(const char *reason) {
        static const char *const words[][2] = {
                { "SuccessfulCreate", N_("Instance created") }, { "SuccessfulDelete", N_("Instance removed") },
                { "Started", N_("Started running") }, { "Stopped", N_("Stopped") }, { "Failed", N_("Failed") },
                { "CrashLoopBackOff", N_("Failing: starting again after a pause") },
                { "Pulling", N_("Pulling its image") }, { "Pulled", N_("Image pulled") },
                { "SnapshotReady", N_("Snapshot ready") }, { "SnapshotFailed", N_("Snapshot failed") },
                { "VirtualMachineRestoreComplete", N_("Restored") },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(words); i++)
                if (g_str_equal(reason, words[i][0]))
                        return _(words[i][1]);
        return reason;
}

static gint newest_first(gconstpointer a, gconstpointer b) {
        const char *x = ev_json_string(*(JsonObject *const *) a, "lastTimestamp");
        const char *y = ev_json_string(*(JsonObject *const *) b, "lastTimestamp");
        return -g_strcmp0(x, y);
}

static void add_event(EvVmPage *p, JsonObject *ev) {
        const char *reason = ev_json_string(ev, "reason") ? ev_json_string(ev, "reason") : "";
        const char *when = ev_json_string(ev, "lastTimestamp");
        const char *message = ev_json_string(ev, "message") ? ev_json_string(ev, "message") : "";
        gint64 count = json_object_has_member(ev, "count") ? json_object_get_int_member(ev, "count") : 1;
        g_autoptr(GDateTime) utc = when ? g_date_time_new_from_iso8601(when, NULL) : NULL;
        g_autoptr(GDateTime) local = utc ? g_date_time_to_local(utc) : NULL;
        g_autofree char *at = local ? g_date_time_format(local, "%x %X") : g_strdup(when ? when : "");
        g_autofree char *times = count > 1 ? g_strdup_printf(_(" (%u times)"), (unsigned) MIN(count, G_MAXUINT))
                                           : g_strdup("");
        g_autofree char *sub = g_strdup_printf("%s%s — %s", at, times, message);
        GtkWidget *row = dynamic_add(&p->events, reason_words(reason), sub);

        if (g_strcmp0(ev_json_string(ev, "type"), "Warning") == 0)
                gtk_widget_add_css_class(row, "warning");
}

static void on_events(GObject *source, GAsyncResult *res, gpointer user_data) {
        EvVmPage *p = user_data;
        g_autoptr(GError) e = NULL;
        g_autoptr(GVariant) reply = ev_client_call_finish(EV_CLIENT(source), res, NULL, &e);
        g_autoptr(JsonParser) parser = json_parser_new();
        g_autoptr(GPtrArray) mine = g_ptr_array_new();
        JsonArray *items = NULL;
        const char *doc;

        if (g_error_matches(e, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                return;
        dynamic_clear(&p->events);
        if (reply) {
                g_variant_get(reply, "(&s)", &doc);
                if (json_parser_load_from_data(parser, doc, -1, NULL) &&
                    JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)))
                        items = ev_json_array(json_node_get_object(json_parser_get_root(parser)), "items");
        }
        for (guint i = 0; items && i < json_array_get_length(items); i++) {
                JsonObject *ev = json_array_get_object_element(items, i);
                JsonObject *about = ev_json_object(ev, "involvedObject");
                const char *kind = ev_json_string(about, "kind");
                if (g_strcmp0(ev_json_string(about, "name"), p->name) == 0 &&
                    (g_strcmp0(kind, "VirtualMachine") == 0 || g_strcmp0(kind, "VirtualMachineInstance") == 0))
                        g_ptr_array_add(mine, ev);
        }
        g_ptr_array_sort(mine, newest_first);
        for (guint i = 0; i < mine->len && i < MAX_EVENTS; i++)
                add_event(p, mine->pdata[i]);
        if (!p->events.rows->len)
                dynamic_add(&p->events, _("Nothing happened yet"),
                            e ? e->message : _("Events show what the VM and its instance went through."));
}

static void update_events(EvVmPage *p, GDBusObject *vm, GDBusObject *vmi) {
        g_autofree char *vm_version = ev_prop_string(vm, EV_IFACE_OBJECT, "ResourceVersion");
        g_autofree char *vmi_version = vmi ? ev_prop_string(vmi, EV_IFACE_OBJECT, "ResourceVersion") : NULL;
        g_autofree char *version = g_strdup_printf("%s/%s", vm_version ? vm_version : "",
                                                   vmi_version ? vmi_version : "");

        if (g_strcmp0(version, p->events_version) == 0)
                return;
        g_free(p->events_version);
        p->events_version = g_steal_pointer(&version);
        /* the newest answer only: an older one arriving late would undo it */
        g_cancellable_cancel(p->events_cancellable);
        g_clear_object(&p->events_cancellable);
        p->events_cancellable = g_cancellable_new();
        ev_client_call(ev_window_get_client(p->window), EV_ROOT_PATH, EV_IFACE_MANAGER, "List",
                       g_variant_new("(ssa{sv})", "event", p->ns, NULL), NULL, p->events_cancellable, on_events, p);
}

/* --- the whole page --- */

static void set_enabled(EvVmPage *p, const char *verb, gboolean on) {
        GtkWidget *b = g_hash_table_lookup(p->buttons, verb);

        gtk_widget_set_sensitive(b, on);
}

static void update_buttons(EvVmPage *p, GDBusObject *vm, GDBusObject *vmi) {
        EvClient *c = ev_window_get_client(p->window);
        gboolean running = ev_vm_is_running(c, vm), ready = ev_prop_bool(vm, EV_IFACE_VM, "Ready");
        gboolean paused = vmi && ev_prop_bool(vmi, EV_IFACE_VMI, "Paused");
        g_autofree char *phase = vmi ? ev_prop_string(vmi, EV_IFACE_VMI, "Phase") : NULL;
        gboolean live = g_strcmp0(phase, "Running") == 0;

        set_enabled(p, "start", !running);
        set_enabled(p, "stop", running);
        set_enabled(p, "force-stop", running);
        set_enabled(p, "restart", running);
        set_enabled(p, "pause", ready && !paused);
        set_enabled(p, "unpause", paused);
        set_enabled(p, "soft-reboot", ready);
        set_enabled(p, "console", live);
        set_enabled(p, "vnc", live);
}

void ev_vm_page_update(EvVmPage *p) {
        EvClient *c = p->window ? ev_window_get_client(p->window) : NULL;
        g_autoptr(GDBusObject) vm = c ? ev_client_lookup(c, p->ns, "vm", p->name) : NULL;
        g_autoptr(GDBusObject) vmi = c ? ev_client_lookup(c, p->ns, "vmi", p->name) : NULL;
        g_autoptr(GVariant) ips = vmi ? ev_prop(vmi, EV_IFACE_VMI, "IPAddresses") : NULL;
        g_autofree char *status = NULL, *strategy = NULL, *node = NULL, *addresses = NULL;
        g_autofree const char **ip_list = NULL;

        if (!vm)
                return;
        status = ev_vm_status_text(c, vm);
        strategy = ev_prop_string(vm, EV_IFACE_VM, "RunStrategy");
        node = vmi ? ev_prop_string(vmi, EV_IFACE_VMI, "NodeName") : NULL;
        if (ips && g_variant_is_of_type(ips, G_VARIANT_TYPE_STRING_ARRAY)) {
                ip_list = g_variant_get_strv(ips, NULL);
                addresses = g_strjoinv(", ", (char **) ip_list);
        }
        gtk_label_set_text(GTK_LABEL(p->title), p->name);
        gtk_label_set_text(GTK_LABEL(p->status), status);
        set_fact(p->strategy_row, strategy);
        set_fact(p->addresses_row, addresses);
        set_fact(p->agent_row, !vmi ? _("Not running") : ev_prop_bool(vmi, EV_IFACE_VMI, "AgentConnected") ?
                               _("Connected") : _("Not connected"));
        set_fact(p->node_row, node);
        update_buttons(p, vm, vmi);
        update_guest(p, vmi);
        dynamic_clear(&p->conditions);
        add_conditions(p, vm, EV_IFACE_VM);
        add_conditions(p, vmi, EV_IFACE_VMI);
        if (!p->conditions.rows->len)
                dynamic_add(&p->conditions, _("No conditions reported"), NULL);
        update_disks(p, vm);
        update_events(p, vm, vmi);
}

/* An Event of the VM's or of its instance's (named after what it is
 * about: "<name>.<suffix>") came, or came again (its count and time
 * changed): the events are read again.  The daemon lists Events by each
 * namespace's own ObjectManager, not the root's the window follows
 * (docs/dbus-api.md), so the page follows that one's InterfacesAdded and
 * the Events' PropertiesChanged.  Labels are encoded a byte at a time, so
 * the encoded "<name>." starts the encoded path of each of its Events. */
static void on_event_signal(GDBusConnection *bus, const char *sender, const char *path, const char *iface,
                            const char *signal, GVariant *params, gpointer user_data) {
        EvVmPage *p = user_data;
        const char *object = path, *suffix;

        if (!p->name || !p->events_prefix)
                return;
        if (g_str_equal(signal, "InterfacesAdded"))
                g_variant_get_child(params, 0, "&o", &object);
        if (!g_str_has_prefix(object, p->events_prefix))
                return;
        /* the suffix is hex: "web.x.1a2b" is another VM's ("web.x") */
        suffix = object + strlen(p->events_prefix);
        if (*suffix && suffix[strspn(suffix, "0123456789abcdef")] == '\0') {
                g_clear_pointer(&p->events_version, g_free);
                ev_vm_page_update(p);
        }
}

static void watch_events(EvVmPage *p) {
        EvClient *c = p->window ? ev_window_get_client(p->window) : NULL;
        GDBusConnection *bus = c ? ev_client_get_connection(c) : NULL;

        for (size_t i = 0; i < G_N_ELEMENTS(p->events_watch); i++)
                if (p->events_watch[i])
                        g_dbus_connection_signal_unsubscribe(p->events_bus, p->events_watch[i]);
        memset(p->events_watch, 0, sizeof p->events_watch);
        g_clear_object(&p->events_bus);
        g_clear_pointer(&p->events_prefix, g_free);
        if (!bus || !p->ns || !p->name)
                return;
        g_autofree char *ns_path = ev_object_path(p->ns, NULL, NULL);
        g_autofree char *manager = g_strconcat(ns_path, "/event", NULL);
        g_autofree char *name = g_strconcat(p->name, ".", NULL);
        p->events_prefix = ev_object_path(p->ns, "event", name);
        p->events_bus = g_object_ref(bus);
        p->events_watch[0] = g_dbus_connection_signal_subscribe(bus, EV_BUS_NAME, "org.freedesktop.DBus.ObjectManager",
                                                                "InterfacesAdded", manager, NULL,
                                                                G_DBUS_SIGNAL_FLAGS_NONE, on_event_signal, p, NULL);
        p->events_watch[1] = g_dbus_connection_signal_subscribe(bus, EV_BUS_NAME, "org.freedesktop.DBus.Properties",
                                                                "PropertiesChanged", NULL, EV_IFACE_OBJECT,
                                                                G_DBUS_SIGNAL_FLAGS_NONE, on_event_signal, p, NULL);
}

void ev_vm_page_set_vm(EvVmPage *p, const char *ns, const char *name) {
        g_cancellable_cancel(p->cancellable);
        g_clear_object(&p->cancellable);
        p->cancellable = g_cancellable_new();
        g_free(p->ns);
        g_free(p->name);
        g_clear_pointer(&p->events_version, g_free);
        p->ns = g_strdup(ns);
        p->name = g_strdup(name);
        watch_events(p);
        if (name)
                ev_vm_page_update(p);
}

gboolean ev_vm_page_concerns(EvVmPage *p, GDBusObject *object) {
        const char *kind = ev_object_kind(object);

        if (!p->name || g_strcmp0(ev_object_namespace(object), p->ns) != 0)
                return FALSE;
        if (g_str_equal(kind, "DataVolume"))
                return TRUE;    /* it may be one of its disks */
        return (g_str_equal(kind, "VirtualMachine") || g_str_equal(kind, "VirtualMachineInstance")) &&
               g_str_equal(ev_object_name(object), p->name);
}

/* --- building it --- */

static void on_verb(GtkButton *b, gpointer user_data) {
        EvVmPage *p = user_data;
        const char *verb = g_object_get_data(G_OBJECT(b), "ev-verb");

        if (!p->window || !p->name)
                return;
        if (g_str_equal(verb, "console"))
                ev_console_open(p->window, p->ns, p->name);
        else if (g_str_equal(verb, "vnc"))
                ev_vnc_open(p->window, p->ns, p->name);
        else if (g_str_equal(verb, "snapshot"))
                ev_snapshot_take(p->window, p->ns, p->name);
        else
                ev_vm_action(p->window, p->ns, p->name, verb);
}

static GtkWidget *build_actions(EvVmPage *p) {
        static const struct { const char *verb, *label, *icon; gboolean destructive; } actions[] = {
                { "start", N_("_Start"), "media-playback-start-symbolic", FALSE },
                { "stop", N_("S_top"), "media-playback-stop-symbolic", FALSE },
                { "force-stop", N_("_Force Off"), "system-shutdown-symbolic", TRUE },
                { "restart", N_("R_estart"), "view-refresh-symbolic", FALSE },
                { "pause", N_("_Pause"), "media-playback-pause-symbolic", FALSE },
                { "unpause", N_("_Resume"), "media-playback-start-symbolic", FALSE },
                { "soft-reboot", N_("Re_boot Guest"), "system-reboot-symbolic", FALSE },
                { "console", N_("Serial _Console"), "utilities-terminal-symbolic", FALSE },
                { "vnc", N_("_Graphical Console"), "video-display-symbolic", FALSE },
                { "snapshot", N_("Take S_napshot"), "camera-photo-symbolic", FALSE },
                { "delete", N_("_Delete"), "user-trash-symbolic", TRUE },
        };
        GtkWidget *flow = gtk_flow_box_new();

        gtk_flow_box_set_selection_mode(GTK_FLOW_BOX(flow), GTK_SELECTION_NONE);
        gtk_flow_box_set_max_children_per_line(GTK_FLOW_BOX(flow), 6);
        gtk_flow_box_set_column_spacing(GTK_FLOW_BOX(flow), 6);
        gtk_flow_box_set_row_spacing(GTK_FLOW_BOX(flow), 6);
        gtk_accessible_update_property(GTK_ACCESSIBLE(flow), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Actions"), -1);
        for (size_t i = 0; i < G_N_ELEMENTS(actions); i++) {
                GtkWidget *b = gtk_button_new(), *content = adw_button_content_new();

                adw_button_content_set_icon_name(ADW_BUTTON_CONTENT(content), actions[i].icon);
                adw_button_content_set_label(ADW_BUTTON_CONTENT(content), _(actions[i].label));
                adw_button_content_set_use_underline(ADW_BUTTON_CONTENT(content), TRUE);
                gtk_button_set_child(GTK_BUTTON(b), content);
                if (actions[i].destructive)
                        gtk_widget_add_css_class(b, "destructive-action");
                g_object_set_data(G_OBJECT(b), "ev-verb", (gpointer) actions[i].verb);
                g_signal_connect(b, "clicked", G_CALLBACK(on_verb), p);
                g_hash_table_insert(p->buttons, (gpointer) actions[i].verb, b);
                gtk_flow_box_append(GTK_FLOW_BOX(flow), b);
        }
        return flow;
}

static GtkWidget *group(GtkWidget *box, const char *title, const char *description) {
        GtkWidget *g = adw_preferences_group_new();

        adw_preferences_group_set_title(ADW_PREFERENCES_GROUP(g), title);
        if (description)
                adw_preferences_group_set_description(ADW_PREFERENCES_GROUP(g), description);
        gtk_accessible_update_property(GTK_ACCESSIBLE(g), GTK_ACCESSIBLE_PROPERTY_LABEL, title, -1);
        gtk_box_append(GTK_BOX(box), g);
        return g;
}

static void dynamic_init(Dynamic *d, GtkWidget *box, const char *title, const char *description) {
        d->group = group(box, title, description);
        d->rows = g_ptr_array_new();
}

static void build(EvVmPage *p) {
        GtkWidget *scrolled = gtk_scrolled_window_new(), *clamp = adw_clamp_new();
        GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 24), *head = gtk_box_new(GTK_ORIENTATION_VERTICAL, 6);
        GtkWidget *g;

        gtk_widget_set_margin_top(box, 24);
        gtk_widget_set_margin_bottom(box, 24);
        gtk_widget_set_margin_start(box, 12);
        gtk_widget_set_margin_end(box, 12);
        p->title = gtk_label_new(NULL);
        gtk_widget_add_css_class(p->title, "title-1");
        gtk_label_set_wrap(GTK_LABEL(p->title), TRUE);
        p->status = gtk_label_new(NULL);
        gtk_widget_add_css_class(p->status, "title-4");
        gtk_accessible_update_property(GTK_ACCESSIBLE(p->status), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, _("Status"),
                                       -1);
        gtk_box_append(GTK_BOX(head), p->title);
        gtk_box_append(GTK_BOX(head), p->status);
        gtk_box_append(GTK_BOX(box), head);
        gtk_box_append(GTK_BOX(box), build_actions(p));

        g = group(box, _("Status"), NULL);
        p->strategy_row = fact_row(g, _("Run strategy"));
        p->addresses_row = fact_row(g, _("IP addresses"));
        p->agent_row = fact_row(g, _("Guest agent"));
        p->node_row = fact_row(g, _("Host"));
        g = group(box, _("Guest"), _("What the QEMU guest agent in the VM reports."));
        p->os_row = fact_row(g, _("Operating system"));
        p->kernel_row = fact_row(g, _("Kernel"));
        p->hostname_row = fact_row(g, _("Hostname"));
        p->timezone_row = fact_row(g, _("Time zone"));
        dynamic_init(&p->users, box, _("Users"), NULL);
        dynamic_init(&p->filesystems, box, _("File Systems"), NULL);
        dynamic_init(&p->conditions, box, _("Conditions"), NULL);
        dynamic_init(&p->disks, box, _("Disks"), _("The DataVolumes the VM owns: deleted with it."));
        dynamic_init(&p->events, box, _("Recent Events"), NULL);

        adw_clamp_set_child(ADW_CLAMP(clamp), box);
        gtk_scrolled_window_set_child(GTK_SCROLLED_WINDOW(scrolled), clamp);
        gtk_scrolled_window_set_policy(GTK_SCROLLED_WINDOW(scrolled), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
        gtk_widget_set_vexpand(scrolled, TRUE);
        gtk_box_append(GTK_BOX(p), scrolled);
}

EvVmPage *ev_vm_page_new(EvWindow *w) {
        EvVmPage *p = g_object_new(EV_TYPE_VM_PAGE, "orientation", GTK_ORIENTATION_VERTICAL, NULL);

        g_set_weak_pointer(&p->window, w);
        build(p);
        return p;
}

static void ev_vm_page_dispose(GObject *object) {
        EvVmPage *p = EV_VM_PAGE(object);

        g_cancellable_cancel(p->cancellable);
        g_clear_object(&p->cancellable);
        g_cancellable_cancel(p->events_cancellable);
        g_clear_object(&p->events_cancellable);
        g_clear_pointer(&p->name, g_free);
        watch_events(p);        /* no VM: unsubscribes */
        g_clear_weak_pointer(&p->window);
        G_OBJECT_CLASS(ev_vm_page_parent_class)->dispose(object);
}

static void ev_vm_page_finalize(GObject *object) {
        EvVmPage *p = EV_VM_PAGE(object);
        Dynamic *all[] = { &p->users, &p->filesystems, &p->conditions, &p->disks, &p->events };

        for (size_t i = 0; i < G_N_ELEMENTS(all); i++)
                g_clear_pointer(&all[i]->rows, g_ptr_array_unref);
        g_hash_table_unref(p->buttons);
        g_free(p->ns);
        g_free(p->name);
        g_free(p->events_version);
        G_OBJECT_CLASS(ev_vm_page_parent_class)->finalize(object);
}

static void ev_vm_page_class_init(EvVmPageClass *klass) {
        G_OBJECT_CLASS(klass)->dispose = ev_vm_page_dispose;
        G_OBJECT_CLASS(klass)->finalize = ev_vm_page_finalize;
}

static void ev_vm_page_init(EvVmPage *p) {
        p->buttons = g_hash_table_new(g_str_hash, g_str_equal);
        p->cancellable = g_cancellable_new();
}
