/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Read-only facts of a PersistentVolumeClaim (pvc-status.h). */
#include "json-util.h"
#include "pvc-status.h"
#include "quantity.h"
#include "services.h"
#include "util.h"

static JsonObject *spec_of(JsonObject *doc) {
        return json_get_object(doc, "spec");
}

const char *pvc_requested_storage(JsonObject *doc) {
        return json_get_string(json_get_object(json_get_object(spec_of(doc), "resources"), "requests"), "storage");
}

uint64_t pvc_quantity_bytes(const char *s) {
        int64_t v = 0;
        if (!s || quantity_parse_int64(s, &v, NULL) < 0 || v < 0)
                return 0;
        return (uint64_t) v;
}

char *pvc_format_bytes(uint64_t bytes) {
        static const struct { const char *suffix; unsigned shift; } units[] = {
                { "Ei", 60 }, { "Pi", 50 }, { "Ti", 40 }, { "Gi", 30 }, { "Mi", 20 }, { "Ki", 10 },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(units); i++)
                if (bytes >= (1ULL << units[i].shift) && bytes % (1ULL << units[i].shift) == 0)
                        return g_strdup_printf("%" G_GUINT64_FORMAT "%s", bytes >> units[i].shift, units[i].suffix);
        return g_strdup_printf("%" G_GUINT64_FORMAT, bytes);
}

uint64_t pvc_requested_bytes(Object *o) {
        return pvc_quantity_bytes(pvc_requested_storage(object_root(o)));
}

uint64_t pvc_capacity_bytes(Object *o) {
        return pvc_quantity_bytes(json_get_string(json_get_object(json_get_object(object_root(o), "status"),
                                                                  "capacity"), "storage"));
}

const char *pvc_storage_class(Object *o) {
        return json_get_string(spec_of(object_root(o)), "storageClassName");
}

const char *pvc_reason(Object *o) {
        JsonArray *conds = json_get_array(json_get_object(object_root(o), "status"), "conditions");
        return conds && json_array_get_length(conds) ?
                json_get_string(json_array_get_object_element(conds, 0), "reason") : NULL;
}

const char *pvc_message(Object *o) {
        JsonArray *conds = json_get_array(json_get_object(object_root(o), "status"), "conditions");
        return conds && json_array_get_length(conds) ?
                json_get_string(json_array_get_object_element(conds, 0), "message") : NULL;
}

char *pvc_volume_path(Model *m, Object *o) {
        StorageBackend *b = services_backend(model_services(m), pvc_storage_class(o));
        g_autofree char *id = NULL;

        if (!b || !streq_ptr(object_status_string(o, "phase"), "Bound"))
                return g_strdup("");
        id = storage_volume_id(o->uid);
        return b->ops->path(b, id);
}
