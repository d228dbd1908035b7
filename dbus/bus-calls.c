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
#define MAX_ARRIVALS 16384             /* calls in flight followed; past it, new ones go uncounted */
#define FORGET_USEC (600 * G_USEC_PER_SEC)

/* A call in flight, by "sender cookie": no reference to the message, so a
 * call sd-bus answers itself (no such object, a wrong signature) costs a
 * few bytes until it is forgotten, whatever its body. */
typedef struct Arrival {
        gint64 at;                      /* monotonic µs */
        bool deferred;                  /* the handler answers later */
} Arrival;

/* The daemon's (d->bus_calls).  The trampoline reaches it through the
 * vtable's slot, whose userdata is always the Daemon: every counted vtable
 * is registered by bus_calls_add_vtable/bus_calls_add_fallback_vtable. */
struct BusCalls {
        CallStats *stats;
        GHashTable *handlers;           /* "interface\nmember" -> sd_bus_message_handler_t */
        GHashTable *copies;             /* original vtable -> its copy with trampolines */
        GHashTable *arrivals;           /* "sender cookie" -> Arrival */
        gint64 last_sweep;
};

static char *arrival_key(sd_bus_message *m) {
        uint64_t cookie = 0;
        (void) sd_bus_message_get_cookie(m, &cookie);
        return g_strdup_printf("%s %" G_GUINT64_FORMAT, sd_bus_message_get_sender(m) ?: "", cookie);
}

static Arrival *arrival_of(BusCalls *calls, sd_bus_message *m) {
        g_autofree char *key = calls ? arrival_key(m) : NULL;
        return key ? g_hash_table_lookup(calls->arrivals, key) : NULL;
}

static char *handler_key(sd_bus_message *m) {
        return g_strconcat(sd_bus_message_get_interface(m) ?: "", "\n", sd_bus_message_get_member(m) ?: "", NULL);
}

static void sweep(BusCalls *calls, gint64 now) {
        GHashTableIter it;
        Arrival *a;

        g_hash_table_iter_init(&it, calls->arrivals);
        while (g_hash_table_iter_next(&it, NULL, (gpointer *) &a))
                if (now - a->at > FORGET_USEC)
                        g_hash_table_iter_remove(&it);
}

static int on_message(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        BusCalls *calls = userdata;
        g_autofree char *key = NULL, *arrival = NULL;

        if (!sd_bus_message_is_method_call(m, NULL, NULL) ||
            !g_str_has_prefix(sd_bus_message_get_interface(m) ?: "", OUR_INTERFACES))
                return 0;
        key = handler_key(m);
        if (!g_hash_table_contains(calls->handlers, key))
                return 0;       /* sd-bus answers UnknownMethod */
        arrival = arrival_key(m);
        if (g_hash_table_contains(calls->arrivals, arrival))
                return 0;       /* dispatched again: its clock runs from the first arrival */
        gint64 now = g_get_monotonic_time();
        if (g_hash_table_size(calls->arrivals) >= MAX_ARRIVALS && now - calls->last_sweep > G_USEC_PER_SEC) {
                sweep(calls, now);
                calls->last_sweep = now;
        }
        if (g_hash_table_size(calls->arrivals) >= MAX_ARRIVALS)
                return 0;       /* bounded: this one goes uncounted */
        Arrival *a = g_new0(Arrival, 1);
        a->at = now;
        g_hash_table_insert(calls->arrivals, g_steal_pointer(&arrival), a);
        return 0;
}

void bus_calls_finish(BusCalls *calls, sd_bus_message *m, const char *error_name) {
        g_autofree char *key = calls ? arrival_key(m) : NULL;
        Arrival *a = key ? g_hash_table_lookup(calls->arrivals, key) : NULL;

        if (!a)
                return;
        callstats_record(calls->stats, sd_bus_message_get_interface(m), sd_bus_message_get_member(m), error_name,
                         (double) (g_get_monotonic_time() - a->at) / G_USEC_PER_SEC);
        g_hash_table_remove(calls->arrivals, key);
}

void bus_calls_defer(BusCalls *calls, sd_bus_message *m) {
        Arrival *a = arrival_of(calls, m);
        if (a)
                a->deferred = true;
}

Daemon *bus_current_daemon(sd_bus_message *m) {
        sd_bus_slot *slot = sd_bus_get_current_slot(sd_bus_message_get_bus(m));
        g_assert(slot && sd_bus_get_current_message(sd_bus_message_get_bus(m)) == m);
        return sd_bus_slot_get_userdata(slot);
}

/* What sd-bus answers for a handler's return value and error. */
static int trampoline(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        BusCalls *calls = bus_current_daemon(m)->bus_calls;
        g_autofree char *key = handler_key(m);
        sd_bus_message_handler_t handler = g_hash_table_lookup(calls->handlers, key);
        _cleanup_(sd_bus_error_free) sd_bus_error mapped = SD_BUS_ERROR_NULL;
        Arrival *a;
        int r;

        g_assert(handler);
        a = arrival_of(calls, m);
        if (a)
                a->deferred = false;
        r = handler(m, userdata, error);
        a = arrival_of(calls, m);
        if (!a || (a->deferred && r >= 0 && !sd_bus_error_is_set(error)))
                return r;
        if (sd_bus_error_is_set(error))
                bus_calls_finish(calls, m, error->name);
        else if (r < 0) {
                sd_bus_error_set_errno(&mapped, r);
                bus_calls_finish(calls, m, mapped.name);
        } else
                bus_calls_finish(calls, m, NULL);
        return r;
}

/* The vtable to register for interface: a copy whose methods are counted
 * (kept as long as calls), or vtable itself when nothing is counted. */
static const sd_bus_vtable *wrap(BusCalls *calls, const char *interface, const sd_bus_vtable *vtable) {
        sd_bus_vtable *copy;
        size_t n = 0;

        if (!calls)
                return vtable;  /* not counting */
        copy = g_hash_table_lookup(calls->copies, vtable);
        if (copy)
                return copy;
        while (vtable[n].type != _SD_BUS_VTABLE_END)
                n++;
        copy = g_memdup2(vtable, (n + 1) * sizeof *vtable);
        for (size_t i = 0; i < n; i++)
                if (copy[i].type == _SD_BUS_VTABLE_METHOD && copy[i].x.method.handler) {
                        g_hash_table_insert(calls->handlers,
                                            g_strconcat(interface, "\n", copy[i].x.method.member, NULL),
                                            (gpointer) copy[i].x.method.handler);
                        copy[i].x.method.handler = trampoline;
                }
        g_hash_table_insert(calls->copies, (gpointer) vtable, copy);
        return copy;
}

int bus_calls_add_vtable(Daemon *d, const char *path, const char *interface, const sd_bus_vtable *vtable) {
        return sd_bus_add_object_vtable(d->bus, NULL, path, interface, wrap(d->bus_calls, interface, vtable), d);
}

int bus_calls_add_fallback_vtable(Daemon *d, const char *prefix, const char *interface, const sd_bus_vtable *vtable,
                                  sd_bus_object_find_t find) {
        return sd_bus_add_fallback_vtable(d->bus, NULL, prefix, interface, wrap(d->bus_calls, interface, vtable),
                                          find, d);
}

int bus_calls_install(Daemon *d) {
        BusCalls *calls;

        if (!d->calls)
                return 0;
        calls = g_new0(BusCalls, 1);
        calls->stats = d->calls;
        calls->handlers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        calls->copies = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
        calls->arrivals = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        d->bus_calls = calls;
        return sd_bus_add_filter(d->bus, NULL, on_message, calls);
}

BusCalls *bus_calls_free(BusCalls *calls) {
        if (!calls)
                return NULL;
        g_hash_table_unref(calls->arrivals);
        g_hash_table_unref(calls->handlers);
        g_hash_table_unref(calls->copies);
        g_free(calls);
        return NULL;
}
