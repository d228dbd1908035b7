/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The main window: a sidebar of namespaces (projects) and, for the one
 * selected, lists of its VMs, volumes and snapshots, a VM's page; status
 * pages while the service is not there.  Everything follows the object
 * manager's signals: objects added and removed, properties changed. */
#include "config.h"

#include <glib/gi18n.h>

#include "ev-create-dialog.h"
#include "ev-object-list.h"
#include "ev-snapshots.h"
#include "ev-vm-page.h"
#include "ev-vm-row.h"
#include "ev-volumes.h"
#include "ev-window.h"

struct _EvWindow {
        AdwApplicationWindow parent;
        EvClient *client;
        GSettings *settings;
        char *namespace;
        char *wanted_namespace;         /* the last one shown: again when it comes back */
        GHashTable *ns_rows;            /* namespace name → GtkListBoxRow */
        GtkWidget *toasts;
        GtkWidget *top;                 /* "connecting", "offline", "main" */
        GtkWidget *offline_page;
        GtkWidget *leaflet;
        GtkWidget *ns_list;
        GtkWidget *content_stack;       /* "lists", "vm" */
        GtkWidget *back;
        GtkWidget *title;
        GtkWidget *new_vm;
        GtkWidget *views;               /* the lists' AdwViewStack */
        EvObjectList *vms, *volumes, *snapshots;
        EvVmPage *vm_page;
        gulong manager_handlers[3];
        GDBusObjectManager *manager;    /* the one the handlers are on */
};

G_DEFINE_TYPE(EvWindow, ev_window, ADW_TYPE_APPLICATION_WINDOW)

EvClient *ev_window_get_client(EvWindow *w) {
        return w->client;
}

const char *ev_window_get_namespace(EvWindow *w) {
        return w->namespace;
}

void ev_window_toast(EvWindow *w, const char *text, gboolean error) {
        AdwToast *t = adw_toast_new(text);

        /* errors stay long enough to be read (and reached by a screen reader) */
        adw_toast_set_timeout(t, error ? 15 : 5);
        if (error)
                adw_toast_set_priority(t, ADW_TOAST_PRIORITY_HIGH);
        adw_toast_overlay_add_toast(ADW_TOAST_OVERLAY(w->toasts), t);
}

/* --- the lists of the namespace shown --- */

/* The rows of the VMs that own object (a DataVolume): only theirs, a
 * progress tick must not redo every row of a big project. */
static void update_owner_rows(EvWindow *w, GDBusObject *object) {
        g_autoptr(GVariant) owners = ev_prop(object, EV_IFACE_OBJECT, "OwnerReferences");
        GVariantIter i;
        const char *kind, *name;

        if (!owners || !g_variant_is_of_type(owners, G_VARIANT_TYPE("a(ssss)")))
                return;
        g_variant_iter_init(&i, owners);
        while (g_variant_iter_next(&i, "(&s&s&s&s)", NULL, &kind, &name, NULL))
                if (g_str_equal(kind, "VirtualMachine"))
                        ev_object_list_update(w->vms, name);
}

/* One object of the namespace shown came, went or changed. */
static void route_object(EvWindow *w, GDBusObject *o, gboolean removed) {
        const char *kind = ev_object_kind(o), *name = ev_object_name(o), *segment = ev_segment_of_kind(kind);

        g_debug("%s %s %s/%s (%s)", removed ? "removed" : "added or changed", kind, ev_object_namespace(o), name,
                g_dbus_object_get_object_path(o));

        if (!segment || g_strcmp0(ev_object_namespace(o), w->namespace) != 0)
                return;
        if (g_str_equal(segment, "vm")) {
                if (removed)
                        ev_object_list_remove(w->vms, name);
                else
                        ev_object_list_add(w->vms, name, o);
        } else if (g_str_equal(segment, "vmi")) {
                ev_object_list_update(w->vms, name);
        } else if (g_str_equal(segment, "datavolume") || g_str_equal(segment, "pvc")) {
                ev_volumes_route(w->volumes, w->client, w->namespace, o, removed);
                update_owner_rows(w, o);                /* import progress shows on the VM */
        } else if (g_str_equal(segment, "vmsnapshot")) {
                if (removed)
                        ev_object_list_remove(w->snapshots, name);
                else
                        ev_object_list_add(w->snapshots, name, o);
        }
        if (ev_vm_page_concerns(w->vm_page, o)) {
                if (g_str_equal(segment, "vm") && removed)
                        ev_window_show_vm(w, NULL);
                else
                        ev_vm_page_update(w->vm_page);
        }
}

static void fill_lists(EvWindow *w) {
        GDBusObjectManager *m = ev_client_get_manager(w->client);
        GList *objects;

        ev_object_list_clear(w->vms);
        ev_object_list_clear(w->volumes);
        ev_object_list_clear(w->snapshots);
        if (!m || !w->namespace)
                return;
        objects = g_dbus_object_manager_get_objects(m);
        for (GList *i = objects; i; i = i->next)
                route_object(w, i->data, FALSE);
        g_list_free_full(objects, g_object_unref);
}

/* --- the sidebar --- */

static void ns_row_update(EvWindow *w, GtkWidget *row, GDBusObject *o) {
        GtkWidget *label = g_object_get_data(G_OBJECT(row), "ev-label");
        g_autofree char *display = ev_prop_string(o, EV_IFACE_NAMESPACE, "DisplayName");
        g_autofree char *phase = ev_prop_string(o, EV_IFACE_NAMESPACE, "Phase");
        const char *name = ev_object_name(o);
        const char *text = display && *display ? display : name;

        if (g_strcmp0(phase, "Terminating") == 0) {
                g_autofree char *t = g_strdup_printf(_("%s (being deleted)"), text);
                gtk_label_set_text(GTK_LABEL(label), t);
        } else {
                gtk_label_set_text(GTK_LABEL(label), text);
        }
        gtk_widget_set_tooltip_text(row, name);
        gtk_accessible_update_property(GTK_ACCESSIBLE(row), GTK_ACCESSIBLE_PROPERTY_LABEL, text, -1);
}

static void ns_add(EvWindow *w, GDBusObject *o) {
        const char *name = ev_object_name(o);
        GtkWidget *row = g_hash_table_lookup(w->ns_rows, name), *label;

        if (!row) {
                row = gtk_list_box_row_new();
                label = gtk_label_new(NULL);
                gtk_label_set_xalign(GTK_LABEL(label), 0);
                gtk_label_set_ellipsize(GTK_LABEL(label), PANGO_ELLIPSIZE_END);
                gtk_list_box_row_set_child(GTK_LIST_BOX_ROW(row), label);
                g_object_set_data(G_OBJECT(row), "ev-label", label);
                g_object_set_data_full(G_OBJECT(row), "ev-name", g_strdup(name), g_free);
                g_hash_table_insert(w->ns_rows, g_strdup(name), row);
                gtk_list_box_append(GTK_LIST_BOX(w->ns_list), row);
        }
        ns_row_update(w, row, o);
        if (!w->namespace && g_str_equal(name, w->wanted_namespace))
                gtk_list_box_select_row(GTK_LIST_BOX(w->ns_list), GTK_LIST_BOX_ROW(row));
}

static void ns_remove(EvWindow *w, const char *name) {
        GtkWidget *row = g_hash_table_lookup(w->ns_rows, name);

        if (!row)
                return;
        gtk_list_box_remove(GTK_LIST_BOX(w->ns_list), row);
        g_hash_table_remove(w->ns_rows, name);
}

static void set_namespace(EvWindow *w, const char *name) {
        if (g_strcmp0(w->namespace, name) == 0)
                return;
        g_free(w->namespace);
        w->namespace = g_strdup(name);
        if (name) {
                g_free(w->wanted_namespace);
                w->wanted_namespace = g_strdup(name);
        }
        if (name && w->settings)
                g_settings_set_string(w->settings, "last-namespace", name);
        adw_view_switcher_title_set_title(ADW_VIEW_SWITCHER_TITLE(w->title), name ? name : _("Virtual Machines"));
        g_simple_action_set_enabled(G_SIMPLE_ACTION(g_action_map_lookup_action(G_ACTION_MAP(w), "new-vm")),
                                    name != NULL);
        ev_window_show_vm(w, NULL);
        fill_lists(w);
}

static void on_ns_selected(GtkListBox *box, GtkListBoxRow *row, gpointer user_data) {
        EvWindow *w = user_data;

        if (!row)
                return;
        set_namespace(w, g_object_get_data(G_OBJECT(row), "ev-name"));
        adw_leaflet_navigate(ADW_LEAFLET(w->leaflet), ADW_NAVIGATION_DIRECTION_FORWARD);
}

static void on_ns_activated(GtkListBox *box, GtkListBoxRow *row, gpointer user_data) {
        EvWindow *w = user_data;

        adw_leaflet_navigate(ADW_LEAFLET(w->leaflet), ADW_NAVIGATION_DIRECTION_FORWARD);
}

static int sort_ns(GtkListBoxRow *a, GtkListBoxRow *b, gpointer user_data) {
        return g_strcmp0(g_object_get_data(G_OBJECT(a), "ev-name"), g_object_get_data(G_OBJECT(b), "ev-name"));
}

/* --- the object manager --- */

static void on_object_added(GDBusObjectManager *m, GDBusObject *o, gpointer user_data) {
        EvWindow *w = user_data;

        if (g_str_equal(ev_object_kind(o), "Namespace"))
                ns_add(w, o);
        else
                route_object(w, o, FALSE);
}

static void on_object_removed(GDBusObjectManager *m, GDBusObject *o, gpointer user_data) {
        EvWindow *w = user_data;

        if (g_str_equal(ev_object_kind(o), "Namespace")) {
                const char *name = ev_object_name(o);
                if (g_strcmp0(name, w->namespace) == 0)
                        set_namespace(w, NULL);
                ns_remove(w, name);
        } else {
                route_object(w, o, TRUE);
        }
}

static void on_properties_changed(GDBusObjectManagerClient *m, GDBusObjectProxy *o, GDBusProxy *iface,
                                  GVariant *changed, const char *const *invalidated, gpointer user_data) {
        EvWindow *w = user_data;
        GDBusObject *object = G_DBUS_OBJECT(o);
        GtkWidget *row;

        if (g_str_equal(ev_object_kind(object), "Namespace")) {
                row = g_hash_table_lookup(w->ns_rows, ev_object_name(object));
                if (row)
                        ns_row_update(w, row, object);
                return;
        }
        route_object(w, object, FALSE);
}

/* None shown (the one wanted is not there): the first. */
static void select_some_namespace(EvWindow *w) {
        GtkListBoxRow *first = gtk_list_box_get_row_at_index(GTK_LIST_BOX(w->ns_list), 0);

        if (!w->namespace && first)
                gtk_list_box_select_row(GTK_LIST_BOX(w->ns_list), first);
}

static void disconnect_manager(EvWindow *w) {
        for (size_t i = 0; i < G_N_ELEMENTS(w->manager_handlers); i++)
                g_clear_signal_handler(&w->manager_handlers[i], w->manager);
        g_clear_object(&w->manager);
}

/* The projects of an old connection that the new one does not have, and
 * every list row (filled again from the new one). */
static void forget_old_objects(EvWindow *w, GDBusObjectManager *m) {
        g_autofree const char **names = (const char **) g_hash_table_get_keys_as_array(w->ns_rows, NULL);

        for (const char **n = names; *n; n++) {
                g_autofree char *path = ev_object_path(*n, NULL, NULL);
                g_autoptr(GDBusObject) o = g_dbus_object_manager_get_object(m, path);
                if (o)
                        continue;
                if (g_strcmp0(*n, w->namespace) == 0)
                        set_namespace(w, NULL);
                ns_remove(w, *n);
        }
        ev_object_list_clear(w->vms);
        ev_object_list_clear(w->volumes);
        ev_object_list_clear(w->snapshots);
}

static void connect_manager(EvWindow *w) {
        GDBusObjectManager *m = ev_client_get_manager(w->client);
        GList *objects;

        if (!m || m == w->manager)
                return;
        if (w->manager)
                forget_old_objects(w, m);       /* a new connection: what went meanwhile goes */
        disconnect_manager(w);
        w->manager = g_object_ref(m);
        w->manager_handlers[0] = g_signal_connect(m, "object-added", G_CALLBACK(on_object_added), w);
        w->manager_handlers[1] = g_signal_connect(m, "object-removed", G_CALLBACK(on_object_removed), w);
        w->manager_handlers[2] = g_signal_connect(m, "interface-proxy-properties-changed",
                                                  G_CALLBACK(on_properties_changed), w);
        objects = g_dbus_object_manager_get_objects(m);
        for (GList *i = objects; i; i = i->next)
                on_object_added(m, i->data, w);
        g_list_free_full(objects, g_object_unref);
        select_some_namespace(w);
}

static void on_client_state(EvClient *c, GParamSpec *pspec, gpointer user_data) {
        EvWindow *w = user_data;
        AdwStatusPage *page = ADW_STATUS_PAGE(w->offline_page);
        g_autofree char *text = NULL;

        switch (ev_client_get_state(c)) {
        case EV_CLIENT_CONNECTING:
                gtk_stack_set_visible_child_name(GTK_STACK(w->top), "connecting");
                return;
        case EV_CLIENT_NO_BUS:
                adw_status_page_set_icon_name(page, "network-offline-symbolic");
                adw_status_page_set_title(page, _("Cannot Reach the Bus"));
                adw_status_page_set_description(page, ev_client_get_error(c));
                break;
        case EV_CLIENT_NO_SERVICE:
                text = g_strdup_printf(_("edgevirtd does not answer on the %s bus. This window follows it again as "
                                         "soon as it is back."), ev_client_get_bus(c));
                adw_status_page_set_icon_name(page, "computer-fail-symbolic");
                adw_status_page_set_title(page, _("The edgevirt Service Is Not Running"));
                adw_status_page_set_description(page, text);
                break;
        case EV_CLIENT_READY:
                /* emptied: hidden pages stay in the accessible tree (GTK 4.8) */
                adw_status_page_set_title(page, NULL);
                adw_status_page_set_description(page, NULL);
                connect_manager(w);
                gtk_stack_set_visible_child_name(GTK_STACK(w->top), "main");
                return;
        }
        gtk_stack_set_visible_child_name(GTK_STACK(w->top), "offline");
}

/* --- navigation --- */

void ev_window_show_vm(EvWindow *w, const char *name) {
        ev_vm_page_set_vm(w->vm_page, name ? w->namespace : NULL, name);
        gtk_stack_set_visible_child_name(GTK_STACK(w->content_stack), name ? "vm" : "lists");
        gtk_widget_set_visible(w->back, name || adw_leaflet_get_folded(ADW_LEAFLET(w->leaflet)));
        if (name)
                adw_leaflet_navigate(ADW_LEAFLET(w->leaflet), ADW_NAVIGATION_DIRECTION_FORWARD);
}

static void on_back(GtkButton *button, gpointer user_data) {
        EvWindow *w = user_data;

        if (g_str_equal(gtk_stack_get_visible_child_name(GTK_STACK(w->content_stack)), "vm"))
                ev_window_show_vm(w, NULL);
        else
                adw_leaflet_navigate(ADW_LEAFLET(w->leaflet), ADW_NAVIGATION_DIRECTION_BACK);
}

static void on_folded(AdwLeaflet *leaflet, GParamSpec *pspec, gpointer user_data) {
        EvWindow *w = user_data;

        gtk_widget_set_visible(w->back, adw_leaflet_get_folded(leaflet) ||
                               g_str_equal(gtk_stack_get_visible_child_name(GTK_STACK(w->content_stack)), "vm"));
}

static void on_vm_activated(GtkListBox *box, GtkListBoxRow *row, gpointer user_data) {
        ev_window_show_vm(user_data, ev_object_name(ev_row_get_object(GTK_WIDGET(row))));
}

static void on_new_vm(GtkButton *button, gpointer user_data) {
        EvWindow *w = user_data;

        if (w->namespace)
                gtk_window_present(GTK_WINDOW(ev_create_dialog_new(w)));
}

/* --- building it --- */

static GtkWidget *build_sidebar(EvWindow *w) {
        GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 0), *header = adw_header_bar_new(), *scrolled;

        adw_header_bar_set_title_widget(ADW_HEADER_BAR(header), adw_window_title_new(_("Projects"), NULL));
        g_object_bind_property(w->leaflet, "folded", header, "show-end-title-buttons", G_BINDING_SYNC_CREATE);
        gtk_box_append(GTK_BOX(box), header);
        w->ns_list = gtk_list_box_new();
        gtk_widget_add_css_class(w->ns_list, "navigation-sidebar");
        gtk_list_box_set_sort_func(GTK_LIST_BOX(w->ns_list), sort_ns, NULL, NULL);
        gtk_accessible_update_property(GTK_ACCESSIBLE(w->ns_list), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Projects"), -1);
        g_signal_connect(w->ns_list, "row-selected", G_CALLBACK(on_ns_selected), w);
        g_signal_connect(w->ns_list, "row-activated", G_CALLBACK(on_ns_activated), w);
        scrolled = gtk_scrolled_window_new();
        gtk_scrolled_window_set_policy(GTK_SCROLLED_WINDOW(scrolled), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
        gtk_scrolled_window_set_child(GTK_SCROLLED_WINDOW(scrolled), w->ns_list);
        gtk_widget_set_vexpand(scrolled, TRUE);
        gtk_box_append(GTK_BOX(box), scrolled);
        gtk_widget_set_size_request(box, 200, -1);
        return box;
}

static GtkWidget *build_menu_button(gboolean primary) {
        g_autoptr(GMenu) menu = g_menu_new();
        GtkWidget *button = gtk_menu_button_new();

        g_menu_append(menu, _("_Keyboard Shortcuts"), "win.show-help-overlay");
        g_menu_append(menu, _("_About edgevirt"), "app.about");
        g_menu_append(menu, _("_Quit"), "app.quit");
        gtk_menu_button_set_menu_model(GTK_MENU_BUTTON(button), G_MENU_MODEL(menu));
        gtk_menu_button_set_icon_name(GTK_MENU_BUTTON(button), "open-menu-symbolic");
        /* F10 opens it; only the main view's (a hidden button's popover cannot open) */
        gtk_menu_button_set_primary(GTK_MENU_BUTTON(button), primary);
        gtk_widget_set_tooltip_text(button, _("Main Menu"));
        gtk_accessible_update_property(GTK_ACCESSIBLE(button), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Main Menu"), -1);
        return button;
}

static void add_view(AdwViewStack *stack, EvObjectList *list, const char *name, const char *title, const char *icon) {
        AdwViewStackPage *page = adw_view_stack_add_titled(stack, ev_object_list_get_widget(list), name, title);

        adw_view_stack_page_set_icon_name(page, icon);
}

static GtkWidget *build_content(EvWindow *w) {
        GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 0), *header = adw_header_bar_new();
        GtkWidget *views = w->views = adw_view_stack_new(), *bar = adw_view_switcher_bar_new();

        w->back = gtk_button_new_from_icon_name("go-previous-symbolic");
        gtk_widget_set_tooltip_text(w->back, _("Back"));
        gtk_accessible_update_property(GTK_ACCESSIBLE(w->back), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Back"), -1);
        g_signal_connect(w->back, "clicked", G_CALLBACK(on_back), w);
        adw_header_bar_pack_start(ADW_HEADER_BAR(header), w->back);
        w->new_vm = gtk_button_new_from_icon_name("list-add-symbolic");
        gtk_widget_set_tooltip_text(w->new_vm, _("New Virtual Machine"));
        gtk_accessible_update_property(GTK_ACCESSIBLE(w->new_vm), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                       _("New Virtual Machine"), -1);
        gtk_actionable_set_action_name(GTK_ACTIONABLE(w->new_vm), "win.new-vm");
        adw_header_bar_pack_start(ADW_HEADER_BAR(header), w->new_vm);
        adw_header_bar_pack_end(ADW_HEADER_BAR(header), build_menu_button(TRUE));
        g_object_bind_property(w->leaflet, "folded", header, "show-start-title-buttons", G_BINDING_SYNC_CREATE);

        add_view(ADW_VIEW_STACK(views), w->vms, "vms", _("Virtual Machines"), "computer-symbolic");
        add_view(ADW_VIEW_STACK(views), w->volumes, "volumes", _("Volumes"), "drive-harddisk-symbolic");
        add_view(ADW_VIEW_STACK(views), w->snapshots, "snapshots", _("Snapshots"), "camera-photo-symbolic");
        w->title = adw_view_switcher_title_new();
        adw_view_switcher_title_set_stack(ADW_VIEW_SWITCHER_TITLE(w->title), ADW_VIEW_STACK(views));
        adw_header_bar_set_title_widget(ADW_HEADER_BAR(header), w->title);
        adw_view_switcher_bar_set_stack(ADW_VIEW_SWITCHER_BAR(bar), ADW_VIEW_STACK(views));
        g_object_bind_property(w->title, "title-visible", bar, "reveal", G_BINDING_SYNC_CREATE);

        w->content_stack = gtk_stack_new();
        gtk_stack_set_transition_type(GTK_STACK(w->content_stack), GTK_STACK_TRANSITION_TYPE_SLIDE_LEFT_RIGHT);
        gtk_stack_add_named(GTK_STACK(w->content_stack), views, "lists");
        w->vm_page = ev_vm_page_new(w);
        gtk_stack_add_named(GTK_STACK(w->content_stack), GTK_WIDGET(w->vm_page), "vm");
        gtk_widget_set_vexpand(w->content_stack, TRUE);
        gtk_box_append(GTK_BOX(box), header);
        gtk_box_append(GTK_BOX(box), w->content_stack);
        gtk_box_append(GTK_BOX(box), bar);
        gtk_widget_set_size_request(box, 360, -1);
        return box;
}

static GtkWidget *build_status(EvWindow *w, GtkWidget *page) {
        GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 0), *header = adw_header_bar_new();

        adw_header_bar_set_title_widget(ADW_HEADER_BAR(header), adw_window_title_new(_("edgevirt"), NULL));
        adw_header_bar_pack_end(ADW_HEADER_BAR(header), build_menu_button(FALSE));
        gtk_widget_set_vexpand(page, TRUE);
        gtk_box_append(GTK_BOX(box), header);
        gtk_box_append(GTK_BOX(box), page);
        return box;
}

static void build_window(EvWindow *w) {
        GtkWidget *connecting = adw_status_page_new(), *separator = gtk_separator_new(GTK_ORIENTATION_VERTICAL);
        GtkWidget *content;

        w->vms = ev_object_list_new("computer-symbolic", _("No Virtual Machines"),
                                    _("Create one with the + button, or apply a VirtualMachine manifest with "
                                      "edgevirtctl."), _("Virtual Machines"), ev_vm_row_new, ev_vm_row_update, w);
        g_signal_connect(ev_object_list_get_listbox(w->vms), "row-activated", G_CALLBACK(on_vm_activated), w);
        w->volumes = ev_volumes_list_new(w);
        w->snapshots = ev_snapshots_list_new(w);

        w->leaflet = adw_leaflet_new();
        adw_leaflet_set_can_navigate_back(ADW_LEAFLET(w->leaflet), TRUE);
        adw_leaflet_append(ADW_LEAFLET(w->leaflet), build_sidebar(w));
        adw_leaflet_page_set_navigatable(adw_leaflet_append(ADW_LEAFLET(w->leaflet), separator), FALSE);
        content = build_content(w);
        adw_leaflet_append(ADW_LEAFLET(w->leaflet), content);
        adw_leaflet_set_visible_child(ADW_LEAFLET(w->leaflet), content);
        g_signal_connect(w->leaflet, "notify::folded", G_CALLBACK(on_folded), w);

        adw_status_page_set_title(ADW_STATUS_PAGE(connecting), _("Connecting…"));
        w->offline_page = adw_status_page_new();
        w->top = gtk_stack_new();
        gtk_stack_add_named(GTK_STACK(w->top), build_status(w, connecting), "connecting");
        gtk_stack_add_named(GTK_STACK(w->top), build_status(w, w->offline_page), "offline");
        gtk_stack_add_named(GTK_STACK(w->top), w->leaflet, "main");
        w->toasts = adw_toast_overlay_new();
        adw_toast_overlay_set_child(ADW_TOAST_OVERLAY(w->toasts), w->top);
        adw_application_window_set_content(ADW_APPLICATION_WINDOW(w), w->toasts);
}

static void on_new_vm_action(GSimpleAction *action, GVariant *param, gpointer user_data) {
        on_new_vm(NULL, user_data);
}

/* Alt+Left: what the Back button does, where it is shown */
static void on_back_action(GSimpleAction *action, GVariant *param, gpointer user_data) {
        EvWindow *w = user_data;

        if (gtk_widget_get_visible(w->back))
                on_back(NULL, w);
}

static void on_close_action(GSimpleAction *action, GVariant *param, gpointer user_data) {
        gtk_window_close(GTK_WINDOW(user_data));
}

/* Alt+1…3: one of the lists, leaving a VM's page */
static void on_view_action(GSimpleAction *action, GVariant *param, gpointer user_data) {
        EvWindow *w = user_data;

        if (!g_str_equal(gtk_stack_get_visible_child_name(GTK_STACK(w->top)), "main"))
                return;
        ev_window_show_vm(w, NULL);
        adw_view_stack_set_visible_child_name(ADW_VIEW_STACK(w->views), g_variant_get_string(param, NULL));
        adw_leaflet_navigate(ADW_LEAFLET(w->leaflet), ADW_NAVIGATION_DIRECTION_FORWARD);
}

static void add_actions(EvWindow *w, GtkApplication *app) {
        static const GActionEntry entries[] = {
                { "new-vm", on_new_vm_action, NULL, NULL, NULL, { 0 } },
                { "back", on_back_action, NULL, NULL, NULL, { 0 } },
                { "close", on_close_action, NULL, NULL, NULL, { 0 } },
                { "view", on_view_action, "s", NULL, NULL, { 0 } },
        };
        static const struct {
                const char *action;
                const char *accels[3];
        } accels[] = {
                { "win.new-vm", { "<Control>n", NULL } },
                { "win.back", { "<Alt>Left", "Back", NULL } },
                { "win.close", { "<Control>w", NULL } },
                { "win.view::vms", { "<Alt>1", NULL } },
                { "win.view::volumes", { "<Alt>2", NULL } },
                { "win.view::snapshots", { "<Alt>3", NULL } },
        };

        g_action_map_add_action_entries(G_ACTION_MAP(w), entries, G_N_ELEMENTS(entries), w);
        for (size_t i = 0; i < G_N_ELEMENTS(accels); i++)
                gtk_application_set_accels_for_action(app, accels[i].action, accels[i].accels);
}

EvWindow *ev_window_new(EvApplication *app) {
        EvWindow *w = g_object_new(EV_TYPE_WINDOW, "application", app, NULL);

        w->client = g_object_ref(ev_application_get_client(app));
        w->settings = ev_application_get_settings(app) ? g_object_ref(ev_application_get_settings(app)) : NULL;
        add_actions(w, GTK_APPLICATION(app));
        gtk_window_set_title(GTK_WINDOW(w), _("edgevirt"));
        gtk_window_set_default_size(GTK_WINDOW(w), 960, 640);
        if (w->settings) {
                g_settings_bind(w->settings, "window-width", w, "default-width", G_SETTINGS_BIND_DEFAULT);
                g_settings_bind(w->settings, "window-height", w, "default-height", G_SETTINGS_BIND_DEFAULT);
                g_settings_bind(w->settings, "window-maximized", w, "maximized", G_SETTINGS_BIND_DEFAULT);
        }
        if (w->settings)
                w->wanted_namespace = g_settings_get_string(w->settings, "last-namespace");
        if (!w->wanted_namespace || !*w->wanted_namespace) {
                g_free(w->wanted_namespace);
                w->wanted_namespace = g_strdup("default");
        }
        build_window(w);
        set_namespace(w, NULL);
        g_signal_connect_object(w->client, "notify::state", G_CALLBACK(on_client_state), w, 0);
        on_client_state(w->client, NULL, w);
        return w;
}

static void ev_window_dispose(GObject *object) {
        EvWindow *w = EV_WINDOW(object);

        disconnect_manager(w);
        g_clear_pointer(&w->vms, ev_object_list_free);
        g_clear_pointer(&w->volumes, ev_object_list_free);
        g_clear_pointer(&w->snapshots, ev_object_list_free);
        g_clear_object(&w->client);
        g_clear_object(&w->settings);
        G_OBJECT_CLASS(ev_window_parent_class)->dispose(object);
}

static void ev_window_finalize(GObject *object) {
        EvWindow *w = EV_WINDOW(object);

        g_free(w->namespace);
        g_free(w->wanted_namespace);
        g_hash_table_unref(w->ns_rows);
        G_OBJECT_CLASS(ev_window_parent_class)->finalize(object);
}

static void ev_window_class_init(EvWindowClass *klass) {
        G_OBJECT_CLASS(klass)->dispose = ev_window_dispose;
        G_OBJECT_CLASS(klass)->finalize = ev_window_finalize;
}

static void ev_window_init(EvWindow *w) {
        w->ns_rows = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
}
