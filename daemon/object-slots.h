/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "model.h"
#include "services.h"

/* Import slots (import-slots.h) asked for by objects of the model
 * (DataVolumes, annotated PVCs), by uid: a request is made by the first
 * reconcile that needs a slot, queues the object again when granted, and
 * is taken by the import that starts with it or dropped when the object no
 * longer needs it (or goes away). */
typedef struct ObjectSlots ObjectSlots;
typedef struct ImportTicket ImportTicket;

int object_slots_new(Model *m, Services *s, ObjectSlots **ret);
ObjectSlots *object_slots_free(ObjectSlots *q);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ObjectSlots, object_slots_free)

/* Whether o may start its importer now; asks for a slot (in o's
 * namespace's fair queue) the first time. */
bool object_slots_granted(ObjectSlots *q, Object *o);
/* The granted slot, for the import that starts with it. */
ImportTicket *object_slots_take(ObjectSlots *q, Object *o);
/* Not needed (any more): leave the queue or give the slot back. */
void object_slots_drop(ObjectSlots *q, const char *uid);
/* What waiting looks like, for a status message. */
char *object_slots_message(ObjectSlots *q, const char *ns);
