/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "model.h"

/* Make the StorageClass objects match the configured classes. */
int storageclass_sync(Model *m, GPtrArray *configs, GError **error);
