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

int datavolume_admit_pvc_annotations(JsonObject *doc, GError **error) {
        JsonObject *ann = json_get_object(json_get_object(doc, "metadata"), "annotations");
        const char *source = json_get_string(ann, ANN_SOURCE), *endpoint = json_get_string(ann, ANN_ENDPOINT);

        if (source && !streq(source, "http") && !streq(source, "none"))
                return ev_error_set(error, EOPNOTSUPP, "metadata.annotations[" ANN_SOURCE "]: Unsupported value: "
                                    "\"%s\": supported values: \"http\", \"none\" "
                                    "(use a DataVolume for uploads and clones)", source);
        if (endpoint && !g_str_has_prefix(endpoint, "http://") && !g_str_has_prefix(endpoint, "https://"))
                return ev_error_set(error, EINVAL, "metadata.annotations[" ANN_ENDPOINT "]: Invalid value: \"%s\": "
                                    "must be an http:// or https:// URL", endpoint);
        return 0;
}
