/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* edgevirt-desktop: a GNOME front end for edgevirtd on its D-Bus API. */
#include "config.h"

#include <locale.h>

#include <glib/gi18n.h>

#include "ev-application.h"

int main(int argc, char **argv) {
        g_autoptr(EvApplication) app = NULL;

        setlocale(LC_ALL, "");
        bindtextdomain(GETTEXT_PACKAGE, g_getenv("EDGEVIRT_LOCALEDIR") ? g_getenv("EDGEVIRT_LOCALEDIR") : LOCALEDIR);
        bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
        textdomain(GETTEXT_PACKAGE);

        app = ev_application_new();
        return g_application_run(G_APPLICATION(app), argc, argv);
}
