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
#include "vmi-status.h"

#define MAX_SERIAL 36                   /* KubeVirt's limit on a disk's serial */

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

static void hold_claim(VmiController *c, Object *vmi, Object *pvc, bool hold) {
        Instance *inst = vmi_instance_get(c, vmi->uid);
        if (!pvc)
                return;
        if (!inst->claims)
                inst->claims = g_ptr_array_new_with_free_func(g_free);
        if (hold)
                g_ptr_array_add(inst->claims, g_strdup(pvc->uid));
        else {
                for (guint i = 0; i < inst->claims->len; i++)
                        if (streq(inst->claims->pdata[i], pvc->uid)) {
                                g_ptr_array_remove_index(inst->claims, i);
                                break;
                        }
        }
        services_pvc_use(c->services, pvc->uid, hold);
}

/* Take the volume name out of the instance's spec and volumeStatus. */
static void drop_volume(VmiController *c, Object *vmi, const char *name) {
        g_autoptr(GError) e = NULL;
        JsonNode *doc = json_deep_copy(vmi->doc);
        JsonObject *root = json_node_get_object(doc);
        JsonObject *spec = json_get_object(root, "spec");
        JsonArray *arrays[] = {
                json_get_array(spec, "volumes"),
                json_get_array(json_get_object(json_get_object(spec, "domain"), "devices"), "disks"),
                json_get_array(json_get_object(root, "status"), "volumeStatus"),
        };
        guint i;

        hold_claim(c, vmi, claim_of(c, vmi, json_array_find_named(arrays[0], name, NULL)), false);
        for (guint k = 0; k < G_N_ELEMENTS(arrays); k++)
                if (json_array_find_named(arrays[k], name, &i))
                        json_array_remove_element(arrays[k], i);
        if (model_update(c->model, vmi, doc, &e) < 0)
                log_object(G_LOG_LEVEL_WARNING, vmi, "cannot remove volume %s: %s", name, e->message);
}

/* Set the phase of volume name's volumeStatus. */
static void write_phase(VmiController *c, Object *vmi, const char *name, const char *phase, const char *reason,
                        const char *message) {
        g_autoptr(GError) e = NULL;
        JsonNode *doc = json_deep_copy(vmi->doc);
        JsonObject *status = json_get_object(json_node_get_object(doc), "status");
        JsonObject *entry = json_array_find_named(json_get_array(status, "volumeStatus"), name, NULL);
        if (!entry) {
                json_node_unref(doc);
                return;
        }
        set_volume_status(entry, phase, reason, message);
        if (model_update(c->model, vmi, doc, &e) < 0)
                log_object(G_LOG_LEVEL_WARNING, vmi, "cannot write status: %s", e->message);
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

static void attach_done(HvOp *op) {
        VmiController *c = op->userdata;
        Object *vmi = model_find_uid(c->model, op->tag);
        g_autofree char *msg = NULL;

        if (!vmi)
                return;
        if (op->r < 0) {
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

int vmi_add_volume(Model *m, Object *vmi, const HotplugVolume *v, GError **error) {
        VmiController *c = model_services(m)->vmis;
        g_autoptr(JsonObject) volume = NULL, disk = NULL;
        g_auto(Resolved) r = { 0 };
        Instance *inst;
        int k;

        if (vmi_running_domain(c, vmi, &inst, error) < 0)
                return -EBUSY;
        k = vmi_hotplug_entries(m, vmi->namespace, v, &volume, &disk, error);
        if (k < 0)
                return k;

        g_autoptr(JsonNode) doc = json_deep_copy(vmi->doc);
        JsonObject *root = json_node_get_object(doc);
        JsonObject *spec = json_get_object(root, "spec");
        JsonArray *volumes = json_ensure_array(spec, "volumes");
        JsonObject *devices = json_ensure_object(json_ensure_object(spec, "domain"), "devices");
        JsonArray *disks = json_ensure_array(devices, "disks");
        JsonArray *vstatus = json_ensure_array(json_ensure_object(root, "status"), "volumeStatus");
        if (json_array_find_named(volumes, v->name, NULL) || json_array_find_named(disks, v->name, NULL))
                return ev_error_set(error, EEXIST, "VirtualMachineInstance %s/%s has a volume \"%s\" already",
                                    vmi->namespace, vmi->name, v->name);
        if (vmi_resolve_volume(c, vmi, volume, &r) != VOL_READY)
                return ev_error_set(error, EBUSY, "volume %s cannot be attached now: %s", v->name, r.message);
        json_array_add_object_element(volumes, json_object_ref(volume));
        json_array_add_object_element(disks, json_object_ref(disk));

        g_autofree char *target = free_target(spec, vstatus);
        g_autofree char *xml = domain_disk_xml(spec, r.volumes, v->name, target, error);
        if (!xml)
                return -EINVAL;
        JsonObject *entry = json_object_new();
        json_object_set_string_member(entry, "name", v->name);
        json_object_set_string_member(entry, "target", target);
        json_object_set_object_member(entry, "hotplugVolume", json_object_new());
        set_volume_status(entry, "Pending", "AttachingVolume", "the disk is being attached to the domain");
        json_array_add_object_element(vstatus, entry);
        k = model_update(m, vmi, g_steal_pointer(&doc), error);
        if (k < 0)
                return k;
        hold_claim(c, vmi, claim_of(c, vmi, volume), true);

        submit_device_op(c, vmi, HV_OP_ATTACH, g_steal_pointer(&xml), v->name, attach_done);
        return 0;
}

static void detach_done(HvOp *op) {
        VmiController *c = op->userdata;
        Object *vmi = model_find_uid(c->model, op->tag);
        g_autofree char *msg = NULL;

        if (!vmi)
                return;
        if (op->r < 0) {
                msg = g_strdup_printf("detaching failed: %s", op->error ?: "libvirt failed");
                log_object(G_LOG_LEVEL_WARNING, vmi, "libvirt: detaching %s: %s", op->device, op->error);
                write_phase(c, vmi, op->device, "Ready", "VolumeDetachFailed", msg);
                event_record(c->services->events, vmi, true, "VolumeDetachFailed", "volume %s: %s", op->device,
                             msg);
                return;
        }
        drop_volume(c, vmi, op->device);
        event_record(c->services->events, vmi, false, "VolumeDetached", "volume %s was detached", op->device);
}

int vmi_remove_volume(Model *m, Object *vmi, const char *name, GError **error) {
        VmiController *c = model_services(m)->vmis;
        JsonObject *root = object_root(vmi);
        JsonObject *entry = json_array_find_named(json_get_array(json_get_object(root, "status"), "volumeStatus"),
                                                  name, NULL);
        Instance *inst;

        if (vmi_running_domain(c, vmi, &inst, error) < 0)
                return -EBUSY;
        if (!json_array_find_named(json_get_array(json_get_object(root, "spec"), "volumes"), name, NULL))
                return ev_error_set(error, ENOENT, "VirtualMachineInstance %s/%s has no volume \"%s\"",
                                    vmi->namespace, vmi->name, name);
        if (!entry || !json_get_object(entry, "hotplugVolume"))
                return ev_error_set(error, EINVAL, "volume \"%s\" was not hotplugged: only hotplugged volumes can be "
                                    "removed from a running instance", name);
        if (!streq_ptr(json_get_string(entry, "phase"), "Ready"))
                return ev_error_set(error, EBUSY, "volume \"%s\" is %s; try again when it is Ready", name,
                                    json_get_string(entry, "phase") ?: "Pending");
        write_phase(c, vmi, name, "Detaching", "DetachingVolume", "the disk is being detached from the domain");

        submit_device_op(c, vmi, HV_OP_DETACH, g_strdup_printf("ua-%s", name), name, detach_done);
        return 0;
}
