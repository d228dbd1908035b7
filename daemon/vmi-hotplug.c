/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Disk hotplug (virtctl addvolume/removevolume) on a running instance: the
 * spec gains the volume and its scsi disk, libvirt attaches the disk off
 * the main loop, status.volumeStatus says how far it got (KubeVirt's
 * phases: Pending, then Ready; Detaching on the way out).  A failed attach
 * takes the volume out of the spec again, so spec and guest agree. */
#include "domain.h"
#include "event.h"
#include "json-util.h"
#include "log.h"
#include "services.h"
#include "util.h"
#include "validate.h"
#include "vmi-private.h"
#include "vm-status.h"
#include "vmi-status.h"

#define MAX_SERIAL 36                   /* KubeVirt's limit on a disk's serial */

static bool hotpluggable(JsonObject *volume) {
        JsonObject *source = json_get_object(volume, "dataVolume") ?: json_get_object(volume, "persistentVolumeClaim");
        return json_get_bool(source, "hotpluggable", false);
}

/* The spec's disk name is a cdrom: its volume is a medium in its tray. */
static bool is_cdrom(JsonObject *spec, const char *name) {
        JsonArray *disks = json_get_array(json_get_object(json_get_object(spec, "domain"), "devices"), "disks");
        return json_get_object(json_array_find_named(disks, name, NULL), "cdrom") != NULL;
}

static bool serial_valid(const char *s) {
        if (isempty(s) || strlen(s) > MAX_SERIAL)
                return false;
        for (const char *p = s; *p; p++)
                if (!g_ascii_isalnum(*p) && !strchr("-_.", *p))
                        return false;
        return true;
}

int vmi_hotplug_entries(Model *m, const char *namespace, const HotplugVolume *v, JsonObject **ret_volume,
                        JsonObject **ret_disk, GError **error) {
        g_autoptr(GError) e = NULL;
        const char *bus = v->bus ? v->bus : "scsi";
        Object *o = NULL;

        if (validate_dns1123_label(v->name, &e) < 0)
                return ev_error_set(error, EINVAL, "volume name \"%s\": %s", v->name ?: "", e->message);
        if (streq(bus, "virtio") || streq(bus, "sata") || streq(bus, "usb"))
                return ev_error_set(error, EOPNOTSUPP, "bus \"%s\": a hotplugged disk goes on the scsi bus here "
                                    "(its virtio-scsi controller is in every domain; other buses would need spare "
                                    "slots the domain does not reserve)", bus);
        if (!streq(bus, "scsi"))
                return ev_error_set(error, EINVAL, "bus \"%s\": Unsupported value: supported values: \"scsi\"", bus);
        if (v->serial && !serial_valid(v->serial))
                return ev_error_set(error, EINVAL, "serial \"%s\": must be 1 to %d letters, digits, '-', '_' or '.'",
                                    v->serial, MAX_SERIAL);

        JsonObject *volume = json_object_new();
        JsonObject *source = json_object_new();
        json_object_set_string_member(volume, "name", v->name);
        if (model_get(m, &kind_datavolume, namespace, v->name, &o, NULL) == 0) {
                json_object_set_string_member(source, "name", v->name);
                json_object_set_boolean_member(source, "hotpluggable", true);
                json_object_set_object_member(volume, "dataVolume", source);
        } else if (model_get(m, &kind_pvc, namespace, v->name, &o, NULL) == 0) {
                json_object_set_string_member(source, "claimName", v->name);
                json_object_set_boolean_member(source, "hotpluggable", true);
                json_object_set_object_member(volume, "persistentVolumeClaim", source);
        } else {
                json_object_unref(source);
                json_object_unref(volume);
                return ev_error_set(error, ENOENT, "no DataVolume or PersistentVolumeClaim \"%s\" in namespace \"%s\"",
                                    v->name, namespace);
        }
        JsonObject *disk = json_object_new();
        JsonObject *target = json_object_new();
        json_object_set_string_member(disk, "name", v->name);
        json_object_set_string_member(target, "bus", bus);
        json_object_set_object_member(disk, "disk", target);
        if (v->serial)
                json_object_set_string_member(disk, "serial", v->serial);
        *ret_volume = volume;
        *ret_disk = disk;
        return 0;
}

/* The target the disk gets: the first sdX that neither a disk of the start
 * nor a hotplugged one (volumeStatus) uses. */
static char *free_target(JsonObject *spec, JsonArray *vstatus) {
        g_autoptr(GHashTable) targets = domain_disk_targets(spec);
        g_autoptr(GHashTable) used = g_hash_table_new(g_str_hash, g_str_equal);
        GHashTableIter it;
        const char *name, *target;

        g_hash_table_iter_init(&it, targets);
        while (g_hash_table_iter_next(&it, (void **) &name, (void **) &target))
                if (!json_array_find_named(vstatus, name, NULL))
                        g_hash_table_add(used, (void *) target);
        for (guint i = 0; vstatus && i < json_array_get_length(vstatus); i++)
                if (json_get_string(json_array_get_object_element(vstatus, i), "target"))
                        g_hash_table_add(used, (void *) json_get_string(json_array_get_object_element(vstatus, i),
                                                                        "target"));
        for (unsigned n = 0;; n++) {
                char *t = domain_target_name("sd", n);
                if (!g_hash_table_contains(used, t))
                        return t;
                g_free(t);
        }
}

static void set_volume_status(JsonObject *e, const char *phase, const char *reason, const char *message) {
        json_object_set_string_member(e, "phase", phase);
        json_object_set_string_member(e, "reason", reason);
        json_object_set_string_member(e, "message", message);
}

/* The claim a volume uses, or NULL. */
static Object *claim_of(VmiController *c, Object *vmi, JsonObject *volume) {
        const char *name = json_get_string(json_get_object(volume, "persistentVolumeClaim"), "claimName");
        Object *pvc = NULL;
        if (!name)
                name = json_get_string(json_get_object(volume, "dataVolume"), "name");
        if (!name || model_get(c->model, &kind_pvc, vmi->namespace, name, &pvc, NULL) < 0)
                return NULL;
        return pvc;
}

/* Hold pvc for the instance, or let it go: only a claim the instance holds
 * (its instance may be gone already, its claims released with it). */
static void hold_claim(VmiController *c, Object *vmi, Object *pvc, bool hold) {
        Instance *inst = hold ? vmi_instance_get(c, vmi->uid) : vmi_instance_find(c, vmi->uid);
        if (!pvc || !inst)
                return;
        if (hold) {
                if (!inst->claims)
                        inst->claims = g_ptr_array_new_with_free_func(g_free);
                g_ptr_array_add(inst->claims, g_strdup(pvc->uid));
                services_pvc_use(c->services, pvc->uid, true);
                return;
        }
        for (guint i = 0; inst->claims && i < inst->claims->len; i++)
                if (streq(inst->claims->pdata[i], pvc->uid)) {
                        g_ptr_array_remove_index(inst->claims, i);
                        services_pvc_use(c->services, pvc->uid, false);
                        return;
                }
}

#define INSTANCE_HOTPLUGS "edgevirt.org/instance-hotplugs"

/* The volumes hotplugged into the instance alone (not the template's),
 * as the annotation lists them (comma-separated). */
static bool instance_only(JsonObject *root, const char *name) {
        const char *list = json_get_string(json_get_object(json_get_object(root, "metadata"), "annotations"),
                                           INSTANCE_HOTPLUGS);
        g_auto(GStrv) names = g_strsplit(list ?: "", ",", -1);
        return g_strv_contains((const char *const *) names, name);
}

static void set_instance_only(JsonObject *root, const char *name, bool on) {
        JsonObject *ann = json_ensure_object(json_ensure_object(root, "metadata"), "annotations");
        g_auto(GStrv) names = g_strsplit(json_get_string(ann, INSTANCE_HOTPLUGS) ?: "", ",", -1);
        g_autoptr(GPtrArray) keep = g_ptr_array_new();

        for (char **n = names; *n; n++)
                if (**n && !streq(*n, name))
                        g_ptr_array_add(keep, *n);
        if (on)
                g_ptr_array_add(keep, (char *) name);
        g_ptr_array_add(keep, NULL);
        if (keep->len == 1)
                json_object_remove_member(ann, INSTANCE_HOTPLUGS);
        else {
                g_autofree char *list = g_strjoinv(",", (char **) keep->pdata);
                json_object_set_string_member(ann, INSTANCE_HOTPLUGS, list);
        }
}

/* Take the volume name out of the instance's spec and volumeStatus. */
static void drop_volume(VmiController *c, Object *vmi, const char *name) {
        g_autoptr(GError) e = NULL;
        JsonNode *doc = json_deep_copy(object_doc(vmi));
        JsonObject *root = json_node_get_object(doc);
        JsonObject *spec = json_get_object(root, "spec");
        JsonArray *arrays[] = {
                json_get_array(spec, "volumes"),
                json_get_array(json_get_object(json_get_object(spec, "domain"), "devices"), "disks"),
                json_get_array(json_get_object(root, "status"), "volumeStatus"),
        };
        guint i;

        hold_claim(c, vmi, claim_of(c, vmi, json_array_find_named(arrays[0], name, NULL)), false);
        if (instance_only(root, name))
                set_instance_only(root, name, false);
        if (is_cdrom(spec, name))
                arrays[1] = NULL;       /* the tray stays, empty */
        for (guint k = 0; k < G_N_ELEMENTS(arrays); k++)
                if (json_array_find_named(arrays[k], name, &i))
                        json_array_remove_element(arrays[k], i);
        if (model_update(c->model, vmi, doc, &e) < 0)
                log_object(G_LOG_LEVEL_WARNING, vmi, "cannot remove volume %s: %s", name, e->message);
}

/* Set the phase of volume name's volumeStatus. */
static void write_phase(VmiController *c, Object *vmi, const char *name, const char *phase, const char *reason,
                        const char *message) {
        JsonNode *doc = json_deep_copy(object_doc(vmi));
        JsonObject *status = json_get_object(json_node_get_object(doc), "status");
        JsonObject *entry = json_array_find_named(json_get_array(status, "volumeStatus"), name, NULL);
        if (!entry) {
                json_node_unref(doc);
                return;
        }
        set_volume_status(entry, phase, reason, message);
        model_write_status(c->model, vmi, doc);
}

/* Whether the template's volume name failed before (with the template as
 * it is now); a changed template forgets failures. */
static bool failed_before(Instance *inst, const char *tmpl, const char *name) {
        if (!streq_ptr(inst->hotplug_template, tmpl)) {
                g_free(inst->hotplug_template);
                inst->hotplug_template = g_strdup(tmpl);
                g_clear_pointer(&inst->hotplug_failed, g_hash_table_unref);
        }
        return inst->hotplug_failed && g_hash_table_contains(inst->hotplug_failed, name);
}

static void mark_failed(Instance *inst, const char *name) {
        if (!inst->hotplug_failed)
                inst->hotplug_failed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_hash_table_add(inst->hotplug_failed, g_strdup(name));
}

/* Attach or detach (xml: the disk, or its alias) on the libvirt thread. */
static void submit_device_op(VmiController *c, Object *vmi, HvOpKind kind, char *xml, const char *volume,
                             HvOpDone done) {
        g_autofree char *domain = vmi_domain_name(vmi);
        HvOp *op = hv_op_new(kind, domain, done, c);
        op->xml = xml;
        op->tag = g_strdup(vmi->uid);
        op->device = g_strdup(volume);
        hypervisor_submit(c->hv, op);
}

/* A volumeStatus entry for a hotpluggable volume the instance started
 * with, on the target the domain gave it. */
static void add_entry(VmiController *c, Object *vmi, const char *name) {
        JsonNode *doc = json_deep_copy(object_doc(vmi));
        JsonObject *root = json_node_get_object(doc);
        g_autoptr(GHashTable) targets = domain_disk_targets(json_get_object(root, "spec"));
        JsonObject *entry = json_object_new();

        json_object_set_string_member(entry, "name", name);
        json_object_set_string_member(entry, "target", g_hash_table_lookup(targets, name) ?: "");
        json_object_set_object_member(entry, "hotplugVolume", json_object_new());
        set_volume_status(entry, "Ready", "VolumeReady", "attached when the instance started");
        json_array_add_object_element(json_ensure_array(json_ensure_object(root, "status"), "volumeStatus"), entry);
        model_write_status(c->model, vmi, doc);
}

/* The instance an attach or detach was for, unless the guest went
 * meanwhile (its claims with it): nothing is left to do then. */
static bool op_target(HvOp *op, Object **ret_vmi, Instance **ret_inst) {
        VmiController *c = op->userdata;

        *ret_vmi = model_find_uid(c->model, op->tag);
        *ret_inst = vmi_instance_find(c, op->tag);
        return *ret_vmi && *ret_inst && !vmi_is_finished(*ret_vmi);
}

static void attach_done(HvOp *op) {
        VmiController *c = op->userdata;
        Object *vmi;
        Instance *inst;
        g_autofree char *msg = NULL;

        if (!op_target(op, &vmi, &inst))
                return;
        if (op->r < 0) {
                /* the template does not try it again until it changes */
                mark_failed(inst, op->device);
                log_object(G_LOG_LEVEL_WARNING, vmi, "libvirt: attaching %s: %s", op->device, op->error);
                drop_volume(c, vmi, op->device);
                event_record(c->services->events, vmi, true, "VolumeAttachFailed",
                             "volume %s could not be attached (and was taken out of the spec again): %s", op->device,
                             op->error ?: "libvirt failed");
                return;
        }
        msg = g_strdup_printf("Successfully attach hotplugged volume %s to VM", op->device);
        write_phase(c, vmi, op->device, "Ready", "VolumeReady", msg);
        event_record(c->services->events, vmi, false, "VolumeAttached", "volume %s was attached", op->device);
}

/* The spec gains volume and disk, volumeStatus a Pending entry, and
 * libvirt is asked to attach the disk. */
static int attach(VmiController *c, Object *vmi, JsonObject *volume, JsonObject *disk, bool only, GError **error) {
        const char *name = json_get_string(volume, "name");
        g_auto(Resolved) r = { 0 };
        int k;

        g_autoptr(JsonNode) doc = json_deep_copy(object_doc(vmi));
        JsonObject *root = json_node_get_object(doc);
        JsonObject *spec = json_get_object(root, "spec");
        JsonArray *volumes = json_ensure_array(spec, "volumes");
        JsonObject *devices = json_ensure_object(json_ensure_object(spec, "domain"), "devices");
        JsonArray *disks = json_ensure_array(devices, "disks");
        JsonArray *vstatus = json_ensure_array(json_ensure_object(root, "status"), "volumeStatus");
        bool tray = !json_array_find_named(volumes, name, NULL) && is_cdrom(spec, name);
        if (!tray && (json_array_find_named(volumes, name, NULL) || json_array_find_named(disks, name, NULL)))
                return ev_error_set(error, EEXIST, "VirtualMachineInstance %s/%s has a volume \"%s\" already",
                                    vmi->namespace, vmi->name, name);
        if (vmi_resolve_volume(c, vmi, volume, &r) != VOL_READY)
                return ev_error_set(error, EBUSY, "volume %s cannot be attached now: %s", name, r.message);
        json_array_add_object_element(volumes, json_object_ref(volume));
        if (!tray)
                json_array_add_object_element(disks, json_object_ref(disk));

        /* a medium goes into the cdrom where it is; a disk on a free target */
        g_autoptr(GHashTable) targets = domain_disk_targets(spec);
        g_autofree char *target = tray ? g_strdup(g_hash_table_lookup(targets, name)) : free_target(spec, vstatus);
        g_autofree char *xml = domain_disk_xml(spec, r.volumes, name, target, error);
        if (!xml)
                return -EINVAL;
        JsonObject *entry = json_object_new();
        json_object_set_string_member(entry, "name", name);
        json_object_set_string_member(entry, "target", target);
        json_object_set_object_member(entry, "hotplugVolume", json_object_new());
        set_volume_status(entry, "Pending", "AttachingVolume", "the disk is being attached to the domain");
        json_array_add_object_element(vstatus, entry);
        if (only)
                set_instance_only(root, name, true);
        k = model_update(c->model, vmi, g_steal_pointer(&doc), error);
        if (k < 0)
                return k;
        hold_claim(c, vmi, claim_of(c, vmi, volume), true);

        submit_device_op(c, vmi, tray ? HV_OP_UPDATE : HV_OP_ATTACH, g_steal_pointer(&xml), name, attach_done);
        return 0;
}

int vmi_add_volume(Model *m, Object *vmi, const HotplugVolume *v, bool only, GError **error) {
        VmiController *c = model_services(m)->vmis;
        g_autoptr(JsonObject) volume = NULL, disk = NULL;
        Instance *inst;
        int k;

        if (vmi_running_domain(c, vmi, &inst, error) < 0)
                return -EBUSY;
        k = vmi_hotplug_entries(m, vmi->namespace, v, &volume, &disk, error);
        if (k < 0)
                return k;
        return attach(c, vmi, volume, disk, only, error);
}

static void detach_done(HvOp *op) {
        VmiController *c = op->userdata;
        Object *vmi;
        Instance *inst;
        g_autofree char *msg = NULL;

        if (!op_target(op, &vmi, &inst))
                return;
        if (op->r < 0) {
                mark_failed(inst, op->device);
                msg = g_strdup_printf("detaching failed: %s", op->error ?: "libvirt failed");
                log_object(G_LOG_LEVEL_WARNING, vmi, "libvirt: detaching %s: %s", op->device, op->error);
                write_phase(c, vmi, op->device, "Ready", "VolumeDetachFailed", msg);
                event_record(c->services->events, vmi, true, "VolumeDetachFailed", "volume %s: %s", op->device,
                             msg);
                return;
        }
        if (op->kind == HV_OP_DETACH)
                return;         /* libvirt took the request: done when the guest lets go (device removed) */
        drop_volume(c, vmi, op->device);
        event_record(c->services->events, vmi, false, "VolumeDetached", "volume %s was detached", op->device);
}

void vmi_hotplug_removed(VmiController *c, Object *vmi, const char *alias) {
        const char *name = alias && g_str_has_prefix(alias, "ua-") ? alias + 3 : NULL;
        JsonArray *vstatus = json_get_array(json_get_object(object_root(vmi), "status"), "volumeStatus");
        JsonObject *entry = name ? json_array_find_named(vstatus, name, NULL) : NULL;

        if (!entry || !streq_ptr(json_get_string(entry, "phase"), "Detaching"))
                return;
        drop_volume(c, vmi, name);
        event_record(c->services->events, vmi, false, "VolumeDetached", "volume %s was detached", name);
}

/* The XML that ejects the medium of cdrom name (the tray stays), or NULL
 * (error set). */
static char *eject_xml(JsonObject *root, const char *name, GError **error) {
        g_autoptr(JsonNode) copy = json_deep_copy(json_object_get_member(root, "spec"));
        JsonObject *spec = json_node_get_object(copy);
        guint i;
        if (json_array_find_named(json_get_array(spec, "volumes"), name, &i))
                json_array_remove_element(json_get_array(spec, "volumes"), i);
        g_autoptr(GHashTable) targets = domain_disk_targets(spec);
        return domain_disk_xml(spec, NULL, name, g_hash_table_lookup(targets, name), error);
}

int vmi_remove_volume(Model *m, Object *vmi, const char *volume_name, GError **error) {
        VmiController *c = model_services(m)->vmis;
        /* the writes below replace vmi's document, which volume_name may point into */
        g_autofree char *name = g_strdup(volume_name);
        JsonObject *root = object_root(vmi);
        JsonObject *entry = json_array_find_named(json_get_array(json_get_object(root, "status"), "volumeStatus"),
                                                  name, NULL);
        g_autofree char *xml = NULL;
        Instance *inst;

        if (vmi_running_domain(c, vmi, &inst, error) < 0)
                return -EBUSY;
        JsonObject *volume = json_array_find_named(json_get_array(json_get_object(root, "spec"), "volumes"), name,
                                                   NULL);
        if (!volume)
                return ev_error_set(error, ENOENT, "VirtualMachineInstance %s/%s has no volume \"%s\"",
                                    vmi->namespace, vmi->name, name);
        if (!hotpluggable(volume))
                return ev_error_set(error, EINVAL, "volume \"%s\" is not hotpluggable: only hotpluggable volumes can "
                                    "be removed from a running instance", name);
        if (entry && !streq_ptr(json_get_string(entry, "phase"), "Ready"))
                return ev_error_set(error, EBUSY, "volume \"%s\" is %s; try again when it is Ready", name,
                                    json_get_string(entry, "phase") ?: "Pending");
        /* eject: the cdrom stays, without its medium (built before any write) */
        bool tray = is_cdrom(json_get_object(root, "spec"), name);
        if (tray) {
                xml = eject_xml(root, name, error);
                if (!xml)
                        return -EINVAL;
        } else
                xml = g_strdup_printf("ua-%s", name);
        if (!entry)
                add_entry(c, vmi, name);        /* a hotpluggable volume of the start */
        write_phase(c, vmi, name, "Detaching", "DetachingVolume", "the disk is being detached from the domain");
        submit_device_op(c, vmi, tray ? HV_OP_UPDATE : HV_OP_DETACH, g_steal_pointer(&xml), name, detach_done);
        return 0;
}

/* --- adoption: phases a restart interrupted --- */

/* A cdrom's Pending medium or Detaching eject, asked of libvirt again
 * (putting in or taking out the same medium twice is harmless). */
static void resend_tray(VmiController *c, Object *vmi, JsonObject *root, const char *name, bool inject) {
        JsonObject *spec = json_get_object(root, "spec");
        JsonObject *volume = json_array_find_named(json_get_array(spec, "volumes"), name, NULL);
        g_autoptr(GHashTable) targets = domain_disk_targets(spec);
        g_auto(Resolved) r = { 0 };
        char *xml = NULL;

        if (!inject)
                xml = eject_xml(root, name, NULL);
        else if (volume && vmi_resolve_volume(c, vmi, volume, &r) == VOL_READY)
                xml = domain_disk_xml(spec, r.volumes, name, g_hash_table_lookup(targets, name), NULL);
        if (xml)
                submit_device_op(c, vmi, HV_OP_UPDATE, xml, name, inject ? attach_done : detach_done);
        else if (inject) {
                drop_volume(c, vmi, name);
                event_record(c->services->events, vmi, true, "VolumeAttachFailed",
                             "volume %s could not be put in again after a restart", name);
        }
}

/* The live domain (its disks' ua- aliases) says how far each Pending or
 * Detaching volume got while the daemon was down. */
static void adopt_done(HvOp *op) {
        VmiController *c = op->userdata;
        Object *vmi = model_find_uid(c->model, op->tag);
        GHashTable *aliases = NULL;

        if (!vmi || !vmi_instance_find(c, op->tag) || vmi_is_finished(vmi) || op->r < 0)
                return;
        g_autofree char *domain = vmi_domain_name(vmi);
        for (guint i = 0; op->stats && i < op->stats->len; i++)
                if (streq(((HvDomainStats *) op->stats->pdata[i])->name, domain))
                        aliases = ((HvDomainStats *) op->stats->pdata[i])->aliases;
        if (!aliases)
                return;         /* the domain went meanwhile: its stop is handled as such */
        g_autoptr(GHashTable) live = g_hash_table_new(g_str_hash, g_str_equal);
        GHashTableIter it;
        void *value;
        g_hash_table_iter_init(&it, aliases);
        while (g_hash_table_iter_next(&it, NULL, &value))
                g_hash_table_add(live, value);

        g_autoptr(JsonNode) keep = json_node_ref(object_doc(vmi));     /* names outlive the writes below */
        JsonObject *root = json_node_get_object(keep);
        JsonArray *vstatus = json_get_array(json_get_object(root, "status"), "volumeStatus");
        for (guint i = 0; vstatus && i < json_array_get_length(vstatus); i++) {
                JsonObject *e = json_array_get_object_element(vstatus, i);
                const char *name = json_get_string(e, "name"), *phase = json_get_string(e, "phase");
                bool pending = streq_ptr(phase, "Pending");
                if (!name || (!pending && !streq_ptr(phase, "Detaching")))
                        continue;
                if (is_cdrom(json_get_object(root, "spec"), name))
                        resend_tray(c, vmi, root, name, pending);
                else if (pending && g_hash_table_contains(live, name))
                        write_phase(c, vmi, name, "Ready", "VolumeReady", "attached (found after a restart)");
                else if (pending) {
                        drop_volume(c, vmi, name);
                        event_record(c->services->events, vmi, true, "VolumeAttachFailed",
                                     "volume %s was not attached when the daemon restarted (and was taken out "
                                     "of the spec again)", name);
                } else if (g_hash_table_contains(live, name))
                        submit_device_op(c, vmi, HV_OP_DETACH, g_strdup_printf("ua-%s", name), name, detach_done);
                else {
                        drop_volume(c, vmi, name);
                        event_record(c->services->events, vmi, false, "VolumeDetached", "volume %s was detached",
                                     name);
                }
        }
}

void vmi_hotplug_adopt(VmiController *c, Object *vmi) {
        JsonArray *vstatus = json_get_array(json_get_object(object_root(vmi), "status"), "volumeStatus");

        for (guint i = 0; vstatus && i < json_array_get_length(vstatus); i++) {
                const char *phase = json_get_string(json_array_get_object_element(vstatus, i), "phase");
                if (streq_ptr(phase, "Pending") || streq_ptr(phase, "Detaching")) {
                        HvOp *op = hv_op_new(HV_OP_DOMAIN_STATS, NULL, adopt_done, c);
                        op->tag = g_strdup(vmi->uid);
                        hypervisor_submit(c->hv, op);
                        return;
                }
        }
}

/* --- declarative hotplug: the VM's template decides --- */

static JsonObject *template_spec(Object *vm) {
        return json_get_object(json_get_object(json_get_object(object_root(vm), "spec"), "template"), "spec");
}

/* A hotpluggable template volume the instance lacks: attached (one a
 * turn; the VM is queued again for the next). */
static bool sync_add(VmiController *c, Object *vm, Object *vmi, Instance *inst, const char *tmpl) {
        JsonObject *spec = template_spec(vm);
        JsonArray *tvols = json_get_array(spec, "volumes");
        JsonArray *tdisks = json_get_array(json_get_object(json_get_object(spec, "domain"), "devices"), "disks");
        JsonArray *volumes = json_get_array(json_get_object(object_root(vmi), "spec"), "volumes");

        for (guint i = 0; tvols && i < json_array_get_length(tvols); i++) {
                JsonObject *v = json_array_get_object_element(tvols, i);
                const char *name = json_get_string(v, "name");
                JsonObject *d = json_array_find_named(tdisks, name, NULL);
                g_autoptr(GError) e = NULL;

                if (!hotpluggable(v) || json_array_find_named(volumes, name, NULL) || failed_before(inst, tmpl, name))
                        continue;
                g_autoptr(JsonNode) vn = json_node_init_object(json_node_alloc(), v);
                g_autoptr(JsonNode) dn = d ? json_node_init_object(json_node_alloc(), d) : NULL;
                g_autoptr(JsonNode) vcopy = json_deep_copy(vn);
                g_autoptr(JsonNode) dcopy = dn ? json_deep_copy(dn) : NULL;
                JsonObject *disk = dcopy ? json_node_get_object(dcopy) : NULL;
                g_autoptr(JsonObject) implicit = NULL;
                if (!disk) {
                        /* no disk: a scsi one, as AddVolume makes */
                        implicit = json_object_new();
                        json_object_set_string_member(implicit, "name", name);
                        json_object_set_object_member(implicit, "disk", json_object_new());
                        json_object_set_string_member(json_get_object(implicit, "disk"), "bus", "scsi");
                        disk = implicit;
                }
                const char *bus = json_get_string(json_get_object(disk, "disk"), "bus");
                bool tray = is_cdrom(json_get_object(object_root(vmi), "spec"), name);
                if (!tray && (!json_get_object(disk, "disk") || !streq_ptr(bus, "scsi")))
                        ev_error_set(&e, EOPNOTSUPP, "a hotplugged disk must be a disk on the scsi bus (its "
                                     "virtio-scsi controller is in every domain)");
                else if (attach(c, vmi, json_node_get_object(vcopy), disk, false, &e) == 0)
                        return true;
                if (e->code == EBUSY)
                        continue;       /* not ready yet: the claim's or DataVolume's change queues the VM */
                mark_failed(inst, name);
                event_record(c->services->events, vm, true, "VolumeAttachFailed",
                             "volume %s of the template cannot be hotplugged: %s", name, e->message);
        }
        return false;
}

/* A hotpluggable volume of the instance that its template no longer has
 * (and that was not hotplugged into the instance alone): detached. */
static bool sync_remove(VmiController *c, Object *vm, Object *vmi, Instance *inst, const char *tmpl) {
        g_autoptr(JsonNode) keep = json_node_ref(object_doc(vmi));     /* the loop outlives status writes */
        JsonObject *root = json_node_get_object(keep);
        JsonArray *tvols = json_get_array(template_spec(vm), "volumes");
        JsonArray *volumes = json_get_array(json_get_object(root, "spec"), "volumes");

        for (guint i = 0; volumes && i < json_array_get_length(volumes); i++) {
                JsonObject *v = json_array_get_object_element(volumes, i);
                const char *name = json_get_string(v, "name");
                g_autoptr(GError) e = NULL;

                if (!hotpluggable(v) || json_array_find_named(tvols, name, NULL) || instance_only(root, name) ||
                    failed_before(inst, tmpl, name))
                        continue;
                if (vmi_remove_volume(c->model, vmi, name, &e) == 0)
                        return true;
                /* Pending or Detaching: its end queues the VM again */
        }
        return false;
}

static void vm_reconciled(Model *m, Object *vm, void *userdata) {
        VmiController *c = userdata;
        Object *vmi = vm_instance(m, vm);
        Instance *inst;

        if (!vmi || vmi_running_domain(c, vmi, &inst, NULL) < 0 || object_is_deleting(vm))
                return;
        JsonObject *spec = template_spec(vm);
        if (!spec)
                return;
        g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), spec);
        g_autofree char *tmpl = json_text(node, false);

        if (sync_add(c, vm, vmi, inst, tmpl) || sync_remove(c, vm, vmi, inst, tmpl))
                model_enqueue(m, vm);
}

/* A claim or DataVolume changed: VMs of its namespace with a running
 * instance look at their template's volumes again. */
static void claim_changed(Model *m, Object *o, ModelEvent event, void *userdata) {
        g_autoptr(GPtrArray) vms = model_list(m, &kind_vm, o->namespace, NULL);
        for (guint i = 0; i < vms->len; i++) {
                Object *vmi = vm_instance(m, vms->pdata[i]);
                if (vmi && vmi_has_domain(userdata, vmi))
                        model_enqueue(m, vms->pdata[i]);
        }
}

static const ModelWatch vm_watch = { .reconcile = vm_reconciled };
static const ModelWatch claim_watch = { .changed = claim_changed };

void vmi_hotplug_watch(VmiController *c) {
        model_watch(c->model, &kind_vm, &vm_watch, c);
        model_watch(c->model, &kind_pvc, &claim_watch, c);
        model_watch(c->model, &kind_datavolume, &claim_watch, c);
}

void vmi_hotplug_unwatch(VmiController *c) {
        model_unwatch(c->model, &vm_watch, c);
        model_unwatch(c->model, &claim_watch, c);
}
