/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "model.h"

/* CDI's admission rules, pure: a DataVolume's spec (one source, its
 * fields, what edgevirt does not support), and the import annotations of
 * a claim (datavolume-status.h names them).  Includes no controller. */

/* kind_datavolume's admit hook. */
int datavolume_admit(Model *m, JsonObject *doc, JsonObject *old, GPtrArray *warnings, GError **error);
/* The PVC admission's part: the annotations' values. */
int datavolume_admit_pvc_annotations(JsonObject *doc, GError **error);
