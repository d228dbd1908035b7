/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <adwaita.h>

#include "ev-application.h"
#include "ev-client.h"

G_BEGIN_DECLS

#define EV_TYPE_WINDOW (ev_window_get_type())
G_DECLARE_FINAL_TYPE(EvWindow, ev_window, EV, WINDOW, AdwApplicationWindow)

EvWindow *ev_window_new(EvApplication *app);
EvClient *ev_window_get_client(EvWindow *w);
/* the namespace (project) the lists show; NULL before there is one */
const char *ev_window_get_namespace(EvWindow *w);
/* a toast with text; errors stay up longer */
void ev_window_toast(EvWindow *w, const char *text, gboolean error);
/* open the page of the VM name of the current namespace; NULL: the lists */
void ev_window_show_vm(EvWindow *w, const char *name);

G_END_DECLS
