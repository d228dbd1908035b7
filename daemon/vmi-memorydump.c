/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A running instance's memory into a claim's file, on the hypervisor's
 * threads (InstanceOps.memory_dump; the request's course is the VM
 * controller's, vm-memorydump.c). */
#include "hypervisor.h"
#include "util.h"
#include "vmi-private.h"

typedef struct DumpCall {
        InstanceDumpDone done;
        void *userdata;
} DumpCall;

static void memory_dump_done(HvOp *op) {
        DumpCall *call = op->userdata;
        if (op->r < 0)
                g_warning("libvirt: %s: memory dump: %s", op->domain, op->error);
        call->done(call->userdata, op->r, op->error, op->size);
        g_free(call);
}

/* virtctl memory-dump: the guest's memory into a claim's file. */
int vmi_memory_dump(void *data, Object *vmi, const char *path, InstanceDumpDone done, void *userdata,
                    GError **error) {
        VmiController *c = data;
        g_autofree char *name = vmi_domain_name(vmi);
        DumpCall *call;
        Instance *d;
        HvOp *op;

        if (vmi_running_domain(c, vmi, &d, error) < 0)
                return -EBUSY;
        call = g_new0(DumpCall, 1);
        call->done = done;
        call->userdata = userdata;
        op = hv_op_new(HV_OP_MEMORY_DUMP, name, memory_dump_done, call);
        op->path = g_strdup(path);
        hypervisor_submit(c->hv, op);
        return 0;
}
