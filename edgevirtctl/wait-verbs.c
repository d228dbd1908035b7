/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* edgevirtctl wait and image-upload: following an object through the
 * daemon's signals until a condition holds (or an upload is done). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-glib/json-glib.h>
#include <systemd/sd-event.h>

#include "ctl.h"
#include "json-util.h"
#include "jsonpath.h"
#include "quantity.h"
#include "util.h"

typedef struct Watch {
        Ctl *c;
        sd_event *event;
        const char *kind, *name;
        bool (*done)(struct Watch *w, JsonObject *obj, bool gone);
        const char *condition;
        const char *const *phases;      /* ctl_wait_phase's */
        const char *reached;
        int result;
        bool finished;
        bool tty;
        double started;
        uint64_t total;
        char *last_line;
} Watch;

static int check(Watch *w) {
        g_autofree char *doc = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *text;
        int r = sd_bus_call_method(w->c->bus, NAME, ROOT, MANAGER, "Get", &e, &reply, "sssa{sv}", w->kind,
                                   w->c->namespace, w->name, 0);
        if (w->finished)
                return 0;
        if (r < 0) {
                if (sd_bus_error_has_name(&e, "org.edgevirt.EdgeVirt1.Error.NotFound"))
                        w->finished = w->done(w, NULL, true);
                else {
                        w->result = bus_fail(&e, r);
                        w->finished = true;
                }
                return 0;
        }
        sd_bus_message_read(reply, "s", &text);
        g_autoptr(JsonNode) n = parse_json(text);
        if (n)
                w->finished = w->done(w, json_node_get_object(n), false);
        return 0;
}

static int on_signal(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return check(userdata);
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Watch *w = userdata;
        w->result = fail(_("timed out waiting for %s/%s"), w->kind, w->name);
        w->finished = true;
        return 0;
}

/* Follow an object through the daemon's signals until w->done says so.
 * (The loop is run, not exited: sd-bus closes a bus whose loop exits.) */
static int follow(Watch *w) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *changed = NULL, *removed = NULL;
        _cleanup_(sd_event_source_unrefp) sd_event_source *timer = NULL;
        int r;

        r = sd_event_new(&w->event);
        if (r >= 0)
                r = sd_bus_attach_event(w->c->bus, w->event, 0);
        /* every change of any object: cheap on one node, and no path guessing */
        if (r >= 0)
                r = sd_bus_match_signal(w->c->bus, &changed, NAME, NULL, "org.freedesktop.DBus.Properties",
                                        "PropertiesChanged", on_signal, w);
        if (r >= 0)
                r = sd_bus_match_signal(w->c->bus, &removed, NAME, NULL, "org.freedesktop.DBus.ObjectManager",
                                        "InterfacesRemoved", on_signal, w);     /* any manager's, Events' too */
        if (r < 0)
                return bus_fail(NULL, r);
        if (w->c->timeout > 0)
                sd_event_add_time_relative(w->event, &timer, CLOCK_MONOTONIC, (uint64_t) (w->c->timeout * 1e6), 0,
                                           on_timeout, w);
        check(w);
        while (!w->finished && r >= 0)
                r = sd_event_run(w->event, UINT64_MAX);
        sd_event_source_disable_unref(g_steal_pointer(&timer));
        sd_bus_detach_event(w->c->bus);
        w->event = sd_event_unref(w->event);
        return r < 0 ? fail("%s", g_strerror(-r)) : w->result;
}

static bool condition_met(Watch *w, JsonObject *obj, bool gone) {
        if (streq(w->condition, "delete"))
                return gone;
        if (!obj)
                return false;
        if (g_str_has_prefix(w->condition, "jsonpath={")) {
                /* jsonpath={EXPR}=VALUE: any result equal to VALUE */
                const char *close = strstr(w->condition, "}=");
                g_autofree char *expr = close ? g_strndup(w->condition + strlen("jsonpath={"),
                                                          close - w->condition - strlen("jsonpath={"))
                                              : NULL;
                g_autoptr(JsonNode) root = json_node_init_object(json_node_alloc(), obj);
                g_autoptr(GPtrArray) found = NULL;
                if (!expr || jsonpath_eval(expr, root, &found, NULL) < 0)
                        return false;
                for (guint i = 0; i < found->len; i++) {
                        g_autofree char *t = jsonpath_value_text(found->pdata[i]);
                        if (streq(t, close + 2))
                                return true;
                }
                return false;
        }
        JsonArray *conds = json_get_array(json_get_object(obj, "status"), "conditions");
        for (guint i = 0; conds && i < json_array_get_length(conds); i++) {
                JsonObject *cond = json_array_get_object_element(conds, i);
                if (g_ascii_strcasecmp(json_get_string(cond, "type") ?: "", w->condition) == 0)
                        return streq_ptr(json_get_string(cond, "status"), "True");
        }
        return false;
}

static bool phase_reached(Watch *w, JsonObject *obj, bool gone) {
        const char *phase = json_get_string(json_get_object(obj, "status"), "phase");
        if (gone) {
                w->result = fail(_("%s \"%s\" went away"), w->kind, w->name);
                return true;
        }
        for (const char *const *p = w->phases; phase && *p; p++)
                if (streq(*p, phase))
                        w->reached = *p;
        return w->reached != NULL;
}

int ctl_wait_phase(Ctl *c, const char *kind, const char *name, const char *const *phases, const char **ret_phase) {
        Watch w = { .c = c, .kind = kind, .name = name, .done = phase_reached, .phases = phases };
        int r = follow(&w);
        *ret_phase = w.reached;
        return r;
}

int verb_wait(Ctl *c, int argc, char **argv) {
        Watch w = { .c = c, .done = condition_met };
        if (argc != 2 || !strchr(argv[1], '/') || !c->for_condition)
                return fail(_("usage: edgevirtctl wait KIND/NAME --for=condition=TYPE|--for=delete [--timeout=5m]"));
        g_autofree char *kind = g_strndup(argv[1], strchr(argv[1], '/') - argv[1]);
        w.kind = kind;
        w.name = strchr(argv[1], '/') + 1;
        if (g_str_has_prefix(c->for_condition, "condition="))
                w.condition = c->for_condition + strlen("condition=");
        else if (streq(c->for_condition, "delete") ||
                 (g_str_has_prefix(c->for_condition, "jsonpath={") && strstr(c->for_condition, "}=")))
                w.condition = c->for_condition;
        else
                return fail(_("--for takes condition=TYPE, jsonpath={.field.path}=VALUE or delete"));
        int r = follow(&w);
        if (r == 0)
                printf(_("%s condition met\n"), argv[1]);
        return r;
}

static void show_progress(Watch *w, JsonObject *status) {
        const char *p = json_get_string(status, "progress");
        double pct = p && g_ascii_isdigit(p[0]) ? g_ascii_strtod(p, NULL) : 0;
        double elapsed = (double) g_get_monotonic_time() / 1e6 - w->started;
        double rate = elapsed > 0 ? (double) w->total * pct / 100.0 / elapsed : 0;
        double eta = pct > 0 ? elapsed * (100.0 - pct) / pct : 0;
        g_autofree char *line = NULL;

        if (w->tty) {
                int bar = (int) (pct / 100.0 * 30);
                line = g_strdup_printf("\r[%.*s%*s] %6.2f%%  %.1f MiB/s  ETA %.0fs ", bar,
                                       "##############################", 30 - bar, "", pct, rate / 1048576.0, eta);
                fputs(line, stderr);
                fflush(stderr);
        } else {
                line = g_strdup_printf(_("uploaded %.0f%%\n"), pct);
                if (!streq_ptr(line, w->last_line))
                        fputs(line, stderr);
                g_free(w->last_line);
                w->last_line = g_steal_pointer(&line);
        }
}

static bool upload_done(Watch *w, JsonObject *obj, bool gone) {
        if (gone) {
                w->result = fail(_("the DataVolume was deleted"));
                return true;
        }
        JsonObject *status = json_get_object(obj, "status");
        const char *phase = json_get_string(status, "phase");
        if (streq_ptr(phase, "UploadInProgress"))
                show_progress(w, status);
        if (streq_ptr(phase, "Succeeded")) {
                if (w->tty)
                        fputc('\n', stderr);
                return true;
        }
        if (streq_ptr(phase, "Failed") ||
            (streq_ptr(phase, "UploadReady") && json_get_int(status, "restartCount", 0) > 0 &&
                                           w->condition && streq(w->condition, "sent"))) {
                JsonArray *conds = json_get_array(status, "conditions");
                const char *msg = NULL;
                for (guint i = 0; conds && i < json_array_get_length(conds); i++)
                        if (streq_ptr(json_get_string(json_array_get_object_element(conds, i), "type"), "Ready"))
                                msg = json_get_string(json_array_get_object_element(conds, i), "message");
                w->result = fail(_("upload failed: %s"), msg ? msg : phase);
                return true;
        }
        return false;
}

static bool upload_ready(Watch *w, JsonObject *obj, bool gone) {
        const char *phase = obj ? str(obj, "status.phase") : NULL;
        if (streq_ptr(phase, "UploadReady"))
                return true;
        if (streq_ptr(phase, "Failed") || streq_ptr(phase, "Succeeded")) {
                w->result = fail(_("the DataVolume is %s, not waiting for an upload"), phase);
                return true;
        }
        return false;
}

int verb_image_upload(Ctl *c, int argc, char **argv) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *doc = NULL, *path = NULL;
        struct stat st;
        int fd, r;

        if (argc != 3 || !streq(argv[1], "dv") || !c->image_path)
                return fail(_("usage: edgevirtctl image-upload dv NAME --image-path=FILE [--size=SIZE] "
                              "[--storage-class=CLASS] [--no-create]"));
        const char *name = argv[2];
        fd = open(c->image_path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0)
                return fail(_("cannot open %s: %s"), c->image_path, g_strerror(errno));

        r = ctl_call_document(c, "Get", "datavolume", c->namespace, name, NULL, NULL, &doc);
        if (r) {
                if (c->no_create || !c->size)
                        return fail(_("create the DataVolume with --size, or apply an upload DataVolume first"));
                int64_t bytes;
                g_autoptr(GError) qe = NULL;
                if (quantity_parse_int64(c->size, &bytes, &qe) < 0)
                        return fail("--size: %s", qe->message);
                g_autofree char *sc = c->storage_class ? g_strdup_printf(", storageClassName: %s",
                                                                         c->storage_class) : g_strdup("");
                g_autofree char *dv = g_strdup_printf("apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\n"
                                                      "metadata: {name: %s, namespace: %s}\n"
                                                      "spec: {source: {upload: {}}, storage: {resources: {requests: "
                                                      "{storage: '%s'}}%s}}\n", name, c->namespace, c->size, sc);
                r = sd_bus_call_method(c->bus, NAME, ROOT, MANAGER, "Apply", &e, NULL, "sa{sv}", dv, 0);
                if (r < 0)
                        return bus_fail(&e, r);
                fprintf(stderr, _("DataVolume %s/%s created\n"), c->namespace, name);
        }
        Watch ready = { .c = c, .kind = "datavolume", .name = name, .done = upload_ready };
        r = follow(&ready);
        if (r)
                return r;

        path = ctl_object_path(c->namespace, "datavolume", name);
        if (!path)
                return fail("out of memory");
        r = sd_bus_call_method(c->bus, NAME, path, "org.edgevirt.EdgeVirt1.DataVolume", "Upload", &e, NULL, "ha{sv}",
                               fd, 0);
        close(fd);
        if (r < 0)
                return bus_fail(&e, r);
        Watch w = { .c = c, .kind = "datavolume", .name = name, .done = upload_done, .condition = "sent",
                    .tty = isatty(STDERR_FILENO), .started = (double) g_get_monotonic_time() / 1e6,
                    .total = (uint64_t) st.st_size };
        r = follow(&w);
        g_free(w.last_line);
        if (r == 0)
                printf(_("Uploading %s to %s/%s completed successfully\n"), c->image_path, c->namespace, name);
        return r;
}
