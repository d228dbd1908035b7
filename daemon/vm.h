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

/* --- KubeVirt's rules of run strategies, pure (tests/test-vm-rules.c) --- */

/* What the rules know of a VM and its instance. */
typedef struct VmRunFacts {
        const char *strategy;           /* Always, RerunOnFailure, Manual, Halted, Once (vm_run_strategy) */
        bool deleting;                  /* the VM is being deleted */
        const char *request;            /* action of its first stateChangeRequest (Start, Stop); NULL: none */
        const char *request_uid;        /* its data.uid: the instance a Stop is for; NULL: any */
        bool more_requests;             /* another request follows (a restart: Stop, then Start) */
        bool created;                   /* status.created: it had an instance (Once runs one) */
        bool start_failure;             /* status.startFailure: an instance of it failed */
        bool restoring;                 /* a VirtualMachineRestore of it is under way */
        bool backing_off;               /* its retryAfterTimestamp has not come */
        const char *instance_uid;       /* its instance; NULL: none */
        const char *instance_phase;     /* Pending ... Running, Succeeded, Failed */
        bool instance_deleting;
        bool instance_stopping;         /* being deleted, or its guest told to power off */
        bool instance_paused;
        const char *instance_waiting;   /* why it waits (vmi_waiting_reason), or NULL */
} VmRunFacts;

typedef enum VmRunAction {
        VM_RUN_NOTHING,
        VM_RUN_CREATE,                  /* make the instance */
        VM_RUN_DELETE,                  /* delete the instance */
        VM_RUN_STOP,                    /* tell its guest to power off (the spec's grace period) */
} VmRunAction;

typedef struct VmRunDecision {
        VmRunAction action;
        bool request_done;              /* the first state-change request is dealt with: it goes */
        bool count_failure;             /* a failed instance under Always/RerunOnFailure: counted, backed off */
        bool wait_backoff;              /* it would make an instance but backs off: wake when that ends */
} VmRunDecision;

VmRunDecision vm_run_decide(const VmRunFacts *f);
/* status.printableStatus and status.ready */
const char *vm_run_printable(const VmRunFacts *f);
bool vm_run_ready(const VmRunFacts *f);

/* virtctl's verbs, with KubeVirt's rules per run strategy; errors say
 * why a verb does not apply (EBUSY). grace < 0: the spec's. */
int vm_start(Model *m, Object *vm, bool paused, GError **error);
int vm_stop(Model *m, Object *vm, bool force, int64_t grace, GError **error);
int vm_restart(Model *m, Object *vm, bool force, int64_t grace, GError **error);
