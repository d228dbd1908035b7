/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "ev-widgets.h"

char *ev_strip_mnemonic(const char *label) {
        GString *s = g_string_new(NULL);

        for (const char *p = label; *p; p++) {
                if (*p == '_' && p[1] != '_')
                        continue;
                if (*p == '_')
                        p++;            /* "__" is a literal underscore */
                g_string_append_c(s, *p);
        }
        return g_string_free(s, FALSE);
}

void ev_mnemonic_button_set_label(GtkWidget *button, const char *label) {
        g_autofree char *plain = ev_strip_mnemonic(label);

        gtk_button_set_label(GTK_BUTTON(button), label);
        gtk_button_set_use_underline(GTK_BUTTON(button), TRUE);
        gtk_accessible_update_property(GTK_ACCESSIBLE(button), GTK_ACCESSIBLE_PROPERTY_LABEL, plain, -1);
}

GtkWidget *ev_mnemonic_button(const char *label) {
        GtkWidget *b = gtk_button_new();

        ev_mnemonic_button_set_label(b, label);
        return b;
}
