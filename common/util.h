/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

/* The daemon's error domain: every code is an errno value, so functions
 * return -errno and, when they can say more, fill a GError of this domain
 * with the same code and a message that names the offending field.  The one
 * table translating codes into D-Bus error names is dbus/bus-error.c. */
#define EV_ERROR (ev_error_quark())
GQuark ev_error_quark(void);

/* Set *error (if non-NULL) and return -code. */
int ev_error_set(GError **error, int code, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
/* Prefix an existing error's message: "prefix: message". */
void ev_error_prefix(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

#define streq(a, b) (strcmp((a), (b)) == 0)

static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}

static inline bool isempty(const char *s) {
        return !s || !*s;
}

/* RFC 3339 UTC timestamp with second precision, as Kubernetes writes them. */
char *ev_timestamp_now(void);

/* A GSpawnChildSetupFunc for programs the daemon runs: they start with no
 * signal blocked (the daemon blocks those sd-event reads; a blocked mask is
 * inherited through exec) and SIGPIPE at its default (the daemon ignores it;
 * GLib resets it too, this does not rely on that). */
void ev_spawn_child_defaults(gpointer unused);

/* rm -rf PATH (blocking: on a worker thread).  A WorkFunc. */
void ev_remove_tree(void *path);

/* Counts one more attempt in the file at path (a decimal number, synced
 * before this returns) and gives how many came before it: an attempt the
 * daemon did not live through is still counted when it comes back
 * (blocking: on a worker thread). */
int ev_count_attempt(const char *path, unsigned *ret_before);

/* mkdir -p where every directory made gets mode 0711 whatever the umask
 * (QEMU's user opens files below by name); directories already there keep
 * theirs.  The last one is made 0711 in any case. */
int ev_mkdir_traversable(const char *path);

/* A ustar header for name (at most 100 bytes) of size bytes: type '0' (a
 * file) or '5' (a directory), mode, owner uid:gid, modified at 0 — the
 * same input always makes the same bytes (image archives: the importer's
 * --save, edgevirtctl's tar of an OCI layout directory). */
void ev_tar_header(unsigned char h[512], const char *name, uint64_t size, char type, unsigned mode, unsigned uid,
                   unsigned gid);
