/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Snapshots: the list (each row following its VirtualMachineSnapshot
 * interface), taking one, restoring one, deleting one. */
#include "config.h"

#include <glib/gi18n.h>

#include "ev-manifest.h"
#include "ev-snapshots.h"

typedef struct {
        EvWindow *window;       /* weak */
        char *ns, *name, *vm, *extra;
} Op;

static Op *op_new(EvWindow *w, const char *ns, const char *name, const char *vm) {
        Op *op = g_new0(Op, 1);

        g_set_weak_pointer(&op->window, w);
        op->ns = g_strdup(ns);
        op->name = g_strdup(name);
        op->vm = g_strdup(vm);
        return op;
}

static void op_free(Op *op) {
        g_clear_weak_pointer(&op->window);
        g_free(op->ns);
        g_free(op->name);
        g_free(op->vm);
        g_free(op->extra);
        g_free(op);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Op, op_free)

/* The snapshot's state in words: ready, failed (why), in progress; how
 * it was taken. */
static char *describe(GDBusObject *o) {
        g_autofree char *phase = ev_prop_string(o, EV_IFACE_SNAPSHOT, "Phase");
        g_autofree char *vm = ev_prop_string(o, EV_IFACE_SNAPSHOT, "Source");
        g_autofree char *error = ev_prop_string(o, EV_IFACE_SNAPSHOT, "Error");
        g_autoptr(GVariant) ind = ev_prop(o, EV_IFACE_SNAPSHOT, "Indications");
        g_autoptr(GString) s = g_string_new(NULL);
        g_autofree const char **list = ind && g_variant_is_of_type(ind, G_VARIANT_TYPE_STRING_ARRAY) ?
                                       g_variant_get_strv(ind, NULL) : NULL;

        g_string_append_printf(s, _("Of %s"), vm && *vm ? vm : "?");
        if (g_strcmp0(phase, "Succeeded") == 0 && ev_prop_bool(o, EV_IFACE_SNAPSHOT, "ReadyToUse"))
                g_string_append_printf(s, " · %s", _("Ready"));
        else if (g_strcmp0(phase, "Failed") == 0)
                g_string_append_printf(s, " · %s: %s", _("Failed"), error && *error ? error : _("no reason given"));
        else
                g_string_append_printf(s, " · %s", _("In progress"));
        for (const char **v = list; v && *v; v++) {
                if (g_str_equal(*v, "Online"))
                        g_string_append_printf(s, " · %s", _("taken while running"));
                else if (g_str_equal(*v, "GuestAgent"))
                        g_string_append_printf(s, " · %s", _("file systems frozen by the guest agent"));
                else if (g_str_equal(*v, "NoGuestAgent"))
                        g_string_append_printf(s, " · %s", _("guest paused (no agent)"));
        }
        return g_string_free(g_steal_pointer(&s), FALSE);
}

static void row_update(GtkWidget *row, gpointer user_data) {
        GDBusObject *o = ev_row_get_object(row);
        g_autofree char *text = describe(o);

        adw_action_row_set_subtitle(ADW_ACTION_ROW(row), text);
        g_object_set_data_full(G_OBJECT(row), "ev-vm", ev_prop_string(o, EV_IFACE_SNAPSHOT, "Source"), g_free);
        gtk_accessible_update_property(GTK_ACCESSIBLE(row), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, text, -1);
}

static void on_applied(GObject *source, GAsyncResult *res, gpointer user_data) {
        g_autoptr(Op) op = user_data;
        g_autoptr(GError) e = NULL;
        g_autoptr(GVariant) reply = ev_client_call_finish(EV_CLIENT(source), res, NULL, &e);
        g_autofree char *text = NULL, *why = NULL;

        if (!op->window)
                return;
        if (reply) {
                text = g_strdup_printf(_(op->extra), op->name, op->vm);
                ev_window_toast(op->window, text, FALSE);
                return;
        }
        why = ev_error_text(e);
        text = g_strdup_printf(_("Could not do it for %s: %s"), op->name, why);
        ev_window_toast(op->window, text, TRUE);
}

void ev_snapshot_take(EvWindow *w, const char *ns, const char *vm) {
        g_autoptr(GDateTime) now = g_date_time_new_now_utc();
        g_autofree char *stamp = g_date_time_format(now, "%Y%m%d-%H%M%S");
        g_autofree char *name = g_strdup_printf("%.40s-%s", vm, stamp);
        g_autofree char *doc = ev_manifest_snapshot(ns, name, vm);
        Op *op = op_new(w, ns, name, vm);

        op->extra = g_strdup(N_("Taking snapshot %s of %s"));
        ev_client_apply(ev_window_get_client(w), doc, FALSE, NULL, on_applied, op);
}

static void restore(Op *confirmed) {
        g_autoptr(GDateTime) now = g_date_time_new_now_utc();
        g_autofree char *stamp = g_date_time_format(now, "%Y%m%d-%H%M%S");
        g_autofree char *name = g_strdup_printf("%.40s-restore-%s", confirmed->name, stamp);
        g_autofree char *doc = ev_manifest_restore(confirmed->ns, name, confirmed->vm, confirmed->name);
        Op *op = op_new(confirmed->window, confirmed->ns, confirmed->name, confirmed->vm);

        op->extra = g_strdup(N_("Restoring %s into %s: it waits for the VM to stop"));
        ev_client_apply(ev_window_get_client(confirmed->window), doc, FALSE, NULL, on_applied, op);
}

static void on_stopped_then_restore(GObject *source, GAsyncResult *res, gpointer user_data) {
        g_autoptr(Op) op = user_data;
        g_autoptr(GError) e = NULL;
        g_autoptr(GVariant) reply = ev_client_call_finish(EV_CLIENT(source), res, NULL, &e);

        if (!op->window)
                return;
        if (!reply) {
                g_autofree char *why = ev_error_text(e);
                g_autofree char *text = g_strdup_printf(_("Could not stop %s: %s"), op->vm, why);
                ev_window_toast(op->window, text, TRUE);
                return;
        }
        restore(op);
}

static void on_response(AdwMessageDialog *d, const char *response, gpointer user_data) {
        Op *op = user_data;

        if (op->window && g_str_equal(response, "restore"))
                restore(op);
        if (op->window && g_str_equal(response, "stop-restore")) {
                g_autofree char *path = ev_object_path(op->ns, "vm", op->vm);
                ev_client_call(ev_window_get_client(op->window), path, EV_IFACE_VM, "Stop",
                               g_variant_new("(a{sv})", NULL), NULL, NULL, on_stopped_then_restore,
                               op_new(op->window, op->ns, op->name, op->vm));
        }
        if (op->window && g_str_equal(response, "delete")) {
                Op *del = op_new(op->window, op->ns, op->name, op->vm);
                del->extra = g_strdup(N_("Deleting snapshot %s of %s"));
                ev_client_call(ev_window_get_client(op->window), EV_ROOT_PATH, EV_IFACE_MANAGER, "Delete",
                               g_variant_new("(sssa{sv})", "VirtualMachineSnapshot", op->ns, op->name, NULL), NULL,
                               NULL, on_applied, del);
        }
        op_free(op);
}

static void ask(GtkWidget *row, gboolean delete) {
        EvWindow *w = EV_WINDOW(gtk_widget_get_root(row));
        GDBusObject *o = ev_row_get_object(row);
        const char *vm = g_object_get_data(G_OBJECT(row), "ev-vm"), *name = ev_object_name(o);
        g_autoptr(GDBusObject) vmo = vm ? ev_client_lookup(ev_window_get_client(w), ev_object_namespace(o), "vm", vm)
                                        : NULL;
        gboolean running = vmo && ev_prop_bool(vmo, EV_IFACE_VM, "Created");
        g_autofree char *heading = NULL, *body = NULL;
        AdwMessageDialog *d;

        if (!vm) {
                ev_window_toast(w, _("The snapshot's VM is not known yet"), TRUE);
                return;
        }
        heading = delete ? g_strdup_printf(_("Delete Snapshot %s?"), name)
                         : g_strdup_printf(_("Restore %s from %s?"), vm, name);
        body = delete ? g_strdup(_("The snapshot and its copies of the disks are deleted."))
                      : g_strdup_printf(_("The disks of %s are replaced by the snapshot's copies; what changed "
                                          "since is lost.%s"), vm,
                                        running ? _(" The VM runs: it must be stopped first.") : "");
        d = ADW_MESSAGE_DIALOG(adw_message_dialog_new(GTK_WINDOW(w), heading, body));
        adw_message_dialog_add_response(d, "cancel", _("_Cancel"));
        if (delete)
                adw_message_dialog_add_response(d, "delete", _("_Delete"));
        else
                adw_message_dialog_add_response(d, running ? "stop-restore" : "restore",
                                                running ? _("_Stop and Restore") : _("_Restore"));
        adw_message_dialog_set_response_appearance(d, delete ? "delete" : running ? "stop-restore" : "restore",
                                                   ADW_RESPONSE_DESTRUCTIVE);
        adw_message_dialog_set_default_response(d, "cancel");
        adw_message_dialog_set_close_response(d, "cancel");
        g_signal_connect(d, "response", G_CALLBACK(on_response),
                         op_new(w, ev_object_namespace(o), name, vm));
        gtk_window_present(GTK_WINDOW(d));
}

static void on_restore(GtkButton *b, gpointer row) {
        ask(row, FALSE);
}

static void on_delete(GtkButton *b, gpointer row) {
        ask(row, TRUE);
}

static GtkWidget *icon_button(const char *icon, const char *label_format, const char *name) {
        GtkWidget *b = gtk_button_new_from_icon_name(icon);
        g_autofree char *label = g_strdup_printf(label_format, name);

        gtk_widget_set_valign(b, GTK_ALIGN_CENTER);
        gtk_widget_add_css_class(b, "flat");
        gtk_widget_set_tooltip_text(b, label);
        gtk_accessible_update_property(GTK_ACCESSIBLE(b), GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
        return b;
}

static GtkWidget *row_new(GDBusObject *object, gpointer user_data) {
        GtkWidget *row = adw_action_row_new(), *b;
        const char *name = ev_object_name(object);

        adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), name);
        adw_preferences_row_set_use_markup(ADW_PREFERENCES_ROW(row), FALSE);
        adw_action_row_add_prefix(ADW_ACTION_ROW(row), gtk_image_new_from_icon_name("camera-photo-symbolic"));
        b = icon_button("edit-undo-symbolic", _("Restore from %s"), name);
        g_signal_connect(b, "clicked", G_CALLBACK(on_restore), row);
        adw_action_row_add_suffix(ADW_ACTION_ROW(row), b);
        b = icon_button("user-trash-symbolic", _("Delete snapshot %s"), name);
        g_signal_connect(b, "clicked", G_CALLBACK(on_delete), row);
        adw_action_row_add_suffix(ADW_ACTION_ROW(row), b);
        return row;
}

EvObjectList *ev_snapshots_list_new(EvWindow *w) {
        return ev_object_list_new("camera-photo-symbolic", _("No Snapshots"),
                                  _("Take one from a virtual machine's page."), _("Snapshots"), row_new, row_update,
                                  w);
}
