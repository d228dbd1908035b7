/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>

/* Who may run an edgevirt-importer process now: at most max_total at once,
 * at most max_per_namespace of one namespace (0: no such limit), and when
 * a slot frees the waiting request of the namespace with the fewest running
 * goes first (ties: the namespace served longest ago; within a namespace,
 * first come first served), so one namespace's queue cannot starve
 * another's single import.  Pure bookkeeping, no event loop: the caller
 * starts its process when it is granted. */
typedef struct ImportSlots ImportSlots;
typedef struct ImportTicket ImportTicket;

/* Called once, when t gets a slot (possibly inside import_slots_request or
 * import_ticket_free of another ticket); it may request and free tickets. */
typedef void (*ImportGrantFunc)(ImportTicket *t, void *userdata);

ImportSlots *import_slots_new(unsigned max_total, unsigned max_per_namespace);
/* At exit: tickets still out (processes killed, never reaped) must not be
 * used afterwards. */
ImportSlots *import_slots_free(ImportSlots *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ImportSlots, import_slots_free)

/* Queue a request for a slot for namespace ns (cache pulls: "" — shared by
 * every namespace, they queue as one of their own).  granted runs when it
 * gets one, at once when one is free and nobody waits before it. */
ImportTicket *import_slots_request(ImportSlots *s, const char *ns, ImportGrantFunc granted, void *userdata);
bool import_ticket_granted(const ImportTicket *t);
const char *import_ticket_namespace(const ImportTicket *t);
/* Leave the queue, or give the slot back (and grant it to the next).
 * Accepts NULL; returns NULL. */
ImportTicket *import_ticket_free(ImportTicket *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ImportTicket, import_ticket_free)

/* Slots in use and requests waiting, of ns (NULL: all namespaces). */
unsigned import_slots_running(ImportSlots *s, const char *ns);
unsigned import_slots_waiting(ImportSlots *s, const char *ns);
unsigned import_slots_max_total(ImportSlots *s);
unsigned import_slots_max_per_namespace(ImportSlots *s);
