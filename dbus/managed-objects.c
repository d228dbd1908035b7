/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GetManagedObjects' replies, of the root's ObjectManager and of each
 * namespace's Events' (object-dbus.c), answered from entries kept per
 * object.
 *
 * An object's entry is written once by the property getters, then kept as
 * the calls that write it again: containers opened and closed, basic
 * values appended.  A reply replays the kept entries; the getters, which
 * look their values up in the object's JSON, run once per change of the
 * object, not once per call.  This is written here, not taken from sd-bus,
 * because sd-bus has no way to append bytes already marshalled, and
 * copying a kept message (sd_bus_message_copy) reads it back at the cost
 * of the getters: docs/architecture.md, "Who spends GetManagedObjects'
 * time".
 *
 * Every change of what an object's properties show goes through the
 * model's observer (it is what emits PropertiesChanged), which forgets the
 * object's entry and its owners': bus_managed_objects_forget(). */
#include "authz.h"
#include "bus.h"
#include "json-util.h"
#include "object-path.h"
#include "util.h"

/* One call that writes an entry again.  Strings a kind's vtables bound
 * (interface and property names, containers' signatures) are kept once
 * per daemon, in ManagedObjects.names; every other value in its entry's
 * text, which holds the bytes of numbers too. */
typedef struct Op {
        char type;              /* a basic type, a container's, or ')' to close one */
        bool named;             /* a string in names, not in the entry's text */
        uint32_t at;            /* index in names, or offset in the entry's text */
} Op;

typedef struct Entry {
        size_t size;            /* marshalled, from an 8-aligned start */
        size_t n_ops;
        Op *ops;
        char *text;
} Entry;

struct ManagedObjects {
        GHashTable *entries;    /* Object -> Entry */
        GHashTable *name_index; /* a name -> its index in names, plus 1 */
        GPtrArray *names;
};

static void entry_free(void *p) {
        Entry *e = p;

        g_free(e->ops);
        g_free(e->text);
        g_free(e);
}

ManagedObjects *bus_managed_objects_new(void) {
        ManagedObjects *mo = g_new(ManagedObjects, 1);

        mo->entries = g_hash_table_new_full(NULL, NULL, NULL, entry_free);
        mo->name_index = g_hash_table_new(g_str_hash, g_str_equal);
        mo->names = g_ptr_array_new_with_free_func(g_free);
        return mo;
}

ManagedObjects *bus_managed_objects_free(ManagedObjects *mo) {
        if (!mo)
                return NULL;
        g_hash_table_unref(mo->entries);
        g_hash_table_unref(mo->name_index);
        g_ptr_array_unref(mo->names);
        g_free(mo);
        return NULL;
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

static uint32_t name_at(ManagedObjects *mo, const char *name) {
        gpointer at = g_hash_table_lookup(mo->name_index, name);

        if (at)
                return GPOINTER_TO_UINT(at) - 1;
        g_ptr_array_add(mo->names, g_strdup(name));
        g_hash_table_insert(mo->name_index, mo->names->pdata[mo->names->len - 1], GUINT_TO_POINTER(mo->names->len));
        return mo->names->len - 1;
}

static uint32_t text_at(GString *text, const void *p, size_t len) {
        uint32_t at = (uint32_t) text->len;

        g_string_append_len(text, p, (gssize) len);
        return at;
}

typedef struct Recording {
        ManagedObjects *mo;
        GArray *ops;
        GString *text;
        size_t pos;             /* the marshalled size so far; the body starts 8-aligned */
} Recording;

/* Records what is left of m's body at this level.  named: the first
 * string is a name (an interface's or a property's: the key of an
 * "{sa{sv}}" or "{sv}" entry outside any property's value, which may hold
 * anything). */
static int record(Recording *rec, sd_bus_message *m, bool named, bool in_value) {
        const char *contents;
        char type;
        int r;

        while ((r = sd_bus_message_peek_type(m, &type, &contents)) > 0) {
                Op op = { .type = type };
                if (strchr("avre", type)) {
                        if (type == 'a')
                                rec->pos = align_to(align_to(rec->pos, 4) + 4, alignment_of(contents[0]));
                        else if (type == 'v')
                                rec->pos += 1 + strlen(contents) + 1;
                        else
                                rec->pos = align_to(rec->pos, 8);
                        op.named = true;
                        op.at = name_at(rec->mo, contents);
                        g_array_append_val(rec->ops, op);
                        if ((r = sd_bus_message_enter_container(m, type, contents)) < 0 ||
                            (r = record(rec, m, type == 'e' && !in_value && (streq(contents, "sv") ||
                                                                              streq(contents, "sa{sv}")),
                                        in_value || type == 'v')) < 0 ||
                            (r = sd_bus_message_exit_container(m)) < 0)
                                return r;
                        g_array_append_val(rec->ops, ((Op) { .type = ')' }));
                        continue;
                }
                if (type == SD_BUS_TYPE_UNIX_FD)
                        return -EINVAL;         /* no property is one */
                union { const char *s; uint64_t u; } v;
                if ((r = sd_bus_message_read_basic(m, type, &v)) < 0)
                        return r;
                if (strchr("sog", type)) {
                        size_t len = strlen(v.s);
                        op.named = named;
                        op.at = named ? name_at(rec->mo, v.s) : text_at(rec->text, v.s, len + 1);
                        rec->pos = type == 'g' ? rec->pos + 1 + len + 1 : align_to(rec->pos, 4) + 4 + len + 1;
                } else {
                        size_t width = type == 'y' ? 1 : alignment_of(type) == 2 ? 2 : alignment_of(type) == 8 ? 8 : 4;
                        op.at = text_at(rec->text, &v, width);
                        rec->pos = align_to(rec->pos, width) + width;
                }
                named = false;
                g_array_append_val(rec->ops, op);
        }
        return r;
}

static int entry_get(Daemon *d, sd_bus_message *call, Object *o, Entry **ret) {
        ManagedObjects *mo = d->managed_objects;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *s = NULL;
        g_autoptr(GArray) ops = g_array_new(FALSE, FALSE, sizeof(Op));
        g_autoptr(GString) text = g_string_new(NULL);
        g_autofree char *path = NULL;
        Recording rec = { .mo = mo, .ops = ops, .text = text };
        Entry *e;
        int r;

        *ret = g_hash_table_lookup(mo->entries, o);
        if (*ret)
                return 0;
        /* the dict entry's two halves, at the top of a scratch body */
        path = object_path_of(o);
        if ((r = sd_bus_message_new_method_return(call, &s)) < 0 || (r = sd_bus_message_append(s, "o", path)) < 0 ||
            (r = bus_append_object_interfaces(s, o, path)) < 0 || (r = sd_bus_message_seal(s, 1, 0)) < 0 ||
            (r = sd_bus_message_rewind(s, true)) < 0 || (r = record(&rec, s, false, false)) < 0)
                return r;
        e = g_new(Entry, 1);
        *e = (Entry) { .size = rec.pos, .n_ops = ops->len, .ops = g_memdup2(ops->data, ops->len * sizeof(Op)),
                       .text = g_memdup2(text->str, text->len) };
        g_hash_table_insert(mo->entries, o, e);
        *ret = e;
        return 0;
}

/* o's entry, written again into the reply to call (in its array). */
static int append_object(Daemon *d, sd_bus_message *call, sd_bus_message *reply, Object *o) {
        ManagedObjects *mo = d->managed_objects;
        Entry *e;
        int r;

        if ((r = entry_get(d, call, o, &e)) < 0 || (r = sd_bus_message_open_container(reply, 'e', "oa{sa{sv}}")) < 0)
                return r;
        for (const Op *op = e->ops; op < e->ops + e->n_ops; op++) {
                const char *s = op->named ? mo->names->pdata[op->at] : e->text + op->at;
                if (op->type == ')')
                        r = sd_bus_message_close_container(reply);
                else if (strchr("avre", op->type))
                        r = sd_bus_message_open_container(reply, op->type, s);
                else if (strchr("sog", op->type))
                        r = sd_bus_message_append_basic(reply, op->type, s);
                else {
                        uint64_t v = 0;
                        memcpy(&v, s, op->type == 'y' ? 1 : alignment_of(op->type));
                        r = sd_bus_message_append_basic(reply, op->type, &v);
                }
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

void bus_managed_objects_forget(Daemon *d, Object *o) {
        JsonArray *owners = json_get_array(object_metadata(o), "ownerReferences");

        if (!d->managed_objects)
                return;
        g_hash_table_remove(d->managed_objects->entries, o);
        /* a VM's Instance finds its instance by name, then checks that the
         * VM owns it: an instance that stopped naming its VM changes it too */
        Object *vm = NULL;
        if (o->kind == &kind_vmi && model_get(d->model, &kind_vm, o->namespace, o->name, &vm, NULL) >= 0)
                g_hash_table_remove(d->managed_objects->entries, vm);
        /* an owner's properties may show its dependents */
        for (guint i = 0; owners && i < json_array_get_length(owners); i++) {
                const char *uid = json_get_string(json_array_get_object_element(owners, i), "uid");
                Object *owner = uid ? model_find_uid(d->model, uid) : NULL;
                if (owner)
                        g_hash_table_remove(d->managed_objects->entries, owner);
        }
}

int bus_managed_objects_size(Daemon *d, sd_bus_message *call, GPtrArray *objects, size_t *ret) {
        size_t size = 8;        /* the array's length, padded to its 8-aligned entries */

        for (guint i = 0; i < objects->len; i++) {
                Entry *e;
                int r = entry_get(d, call, objects->pdata[i], &e);
                if (r < 0)
                        return r;
                size = align_to(size, 8) + e->size;
        }
        *ret = size;
        return 0;
}

GPtrArray *bus_managed_objects_list(Daemon *d, sd_bus_message *call, const char *events_of) {
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

int bus_managed_objects_reply(Daemon *d, sd_bus_message *call, GPtrArray *objects) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        if ((r = sd_bus_message_new_method_return(call, &reply)) < 0 ||
            (r = sd_bus_message_open_container(reply, 'a', "{oa{sa{sv}}}")) < 0)
                return r;
        for (guint i = 0; i < objects->len; i++)
                if ((r = append_object(d, call, reply, objects->pdata[i])) < 0)
                        return r;
        if ((r = sd_bus_message_close_container(reply)) < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}
