/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

#include "model.h"

/* Read-only facts of KubeVirt's snapshots and restores, from the
 * documents: the volume snapshots a VirtualMachineSnapshotContent records
 * (what a claim made from one copies, and its size) and whether a
 * VirtualMachineRestore of a VM is under way.  Includes no controller. */

/* A content's annotation: the ids of its copies, in volumeBackups' order. */
#define SNAPSHOT_VOLUME_IDS "snapshot.edgevirt.org/volume-ids"

/* A claim made from a snapshot's volume (dataSource kind VolumeSnapshot,
 * named by the volumeSnapshotName of a VirtualMachineSnapshotContent in
 * the claim's namespace): the volume's id, its storage class, and the
 * content's uid (it is kept while the copy reads it).  -ENOENT: no such
 * volume snapshot; -EAGAIN: not ready yet. */
int snapshot_volume_source(Model *m, const char *namespace, const char *name, char **ret_id, const char **ret_class,
                           const char **ret_content_uid, GError **error);

/* The copy a ready VirtualMachineSnapshot holds of a claim of its VM: as
 * snapshot_volume_source.  -ENOENT: no such snapshot, or no copy of that
 * claim in it; -EBUSY: not ready to use (yet). */
int snapshot_claim_copy(Model *m, const char *namespace, const char *snapshot, const char *claim, char **ret_id,
                        const char **ret_class, GError **error);

/* The size of that volume snapshot (its claim's when it was taken). */
int snapshot_volume_size(Model *m, const char *namespace, const char *name, uint64_t *ret, GError **error);

/* A VirtualMachineRestore that failed (it will not go on). */
bool snapshot_restore_failed(Object *restore);
/* Is a VirtualMachineRestore of this VM under way (it must not start)? */
bool snapshot_restore_in_progress(Model *m, Object *vm);

/* The uid of the VirtualMachineSnapshot a content was made for (its name
 * is vmsnapshot-content-<uid>), NULL when it is not such a name; the
 * snapshot's copy of the EFI variable store is kept under it. */
const char *snapshot_content_snapshot_uid(Object *content);
