/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "ev-object-list.h"

struct EvObjectList {
        GtkWidget *outer;       /* the header, then the stack */
        GtkWidget *stack;       /* "list" or "empty" */
        GtkWidget *box;
        GtkWidget *listbox;
        GtkWidget *header;
        GHashTable *rows;       /* key → GtkWidget row (owned by the list box) */
        EvRowNewFunc row_new;
        EvRowUpdateFunc row_update;
        gpointer user_data;
};

static int sort_rows(GtkListBoxRow *a, GtkListBoxRow *b, gpointer user_data) {
        return g_strcmp0(g_object_get_data(G_OBJECT(a), "ev-key"), g_object_get_data(G_OBJECT(b), "ev-key"));
}

static void sync_empty(EvObjectList *l) {
        gtk_stack_set_visible_child_name(GTK_STACK(l->stack), g_hash_table_size(l->rows) ? "list" : "empty");
}

EvObjectList *ev_object_list_new(const char *empty_icon, const char *empty_title, const char *empty_description,
                                 const char *accessible_name, EvRowNewFunc row_new, EvRowUpdateFunc row_update,
                                 gpointer user_data) {
        EvObjectList *l = g_new0(EvObjectList, 1);
        GtkWidget *scrolled, *clamp, *empty;

        l->rows = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        l->row_new = row_new;
        l->row_update = row_update;
        l->user_data = user_data;

        l->listbox = gtk_list_box_new();
        gtk_list_box_set_selection_mode(GTK_LIST_BOX(l->listbox), GTK_SELECTION_NONE);
        gtk_list_box_set_sort_func(GTK_LIST_BOX(l->listbox), sort_rows, NULL, NULL);
        gtk_widget_add_css_class(l->listbox, "boxed-list");
        gtk_widget_set_valign(l->listbox, GTK_ALIGN_START);
        gtk_accessible_update_property(GTK_ACCESSIBLE(l->listbox), GTK_ACCESSIBLE_PROPERTY_LABEL, accessible_name, -1);

        l->box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 12);
        gtk_widget_set_margin_top(l->box, 24);
        gtk_widget_set_margin_bottom(l->box, 24);
        gtk_widget_set_margin_start(l->box, 12);
        gtk_widget_set_margin_end(l->box, 12);
        gtk_box_append(GTK_BOX(l->box), l->listbox);
        clamp = adw_clamp_new();
        adw_clamp_set_child(ADW_CLAMP(clamp), l->box);
        scrolled = gtk_scrolled_window_new();
        gtk_scrolled_window_set_policy(GTK_SCROLLED_WINDOW(scrolled), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
        gtk_scrolled_window_set_child(GTK_SCROLLED_WINDOW(scrolled), clamp);
        gtk_widget_set_vexpand(scrolled, TRUE);

        empty = adw_status_page_new();
        adw_status_page_set_icon_name(ADW_STATUS_PAGE(empty), empty_icon);
        adw_status_page_set_title(ADW_STATUS_PAGE(empty), empty_title);
        adw_status_page_set_description(ADW_STATUS_PAGE(empty), empty_description);
        gtk_widget_set_vexpand(empty, TRUE);

        l->stack = gtk_stack_new();
        gtk_stack_add_named(GTK_STACK(l->stack), scrolled, "list");
        gtk_stack_add_named(GTK_STACK(l->stack), empty, "empty");
        l->outer = gtk_box_new(GTK_ORIENTATION_VERTICAL, 0);
        gtk_box_append(GTK_BOX(l->outer), l->stack);
        g_object_ref_sink(l->outer);
        sync_empty(l);
        return l;
}

EvObjectList *ev_object_list_free(EvObjectList *l) {
        if (!l)
                return NULL;
        g_hash_table_unref(l->rows);
        g_object_unref(l->outer);
        g_free(l);
        return NULL;
}

GtkWidget *ev_object_list_get_widget(EvObjectList *l) {
        return l->outer;
}

GtkListBox *ev_object_list_get_listbox(EvObjectList *l) {
        return GTK_LIST_BOX(l->listbox);
}

/* The header stays above the list and above the status page alike, so
 * what it offers is there when the list is empty too. */
void ev_object_list_set_header(EvObjectList *l, GtkWidget *header) {
        GtkWidget *clamp = adw_clamp_new();

        l->header = header;
        gtk_widget_set_margin_top(header, 12);
        gtk_widget_set_margin_start(header, 12);
        gtk_widget_set_margin_end(header, 12);
        adw_clamp_set_child(ADW_CLAMP(clamp), header);
        gtk_box_prepend(GTK_BOX(l->outer), clamp);
}

void ev_object_list_add(EvObjectList *l, const char *key, GDBusObject *object) {
        GtkWidget *row = g_hash_table_lookup(l->rows, key);

        if (row) {
                ev_row_set_object(row, object);
                l->row_update(row, l->user_data);
                return;
        }
        row = l->row_new(object, l->user_data);
        g_object_set_data_full(G_OBJECT(row), "ev-key", g_strdup(key), g_free);
        ev_row_set_object(row, object);
        g_hash_table_insert(l->rows, g_strdup(key), row);
        gtk_list_box_append(GTK_LIST_BOX(l->listbox), row);
        l->row_update(row, l->user_data);
        sync_empty(l);
}

void ev_object_list_remove(EvObjectList *l, const char *key) {
        GtkWidget *row = g_hash_table_lookup(l->rows, key);

        if (!row)
                return;
        g_hash_table_remove(l->rows, key);
        gtk_list_box_remove(GTK_LIST_BOX(l->listbox), row);
        sync_empty(l);
}

void ev_object_list_update(EvObjectList *l, const char *key) {
        GtkWidget *row = g_hash_table_lookup(l->rows, key);

        if (row)
                l->row_update(row, l->user_data);
}

void ev_object_list_update_all(EvObjectList *l) {
        GHashTableIter i;
        gpointer row;

        g_hash_table_iter_init(&i, l->rows);
        while (g_hash_table_iter_next(&i, NULL, &row))
                l->row_update(row, l->user_data);
}

void ev_object_list_clear(EvObjectList *l) {
        GHashTableIter i;
        gpointer row;

        g_hash_table_iter_init(&i, l->rows);
        while (g_hash_table_iter_next(&i, NULL, &row)) {
                gtk_list_box_remove(GTK_LIST_BOX(l->listbox), row);
                g_hash_table_iter_remove(&i);
        }
        sync_empty(l);
}

GtkWidget *ev_object_list_lookup(EvObjectList *l, const char *key) {
        return g_hash_table_lookup(l->rows, key);
}

guint ev_object_list_count(EvObjectList *l) {
        return g_hash_table_size(l->rows);
}

GDBusObject *ev_row_get_object(GtkWidget *row) {
        return g_object_get_data(G_OBJECT(row), "ev-object");
}

void ev_row_set_object(GtkWidget *row, GDBusObject *object) {
        g_object_set_data_full(G_OBJECT(row), "ev-object", g_object_ref(object), g_object_unref);
}
