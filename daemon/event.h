/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "model.h"

/* Kubernetes' v1 Events: what happened to an object and why, for
 * `edgevirtctl get events` and `describe`.  The daemon records them (users
 * may read and delete them, not write them); a repeat of the same event
 * (same object, type, reason and message) raises its count and
 * lastTimestamp instead of adding one, as Kubernetes' recorder does.
 * Bounded: at most max_per_namespace per namespace (the oldest go first)
 * and none older than time_to_live seconds (kube-apiserver's --event-ttl);
 * they go with their namespace.  Events about cluster-scoped objects live
 * in "default", as in Kubernetes. */
typedef struct EventRecorder EventRecorder;

typedef struct EventLimits {
        unsigned max_per_namespace;     /* [Events] MaxPerNamespace= (1000) */
        unsigned time_to_live;          /* [Events] TimeToLive= seconds (3600) */
} EventLimits;

#define EVENT_DEFAULT_MAX_PER_NAMESPACE 1000u
#define EVENT_DEFAULT_TIME_TO_LIVE 3600u

int event_recorder_new(Model *m, sd_event *event, const EventLimits *limits, EventRecorder **ret);
EventRecorder *event_recorder_free(EventRecorder *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EventRecorder, event_recorder_free)

/* Record that something happened to involved: warning or normal, a
 * CamelCase reason ("ImportSucceeded"), a sentence. */
void event_record(EventRecorder *r, Object *involved, bool warning, const char *reason, const char *format, ...)
        G_GNUC_PRINTF(5, 6);

/* Record something about a file of the manifests directories (there is
 * no object to involve): in "default", involvedObject kind ManifestFile,
 * named by the file's name, the whole path in fieldPath. */
void event_record_file(EventRecorder *r, const char *path, bool warning, const char *reason, const char *format,
                       ...) G_GNUC_PRINTF(5, 6);

/* Drop events past their time to live now (a timer does it every minute). */
void event_recorder_expire(EventRecorder *r);

/* event-rules.c, for event.c: the watches that turn status changes into
 * events (the state each object was last seen in, by uid). */
typedef struct EventRecorderWatch {
        EventRecorder *recorder;
        GHashTable *states;             /* uid -> state */
} EventRecorderWatch;
void event_rules_watch(EventRecorderWatch *w, Model *m);
void event_rules_unwatch(EventRecorderWatch *w, Model *m);
