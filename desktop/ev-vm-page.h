/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One VM: its actions, status, guest details (from the guest agent),
 * conditions in words, disks and what happened to it. */
#pragma once

#include <adwaita.h>

#include "ev-window.h"

G_BEGIN_DECLS

#define EV_TYPE_VM_PAGE (ev_vm_page_get_type())
G_DECLARE_FINAL_TYPE(EvVmPage, ev_vm_page, EV, VM_PAGE, GtkBox)

EvVmPage *ev_vm_page_new(EvWindow *w);
/* show the VM ns/name; NULL: none */
void ev_vm_page_set_vm(EvVmPage *p, const char *ns, const char *name);
/* does object (the VM, its instance, a DataVolume or snapshot) concern the VM shown? */
gboolean ev_vm_page_concerns(EvVmPage *p, GDBusObject *object);
void ev_vm_page_update(EvVmPage *p);

G_END_DECLS
