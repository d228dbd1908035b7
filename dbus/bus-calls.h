/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "daemon.h"

/* Calls of our interfaces counted for the metrics endpoint (d->calls;
 * NULL: nothing is counted).  Install before the vtables are registered
 * and after the other filters (it must see each call first). */
int bus_calls_install(Daemon *d);
/* After the bus is closed. */
void bus_calls_uninstall(void);
/* The vtable to register for interface: a copy whose methods are counted
 * (kept until uninstall), or vtable itself when nothing is counted. */
const sd_bus_vtable *bus_calls_wrap(const char *interface, const sd_bus_vtable *vtable);
/* A handler that answers m later (a pull, a polkit question). */
void bus_calls_defer(sd_bus_message *m);
/* m was answered (error_name NULL: success) outside its handler. */
void bus_calls_finish(sd_bus_message *m, const char *error_name);
