/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

#define BUS_ERROR_NOT_FOUND       "org.edgevirt.EdgeVirt1.Error.NotFound"
#define BUS_ERROR_ALREADY_EXISTS  "org.edgevirt.EdgeVirt1.Error.AlreadyExists"
#define BUS_ERROR_INVALID         "org.edgevirt.EdgeVirt1.Error.Invalid"
#define BUS_ERROR_CONFLICT        "org.edgevirt.EdgeVirt1.Error.Conflict"
#define BUS_ERROR_NOT_SUPPORTED   "org.edgevirt.EdgeVirt1.Error.NotSupported"
#define BUS_ERROR_FORBIDDEN       "org.edgevirt.EdgeVirt1.Error.Forbidden"
#define BUS_ERROR_ACCESS_DENIED   "org.edgevirt.EdgeVirt1.Error.AccessDenied"
#define BUS_ERROR_LIMIT_EXCEEDED  "org.edgevirt.EdgeVirt1.Error.LimitExceeded"
#define BUS_ERROR_REPLY_TOO_LARGE "org.edgevirt.EdgeVirt1.Error.ReplyTooLarge"
#define BUS_ERROR_FAILED          "org.edgevirt.EdgeVirt1.Error.Failed"

/* The one table from the daemon's error codes (errno values) to D-Bus
 * error names.  Uses error's message when there is one.  Returns r. */
int bus_error_set(sd_bus_error *ret, int r, const GError *error);
