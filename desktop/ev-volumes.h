/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The Volumes view: DataVolumes (with their import's progress) and the
 * claims no DataVolume owns, one row per name. */
#pragma once

#include "ev-object-list.h"
#include "ev-window.h"

G_BEGIN_DECLS

EvObjectList *ev_volumes_list_new(EvWindow *w);
/* a DataVolume or claim of the namespace shown came, went or changed */
void ev_volumes_route(EvObjectList *l, EvClient *c, const char *ns, GDBusObject *object, gboolean removed);
/* a progress bar following a DataVolume: fraction, or pulse while unknown */
void ev_progress_bar_follow(GtkProgressBar *bar, GDBusObject *dv);
/* a DataVolume's phase in words */
const char *ev_datavolume_phase_text(const char *phase);

G_END_DECLS
