/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

#include "model.h"

typedef struct Services Services;
typedef struct PvcController PvcController;

/* Starts by preparing every storage class and scanning its volumes on the
 * worker pool: adopts what belongs to a claim, removes what does not, marks
 * claims whose volume is missing Lost.  Answers ClaimOps (services.h).
 * A claim's facts are in pvc-status.h. */
int pvc_controller_new(Model *m, Services *s, PvcController **ret);
PvcController *pvc_controller_free(PvcController *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PvcController, pvc_controller_free)

/* --- the claims' rules, pure (tests/test-claim-rules.c) --- */

/* What the rules know of a claim. */
typedef struct ClaimFacts {
        const char *phase;              /* status.phase: Pending, Bound, Lost */
        bool deleting;
        bool protected;                 /* it has the pvc-protection finalizer */
        bool in_use;                    /* users (imports, instances) or a clone reading it */
        bool busy;                      /* an operation on it, or a scan of the classes, runs */
        bool class_known;               /* its storage class is configured */
        bool class_ready;               /* ... and could be prepared */
        uint64_t requested, capacity;   /* bytes */
} ClaimFacts;

typedef enum ClaimStep {
        CLAIM_NOTHING,
        CLAIM_LET_GO,                   /* being deleted, unused: pvc-protection goes */
        CLAIM_CLASS_NOT_FOUND,          /* Pending: StorageClassNotFound */
        CLAIM_CLASS_NOT_READY,          /* Pending: StorageClassNotReady */
        CLAIM_PROVISION,                /* make its volume (new, a clone, a copy) */
        CLAIM_EXPAND,                   /* grow its volume to the request */
} ClaimStep;

ClaimStep pvc_next_step(const ClaimFacts *f);

/* How a claim changes after an operation or a scan of its class. */
typedef struct ClaimOutcome {
        const char *phase;              /* NULL: as it is */
        const char *reason;             /* of the Provisioned condition (Pending, Lost) */
        bool bind;                      /* spec.volumeName names its volume */
        bool retry;                     /* look at the claims again in a while */
} ClaimOutcome;

/* An operation (making the volume, or expand: growing it) ended with r. */
ClaimOutcome pvc_operation_outcome(bool expand, int r);
/* A scan of the claim's class found its volume or not. */
ClaimOutcome pvc_scan_outcome(const char *phase, bool deleting, bool volume_found);
