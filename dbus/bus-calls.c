/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Counting the calls of our interfaces for the metrics endpoint
 * (daemon/callstats.h): a filter notes when a call arrives, and every
 * method handler runs through a trampoline that records how it ended.  A
 * call may reach its handler more than once (held for the caller lookup,
 * or dispatched again when polkit answers: the same message each time);
 * its clock runs from the first arrival.  A handler that answers later
 * says so (bus_calls_defer) and records the end itself (bus_calls_finish);
 * filters that answer a call themselves (the rate limit, the caller
 * lookup) record it too. */
#include "bus-calls.h"
#include "callstats.h"
#include "util.h"

#define OUR_INTERFACES "org.edgevirt.EdgeVirt1."
#define SWEEP_AT 4096                   /* calls in flight before old ones are forgotten */
#define FORGET_USEC (600 * G_USEC_PER_SEC)

typedef struct Arrival {
        sd_bus_message *m;              /* a reference */
        gint64 at;                      /* monotonic µs */
        bool deferred;                  /* the handler answers later */
} Arrival;

/* One daemon per process: the trampoline has no other way to its tables. */
static struct {
        CallStats *stats;
        GHashTable *handlers;           /* "interface\nmember" -> sd_bus_message_handler_t */
        GHashTable *copies;             /* original vtable -> its copy with trampolines */
        GHashTable *arrivals;           /* sd_bus_message* -> Arrival */
} calls;

static void arrival_free(Arrival *a) {
        sd_bus_message_unref(a->m);
        g_free(a);
}

static char *handler_key(sd_bus_message *m) {
        return g_strconcat(sd_bus_message_get_interface(m) ?: "", "\n", sd_bus_message_get_member(m) ?: "", NULL);
}

static void sweep(gint64 now) {
        GHashTableIter it;
        Arrival *a;

        g_hash_table_iter_init(&it, calls.arrivals);
        while (g_hash_table_iter_next(&it, NULL, (gpointer *) &a))
                if (now - a->at > FORGET_USEC)
                        g_hash_table_iter_remove(&it);
}

static int on_message(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        g_autofree char *key = NULL;

        if (!sd_bus_message_is_method_call(m, NULL, NULL) ||
            !g_str_has_prefix(sd_bus_message_get_interface(m) ?: "", OUR_INTERFACES) ||
            g_hash_table_contains(calls.arrivals, m))
                return 0;
        key = handler_key(m);
        if (!g_hash_table_contains(calls.handlers, key))
                return 0;       /* sd-bus answers UnknownMethod */
        gint64 now = g_get_monotonic_time();
        if (g_hash_table_size(calls.arrivals) >= SWEEP_AT)
                sweep(now);
        Arrival *a = g_new0(Arrival, 1);
        a->m = sd_bus_message_ref(m);
        a->at = now;
        g_hash_table_insert(calls.arrivals, m, a);
        return 0;
}

void bus_calls_finish(sd_bus_message *m, const char *error_name) {
        Arrival *a = calls.arrivals ? g_hash_table_lookup(calls.arrivals, m) : NULL;

        if (!a)
                return;
        callstats_record(calls.stats, sd_bus_message_get_interface(m), sd_bus_message_get_member(m), error_name,
                         (double) (g_get_monotonic_time() - a->at) / G_USEC_PER_SEC);
        g_hash_table_remove(calls.arrivals, m);
}

void bus_calls_defer(sd_bus_message *m) {
        Arrival *a = calls.arrivals ? g_hash_table_lookup(calls.arrivals, m) : NULL;
        if (a)
                a->deferred = true;
}

/* What sd-bus answers for a handler's return value and error. */
static int trampoline(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        g_autofree char *key = handler_key(m);
        sd_bus_message_handler_t handler = g_hash_table_lookup(calls.handlers, key);
        _cleanup_(sd_bus_error_free) sd_bus_error mapped = SD_BUS_ERROR_NULL;
        Arrival *a;
        int r;

        g_assert(handler);
        a = g_hash_table_lookup(calls.arrivals, m);
        if (a)
                a->deferred = false;
        r = handler(m, userdata, error);
        a = g_hash_table_lookup(calls.arrivals, m);
        if (!a || (a->deferred && r >= 0 && !sd_bus_error_is_set(error)))
                return r;
        if (sd_bus_error_is_set(error))
                bus_calls_finish(m, error->name);
        else if (r < 0) {
                sd_bus_error_set_errno(&mapped, r);
                bus_calls_finish(m, mapped.name);
        } else
                bus_calls_finish(m, NULL);
        return r;
}

const sd_bus_vtable *bus_calls_wrap(const char *interface, const sd_bus_vtable *vtable) {
        sd_bus_vtable *copy;
        size_t n = 0;

        if (!calls.copies)
                return vtable;  /* not counting */
        copy = g_hash_table_lookup(calls.copies, vtable);
        if (copy)
                return copy;
        while (vtable[n].type != _SD_BUS_VTABLE_END)
                n++;
        copy = g_memdup2(vtable, (n + 1) * sizeof *vtable);
        for (size_t i = 0; i < n; i++)
                if (copy[i].type == _SD_BUS_VTABLE_METHOD && copy[i].x.method.handler) {
                        g_hash_table_insert(calls.handlers, g_strconcat(interface, "\n", copy[i].x.method.member, NULL),
                                            (gpointer) copy[i].x.method.handler);
                        copy[i].x.method.handler = trampoline;
                }
        g_hash_table_insert(calls.copies, (gpointer) vtable, copy);
        return copy;
}

int bus_calls_install(Daemon *d) {
        if (!d->calls)
                return 0;
        calls.stats = d->calls;
        calls.handlers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        calls.copies = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
        calls.arrivals = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, (GDestroyNotify) arrival_free);
        return sd_bus_add_filter(d->bus, NULL, on_message, NULL);
}

void bus_calls_uninstall(void) {
        g_clear_pointer(&calls.arrivals, g_hash_table_unref);
        g_clear_pointer(&calls.handlers, g_hash_table_unref);
        g_clear_pointer(&calls.copies, g_hash_table_unref);
        calls.stats = NULL;
}
