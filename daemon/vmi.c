/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VirtualMachineInstance (kubevirt.io/v1): one running guest, a transient
 * libvirt domain named <namespace>_<name> carrying our metadata.  The
 * controller resolves the volumes (claims, DataVolumes, per-instance empty
 * disks, containerDisks: a qcow2 overlay per instance on the image cache's
 * file), builds the domain XML (domain.c) and starts it on the hypervisor
 * threads; libvirt's events move the phase.  Deleting a VMI stops its
 * guest: ACPI power-off, then destroy after the grace period. */
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "credentials.h"
#include "datavolume.h"
#include "domain.h"
#include "imagecache.h"
#include "json-util.h"
#include "log.h"
#include "pvc.h"
#include "quantity.h"
#include "seed.h"
#include "services.h"
#include "util.h"
#include "vm.h"
#include "vmi.h"

#define TICK_USEC (1 * G_USEC_PER_SEC)
#define ADDRESS_POLL_FAST_USEC (3 * G_USEC_PER_SEC)     /* until the guest has an address */
#define ADDRESS_POLL_SLOW_USEC (30 * G_USEC_PER_SEC)
#define GUEST_INFO_USEC (30 * G_USEC_PER_SEC)             /* agent facts while connected */
#define AGENT_OFFLINE "the guest agent is not connected"
#define OVMF_DIR "/usr/share/OVMF"
#define MAX_INTERRUPTED_STARTS 2        /* then the instance fails (start-attempts) */

typedef struct Domain {
        bool paused;
        char *vmi_uid;
} Domain;

typedef struct Stopping {
        gint64 deadline;                /* monotonic usec: destroy then */
        bool destroy_sent;
} Stopping;

struct VmiController {
        Model *model;
        Services *services;
        Hypervisor *hv;
        char *owner;                    /* this daemon's id in domain metadata */
        char *instances_dir;            /* state: per-instance disks */
        char *runtime_dir;              /* sockets */
        GHashTable *domains;            /* domain name -> Domain: what libvirt runs */
        GHashTable *busy;               /* vmi uid -> 1: a start is under way */
        GHashTable *stopping;           /* vmi uid -> Stopping */
        GHashTable *claims;             /* vmi uid -> GPtrArray of claim uids held */
        GHashTable *images;             /* vmi uid -> GPtrArray of cached image digests held */
        GHashTable *first_try;          /* vmi uid -> monotonic µs it was first started (imagePullPolicy Always) */
        GHashTable *address_due;        /* vmi uid -> monotonic usec of the next address poll */
        GHashTable *address_busy;       /* vmi uid -> 1 */
        GHashTable *agents;             /* vmi uid -> JsonObject: the agent is connected; its last facts */
        GHashTable *guest_due;          /* vmi uid -> monotonic usec of the next guest-info call */
        GHashTable *guest_busy;         /* vmi uid -> 1 */
        GHashTable *creds;              /* vmi uid -> CredentialsSync, while its agent is connected */
        sd_event_source *tick;
        bool listed;                    /* libvirt's domains were listed once */
};

/* --- facts --- */

const char *vmi_phase(Object *vmi) {
        const char *p = object_status_string(vmi, "phase");
        return p ? p : "Pending";
}

bool vmi_is_finished(Object *vmi) {
        const char *p = vmi_phase(vmi);
        return streq(p, "Succeeded") || streq(p, "Failed");
}

bool vmi_is_stopping(Model *m, Object *vmi) {
        VmiController *c = model_services(m)->vmis;
        return object_is_deleting(vmi) || (c && g_hash_table_contains(c->stopping, vmi->uid));
}

bool vmi_is_paused(Object *vmi) {
        return streq_ptr(object_condition(vmi, "Paused", "status"), "True");
}

const char *vmi_waiting_reason(Object *vmi) {
        if (!streq_ptr(object_condition(vmi, "Synchronized", "status"), "False"))
                return NULL;
        return object_condition(vmi, "Synchronized", "reason");
}

char *vmi_domain_name(Object *vmi) {
        return g_strdup_printf("%s_%s", vmi->namespace, vmi->name);
}

/* --- admission (the rules themselves: vmi-admit.c) --- */

static int vmi_admit(Model *m, JsonObject *doc, JsonObject *old, GPtrArray *warnings, GError **error) {
        JsonObject *spec = json_get_object(doc, "spec");

        if (vm_template_annotations_admit(json_get_object(doc, "metadata"), "metadata", error) < 0)
                return -EOPNOTSUPP;
        if (old) {
                if (!json_equal(json_object_get_member(doc, "spec"), json_object_get_member(old, "spec")))
                        return ev_error_set(error, EINVAL, "spec: Forbidden: the spec of a VirtualMachineInstance cannot change; "
                                            "change its VirtualMachine and restart it");
                return 0;
        }
        return vmi_spec_admit(spec, "spec", true, warnings, error);
}

static void vmi_init_status(JsonObject *doc) {
        JsonObject *status = json_object_new();
        json_object_set_string_member(status, "phase", "Pending");
        json_object_set_array_member(status, "conditions", json_array_new());
        json_object_set_object_member(doc, "status", status);
}

/* --- status --- */

typedef struct VmiStatus {
        const char *phase;              /* NULL: keep */
        const char *reason, *message;   /* Synchronized condition (False when set) */
        int paused;                     /* -1 keep, 0, 1 */
        int agent;                      /* -1 keep, 0, 1 */
        JsonArray *interfaces;          /* NULL: keep (taken) */
        JsonObject *os_info;            /* NULL: keep (borrowed) */
        const char *creds;              /* AccessCredentialsSynchronized: NULL keep, "" True, else False with this message */
} VmiStatus;

static void write_status(VmiController *c, Object *vmi, const VmiStatus *u) {
        g_autoptr(GError) e = NULL;
        JsonNode *doc = json_deep_copy(vmi->doc);
        JsonObject *status = json_ensure_object(json_node_get_object(doc), "status");
        const char *old_phase = json_get_string(status, "phase");
        const char *phase = u->phase ? u->phase : old_phase ? old_phase : "Pending";

        if (!streq_ptr(old_phase, phase)) {
                JsonArray *ts = json_get_array(status, "phaseTransitionTimestamps");
                JsonObject *t = json_object_new();
                g_autofree char *now = ev_timestamp_now();
                if (!ts) {
                        ts = json_array_new();
                        json_object_set_array_member(status, "phaseTransitionTimestamps", ts);
                }
                json_object_set_string_member(t, "phase", phase);
                json_object_set_string_member(t, "phaseTransitionTimestamp", now);
                json_array_add_object_element(ts, t);
                json_object_set_string_member(status, "phase", phase);
        }
        if (u->reason || streq(phase, "Running") || streq(phase, "Scheduled"))
                status_set_condition(status, "Synchronized", !u->reason, u->reason, u->message);
        if (streq(phase, "Failed") && u->message)
                json_object_set_string_member(status, "reason", u->message);
        if (u->paused >= 0)
                status_set_condition(status, "Paused", u->paused, u->paused ? "PausedByUser" : "", u->paused ? "VMI was paused by user" : "");
        if (u->agent >= 0)
                status_set_condition(status, "AgentConnected", u->agent, u->agent ? "" : "AgentDisconnected", "");
        if (u->creds)
                status_set_condition(status, "AccessCredentialsSynchronized", !*u->creds, *u->creds ? "AccessCredentialsSyncFailed" : "",
                                     u->creds);
        bool paused = streq_ptr(object_condition(vmi, "Paused", "status"), "True");
        if (u->paused >= 0)
                paused = u->paused;
        bool ready = streq(phase, "Running") && !paused;
        status_set_condition(status, "Ready", ready, ready ? "" : streq(phase, "Running") ? "Paused" : "GuestNotRunning",
                      ready ? "" : streq(phase, "Running") ? "the guest is paused" : "the guest is not running");
        if (streq(phase, "Running") || streq(phase, "Scheduled")) {
                json_object_set_string_member(status, "nodeName", g_get_host_name());
                JsonObject *machine = json_object_new();
                const char *type = json_get_string(json_get_object(json_get_object(json_get_object(json_node_get_object(doc), "spec"), "domain"),
                                                                   "machine"), "type");
                json_object_set_string_member(machine, "type", !isempty(type) ? type : "q35");
                json_object_set_object_member(status, "machine", machine);
        }
        if (u->interfaces)
                json_object_set_array_member(status, "interfaces", u->interfaces);
        if (u->os_info) {
                g_autoptr(JsonNode) os = json_node_init_object(json_node_alloc(), u->os_info);
                json_object_set_member(status, "guestOSInfo", json_deep_copy(os));
        }
        if (json_equal(doc, vmi->doc)) {
                json_node_unref(doc);
                return;
        }
        if (model_update(c->model, vmi, doc, &e) < 0)
                g_warning("VMI %s/%s: cannot write status: %s", vmi->namespace, vmi->name, e->message);
}

/* --- claims the instance holds (pvc-protection) --- */

static void release_claims(VmiController *c, Object *vmi) {
        GPtrArray *held = g_hash_table_lookup(c->claims, vmi->uid);
        for (guint i = 0; held && i < held->len; i++)
                services_pvc_use(c->services, held->pdata[i], false);
        g_hash_table_remove(c->claims, vmi->uid);
        held = g_hash_table_lookup(c->images, vmi->uid);
        for (guint i = 0; held && i < held->len; i++)
                imagecache_use(c->services->images, held->pdata[i], false);
        g_hash_table_remove(c->images, vmi->uid);
}

/* The claims (pvc-protection) and cached images (collection) an instance
 * uses, held while it lives. */
static void hold_claims(VmiController *c, Object *vmi, GPtrArray *uids, GPtrArray *digests) {
        release_claims(c, vmi);
        for (guint i = 0; i < uids->len; i++)
                services_pvc_use(c->services, uids->pdata[i], true);
        g_hash_table_insert(c->claims, g_strdup(vmi->uid), g_ptr_array_ref(uids));
        for (guint i = 0; i < digests->len; i++)
                imagecache_use(c->services->images, digests->pdata[i], true);
        g_hash_table_insert(c->images, g_strdup(vmi->uid), g_ptr_array_ref(digests));
}

/* --- files of an instance --- */

static char *instance_dir(VmiController *c, Object *vmi) {
        return g_build_filename(c->instances_dir, vmi->uid, NULL);
}

static char *runtime_dir(VmiController *c, Object *vmi) {
        return g_build_filename(c->runtime_dir, vmi->uid, NULL);
}

static void remove_files(VmiController *c, const char *uid) {
        worker_submit(c->services->worker, ev_remove_tree, g_free, g_build_filename(c->instances_dir, uid, NULL));
        worker_submit(c->services->worker, ev_remove_tree, g_free, g_build_filename(c->runtime_dir, uid, NULL));
}

/* --- volumes --- */

typedef enum VolState {
        VOL_READY,
        VOL_PULLING,                    /* a containerDisk image is being pulled */
        VOL_WAITING,                    /* WaitingForVolumeBinding */
        VOL_PVC_NOT_FOUND,              /* ErrorPvcNotFound */
        VOL_DV_ERROR,                   /* DataVolumeError */
        VOL_IMAGE_ERROR,                /* ErrImagePull, ErrImageNeverPull: r->reason */
        VOL_FAILED,                     /* cannot work as written: the instance fails */
} VolState;

typedef struct SeedJob {
        Seed *seed;
        char *path;
} SeedJob;

static void seed_job_free(SeedJob *j) {
        seed_free(j->seed);
        g_free(j->path);
        g_free(j);
}

typedef struct Resolved {
        GHashTable *volumes;            /* name -> DomainVolume (strings owned by strings) */
        GPtrArray *strings;
        GPtrArray *claims;              /* claim uids */
        GPtrArray *empty_disks;         /* "path\0size" pairs: path, then size as string */
        GPtrArray *seeds;               /* SeedJob: cloud-init images to write */
        GPtrArray *overlays;            /* Overlay: containerDisk overlays to make */
        GPtrArray *images;              /* digests of the cached images used */
        bool adopting;                  /* the domain runs: only learn what it uses */
        const char *reason;
        char *message;
} Resolved;

typedef struct Overlay {
        char *path, *backing, *digest;
} Overlay;

static void overlay_free(Overlay *o) {
        g_free(o->path);
        g_free(o->backing);
        g_free(o->digest);
        g_free(o);
}

static void resolved_clear(Resolved *r) {
        if (r->volumes)
                g_hash_table_unref(r->volumes);
        if (r->strings)
                g_ptr_array_unref(r->strings);
        if (r->claims)
                g_ptr_array_unref(r->claims);
        if (r->empty_disks)
                g_ptr_array_unref(r->empty_disks);
        if (r->seeds)
                g_ptr_array_unref(r->seeds);
        if (r->overlays)
                g_ptr_array_unref(r->overlays);
        if (r->images)
                g_ptr_array_unref(r->images);
        g_free(r->message);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Resolved, resolved_clear)

static const char *keep(Resolved *r, char *s) {
        g_ptr_array_add(r->strings, s);
        return s;
}

static VolState claim_volume(VmiController *c, Object *vmi, Resolved *r, const char *vol, const char *claim_name, GError **error) {
        Object *pvc = NULL;
        if (model_get(c->model, &kind_pvc, vmi->namespace, claim_name, &pvc, NULL) < 0) {
                r->message = g_strdup_printf("PVC %s/%s does not exist", vmi->namespace, claim_name);
                return VOL_PVC_NOT_FOUND;
        }
        if (!streq_ptr(object_status_string(pvc, "phase"), "Bound")) {
                r->message = g_strdup_printf("PVC %s/%s is not bound yet", vmi->namespace, claim_name);
                return VOL_WAITING;
        }
        char *path = pvc_volume_path(c->model, pvc);
        DomainVolume *dv = g_new0(DomainVolume, 1);
        dv->path = keep(r, path);
        dv->format = "raw";
        dv->block = g_str_has_prefix(path, "/dev/");
        g_hash_table_insert(r->volumes, g_strdup(vol), dv);
        g_ptr_array_add(r->claims, g_strdup(pvc->uid));
        return VOL_READY;
}

static VolState container_disk(VmiController *c, Object *vmi, Resolved *r, const char *name, JsonObject *cd, const char *dir) {
        const char *image = json_get_string(cd, "image");
        g_autofree char *ref = imagecache_reference(image);
        g_autofree char *user = NULL, *password = NULL, *digest = NULL, *backing = NULL, *msg = NULL;
        g_autofree char *digest_file = g_strdup_printf("%s/%s.digest", dir, name);
        g_autoptr(GError) e = NULL;
        const char *policy = json_get_string(cd, "imagePullPolicy");

        if (r->adopting) {
                /* the overlay exists: which image it is on, as written at start */
                if (g_file_get_contents(digest_file, &digest, NULL, NULL))
                        g_ptr_array_add(r->images, g_strdup(g_strstrip(digest)));
                return VOL_READY;
        }
        const char *secret = json_get_string(cd, "imagePullSecret");
        if (secret && imagecache_secret_credentials(c->model, vmi->namespace, secret, ref, &user, &password, &e) < 0) {
                r->reason = "ErrImagePull";
                g_free(r->message);
                r->message = g_strdup_printf("volume %s: %s", name, e->message);
                return VOL_IMAGE_ERROR;
        }
        gint64 *since = g_hash_table_lookup(c->first_try, vmi->uid);
        switch (imagecache_want(c->services->images, ref, policy ? policy : imagecache_default_policy(image), since ? *since : 0,
                                user, password, &digest, &backing, &r->reason, &msg)) {
        case IMAGE_PULLING:
                g_free(r->message);
                r->message = g_strdup_printf("pulling the image %s", image);
                return VOL_PULLING;
        case IMAGE_FAILED:
                g_free(r->message);
                r->message = g_strdup_printf("volume %s: %s", name, msg);
                return VOL_IMAGE_ERROR;
        case IMAGE_READY:
                break;
        }
        Overlay *o = g_new0(Overlay, 1);
        o->path = g_strdup_printf("%s/%s.qcow2", dir, name);
        o->backing = g_strdup(backing);
        o->digest = g_strdup(digest);
        DomainVolume *dv = g_new0(DomainVolume, 1);
        dv->path = keep(r, g_strdup(o->path));
        dv->format = "qcow2";
        dv->backing = keep(r, g_strdup(backing));
        g_hash_table_insert(r->volumes, g_strdup(name), dv);
        g_ptr_array_add(r->overlays, o);
        g_ptr_array_add(r->images, g_steal_pointer(&digest));
        return VOL_READY;
}

static VolState resolve_volumes(VmiController *c, Object *vmi, Resolved *r) {
        JsonArray *volumes = json_get_array(json_get_object(object_root(vmi), "spec"), "volumes");
        g_autofree char *dir = instance_dir(c, vmi);
        VolState worst = VOL_READY;

        r->volumes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        r->strings = g_ptr_array_new_with_free_func(g_free);
        r->claims = g_ptr_array_new_with_free_func(g_free);
        r->empty_disks = g_ptr_array_new_with_free_func(g_free);
        r->seeds = g_ptr_array_new_with_free_func((GDestroyNotify) seed_job_free);
        r->overlays = g_ptr_array_new_with_free_func((GDestroyNotify) overlay_free);
        r->images = g_ptr_array_new_with_free_func(g_free);
        for (guint i = 0; volumes && i < json_array_get_length(volumes); i++) {
                JsonObject *v = json_array_get_object_element(volumes, i);
                const char *name = json_get_string(v, "name");
                VolState st = VOL_READY;

                if (json_get_object(v, "persistentVolumeClaim"))
                        st = claim_volume(c, vmi, r, name, json_get_string(json_get_object(v, "persistentVolumeClaim"), "claimName"), NULL);
                else if (json_get_object(v, "dataVolume")) {
                        const char *dvname = json_get_string(json_get_object(v, "dataVolume"), "name");
                        Object *dv = NULL;
                        if (model_get(c->model, &kind_datavolume, vmi->namespace, dvname, &dv, NULL) < 0) {
                                /* a plain PVC of that name serves too, as in KubeVirt */
                                st = claim_volume(c, vmi, r, name, dvname, NULL);
                                if (st == VOL_PVC_NOT_FOUND) {
                                        g_free(r->message);
                                        r->message = g_strdup_printf("DataVolume %s/%s does not exist", vmi->namespace, dvname);
                                }
                        } else if (streq_ptr(object_status_string(dv, "phase"), "Failed")) {
                                g_free(r->message);
                                r->message = g_strdup_printf("DataVolume %s/%s failed: %s", vmi->namespace, dvname,
                                                             object_condition(dv, "Running", "message") ?: "");
                                st = VOL_DV_ERROR;
                        } else if (!streq_ptr(object_status_string(dv, "phase"), "Succeeded")) {
                                g_free(r->message);
                                r->message = g_strdup_printf("DataVolume %s/%s is %s", vmi->namespace, dvname,
                                                             object_status_string(dv, "phase") ?: "Pending");
                                st = VOL_WAITING;
                        } else
                                st = claim_volume(c, vmi, r, name, dvname, NULL);
                } else if (json_get_object(v, "emptyDisk")) {
                        DomainVolume *dv = g_new0(DomainVolume, 1);
                        char *path = g_strdup_printf("%s/%s.img", dir, name);
                        dv->path = keep(r, path);
                        dv->format = "raw";
                        g_hash_table_insert(r->volumes, g_strdup(name), dv);
                        g_ptr_array_add(r->empty_disks, g_strdup(path));
                        g_ptr_array_add(r->empty_disks, g_strdup(json_get_string(json_get_object(v, "emptyDisk"), "capacity")));
                } else if (json_get_object(v, "containerDisk")) {
                        st = container_disk(c, vmi, r, name, json_get_object(v, "containerDisk"), dir);
                } else if (seed_is_volume(v)) {
                        g_autoptr(GError) e = NULL;
                        SeedJob *j = g_new0(SeedJob, 1);
                        if (seed_resolve(c->model, vmi, v, &j->seed, &e) < 0) {
                                g_free(j);
                                g_free(r->message);
                                r->message = g_strdup(e->message);
                                st = VOL_FAILED;
                        } else {
                                DomainVolume *dv = g_new0(DomainVolume, 1);
                                j->path = g_strdup_printf("%s/%s.iso", dir, name);
                                dv->path = keep(r, g_strdup(j->path));
                                dv->format = "raw";
                                dv->readonly = true;
                                g_hash_table_insert(r->volumes, g_strdup(name), dv);
                                g_ptr_array_add(r->seeds, j);
                        }
                } else {
                        g_free(r->message);
                        r->message = g_strdup_printf("volume %s: this source is not supported on edgevirt", name);
                        st = VOL_FAILED;
                }
                if (st > worst)
                        worst = st;
        }
        return worst;
}

/* --- starting --- */

typedef struct Start {
        VmiController *c;
        char *vmi_uid;
        char *xml;
        bool paused;
        bool nat;                       /* uses the pod network (masquerade) */
        GPtrArray *empty_disks;
        GPtrArray *seeds;
        GPtrArray *overlays;
        char *instance_dir, *runtime_dir;
        uid_t qemu_uid;
        gid_t qemu_gid;
        int r;
        char *error;
} Start;

static void start_free(Start *s) {
        g_free(s->vmi_uid);
        g_free(s->xml);
        if (s->empty_disks)
                g_ptr_array_unref(s->empty_disks);
        if (s->seeds)
                g_ptr_array_unref(s->seeds);
        if (s->overlays)
                g_ptr_array_unref(s->overlays);
        g_free(s->instance_dir);
        g_free(s->runtime_dir);
        g_free(s->error);
        g_free(s);
}

/* On a worker: the instance's directories and empty disks. */
static void prepare_work(void *data) {
        Start *s = data;

        /* modes set explicitly: the unit's UMask=0077 would take the bits QEMU needs */
        if (g_mkdir_with_parents(s->instance_dir, 0711) < 0 || chmod(s->instance_dir, 0711) < 0 ||
            g_mkdir_with_parents(s->runtime_dir, 0700) < 0) {
                s->r = -errno;
                s->error = g_strdup_printf("cannot make the instance's directories: %s", g_strerror(errno));
                return;
        }
        /* A start the daemon did not live through (the hypervisor took it
         * down) is not tried a third time: the instance fails, and its VM's
         * back-off spaces further tries, instead of a crash loop. */
        g_autofree char *attempts = g_build_filename(s->instance_dir, "start-attempts", NULL);
        unsigned before = 0;
        if ((s->r = ev_count_attempt(attempts, &before)) < 0) {
                s->error = g_strdup_printf("cannot count the start in %s: %s", attempts, g_strerror(-s->r));
                return;
        }
        if (before >= MAX_INTERRUPTED_STARTS) {
                s->r = -ELOOP;
                s->error = g_strdup_printf("the daemon stopped %u times while starting this instance: not started again", before);
                return;
        }
        /* QEMU makes the console and VNC sockets in here as libvirt's user:
         * the directory gets its group (root keeps owning it, so the daemon
         * removes it later without CAP_DAC_OVERRIDE) */
        if (s->qemu_gid != (gid_t) -1 && (chown(s->runtime_dir, (uid_t) -1, s->qemu_gid) < 0 || chmod(s->runtime_dir, 0770) < 0)) {
                s->r = -errno;
                s->error = g_strdup_printf("cannot open %s to QEMU's group: %s", s->runtime_dir, g_strerror(errno));
                return;
        }
        for (guint i = 0; i + 1 < s->empty_disks->len; i += 2) {
                const char *path = s->empty_disks->pdata[i];
                int64_t size = 0;
                (void) quantity_parse_int64(s->empty_disks->pdata[i + 1], &size, NULL);
                int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
                if (fd < 0 || ftruncate(fd, size) < 0) {
                        s->r = -errno;
                        s->error = g_strdup_printf("cannot make the empty disk %s: %s", path, g_strerror(errno));
                        if (fd >= 0)
                                close(fd);
                        return;
                }
                close(fd);
        }
        for (guint i = 0; i < s->overlays->len; i++) {
                /* writes go here and vanish with the instance: KubeVirt's ephemeral containerDisk */
                Overlay *o = s->overlays->pdata[i];
                g_autofree char *out = NULL, *err = NULL, *digest_file = NULL;
                int status = 0;
                const char *argv[] = { "qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", o->backing, o->path, NULL };
                g_autoptr(GError) e = NULL;
                if (!g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDIN_FROM_DEV_NULL, NULL, NULL, &out, &err,
                                  &status, &e) || !g_spawn_check_wait_status(status, NULL)) {
                        s->r = -EIO;
                        s->error = g_strdup_printf("cannot make the overlay %s: %s", o->path, e ? e->message : g_strstrip(err));
                        return;
                }
                digest_file = g_strdup_printf("%.*s.digest", (int) (strlen(o->path) - strlen(".qcow2")), o->path);
                if (!g_file_set_contents(digest_file, o->digest, -1, &e)) {
                        s->r = -EIO;
                        s->error = g_strdup(e->message);
                        return;
                }
        }
        for (guint i = 0; i < s->seeds->len; i++) {
                SeedJob *j = s->seeds->pdata[i];
                g_autoptr(GError) e = NULL;
                if (seed_write(j->seed, j->path, &e) < 0) {
                        s->r = -EIO;
                        s->error = g_strdup(e->message);
                        return;
                }
        }
}

static void created(HvOp *op);
static void check_agent(VmiController *c, Object *vmi);

static void prepare_done(void *data) {
        Start *s = data;
        VmiController *c = s->c;
        Object *vmi = model_find_uid(c->model, s->vmi_uid);

        if (!vmi || object_is_deleting(vmi) || s->r < 0) {
                if (vmi && s->r < 0)
                        write_status(c, vmi, &(VmiStatus) { .phase = "Failed", .reason = "FailedCreate", .message = s->error,
                                                            .paused = -1, .agent = -1 });
                g_hash_table_remove(c->busy, s->vmi_uid);
                if (vmi)
                        model_enqueue(c->model, vmi);
                start_free(s);
                return;
        }
        g_autofree char *name = vmi_domain_name(vmi);
        HvOp *op = hv_op_new(HV_OP_CREATE, name, created, c);
        op->xml = g_steal_pointer(&s->xml);
        op->start_paused = s->paused;
        op->tag = g_strdup(s->vmi_uid);
        if (s->nat) {
                op->network = g_strdup(c->services->nat_network);
                op->network_subnet = g_strdup(c->services->nat_subnet);
        }
        hypervisor_submit(c->hv, op);
        start_free(s);
}

static void created(HvOp *op) {
        VmiController *c = op->userdata;
        const char *uid = op->tag;
        Object *vmi = model_find_uid(c->model, uid);

        g_hash_table_remove(c->busy, uid);
        if (!vmi)
                return;         /* removed meanwhile: its finalizer ran; the domain, if any, is an orphan for the next list */
        g_autofree char *idir = instance_dir(c, vmi);
        worker_submit(c->services->worker, ev_remove_tree, g_free, g_build_filename(idir, "start-attempts", NULL));
        if (op->r < 0) {
                write_status(c, vmi, &(VmiStatus) { .phase = "Failed", .reason = "FailedCreate", .message = op->error,
                                                    .paused = -1, .agent = -1 });
                model_enqueue(c->model, vmi);
                return;
        }
        g_autofree char *name = vmi_domain_name(vmi);
        Domain *d = g_hash_table_lookup(c->domains, name);
        if (!d) {
                d = g_new0(Domain, 1);
                g_hash_table_insert(c->domains, g_strdup(name), d);
        }
        g_free(d->vmi_uid);
        d->vmi_uid = g_strdup(vmi->uid);
        d->paused = op->paused;
        write_status(c, vmi, &(VmiStatus) { .phase = "Running", .paused = op->paused, .agent = 0,
                                            .creds = agent_credentials_wanted(json_get_object(object_root(vmi), "spec")) ? AGENT_OFFLINE : NULL });
        g_hash_table_insert(c->address_due, g_strdup(vmi->uid), g_memdup2(&(gint64) { g_get_monotonic_time() }, sizeof(gint64)));
        sd_event_source_set_enabled(c->tick, SD_EVENT_ON);
        check_agent(c, vmi);
        model_enqueue(c->model, vmi);
        vm_instance_changed(c->model, vmi);
}

static void qemu_user(VmiController *c, uid_t *uid, gid_t *gid) {
        struct passwd *pw = NULL;
        *uid = (uid_t) -1;
        *gid = (gid_t) -1;
        if (g_str_has_prefix(hypervisor_uri(c->hv), "qemu:///system"))
                pw = getpwnam("libvirt-qemu");
        if (pw) {
                *uid = pw->pw_uid;
                *gid = pw->pw_gid;
        }
}

static const char *firmware_file(const char *name) {
        static char path[256];
        g_snprintf(path, sizeof path, OVMF_DIR "/%s", name);
        return g_file_test(path, G_FILE_TEST_EXISTS) ? g_intern_string(path) : NULL;
}

static bool uses_masquerade(JsonObject *spec) {
        JsonObject *devices = json_get_object(json_get_object(spec, "domain"), "devices");
        JsonArray *ifaces = json_get_array(devices, "interfaces");
        if (!ifaces)
                return !json_get_array(spec, "networks") && json_get_bool(devices, "autoattachPodInterface", true);
        for (guint i = 0; i < json_array_get_length(ifaces); i++)
                if (json_object_has_member(json_array_get_object_element(ifaces, i), "masquerade"))
                        return true;
        return false;
}

static int start_instance(VmiController *c, Object *vmi) {
        g_auto(Resolved) r = { 0 };
        JsonObject *spec = json_get_object(object_root(vmi), "spec");
        g_autoptr(GError) e = NULL;
        VolState st = resolve_volumes(c, vmi, &r);
        static const char *const reasons[] = { [VOL_WAITING] = "WaitingForVolumeBinding", [VOL_PVC_NOT_FOUND] = "ErrorPvcNotFound",
                                               [VOL_DV_ERROR] = "DataVolumeError" };

        if (!g_hash_table_contains(c->first_try, vmi->uid))
                g_hash_table_insert(c->first_try, g_strdup(vmi->uid), g_memdup2(&(gint64) { g_get_monotonic_time() }, sizeof(gint64)));
        if (st == VOL_PULLING) {
                /* KubeVirt's instance is Scheduling while its pod pulls */
                write_status(c, vmi, &(VmiStatus) { .phase = "Scheduling", .paused = -1, .agent = -1 });
                return 0;       /* the pull's end queues us again */
        }
        if (st == VOL_IMAGE_ERROR) {
                write_status(c, vmi, &(VmiStatus) { .phase = "Scheduling", .reason = r.reason, .message = r.message, .paused = -1, .agent = -1 });
                return 0;       /* the back-off's end queues us again */
        }
        if (st == VOL_FAILED) {
                write_status(c, vmi, &(VmiStatus) { .phase = "Failed", .reason = "FailedCreate", .message = r.message, .paused = -1, .agent = -1 });
                return 0;
        }
        if (st != VOL_READY) {
                write_status(c, vmi, &(VmiStatus) { .phase = "Pending", .reason = reasons[st], .message = r.message, .paused = -1, .agent = -1 });
                return 0;       /* the claim's or DataVolume's change queues us again */
        }
        hold_claims(c, vmi, r.claims, r.images);

        g_autofree char *name = vmi_domain_name(vmi);
        g_autofree char *idir = instance_dir(c, vmi), *rdir = runtime_dir(c, vmi);
        g_autofree char *console = g_build_filename(rdir, "console.sock", NULL);
        g_autofree char *vnc = g_build_filename(rdir, "vnc.sock", NULL);
        g_autofree char *log = g_build_filename(rdir, "console.log", NULL);
        g_autofree char *nvram = g_build_filename(idir, "nvram.fd", NULL);
        Object *owner_vm = vm_of_instance(c->model, vmi);
        DomainHost host = {
                .kvm = hypervisor_kvm(c->hv),
                .domain_name = name,
                .uuid = owner_vm ? owner_vm->uid : vmi->uid,
                .namespace = vmi->namespace,
                .name = vmi->name,
                .vmi_uid = vmi->uid,
                .owner = c->owner,
                .nat_network = c->services->nat_network,
                .bridge = c->services->bridge,
                .console_socket = console,
                .console_log = log,
                .vnc_socket = vnc,
                .efi_code = firmware_file("OVMF_CODE_4M.fd"),
                .efi_vars = firmware_file("OVMF_VARS_4M.fd"),
                .efi_code_secure = firmware_file("OVMF_CODE_4M.ms.fd") ? firmware_file("OVMF_CODE_4M.secboot.fd") : NULL,
                .efi_vars_secure = firmware_file("OVMF_VARS_4M.ms.fd"),
                .nvram = nvram,
                .volumes = r.volumes,
        };
        char *xml = domain_xml(spec, &host, &e);
        if (!xml) {
                write_status(c, vmi, &(VmiStatus) { .phase = "Failed", .reason = "FailedCreate", .message = e->message, .paused = -1, .agent = -1 });
                release_claims(c, vmi);
                return 0;
        }
        Start *s = g_new0(Start, 1);
        s->c = c;
        s->vmi_uid = g_strdup(vmi->uid);
        s->xml = xml;
        s->paused = streq_ptr(json_get_string(spec, "startStrategy"), "Paused");
        s->empty_disks = g_ptr_array_ref(r.empty_disks);
        s->seeds = g_ptr_array_ref(r.seeds);
        s->overlays = g_ptr_array_ref(r.overlays);
        s->nat = uses_masquerade(spec);
        s->instance_dir = g_steal_pointer(&idir);
        s->runtime_dir = g_steal_pointer(&rdir);
        qemu_user(c, &s->qemu_uid, &s->qemu_gid);
        g_hash_table_insert(c->busy, g_strdup(vmi->uid), GINT_TO_POINTER(1));
        write_status(c, vmi, &(VmiStatus) { .phase = "Scheduled", .paused = -1, .agent = -1 });
        worker_submit(c->services->worker, prepare_work, prepare_done, s);
        return 0;
}

/* --- stopping --- */

static void op_logged(HvOp *op) {
        if (op->r < 0 && op->r != -ENOENT)
                g_warning("libvirt: %s %s: %s", op->kind == HV_OP_DESTROY ? "destroy" : "shutdown", op->domain, op->error);
}

static void send_stop(VmiController *c, Object *vmi, int64_t grace) {
        g_autofree char *name = vmi_domain_name(vmi);
        Stopping *st = g_hash_table_lookup(c->stopping, vmi->uid);

        if (grace < 0)
                grace = json_get_int(json_get_object(object_root(vmi), "spec"), "terminationGracePeriodSeconds", 30);
        if (st) {
                /* a shorter grace period given later wins, as kubectl's does */
                gint64 deadline = g_get_monotonic_time() + grace * G_USEC_PER_SEC;
                if (deadline < st->deadline)
                        st->deadline = deadline;
        } else {
                st = g_new0(Stopping, 1);
                st->deadline = g_get_monotonic_time() + grace * G_USEC_PER_SEC;
                g_hash_table_insert(c->stopping, g_strdup(vmi->uid), st);
                if (grace > 0)
                        hypervisor_submit(c->hv, hv_op_new(HV_OP_SHUTDOWN, name, op_logged, c));
        }
        if (grace == 0 && !st->destroy_sent) {
                st->destroy_sent = true;
                hypervisor_submit(c->hv, hv_op_new(HV_OP_DESTROY, name, op_logged, c));
        }
        sd_event_source_set_enabled(c->tick, SD_EVENT_ON);
}

static bool has_domain(VmiController *c, Object *vmi) {
        g_autofree char *name = vmi_domain_name(vmi);
        Domain *d = g_hash_table_lookup(c->domains, name);
        return d && streq_ptr(d->vmi_uid, vmi->uid);
}

int vmi_stop(Model *m, Object *vmi, int64_t grace, GError **error) {
        VmiController *c = model_services(m)->vmis;
        if (!has_domain(c, vmi))
                return ev_error_set(error, EBUSY, "VirtualMachineInstance %s/%s is not running", vmi->namespace, vmi->name);
        send_stop(c, vmi, grace);
        return 0;
}

/* --- reconcile --- */

static int vmi_reconcile(Model *m, Object *vmi) {
        VmiController *c = model_services(m)->vmis;
        const char *phase = vmi_phase(vmi);

        if (!c->listed || object_is_deleting(vmi) || g_hash_table_contains(c->busy, vmi->uid))
                return 0;
        if (vmi_is_finished(vmi)) {
                g_hash_table_remove(c->first_try, vmi->uid);
                if (g_hash_table_contains(c->claims, vmi->uid)) {
                        release_claims(c, vmi);
                        remove_files(c, vmi->uid);
                }
                return 0;
        }
        if (has_domain(c, vmi)) {
                if (!g_hash_table_contains(c->claims, vmi->uid)) {
                        /* adopted after a restart: hold its claims again */
                        g_auto(Resolved) r = { .adopting = true };
                        (void) resolve_volumes(c, vmi, &r);
                        hold_claims(c, vmi, r.claims, r.images);
                }
                return 0;
        }
        if (streq(phase, "Running") || streq(phase, "Scheduled")) {
                /* its domain went away while nobody watched (daemon down) */
                write_status(c, vmi, &(VmiStatus) { .phase = "Failed", .reason = "DomainGone",
                                                    .message = "the domain stopped while edgevirtd was not running", .paused = 0, .agent = 0 });
                return 0;
        }
        return start_instance(c, vmi);
}

static int vmi_finalize(Model *m, Object *vmi) {
        VmiController *c = model_services(m)->vmis;

        if (g_hash_table_contains(c->busy, vmi->uid))
                return 0;       /* its start finishes first */
        if (has_domain(c, vmi)) {
                send_stop(c, vmi, -1);
                return 0;       /* the STOPPED event queues us again */
        }
        g_hash_table_remove(c->stopping, vmi->uid);
        g_hash_table_remove(c->address_due, vmi->uid);
        g_hash_table_remove(c->first_try, vmi->uid);
        release_claims(c, vmi);
        remove_files(c, vmi->uid);
        vm_instance_changed(m, vmi);
        return 1;
}

const KindInfo kind_vmi = {
        .kind = "VirtualMachineInstance",
        .group = "kubevirt.io",
        .versions = (const char *const[]) { "v1", "v1alpha3", NULL },
        .plural = "virtualmachineinstances",
        .short_names = (const char *const[]) { "vmi", "vmis", NULL },
        .path_segment = "vmi",
        .schema = "v1.VirtualMachineInstance",
        .namespaced = true,
        .admit = vmi_admit,
        .init_status = vmi_init_status,
        .reconcile = vmi_reconcile,
        .finalize = vmi_finalize,
};

/* --- the guest agent --- */

static void agent_changed(VmiController *c, Object *vmi, bool connected) {
        bool was = g_hash_table_contains(c->agents, vmi->uid);
        gint64 now = g_get_monotonic_time();

        if (connected && !was) {
                g_hash_table_insert(c->agents, g_strdup(vmi->uid), json_object_new());
                g_hash_table_insert(c->guest_due, g_strdup(vmi->uid), g_memdup2(&now, sizeof now));
                /* the agent knows the addresses best: ask now */
                g_hash_table_insert(c->address_due, g_strdup(vmi->uid), g_memdup2(&now, sizeof now));
                sd_event_source_set_enabled(c->tick, SD_EVENT_ON);
        } else if (!connected) {
                g_hash_table_remove(c->agents, vmi->uid);
                g_hash_table_remove(c->guest_due, vmi->uid);
        }
        /* a new agent (a reboot, a restart of it) is told everything again */
        g_hash_table_remove(c->creds, vmi->uid);
        if (connected != was)
                write_status(c, vmi, &(VmiStatus) { .paused = -1, .agent = connected,
                                                    .creds = !connected && agent_credentials_wanted(json_get_object(object_root(vmi), "spec")) ?
                                                                     AGENT_OFFLINE : NULL });
}

static void credentials_done(HvOp *op) {
        VmiController *c = op->userdata;
        CredentialsSync *s = g_hash_table_lookup(c->creds, op->tag);
        Object *vmi = model_find_uid(c->model, op->tag);

        if (!s || !s->sending)
                return;         /* the agent went (and maybe came back) meanwhile */
        credentials_sync_done(s, op->r == 0, g_get_monotonic_time());
        if (op->r < 0)
                g_message("VMI %s: access credentials not synchronized: %s", op->tag, op->error ?: g_strerror(-op->r));
        if (vmi)
                write_status(c, vmi, &(VmiStatus) { .paused = -1, .agent = -1, .creds = op->r == 0 ? "" : op->error ?: g_strerror(-op->r) });
}

/* On the tick, while the agent is connected: the Secrets' state goes to the
 * guest when it changed, after a failure (in a while), and every few
 * minutes in case the guest drifted. */
static void sync_credentials(VmiController *c, Object *vmi, gint64 now) {
        g_autoptr(GError) e = NULL;
        g_autoptr(GPtrArray) users = NULL;
        g_autofree char *digest = NULL;
        CredentialsSync *s;

        if (!agent_credentials_wanted(json_get_object(object_root(vmi), "spec")))
                return;
        s = g_hash_table_lookup(c->creds, vmi->uid);
        if (!s) {
                s = g_new0(CredentialsSync, 1);
                g_hash_table_insert(c->creds, g_strdup(vmi->uid), s);
        }
        if (s->sending)
                return;
        if (agent_credentials_resolve(c->model, vmi, &users, &digest, &e) < 0) {
                credentials_sync_unresolved(s);
                write_status(c, vmi, &(VmiStatus) { .paused = -1, .agent = -1, .creds = e->message });
                return;
        }
        if (!credentials_sync_due(s, digest, now))
                return;
        g_autofree char *name = vmi_domain_name(vmi);
        HvOp *op = hv_op_new(HV_OP_SET_CREDENTIALS, name, credentials_done, c);
        op->tag = g_strdup(vmi->uid);
        op->users = g_steal_pointer(&users);
        s->sending = g_steal_pointer(&digest);
        hypervisor_submit(c->hv, op);
}

static void agent_state_done(HvOp *op) {
        VmiController *c = op->userdata;
        Object *vmi = model_find_uid(c->model, op->tag);
        if (vmi && op->r == 0 && has_domain(c, vmi))
                agent_changed(c, vmi, op->agent_connected);
}

/* After a start or an adoption: an agent that connected before we looked
 * sends no event. */
static void check_agent(VmiController *c, Object *vmi) {
        g_autofree char *name = vmi_domain_name(vmi);
        HvOp *op = hv_op_new(HV_OP_AGENT_STATE, name, agent_state_done, c);
        op->tag = g_strdup(vmi->uid);
        hypervisor_submit(c->hv, op);
}

static void guest_info_done(HvOp *op) {
        VmiController *c = op->userdata;
        Object *vmi = model_find_uid(c->model, op->tag);
        gint64 *due = g_hash_table_lookup(c->guest_due, op->tag);

        g_hash_table_remove(c->guest_busy, op->tag);
        if (!vmi || !due)
                return;
        *due = g_get_monotonic_time() + GUEST_INFO_USEC;
        if (op->r < 0 || !op->guest)
                return;         /* the agent is still starting, or went: its event says so */
        JsonObject *old = g_hash_table_lookup(c->agents, vmi->uid);
        g_autoptr(JsonNode) a = json_node_init_object(json_node_alloc(), op->guest);
        g_autoptr(JsonNode) b = old ? json_node_init_object(json_node_alloc(), old) : NULL;
        bool changed = !json_equal(a, b);
        g_hash_table_insert(c->agents, g_strdup(vmi->uid), json_object_ref(op->guest));
        write_status(c, vmi, &(VmiStatus) { .paused = -1, .agent = -1, .os_info = json_get_object(op->guest, "os") });
        if (changed)
                model_notify_changed(c->model, vmi);
}

JsonObject *vmi_guest_info(Model *m, Object *vmi) {
        VmiController *c = model_services(m)->vmis;
        JsonObject *g = c ? g_hash_table_lookup(c->agents, vmi->uid) : NULL;
        return g && json_object_get_size(g) > 0 ? g : NULL;
}

bool vmi_agent_connected(Model *m, Object *vmi) {
        VmiController *c = model_services(m)->vmis;
        return c && g_hash_table_contains(c->agents, vmi->uid);
}

typedef struct Quiesce {
        VmiQuiesceDone done;
        void *userdata;
} Quiesce;

static void quiesce_done(HvOp *op) {
        Quiesce *q = op->userdata;
        q->done(q->userdata, op->r, op->error ? op->error : op->r < 0 ? g_strerror(-op->r) : NULL);
        g_free(q);
}

static void quiesce_op(VmiController *c, Object *vmi, HvOpKind kind, VmiQuiesceDone done, void *userdata) {
        g_autofree char *name = vmi_domain_name(vmi);
        Quiesce *q = g_new0(Quiesce, 1);
        q->done = done;
        q->userdata = userdata;
        hypervisor_submit(c->hv, hv_op_new(kind, name, quiesce_done, q));
}

void vmi_quiesce(Model *m, Object *vmi, bool use_agent, const char **ret_how, VmiQuiesceDone done, void *userdata) {
        VmiController *c = model_services(m)->vmis;
        if (use_agent && vmi_agent_connected(m, vmi)) {
                *ret_how = "GuestAgent";
                quiesce_op(c, vmi, HV_OP_FS_FREEZE, done, userdata);
        } else if (!vmi_is_paused(vmi)) {
                *ret_how = "Paused";
                quiesce_op(c, vmi, HV_OP_SUSPEND, done, userdata);
        } else {
                *ret_how = "";
                done(userdata, 0, NULL);
        }
}

void vmi_release(Model *m, Object *vmi, const char *how, VmiQuiesceDone done, void *userdata) {
        VmiController *c = model_services(m)->vmis;
        if (streq_ptr(how, "GuestAgent"))
                quiesce_op(c, vmi, HV_OP_FS_THAW, done, userdata);
        else if (streq_ptr(how, "Paused"))
                quiesce_op(c, vmi, HV_OP_RESUME, done, userdata);
        else
                done(userdata, 0, NULL);
}

/* --- libvirt's events --- */

static Object *vmi_of_domain(VmiController *c, const char *name) {
        const char *sep = name ? strchr(name, '_') : NULL;
        g_autofree char *ns = sep ? g_strndup(name, sep - name) : NULL;
        Object *vmi = NULL;
        if (!sep || model_get(c->model, &kind_vmi, ns, sep + 1, &vmi, NULL) < 0)
                return NULL;
        return vmi;
}

static void list_domains(VmiController *c);

static void on_event(const HvEvent *ev, void *userdata) {
        VmiController *c = userdata;
        Domain *d = ev->domain ? g_hash_table_lookup(c->domains, ev->domain) : NULL;
        Object *vmi = ev->domain ? vmi_of_domain(c, ev->domain) : NULL;

        if (ev->kind == HV_EVENT_DISCONNECTED) {
                g_warning("libvirt closed the connection; listing domains again");
                list_domains(c);
                return;
        }
        if (!d || !vmi || !streq_ptr(d->vmi_uid, vmi->uid))
                return;         /* not ours, or not created yet (created() records it) */
        switch (ev->kind) {
        case HV_EVENT_SUSPENDED:
        case HV_EVENT_RESUMED:
                d->paused = ev->kind == HV_EVENT_SUSPENDED;
                write_status(c, vmi, &(VmiStatus) { .paused = d->paused, .agent = -1 });
                break;
        case HV_EVENT_AGENT:
                agent_changed(c, vmi, ev->detail);
                break;
        case HV_EVENT_STOPPED: {
                bool asked = g_hash_table_contains(c->stopping, vmi->uid);
                bool ok = ev->detail == HV_STOP_SHUTDOWN || asked;
                const char *why = ev->detail == HV_STOP_CRASHED ? "the guest crashed or QEMU failed" :
                                  ev->detail == HV_STOP_DESTROYED ? "the domain was destroyed outside edgevirt" : "the domain stopped";
                g_hash_table_remove(c->domains, ev->domain);
                g_hash_table_remove(c->stopping, vmi->uid);
                g_hash_table_remove(c->address_due, vmi->uid);
                g_hash_table_remove(c->agents, vmi->uid);
                g_hash_table_remove(c->guest_due, vmi->uid);
                g_hash_table_remove(c->creds, vmi->uid);
                write_status(c, vmi, &(VmiStatus) { .phase = ok ? "Succeeded" : "Failed", .message = ok ? NULL : why,
                                                    .paused = 0, .agent = 0 });
                model_enqueue(c->model, vmi);
                break;
        }
        default:
                break;
        }
        vm_instance_changed(c->model, vmi);
}

/* --- adoption: what libvirt runs after a restart --- */

/* The text of one element of our metadata.  libvirt hands the element
 * back re-serialized, with a prefix of its choosing (or a default
 * namespace), so elements are matched by local name. */
typedef struct MetaParse {
        const char *want;
        bool inside;
        GString *text;
} MetaParse;

static const char *local_name(const char *name) {
        const char *colon = strrchr(name, ':');
        return colon ? colon + 1 : name;
}

static void meta_start(GMarkupParseContext *ctx, const char *name, const char **an, const char **av, void *data, GError **error) {
        MetaParse *p = data;
        p->inside = streq(local_name(name), p->want) && !p->text;
        if (p->inside)
                p->text = g_string_new(NULL);
}

static void meta_end(GMarkupParseContext *ctx, const char *name, void *data, GError **error) {
        ((MetaParse *) data)->inside = false;
}

static void meta_text(GMarkupParseContext *ctx, const char *text, gsize len, void *data, GError **error) {
        MetaParse *p = data;
        if (p->inside)
                g_string_append_len(p->text, text, (gssize) len);
}

static char *metadata_value(const char *xml, const char *element) {
        static const GMarkupParser parser = { .start_element = meta_start, .end_element = meta_end, .text = meta_text };
        MetaParse p = { .want = element };
        GMarkupParseContext *ctx = g_markup_parse_context_new(&parser, 0, &p, NULL);
        bool ok = g_markup_parse_context_parse(ctx, xml, -1, NULL) && g_markup_parse_context_end_parse(ctx, NULL);

        g_markup_parse_context_free(ctx);
        if (!p.text)
                return NULL;
        if (!ok) {
                g_string_free(p.text, TRUE);
                return NULL;
        }
        return g_strstrip(g_string_free(p.text, FALSE));
}

static void listed(HvOp *op) {
        VmiController *c = op->userdata;
        g_autoptr(GHashTable) live = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

        if (op->r < 0) {
                g_warning("cannot list libvirt's domains: %s; trying again", op->error);
                sd_event_source_set_enabled(c->tick, SD_EVENT_ON);
                return;
        }
        g_hash_table_remove_all(c->domains);
        for (guint i = 0; i < op->domains->len; i++) {
                HvDomain *hd = op->domains->pdata[i];
                g_autofree char *uid = metadata_value(hd->metadata, "uid");
                g_autofree char *owner = metadata_value(hd->metadata, "owner");
                Object *vmi = uid ? model_find_uid(c->model, uid) : NULL;

                if (!streq_ptr(owner, c->owner) || !hd->running)
                        continue;       /* another edgevirtd's, or a leftover definition */
                if (!vmi || vmi->kind != &kind_vmi || vmi_is_finished(vmi)) {
                        g_message("removing domain %s: no instance owns it", hd->name);
                        hypervisor_submit(c->hv, hv_op_new(HV_OP_DESTROY, hd->name, op_logged, c));
                        continue;
                }
                Domain *d = g_new0(Domain, 1);
                d->vmi_uid = g_strdup(uid);
                d->paused = hd->paused;
                g_hash_table_insert(c->domains, g_strdup(hd->name), d);
                g_hash_table_add(live, g_strdup(uid));
                /* Said, so that an admin (and tests/host) can tell a VM
                 * that lived through a daemon restart from one started
                 * again. */
                log_object(G_LOG_LEVEL_MESSAGE, vmi, "adopted running domain %s", hd->name);
                write_status(c, vmi, &(VmiStatus) { .phase = "Running", .paused = hd->paused, .agent = -1 });
                check_agent(c, vmi);
                g_hash_table_insert(c->address_due, g_strdup(uid), g_memdup2(&(gint64) { g_get_monotonic_time() }, sizeof(gint64)));
        }
        c->listed = true;
        /* per-instance files nothing owns */
        const char *dirs[] = { c->instances_dir, c->runtime_dir };
        for (size_t i = 0; i < G_N_ELEMENTS(dirs); i++) {
                g_autoptr(GDir) dir = g_dir_open(dirs[i], 0, NULL);
                const char *entry;
                while (dir && (entry = g_dir_read_name(dir))) {
                        Object *o = model_find_uid(c->model, entry);
                        if (!o || (o->kind == &kind_vmi && vmi_is_finished(o)))
                                worker_submit(c->services->worker, ev_remove_tree, g_free, g_build_filename(dirs[i], entry, NULL));
                }
        }
        sd_event_source_set_enabled(c->tick, SD_EVENT_ON);
        g_autoptr(GPtrArray) all = model_list(c->model, &kind_vmi, NULL, NULL);
        for (guint i = 0; i < all->len; i++)
                model_enqueue(c->model, all->pdata[i]);
        vm_enqueue_all(c->model);
}

static void list_domains(VmiController *c) {
        c->listed = false;
        hypervisor_submit(c->hv, hv_op_new(HV_OP_LIST, NULL, listed, c));
}

/* --- addresses, deadlines --- */

static void addresses_done(HvOp *op) {
        VmiController *c = op->userdata;
        const char *uid = op->tag;
        Object *vmi = model_find_uid(c->model, uid);
        gint64 *due = g_hash_table_lookup(c->address_due, uid);

        g_hash_table_remove(c->address_busy, uid);
        if (!vmi || !due || op->r < 0)
                return;
        JsonArray *ifaces = json_get_array(json_get_object(json_get_object(json_get_object(object_root(vmi), "spec"), "domain"), "devices"),
                                           "interfaces");
        JsonArray *out = json_array_new();
        bool any = false;
        for (guint i = 0; i < op->addresses->len; i++) {
                HvAddress *a = op->addresses->pdata[i];
                JsonObject *entry = NULL;
                for (guint j = 0; j < json_array_get_length(out); j++)
                        if (streq_ptr(json_get_string(json_array_get_object_element(out, j), "mac"), a->mac))
                                entry = json_array_get_object_element(out, j);
                if (!entry) {
                        entry = json_object_new();
                        json_object_set_string_member(entry, "mac", a->mac);
                        json_object_set_string_member(entry, "ipAddress", a->address);
                        if (a->name)
                                json_object_set_string_member(entry, "interfaceName", a->name);
                        json_object_set_string_member(entry, "infoSource", op->from_agent ? "domain, guest-agent" : "domain");
                        json_object_set_array_member(entry, "ipAddresses", json_array_new());
                        /* name it after the spec's interface, in order */
                        guint k = json_array_get_length(out);
                        if (ifaces && k < json_array_get_length(ifaces))
                                json_object_set_string_member(entry, "name", json_get_string(json_array_get_object_element(ifaces, k), "name"));
                        else if (!ifaces && k == 0)
                                json_object_set_string_member(entry, "name", "default");
                        json_array_add_object_element(out, entry);
                }
                json_array_add_string_element(json_get_array(entry, "ipAddresses"), a->address);
                any = true;
        }
        *due = g_get_monotonic_time() + (any ? ADDRESS_POLL_SLOW_USEC : ADDRESS_POLL_FAST_USEC);
        write_status(c, vmi, &(VmiStatus) { .paused = -1, .agent = -1, .interfaces = out });
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        VmiController *c = userdata;
        gint64 now = g_get_monotonic_time();
        GHashTableIter it;
        char *uid;
        void *value;

        if (!c->listed) {
                if (hypervisor_pending(c->hv) == 0)
                        list_domains(c);
        }
        g_hash_table_iter_init(&it, c->stopping);
        while (g_hash_table_iter_next(&it, (void **) &uid, &value)) {
                Stopping *st = value;
                Object *vmi = model_find_uid(c->model, uid);
                if (!vmi) {
                        g_hash_table_iter_remove(&it);
                        continue;
                }
                if (now >= st->deadline && !st->destroy_sent) {
                        g_autofree char *name = vmi_domain_name(vmi);
                        st->destroy_sent = true;
                        hypervisor_submit(c->hv, hv_op_new(HV_OP_DESTROY, name, op_logged, c));
                }
        }
        g_hash_table_iter_init(&it, c->address_due);
        while (g_hash_table_iter_next(&it, (void **) &uid, &value)) {
                Object *vmi = model_find_uid(c->model, uid);
                if (!vmi || g_hash_table_contains(c->address_busy, uid) || now < *(gint64 *) value)
                        continue;
                g_autofree char *name = vmi_domain_name(vmi);
                HvOp *op = hv_op_new(HV_OP_ADDRESSES, name, addresses_done, c);
                op->tag = g_strdup(uid);
                g_hash_table_add(c->address_busy, g_strdup(uid));
                hypervisor_submit(c->hv, op);
        }
        g_hash_table_iter_init(&it, c->guest_due);
        while (g_hash_table_iter_next(&it, (void **) &uid, &value)) {
                Object *vmi = model_find_uid(c->model, uid);
                if (!vmi || g_hash_table_contains(c->guest_busy, uid) || now < *(gint64 *) value)
                        continue;
                g_autofree char *name = vmi_domain_name(vmi);
                HvOp *op = hv_op_new(HV_OP_GUEST_INFO, name, guest_info_done, c);
                op->tag = g_strdup(uid);
                g_hash_table_add(c->guest_busy, g_strdup(uid));
                hypervisor_submit(c->hv, op);
        }
        /* status is written on the way: not while walking the table */
        g_autoptr(GPtrArray) connected = g_ptr_array_new_with_free_func(g_free);
        g_hash_table_iter_init(&it, c->agents);
        while (g_hash_table_iter_next(&it, (void **) &uid, NULL))
                g_ptr_array_add(connected, g_strdup(uid));
        for (guint i = 0; i < connected->len; i++) {
                Object *vmi = model_find_uid(c->model, connected->pdata[i]);
                if (vmi)
                        sync_credentials(c, vmi, now);
        }
        vm_tick(c->model);
        if (c->listed && g_hash_table_size(c->stopping) == 0 && g_hash_table_size(c->address_due) == 0 &&
            g_hash_table_size(c->guest_due) == 0 && !vm_needs_tick(c->model))
                sd_event_source_set_enabled(s, SD_EVENT_OFF);
        else
                sd_event_source_set_time_relative(s, TICK_USEC);
        return 0;
}

void vmi_controller_wake(Model *m) {
        VmiController *c = model_services(m)->vmis;
        if (c) {
                sd_event_source_set_time_relative(c->tick, TICK_USEC);
                sd_event_source_set_enabled(c->tick, SD_EVENT_ON);
        }
}

void vmi_volumes_changed(Model *m, const char *namespace) {
        VmiController *c = model_services(m)->vmis;
        if (!c)
                return;
        g_autoptr(GPtrArray) vmis = model_list(m, &kind_vmi, namespace, NULL);
        for (guint i = 0; i < vmis->len; i++) {
                const char *phase = vmi_phase(vmis->pdata[i]);
                if (streq(phase, "Pending") || streq(phase, "Scheduling"))
                        model_enqueue(m, vmis->pdata[i]);
        }
}

/* A pull ended or its back-off did: instances waiting on images look again. */
static void images_changed(void *data) {
        VmiController *c = data;
        vmi_volumes_changed(c->model, NULL);
}

/* --- verbs --- */

static int running_domain(VmiController *c, Object *vmi, Domain **ret, GError **error) {
        g_autofree char *name = vmi_domain_name(vmi);
        Domain *d = g_hash_table_lookup(c->domains, name);
        if (!d || !streq_ptr(d->vmi_uid, vmi->uid) || object_is_deleting(vmi) || g_hash_table_contains(c->stopping, vmi->uid))
                return ev_error_set(error, EBUSY, "VirtualMachineInstance %s/%s is not running", vmi->namespace, vmi->name);
        *ret = d;
        return 0;
}

static void verb_done(HvOp *op) {
        VmiController *c = op->userdata;
        if (op->r < 0)
                g_warning("libvirt: %s: %s", op->domain, op->error);
        (void) c;
}

static int submit_verb(VmiController *c, Object *vmi, HvOpKind kind) {
        g_autofree char *name = vmi_domain_name(vmi);
        hypervisor_submit(c->hv, hv_op_new(kind, name, verb_done, c));
        return 0;
}

int vmi_pause(Model *m, Object *vmi, GError **error) {
        VmiController *c = model_services(m)->vmis;
        Domain *d;
        if (running_domain(c, vmi, &d, error) < 0)
                return -EBUSY;
        if (d->paused)
                return ev_error_set(error, EBUSY, "VirtualMachineInstance %s/%s is already paused", vmi->namespace, vmi->name);
        return submit_verb(c, vmi, HV_OP_SUSPEND);
}

int vmi_unpause(Model *m, Object *vmi, GError **error) {
        VmiController *c = model_services(m)->vmis;
        Domain *d;
        if (running_domain(c, vmi, &d, error) < 0)
                return -EBUSY;
        if (!d->paused)
                return ev_error_set(error, EBUSY, "VirtualMachineInstance %s/%s is not paused", vmi->namespace, vmi->name);
        return submit_verb(c, vmi, HV_OP_RESUME);
}

int vmi_soft_reboot(Model *m, Object *vmi, GError **error) {
        VmiController *c = model_services(m)->vmis;
        Domain *d;
        if (running_domain(c, vmi, &d, error) < 0)
                return -EBUSY;
        if (d->paused)
                return ev_error_set(error, EBUSY, "VirtualMachineInstance %s/%s is paused; unpause it first", vmi->namespace, vmi->name);
        return submit_verb(c, vmi, HV_OP_REBOOT);
}

static int connect_socket(VmiController *c, Object *vmi, const char *file, const char *what, GError **error) {
        g_autofree char *dir = runtime_dir(c, vmi);
        g_autofree char *path = g_build_filename(dir, file, NULL);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        Domain *d;
        int fd;

        if (running_domain(c, vmi, &d, error) < 0)
                return -EBUSY;
        if (strlen(path) >= sizeof sa.sun_path)
                return ev_error_set(error, ENAMETOOLONG, "the %s socket path %s is too long", what, path);
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return ev_error_set(error, errno, "cannot make a socket: %s", g_strerror(errno));
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                int err = errno;
                close(fd);
                if (err == ENOENT)
                        return ev_error_set(error, ENOENT, "VirtualMachineInstance %s/%s has no %s (the hypervisor %s does not provide one, "
                                            "or the device is disabled in its spec)", vmi->namespace, vmi->name, what, hypervisor_uri(c->hv));
                if (err == ECONNREFUSED || err == EAGAIN)
                        return ev_error_set(error, EBUSY, "the %s of %s/%s is in use by another client", what, vmi->namespace, vmi->name);
                return ev_error_set(error, err, "cannot connect to the %s of %s/%s: %s", what, vmi->namespace, vmi->name, g_strerror(err));
        }
        return fd;
}

int vmi_open_console(Model *m, Object *vmi, GError **error) {
        return connect_socket(model_services(m)->vmis, vmi, "console.sock", "serial console", error);
}

int vmi_open_vnc(Model *m, Object *vmi, GError **error) {
        return connect_socket(model_services(m)->vmis, vmi, "vnc.sock", "VNC server", error);
}

/* --- setup --- */

static char *owner_id(const char *state_dir) {
        g_autofree char *path = g_build_filename(state_dir, "owner-id", NULL);
        char *id = NULL;
        if (g_file_get_contents(path, &id, NULL, NULL))
                return g_strstrip(id);
        id = g_uuid_string_random();
        if (!g_file_set_contents(path, id, -1, NULL))
                g_warning("cannot write %s", path);
        return id;
}

static void domain_free(Domain *d) {
        g_free(d->vmi_uid);
        g_free(d);
}

static char *runtime_base(const char *state_dir) {
        const char *rt = g_getenv("RUNTIME_DIRECTORY");
        if (rt && *rt)
                return g_strdup(rt);
        if (streq(state_dir, "/var/lib/edgevirt"))
                return g_strdup("/run/edgevirt");
        /* sockets need short paths; one directory per state directory */
        g_autofree char *hash = g_compute_checksum_for_string(G_CHECKSUM_SHA256, state_dir, -1);
        hash[12] = 0;
        return g_strdup_printf("/tmp/edgevirt-%s", hash);
}

int vmi_controller_new(Model *m, Services *s, VmiController **ret) {
        VmiController *c = g_new0(VmiController, 1);
        int r;

        c->model = m;
        c->services = s;
        c->owner = owner_id(s->state_dir);
        c->instances_dir = g_build_filename(s->state_dir, "instances", NULL);
        c->runtime_dir = runtime_base(s->state_dir);
        c->domains = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify) domain_free);
        c->busy = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        c->stopping = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        c->claims = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_ptr_array_unref);
        c->images = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_ptr_array_unref);
        c->first_try = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        c->address_due = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        c->address_busy = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        c->agents = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify) json_object_unref);
        c->guest_due = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        c->guest_busy = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        c->creds = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify) credentials_sync_free);
        if (g_mkdir_with_parents(c->instances_dir, 0711) < 0 || g_mkdir_with_parents(c->runtime_dir, 0711) < 0 ||
            chmod(s->state_dir, 0711) < 0 || chmod(c->instances_dir, 0711) < 0 || chmod(c->runtime_dir, 0711) < 0) {
                r = -errno;
                vmi_controller_free(c);
                return r;
        }
        r = hypervisor_new(s->event, s->libvirt_uri, on_event, c, &c->hv);
        if (r < 0) {
                vmi_controller_free(c);
                return r;
        }
        r = sd_event_add_time_relative(s->event, &c->tick, CLOCK_MONOTONIC, TICK_USEC, 0, on_tick, c);
        if (r < 0) {
                vmi_controller_free(c);
                return r;
        }
        s->vmis = c;
        if (s->images)
                imagecache_set_changed(s->images, images_changed, c);
        list_domains(c);
        *ret = c;
        return 0;
}

VmiController *vmi_controller_free(VmiController *c) {
        if (!c)
                return NULL;
        hypervisor_free(c->hv);
        sd_event_source_disable_unref(c->tick);
        g_hash_table_unref(c->domains);
        g_hash_table_unref(c->busy);
        g_hash_table_unref(c->stopping);
        g_hash_table_unref(c->claims);
        g_hash_table_unref(c->images);
        g_hash_table_unref(c->first_try);
        g_hash_table_unref(c->address_due);
        g_hash_table_unref(c->address_busy);
        g_hash_table_unref(c->agents);
        g_hash_table_unref(c->guest_due);
        g_hash_table_unref(c->guest_busy);
        g_hash_table_unref(c->creds);
        g_free(c->owner);
        g_free(c->instances_dir);
        /* nothing runs: no sockets to keep (running guests keep theirs) */
        (void) rmdir(c->runtime_dir);
        g_free(c->runtime_dir);
        g_free(c);
        return NULL;
}
