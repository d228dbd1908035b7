/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

#include "kind.h"
#include "model.h"

/* KubeVirt's snapshots (snapshot.kubevirt.io, docs/snapshots.md): a
 * VirtualMachineSnapshot copies a VM's spec and the volumes of its claims
 * and DataVolumes (a backend clone each: O(1) on lvm-thin and reflinking
 * file systems) into a VirtualMachineSnapshotContent; a
 * VirtualMachineRestore puts a stopped VM back as it was, on new claims
 * made from those copies. */
extern const KindInfo kind_vmsnapshot;
extern const KindInfo kind_vmsnapshot_content;
extern const KindInfo kind_vmrestore;

/* A claim made from a snapshot's volume (dataSource kind VolumeSnapshot,
 * named by the volumeSnapshotName of a VirtualMachineSnapshotContent in
 * the claim's namespace): the volume's id, its storage class, and the
 * content's uid (it is kept while the copy reads it).  -ENOENT: no such
 * volume snapshot; -EAGAIN: not ready yet. */
int snapshot_volume_source(Model *m, const char *namespace, const char *name, char **ret_id, const char **ret_class,
                           const char **ret_content_uid, GError **error);

/* The size of that volume snapshot (its claim's when it was taken). */
int snapshot_volume_size(Model *m, const char *namespace, const char *name, uint64_t *ret, GError **error);

/* Reconcile o again in a second (it waits for something no change of its
 * own or its dependents announces). */
void snapshot_look_again(Model *m, Object *o);

/* Is a VirtualMachineRestore of this VM under way (it must not start)? */
bool snapshot_restore_in_progress(Model *m, Object *vm);
