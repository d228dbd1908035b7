/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* edgevirtctl: virtctl's verbs on VMs and their instances (start, stop,
 * restart, pause, unpause, soft-reboot, addvolume, removevolume, console,
 * vnc, guest agent facts),
 * each one call on the VM's or instance's bus object. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "ctl.h"

#define VM_INTERFACE "org.edgevirt.EdgeVirt1.VirtualMachine"
#define VMI_INTERFACE "org.edgevirt.EdgeVirt1.VirtualMachineInstance"

/* Send a verb's call to the object of kind name; 0, or the exit status. */
static int call_verb(Ctl *c, sd_bus_message *m, const char *kind, const char *name) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = sd_bus_call(c->bus, m, 0, &e, NULL);

        if (r >= 0)
                return 0;
        if (sd_bus_error_has_name(&e, SD_BUS_ERROR_UNKNOWN_OBJECT))
                return fail(_("%s \"%s\" not found in namespace \"%s\""), kind, name, c->namespace);
        return bus_fail(&e, r);
}

/* start|stop|restart|soft-reboot|reset VM; pause|unpause vm|vmi NAME */
int verb_lifecycle(Ctl *c, int argc, char **argv) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        const char *verb = argv[0], *name, *segment = "vm", *iface = VM_INTERFACE;
        static const struct { const char *verb, *method, *done; } map[] = {
                { "start", "Start", N_("VM %s was scheduled to start\n") },
                { "stop", "Stop", N_("VM %s was scheduled to stop\n") },
                { "restart", "Restart", N_("VM %s was scheduled to restart\n") },
                { "soft-reboot", "SoftReboot", N_("VM %s was scheduled to soft reboot\n") },
                { "reset", "Reset", N_("VM %s was scheduled to reset\n") },
                { "pause", "Pause", N_("VMI %s was scheduled to pause\n") },
                { "unpause", "Unpause", N_("VMI %s was scheduled to unpause\n") },
        };
        const char *method = NULL, *done = NULL;
        int r;

        for (size_t i = 0; i < G_N_ELEMENTS(map); i++)
                if (streq(verb, map[i].verb)) {
                        method = map[i].method;
                        done = map[i].done;
                }
        if (streq(verb, "pause") || streq(verb, "unpause")) {
                if (argc != 3 || (!streq(argv[1], "vm") && !streq(argv[1], "vmi")))
                        return fail(_("usage: edgevirtctl %s vm|vmi NAME"), verb);
                if (streq(argv[1], "vmi")) {
                        segment = "vmi";
                        iface = VMI_INTERFACE;
                }
                name = argv[2];
        } else {
                if (argc != 2)
                        return fail(_("usage: edgevirtctl %s VM%s"), verb,
                                    streq(verb, "stop") || streq(verb, "restart") ?
                                    " [--grace-period=SECONDS] [--force]" : "");
                name = argv[1];
        }
        if ((c->force || c->grace_period >= 0) && !streq(verb, "stop") && !streq(verb, "restart"))
                return fail(_("--force and --grace-period apply to stop and restart"));
        g_autofree char *path = ctl_object_path(c->namespace, segment, name);
        r = sd_bus_message_new_method_call(c->bus, &m, NAME, path, iface, method);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && c->force)
                r = sd_bus_message_append(m, "{sv}", "force", "b", 1);
        if (r >= 0 && c->grace_period >= 0)
                r = sd_bus_message_append(m, "{sv}", "gracePeriod", "x", c->grace_period);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return fail("%s", g_strerror(-r));
        if (call_verb(c, m, streq(segment, "vm") ? "VirtualMachine" : "VirtualMachineInstance", name))
                return 1;
        printf(_(done), name);
        return 0;
}

/* addvolume VM --volume-name=N [--serial=S] [--persist] [--bus=scsi];
 * removevolume VM --volume-name=N [--persist] */
int verb_volume(Ctl *c, int argc, char **argv) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        bool add = streq(argv[0], "addvolume");
        int r;

        if (argc != 2 || !c->volume_name)
                return fail(_("usage: edgevirtctl %s VM --volume-name=NAME%s"), argv[0],
                            add ? " [--serial=SERIAL] [--persist] [--bus=scsi]" : " [--persist]");
        if (!add && c->serial)
                return fail(_("--serial applies to addvolume"));
        g_autofree char *path = ctl_object_path(c->namespace, "vm", argv[1]);
        r = sd_bus_message_new_method_call(c->bus, &m, NAME, path, VM_INTERFACE, add ? "AddVolume" : "RemoveVolume");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", c->volume_name);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && c->persist)
                r = sd_bus_message_append(m, "{sv}", "persist", "b", 1);
        if (r >= 0 && c->serial)
                r = sd_bus_message_append(m, "{sv}", "serial", "s", c->serial);
        if (r >= 0 && c->disk_bus)
                r = sd_bus_message_append(m, "{sv}", "bus", "s", c->disk_bus);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return fail("%s", g_strerror(-r));
        if (call_verb(c, m, "VirtualMachine", argv[1]))
                return 1;
        if (add)
                printf(_("Successfully submitted add volume request to VM %s for volume %s\n"), argv[1],
                       c->volume_name);
        else
                printf(_("Successfully submitted remove volume request to VM %s for volume %s\n"), argv[1],
                       c->volume_name);
        return 0;
}

static struct termios saved_termios;
static bool termios_saved;

static void restore_terminal(void) {
        if (termios_saved) {
                (void) tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
                termios_saved = false;
        }
}

static void on_fatal_signal(int sig) {
        restore_terminal();
        signal(sig, SIG_DFL);
        raise(sig);
}

/* Copy between the terminal and the console until ^] or either end
 * closes.  The terminal is raw meanwhile and restored on every exit. */
int verb_console(Ctl *c, int argc, char **argv) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int fd, r;

        if (argc != 2)
                return fail(_("usage: edgevirtctl console VM"));
        g_autofree char *path = ctl_object_path(c->namespace, "vmi", argv[1]);
        r = sd_bus_call_method(c->bus, NAME, path, VMI_INTERFACE, "OpenConsole", &e, &reply, "a{sv}", 0);
        if (r < 0) {
                if (sd_bus_error_has_name(&e, SD_BUS_ERROR_UNKNOWN_OBJECT))
                        return fail(_("VM %s is not running (no instance)"), argv[1]);
                return bus_fail(&e, r);
        }
        r = sd_bus_message_read(reply, "h", &fd);
        if (r < 0)
                return fail("%s", g_strerror(-r));
        fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_termios) == 0) {
                struct termios raw = saved_termios;
                termios_saved = true;
                atexit(restore_terminal);
                signal(SIGTERM, on_fatal_signal);
                signal(SIGHUP, on_fatal_signal);
                cfmakeraw(&raw);
                (void) tcsetattr(STDIN_FILENO, TCSANOW, &raw);
        }
        fprintf(stderr, _("Successfully connected to %s console. The escape sequence is ^]"), argv[1]);
        fputs("\r\n", stderr);     /* the terminal may be raw already */
        struct pollfd p[2] = { { .fd = STDIN_FILENO, .events = POLLIN }, { .fd = fd, .events = POLLIN } };
        char buf[4096];
        bool stdin_open = true;
        for (;;) {
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
                        ssize_t n = read(fd, buf, sizeof buf);
                        if (n <= 0)
                                break;
                        if (write(STDOUT_FILENO, buf, (size_t) n) != n)
                                break;
                }
                if (stdin_open && (p[0].revents & (POLLIN | POLLHUP))) {
                        ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
                        if (n <= 0) {
                                /* input ended (a pipe): keep showing output */
                                stdin_open = false;
                                p[0].fd = -1;
                                continue;
                        }
                        char *esc = memchr(buf, 0x1d, (size_t) n);
                        if (esc)
                                n = esc - buf;
                        if (n > 0 && write(fd, buf, (size_t) n) != n)
                                break;
                        if (esc)
                                break;
                }
        }
        close(fd);
        restore_terminal();
        fputs("\n", stderr);
        return 0;
}

/* Copy both ways between two sockets until either side closes. */
static void splice_sockets(int a, int b) {
        struct pollfd p[2] = { { .fd = a, .events = POLLIN }, { .fd = b, .events = POLLIN } };
        char buf[65536];

        for (;;) {
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return;
                }
                for (int i = 0; i < 2; i++) {
                        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                                continue;
                        ssize_t n = read(p[i].fd, buf, sizeof buf);
                        if (n <= 0 || write(p[1 - i].fd, buf, (size_t) n) != n)
                                return;
                }
        }
}

/* vnc VM [--port=N] [--proxy-only]: a local TCP port for VNC viewers,
 * each connection spliced to a socket from OpenVNC(); without
 * --proxy-only a viewer (remote-viewer, vncviewer) is started on it. */
int verb_vnc(Ctl *c, int argc, char **argv) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                 .sin_port = htons(c->port) };
        socklen_t len = sizeof sa;
        pid_t viewer = -1;
        int lfd, one = 1;

        if (argc != 2)
                return fail(_("usage: edgevirtctl vnc VM [--port=PORT] [--proxy-only]"));
        g_autofree char *path = ctl_object_path(c->namespace, "vmi", argv[1]);
        lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        (void) setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (lfd < 0 || bind(lfd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen(lfd, 4) < 0 ||
            getsockname(lfd, (struct sockaddr *) &sa, &len) < 0)
                return fail(_("cannot listen on 127.0.0.1:%d: %s"), c->port, g_strerror(errno));
        printf(_("VNC of %s on 127.0.0.1:%u\n"), argv[1], ntohs(sa.sin_port));
        fflush(stdout);
        if (!c->proxy_only) {
                g_autofree char *url = g_strdup_printf("vnc://127.0.0.1:%u", ntohs(sa.sin_port));
                g_autofree char *hostport = g_strdup_printf("127.0.0.1::%u", ntohs(sa.sin_port));
                g_autofree char *rv = g_find_program_in_path("remote-viewer");
                g_autofree char *vv = g_find_program_in_path("vncviewer");
                char *rv_argv[] = { rv, url, NULL }, *vv_argv[] = { vv, hostport, NULL };
                if (!rv && !vv)
                        fprintf(stderr, _("no viewer found (remote-viewer, vncviewer); connect one to the port, "
                                          "or use --proxy-only\n"));
                else if (!g_spawn_async(NULL, rv ? rv_argv : vv_argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                        &viewer, NULL))
                        viewer = -1;
        }
        for (;;) {
                struct pollfd p = { .fd = lfd, .events = POLLIN };
                int r = poll(&p, 1, viewer > 0 ? 500 : -1);
                if (viewer > 0 && waitpid(viewer, NULL, WNOHANG) == viewer)
                        break;          /* the viewer is gone: so are we */
                if (r <= 0)
                        continue;
                int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
                if (cfd < 0)
                        continue;
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                int vfd;
                r = sd_bus_call_method(c->bus, NAME, path, VMI_INTERFACE, "OpenVNC", &e, &reply, "a{sv}", 0);
                if (r < 0 || sd_bus_message_read(reply, "h", &vfd) < 0) {
                        close(cfd);
                        if (sd_bus_error_has_name(&e, SD_BUS_ERROR_UNKNOWN_OBJECT))
                                return fail(_("VM %s is not running (no instance)"), argv[1]);
                        return bus_fail(&e, r);
                }
                splice_sockets(cfd, vfd);
                close(cfd);
        }
        close(lfd);
        return 0;
}

/* guestosinfo|userlist|fslist VM: the guest agent's facts, as virtctl prints them */
int verb_guest(Ctl *c, int argc, char **argv) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *method = streq(argv[0], "guestosinfo") ? "GuestOSInfo" :
                             streq(argv[0], "userlist") ? "UserList" : "FilesystemList";
        const char *text;
        int r;

        if (argc != 2)
                return fail(_("usage: edgevirtctl %s VM"), argv[0]);
        g_autofree char *path = ctl_object_path(c->namespace, "vmi", argv[1]);
        r = sd_bus_call_method(c->bus, NAME, path, VMI_INTERFACE, method, &e, &reply, "a{sv}", 0);
        if (r < 0) {
                if (sd_bus_error_has_name(&e, SD_BUS_ERROR_UNKNOWN_OBJECT))
                        return fail(_("VM %s is not running (no instance)"), argv[1]);
                return bus_fail(&e, r);
        }
        r = sd_bus_message_read(reply, "s", &text);
        if (r < 0)
                return fail("%s", g_strerror(-r));
        puts(text);
        return 0;
}

