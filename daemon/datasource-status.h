/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "model.h"

/* Read-only facts of CDI's DataSources (golden images), from the
 * documents.  Includes no controller. */

/* The label CDI puts on what a DataImportCron manages (its DataSource,
 * DataVolumes and claims): the cron's name. */
#define DATA_IMPORT_CRON_LABEL "cdi.kubevirt.io/dataImportCron"

/* What a DataVolume's spec.sourceRef clones now: the DataSource
 * namespace/name (namespace NULL: ns) resolved into a DataVolume source,
 * {"pvc": {name, namespace}} or {"snapshot": {name, namespace}} (new, the
 * caller's).  -ENOENT: no such DataSource; -EAGAIN: it is not Ready (error
 * says why, with its Ready condition's message). */
int datasource_resolve(Model *m, const char *ns, const char *namespace, const char *name, JsonObject **ret,
                       GError **error);
