/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <adwaita.h>

#include "ev-client.h"

G_BEGIN_DECLS

#define EV_APP_ID "org.edgevirt.Desktop"

#define EV_TYPE_APPLICATION (ev_application_get_type())
G_DECLARE_FINAL_TYPE(EvApplication, ev_application, EV, APPLICATION, AdwApplication)

EvApplication *ev_application_new(void);
EvClient *ev_application_get_client(EvApplication *app);
/* the app's settings, or NULL when its schema is not installed (run from
 * a build tree without GSETTINGS_SCHEMA_DIR): nothing persists then */
GSettings *ev_application_get_settings(EvApplication *app);

G_END_DECLS
