/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n.h>

#include "ev-vm-actions.h"
#include "ev-vm-row.h"

typedef struct {
        const char *verb, *method;
        const char *doing;      /* the toast when the daemon took it */
        const char *failed;     /* the toast when it did not */
} Verb;

static const Verb verbs[] = {
        { "start", "Start", N_("Starting %s"), N_("Could not start %s: %s") },
        { "stop", "Stop", N_("Stopping %s"), N_("Could not stop %s: %s") },
        { "force-stop", "Stop", N_("Powering %s off"), N_("Could not power %s off: %s") },
        { "restart", "Restart", N_("Restarting %s"), N_("Could not restart %s: %s") },
        { "pause", "Pause", N_("Pausing %s"), N_("Could not pause %s: %s") },
        { "unpause", "Unpause", N_("Resuming %s"), N_("Could not resume %s: %s") },
        { "soft-reboot", "SoftReboot", N_("Rebooting %s"), N_("Could not reboot %s: %s") },
        { "delete", "Delete", N_("Deleting %s"), N_("Could not delete %s: %s") },
};

typedef struct {
        EvWindow *window;       /* a weak pointer: the window may close meanwhile */
        const Verb *verb;
        char *name;
} Call;

static void call_free(Call *call) {
        g_clear_weak_pointer(&call->window);
        g_free(call->name);
        g_free(call);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Call, call_free)

static void on_done(GObject *source, GAsyncResult *res, gpointer user_data) {
        g_autoptr(Call) call = user_data;
        g_autoptr(GError) e = NULL;
        g_autoptr(GVariant) reply = ev_client_call_finish(EV_CLIENT(source), res, NULL, &e);
        g_autofree char *text = NULL;

        if (!call->window)
                return;
        if (reply) {
                text = g_strdup_printf(_(call->verb->doing), call->name);
                ev_window_toast(call->window, text, FALSE);
                return;
        }
        g_autofree char *why = ev_error_text(e);
        text = g_strdup_printf(_(call->verb->failed), call->name, why);
        ev_window_toast(call->window, text, TRUE);
}

static void run(EvWindow *w, const char *ns, const char *name, const Verb *verb) {
        g_autofree char *path = ev_object_path(ns, "vm", name);
        Call *call = g_new0(Call, 1);
        GVariantBuilder opts;
        GVariant *params;

        g_set_weak_pointer(&call->window, w);
        call->verb = verb;
        call->name = g_strdup(name);
        g_variant_builder_init(&opts, G_VARIANT_TYPE_VARDICT);
        if (g_str_equal(verb->verb, "force-stop"))
                g_variant_builder_add(&opts, "{sv}", "force", g_variant_new_boolean(TRUE));
        if (g_str_equal(verb->verb, "delete")) {
                params = g_variant_new("(sssa{sv})", "VirtualMachine", ns, name, &opts);
                ev_client_call(ev_window_get_client(w), EV_ROOT_PATH, EV_IFACE_MANAGER, "Delete", params, NULL, NULL,
                               on_done, call);
                return;
        }
        ev_client_call(ev_window_get_client(w), path, EV_IFACE_VM, verb->method, g_variant_new("(a{sv})", &opts),
                       NULL, NULL, on_done, call);
}

typedef struct {
        EvWindow *window;
        char *ns, *name;
        const Verb *verb;
} Confirm;

static void on_response(AdwMessageDialog *dialog, const char *response, gpointer user_data) {
        Confirm *c = user_data;

        if (c->window && g_str_equal(response, "confirm"))
                run(c->window, c->ns, c->name, c->verb);
        g_clear_weak_pointer(&c->window);
        g_free(c->ns);
        g_free(c->name);
        g_free(c);
}

/* What deleting the VM takes with it, in words. */
static char *delete_body(EvWindow *w, const char *ns, const char *name) {
        g_autoptr(GDBusObject) vm = ev_client_lookup(ev_window_get_client(w), ns, "vm", name);
        g_auto(GStrv) dvs = vm ? ev_vm_owned_datavolumes(ev_window_get_client(w), vm) : NULL;
        g_autofree char *list = NULL;

        if (!dvs || !dvs[0])
                return g_strdup_printf(_("%s is stopped and deleted. It owns no DataVolumes."), name);
        list = g_strjoinv(", ", dvs);
        return g_strdup_printf(g_strv_length(dvs) == 1 ?
                               _("%s is stopped and deleted, and with it the DataVolume it owns: %s. "
                                 "Its data is lost.") :
                               _("%s is stopped and deleted, and with it the DataVolumes it owns: %s. "
                                 "Their data is lost."), name, list);
}

static void confirm(EvWindow *w, const char *ns, const char *name, const Verb *verb) {
        Confirm *c = g_new0(Confirm, 1);
        g_autofree char *heading = NULL, *body = NULL;
        AdwMessageDialog *d;

        if (g_str_equal(verb->verb, "delete")) {
                heading = g_strdup_printf(_("Delete %s?"), name);
                body = delete_body(w, ns, name);
        } else {
                heading = g_strdup_printf(_("Force %s Off?"), name);
                body = g_strdup(_("The guest is switched off at once, without shutting down: what it has not "
                                  "written to its disks is lost."));
        }
        d = ADW_MESSAGE_DIALOG(adw_message_dialog_new(GTK_WINDOW(w), heading, body));
        adw_message_dialog_add_responses(d, "cancel", _("_Cancel"), "confirm",
                                         g_str_equal(verb->verb, "delete") ? _("_Delete") : _("_Force Off"), NULL);
        adw_message_dialog_set_response_appearance(d, "confirm", ADW_RESPONSE_DESTRUCTIVE);
        adw_message_dialog_set_default_response(d, "cancel");
        adw_message_dialog_set_close_response(d, "cancel");
        g_set_weak_pointer(&c->window, w);
        c->ns = g_strdup(ns);
        c->name = g_strdup(name);
        c->verb = verb;
        g_signal_connect(d, "response", G_CALLBACK(on_response), c);
        gtk_window_present(GTK_WINDOW(d));
}

void ev_vm_action(EvWindow *w, const char *ns, const char *name, const char *verb) {
        for (size_t i = 0; i < G_N_ELEMENTS(verbs); i++) {
                if (!g_str_equal(verbs[i].verb, verb))
                        continue;
                if (g_str_equal(verb, "force-stop") || g_str_equal(verb, "delete"))
                        confirm(w, ns, name, &verbs[i]);
                else
                        run(w, ns, name, &verbs[i]);
                return;
        }
        g_return_if_reached();
}
