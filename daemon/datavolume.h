/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "model.h"

typedef struct Services Services;
typedef struct DataVolumeController DataVolumeController;

/* Also imports into PVCs annotated the CDI way (datavolume-status.h): it
 * watches claims, as a second controller of theirs. */
int datavolume_controller_new(Model *m, Services *s, DataVolumeController **ret);
/* Kills running imports. */
DataVolumeController *datavolume_controller_free(DataVolumeController *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(DataVolumeController, datavolume_controller_free)

/* Hand an upload DataVolume the client's data: fd is duplicated and read
 * by the importer.  The DataVolume must be UploadReady. */
int datavolume_upload(Model *m, Object *dv, int fd, GError **error);

/* --- CDI's rules of a DataVolume's phases, pure (tests/test-claim-rules.c) --- */

/* What the rules know of a DataVolume (not being deleted) and its claim. */
typedef struct DvFacts {
        const char *source;             /* http, registry, pvc, snapshot, upload, blank */
        const char *phase;              /* its status.phase */
        bool importing;                 /* its importer runs */
        bool claim;                     /* a claim of its name exists */
        bool claim_owned;               /* ... and it owns it */
        const char *claim_phase;        /* Pending, Bound, Lost */
        bool upload_waiting;            /* a client handed in the data of an upload */
        bool backing_off;               /* a failed import waits before it is tried again */
} DvFacts;

typedef enum DvStep {
        DV_STEP_WAIT,                   /* its import runs, or it is done */
        DV_STEP_RECLAIM,                /* done, but its claim was deleted: make it again (ClaimLost) */
        DV_STEP_MAKE_CLAIM,             /* make its claim */
        DV_STEP_NOT_OWNED,              /* a claim of its name is not its own (ErrResourceExists) */
        DV_STEP_CLAIM_PENDING,          /* its claim is not Bound yet */
        DV_STEP_DONE,                   /* blank or a clone, its claim Bound: nothing to copy */
        DV_STEP_UPLOAD_READY,           /* an upload waits for a client's data */
        DV_STEP_UPLOAD,                 /* start the upload's importer (when an import slot is free) */
        DV_STEP_BACK_OFF,               /* an import failed: wait before trying again */
        DV_STEP_IMPORT,                 /* start the importer (when an import slot is free) */
} DvStep;

DvStep datavolume_next_step(const DvFacts *f);
/* The phase a DataVolume shows at a step (UPLOAD and IMPORT: until it has
 * its import slot); NULL: the step changes none. */
const char *datavolume_step_phase(DvStep step, const char *source);

/* How an importer's end shows: exit code 0 is done; an upload may be sent
 * again; exit code 2 (a transfer that may work later) and a crash (code < 0)
 * are retried after backoff seconds, doubling with the restarts; anything
 * else fails the DataVolume. */
typedef struct DvOutcome {
        const char *phase;
        const char *reason;
        bool restart;                   /* counts in restartCount */
        unsigned backoff;               /* seconds before the next try; 0: none */
} DvOutcome;

DvOutcome datavolume_import_outcome(int code, bool upload, int64_t restarts);

/* A CDI-annotated claim's cdi.kubevirt.io/storage.pod.phase for a phase of
 * its import (running: its importer runs). */
const char *datavolume_pod_phase(const char *phase, bool running);
