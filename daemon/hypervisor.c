/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "credentials.h"
#include "domain.h"
#include "hypervisor.h"
#include "util.h"
#include "worker.h"

#define HV_THREADS 4

struct Hypervisor {
        char *uri;
        bool kvm;
        Worker *worker;                 /* libvirt calls, and events posted back */
        HvEventFunc on_event;           /* NULL: calls only (no domain events, no event thread) */
        void *userdata;
        /* guards conn and dead; recursive: libvirt runs on_close in the
         * thread whose call found the connection gone, lock held or not */
        GRecMutex lock;
        virConnectPtr conn;
        virConnectPtr dead;             /* closed by libvirtd; released outside its callback */
        int lifecycle_cb, agent_cb, reboot_cb, removed_cb;
        GThread *event_thread;
        gint quit;
        GMutex post_lock;               /* guards closing */
        bool closing;                   /* hypervisor_free() began: post nothing */
        int wake_timer;
};

static void event_free(HvEvent *ev) {
        g_free(ev->domain);
        g_free(ev->device);
        g_free(ev);
}

typedef struct Posted {
        Hypervisor *h;
        HvEvent *ev;
} Posted;

static void on_posted(void *data) {
        Posted *p = data;
        p->h->on_event(p->ev, p->h->userdata);
        event_free(p->ev);
        g_free(p);
}

static void post_device(Hypervisor *h, HvEventKind kind, int detail, const char *domain, const char *device) {
        g_mutex_lock(&h->post_lock);
        if (!h->closing && h->on_event) {       /* else the worker that would carry it is going */
                Posted *p = g_new0(Posted, 1);
                p->h = h;
                p->ev = g_new0(HvEvent, 1);
                p->ev->kind = kind;
                p->ev->detail = detail;
                p->ev->domain = g_strdup(domain);
                p->ev->device = g_strdup(device);
                worker_post(h->worker, on_posted, p);
        }
        g_mutex_unlock(&h->post_lock);
}

static void post(Hypervisor *h, HvEventKind kind, int detail, const char *domain) {
        post_device(h, kind, detail, domain, NULL);
}

/* --- libvirt's event thread --- */

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque) {
        Hypervisor *h = opaque;
        const char *name = virDomainGetName(dom);

        switch (event) {
        case VIR_DOMAIN_EVENT_STARTED:
                post(h, HV_EVENT_STARTED, 0, name);
                break;
        case VIR_DOMAIN_EVENT_SUSPENDED:
                post(h, HV_EVENT_SUSPENDED, detail, name);
                break;
        case VIR_DOMAIN_EVENT_RESUMED:
                post(h, HV_EVENT_RESUMED, detail, name);
                break;
        case VIR_DOMAIN_EVENT_STOPPED: {
                HvStopReason r = detail == VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN ? HV_STOP_SHUTDOWN :
                                 detail == VIR_DOMAIN_EVENT_STOPPED_DESTROYED ? HV_STOP_DESTROYED :
                                 detail == VIR_DOMAIN_EVENT_STOPPED_CRASHED ||
                                 detail == VIR_DOMAIN_EVENT_STOPPED_FAILED ? HV_STOP_CRASHED :
                                 HV_STOP_OTHER;
                post(h, HV_EVENT_STOPPED, r, name);
                break;
        }
        case VIR_DOMAIN_EVENT_CRASHED:
                /* on_crash=destroy: a STOPPED event follows */
                break;
        default:
                break;
        }
        return 0;
}

static void on_agent(virConnectPtr conn, virDomainPtr dom, int state, int reason, void *opaque) {
        post(opaque, HV_EVENT_AGENT, state == VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_CONNECTED,
             virDomainGetName(dom));
}

static void on_reboot(virConnectPtr conn, virDomainPtr dom, void *opaque) {
        post(opaque, HV_EVENT_REBOOTED, 0, virDomainGetName(dom));
}

/* A detach is done when the guest let go of the device, not when libvirt
 * took the request (virDomainDetachDeviceAlias is asynchronous). */
static void on_device_removed(virConnectPtr conn, virDomainPtr dom, const char *alias, void *opaque) {
        post_device(opaque, HV_EVENT_DEVICE_REMOVED, 0, virDomainGetName(dom), alias);
}

static void on_close(virConnectPtr conn, int reason, void *opaque) {
        Hypervisor *h = opaque;
        g_rec_mutex_lock(&h->lock);
        if (h->conn == conn && !h->dead) {
                /* the next call reconnects; events stop until then */
                h->dead = conn;
                h->conn = NULL;
        }
        g_rec_mutex_unlock(&h->lock);
        post(h, HV_EVENT_DISCONNECTED, reason, NULL);
}

static void on_wake(int timer, void *opaque) {
}

static gpointer event_loop(gpointer data) {
        Hypervisor *h = data;
        while (!g_atomic_int_get(&h->quit))
                if (virEventRunDefaultImpl() < 0)
                        break;
        return NULL;
}

static void ignore_errors(void *userdata, virErrorPtr error) {
        /* errors are returned to callers; libvirt's default prints them */
}

/* --- calls (on the pool) --- */

static virConnectPtr connection(Hypervisor *h, char **error) {
        virConnectPtr c;

        g_rec_mutex_lock(&h->lock);
        if (h->dead) {
                virConnectUnregisterCloseCallback(h->dead, on_close);
                virConnectClose(h->dead);
                h->dead = NULL;
        }
        if (!h->conn) {
                h->conn = virConnectOpen(h->uri);
                if (h->conn)
                        virConnectRegisterCloseCallback(h->conn, on_close, h, NULL);
                if (h->conn && h->on_event) {
                        h->lifecycle_cb = virConnectDomainEventRegisterAny(h->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                                           VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), h,
                                                                           NULL);
                        h->agent_cb = virConnectDomainEventRegisterAny(h->conn, NULL,
                                                                       VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE,
                                                                       VIR_DOMAIN_EVENT_CALLBACK(on_agent), h, NULL);
                        h->reboot_cb = virConnectDomainEventRegisterAny(h->conn, NULL, VIR_DOMAIN_EVENT_ID_REBOOT,
                                                         VIR_DOMAIN_EVENT_CALLBACK(on_reboot), h, NULL);
                        h->removed_cb = virConnectDomainEventRegisterAny(
                                h->conn, NULL, VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
                                VIR_DOMAIN_EVENT_CALLBACK(on_device_removed), h, NULL);
                }
        }
        c = h->conn;
        if (c)
                virConnectRef(c);
        else
                *error = g_strdup_printf("cannot connect to libvirt at %s: %s", h->uri,
                                         virGetLastErrorMessage() ? virGetLastErrorMessage() : "unknown error");
        g_rec_mutex_unlock(&h->lock);
        return c;
}

static int fail(HvOp *op, int code) {
        const char *msg = virGetLastErrorMessage();
        virErrorPtr err = virGetLastError();
        if (err && err->code == VIR_ERR_NO_DOMAIN)
                code = ENOENT;
        else if (err && err->code == VIR_ERR_OPERATION_INVALID)
                code = EBUSY;
        g_free(op->error);
        op->error = g_strdup(msg ? msg : "unknown libvirt error");
        op->r = -code;
        return op->r;
}

static char *our_metadata(virDomainPtr d) {
        char *md = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, DOMAIN_XMLNS, 0);
        virResetLastError();
        return md;
}

static void run_list(virConnectPtr c, HvOp *op) {
        virDomainPtr *doms = NULL;
        int n = virConnectListAllDomains(c, &doms, 0);

        if (n < 0) {
                fail(op, EIO);
                return;
        }
        op->domains = g_ptr_array_new();
        for (int i = 0; i < n; i++) {
                char *md = our_metadata(doms[i]);
                int state = VIR_DOMAIN_NOSTATE, reason;
                if (md) {
                        HvDomain *hd = g_new0(HvDomain, 1);
                        hd->name = g_strdup(virDomainGetName(doms[i]));
                        hd->metadata = g_strdup(md);
                        if (virDomainGetState(doms[i], &state, &reason, 0) < 0)
                                state = VIR_DOMAIN_NOSTATE;
                        hd->running = virDomainIsActive(doms[i]) == 1;
                        hd->paused = state == VIR_DOMAIN_PAUSED;
                        g_ptr_array_add(op->domains, hd);
                        free(md);
                }
                virDomainFree(doms[i]);
        }
        free(doms);
}

static void run_addresses(virDomainPtr d, HvOp *op) {
        virDomainInterfacePtr *ifaces = NULL;
        static const unsigned sources[] = { VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT,
                                            VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE,
                                            VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP };
        int n = -1;

        /* the agent knows best; leases and ARP know NAT guests without one.
         * An agent that is not connected is not asked: libvirtd logs an
         * error for every such call ("Guest agent is not responding"), which
         * filled the journal every few seconds per VM without an agent. */
        for (size_t s = op->ask_agent ? 0 : 1; s < G_N_ELEMENTS(sources) && n <= 0; s++) {
                n = virDomainInterfaceAddresses(d, &ifaces, sources[s], 0);
                if (n > 0) {
                        op->from_agent = sources[s] == VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT;
                        break;
                }
                virResetLastError();
        }
        op->addresses = g_ptr_array_new();
        for (int i = 0; i < n; i++) {
                for (unsigned j = 0; j < ifaces[i]->naddrs; j++) {
                        HvAddress *a = g_new0(HvAddress, 1);
                        if (g_str_has_prefix(ifaces[i]->addrs[j].addr, "127.") ||
                            streq(ifaces[i]->addrs[j].addr, "::1")) {
                                g_free(a);
                                continue;
                        }
                        a->name = g_strdup(ifaces[i]->name);
                        a->mac = g_strdup(ifaces[i]->hwaddr);
                        a->address = g_strdup(ifaces[i]->addrs[j].addr);
                        g_ptr_array_add(op->addresses, a);
                }
                virDomainInterfaceFree(ifaces[i]);
        }
        free(ifaces);
}

static char *ipv4_text(uint32_t a) {
        return g_strdup_printf("%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

char *hypervisor_nat_network_xml(const char *name, const char *subnet) {
        g_autofree char *bridge = g_strndup(name, 12);
        g_auto(GStrv) parts = g_strsplit(subnet ? subnet : "10.0.2.0/24", "/", 2);
        unsigned o[4], prefix;
        char tail;

        /* KubeVirt's masquerade network (10.0.2.0/24 by default): the guests
         * behind NAT, the gateway first, DHCP for the rest */
        if (g_strv_length(parts) != 2 || sscanf(parts[0], "%u.%u.%u.%u%c", &o[0], &o[1], &o[2], &o[3], &tail) != 4 ||
            sscanf(parts[1], "%u%c", &prefix, &tail) != 1 || prefix < 8 || prefix > 30 || o[0] > 255 || o[1] > 255 ||
            o[2] > 255 || o[3] > 255)
                return NULL;
        uint32_t mask = 0xffffffffu << (32 - prefix);
        uint32_t net = ((o[0] << 24) | (o[1] << 16) | (o[2] << 8) | o[3]) & mask;
        g_autofree char *gw = ipv4_text(net + 1), *nm = ipv4_text(mask), *first = ipv4_text(net + 2),
                *last = ipv4_text((net | ~mask) - 1);
        return g_markup_printf_escaped("<network>\n"
                                       "  <name>%s</name>\n"
                                       "  <forward mode='nat'/>\n"
                                       "  <bridge name='ev-%s' stp='on' delay='0'/>\n"
                                       "  <ip address='%s' netmask='%s'>\n"
                                       "    <dhcp><range start='%s' end='%s'/></dhcp>\n"
                                       "  </ip>\n"
                                       "</network>\n", name, bridge, gw, nm, first, last);
}

/* The pod network's libvirt network: defined and started on first use.
 * Instances start on several threads at once: one of them defines it. */
static int ensure_network(virConnectPtr c, HvOp *op) {
        static GMutex lock;
        g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&lock);
        virNetworkPtr n = virNetworkLookupByName(c, op->network);
        int r = 0;

        if (!n) {
                g_autofree char *xml = hypervisor_nat_network_xml(op->network, op->network_subnet);
                virResetLastError();
                n = virNetworkDefineXML(c, xml);
                if (!n)
                        return fail(op, EIO);
                virNetworkSetAutostart(n, 1);
        }
        if (virNetworkIsActive(n) != 1 && virNetworkCreate(n) < 0)
                r = fail(op, EIO);
        if (r < 0) {
                g_autofree char *msg = g_strdup_printf("cannot start the network %s: %s", op->network, op->error);
                g_free(op->error);
                op->error = g_steal_pointer(&msg);
        }
        virNetworkFree(n);
        return r;
}

/* virDomainGetGuestInfo's typed parameters in KubeVirt's layout of the
 * guest agent info (virtctl guestosinfo). */
static const char *param_string(virTypedParameterPtr params, int n, const char *name) {
        const char *v = NULL;
        return virTypedParamsGetString(params, n, name, &v) == 1 ? v : NULL;
}

static void set_if(JsonObject *o, const char *member, const char *value) {
        if (value)
                json_object_set_string_member(o, member, value);
}

/* PREFIX.I.PARAM (strings) into o as MEMBER, per {PARAM, MEMBER} pair */
static void copy_indexed(virTypedParameterPtr params, int n, const char *prefix, unsigned i, const char *const map[][2],
                         JsonObject *o) {
        for (size_t k = 0; map[k][0]; k++) {
                g_autofree char *key = g_strdup_printf("%s.%u.%s", prefix, i, map[k][0]);
                set_if(o, map[k][1], param_string(params, n, key));
        }
}

static bool indexed_ullong(virTypedParameterPtr params, int n, const char *prefix, unsigned i, const char *param,
                           unsigned long long *ret) {
        g_autofree char *key = g_strdup_printf("%s.%u.%s", prefix, i, param);
        return virTypedParamsGetULLong(params, n, key, ret) == 1;
}

static void run_guest_info(virDomainPtr d, HvOp *op) {
        static const char *const user_map[][2] = { { "name", "userName" }, { "domain", "domain" }, { NULL, NULL } };
        static const char *const fs_map[][2] = { { "name", "diskName" }, { "mountpoint", "mountPoint" },
                                                 { "fstype", "fileSystemType" },
                                                 { NULL, NULL } };
        virTypedParameterPtr params = NULL;
        int n = 0;
        unsigned count = 0;
        unsigned long long ull = 0;
        int offset = 0;

        if (virDomainGetGuestInfo(d, VIR_DOMAIN_GUEST_INFO_OS | VIR_DOMAIN_GUEST_INFO_HOSTNAME |
                                  VIR_DOMAIN_GUEST_INFO_TIMEZONE | VIR_DOMAIN_GUEST_INFO_USERS |
                                  VIR_DOMAIN_GUEST_INFO_FILESYSTEM, &params, &n, 0) < 0) {
                fail(op, EIO);
                return;
        }
        JsonObject *g = json_object_new(), *os = json_object_new(), *fs = json_object_new();
        JsonArray *users = json_array_new(), *disks = json_array_new();
        set_if(g, "hostname", param_string(params, n, "hostname"));
        set_if(os, "id", param_string(params, n, "os.id"));
        set_if(os, "name", param_string(params, n, "os.name"));
        set_if(os, "prettyName", param_string(params, n, "os.pretty-name"));
        set_if(os, "version", param_string(params, n, "os.version"));
        set_if(os, "versionId", param_string(params, n, "os.version-id"));
        set_if(os, "kernelRelease", param_string(params, n, "os.kernel-release"));
        set_if(os, "kernelVersion", param_string(params, n, "os.kernel-version"));
        set_if(os, "machine", param_string(params, n, "os.machine"));
        json_object_set_object_member(g, "os", os);
        if (param_string(params, n, "timezone.name")) {
                g_autofree char *tz = NULL;
                virTypedParamsGetInt(params, n, "timezone.offset", &offset);
                tz = g_strdup_printf("%s, %d", param_string(params, n, "timezone.name"), offset);
                json_object_set_string_member(g, "timezone", tz);
        }
        if (virTypedParamsGetUInt(params, n, "user.count", &count) == 1)
                for (unsigned i = 0; i < count; i++) {
                        JsonObject *u = json_object_new();
                        copy_indexed(params, n, "user", i, user_map, u);
                        if (indexed_ullong(params, n, "user", i, "login-time", &ull))
                                json_object_set_double_member(u, "loginTime", (double) ull / 1000.0);
                        json_array_add_object_element(users, u);
                }
        json_object_set_array_member(g, "userList", users);
        if (virTypedParamsGetUInt(params, n, "fs.count", &count) == 1)
                for (unsigned i = 0; i < count; i++) {
                        JsonObject *f = json_object_new();
                        copy_indexed(params, n, "fs", i, fs_map, f);
                        if (indexed_ullong(params, n, "fs", i, "used-bytes", &ull))
                                json_object_set_int_member(f, "usedBytes", (gint64) ull);
                        if (indexed_ullong(params, n, "fs", i, "total-bytes", &ull))
                                json_object_set_int_member(f, "totalBytes", (gint64) ull);
                        json_array_add_object_element(disks, f);
                }
        json_object_set_array_member(fs, "disks", disks);
        json_object_set_object_member(g, "fsInfo", fs);
        virTypedParamsFree(params, n);
        op->guest = g;
}

static int fail_with(HvOp *op, int code, char *message) {
        op->r = -code;
        g_free(op->error);
        op->error = message;
        return op->r;
}

/* A memory-only dump in ELF (what KubeVirt's virt-launcher asks of
 * libvirt) into op->path, the file of a claim: libvirt writes it from the
 * start (truncating), the file gets the claim's size back and op->size
 * says how long the dump is.  A block device (lvm-thin) has no length to
 * tell where the dump ends: refused. */
static int run_memory_dump(virDomainPtr d, HvOp *op) {
        struct stat before, after;
        int r;

        if (stat(op->path, &before) < 0)
                return fail_with(op, errno, g_strdup_printf("%s: %s", op->path, g_strerror(errno)));
        if (!S_ISREG(before.st_mode))
                return fail_with(op, EOPNOTSUPP, g_strdup("the claim is not a file: memory dumps go to claims of "
                                                          "a file-backed (dir) storage class"));
        r = virDomainCoreDumpWithFormat(d, op->path, VIR_DOMAIN_CORE_DUMP_FORMAT_RAW, VIR_DUMP_MEMORY_ONLY);
        if (r < 0 && virGetLastErrorCode() == VIR_ERR_INVALID_ARG)
                /* a driver without memory-only dumps (the test driver): its own kind */
                r = virDomainCoreDumpWithFormat(d, op->path, VIR_DOMAIN_CORE_DUMP_FORMAT_RAW, 0);
        if (r < 0)
                return fail(op, EIO);
        if (stat(op->path, &after) < 0)
                return fail_with(op, errno, g_strdup_printf("%s: %s", op->path, g_strerror(errno)));
        op->size = (uint64_t) after.st_size;
        if (truncate(op->path, before.st_size) < 0)
                return fail_with(op, errno, g_strdup_printf("cannot give %s its size back: %s", op->path,
                                                            g_strerror(errno)));
        if (after.st_size > before.st_size)
                return fail_with(op, ENOSPC, g_strdup_printf("the dump (%" G_GUINT64_FORMAT " bytes) is larger "
                                                             "than the claim (%" G_GUINT64_FORMAT " bytes)",
                                                             op->size, (uint64_t) before.st_size));
        return 0;
}

/* Through the guest agent (guest-ssh-*-authorized-keys, which make the
 * user's ~/.ssh as sshd wants it; guest-set-user-password).  Keys are
 * read first and written only when they differ, so a resync that changes
 * nothing leaves the file alone. */
static void run_credentials(virDomainPtr d, HvOp *op) {
        for (guint i = 0; op->users && i < op->users->len; i++) {
                GuestUser *u = op->users->pdata[i];
                const char *step = NULL;

                if (u->keys->len > 0) {
                        char **have = NULL;
                        int n = virDomainAuthorizedSSHKeysGet(d, u->name, &have, 0);
                        bool same = n == (int) u->keys->len;
                        for (int k = 0; k < MAX(n, 0); k++) {
                                same = same && streq(have[k], u->keys->pdata[k]);
                                free(have[k]);
                        }
                        free(have);
                        /* n < 0: no file yet, most often (the agent cannot tell) */
                        if (!same &&
                            virDomainAuthorizedSSHKeysSet(d, u->name, (const char **) u->keys->pdata,
                                                          u->keys->len, 0) < 0)
                                step = "writing the authorized keys";
                }
                if (!step && u->password && virDomainSetUserPassword(d, u->name, u->password, 0) < 0)
                        step = "setting the password";
                if (step) {
                        fail(op, EIO);
                        g_autofree char *what = op->error;
                        op->error = g_strdup_printf("user %s: %s: %s", u->name, step, what);
                        return;
                }
        }
}

/* --- domain statistics --- */

typedef struct AliasParse {
        GHashTable *aliases;
        int device;                     /* depth of the <disk> or <interface> we are in, 0: none */
        int depth;
        char *target, *alias;
} AliasParse;

static void alias_start(GMarkupParseContext *ctx, const char *element, const char **names, const char **values,
                        gpointer data, GError **error) {
        AliasParse *p = data;

        p->depth++;
        if (!p->device && (streq(element, "disk") || streq(element, "interface"))) {
                p->device = p->depth;
                return;
        }
        if (!p->device || p->depth != p->device + 1)
                return;
        for (size_t i = 0; names[i]; i++) {
                char **slot = streq(element, "target") && streq(names[i], "dev") ? &p->target :
                              streq(element, "alias") && streq(names[i], "name") ? &p->alias : NULL;
                if (slot) {
                        g_free(*slot);
                        *slot = g_strdup(values[i]);
                }
        }
}

static void alias_end(GMarkupParseContext *ctx, const char *element, gpointer data, GError **error) {
        AliasParse *p = data;

        if (p->device && p->depth == p->device) {
                if (p->target && p->alias && g_str_has_prefix(p->alias, "ua-"))
                        g_hash_table_replace(p->aliases, g_strdup(p->target), g_strdup(p->alias + 3));
                g_clear_pointer(&p->target, g_free);
                g_clear_pointer(&p->alias, g_free);
                p->device = 0;
        }
        p->depth--;
}

/* Target device -> the name the instance spec gave (the alias "ua-NAME"
 * of the live XML), for the disks and interfaces. */
static GHashTable *device_aliases(virDomainPtr d) {
        static const GMarkupParser parser = { .start_element = alias_start, .end_element = alias_end };
        AliasParse p = { .aliases = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free) };
        char *xml = virDomainGetXMLDesc(d, 0);

        if (xml) {
                g_autoptr(GMarkupParseContext) ctx = g_markup_parse_context_new(&parser, 0, &p, NULL);
                (void) g_markup_parse_context_parse(ctx, xml, -1, NULL);
                free(xml);
        }
        virResetLastError();
        g_free(p.target);
        g_free(p.alias);
        return p.aliases;
}

static HvDomainStats *domain_stats(virDomainStatsRecordPtr rec) {
        HvDomainStats *s = g_new0(HvDomainStats, 1);

        s->name = g_strdup(virDomainGetName(rec->dom));
        s->numbers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        s->strings = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        for (int i = 0; i < rec->nparams; i++) {
                virTypedParameterPtr p = &rec->params[i];
                double v;
                switch (p->type) {
                case VIR_TYPED_PARAM_INT: v = p->value.i; break;
                case VIR_TYPED_PARAM_UINT: v = p->value.ui; break;
                case VIR_TYPED_PARAM_LLONG: v = (double) p->value.l; break;
                case VIR_TYPED_PARAM_ULLONG: v = (double) p->value.ul; break;
                case VIR_TYPED_PARAM_DOUBLE: v = p->value.d; break;
                case VIR_TYPED_PARAM_BOOLEAN: v = p->value.b; break;
                case VIR_TYPED_PARAM_STRING:
                        g_hash_table_replace(s->strings, g_strdup(p->field), g_strdup(p->value.s));
                        continue;
                default:
                        continue;
                }
                g_hash_table_replace(s->numbers, g_strdup(p->field), g_memdup2(&v, sizeof v));
        }
        s->aliases = device_aliases(rec->dom);
        return s;
}

/* One virConnectGetAllDomainStats for every running domain; groups a
 * driver lacks (the test driver has state only) are left out. */
static void run_domain_stats(virConnectPtr c, HvOp *op) {
        /* tests only: a libvirt that hangs on the first call (test_metrics.py) */
        static gint delayed;
        const char *delay = g_getenv("EDGEVIRT_TEST_DOMAIN_STATS_DELAY_MS");
        if (delay && g_atomic_int_compare_and_exchange(&delayed, 0, 1))
                g_usleep((gulong) g_ascii_strtoull(delay, NULL, 10) * 1000);
        virDomainStatsRecordPtr *recs = NULL;
        unsigned groups = VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL | VIR_DOMAIN_STATS_BALLOON |
                          VIR_DOMAIN_STATS_VCPU | VIR_DOMAIN_STATS_INTERFACE | VIR_DOMAIN_STATS_BLOCK;
        /* NOWAIT: a domain whose job is stuck gives what it has rather than
         * holding every scrape */
        int n = virConnectGetAllDomainStats(c, groups, &recs, VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE |
                                                              VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);

        if (n < 0) {
                fail(op, EIO);
                return;
        }
        op->stats = g_ptr_array_new_with_free_func((GDestroyNotify) hv_domain_stats_free);
        for (int i = 0; i < n; i++)
                g_ptr_array_add(op->stats, domain_stats(recs[i]));
        virDomainStatsRecordListFree(recs);
}

typedef struct Call {
        Hypervisor *h;
        HvOp *op;
} Call;

static void call_work(void *data) {
        Call *call = data;
        HvOp *op = call->op;
        virConnectPtr c = connection(call->h, &op->error);
        virDomainPtr d = NULL;
        int state, reason;

        if (!c) {
                op->r = -ECONNREFUSED;
                return;
        }
        switch (op->kind) {
        case HV_OP_LIST:
                run_list(c, op);
                break;
        case HV_OP_DOMAIN_STATS:
                run_domain_stats(c, op);
                break;
        case HV_OP_CREATE:
                if (op->network && ensure_network(c, op) < 0)
                        break;
                d = virDomainCreateXML(c, op->xml, op->start_paused ? VIR_DOMAIN_START_PAUSED : 0);
                if (!d && op->start_paused && virGetLastErrorCode() == VIR_ERR_INVALID_ARG) {
                        /* a driver without the flag (the test driver): start, then pause at once */
                        d = virDomainCreateXML(c, op->xml, 0);
                        if (d && virDomainSuspend(d) < 0)
                                fail(op, EIO);
                }
                if (!d)
                        fail(op, EIO);
                else if (virDomainGetState(d, &state, &reason, 0) == 0)
                        op->paused = state == VIR_DOMAIN_PAUSED;
                break;
        default:
                d = virDomainLookupByName(c, op->domain);
                if (!d) {
                        fail(op, ENOENT);
                        break;
                }
                switch (op->kind) {
                case HV_OP_SHUTDOWN:
                        /* ACPI first: it works without an agent */
                        if (virDomainShutdownFlags(d, VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN) < 0 &&
                            virDomainShutdown(d) < 0)
                                fail(op, EIO);
                        break;
                case HV_OP_DESTROY:
                        if (virDomainDestroy(d) < 0)
                                fail(op, EIO);
                        break;
                case HV_OP_SUSPEND:
                        if (virDomainSuspend(d) < 0)
                                fail(op, EIO);
                        break;
                case HV_OP_RESUME:
                        if (virDomainResume(d) < 0)
                                fail(op, EIO);
                        break;
                case HV_OP_REBOOT:
                        if (virDomainReboot(d, VIR_DOMAIN_REBOOT_ACPI_POWER_BTN) < 0 && virDomainReboot(d, 0) < 0)
                                fail(op, EIO);
                        break;
                case HV_OP_RESET:
                        if (virDomainReset(d, 0) < 0)
                                fail(op, EIO);
                        break;
                case HV_OP_ATTACH:
                        if (virDomainAttachDeviceFlags(d, op->xml, VIR_DOMAIN_AFFECT_LIVE) < 0)
                                fail(op, EIO);
                        break;
                case HV_OP_UPDATE:
                        /* force: a cdrom the guest locked is ejected all the same */
                        if (virDomainUpdateDeviceFlags(d, op->xml,
                                                       VIR_DOMAIN_AFFECT_LIVE | VIR_DOMAIN_DEVICE_MODIFY_FORCE) < 0)
                                fail(op, EIO);
                        break;
                case HV_OP_DETACH:
                        if (virDomainDetachDeviceAlias(d, op->xml, VIR_DOMAIN_AFFECT_LIVE) < 0)
                                fail(op, EIO);
                        break;
                case HV_OP_ADDRESSES:
                        run_addresses(d, op);
                        break;
                case HV_OP_GUEST_INFO:
                        run_guest_info(d, op);
                        break;
                case HV_OP_SET_CREDENTIALS:
                        run_credentials(d, op);
                        break;
                case HV_OP_FS_FREEZE:
                        if (virDomainFSFreeze(d, NULL, 0, 0) < 0)
                                fail(op, EIO);
                        break;
                case HV_OP_MEMORY_DUMP:
                        (void) run_memory_dump(d, op);
                        break;
                case HV_OP_FS_THAW:
                        if (virDomainFSThaw(d, NULL, 0, 0) < 0)
                                fail(op, EIO);
                        break;
                case HV_OP_AGENT_STATE: {
                        char *xml = virDomainGetXMLDesc(d, 0);
                        /* <target type='virtio' name='org.qemu.guest_agent.0' state='connected'/> */
                        op->agent_connected = xml &&
                                g_regex_match_simple("name='org\\.qemu\\.guest_agent\\.0' state='connected'",
                                                     xml, 0, 0);
                        free(xml);
                        break;
                }
                default:
                        break;
                }
        }
        if (d)
                virDomainFree(d);
        if (op->r < 0 && !call->h->on_event && virConnectIsAlive(c) == 0)
                on_close(c, VIR_CONNECT_CLOSE_REASON_EOF, call->h);     /* no event loop of ours tells */
        virConnectClose(c);
}

static void call_done(void *data) {
        Call *call = data;
        call->op->done(call->op);
        hv_op_free(call->op);
        g_free(call);
}

void hypervisor_submit(Hypervisor *h, HvOp *op) {
        Call *call = g_new0(Call, 1);
        call->h = h;
        call->op = op;
        worker_submit(h->worker, call_work, call_done, call);
}

unsigned hypervisor_pending(Hypervisor *h) {
        return worker_pending(h->worker);
}

HvOp *hv_op_new(HvOpKind kind, const char *domain, HvOpDone done, void *userdata) {
        HvOp *op = g_new0(HvOp, 1);
        op->kind = kind;
        op->domain = g_strdup(domain);
        op->done = done;
        op->userdata = userdata;
        return op;
}

static void hv_domain_free(HvDomain *d) {
        g_free(d->name);
        g_free(d->metadata);
        g_free(d);
}

HvDomainStats *hv_domain_stats_free(HvDomainStats *s) {
        if (!s)
                return NULL;
        g_free(s->name);
        g_hash_table_unref(s->numbers);
        g_hash_table_unref(s->strings);
        g_hash_table_unref(s->aliases);
        g_free(s);
        return NULL;
}

static void hv_address_free(HvAddress *a) {
        g_free(a->name);
        g_free(a->mac);
        g_free(a->address);
        g_free(a);
}

HvOp *hv_op_free(HvOp *op) {
        if (!op)
                return NULL;
        g_free(op->domain);
        g_free(op->xml);
        g_free(op->device);
        g_free(op->error);
        g_free(op->tag);
        g_free(op->network);
        g_free(op->network_subnet);
        g_free(op->path);
        if (op->guest)
                json_object_unref(op->guest);
        if (op->users)
                g_ptr_array_unref(op->users);
        if (op->stats)
                g_ptr_array_unref(op->stats);
        if (op->domains) {
                g_ptr_array_set_free_func(op->domains, (GDestroyNotify) hv_domain_free);
                g_ptr_array_unref(op->domains);
        }
        if (op->addresses) {
                g_ptr_array_set_free_func(op->addresses, (GDestroyNotify) hv_address_free);
                g_ptr_array_unref(op->addresses);
        }
        g_free(op);
        return NULL;
}

/* --- setup --- */

/* KVM needs /dev/kvm and a CPU with virtualization extensions: some
 * sandboxes (Firecracker) show a /dev/kvm that QEMU cannot use. */
static bool kvm_usable(void) {
        g_autofree char *cpuinfo = NULL;
        if (access("/dev/kvm", R_OK | W_OK) < 0 || !g_file_get_contents("/proc/cpuinfo", &cpuinfo, NULL, NULL))
                return false;
        return g_regex_match_simple("^flags\\s*:.*\\b(vmx|svm)\\b", cpuinfo, G_REGEX_MULTILINE, 0);
}

static int make(sd_event *event, const char *uri, HvEventFunc on_event, void *userdata, unsigned threads,
                Hypervisor **ret) {
        static gsize initialized;
        Hypervisor *h = g_new0(Hypervisor, 1);
        int r;

        if (g_once_init_enter(&initialized)) {
                virInitialize();
                virSetErrorFunc(NULL, ignore_errors);
                if (virEventRegisterDefaultImpl() < 0)
                        g_error("cannot set up libvirt's event loop");
                g_once_init_leave(&initialized, 1);
        }
        h->uri = g_strdup(uri);
        h->kvm = !g_str_has_prefix(uri, "test:") && kvm_usable();
        h->on_event = on_event;
        h->userdata = userdata;
        g_rec_mutex_init(&h->lock);
        g_mutex_init(&h->post_lock);
        r = worker_new(event, threads, &h->worker);
        if (r < 0) {
                g_free(h->uri);
                g_free(h);
                return r;
        }
        if (on_event) {
                /* a timer that never fires keeps virEventRunDefaultImpl() wakeable */
                h->wake_timer = virEventAddTimeout(-1, on_wake, h, NULL);
                h->event_thread = g_thread_new("libvirt-events", event_loop, h);
        }
        *ret = h;
        return 0;
}

int hypervisor_new(sd_event *event, const char *uri, HvEventFunc on_event, void *userdata, Hypervisor **ret) {
        return make(event, uri, on_event, userdata, HV_THREADS, ret);
}

int hypervisor_new_calls_only(sd_event *event, const char *uri, unsigned threads, Hypervisor **ret) {
        return make(event, uri, NULL, NULL, threads, ret);
}

Hypervisor *hypervisor_free(Hypervisor *h) {
        if (!h)
                return NULL;
        g_mutex_lock(&h->post_lock);
        h->closing = true;
        g_mutex_unlock(&h->post_lock);
        h->worker = worker_free(h->worker);
        /* the connections out of the lock first: libvirtd may go away
         * meanwhile (a host shutting down), and on_close then runs here */
        g_rec_mutex_lock(&h->lock);
        virConnectPtr conn = h->conn, dead = h->dead;
        h->conn = h->dead = NULL;
        g_rec_mutex_unlock(&h->lock);
        if (conn && h->on_event) {
                virConnectDomainEventDeregisterAny(conn, h->lifecycle_cb);
                virConnectDomainEventDeregisterAny(conn, h->agent_cb);
                virConnectDomainEventDeregisterAny(conn, h->reboot_cb);
                virConnectDomainEventDeregisterAny(conn, h->removed_cb);
        }
        if (conn) {
                virConnectUnregisterCloseCallback(conn, on_close);
                virConnectClose(conn);
        }
        if (dead) {
                virConnectUnregisterCloseCallback(dead, on_close);
                virConnectClose(dead);
        }
        /* wake the event loop so that it sees quit */
        if (h->event_thread) {
                g_atomic_int_set(&h->quit, 1);
                virEventUpdateTimeout(h->wake_timer, 0);
                g_thread_join(h->event_thread);
                virEventRemoveTimeout(h->wake_timer);
        }
        g_rec_mutex_clear(&h->lock);
        g_mutex_clear(&h->post_lock);
        g_free(h->uri);
        g_free(h);
        return NULL;
}

const char *hypervisor_uri(Hypervisor *h) {
        return h->uri;
}

bool hypervisor_kvm(Hypervisor *h) {
        return h->kvm;
}
