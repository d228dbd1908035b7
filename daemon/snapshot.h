/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kind.h"
#include "services.h"

/* KubeVirt's snapshots (snapshot.kubevirt.io, docs/snapshots.md): a
 * VirtualMachineSnapshot copies a VM's spec and the volumes of its claims
 * and DataVolumes (a backend clone each: O(1) on lvm-thin and reflinking
 * file systems) into a VirtualMachineSnapshotContent; a
 * VirtualMachineRestore puts a stopped VM back as it was, on new claims
 * made from those copies.  Their kinds (kind_vmsnapshot,
 * kind_vmsnapshot_content, kind_vmrestore) are in kind.h; what other
 * controllers read of them, in snapshot-status.h. */

/* The controller's state: work under way (services->snapshots; freed
 * after the workers). */
SnapshotController *snapshot_controller_new(void);
SnapshotController *snapshot_controller_free(SnapshotController *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SnapshotController, snapshot_controller_free)
