/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Every field of every kind that names an object the daemon then reads on
 * the writer's behalf, in one place (references.h).  A field added to a
 * kind that names a Secret, a ConfigMap or a claim of another namespace
 * belongs here, and in tests/test-references.c. */
#include "clone.h"
#include "json-util.h"
#include "manifest.h"
#include "references.h"
#include "util.h"

ObjectReference *object_reference_free(ObjectReference *r) {
        if (!r)
                return NULL;
        g_free(r->field);
        g_free(r->action);
        g_free(r->kind);
        g_free(r->namespace);
        g_free(r->name);
        g_free(r);
        return NULL;
}

static void add(GPtrArray *out, const char *action, const char *kind, const char *namespace, const char *name,
                const char *fmt, ...) G_GNUC_PRINTF(6, 7);
static void add(GPtrArray *out, const char *action, const char *kind, const char *namespace, const char *name,
                const char *fmt, ...) {
        ObjectReference *r = g_new0(ObjectReference, 1);
        va_list ap;

        va_start(ap, fmt);
        r->field = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        r->action = g_strdup(action);
        r->kind = g_strdup(kind);
        r->namespace = g_strdup(namespace);
        r->name = g_strdup(name);
        g_ptr_array_add(out, r);
}

static void add_secret(GPtrArray *out, const char *namespace, const char *name, const char *field) {
        if (!isempty(name))
                add(out, "secret.read", "Secret", namespace, name, "%s", field);
}

static void add_configmap(GPtrArray *out, const char *namespace, const char *name, const char *field) {
        if (!isempty(name))
                add(out, "object.read", "ConfigMap", namespace, name, "%s", field);
}

/* A claim (or volume snapshot) cloned from: only another namespace's. */
static void add_source(GPtrArray *out, JsonObject *ref, const char *namespace, const char *field) {
        const char *ns = json_get_string(ref, "namespace");
        if (ref && !isempty(ns) && !streq(ns, namespace))
                add(out, "object.apply", "PersistentVolumeClaim", ns, json_get_string(ref, "name"), "%s", field);
}

/* A DataSource of another namespace cloned from (as CDI asks for
 * datavolumes/source there): what it names is the claim read. */
static void add_datasource(GPtrArray *out, JsonObject *ref, const char *namespace, const char *field) {
        const char *ns = json_get_string(ref, "namespace");
        if (ref && !isempty(ns) && !streq(ns, namespace))
                add(out, "object.apply", "DataSource", ns, json_get_string(ref, "name"), "%s", field);
}

/* --- claims, DataVolumes, DataSources --- */

#define ANN_IMPORT_SECRET "cdi.kubevirt.io/storage.import.secretName"
#define ANN_IMPORT_CERT "cdi.kubevirt.io/storage.import.certConfigMap"

static void pvc_references(JsonObject *doc, const char *namespace, const char *prefix, GPtrArray *out) {
        JsonObject *spec = json_get_object(doc, "spec");
        JsonObject *ann = json_get_object(json_get_object(doc, "metadata"), "annotations");
        g_autofree char *f = NULL;

        f = g_strdup_printf("%sspec.dataSourceRef", prefix);
        add_source(out, json_get_object(spec, "dataSourceRef"), namespace, f);
        g_free(f);
        f = g_strdup_printf("%smetadata.annotations[%s]", prefix, ANN_IMPORT_SECRET);
        add_secret(out, namespace, json_get_string(ann, ANN_IMPORT_SECRET), f);
        g_free(f);
        f = g_strdup_printf("%smetadata.annotations[%s]", prefix, ANN_IMPORT_CERT);
        add_configmap(out, namespace, json_get_string(ann, ANN_IMPORT_CERT), f);
}

/* http and registry sources: credentials, extra headers, CA bundles. */
static void remote_source_references(JsonObject *src, const char *namespace, const char *field, GPtrArray *out) {
        g_autofree char *secret = g_strdup_printf("%s.secretRef", field);
        g_autofree char *cm = g_strdup_printf("%s.certConfigMap", field);
        JsonArray *hdrs = json_get_array(src, "secretExtraHeaders");

        if (!src)
                return;
        add_secret(out, namespace, json_get_string(src, "secretRef"), secret);
        add_configmap(out, namespace, json_get_string(src, "certConfigMap"), cm);
        for (guint i = 0; hdrs && i < json_array_get_length(hdrs); i++) {
                g_autofree char *f = g_strdup_printf("%s.secretExtraHeaders[%u]", field, i);
                add_secret(out, namespace, json_array_get_string_element(hdrs, i), f);
        }
}

static void datavolume_references(JsonObject *doc, const char *namespace, const char *prefix, GPtrArray *out) {
        JsonObject *spec = json_get_object(doc, "spec"), *src = json_get_object(spec, "source");
        static const char *const claims[] = { "pvc", "storage", NULL };
        g_autofree char *f = NULL;

        f = g_strdup_printf("%sspec.source.pvc", prefix);
        add_source(out, json_get_object(src, "pvc"), namespace, f);
        g_free(f);
        f = g_strdup_printf("%sspec.source.snapshot", prefix);
        add_source(out, json_get_object(src, "snapshot"), namespace, f);
        for (const char *const *c = claims; *c; c++) {
                g_free(f);
                f = g_strdup_printf("%sspec.%s.dataSourceRef", prefix, *c);
                add_source(out, json_get_object(json_get_object(spec, *c), "dataSourceRef"), namespace, f);
        }
        g_free(f);
        f = g_strdup_printf("%sspec.sourceRef", prefix);
        add_datasource(out, json_get_object(spec, "sourceRef"), namespace, f);
        g_free(f);
        f = g_strdup_printf("%sspec.source.http", prefix);
        remote_source_references(json_get_object(src, "http"), namespace, f, out);
        g_free(f);
        f = g_strdup_printf("%sspec.source.registry", prefix);
        remote_source_references(json_get_object(src, "registry"), namespace, f, out);
}

/* --- VMs and instances --- */

static void cloudinit_references(JsonObject *ci, const char *namespace, const char *field, GPtrArray *out) {
        static const char *const refs[] = { "secretRef", "networkDataSecretRef", NULL };
        for (const char *const *r = refs; ci && *r; r++) {
                g_autofree char *f = g_strdup_printf("%s.%s.name", field, *r);
                add_secret(out, namespace, json_get_string(json_get_object(ci, *r), "name"), f);
        }
}

/* An instance's spec (a VMI's spec, a VM's spec.template.spec). */
static void instance_spec_references(JsonObject *spec, const char *namespace, const char *prefix, GPtrArray *out) {
        JsonArray *volumes = json_get_array(spec, "volumes");
        JsonArray *creds = json_get_array(spec, "accessCredentials");

        for (guint i = 0; volumes && i < json_array_get_length(volumes); i++) {
                JsonObject *v = json_array_get_object_element(volumes, i);
                g_autofree char *at = g_strdup_printf("%s.volumes[%u]", prefix, i);
                g_autofree char *f = NULL;

                f = g_strdup_printf("%s.cloudInitNoCloud", at);
                cloudinit_references(json_get_object(v, "cloudInitNoCloud"), namespace, f, out);
                g_free(f);
                f = g_strdup_printf("%s.cloudInitConfigDrive", at);
                cloudinit_references(json_get_object(v, "cloudInitConfigDrive"), namespace, f, out);
                g_free(f);
                f = g_strdup_printf("%s.containerDisk.imagePullSecret", at);
                add_secret(out, namespace, json_get_string(json_get_object(v, "containerDisk"), "imagePullSecret"), f);
                g_free(f);
                f = g_strdup_printf("%s.secret.secretName", at);
                add_secret(out, namespace, json_get_string(json_get_object(v, "secret"), "secretName"), f);
                g_free(f);
                f = g_strdup_printf("%s.configMap.name", at);
                add_configmap(out, namespace, json_get_string(json_get_object(v, "configMap"), "name"), f);
                g_free(f);
                f = g_strdup_printf("%s.sysprep.secret.name", at);
                add_secret(out, namespace,
                           json_get_string(json_get_object(json_get_object(v, "sysprep"), "secret"), "name"), f);
                g_free(f);
                f = g_strdup_printf("%s.sysprep.configMap.name", at);
                add_configmap(out, namespace,
                              json_get_string(json_get_object(json_get_object(v, "sysprep"), "configMap"), "name"), f);
        }
        /* host devices: who may give a VM one is polkit's vm.hostdevice (admins) */
        static const char *const lists[] = { "hostDevices", "gpus" };
        JsonObject *devices = json_get_object(json_get_object(spec, "domain"), "devices");
        for (size_t l = 0; l < G_N_ELEMENTS(lists); l++) {
                JsonArray *a = json_get_array(devices, lists[l]);
                for (guint i = 0; a && i < json_array_get_length(a); i++) {
                        const char *dev = json_get_string(json_array_get_object_element(a, i), "deviceName");
                        if (!isempty(dev))
                                add(out, "vm.hostdevice", "HostDevice", namespace, dev, "%s.domain.devices.%s[%u]"
                                    ".deviceName", prefix, lists[l], i);
                }
        }
        JsonObject *firmware = json_get_object(json_get_object(spec, "domain"), "firmware");
        g_autofree char *kf = g_strdup_printf("%s.domain.firmware.kernelBoot.container.imagePullSecret", prefix);
        add_secret(out, namespace,
                   json_get_string(json_get_object(json_get_object(firmware, "kernelBoot"), "container"),
                                   "imagePullSecret"), kf);
        for (guint i = 0; creds && i < json_array_get_length(creds); i++) {
                JsonObject *c = json_array_get_object_element(creds, i);
                static const char *const ways[] = { "sshPublicKey", "userPassword", NULL };
                for (const char *const *w = ways; *w; w++) {
                        JsonObject *secret = json_get_object(json_get_object(json_get_object(c, *w), "source"),
                                                             "secret");
                        g_autofree char *f = g_strdup_printf("%s.accessCredentials[%u].%s.source.secret.secretName",
                                                             prefix, i, *w);
                        add_secret(out, namespace, json_get_string(secret, "secretName"), f);
                }
        }
}

/* prefix: where the VM is in the document ("" or a pool's "spec.virtualMachineTemplate.") */
static void vm_references(JsonObject *doc, const char *namespace, const char *prefix, GPtrArray *out) {
        JsonObject *spec = json_get_object(doc, "spec");
        JsonArray *templates = json_get_array(spec, "dataVolumeTemplates");

        /* the VM makes these DataVolumes itself, in its own namespace */
        for (guint i = 0; templates && i < json_array_get_length(templates); i++) {
                g_autofree char *at = g_strdup_printf("%sspec.dataVolumeTemplates[%u].", prefix, i);
                datavolume_references(json_array_get_object_element(templates, i), namespace, at, out);
        }
        g_autofree char *at = g_strdup_printf("%sspec.template.spec", prefix);
        instance_spec_references(json_get_object(json_get_object(spec, "template"), "spec"), namespace, at, out);
}

/* --- JSON patches (restores and clones patch the VM they write) --- */

/* A patch's value may put any field into the VM, so its keys are read
 * without knowing where they land: a namespace other than the object's
 * names a source there; the keys of Secret references name Secrets. */
static void patch_value_references(JsonNode *n, const char *namespace, const char *field, unsigned depth,
                                   GPtrArray *out) {
        static const char *const secret_keys[] = { "secretRef", "networkDataSecretRef", "imagePullSecret", "secretName",
                                                   NULL };

        if (depth > 256 || !n)
                return;
        if (JSON_NODE_HOLDS_ARRAY(n)) {
                JsonArray *a = json_node_get_array(n);
                for (guint i = 0; i < json_array_get_length(a); i++)
                        patch_value_references(json_array_get_element(a, i), namespace, field, depth + 1, out);
                return;
        }
        if (!JSON_NODE_HOLDS_OBJECT(n))
                return;
        JsonObject *o = json_node_get_object(n);
        add_source(out, o, namespace, field);
        for (const char *const *k = secret_keys; *k; k++) {
                JsonNode *v = json_object_get_member(o, *k);
                if (v && JSON_NODE_HOLDS_VALUE(v) && json_node_get_value_type(v) == G_TYPE_STRING)
                        add_secret(out, namespace, json_node_get_string(v), field);
                else if (v && JSON_NODE_HOLDS_OBJECT(v))
                        add_secret(out, namespace, json_get_string(json_node_get_object(v), "name"), field);
        }
        add_configmap(out, namespace, json_get_string(o, "certConfigMap"), field);
        /* config disks: {secret: {secretName}} is found below; sysprep's
         * {secret: {name}}, {configMap: {name}} and a configMap volume's here */
        add_secret(out, namespace, json_get_string(json_get_object(o, "secret"), "name"), field);
        add_configmap(out, namespace, json_get_string(json_get_object(o, "configMap"), "name"), field);
        if (!isempty(json_get_string(o, "deviceName")))
                add(out, "vm.hostdevice", "HostDevice", namespace, json_get_string(o, "deviceName"), "%s", field);
        JsonArray *hdrs = json_get_array(o, "secretExtraHeaders");
        for (guint i = 0; hdrs && i < json_array_get_length(hdrs); i++)
                add_secret(out, namespace, json_array_get_string_element(hdrs, i), field);
        JsonObjectIter it;
        const char *k;
        JsonNode *v;
        json_object_iter_init(&it, o);
        while (json_object_iter_next(&it, &k, &v))
                patch_value_references(v, namespace, field, depth + 1, out);
}

/* A string put at path by itself: the name of a Secret or a ConfigMap
 * when the path says so (".../secretName", ".../secretRef/name"...). */
static void patch_string_references(const char *path, const char *value, const char *namespace, const char *field,
                                    GPtrArray *out) {
        static const char *const secrets[] = { "/secretName", "/imagePullSecret", "/secretRef/name",
                                               "/networkDataSecretRef/name", "/secret/name", "/secretExtraHeaders/",
                                               NULL };
        static const char *const configmaps[] = { "/certConfigMap", "/configMap/name", NULL };
        g_autofree char *last = g_strdup(path);
        char *slash = strrchr(last, '/');

        /* an array element (".../secretExtraHeaders/0", "/-"): its array's name */
        if (slash && slash > last && (g_ascii_isdigit(slash[1]) || streq(slash + 1, "-")))
                slash[1] = '\0';
        for (const char *const *s = secrets; *s; s++)
                if (g_str_has_suffix(last, *s))
                        add_secret(out, namespace, value, field);
        for (const char *const *s = configmaps; *s; s++)
                if (g_str_has_suffix(last, *s))
                        add_configmap(out, namespace, value, field);
}

static void patches_references(JsonArray *patches, const char *namespace, GPtrArray *out) {
        for (guint i = 0; patches && i < json_array_get_length(patches); i++) {
                const char *text = json_array_get_string_element(patches, i);
                g_autoptr(GPtrArray) docs = NULL;
                g_autofree char *field = g_strdup_printf("spec.patches[%u]", i);
                if (!text || manifest_parse(text, strlen(text), &docs, NULL) < 0 || docs->len != 1 ||
                    !JSON_NODE_HOLDS_OBJECT(docs->pdata[0]))
                        continue;       /* admission refuses it */
                JsonObject *op = json_node_get_object(docs->pdata[0]);
                JsonNode *value = json_object_get_member(op, "value");
                const char *path = json_get_string(op, "path");
                /* ".../namespace": a value that is a bare namespace */
                if (path && g_str_has_suffix(path, "/namespace") && value && JSON_NODE_HOLDS_VALUE(value) &&
                    json_node_get_value_type(value) == G_TYPE_STRING && !streq(json_node_get_string(value), namespace))
                        add(out, "object.apply", "PersistentVolumeClaim", json_node_get_string(value), NULL, "%s",
                            field);
                patch_value_references(value, namespace, field, 0, out);
                if (path && value && JSON_NODE_HOLDS_VALUE(value) && json_node_get_value_type(value) == G_TYPE_STRING)
                        patch_string_references(path, json_node_get_string(value), namespace, field, out);
        }
}

void references_collect(const KindInfo *kind, JsonObject *doc, const char *namespace, GPtrArray *out) {
        if (kind == &kind_pvc)
                pvc_references(doc, namespace, "", out);
        else if (kind == &kind_datavolume)
                datavolume_references(doc, namespace, "", out);
        else if (kind == &kind_dataimportcron)        /* its imports are DataVolumes of the template */
                datavolume_references(json_get_object(json_get_object(doc, "spec"), "template"), namespace,
                                      "spec.template.", out);
        else if (kind == &kind_datasource) {
                JsonObject *src = json_get_object(json_get_object(doc, "spec"), "source");
                add_source(out, json_get_object(src, "pvc"), namespace, "spec.source.pvc");
        } else if (kind == &kind_vm)
                vm_references(doc, namespace, "", out);
        else if (kind == &kind_vmpool)        /* the pool's controller makes its VMs unchecked */
                vm_references(json_get_object(json_get_object(doc, "spec"), "virtualMachineTemplate"), namespace,
                              "spec.virtualMachineTemplate.", out);
        else if (kind == &kind_vmi)
                instance_spec_references(json_get_object(doc, "spec"), namespace, "spec", out);
        else if (kind == &kind_vmirs)        /* the set's controller makes its instances unchecked */
                instance_spec_references(json_get_object(json_get_object(json_get_object(doc, "spec"), "template"),
                                                         "spec"),
                                         namespace, "spec.template.spec", out);
        else if (kind == &kind_vmrestore || kind == &kind_vmclone)
                patches_references(json_get_array(json_get_object(doc, "spec"), "patches"), namespace, out);
}
