/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* New Virtual Machine: name, project, a disk (image URL, local file,
 * containerDisk), size (CPU and memory, or an instance type), SSH key
 * and cloud-init; then the disk's import or upload, followed. */
#pragma once

#include <adwaita.h>

#include "ev-window.h"

G_BEGIN_DECLS

#define EV_TYPE_CREATE_DIALOG (ev_create_dialog_get_type())
G_DECLARE_FINAL_TYPE(EvCreateDialog, ev_create_dialog, EV, CREATE_DIALOG, AdwWindow)

EvCreateDialog *ev_create_dialog_new(EvWindow *w);

G_END_DECLS
