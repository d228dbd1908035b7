/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "model.h"

typedef struct Services Services;
typedef struct DataVolumeController DataVolumeController;

int datavolume_controller_new(Model *m, Services *s, DataVolumeController **ret);
/* Kills running imports. */
DataVolumeController *datavolume_controller_free(DataVolumeController *c);

/* Hand an upload DataVolume the client's data: fd is duplicated and read
 * by the importer.  The DataVolume must be UploadReady. */
int datavolume_upload(Model *m, Object *dv, int fd, GError **error);

/* For the bus: the progress in percent (-1: unknown). */
double datavolume_progress(Object *dv);

/* PVCs annotated the CDI way (cdi.kubevirt.io/storage.import.endpoint,
 * .source, .secretName, .certConfigMap) are imported into as CDI does,
 * reporting in cdi.kubevirt.io/storage.pod.phase and friends. */
bool datavolume_pvc_wants_import(Object *pvc);
int datavolume_admit_pvc_annotations(JsonObject *doc, GError **error);
void datavolume_reconcile_pvc(Model *m, Object *pvc);
