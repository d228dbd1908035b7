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

#include "log.h"
#include "credentials.h"
#include "domain.h"
#include "event.h"
#include "firmware-store.h"
#include "imagecache.h"
#include "hostdev.h"
#include "json-util.h"
#include "quantity.h"
#include "seed.h"
#include "services.h"
#include "util.h"
#include "vm-status.h"
#include "vmi-private.h"
#include "vmi-status.h"

#define MAX_INTERRUPTED_STARTS 2        /* then the instance fails (start-attempts) */

/* --- admission (the rules themselves: vmi-admit.c) --- */

static int vmi_admit(Model *m, JsonObject *doc, JsonObject *old, GPtrArray *warnings, GError **error) {
        JsonObject *spec = json_get_object(doc, "spec");

        if (vm_template_annotations_admit(json_get_object(doc, "metadata"), "metadata", error) < 0)
                return -EOPNOTSUPP;
        if (old) {
                if (!json_equal(json_object_get_member(doc, "spec"), json_object_get_member(old, "spec")))
                        return ev_error_set(error, EINVAL,
                                            "spec: Forbidden: the spec of a VirtualMachineInstance cannot change; "
                                            "change its VirtualMachine and restart it");
                return 0;
        }
        JsonObject *meta = json_get_object(doc, "metadata");
        int r = vmi_spec_admit(spec, "spec", true, warnings, error);
        if (r >= 0)     /* a VMI's spec does not change: checked at its creation */
                r = vm_firmware_uuid_admit(m, json_get_string(meta, "namespace"), json_get_string(meta, "name"),
                                           spec, NULL, "spec", error);
        return r < 0 ? r : hostdev_admit_spec(m, spec, "spec", error);
}

/* --- status --- */

void vmi_write_status(VmiController *c, Object *vmi, const VmiStatus *u) {
        JsonNode *doc = json_deep_copy(object_doc(vmi));
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
                status_set_condition(status, "Paused", u->paused, u->paused ? "PausedByUser" : "",
                                     u->paused ? "VMI was paused by user" : "");
        if (u->agent >= 0)
                status_set_condition(status, "AgentConnected", u->agent, u->agent ? "" : "AgentDisconnected", "");
        if (u->creds)
                status_set_condition(status, "AccessCredentialsSynchronized", !*u->creds,
                                     *u->creds ? "AccessCredentialsSyncFailed" : "",
                                     u->creds);
        bool paused = streq_ptr(object_condition(vmi, "Paused", "status"), "True");
        if (u->paused >= 0)
                paused = u->paused;
        bool ready = streq(phase, "Running") && !paused;
        status_set_condition(status, "Ready", ready,
                             ready ? "" : streq(phase, "Running") ? "Paused" : "GuestNotRunning",
                      ready ? "" : streq(phase, "Running") ? "the guest is paused" : "the guest is not running");
        if (streq(phase, "Running") || streq(phase, "Scheduled")) {
                json_object_set_string_member(status, "nodeName", g_get_host_name());
                JsonObject *machine = json_object_new();
                const char *type = json_get_string(json_get_object(json_get_object(json_get_object(
                                                           json_node_get_object(doc), "spec"), "domain"), "machine"),
                                                   "type");
                json_object_set_string_member(machine, "type", !isempty(type) ? type : "q35");
                json_object_set_object_member(status, "machine", machine);
        }
        if (u->interfaces)
                json_object_set_array_member(status, "interfaces", u->interfaces);
        if (u->os_info) {
                g_autoptr(JsonNode) os = json_node_init_object(json_node_alloc(), u->os_info);
                json_object_set_member(status, "guestOSInfo", json_deep_copy(os));
        }
        if (json_equal(doc, object_doc(vmi))) {
                json_node_unref(doc);
                return;
        }
        model_write_status(c->model, vmi, doc);
}

/* --- the instances --- */

Instance *instance_free(Instance *i) {
        if (!i)
                return NULL;
        g_free(i->uid);
        if (i->claims)
                g_ptr_array_unref(i->claims);
        if (i->images)
                g_ptr_array_unref(i->images);
        if (i->agent)
                json_object_unref(i->agent);
        credentials_sync_free(i->creds);
        vmi_hostdevs_clear(i);
        if (i->hotplug_failed)
                g_hash_table_unref(i->hotplug_failed);
        g_free(i->hotplug_template);
        g_free(i);
        return NULL;
}

Instance *vmi_instance_find(VmiController *c, const char *uid) {
        return uid ? g_hash_table_lookup(c->instances, uid) : NULL;
}

Instance *vmi_instance_get(VmiController *c, const char *uid) {
        Instance *i = vmi_instance_find(c, uid);
        if (!i) {
                i = g_new0(Instance, 1);
                i->uid = g_strdup(uid);
                g_hash_table_insert(c->instances, i->uid, i);
        }
        return i;
}

/* --- claims the instance holds (pvc-protection) --- */

static void release_claims(VmiController *c, Object *vmi) {
        Instance *inst = vmi_instance_find(c, vmi->uid);

        if (!inst)
                return;
        for (guint i = 0; inst->claims && i < inst->claims->len; i++)
                services_pvc_use(c->services, inst->claims->pdata[i], false);
        g_clear_pointer(&inst->claims, g_ptr_array_unref);
        for (guint i = 0; inst->images && i < inst->images->len; i++)
                imagecache_use(c->services->images, inst->images->pdata[i], false);
        g_clear_pointer(&inst->images, g_ptr_array_unref);
        vmi_hostdevs_release(c, vmi);
}

/* The claims (pvc-protection) and cached images (collection) an instance
 * uses, held while it lives. */
static void hold_claims(VmiController *c, Object *vmi, GPtrArray *uids, GPtrArray *digests) {
        Instance *inst = vmi_instance_get(c, vmi->uid);

        release_claims(c, vmi);
        for (guint i = 0; i < uids->len; i++)
                services_pvc_use(c->services, uids->pdata[i], true);
        inst->claims = g_ptr_array_ref(uids);
        for (guint i = 0; i < digests->len; i++)
                imagecache_use(c->services->images, digests->pdata[i], true);
        inst->images = g_ptr_array_ref(digests);
}

/* --- files of an instance --- */

char *vmi_instance_dir(VmiController *c, Object *vmi) {
        return g_build_filename(c->instances_dir, vmi->uid, NULL);
}

static char *runtime_dir(VmiController *c, Object *vmi) {
        return g_build_filename(c->runtime_dir, vmi->uid, NULL);
}

/* A VMI of its own with a persistent vTPM: its files keep the marker until it goes. */
static bool owns_tpm(Model *m, Object *vmi) {
        return !vm_of_instance(m, vmi) && firmware_tpm_persistent(json_get_object(object_root(vmi), "spec"));
}

static void remove_files(VmiController *c, const char *uid, bool own_tpm) {
        if (!own_tpm)
                worker_submit(c->services->worker, ev_remove_tree, g_free,
                              g_build_filename(c->instances_dir, uid, NULL));
        worker_submit(c->services->worker, ev_remove_tree, g_free, g_build_filename(c->runtime_dir, uid, NULL));
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
        char *nvram, *nvram_template;   /* EFI: the variable store and what a new one is copied from */
        char *tpm_owner, *tpm_uuid;     /* a persistent vTPM: whose marker says which swtpm state is ours */
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
        g_free(s->nvram);
        g_free(s->nvram_template);
        g_free(s->tpm_owner);
        g_free(s->tpm_uuid);
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
                s->error = g_strdup_printf("the daemon stopped %u times while starting this instance: not started "
                                           "again", before);
                return;
        }
        /* QEMU makes the console and VNC sockets in here as libvirt's user:
         * the directory gets its group (root keeps owning it, so the daemon
         * removes it later without CAP_DAC_OVERRIDE) */
        if (s->qemu_gid != (gid_t) -1 &&
            (chown(s->runtime_dir, (uid_t) -1, s->qemu_gid) < 0 || chmod(s->runtime_dir, 0770) < 0)) {
                s->r = -errno;
                s->error = g_strdup_printf("cannot open %s to QEMU's group: %s", s->runtime_dir, g_strerror(errno));
                return;
        }
        if (s->nvram_template && (s->r = vmi_nvram_prepare(s->nvram, s->nvram_template, &s->error)) < 0)
                return;
        if (s->tpm_uuid && (s->r = vmi_tpm_mark(s->c, s->tpm_owner, s->tpm_uuid, &s->error)) < 0)
                return;
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
                const char *argv[] = { "qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", o->backing,
                                       o->path, NULL };
                g_autoptr(GError) e = NULL;
                if (!g_spawn_sync(NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDIN_FROM_DEV_NULL,
                                  ev_spawn_child_defaults, NULL, &out, &err, &status, &e) ||
                    !g_spawn_check_wait_status(status, NULL)) {
                        s->r = -EIO;
                        s->error = g_strdup_printf("cannot make the overlay %s: %s", o->path,
                                                   e ? e->message : g_strstrip(err));
                        return;
                }
                if (!o->digest)
                        continue;       /* an ephemeral claim's: no image to remember */
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

static void prepare_done(void *data) {
        Start *s = data;
        VmiController *c = s->c;
        Object *vmi = model_find_uid(c->model, s->vmi_uid);

        if (!vmi || object_is_deleting(vmi) || s->r < 0) {
                if (vmi && s->r < 0)
                        vmi_write_status(c, vmi, &(VmiStatus) { .phase = "Failed", .reason = "FailedCreate",
                                                                .message = s->error, .paused = -1, .agent = -1 });
                Instance *inst = vmi_instance_find(c, s->vmi_uid);
                if (inst)
                        inst->busy = false;
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
        Instance *inst = vmi_instance_find(c, uid);

        if (inst)
                inst->busy = false;
        if (!vmi)
                return;         /* removed meanwhile: its finalizer ran; the domain, if any, is an orphan for the
                                 * next list */
        g_autofree char *idir = vmi_instance_dir(c, vmi);
        worker_submit(c->services->worker, ev_remove_tree, g_free, g_build_filename(idir, "start-attempts", NULL));
        if (op->r < 0) {
                vmi_write_status(c, vmi, &(VmiStatus) { .phase = "Failed", .reason = "FailedCreate",
                                                        .message = op->error, .paused = -1, .agent = -1 });
                model_enqueue(c->model, vmi);
                return;
        }
        inst = vmi_instance_get(c, vmi->uid);
        inst->domain = true;
        inst->paused = op->paused;
        vmi_write_status(c, vmi, &(VmiStatus) {
                .phase = "Running", .paused = op->paused, .agent = 0,
                .creds = agent_credentials_wanted(json_get_object(object_root(vmi), "spec")) ? AGENT_OFFLINE : NULL });
        inst->address_due = g_get_monotonic_time();
        sd_event_source_set_enabled(c->tick, SD_EVENT_ON);
        vmi_check_agent(c, vmi);
        model_enqueue(c->model, vmi);
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
        VolState st = vmi_resolve_volumes(c, vmi, &r);
        static const char *const reasons[] = { [VOL_WAITING] = "WaitingForVolumeBinding",
                                               [VOL_PVC_NOT_FOUND] = "ErrorPvcNotFound",
                                               [VOL_DV_ERROR] = "DataVolumeError",
                                               [VOL_CONFIG_MISSING] = "FailedMount" };

        Instance *inst = vmi_instance_get(c, vmi->uid);
        if (!inst->first_try)
                inst->first_try = g_get_monotonic_time();
        if (st == VOL_PULLING) {
                /* KubeVirt's instance is Scheduling while its pod pulls */
                if (!inst->pulling)
                        event_record(c->services->events, vmi, false, "Pulling", "%s", r.message);
                inst->pulling = true;
                inst->pull_failed = false;
                vmi_write_status(c, vmi, &(VmiStatus) { .phase = "Scheduling", .paused = -1, .agent = -1 });
                return 0;       /* the pull's end queues us again */
        }
        if (st == VOL_IMAGE_ERROR) {
                /* the kubelet's "Failed" (its message changes with each retry's wait: said once) */
                if (!inst->pull_failed)
                        event_record(c->services->events, vmi, true, "Failed", "%s", r.message);
                inst->pull_failed = true;
                inst->pulling = false;
                vmi_write_status(c, vmi, &(VmiStatus) { .phase = "Scheduling", .reason = r.reason, .message = r.message,
                                                        .paused = -1, .agent = -1 });
                return 0;       /* the back-off's end queues us again */
        }
        if (st == VOL_FAILED) {
                vmi_write_status(c, vmi, &(VmiStatus) { .phase = "Failed", .reason = "FailedCreate",
                                                        .message = r.message, .paused = -1, .agent = -1 });
                return 0;
        }
        if (st != VOL_READY) {
                vmi_write_status(c, vmi, &(VmiStatus) { .phase = "Pending", .reason = reasons[st], .message = r.message,
                                                        .paused = -1, .agent = -1 });
                return 0;       /* the claim's, DataVolume's, ConfigMap's or Secret's change queues us again */
        }
        if (inst->pulling)
                event_record(c->services->events, vmi, false, "Pulled", "the instance's images are in the image cache");
        inst->pulling = inst->pull_failed = false;
        hold_claims(c, vmi, r.claims, r.images);       /* (lets go of host devices held before) */
        g_autoptr(GArray) hostdevs = vmi_hostdevs_take(c, vmi);
        if (!hostdevs) {
                release_claims(c, vmi);
                return 0;       /* waiting (a holder's end queues us again) or failed */
        }

        g_autofree char *name = vmi_domain_name(vmi);
        g_autofree char *idir = vmi_instance_dir(c, vmi), *rdir = runtime_dir(c, vmi);
        g_autofree char *console = vmi_socket_path(c->model, vmi, false);
        g_autofree char *vnc = vmi_socket_path(c->model, vmi, true);
        g_autofree char *log = g_build_filename(rdir, "console.log", NULL);
        g_autofree char *nvram = vmi_nvram_path(c, vmi);
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
                .nvram = nvram,
                .volumes = r.volumes,
                .kernel = r.kernel, .initrd = r.initrd, .hostdevs = hostdevs,
        };
        vmi_firmware_host(&host);
        char *xml = domain_xml(spec, &host, &e);
        if (!xml) {
                vmi_write_status(c, vmi, &(VmiStatus) { .phase = "Failed", .reason = "FailedCreate",
                                                        .message = e->message, .paused = -1, .agent = -1 });
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
        s->nvram_template = g_strdup(vmi_nvram_template(spec, &host));
        s->nvram = g_steal_pointer(&nvram);
        if (firmware_tpm_persistent(spec)) {
                s->tpm_owner = g_strdup(host.uuid);
                s->tpm_uuid = g_strdup(firmware_tpm_uuid(spec, host.uuid));
        }
        s->runtime_dir = g_steal_pointer(&rdir);
        qemu_user(c, &s->qemu_uid, &s->qemu_gid);
        inst->busy = true;
        vmi_write_status(c, vmi, &(VmiStatus) { .phase = "Scheduled", .paused = -1, .agent = -1 });
        worker_submit(c->services->worker, prepare_work, prepare_done, s);
        return 0;
}

/* --- stopping --- */

static void send_stop(VmiController *c, Object *vmi, int64_t grace) {
        g_autofree char *name = vmi_domain_name(vmi);
        Instance *inst = vmi_instance_get(c, vmi->uid);

        if (grace < 0)
                grace = json_get_int(json_get_object(object_root(vmi), "spec"), "terminationGracePeriodSeconds", 30);
        if (inst->stopping) {
                /* a shorter grace period given later wins, as kubectl's does */
                gint64 deadline = g_get_monotonic_time() + grace * G_USEC_PER_SEC;
                if (deadline < inst->stop_deadline)
                        inst->stop_deadline = deadline;
        } else {
                inst->stopping = true;
                inst->destroy_sent = false;
                inst->stop_deadline = g_get_monotonic_time() + grace * G_USEC_PER_SEC;
                if (grace > 0)
                        hypervisor_submit(c->hv, hv_op_new(HV_OP_SHUTDOWN, name, vmi_op_logged, c));
        }
        if (grace == 0 && !inst->destroy_sent) {
                inst->destroy_sent = true;
                hypervisor_submit(c->hv, hv_op_new(HV_OP_DESTROY, name, vmi_destroy_done, c));
        }
        sd_event_source_set_enabled(c->tick, SD_EVENT_ON);
}

bool vmi_has_domain(VmiController *c, Object *vmi) {
        Instance *inst = vmi_instance_find(c, vmi->uid);
        return inst && inst->domain;
}

static int stop_instance(VmiController *c, Object *vmi, int64_t grace, GError **error) {
        if (!vmi_has_domain(c, vmi))
                return ev_error_set(error, EBUSY, "VirtualMachineInstance %s/%s is not running", vmi->namespace,
                                    vmi->name);
        send_stop(c, vmi, grace);
        return 0;
}

/* --- reconcile --- */

static int vmi_reconcile(Model *m, Object *vmi) {
        VmiController *c = model_services(m)->vmis;
        const char *phase = vmi_phase(vmi);
        Instance *inst = vmi_instance_find(c, vmi->uid);

        if (!c->listed || object_is_deleting(vmi) || (inst && inst->busy))
                return 0;
        if (vmi_is_finished(vmi)) {
                if (inst)
                        inst->first_try = 0;
                if (inst && inst->claims) {
                        release_claims(c, vmi);
                        remove_files(c, vmi->uid, owns_tpm(m, vmi));
                }
                return 0;
        }
        if (vmi_has_domain(c, vmi)) {
                if (!inst->claims) {
                        /* adopted after a restart: hold its claims again */
                        g_auto(Resolved) r = { .adopting = true };
                        (void) vmi_resolve_volumes(c, vmi, &r);
                        hold_claims(c, vmi, r.claims, r.images);
                        vmi_hostdevs_adopt(c, vmi);
                        vmi_hotplug_adopt(c, vmi);
                }
                return 0;
        }
        if (streq(phase, "Running") || streq(phase, "Scheduled")) {
                /* its domain went away while nobody watched (daemon down) */
                vmi_write_status(c, vmi, &(VmiStatus) { .phase = "Failed", .reason = "DomainGone",
                                                        .message = "the domain stopped while edgevirtd was not running",
                                                        .paused = 0, .agent = 0 });
                return 0;
        }
        return start_instance(c, vmi);
}

static int vmi_finalize(Model *m, Object *vmi) {
        VmiController *c = model_services(m)->vmis;
        Instance *inst = vmi_instance_find(c, vmi->uid);

        if (inst && inst->busy)
                return 0;       /* its start finishes first */
        if (vmi_has_domain(c, vmi)) {
                send_stop(c, vmi, -1);
                return 0;       /* the STOPPED event queues us again */
        }
        release_claims(c, vmi);
        remove_files(c, vmi->uid, owns_tpm(m, vmi));       /* a VM's vTPM state is the VM's */
        if (owns_tpm(m, vmi))
                vmi_forget_owner_files(c, vmi->uid, true);
        g_hash_table_remove(c->instances, vmi->uid);
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

/* --- libvirt's events --- */

static Object *vmi_of_domain(VmiController *c, const char *name) {
        const char *sep = name ? strchr(name, '_') : NULL;
        g_autofree char *ns = sep ? g_strndup(name, sep - name) : NULL;
        Object *vmi = NULL;
        if (!sep || model_get(c->model, &kind_vmi, ns, sep + 1, &vmi, NULL) < 0)
                return NULL;
        return vmi;
}

/* Its domain is gone: libvirt's STOPPED event, or a destroy of ours that
 * libvirt carried out (whichever comes first: the other finds no domain). */
void vmi_domain_stopped(VmiController *c, Object *vmi, Instance *inst, int detail) {
        bool asked = inst->stopping;
        bool ok = detail == HV_STOP_SHUTDOWN || asked;
        const char *why = detail == HV_STOP_CRASHED ? "the guest crashed or QEMU failed" :
                          detail == HV_STOP_DESTROYED ? "the domain was destroyed outside edgevirt" :
                          "the domain stopped";
        inst->domain = false;
        inst->stopping = false;
        inst->address_due = 0;
        g_clear_pointer(&inst->agent, json_object_unref);
        inst->guest_due = 0;
        g_clear_pointer(&inst->creds, credentials_sync_free);
        vmi_write_status(c, vmi, &(VmiStatus) { .phase = ok ? "Succeeded" : "Failed",
                                                .message = ok ? NULL : why, .paused = 0, .agent = 0 });
        model_enqueue(c->model, vmi);
}

static void on_event(const HvEvent *ev, void *userdata) {
        VmiController *c = userdata;
        Object *vmi = ev->domain ? vmi_of_domain(c, ev->domain) : NULL;
        Instance *inst = vmi ? vmi_instance_find(c, vmi->uid) : NULL;

        if (ev->kind == HV_EVENT_DISCONNECTED) {
                g_warning("libvirt closed the connection; listing domains again");
                vmi_list_domains(c);
                return;
        }
        if (!inst || !inst->domain)
                return;         /* not ours, or not created yet (created() records it) */
        switch (ev->kind) {
        case HV_EVENT_SUSPENDED:
        case HV_EVENT_RESUMED:
                inst->paused = ev->kind == HV_EVENT_SUSPENDED;
                vmi_write_status(c, vmi, &(VmiStatus) { .paused = inst->paused, .agent = -1 });
                break;
        case HV_EVENT_AGENT:
                vmi_agent_changed(c, vmi, ev->detail);
                break;
        case HV_EVENT_DEVICE_REMOVED:
                vmi_hotplug_removed(c, vmi, ev->device);
                break;
        case HV_EVENT_STOPPED:
                vmi_domain_stopped(c, vmi, inst, ev->detail);
                break;
        default:
                break;
        }
}

/* --- the tick: deadlines, and the agent's polls --- */

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        VmiController *c = userdata;
        gint64 now = g_get_monotonic_time();
        GHashTableIter it;
        Instance *inst;
        bool waiting = false;

        if (!c->listed) {
                if (hypervisor_pending(c->hv) == 0)
                        vmi_list_domains(c);
        }
        g_hash_table_iter_init(&it, c->instances);
        while (g_hash_table_iter_next(&it, NULL, (void **) &inst)) {
                Object *vmi = inst->stopping ? model_find_uid(c->model, inst->uid) : NULL;
                if (inst->stopping && !vmi)
                        inst->stopping = false;
                else if (inst->stopping && now >= inst->stop_deadline && !inst->destroy_sent) {
                        g_autofree char *name = vmi_domain_name(vmi);
                        inst->destroy_sent = true;
                        hypervisor_submit(c->hv, hv_op_new(HV_OP_DESTROY, name, vmi_destroy_done, c));
                }
        }
        vmi_agent_tick(c, now);
        g_hash_table_iter_init(&it, c->instances);
        while (!waiting && g_hash_table_iter_next(&it, NULL, (void **) &inst))
                waiting = inst->stopping || inst->address_due || inst->guest_due;
        if (c->listed && !waiting)
                sd_event_source_set_enabled(s, SD_EVENT_OFF);
        else
                sd_event_source_set_time_relative(s, TICK_USEC);
        return 0;
}

/* Instances waiting for their volumes (in namespace; NULL: anywhere)
 * look again. */
static void enqueue_waiting(VmiController *c, const char *namespace) {
        g_autoptr(GPtrArray) vmis = model_list(c->model, &kind_vmi, namespace, NULL);
        for (guint i = 0; i < vmis->len; i++) {
                const char *phase = vmi_phase(vmis->pdata[i]);
                if (streq(phase, "Pending") || streq(phase, "Scheduling"))
                        model_enqueue(c->model, vmis->pdata[i]);
        }
}

/* A claim, DataVolume, ConfigMap or Secret changed. */
static void volume_changed(Model *m, Object *o, ModelEvent event, void *userdata) {
        enqueue_waiting(userdata, o->namespace);
}

static const ModelWatch volume_watch = { .changed = volume_changed };

/* A pull ended or its back-off did: instances waiting on images look again. */
static void images_changed(void *data) {
        enqueue_waiting(data, NULL);
}

/* --- what other controllers ask (InstanceOps, services.h) --- */

static bool instance_stopping(void *data, Object *vmi) {
        Instance *inst = vmi_instance_find(data, vmi->uid);
        return inst && inst->stopping;
}

static int instance_stop(void *data, Object *vmi, int64_t grace, GError **error) {
        return stop_instance(data, vmi, grace, error);
}

static bool instance_agent_connected(void *data, Object *vmi) {
        return vmi_agent_connected(((VmiController *) data)->model, vmi);
}

static void instance_quiesce(void *data, Object *vmi, bool use_agent, const char **ret_how, InstanceDone done,
                             void *userdata) {
        vmi_quiesce(data, vmi, use_agent, ret_how, done, userdata);
}

static void instance_release(void *data, Object *vmi, const char *how, InstanceDone done, void *userdata) {
        vmi_release(data, vmi, how, done, userdata);
}

/* --- verbs --- */

int vmi_running_domain(VmiController *c, Object *vmi, Instance **ret, GError **error) {
        Instance *inst = vmi_instance_find(c, vmi->uid);
        if (!inst || !inst->domain || object_is_deleting(vmi) || inst->stopping)
                return ev_error_set(error, EBUSY, "VirtualMachineInstance %s/%s is not running", vmi->namespace,
                                    vmi->name);
        *ret = inst;
        return 0;
}

static int connect_socket(VmiController *c, Object *vmi, const char *file, const char *what, GError **error) {
        g_autofree char *dir = runtime_dir(c, vmi);
        g_autofree char *path = g_build_filename(dir, file, NULL);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        Instance *d;
        int fd;

        if (vmi_running_domain(c, vmi, &d, error) < 0)
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
                        return ev_error_set(error, ENOENT,
                                            "VirtualMachineInstance %s/%s has no %s (the hypervisor %s does not "
                                            "provide one, or the device is disabled in its spec)",
                                            vmi->namespace, vmi->name, what, hypervisor_uri(c->hv));
                if (err == ECONNREFUSED || err == EAGAIN)
                        return ev_error_set(error, EBUSY, "the %s of %s/%s is in use by another client", what,
                                            vmi->namespace, vmi->name);
                return ev_error_set(error, err, "cannot connect to the %s of %s/%s: %s", what, vmi->namespace,
                                    vmi->name, g_strerror(err));
        }
        return fd;
}

int vmi_open_console(Model *m, Object *vmi, GError **error) {
        return connect_socket(model_services(m)->vmis, vmi, "console.sock", "serial console", error);
}

int vmi_open_vnc(Model *m, Object *vmi, GError **error) {
        return connect_socket(model_services(m)->vmis, vmi, "vnc.sock", "VNC server", error);
}

char *vmi_socket_path(Model *m, Object *vmi, bool vnc) {
        g_autofree char *dir = runtime_dir(model_services(m)->vmis, vmi);
        return g_build_filename(dir, vnc ? "vnc.sock" : "console.sock", NULL);
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
        c->instances = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify) instance_free);
        if (g_mkdir_with_parents(c->instances_dir, 0711) < 0 || g_mkdir_with_parents(c->runtime_dir, 0711) < 0 ||
            chmod(s->state_dir, 0711) < 0 || chmod(c->instances_dir, 0711) < 0) {
                r = -errno;
                vmi_controller_free(c);
                return r;
        }
        /* the sockets' directory (in /tmp outside the unit) must be ours:
         * whoever made it first could swap what is inside */
        struct stat st;
        if (lstat(c->runtime_dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
                g_warning("%s is not a directory of the daemon's own user: refusing it (remove it)", c->runtime_dir);
                vmi_controller_free(c);
                return -EPERM;
        }
        if (chmod(c->runtime_dir, 0711) < 0) {
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
        s->instances = (InstanceOps) {
                .data = c, .stopping = instance_stopping, .stop = instance_stop,
                .agent_connected = instance_agent_connected, .quiesce = instance_quiesce, .release = instance_release,
                .memory_dump = vmi_memory_dump,
        };
        model_watch(m, &kind_pvc, &volume_watch, c);
        model_watch(m, &kind_datavolume, &volume_watch, c);
        model_watch(m, &kind_configmap, &volume_watch, c);
        model_watch(m, &kind_secret, &volume_watch, c);
        model_watch(m, &kind_vm, &vmi_vm_firmware_watch, c);
        vmi_hotplug_watch(c);
        if (s->images)
                imagecache_set_changed(s->images, images_changed, c);
        vmi_list_domains(c);
        *ret = c;
        return 0;
}

VmiController *vmi_controller_free(VmiController *c) {
        if (!c)
                return NULL;
        model_unwatch(c->model, &volume_watch, c);
        model_unwatch(c->model, &vmi_vm_firmware_watch, c);
        vmi_hotplug_unwatch(c);
        if (c->services->instances.data == c)
                c->services->instances = (InstanceOps) { 0 };
        hypervisor_free(c->hv);
        sd_event_source_disable_unref(c->tick);
        g_hash_table_unref(c->instances);
        g_free(c->owner);
        g_free(c->instances_dir);
        /* nothing runs: no sockets to keep (running guests keep theirs) */
        (void) rmdir(c->runtime_dir);
        g_free(c->runtime_dir);
        g_free(c);
        return NULL;
}
