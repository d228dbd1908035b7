/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-event.h>

#include "object.h"
#include "storage.h"
#include "worker.h"

typedef struct PvcController PvcController;
typedef struct DataVolumeController DataVolumeController;
typedef struct VmController VmController;
typedef struct VmiController VmiController;
typedef struct SnapshotController SnapshotController;
typedef struct DataImportCronController DataImportCronController;
typedef struct ImageCache ImageCache;
typedef struct ImportSlots ImportSlots;
typedef struct EventRecorder EventRecorder;

/* The end of an asynchronous operation on an instance, on the main loop
 * (r < 0: error says why). */
typedef void (*InstanceDone)(void *userdata, int r, const char *error);
/* ... of a memory dump: size, the dump's length. */
typedef void (*InstanceDumpDone)(void *userdata, int r, const char *error, uint64_t size);

/* What other controllers ask of the instances' controller (vmi.c) that no
 * document answers: its live state, and commands.  It fills these in when
 * it starts; use them through the services_instance_*() calls below. */
typedef struct InstanceOps {
        void *data;
        /* Its guest was told to power off (or is being destroyed). */
        bool (*stopping)(void *data, Object *vmi);
        /* ACPI power-off, then destroy after grace seconds (-1: the
         * spec's terminationGracePeriodSeconds).  EBUSY: not running. */
        int (*stop)(void *data, Object *vmi, int64_t grace, GError **error);
        bool (*agent_connected)(void *data, Object *vmi);
        /* Hold a running instance's disks still for a snapshot: its file
         * systems frozen through the agent when one is connected (and
         * use_agent), else the guest paused (unless it is paused already:
         * then nothing).  *ret_how says which ("GuestAgent", "Paused", ""). */
        void (*quiesce)(void *data, Object *vmi, bool use_agent, const char **ret_how, InstanceDone done,
                        void *userdata);
        /* Undo what quiesce did (how: its answer). */
        void (*release)(void *data, Object *vmi, const char *how, InstanceDone done, void *userdata);
        /* The guest's memory (ELF, memory only) into the file path (a
         * claim's volume, which keeps its size).  EBUSY: not running. */
        int (*memory_dump)(void *data, Object *vmi, const char *path, InstanceDumpDone done, void *userdata,
                           GError **error);
} InstanceOps;

/* What other controllers ask of the claims' controller (pvc.c). */
typedef struct ClaimOps {
        void *data;
        /* Is a claim being made by copying from the volume of the object
         * with this uid (a claim, a snapshot content)? */
        bool (*source_in_use)(void *data, const char *uid);
        /* A claim lost a user (services_pvc_use): it may go now, and
         * clones of it may start. */
        void (*released)(void *data, const char *claim_uid);
} ClaimOps;

/* What controllers reach beyond the model: the loop, the worker pool for
 * blocking work, the storage classes (the default first), and the small
 * interfaces through which they ask each other what no document says. */
typedef struct Services {
        sd_event *event;
        Worker *worker;
        GPtrArray *backends;            /* StorageBackend, one per storage class */
        /* each controller's own state, for its hooks (no other controller's to use) */
        PvcController *pvc;
        DataVolumeController *datavolumes;
        VmController *vms;
        VmiController *vmis;
        SnapshotController *snapshots;  /* snapshot.h: snapshots taken, contents' volumes freed */
        DataImportCronController *crons; /* dataimportcron.h: the registry polls */
        InstanceOps instances;          /* vmi.c's, zero until it runs */
        ClaimOps claims;                /* pvc.c's, zero until it runs */
        ImageCache *images;             /* containerDisk images (imagecache.h) */
        const char *libvirt_uri;
        const char *nat_network;        /* libvirt network of the pod network (masquerade) */
        const char *bridge;             /* host bridge for bridge binding, or NULL */
        GPtrArray *host_devices;        /* HostDeviceConfig: what VMs may be given (hostdev.h) */
        const char *sysfs;              /* where the host's devices are listed: /sys ($EDGEVIRT_SYSFS in tests) */
        const char *nat_subnet;         /* its IPv4 subnet, NULL: 10.0.2.0/24 */
        /* claim uid -> number of users (imports writing it, running
         * instances): a claim with users keeps its pvc-protection finalizer */
        GHashTable *pvc_users;
        /* claim uid -> number of holders that need its bytes unchanged (a
         * Push reading it): no guest takes the claim meanwhile */
        GHashTable *pvc_locks;
        char *state_dir;
        char *importer;                 /* path of edgevirt-importer */
        ImportSlots *slots;             /* importer processes at once, per namespace, fairly (import-slots.h) */
        unsigned upload_idle_timeout;   /* seconds an upload may bring no byte */
        unsigned stall_timeout;         /* seconds a server may send nothing */
        EventRecorder *events;          /* event.h: what happened, for operators */
} Services;

/* A user of a claim comes or goes; the last one going tells the claims'
 * controller. */
void services_pvc_use(Services *s, const char *pvc_uid, bool in_use);
unsigned services_pvc_users(Services *s, const char *pvc_uid);
/* A holder that needs a claim's bytes unchanged (a Push reading it) comes or
 * goes: while it holds the claim, a guest that needs it waits and AddVolume
 * refuses it (vmi-volumes.c). */
void services_pvc_lock(Services *s, const char *pvc_uid, bool locked);
unsigned services_pvc_locks(Services *s, const char *pvc_uid);

StorageBackend *services_backend(Services *s, const char *class_name);

/* InstanceOps and ClaimOps, answered as when nothing runs when their
 * controller does not (s may be NULL). */
/* Being deleted, or its guest told to power off. */
bool services_instance_stopping(Services *s, Object *vmi);
int services_instance_stop(Services *s, Object *vmi, int64_t grace, GError **error);
bool services_instance_agent_connected(Services *s, Object *vmi);
void services_instance_quiesce(Services *s, Object *vmi, bool use_agent, const char **ret_how, InstanceDone done,
                               void *userdata);
void services_instance_release(Services *s, Object *vmi, const char *how, InstanceDone done, void *userdata);
int services_instance_memory_dump(Services *s, Object *vmi, const char *path, InstanceDumpDone done, void *userdata,
                                  GError **error);
bool services_claim_source_in_use(Services *s, const char *uid);
