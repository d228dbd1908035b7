/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-event.h>

#include "storage.h"
#include "worker.h"

typedef struct PvcController PvcController;

/* What controllers reach beyond the model: the loop, the worker pool for
 * blocking work, and the storage classes (the default first). */
typedef struct Services {
        sd_event *event;
        Worker *worker;
        GPtrArray *backends;            /* StorageBackend, one per storage class */
        PvcController *pvc;
} Services;

StorageBackend *services_backend(Services *s, const char *class_name);
