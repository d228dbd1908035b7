/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* No message of ours may be larger than the bus takes (its
 * max_message_size, [Limits] MaxMessageSize=): dbus-daemon disconnects a
 * connection that sends one.  Replies we build are checked here before
 * they are sent; the two that sd-bus would build from the vtables are
 * measured by a filter first and refused when they would not fit:
 * Introspect (then left to sd-bus) and GetManagedObjects, of the root's
 * ObjectManager and of each namespace's Events' (then answered here, built
 * once, its size known from each object's remembered entry).
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

static size_t align_to(size_t n, size_t a) {
        return (n + a - 1) & ~(a - 1);
}

static size_t alignment_of(char type) {
        switch (type) {
        case 'y': case 'g': case 'v':
                return 1;
        case 'n': case 'q':
                return 2;
        case 'x': case 't': case 'd': case 'r': case 'e': case '(': case '{':
                return 8;
        default:        /* b i u h s o a */
                return 4;
        }
}

/* The marshalled size of what is left of m's body, from *pos on (D-Bus'
 * alignment rules; the body starts 8-aligned). */
static int body_size(sd_bus_message *m, size_t *pos) {
        const char *contents;
        char type;
        int r;

        while ((r = sd_bus_message_peek_type(m, &type, &contents)) > 0) {
                if (strchr("avre", type)) {
                        if (type == 'a')
                                *pos = align_to(align_to(*pos, 4) + 4, alignment_of(contents[0]));
                        else if (type == 'v')
                                *pos += 1 + strlen(contents) + 1;
                        else
                                *pos = align_to(*pos, 8);
                        if ((r = sd_bus_message_enter_container(m, type, contents)) < 0 ||
                            (r = body_size(m, pos)) < 0 || (r = sd_bus_message_exit_container(m)) < 0)
                                return r;
                        continue;
                }
                union { const char *s; uint64_t u; } v;
                if ((r = sd_bus_message_read_basic(m, type, &v)) < 0)
                        return r;
                if (type == 's' || type == 'o')
                        *pos = align_to(*pos, 4) + 4 + strlen(v.s) + 1;
                else if (type == 'g')
                        *pos += 1 + strlen(v.s) + 1;
                else
                        *pos = align_to(*pos, alignment_of(type)) + (type == 'y' ? 1 : alignment_of(type) == 2 ? 2 :
                                                                     alignment_of(type) == 8 ? 8 : 4);
        }
        return r;
}

/* An object's entry of GetManagedObjects, as sd-bus writes it. */
static int append_object(sd_bus_message *s, Object *o) {
        g_autofree char *path = object_path_of(o);
        int r;

        if ((r = sd_bus_message_open_container(s, 'e', "oa{sa{sv}}")) < 0 ||
            (r = sd_bus_message_append(s, "o", path)) < 0 || (r = bus_append_object_interfaces(s, o, path)) < 0)
                return r;
        return sd_bus_message_close_container(s);
}

/* The marshalled size of o's entry (8-aligned where it starts): written
 * into a scratch reply and walked when first asked for, then remembered
 * in d->entry_sizes until the object changes.  Every change of what its
 * properties show goes through the model's observer (it is what emits
 * PropertiesChanged), which forgets the size: bus_reply_forget().
 */
static int entry_size(Daemon *d, sd_bus_message *call, Object *o, size_t *ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *s = NULL;
        size_t pos = 0;
        int r;

        *ret = GPOINTER_TO_SIZE(g_hash_table_lookup(d->entry_sizes, o));
        if (*ret > 0)
                return 0;
        if ((r = sd_bus_message_new_method_return(call, &s)) < 0 ||
            (r = sd_bus_message_open_container(s, 'a', "{oa{sa{sv}}}")) < 0 || (r = append_object(s, o)) < 0 ||
            (r = sd_bus_message_close_container(s)) < 0 || (r = sd_bus_message_seal(s, 1, 0)) < 0 ||
            (r = sd_bus_message_rewind(s, true)) < 0 || (r = body_size(s, &pos)) < 0)
                return r;
        *ret = pos - 8;         /* less the array's length and padding */
        g_hash_table_insert(d->entry_sizes, o, GSIZE_TO_POINTER(*ret));
        return 0;
}

void bus_reply_forget(Daemon *d, Object *o) {
        JsonArray *owners = json_get_array(object_metadata(o), "ownerReferences");

        if (!d->entry_sizes)
                return;
        g_hash_table_remove(d->entry_sizes, o);
        /* an owner's properties may show its dependents (a VM's Instance
         * names its VirtualMachineInstance) */
        for (guint i = 0; owners && i < json_array_get_length(owners); i++) {
                const char *uid = json_get_string(json_array_get_object_element(owners, i), "uid");
                Object *owner = uid ? model_find_uid(d->model, uid) : NULL;
                if (owner)
                        g_hash_table_remove(d->entry_sizes, owner);
        }
}

/* The body size of GetManagedObjects' reply to call, listing objects. */
static int managed_objects_size(Daemon *d, sd_bus_message *call, GPtrArray *objects, size_t *ret) {
        size_t size = 8;        /* the array's length, padded to its 8-aligned entries */

        for (guint i = 0; i < objects->len; i++) {
                size_t entry;
                int r = entry_size(d, call, objects->pdata[i], &entry);
                if (r < 0)
                        return r;
                size = align_to(size, 8) + entry;
        }
        *ret = size;
        return 0;
}

/* The objects of GetManagedObjects' reply to call: those with a path the
 * caller sees, of the manager at the root (every object but the Events) or
 * of the one of events_of's Events (object-dbus.c). */
static GPtrArray *managed_objects(Daemon *d, sd_bus_message *call, const char *events_of) {
        GPtrArray *objects = events_of ? model_list(d->model, &kind_event, events_of, NULL)
                                       : model_list(d->model, NULL, NULL, NULL);

        for (guint i = objects->len; i-- > 0;) {
                Object *o = objects->pdata[i];
                if (!o->kind->path_segment || (!events_of && o->kind == &kind_event) ||
                    !authz_can_see(d->authz, call, o->kind, o->namespace, o->name))
                        g_ptr_array_remove_index(objects, i);
        }
        return objects;
}

/* GetManagedObjects, answered here instead of by sd-bus (which would
 * build the reply a second time): the reply is written once, from the
 * same getters sd-bus would call, after its size is known from each
 * object's remembered entry. */
static int reply_managed_objects(Daemon *d, sd_bus_message *call, GPtrArray *objects) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        if ((r = sd_bus_message_new_method_return(call, &reply)) < 0 ||
            (r = sd_bus_message_open_container(reply, 'a', "{oa{sa{sv}}}")) < 0)
                return r;
        for (guint i = 0; i < objects->len; i++)
                if ((r = append_object(reply, objects->pdata[i])) < 0)
                        return r;
        if ((r = sd_bus_message_close_container(reply)) < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
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
                objects = managed_objects(d, m, events_of);
                r = managed_objects_size(d, m, objects, &size);
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
                r = reply_managed_objects(d, m, objects);
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
        d->entry_sizes = g_hash_table_new(NULL, NULL);
        return sd_bus_add_filter(d->bus, NULL, on_message, d);
}
