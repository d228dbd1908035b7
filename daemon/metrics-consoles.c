/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kind.h"
#include "metrics-consoles.h"
#include "object.h"
#include "util.h"
#include "vmi.h"

#define CONSOLE "kubevirt_console_active_connections"
#define VNC "kubevirt_vnc_active_connections"

typedef struct Instance {
        char *namespace, *name;
} Instance;

struct ConsoleSockets {
        GArray *instances;              /* Instance */
        GPtrArray *paths;               /* two per instance: console, VNC */
};

static void instance_clear(Instance *i) {
        g_free(i->namespace);
        g_free(i->name);
}

ConsoleSockets *console_sockets_new(Model *m) {
        ConsoleSockets *s = g_new0(ConsoleSockets, 1);
        g_autoptr(GPtrArray) vmis = model_list(m, &kind_vmi, NULL, NULL);

        s->instances = g_array_new(FALSE, TRUE, sizeof(Instance));
        g_array_set_clear_func(s->instances, (GDestroyNotify) instance_clear);
        s->paths = g_ptr_array_new_with_free_func(g_free);
        for (guint i = 0; i < vmis->len; i++) {
                Object *o = vmis->pdata[i];
                if (!streq_ptr(object_status_string(o, "phase"), "Running"))
                        continue;
                Instance in = { g_strdup(o->namespace), g_strdup(o->name) };
                g_array_append_val(s->instances, in);
                g_ptr_array_add(s->paths, vmi_socket_path(m, o, false));
                g_ptr_array_add(s->paths, vmi_socket_path(m, o, true));
        }
        return s;
}

ConsoleSockets *console_sockets_free(ConsoleSockets *s) {
        if (!s)
                return NULL;
        g_array_unref(s->instances);
        g_ptr_array_unref(s->paths);
        g_free(s);
        return NULL;
}

static void count_name(const struct unix_diag_msg *msg, size_t len, const char *const *paths, size_t n,
                       unsigned *counts) {
        size_t left = len - NLMSG_ALIGN(sizeof *msg);
        for (const struct rtattr *a = (const void *) ((const char *) msg + NLMSG_ALIGN(sizeof *msg)); RTA_OK(a, left);
             a = RTA_NEXT(a, left)) {
                if (a->rta_type != UNIX_DIAG_NAME)
                        continue;
                const char *name = RTA_DATA(a);
                size_t name_len = strnlen(name, RTA_PAYLOAD(a));
                for (size_t i = 0; i < n; i++)
                        if (strlen(paths[i]) == name_len && memcmp(paths[i], name, name_len) == 0)
                                counts[i]++;
        }
}

/* One dump of the established UNIX stream sockets with their names. */
static int dump(int fd, const char *const *paths, size_t n, unsigned *counts) {
        struct {
                struct nlmsghdr nlh;
                struct unix_diag_req req;
        } q = {
                .nlh = { .nlmsg_len = sizeof q, .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                         .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
                .req = { .sdiag_family = AF_UNIX, .udiag_states = 1u << TCP_ESTABLISHED,
                         .udiag_show = UDIAG_SHOW_NAME },
        };
        g_autofree char *buf = g_malloc(32 * 1024);

        if (send(fd, &q, sizeof q, 0) < 0)
                return -errno;
        for (;;) {
                ssize_t got = recv(fd, buf, 32 * 1024, 0);
                if (got < 0)
                        return -errno;
                if (got == 0)
                        return -EIO;
                size_t left = (size_t) got;
                for (struct nlmsghdr *h = (struct nlmsghdr *) buf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
                        if (h->nlmsg_type == NLMSG_DONE)
                                return 0;
                        if (h->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = NLMSG_DATA(h);
                                return e->error < 0 ? e->error : -EIO;
                        }
                        if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY && NLMSG_PAYLOAD(h, 0) >= sizeof(struct unix_diag_msg))
                                count_name(NLMSG_DATA(h), NLMSG_PAYLOAD(h, 0), paths, n, counts);
                }
        }
}

int unix_connections_count(const char *const *paths, size_t n, unsigned *counts) {
        int fd, r;

        memset(counts, 0, n * sizeof *counts);
        if (n == 0)
                return 0;
        fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
        if (fd < 0)
                return -errno;
        r = dump(fd, paths, n, counts);
        close(fd);
        return r;
}

void console_sockets_collect(ConsoleSockets *s, PromSet *set) {
        g_autofree unsigned *counts = g_new0(unsigned, s->paths->len + 1);
        int r;

        prom_family(set, CONSOLE, PROM_GAUGE,
                    "Amount of active Console connections, broken down by namespace and vmi name.");
        prom_family(set, VNC, PROM_GAUGE, "Amount of active VNC connections, broken down by namespace and vmi name.");
        r = unix_connections_count((const char *const *) s->paths->pdata, s->paths->len, counts);
        if (r < 0) {
                g_debug("metrics: cannot count console connections (sock_diag): %s", g_strerror(-r));
                return;
        }
        for (guint i = 0; i < s->instances->len; i++) {
                Instance *in = &g_array_index(s->instances, Instance, i);
                prom_sample(set, CONSOLE, CONSOLE, counts[2 * i], "namespace", in->namespace, "vmi", in->name, NULL);
                prom_sample(set, VNC, VNC, counts[2 * i + 1], "namespace", in->namespace, "vmi", in->name, NULL);
        }
}
