/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "model.h"

/* CDI's DataSource (golden images): a name for the claim or volume
 * snapshot new DataVolumes clone from (spec.sourceRef), Ready when that
 * source is.  Its controller follows claims and DataVolumes. */
void datasource_controller_start(Model *m);
void datasource_controller_stop(Model *m);
