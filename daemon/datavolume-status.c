/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Read-only facts of DataVolumes and CDI-annotated claims (datavolume-status.h). */
#include "datavolume-status.h"
#include "json-util.h"
#include "util.h"

double datavolume_progress(Object *dv) {
        const char *p = json_get_string(json_get_object(object_root(dv), "status"), "progress");
        return p && g_ascii_isdigit(p[0]) ? g_ascii_strtod(p, NULL) : -1;
}

bool datavolume_pvc_wants_import(Object *pvc) {
        JsonObject *ann = json_get_object(object_metadata(pvc), "annotations");
        JsonArray *owners = json_get_array(object_metadata(pvc), "ownerReferences");
        for (guint i = 0; owners && i < json_array_get_length(owners); i++)
                if (streq_ptr(json_get_string(json_array_get_object_element(owners, i), "kind"), "DataVolume"))
                        return false;   /* its DataVolume imports */
        return json_get_string(ann, ANN_ENDPOINT) != NULL || streq_ptr(json_get_string(ann, ANN_SOURCE), "none");
}

const char *datavolume_source_kind(JsonObject *doc) {
        static const char *const kinds[] = { "http", "registry", "pvc", "snapshot", "upload", "blank", NULL };
        JsonObject *src = json_get_object(json_get_object(doc, "spec"), "source");
        if (!src && json_get_object(json_get_object(doc, "spec"), "sourceRef"))
                return "sourceRef";
        for (const char *const *k = kinds; *k; k++)
                if (src && json_object_has_member(src, *k))
                        return *k;
        return NULL;
}
