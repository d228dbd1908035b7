/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Read-only facts of a VirtualMachineInstance (vmi-status.h). */
#include "kind.h"
#include "util.h"
#include "vmi-status.h"

const char *vmi_phase(Object *vmi) {
        const char *p = object_status_string(vmi, "phase");
        return p ? p : "Pending";
}

bool vmi_is_finished(Object *vmi) {
        const char *p = vmi_phase(vmi);
        return streq(p, "Succeeded") || streq(p, "Failed");
}

bool vmi_is_paused(Object *vmi) {
        return streq_ptr(object_condition(vmi, "Paused", "status"), "True");
}

const char *vmi_waiting_reason(Object *vmi) {
        if (!streq_ptr(object_condition(vmi, "Synchronized", "status"), "False"))
                return NULL;
        return object_condition(vmi, "Synchronized", "reason");
}

char *vmi_domain_name(Object *vmi) {
        return g_strdup_printf("%s_%s", vmi->namespace, vmi->name);
}

Object *vmi_find_by_domain(Model *m, const char *domain) {
        const char *sep = domain ? strchr(domain, '_') : NULL;
        g_autofree char *ns = sep ? g_strndup(domain, (gsize) (sep - domain)) : NULL;
        Object *o = NULL;

        return ns && model_get(m, &kind_vmi, ns, sep + 1, &o, NULL) == 0 ? o : NULL;
}
