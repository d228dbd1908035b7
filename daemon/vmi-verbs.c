/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The verbs on a running instance that only ask libvirt: pause, unpause,
 * soft reboot and reset (virtctl's), each on the hypervisor thread. */
#include "event.h"
#include "log.h"
#include "services.h"
#include "util.h"
#include "vmi-private.h"

static void verb_done(HvOp *op) {
        VmiController *c = op->userdata;
        if (op->r < 0)
                log_object(G_LOG_LEVEL_WARNING, vmi_find_by_domain(c->model, op->domain), "libvirt: %s: %s",
                           op->domain, op->error);
}

static int submit_verb(VmiController *c, Object *vmi, HvOpKind kind) {
        g_autofree char *name = vmi_domain_name(vmi);
        hypervisor_submit(c->hv, hv_op_new(kind, name, verb_done, c));
        return 0;
}

int vmi_pause(Model *m, Object *vmi, GError **error) {
        VmiController *c = model_services(m)->vmis;
        Instance *d;
        if (vmi_running_domain(c, vmi, &d, error) < 0)
                return -EBUSY;
        if (d->paused)
                return ev_error_set(error, EBUSY, "VirtualMachineInstance %s/%s is already paused", vmi->namespace,
                                    vmi->name);
        return submit_verb(c, vmi, HV_OP_SUSPEND);
}

int vmi_unpause(Model *m, Object *vmi, GError **error) {
        VmiController *c = model_services(m)->vmis;
        Instance *d;
        if (vmi_running_domain(c, vmi, &d, error) < 0)
                return -EBUSY;
        if (!d->paused)
                return ev_error_set(error, EBUSY, "VirtualMachineInstance %s/%s is not paused", vmi->namespace,
                                    vmi->name);
        return submit_verb(c, vmi, HV_OP_RESUME);
}

int vmi_soft_reboot(Model *m, Object *vmi, GError **error) {
        VmiController *c = model_services(m)->vmis;
        Instance *d;
        if (vmi_running_domain(c, vmi, &d, error) < 0)
                return -EBUSY;
        if (d->paused)
                return ev_error_set(error, EBUSY, "VirtualMachineInstance %s/%s is paused; unpause it first",
                                    vmi->namespace, vmi->name);
        return submit_verb(c, vmi, HV_OP_REBOOT);
}

static void reset_done(HvOp *op) {
        VmiController *c = op->userdata;
        Object *vmi = model_find_uid(c->model, op->tag);

        if (op->r < 0)
                g_warning("libvirt: %s: %s", op->domain, op->error);
        else if (vmi)
                event_record(c->services->events, vmi, false, "Reset", "the instance was reset (a hard reset: "
                             "the guest restarted without shutting down)");
}

/* virtctl reset: the reset button; the instance stays. */
int vmi_reset(Model *m, Object *vmi, GError **error) {
        VmiController *c = model_services(m)->vmis;
        g_autofree char *name = vmi_domain_name(vmi);
        Instance *d;
        HvOp *op;

        if (vmi_running_domain(c, vmi, &d, error) < 0)
                return -EBUSY;
        op = hv_op_new(HV_OP_RESET, name, reset_done, c);
        op->tag = g_strdup(vmi->uid);
        hypervisor_submit(c->hv, op);
        return 0;
}
