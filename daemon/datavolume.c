/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* DataVolume (cdi.kubevirt.io/v1beta1): CDI on one node.  A DataVolume owns
 * a PVC of its name; blank and pvc-clone sources are the PVC controller's
 * work (a new volume, a clone); http and upload sources run
 * edgevirt-importer, one process per import, supervised here with
 * sd_event_add_child and a pipe for its progress lines. */
#include <fcntl.h>
#include <stdio.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "datasource-status.h"
#include "datavolume-admit.h"
#include "datavolume-status.h"
#include "datavolume.h"
#include "imagecache.h"
#include "import-slots.h"
#include "object-slots.h"
#include "import-source.h"
#include "importer-run.h"
#include "json-util.h"
#include "model.h"
#include "pvc-status.h"
#include "services.h"
#include "snapshot-status.h"
#include "util.h"
#include "validate.h"

#define PROGRESS_WRITE_USEC (1 * G_USEC_PER_SEC)     /* status writes while importing */
#define BACKOFF_MAX_SECONDS 300
#define CDI_GROUP_VERSION "cdi.kubevirt.io/v1beta1"

typedef struct ImportJob {
        DataVolumeController *c;
        char *dv_uid;
        char *pvc_uid;
        ImporterRun *run;
        char *image_ref;                /* registry: the image's reference */
        char *image;                    /* and the digest it resolved to: held in the cache */
        double progress;                /* 0..100, -1 unknown */
        uint64_t last_write;
        char *scratch;
        bool upload;
        bool cancelled;
        bool waiting;                   /* backing off before resuming: no slot held */
        GPtrArray *labels;              /* registry: the image's "key=value" default-instancetype labels */
} ImportJob;

struct DataVolumeController {
        Model *model;
        Services *services;
        GHashTable *jobs;               /* dv uid -> ImportJob */
        GHashTable *uploads;            /* dv uid -> fd a client handed in, waiting */
        GHashTable *not_before;         /* dv uid -> monotonic usec: backing off until then */
        ObjectSlots *slots;             /* their requests for import slots */
        sd_event_source *retry;
};

static JsonObject *spec_of(JsonObject *doc) {
        return json_get_object(doc, "spec");
}

static JsonObject *source_of(JsonObject *doc) {
        return json_get_object(spec_of(doc), "source");
}

/* --- the rules (pure) --- */

static bool is_clone(const char *source) {
        return streq_ptr(source, "pvc") || streq_ptr(source, "snapshot") || streq_ptr(source, "sourceRef");
}

DvStep datavolume_next_step(const DvFacts *f) {
        if (f->importing)
                return DV_STEP_WAIT;
        if (streq_ptr(f->phase, "Succeeded") || streq_ptr(f->phase, "Failed"))
                return f->claim ? DV_STEP_WAIT : DV_STEP_RECLAIM;
        if (!f->claim)
                return DV_STEP_MAKE_CLAIM;
        if (!f->claim_owned)
                return DV_STEP_NOT_OWNED;
        if (!streq_ptr(f->claim_phase, "Bound"))
                return DV_STEP_CLAIM_PENDING;
        if (streq_ptr(f->source, "blank") || is_clone(f->source))
                return DV_STEP_DONE;
        if (streq_ptr(f->source, "upload"))
                return f->upload_waiting ? DV_STEP_UPLOAD : DV_STEP_UPLOAD_READY;
        return f->backing_off ? DV_STEP_BACK_OFF : DV_STEP_IMPORT;
}

const char *datavolume_step_phase(DvStep step, const char *source) {
        switch (step) {
        case DV_STEP_RECLAIM:
        case DV_STEP_MAKE_CLAIM:
        case DV_STEP_NOT_OWNED:
                return "Pending";
        case DV_STEP_CLAIM_PENDING:
                return is_clone(source) ? "CloneScheduled" : "Pending";
        case DV_STEP_DONE:
                return "Succeeded";
        case DV_STEP_UPLOAD_READY:
                return "UploadReady";
        case DV_STEP_UPLOAD:
                return "UploadScheduled";
        case DV_STEP_IMPORT:
                return "ImportScheduled";
        case DV_STEP_WAIT:
        case DV_STEP_BACK_OFF:
                break;
        }
        return NULL;
}

DvOutcome datavolume_import_outcome(int code, bool upload, int64_t restarts) {
        if (code == 0)
                return (DvOutcome) { .phase = "Succeeded", .reason = "Completed" };
        if (upload)     /* the client may send again */
                return (DvOutcome) { .phase = "UploadReady", .reason = "UploadFailed", .restart = true };
        if (code == 2 || code < 0)
                return (DvOutcome) { .phase = "ImportScheduled", .reason = "ImportFailed", .restart = true,
                                     .backoff = MIN(BACKOFF_MAX_SECONDS, 1u << MIN(MAX(restarts, 0), 8)) };
        return (DvOutcome) { .phase = "Failed", .reason = "ImportFailed" };
}

const char *datavolume_pod_phase(const char *phase, bool running) {
        return streq_ptr(phase, "Succeeded") ? "Succeeded" : streq_ptr(phase, "Failed") ? "Failed" :
               running ? "Running" : "Pending";
}

static void dv_init_status(JsonObject *doc) {
        JsonObject *status = json_object_new();
        json_object_set_string_member(status, "phase", "Pending");
        json_object_set_string_member(status, "progress", "N/A");
        json_object_set_int_member(status, "restartCount", 0);
        json_object_set_object_member(doc, "status", status);
}

/* --- status --- */

typedef struct DvStatus {
        const char *phase;
        double progress;                /* < 0: keep */
        const char *reason, *message;   /* for the Ready/Running conditions */
        bool running;
        bool bound;
        int restart_delta;
} DvStatus;

/* A PVC imported through CDI's annotations reports the way CDI does: in
 * annotations of its own. */
static void write_pvc_annotations(DataVolumeController *c, Object *pvc, const DvStatus *u) {
        g_autoptr(GError) e = NULL;
        JsonNode *doc = json_deep_copy(object_doc(pvc));
        JsonObject *ann = json_ensure_object(json_ensure_object(json_node_get_object(doc), "metadata"), "annotations");
        const char *phase = datavolume_pod_phase(u->phase, u->running);
        char restarts[32];

        json_object_set_string_member(ann, ANN_POD_PHASE, phase);
        g_snprintf(restarts, sizeof restarts, "%" G_GINT64_FORMAT,
                   g_ascii_strtoll(json_get_string(ann, ANN_POD_RESTARTS) ?: "0", NULL, 10) + u->restart_delta);
        json_object_set_string_member(ann, ANN_POD_RESTARTS, restarts);
        json_object_set_string_member(ann, ANN_RUNNING_REASON, u->reason ? u->reason : "");
        json_object_set_string_member(ann, ANN_RUNNING_MESSAGE, u->message ? u->message : "");
        if (model_update(c->model, pvc, doc, &e) < 0)
                log_object(G_LOG_LEVEL_WARNING, pvc, "cannot write import status: %s", e->message);
}

static void write_status(DataVolumeController *c, Object *dv, const DvStatus *u) {
        if (dv->kind == &kind_pvc) {
                write_pvc_annotations(c, dv, u);
                return;
        }
        JsonNode *doc = json_deep_copy(object_doc(dv));
        JsonObject *status = json_ensure_object(json_node_get_object(doc), "status");
        json_object_set_string_member(status, "phase", u->phase);
        json_object_set_string_member(status, "claimName", dv->name);
        if (u->progress >= 0) {
                g_autofree char *p = g_strdup_printf("%.2f%%", u->progress);
                json_object_set_string_member(status, "progress", p);
        }
        if (u->restart_delta)
                json_object_set_int_member(status, "restartCount",
                                           json_get_int(status, "restartCount", 0) + u->restart_delta);
        status_set_condition(status, "Bound", u->bound, u->bound ? "Bound" : "Pending",
                      u->bound ? "PVC is bound" : u->message);
        status_set_condition(status, "Running", u->running, u->reason, u->running ? NULL : u->message);
        status_set_condition(status, "Ready", streq(u->phase, "Succeeded"), u->reason, u->message);
        model_write_status(c->model, dv, doc);
}

/* --- the claim --- */

static Object *claim_of(DataVolumeController *c, Object *dv) {
        Object *pvc = NULL;
        if (model_get(c->model, &kind_pvc, dv->namespace, dv->name, &pvc, NULL) < 0)
                return NULL;
        return pvc;
}

/* The PVC a DataVolume asks for, owned by it. */
static int create_claim(DataVolumeController *c, Object *dv, GError **error) {
        JsonObject *doc = object_root(dv), *spec = spec_of(doc);
        JsonObject *claim = json_get_object(spec, "pvc") ? json_get_object(spec, "pvc") :
                            json_get_object(spec, "storage");
        g_autoptr(JsonObject) pvc = json_object_new();
        JsonObject *meta = json_object_new(), *pspec = json_object_new();
        JsonArray *owners = json_array_new();
        g_autoptr(JsonNode) claim_copy = claim ?
                json_deep_copy(json_object_get_member(spec, json_get_object(spec, "pvc") ? "pvc" : "storage")) : NULL;

        json_object_set_string_member(pvc, "apiVersion", "v1");
        json_object_set_string_member(pvc, "kind", "PersistentVolumeClaim");
        json_object_set_string_member(meta, "name", dv->name);
        json_object_set_string_member(meta, "namespace", dv->namespace);
        json_array_add_object_element(owners, object_owner_reference(dv, CDI_GROUP_VERSION));
        json_object_set_array_member(meta, "ownerReferences", owners);
        JsonObject *labels = json_get_object(object_metadata(dv), "labels");
        if (labels)
                json_object_set_object_member(meta, "labels", json_object_ref(labels));
        json_object_set_object_member(pvc, "metadata", meta);

        if (claim_copy && JSON_NODE_HOLDS_OBJECT(claim_copy)) {
                json_object_unref(pspec);
                pspec = json_object_ref(json_node_get_object(claim_copy));
        }
        /* spec.storage leaves defaults to the system, as CDI does */
        if (!json_get_array(pspec, "accessModes")) {
                JsonArray *modes = json_array_new();
                json_array_add_string_element(modes, "ReadWriteOnce");
                json_object_set_array_member(pspec, "accessModes", modes);
        }
        JsonObject *src = source_of(doc);
        g_autoptr(JsonObject) resolved = NULL;
        if (!src) {     /* spec.sourceRef: the DataSource's current source */
                JsonObject *ref = json_get_object(spec_of(doc), "sourceRef");
                if (datasource_resolve(c->model, dv->namespace, json_get_string(ref, "namespace"),
                                       json_get_string(ref, "name"), &resolved, error) < 0)
                        return -EAGAIN;
                JsonObject *snap = json_get_object(resolved, "snapshot");
                if (snap && !streq_ptr(json_get_string(snap, "namespace"), dv->namespace))
                        return ev_error_set(error, EOPNOTSUPP, "spec.sourceRef: DataSource %s names a volume snapshot "
                                            "of namespace %s: a volume snapshot is restored in its own namespace",
                                            json_get_string(ref, "name"), json_get_string(snap, "namespace"));
                src = resolved;
        }
        if (json_get_object(src, "pvc")) {
                JsonObject *from = json_get_object(src, "pvc"), *ref = json_object_new();
                const char *ns = json_get_string(from, "namespace") ? json_get_string(from, "namespace") :
                                 dv->namespace;
                json_object_set_string_member(ref, "kind", "PersistentVolumeClaim");
                json_object_set_string_member(ref, "name", json_get_string(from, "name"));
                json_object_set_string_member(ref, "namespace", ns);
                json_object_set_object_member(pspec, "dataSourceRef", ref);
                /* no size given: the source's */
                JsonObject *requests = json_ensure_object(json_ensure_object(pspec, "resources"), "requests");
                if (!json_get_string(requests, "storage")) {
                        Object *source = NULL;
                        if (model_get(c->model, &kind_pvc, ns, json_get_string(from, "name"), &source, NULL) < 0 ||
                            pvc_capacity_bytes(source) == 0)
                                return ev_error_set(error, ENOENT, "source PVC %s/%s not found or not bound yet", ns,
                                                    json_get_string(from, "name"));
                        g_autofree char *size = pvc_format_bytes(pvc_capacity_bytes(source));
                        json_object_set_string_member(requests, "storage", size);
                }
        }
        if (json_get_object(src, "snapshot")) {
                const char *name = json_get_string(json_get_object(src, "snapshot"), "name");
                JsonObject *ref = json_object_new();
                json_object_set_string_member(ref, "apiGroup", SNAPSHOT_STORAGE_GROUP);
                json_object_set_string_member(ref, "kind", "VolumeSnapshot");
                json_object_set_string_member(ref, "name", name);
                json_object_set_object_member(pspec, "dataSource", ref);
                JsonObject *requests = json_ensure_object(json_ensure_object(pspec, "resources"), "requests");
                if (!json_get_string(requests, "storage")) {
                        uint64_t bytes = 0;
                        if (snapshot_volume_size(c->model, dv->namespace, name, &bytes, error) < 0)
                                return -ENOENT;
                        g_autofree char *size = pvc_format_bytes(bytes);
                        json_object_set_string_member(requests, "storage", size);
                }
        }
        json_object_set_object_member(pvc, "spec", pspec);

        return model_apply_object(c->model, pvc, false, error);
}

/* --- imports --- */

/* Everything that may start an import: DataVolumes and annotated PVCs. */
static void enqueue_importers(DataVolumeController *c) {
        g_autoptr(GPtrArray) dvs = model_list(c->model, &kind_datavolume, NULL, NULL);
        g_autoptr(GPtrArray) pvcs = model_list(c->model, &kind_pvc, NULL, NULL);
        for (guint i = 0; i < dvs->len; i++)
                model_enqueue(c->model, dvs->pdata[i]);
        for (guint i = 0; i < pvcs->len; i++)
                if (datavolume_pvc_wants_import(pvcs->pdata[i]))
                        model_enqueue(c->model, pvcs->pdata[i]);
}

static void job_free(ImportJob *j) {
        if (!j)
                return;
        importer_run_free(j->run);
        if (j->image)
                imagecache_use(j->c->services->images, j->image, false);
        g_free(j->image);
        g_free(j->image_ref);
        if (j->scratch)         /* removing files blocks: on the worker pool */
                worker_submit(j->c->services->worker, ev_remove_tree, g_free, j->scratch);
        g_free(j->dv_uid);
        g_free(j->pvc_uid);
        if (j->labels)
                g_ptr_array_unref(j->labels);
        g_free(j);
}

static void job_progress(ImportJob *j, bool force) {
        DataVolumeController *c = j->c;
        Object *dv = model_find_uid(c->model, j->dv_uid);
        uint64_t now = g_get_monotonic_time();

        if (!dv || object_is_deleting(dv) || j->waiting || (!force && now - j->last_write < PROGRESS_WRITE_USEC))
                return;
        j->last_write = now;
        write_status(c, dv, &(DvStatus) {
                .phase = j->upload ? "UploadInProgress" : "ImportInProgress", .progress = MAX(j->progress, 0),
                .running = true, .bound = true, .reason = "Pod is running" });
}

/* The importer backs off before resuming a broken transfer ("wait"), its
 * slot given to others (importer-run.c), and goes on when it has one
 * again ("resume"). */
static void job_waits(ImportJob *j, unsigned seconds, const char *reason) {
        Object *dv = model_find_uid(j->c->model, j->dv_uid);

        j->waiting = reason != NULL;
        if (!reason) {
                job_progress(j, true);
                return;
        }
        if (!dv || object_is_deleting(dv))
                return;
        g_autofree char *msg = g_strdup_printf("transfer interrupted (%s): resuming in %u s, when an import slot "
                                               "is free",
                                               reason, seconds);
        write_status(j->c, dv, &(DvStatus) { .phase = "ImportScheduled", .progress = MAX(j->progress, 0), .bound = true,
                                             .reason = "TransferInterrupted", .message = msg });
}

static void on_line(const char *line, void *userdata) {
        ImportJob *j = userdata;
        guint64 done, total;
        unsigned seconds;
        const char *reason;
        if (importer_run_parse_wait(line, &seconds, &reason))
                job_waits(j, seconds, reason);
        else if (sscanf(line, "progress %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT, &done, &total) == 2) {
                if (total > 0)
                        j->progress = MIN(99.99, 100.0 * (double) done / (double) total);
                job_progress(j, false);
        } else if (g_str_has_prefix(line, "label ")) {
                if (!j->labels)
                        j->labels = g_ptr_array_new_with_free_func(g_free);
                if (j->labels->len < 16)
                        g_ptr_array_add(j->labels, g_strdup(line + strlen("label ")));
        } else {
                /* registry sources go through the image cache: the image
                 * this import reads is kept from being collected */
                char *digest = imagecache_importer_line(j->c->services->images, line, j->image_ref);
                if (digest && !j->image)
                        j->image = digest;
                else
                        g_free(digest);
        }
}

/* Wake at the monotonic time `at` (µs, as g_get_monotonic_time), or
 * earlier when already armed for sooner. */
static void schedule_retry(DataVolumeController *c, gint64 at) {
        uint64_t armed = 0;
        int enabled = 0;

        sd_event_source_get_enabled(c->retry, &enabled);
        if (enabled && sd_event_source_get_time(c->retry, &armed) >= 0 && armed <= (uint64_t) at)
                return;
        sd_event_source_set_time(c->retry, (uint64_t) at);
        sd_event_source_set_enabled(c->retry, SD_EVENT_ONESHOT);
}

/* The image's default instance type and preference onto the claim, as
 * CDI records a registry image's labels (a DataSource copies them). */
static void label_claim(DataVolumeController *c, ImportJob *j) {
        Object *pvc = model_find_uid(c->model, j->pvc_uid);
        g_autoptr(GError) e = NULL;

        if (!pvc || !j->labels)
                return;
        JsonNode *doc = json_deep_copy(object_doc(pvc));
        JsonObject *labels = json_ensure_object(json_ensure_object(json_node_get_object(doc), "metadata"), "labels");
        for (guint i = 0; i < j->labels->len; i++) {
                g_auto(GStrv) kv = g_strsplit(j->labels->pdata[i], "=", 2);
                if (kv[1] && validate_label_value(kv[1], NULL) == 0 && validate_qualified_name(kv[0], NULL) == 0)
                        json_object_set_string_member(labels, kv[0], kv[1]);
        }
        if (model_update(c->model, pvc, doc, &e) < 0)
                log_object(G_LOG_LEVEL_WARNING, pvc, "cannot write the image's labels: %s", e->message);
}

static void on_importer_exit(int code, const char *errors, void *userdata) {
        ImportJob *j = userdata;
        DataVolumeController *c = j->c;
        Object *dv;

        g_hash_table_steal(c->jobs, j->dv_uid);
        services_pvc_use(c->services, j->pvc_uid, false);
        dv = model_find_uid(c->model, j->dv_uid);
        if (!dv || object_is_deleting(dv) || j->cancelled) {
                if (dv)
                        model_enqueue(c->model, dv);
                job_free(j);
                return;
        }
        if (code == 0)
                label_claim(c, j);
        const char *why = *errors ? errors : "the importer failed";
        gint64 restarts = json_get_int(json_get_object(object_root(dv), "status"), "restartCount", 0);
        DvOutcome out = datavolume_import_outcome(code, j->upload, restarts);
        g_autofree char *msg = out.backoff ? g_strdup_printf("%s (retrying in %u s)",
                                                             code < 0 ? "the importer crashed" : why, out.backoff) :
                               g_strdup(code == 0 ? j->upload ? "Upload Complete" : "Import Complete" : why);
        write_status(c, dv, &(DvStatus) { .phase = out.phase, .progress = streq(out.phase, "Succeeded") ? 100.0 :
                                                                          streq(out.phase, "Failed") ? -1 : 0,
                                          .bound = true, .restart_delta = out.restart, .reason = out.reason,
                                          .message = msg });
        if (out.backoff) {
                gint64 *until = g_new(gint64, 1);
                *until = g_get_monotonic_time() + (gint64) out.backoff * G_USEC_PER_SEC;
                g_hash_table_replace(c->not_before, g_strdup(dv->uid), until);
                schedule_retry(c, *until);
        }
        job_free(j);
        /* the slot went to the next in the queue (importer-run.c) */
        model_enqueue(c->model, dv);
}

/* The remote source of an import and its field name: a DataVolume's
 * spec.source.http or .registry, or the http fields from a PVC's CDI
 * annotations. */
static JsonObject *http_source(Object *owner, const char **ret_field) {
        *ret_field = "http";
        if (owner->kind != &kind_pvc) {
                JsonObject *src = source_of(object_root(owner));
                if (json_get_object(src, "registry"))
                        *ret_field = "registry";
                return json_object_ref(json_get_object(src, *ret_field));
        }
        JsonObject *ann = json_get_object(object_metadata(owner), "annotations");
        JsonObject *http = json_object_new();
        json_object_set_string_member(http, "url", json_get_string(ann, ANN_ENDPOINT));
        if (json_get_string(ann, ANN_SECRET))
                json_object_set_string_member(http, "secretRef", json_get_string(ann, ANN_SECRET));
        if (json_get_string(ann, ANN_CERT_CONFIGMAP))
                json_object_set_string_member(http, "certConfigMap", json_get_string(ann, ANN_CERT_CONFIGMAP));
        return http;
}

static bool owner_source_is_registry(Object *owner) {
        return owner->kind != &kind_pvc && json_get_object(source_of(object_root(owner)), "registry");
}

/* Everything the importer needs for a remote source (import-source.h). */
static int http_arguments(DataVolumeController *c, Object *dv, const char *scratch, GStrvBuilder *argv,
                          GStrvBuilder *env, GError **error) {
        const char *field;
        g_autoptr(JsonObject) http = http_source(dv, &field);
        return import_source_arguments(c->model, dv->namespace, http, field, scratch, argv, env, error);
}

/* Start the importer for dv into pvc in the slot ticket (taken, even on
 * failure); upload_fd >= 0 is its stdin. */
static int start_import(DataVolumeController *c, Object *dv, Object *pvc, int upload_fd, ImportTicket *ticket,
                        GError **error) {
        g_autoptr(GStrvBuilder) argv = g_strv_builder_new(), env = g_strv_builder_new();
        g_auto(GStrv) args = NULL, envp = NULL;
        g_autofree char *path = pvc_volume_path(c->model, pvc);
        g_autofree char *target = g_strdup_printf("--target=%s", path);
        g_autofree char *size = g_strdup_printf("--size=%" G_GUINT64_FORMAT, pvc_capacity_bytes(pvc));
        g_autofree char *scratch = NULL;
        ImportJob *j = g_new0(ImportJob, 1);
        int r;

        j->c = c;
        j->dv_uid = g_strdup(dv->uid);
        j->pvc_uid = g_strdup(pvc->uid);
        j->upload = upload_fd >= 0;
        j->progress = -1;
        j->scratch = g_build_filename(c->services->state_dir, "scratch", dv->uid, NULL);
        if (g_mkdir_with_parents(j->scratch, 0700) < 0) {
                r = ev_error_set(error, errno, "cannot create %s: %s", j->scratch, g_strerror(errno));
                goto fail;
        }
        scratch = g_strdup_printf("--scratch=%s", j->scratch);
        g_strv_builder_add_many(argv, target, size, scratch, NULL);
        if (j->upload) {
                g_autofree char *idle = g_strdup_printf("--idle-timeout=%u", c->services->upload_idle_timeout);
                g_strv_builder_add_many(argv, "--stdin", idle, NULL);
        } else if ((r = http_arguments(c, dv, j->scratch, argv, env, error)) < 0)
                goto fail;
        else if (owner_source_is_registry(dv)) {
                const char *field;
                g_autoptr(JsonObject) reg = http_source(dv, &field);
                g_autofree char *cache = g_strdup_printf("--cache=%s", imagecache_dir(c->services->images));
                j->image_ref = g_strdup(json_get_string(reg, "url"));
                g_strv_builder_add(argv, cache);
        }
        args = g_strv_builder_end(argv);
        envp = g_strv_builder_end(env);
        if ((r = importer_run_start(c->services, (const char *const *) args, (const char *const *) envp, upload_fd,
                                    ticket, on_line, on_importer_exit, j, &j->run, error)) < 0)
                goto fail;
        ticket = NULL;          /* the run's */
        g_hash_table_insert(c->jobs, j->dv_uid, j);
        services_pvc_use(c->services, pvc->uid, true);
        job_progress(j, true);
        return 0;

fail:
        import_ticket_free(ticket);
        job_free(j);
        return r;
}

static void cancel(ImportJob *j) {
        j->cancelled = true;
        importer_run_kill(j->run);
}

/* --- reconcile --- */

/* Waiting for a slot (or holding one not used yet): write that, once. */
static void write_slot_wait(DataVolumeController *c, Object *o, const char *phase) {
        g_autofree char *msg = object_slots_message(c->slots, o->namespace);
        if (streq_ptr(object_status_string(o, "phase"), phase) &&
            streq_ptr(object_condition(o, "Ready", "reason"), phase))
                return;         /* said already: the numbers in the message may be old, the phase is not */
        write_status(c, o, &(DvStatus) { .phase = phase, .progress = 0, .bound = true, .reason = phase,
                                         .message = msg });
}

/* *wants_slot: the object waits for an import slot (a request it made
 * stays); otherwise one it no longer needs is given back. */
/* An upload whose data a client handed in, or an http or registry import:
 * one at a time per DataVolume, a few at once overall, fairly across
 * namespaces. */
static void start_when_slot(DataVolumeController *c, Object *dv, Object *pvc, DvStep step, bool *wants_slot) {
        const char *waiting = datavolume_step_phase(step, datavolume_source_kind(object_root(dv)));
        g_autoptr(GError) e = NULL;

        if (!object_slots_granted(c->slots, dv)) {
                /* an upload's fd waits with us; the idle clock starts with the importer */
                *wants_slot = true;
                write_slot_wait(c, dv, waiting);
                return;
        }
        if (step == DV_STEP_UPLOAD) {
                int fd = GPOINTER_TO_INT(g_hash_table_lookup(c->uploads, dv->uid)) - 1;
                g_hash_table_remove(c->uploads, dv->uid);
                int r = start_import(c, dv, pvc, fd, object_slots_take(c->slots, dv), &e);
                close(fd);
                if (r < 0)
                        write_status(c, dv, &(DvStatus) { .phase = "UploadReady", .progress = 0, .bound = true,
                                                          .reason = "UploadFailed", .message = e->message });
                return;
        }
        if (start_import(c, dv, pvc, -1, object_slots_take(c->slots, dv), &e) < 0)
                write_status(c, dv, &(DvStatus) { .phase = "Failed", .progress = -1, .bound = true,
                                                  .reason = "ImportFailed", .message = e->message });
}

/* *wants_slot: the object waits for an import slot (a request it made
 * stays); otherwise one it no longer needs is given back. */
static void reconcile_dv(Model *m, Object *dv, bool *wants_slot) {
        DataVolumeController *c = model_services(m)->datavolumes;
        const char *kind = datavolume_source_kind(object_root(dv));
        ImportJob *job = g_hash_table_lookup(c->jobs, dv->uid);
        gint64 *until = g_hash_table_lookup(c->not_before, dv->uid);
        g_autoptr(GError) e = NULL;
        Object *pvc = claim_of(c, dv);

        if (object_is_deleting(dv)) {
                if (job && !job->cancelled)
                        cancel(job);
                return;
        }
        DvFacts facts = {
                .source = kind,
                .phase = object_status_string(dv, "phase"),
                .importing = job != NULL,
                .claim = pvc != NULL,
                .claim_owned = pvc && object_owned_by(pvc, dv),
                .claim_phase = pvc ? object_status_string(pvc, "phase") : NULL,
                .upload_waiting = g_hash_table_contains(c->uploads, dv->uid),
                .backing_off = until && g_get_monotonic_time() < *until,
        };
        DvStep step = datavolume_next_step(&facts);
        const char *phase = datavolume_step_phase(step, kind);

        switch (step) {
        case DV_STEP_WAIT:
                return;
        case DV_STEP_RECLAIM:
                /* its claim was deleted: as CDI, make it again and fill it */
                write_status(c, dv, &(DvStatus) { .phase = phase, .progress = 0, .reason = "ClaimLost",
                                                  .message = "the PVC was deleted; creating it again" });
                G_GNUC_FALLTHROUGH;
        case DV_STEP_MAKE_CLAIM:
                if (create_claim(c, dv, &e) < 0)
                        write_status(c, dv, &(DvStatus) { .phase = phase, .progress = -1, .reason = "ClaimPending",
                                                          .message = e->message });
                return;         /* the new claim's changes queue us again */
        case DV_STEP_NOT_OWNED: {
                g_autofree char *msg = g_strdup_printf("a PVC %s/%s exists and is not owned by this DataVolume",
                                                       pvc->namespace, pvc->name);
                write_status(c, dv, &(DvStatus) { .phase = phase, .progress = -1, .reason = "ErrResourceExists",
                                                  .message = msg });
                return;
        }
        case DV_STEP_CLAIM_PENDING:
                write_status(c, dv, &(DvStatus) {
                        .phase = phase, .progress = -1, .reason = pvc_reason(pvc) ? pvc_reason(pvc) : "Pending",
                        .message = pvc_message(pvc) ? pvc_message(pvc) : "waiting for the PVC to be bound" });
                return;
        case DV_STEP_DONE:
                write_status(c, dv, &(DvStatus) {
                        .phase = phase, .progress = 100.0, .bound = true, .reason = "Completed",
                        .message = streq(kind, "blank") ? "Blank image created" : "Clone Complete" });
                return;
        case DV_STEP_UPLOAD_READY:
                if (!streq_ptr(facts.phase, phase))
                        write_status(c, dv, &(DvStatus) {
                                .phase = phase, .progress = 0, .bound = true, .reason = "UploadReady",
                                .message = "Upload into the DataVolume with Upload(fd)" });
                return;
        case DV_STEP_BACK_OFF:
                schedule_retry(c, *until);      /* backing off: the timer queues us */
                return;
        case DV_STEP_IMPORT:
                g_hash_table_remove(c->not_before, dv->uid);
                G_GNUC_FALLTHROUGH;
        case DV_STEP_UPLOAD:
                start_when_slot(c, dv, pvc, step, wants_slot);
                return;
        }
}

static int dv_reconcile(Model *m, Object *dv) {
        DataVolumeController *c = model_services(m)->datavolumes;
        bool wants_slot = false;

        reconcile_dv(m, dv, &wants_slot);
        if (!wants_slot)
                object_slots_drop(c->slots, dv->uid);
        return 0;
}

static int dv_finalize(Model *m, Object *dv) {
        DataVolumeController *c = model_services(m)->datavolumes;
        ImportJob *job = g_hash_table_lookup(c->jobs, dv->uid);
        int fd = GPOINTER_TO_INT(g_hash_table_lookup(c->uploads, dv->uid)) - 1;

        if (fd >= 0) {
                close(fd);
                g_hash_table_remove(c->uploads, dv->uid);
        }
        object_slots_drop(c->slots, dv->uid);
        if (job) {
                if (!job->cancelled)
                        cancel(job);
                return 0;       /* its exit queues us again */
        }
        return 1;
}

const KindInfo kind_datavolume = {
        .kind = "DataVolume",
        .group = "cdi.kubevirt.io",
        .versions = (const char *const[]) { "v1beta1", "v1alpha1", NULL },
        .plural = "datavolumes",
        .short_names = (const char *const[]) { "dv", "dvs", NULL },
        .path_segment = "datavolume",
        .schema = "io.kubevirt.cdi.v1beta1.DataVolume",
        .namespaced = true,
        .admit = datavolume_admit,
        .init_status = dv_init_status,
        .reconcile = dv_reconcile,
        .finalize = dv_finalize,
};

static void reconcile_pvc(DataVolumeController *c, Object *pvc, bool *wants_slot) {
        JsonObject *ann = json_get_object(object_metadata(pvc), "annotations");
        const char *phase = json_get_string(ann, ANN_POD_PHASE);
        ImportJob *job = g_hash_table_lookup(c->jobs, pvc->uid);
        g_autoptr(GError) e = NULL;

        if (!datavolume_pvc_wants_import(pvc))
                return;
        if (object_is_deleting(pvc)) {
                if (job && !job->cancelled)
                        cancel(job);
                return;
        }
        if (job || streq_ptr(phase, "Succeeded") || streq_ptr(phase, "Failed") ||
            !streq_ptr(object_status_string(pvc, "phase"), "Bound"))
                return;
        if (streq_ptr(json_get_string(ann, ANN_SOURCE), "none")) {
                write_status(c, pvc, &(DvStatus) { .phase = "Succeeded", .reason = "Completed",
                                                   .message = "Blank image created" });
                return;
        }
        gint64 *until = g_hash_table_lookup(c->not_before, pvc->uid);
        if (until && g_get_monotonic_time() < *until) {
                schedule_retry(c, *until);
                return;
        }
        g_hash_table_remove(c->not_before, pvc->uid);
        if (!object_slots_granted(c->slots, pvc)) {
                *wants_slot = true;     /* the grant queues us */
                return;
        }
        if (start_import(c, pvc, pvc, -1, object_slots_take(c->slots, pvc), &e) < 0)
                write_status(c, pvc, &(DvStatus) { .phase = "Failed", .reason = "ImportFailed",
                                                   .message = e->message });
}

/* A Bound PVC with CDI's import annotations: import into it as CDI does,
 * each time the claim is reconciled (a second controller of claims). */
static void claim_reconcile(Model *m, Object *pvc, void *userdata) {
        DataVolumeController *c = userdata;
        bool wants_slot = false;

        reconcile_pvc(c, pvc, &wants_slot);
        if (!wants_slot)
                object_slots_drop(c->slots, pvc->uid);
}

static const ModelWatch claim_watch = { .reconcile = claim_reconcile };

/* A DataSource changed: DataVolumes cloning from it that have no claim yet
 * (they waited for it to be Ready) look again. */
static void datasource_changed(Model *m, Object *ds, ModelEvent event, void *userdata) {
        g_autoptr(GPtrArray) dvs = model_list(m, &kind_datavolume, NULL, NULL);
        for (guint i = 0; i < dvs->len; i++) {
                Object *dv = dvs->pdata[i];
                JsonObject *ref = json_get_object(spec_of(object_root(dv)), "sourceRef");
                const char *ns = json_get_string(ref, "namespace");
                if (ref && streq_ptr(json_get_string(ref, "name"), ds->name) &&
                    streq(isempty(ns) ? dv->namespace : ns, ds->namespace) &&
                    !streq_ptr(object_status_string(dv, "phase"), "Succeeded"))
                        model_enqueue(m, dv);
        }
}

static const ModelWatch datasource_watch = { .changed = datasource_changed };

/* Uploads of ns whose fd waits here for an import slot. */
static unsigned uploads_waiting(DataVolumeController *c, const char *ns) {
        GHashTableIter it;
        const char *uid;
        unsigned n = 0;

        g_hash_table_iter_init(&it, c->uploads);
        while (g_hash_table_iter_next(&it, (void **) &uid, NULL)) {
                Object *o = model_find_uid(c->model, uid);
                n += o && streq(o->namespace, ns);
        }
        return n;
}

/* As many may wait as may run in one namespace. */
static unsigned upload_queue_limit(DataVolumeController *c) {
        ImportSlots *s = c->services->slots;
        return import_slots_max_per_namespace(s) ? import_slots_max_per_namespace(s) : import_slots_max_total(s);
}

int datavolume_upload(Model *m, Object *dv, int fd, GError **error) {
        DataVolumeController *c = model_services(m)->datavolumes;
        const char *phase = object_status_string(dv, "phase");

        if (!streq_ptr(datavolume_source_kind(object_root(dv)), "upload"))
                return ev_error_set(error, EINVAL, "DataVolume %s/%s does not take uploads: its source is %s",
                                    dv->namespace, dv->name, datavolume_source_kind(object_root(dv)));
        if (object_is_deleting(dv))
                return ev_error_set(error, EPERM, "DataVolume %s/%s is being deleted", dv->namespace, dv->name);
        if (!streq_ptr(phase, "UploadReady") || g_hash_table_contains(c->uploads, dv->uid) ||
            g_hash_table_contains(c->jobs, dv->uid))
                return ev_error_set(error, EBUSY, "DataVolume %s/%s is %s, not UploadReady", dv->namespace, dv->name,
                                    phase ? phase : "Pending");
        /* an upload waiting for a slot holds the client's fd: only a few per namespace */
        unsigned queued = uploads_waiting(c, dv->namespace), most = upload_queue_limit(c);
        if (queued >= most)
                return ev_error_set(error, EBUSY,
                                    "DataVolume %s/%s: %u upload%s in namespace %s already wait%s "
                                    "for an import slot (at most %u); try again when one has started",
                                    dv->namespace, dv->name, queued, queued == 1 ? "" : "s", dv->namespace,
                                    queued == 1 ? "s" : "", most);
        int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (copy < 0)
                return ev_error_set(error, errno, "cannot take the file descriptor: %s", g_strerror(errno));
        g_hash_table_insert(c->uploads, g_strdup(dv->uid), GINT_TO_POINTER(copy + 1));
        model_enqueue(m, dv);
        return 0;
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        enqueue_importers(userdata);
        return 0;
}

int datavolume_controller_new(Model *m, Services *s, DataVolumeController **ret) {
        DataVolumeController *c = g_new0(DataVolumeController, 1);
        int r;

        c->model = m;
        c->services = s;
        c->jobs = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify) job_free);
        c->uploads = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        c->not_before = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        r = object_slots_new(m, s, &c->slots);
        if (r < 0)
                return r;
        r = sd_event_add_time_relative(s->event, &c->retry, CLOCK_MONOTONIC, G_USEC_PER_SEC, 0, on_retry, c);
        if (r < 0)
                return r;
        sd_event_source_set_enabled(c->retry, SD_EVENT_OFF);
        /* imports that a restart interrupted start again */
        g_autoptr(GPtrArray) all = model_list(m, &kind_datavolume, NULL, NULL);
        for (guint i = 0; i < all->len; i++) {
                Object *dv = all->pdata[i];
                const char *phase = object_status_string(dv, "phase");
                bool upload = streq_ptr(phase, "UploadInProgress") || streq_ptr(phase, "UploadScheduled");
                /* an upload's fd did not survive the restart: the client sends again */
                if (streq_ptr(phase, "ImportInProgress") || upload)
                        write_status(c, dv, &(DvStatus) { .phase = upload ? "UploadReady" : "ImportScheduled",
                                                          .progress = 0, .bound = true, .restart_delta = 1,
                                                          .reason = "Restarted",
                                                          .message = "edgevirtd restarted during the transfer" });
        }
        g_autoptr(GPtrArray) pvcs = model_list(m, &kind_pvc, NULL, NULL);
        for (guint i = 0; i < pvcs->len; i++) {
                Object *pvc = pvcs->pdata[i];
                const char *phase = json_get_string(json_get_object(object_metadata(pvc), "annotations"),
                                                    ANN_POD_PHASE);
                if (datavolume_pvc_wants_import(pvc) && streq_ptr(phase, "Running"))
                        write_status(c, pvc, &(DvStatus) { .phase = "ImportScheduled", .restart_delta = 1,
                                                           .reason = "Restarted",
                                                           .message = "edgevirtd restarted during the transfer" });
        }
        model_watch(m, &kind_pvc, &claim_watch, c);
        model_watch(m, &kind_datasource, &datasource_watch, c);
        *ret = c;
        return 0;
}

DataVolumeController *datavolume_controller_free(DataVolumeController *c) {
        GHashTableIter it;
        ImportJob *j;

        if (!c)
                return NULL;
        model_unwatch(c->model, &claim_watch, c);
        model_unwatch(c->model, &datasource_watch, c);
        g_hash_table_iter_init(&it, c->jobs);
        while (g_hash_table_iter_next(&it, NULL, (void **) &j))
                importer_run_kill(j->run);
        object_slots_free(c->slots);
        g_hash_table_unref(c->jobs);
        g_hash_table_unref(c->uploads);
        g_hash_table_unref(c->not_before);
        sd_event_source_disable_unref(c->retry);
        g_free(c);
        return NULL;
}
