/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "model.h"

typedef struct Authz Authz;
typedef struct RateLimit RateLimit;
typedef struct CallStats CallStats;
typedef struct BusCalls BusCalls;
typedef struct ManagedObjects ManagedObjects;

/* The running daemon: its loop, its bus, its model and its settings. */
typedef struct Daemon {
        sd_event *event;
        sd_bus *bus;
        Model *model;
        char *state_dir;
        char *libvirt_uri;
        char *config_path;
        bool system_bus;
        Authz *authz;                   /* dbus/authz.h */
        RateLimit *ratelimit;           /* dbus/ratelimit.c; NULL: off */
        size_t max_message_size;        /* the bus's: no message of ours may be larger */
        CallStats *calls;               /* daemon/callstats.h: counted for the metrics endpoint; NULL: off */
        BusCalls *bus_calls;            /* dbus/bus-calls.h: what counts them; NULL: off */
        ManagedObjects *managed_objects; /* dbus/managed-objects.c: GetManagedObjects' entries, kept */
} Daemon;
