/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A VM in the list: name, status, address, guest OS, the disk import's
 * progress, and a start/stop button. */
#pragma once

#include <adwaita.h>

#include "ev-client.h"

G_BEGIN_DECLS

GtkWidget *ev_vm_row_new(GDBusObject *object, gpointer window);
void ev_vm_row_update(GtkWidget *row, gpointer window);

/* What a user reads for a VM's state: the status, translated, and a
 * line of facts (addresses, guest OS, an import's progress). */
char *ev_vm_status_text(EvClient *c, GDBusObject *vm);
char *ev_vm_facts_text(EvClient *c, GDBusObject *vm);
/* TRUE when the VM has an instance that is running or on its way */
gboolean ev_vm_is_running(EvClient *c, GDBusObject *vm);
/* the DataVolumes the VM owns (names, sorted) */
GStrv ev_vm_owned_datavolumes(EvClient *c, GDBusObject *vm);
/* the VM's DataVolumes still importing: their mean progress in percent
 * (-1 while unknown); FALSE when none imports */
gboolean ev_vm_import_progress(EvClient *c, GDBusObject *vm, double *percent, char **phase);

G_END_DECLS
