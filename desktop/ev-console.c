/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The serial console in a VTE terminal, fed from OpenConsole()'s socket,
 * and the graphical console: a loopback port whose connections are
 * spliced to sockets from OpenVNC(), with a viewer started on it (as
 * edgevirtctl vnc does). */
#include "config.h"

#include <errno.h>
#include <unistd.h>

#include <glib/gi18n.h>
#include <vte/vte.h>

#include "ev-console.h"
#include "ev-widgets.h"

typedef struct {
        int refs;               /* the window's, and each call's on the way */
        GtkWidget *window, *terminal, *title, *reconnect;
        EvWindow *main;         /* weak */
        char *ns, *name;
        GSocket *socket;
        GSource *in, *out;
        GByteArray *pending;    /* typed, not written yet */
} Console;

static void console_disconnect(Console *c, const char *why) {
        if (c->in) {
                g_source_destroy(c->in);
                g_clear_pointer(&c->in, g_source_unref);
        }
        if (c->out) {
                g_source_destroy(c->out);
                g_clear_pointer(&c->out, g_source_unref);
        }
        if (c->socket)
                g_socket_close(c->socket, NULL);
        g_clear_object(&c->socket);
        g_byte_array_set_size(c->pending, 0);
        if (!c->window)
                return;
        adw_window_title_set_subtitle(ADW_WINDOW_TITLE(c->title), why);
        gtk_widget_set_visible(c->reconnect, TRUE);
}

static void console_unref(gpointer data) {
        Console *c = data;

        if (--c->refs > 0)
                return;
        console_disconnect(c, NULL);
        g_byte_array_unref(c->pending);
        g_clear_weak_pointer(&c->main);
        g_free(c->ns);
        g_free(c->name);
        g_free(c);
}

static gboolean on_readable(GSocket *socket, GIOCondition cond, gpointer user_data) {
        Console *c = user_data;
        char buf[65536];
        g_autoptr(GError) e = NULL;
        gssize n = g_socket_receive(socket, buf, sizeof buf, NULL, &e);

        if (n < 0 && g_error_matches(e, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
                return G_SOURCE_CONTINUE;
        if (n <= 0) {
                g_clear_pointer(&c->in, g_source_unref);     /* it ends by returning REMOVE */
                console_disconnect(c, n == 0 ? _("Disconnected: the console was closed") : e->message);
                return G_SOURCE_REMOVE;
        }
        vte_terminal_feed(VTE_TERMINAL(c->terminal), buf, n);
        return G_SOURCE_CONTINUE;
}

static gboolean on_writable(GSocket *socket, GIOCondition cond, gpointer user_data) {
        Console *c = user_data;
        g_autoptr(GError) e = NULL;
        gssize n = g_socket_send(socket, (const char *) c->pending->data, c->pending->len, NULL, &e);

        if (n < 0 && !g_error_matches(e, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
                g_clear_pointer(&c->out, g_source_unref);
                console_disconnect(c, e->message);
                return G_SOURCE_REMOVE;
        }
        if (n > 0)
                g_byte_array_remove_range(c->pending, 0, n);
        if (c->pending->len)
                return G_SOURCE_CONTINUE;
        g_clear_pointer(&c->out, g_source_unref);
        return G_SOURCE_REMOVE;
}

static void on_commit(VteTerminal *t, const char *text, guint size, gpointer user_data) {
        Console *c = user_data;

        if (!c->socket)
                return;
        g_byte_array_append(c->pending, (const guint8 *) text, size);
        if (!c->out) {
                c->out = g_socket_create_source(c->socket, G_IO_OUT, NULL);
                g_source_set_callback(c->out, (GSourceFunc) (void (*)(void)) on_writable, c, NULL);
                g_source_attach(c->out, NULL);
        }
}

static void on_opened(GObject *source, GAsyncResult *res, gpointer user_data) {
        Console *c = user_data;
        g_autoptr(GError) e = NULL;
        g_autoptr(GUnixFDList) fds = NULL;
        g_autoptr(GVariant) reply = ev_client_call_finish(EV_CLIENT(source), res, &fds, &e);
        gint32 handle;
        int fd;

        if (!c->window) {
                console_unref(c);
                return;
        }
        if (!reply || !fds) {
                g_autofree char *why = e ? ev_error_text(e) : g_strdup(_("no socket in the reply"));
                g_autofree char *text = g_strdup_printf(_("Cannot open the console: %s"), why);
                console_disconnect(c, text);
                console_unref(c);
                return;
        }
        g_variant_get(reply, "(h)", &handle);
        fd = g_unix_fd_list_get(fds, handle, &e);
        if (fd < 0 || !(c->socket = g_socket_new_from_fd(fd, &e))) {
                if (fd >= 0)
                        close(fd);
                console_disconnect(c, e->message);
                console_unref(c);
                return;
        }
        g_socket_set_blocking(c->socket, FALSE);
        c->in = g_socket_create_source(c->socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
        g_source_set_callback(c->in, (GSourceFunc) (void (*)(void)) on_readable, c, NULL);
        g_source_attach(c->in, NULL);
        adw_window_title_set_subtitle(ADW_WINDOW_TITLE(c->title), _("Connected"));
        gtk_widget_set_visible(c->reconnect, FALSE);
        gtk_widget_grab_focus(c->terminal);
        console_unref(c);
}

static void console_connect(Console *c) {
        g_autofree char *path = ev_object_path(c->ns, "vmi", c->name);

        if (!c->main || c->socket)
                return;
        c->refs++;
        gtk_widget_set_visible(c->reconnect, FALSE);
        adw_window_title_set_subtitle(ADW_WINDOW_TITLE(c->title), _("Connecting…"));
        ev_client_call(ev_window_get_client(c->main), path, EV_IFACE_VMI, "OpenConsole",
                       g_variant_new("(a{sv})", NULL), NULL, NULL, on_opened, c);
}

static void on_reconnect(GtkButton *b, gpointer user_data) {
        console_connect(user_data);
}

static void on_window_destroy(GtkWidget *window, gpointer user_data) {
        Console *c = user_data;

        c->window = NULL;       /* a reply on the way finds it gone */
        console_disconnect(c, NULL);
}

void ev_console_open(EvWindow *w, const char *ns, const char *name) {
        Console *c = g_new0(Console, 1);
        GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 0), *header = adw_header_bar_new();
        g_autofree char *title = g_strdup_printf(_("Serial Console of %s"), name);

        g_set_weak_pointer(&c->main, w);
        c->ns = g_strdup(ns);
        c->name = g_strdup(name);
        c->pending = g_byte_array_new();
        c->window = adw_window_new();
        gtk_window_set_title(GTK_WINDOW(c->window), title);
        gtk_window_set_default_size(GTK_WINDOW(c->window), 760, 480);
        c->title = adw_window_title_new(title, NULL);
        adw_header_bar_set_title_widget(ADW_HEADER_BAR(header), c->title);
        c->reconnect = ev_mnemonic_button(_("_Reconnect"));
        g_signal_connect(c->reconnect, "clicked", G_CALLBACK(on_reconnect), c);
        adw_header_bar_pack_start(ADW_HEADER_BAR(header), c->reconnect);
        c->terminal = vte_terminal_new();
        gtk_widget_set_vexpand(c->terminal, TRUE);
        vte_terminal_set_scrollback_lines(VTE_TERMINAL(c->terminal), 10000);
        gtk_accessible_update_property(GTK_ACCESSIBLE(c->terminal), GTK_ACCESSIBLE_PROPERTY_LABEL, title, -1);
        g_signal_connect(c->terminal, "commit", G_CALLBACK(on_commit), c);
        gtk_box_append(GTK_BOX(box), header);
        gtk_box_append(GTK_BOX(box), c->terminal);
        adw_window_set_content(ADW_WINDOW(c->window), box);
        c->refs = 1;
        g_object_set_data_full(G_OBJECT(c->window), "ev-console", c, console_unref);
        g_signal_connect(c->window, "destroy", G_CALLBACK(on_window_destroy), c);
        gtk_window_present(GTK_WINDOW(c->window));
        console_connect(c);
}

/* --- the graphical console --- */

/* The loopback port a viewer connects to.  It takes one connection, the
 * viewer's, and closes: another local user cannot take the console, nor
 * bring up a polkit prompt the user might think their own.  Referenced by
 * its opener (until the viewer exits or the message closes) and by an
 * OpenVNC() call in flight, which may outlive both (a polkit prompt). */
typedef struct {
        gint refs;
        EvWindow *main;         /* weak */
        char *path, *name;
        GSocketService *service;
        guint16 port;
} Vnc;

static void vnc_stop_listening(Vnc *v) {
        g_socket_service_stop(v->service);
        g_socket_listener_close(G_SOCKET_LISTENER(v->service));
}

static Vnc *vnc_ref(Vnc *v) {
        g_atomic_int_inc(&v->refs);
        return v;
}

static void vnc_unref(Vnc *v) {
        if (!g_atomic_int_dec_and_test(&v->refs))
                return;
        vnc_stop_listening(v);
        g_object_unref(v->service);
        g_clear_weak_pointer(&v->main);
        g_free(v->path);
        g_free(v->name);
        g_free(v);
}

typedef struct {
        Vnc *vnc;
        GSocketConnection *client;
} Incoming;

static void on_spliced(GObject *source, GAsyncResult *res, gpointer user_data) {
        (void) g_io_stream_splice_finish(res, NULL);   /* either side closed: that is the end */
}

static void on_vnc_opened(GObject *source, GAsyncResult *res, gpointer user_data) {
        Incoming *in = user_data;
        g_autoptr(GError) e = NULL;
        g_autoptr(GUnixFDList) fds = NULL;
        g_autoptr(GVariant) reply = ev_client_call_finish(EV_CLIENT(source), res, &fds, &e);
        g_autoptr(GSocket) socket = NULL;
        g_autoptr(GSocketConnection) conn = NULL;
        gint32 handle;
        int fd = -1;

        if (reply && fds) {
                g_variant_get(reply, "(h)", &handle);
                fd = g_unix_fd_list_get(fds, handle, &e);
        }
        if (fd >= 0 && !(socket = g_socket_new_from_fd(fd, &e)))
                close(fd);
        if (!socket) {
                g_autofree char *why = e ? ev_error_text(e) : g_strdup(_("no socket in the reply"));
                g_autofree char *text = g_strdup_printf(_("Cannot open the graphical console of %s: %s"),
                                                        in->vnc->name, why);
                if (in->vnc->main)
                        ev_window_toast(in->vnc->main, text, TRUE);
        } else {
                conn = g_socket_connection_factory_create_connection(socket);
                g_io_stream_splice_async(G_IO_STREAM(in->client), G_IO_STREAM(conn),
                                         G_IO_STREAM_SPLICE_CLOSE_STREAM1 | G_IO_STREAM_SPLICE_CLOSE_STREAM2,
                                         G_PRIORITY_DEFAULT, NULL, on_spliced, NULL);
        }
        g_object_unref(in->client);
        vnc_unref(in->vnc);
        g_free(in);
}

static gboolean on_incoming(GSocketService *service, GSocketConnection *conn, GObject *source, gpointer user_data) {
        Vnc *v = user_data;
        Incoming *in;

        vnc_stop_listening(v);          /* the viewer's connection; no other */
        if (!v->main)
                return FALSE;
        in = g_new0(Incoming, 1);
        in->vnc = vnc_ref(v);
        in->client = g_object_ref(conn);
        ev_client_call(ev_window_get_client(v->main), v->path, EV_IFACE_VMI, "OpenVNC",
                       g_variant_new("(a{sv})", NULL), NULL, NULL, on_vnc_opened, in);
        return TRUE;
}

static void on_viewer_exit(GObject *source, GAsyncResult *res, gpointer user_data) {
        (void) g_subprocess_wait_finish(G_SUBPROCESS(source), res, NULL);
        vnc_unref(user_data);   /* the viewer is gone: so is the port */
}

static void on_no_viewer_closed(AdwMessageDialog *d, const char *response, gpointer user_data) {
        vnc_unref(user_data);
}

/* No viewer to start: say where to connect one; the port stays open
 * until the message is closed. */
static void tell_port(EvWindow *w, Vnc *v) {
        g_autofree char *body = g_strdup_printf(_("No VNC viewer was found (remote-viewer from virt-viewer, or a "
                                                  "vncviewer). Connect one to 127.0.0.1:%u while this message is "
                                                  "open."), v->port);
        GtkWidget *d = adw_message_dialog_new(GTK_WINDOW(w), _("Graphical Console"), body);

        adw_message_dialog_add_response(ADW_MESSAGE_DIALOG(d), "close", _("_Close"));
        g_signal_connect(d, "response", G_CALLBACK(on_no_viewer_closed), v);
        gtk_window_present(GTK_WINDOW(d));
}

void ev_vnc_open(EvWindow *w, const char *ns, const char *name) {
        Vnc *v = g_new0(Vnc, 1);
        g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
        g_autoptr(GSocketAddress) any = g_inet_socket_address_new(lo, 0);
        g_autoptr(GSocketAddress) bound = NULL;
        g_autoptr(GError) e = NULL;
        g_autofree char *rv = g_find_program_in_path("remote-viewer"), *vv = g_find_program_in_path("vncviewer");
        g_autofree char *url = NULL, *hostport = NULL;
        g_autoptr(GSubprocess) viewer = NULL;

        v->refs = 1;
        g_set_weak_pointer(&v->main, w);
        v->path = ev_object_path(ns, "vmi", name);
        v->name = g_strdup(name);
        v->service = g_socket_service_new();
        if (!g_socket_listener_add_address(G_SOCKET_LISTENER(v->service), any, G_SOCKET_TYPE_STREAM,
                                           G_SOCKET_PROTOCOL_TCP, NULL, &bound, &e)) {
                g_autofree char *text = g_strdup_printf(_("Cannot listen on 127.0.0.1: %s"), e->message);
                ev_window_toast(w, text, TRUE);
                vnc_unref(v);
                return;
        }
        v->port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
        g_signal_connect(v->service, "incoming", G_CALLBACK(on_incoming), v);
        g_socket_service_start(v->service);
        url = g_strdup_printf("vnc://127.0.0.1:%u", v->port);
        hostport = g_strdup_printf("127.0.0.1::%u", v->port);
        if (rv)
                viewer = g_subprocess_new(G_SUBPROCESS_FLAGS_NONE, &e, rv, url, NULL);
        else if (vv)
                viewer = g_subprocess_new(G_SUBPROCESS_FLAGS_NONE, &e, vv, hostport, NULL);
        if (!viewer) {
                tell_port(w, v);
                return;
        }
        g_subprocess_wait_async(viewer, NULL, on_viewer_exit, v);
}
