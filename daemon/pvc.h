/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

#include "model.h"

typedef struct Services Services;
typedef struct PvcController PvcController;

/* Starts by preparing every storage class and scanning its volumes on the
 * worker pool: adopts what belongs to a claim, removes what does not, marks
 * claims whose volume is missing Lost. */
int pvc_controller_new(Model *m, Services *s, PvcController **ret);
PvcController *pvc_controller_free(PvcController *c);

/* Facts of a claim, for the bus. */
uint64_t pvc_requested_bytes(Object *o);
uint64_t pvc_capacity_bytes(Object *o);
const char *pvc_storage_class(Object *o);
const char *pvc_reason(Object *o);
const char *pvc_message(Object *o);
char *pvc_volume_path(Model *m, Object *o);
bool pvc_in_use(Model *m, Object *o);

/* 10Gi, 512Mi, or plain bytes */
char *pvc_format_bytes(uint64_t bytes);

/* The API group of Kubernetes' VolumeSnapshots (a claim's dataSource). */
#define SNAPSHOT_STORAGE_GROUP "snapshot.storage.k8s.io"
/* Is a claim being made by copying from the volume of the object with this
 * uid (a claim, a snapshot content)? */
bool pvc_source_in_use(Model *m, const char *uid);
