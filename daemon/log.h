/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <glib.h>

#include "object.h"

/* A message about one object.  Under journald (systemd gives stderr to the
 * journal and says so in $JOURNAL_STREAM) the entry carries OBJECT_KIND,
 * OBJECT_NAMESPACE (empty for cluster-scoped kinds), OBJECT_NAME and
 * OBJECT_UID beside MESSAGE, PRIORITY and CODE_FILE/CODE_LINE/CODE_FUNC, so
 * `journalctl -u edgevirtd OBJECT_NAME=web` finds it; elsewhere it is a line
 * on stderr.  The text is prefixed with "Kind namespace/name: ".
 * log_object_id() adds a MESSAGE_ID (a fixed 128-bit id per kind of
 * message, 32 hex digits, as systemd's catalog uses; LOG_MESSAGE_ID_* in
 * docs/observability.md), so `journalctl MESSAGE_ID=…` finds every one.
 * o may be NULL (an object looked up that is gone): then a plain message
 * with the same code fields. */
#define log_object(level, o, ...) \
        log_object_full((level), (o), NULL, __FILE__, G_STRINGIFY(__LINE__), G_STRFUNC, __VA_ARGS__)
#define log_object_id(level, o, id, ...) \
        log_object_full((level), (o), (id), __FILE__, G_STRINGIFY(__LINE__), G_STRFUNC, __VA_ARGS__)

void log_object_full(GLogLevelFlags level, const Object *o, const char *message_id, const char *file,
                     const char *line, const char *func, const char *format, ...) G_GNUC_PRINTF(7, 8);

/* The same for an object known by its names only: on a worker thread,
 * where the model must not be read (kind, namespace, name, uid copied). */
#define log_ref(level, kind, ns, name, uid, ...) \
        log_ref_full((level), (kind), (ns), (name), (uid), __FILE__, G_STRINGIFY(__LINE__), G_STRFUNC, __VA_ARGS__)
void log_ref_full(GLogLevelFlags level, const char *kind, const char *ns, const char *name, const char *uid,
                  const char *file, const char *line, const char *func, const char *format, ...) G_GNUC_PRINTF(9, 10);

/* The ids of the messages an operator looks for. */
#define LOG_MESSAGE_ID_OBJECT_CREATED "ec4bd4d485201fb16da28b6d2da5771d"
#define LOG_MESSAGE_ID_OBJECT_REMOVED "3fa55af4d9d7672929316e4bbc13f701"
#define LOG_MESSAGE_ID_PHASE_CHANGED  "a2d6c2baf17b329a115f212042d631c5"
#define LOG_MESSAGE_ID_RECONCILE_FAILED "87bf2380007d7ea0e884b4beb0df52f4"
#define LOG_MESSAGE_ID_DOMAIN_ADOPTED "ba9b9b1e89b0bf839bdd5b3bfda8236d"
#define LOG_MESSAGE_ID_GARBAGE_COLLECTED "4ad48effe193ccc1704fb3c18d2d611a"

/* The most verbose level written: "err", "warning", "notice" (the
 * default: GLib's messages), "info" or "debug", as journald's priorities. */
int log_level_from_string(const char *s, GLogLevelFlags *ret);
/* Whether a message of level is written under the level set. */
bool log_level_written(GLogLevelFlags level);
/* Sets the level; install: write through GLib's default writer (journald
 * under it, else stderr), dropping what is more verbose than max (GLib
 * takes one writer per process: the unit tests install their own). */
void log_setup(GLogLevelFlags max, bool install);
