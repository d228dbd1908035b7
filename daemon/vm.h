/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "model.h"

typedef struct Services Services;
typedef struct VmController VmController;

/* VirtualMachines (kind_vm, kind.h): run strategies, verbs as state-change
 * requests, back-off.  The controller watches instances (a VM follows the
 * VMI of its name) and wakes VMs whose back-off ended.  A VM's facts are
 * in vm-status.h. */
int vm_controller_new(Model *m, Services *s, VmController **ret);
VmController *vm_controller_free(VmController *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VmController, vm_controller_free)

/* virtctl's verbs, with KubeVirt's rules per run strategy; errors say
 * why a verb does not apply (EBUSY). grace < 0: the spec's. */
int vm_start(Model *m, Object *vm, bool paused, GError **error);
int vm_stop(Model *m, Object *vm, bool force, int64_t grace, GError **error);
int vm_restart(Model *m, Object *vm, bool force, int64_t grace, GError **error);
