/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n.h>

#include "ev-application.h"
#include "ev-window.h"

struct _EvApplication {
        AdwApplication parent;
        char *bus;
        EvClient *client;
        GSettings *settings;
};

G_DEFINE_TYPE(EvApplication, ev_application, ADW_TYPE_APPLICATION)

static gint on_local_options(GApplication *app, GVariantDict *options, gpointer user_data) {
        EvApplication *self = EV_APPLICATION(app);
        const char *bus = NULL;

        if (g_variant_dict_lookup(options, "version", "b", NULL)) {
                g_print("edgevirt-desktop %s\n", PACKAGE_VERSION);
                return 0;
        }
        if (g_variant_dict_lookup(options, "bus", "&s", &bus) && !*bus) {
                g_printerr(_("--bus: expected system, session or a D-Bus address\n"));
                return 2;
        }
        if (!bus)
                bus = g_getenv("EDGEVIRT_BUS");
        g_free(self->bus);
        self->bus = g_strdup(bus && *bus ? bus : "system");
        return -1;
}

static void on_about(GSimpleAction *action, GVariant *param, gpointer user_data) {
        GtkApplication *app = user_data;
        const char *developers[] = { "The edgevirt authors", NULL };
        AdwAboutWindow *about = ADW_ABOUT_WINDOW(adw_about_window_new());

        gtk_window_set_transient_for(GTK_WINDOW(about), gtk_application_get_active_window(app));
        adw_about_window_set_application_name(about, _("edgevirt"));
        adw_about_window_set_application_icon(about, EV_APP_ID);
        adw_about_window_set_version(about, PACKAGE_VERSION);
        adw_about_window_set_developers(about, developers);
        adw_about_window_set_license_type(about, GTK_LICENSE_LGPL_2_1);
        adw_about_window_set_comments(about, _("Virtual machines of the edgevirt service: KubeVirt's objects on one "
                                               "machine, without Kubernetes."));
        gtk_window_present(GTK_WINDOW(about));
}

static void on_quit(GSimpleAction *action, GVariant *param, gpointer user_data) {
        g_application_quit(G_APPLICATION(user_data));
}

static void ev_application_startup(GApplication *app) {
        EvApplication *self = EV_APPLICATION(app);
        g_autoptr(GSettingsSchema) schema = NULL;
        GSettingsSchemaSource *source = g_settings_schema_source_get_default();
        static const GActionEntry entries[] = {
                { "about", on_about, NULL, NULL, NULL, { 0 } },
                { "quit", on_quit, NULL, NULL, NULL, { 0 } },
        };
        static const char *quit_accels[] = { "<Control>q", NULL };

        G_APPLICATION_CLASS(ev_application_parent_class)->startup(app);
        g_action_map_add_action_entries(G_ACTION_MAP(app), entries, G_N_ELEMENTS(entries), app);
        gtk_application_set_accels_for_action(GTK_APPLICATION(app), "app.quit", quit_accels);
        schema = source ? g_settings_schema_source_lookup(source, EV_APP_ID, TRUE) : NULL;
        if (schema)
                self->settings = g_settings_new(EV_APP_ID);
        self->client = ev_client_new(self->bus);
}

static void ev_application_activate(GApplication *app) {
        EvApplication *self = EV_APPLICATION(app);
        GtkWindow *window = gtk_application_get_active_window(GTK_APPLICATION(app));

        if (!window)
                window = GTK_WINDOW(ev_window_new(self));
        gtk_window_present(window);
}

static void ev_application_dispose(GObject *object) {
        EvApplication *self = EV_APPLICATION(object);

        g_clear_object(&self->client);
        g_clear_object(&self->settings);
        G_OBJECT_CLASS(ev_application_parent_class)->dispose(object);
}

static void ev_application_finalize(GObject *object) {
        g_free(EV_APPLICATION(object)->bus);
        G_OBJECT_CLASS(ev_application_parent_class)->finalize(object);
}

static void ev_application_class_init(EvApplicationClass *klass) {
        G_OBJECT_CLASS(klass)->dispose = ev_application_dispose;
        G_OBJECT_CLASS(klass)->finalize = ev_application_finalize;
        G_APPLICATION_CLASS(klass)->startup = ev_application_startup;
        G_APPLICATION_CLASS(klass)->activate = ev_application_activate;
}

static void ev_application_init(EvApplication *self) {
        static const GOptionEntry options[] = {
                { "bus", 0, 0, G_OPTION_ARG_STRING, NULL,
                  N_("The bus of edgevirtd: system (default, or $EDGEVIRT_BUS), session or a D-Bus address"),
                  N_("ADDRESS") },
                { "version", 0, 0, G_OPTION_ARG_NONE, NULL, N_("Print the version and exit"), NULL },
                { NULL, 0, 0, 0, NULL, NULL, NULL }
        };

        g_application_add_main_option_entries(G_APPLICATION(self), options);
        g_signal_connect(self, "handle-local-options", G_CALLBACK(on_local_options), NULL);
}

EvApplication *ev_application_new(void) {
        return g_object_new(EV_TYPE_APPLICATION, "application-id", EV_APP_ID, "flags", G_APPLICATION_DEFAULT_FLAGS,
                            "resource-base-path", "/org/edgevirt/Desktop", NULL);
}

EvClient *ev_application_get_client(EvApplication *app) {
        return app->client;
}

GSettings *ev_application_get_settings(EvApplication *app) {
        return app->settings;
}
