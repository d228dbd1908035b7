/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "model.h"

typedef struct Services Services;
typedef struct DataVolumeController DataVolumeController;

/* Also imports into PVCs annotated the CDI way (datavolume-status.h): it
 * watches claims, as a second controller of theirs. */
int datavolume_controller_new(Model *m, Services *s, DataVolumeController **ret);
/* Kills running imports. */
DataVolumeController *datavolume_controller_free(DataVolumeController *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DataVolumeController, datavolume_controller_free)

/* Hand an upload DataVolume the client's data: fd is duplicated and read
 * by the importer.  The DataVolume must be UploadReady. */
int datavolume_upload(Model *m, Object *dv, int fd, GError **error);
