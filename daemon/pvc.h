/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "model.h"

typedef struct Services Services;
typedef struct PvcController PvcController;

/* Starts by preparing every storage class and scanning its volumes on the
 * worker pool: adopts what belongs to a claim, removes what does not, marks
 * claims whose volume is missing Lost.  Answers ClaimOps (services.h).
 * A claim's facts are in pvc-status.h. */
int pvc_controller_new(Model *m, Services *s, PvcController **ret);
PvcController *pvc_controller_free(PvcController *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PvcController, pvc_controller_free)
