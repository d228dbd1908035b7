/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What model.c (the verbs, batches, the store and the reconcile queue) and
 * model-admit.c (admission of one document into a batch) share; nothing
 * else includes this. */
#include "model.h"
#include "store.h"

#define DEFAULT_NAMESPACE "default"
#define MAX_ANNOTATIONS_SIZE (256 * 1024)
#define MAX_LIST_DEPTH 4
#define RECONCILE_RETRY_USEC (2 * G_USEC_PER_SEC)
/* A document's tree not read for this long (up to twice as long) goes */
#define MODEL_TREES_IDLE_USEC (2 * G_USEC_PER_SEC)

struct Model {
        sd_event *event;
        Store *store;
        ModelLimits limits;
        GHashTable *by_key;             /* key -> Object (owned) */
        GHashTable *by_uid;             /* uid -> Object (borrowed) */
        GHashTable *queue;              /* uid -> NULL: to reconcile */
        GHashTable *ns_counts;          /* namespace -> objects in it */
        GHashTable *later;              /* uid -> sd_event_source: its one look-again timer */
        sd_event_source *reconcile_source;
        sd_event_source *retry_source;
        sd_event_source *trees_source;  /* drops the documents' idle trees (object_trees_drop_idle) */
        uint64_t trees_idle_usec;       /* MODEL_TREES_IDLE_USEC, or the tests' */
        bool trim_wanted;               /* model_trim_soon() since the timer last ran */
        ModelObserver observer;
        void *observer_data;
        GPtrArray *watches;             /* Watch, in the order added */
        Services *services;
        gint64 status_log_next;         /* model_write_status: no failure logged before (monotonic µs) */
        unsigned status_unlogged;       /* ... and how many were not since the last line */
};

typedef struct Watch {
        const KindInfo *kind;
        const ModelWatch *w;
        void *userdata;
} Watch;

typedef enum AdmitFlags {
        ADMIT_CREATE_ONLY = 1 << 0,     /* AlreadyExists if present */
        ADMIT_SYSTEM      = 1 << 1,     /* the daemon itself: read-only kinds too */
} AdmitFlags;

/* --- batches: the staged changes of one transaction --- */

typedef struct Change {
        const KindInfo *kind;
        Object *old;            /* the stored object, or NULL when created */
        JsonNode *doc;          /* the new document, or NULL when removed */
        char *text;             /* doc as the store got it (compact JSON), once written */
} Change;

typedef struct Batch {
        Model *m;
        GPtrArray *changes;     /* Change, in staging order */
        GHashTable *by_key;     /* key -> Change (borrowed) */
        GHashTable *created;    /* namespace -> objects this batch creates there */
} Batch;

/* The document a batch would leave at key: staged, else stored; NULL if none. */
JsonNode *batch_current(Batch *b, const char *key);
/* Stage doc (NULL: removal) as key's new state. */
void batch_stage(Batch *b, const KindInfo *kind, const char *key, JsonNode *doc);
/* metadata.member of a document, or NULL. */
const char *doc_meta_string(JsonNode *doc, const char *member);

/* Validates one document and stages its new state in b.  *ret_name gets
 * which object it is.  The document is modified (normalized). */
int admit_document(Batch *b, JsonNode *node, const ApplyOptions *opts, AdmitFlags flags,
                   GPtrArray *warnings, ObjectName **ret_name, GError **error);
