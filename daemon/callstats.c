/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "callstats.h"
#include "util.h"

#define CALLS "edgevirt_dbus_calls_total"
#define DURATION "edgevirt_dbus_call_duration_seconds"

/* Upper bounds in seconds; the last bucket (+Inf) is implicit. */
static const double bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 };

typedef struct Method {
        char *interface, *method;
        PromHistogram *duration;
        GHashTable *outcomes;           /* error name ("" for success) -> uint64_t count, boxed */
} Method;

struct CallStats {
        GHashTable *methods;            /* "interface\nmethod" -> Method */
};

static void method_free(Method *m) {
        g_free(m->interface);
        g_free(m->method);
        prom_histogram_free(m->duration);
        g_hash_table_unref(m->outcomes);
        g_free(m);
}

CallStats *callstats_new(void) {
        CallStats *s = g_new0(CallStats, 1);
        s->methods = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify) method_free);
        return s;
}

CallStats *callstats_free(CallStats *s) {
        if (!s)
                return NULL;
        g_hash_table_unref(s->methods);
        g_free(s);
        return NULL;
}

void callstats_record(CallStats *s, const char *interface, const char *method, const char *error, double seconds) {
        g_autofree char *key = g_strconcat(interface, "\n", method, NULL);
        Method *m = g_hash_table_lookup(s->methods, key);

        if (!m) {
                m = g_new0(Method, 1);
                m->interface = g_strdup(interface);
                m->method = g_strdup(method);
                m->duration = prom_histogram_new(bounds, G_N_ELEMENTS(bounds));
                m->outcomes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
                g_hash_table_insert(s->methods, g_steal_pointer(&key), m);
        }
        uint64_t *n = g_hash_table_lookup(m->outcomes, error ? error : "");
        if (!n) {
                n = g_new0(uint64_t, 1);
                g_hash_table_insert(m->outcomes, g_strdup(error ? error : ""), n);
        }
        (*n)++;
        prom_histogram_observe(m->duration, seconds);
}

static gint compare_keys(gconstpointer a, gconstpointer b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Keys of a table, sorted, so the output is stable between scrapes. */
static GPtrArray *sorted_keys(GHashTable *t) {
        GPtrArray *keys = g_ptr_array_new();
        GHashTableIter it;
        gpointer k;

        g_hash_table_iter_init(&it, t);
        while (g_hash_table_iter_next(&it, &k, NULL))
                g_ptr_array_add(keys, k);
        g_ptr_array_sort(keys, compare_keys);
        return keys;
}

static void render_method(Method *m, PromSet *set) {
        g_autoptr(GPtrArray) errors = sorted_keys(m->outcomes);
        const char *labels[] = { "interface", m->interface, "method", m->method, NULL };

        for (guint i = 0; i < errors->len; i++) {
                const char *e = errors->pdata[i];
                prom_sample(set, CALLS, CALLS, (double) *(uint64_t *) g_hash_table_lookup(m->outcomes, e),
                            "interface", m->interface, "method", m->method, "error", e, NULL);
        }
        prom_histogram_render(set, DURATION, m->duration, labels);
}

void callstats_render(CallStats *s, PromSet *set) {
        g_autoptr(GPtrArray) keys = sorted_keys(s->methods);

        prom_family(set, CALLS, PROM_COUNTER,
                    "D-Bus method calls served, by interface, method and the error they were answered with "
                    "(no error label: success).");
        prom_family(set, DURATION, PROM_HISTOGRAM,
                    "Seconds from a D-Bus method call's arrival to its reply, by interface and method.");
        for (guint i = 0; i < keys->len; i++)
                render_method(g_hash_table_lookup(s->methods, keys->pdata[i]), set);
}
