/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "ev-object-list.h"
#include "ev-window.h"

G_BEGIN_DECLS

EvObjectList *ev_snapshots_list_new(EvWindow *w);
/* a VirtualMachineSnapshot of the VM, named after it and the time */
void ev_snapshot_take(EvWindow *w, const char *ns, const char *vm);

G_END_DECLS
