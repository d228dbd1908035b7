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

/* The label is a child of the button's own: GtkButton's label property
 * would also become its accessible label, mark and all. */
void ev_mnemonic_button_set_label(GtkWidget *button, const char *label) {
        GtkWidget *child = gtk_button_get_child(GTK_BUTTON(button));

        if (!GTK_IS_LABEL(child)) {
                child = gtk_label_new(NULL);
                gtk_button_set_child(GTK_BUTTON(button), child);
        }
        gtk_label_set_text_with_mnemonic(GTK_LABEL(child), label);
        gtk_label_set_mnemonic_widget(GTK_LABEL(child), button);
}

GtkWidget *ev_mnemonic_button(const char *label) {
        GtkWidget *b = gtk_button_new();

        ev_mnemonic_button_set_label(b, label);
        return b;
}
