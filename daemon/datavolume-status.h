/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "model.h"

/* Read-only facts of DataVolumes and of claims imported into the CDI way
 * (annotations), from the documents.  Includes no controller. */

/* CDI's annotations on a PVC to import into (and its reports) */
#define ANN_ENDPOINT "cdi.kubevirt.io/storage.import.endpoint"
#define ANN_SOURCE "cdi.kubevirt.io/storage.import.source"
#define ANN_SECRET "cdi.kubevirt.io/storage.import.secretName"
#define ANN_CERT_CONFIGMAP "cdi.kubevirt.io/storage.import.certConfigMap"
#define ANN_POD_PHASE "cdi.kubevirt.io/storage.pod.phase"
#define ANN_POD_RESTARTS "cdi.kubevirt.io/storage.pod.restarts"
#define ANN_RUNNING_REASON "cdi.kubevirt.io/storage.condition.running.reason"
#define ANN_RUNNING_MESSAGE "cdi.kubevirt.io/storage.condition.running.message"

/* For the bus: the progress in percent (-1: unknown). */
double datavolume_progress(Object *dv);

/* PVCs annotated the CDI way (cdi.kubevirt.io/storage.import.endpoint,
 * .source, .secretName, .certConfigMap) are imported into as CDI does,
 * reporting in cdi.kubevirt.io/storage.pod.phase and friends; not one a
 * DataVolume owns (its DataVolume imports). */
bool datavolume_pvc_wants_import(Object *pvc);
/* A DataVolume document's source: http, registry, pvc, snapshot, upload
 * or blank, or sourceRef (a DataSource's); NULL when it has none of these. */
const char *datavolume_source_kind(JsonObject *doc);
