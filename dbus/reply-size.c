/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* No message of ours may be larger than the bus takes (its
 * max_message_size, [Limits] MaxMessageSize=): dbus-daemon disconnects a
 * connection that sends one.  Replies we build are checked here before
 * they are sent; the two that sd-bus would build from the vtables are
 * measured by a filter first and refused when they would not fit:
 * Introspect (then left to sd-bus) and GetManagedObjects, of the root's
 * ObjectManager and of each namespace's Events' (then answered from each
 * object's kept entry, whose size is known: managed-objects.c).
 * Every reply measured is charged to the caller's rate limit by its size. */
#include "authz.h"
#include "bus-error.h"
#include "bus.h"
#include "json-util.h"
#include "object-path.h"
#include "util.h"

#define HEADER_ROOM 4096                /* a reply's header: serial, destination, sender, signature */
#define INTROSPECT_FIXED (64u * 1024)   /* the interfaces' XML of one object, generously */
#define INTROSPECT_PER_CHILD 32u        /* <node name=""/> and a newline */
#define LARGE_REPLY (1024u * 1024)      /* then malloc is told to hand back memory soon */

size_t bus_reply_max_text(Daemon *d) {
        return d->max_message_size - HEADER_ROOM;
}

int bus_reply_text(Daemon *d, sd_bus_message *m, const char *text, const char *what, sd_bus_error *error) {
        size_t len = strlen(text);
        int r;

        bus_rate_limit_charge(d->ratelimit, m, len);
        if (len > bus_reply_max_text(d))
                return sd_bus_error_setf(error, BUS_ERROR_REPLY_TOO_LARGE,
                                         "%s is %zu bytes, more than one message on the bus carries (%zu)",
                                         what, len, bus_reply_max_text(d));
        r = sd_bus_reply_method_return(m, "s", text);
        if (len >= LARGE_REPLY)
                model_trim_soon(d->model);
        return r;
}

/* At most how large Introspect's reply for path is: the interfaces, and a
 * node for each child the caller sees.  Below the root sd-bus takes the
 * children from our node enumerator, which names every object below the
 * prefix: it writes one node per descendant, named by its whole relative
 * path ("vm/box"); at the root and above, the children are sd-bus' nodes,
 * one per first segment. */
static size_t introspect_size(Daemon *d, sd_bus_message *call, const char *path) {
        g_autoptr(GPtrArray) objects = model_list(d->model, NULL, NULL, NULL);
        g_autoptr(GHashTable) children = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        size_t prefix = streq(path, "/") ? 0 : strlen(path), size = INTROSPECT_FIXED;
        bool below_root = g_str_has_prefix(path, BUS_OBJECT_ROOT "/");

        for (guint i = 0; i < objects->len; i++) {
                Object *o = objects->pdata[i];
                if (!o->kind->path_segment)
                        continue;
                g_autofree char *p = object_path_of(o);
                bool below = strncmp(p, path, prefix) == 0 && p[prefix] == '/';
                if (!below || !authz_can_see(d->authz, call, o->kind, o->namespace, o->name))
                        continue;
                const char *child = p + prefix + 1;
                g_hash_table_add(children, below_root ? g_strdup(child) : g_strndup(child, strcspn(child, "/")));
        }
        GHashTableIter it;
        const char *child;
        g_hash_table_iter_init(&it, children);
        while (g_hash_table_iter_next(&it, (void **) &child, NULL))
                size += strlen(child) + INTROSPECT_PER_CHILD;
        return size;
}

static int on_message(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Daemon *d = userdata;
        const char *path = sd_bus_message_get_path(m), *what;
        g_autoptr(GPtrArray) objects = NULL;
        size_t size;
        int r;

        if (sd_bus_message_is_method_call(m, "org.freedesktop.DBus.ObjectManager", "GetManagedObjects") && path) {
                g_autofree char *events_of = object_path_events_namespace(path);
                if (!streq(path, BUS_MANAGER_PATH) && !(events_of && bus_events_manager_visible(d, m, events_of)))
                        return 0;       /* no manager there for the caller: sd-bus says so (UnknownObject) */
                what = "GetManagedObjects";
                objects = bus_managed_objects_list(d, m, events_of);
                r = bus_managed_objects_size(d, m, objects, &size);
                if (r < 0) {
                        /* answered here: sd-bus' own reply would be neither measured nor ours (Events) */
                        g_warning("cannot measure GetManagedObjects' reply: %s", g_strerror(-r));
                        (void) sd_bus_reply_method_errnof(m, r, "cannot build GetManagedObjects' reply: %m");
                        return 1;
                }
        } else if (sd_bus_message_is_method_call(m, "org.freedesktop.DBus.Introspectable", "Introspect") && path) {
                what = "Introspect";
                size = introspect_size(d, m, path);
        } else
                return 0;
        /* charged by what was measured; Introspect by its nodes, not the allowance */
        bus_rate_limit_charge(d->ratelimit, m, streq(what, "Introspect") ? size - INTROSPECT_FIXED : size);
        if (!sd_bus_message_get_expect_reply(m))
                return 1;               /* nobody waits for it: not built */
        if (size <= bus_reply_max_text(d)) {
                if (!objects)
                        return 0;       /* sd-bus answers */
                r = bus_managed_objects_reply(d, m, objects);
                if (r >= 0 && size >= LARGE_REPLY)
                        model_trim_soon(d->model);
                if (r >= 0)
                        return 1;
                g_warning("cannot answer GetManagedObjects: %s", g_strerror(-r));
                (void) sd_bus_reply_method_errnof(m, r, "cannot build GetManagedObjects' reply: %m");
                return 1;
        }
        (void) sd_bus_reply_method_errorf(m, BUS_ERROR_REPLY_TOO_LARGE,
                                          "%s of %s: the reply would be %zu bytes, more than one message on the bus "
                                          "carries (%zu); List each kind with the options \"limit\" and "
                                          "\"continue\" instead",
                                          what, path, size, bus_reply_max_text(d));
        return 1;       /* answered: not dispatched */
}

int bus_reply_guard_install(Daemon *d) {
        d->managed_objects = bus_managed_objects_new();
        return sd_bus_add_filter(d->bus, NULL, on_message, d);
}
