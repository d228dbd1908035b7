/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What snapshot.c (VirtualMachineSnapshot, VirtualMachineSnapshotContent)
 * and restore.c (VirtualMachineRestore) share: the API group and its
 * versions, and the small helpers both controllers write status with. */
#pragma once

#include "model.h"
#include "object.h"

#define SNAPSHOT_GROUP "snapshot.kubevirt.io"
#define SNAPSHOT_DEFAULT_DEADLINE_USEC (5 * 60 * G_USEC_PER_SEC)

extern const char *const snapshot_versions[];

/* A copy of o's document to change; snapshot_status_commit() writes it
 * when it differs. */
JsonNode *snapshot_status_edit(Object *o, JsonObject **ret_status);
void snapshot_status_commit(Model *m, Object *o, JsonNode *doc);

/* spec.source / spec.target: a reference to a kubevirt.io VirtualMachine. */
int snapshot_check_vm_reference(JsonObject *ref, const char *field, GError **error);

/* The spec does not change after creation. */
int snapshot_spec_immutable(JsonObject *doc, JsonObject *old, GError **error);
