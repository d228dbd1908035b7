/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The object model, the "API server": the verbs (Apply, Get, List,
 * Delete) as batches written in one transaction, garbage collection by
 * owner references, the store's load at start and the reconcile queue.
 * Admission of each document is in model-admit.c. */
#include <malloc.h>
#include <sys/stat.h>

#include "json-read.h"
#include "json-util.h"
#include "log.h"
#include "manifest.h"
#include "model-private.h"
#include "util.h"


static void change_free(Change *c) {
        object_unref(c->old);
        if (c->doc)
                json_node_unref(c->doc);
        g_free(c->text);
        g_free(c);
}

static void batch_init(Batch *b, Model *m) {
        b->m = m;
        b->changes = g_ptr_array_new_with_free_func((GDestroyNotify) change_free);
        b->by_key = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        b->created = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
}

static void batch_clear(Batch *b) {
        g_clear_pointer(&b->changes, g_ptr_array_unref);
        g_clear_pointer(&b->by_key, g_hash_table_unref);
        g_clear_pointer(&b->created, g_hash_table_unref);
}

/* The document under key as this batch would leave it (NULL: absent). */
JsonNode *batch_current(Batch *b, const char *key) {
        Change *c = g_hash_table_lookup(b->by_key, key);
        Object *o;

        if (c)
                return c->doc;
        o = g_hash_table_lookup(b->m->by_key, key);
        return o ? object_doc(o) : NULL;
}

/* Stage doc (owned; NULL = remove) as the new state of key. */
void batch_stage(Batch *b, const KindInfo *kind, const char *key, JsonNode *doc) {
        Change *c = g_hash_table_lookup(b->by_key, key);

        if (c) {
                if (c->doc)
                        json_node_unref(c->doc);
                c->doc = doc;
                return;
        }
        c = g_new0(Change, 1);
        c->kind = kind;
        c->old = object_ref(g_hash_table_lookup(b->m->by_key, key));
        c->doc = doc;
        g_ptr_array_add(b->changes, c);
        g_hash_table_insert(b->by_key, g_strdup(key), c);
}

/* The bus first (as before watches existed), then the watches of o's kind. */
static void notify(Model *m, Object *o, ModelEvent ev) {
        if (m->observer)
                m->observer(m, o, ev, m->observer_data);
        for (guint i = 0; i < m->watches->len; i++) {
                Watch *w = m->watches->pdata[i];
                if (w->kind == o->kind && w->w->changed)
                        w->w->changed(m, o, ev, w->userdata);
        }
}

const char *doc_meta_string(JsonNode *doc, const char *member) {
        return json_get_string(json_get_object(json_node_get_object(doc), "metadata"), member);
}

static void enqueue_uid(Model *m, const char *uid) {
        if (!uid)
                return;
        g_hash_table_add(m->queue, g_strdup(uid));
        sd_event_source_set_enabled(m->reconcile_source, SD_EVENT_ONESHOT);
}

void model_enqueue(Model *m, Object *o) {
        enqueue_uid(m, o->uid);
}

void model_enqueue_kind(Model *m, const KindInfo *kind) {
        g_autoptr(GPtrArray) all = model_list(m, kind, NULL, NULL);
        for (guint i = 0; i < all->len; i++)
                model_enqueue(m, all->pdata[i]);
}

typedef struct Later {
        Model *m;
        char *uid;
} Later;

static void later_free(void *userdata) {
        Later *l = userdata;
        g_free(l->uid);
        g_free(l);
}

static int on_later(sd_event_source *s, uint64_t usec, void *userdata) {
        Later *l = userdata;
        Model *m = l->m;
        g_autofree char *uid = g_strdup(l->uid);
        Object *o = model_find_uid(m, uid);

        if (o)
                model_enqueue(m, o);
        g_hash_table_remove(m->later, uid);     /* frees s and l */
        return 0;
}

/* One timer per object: a reconcile that asks again while one is armed
 * (each pass of a restore waiting for its VM) moves it sooner, never adds. */
void model_enqueue_later(Model *m, Object *o, uint64_t usec) {
        sd_event_source *s = g_hash_table_lookup(m->later, o->uid);
        uint64_t now = 0, due = 0;
        int r;

        if (s) {
                if (sd_event_now(m->event, CLOCK_MONOTONIC, &now) >= 0 && sd_event_source_get_time(s, &due) >= 0 &&
                    now + usec < due)
                        (void) sd_event_source_set_time(s, now + usec);
                return;
        }
        Later *l = g_new0(Later, 1);
        l->m = m;
        l->uid = g_strdup(o->uid);
        r = sd_event_add_time_relative(m->event, &s, CLOCK_MONOTONIC, usec, 0, on_later, l);
        if (r >= 0 && (r = sd_event_source_set_destroy_callback(s, later_free)) < 0)
                s = sd_event_source_disable_unref(s);
        if (r < 0) {
                log_object(G_LOG_LEVEL_WARNING, o, "cannot arm a timer to look at it again");
                later_free(l);
                return;
        }
        g_hash_table_insert(m->later, g_strdup(o->uid), s);
}

/* Whatever an object's change may concern: itself, its namespace (which may
 * be waiting to empty) and its owners (which may wait for dependents). */
static void enqueue_related(Model *m, JsonNode *doc, const KindInfo *kind) {
        JsonObject *meta = json_get_object(json_node_get_object(doc), "metadata");
        JsonArray *owners = json_get_array(meta, "ownerReferences");

        enqueue_uid(m, json_get_string(meta, "uid"));
        if (kind->namespaced) {
                g_autofree char *key = object_key(&kind_namespace, "", json_get_string(meta, "namespace"));
                Object *ns = g_hash_table_lookup(m->by_key, key);
                if (ns)
                        enqueue_uid(m, ns->uid);
        }
        for (guint i = 0; owners && i < json_array_get_length(owners); i++)
                enqueue_uid(m, json_get_string(json_array_get_object_element(owners, i), "uid"));
}

static void count_in_namespace(Model *m, Object *o, int delta) {
        if (!o->kind->namespaced || o->kind->bounded_apart)
                return;
        unsigned n = GPOINTER_TO_UINT(g_hash_table_lookup(m->ns_counts, o->namespace));
        n = delta > 0 ? n + 1 : n > 0 ? n - 1 : 0;
        g_hash_table_replace(m->ns_counts, g_strdup(o->namespace), GUINT_TO_POINTER(n));
}

static void model_insert(Model *m, Object *o) {
        o->model = m;
        count_in_namespace(m, o, +1);
        g_hash_table_insert(m->by_key, o->key, o);
        g_hash_table_insert(m->by_uid, o->uid, o);
}

static void model_remove(Model *m, Object *o) {
        o->model = NULL;
        count_in_namespace(m, o, -1);
        g_hash_table_remove(m->by_uid, o->uid);
        g_hash_table_steal(m->by_key, o->key);
}

static int batch_commit(Batch *b, GError **error) {
        Model *m = b->m;
        int r;

        if (b->changes->len == 0)
                return 0;

        r = store_begin(m->store, error);
        if (r < 0)
                return r;
        for (guint i = 0; i < b->changes->len; i++) {
                Change *c = b->changes->pdata[i];
                if (c->old && (!c->doc || !streq(c->old->uid, doc_meta_string(c->doc, "uid")))) {
                        r = store_delete(m->store, c->old->uid, error);
                        if (r < 0)
                                goto fail;
                }
                if (c->doc) {
                        JsonObject *meta = json_get_object(json_node_get_object(c->doc), "metadata");
                        uint64_t rv;
                        char buf[32];

                        store_next_resource_version(m->store, &rv, NULL);
                        g_snprintf(buf, sizeof buf, "%" G_GUINT64_FORMAT, rv);
                        json_object_set_string_member(meta, "resourceVersion", buf);
                        g_free(c->text);
                        c->text = json_text(c->doc, false);
                        const char *text = c->text;
                        StoreRow row = {
                                .uid = json_get_string(meta, "uid"),
                                .group = c->kind->group,
                                .kind = c->kind->kind,
                                .namespace = c->kind->namespaced ? json_get_string(meta, "namespace") : "",
                                .name = json_get_string(meta, "name"),
                                .resource_version = rv,
                                .document = text,
                        };
                        r = store_put(m->store, &row, error);
                        if (r < 0)
                                goto fail;
                }
        }
        r = store_commit(m->store, error);
        if (r < 0)
                return r;

        /* Committed: now the memory and the bus follow. */
        for (guint i = 0; i < b->changes->len; i++) {
                Change *c = b->changes->pdata[i];
                bool same_object = c->old && c->doc && streq(c->old->uid, doc_meta_string(c->doc, "uid"));

                if (c->old)
                        enqueue_related(m, object_doc(c->old), c->kind);
                if (c->old && !same_object) {
                        if (!c->kind->quiet)
                                log_object_id(G_LOG_LEVEL_MESSAGE, c->old, LOG_MESSAGE_ID_OBJECT_REMOVED, "removed");
                        model_remove(m, c->old);
                        notify(m, c->old, MODEL_EVENT_REMOVED);
                        object_unref(c->old);   /* the table's reference */
                }
                if (same_object) {
                        g_autofree char *was = g_strdup(object_status_string(c->old, "phase"));

                        object_set_doc(c->old, json_node_ref(c->doc));
                        object_set_json(c->old, g_steal_pointer(&c->text));
                        const char *phase = object_status_string(c->old, "phase");
                        if (phase && !streq_ptr(was, phase))
                                log_object_id(G_LOG_LEVEL_MESSAGE, c->old, LOG_MESSAGE_ID_PHASE_CHANGED, "phase %s",
                                              phase);
                        notify(m, c->old, MODEL_EVENT_CHANGED);
                } else if (c->doc) {
                        Object *o = object_new(c->kind, json_node_ref(c->doc));
                        object_set_json(o, g_steal_pointer(&c->text));
                        model_insert(m, o);
                        if (!c->kind->quiet)
                                log_object_id(G_LOG_LEVEL_MESSAGE, o, LOG_MESSAGE_ID_OBJECT_CREATED, "created");
                        notify(m, o, MODEL_EVENT_ADDED);
                }
                if (c->doc)
                        enqueue_related(m, c->doc, c->kind);
        }
        return 0;

fail:
        store_rollback(m->store);
        return r;
}

/* --- validation of metadata --- */

static void describe_document(JsonNode *node, GString *out) {
        JsonObject *doc = JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
        JsonObject *meta = json_get_object(doc, "metadata");
        const char *kind = json_get_string(doc, "kind"), *ns = json_get_string(meta, "namespace"),
                   *name = json_get_string(meta, "name");

        if (!kind && !name)
                return;
        g_string_append_printf(out, " (%s%s%s%s%s)", kind ? kind : "?", name || ns ? " " : "",
                               ns ? ns : "", ns ? "/" : "", name ? name : "");
}

static int expand_lists(GPtrArray *docs, GPtrArray *out, unsigned depth, GError **error) {
        for (guint i = 0; i < docs->len; i++) {
                JsonNode *n = docs->pdata[i];
                JsonObject *o = JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
                const char *kind = json_get_string(o, "kind");

                if (kind && (streq(kind, "List") || (g_str_has_suffix(kind, "List") && json_get_array(o, "items")))) {
                        JsonArray *items = json_get_array(o, "items");
                        g_autoptr(GPtrArray) sub = g_ptr_array_new_with_free_func((GDestroyNotify) json_node_unref);
                        if (depth >= MAX_LIST_DEPTH)
                                return ev_error_set(error, EINVAL, "kind: %s nested deeper than %d levels", kind,
                                                    MAX_LIST_DEPTH);
                        for (guint j = 0; items && j < json_array_get_length(items); j++)
                                g_ptr_array_add(sub, json_deep_copy(json_array_get_element(items, j)));
                        int r = expand_lists(sub, out, depth + 1, error);
                        if (r < 0)
                                return r;
                        continue;
                }
                g_ptr_array_add(out, json_node_ref(n));
        }
        return 0;
}

static bool is_namespace_doc(JsonNode *n) {
        JsonObject *o = JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
        const char *kind = json_get_string(o, "kind");
        return kind && (streq(kind, "Namespace") || streq(kind, "Project") || streq(kind, "ProjectRequest"));
}

/* An Apply's text as documents: within the size limit, parsed, Lists
 * expanded (into docs). */
static int read_documents(Model *m, const char *text, size_t len, GPtrArray *docs, GError **error) {
        g_autoptr(GPtrArray) parsed = NULL;
        int r;

        if (len > m->limits.max_document_size)
                return ev_error_set(error, E2BIG, "document is %zu bytes, more than the limit of %zu", len,
                                    m->limits.max_document_size);
        r = manifest_parse(text, len, &parsed, error);
        if (r < 0)
                return r;
        return expand_lists(parsed, docs, 0, error);
}

int model_apply_targets(Model *m, const char *text, size_t len, const ApplyOptions *opts, GPtrArray **ret_names,
                        GError **error) {
        g_autoptr(GPtrArray) docs = g_ptr_array_new_with_free_func((GDestroyNotify) json_node_unref);
        g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func((GDestroyNotify) object_name_free);
        int r;

        r = read_documents(m, text, len, docs, error);
        if (r < 0)
                return r;
        for (guint i = 0; i < docs->len; i++) {
                JsonObject *doc = JSON_NODE_HOLDS_OBJECT(docs->pdata[i]) ? json_node_get_object(docs->pdata[i]) : NULL;
                JsonObject *meta = json_get_object(doc, "metadata");
                const KindInfo *kind;
                if (!doc)
                        continue;       /* admission refuses it */
                r = kind_from_document(json_get_string(doc, "apiVersion"), json_get_string(doc, "kind"), &kind, error);
                if (r < 0)
                        return r;
                if (kind->stored_as)
                        kind = kind->stored_as;
                const char *name = json_get_string(meta, "name") ?: json_get_string(meta, "generateName") ?: "";
                const char *ns = json_get_string(meta, "namespace");
                if (isempty(ns))
                        ns = !isempty(opts->namespace) ? opts->namespace : DEFAULT_NAMESPACE;
                g_ptr_array_add(names, object_name_new(kind, kind->namespaced ? ns : "", name));
        }
        *ret_names = g_steal_pointer(&names);
        return 0;
}

int model_apply(Model *m, const char *text, size_t len, const ApplyOptions *opts,
                GPtrArray **ret_names, GPtrArray *warnings, GError **error) {
        g_autoptr(GPtrArray) docs = g_ptr_array_new_with_free_func((GDestroyNotify) json_node_unref);
        g_autoptr(GPtrArray) names = NULL;
        Batch b;
        int r;

        r = read_documents(m, text, len, docs, error);
        if (r < 0)
                return r;
        if (docs->len == 0)
                return ev_error_set(error, EINVAL, "no objects passed to apply");
        if (docs->len > m->limits.max_objects_per_apply)
                return ev_error_set(error, E2BIG, "%u objects in one Apply, more than the limit of %u",
                                    docs->len, m->limits.max_objects_per_apply);

        names = g_ptr_array_new_full(docs->len, (GDestroyNotify) object_name_free);
        g_ptr_array_set_size(names, docs->len);
        batch_init(&b, m);
        /* Namespaces first, so a manifest set may carry its namespace
         * anywhere; the objects are returned in document order. */
        for (int pass = 0; pass < 2 && r >= 0; pass++)
                for (guint i = 0; i < docs->len; i++) {
                        JsonNode *n = docs->pdata[i];
                        if (is_namespace_doc(n) != (pass == 0))
                                continue;
                        g_autoptr(GString) what = g_string_new(NULL);
                        describe_document(n, what);
                        r = admit_document(&b, n, opts, opts->system ? ADMIT_SYSTEM : 0, warnings,
                                           (ObjectName **) &names->pdata[i], error);
                        if (r < 0) {
                                if (docs->len > 1)
                                        ev_error_prefix(error, "document %u%s", i + 1, what->str);
                                else if (what->len)
                                        ev_error_prefix(error, "%.*s", (int) what->len - 3, what->str + 2);
                                break;
                        }
                }
        if (r >= 0 && !opts->dry_run)
                r = batch_commit(&b, error);
        batch_clear(&b);
        if (r < 0)
                return r;
        if (ret_names)
                *ret_names = g_steal_pointer(&names);
        return 0;
}

int model_create_namespace(Model *m, const char *name, JsonObject *labels, JsonObject *annotations,
                           bool dry_run, GError **error) {
        g_autoptr(JsonObject) doc = json_object_new();
        g_autoptr(JsonNode) node = NULL;
        JsonObject *meta = json_object_new();
        ApplyOptions opts = { .dry_run = dry_run, .field_validation = FIELD_VALIDATION_STRICT };
        Batch b;
        int r;

        json_object_set_string_member(doc, "apiVersion", "v1");
        json_object_set_string_member(doc, "kind", "Namespace");
        json_object_set_string_member(meta, "name", name);
        if (labels)
                json_object_set_object_member(meta, "labels", json_object_ref(labels));
        if (annotations)
                json_object_set_object_member(meta, "annotations", json_object_ref(annotations));
        json_object_set_object_member(doc, "metadata", meta);
        node = json_node_init_object(json_node_alloc(), doc);

        batch_init(&b, m);
        r = admit_document(&b, node, &opts, ADMIT_CREATE_ONLY, NULL, NULL, error);
        if (r >= 0 && !dry_run)
                r = batch_commit(&b, error);
        batch_clear(&b);
        return r;
}

/* --- deletion --- */

int propagation_from_string(const char *s, Propagation *ret) {
        if (streq(s, "Background"))
                *ret = PROPAGATION_BACKGROUND;
        else if (streq(s, "Foreground"))
                *ret = PROPAGATION_FOREGROUND;
        else if (streq(s, "Orphan"))
                *ret = PROPAGATION_ORPHAN;
        else
                return -EINVAL;
        return 0;
}

static bool doc_owned_by(JsonNode *doc, const char *uid) {
        JsonArray *owners = json_get_array(json_get_object(json_node_get_object(doc), "metadata"), "ownerReferences");
        for (guint i = 0; owners && i < json_array_get_length(owners); i++)
                if (streq_ptr(json_get_string(json_array_get_object_element(owners, i), "uid"), uid))
                        return true;
        return false;
}

static void stage_delete(Batch *b, const KindInfo *kind, const char *key, Propagation propagation, unsigned depth) {
        JsonNode *cur = batch_current(b, key);
        g_autofree char *uid = NULL;

        if (!cur || depth > 64)
                return;
        JsonObject *meta = json_get_object(json_node_get_object(cur), "metadata");
        JsonArray *finalizers = json_get_array(meta, "finalizers");
        uid = g_strdup(json_get_string(meta, "uid"));

        if (!json_get_string(meta, "deletionTimestamp")) {
                bool two_step = kind->finalize || (finalizers && json_array_get_length(finalizers) > 0) ||
                                propagation == PROPAGATION_FOREGROUND;
                if (two_step) {
                        JsonNode *doc = json_deep_copy(cur);
                        JsonObject *d = json_node_get_object(doc);
                        JsonObject *dm = json_get_object(d, "metadata");
                        g_autofree char *now = ev_timestamp_now();
                        json_object_set_string_member(dm, "deletionTimestamp", now);
                        json_object_set_int_member(dm, "deletionGracePeriodSeconds", 0);
                        if (propagation == PROPAGATION_FOREGROUND)
                                json_object_add_to_string_set(dm, "finalizers", "foregroundDeletion");
                        if (kind->mark_deleting)
                                kind->mark_deleting(d);
                        batch_stage(b, kind, key, doc);
                } else
                        batch_stage(b, kind, key, NULL);
        }

        /* Dependents: orphaned (owner reference dropped) or deleted too. */
        g_autoptr(GPtrArray) dependents = g_ptr_array_new_with_free_func(g_free);
        GHashTableIter it;
        Object *o;
        g_hash_table_iter_init(&it, b->m->by_key);
        while (g_hash_table_iter_next(&it, NULL, (void **) &o)) {
                JsonNode *d = batch_current(b, o->key);
                if (d && doc_owned_by(d, uid))
                        g_ptr_array_add(dependents, g_strdup(o->key));
        }
        for (guint i = 0; i < dependents->len; i++) {
                const char *dkey = dependents->pdata[i];
                Object *dep = g_hash_table_lookup(b->m->by_key, dkey);
                if (propagation == PROPAGATION_ORPHAN) {
                        JsonNode *doc = json_deep_copy(batch_current(b, dkey));
                        JsonArray *owners = json_get_array(json_get_object(json_node_get_object(doc), "metadata"),
                                                           "ownerReferences");
                        for (guint j = json_array_get_length(owners); j > 0; j--) {
                                JsonObject *ref = json_array_get_object_element(owners, j - 1);
                                if (streq_ptr(json_get_string(ref, "uid"), uid))
                                        json_array_remove_element(owners, j - 1);
                        }
                        batch_stage(b, dep->kind, dkey, doc);
                } else
                        stage_delete(b, dep->kind, dkey, propagation, depth + 1);
        }
}

int model_delete(Model *m, const KindInfo *kind, const char *namespace, const char *name,
                 const DeleteOptions *opts, GError **error) {
        Object *o;
        Batch b;
        int r;

        r = model_get(m, kind, namespace, name, &o, error);
        if (r < 0)
                return r;
        if (opts->resource_version && !streq(opts->resource_version, object_meta_string(o, "resourceVersion")))
                return ev_error_set(error, ESTALE,
                                    "Operation cannot be fulfilled on %s \"%s\": precondition resourceVersion %s "
                                    "does not match the current %s", kind->plural, name, opts->resource_version,
                                    object_meta_string(o, "resourceVersion"));
        if (opts->uid && !streq(opts->uid, o->uid))
                return ev_error_set(error, ESTALE,
                                    "Precondition failed: UID in precondition: %s, UID in object meta: %s"
                                    , opts->uid, o->uid);
        if (kind->read_only && !kind->user_deletable)
                return ev_error_set(error, EPERM, "%s are read-only: %s", kind->plural, kind->read_only);
        if (kind == &kind_namespace && streq(name, DEFAULT_NAMESPACE))
                return ev_error_set(error, EPERM, "namespaces \"%s\" is forbidden: this namespace may not be deleted",
                                    name);

        batch_init(&b, m);
        stage_delete(&b, kind, o->key, opts->propagation, 0);
        r = opts->dry_run ? 0 : batch_commit(&b, error);
        batch_clear(&b);
        return r;
}

int model_delete_object(Model *m, Object *o, Propagation propagation, GError **error) {
        Batch b;
        int r;

        batch_init(&b, m);
        stage_delete(&b, o->kind, o->key, propagation, 0);
        r = batch_commit(&b, error);
        batch_clear(&b);
        return r;
}

int model_update(Model *m, Object *o, JsonNode *doc, GError **error) {
        Batch b;
        int r;

        if (json_node_equal(doc, object_doc(o))) {
                json_node_unref(doc);
                return 0;
        }
        batch_init(&b, m);
        batch_stage(&b, o->kind, o->key, doc);
        r = batch_commit(&b, error);
        batch_clear(&b);
        return r;
}

#define STATUS_LOG_USEC (10 * G_USEC_PER_SEC)

void model_write_status(Model *m, Object *o, JsonNode *doc) {
        g_autoptr(GError) e = NULL;
        gint64 now = g_get_monotonic_time();

        if (model_update(m, o, doc, &e) >= 0)
                return;
        if (now < m->status_log_next) {
                m->status_unlogged++;
                return;
        }
        if (m->status_unlogged > 0)
                log_object(G_LOG_LEVEL_WARNING, o, "cannot write status: %s (%u other status writes failed "
                           "in the last %d s)", e->message, m->status_unlogged,
                           (int) (STATUS_LOG_USEC / G_USEC_PER_SEC));
        else
                log_object(G_LOG_LEVEL_WARNING, o, "cannot write status: %s", e->message);
        m->status_unlogged = 0;
        m->status_log_next = now + STATUS_LOG_USEC;
}

/* --- lookups --- */

int model_get(Model *m, const KindInfo *kind, const char *namespace, const char *name, Object **ret, GError **error) {
        g_autofree char *key = NULL;
        Object *o;

        if (kind->stored_as)
                kind = kind->stored_as;
        if (kind->namespaced && isempty(namespace))
                namespace = DEFAULT_NAMESPACE;
        key = object_key(kind, kind->namespaced ? namespace : "", name ? name : "");
        o = g_hash_table_lookup(m->by_key, key);
        if (!o) {
                if (kind->namespaced)
                        return ev_error_set(error, ENOENT, "%s \"%s\" not found in namespace \"%s\"", kind->plural,
                                            name ? name : "", namespace);
                return ev_error_set(error, ENOENT, "%s \"%s\" not found", kind->plural, name ? name : "");
        }
        *ret = o;
        return 0;
}

Object *model_find_uid(Model *m, const char *uid) {
        return g_hash_table_lookup(m->by_uid, uid);
}

static gint compare_objects(gconstpointer a, gconstpointer b) {
        const Object *x = *(Object *const *) a, *y = *(Object *const *) b;
        int c = strcmp(x->namespace, y->namespace);
        if (c == 0)
                c = strcmp(x->kind->kind, y->kind->kind);
        return c != 0 ? c : strcmp(x->name, y->name);
}

GPtrArray *model_list(Model *m, const KindInfo *kind, const char *namespace, const LabelSelector *sel) {
        GPtrArray *out = g_ptr_array_new();
        GHashTableIter it;
        Object *o;

        if (kind && kind->stored_as)
                kind = kind->stored_as;
        g_hash_table_iter_init(&it, m->by_key);
        while (g_hash_table_iter_next(&it, NULL, (void **) &o)) {
                if (kind && o->kind != kind)
                        continue;
                if (namespace && o->kind->namespaced && !streq(o->namespace, namespace))
                        continue;
                if (namespace && !o->kind->namespaced && kind != o->kind)
                        continue;
                if (sel && !label_selector_matches(sel, object_labels(o)))
                        continue;
                g_ptr_array_add(out, o);
        }
        g_ptr_array_sort(out, compare_objects);
        return out;
}

uint64_t model_resource_version(Model *m) {
        return store_current_resource_version(m->store);
}

bool model_has_dependents(Model *m, Object *owner) {
        GHashTableIter it;
        Object *o;

        g_hash_table_iter_init(&it, m->by_key);
        while (g_hash_table_iter_next(&it, NULL, (void **) &o))
                /* the text first: parsing every document for one look is dear */
                if (strstr(object_json(o), owner->uid) && doc_owned_by(object_doc(o), owner->uid))
                        return true;
        return false;
}

/* --- controllers --- */

/* What every kind gets: garbage collection of objects whose owners are all
 * gone, foreground deletion, and removal of deleted objects once their
 * finalizers and their kind's cleanup are done. */
static int reconcile_generic(Model *m, Object *o, GError **error) {
        JsonObject *meta = object_metadata(o);
        JsonArray *owners = json_get_array(meta, "ownerReferences");
        JsonArray *finalizers = json_get_array(meta, "finalizers");

        if (!object_is_deleting(o)) {
                if (!owners || json_array_get_length(owners) == 0)
                        return 0;
                for (guint i = 0; i < json_array_get_length(owners); i++)
                        if (model_find_uid(m, json_get_string(json_array_get_object_element(owners, i), "uid")))
                                return 0;
                log_object_id(G_LOG_LEVEL_MESSAGE, o, LOG_MESSAGE_ID_GARBAGE_COLLECTED,
                              "every owner is gone, deleting it");
                return model_delete_object(m, o, PROPAGATION_BACKGROUND, error);
        }

        if (json_array_has_string(finalizers, "foregroundDeletion") && !model_has_dependents(m, o)) {
                JsonNode *doc = json_deep_copy(object_doc(o));
                JsonObject *doc_meta = json_get_object(json_node_get_object(doc), "metadata");
                json_array_remove_string(json_get_array(doc_meta, "finalizers"), "foregroundDeletion");
                return model_update(m, o, doc, error);
        }
        if (finalizers && json_array_get_length(finalizers) > 0)
                return 0;
        if (o->kind->finalize) {
                int r = o->kind->finalize(m, o);
                if (r <= 0)
                        return r;
        }
        Batch b;
        batch_init(&b, m);
        batch_stage(&b, o->kind, o->key, NULL);
        int r = batch_commit(&b, error);
        batch_clear(&b);
        return r;
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        Model *m = userdata;
        sd_event_source_set_enabled(m->reconcile_source, SD_EVENT_ONESHOT);
        return 0;
}

static int on_reconcile(sd_event_source *s, void *userdata) {
        Model *m = userdata;
        g_autoptr(GPtrArray) uids = g_ptr_array_new_with_free_func(g_free);
        GHashTableIter it;
        char *uid;
        bool failed = false;

        g_hash_table_iter_init(&it, m->queue);
        while (g_hash_table_iter_next(&it, (void **) &uid, NULL)) {
                g_hash_table_iter_steal(&it);
                g_ptr_array_add(uids, uid);
        }
        for (guint i = 0; i < uids->len; i++) {
                Object *o = model_find_uid(m, uids->pdata[i]);
                g_autoptr(GError) e = NULL;
                int r = 0;

                if (!o)
                        continue;
                object_ref(o);
                for (guint j = 0; j < m->watches->len; j++) {
                        Watch *w = m->watches->pdata[j];
                        if (w->kind == o->kind && w->w->reconcile)
                                w->w->reconcile(m, o, w->userdata);
                }
                if (o->kind->reconcile)
                        r = o->kind->reconcile(m, o);
                if (r >= 0 && model_find_uid(m, o->uid))
                        r = reconcile_generic(m, o, &e);
                if (r < 0) {
                        log_object_id(G_LOG_LEVEL_WARNING, o, LOG_MESSAGE_ID_RECONCILE_FAILED, "reconciling failed: %s",
                                      e ? e->message : g_strerror(-r));
                        g_hash_table_add(m->queue, g_strdup(o->uid));
                        failed = true;
                }
                object_unref(o);
        }
        if (failed)
                sd_event_source_set_time_relative(m->retry_source, RECONCILE_RETRY_USEC),
                sd_event_source_set_enabled(m->retry_source, SD_EVENT_ONESHOT);
        else if (g_hash_table_size(m->queue) > 0)
                sd_event_source_set_enabled(m->reconcile_source, SD_EVENT_ONESHOT);
        return 0;
}

/* --- life cycle --- */

static const KindInfo *stored_kind(const char *group, const char *kind) {
        for (const KindInfo *const *k = kind_all(); *k; k++)
                if (!(*k)->stored_as && streq((*k)->group, group) && streq((*k)->kind, kind))
                        return *k;
        return NULL;
}

static int load_row(const StoreRow *row, void *userdata) {
        Model *m = userdata;
        const KindInfo *kind = stored_kind(row->group, row->kind);
        g_autoptr(GError) e = NULL;
        JsonNode *doc;

        if (!kind) {
                g_warning("object store holds %s %s/%s of a kind this edgevirtd does not know; left alone",
                          row->kind, row->namespace, row->name);
                return 0;
        }
        /* the bounded reader: a store written by hand is input too */
        doc = json_read_object(row->document, strlen(row->document), &e);
        if (!doc) {
                g_warning("object store: document of %s %s/%s does not parse (%s); left alone",
                          row->kind, row->namespace, row->name, e->message);
                return 0;
        }
        Object *o = object_new(kind, doc);
        model_insert(m, o);
        return 0;
}

/* A tree was parsed while none was (or memory wants trimming): look
 * again in a while. */
static void trees_parsed(void *userdata) {
        Model *m = userdata;
        int enabled = SD_EVENT_OFF;

        if (sd_event_source_get_enabled(m->trees_source, &enabled) >= 0 && enabled == SD_EVENT_OFF) {
                sd_event_source_set_time_relative(m->trees_source, m->trees_idle_usec);
                sd_event_source_set_enabled(m->trees_source, SD_EVENT_ONESHOT);
        }
}

/* A timer is dispatched between two calls, where nobody holds a borrowed
 * tree: the trees nobody read for a while go (their text stays, parsed
 * again when read), and so does the memory malloc kept of them. */
static int on_trees_idle(sd_event_source *s, uint64_t usec, void *userdata) {
        Model *m = userdata;
        unsigned left;

        if (object_trees_drop_idle(&left) > 0 || m->trim_wanted)
                malloc_trim(0);
        m->trim_wanted = false;
        if (left > 0)
                trees_parsed(m);
        return 0;
}

void model_trim_soon(Model *m) {
        m->trim_wanted = true;
        trees_parsed(m);
}

int model_new(sd_event *event, const char *state_dir, const ModelLimits *limits, Model **ret, GError **error) {
        g_autoptr(Model) m = g_new0(Model, 1);
        g_autofree char *db = NULL;
        int r;

        m->event = sd_event_ref(event);
        m->limits = *limits;
        m->by_key = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify) object_unref);
        m->by_uid = g_hash_table_new(g_str_hash, g_str_equal);
        m->queue = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        m->ns_counts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        m->later = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) sd_event_source_disable_unref);
        m->watches = g_ptr_array_new_with_free_func(g_free);

        if (g_mkdir_with_parents(state_dir, 0700) < 0)
                return ev_error_set(error, errno, "cannot create state directory %s: %s", state_dir, g_strerror(errno));
        db = g_build_filename(state_dir, "objects.db", NULL);
        r = store_open(db, &m->store, error);
        if (r < 0)
                return r;
        r = store_load(m->store, load_row, m, error);
        if (r < 0)
                return r;

        r = sd_event_add_defer(event, &m->reconcile_source, on_reconcile, m);
        if (r < 0)
                return ev_error_set(error, -r, "cannot add event source: %s", g_strerror(-r));
        sd_event_source_set_enabled(m->reconcile_source, SD_EVENT_OFF);
        r = sd_event_add_time_relative(event, &m->retry_source, CLOCK_MONOTONIC, RECONCILE_RETRY_USEC, 0, on_retry, m);
        if (r < 0)
                return ev_error_set(error, -r, "cannot add event source: %s", g_strerror(-r));
        sd_event_source_set_enabled(m->retry_source, SD_EVENT_OFF);
        /* the API tests drop trees at (nearly) every turn of the loop: whatever
         * holds a borrowed tree too long fails there, under ASan */
        const char *idle_ms = g_getenv("EDGEVIRT_TEST_TREES_IDLE_MS");
        m->trees_idle_usec = idle_ms ? g_ascii_strtoull(idle_ms, NULL, 10) * 1000 : MODEL_TREES_IDLE_USEC;
        r = sd_event_add_time_relative(event, &m->trees_source, CLOCK_MONOTONIC, m->trees_idle_usec,
                                       m->trees_idle_usec / 4 + 1, on_trees_idle, m);
        if (r < 0)
                return ev_error_set(error, -r, "cannot add event source: %s", g_strerror(-r));
        object_trees_set_notify(trees_parsed, m);

        /* As in Kubernetes, the "default" namespace always exists. */
        g_autofree char *default_key = object_key(&kind_namespace, "", DEFAULT_NAMESPACE);
        if (!g_hash_table_contains(m->by_key, default_key)) {
                r = model_create_namespace(m, DEFAULT_NAMESPACE, NULL, NULL, false, error);
                if (r < 0)
                        return r;
        }

        /* Level-triggered: after a restart every object is looked at once,
         * so interrupted work (a terminating namespace, orphans) goes on. */
        GHashTableIter it;
        Object *o;
        g_hash_table_iter_init(&it, m->by_key);
        while (g_hash_table_iter_next(&it, NULL, (void **) &o))
                model_enqueue(m, o);

        *ret = g_steal_pointer(&m);
        return 0;
}

Model *model_free(Model *m) {
        if (!m)
                return NULL;
        sd_event_source_disable_unref(m->reconcile_source);
        sd_event_source_disable_unref(m->retry_source);
        if (m->trees_source)
                object_trees_set_notify(NULL, NULL);
        sd_event_source_disable_unref(m->trees_source);
        g_clear_pointer(&m->by_uid, g_hash_table_unref);
        g_clear_pointer(&m->by_key, g_hash_table_unref);
        g_clear_pointer(&m->queue, g_hash_table_unref);
        g_clear_pointer(&m->ns_counts, g_hash_table_unref);
        g_clear_pointer(&m->later, g_hash_table_unref);
        g_clear_pointer(&m->watches, g_ptr_array_unref);
        store_free(m->store);
        sd_event_unref(m->event);
        g_free(m);
        return NULL;
}

void model_set_services(Model *m, Services *s) {
        m->services = s;
}

Services *model_services(Model *m) {
        return m->services;
}

int model_apply_object(Model *m, JsonObject *doc, bool system, GError **error) {
        g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), doc);
        g_autofree char *text = json_text(node, FALSE);
        ApplyOptions opts = { .field_validation = FIELD_VALIDATION_STRICT, .system = system };
        return model_apply(m, text, strlen(text), &opts, NULL, NULL, error);
}

int model_sync(Model *m, const KindInfo *kind, GPtrArray *docs, GError **error) {
        ApplyOptions opts = { .field_validation = FIELD_VALIDATION_STRICT };
        g_autoptr(GHashTable) keep = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_autoptr(GPtrArray) existing = model_list(m, kind, NULL, NULL);
        Batch b;
        int r = 0;

        batch_init(&b, m);
        for (guint i = 0; r >= 0 && i < docs->len; i++) {
                g_autoptr(ObjectName) n = NULL;
                r = admit_document(&b, docs->pdata[i], &opts, ADMIT_SYSTEM, NULL, &n, error);
                if (n)
                        g_hash_table_add(keep, object_key(n->kind, n->namespace, n->name));
        }
        for (guint i = 0; r >= 0 && i < existing->len; i++) {
                Object *o = existing->pdata[i];
                if (!g_hash_table_contains(keep, o->key))
                        batch_stage(&b, kind, o->key, NULL);
        }
        if (r >= 0)
                r = batch_commit(&b, error);
        batch_clear(&b);
        return r;
}

void model_notify_changed(Model *m, Object *o) {
        if (m->observer)
                m->observer(m, o, MODEL_EVENT_CHANGED, m->observer_data);
}

void model_watch(Model *m, const KindInfo *kind, const ModelWatch *w, void *userdata) {
        Watch *watch = g_new0(Watch, 1);
        watch->kind = kind->stored_as ? kind->stored_as : kind;
        watch->w = w;
        watch->userdata = userdata;
        g_ptr_array_add(m->watches, watch);
}

void model_unwatch(Model *m, const ModelWatch *w, void *userdata) {
        for (guint i = m->watches->len; i > 0; i--) {
                Watch *watch = m->watches->pdata[i - 1];
                if (watch->w == w && watch->userdata == userdata)
                        g_ptr_array_remove_index(m->watches, i - 1);
        }
}

void model_set_observer(Model *m, ModelObserver f, void *userdata) {
        m->observer = f;
        m->observer_data = userdata;
}
