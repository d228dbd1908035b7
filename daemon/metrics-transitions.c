/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "json-util.h"
#include "kind.h"
#include "metrics-transitions.h"
#include "object.h"
#include "util.h"

#define FROM_CREATION "kubevirt_vmi_phase_transition_time_from_creation_seconds"
#define BETWEEN "kubevirt_vmi_phase_transition_time_seconds"
#define FROM_DELETION "kubevirt_vmi_phase_transition_time_from_deletion_seconds"

/* KubeVirt's phaseTransitionTimeBuckets(), in seconds. */
static const double bounds[] = { 0.5, 1, 2, 5, 10, 20, 30, 40, 50, 60, 90, 120, 180, 300, 600, 1200, 1800, 3600 };

struct PhaseTransitions {
        Model *model;
        GHashTable *phases;             /* uid -> the phase last seen ("" before the first) */
        /* label key ("phase" or "phase\nlast_phase") -> PromHistogram */
        GHashTable *from_creation, *between, *from_deletion;
};

/* Seconds from one RFC 3339 time to another; the floor is 0 (KubeVirt's:
 * fast transitions may skew).  < 0: a time is missing or unreadable. */
static double seconds_between(const char *from, const char *to) {
        g_autoptr(GDateTime) a = from ? g_date_time_new_from_iso8601(from, NULL) : NULL;
        g_autoptr(GDateTime) b = to ? g_date_time_new_from_iso8601(to, NULL) : NULL;

        if (!a || !b)
                return -1;
        return MAX(0.0, (double) g_date_time_difference(b, a) / G_USEC_PER_SEC);
}

/* When the instance last entered phase (status.phaseTransitionTimestamps). */
static const char *entered(Object *o, const char *phase) {
        JsonArray *ts = json_get_array(json_get_object(object_root(o), "status"), "phaseTransitionTimestamps");
        const char *at = NULL;

        for (guint i = 0; ts && i < json_array_get_length(ts); i++) {
                JsonObject *t = json_array_get_object_element(ts, i);
                if (t && streq_ptr(json_get_string(t, "phase"), phase))
                        at = json_get_string(t, "phaseTransitionTimestamp");
        }
        return at;
}

static void observe(GHashTable *t, const char *key, double seconds) {
        PromHistogram *h = g_hash_table_lookup(t, key);

        if (seconds < 0)
                return;
        if (!h) {
                h = prom_histogram_new(bounds, G_N_ELEMENTS(bounds));
                g_hash_table_insert(t, g_strdup(key), h);
        }
        prom_histogram_observe(h, seconds);
}

static void transition(PhaseTransitions *t, Object *o, const char *was, const char *phase) {
        const char *now = entered(o, phase);
        const char *deleted = object_meta_string(o, "deletionTimestamp");
        g_autofree char *pair = g_strconcat(phase, "\n", was, NULL);

        observe(t->from_creation, phase, seconds_between(object_meta_string(o, "creationTimestamp"), now));
        observe(t->between, pair,
                seconds_between(isempty(was) ? object_meta_string(o, "creationTimestamp") : entered(o, was), now));
        if (deleted && (streq(phase, "Succeeded") || streq(phase, "Failed")))
                observe(t->from_deletion, phase, seconds_between(deleted, now));
}

static void on_changed(Model *m, Object *o, ModelEvent event, void *userdata) {
        PhaseTransitions *t = userdata;
        const char *phase, *was;

        if (event == MODEL_EVENT_REMOVED) {
                g_hash_table_remove(t->phases, o->uid);
                return;
        }
        /* an instance added since the start comes without a phase: "" */
        phase = object_status_string(o, "phase");
        was = g_hash_table_lookup(t->phases, o->uid) ?: "";
        if (isempty(phase) || streq(phase, was))
                return;
        transition(t, o, was, phase);
        g_hash_table_replace(t->phases, g_strdup(o->uid), g_strdup(phase));
}

static const ModelWatch watch = { .changed = on_changed };

PhaseTransitions *phase_transitions_new(Model *m) {
        PhaseTransitions *t = g_new0(PhaseTransitions, 1);
        g_autoptr(GPtrArray) vmis = model_list(m, &kind_vmi, NULL, NULL);

        t->model = m;
        t->phases = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        t->from_creation = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify) prom_histogram_free);
        t->between = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify) prom_histogram_free);
        t->from_deletion = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify) prom_histogram_free);
        for (guint i = 0; i < vmis->len; i++) {
                Object *o = vmis->pdata[i];
                g_hash_table_replace(t->phases, g_strdup(o->uid), g_strdup(object_status_string(o, "phase") ?: ""));
        }
        model_watch(m, &kind_vmi, &watch, t);
        return t;
}

PhaseTransitions *phase_transitions_free(PhaseTransitions *t) {
        if (!t)
                return NULL;
        model_unwatch(t->model, &watch, t);
        g_hash_table_unref(t->phases);
        g_hash_table_unref(t->from_creation);
        g_hash_table_unref(t->between);
        g_hash_table_unref(t->from_deletion);
        g_free(t);
        return NULL;
}

static gint compare_keys(gconstpointer a, gconstpointer b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Each histogram of table, sorted by key (a stable text); two-part keys
 * are phase and last_phase. */
static void render_table(GHashTable *table, const char *family, PromSet *set) {
        g_autofree gpointer *keys = g_hash_table_get_keys_as_array(table, NULL);
        guint n = g_hash_table_size(table);

        qsort(keys, n, sizeof *keys, compare_keys);
        for (guint i = 0; i < n; i++) {
                g_auto(GStrv) parts = g_strsplit(keys[i], "\n", 2);
                const char *labels[] = { "phase", parts[0], "last_phase", parts[1], NULL };
                prom_histogram_render(set, family, g_hash_table_lookup(table, keys[i]), labels);
        }
}

void phase_transitions_render(PhaseTransitions *t, PromSet *set) {
        prom_family(set, FROM_CREATION, PROM_HISTOGRAM,
                    "Histogram of VM phase transitions duration from creation time in seconds.");
        prom_family(set, BETWEEN, PROM_HISTOGRAM,
                    "Histogram of VM phase transitions duration between different phases in seconds.");
        prom_family(set, FROM_DELETION, PROM_HISTOGRAM,
                    "Histogram of VM phase transitions duration from deletion time in seconds.");
        render_table(t->from_creation, FROM_CREATION, set);
        render_table(t->between, BETWEEN, set);
        render_table(t->from_deletion, FROM_DELETION, set);
}
