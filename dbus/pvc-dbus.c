/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.edgevirt.EdgeVirt1.PersistentVolumeClaim */
#include "authz.h"
#include "bus.h"
#include "bus-calls.h"
#include "bus-error.h"
#include "bus-util.h"
#include "imagecache-archive.h"
#include "import-source.h"
#include "json-util.h"
#include "pvc-status.h"
#include "snapshot-status.h"
#include "util.h"

static int property_get_phase(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return bus_append_string(reply, object_status_string(userdata, "phase"));
}

static int property_get_storage_class(sd_bus *bus, const char *path, const char *interface, const char *property,
                                      sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return bus_append_string(reply, pvc_storage_class(userdata));
}

static int property_get_volume_mode(sd_bus *bus, const char *path, const char *interface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return bus_append_string(reply, json_get_string(json_get_object(object_root(userdata), "spec"), "volumeMode"));
}

static int property_get_reason(sd_bus *bus, const char *path, const char *interface, const char *property,
                               sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return bus_append_string(reply, pvc_reason(userdata));
}

static int property_get_message(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return bus_append_string(reply, pvc_message(userdata));
}

static int property_get_capacity(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "t", pvc_capacity_bytes(userdata));
}

static int property_get_requested_capacity(sd_bus *bus, const char *path, const char *interface, const char *property,
                                           sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "t", pvc_requested_bytes(userdata));
}

static int property_get_access_modes(sd_bus *bus, const char *path, const char *interface, const char *property,
                                     sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        JsonArray *modes = json_get_array(json_get_object(object_root(o), "spec"), "accessModes");
        int r;

        r = sd_bus_message_open_container(reply, 'a', "s");
        if (r < 0)
                return r;
        for (guint i = 0; modes && i < json_array_get_length(modes); i++) {
                r = sd_bus_message_append(reply, "s", json_array_get_string_element(modes, i));
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int property_get_volume_path(sd_bus *bus, const char *path, const char *interface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        g_autofree char *p = pvc_volume_path(o->model, o);
        return sd_bus_message_append(reply, "s", p);
}

/* A Push under way: answered when the importer ends. */
typedef struct PushCall {
        Daemon *d;
        sd_bus_message *m;
        char *uid;                      /* the claim, in use until then (NULL: pushed from a snapshot) */
} PushCall;

/* PushProgress, to the caller only (as Manager's Warning). */
static void push_progress(uint64_t sent, uint64_t total, void *userdata) {
        bus_send_progress(((PushCall *) userdata)->m, "PushProgress", sent, total);
}

static void pushed(GPtrArray *out, const GError *e, void *userdata) {
        PushCall *p = userdata;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;

        if (p->uid) {
                services_pvc_use(model_services(p->d->model), p->uid, false);
                services_pvc_lock(model_services(p->d->model), p->uid, false);
                model_enqueue_kind(p->d->model, &kind_vmi);     /* a guest may wait for it */
        }
        if (out && out->len == 4)
                (void) sd_bus_reply_method_return(p->m, "ssst", out->pdata[0], out->pdata[1], out->pdata[2],
                                                  g_ascii_strtoull(out->pdata[3], NULL, 10));
        else {
                bus_error_set(&error, -EIO, e);
                (void) sd_bus_reply_method_error(p->m, &error);
        }
        bus_calls_finish(p->d->bus_calls, p->m, error.name);
        sd_bus_message_unref(p->m);
        g_free(p->uid);
        g_free(p);
}

/* host[:port]/path, no tag or digest: the tag is the disk's content */
static bool valid_repository(const char *repo) {
        const char *slash = strchr(repo, '/'), *last = strrchr(repo, '/');
        if (!slash || slash == repo || !last[1] || strlen(repo) > 255 || strchr(last, ':') || strchr(repo, '@'))
                return false;
        for (const char *c = slash + 1; *c; c++)
                if (!g_ascii_islower(*c) && !g_ascii_isdigit(*c) && !strchr("._-/", *c))
                        return false;
        for (const char *c = repo; c < slash; c++)
                if (!g_ascii_isalnum(*c) && !strchr(".-:[]", *c))
                        return false;
        return true;
}

static int method_push(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Object *o = userdata;
        Daemon *d = bus_current_daemon(m);
        Services *s = model_services(o->model);
        g_autofree char *secret = NULL, *snapshot = NULL, *path = NULL;
        bool tls_verify = true;
        BusOption options[] = {
                { "tls-verify", BUS_OPTION_BOOL, &tls_verify },
                { "creds-secret", BUS_OPTION_STRING, &secret },
                { "snapshot", BUS_OPTION_STRING, &snapshot },
        };
        g_autoptr(GError) e = NULL;
        const char *repository;
        int r;

        if ((r = sd_bus_message_read(m, "s", &repository)) < 0 ||
            (r = bus_read_options(m, options, G_N_ELEMENTS(options), error)) < 0)
                return r;
        const char *repo = g_str_has_prefix(repository, "docker://") ? repository + strlen("docker://") : repository;
        if (!valid_repository(repo))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "repository: \"%s\" is not a repository (host[:port]/path, lower case, "
                                         "no tag or digest: the tag is made from the disk)", repository);
        r = authz_check(d->authz, m, "pvc.export", o->namespace, o->kind->kind, o->name, error);
        if (r <= 0)
                return r < 0 ? r : 1;   /* 0: polkit asked, the call comes again */
        if (secret) {   /* using a Secret is reading it */
                r = authz_check(d->authz, m, "secret.read", o->namespace, "Secret", secret, error);
                if (r <= 0)
                        return r < 0 ? r : 1;
        }
        if (!streq(object_status_string(o, "phase"), "Bound")) {
                r = ev_error_set(&e, EBUSY, "claim %s/%s is %s, not Bound: nothing to push", o->namespace, o->name,
                                 object_status_string(o, "phase"));
                return bus_error_set(error, r, e);
        }
        if (snapshot) {
                /* the copy a snapshot holds: nothing writes it */
                g_autofree char *id = NULL;
                const char *class;
                StorageBackend *b;
                if ((r = snapshot_claim_copy(o->model, o->namespace, snapshot, o->name, &id, &class, &e)) < 0) {
                        g_autoptr(GError) named = NULL;
                        r = ev_error_set(&named, -r, "snapshot: %s", e->message);
                        return bus_error_set(error, r, named);
                }
                if (!(b = services_backend(s, class ? class : pvc_storage_class(o)))) {
                        r = ev_error_set(&e, ENOENT, "snapshot: the storage class of its copy of %s is gone", o->name);
                        return bus_error_set(error, r, e);
                }
                path = b->ops->path(b, id);
        } else if (services_pvc_users(s, o->uid) > 0) {
                r = ev_error_set(&e, EBUSY, "claim %s/%s is in use (a running VM or an import writes it): stop the "
                                 "VM, or take a VirtualMachineSnapshot and restore it into a claim to push",
                                 o->namespace, o->name);
                return bus_error_set(error, r, e);
        }
        g_autoptr(JsonObject) src = json_object_new();
        g_autofree char *url = g_strdup_printf("docker://%s", repo);
        json_object_set_string_member(src, "url", url);
        if (secret)
                json_object_set_string_member(src, "secretRef", secret);
        g_autoptr(GStrvBuilder) args = g_strv_builder_new();
        g_autoptr(GStrvBuilder) env = g_strv_builder_new();
        if ((r = import_source_arguments(o->model, o->namespace, src, "registry", NULL, args, env, &e)) < 0) {
                g_autoptr(GError) named = NULL;
                r = ev_error_set(&named, -r, "creds-secret: %s", e->message);
                return bus_error_set(error, r, named);
        }
        if (!tls_verify)
                g_strv_builder_add(args, "--insecure");
        if (!path)
                path = pvc_volume_path(o->model, o);
        PushCall *p = g_new0(PushCall, 1);
        p->d = d;
        p->m = sd_bus_message_ref(m);
        p->uid = snapshot ? NULL : g_strdup(o->uid);
        if (p->uid) {   /* no deletion, and no guest, until the push ends */
                services_pvc_use(s, p->uid, true);
                services_pvc_lock(s, p->uid, true);
        }
        r = imagecache_push_volume(s->images, path, args, g_strv_builder_end(env), push_progress, pushed, p, &e);
        if (r < 0) {
                if (p->uid) {
                        services_pvc_use(s, p->uid, false);
                        services_pvc_lock(s, p->uid, false);
                }
                sd_bus_message_unref(p->m);
                g_free(p->uid);
                g_free(p);
                return bus_error_set(error, r, e);
        }
        bus_calls_defer(d->bus_calls, m);
        return 1;       /* the reply comes when the push ends */
}

const sd_bus_vtable bus_pvc_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Phase", "s", property_get_phase, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Reason", "s", property_get_reason, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Message", "s", property_get_message, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Capacity", "t", property_get_capacity, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("RequestedCapacity", "t", property_get_requested_capacity, 0,
                        SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("StorageClass", "s", property_get_storage_class, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("VolumeMode", "s", property_get_volume_mode, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("AccessModes", "as", property_get_access_modes, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("VolumePath", "s", property_get_volume_path, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD_WITH_ARGS("Push", SD_BUS_ARGS("s", repository, "a{sv}", options),
                                SD_BUS_RESULT("s", image, "s", digest, "s", checksum, "t", uploaded),
                                method_push, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("PushProgress", SD_BUS_ARGS("t", sent, "t", total), 0),
        SD_BUS_VTABLE_END
};
