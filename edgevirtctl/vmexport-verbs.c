/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* edgevirtctl vmexport create|delete|download: virtctl's vmexport on
 * VirtualMachineExport objects.  download writes a volume through the
 * export's Download (the output file's descriptor passed to the daemon,
 * DownloadProgress shown as a bar) or its manifests (GetManifests), with
 * the token read from the export's token Secret; with a source it makes
 * the export first and deletes it afterwards (unless --keep-vme). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "ctl.h"
#include "json-util.h"

#define EXPORT_INTERFACE "org.edgevirt.EdgeVirt1.VirtualMachineExport"

static bool has_source(Ctl *c) {
        return c->export_vm || c->export_snapshot || c->export_pvc;
}

static int create_export(Ctl *c, const char *name) {
        const char *kind = c->export_vm ? "VirtualMachine" : c->export_snapshot ? "VirtualMachineSnapshot" :
                           "PersistentVolumeClaim";
        const char *group = c->export_vm ? "kubevirt.io" : c->export_snapshot ? "snapshot.kubevirt.io" : NULL;
        const char *source = c->export_vm ?: c->export_snapshot ?: c->export_pvc;
        g_autoptr(JsonNode) doc = json_node_init_object(json_node_alloc(), json_object_new());
        JsonObject *o = json_node_get_object(doc), *meta = json_object_new(), *spec = json_object_new();
        JsonObject *src = json_object_new();

        if ((!!c->export_vm + !!c->export_snapshot + !!c->export_pvc) != 1)
                return fail(_("vmexport: give one source: --vm=VM, --snapshot=SNAPSHOT or --pvc=CLAIM"));
        json_object_set_string_member(o, "apiVersion", "export.kubevirt.io/v1beta1");
        json_object_set_string_member(o, "kind", "VirtualMachineExport");
        json_object_set_string_member(meta, "name", name);
        json_object_set_string_member(meta, "namespace", c->namespace);
        json_object_set_object_member(o, "metadata", meta);
        if (group)
                json_object_set_string_member(src, "apiGroup", group);
        json_object_set_string_member(src, "kind", kind);
        json_object_set_string_member(src, "name", source);
        json_object_set_object_member(spec, "source", src);
        if (c->ttl)
                json_object_set_string_member(spec, "ttlDuration", c->ttl);
        json_object_set_object_member(o, "spec", spec);
        if (ctl_apply_object(c, doc))
                return 1;
        printf(_("VirtualMachineExport %s/%s created\n"), c->namespace, name);
        return 0;
}

static int delete_export(Ctl *c, const char *name) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = sd_bus_call_method(c->bus, NAME, ROOT, MANAGER, "Delete", &e, NULL, "sssa{sv}", "vmexport",
                                   c->namespace, name, 0);
        if (r < 0)
                return bus_fail(&e, r);
        printf(_("VirtualMachineExport %s/%s deleted\n"), c->namespace, name);
        return 0;
}

/* The export's token, from its token Secret (the caller must be allowed to read it). */
static char *token_of(Ctl *c, JsonObject *x) {
        const char *secret = str(x, "status.tokenSecretRef");
        g_autoptr(JsonNode) doc = secret ? ctl_get_object(c, "secret", secret, NULL) : NULL;
        const char *b64 = doc ? str(json_node_get_object(doc), "data.token") : NULL;
        gsize n = 0;

        if (!b64) {
                fail(_("vmexport download: no token: the key \"token\" of the export's Secret %s cannot be read"),
                     secret ?: "");
                return NULL;
        }
        g_autofree guchar *raw = g_base64_decode(b64, &n);
        return g_strndup((const char *) raw, n);
}

/* --volume, else the one volume there is. */
static const char *volume_of(Ctl *c, JsonObject *x, const char *name) {
        JsonArray *volumes = json_get_array(json_get_object(json_get_object(json_get_object(x, "status"), "links"),
                                                            "internal"), "volumes");
        guint n = volumes ? json_array_get_length(volumes) : 0;
        g_autoptr(GString) names = g_string_new(NULL);

        for (guint i = 0; i < n; i++) {
                const char *v = json_get_string(json_array_get_object_element(volumes, i), "name");
                if (c->volume && streq_ptr(v, c->volume))
                        return v;
                g_string_append_printf(names, "%s%s", i ? ", " : "", v);
        }
        if (!c->volume && n == 1)
                return json_get_string(json_array_get_object_element(volumes, 0), "name");
        if (c->volume)
                fail(_("vmexport download: export %s has no volume \"%s\" (it has: %s)"), name, c->volume, names->str);
        else
                fail(_("vmexport download: export %s has %u volumes (%s): choose one with --volume=NAME"), name, n,
                     names->str);
        return NULL;
}

static int write_manifests(Ctl *c, const char *path, const char *token) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *text;
        int r = sd_bus_call_method(c->bus, NAME, path, EXPORT_INTERFACE, "GetManifests", &e, &reply, "ssa{sv}", "all",
                                   token, 0);
        if (r < 0 || (r = sd_bus_message_read(reply, "s", &text)) < 0)
                return bus_fail(&e, r);
        if (isempty(c->output)) {
                fputs(text, stdout);
                return 0;
        }
        g_autoptr(GError) ge = NULL;
        if (!g_file_set_contents(c->output, text, -1, &ge))
                return fail(_("cannot write %s: %s"), c->output, ge->message);
        printf(_("manifests of the export written to %s\n"), c->output);
        return 0;
}

static int download_volume(Ctl *c, const char *path, const char *volume, const char *token) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL, *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        const char *format = c->format ?: "gzip", *checksum;
        uint64_t written;
        int out, r;

        if (isempty(c->output))
                return fail(_("vmexport download: --output=FILE is needed"));
        out = open(c->output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (out < 0)
                return fail(_("cannot create %s: %s"), c->output, g_strerror(errno));
        if ((r = sd_bus_message_new_method_call(c->bus, &m, NAME, path, EXPORT_INTERFACE, "Download")) >= 0)
                r = sd_bus_message_append(m, "sssha{sv}", volume, format, token, out, 0);
        if (r >= 0)
                r = ctl_call_with_progress(c, m, EXPORT_INTERFACE, "DownloadProgress", volume, &reply);
        close(out);
        if (r < 0 || sd_bus_message_is_method_error(reply, NULL)) {
                (void) unlink(c->output);
                if (r < 0)
                        return fail("%s", g_strerror(-r));
                sd_bus_error_copy(&e, sd_bus_message_get_error(reply));
                return bus_fail(&e, -EIO);
        }
        if ((r = sd_bus_message_read(reply, "st", &checksum, &written)) < 0)
                return fail("%s", g_strerror(-r));
        printf(_("volume %s written to %s as %s (%" PRIu64 " bytes; the disk's checksum %s)\n"), volume,
               c->output, format, written, checksum);
        return 0;
}

/* The export, once Ready: its manifests or a volume written to --output. */
static int download_ready(Ctl *c, const char *name, const char *path) {
        const char *phase = NULL;
        bool missing = false;
        int r;

        if ((r = ctl_wait_phase(c, "vmexport", name, (const char *const[]) { "Ready", NULL }, &phase)))
                return r;
        g_autoptr(JsonNode) doc = ctl_get_object(c, "vmexport", name, &missing);
        if (!doc)
                return missing ? fail(_("%s \"%s\" not found in namespace \"%s\""), "VirtualMachineExport", name,
                                      c->namespace) : 1;
        JsonObject *x = json_node_get_object(doc);
        g_autofree char *token = token_of(c, x);
        const char *volume = token && !c->manifest ? volume_of(c, x, name) : NULL;
        if (!token || (!c->manifest && !volume))
                return 1;
        return c->manifest ? write_manifests(c, path, token) : download_volume(c, path, volume, token);
}

static int download(Ctl *c, const char *name) {
        g_autofree char *path = ctl_object_path(c->namespace, "vmexport", name);
        int r;

        if (c->format && !g_strv_contains((const char *const[]) { "raw", "gzip", "qcow2", NULL }, c->format))
                return fail(_("--format: \"%s\" is not gzip, raw or qcow2"), c->format);
        if (has_source(c) && (r = create_export(c, name)))
                return r;
        if (c->timeout <= 0)
                c->timeout = 600;       /* hashing a large disk takes a while */
        r = download_ready(c, name, path);
        /* the export made here goes on every way out (with its token Secret) */
        if (has_source(c) && !c->keep_vme)
                r = delete_export(c, name) || r;
        return r;
}

int verb_vmexport(Ctl *c, int argc, char **argv) {
        if (argc != 3 || !g_strv_contains((const char *const[]) { "create", "delete", "download", NULL }, argv[1]))
                return fail(_("usage: edgevirtctl vmexport create NAME --vm=VM|--snapshot=SNAPSHOT|--pvc=CLAIM "
                              "[--ttl=DURATION] | delete NAME | download NAME --output=FILE [--volume=VOLUME] "
                              "[--format=gzip|raw|qcow2] [--manifest] [--vm=VM|--snapshot=S|--pvc=C [--keep-vme]]"));
        if (streq(argv[1], "create"))
                return create_export(c, argv[2]);
        if (has_source(c) && streq(argv[1], "delete"))
                return fail(_("--vm, --snapshot and --pvc apply to vmexport create and download"));
        if (streq(argv[1], "delete"))
                return delete_export(c, argv[2]);
        return download(c, argv[2]);
}
