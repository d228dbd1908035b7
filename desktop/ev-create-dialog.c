/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <glib/gi18n.h>

#include "ev-create-dialog.h"
#include "ev-manifest.h"
#include "ev-volumes.h"
#include "ev-widgets.h"

struct _EvCreateDialog {
        AdwWindow parent;
        EvWindow *window;               /* weak */
        EvClient *client;
        GtkWidget *stack;               /* "form", "progress" */
        GtkWidget *create, *cancel;
        GtkWidget *fields[EV_N_FIELDS];
        GtkWidget *errors[EV_N_FIELDS];
        GtkWidget *source[3];           /* toggle buttons, in EvDiskSource's order */
        GtkWidget *ns_combo, *type_combo, *start;
        GPtrArray *type_choices;        /* TypeChoice, the type list's entries after "Custom" */
        GtkStringList *namespaces, *types;
        GtkTextBuffer *user_data;
        /* the progress view */
        GtkWidget *progress_page, *bar, *phase;
        char *vm, *ns, *file;
        gboolean uploaded;              /* handed over (or being) since the phase was last UploadReady */
        gboolean upload_left_ready;     /* the phase moved on after the hand-over */
        gulong handler;
        GDBusObjectManager *manager;
        GCancellable *cancellable;
};

G_DEFINE_TYPE(EvCreateDialog, ev_create_dialog, ADW_TYPE_WINDOW)

/* --- errors next to their fields --- */

static void clear_errors(EvCreateDialog *d) {
        for (int f = 0; f < EV_N_FIELDS; f++) {
                if (d->errors[f])
                        gtk_widget_set_visible(d->errors[f], FALSE);
                if (d->fields[f]) {
                        gtk_widget_remove_css_class(d->fields[f], "error");
                        gtk_accessible_reset_state(GTK_ACCESSIBLE(d->fields[f]), GTK_ACCESSIBLE_STATE_INVALID);
                }
        }
}

/* A row right below its field's, shown with the field's error: in view
 * whenever the field is. */
static GtkWidget *error_row_new(void) {
        GtkWidget *row = adw_action_row_new();

        adw_preferences_row_set_use_markup(ADW_PREFERENCES_ROW(row), FALSE);
        adw_action_row_set_title_lines(ADW_ACTION_ROW(row), 0);
        gtk_list_box_row_set_activatable(GTK_LIST_BOX_ROW(row), FALSE);
        gtk_widget_add_css_class(row, "error");
        gtk_widget_set_visible(row, FALSE);
        return row;
}

static void show_error(EvCreateDialog *d, EvField f, const char *message) {
        GtkWidget *label = d->errors[f] ? d->errors[f] : d->errors[EV_FIELD_NONE];

        if (GTK_IS_LABEL(label))
                gtk_label_set_text(GTK_LABEL(label), message);
        else
                adw_preferences_row_set_title(ADW_PREFERENCES_ROW(label), message);
        gtk_widget_set_visible(label, TRUE);
        if (d->fields[f]) {
                gtk_widget_add_css_class(d->fields[f], "error");
                gtk_accessible_update_state(GTK_ACCESSIBLE(d->fields[f]), GTK_ACCESSIBLE_STATE_INVALID,
                                            GTK_ACCESSIBLE_INVALID_TRUE, -1);
                gtk_accessible_update_relation(GTK_ACCESSIBLE(d->fields[f]), GTK_ACCESSIBLE_RELATION_DESCRIBED_BY,
                                               label, NULL, -1);
                gtk_widget_grab_focus(d->fields[f]);
        }
}

/* --- reading the form --- */

static const char *entry_text(EvCreateDialog *d, EvField f) {
        return gtk_editable_get_text(GTK_EDITABLE(d->fields[f]));
}

static EvDiskSource source_of(EvCreateDialog *d) {
        for (int i = 0; i < 3; i++)
                if (gtk_toggle_button_get_active(GTK_TOGGLE_BUTTON(d->source[i])))
                        return (EvDiskSource) i;
        return EV_DISK_URL;
}

static void on_source_changed(GObject *row, GParamSpec *pspec, gpointer user_data) {
        EvCreateDialog *d = user_data;
        EvDiskSource s = source_of(d);

        gtk_widget_set_visible(d->fields[EV_FIELD_URL], s == EV_DISK_URL);
        gtk_widget_set_visible(d->fields[EV_FIELD_FILE], s == EV_DISK_UPLOAD);
        gtk_widget_set_visible(d->fields[EV_FIELD_IMAGE], s == EV_DISK_CONTAINER);
        gtk_widget_set_visible(d->fields[EV_FIELD_DISK_SIZE], s != EV_DISK_CONTAINER);
}

static void on_type_changed(GObject *row, GParamSpec *pspec, gpointer user_data) {
        EvCreateDialog *d = user_data;
        gboolean custom = adw_combo_row_get_selected(ADW_COMBO_ROW(d->type_combo)) == 0;

        gtk_widget_set_visible(d->fields[EV_FIELD_CPUS], custom);
        gtk_widget_set_visible(d->fields[EV_FIELD_MEMORY], custom);
}

static char *selected_string(GtkWidget *combo) {
        GObject *item = adw_combo_row_get_selected_item(ADW_COMBO_ROW(combo));

        return item ? g_strdup(gtk_string_object_get_string(GTK_STRING_OBJECT(item))) : NULL;
}

/* An instance type the list offers, for the project chosen. */
typedef struct {
        char *name;
        gboolean cluster;
} TypeChoice;

static void type_choice_free(TypeChoice *t) {
        g_free(t->name);
        g_free(t);
}

/* The instance type chosen: "" for custom. */
static char *instancetype_of(EvCreateDialog *d, gboolean *cluster) {
        guint i = adw_combo_row_get_selected(ADW_COMBO_ROW(d->type_combo));
        TypeChoice *t = i > 0 && i - 1 < d->type_choices->len ? d->type_choices->pdata[i - 1] : NULL;

        *cluster = t && t->cluster;
        return g_strdup(t ? t->name : "");
}

/* --- the progress view: the DataVolume followed, the upload fed --- */

static void on_upload_done(GObject *source, GAsyncResult *res, gpointer user_data) {
        g_autoptr(EvCreateDialog) d = user_data;
        g_autoptr(GError) e = NULL;
        g_autoptr(GVariant) reply = ev_client_call_finish(EV_CLIENT(source), res, NULL, &e);

        if (!reply && !g_error_matches(e, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
                g_autofree char *why = ev_error_text(e);
                /* sent again when the volume is (again) ready for it: after a
                 * restart of the daemon, or once it has room for the upload */
                d->uploaded = FALSE;
                g_autofree char *text = g_strdup_printf(_("The upload was refused: %s"), why);
                gtk_label_set_text(GTK_LABEL(d->phase), text);
        }
}

static void upload(EvCreateDialog *d, GDBusObject *dv) {
        g_autoptr(GUnixFDList) fds = g_unix_fd_list_new();
        g_autoptr(GError) e = NULL;
        int fd = open(d->file, O_RDONLY | O_CLOEXEC), handle;

        d->uploaded = TRUE;
        if (fd < 0 || (handle = g_unix_fd_list_append(fds, fd, &e)) < 0) {
                g_autofree char *text = g_strdup_printf(_("Cannot read %s: %s"), d->file,
                                                        fd < 0 ? g_strerror(errno) : e->message);
                gtk_label_set_text(GTK_LABEL(d->phase), text);
                if (fd >= 0)
                        close(fd);
                return;
        }
        close(fd);      /* the list holds a duplicate */
        ev_client_call(d->client, g_dbus_object_get_object_path(dv), EV_IFACE_DV, "Upload",
                       g_variant_new("(ha{sv})", handle, NULL), fds, d->cancellable, on_upload_done,
                       g_object_ref(d));
}

static void follow(EvCreateDialog *d) {
        g_autofree char *name = ev_manifest_disk_name(d->vm);
        g_autoptr(GDBusObject) dv = ev_client_lookup(d->client, d->ns, "datavolume", name);
        g_autofree char *phase = dv ? ev_prop_string(dv, EV_IFACE_DV, "Phase") : NULL;
        g_autofree char *message = dv ? ev_prop_string(dv, EV_IFACE_DV, "Message") : NULL;
        g_autofree char *text = NULL;

        if (!dv)
                return;
        ev_progress_bar_follow(GTK_PROGRESS_BAR(d->bar), dv);
        /* a restarted daemon puts an upload it was reading back to UploadReady:
         * the file goes again */
        if (d->uploaded && phase && g_strcmp0(phase, "UploadReady") != 0)
                d->upload_left_ready = TRUE;
        if (g_strcmp0(phase, "UploadReady") == 0 && d->file && (!d->uploaded || d->upload_left_ready)) {
                d->upload_left_ready = FALSE;
                upload(d, dv);
        }
        if (g_strcmp0(phase, "Succeeded") == 0) {
                text = g_strdup_printf(_("The disk of %s is ready"), d->vm);
                if (d->window)
                        ev_window_toast(d->window, text, FALSE);
                gtk_window_destroy(GTK_WINDOW(d));
                return;
        }
        text = message && *message ? g_strdup_printf("%s: %s", ev_datavolume_phase_text(phase), message)
                                   : g_strdup(ev_datavolume_phase_text(phase));
        gtk_label_set_text(GTK_LABEL(d->phase), text);
}

static void on_changed(GDBusObjectManagerClient *m, GDBusObjectProxy *o, GDBusProxy *iface, GVariant *changed,
                       const char *const *invalidated, gpointer user_data) {
        follow(user_data);
}

static void on_added(GDBusObjectManager *m, GDBusObject *o, gpointer user_data) {
        follow(user_data);
}

static void show_progress(EvCreateDialog *d) {
        g_autofree char *title = g_strdup_printf(_("Creating %s"), d->vm);

        adw_status_page_set_title(ADW_STATUS_PAGE(d->progress_page), title);
        gtk_stack_set_visible_child_name(GTK_STACK(d->stack), "progress");
        gtk_widget_set_visible(d->create, FALSE);
        ev_mnemonic_button_set_label(d->cancel, _("_Close"));
        /* an upload is this window's to send: closing it first leaves the disk
         * waiting (edgevirtctl image-upload --no-create can send it then) */
        gtk_widget_set_tooltip_text(d->cancel, d->file ? _("The upload needs this window until it has begun")
                                                       : _("The import goes on without this window"));
        d->manager = g_object_ref(ev_client_get_manager(d->client));
        d->handler = g_signal_connect(d->manager, "interface-proxy-properties-changed", G_CALLBACK(on_changed), d);
        g_signal_connect_object(d->manager, "object-added", G_CALLBACK(on_added), d, 0);
        follow(d);
}

/* --- creating --- */

static void on_applied(GObject *source, GAsyncResult *res, gpointer user_data) {
        g_autoptr(EvCreateDialog) d = user_data;
        g_autoptr(GError) e = NULL;
        g_autoptr(GVariant) reply = ev_client_call_finish(EV_CLIENT(source), res, NULL, &e);
        g_autofree char *text = NULL;
        const char *rest;

        if (g_error_matches(e, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                return;
        gtk_widget_set_sensitive(d->create, TRUE);
        if (!reply) {
                g_autofree char *why = ev_error_text(e);
                EvField f = ev_manifest_field_of(why, &rest);
                show_error(d, f, rest);
                return;
        }
        if (source_of(d) == EV_DISK_CONTAINER) {
                text = g_strdup_printf(_("Created %s"), d->vm);
                if (d->window)
                        ev_window_toast(d->window, text, FALSE);
                gtk_window_destroy(GTK_WINDOW(d));
                return;
        }
        show_progress(d);
}

static void on_create(GtkButton *b, gpointer user_data) {
        EvCreateDialog *d = user_data;
        g_autoptr(GError) e = NULL;
        g_autofree char *ns = selected_string(d->ns_combo), *type = NULL, *user_data_text = NULL, *doc = NULL;
        GtkTextIter start, end;
        EvVmSpec spec = { 0 };

        clear_errors(d);
        gtk_text_buffer_get_bounds(d->user_data, &start, &end);
        user_data_text = gtk_text_buffer_get_text(d->user_data, &start, &end, FALSE);
        type = instancetype_of(d, &spec.cluster_instancetype);
        spec.name = entry_text(d, EV_FIELD_NAME);
        spec.ns = ns;
        spec.source = source_of(d);
        spec.url = entry_text(d, EV_FIELD_URL);
        spec.file = entry_text(d, EV_FIELD_FILE);
        spec.image = entry_text(d, EV_FIELD_IMAGE);
        spec.disk_size = entry_text(d, EV_FIELD_DISK_SIZE);
        spec.instancetype = type;
        spec.cpus = (guint) gtk_spin_button_get_value_as_int(GTK_SPIN_BUTTON(g_object_get_data(
                G_OBJECT(d->fields[EV_FIELD_CPUS]), "ev-spin")));
        spec.memory = entry_text(d, EV_FIELD_MEMORY);
        spec.ssh_key = entry_text(d, EV_FIELD_SSH_KEY);
        spec.user_data = user_data_text;
        spec.start = gtk_switch_get_active(GTK_SWITCH(d->start));
        doc = ev_manifest_build(&spec, &e);
        if (!doc) {
                show_error(d, (EvField) e->code, e->message);
                return;
        }
        g_free(d->vm);
        g_free(d->ns);
        g_free(d->file);
        d->vm = g_strdup(spec.name);
        d->ns = g_strdup(ns);
        d->file = spec.source == EV_DISK_UPLOAD ? g_strdup(spec.file) : NULL;
        gtk_widget_set_sensitive(d->create, FALSE);
        ev_client_apply(d->client, doc, FALSE, d->cancellable, on_applied, g_object_ref(d));
}

/* --- the form --- */

static GtkWidget *add_group(GtkWidget *page, const char *title, const char *description) {
        GtkWidget *g = adw_preferences_group_new();

        adw_preferences_group_set_title(ADW_PREFERENCES_GROUP(g), title);
        if (description)
                adw_preferences_group_set_description(ADW_PREFERENCES_GROUP(g), description);
        adw_preferences_page_add(ADW_PREFERENCES_PAGE(page), ADW_PREFERENCES_GROUP(g));
        return g;
}

/* The field's row and, right below it, the row for its errors. */
static void add_field(EvCreateDialog *d, GtkWidget *group, EvField f, GtkWidget *row, const char *title) {
        GtkWidget *error = error_row_new();

        /* the row's title labels it for screen readers already */
        adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), title);
        adw_preferences_group_add(ADW_PREFERENCES_GROUP(group), row);
        adw_preferences_group_add(ADW_PREFERENCES_GROUP(group), error);
        d->fields[f] = row;
        d->errors[f] = error;
}

static GtkWidget *entry_row(EvCreateDialog *d, GtkWidget *group, EvField f, const char *title, const char *text) {
        GtkWidget *row = adw_entry_row_new();

        if (text)
                gtk_editable_set_text(GTK_EDITABLE(row), text);
        adw_entry_row_set_activates_default(ADW_ENTRY_ROW(row), TRUE);
        add_field(d, group, f, row, title);
        return row;
}

static void on_file_chosen(GtkNativeDialog *chooser, int response, gpointer user_data) {
        EvCreateDialog *d = user_data;
        g_autoptr(GFile) file = NULL;
        g_autofree char *path = NULL;

        if (response == GTK_RESPONSE_ACCEPT && (file = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(chooser))) &&
            (path = g_file_get_path(file)))
                gtk_editable_set_text(GTK_EDITABLE(d->fields[EV_FIELD_FILE]), path);
        g_object_unref(chooser);
}

static void on_choose_file(GtkButton *b, gpointer user_data) {
        EvCreateDialog *d = user_data;
        GtkFileChooserNative *chooser = gtk_file_chooser_native_new(_("Choose a Disk Image"), GTK_WINDOW(d),
                                                                    GTK_FILE_CHOOSER_ACTION_OPEN, _("_Open"),
                                                                    _("_Cancel"));

        gtk_native_dialog_set_modal(GTK_NATIVE_DIALOG(chooser), TRUE);
        g_signal_connect(chooser, "response", G_CALLBACK(on_file_chosen), d);
        gtk_native_dialog_show(GTK_NATIVE_DIALOG(chooser));
}

static GtkWidget *combo_row(const char *const *items, GtkStringList **model_out) {
        GtkWidget *row = adw_combo_row_new();
        GtkStringList *model = gtk_string_list_new(items);

        adw_combo_row_set_model(ADW_COMBO_ROW(row), G_LIST_MODEL(model));
        if (model_out)
                *model_out = model;
        else
                g_object_unref(model);
        return row;
}

static int compare_strings(gconstpointer a, gconstpointer b) {
        return g_strcmp0(*(char *const *) a, *(char *const *) b);
}

static int compare_choices(gconstpointer a, gconstpointer b) {
        const TypeChoice *x = *(TypeChoice *const *) a, *y = *(TypeChoice *const *) b;

        return x->cluster != y->cluster ? x->cluster - y->cluster : g_strcmp0(x->name, y->name);
}

/* The instance types for project ns: its own, then the cluster's. */
static void fill_types(EvCreateDialog *d, const char *ns) {
        GDBusObjectManager *m = ev_client_get_manager(d->client);
        GList *objects = m ? g_dbus_object_manager_get_objects(m) : NULL;
        guint n = g_list_model_get_n_items(G_LIST_MODEL(d->types));

        g_ptr_array_set_size(d->type_choices, 0);
        for (GList *i = objects; i; i = i->next) {
                const char *kind = ev_object_kind(i->data);
                gboolean cluster = g_str_equal(kind, "VirtualMachineClusterInstancetype");
                if (cluster || (g_str_equal(kind, "VirtualMachineInstancetype") &&
                                g_strcmp0(ev_object_namespace(i->data), ns) == 0)) {
                        TypeChoice *t = g_new0(TypeChoice, 1);
                        t->name = g_strdup(ev_object_name(i->data));
                        t->cluster = cluster;
                        g_ptr_array_add(d->type_choices, t);
                }
        }
        g_list_free_full(objects, g_object_unref);
        g_ptr_array_sort(d->type_choices, compare_choices);
        adw_combo_row_set_selected(ADW_COMBO_ROW(d->type_combo), 0);
        gtk_string_list_splice(d->types, 1, n - 1, NULL);
        for (guint i = 0; i < d->type_choices->len; i++) {
                TypeChoice *t = d->type_choices->pdata[i];
                g_autofree char *label = t->cluster ? g_strdup_printf(_("%s (cluster)"), t->name) : NULL;
                gtk_string_list_append(d->types, label ? label : t->name);
        }
}

static void on_namespace_changed(GObject *row, GParamSpec *pspec, gpointer user_data) {
        EvCreateDialog *d = user_data;
        g_autofree char *ns = selected_string(d->ns_combo);

        fill_types(d, ns);
}

static void fill_lists(EvCreateDialog *d, const char *current) {
        GDBusObjectManager *m = ev_client_get_manager(d->client);
        GList *objects = m ? g_dbus_object_manager_get_objects(m) : NULL;
        g_autoptr(GPtrArray) ns = g_ptr_array_new_with_free_func(g_free);

        for (GList *i = objects; i; i = i->next)
                if (g_str_equal(ev_object_kind(i->data), "Namespace"))
                        g_ptr_array_add(ns, g_strdup(ev_object_name(i->data)));
        g_list_free_full(objects, g_object_unref);
        g_ptr_array_sort(ns, compare_strings);
        for (guint i = 0; i < ns->len; i++) {
                gtk_string_list_append(d->namespaces, ns->pdata[i]);
                if (g_strcmp0(ns->pdata[i], current) == 0)
                        adw_combo_row_set_selected(ADW_COMBO_ROW(d->ns_combo), i);
        }
        on_namespace_changed(NULL, NULL, d);
        g_signal_connect(d->ns_combo, "notify::selected", G_CALLBACK(on_namespace_changed), d);
}

/* The source: three linked toggle buttons in a row (buttons, which
 * keyboards and assistive technology operate alike). */
static void add_source_rows(EvCreateDialog *d, GtkWidget *group) {
        static const char *const sources[] = { N_("_URL"), N_("_Local File"), N_("Co_ntainer Disk") };
        GtkWidget *row = adw_action_row_new(), *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 0);

        gtk_widget_add_css_class(box, "linked");
        gtk_widget_set_valign(box, GTK_ALIGN_CENTER);
        for (size_t i = 0; i < G_N_ELEMENTS(sources); i++) {
                GtkWidget *b = gtk_toggle_button_new();

                ev_mnemonic_button_set_label(b, _(sources[i]));
                if (i > 0)
                        gtk_toggle_button_set_group(GTK_TOGGLE_BUTTON(b), GTK_TOGGLE_BUTTON(d->source[0]));
                gtk_toggle_button_set_active(GTK_TOGGLE_BUTTON(b), i == 0);
                g_signal_connect(b, "notify::active", G_CALLBACK(on_source_changed), d);
                gtk_box_append(GTK_BOX(box), b);
                d->source[i] = b;
        }
        adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), _("Source"));
        adw_action_row_add_suffix(ADW_ACTION_ROW(row), box);
        adw_preferences_group_add(ADW_PREFERENCES_GROUP(group), row);
}

static GtkWidget *build_form(EvCreateDialog *d) {
        const char *custom[] = { _("Custom: CPUs and memory"), NULL };
        GtkWidget *page = adw_preferences_page_new(), *g, *row, *spin, *choose, *view, *frame, *general;

        general = error_row_new();      /* what names no field */
        d->errors[EV_FIELD_NONE] = general;

        g = add_group(page, _("Virtual Machine"), NULL);
        adw_preferences_group_add(ADW_PREFERENCES_GROUP(g), general);
        entry_row(d, g, EV_FIELD_NAME, _("Name"), NULL);
        d->namespaces = gtk_string_list_new(NULL);
        d->ns_combo = adw_combo_row_new();
        adw_combo_row_set_model(ADW_COMBO_ROW(d->ns_combo), G_LIST_MODEL(d->namespaces));
        add_field(d, g, EV_FIELD_NAMESPACE, d->ns_combo, _("Project"));

        g = add_group(page, _("Disk"), _("The VM boots from it. An image is imported into a DataVolume the VM "
                                         "owns; a container disk is read from its registry at each start."));
        add_source_rows(d, g);
        entry_row(d, g, EV_FIELD_URL, _("Image URL"), NULL);
        row = entry_row(d, g, EV_FIELD_FILE, _("Image file"), NULL);
        choose = gtk_button_new_from_icon_name("document-open-symbolic");
        gtk_widget_set_valign(choose, GTK_ALIGN_CENTER);
        gtk_widget_add_css_class(choose, "flat");
        gtk_widget_set_tooltip_text(choose, _("Choose an Image File"));
        gtk_accessible_update_property(GTK_ACCESSIBLE(choose), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                       _("Choose an Image File"), -1);
        g_signal_connect(choose, "clicked", G_CALLBACK(on_choose_file), d);
        adw_entry_row_add_suffix(ADW_ENTRY_ROW(row), choose);
        entry_row(d, g, EV_FIELD_IMAGE, _("Container image"), NULL);
        entry_row(d, g, EV_FIELD_DISK_SIZE, _("Disk size"), "10Gi");

        g = add_group(page, _("Size"), NULL);
        d->type_combo = combo_row(custom, &d->types);
        add_field(d, g, EV_FIELD_INSTANCETYPE, d->type_combo, _("Instance type"));
        g_signal_connect(d->type_combo, "notify::selected", G_CALLBACK(on_type_changed), d);
        row = adw_action_row_new();
        spin = gtk_spin_button_new_with_range(1, 64, 1);
        gtk_widget_set_valign(spin, GTK_ALIGN_CENTER);
        adw_action_row_add_suffix(ADW_ACTION_ROW(row), spin);
        adw_action_row_set_activatable_widget(ADW_ACTION_ROW(row), spin);
        g_object_set_data(G_OBJECT(row), "ev-spin", spin);
        add_field(d, g, EV_FIELD_CPUS, row, _("CPUs"));
        entry_row(d, g, EV_FIELD_MEMORY, _("Memory"), "1Gi");

        g = add_group(page, _("Access"), _("Both reach the guest through cloud-init: the image must have it."));
        entry_row(d, g, EV_FIELD_SSH_KEY, _("SSH public key"), NULL);
        view = gtk_text_view_new();
        d->user_data = gtk_text_view_get_buffer(GTK_TEXT_VIEW(view));
        gtk_text_view_set_monospace(GTK_TEXT_VIEW(view), TRUE);
        gtk_widget_set_size_request(view, -1, 96);
        gtk_accessible_update_property(GTK_ACCESSIBLE(view), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                       _("Cloud-init user data"), -1);
        frame = gtk_frame_new(_("Cloud-init user data"));
        gtk_frame_set_child(GTK_FRAME(frame), view);
        gtk_widget_set_margin_top(frame, 12);
        adw_preferences_group_add(ADW_PREFERENCES_GROUP(g), frame);
        d->errors[EV_FIELD_USER_DATA] = gtk_label_new(NULL);
        gtk_widget_add_css_class(d->errors[EV_FIELD_USER_DATA], "error");
        gtk_widget_set_visible(d->errors[EV_FIELD_USER_DATA], FALSE);
        adw_preferences_group_add(ADW_PREFERENCES_GROUP(g), d->errors[EV_FIELD_USER_DATA]);
        d->fields[EV_FIELD_USER_DATA] = view;

        g = add_group(page, NULL, NULL);
        row = adw_action_row_new();
        d->start = gtk_switch_new();
        gtk_switch_set_active(GTK_SWITCH(d->start), TRUE);
        gtk_widget_set_valign(d->start, GTK_ALIGN_CENTER);
        adw_action_row_add_suffix(ADW_ACTION_ROW(row), d->start);
        adw_action_row_set_activatable_widget(ADW_ACTION_ROW(row), d->start);
        adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), _("Start it"));
        adw_action_row_set_subtitle(ADW_ACTION_ROW(row), _("Once its disk is there"));
        adw_preferences_group_add(ADW_PREFERENCES_GROUP(g), row);
        on_source_changed(NULL, NULL, d);
        on_type_changed(NULL, NULL, d);
        return page;
}

static GtkWidget *build_progress(EvCreateDialog *d) {
        GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 12), *clamp = adw_clamp_new();

        d->progress_page = adw_status_page_new();
        adw_status_page_set_icon_name(ADW_STATUS_PAGE(d->progress_page), "drive-harddisk-symbolic");
        adw_status_page_set_description(ADW_STATUS_PAGE(d->progress_page),
                                        _("Its disk is being filled. The VM starts once it is done, if it should."));
        d->bar = gtk_progress_bar_new();
        gtk_progress_bar_set_show_text(GTK_PROGRESS_BAR(d->bar), TRUE);
        gtk_accessible_update_property(GTK_ACCESSIBLE(d->bar), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Disk progress"),
                                       -1);
        d->phase = gtk_label_new(NULL);
        gtk_label_set_wrap(GTK_LABEL(d->phase), TRUE);
        gtk_box_append(GTK_BOX(box), d->bar);
        gtk_box_append(GTK_BOX(box), d->phase);
        adw_clamp_set_maximum_size(ADW_CLAMP(clamp), 400);
        adw_clamp_set_child(ADW_CLAMP(clamp), box);
        adw_status_page_set_child(ADW_STATUS_PAGE(d->progress_page), clamp);
        return d->progress_page;
}

static void on_cancel(GtkButton *b, gpointer user_data) {
        gtk_window_destroy(GTK_WINDOW(user_data));
}

EvCreateDialog *ev_create_dialog_new(EvWindow *w) {
        EvCreateDialog *d = g_object_new(EV_TYPE_CREATE_DIALOG, "modal", TRUE, "transient-for", w,
                                         "title", _("New Virtual Machine"), "default-width", 480,
                                         "default-height", 720, NULL);
        GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 0), *header = adw_header_bar_new();

        g_set_weak_pointer(&d->window, w);
        d->client = g_object_ref(ev_window_get_client(w));
        adw_header_bar_set_show_end_title_buttons(ADW_HEADER_BAR(header), FALSE);
        d->cancel = ev_mnemonic_button(_("_Cancel"));
        g_signal_connect(d->cancel, "clicked", G_CALLBACK(on_cancel), d);
        adw_header_bar_pack_start(ADW_HEADER_BAR(header), d->cancel);
        d->create = ev_mnemonic_button(_("C_reate"));
        gtk_widget_add_css_class(d->create, "suggested-action");
        g_signal_connect(d->create, "clicked", G_CALLBACK(on_create), d);
        adw_header_bar_pack_end(ADW_HEADER_BAR(header), d->create);
        gtk_window_set_default_widget(GTK_WINDOW(d), d->create);
        d->stack = gtk_stack_new();
        gtk_widget_set_vexpand(d->stack, TRUE);
        gtk_stack_add_named(GTK_STACK(d->stack), build_form(d), "form");
        gtk_stack_add_named(GTK_STACK(d->stack), build_progress(d), "progress");
        gtk_box_append(GTK_BOX(box), header);
        gtk_box_append(GTK_BOX(box), d->stack);
        adw_window_set_content(ADW_WINDOW(d), box);
        fill_lists(d, ev_window_get_namespace(w));
        gtk_widget_grab_focus(d->fields[EV_FIELD_NAME]);
        return d;
}

static void ev_create_dialog_dispose(GObject *object) {
        EvCreateDialog *d = EV_CREATE_DIALOG(object);

        g_cancellable_cancel(d->cancellable);
        if (d->manager)
                g_clear_signal_handler(&d->handler, d->manager);
        g_clear_object(&d->manager);
        g_clear_object(&d->client);
        g_clear_object(&d->namespaces);
        g_clear_object(&d->types);
        g_clear_pointer(&d->type_choices, g_ptr_array_unref);
        g_clear_weak_pointer(&d->window);
        G_OBJECT_CLASS(ev_create_dialog_parent_class)->dispose(object);
}

static void ev_create_dialog_finalize(GObject *object) {
        EvCreateDialog *d = EV_CREATE_DIALOG(object);

        g_clear_object(&d->cancellable);
        g_free(d->vm);
        g_free(d->ns);
        g_free(d->file);
        G_OBJECT_CLASS(ev_create_dialog_parent_class)->finalize(object);
}

static void ev_create_dialog_class_init(EvCreateDialogClass *klass) {
        G_OBJECT_CLASS(klass)->dispose = ev_create_dialog_dispose;
        G_OBJECT_CLASS(klass)->finalize = ev_create_dialog_finalize;
        gtk_widget_class_add_binding_action(GTK_WIDGET_CLASS(klass), GDK_KEY_Escape, 0, "window.close", NULL);
}

static void ev_create_dialog_init(EvCreateDialog *d) {
        d->cancellable = g_cancellable_new();
        d->type_choices = g_ptr_array_new_with_free_func((GDestroyNotify) type_choice_free);
}
