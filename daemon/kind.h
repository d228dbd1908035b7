/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <json-glib/json-glib.h>

typedef struct Model Model;
typedef struct Object Object;

/* What the model knows of one object kind.  Adding a kind is one file pair:
 * daemon/<kind>.c defines its KindInfo (and dbus/<kind>-dbus.c its typed
 * interface, if it has one), plus one line in kind.c's table. */
typedef struct KindInfo {
        const char *kind;                 /* "Secret" */
        const char *group;                /* API group; "" for core */
        const char *const *versions;      /* accepted; the first is stored and served */
        const char *plural;               /* "secrets" */
        const char *const *short_names;   /* "cm", "ns" (may be NULL) */
        const char *path_segment;         /* D-Bus path segment below the namespace */
        const char *schema;               /* schema definition of the document */
        bool namespaced;
        bool name_is_label;               /* DNS-1123 label, else subdomain */
        /* Objects the daemon makes itself (StorageClasses from the
         * configuration): users may read them; changing them is Forbidden
         * with this reason. */
        const char *read_only;
        bool user_deletable;              /* ... yet users may delete them */
        bool bounded_apart;               /* a bound of its own (Events): not in MaxObjectsPerNamespace */
        bool quiet;                       /* comings and goings not logged (Events: they are the record) */

        /* Aliases (OpenShift's Project) are stored as another kind:
         * convert rewrites the document into that kind's form. */
        const struct KindInfo *stored_as;
        int (*convert)(JsonObject *doc, GError **error);

        /* Kind-specific validation and normalization of a schema-checked
         * document.  old is the stored document on update, NULL on create. */
        int (*admit)(Model *m, JsonObject *doc, JsonObject *old, GPtrArray *warnings, GError **error);
        /* Status of a new object. */
        void (*init_status)(JsonObject *doc);
        /* Converge toward the desired state; runs on the main loop after
         * the object (or something it depends on) changed. */
        int (*reconcile)(Model *m, Object *o);
        /* Kinds with their own cleanup (a namespace empties itself; later a
         * PVC frees its volume) are deleted in two steps: marked (a
         * deletionTimestamp; mark_deleting may adjust the document, e.g.
         * phase Terminating), then removed once finalize returns 1
         * (0: still waiting; it is called again on the next reconcile). */
        void (*mark_deleting)(JsonObject *doc);
        int (*finalize)(Model *m, Object *o);
} KindInfo;

extern const KindInfo kind_namespace;
extern const KindInfo kind_project;
extern const KindInfo kind_project_request;
extern const KindInfo kind_secret;
extern const KindInfo kind_configmap;
extern const KindInfo kind_storageclass;
extern const KindInfo kind_pvc;
extern const KindInfo kind_datavolume;
extern const KindInfo kind_vm;
extern const KindInfo kind_vmi;
extern const KindInfo kind_instancetype;
extern const KindInfo kind_cluster_instancetype;
extern const KindInfo kind_preference;
extern const KindInfo kind_cluster_preference;
extern const KindInfo kind_vmsnapshot;
extern const KindInfo kind_vmsnapshot_content;
extern const KindInfo kind_vmrestore;
extern const KindInfo kind_event;
extern const KindInfo kind_datasource;
extern const KindInfo kind_dataimportcron;
extern const KindInfo kind_vmpool;
extern const KindInfo kind_vmirs;
extern const KindInfo kind_vmexport;

/* Every kind, NULL-terminated. */
const KindInfo *const *kind_all(void);

/* The kind a document's apiVersion/kind names; -EOPNOTSUPP with a message
 * listing what is supported when none does. */
int kind_from_document(const char *api_version, const char *kind, const KindInfo **ret, GError **error);

/* The kind a user names on the command line or in Get/List/Delete:
 * "Secret", "secret", "secrets", "cm", "secrets.v1", "vm.kubevirt.io".
 * Aliases resolve to the stored kind. */
int kind_from_name(const char *name, const KindInfo **ret, GError **error);

/* "v1" or "group/v1" */
char *kind_api_version(const KindInfo *k);
