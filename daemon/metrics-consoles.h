/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "model.h"
#include "prom.h"

/* kubevirt_console_active_connections and kubevirt_vnc_active_connections:
 * the connections to each running instance's serial console and VNC
 * sockets, as the kernel counts them (sock_diag): what OpenConsole() and
 * OpenVNC() handed out and is still open, wherever the file descriptor
 * went, across daemon restarts. */
typedef struct ConsoleSockets ConsoleSockets;

/* Main loop: the running instances' socket paths. */
ConsoleSockets *console_sockets_new(Model *m);
ConsoleSockets *console_sockets_free(ConsoleSockets *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ConsoleSockets, console_sockets_free)

/* Any thread (a worker: it asks the kernel): the two gauges into set.
 * Nothing when the kernel cannot be asked (the series are left out, not 0). */
void console_sockets_collect(ConsoleSockets *s, PromSet *set);

/* Established connections to the bound UNIX sockets at paths (their
 * accepted ends carry the bound path), counts[i] for paths[i]; -errno. */
int unix_connections_count(const char *const *paths, size_t n, unsigned *counts);
