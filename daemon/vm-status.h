/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "model.h"

/* Read-only facts of a VirtualMachine and its relations, from the
 * documents: what the bus shows and what other controllers ask.  Includes
 * no controller. */

#define KUBEVIRT_API "kubevirt.io/v1"

/* KubeVirt's run strategy of a VM: spec.runStrategy, or the legacy
 * spec.running (true: Always, false or absent: Halted). */
const char *vm_run_strategy(Object *vm);
const char *vm_printable_status(Object *vm);
bool vm_ready(Object *vm);

/* The instance of a VM (the VMI of its name it owns), if it has one. */
Object *vm_instance(Model *m, Object *vm);
/* The VM owning an instance (NULL for a VMI of its own). */
Object *vm_of_instance(Model *m, Object *vmi);
/* An ownerReference naming vm as its objects' controller (new, owned by the caller). */
JsonObject *vm_owner_reference(Object *vm);
/* Admission: a firmware.uuid (the domain UUID, and so where libvirt keeps
 * the vTPM's state) no other VM or VMI of any namespace has, the instance
 * of the same name (a VM's own) apart; one already admitted (old) stays. */
int vm_firmware_uuid_admit(Model *m, const char *namespace, const char *name, JsonObject *vmi_spec,
                           JsonObject *old_vmi_spec, const char *path, GError **error);
