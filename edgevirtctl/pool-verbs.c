/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* edgevirtctl scale vmpool|vmirs NAME --replicas=N: kubectl scale on a
 * VirtualMachinePool or a VirtualMachineInstanceReplicaSet — its
 * spec.replicas changed and applied back with the resourceVersion read, so
 * a change made meanwhile is not overwritten (the daemon refuses it; scale
 * again). */
#include <stdio.h>

#include "ctl.h"
#include "json-util.h"

static const struct {
        const char *const names[5];
        const char *plural;
        const char *resource;   /* kubectl's resource.group */
} scalable[] = {
        { { "vmpool", "vmpools", "virtualmachinepool", "virtualmachinepools", NULL }, "virtualmachinepools",
          "virtualmachinepool.pool.kubevirt.io" },
        { { "vmirs", "vmirss", "virtualmachineinstancereplicaset", "virtualmachineinstancereplicasets", NULL },
          "virtualmachineinstancereplicasets", "virtualmachineinstancereplicaset.kubevirt.io" },
};

int verb_scale(Ctl *c, int argc, char **argv) {
        g_autoptr(JsonNode) obj = NULL;
        size_t k = G_N_ELEMENTS(scalable);
        bool missing;
        int r;

        if (argc != 3 || c->replicas < 0)
                return fail(_("usage: edgevirtctl scale vmpool|vmirs NAME --replicas=N"));
        for (size_t i = 0; i < G_N_ELEMENTS(scalable); i++)
                if (g_strv_contains(scalable[i].names, argv[1]))
                        k = i;
        if (k == G_N_ELEMENTS(scalable))
                return fail(_("scale: \"%s\" cannot be scaled; only VM pools (vmpool) and VMI replica sets (vmirs) "
                              "can"), argv[1]);
        obj = ctl_get_object(c, scalable[k].plural, argv[2], &missing);
        if (!obj)
                return missing ? fail(_("%s %s not found in namespace %s"), scalable[k].resource, argv[2],
                                      c->namespace) : 1;
        json_object_set_int_member(json_ensure_object(json_node_get_object(obj), "spec"), "replicas", c->replicas);
        json_object_remove_member(json_node_get_object(obj), "status");
        r = ctl_apply_object(c, obj);
        if (r)
                return r;
        printf(_("%s/%s scaled\n"), scalable[k].resource, argv[2]);
        return 0;
}
