/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The importer's slots: a global cap, a cap per namespace, and a fair
 * queue (import-slots.h). */
#include <stdint.h>

#include "import-slots.h"

typedef struct NamespaceSlots {
        unsigned running, waiting;
        uint64_t last_grant;            /* serial of its last grant, 0: never */
} NamespaceSlots;

struct ImportTicket {
        ImportSlots *slots;
        char *ns;
        bool granted;
        ImportGrantFunc on_grant;
        void *userdata;
        GList *link;                    /* in slots->queue while waiting */
};

struct ImportSlots {
        unsigned max_total, max_per_namespace;
        unsigned running;
        GQueue queue;                   /* waiting tickets, oldest first */
        GHashTable *namespaces;         /* name -> NamespaceSlots, while it has tickets */
        uint64_t serial;
        bool dispatching, again;
};

ImportSlots *import_slots_new(unsigned max_total, unsigned max_per_namespace) {
        ImportSlots *s = g_new0(ImportSlots, 1);
        s->max_total = MAX(max_total, 1u);
        s->max_per_namespace = max_per_namespace;
        g_queue_init(&s->queue);
        s->namespaces = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        return s;
}

ImportSlots *import_slots_free(ImportSlots *s) {
        if (!s)
                return NULL;
        g_hash_table_unref(s->namespaces);
        g_free(s);
        return NULL;
}

static NamespaceSlots *ns_slots(ImportSlots *s, const char *ns) {
        NamespaceSlots *n = g_hash_table_lookup(s->namespaces, ns);
        if (!n) {
                n = g_new0(NamespaceSlots, 1);
                g_hash_table_insert(s->namespaces, g_strdup(ns), n);
        }
        return n;
}

static void ns_forget_if_idle(ImportSlots *s, const char *ns) {
        NamespaceSlots *n = g_hash_table_lookup(s->namespaces, ns);
        if (n && n->running == 0 && n->waiting == 0)
                g_hash_table_remove(s->namespaces, ns);
}

/* The next ticket to grant, NULL when none may run now. */
static ImportTicket *pick(ImportSlots *s) {
        ImportTicket *best = NULL;
        NamespaceSlots *best_ns = NULL;

        if (s->running >= s->max_total)
                return NULL;
        for (GList *l = s->queue.head; l; l = l->next) {
                ImportTicket *t = l->data;
                NamespaceSlots *n = g_hash_table_lookup(s->namespaces, t->ns);
                if (s->max_per_namespace && n->running >= s->max_per_namespace)
                        continue;
                if (!best || n->running < best_ns->running ||
                    (n->running == best_ns->running && n->last_grant < best_ns->last_grant)) {
                        best = t;
                        best_ns = n;
                }
        }
        return best;
}

/* Grant what may run.  Callbacks may free and request tickets: a nested
 * call only asks the outer loop to look again. */
static void dispatch(ImportSlots *s) {
        ImportTicket *t;

        if (s->dispatching) {
                s->again = true;
                return;
        }
        s->dispatching = true;
        do {
                s->again = false;
                while ((t = pick(s))) {
                        NamespaceSlots *n = g_hash_table_lookup(s->namespaces, t->ns);
                        g_queue_delete_link(&s->queue, t->link);
                        t->link = NULL;
                        n->waiting--;
                        n->running++;
                        n->last_grant = ++s->serial;
                        s->running++;
                        t->granted = true;
                        t->on_grant(t, t->userdata);
                }
        } while (s->again);
        s->dispatching = false;
}

ImportTicket *import_slots_request(ImportSlots *s, const char *ns, ImportGrantFunc granted, void *userdata) {
        ImportTicket *t = g_new0(ImportTicket, 1);

        t->slots = s;
        t->ns = g_strdup(ns ? ns : "");
        t->on_grant = granted;
        t->userdata = userdata;
        g_queue_push_tail(&s->queue, t);
        t->link = s->queue.tail;
        ns_slots(s, t->ns)->waiting++;
        dispatch(s);
        return t;
}

bool import_ticket_granted(const ImportTicket *t) {
        return t && t->granted;
}

const char *import_ticket_namespace(const ImportTicket *t) {
        return t->ns;
}

ImportTicket *import_ticket_free(ImportTicket *t) {
        if (!t)
                return NULL;
        ImportSlots *s = t->slots;
        NamespaceSlots *n = g_hash_table_lookup(s->namespaces, t->ns);
        if (t->granted) {
                n->running--;
                s->running--;
        } else {
                g_queue_delete_link(&s->queue, t->link);
                n->waiting--;
        }
        ns_forget_if_idle(s, t->ns);
        g_free(t->ns);
        g_free(t);
        dispatch(s);
        return NULL;
}

unsigned import_slots_running(ImportSlots *s, const char *ns) {
        NamespaceSlots *n = ns ? g_hash_table_lookup(s->namespaces, ns) : NULL;
        return ns ? (n ? n->running : 0) : s->running;
}

unsigned import_slots_waiting(ImportSlots *s, const char *ns) {
        NamespaceSlots *n = ns ? g_hash_table_lookup(s->namespaces, ns) : NULL;
        return ns ? (n ? n->waiting : 0) : s->queue.length;
}

unsigned import_slots_max_total(ImportSlots *s) {
        return s->max_total;
}

unsigned import_slots_max_per_namespace(ImportSlots *s) {
        return s->max_per_namespace;
}
