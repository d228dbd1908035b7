/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "model.h"

typedef struct Authz Authz;

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
} Daemon;
