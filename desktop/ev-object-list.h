/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A list of one namespace's objects of some kinds: a boxed GtkListBox of
 * rows by name, sorted, with an AdwStatusPage while it is empty. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

typedef struct EvObjectList EvObjectList;

/* a row for object (a GtkListBoxRow); update: refresh a row from the cache */
typedef GtkWidget *(*EvRowNewFunc)(GDBusObject *object, gpointer user_data);
typedef void (*EvRowUpdateFunc)(GtkWidget *row, gpointer user_data);

EvObjectList *ev_object_list_new(const char *empty_icon, const char *empty_title, const char *empty_description,
                                 const char *accessible_name, EvRowNewFunc row_new, EvRowUpdateFunc row_update,
                                 gpointer user_data);
EvObjectList *ev_object_list_free(EvObjectList *l);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EvObjectList, ev_object_list_free)

/* the widget to put in a page (a scrolled, clamped list or the status page) */
GtkWidget *ev_object_list_get_widget(EvObjectList *l);
GtkListBox *ev_object_list_get_listbox(EvObjectList *l);
/* a widget shown above the list (a button row); may be NULL */
void ev_object_list_set_header(EvObjectList *l, GtkWidget *header);
/* key: the row's identity in the list (kind and name) */
void ev_object_list_add(EvObjectList *l, const char *key, GDBusObject *object);
void ev_object_list_remove(EvObjectList *l, const char *key);
void ev_object_list_update(EvObjectList *l, const char *key);
void ev_object_list_update_all(EvObjectList *l);
void ev_object_list_clear(EvObjectList *l);
GtkWidget *ev_object_list_lookup(EvObjectList *l, const char *key);
guint ev_object_list_count(EvObjectList *l);

/* the object a row of such a list shows (a borrowed reference) */
GDBusObject *ev_row_get_object(GtkWidget *row);
void ev_row_set_object(GtkWidget *row, GDBusObject *object);

G_END_DECLS
