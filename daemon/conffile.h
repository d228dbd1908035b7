/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <glib.h>

#include "event.h"
#include "metrics.h"
#include "model.h"
#include "storage.h"

/* The daemon's configuration file (docs/configuration.md). */
typedef struct Config {
        char *state_dir;                /* NULL: not set */
        char *libvirt_uri;
        char *log_level;                /* [Daemon] LogLevel= (checked by the caller) */
        char *nat_network;              /* [Network] NatNetwork= (default "edgevirt") */
        char *bridge;                   /* [Network] Bridge= */
        char *nat_subnet;               /* [Network] NatSubnet= (default 10.0.2.0/24), checked */
        ModelLimits limits;
        unsigned calls_per_second;      /* [Limits] CallsPerSecond= per caller (0: off) */
        unsigned call_burst;            /* [Limits] CallBurst= */
        size_t max_message_size;        /* [Limits] MaxMessageSize= (the bus's max_message_size) */
        uint64_t image_cache_size;      /* [Images] CacheSize= (bytes on disk the cache keeps) */
        uint64_t max_image_size;        /* [Images] MaxImageSize= (largest virtual size pulled) */
        unsigned image_minimum_age;     /* [Images] MinimumAge= seconds an unused image is kept at least */
        unsigned max_imports;           /* [Imports] MaxImports= importer processes at once */
        unsigned max_imports_per_namespace;     /* [Imports] MaxImportsPerNamespace= */
        unsigned upload_idle_timeout;   /* [Imports] UploadIdleTimeout= seconds without a byte */
        unsigned stall_timeout;         /* [Imports] StallTimeout= seconds a server may send nothing */
        GPtrArray *storage_classes;     /* StorageClassConfig, the default first */
        GPtrArray *host_devices;        /* HostDeviceConfig ([HostDevice NAME]), in the file's order */
        /* [Manifests] Directory=, VendorDirectory=: NULL when not set (the
         * system daemon's defaults apply, manifests_directories()); "" is off */
        char *manifests_dir;
        char *vendor_manifests_dir;
        EventLimits events;             /* [Events] MaxPerNamespace=, TimeToLive= */
        MetricsSettings metrics;        /* [Metrics] */
} Config;

void config_init(Config *c);
void config_clear(Config *c);

/* Reads path (a missing file is fine unless must_exist).  Unknown sections
 * and keys are errors naming them. */
int config_load(Config *c, const char *path, bool must_exist, GError **error);

/* Fill in what the file left open once the state directory is known: the
 * class "local" (dir backend under STATE/volumes/local) unless one of that
 * name exists, a path for dir classes without one, and the default. */
int config_finish(Config *c, const char *state_dir, GError **error);

/* The manifests directories to apply (docs/fleet.md), lowest precedence
 * first: the vendor's, then the admin's; set or not, and by default
 * SYSCONFDIR/edgevirt/manifests.d and PREFIX/lib/edgevirt/manifests.d for
 * the daemon on the system bus, none for a daemon of a user's own. */
char **manifests_directories(const Config *c, bool system_bus);
