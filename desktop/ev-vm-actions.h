/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VM verbs: start, stop, force-stop, restart, pause, unpause,
 * soft-reboot, delete, with a confirmation where something is lost and
 * a toast for the result (a refusal named, never swallowed). */
#pragma once

#include "ev-window.h"

G_BEGIN_DECLS

/* verb: one of the names above; ns/name: the VM */
void ev_vm_action(EvWindow *w, const char *ns, const char *name, const char *verb);

G_END_DECLS
