/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "model.h"

/* Read-only facts of CDI's DataSources (golden images), from the
 * documents.  Includes no controller. */

/* The label CDI puts on what a DataImportCron manages (its DataSource,
 * DataVolumes and claims): the cron's name. */
#define DATA_IMPORT_CRON_LABEL "cdi.kubevirt.io/dataImportCron"

/* Labels naming a volume's default instance type and preference, which
 * CDI carries from a registry image to its claim, from a DataImportCron to
 * its imports, and from claims and DataVolumes to their DataSource (its
 * CopyAllowedLabels); KubeVirt's inferFromVolume reads them.  NULL-ended. */
extern const char *const datasource_default_labels[];
/* Copy those of from present into to (made if NULL); true if to changed. */
bool datasource_copy_default_labels(JsonObject *from, JsonObject *to);

/* What a DataVolume's spec.sourceRef clones now: the DataSource
 * namespace/name (namespace NULL: ns) resolved into a DataVolume source,
 * {"pvc": {name, namespace}} or {"snapshot": {name, namespace}} (new, the
 * caller's).  -ENOENT: no such DataSource; -EAGAIN: it is not Ready (error
 * says why, with its Ready condition's message). */
int datasource_resolve(Model *m, const char *ns, const char *namespace, const char *name, JsonObject **ret,
                       GError **error);
