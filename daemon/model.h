/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "kind.h"
#include "labelselector.h"
#include "object.h"
#include "schema.h"

/* The object model, edgevirt's "API server": the stored objects, the verbs
 * that change them (each one transaction), and the reconcile queue that
 * controllers run from.  Knows nothing of D-Bus: changes are reported to
 * one observer, which the bus layer turns into signals. */
typedef struct Model Model;

typedef enum ModelEvent {
        MODEL_EVENT_ADDED,
        MODEL_EVENT_CHANGED,
        MODEL_EVENT_REMOVED,
} ModelEvent;

typedef void (*ModelObserver)(Model *m, Object *o, ModelEvent event, void *userdata);

typedef struct ModelLimits {
        size_t max_document_size;       /* bytes of one Apply text */
        unsigned max_objects_per_apply;
        unsigned max_objects_per_namespace;
} ModelLimits;

int model_new(sd_event *event, const char *state_dir, const ModelLimits *limits, Model **ret, GError **error);
Model *model_free(Model *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Model, model_free)
/* Much memory was just freed (a large reply sent): hand what malloc keeps
 * of it back to the system when the document trees' timer next runs. */
void model_trim_soon(Model *m);

void model_set_observer(Model *m, ModelObserver f, void *userdata);
/* Facts kept beside the document changed (a guest agent's): tell the
 * observer as if the object had (watches are not told: no document changed). */
void model_notify_changed(Model *m, Object *o);

/* How controllers meet, as Kubernetes' meet through the API server: a
 * controller watches the kinds it depends on besides its own (several
 * watches per kind, called in the order added).
 * - changed: after each commit, for every object of the kind added, changed
 *   or removed (removed: no longer in the model).  It looks and queues
 *   (model_enqueue) what depends on the object; it changes nothing.
 * - reconcile: each time an object of the kind is reconciled, before the
 *   kind's own reconcile: a second controller of those objects (CDI's
 *   import into annotated claims).
 * Either may be NULL. */
typedef struct ModelWatch {
        void (*changed)(Model *m, Object *o, ModelEvent event, void *userdata);
        void (*reconcile)(Model *m, Object *o, void *userdata);
} ModelWatch;

void model_watch(Model *m, const KindInfo *kind, const ModelWatch *w, void *userdata);
void model_unwatch(Model *m, const ModelWatch *w, void *userdata);

typedef struct Services Services;
void model_set_services(Model *m, Services *s);
Services *model_services(Model *m);

/* Make the objects of a kind the daemon owns (read_only kinds) exactly
 * docs: create or update each, remove the others.  One transaction. */
int model_sync(Model *m, const KindInfo *kind, GPtrArray *docs, GError **error);

typedef struct ApplyOptions {
        const char *namespace;          /* for documents without one; NULL = "default" */
        bool namespace_is_default;      /* documents naming another namespace are fine
                                         * (kubectl's context namespace, not -n) */
        bool dry_run;
        FieldValidation field_validation;
        bool system;                    /* the daemon itself (a controller): read-only kinds too */
        GPtrArray *references;          /* out, optional: ObjectReference of every admitted
                                         * document (references.h), for the caller's rights */
} ApplyOptions;

/* Create or update every object in a YAML/JSON text (one or many
 * documents, "kind: List" expanded) in one transaction.  Returns which
 * objects (ObjectName) in document order; warnings (Warn validation) are appended to
 * warnings.  Nothing changes on error. */
int model_apply(Model *m, const char *text, size_t len, const ApplyOptions *opts,
                GPtrArray **ret_names, GPtrArray *warnings, GError **error);

/* The objects (ObjectName) an Apply of text would write, from the documents alone
 * (names and namespaces as given or defaulted; nothing looked up), so a
 * caller is authorized before anything stored can answer for it. */
int model_apply_targets(Model *m, const char *text, size_t len, const ApplyOptions *opts, GPtrArray **ret_names,
                        GError **error);

/* A controller's Apply of one document it built (strict validation;
 * system: read-only kinds too). */
int model_apply_object(Model *m, JsonObject *doc, bool system, GError **error);
/* A name from metadata.generateName: prefix (cut to 58 characters) and
 * 5 random characters of Kubernetes' alphabet.  Not checked to be free. */
char *model_generate_name(const char *prefix);

typedef enum Propagation {
        PROPAGATION_BACKGROUND,
        PROPAGATION_FOREGROUND,
        PROPAGATION_ORPHAN,
} Propagation;

int propagation_from_string(const char *s, Propagation *ret);

typedef struct DeleteOptions {
        Propagation propagation;
        bool dry_run;
        const char *resource_version;   /* precondition, may be NULL */
        const char *uid;                /* precondition, may be NULL */
} DeleteOptions;

int model_delete(Model *m, const KindInfo *kind, const char *namespace, const char *name,
                 const DeleteOptions *opts, GError **error);

/* Create a namespace (AlreadyExists if it exists): oc new-project. */
int model_create_namespace(Model *m, const char *name, JsonObject *labels, JsonObject *annotations,
                           bool dry_run, GError **error);

/* Lookups return borrowed objects. */
int model_get(Model *m, const KindInfo *kind, const char *namespace, const char *name,
              Object **ret, GError **error);
Object *model_find_uid(Model *m, const char *uid);
/* kind NULL = every kind; namespace NULL = every namespace; sel may be NULL.
 * Sorted by namespace, then name. */
GPtrArray *model_list(Model *m, const KindInfo *kind, const char *namespace, const LabelSelector *sel);
uint64_t model_resource_version(Model *m);

/* For controllers: replace an object's document (status or finalizers)
 * or remove it, each in its own transaction. */
int model_update(Model *m, Object *o, JsonNode *doc, GError **error);
/* A controller's status write (model_update, taking doc): a failure is
 * logged rather than returned, at most one line per 10 s for the whole model
 * with the number left out — a full file system fails every write, several
 * a second (docs/architecture.md, Recovery). */
void model_write_status(Model *m, Object *o, JsonNode *doc);
int model_delete_object(Model *m, Object *o, Propagation propagation, GError **error);

/* Queue an object for its kind's reconcile on the main loop. */
void model_enqueue(Model *m, Object *o);
/* ... after usec (it waits for something no change announces). */
void model_enqueue_later(Model *m, Object *o, uint64_t usec);
/* ... every object of a kind (what they depend on changed beside the
 * documents: the instances' controller listed libvirt's domains). */
void model_enqueue_kind(Model *m, const KindInfo *kind);

/* The uids of objects that name o as an owner, in the current state. */
bool model_has_dependents(Model *m, Object *o);
