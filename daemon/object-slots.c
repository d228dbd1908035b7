/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Import slot requests of model objects (object-slots.h). */
#include "import-slots.h"
#include "object-slots.h"

typedef struct SlotWait {
        ObjectSlots *q;
        char *uid;
        ImportTicket *ticket;
} SlotWait;

struct ObjectSlots {
        Model *model;
        Services *services;
        GHashTable *waits;              /* uid -> SlotWait */
        sd_event_source *sweep;         /* drops requests of objects that went away */
};

static void slot_wait_free(SlotWait *w) {
        import_ticket_free(w->ticket);
        g_free(w->uid);
        g_free(w);
}

/* Granted: the object's reconcile starts the import; one that went away
 * gives the slot back (later: not inside the grant). */
static void on_granted(ImportTicket *t, void *userdata) {
        SlotWait *w = userdata;
        Object *o = model_find_uid(w->q->model, w->uid);
        if (o)
                model_enqueue(w->q->model, o);
        else
                sd_event_source_set_enabled(w->q->sweep, SD_EVENT_ONESHOT);
}

static int on_sweep(sd_event_source *s, void *userdata) {
        ObjectSlots *q = userdata;
        g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func((GDestroyNotify) slot_wait_free);
        GHashTableIter it;
        SlotWait *w;

        g_hash_table_iter_init(&it, q->waits);
        while (g_hash_table_iter_next(&it, NULL, (void **) &w))
                if (!model_find_uid(q->model, w->uid)) {
                        g_hash_table_iter_steal(&it);
                        g_ptr_array_add(gone, w);
                }
        /* freed after the walk: giving a slot back grants others */
        return 0;
}

int object_slots_new(Model *m, Services *s, ObjectSlots **ret) {
        ObjectSlots *q = g_new0(ObjectSlots, 1);
        int r;

        q->model = m;
        q->services = s;
        q->waits = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify) slot_wait_free);
        r = sd_event_add_defer(s->event, &q->sweep, on_sweep, q);
        if (r < 0) {
                object_slots_free(q);
                return r;
        }
        sd_event_source_set_enabled(q->sweep, SD_EVENT_OFF);
        *ret = q;
        return 0;
}

ObjectSlots *object_slots_free(ObjectSlots *q) {
        if (!q)
                return NULL;
        g_hash_table_unref(q->waits);
        sd_event_source_disable_unref(q->sweep);
        g_free(q);
        return NULL;
}

bool object_slots_granted(ObjectSlots *q, Object *o) {
        SlotWait *w = g_hash_table_lookup(q->waits, o->uid);
        if (!w) {
                w = g_new0(SlotWait, 1);
                w->q = q;
                w->uid = g_strdup(o->uid);
                g_hash_table_insert(q->waits, w->uid, w);
                w->ticket = import_slots_request(q->services->slots, o->namespace, on_granted, w);
        }
        return import_ticket_granted(w->ticket);
}

ImportTicket *object_slots_take(ObjectSlots *q, Object *o) {
        SlotWait *w = g_hash_table_lookup(q->waits, o->uid);
        ImportTicket *t = w ? g_steal_pointer(&w->ticket) : NULL;
        g_hash_table_remove(q->waits, o->uid);
        return t;
}

void object_slots_drop(ObjectSlots *q, const char *uid) {
        g_hash_table_remove(q->waits, uid);
}

char *object_slots_message(ObjectSlots *q, const char *ns) {
        ImportSlots *s = q->services->slots;
        unsigned per_ns = import_slots_max_per_namespace(s) ?: import_slots_max_total(s);
        return g_strdup_printf("waiting for an import slot: %u of %u in use, %u of %u by namespace %s, %u waiting",
                               import_slots_running(s, NULL), import_slots_max_total(s), import_slots_running(s, ns),
                               per_ns, ns, import_slots_waiting(s, NULL));
}
