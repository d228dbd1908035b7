/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* edgevirtctl export: a namespace as manifests a cluster takes, without
 * what a cluster (or edgevirt) sets itself. */
#include <stdio.h>
#include <json-glib/json-glib.h>

#include "ctl.h"
#include "json-util.h"
#include "manifest.h"
#include "util.h"

static void remove_members(JsonObject *o, const char *const *members) {
        for (const char *const *m = members; o && *m; m++)
                json_object_remove_member(o, *m);
}

/* What a DataImportCron made (its imports, its DataSource): it makes them
 * again on the cluster. */
static bool made_by_cron(JsonObject *item) {
        return json_get_string(json_get_object(json_get_object(item, "metadata"), "labels"),
                               "cdi.kubevirt.io/dataImportCron") != NULL;
}

static bool owned_by_kind(JsonObject *item, const char *kind) {
        JsonArray *owners = json_get_array(json_get_object(item, "metadata"), "ownerReferences");
        for (guint i = 0; owners && i < json_array_get_length(owners); i++)
                if (streq_ptr(json_get_string(json_array_get_object_element(owners, i), "kind"), kind))
                        return true;
        return false;
}

/* What a cluster would set itself goes: status, server-set metadata, the
 * finalizers and defaults edgevirt adds, claims a DataVolume makes, a VM's
 * instance and DataVolumes. */
static JsonNode *clean_for_export(JsonObject *item) {
        static const char *const server_meta[] = { "uid", "resourceVersion", "generation", "creationTimestamp",
                                                   "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields",
                                                   "selfLink", "ownerReferences", NULL };
        static const char *const system_finalizers[] = { "kubernetes.io/pvc-protection", NULL };
        JsonNode *n = json_deep_copy(json_node_init_object(json_node_alloc(), item));
        JsonObject *o = json_node_get_object(n), *meta = json_get_object(o, "metadata");
        const char *kind = json_get_string(o, "kind");
        JsonObject *ann = json_get_object(meta, "annotations");

        json_object_remove_member(o, "status");
        remove_members(meta, server_meta);
        JsonArray *f = json_get_array(meta, "finalizers");
        for (const char *const *sf = system_finalizers; f && *sf; sf++)
                json_array_remove_string(f, *sf);
        if (f && json_array_get_length(f) == 0)
                json_object_remove_member(meta, "finalizers");
        if (ann) {
                static const char *const reports[] = { "cdi.kubevirt.io/storage.pod.phase",
                                                       "cdi.kubevirt.io/storage.pod.restarts",
                                                       "cdi.kubevirt.io/storage.condition.running.reason",
                                                       "cdi.kubevirt.io/storage.condition.running.message", NULL };
                remove_members(ann, reports);
                if (json_object_get_size(ann) == 0)
                        json_object_remove_member(meta, "annotations");
        }
        if (streq_ptr(kind, "PersistentVolumeClaim"))
                remove_members(json_get_object(o, "spec"), (const char *const[]) { "volumeName", NULL });
        if (streq_ptr(kind, "Namespace"))
                json_object_remove_member(o, "spec");   /* the "kubernetes" finalizer only */
        return n;
}

int verb_export(Ctl *c, int argc, char **argv) {
        static const char *const kinds[] = { "rolebindings", "configmaps", "secrets", "persistentvolumeclaims",
                                             "datavolumes", "datasources", "dataimportcrons",
                                             "virtualmachineinstancetypes", "virtualmachinepreferences",
                                             "virtualmachinepools", "virtualmachineinstancereplicasets",
                                             "virtualmachines", "virtualmachineinstances",
                                             NULL };
        g_autofree char *ns_doc = NULL;
        bool yaml = !c->output || streq(c->output, "yaml");
        int r;

        /* -o json: a v1 List, which kubectl apply takes as well */
        if (argc != 1 || (c->output && !streq(c->output, "yaml") && !streq(c->output, "json")))
                return fail(_("usage: edgevirtctl export [-n NAMESPACE] [-o yaml|json] "
                              "[--push-disks=REGISTRY/PREFIX [--tls-verify=false] [--creds-secret=SECRET]]"));
        if (!c->push_disks && (c->tls_verify >= 0 || c->creds_secret))
                return fail(_("--tls-verify and --creds-secret go with --push-disks"));
        r = ctl_call_document(c, "Get", "namespace", "", c->namespace, "json", NULL, &ns_doc);
        if (r)
                return r;
        /* the default class's name means nothing on a cluster: its own
         * default applies where edgevirt's was filled in */
        g_autofree char *sc_doc = NULL, *default_class = NULL;
        if (ctl_call_document(c, "List", "storageclasses", "", NULL, "json", NULL, &sc_doc) == 0) {
                g_autoptr(JsonNode) scs = parse_json(sc_doc);
                JsonArray *items = json_get_array(json_node_get_object(scs), "items");
                for (guint i = 0; items && i < json_array_get_length(items); i++) {
                        JsonObject *sc = json_array_get_object_element(items, i);
                        JsonObject *ann = json_get_object(json_get_object(sc, "metadata"), "annotations");
                        if (streq_ptr(json_get_string(ann, "storageclass.kubernetes.io/is-default-class"), "true"))
                                default_class = g_strdup(str(sc, "metadata.name"));
                }
        }
        g_autoptr(JsonArray) out = json_array_new();
        g_autoptr(JsonNode) ns = parse_json(ns_doc);
        json_array_add_element(out, clean_for_export(json_node_get_object(ns)));
        for (const char *const *k = kinds; *k; k++) {
                g_autofree char *doc = NULL;
                r = ctl_call_document(c, "List", *k, c->namespace, NULL, "json", NULL, &doc);
                if (r)
                        return r;
                g_autoptr(JsonNode) list = parse_json(doc);
                JsonArray *items = json_get_array(json_node_get_object(list), "items");
                for (guint i = 0; i < json_array_get_length(items); i++) {
                        JsonObject *item = json_array_get_object_element(items, i);
                        /* made again by their owners: a DataVolume's claim, a
                         * VM's instance and the DataVolumes of its templates, a
                         * pool's VMs, a replica set's instances; a
                         * VirtualMachineExport's token Secret is of this host's
                         * export only */
                        if (owned_by_kind(item, "DataVolume") || owned_by_kind(item, "VirtualMachine") ||
                            owned_by_kind(item, "VirtualMachinePool") ||
                            owned_by_kind(item, "VirtualMachineInstanceReplicaSet") ||
                            owned_by_kind(item, "VirtualMachineExport") || made_by_cron(item))
                                continue;
                        JsonNode *clean = clean_for_export(item);
                        JsonObject *o = json_node_get_object(clean);
                        JsonObject *spec = json_get_object(o, "spec");
                        JsonObject *claim = json_get_object(spec, "storage") ? json_get_object(spec, "storage") :
                                            json_get_object(spec, "pvc") ? json_get_object(spec, "pvc") : spec;
                        if (default_class && streq_ptr(json_get_string(claim, "storageClassName"), default_class))
                                json_object_remove_member(claim, "storageClassName");
                        json_array_add_element(out, clean);
                }
        }
        if (c->push_disks && (r = export_push_disks(c, out)))
                return r;
        if (!yaml) {
                g_autoptr(JsonObject) list = json_object_new();
                json_object_set_string_member(list, "apiVersion", "v1");
                json_object_set_string_member(list, "kind", "List");
                json_object_set_array_member(list, "items", json_array_ref(out));
                g_autoptr(JsonNode) n = json_node_init_object(json_node_alloc(), list);
                g_autofree char *text = manifest_to_json(n, TRUE);
                printf("%s\n", text);
                return 0;
        }
        for (guint i = 0; i < json_array_get_length(out); i++) {
                JsonNode *n = json_array_get_element(out, i);
                g_autofree char *text = yaml ? manifest_to_yaml(n) : manifest_to_json(n, TRUE);
                if (yaml)
                        printf("%s%s", i ? "---\n" : "", text);
                else
                        printf("%s\n", text);
        }
        return 0;
}
