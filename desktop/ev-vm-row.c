/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <stdlib.h>

#include <glib/gi18n.h>

#include "ev-object-list.h"
#include "ev-vm-actions.h"
#include "ev-vm-row.h"
#include "ev-window.h"

static const char *const status_words[][2] = {
        { "Stopped", N_("Stopped") }, { "Provisioning", N_("Provisioning") }, { "Starting", N_("Starting") },
        { "Running", N_("Running") }, { "Paused", N_("Paused") }, { "Stopping", N_("Stopping") },
        { "Terminating", N_("Terminating") }, { "CrashLoopBackOff", N_("Crashing, retrying") },
        { "ErrorUnschedulable", N_("Cannot run here") }, { "ErrorPvcNotFound", N_("Disk claim missing") },
        { "DataVolumeError", N_("Disk import failed") }, { "WaitingForVolumeBinding", N_("Waiting for its disks") },
        { "Unknown", N_("Unknown") },
};

char *ev_vm_status_text(EvClient *c, GDBusObject *vm) {
        g_autofree char *status = ev_prop_string(vm, EV_IFACE_VM, "PrintableStatus");

        if (!status || !*status)
                return g_strdup(_("Unknown"));
        for (size_t i = 0; i < G_N_ELEMENTS(status_words); i++)
                if (g_str_equal(status, status_words[i][0]))
                        return g_strdup(_(status_words[i][1]));
        return g_steal_pointer(&status);
}

gboolean ev_vm_is_running(EvClient *c, GDBusObject *vm) {
        g_autofree char *status = ev_prop_string(vm, EV_IFACE_VM, "PrintableStatus");
        g_autofree char *strategy = ev_prop_string(vm, EV_IFACE_VM, "RunStrategy");

        if (g_strcmp0(status, "Stopped") == 0 || g_strcmp0(status, "Stopping") == 0 ||
            g_strcmp0(status, "Terminating") == 0)
                return FALSE;
        /* Always and RerunOnFailure want an instance: waiting for disks or
         * backing off, it is "on" all the same and Stop applies */
        return ev_prop_bool(vm, EV_IFACE_VM, "Created") || g_strcmp0(strategy, "Always") == 0 ||
               g_strcmp0(strategy, "RerunOnFailure") == 0;
}

/* Does object name vm (its uid) among its owners? */
static gboolean owned_by(GDBusObject *object, const char *uid) {
        g_autoptr(GVariant) owners = ev_prop(object, EV_IFACE_OBJECT, "OwnerReferences");
        GVariantIter i;
        const char *kind, *owner_uid;

        if (!owners || !g_variant_is_of_type(owners, G_VARIANT_TYPE("a(ssss)")))
                return FALSE;
        g_variant_iter_init(&i, owners);
        while (g_variant_iter_next(&i, "(&s&s&s&s)", NULL, &kind, NULL, &owner_uid))
                if (g_str_equal(kind, "VirtualMachine") && g_str_equal(owner_uid, uid))
                        return TRUE;
        return FALSE;
}

/* The DataVolumes of the VM's namespace it owns. */
static GList *owned_datavolumes(EvClient *c, GDBusObject *vm) {
        GDBusObjectManager *m = ev_client_get_manager(c);
        g_autofree char *uid = ev_prop_string(vm, EV_IFACE_OBJECT, "Uid");
        const char *ns = ev_object_namespace(vm);
        GList *objects, *out = NULL;

        if (!m || !uid)
                return NULL;
        objects = g_dbus_object_manager_get_objects(m);
        for (GList *i = objects; i; i = i->next)
                if (g_str_equal(ev_object_kind(i->data), "DataVolume") &&
                    g_str_equal(ev_object_namespace(i->data), ns) && owned_by(i->data, uid))
                        out = g_list_prepend(out, g_object_ref(i->data));
        g_list_free_full(objects, g_object_unref);
        return out;
}

static int compare_strings(const void *a, const void *b) {
        return g_strcmp0(*(char *const *) a, *(char *const *) b);
}

GStrv ev_vm_owned_datavolumes(EvClient *c, GDBusObject *vm) {
        g_autoptr(GStrvBuilder) b = g_strv_builder_new();
        GList *dvs = owned_datavolumes(c, vm);
        GStrv out;

        for (GList *i = dvs; i; i = i->next)
                g_strv_builder_add(b, ev_object_name(i->data));
        g_list_free_full(dvs, g_object_unref);
        out = g_strv_builder_end(b);
        qsort(out, g_strv_length(out), sizeof(char *), compare_strings);
        return out;
}

gboolean ev_vm_import_progress(EvClient *c, GDBusObject *vm, double *percent, char **phase) {
        GList *dvs = owned_datavolumes(c, vm);
        double sum = 0;
        int importing = 0;
        gboolean unknown = FALSE;

        for (GList *i = dvs; i; i = i->next) {
                g_autofree char *p = ev_prop_string(i->data, EV_IFACE_DV, "Phase");
                double v = ev_prop_double(i->data, EV_IFACE_DV, "Progress", -1);

                if (!p || g_str_equal(p, "Succeeded") || g_str_equal(p, "Failed"))
                        continue;
                if (importing++ == 0 && phase)
                        *phase = g_strdup(p);
                if (v < 0)
                        unknown = TRUE;
                sum += MAX(v, 0);
        }
        g_list_free_full(dvs, g_object_unref);
        if (importing == 0)
                return FALSE;
        if (percent)
                *percent = unknown ? -1 : sum / importing;
        return TRUE;
}

static char *join_addresses(GDBusObject *vmi) {
        g_autoptr(GVariant) ips = ev_prop(vmi, EV_IFACE_VMI, "IPAddresses");
        g_autofree const char **list = NULL;

        if (!ips || !g_variant_is_of_type(ips, G_VARIANT_TYPE_STRING_ARRAY) || g_variant_n_children(ips) == 0)
                return NULL;
        list = g_variant_get_strv(ips, NULL);
        return g_strjoinv(", ", (char **) list);
}

char *ev_vm_facts_text(EvClient *c, GDBusObject *vm) {
        g_autoptr(GDBusObject) vmi = ev_client_lookup(c, ev_object_namespace(vm), "vmi", ev_object_name(vm));
        g_autoptr(GPtrArray) parts = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GVariant) os = vmi ? ev_prop(vmi, EV_IFACE_VMI, "GuestOS") : NULL;
        g_autofree char *phase = NULL;
        const char *pretty = NULL;
        double percent;
        char *ips;

        if (ev_vm_import_progress(c, vm, &percent, &phase))
                g_ptr_array_add(parts, percent >= 0 ? g_strdup_printf(_("Importing its disk: %.0f %%"), percent)
                                                    : g_strdup(_("Importing its disk")));
        if (vmi && (ips = join_addresses(vmi)))
                g_ptr_array_add(parts, ips);
        if (os && g_variant_is_of_type(os, G_VARIANT_TYPE("a{ss}")) &&
            (g_variant_lookup(os, "prettyName", "&s", &pretty) || g_variant_lookup(os, "name", "&s", &pretty)) &&
            *pretty)
                g_ptr_array_add(parts, g_strdup(pretty));
        if (vmi && ev_prop_bool(vmi, EV_IFACE_VMI, "AgentConnected"))
                g_ptr_array_add(parts, g_strdup(_("guest agent connected")));
        g_ptr_array_add(parts, NULL);
        return g_strjoinv(" · ", (char **) parts->pdata);
}

static void on_toggle(GtkButton *button, gpointer user_data) {
        GtkWidget *row = user_data;
        EvWindow *w = EV_WINDOW(gtk_widget_get_root(row));
        GDBusObject *vm = ev_row_get_object(row);

        ev_vm_action(w, ev_object_namespace(vm), ev_object_name(vm),
                     ev_vm_is_running(ev_window_get_client(w), vm) ? "stop" : "start");
}

static void on_open(GtkButton *button, gpointer user_data) {
        GtkWidget *row = user_data;

        ev_window_show_vm(EV_WINDOW(gtk_widget_get_root(row)), ev_object_name(ev_row_get_object(row)));
}

GtkWidget *ev_vm_row_new(GDBusObject *object, gpointer window) {
        GtkWidget *row = adw_action_row_new(), *status = gtk_label_new(NULL), *toggle = gtk_button_new();
        GtkWidget *open = gtk_button_new_from_icon_name("go-next-symbolic");
        g_autofree char *open_label = g_strdup_printf(_("Open %s"), ev_object_name(object));

        adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), ev_object_name(object));
        adw_preferences_row_set_use_markup(ADW_PREFERENCES_ROW(row), FALSE);
        gtk_list_box_row_set_activatable(GTK_LIST_BOX_ROW(row), TRUE);
        adw_action_row_add_prefix(ADW_ACTION_ROW(row), gtk_image_new_from_icon_name("computer-symbolic"));
        gtk_widget_add_css_class(status, "dim-label");
        adw_action_row_add_suffix(ADW_ACTION_ROW(row), status);
        gtk_widget_set_valign(toggle, GTK_ALIGN_CENTER);
        gtk_widget_add_css_class(toggle, "flat");
        g_signal_connect(toggle, "clicked", G_CALLBACK(on_toggle), row);
        adw_action_row_add_suffix(ADW_ACTION_ROW(row), toggle);
        /* the row activates too; the button is what keyboards and screen
         * readers reach (GTK 4.8 gives list rows no accessible action) */
        gtk_widget_set_valign(open, GTK_ALIGN_CENTER);
        gtk_widget_add_css_class(open, "flat");
        gtk_widget_set_tooltip_text(open, open_label);
        gtk_accessible_update_property(GTK_ACCESSIBLE(open), GTK_ACCESSIBLE_PROPERTY_LABEL, open_label, -1);
        g_signal_connect(open, "clicked", G_CALLBACK(on_open), row);
        adw_action_row_add_suffix(ADW_ACTION_ROW(row), open);
        g_object_set_data(G_OBJECT(row), "ev-status", status);
        g_object_set_data(G_OBJECT(row), "ev-toggle", toggle);
        return row;
}

void ev_vm_row_update(GtkWidget *row, gpointer window) {
        EvClient *c = ev_window_get_client(window);
        GDBusObject *vm = ev_row_get_object(row);
        GtkWidget *toggle = g_object_get_data(G_OBJECT(row), "ev-toggle");
        g_autofree char *status = ev_vm_status_text(c, vm), *facts = ev_vm_facts_text(c, vm), *label = NULL;
        gboolean running = ev_vm_is_running(c, vm);

        gtk_label_set_text(GTK_LABEL(g_object_get_data(G_OBJECT(row), "ev-status")), status);
        adw_action_row_set_subtitle(ADW_ACTION_ROW(row), facts);
        gtk_button_set_icon_name(GTK_BUTTON(toggle), running ? "media-playback-stop-symbolic"
                                                             : "media-playback-start-symbolic");
        /* TRANSLATORS: the accessible name of a button; %s is a VM */
        label = g_strdup_printf(running ? _("Stop %s") : _("Start %s"), ev_object_name(vm));
        gtk_widget_set_tooltip_text(toggle, label);
        gtk_accessible_update_property(GTK_ACCESSIBLE(toggle), GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
        gtk_accessible_update_property(GTK_ACCESSIBLE(row), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, status, -1);
}
