/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "model.h"

extern const KindInfo kind_vm;

/* KubeVirt's run strategy of a VM: spec.runStrategy, or the legacy
 * spec.running (true: Always, false or absent: Halted). */
const char *vm_run_strategy(Object *vm);
const char *vm_printable_status(Object *vm);
bool vm_ready(Object *vm);

/* The VM owning an instance (NULL for a VMI of its own). */
Object *vm_of_instance(Model *m, Object *vmi);
/* The instance of a VM, if it has one. */
/* An ownerReference naming vm as its objects' controller. */
JsonObject *vm_owner_reference(Object *vm);
Object *vm_instance(Model *m, Object *vm);

/* virtctl's verbs, with KubeVirt's rules per run strategy; errors say
 * why a verb does not apply (EBUSY). grace < 0: the spec's. */
int vm_start(Model *m, Object *vm, bool paused, GError **error);
int vm_stop(Model *m, Object *vm, bool force, int64_t grace, GError **error);
int vm_restart(Model *m, Object *vm, bool force, int64_t grace, GError **error);

/* For the VMI controller. */
void vm_instance_changed(Model *m, Object *vmi);
void vm_enqueue_all(Model *m);
void vm_tick(Model *m);
bool vm_needs_tick(Model *m);
