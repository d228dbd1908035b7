/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <unistd.h>

#include "event.h"
#include "json-util.h"
#include "log.h"
#include "util.h"

#define EXPIRE_INTERVAL_MAX_USEC (60 * G_USEC_PER_SEC)
#define MAX_MESSAGE 1024                /* bytes of an event's message kept */
#define MAX_PENDING 4096                /* records waiting for the loop; past it, new ones are dropped */
#define FLUSH_SLICE 16u                 /* records written per turn of the loop */

const KindInfo kind_event = {
        .kind = "Event",
        .group = "",
        .versions = (const char *const[]) { "v1", NULL },
        .plural = "events",
        .short_names = (const char *const[]) { "ev", NULL },
        .path_segment = "event",
        .schema = "io.k8s.api.core.v1.Event",
        .namespaced = true,
        .read_only = "edgevirtd records events itself (delete them, or let them expire: [Events] in edgevirtd.conf)",
        .user_deletable = true,
        .bounded_apart = true,          /* [Events] MaxPerNamespace= */
        .quiet = true,
};

/* One record waiting for the loop: recording never writes inside the
 * caller's transaction or watch. */
typedef struct Pending {
        char *namespace;
        JsonObject *involved;           /* an ObjectReference */
        char *involved_uid;
        bool warning;
        char *reason;
        char *message;
        char *timestamp;
} Pending;

struct EventRecorder {
        Model *model;
        EventLimits limits;
        GPtrArray *pending;             /* Pending */
        sd_event_source *flush;
        sd_event_source *expire;
        char *host;
        EventRecorderWatch watch;
};

static void pending_free(Pending *p) {
        g_free(p->namespace);
        if (p->involved)
                json_object_unref(p->involved);
        g_free(p->involved_uid);
        g_free(p->reason);
        g_free(p->message);
        g_free(p->timestamp);
        g_free(p);
}

/* The stored event a repeat of p would coalesce with, if any. */
static Object *find_same(EventRecorder *r, const Pending *p, GPtrArray *events) {
        for (guint i = 0; i < events->len; i++) {
                JsonObject *doc = object_root(events->pdata[i]);
                if (streq_ptr(json_get_string(json_get_object(doc, "involvedObject"), "uid"), p->involved_uid) &&
                    streq_ptr(json_get_string(doc, "reason"), p->reason) &&
                    streq_ptr(json_get_string(doc, "message"), p->message) &&
                    streq_ptr(json_get_string(doc, "type"), p->warning ? "Warning" : "Normal"))
                        return events->pdata[i];
        }
        return NULL;
}

static int compare_last(const void *a, const void *b) {
        const char *x = json_get_string(object_root(*(Object *const *) a), "lastTimestamp");
        const char *y = json_get_string(object_root(*(Object *const *) b), "lastTimestamp");
        return g_strcmp0(x, y);
}

/* Room for one more in the namespace: the oldest go. */
static void make_room(EventRecorder *r, GPtrArray *events) {
        if (events->len < r->limits.max_per_namespace)
                return;
        g_ptr_array_sort(events, compare_last);
        for (guint i = 0; i + r->limits.max_per_namespace <= events->len; i++) {
                Object *o = events->pdata[i];
                g_autoptr(GError) e = NULL;
                if (model_delete_object(r->model, o, PROPAGATION_BACKGROUND, &e) < 0)
                        log_object(G_LOG_LEVEL_WARNING, o, "events: cannot delete it: %s", e->message);
        }
}

static JsonObject *new_event(EventRecorder *r, const Pending *p) {
        JsonObject *doc = json_object_new(), *meta = json_object_new(), *source = json_object_new();
        g_autofree char *name = g_strdup_printf("%s.%016" G_GINT64_MODIFIER "x",
                                                json_get_string(p->involved, "name"), g_get_real_time() * 1000 +
                                                g_random_int_range(0, 1000));

        json_object_set_string_member(doc, "apiVersion", "v1");
        json_object_set_string_member(doc, "kind", "Event");
        /* a name of at most 253 characters: the object's, cut, and the time;
         * a cut that ends in '-' or '.' would not be a DNS subdomain */
        if (strlen(name) > 253) {
                size_t keep = 253 - 17;
                while (keep > 1 && strchr("-.", name[keep - 1]))
                        keep--;
                memmove(name + keep, name + strlen(name) - 17, 18);
        }
        json_object_set_string_member(meta, "name", name);
        json_object_set_string_member(meta, "namespace", p->namespace);
        json_object_set_object_member(doc, "metadata", meta);
        json_object_set_object_member(doc, "involvedObject", json_object_ref(p->involved));
        json_object_set_string_member(doc, "reason", p->reason);
        json_object_set_string_member(doc, "message", p->message);
        json_object_set_string_member(doc, "type", p->warning ? "Warning" : "Normal");
        json_object_set_string_member(source, "component", "edgevirtd");
        json_object_set_string_member(source, "host", r->host);
        json_object_set_object_member(doc, "source", source);
        json_object_set_string_member(doc, "reportingComponent", "edgevirtd");
        json_object_set_string_member(doc, "reportingInstance", r->host);
        json_object_set_string_member(doc, "firstTimestamp", p->timestamp);
        json_object_set_string_member(doc, "lastTimestamp", p->timestamp);
        json_object_set_int_member(doc, "count", 1);
        return doc;
}

static void write_one(EventRecorder *r, const Pending *p) {
        Object *ns = NULL;

        /* a namespace being deleted takes no new content: nothing to evict for */
        if (model_get(r->model, &kind_namespace, "", p->namespace, &ns, NULL) < 0 || object_is_deleting(ns))
                return;
        g_autoptr(GPtrArray) events = model_list(r->model, &kind_event, p->namespace, NULL);
        g_autoptr(JsonObject) doc = NULL;
        g_autoptr(GError) e = NULL;
        Object *same = find_same(r, p, events);

        if (same) {
                /* a copy: the stored document is never changed in place */
                g_autoptr(JsonNode) copy = json_deep_copy(object_doc(same));
                doc = json_object_ref(json_node_get_object(copy));
                json_object_set_int_member(doc, "count", json_get_int(doc, "count", 1) + 1);
                json_object_set_string_member(doc, "lastTimestamp", p->timestamp);
        } else {
                make_room(r, events);
                doc = new_event(r, p);
        }
        if (model_apply_object(r->model, doc, true, &e) < 0)
                g_warning("events: cannot record %s for %s/%s: %s", p->reason, p->namespace,
                          json_get_string(p->involved, "name"), e->message);
}

/* A slice at a time (each record is a transaction): a burst of records
 * (MAX_PENDING) never holds the loop for long; the rest wait for the next
 * turn, after what else is due. */
static int on_flush(sd_event_source *s, void *userdata) {
        EventRecorder *r = userdata;
        guint n = MIN(r->pending->len, FLUSH_SLICE);

        for (guint i = 0; i < n; i++)
                write_one(r, r->pending->pdata[i]);
        g_ptr_array_remove_range(r->pending, 0, n);
        if (r->pending->len > 0 && sd_event_source_set_enabled(r->flush, SD_EVENT_ONESHOT) < 0)
                g_warning("events: cannot schedule the recording of %u more", r->pending->len);
        return 0;
}

/* A record for the loop, its message kept valid UTF-8 and bounded; NULL
 * when too many wait already. */
static Pending *pending_new(EventRecorder *r, const char *about, bool warning, const char *reason,
                            const char *format, va_list ap) {
        Pending *p;

        if (r->pending->len >= MAX_PENDING) {
                g_warning("events: %u waiting to be written; %s of %s dropped", r->pending->len, reason, about);
                return NULL;
        }
        p = g_new0(Pending, 1);
        p->message = g_strdup_vprintf(format, ap);
        if (strlen(p->message) > MAX_MESSAGE)   /* cut between characters, not inside one */
                *g_utf8_find_prev_char(p->message, p->message + MAX_MESSAGE + 1) = '\0';
        if (!g_utf8_validate(p->message, -1, NULL)) {
                char *valid = g_utf8_make_valid(p->message, -1);
                g_free(p->message);
                p->message = valid;
        }
        p->involved = json_object_new();
        p->warning = warning;
        p->reason = g_strdup(reason);
        p->timestamp = ev_timestamp_now();
        return p;
}

static void pending_add(EventRecorder *r, Pending *p) {
        g_ptr_array_add(r->pending, p);
        if (sd_event_source_set_enabled(r->flush, SD_EVENT_ONESHOT) < 0)
                g_warning("events: cannot schedule the recording of %s", p->reason);
}

void event_record(EventRecorder *r, Object *involved, bool warning, const char *reason, const char *format, ...) {
        g_autofree char *about = NULL;
        Pending *p;
        va_list ap;

        if (!r || involved->kind == &kind_event)
                return;
        about = g_strdup_printf("%s %s/%s", involved->kind->kind, involved->namespace, involved->name);
        va_start(ap, format);
        p = pending_new(r, about, warning, reason, format, ap);
        va_end(ap);
        if (!p)
                return;
        /* a Namespace's events live in it (its admins read them there) */
        p->namespace = g_strdup(involved->kind->namespaced ? involved->namespace :
                                involved->kind == &kind_namespace ? involved->name : "default");
        g_autofree char *api_version = kind_api_version(involved->kind);
        char rv[32];
        g_snprintf(rv, sizeof rv, "%" G_GUINT64_FORMAT, involved->resource_version);
        json_object_set_string_member(p->involved, "apiVersion", api_version);
        json_object_set_string_member(p->involved, "kind", involved->kind->kind);
        if (involved->kind->namespaced)
                json_object_set_string_member(p->involved, "namespace", involved->namespace);
        json_object_set_string_member(p->involved, "name", involved->name);
        json_object_set_string_member(p->involved, "uid", involved->uid);
        json_object_set_string_member(p->involved, "resourceVersion", rv);
        p->involved_uid = g_strdup(involved->uid);
        pending_add(r, p);
}

void event_record_file(EventRecorder *r, const char *path, bool warning, const char *reason, const char *format,
                       ...) {
        g_autofree char *sum = g_compute_checksum_for_string(G_CHECKSUM_SHA1, path, -1);
        g_autofree char *base = g_path_get_basename(path);
        Pending *p;
        va_list ap;

        if (!r)
                return;
        va_start(ap, format);
        p = pending_new(r, path, warning, reason, format, ap);
        va_end(ap);
        if (!p)
                return;
        p->namespace = g_strdup("default");
        /* a stable uid of the path's, so the same file's events coalesce */
        p->involved_uid = g_strdup_printf("%.8s-%.4s-%.4s-%.4s-%.12s", sum, sum + 8, sum + 12, sum + 16, sum + 20);
        json_object_set_string_member(p->involved, "apiVersion", "edgevirt.io/v1");
        json_object_set_string_member(p->involved, "kind", "ManifestFile");
        json_object_set_string_member(p->involved, "name", base);
        json_object_set_string_member(p->involved, "uid", p->involved_uid);
        json_object_set_string_member(p->involved, "fieldPath", path);
        pending_add(r, p);
}

void event_recorder_expire(EventRecorder *r) {
        g_autoptr(GPtrArray) events = model_list(r->model, &kind_event, NULL, NULL);
        g_autoptr(GDateTime) now = g_date_time_new_now_utc();
        g_autoptr(GDateTime) cut = g_date_time_add_seconds(now, -(double) r->limits.time_to_live);

        for (guint i = 0; i < events->len; i++) {
                Object *o = events->pdata[i];
                g_autoptr(GDateTime) last = g_date_time_new_from_iso8601(
                        json_get_string(object_root(o), "lastTimestamp") ?: "", NULL);
                g_autoptr(GError) e = NULL;
                if (last && g_date_time_compare(last, cut) >= 0)
                        continue;
                if (model_delete_object(r->model, o, PROPAGATION_BACKGROUND, &e) < 0)
                        log_object(G_LOG_LEVEL_WARNING, o, "events: cannot expire it: %s", e->message);
        }
}

/* Every minute, or every half time to live when that is shorter. */
static uint64_t expire_interval(const EventRecorder *r) {
        return MIN(EXPIRE_INTERVAL_MAX_USEC, MAX(1u, r->limits.time_to_live) * G_USEC_PER_SEC / 2);
}

static int on_expire(sd_event_source *s, uint64_t usec, void *userdata) {
        EventRecorder *r = userdata;
        int k;

        event_recorder_expire(r);
        k = sd_event_source_set_time_relative(s, expire_interval(r));
        if (k >= 0)
                k = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        if (k < 0)
                g_warning("events: cannot re-arm the expiry timer: %s", g_strerror(-k));
        return 0;
}

int event_recorder_new(Model *m, sd_event *event, const EventLimits *limits, EventRecorder **ret) {
        g_autoptr(EventRecorder) r = g_new0(EventRecorder, 1);
        char host[256] = "";
        int k;

        r->model = m;
        r->limits = *limits;
        r->pending = g_ptr_array_new_with_free_func((GDestroyNotify) pending_free);
        (void) gethostname(host, sizeof host - 1);
        r->host = g_strdup(host);
        k = sd_event_add_defer(event, &r->flush, on_flush, r);
        if (k < 0)
                return k;
        k = sd_event_source_set_enabled(r->flush, SD_EVENT_OFF);
        if (k < 0)
                return k;
        k = sd_event_add_time_relative(event, &r->expire, CLOCK_MONOTONIC, expire_interval(r), 0, on_expire, r);
        if (k < 0)
                return k;
        r->watch.recorder = r;
        r->watch.states = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        event_rules_watch(&r->watch, m);
        *ret = g_steal_pointer(&r);
        return 0;
}

EventRecorder *event_recorder_free(EventRecorder *r) {
        if (!r)
                return NULL;
        if (r->watch.states) {
                event_rules_unwatch(&r->watch, r->model);
                g_hash_table_unref(r->watch.states);
        }
        sd_event_source_disable_unref(r->flush);
        sd_event_source_disable_unref(r->expire);
        if (r->pending)
                g_ptr_array_unref(r->pending);
        g_free(r->host);
        g_free(r);
        return NULL;
}
