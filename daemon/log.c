/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "log.h"

void log_object(GLogLevelFlags level, const Object *o, const char *format, ...) {
        g_autofree char *text = NULL, *message = NULL;
        va_list ap;

        va_start(ap, format);
        text = g_strdup_vprintf(format, ap);
        va_end(ap);
        if (*o->namespace)
                message = g_strdup_printf("%s %s/%s: %s", o->kind->kind, o->namespace, o->name, text);
        else
                message = g_strdup_printf("%s %s: %s", o->kind->kind, o->name, text);

        /* GLib's default writer sends every field to journald when stderr is
         * the journal, else prints MESSAGE on stderr.  g_log_structured_array()
         * adds no PRIORITY of its own (g_log_structured() would): syslog's
         * numbers, as GLib maps its levels. */
        const char *priority = level & G_LOG_LEVEL_ERROR ? "3" :
                               level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING) ? "4" :
                               level & G_LOG_LEVEL_MESSAGE ? "5" :
                               level & G_LOG_LEVEL_INFO ? "6" : "7";
        const GLogField fields[] = {
                { "MESSAGE", message, -1 },
                { "PRIORITY", priority, -1 },
                { "OBJECT_KIND", o->kind->kind, -1 },
                { "OBJECT_NAMESPACE", o->namespace, -1 },
                { "OBJECT_NAME", o->name, -1 },
                { "OBJECT_UID", o->uid, -1 },
        };
        g_log_structured_array(level, fields, G_N_ELEMENTS(fields));
}
