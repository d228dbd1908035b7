/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* edgevirtctl memory-dump get|remove|download: virtctl's memory-dump on the
 * VM's MemoryDump, RemoveMemoryDump and OpenMemoryDump (the dump's bytes
 * read from the descriptor the daemon hands over). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "ctl.h"
#include "json-util.h"

#define VM_INTERFACE "org.edgevirt.EdgeVirt1.VirtualMachine"

static int call_failed(Ctl *c, const sd_bus_error *e, int r, const char *vm) {
        if (sd_bus_error_has_name(e, SD_BUS_ERROR_UNKNOWN_OBJECT))
                return fail(_("%s \"%s\" not found in namespace \"%s\""), "VirtualMachine", vm, c->namespace);
        return bus_fail(e, r);
}

/* --claim-name, else the claim of the VM's last request (a new dump into it) */
static char *claim_of(Ctl *c, const char *vm) {
        if (c->claim_name)
                return g_strdup(c->claim_name);
        g_autoptr(JsonNode) doc = ctl_get_object(c, "vm", vm, NULL);
        const char *claim = doc ? str(json_node_get_object(doc), "status.memoryDumpRequest.claimName") : NULL;
        if (doc && !claim)
                fail(_("memory-dump get: --claim-name=CLAIM is needed: VM %s has no memory dump claim yet"), vm);
        return g_strdup(claim);
}

static int dump_get(Ctl *c, const char *vm) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        g_autofree char *path = ctl_object_path(c->namespace, "vm", vm);
        g_autofree char *claim = claim_of(c, vm);
        int r;

        if (!claim)
                return 1;
        r = sd_bus_message_new_method_call(c->bus, &m, NAME, path, VM_INTERFACE, "MemoryDump");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", claim);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && c->create_claim)
                r = sd_bus_message_append(m, "{sv}", "createClaim", "b", 1);
        if (r >= 0 && c->storage_class)
                r = sd_bus_message_append(m, "{sv}", "storageClass", "s", c->storage_class);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return fail("%s", g_strerror(-r));
        r = sd_bus_call(c->bus, m, 0, &e, NULL);
        if (r < 0)
                return call_failed(c, &e, r, vm);
        printf(_("Successfully submitted memory dump request of VM %s\n"), vm);
        return 0;
}

static int dump_remove(Ctl *c, const char *vm) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *path = ctl_object_path(c->namespace, "vm", vm);
        int r = sd_bus_call_method(c->bus, NAME, path, VM_INTERFACE, "RemoveMemoryDump", &e, NULL, "a{sv}", 0);
        if (r < 0)
                return call_failed(c, &e, r, vm);
        printf(_("Successfully submitted remove memory dump association of VM %s\n"), vm);
        return 0;
}

static int copy_bytes(int from, int to, uint64_t size) {
        char buf[65536];
        for (uint64_t left = size; left > 0;) {
                ssize_t n = read(from, buf, MIN(left, sizeof buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : -EIO;
                for (ssize_t done = 0; done < n;) {
                        ssize_t w = write(to, buf + done, n - done);
                        if (w < 0 && errno == EINTR)
                                continue;
                        if (w < 0)
                                return -errno;
                        done += w;
                }
                left -= (uint64_t) n;
        }
        return 0;
}

static int dump_download(Ctl *c, const char *vm) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        g_autofree char *path = ctl_object_path(c->namespace, "vm", vm);
        const char *file_name;
        uint64_t size;
        int fd, out, r;

        if (isempty(c->output))
                return fail(_("memory-dump download: --output=FILE is needed"));
        r = sd_bus_call_method(c->bus, NAME, path, VM_INTERFACE, "OpenMemoryDump", &e, &reply, "a{sv}", 0);
        if (r < 0)
                return call_failed(c, &e, r, vm);
        r = sd_bus_message_read(reply, "hts", &fd, &size, &file_name);
        if (r < 0)
                return fail("%s", g_strerror(-r));
        out = open(c->output, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (out < 0)
                return fail(_("cannot create %s: %s"), c->output, g_strerror(errno));
        r = copy_bytes(fd, out, size);
        if (close(out) < 0 && r == 0)
                r = -errno;
        if (r < 0) {
                (void) unlink(c->output);
                return fail(_("cannot write %s: %s"), c->output, g_strerror(-r));
        }
        printf(_("memory dump %s of VM %s written to %s (%llu bytes)\n"), file_name, vm, c->output,
               (unsigned long long) size);
        return 0;
}

int verb_memory_dump(Ctl *c, int argc, char **argv) {
        if (argc != 3 || !g_strv_contains((const char *const[]) { "get", "remove", "download", NULL }, argv[1]))
                return fail(_("usage: edgevirtctl memory-dump get VM [--claim-name=CLAIM [--create-claim "
                              "[--storage-class=CLASS]]] | remove VM | download VM --output=FILE"));
        if ((c->claim_name || c->create_claim) && !streq(argv[1], "get"))
                return fail(_("--claim-name and --create-claim apply to memory-dump get"));
        if (c->create_claim && !c->claim_name)
                return fail(_("--create-claim needs --claim-name=CLAIM"));
        if (streq(argv[1], "get"))
                return dump_get(c, argv[2]);
        if (streq(argv[1], "remove"))
                return dump_remove(c, argv[2]);
        return dump_download(c, argv[2]);
}
