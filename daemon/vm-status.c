/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Read-only facts of a VirtualMachine (vm-status.h). */
#include <errno.h>

#include "firmware-store.h"
#include "json-util.h"
#include "util.h"
#include "vm-status.h"

static JsonObject *status_of(Object *o) {
        return json_get_object(object_root(o), "status");
}

const char *vm_run_strategy(Object *vm) {
        JsonObject *spec = json_get_object(object_root(vm), "spec");
        const char *rs = json_get_string(spec, "runStrategy");
        if (rs)
                return rs;
        return json_get_bool(spec, "running", false) ? "Always" : "Halted";
}

const char *vm_printable_status(Object *vm) {
        const char *s = json_get_string(status_of(vm), "printableStatus");
        return s ? s : "Stopped";
}

bool vm_ready(Object *vm) {
        return json_get_bool(status_of(vm), "ready", false);
}

Object *vm_instance(Model *m, Object *vm) {
        Object *vmi = NULL;
        if (model_get(m, &kind_vmi, vm->namespace, vm->name, &vmi, NULL) < 0 || !object_owned_by(vmi, vm))
                return NULL;
        return vmi;
}

Object *vm_of_instance(Model *m, Object *vmi) {
        Object *vm = NULL;
        if (model_get(m, &kind_vm, vmi->namespace, vmi->name, &vm, NULL) < 0 || !object_owned_by(vmi, vm))
                return NULL;
        return vm;
}

JsonObject *vm_owner_reference(Object *vm) {
        return object_owner_reference(vm, KUBEVIRT_API);
}

/* The domain UUID of a VM or an instance: firmware.uuid, else the VM's uid. */
static const char *domain_uuid(Model *m, Object *o) {
        JsonObject *spec = json_get_object(object_root(o), "spec");
        Object *vm = NULL;

        if (o->kind == &kind_vm)
                return firmware_tpm_uuid(json_get_object(json_get_object(spec, "template"), "spec"), o->uid);
        vm = vm_of_instance(m, o);
        return firmware_tpm_uuid(spec, vm ? vm->uid : o->uid);
}

static const char *firmware_uuid(JsonObject *vmi_spec) {
        return json_get_string(json_get_object(json_get_object(vmi_spec, "domain"), "firmware"), "uuid");
}

int vm_firmware_uuid_admit(Model *m, const char *namespace, const char *name, JsonObject *vmi_spec,
                           JsonObject *old_vmi_spec, const char *path, GError **error) {
        const KindInfo *const kinds[] = { &kind_vm, &kind_vmi };
        const char *uuid = firmware_uuid(vmi_spec), *old = firmware_uuid(old_vmi_spec);

        /* what was admitted before stays admitted */
        if (!m || !uuid || (old && g_ascii_strcasecmp(uuid, old) == 0))
                return 0;
        for (size_t k = 0; k < G_N_ELEMENTS(kinds); k++) {
                g_autoptr(GPtrArray) all = model_list(m, kinds[k], NULL, NULL);
                for (guint i = 0; i < all->len; i++) {
                        Object *o = all->pdata[i];
                        /* a VM and its instance share theirs */
                        if (streq(o->namespace, namespace) && streq(o->name, name))
                                continue;
                        if (g_ascii_strcasecmp(domain_uuid(m, o), uuid) == 0)
                                return ev_error_set(error, EINVAL,
                                                    "%s.domain.firmware.uuid: Duplicate value: \"%s\": another "
                                                    "VirtualMachine or VirtualMachineInstance of this node has this "
                                                    "domain UUID (it names the vTPM's state); set another one or "
                                                    "none", path, uuid);
                }
        }
        return 0;
}
