/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n.h>

#include "ev-volumes.h"

static const char *const phase_words[][2] = {
        { "Pending", N_("Pending") }, { "CloneScheduled", N_("Clone scheduled") },
        { "ImportScheduled", N_("Import scheduled") }, { "ImportInProgress", N_("Importing") },
        { "UploadReady", N_("Ready for upload") }, { "UploadScheduled", N_("Upload scheduled") },
        { "UploadInProgress", N_("Uploading") }, { "Succeeded", N_("Ready") }, { "Failed", N_("Failed") },
        { "Bound", N_("Bound") }, { "Lost", N_("Lost") },
};

const char *ev_datavolume_phase_text(const char *phase) {
        for (size_t i = 0; phase && i < G_N_ELEMENTS(phase_words); i++)
                if (g_str_equal(phase, phase_words[i][0]))
                        return _(phase_words[i][1]);
        return phase && *phase ? phase : _("Unknown");
}

void ev_progress_bar_follow(GtkProgressBar *bar, GDBusObject *dv) {
        double p = ev_prop_double(dv, EV_IFACE_DV, "Progress", -1);
        g_autofree char *phase = ev_prop_string(dv, EV_IFACE_DV, "Phase");
        g_autofree char *text = NULL;

        if (g_strcmp0(phase, "Succeeded") == 0)
                p = 100;
        if (p >= 0) {
                gtk_progress_bar_set_fraction(bar, CLAMP(p / 100.0, 0, 1));
                text = g_strdup_printf(_("%.0f %%"), p);
        } else {
                gtk_progress_bar_pulse(bar);
                text = g_strdup(ev_datavolume_phase_text(phase));
        }
        gtk_progress_bar_set_text(bar, text);
}

static gboolean importing(const char *phase) {
        return phase && (g_str_has_suffix(phase, "Scheduled") || g_str_has_suffix(phase, "InProgress"));
}

static GtkWidget *row_new(GDBusObject *object, gpointer user_data) {
        GtkWidget *row = adw_action_row_new(), *status = gtk_label_new(NULL), *bar = gtk_progress_bar_new();

        adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), ev_object_name(object));
        adw_preferences_row_set_use_markup(ADW_PREFERENCES_ROW(row), FALSE);
        adw_action_row_add_prefix(ADW_ACTION_ROW(row), gtk_image_new_from_icon_name("drive-harddisk-symbolic"));
        gtk_widget_set_valign(bar, GTK_ALIGN_CENTER);
        gtk_widget_set_size_request(bar, 120, -1);
        gtk_progress_bar_set_show_text(GTK_PROGRESS_BAR(bar), TRUE);
        adw_action_row_add_suffix(ADW_ACTION_ROW(row), bar);
        gtk_widget_add_css_class(status, "dim-label");
        adw_action_row_add_suffix(ADW_ACTION_ROW(row), status);
        g_object_set_data(G_OBJECT(row), "ev-status", status);
        g_object_set_data(G_OBJECT(row), "ev-bar", bar);
        g_object_set_data_full(G_OBJECT(row), "ev-name", g_strdup(ev_object_name(object)), g_free);
        return row;
}

static char *claim_facts(GDBusObject *pvc) {
        g_autoptr(GVariant) cap = pvc ? ev_prop(pvc, EV_IFACE_PVC, "Capacity") : NULL;
        g_autoptr(GVariant) req = pvc ? ev_prop(pvc, EV_IFACE_PVC, "RequestedCapacity") : NULL;
        g_autofree char *class = pvc ? ev_prop_string(pvc, EV_IFACE_PVC, "StorageClass") : NULL;
        g_autofree char *size = NULL;
        guint64 bytes = cap ? g_variant_get_uint64(cap) : 0;

        if (!pvc)
                return NULL;
        if (!bytes && req)
                bytes = g_variant_get_uint64(req);
        size = g_format_size_full(bytes, G_FORMAT_SIZE_IEC_UNITS);
        /* TRANSLATORS: a volume's size and its storage class */
        return g_strdup_printf(_("%s in %s"), size, class && *class ? class : _("the default class"));
}

static void row_update(GtkWidget *row, gpointer user_data) {
        EvWindow *w = user_data;
        EvClient *c = ev_window_get_client(w);
        const char *name = g_object_get_data(G_OBJECT(row), "ev-name"), *ns = ev_window_get_namespace(w);
        g_autoptr(GDBusObject) dv = ev_client_lookup(c, ns, "datavolume", name);
        g_autoptr(GDBusObject) pvc = ev_client_lookup(c, ns, "pvc", name);
        GtkWidget *bar = g_object_get_data(G_OBJECT(row), "ev-bar");
        g_autofree char *phase = NULL, *message = NULL, *facts = claim_facts(pvc), *subtitle = NULL;

        if (dv) {
                phase = ev_prop_string(dv, EV_IFACE_DV, "Phase");
                message = ev_prop_string(dv, EV_IFACE_DV, "Message");
        } else if (pvc) {
                phase = ev_prop_string(pvc, EV_IFACE_PVC, "Phase");
                message = ev_prop_string(pvc, EV_IFACE_PVC, "Message");
        }
        gtk_label_set_text(GTK_LABEL(g_object_get_data(G_OBJECT(row), "ev-status")), ev_datavolume_phase_text(phase));
        gtk_widget_set_visible(bar, dv && importing(phase));
        if (dv && importing(phase)) {
                g_autofree char *label = g_strdup_printf(_("Import progress of %s"), name);
                ev_progress_bar_follow(GTK_PROGRESS_BAR(bar), dv);
                gtk_accessible_update_property(GTK_ACCESSIBLE(bar), GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
        }
        if (facts && message && *message)
                subtitle = g_strjoin(" · ", dv ? _("DataVolume") : _("Claim"), facts, message, NULL);
        else
                subtitle = g_strjoin(" · ", dv ? _("DataVolume") : _("Claim"), facts ? facts : message, NULL);
        adw_action_row_set_subtitle(ADW_ACTION_ROW(row), subtitle);
}

EvObjectList *ev_volumes_list_new(EvWindow *w) {
        return ev_object_list_new("drive-harddisk-symbolic", _("No Volumes"),
                                  _("DataVolumes and claims of this project show here: a VM's disks among them."),
                                  _("Volumes"), row_new, row_update, w);
}

void ev_volumes_route(EvObjectList *l, EvClient *c, const char *ns, GDBusObject *object, gboolean removed) {
        const char *name = ev_object_name(object);
        g_autoptr(GDBusObject) dv = ev_client_lookup(c, ns, "datavolume", name);
        g_autoptr(GDBusObject) pvc = ev_client_lookup(c, ns, "pvc", name);
        gboolean is_dv = g_str_equal(ev_object_kind(object), "DataVolume");

        /* the manager drops an object before it says so: what is left */
        if (removed && is_dv)
                g_clear_object(&dv);
        if (removed && !is_dv)
                g_clear_object(&pvc);
        if (!dv && !pvc)
                ev_object_list_remove(l, name);
        else
                ev_object_list_add(l, name, dv ? dv : pvc);
}
