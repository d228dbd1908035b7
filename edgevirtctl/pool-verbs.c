/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* edgevirtctl scale vmpool NAME --replicas=N: kubectl scale on a
 * VirtualMachinePool — its spec.replicas changed and applied back with
 * the resourceVersion read, so a change made meanwhile is not overwritten
 * (the daemon refuses it; scale again). */
#include <stdio.h>

#include "ctl.h"
#include "json-util.h"

int verb_scale(Ctl *c, int argc, char **argv) {
        g_autoptr(JsonNode) pool = NULL;
        bool missing;
        int r;

        if (argc != 3 || c->replicas < 0)
                return fail(_("usage: edgevirtctl scale vmpool NAME --replicas=N"));
        if (!g_strv_contains((const char *const[]) { "vmpool", "vmpools", "virtualmachinepool",
                                                     "virtualmachinepools", NULL }, argv[1]))
                return fail(_("scale: \"%s\" cannot be scaled; only VM pools (vmpool) can"), argv[1]);
        pool = ctl_get_object(c, "virtualmachinepools", argv[2], &missing);
        if (!pool)
                return missing ? fail(_("VM pool %s not found in namespace %s"), argv[2], c->namespace) : 1;
        json_object_set_int_member(json_ensure_object(json_node_get_object(pool), "spec"), "replicas", c->replicas);
        json_object_remove_member(json_node_get_object(pool), "status");
        r = ctl_apply_object(c, pool);
        if (r)
                return r;
        printf(_("virtualmachinepool.pool.kubevirt.io/%s scaled\n"), argv[2]);
        return 0;
}
