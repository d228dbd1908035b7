/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-event.h>

#include "storage.h"
#include "worker.h"

typedef struct PvcController PvcController;
typedef struct DataVolumeController DataVolumeController;
typedef struct VmiController VmiController;
typedef struct ImageCache ImageCache;
typedef struct ImportSlots ImportSlots;

/* What controllers reach beyond the model: the loop, the worker pool for
 * blocking work, and the storage classes (the default first). */
typedef struct Services {
        sd_event *event;
        Worker *worker;
        GPtrArray *backends;            /* StorageBackend, one per storage class */
        PvcController *pvc;
        DataVolumeController *datavolumes;
        VmiController *vmis;
        ImageCache *images;             /* containerDisk images (imagecache.h) */
        const char *libvirt_uri;
        const char *nat_network;        /* libvirt network of the pod network (masquerade) */
        const char *bridge;             /* host bridge for bridge binding, or NULL */
        const char *nat_subnet;         /* its IPv4 subnet, NULL: 10.0.2.0/24 */
        /* claim uid -> number of users (imports writing it; later, VMs):
         * a claim with users keeps its pvc-protection finalizer */
        GHashTable *pvc_users;
        char *state_dir;
        char *importer;                 /* path of edgevirt-importer */
        ImportSlots *slots;             /* importer processes at once, per namespace, fairly (import-slots.h) */
        unsigned upload_idle_timeout;   /* seconds an upload may bring no byte */
        unsigned stall_timeout;         /* seconds a server may send nothing */
} Services;

void services_pvc_use(Services *s, const char *pvc_uid, bool in_use);

StorageBackend *services_backend(Services *s, const char *class_name);
