/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>
#include <json-glib/json-glib.h>

#include "kind.h"

/* A stored object: its identity (fixed for its life) and its current
 * document (replaced as it changes). */
struct Object {
        unsigned n_ref;
        Model *model;           /* the model holding it (borrowed), NULL once removed */
        const KindInfo *kind;
        char *namespace;        /* "" for cluster-scoped kinds */
        char *name;
        char *uid;
        char *key;              /* "<kind>/<namespace>/<name>" */
        uint64_t resource_version;
        /* The document's tree, never changed in place: replaced (object_set_doc).
         * object.c's own: read through object_doc(), as it is NULL while the
         * tree is dropped (object_trees_drop_idle); named so that no reader
         * of the former `doc` field compiles. */
        JsonNode *tree;
        char *json;             /* doc as compact JSON, once asked for or its tree dropped */
        GList tree_link;        /* in the list of parsed trees; data NULL when not */
        bool tree_read;         /* doc read since the last object_trees_drop_idle() */
};

/* Takes ownership of doc, which must carry metadata.name and .uid. */
Object *object_new(const KindInfo *kind, JsonNode *doc);
Object *object_ref(Object *o);
Object *object_unref(Object *o);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Object, object_unref)

void object_set_doc(Object *o, JsonNode *doc);
/* The document as compact JSON (json_text), written when first asked for
 * and kept until the document is replaced: what List and Get join. */
const char *object_json(Object *o);
/* Its current document's compact JSON, written already (the store's row):
 * takes text, which must be json_text(doc, false). */
void object_set_json(Object *o, char *text);
/* The document's tree, parsed again from its text if it was dropped.
 * Borrowed, valid until the document is replaced or the main loop drops
 * the trees (object_trees_drop, between two dispatches): whoever keeps it
 * longer takes a reference (json_node_ref). */
JsonNode *object_doc(Object *o);
/* Drop the trees not read since the last call, keeping their text: only
 * where nobody holds a borrowed one (the model calls it from a timer, every
 * MODEL_TREES_IDLE_USEC).  Returns how many were dropped; *ret_left how
 * many trees are left. */
unsigned object_trees_drop_idle(unsigned *ret_left);
/* notify(userdata) when a tree is parsed or set while none was: the model
 * arms its drop.  NULL: nobody is told. */
void object_trees_set_notify(void (*notify)(void *userdata), void *userdata);

JsonObject *object_root(Object *o);
JsonObject *object_metadata(Object *o);
const char *object_meta_string(Object *o, const char *member);
JsonObject *object_labels(Object *o);
const char *object_status_string(Object *o, const char *member);
bool object_is_deleting(Object *o);
/* Does an ownerReference of o name owner? */
bool object_owned_by(Object *o, Object *owner);
/* A new ownerReference naming owner (served as api_version) as its
 * objects' controller, blocking its deletion (foreground) until they go. */
JsonObject *object_owner_reference(Object *owner, const char *api_version);

/* Kubernetes conditions: set one in status.conditions (made if absent;
 * lastTransitionTime moves when the status does), or read a field of one
 * ("status", "reason", "message"; NULL when absent). */
void status_set_condition(JsonObject *status, const char *type, bool value, const char *reason, const char *message);
/* The status of a new scalable object (pools, replica sets): no replicas yet. */
void status_init_replicas(JsonObject *doc);
const char *object_condition(Object *o, const char *type, const char *field);

char *object_key(const KindInfo *kind, const char *namespace, const char *name);

/* Which object a verb wrote or would write, stored or not: its stored
 * kind, namespace ("" for cluster-scoped kinds) and name.  The bus makes
 * a path of it (dbus/object-path.h). */
typedef struct ObjectName {
        const KindInfo *kind;
        char *namespace;
        char *name;
} ObjectName;

ObjectName *object_name_new(const KindInfo *kind, const char *namespace, const char *name);
ObjectName *object_name_free(ObjectName *n);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ObjectName, object_name_free)
