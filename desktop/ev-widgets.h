/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small widget helpers the views share. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* A button with a mnemonic label ("_Create") whose accessible name is the
 * label as read ("Create"): GTK 4.8 names a gtk_button_new_with_mnemonic()
 * "_Create Create". */
GtkWidget *ev_mnemonic_button(const char *label);
void ev_mnemonic_button_set_label(GtkWidget *button, const char *label);
/* the text of a mnemonic label without its marks: "C_reate" → "Create" */
char *ev_strip_mnemonic(const char *label);

G_END_DECLS
