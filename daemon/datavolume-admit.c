/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* CDI's admission rules for DataVolumes and for the import annotations of
 * claims (datavolume-admit.h). */
#include "datavolume-admit.h"
#include "datavolume-status.h"
#include "json-util.h"
#include "util.h"

int datavolume_admit(Model *m, JsonObject *doc, JsonObject *old, GPtrArray *warnings, GError **error) {
        JsonObject *spec = json_get_object(doc, "spec"), *src = json_get_object(spec, "source");
        JsonObject *pvc = json_get_object(spec, "pvc"), *storage = json_get_object(spec, "storage");
        JsonObject *ref = json_get_object(spec, "sourceRef");
        const char *kind;
        unsigned n = 0;

        if (!spec)
                return ev_error_set(error, EINVAL, "spec: Required value");
        if (src && ref)
                return ev_error_set(error, EINVAL, "spec.sourceRef: Invalid value: give spec.source or spec.sourceRef, "
                                    "not both");
        if (!src && !ref)
                return ev_error_set(error, EINVAL, "spec.source: Required value (or spec.sourceRef)");
        if (ref)
                n = 1;
        else {
                g_autoptr(GList) members = json_object_get_members(src);
                n = g_list_length(members);
        }
        if (n != 1)
                return ev_error_set(error, EINVAL, "spec.source: Invalid value: exactly one source is needed "
                                    "(http, registry, pvc, snapshot, upload or blank), %u given", n);
        kind = datavolume_source_kind(doc);
        if (pvc && storage)
                return ev_error_set(error, EINVAL, "spec: Invalid value: give spec.pvc or spec.storage, not both");
        bool clone = streq(kind, "pvc") || streq(kind, "snapshot") || streq(kind, "sourceRef");
        if (streq(kind, "snapshot") && !isempty(json_get_string(json_get_object(src, "snapshot"), "namespace")) &&
            !streq(json_get_string(json_get_object(src, "snapshot"), "namespace"),
                   json_get_string(json_get_object(doc, "metadata"), "namespace") ?: ""))
                return ev_error_set(error, EOPNOTSUPP, "spec.source.snapshot.namespace: a volume snapshot is restored "
                                    "in its own namespace (clone the restored claim across with source.pvc)");
        if (!pvc && !storage) {
                /* a clone may leave everything to its source (storage: {} or null) */
                if (!clone)
                        return ev_error_set(error, EINVAL,
                                            "spec.storage: Required value: spec.pvc or spec.storage is needed");
                storage = json_ensure_object(spec, "storage");
        }
        JsonObject *claim = pvc ? pvc : storage;
        const char *size = json_get_string(json_get_object(json_get_object(claim, "resources"), "requests"), "storage");
        if (!size && !clone)
                return ev_error_set(error, EINVAL, "spec.%s.resources.requests.storage: Required value "
                                    "(only a pvc, snapshot or sourceRef source may leave the size to its source)",
                                    pvc ? "pvc" : "storage");
        if (pvc && !json_get_array(pvc, "accessModes"))
                return ev_error_set(error, EINVAL, "spec.pvc.accessModes: Required value");
        if (streq_ptr(json_get_string(spec, "contentType"), "archive"))
                return ev_error_set(error, EOPNOTSUPP,
                                    "spec.contentType: Unsupported value: \"archive\": archive imports "
                                    "(a tar extracted into a file system) are not supported yet; "
                                    "import a disk image (contentType kubevirt)");
        if (json_get_bool(spec, "preallocation", false))
                return ev_error_set(error, EOPNOTSUPP,
                                    "spec.preallocation: Unsupported value: true: volumes are thin on edgevirt");
        if (streq(kind, "registry")) {
                JsonObject *reg = json_get_object(src, "registry");
                const char *url = json_get_string(reg, "url");
                const char *arch = json_get_string(json_get_object(reg, "platform"), "architecture");
                if (!url)
                        return ev_error_set(error, EINVAL, "spec.source.registry.url: Required value");
                if (!g_str_has_prefix(url, "docker://") || !url[strlen("docker://")])
                        return ev_error_set(error, EINVAL, "spec.source.registry.url: Invalid value: \"%s\": must be "
                                            "docker://[host[:port]/]repository[:tag|@digest]", url);
                if (streq_ptr(json_get_string(reg, "pullMethod"), "node"))
                        return ev_error_set(error, EOPNOTSUPP, "spec.source.registry.pullMethod: Unsupported value: "
                                            "\"node\": there is no container runtime; the importer pulls the image "
                                            "(pullMethod: pod)");
                if (arch && !streq(arch, "amd64"))
                        return ev_error_set(error, EOPNOTSUPP,
                                            "spec.source.registry.platform.architecture: Unsupported value: \"%s\": "
                                            "this node runs amd64 guests only", arch);
        }
        if (streq(kind, "http")) {
                JsonObject *http = json_get_object(src, "http");
                const char *url = json_get_string(http, "url");
                const char *checksum = json_get_string(http, "checksum");
                if (!g_str_has_prefix(url, "http://") && !g_str_has_prefix(url, "https://"))
                        return ev_error_set(error, EINVAL, "spec.source.http.url: Invalid value: \"%s\": "
                                            "must be an http:// or https:// URL", url);
                JsonArray *hdrs = json_get_array(http, "extraHeaders");
                for (guint i = 0; hdrs && i < json_array_get_length(hdrs); i++) {
                        const char *h = json_array_get_string_element(hdrs, i);
                        if (!strchr(h, ':') || strpbrk(h, "\r\n"))
                                return ev_error_set(error, EINVAL, "spec.source.http.extraHeaders[%u]: "
                                                    "Invalid value: \"%s\": must be \"Name: value\"", i, h);
                }
                if (checksum) {
                        const char *colon = strchr(checksum, ':');
                        g_autofree char *algo = colon ? g_strndup(checksum, colon - checksum) : g_strdup("");
                        static const struct { const char *name; size_t hex; } algos[] = {
                                { "sha256", 64 }, { "sha512", 128 }, { "sha1", 40 }, { "md5", 32 }
                        };
                        bool ok = false;
                        for (size_t i = 0; i < G_N_ELEMENTS(algos); i++)
                                if (streq(algo, algos[i].name) && strlen(colon + 1) == algos[i].hex &&
                                    strspn(colon + 1, "0123456789abcdefABCDEF") == algos[i].hex)
                                        ok = true;
                        if (!ok)
                                return ev_error_set(error, EINVAL, "spec.source.http.checksum: Invalid value: "
                                                    "\"%s\": must be ALGORITHM:HEX with sha256, sha512, sha1 or md5",
                                                    checksum);
                }
        }
        if (old && !json_equal(json_object_get_member(spec, "source"),
                               json_object_get_member(json_get_object(old, "spec"), "source")))
                return ev_error_set(error, EINVAL, "spec.source: Forbidden: the source of a DataVolume cannot change");
        if (old && !json_equal(json_object_get_member(spec, "sourceRef"),
                               json_object_get_member(json_get_object(old, "spec"), "sourceRef")))
                return ev_error_set(error, EINVAL,
                                    "spec.sourceRef: Forbidden: the source of a DataVolume cannot change");
        return 0;
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
