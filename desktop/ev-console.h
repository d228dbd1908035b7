/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "ev-window.h"

G_BEGIN_DECLS

/* a window with the serial console of the VM's instance */
void ev_console_open(EvWindow *w, const char *ns, const char *name);
/* a VNC viewer on the instance's display (or the port to connect one to) */
void ev_vnc_open(EvWindow *w, const char *ns, const char *name);

G_END_DECLS
