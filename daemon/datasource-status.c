/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* DataSources' read-only facts (datasource-status.h). */
#include "datasource-status.h"
#include "json-util.h"
#include "util.h"

const char *const datasource_default_labels[] = {
        "instancetype.kubevirt.io/default-instancetype",
        "instancetype.kubevirt.io/default-instancetype-kind",
        "instancetype.kubevirt.io/default-preference",
        "instancetype.kubevirt.io/default-preference-kind",
        NULL,
};

bool datasource_copy_default_labels(JsonObject *from, JsonObject *to) {
        bool changed = false;
        for (const char *const *l = datasource_default_labels; from && *l; l++) {
                const char *v = json_get_string(from, *l);
                if (v && !streq_ptr(json_get_string(to, *l), v)) {
                        json_object_set_string_member(to, *l, v);
                        changed = true;
                }
        }
        return changed;
}

int datasource_resolve(Model *m, const char *ns, const char *namespace, const char *name, JsonObject **ret,
                       GError **error) {
        const char *where = isempty(namespace) ? ns : namespace;
        Object *ds = NULL;

        if (model_get(m, &kind_datasource, where, name, &ds, NULL) < 0)
                return ev_error_set(error, ENOENT, "DataSource %s/%s not found", where, name);
        if (!streq_ptr(object_condition(ds, "Ready", "status"), "True"))
                return ev_error_set(error, EAGAIN, "DataSource %s/%s is not ready: %s", where, name,
                                    object_condition(ds, "Ready", "message") ?: "not reconciled yet");
        JsonObject *src = json_get_object(json_get_object(object_root(ds), "spec"), "source");
        if (json_get_object(src, "dataSource"))        /* a pointer: what it resolved to, as CDI */
                src = json_get_object(json_get_object(object_root(ds), "status"), "source");
        static const char *const kinds[] = { "pvc", "snapshot", NULL };
        for (const char *const *k = kinds; *k; k++) {
                JsonObject *from = json_get_object(src, *k);
                if (!from)
                        continue;
                JsonObject *out = json_object_new(), *ref = json_object_new();
                json_object_set_string_member(ref, "name", json_get_string(from, "name"));
                json_object_set_string_member(ref, "namespace",
                                              isempty(json_get_string(from, "namespace")) ? where :
                                              json_get_string(from, "namespace"));
                json_object_set_object_member(out, *k, ref);
                *ret = out;
                return 0;
        }
        return ev_error_set(error, EAGAIN, "DataSource %s/%s has no source", where, name);
}
