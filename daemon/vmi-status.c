/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Read-only facts of a VirtualMachineInstance (vmi-status.h). */
#include "json-util.h"
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

/* Pending from its creation on, with the moment said (KubeVirt's
 * virt-controller records every phase's; the metrics' transition
 * histograms measure between them). */
void vmi_init_status(JsonObject *doc) {
        JsonObject *status = json_object_new();
        JsonArray *ts = json_array_new();
        JsonObject *t = json_object_new();
        g_autofree char *now = ev_timestamp_now();

        json_object_set_string_member(t, "phase", "Pending");
        json_object_set_string_member(t, "phaseTransitionTimestamp", now);
        json_array_add_object_element(ts, t);
        json_object_set_array_member(status, "phaseTransitionTimestamps", ts);
        json_object_set_string_member(status, "phase", "Pending");
        json_object_set_array_member(status, "conditions", json_array_new());
        json_object_set_object_member(doc, "status", status);
}
