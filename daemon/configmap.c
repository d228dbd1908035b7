/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ConfigMap: data (strings) and binaryData (base64), keys unique across
 * both, immutability. */
#include "configdata.h"
#include "model.h"
#include "util.h"

static int configmap_admit(Model *m, JsonObject *doc, JsonObject *old, GPtrArray *warnings, GError **error) {
        static const char *const fields[] = { "data", "binaryData", NULL };
        return config_data_check(doc, old, fields, "ConfigMap", error);
}

const KindInfo kind_configmap = {
        .kind = "ConfigMap",
        .group = "",
        .versions = (const char *const[]) { "v1", NULL },
        .plural = "configmaps",
        .short_names = (const char *const[]) { "cm", NULL },
        .path_segment = "configmap",
        .schema = "io.k8s.api.core.v1.ConfigMap",
        .namespaced = true,
        .admit = configmap_admit,
};
