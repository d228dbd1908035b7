/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "model.h"

/* Where objects are on the bus (docs/architecture.md, "D-Bus paths"):
 * cluster-scoped ones at BUS_OBJECT_ROOT/<segment>/<name> (namespaces at
 * BUS_NAMESPACE_PREFIX/<name>), namespaced ones at
 * BUS_NAMESPACE_PREFIX/<namespace>/<segment>/<name>, each label made with
 * sd_bus_path_encode.  The model knows kinds and names; paths are made and
 * read here only. */
#define BUS_OBJECT_ROOT "/org/edgevirt/EdgeVirt1"
#define BUS_NAMESPACE_PREFIX BUS_OBJECT_ROOT "/namespace"

/* The path of the object of kind (its stored kind) named namespace/name
 * ("" for cluster-scoped kinds), whether or not it exists. */
char *object_path_make(const KindInfo *kind, const char *namespace, const char *name);
/* The path of namespace's Events' own ObjectManager,
 * BUS_NAMESPACE_PREFIX/<namespace>/event: the Events are listed there, not
 * by the ObjectManager at BUS_OBJECT_ROOT (docs/dbus-api.md). */
char *object_path_events(const char *namespace);
/* The namespace whose Events' ObjectManager path is, or NULL: the inverse
 * of object_path_events. */
char *object_path_events_namespace(const char *path);
/* The path of a stored object. */
char *object_path_of(Object *o);
/* The stored object at path, or NULL: the inverse of object_path_of, so a
 * path that is not exactly an object's own finds nothing. */
Object *object_path_find(Model *m, const char *path);
