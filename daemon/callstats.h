/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "prom.h"

/* D-Bus method calls served: how many, by interface, method and the error
 * name they ended with, and how long they took (a histogram), for the
 * metrics endpoint.  The bus layer records; main loop only. */
typedef struct CallStats CallStats;

CallStats *callstats_new(void);
CallStats *callstats_free(CallStats *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CallStats, callstats_free)

/* error: the D-Bus error name the call was answered with, NULL: success. */
void callstats_record(CallStats *s, const char *interface, const char *method, const char *error, double seconds);

/* edgevirt_dbus_calls_total and edgevirt_dbus_call_duration_seconds into set. */
void callstats_render(CallStats *s, PromSet *set);
