/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>

#include "log.h"
#include "util.h"

/* Process-wide, as GLib's log writer it serves (g_log_set_writer_func). */
static GLogLevelFlags max_level = G_LOG_LEVEL_MESSAGE;

/* syslog's numbers, as GLib maps its levels */
static const char *priority_of(GLogLevelFlags level) {
        return level & G_LOG_LEVEL_ERROR ? "3" :
               level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING) ? "4" :
               level & G_LOG_LEVEL_MESSAGE ? "5" :
               level & G_LOG_LEVEL_INFO ? "6" : "7";
}

typedef struct LogRef {
        const char *kind, *ns, *name, *uid;     /* kind NULL: about no object */
} LogRef;

static void log_fields(GLogLevelFlags level, const LogRef *ref, const char *message_id, const char *file,
                       const char *line, const char *func, const char *text) {
        g_autofree char *message = NULL;

        if (!ref->kind)
                message = g_strdup(text);
        else if (*ref->ns)
                message = g_strdup_printf("%s %s/%s: %s", ref->kind, ref->ns, ref->name, text);
        else
                message = g_strdup_printf("%s %s: %s", ref->kind, ref->name, text);

        /* GLib's default writer sends every field to journald when stderr is
         * the journal, else prints MESSAGE on stderr.  g_log_structured_array()
         * adds no PRIORITY of its own (g_log_structured() would). */
        GLogField fields[10];
        size_t n = 0;
        fields[n++] = (GLogField) { "MESSAGE", message, -1 };
        fields[n++] = (GLogField) { "PRIORITY", priority_of(level), -1 };
        if (ref->kind) {
                fields[n++] = (GLogField) { "OBJECT_KIND", ref->kind, -1 };
                fields[n++] = (GLogField) { "OBJECT_NAMESPACE", ref->ns, -1 };
                fields[n++] = (GLogField) { "OBJECT_NAME", ref->name, -1 };
                fields[n++] = (GLogField) { "OBJECT_UID", ref->uid, -1 };
        }
        fields[n++] = (GLogField) { "CODE_FILE", file, -1 };
        fields[n++] = (GLogField) { "CODE_LINE", line, -1 };
        fields[n++] = (GLogField) { "CODE_FUNC", func, -1 };
        if (message_id)
                fields[n++] = (GLogField) { "MESSAGE_ID", message_id, -1 };
        g_log_structured_array(level, fields, n);
}

void log_object_full(GLogLevelFlags level, const Object *o, const char *message_id, const char *file,
                     const char *line, const char *func, const char *format, ...) {
        g_autofree char *text = NULL;
        va_list ap;

        va_start(ap, format);
        text = g_strdup_vprintf(format, ap);
        va_end(ap);
        log_fields(level, o ? &(LogRef) { o->kind->kind, o->namespace, o->name, o->uid } : &(LogRef) { 0 },
                   message_id, file, line, func, text);
}

void log_ref_full(GLogLevelFlags level, const char *kind, const char *ns, const char *name, const char *uid,
                  const char *file, const char *line, const char *func, const char *format, ...) {
        g_autofree char *text = NULL;
        va_list ap;

        va_start(ap, format);
        text = g_strdup_vprintf(format, ap);
        va_end(ap);
        log_fields(level, &(LogRef) { kind, ns ? ns : "", name ? name : "", uid ? uid : "" }, NULL, file, line,
                   func, text);
}

int log_level_from_string(const char *s, GLogLevelFlags *ret) {
        static const struct { const char *name; GLogLevelFlags level; } levels[] = {
                { "err", G_LOG_LEVEL_CRITICAL },
                { "warning", G_LOG_LEVEL_WARNING },
                { "notice", G_LOG_LEVEL_MESSAGE },
                { "info", G_LOG_LEVEL_INFO },
                { "debug", G_LOG_LEVEL_DEBUG },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(levels); i++)
                if (streq(s, levels[i].name)) {
                        *ret = levels[i].level;
                        return 0;
                }
        return -EINVAL;
}

bool log_level_written(GLogLevelFlags level) {
        /* GLib's levels: ERROR (1 << 2) is the most severe, DEBUG (1 << 7)
         * the most verbose */
        return (level & G_LOG_LEVEL_MASK) <= max_level;
}

static GLogWriterOutput writer(GLogLevelFlags level, const GLogField *fields, gsize n, gpointer userdata) {
        if (!log_level_written(level))
                return G_LOG_WRITER_HANDLED;
        return g_log_writer_default(level, fields, n, userdata);
}

void log_setup(GLogLevelFlags max, bool install) {
        max_level = max;
        if (!install)
                return;
        /* the default writer drops info and debug unless G_MESSAGES_DEBUG
         * names their domain: what is asked for is written */
        if (max >= G_LOG_LEVEL_INFO)
                setenv("G_MESSAGES_DEBUG", "all", 1);
        g_log_set_writer_func(writer, NULL, NULL);
}
