/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

#include "model.h"

/* Read-only facts of a PersistentVolumeClaim, from its document (and the
 * storage classes in Services): what the bus shows and what other
 * controllers ask.  Includes no controller. */

/* The API group of Kubernetes' VolumeSnapshots (a claim's dataSource). */
#define SNAPSHOT_STORAGE_GROUP "snapshot.storage.k8s.io"

/* spec.resources.requests.storage of a claim's document, or NULL. */
const char *pvc_requested_storage(JsonObject *doc);
/* A quantity in bytes; 0 when absent, malformed or negative. */
uint64_t pvc_quantity_bytes(const char *s);

uint64_t pvc_requested_bytes(Object *o);
uint64_t pvc_capacity_bytes(Object *o);
const char *pvc_storage_class(Object *o);
/* The Provisioned condition's reason and message (why it is Pending or Lost). */
const char *pvc_reason(Object *o);
const char *pvc_message(Object *o);
/* The path of a Bound claim's volume; "" when not Bound or its class is unknown. */
char *pvc_volume_path(Model *m, Object *o);

/* 10Gi, 512Mi, or plain bytes */
char *pvc_format_bytes(uint64_t bytes);
