/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* virtctl addvolume/removevolume on a VirtualMachine: on its running
 * instance (vmi-hotplug.c), and with persist in the VM's template too
 * (the volume hotpluggable: true, its disk on scsi), so the disk is there
 * after a restart; a stopped VM can only change with persist. */
#include "json-util.h"
#include "util.h"
#include "vm-hotplug.h"
#include "vm-status.h"
#include "vmi-status.h"

static bool running(Object *vmi) {
        return vmi && !vmi_is_finished(vmi) && !object_is_deleting(vmi);
}

static JsonObject *template_spec(JsonObject *root) {
        return json_ensure_object(json_ensure_object(json_ensure_object(root, "spec"), "template"), "spec");
}

int vm_add_volume(Model *m, Object *vm, const HotplugVolume *v, bool persist, GError **error) {
        Object *vmi = vm_instance(m, vm);
        g_autoptr(JsonObject) volume = NULL, disk = NULL;
        g_autoptr(JsonNode) doc = NULL;
        int r;

        if (object_is_deleting(vm))
                return ev_error_set(error, EBUSY, "VM %s/%s is being deleted", vm->namespace, vm->name);
        if (!running(vmi) && !persist)
                return ev_error_set(error, EBUSY, "VM %s/%s is not running (to add the volume to its spec alone, "
                                    "persist it)", vm->namespace, vm->name);
        if (persist) {
                r = vmi_hotplug_entries(m, vm->namespace, v, &volume, &disk, error);
                if (r < 0)
                        return r;
                doc = json_deep_copy(object_doc(vm));
                JsonObject *spec = template_spec(json_node_get_object(doc));
                JsonArray *volumes = json_ensure_array(spec, "volumes");
                JsonArray *disks = json_ensure_array(json_ensure_object(json_ensure_object(spec, "domain"), "devices"),
                                                "disks");
                if (json_array_find_named(volumes, v->name, NULL) || json_array_find_named(disks, v->name, NULL))
                        return ev_error_set(error, EEXIST, "VM %s/%s has a volume \"%s\" in its spec already",
                                            vm->namespace, vm->name, v->name);
                json_array_add_object_element(volumes, json_object_ref(volume));
                json_array_add_object_element(disks, json_object_ref(disk));
        }
        if (running(vmi)) {
                r = vmi_add_volume(m, vmi, v, !persist, error);
                if (r < 0)
                        return r;
        }
        if (doc)
                return model_update(m, vm, g_steal_pointer(&doc), error);
        return 0;
}

int vm_remove_volume(Model *m, Object *vm, const char *name, bool persist, GError **error) {
        Object *vmi = vm_instance(m, vm);
        g_autoptr(JsonNode) doc = NULL;
        guint i;
        int r;

        if (!running(vmi) && !persist)
                return ev_error_set(error, EBUSY, "VM %s/%s is not running (to remove the volume from its spec "
                                    "alone, persist it)", vm->namespace, vm->name);
        JsonObject *tmpl = json_get_object(json_get_object(object_root(vm), "spec"), "template");
        if (!persist && json_array_find_named(json_get_array(json_get_object(tmpl, "spec"), "volumes"), name, NULL))
                return ev_error_set(error, EBUSY, "volume \"%s\" is in the template of VM %s/%s, which would attach "
                                    "it again: remove it with persist", name, vm->namespace, vm->name);
        if (persist) {
                doc = json_deep_copy(object_doc(vm));
                JsonObject *spec = template_spec(json_node_get_object(doc));
                JsonArray *volumes = json_get_array(spec, "volumes");
                JsonArray *disks = json_get_array(json_get_object(json_get_object(spec, "domain"), "devices"), "disks");
                JsonObject *vol = json_array_find_named(volumes, name, &i);
                JsonObject *source = json_get_object(vol, "dataVolume") ?:
                                     json_get_object(vol, "persistentVolumeClaim");

                if (!vol)
                        return ev_error_set(error, ENOENT, "VM %s/%s has no volume \"%s\" in its spec", vm->namespace,
                                            vm->name, name);
                if (!json_get_bool(source, "hotpluggable", false))
                        return ev_error_set(error, EINVAL, "volume \"%s\" of VM %s/%s is not hotpluggable: only "
                                            "hotpluggable volumes can be removed", name, vm->namespace, vm->name);
                json_array_remove_element(volumes, i);
                if (json_array_find_named(disks, name, &i))
                        json_array_remove_element(disks, i);
        }
        JsonArray *volumes = running(vmi) ? json_get_array(json_get_object(object_root(vmi), "spec"), "volumes") :
                             NULL;
        bool attached = json_array_find_named(volumes, name, NULL);
        if (attached || (running(vmi) && !persist)) {
                r = vmi_remove_volume(m, vmi, name, error);
                if (r < 0)
                        return r;
        }
        if (doc)
                return model_update(m, vm, g_steal_pointer(&doc), error);
        return 0;
}
