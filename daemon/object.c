/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "json-read.h"
#include "json-util.h"
#include "object.h"
#include "util.h"

char *object_key(const KindInfo *kind, const char *namespace, const char *name) {
        return g_strdup_printf("%s/%s/%s/%s", kind->group, kind->kind, namespace ? namespace : "", name);
}

ObjectName *object_name_new(const KindInfo *kind, const char *namespace, const char *name) {
        ObjectName *n = g_new0(ObjectName, 1);

        n->kind = kind;
        n->namespace = g_strdup(namespace ? namespace : "");
        n->name = g_strdup(name);
        return n;
}

ObjectName *object_name_free(ObjectName *n) {
        if (!n)
                return NULL;
        g_free(n->namespace);
        g_free(n->name);
        g_free(n);
        return NULL;
}

/* The objects whose tree is parsed (each one's tree_link), and whom to tell
 * when the first is. */
static GQueue trees = G_QUEUE_INIT;
static void (*trees_notify)(void *userdata);
static void *trees_notify_data;

static void tree_list(Object *o) {
        o->tree_read = true;
        if (o->tree_link.data)
                return;
        o->tree_link.data = o;
        g_queue_push_tail_link(&trees, &o->tree_link);
        if (trees.length == 1 && trees_notify)
                trees_notify(trees_notify_data);
}

static void tree_unlist(Object *o) {
        if (!o->tree_link.data)
                return;
        g_queue_unlink(&trees, &o->tree_link);
        o->tree_link = (GList) {};
}

void object_trees_set_notify(void (*notify)(void *userdata), void *userdata) {
        trees_notify = notify;
        trees_notify_data = userdata;
}

unsigned object_trees_drop_idle(unsigned *ret_left) {
        unsigned n = 0;

        for (GList *l = trees.head, *next; l; l = next) {
                Object *o = l->data;
                next = l->next;
                if (o->tree_read) {
                        o->tree_read = false;
                        continue;
                }
                object_json(o);
                tree_unlist(o);
                g_clear_pointer(&o->tree, json_node_unref);
                n++;
        }
        *ret_left = trees.length;
        return n;
}

void object_set_json(Object *o, char *text) {
        g_free(o->json);
        o->json = text;
}

JsonNode *object_doc(Object *o) {
        if (!o->tree) {
                g_autoptr(GError) e = NULL;
                /* our own generator's text: it reads back unless there is a bug */
                o->tree = json_read_object(o->json, strlen(o->json), &e);
                if (!o->tree)
                        g_error("%s: its document's text does not read back: %s", o->key, e->message);
        }
        tree_list(o);
        return o->tree;
}

Object *object_new(const KindInfo *kind, JsonNode *doc) {
        Object *o = g_new0(Object, 1);

        o->n_ref = 1;
        o->kind = kind;
        o->tree = doc;
        tree_list(o);
        JsonObject *meta = object_metadata(o);
        o->namespace = g_strdup(kind->namespaced ? json_get_string(meta, "namespace") : "");
        o->name = g_strdup(json_get_string(meta, "name"));
        o->uid = g_strdup(json_get_string(meta, "uid"));
        o->resource_version = g_ascii_strtoull(json_get_string(meta, "resourceVersion") ?: "0", NULL, 10);
        o->key = object_key(kind, o->namespace, o->name);
        return o;
}

Object *object_ref(Object *o) {
        if (o)
                o->n_ref++;
        return o;
}

Object *object_unref(Object *o) {
        if (!o || --o->n_ref > 0)
                return NULL;
        g_free(o->namespace);
        g_free(o->name);
        g_free(o->uid);
        g_free(o->key);
        tree_unlist(o);
        if (o->tree)
                json_node_unref(o->tree);
        g_free(o->json);
        g_free(o);
        return NULL;
}

void object_set_doc(Object *o, JsonNode *doc) {
        if (o->tree)
                json_node_unref(o->tree);
        o->tree = doc;
        tree_list(o);
        g_clear_pointer(&o->json, g_free);
        o->resource_version = g_ascii_strtoull(object_meta_string(o, "resourceVersion") ?: "0", NULL, 10);
}

const char *object_json(Object *o) {
        if (!o->json)
                o->json = json_text(object_doc(o), false);
        return o->json;
}

JsonObject *object_root(Object *o) {
        return json_node_get_object(object_doc(o));
}

JsonObject *object_metadata(Object *o) {
        return json_get_object(object_root(o), "metadata");
}

const char *object_meta_string(Object *o, const char *member) {
        return json_get_string(object_metadata(o), member);
}

JsonObject *object_labels(Object *o) {
        return json_get_object(object_metadata(o), "labels");
}

const char *object_status_string(Object *o, const char *member) {
        return json_get_string(json_get_object(object_root(o), "status"), member);
}

bool object_is_deleting(Object *o) {
        return object_meta_string(o, "deletionTimestamp") != NULL;
}

void status_init_replicas(JsonObject *doc) {
        JsonObject *status = json_object_new();
        json_object_set_int_member(status, "replicas", 0);
        json_object_set_int_member(status, "readyReplicas", 0);
        json_object_set_object_member(doc, "status", status);
}

void status_set_condition(JsonObject *status, const char *type, bool value, const char *reason, const char *message) {
        JsonArray *conds = json_get_array(status, "conditions");
        g_autofree char *now = ev_timestamp_now();
        const char *st = value ? "True" : "False";
        JsonObject *c = NULL;

        if (!conds) {
                conds = json_array_new();
                json_object_set_array_member(status, "conditions", conds);
        }
        for (guint i = 0; i < json_array_get_length(conds); i++)
                if (streq_ptr(json_get_string(json_array_get_object_element(conds, i), "type"), type))
                        c = json_array_get_object_element(conds, i);
        if (!c) {
                c = json_object_new();
                json_object_set_string_member(c, "type", type);
                json_array_add_object_element(conds, c);
        }
        if (!streq_ptr(json_get_string(c, "status"), st) || !json_get_string(c, "lastTransitionTime"))
                json_object_set_string_member(c, "lastTransitionTime", now);
        json_object_set_string_member(c, "status", st);
        json_object_set_string_member(c, "reason", reason ? reason : "");
        json_object_set_string_member(c, "message", message ? message : "");
}

bool object_owned_by(Object *o, Object *owner) {
        JsonArray *owners = json_get_array(object_metadata(o), "ownerReferences");
        for (guint i = 0; owners && i < json_array_get_length(owners); i++)
                if (streq_ptr(json_get_string(json_array_get_object_element(owners, i), "uid"), owner->uid))
                        return true;
        return false;
}

JsonObject *object_owner_reference(Object *owner, const char *api_version) {
        JsonObject *ref = json_object_new();
        json_object_set_string_member(ref, "apiVersion", api_version);
        json_object_set_string_member(ref, "kind", owner->kind->kind);
        json_object_set_string_member(ref, "name", owner->name);
        json_object_set_string_member(ref, "uid", owner->uid);
        json_object_set_boolean_member(ref, "controller", TRUE);
        json_object_set_boolean_member(ref, "blockOwnerDeletion", TRUE);
        return ref;
}

const char *object_condition(Object *o, const char *type, const char *field) {
        JsonArray *conds = json_get_array(json_get_object(object_root(o), "status"), "conditions");
        for (guint i = 0; conds && i < json_array_get_length(conds); i++) {
                JsonObject *c = json_array_get_object_element(conds, i);
                if (streq_ptr(json_get_string(c, "type"), type))
                        return json_get_string(c, field);
        }
        return NULL;
}
