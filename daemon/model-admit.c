/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Admission of one document into a batch (model-private.h): schema,
 * metadata rules, names and namespaces, preconditions, the kind's own
 * admission, and the stored document made from what the user gave and
 * what the server keeps. */
#include "json-read.h"
#include "json-util.h"
#include "model-private.h"
#include "references.h"
#include "util.h"
#include "validate.h"

static int validate_string_map(JsonObject *map, const char *path, bool label_values, size_t *total, GPtrArray *errors) {
        JsonObjectIter it;
        const char *k;
        JsonNode *v;

        json_object_iter_init_ordered(&it, map);
        while (json_object_iter_next_ordered(&it, &k, &v)) {
                g_autoptr(GError) e = NULL;
                if (validate_qualified_name(k, &e) < 0)
                        g_ptr_array_add(errors, g_strdup_printf("%s: Invalid value: \"%s\": %s", path, k, e->message));
                else if (label_values && validate_label_value(json_node_get_string(v), &e) < 0)
                        g_ptr_array_add(errors, g_strdup_printf("%s.%s: Invalid value: %s", path, k, e->message));
                if (total)
                        *total += strlen(k) + strlen(json_node_get_string(v));
        }
        return 0;
}

static void validate_metadata(JsonObject *meta, GPtrArray *errors) {
        JsonObject *labels = json_get_object(meta, "labels");
        JsonObject *annotations = json_get_object(meta, "annotations");
        JsonArray *owners = json_get_array(meta, "ownerReferences");
        JsonArray *finalizers = json_get_array(meta, "finalizers");
        size_t total = 0;
        unsigned controllers = 0;

        if (labels)
                validate_string_map(labels, "metadata.labels", true, NULL, errors);
        if (annotations) {
                validate_string_map(annotations, "metadata.annotations", false, &total, errors);
                if (total > MAX_ANNOTATIONS_SIZE)
                        g_ptr_array_add(errors,
                                        g_strdup_printf("metadata.annotations: Too long: must have at most %d bytes",
                                                        MAX_ANNOTATIONS_SIZE));
        }
        for (guint i = 0; owners && i < json_array_get_length(owners); i++) {
                JsonObject *ref = json_array_get_object_element(owners, i);
                g_autoptr(GError) e = NULL;
                if (isempty(json_get_string(ref, "apiVersion")) || isempty(json_get_string(ref, "kind")) ||
                    isempty(json_get_string(ref, "name")))
                        g_ptr_array_add(errors, g_strdup_printf("metadata.ownerReferences[%u]: apiVersion, kind "
                                                                "and name must be set", i));
                if (validate_uuid(json_get_string(ref, "uid"), &e) < 0)
                        g_ptr_array_add(errors, g_strdup_printf("metadata.ownerReferences[%u].uid: %s", i, e->message));
                if (json_get_bool(ref, "controller", false))
                        controllers++;
        }
        if (controllers > 1)
                g_ptr_array_add(errors, g_strdup("metadata.ownerReferences: Invalid value: only one reference can have "
                                                 "controller set to true"));
        for (guint i = 0; finalizers && i < json_array_get_length(finalizers); i++) {
                g_autoptr(GError) e = NULL;
                if (validate_qualified_name(json_array_get_string_element(finalizers, i), &e) < 0)
                        g_ptr_array_add(errors, g_strdup_printf("metadata.finalizers[%u]: %s", i, e->message));
        }
}

char *model_generate_name(const char *prefix) {
        static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
        char suffix[6];

        for (size_t i = 0; i < 5; i++)
                suffix[i] = alphabet[g_random_int_range(0, sizeof alphabet - 1)];
        suffix[5] = 0;
        /* Kubernetes' SimpleNameGenerator: the prefix cut to 58 characters */
        return g_strdup_printf("%.58s%s", prefix, suffix);
}

static const char *plural_of(const KindInfo *k) {
        return k->plural;
}

/* Everything but metadata and status: what "generation" counts. */
static bool content_equal(JsonObject *a, JsonObject *b) {
        g_autoptr(JsonNode) na = json_node_init_object(json_node_alloc(), a);
        g_autoptr(JsonNode) nb = json_node_init_object(json_node_alloc(), b);
        g_autoptr(JsonNode) ca = json_deep_copy(na);
        g_autoptr(JsonNode) cb = json_deep_copy(nb);

        json_object_remove_member(json_node_get_object(ca), "metadata");
        json_object_remove_member(json_node_get_object(ca), "status");
        json_object_remove_member(json_node_get_object(cb), "metadata");
        json_object_remove_member(json_node_get_object(cb), "status");
        return json_node_equal(ca, cb);
}

static void copy_member(JsonObject *to, JsonObject *from, const char *member) {
        JsonNode *n = from ? json_object_get_member(from, member) : NULL;
        if (n)
                json_object_set_member(to, member, json_deep_copy(n));
}

/* The document's kind, checked against its schema; aliases converted to
 * the kind they are stored as. */
static int admit_kind(JsonNode *node, const ApplyOptions *opts, AdmitFlags flags, GPtrArray *warnings,
                      const KindInfo **ret, GError **error) {
        JsonObject *doc = json_node_get_object(node);
        const KindInfo *kind;
        int r;

        r = kind_from_document(json_get_string(doc, "apiVersion"), json_get_string(doc, "kind"), &kind, error);
        if (r < 0)
                return r;
        if (kind->read_only && !(flags & ADMIT_SYSTEM))
                return ev_error_set(error, EPERM, "%s are read-only: %s", kind->plural, kind->read_only);
        r = schema_validate(kind->schema, node, opts->field_validation, warnings, error);
        if (r < 0)
                return r;
        if (kind->stored_as) {
                r = kind->convert(doc, error);
                if (r < 0)
                        return r;
                kind = kind->stored_as;
        }
        *ret = kind;
        return 0;
}

/* The object's name (generated from generateName if need be: *generated
 * owns it), valid for its kind. */
static int admit_name(const KindInfo *kind, JsonObject *meta, const char **ret, char **generated, GError **error) {
        g_autoptr(GError) e = NULL;
        const char *name = json_get_string(meta, "name");

        if (isempty(name) && !isempty(json_get_string(meta, "generateName"))) {
                *generated = model_generate_name(json_get_string(meta, "generateName"));
                name = *generated;
        }
        if (isempty(name))
                return ev_error_set(error, EINVAL, "metadata.name: Required value: name or generateName is required");
        if ((kind->name_is_label ? validate_dns1123_label(name, &e) : validate_dns1123_subdomain(name, &e)) < 0)
                return ev_error_set(error, EINVAL, "metadata.name: Invalid value: \"%s\": %s", name, e->message);
        *ret = name;
        return 0;
}

/* The namespace of a namespaced object: the document's, else the options',
 * else "default"; it must exist (in the batch).  *terminating: it is being
 * deleted. */
static int admit_namespace(Batch *b, JsonObject *meta, const ApplyOptions *opts, const char **ret, bool *terminating,
                           GError **error) {
        const char *doc_ns = json_get_string(meta, "namespace");
        g_autoptr(GError) e = NULL;
        const char *namespace = !isempty(doc_ns) ? doc_ns
                                : !isempty(opts->namespace) ? opts->namespace
                                : DEFAULT_NAMESPACE;

        if (!isempty(doc_ns) && !isempty(opts->namespace) && !opts->namespace_is_default &&
            !streq(doc_ns, opts->namespace))
                return ev_error_set(error, EINVAL,
                                    "metadata.namespace: the namespace from the provided object \"%s\" does not match "
                                    "the namespace \"%s\" given in the options", doc_ns, opts->namespace);
        if (validate_dns1123_label(namespace, &e) < 0)
                return ev_error_set(error, EINVAL, "metadata.namespace: Invalid value: \"%s\": %s", namespace,
                                    e->message);
        g_autofree char *ns_key = object_key(&kind_namespace, "", namespace);
        JsonNode *ns = batch_current(b, ns_key);
        if (!ns)
                return ev_error_set(error, ENOENT, "metadata.namespace: namespaces \"%s\" not found", namespace);
        *terminating = doc_meta_string(ns, "deletionTimestamp") != NULL;
        *ret = namespace;
        return 0;
}

/* A new object in namespace: within MaxObjectsPerNamespace, counted in
 * the batch (unless its kind is bounded apart), and not in a namespace
 * being deleted. */
static int admit_creation(Batch *b, const KindInfo *kind, const char *namespace, bool terminating, GError **error) {
        Model *m = b->m;

        if (!kind->bounded_apart) {
                unsigned created = GPOINTER_TO_UINT(g_hash_table_lookup(b->created, namespace));
                unsigned have = GPOINTER_TO_UINT(g_hash_table_lookup(m->ns_counts, namespace)) + created;
                if (have >= m->limits.max_objects_per_namespace)
                        return ev_error_set(error, E2BIG, "namespace %s holds %u objects, the limit ([Limits] "
                                            "MaxObjectsPerNamespace) is %u", namespace, have,
                                            m->limits.max_objects_per_namespace);
                g_hash_table_replace(b->created, g_strdup(namespace), GUINT_TO_POINTER(created + 1));
        }
        /* Objects already there may still change (to drop a finalizer). */
        if (terminating)
                return ev_error_set(error, EPERM, "metadata.namespace: unable to create new content in namespace %s "
                                    "because it is being terminated", namespace);
        return 0;
}

/* Preconditions, as the Kubernetes API server checks them. */
static int admit_preconditions(const KindInfo *kind, const char *name, JsonObject *meta, JsonObject *old_meta,
                               GError **error) {
        const char *rv = json_get_string(meta, "resourceVersion");
        const char *uid = json_get_string(meta, "uid");

        if (!isempty(rv)) {
                if (!old_meta)
                        return ev_error_set(error, EINVAL, "metadata.resourceVersion: Invalid value: \"%s\": "
                                            "must not be set on objects to be created", rv);
                if (!streq(rv, json_get_string(old_meta, "resourceVersion")))
                        return ev_error_set(error, ESTALE,
                                            "Operation cannot be fulfilled on %s \"%s\": the object has been modified "
                                            "(resourceVersion %s, current %s); please apply your changes to the latest "
                                            "version and try again",
                                            plural_of(kind), name, rv, json_get_string(old_meta, "resourceVersion"));
        }
        if (!isempty(uid) && (!old_meta || !streq(uid, json_get_string(old_meta, "uid"))))
                return ev_error_set(error, ESTALE,
                                    "Precondition failed: UID in precondition: %s, UID in object meta: %s",
                                    uid, old_meta ? json_get_string(old_meta, "uid") : "");
        return 0;
}

/* The stored document: server-set metadata kept or made here, the user's
 * content, and the server-owned status. */
static JsonNode *stored_document(const KindInfo *kind, const char *namespace, const char *name, bool generated,
                                 JsonObject *doc, JsonObject *old) {
        JsonObject *meta = json_get_object(doc, "metadata"), *old_meta = json_get_object(old, "metadata");
        g_autoptr(JsonObject) nmeta = json_object_new();
        JsonObject *ndoc = json_object_new();
        g_autofree char *api_version = kind_api_version(kind);

        json_object_set_string_member(ndoc, "apiVersion", api_version);
        json_object_set_string_member(ndoc, "kind", kind->kind);
        json_object_set_string_member(nmeta, "name", name);
        if (generated || (old_meta && json_get_string(old_meta, "generateName")))
                copy_member(nmeta, old_meta && !generated ? old_meta : meta, "generateName");
        if (kind->namespaced)
                json_object_set_string_member(nmeta, "namespace", namespace);
        if (old_meta) {
                static const char *const kept[] = { "uid", "resourceVersion", "generation", "creationTimestamp",
                                                    "deletionTimestamp", "deletionGracePeriodSeconds", NULL };
                for (const char *const *k = kept; *k; k++)
                        copy_member(nmeta, old_meta, *k);
        } else {
                g_autofree char *new_uid = g_uuid_string_random();
                g_autofree char *now = ev_timestamp_now();
                json_object_set_string_member(nmeta, "uid", new_uid);
                json_object_set_int_member(nmeta, "generation", 1);
                json_object_set_string_member(nmeta, "creationTimestamp", now);
        }
        static const char *const given[] = { "labels", "annotations", "ownerReferences", "finalizers", NULL };
        for (const char *const *k = given; *k; k++)
                copy_member(nmeta, meta, *k);
        json_object_set_object_member(ndoc, "metadata", json_object_ref(nmeta));

        g_autoptr(GList) members = json_object_get_members(doc);
        for (GList *l = members; l; l = l->next) {
                const char *k = l->data;
                if (!streq(k, "apiVersion") && !streq(k, "kind") && !streq(k, "metadata") && !streq(k, "status"))
                        copy_member(ndoc, doc, k);
        }
        if (old)
                copy_member(ndoc, old, "status");
        else if (kind->init_status)
                kind->init_status(ndoc);

        if (old && !content_equal(ndoc, old))
                json_object_set_int_member(nmeta, "generation", json_get_int(old_meta, "generation", 1) + 1);
        JsonNode *result = json_node_init_object(json_node_alloc(), ndoc);
        json_object_unref(ndoc);        /* the node's reference is the only one */
        return result;
}

int admit_document(Batch *b, JsonNode *node, const ApplyOptions *opts, AdmitFlags flags,
                   GPtrArray *warnings, ObjectName **ret_name, GError **error) {
        g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func(g_free);
        const KindInfo *kind = NULL;
        JsonObject *doc, *meta, *old = NULL;
        const char *name = NULL, *namespace = "";
        g_autofree char *generated = NULL, *key = NULL;
        bool namespace_terminating = false;
        int r;

        if (!JSON_NODE_HOLDS_OBJECT(node))
                return ev_error_set(error, EINVAL, "a document must be a mapping (an object), not a list or scalar");
        /* what the readers refuse, also for documents a controller built
         * (a restore's patches add values below paths): the store reads
         * no deeper one back */
        if (json_deeper_than(node, JSON_MAX_DEPTH))
                return ev_error_set(error, EINVAL, "the document nests deeper than %d levels", JSON_MAX_DEPTH);
        doc = json_node_get_object(node);
        if ((r = admit_kind(node, opts, flags, warnings, &kind, error)) < 0)
                return r;
        meta = json_ensure_object(doc, "metadata");
        if ((r = admit_name(kind, meta, &name, &generated, error)) < 0)
                return r;
        if (kind->namespaced && (r = admit_namespace(b, meta, opts, &namespace, &namespace_terminating, error)) < 0)
                return r;
        validate_metadata(meta, errors);
        if (errors->len > 0) {
                g_ptr_array_add(errors, NULL);
                g_autofree char *joined = g_strjoinv("; ", (char **) errors->pdata);
                return ev_error_set(error, EINVAL, "%s", joined);
        }

        key = object_key(kind, namespace, name);
        JsonNode *cur = batch_current(b, key);
        if (cur)
                old = json_node_get_object(cur);
        if (cur && (flags & ADMIT_CREATE_ONLY))
                return ev_error_set(error, EEXIST, "%s \"%s\" already exists", plural_of(kind), name);
        if (!cur && kind->namespaced && (r = admit_creation(b, kind, namespace, namespace_terminating, error)) < 0)
                return r;
        if ((r = admit_preconditions(kind, name, meta, json_get_object(old, "metadata"), error)) < 0)
                return r;
        /* as Kubernetes: admission sees the namespace the object goes to
         * (a VM's inferFromVolume looks there) */
        if (kind->namespaced && !streq_ptr(json_get_string(meta, "namespace"), namespace)) {
                g_autofree char *ns = g_strdup(namespace);      /* may be meta's own string */
                json_object_set_string_member(meta, "namespace", ns);
                namespace = json_get_string(meta, "namespace");
        }
        if (kind->admit && (r = kind->admit(b->m, doc, old, warnings, error)) < 0)
                return r;
        if (opts->references)
                references_collect(kind, doc, namespace, opts->references);

        JsonNode *result = stored_document(kind, namespace, name, generated != NULL, doc, old);
        if (ret_name)
                *ret_name = object_name_new(kind, namespace, name);
        if (cur && json_node_equal(result, cur)) {
                json_node_unref(result);        /* unchanged: nothing to write */
                return 0;
        }
        batch_stage(b, kind, key, result);
        return 0;
}
