/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the VMI controller's files share (vmi.c: reconcile, start and stop;
 * vmi-volumes.c: an instance's volumes; vmi-agent.c: the guest agent and
 * addresses; vmi-adopt.c: what libvirt runs after a restart).  Not for
 * other controllers: they read vmi-status.h and ask through services.h. */
#pragma once

#include "credentials.h"
#include "domain.h"
#include "hypervisor.h"
#include "model.h"
#include "seed.h"
#include "services.h"
#include "vmi-status.h"
#include "vmi.h"

#define TICK_USEC (1 * G_USEC_PER_SEC)
#define ADDRESS_POLL_FAST_USEC (3 * G_USEC_PER_SEC)     /* until the guest has an address */
#define ADDRESS_POLL_SLOW_USEC (30 * G_USEC_PER_SEC)
#define GUEST_INFO_USEC (30 * G_USEC_PER_SEC)             /* agent facts while connected */
#define AGENT_OFFLINE "the guest agent is not connected"

/* What the controller knows of one instance beside its document, by vmi
 * uid: made when first needed (a start, an adopted domain), dropped when
 * the instance goes (its finalizer ran). */
typedef struct Instance {
        char *uid;
        bool busy;                      /* a start is under way */
        gint64 first_try;               /* monotonic µs it was first started (imagePullPolicy Always); 0: not yet */
        /* what its events said last of its images: pulling (then "Pulled"
         * when they are there), a pull failed (said once until it changes) */
        bool pulling;
        bool pull_failed;
        GPtrArray *claims;              /* claim uids held (pvc-protection); NULL: none */
        GPtrArray *images;              /* cached image digests held (collection); NULL: none */
        /* its domain, as libvirt runs it */
        bool domain;                    /* libvirt runs it (created, or adopted when listed) */
        bool paused;
        /* stopping: ACPI power-off sent (or destroy at once) */
        bool stopping;
        gint64 stop_deadline;           /* monotonic µs: destroy then */
        bool destroy_sent;
        gint64 destroy_backoff;         /* µs to a failed destroy's next try (1 s doubling to 30 s) */
        guint destroy_error;            /* g_str_hash of its last error, logged once per change */
        /* the guest agent and what is polled */
        JsonObject *agent;              /* connected: its last facts ({} before the first); NULL: not connected */
        gint64 address_due;             /* monotonic µs of the next address poll; 0: no polls */
        bool address_busy;
        gint64 guest_due;               /* monotonic µs of the next guest-info call; 0: none (no agent) */
        bool guest_busy;
        CredentialsSync *creds;         /* while its agent is connected and its Secrets are sent */
        GPtrArray *hostdevs;            /* host device names it holds (vmi-hostdev.c); NULL: none */
        char *holder_name;              /* "namespace/name", for those who wait for them */
        /* declarative hotplug: template volumes whose attach failed, not
         * tried again until the template's volumes or disks change */
        GHashTable *hotplug_failed;     /* volume names; NULL: none */
        char *hotplug_template;         /* the template's volumes and disks (JSON) they failed with */
} Instance;

Instance *instance_free(Instance *i);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Instance, instance_free)

struct VmiController {
        Model *model;
        Services *services;
        Hypervisor *hv;
        char *owner;                    /* this daemon's id in domain metadata */
        char *instances_dir;            /* state: per-instance disks */
        char *runtime_dir;              /* sockets */
        GHashTable *instances;          /* vmi uid -> Instance */
        sd_event_source *tick;
        bool listed;                    /* libvirt's domains were listed once */
};

/* The instance of uid, or NULL; instance_get makes it when absent. */
Instance *vmi_instance_find(VmiController *c, const char *uid);
/* The instance of a running (not stopping) guest; EBUSY saying so, else. */
int vmi_running_domain(VmiController *c, Object *vmi, Instance **ret, GError **error);
/* InstanceOps.memory_dump (vmi-memorydump.c) */
int vmi_memory_dump(void *data, Object *vmi, const char *path, InstanceDumpDone done, void *userdata, GError **error);
Instance *vmi_instance_get(VmiController *c, const char *uid);

typedef struct VmiStatus {
        const char *phase;              /* NULL: keep */
        const char *reason, *message;   /* Synchronized condition (False when set) */
        int paused;                     /* -1 keep, 0, 1 */
        int agent;                      /* -1 keep, 0, 1 */
        JsonArray *interfaces;          /* NULL: keep (taken) */
        JsonObject *os_info;            /* NULL: keep (borrowed) */
        const char *creds;              /* AccessCredentialsSynchronized: NULL keep, "" True,
                                         * else False with this message */
} VmiStatus;

/* --- host devices (vmi-hostdev.c) --- */

/* The instance's host devices for its domain (DomainHostDevice, empty
 * when it asks for none), held from now on; NULL when another instance
 * holds one (status written: Pending, HostDeviceInUse) or one is not on
 * this host (status: Failed). */
GArray *vmi_hostdevs_take(VmiController *c, Object *vmi);
/* A running domain found after a restart holds what its spec names. */
void vmi_hostdevs_adopt(VmiController *c, Object *vmi);
/* Let go of them; instances waiting for one try again. */
void vmi_hostdevs_release(VmiController *c, Object *vmi);
/* Free what i holds (no one told). */
void vmi_hostdevs_clear(Instance *i);

/* --- volumes (vmi-volumes.c) --- */

typedef enum VolState {
        VOL_READY,
        VOL_PULLING,                    /* a containerDisk image is being pulled */
        VOL_WAITING,                    /* WaitingForVolumeBinding */
        VOL_PVC_NOT_FOUND,              /* ErrorPvcNotFound */
        VOL_DV_ERROR,                   /* DataVolumeError */
        VOL_CONFIG_MISSING,             /* FailedMount: a configMap/secret volume's object is missing */
        VOL_IMAGE_ERROR,                /* ErrImagePull, ErrImageNeverPull: r->reason */
        VOL_FAILED,                     /* cannot work as written: the instance fails */
} VolState;

typedef struct SeedJob {
        Seed *seed;
        char *path;
} SeedJob;

typedef struct Resolved {
        GHashTable *volumes;            /* name -> DomainVolume (strings owned by strings) */
        GPtrArray *strings;
        GPtrArray *claims;              /* claim uids */
        GPtrArray *empty_disks;         /* "path\0size" pairs: path, then size as string */
        GPtrArray *seeds;               /* SeedJob: cloud-init images to write */
        GPtrArray *overlays;            /* Overlay: containerDisk overlays to make */
        GPtrArray *images;              /* digests of the cached images used */
        const char *kernel, *initrd;    /* firmware.kernelBoot's files in the image cache, or NULL */
        bool adopting;                  /* the domain runs: only learn what it uses */
        const char *reason;
        char *message;
} Resolved;

typedef struct Overlay {
        char *path, *backing, *digest;  /* digest: the containerDisk's image; NULL for an ephemeral claim */
} Overlay;

/* What libvirt needs for the instance's volumes, and what the start must
 * make first; r->adopting: the domain runs, only learn what it uses. */
VolState vmi_resolve_volumes(VmiController *c, Object *vmi, Resolved *r);
void vmi_resolved_clear(Resolved *r);
/* The same for one volume (a hotplug's, not in vmi's spec yet). */
VolState vmi_resolve_volume(VmiController *c, Object *vmi, JsonObject *volume, Resolved *r);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Resolved, vmi_resolved_clear)

/* --- vmi.c --- */

void vmi_write_status(VmiController *c, Object *vmi, const VmiStatus *u);
char *vmi_instance_dir(VmiController *c, Object *vmi);
/* The domain libvirt runs is this instance's. */
bool vmi_has_domain(VmiController *c, Object *vmi);
/* The instance's domain runs (else -EBUSY, "not running"). */
int vmi_running_domain(VmiController *c, Object *vmi, Instance **ret, GError **error);
/* Done function of destroy and shutdown: logs a failure. */
void vmi_op_logged(HvOp *op);
/* Done function of a stop's destroy: logs a failure and, unless the domain
 * is gone, lets the tick send it again. */
void vmi_destroy_done(HvOp *op);
void vmi_domain_stopped(VmiController *c, Object *vmi, Instance *inst, int detail);

/* --- the guest agent (vmi-agent.c) --- */

void vmi_agent_changed(VmiController *c, Object *vmi, bool connected);
/* After a start or an adoption: an agent that connected before we looked
 * sends no event. */
void vmi_check_agent(VmiController *c, Object *vmi);
/* On the tick: address polls, guest-info calls and credentials due. */
void vmi_agent_tick(VmiController *c, gint64 now);
/* InstanceOps' quiesce and release (services.h). */
void vmi_quiesce(VmiController *c, Object *vmi, bool use_agent, const char **ret_how, InstanceDone done,
                 void *userdata);
void vmi_release(VmiController *c, Object *vmi, const char *how, InstanceDone done, void *userdata);

/* --- hotplug (vmi-hotplug.c) --- */

/* Watch VMs (their template's hotpluggable volumes are attached to and
 * detached from the running instance) and claims and DataVolumes (a
 * volume that was not ready is tried again). */
void vmi_hotplug_watch(VmiController *c);
/* libvirt says the guest let go of the device of alias: a detach is done. */
void vmi_hotplug_removed(VmiController *c, Object *vmi, const char *alias);
/* Adopted after a restart: Pending and Detaching volumes finished from the
 * live domain. */
void vmi_hotplug_adopt(VmiController *c, Object *vmi);
void vmi_hotplug_unwatch(VmiController *c);

/* --- adoption (vmi-adopt.c) --- */

/* List libvirt's domains: adopt ours, remove what nothing owns any more. */
void vmi_list_domains(VmiController *c);

/* --- firmware state (vmi-firmware.c) --- */

/* The node's firmware files (OVMF) and whether swtpm is installed, into h. */
void vmi_firmware_host(DomainHost *h);
/* What a new EFI variable store of the spec is copied from; NULL: no EFI. */
const char *vmi_nvram_template(JsonObject *spec, const DomainHost *h);
/* The EFI variable store of the instance: its VM's when efi.persistent
 * (kept across the VM's instances), else the instance's own. */
char *vmi_nvram_path(VmiController *c, Object *vmi);
/* On a worker: the store's directory, and the store copied from template
 * unless it is there already (the VM's, as its firmware left it). */
int vmi_nvram_prepare(const char *nvram, const char *template, char **ret_error);
/* On a worker: the marker of owner_uid's persistent vTPM says uuid
 * (firmware-store.h). */
int vmi_tpm_mark(VmiController *c, const char *owner_uid, const char *uuid, char **ret_error);
/* The files of a VM (or VMI) that is gone, <state>/instances/<owner_uid>,
 * and, with tpm (its spec has a persistent vTPM, or it is not known: what
 * the daemon was down for), the swtpm state its marker names. */
void vmi_forget_owner_files(VmiController *c, const char *owner_uid, bool tpm);
/* Watches VMs: a removed VM's NVRAM and vTPM state are removed. */
extern const ModelWatch vmi_vm_firmware_watch;
