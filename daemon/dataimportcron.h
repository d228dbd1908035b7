/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "model.h"

typedef struct Services Services;
typedef struct DataImportCronController DataImportCronController;

/* CDI's DataImportCron (golden images kept fresh from a registry): polls
 * on the loop through edgevirt-importer --resolve, imports as DataVolumes,
 * the managed DataSource, collection (docs/fleet.md). */
int dataimportcron_controller_new(Model *m, Services *s, DataImportCronController **ret);
/* Kills running polls. */
DataImportCronController *dataimportcron_controller_free(DataImportCronController *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DataImportCronController, dataimportcron_controller_free)
