/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* DataImportCron (cdi.kubevirt.io/v1beta1), as CDI's
 * dataimportcron-controller: the registry named by spec.template is polled
 * at creation, when the spec changes and on spec.schedule (cron.h) — an
 * edgevirt-importer --resolve on the loop, never blocking it.  A digest
 * not imported yet becomes a DataVolume of the template named
 * <managedDataSource>-<12 hex digits of it> and labelled with the cron;
 * once it succeeds the DataSource spec.managedDataSource points at its
 * claim and the imports past importsToKeep, least recently used first,
 * are collected.  A poll that fails changes nothing but the cron's
 * UpToDate condition, which says why: the DataSource stays on the last
 * good import. */
#include "cron.h"
#include "datasource-status.h"
#include "datavolume-admit.h"
#include "dataimportcron.h"
#include "event.h"
#include "imagecache.h"
#include "import-source.h"
#include "importer-run.h"
#include "json-util.h"
#include "log.h"
#include "services.h"
#include "validate.h"
#include "util.h"

#define CDI_GROUP_VERSION "cdi.kubevirt.io/v1beta1"
#define ANN_DESIRED_DIGEST "cdi.kubevirt.io/storage.import.sourceDesiredDigest"
#define ANN_LAST_CRON_TIME "cdi.kubevirt.io/storage.import.lastCronTime"
#define ANN_LAST_USE_TIME "cdi.kubevirt.io/storage.import.lastUseTime"
#define ANN_IMMEDIATE_BINDING "cdi.kubevirt.io/storage.bind.immediate.requested"
#define DEFAULT_IMPORTS_TO_KEEP 3
#define DIGEST_NAME_LENGTH 12

typedef struct CronState CronState;

struct DataImportCronController {
        Model *model;
        Services *services;
        GHashTable *crons;              /* uid -> CronState */
};

/* What only this controller knows of a cron: its polls. */
struct CronState {
        DataImportCronController *c;
        char *uid;
        int64_t generation;             /* of the spec last polled; 0: never polled */
        int64_t polled;                 /* when (seconds since the epoch) */
        int64_t polling_generation;
        char *error;                    /* why the last poll failed; NULL: it worked */
        char *digest;                   /* what the running poll said */
        char *scratch;
        ImporterRun *run;               /* the poll running */
};

static JsonObject *spec_of(Object *o) {
        return json_get_object(object_root(o), "spec");
}

static JsonObject *registry_of(JsonObject *spec) {
        return json_get_object(json_get_object(json_get_object(json_get_object(spec, "template"), "spec"), "source"),
                               "registry");
}

static const char *cron_label(Object *o) {
        JsonObject *labels = object_labels(o);
        return labels ? json_get_string(labels, DATA_IMPORT_CRON_LABEL) : NULL;
}

/* --- admission --- */

static int dic_admit(Model *m, JsonObject *doc, JsonObject *old, GPtrArray *warnings, GError **error) {
        JsonObject *spec = json_get_object(doc, "spec"), *tmpl = json_get_object(spec, "template");
        const char *schedule = json_get_string(spec, "schedule");
        CronSchedule s;
        g_autoptr(GError) e = NULL;

        if (!isempty(schedule) && cron_parse(schedule, &s, &e) < 0)
                return ev_error_set(error, EINVAL, "spec.schedule: Invalid value: %s", e->message);
        if (validate_dns1123_subdomain(json_get_string(spec, "managedDataSource"), &e) < 0)
                return ev_error_set(error, EINVAL, "spec.managedDataSource: Invalid value: %s", e->message);
        if (json_get_int(spec, "importsToKeep", 0) < 0)
                return ev_error_set(error, EINVAL, "spec.importsToKeep: Invalid value: %" G_GINT64_FORMAT
                                    ": must be 0 or more", json_get_int(spec, "importsToKeep", 0));
        if (!json_get_object(tmpl, "spec"))
                return ev_error_set(error, EINVAL, "spec.template.spec: Required value");
        if (!registry_of(spec) || isempty(json_get_string(registry_of(spec), "url")))
                return ev_error_set(error, EOPNOTSUPP, "spec.template.spec.source.registry.url: Required value: "
                                    "edgevirt polls registry sources (docker://...); other sources are not "
                                    "supported in a DataImportCron");
        /* the template is a DataVolume's: CDI's rules for one */
        g_autoptr(JsonObject) dv = json_object_new();
        JsonObject *meta = json_object_new();
        json_object_set_string_member(meta, "namespace",
                                      json_get_string(json_get_object(doc, "metadata"), "namespace") ?: "");
        json_object_set_object_member(dv, "metadata", meta);
        json_object_set_object_member(dv, "spec", json_object_ref(json_get_object(tmpl, "spec")));
        if (datavolume_admit(m, dv, NULL, warnings, error) < 0) {
                ev_error_prefix(error, "spec.template");
                return -EINVAL;
        }
        return 0;
}

static void dic_init_status(JsonObject *doc) {
        JsonObject *status = json_object_new();
        status_set_condition(status, "UpToDate", false, "NoDigest", "No source digest");
        status_set_condition(status, "Progressing", false, "NoImport", "No current import");
        json_object_set_object_member(doc, "status", status);
}

/* --- polls --- */

static void poll_end(CronState *st) {
        st->run = importer_run_free(st->run);
        if (st->scratch)        /* removing files blocks: on the worker pool */
                worker_submit(st->c->services->worker, ev_remove_tree, g_free, g_steal_pointer(&st->scratch));
}

static void cron_state_free(CronState *st) {
        if (!st)
                return;
        if (st->run)
                importer_run_kill(st->run);
        poll_end(st);
        g_free(st->uid);
        g_free(st->error);
        g_free(st->digest);
        g_free(st);
}

static void poll_line(const char *line, void *userdata) {
        CronState *st = userdata;
        if (g_str_has_prefix(line, "manifest ")) {
                g_free(st->digest);
                st->digest = g_strdup(line + strlen("manifest "));
        }
}

/* A registry that cannot be reached: an image of the template's reference
 * in the image cache (loaded from an archive, `edgevirtctl images load`)
 * is taken as the poll's answer, so a box that gets its refreshes on a USB
 * stick still rolls forward.  Its import is served from the cache (the
 * URL names the digest, which the importer finds there). */
static bool poll_from_cache(DataImportCronController *c, CronState *st, Object *cron, const char *why) {
        const char *url = json_get_string(registry_of(spec_of(cron)), "url");
        ImageCacheEntry *e = url && c->services->images ? imagecache_lookup(c->services->images, url) : NULL;

        if (!e || !g_str_has_prefix(e->digest, "sha256:"))
                return false;
        if (!streq_ptr(json_get_string(json_get_object(object_metadata(cron), "annotations"), ANN_DESIRED_DIGEST),
                       e->digest))
                event_record(c->services->events, cron, false, "ImageFromCache",
                             "%s from the image cache: the registry cannot be reached (%s)", e->digest, why);
        g_free(st->digest);
        st->digest = g_strdup(e->digest);
        return true;
}

/* The poll's end: its digest (and the time) into the cron's annotations,
 * as CDI's poller does; a failure only into our memory. */
static void poll_exit(int code, const char *errors, void *userdata) {
        CronState *st = userdata;
        DataImportCronController *c = st->c;
        Object *cron = model_find_uid(c->model, st->uid);
        g_autoptr(GError) e = NULL;
        g_autofree char *why = g_strdup(errors);        /* the run's, freed with it */

        poll_end(st);
        st->polled = g_get_real_time() / G_USEC_PER_SEC;
        st->generation = st->polling_generation;
        g_clear_pointer(&st->error, g_free);
        if (code != 0 || !g_str_has_prefix(st->digest ?: "", "sha256:")) {
                const char *failure = !isempty(why) ? why : code == 0 ? "the registry named no sha256 manifest" :
                                      "the poll was killed";
                if (!cron || !poll_from_cache(c, st, cron, failure))
                        st->error = g_strdup(failure);
        }
        if (!st->error && cron) {
                g_autofree char *now = ev_timestamp_now();
                JsonNode *doc = json_deep_copy(object_doc(cron));
                JsonObject *ann = json_ensure_object(json_ensure_object(json_node_get_object(doc), "metadata"),
                                                     "annotations");
                json_object_set_string_member(ann, ANN_DESIRED_DIGEST, st->digest);
                json_object_set_string_member(ann, ANN_LAST_CRON_TIME, now);
                if (model_update(c->model, cron, doc, &e) < 0)
                        log_object(G_LOG_LEVEL_WARNING, cron, "cannot write the polled digest: %s", e->message);
        }
        if (cron)
                model_enqueue(c->model, cron);
}

static int poll_start(DataImportCronController *c, CronState *st, Object *cron, GError **error) {
        JsonObject *reg = registry_of(spec_of(cron));
        g_autoptr(GStrvBuilder) argv = g_strv_builder_new(), env = g_strv_builder_new();
        g_auto(GStrv) args = NULL, envp = NULL;
        g_autofree char *dir = g_strdup_printf("%s-poll", cron->uid);

        st->scratch = g_build_filename(c->services->state_dir, "scratch", dir, NULL);
        if (g_mkdir_with_parents(st->scratch, 0700) < 0)
                return ev_error_set(error, errno, "cannot create %s: %s", st->scratch, g_strerror(errno));
        if (import_source_arguments(c->model, cron->namespace, reg, "registry", st->scratch, argv, env, error) < 0) {
                ev_error_prefix(error, "spec.template");
                poll_end(st);
                return -EINVAL;
        }
        g_strv_builder_add(argv, "--resolve");
        args = g_strv_builder_end(argv);
        envp = g_strv_builder_end(env);
        g_clear_pointer(&st->digest, g_free);
        st->polling_generation = json_get_int(object_metadata(cron), "generation", 1);
        if (importer_run_start(c->services, (const char *const *) args, (const char *const *) envp, -1, NULL,
                               poll_line, poll_exit, st, &st->run, error) < 0) {
                poll_end(st);
                return -EIO;
        }
        return 0;
}

static CronState *state_of(DataImportCronController *c, Object *cron) {
        CronState *st = g_hash_table_lookup(c->crons, cron->uid);
        if (!st) {
                st = g_new0(CronState, 1);
                st->c = c;
                st->uid = g_strdup(cron->uid);
                g_hash_table_insert(c->crons, st->uid, st);
        }
        return st;
}

/* When the schedule fires next after the last poll; -1: no schedule. */
static int64_t next_poll(Object *cron, const CronState *st) {
        const char *schedule = json_get_string(spec_of(cron), "schedule");
        CronSchedule s;
        if (isempty(schedule) || cron_parse(schedule, &s, NULL) < 0)
                return -1;
        return cron_next(&s, st->polled);
}

/* Poll when never polled (created, or the daemon started), the spec
 * changed since, or the schedule fired since. */
static void maybe_poll(DataImportCronController *c, CronState *st, Object *cron) {
        int64_t now = g_get_real_time() / G_USEC_PER_SEC, next = next_poll(cron, st);
        g_autoptr(GError) e = NULL;

        if (st->run)
                return;
        if (st->generation != 0 && st->generation == json_get_int(object_metadata(cron), "generation", 1) &&
            (next < 0 || next > now))
                return;
        if (poll_start(c, st, cron, &e) < 0) {
                st->polled = now;
                st->generation = json_get_int(object_metadata(cron), "generation", 1);
                g_free(st->error);
                st->error = g_strdup(e->message);
        }
}

/* --- imports --- */

/* "docker://host/repo:tag" pinned to digest: "docker://host/repo@digest". */
static char *pinned_url(const char *url, const char *digest) {
        g_autofree char *base = g_strdup(url);
        char *at = strchr(base, '@'), *slash, *colon;
        if (at)
                *at = '\0';
        slash = strrchr(base, '/');
        colon = strrchr(slash ? slash : base, ':');
        if (colon && slash && colon > slash)
                *colon = '\0';
        return g_strdup_printf("%s@%s", base, digest);
}

static char *import_name(Object *cron, const char *digest) {
        const char *hex = digest + strlen("sha256:");
        return g_strdup_printf("%s-%.*s", json_get_string(spec_of(cron), "managedDataSource"), DIGEST_NAME_LENGTH,
                               hex);
}

static JsonObject *copy_or_new(JsonObject *o) {
        if (!o)
                return json_object_new();
        g_autoptr(JsonNode) n = json_node_init_object(json_node_alloc(), o);
        g_autoptr(JsonNode) copy = json_deep_copy(n);
        return json_object_ref(json_node_get_object(copy));
}

static char *use_time_now(void) {
        g_autoptr(GDateTime) now = g_date_time_new_now_utc();
        return g_date_time_format(now, "%Y-%m-%dT%H:%M:%S.%fZ");
}

/* The template as a DataVolume of its own, pinned to the digest, as CDI's
 * newSourceDataVolume makes it. */
static int create_import(Model *m, Object *cron, const char *name, const char *digest, GError **error) {
        JsonObject *tmpl = json_get_object(spec_of(cron), "template");
        g_autoptr(JsonObject) doc = json_object_new();
        JsonObject *meta = json_object_new();
        JsonObject *tmeta = json_get_object(tmpl, "metadata");
        JsonObject *labels = copy_or_new(json_get_object(tmeta, "labels"));
        JsonObject *annotations = copy_or_new(json_get_object(tmeta, "annotations"));
        JsonNode *spec = json_deep_copy(json_object_get_member(tmpl, "spec"));
        JsonObject *reg = json_get_object(json_get_object(json_node_get_object(spec), "source"), "registry");
        g_autofree char *url = pinned_url(json_get_string(reg, "url"), digest);
        g_autofree char *now = use_time_now();

        json_object_set_string_member(doc, "apiVersion", CDI_GROUP_VERSION);
        json_object_set_string_member(doc, "kind", "DataVolume");
        json_object_set_string_member(meta, "name", name);
        json_object_set_string_member(meta, "namespace", cron->namespace);
        json_object_set_string_member(labels, DATA_IMPORT_CRON_LABEL, cron->name);
        datasource_copy_default_labels(object_labels(cron), labels);   /* CDI's passCronLabelToDv */
        json_object_set_object_member(meta, "labels", labels);
        json_object_set_string_member(annotations, ANN_IMMEDIATE_BINDING, "true");
        json_object_set_string_member(annotations, ANN_LAST_USE_TIME, now);
        json_object_set_object_member(meta, "annotations", annotations);
        json_object_set_object_member(doc, "metadata", meta);
        json_object_set_string_member(reg, "url", url);
        json_object_set_member(doc, "spec", spec);
        return model_apply_object(m, doc, false, error);
}

/* The DataSource the cron manages: made if missing, pointed at the last
 * import (last: status.lastImportedPVC, may be NULL); one of that name
 * not labelled with the cron is left alone, as CDI does. */
static int update_datasource(Model *m, Object *cron, JsonNode *last) {
        const char *name = json_get_string(spec_of(cron), "managedDataSource");
        g_autoptr(JsonNode) node = NULL;
        g_autoptr(GError) e = NULL;
        Object *ds = NULL;

        if (model_get(m, &kind_datasource, cron->namespace, name, &ds, NULL) == 0) {
                JsonObject *src = json_get_object(spec_of(ds), "source");
                if (!streq_ptr(cron_label(ds), cron->name))
                        return 0;
                node = json_deep_copy(object_doc(ds));
                JsonObject *meta = json_ensure_object(json_node_get_object(node), "metadata");
                bool relabel = datasource_copy_default_labels(object_labels(cron), json_ensure_object(meta, "labels"));
                if (!last && src)
                        last = json_object_get_member(src, "pvc");
                if (!relabel && src && json_object_get_size(src) == (last ? 1 : 0) &&
                    (!last || json_equal(json_object_get_member(src, "pvc"), last)))
                        return 0;
        } else {
                JsonObject *doc = json_object_new(), *meta = json_object_new(), *labels = json_object_new();
                json_object_set_string_member(doc, "apiVersion", CDI_GROUP_VERSION);
                json_object_set_string_member(doc, "kind", "DataSource");
                json_object_set_string_member(meta, "name", name);
                json_object_set_string_member(meta, "namespace", cron->namespace);
                json_object_set_string_member(labels, DATA_IMPORT_CRON_LABEL, cron->name);
                datasource_copy_default_labels(object_labels(cron), labels);
                json_object_set_object_member(meta, "labels", labels);
                json_object_set_object_member(doc, "metadata", meta);
                node = json_node_init_object(json_node_alloc(), doc);
                json_object_unref(doc);
        }
        JsonObject *doc = json_node_get_object(node), *source = json_object_new();
        json_object_remove_member(doc, "status");
        if (last)
                json_object_set_member(source, "pvc", json_deep_copy(last));
        json_object_set_object_member(json_ensure_object(doc, "spec"), "source", source);
        if (model_apply_object(m, doc, false, &e) < 0) {
                log_object(G_LOG_LEVEL_WARNING, cron, "cannot write DataSource %s: %s", name, e->message);
                return -EIO;
        }
        return 0;
}

/* When an import (a DataVolume, or a claim left of one) was last used. */
static const char *last_use(Object *o) {
        JsonObject *ann = json_get_object(object_metadata(o), "annotations");
        return json_get_string(ann, ANN_LAST_USE_TIME) ?: object_meta_string(o, "creationTimestamp") ?: "";
}

static gint newest_first(gconstpointer a, gconstpointer b) {
        return strcmp(last_use(*(Object *const *) b), last_use(*(Object *const *) a));
}

/* The cron's imports (its DataVolumes, and claims whose DataVolume is
 * gone), newest use first. */
static GPtrArray *imports_of(Model *m, Object *cron) {
        GPtrArray *out = g_ptr_array_new();
        g_autoptr(GPtrArray) dvs = model_list(m, &kind_datavolume, cron->namespace, NULL);
        g_autoptr(GPtrArray) pvcs = model_list(m, &kind_pvc, cron->namespace, NULL);
        Object *dv;

        for (guint i = 0; i < dvs->len; i++)
                if (streq_ptr(cron_label(dvs->pdata[i]), cron->name) && !object_is_deleting(dvs->pdata[i]))
                        g_ptr_array_add(out, dvs->pdata[i]);
        for (guint i = 0; i < pvcs->len; i++) {
                Object *p = pvcs->pdata[i];
                if (streq_ptr(cron_label(p), cron->name) && !object_is_deleting(p) &&
                    model_get(m, &kind_datavolume, p->namespace, p->name, &dv, NULL) < 0)
                        g_ptr_array_add(out, p);
        }
        g_ptr_array_sort(out, newest_first);
        return out;
}

/* CDI's garbageCollectOldImports: past importsToKeep, the least recently
 * used go (a DataVolume with its claim).  The import the DataSource
 * names is never collected, whatever importsToKeep says. */
static void collect_imports(Model *m, Object *cron, const char *current) {
        JsonObject *spec = spec_of(cron);
        int64_t keep = json_get_int(spec, "importsToKeep", DEFAULT_IMPORTS_TO_KEEP);
        g_autoptr(GPtrArray) imports = NULL;

        if (streq_ptr(json_get_string(spec, "garbageCollect"), "Never"))
                return;
        imports = imports_of(m, cron);
        for (guint i = 0, kept = 0; i < imports->len; i++) {
                Object *o = imports->pdata[i];
                g_autoptr(GError) e = NULL;
                if (streq_ptr(o->name, current) || kept < keep) {
                        kept++;
                        continue;
                }
                log_object(G_LOG_LEVEL_INFO, cron, "collecting the old import %s", o->name);
                if (model_delete_object(m, o, PROPAGATION_BACKGROUND, &e) < 0)
                        log_object(G_LOG_LEVEL_WARNING, cron, "cannot collect %s: %s", o->name, e->message);
        }
}

/* --- reconcile --- */

static void set_current_import(JsonObject *status, const char *name, const char *digest) {
        JsonArray *imports = json_array_new();
        JsonObject *i = json_object_new();
        json_object_set_string_member(i, "dataVolumeName", name);
        json_object_set_string_member(i, "digest", digest);
        json_array_add_object_element(imports, i);
        json_object_set_array_member(status, "currentImports", imports);
}

/* The current import's progress (CDI's update()): true once it succeeded. */
static bool import_done(Model *m, Object *cron, JsonObject *status, const char *name) {
        Object *dv = NULL, *pvc = NULL;

        if (name && model_get(m, &kind_datavolume, cron->namespace, name, &dv, NULL) == 0 &&
            !object_is_deleting(dv)) {
                const char *phase = object_status_string(dv, "phase") ?: "Pending";
                if (streq(phase, "Succeeded"))
                        return true;
                if (streq(phase, "ImportScheduled"))
                        status_set_condition(status, "Progressing", false, "ImportScheduled", "Import is scheduled");
                else if (streq(phase, "ImportInProgress"))
                        status_set_condition(status, "Progressing", true, "ImportProgressing", "Import is progressing");
                else {
                        g_autofree char *msg = g_strdup_printf("Import DataVolume phase %s", phase);
                        status_set_condition(status, "Progressing", false, phase, msg);
                }
                return false;
        }
        if (name && model_get(m, &kind_pvc, cron->namespace, name, &pvc, NULL) == 0 &&
            streq_ptr(object_status_string(pvc, "phase"), "Bound"))
                return true;
        /* gone: no current import */
        json_object_remove_member(status, "currentImports");
        status_set_condition(status, "Progressing", false, "NoImport", "No current import");
        return false;
}

/* A new success: the claim into status.lastImportedPVC, its DataVolume
 * marked used now (what collection keeps). */
static void note_success(Model *m, Object *cron, JsonObject *status, const char *name) {
        JsonObject *last = json_get_object(status, "lastImportedPVC");
        Object *dv = NULL;
        g_autoptr(GError) e = NULL;

        status_set_condition(status, "Progressing", false, "NoImport", "No current import");
        if (last && streq_ptr(json_get_string(last, "name"), name))
                return;
        JsonObject *pvc = json_object_new();
        g_autofree char *now = ev_timestamp_now();
        json_object_set_string_member(pvc, "name", name);
        json_object_set_string_member(pvc, "namespace", cron->namespace);
        json_object_set_object_member(status, "lastImportedPVC", pvc);
        json_object_set_string_member(status, "lastImportTimestamp", now);
        if (model_get(m, &kind_datavolume, cron->namespace, name, &dv, NULL) == 0) {
                g_autofree char *use = use_time_now();
                JsonNode *doc = json_deep_copy(object_doc(dv));
                JsonObject *ann = json_ensure_object(json_ensure_object(json_node_get_object(doc), "metadata"),
                                                     "annotations");
                json_object_set_string_member(ann, ANN_LAST_USE_TIME, use);
                if (model_update(m, dv, doc, &e) < 0)
                        log_object(G_LOG_LEVEL_WARNING, dv, "cannot mark the import used: %s", e->message);
        }
}

/* A new digest: its import, unless one of that name is there (a claim
 * kept from before), as CDI's createImportDataVolume. */
static void start_import(Model *m, Object *cron, JsonObject *status, const char *digest) {
        g_autofree char *name = import_name(cron, digest);
        g_autoptr(GError) e = NULL;
        Object *o = NULL;

        if (model_get(m, &kind_pvc, cron->namespace, name, &o, NULL) < 0 &&
            model_get(m, &kind_datavolume, cron->namespace, name, &o, NULL) < 0 &&
            create_import(m, cron, name, digest, &e) < 0) {
                g_autofree char *msg = g_strdup_printf("cannot create DataVolume %s: %s", name, e->message);
                status_set_condition(status, "Progressing", false, "ImportFailed", msg);
                return;
        }
        set_current_import(status, name, digest);
}

static void update(DataImportCronController *c, Object *cron, CronState *st) {
        Model *m = c->model;
        JsonNode *doc = json_deep_copy(object_doc(cron));
        JsonObject *root = json_node_get_object(doc), *status = json_ensure_object(root, "status");
        JsonObject *ann = json_get_object(json_get_object(root, "metadata"), "annotations");
        JsonArray *imports = json_get_array(status, "currentImports");
        JsonObject *current = imports && json_array_get_length(imports) ? json_array_get_object_element(imports, 0) :
                              NULL;
        g_autofree char *name = g_strdup(json_get_string(current, "dataVolumeName"));
        g_autofree char *imported = g_strdup(json_get_string(current, "digest"));
        const char *desired = json_get_string(ann, ANN_DESIRED_DIGEST);

        bool done = import_done(m, cron, status, name);
        if (done)
                note_success(m, cron, status, name);
        if (!json_get_array(status, "currentImports"))
                g_clear_pointer(&imported, g_free);
        update_datasource(m, cron, json_object_get_member(status, "lastImportedPVC"));
        if (done)
                collect_imports(m, cron, name);

        if (desired && !streq_ptr(desired, imported)) {
                status_set_condition(status, "UpToDate", false, "Outdated", "Source digest updated since last import");
                Object *dv = NULL;
                if (name && model_get(m, &kind_datavolume, cron->namespace, name, &dv, NULL) == 0 &&
                    streq_ptr(object_status_string(dv, "phase"), "Failed")) {
                        /* as CDI's deleteErroneousDataVolume: a new digest replaces a failed import */
                        (void) model_delete_object(m, dv, PROPAGATION_BACKGROUND, NULL);
                        json_object_remove_member(status, "currentImports");
                        done = true;
                }
                if (done || !json_get_array(status, "currentImports"))
                        start_import(m, cron, status, desired);
        } else if (done)
                status_set_condition(status, "UpToDate", true, "UpToDate", "Latest import is up to date");
        else if (json_get_array(status, "currentImports"))
                status_set_condition(status, "UpToDate", false, "ImportProgressing", "Import is progressing");
        else
                status_set_condition(status, "UpToDate", false, "NoDigest", "No source digest");
        if (st->error) {
                /* offline: nothing changes but this condition */
                JsonObject *last = json_get_object(status, "lastImportedPVC");
                g_autofree char *msg = g_strdup_printf("cannot poll %s: %s; DataSource %s stays on %s",
                                                       json_get_string(registry_of(spec_of(cron)), "url"), st->error,
                                                       json_get_string(spec_of(cron), "managedDataSource"),
                                                       last ? json_get_string(last, "name") : "no import");
                status_set_condition(status, "UpToDate", false, "PollFailed", msg);
        }
        const char *last_poll = json_get_string(ann, ANN_LAST_CRON_TIME);
        if (last_poll)
                json_object_set_string_member(status, "lastExecutionTimestamp", last_poll);
        json_object_set_string_member(status, "sourceFormat", "pvc");
        model_write_status(m, cron, doc);
}

static int dic_reconcile(Model *m, Object *cron) {
        DataImportCronController *c = model_services(m)->crons;

        if (!c || object_is_deleting(cron))
                return 0;
        CronState *st = state_of(c, cron);
        maybe_poll(c, st, cron);
        update(c, cron, st);
        int64_t next = next_poll(cron, st), now = g_get_real_time() / G_USEC_PER_SEC;
        if (!st->run && next >= 0)
                model_enqueue_later(m, cron, (uint64_t) MAX(next - now, 1) * G_USEC_PER_SEC);
        return 0;
}

/* retentionPolicy None: its imports and its DataSource go with it. */
static int dic_finalize(Model *m, Object *cron) {
        DataImportCronController *c = model_services(m)->crons;
        Object *ds = NULL;

        CronState *st = c ? g_hash_table_lookup(c->crons, cron->uid) : NULL;
        if (st && st->run) {
                importer_run_kill(st->run);
                return 0;       /* its end queues us again */
        }
        if (c)
                g_hash_table_remove(c->crons, cron->uid);
        if (!streq_ptr(json_get_string(spec_of(cron), "retentionPolicy"), "None"))
                return 1;
        g_autoptr(GPtrArray) imports = imports_of(m, cron);
        for (guint i = 0; i < imports->len; i++)
                (void) model_delete_object(m, imports->pdata[i], PROPAGATION_BACKGROUND, NULL);
        if (model_get(m, &kind_datasource, cron->namespace, json_get_string(spec_of(cron), "managedDataSource"), &ds,
                      NULL) == 0 && streq_ptr(cron_label(ds), cron->name))
                (void) model_delete_object(m, ds, PROPAGATION_BACKGROUND, NULL);
        return 1;
}

/* Its imports and its DataSource changed: the cron looks again. */
static void labelled_changed(Model *m, Object *o, ModelEvent event, void *userdata) {
        Object *cron = NULL;
        const char *name = cron_label(o);
        if (name && model_get(m, &kind_dataimportcron, o->namespace, name, &cron, NULL) == 0)
                model_enqueue(m, cron);
}

static const ModelWatch labelled_watch = { .changed = labelled_changed };

int dataimportcron_controller_new(Model *m, Services *s, DataImportCronController **ret) {
        DataImportCronController *c = g_new0(DataImportCronController, 1);
        c->model = m;
        c->services = s;
        c->crons = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify) cron_state_free);
        model_watch(m, &kind_datavolume, &labelled_watch, c);
        model_watch(m, &kind_pvc, &labelled_watch, c);
        model_watch(m, &kind_datasource, &labelled_watch, c);
        *ret = c;
        return 0;
}

DataImportCronController *dataimportcron_controller_free(DataImportCronController *c) {
        if (!c)
                return NULL;
        model_unwatch(c->model, &labelled_watch, c);
        g_hash_table_unref(c->crons);
        g_free(c);
        return NULL;
}

const KindInfo kind_dataimportcron = {
        .kind = "DataImportCron",
        .group = "cdi.kubevirt.io",
        .versions = (const char *const[]) { "v1beta1", NULL },
        .plural = "dataimportcrons",
        .short_names = (const char *const[]) { "dic", "dics", NULL },
        .path_segment = "dataimportcron",
        .schema = "io.kubevirt.cdi.v1beta1.DataImportCron",
        .namespaced = true,
        .admit = dic_admit,
        .init_status = dic_init_status,
        .reconcile = dic_reconcile,
        .finalize = dic_finalize,
};
