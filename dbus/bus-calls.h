/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "daemon.h"

/* Calls of our interfaces counted for the metrics endpoint (d->calls;
 * NULL: nothing is counted), in d->bus_calls.  Install before the vtables
 * are registered and after the other filters (it must see each call
 * first). */
int bus_calls_install(Daemon *d);
/* After the bus is closed. */
BusCalls *bus_calls_free(BusCalls *calls);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BusCalls, bus_calls_free)
/* Register a vtable of ours (userdata: d; a fallback's find gets d too)
 * with its methods counted. */
int bus_calls_add_vtable(Daemon *d, const char *path, const char *interface, const sd_bus_vtable *vtable);
int bus_calls_add_fallback_vtable(Daemon *d, const char *prefix, const char *interface, const sd_bus_vtable *vtable,
                                  sd_bus_object_find_t find);
/* The daemon whose vtable dispatches m, the current call (for a handler
 * whose userdata is an object): the slots registered by the two above all
 * carry the Daemon as their userdata. */
Daemon *bus_current_daemon(sd_bus_message *m);
/* A handler that answers m later (a pull, a polkit question).  calls
 * NULL: nothing is counted. */
void bus_calls_defer(BusCalls *calls, sd_bus_message *m);
/* m was answered (error_name NULL: success) outside its handler. */
void bus_calls_finish(BusCalls *calls, sd_bus_message *m, const char *error_name);
