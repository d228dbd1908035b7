/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Read-only facts of a VirtualMachine (vm-status.h). */
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
