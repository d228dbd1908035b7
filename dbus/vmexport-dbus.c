/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.edgevirt.EdgeVirt1.VirtualMachineExport: what KubeVirt's export
 * server serves over HTTPS, here on the export's own object: a volume's
 * bytes written by edgevirt-importer --export into the caller's file
 * descriptor (Download, DownloadProgress to the caller), and the
 * manifests (GetManifests).  Both need the export's token. */
#include "authz.h"
#include "bus.h"
#include "bus-calls.h"
#include "bus-error.h"
#include "bus-util.h"
#include "imagecache-archive.h"
#include "json-util.h"
#include "manifest.h"
#include "util.h"
#include "vmexport.h"

static int property_get_phase(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return bus_append_string(reply, object_status_string(userdata, "phase"));
}

static int property_get_token_secret(sd_bus *bus, const char *path, const char *interface, const char *property,
                                     sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return bus_append_string(reply, object_status_string(userdata, "tokenSecretRef"));
}

static int property_get_volumes(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        JsonObject *links = json_get_object(json_get_object(object_root(userdata), "status"), "links");
        JsonArray *volumes = json_get_array(json_get_object(links, "internal"), "volumes");
        int r = sd_bus_message_open_container(reply, 'a', "s");

        for (guint i = 0; r >= 0 && volumes && i < json_array_get_length(volumes); i++)
                r = bus_append_string(reply, json_get_string(json_array_get_object_element(volumes, i), "name"));
        return r < 0 ? r : sd_bus_message_close_container(reply);
}

/* A Download under way: answered when the importer ends. */
typedef struct DownloadCall {
        Daemon *d;
        sd_bus_message *m;
        char *uid;                      /* the claim read in place, in use until then (NULL: a snapshot's copy) */
} DownloadCall;

/* A claim read in place is held while it is read (vmexport_hold_claim). */
static void hold_claim(DownloadCall *p, bool hold) {
        if (p->uid)
                vmexport_hold_claim(p->d->model, p->uid, hold);
}

static void download_call_free(DownloadCall *p) {
        sd_bus_message_unref(p->m);
        g_free(p->uid);
        g_free(p);
}

/* DownloadProgress, to the caller only (as PushProgress). */
static void download_progress(uint64_t done, uint64_t total, void *userdata) {
        bus_send_progress(((DownloadCall *) userdata)->m, "DownloadProgress", done, total);
}

static void downloaded(GPtrArray *out, const GError *e, void *userdata) {
        DownloadCall *p = userdata;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;

        hold_claim(p, false);
        if (out && out->len == 2)
                (void) sd_bus_reply_method_return(p->m, "st", out->pdata[0], g_ascii_strtoull(out->pdata[1], NULL, 10));
        else {
                bus_error_set(&error, -EIO, e);
                (void) sd_bus_reply_method_error(p->m, &error);
        }
        bus_calls_finish(p->d->bus_calls, p->m, error.name);
        download_call_free(p);
}

/* Authorized, and the token the export's: 1; 0: polkit asked (the call comes again). */
static int check_access(sd_bus_message *m, Object *x, const char *token, sd_bus_error *error) {
        Daemon *d = bus_current_daemon(m);
        g_autoptr(GError) e = NULL;
        int r = authz_check(d->authz, m, "vmexport.download", x->namespace, x->kind->kind, x->name, error);

        if (r <= 0)
                return r;
        if ((r = vmexport_check_token(d->model, x, token, &e)) < 0)
                return bus_error_set(error, r, e);
        return 1;
}

static int method_download(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Object *x = userdata;
        Daemon *d = bus_current_daemon(m);
        g_autofree char *path = NULL, *uid = NULL;
        g_autoptr(GError) e = NULL;
        const char *volume, *format, *token, *checksum = NULL;
        int fd, r;

        if ((r = sd_bus_message_read(m, "sssh", &volume, &format, &token, &fd)) < 0 ||
            (r = bus_read_options(m, NULL, 0, error)) < 0)
                return r;
        if (!g_strv_contains(vmexport_formats, format))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "format: Unsupported value: \"%s\": "
                                         "supported values: \"raw\", \"gzip\", \"qcow2\"", format);
        if ((r = bus_check_fd(fd, true, "fd", error)) < 0)
                return r;
        if ((r = check_access(m, x, token, error)) <= 0)
                return r < 0 ? r : 1;
        if ((r = vmexport_volume(d->model, x, volume, &path, &checksum, &uid, &e)) < 0)
                return bus_error_set(error, r, e);
        DownloadCall *p = g_new0(DownloadCall, 1);
        p->d = d;
        p->m = sd_bus_message_ref(m);
        p->uid = g_steal_pointer(&uid);
        hold_claim(p, true);
        r = imagecache_export_volume(model_services(d->model)->images, path, format, checksum, fd,
                                     download_progress, downloaded, p, &e);
        if (r < 0) {
                hold_claim(p, false);
                download_call_free(p);
                return bus_error_set(error, r, e);
        }
        bus_calls_defer(d->bus_calls, m);
        return 1;       /* the reply comes when the importer ends */
}

static int method_get_manifests(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Object *x = userdata;
        Daemon *d = bus_current_daemon(m);
        g_autoptr(JsonNode) list = NULL;
        g_autoptr(GError) e = NULL;
        const char *type, *token;
        int r;

        if ((r = sd_bus_message_read(m, "ss", &type, &token)) < 0 || (r = bus_read_options(m, NULL, 0, error)) < 0)
                return r;
        if (!streq(type, "all"))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "type: Unsupported value: \"%s\": supported values: \"all\"", type);
        if ((r = check_access(m, x, token, error)) <= 0)
                return r < 0 ? r : 1;
        if ((r = vmexport_manifests(d->model, x, type, &list, &e)) < 0)
                return bus_error_set(error, r, e);
        g_autofree char *yaml = manifest_to_yaml(list);
        return bus_reply_text(d, m, yaml, "the manifests", error);
}

const sd_bus_vtable bus_vmexport_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Phase", "s", property_get_phase, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("TokenSecretRef", "s", property_get_token_secret, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Volumes", "as", property_get_volumes, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Conditions", "a(ssss)", bus_property_get_conditions, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("Download", SD_BUS_ARGS("s", volume, "s", format, "s", token, "h", fd,
                                                        "a{sv}", options),
                                SD_BUS_RESULT("s", checksum, "t", written), method_download,
                                SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("GetManifests", SD_BUS_ARGS("s", type, "s", token, "a{sv}", options),
                                SD_BUS_RESULT("s", manifests), method_get_manifests, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("DownloadProgress", SD_BUS_ARGS("t", done, "t", total), 0),
        SD_BUS_VTABLE_END
};
