/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <json-glib/json-glib.h>

#include "kind.h"

/* What an object makes the daemon read on its writer's behalf: a claim it
 * clones from another namespace, a Secret whose keys it sends or writes
 * into a guest, a ConfigMap it takes a CA bundle from.  Using an object
 * is reading it, so whoever writes the referring object needs the right
 * to read what it names (docs/security.md); the API checks each reference
 * once, whatever entry point the object came through. */
typedef struct ObjectReference {
        char *field;            /* where, as a field path: "spec.source.pvc" */
        char *action;           /* the right needed: "object.apply" (a clone source, as CDI's
                                 * datavolumes/source), "secret.read", "object.read",
                                 * "vm.hostdevice" (a host device, kind "HostDevice") */
        char *kind;             /* "PersistentVolumeClaim", "Secret", "ConfigMap" */
        char *namespace;
        char *name;             /* NULL: anything in the namespace (a patch naming only one) */
} ObjectReference;

ObjectReference *object_reference_free(ObjectReference *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ObjectReference, object_reference_free)

/* Appends (ObjectReference *, owned by out) every reference of an
 * admitted document of kind in namespace.  Claims of the document's own
 * namespace are not listed (writing there is the right to read there);
 * Secrets and ConfigMaps are, whatever their namespace. */
void references_collect(const KindInfo *kind, JsonObject *doc, const char *namespace, GPtrArray *out);
