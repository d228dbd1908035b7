/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* edgevirtctl: oc/kubectl verbs on one node, through edgevirtd's public
 * D-Bus API only (anything it does, a front end can do). */
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <libintl.h>
#include <locale.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <stdio.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "config.h"

#include "json-util.h"
#include "jsonpath.h"
#include "manifest.h"
#include "quantity.h"
#include "util.h"

#include "ctl.h"

int fail(const char *fmt, ...) {
        va_list ap;
        fputs(_("error: "), stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return 1;
}

int bus_fail(const sd_bus_error *e, int r) {
        if (e && sd_bus_error_is_set(e))
                return fail("%s", e->message);
        return fail("%s", g_strerror(-r));
}

/* --- the current project, kept in the user's configuration --- */

static char *context_path(void) {
        return g_build_filename(g_get_user_config_dir(), "edgevirt", "edgevirtctl.conf", NULL);
}

static char *current_project(void) {
        g_autoptr(GKeyFile) kf = g_key_file_new();
        g_autofree char *path = context_path();
        char *ns = NULL;
        if (g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, NULL))
                ns = g_key_file_get_string(kf, "Context", "Namespace", NULL);
        return ns ? ns : g_strdup("default");
}

static int set_current_project(const char *ns) {
        g_autoptr(GKeyFile) kf = g_key_file_new();
        g_autofree char *path = context_path(), *dir = g_path_get_dirname(path);
        g_autoptr(GError) e = NULL;
        (void) g_key_file_load_from_file(kf, path, G_KEY_FILE_KEEP_COMMENTS, NULL);
        g_key_file_set_string(kf, "Context", "Namespace", ns);
        if (g_mkdir_with_parents(dir, 0700) < 0 || !g_key_file_save_to_file(kf, path, &e))
                return fail(_("cannot save %s: %s"), path, e ? e->message : g_strerror(errno));
        return 0;
}

/* --- calls --- */

static int connect_bus(Ctl *c) {
        const char *spec = c->bus_spec ? c->bus_spec : getenv("EDGEVIRT_BUS") ? getenv("EDGEVIRT_BUS") : "system";
        int r;

        if (streq(spec, "system"))
                r = sd_bus_open_system(&c->bus);
        else if (streq(spec, "session"))
                r = sd_bus_open_user(&c->bus);
        else {
                r = sd_bus_new(&c->bus);
                if (r >= 0 && (r = sd_bus_set_address(c->bus, spec)) >= 0 && (r = sd_bus_set_bus_client(c->bus, true)) >= 0)
                        r = sd_bus_start(c->bus);
        }
        if (r < 0)
                return fail(_("cannot connect to the %s bus: %s"), spec, g_strerror(-r));
        return 0;
}

static JsonNode *parse_json(const char *text) {
        g_autoptr(JsonParser) p = json_parser_new();
        if (!json_parser_load_from_data(p, text, -1, NULL))
                return NULL;
        return json_node_copy(json_parser_get_root(p));
}

static const char *ns_of(Ctl *c) {
        return c->all_namespaces ? "" : c->namespace;
}

/* --- tables --- */

static char *age(const char *ts) {
        g_autoptr(GDateTime) t = ts ? g_date_time_new_from_iso8601(ts, NULL) : NULL;
        g_autoptr(GDateTime) now = g_date_time_new_now_utc();
        if (!t)
                return g_strdup("<unknown>");
        gint64 s = g_date_time_difference(now, t) / G_USEC_PER_SEC;
        if (s < 120)
                return g_strdup_printf("%" G_GINT64_FORMAT "s", s);
        if (s < 2 * 3600)
                return g_strdup_printf("%" G_GINT64_FORMAT "m", s / 60);
        if (s < 2 * 86400)
                return g_strdup_printf("%" G_GINT64_FORMAT "h", s / 3600);
        return g_strdup_printf("%" G_GINT64_FORMAT "d", s / 86400);
}

static const char *str(JsonObject *o, const char *path) {
        /* "a.b.c" */
        g_auto(GStrv) parts = g_strsplit(path, ".", -1);
        for (char **p = parts; *p && o; p++) {
                if (!p[1])
                        return json_get_string(o, *p);
                o = json_get_object(o, *p);
        }
        return NULL;
}

typedef struct Column {
        const char *title;
        char *(*value)(JsonObject *item);
} Column;

static char *col_name(JsonObject *i) { return g_strdup(str(i, "metadata.name")); }
static char *col_age(JsonObject *i) { return age(str(i, "metadata.creationTimestamp")); }
static char *col_phase(JsonObject *i) { return g_strdup(str(i, "status.phase") ?: ""); }
static char *col_capacity(JsonObject *i) { return g_strdup(str(i, "status.capacity.storage") ?: ""); }
static char *col_class(JsonObject *i) { return g_strdup(str(i, "spec.storageClassName") ?: ""); }
static char *col_progress(JsonObject *i) { return g_strdup(str(i, "status.progress") ?: "N/A"); }
static char *col_type(JsonObject *i) { return g_strdup(json_get_string(i, "type") ?: ""); }
static char *col_provisioner(JsonObject *i) { return g_strdup(json_get_string(i, "provisioner") ?: ""); }

static char *col_restarts(JsonObject *i) {
        return g_strdup_printf("%" G_GINT64_FORMAT, json_get_int(json_get_object(i, "status"), "restartCount", 0));
}

static char *col_data(JsonObject *i) {
        JsonObject *d = json_get_object(i, "data"), *b = json_get_object(i, "binaryData");
        return g_strdup_printf("%u", (d ? json_object_get_size(d) : 0) + (b ? json_object_get_size(b) : 0));
}

static char *col_modes(JsonObject *i) {
        JsonArray *a = json_get_array(json_get_object(i, "spec"), "accessModes");
        g_autoptr(GString) s = g_string_new(NULL);
        static const struct { const char *mode, *abbrev; } ab[] = {
                { "ReadWriteOnce", "RWO" }, { "ReadOnlyMany", "ROX" }, { "ReadWriteMany", "RWX" }, { "ReadWriteOncePod", "RWOP" } };
        for (guint k = 0; a && k < json_array_get_length(a); k++)
                for (size_t j = 0; j < G_N_ELEMENTS(ab); j++)
                        if (streq(json_array_get_string_element(a, k), ab[j].mode))
                                g_string_append_printf(s, "%s%s", s->len ? "," : "", ab[j].abbrev);
        return g_string_free(g_steal_pointer(&s), FALSE);
}

static char *col_sc_name(JsonObject *i) {
        JsonObject *ann = json_get_object(json_get_object(i, "metadata"), "annotations");
        return g_strdup_printf("%s%s", str(i, "metadata.name"),
                               streq_ptr(json_get_string(ann, "storageclass.kubernetes.io/is-default-class"), "true") ? " (default)" : "");
}

static char *col_volume_mode(JsonObject *i) { return g_strdup(str(i, "spec.volumeMode") ?: ""); }
static char *col_volume(JsonObject *i) { return g_strdup(str(i, "spec.volumeName") ?: ""); }

static char *col_source(JsonObject *i) {
        JsonObject *src = json_get_object(json_get_object(i, "spec"), "source");
        g_autoptr(GList) keys = src ? json_object_get_members(src) : NULL;
        if (keys && g_str_equal(keys->data, "http"))
                return g_strdup_printf("http %s", str(src, "http.url") ?: "");
        if (keys && g_str_equal(keys->data, "pvc"))
                return g_strdup_printf("pvc %s/%s", str(src, "pvc.namespace") ?: str(i, "metadata.namespace"), str(src, "pvc.name"));
        return g_strdup(keys ? keys->data : "");
}

static char *col_printable(JsonObject *i) { return g_strdup(str(i, "status.printableStatus") ?: "Stopped"); }
static char *col_run_strategy(JsonObject *i) { return g_strdup(str(i, "status.runStrategy") ?: ""); }
static char *col_node(JsonObject *i) { return g_strdup(str(i, "status.nodeName") ?: ""); }

static char *col_ready(JsonObject *i) {
        JsonObject *status = json_get_object(i, "status");
        if (status && json_object_has_member(status, "ready"))
                return g_strdup(json_get_bool(status, "ready", false) ? "True" : "False");
        JsonArray *conds = json_get_array(status, "conditions");
        for (guint k = 0; conds && k < json_array_get_length(conds); k++) {
                JsonObject *cond = json_array_get_object_element(conds, k);
                if (streq_ptr(json_get_string(cond, "type"), "Ready"))
                        return g_strdup(json_get_string(cond, "status") ?: "False");
        }
        return g_strdup("False");
}

static char *col_ip(JsonObject *i) {
        JsonArray *ifaces = json_get_array(json_get_object(i, "status"), "interfaces");
        JsonObject *first = ifaces && json_array_get_length(ifaces) ? json_array_get_object_element(ifaces, 0) : NULL;
        return g_strdup(json_get_string(first, "ipAddress") ?: "");
}

static char *col_expansion(JsonObject *i) {
        return g_strdup(json_get_bool(i, "allowVolumeExpansion", false) ? "true" : "false");
}

static char *col_source_kind(JsonObject *i) { return g_strdup(str(i, "spec.source.kind") ?: ""); }
static char *col_source_name(JsonObject *i) { return g_strdup(str(i, "spec.source.name") ?: ""); }
static char *col_target_kind(JsonObject *i) { return g_strdup(str(i, "spec.target.kind") ?: ""); }
static char *col_target_name(JsonObject *i) { return g_strdup(str(i, "spec.target.name") ?: ""); }
static char *col_ready_to_use(JsonObject *i) {
        return g_strdup(json_get_bool(json_get_object(i, "status"), "readyToUse", false) ? "true" : "false");
}
static char *col_complete(JsonObject *i) {
        return g_strdup(json_get_bool(json_get_object(i, "status"), "complete", false) ? "true" : "false");
}
static char *col_creation_time(JsonObject *i) { return str(i, "status.creationTime") ? age(str(i, "status.creationTime")) : g_strdup(""); }
static char *col_restore_time(JsonObject *i) { return str(i, "status.restoreTime") ? age(str(i, "status.restoreTime")) : g_strdup(""); }
static char *col_target_vm(JsonObject *i) { return g_strdup(str(i, "status.targetName") ?: str(i, "spec.target.name") ?: ""); }

static char *col_error(JsonObject *i) {
        const char *e = str(i, "status.error.message");
        JsonArray *conds = json_get_array(json_get_object(i, "status"), "conditions");
        for (guint k = 0; !e && conds && k < json_array_get_length(conds); k++) {
                JsonObject *c = json_array_get_object_element(conds, k);
                if (streq_ptr(json_get_string(c, "reason"), "Failed"))
                        e = json_get_string(c, "message");
        }
        return g_strdup(e ?: "");
}

/* -o wide: more columns after the usual ones */
static const struct {
        const char *kind;
        Column columns[3];
} wide_tables[] = {
        { "PersistentVolumeClaim", { { "VOLUMEMODE", col_volume_mode }, { "VOLUME", col_volume } } },
        { "DataVolume", { { "SOURCE", col_source } } },
        { "VirtualMachine", { { "RUNSTRATEGY", col_run_strategy } } },
};

static const struct {
        const char *kind;
        Column columns[7];
} tables[] = {
        { "Namespace", { { "NAME", col_name }, { "STATUS", col_phase }, { "AGE", col_age } } },
        { "PersistentVolumeClaim", { { "NAME", col_name }, { "STATUS", col_phase }, { "CAPACITY", col_capacity },
                                     { "ACCESS MODES", col_modes }, { "STORAGECLASS", col_class }, { "AGE", col_age } } },
        { "DataVolume", { { "NAME", col_name }, { "PHASE", col_phase }, { "PROGRESS", col_progress },
                          { "RESTARTS", col_restarts }, { "AGE", col_age } } },
        { "Secret", { { "NAME", col_name }, { "TYPE", col_type }, { "DATA", col_data }, { "AGE", col_age } } },
        { "ConfigMap", { { "NAME", col_name }, { "DATA", col_data }, { "AGE", col_age } } },
        { "VirtualMachine", { { "NAME", col_name }, { "AGE", col_age }, { "STATUS", col_printable }, { "READY", col_ready } } },
        { "VirtualMachineInstance", { { "NAME", col_name }, { "AGE", col_age }, { "PHASE", col_phase }, { "IP", col_ip },
                                      { "NODENAME", col_node }, { "READY", col_ready } } },
        { "StorageClass", { { "NAME", col_sc_name }, { "PROVISIONER", col_provisioner },
                            { "ALLOWVOLUMEEXPANSION", col_expansion }, { "AGE", col_age } } },
        /* as kubectl prints KubeVirt's snapshot kinds */
        { "VirtualMachineSnapshot", { { "NAME", col_name }, { "SOURCEKIND", col_source_kind }, { "SOURCENAME", col_source_name },
                                      { "PHASE", col_phase }, { "READYTOUSE", col_ready_to_use }, { "CREATIONTIME", col_creation_time },
                                      { "ERROR", col_error } } },
        { "VirtualMachineRestore", { { "NAME", col_name }, { "TARGETKIND", col_target_kind }, { "TARGETNAME", col_target_name },
                                     { "COMPLETE", col_complete }, { "RESTORETIME", col_restore_time }, { "ERROR", col_error } } },
        { "VirtualMachineClone", { { "NAME", col_name }, { "PHASE", col_phase }, { "SOURCEVIRTUALMACHINE", col_source_name },
                                   { "TARGETVIRTUALMACHINE", col_target_vm } } },
};

static bool wide_output;

static void print_table_rows(JsonArray *items, bool with_namespace, bool header);

static void print_table(JsonArray *items, bool with_namespace) {
        print_table_rows(items, with_namespace, true);
}

static void print_table_rows(JsonArray *items, bool with_namespace, bool header) {
        const Column *cols = NULL;
        static const Column fallback[] = { { "NAME", col_name }, { "AGE", col_age } };
        size_t ncols = 0;
        g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func((GDestroyNotify) g_strfreev);
        const char *kind = json_array_get_length(items) ? json_get_string(json_array_get_object_element(items, 0), "kind") : NULL;

        for (size_t t = 0; t < G_N_ELEMENTS(tables); t++)
                if (streq_ptr(tables[t].kind, kind))
                        cols = tables[t].columns;
        if (!cols)
                cols = fallback;
        while (ncols < 7 && cols[ncols].title)
                ncols++;
        if (cols == fallback)
                ncols = 2;
        /* the usual columns, then the wide ones before AGE */
        Column all[10];
        size_t nall = 0;
        for (size_t k = 0; k + 1 < ncols; k++)
                all[nall++] = cols[k];
        for (size_t t = 0; wide_output && t < G_N_ELEMENTS(wide_tables); t++)
                if (streq_ptr(wide_tables[t].kind, kind))
                        for (size_t k = 0; k < 3 && wide_tables[t].columns[k].title; k++)
                                all[nall++] = wide_tables[t].columns[k];
        all[nall++] = cols[ncols - 1];
        cols = all;
        ncols = nall;

        size_t width[8] = { 0 };
        GStrvBuilder *hb = g_strv_builder_new();
        if (with_namespace)
                g_strv_builder_add(hb, "NAMESPACE");
        for (size_t k = 0; k < ncols; k++)
                g_strv_builder_add(hb, cols[k].title);
        g_ptr_array_add(rows, g_strv_builder_end(hb));
        g_strv_builder_unref(hb);
        for (guint i = 0; i < json_array_get_length(items); i++) {
                JsonObject *item = json_array_get_object_element(items, i);
                GStrvBuilder *b = g_strv_builder_new();
                if (with_namespace)
                        g_strv_builder_add(b, str(item, "metadata.namespace") ?: "");
                for (size_t k = 0; k < ncols; k++) {
                        g_autofree char *v = cols[k].value(item);
                        g_strv_builder_add(b, v ? v : "");
                }
                g_ptr_array_add(rows, g_strv_builder_end(b));
                g_strv_builder_unref(b);
        }
        for (guint i = 0; i < rows->len; i++) {
                char **row = rows->pdata[i];
                for (size_t k = 0; row[k]; k++)
                        width[k] = MAX(width[k], strlen(row[k]));
        }
        for (guint i = header ? 0 : 1; i < rows->len; i++) {
                char **row = rows->pdata[i];
                for (size_t k = 0; row[k]; k++)
                        printf("%-*s%s", row[k + 1] ? (int) width[k] : 0, row[k], row[k + 1] ? "   " : "\n");
        }
        fflush(stdout);
}

/* --- verbs --- */

typedef struct Watcher {
        Ctl *c;
        const char *kind;
        GHashTable *seen;               /* namespace/name -> resourceVersion printed */
        bool done;
} Watcher;

/* Print the objects that changed since they were last printed. */
static int watch_list(Watcher *wt, bool header) {
        g_autofree char *doc = NULL;
        int r = ctl_call_document(wt->c, "List", wt->kind, ns_of(wt->c), NULL, "json", wt->c->selector, &doc);
        if (r)
                return r;
        g_autoptr(JsonNode) list = parse_json(doc);
        JsonArray *items = json_get_array(json_node_get_object(list), "items");
        g_autoptr(JsonArray) changed = json_array_new();
        for (guint i = 0; i < json_array_get_length(items); i++) {
                JsonObject *it = json_array_get_object_element(items, i);
                g_autofree char *key = g_strdup_printf("%s/%s", str(it, "metadata.namespace") ?: "", str(it, "metadata.name"));
                const char *rv = str(it, "metadata.resourceVersion");
                if (streq_ptr(g_hash_table_lookup(wt->seen, key), rv))
                        continue;
                g_hash_table_replace(wt->seen, g_steal_pointer(&key), g_strdup(rv));
                json_array_add_element(changed, json_node_ref(json_array_get_element(items, i)));
        }
        if (json_array_get_length(changed) > 0)
                print_table_rows(changed, wt->c->all_namespaces, header);
        return 0;
}

static int on_watch_signal(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Watcher *wt = userdata;
        if (watch_list(wt, false))
                wt->done = true;
        return 0;
}

static int on_watch_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        ((Watcher *) userdata)->done = true;
        return 0;
}

static int on_watch_stop(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        ((Watcher *) userdata)->done = true;
        return 0;
}

/* get -w: the table, then a row for every object that changes, until
 * --timeout or Ctrl-C. */
static int watch_get(Ctl *c, const char *kind) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *a = NULL, *b = NULL, *d = NULL;
        sd_event *event = NULL;
        Watcher wt = { .c = c, .kind = kind, .seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free) };
        sigset_t mask;
        int r;

        r = sd_event_new(&event);
        if (r >= 0)
                r = sd_bus_attach_event(c->bus, event, 0);
        if (r >= 0)
                r = sd_bus_match_signal(c->bus, &a, NAME, NULL, "org.freedesktop.DBus.Properties", "PropertiesChanged", on_watch_signal, &wt);
        if (r >= 0)
                r = sd_bus_match_signal(c->bus, &b, NAME, ROOT, "org.freedesktop.DBus.ObjectManager", "InterfacesAdded", on_watch_signal, &wt);
        if (r >= 0)
                r = sd_bus_match_signal(c->bus, &d, NAME, ROOT, "org.freedesktop.DBus.ObjectManager", "InterfacesRemoved", on_watch_signal, &wt);
        if (r < 0)
                return bus_fail(NULL, r);
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        sd_event_add_signal(event, NULL, SIGINT, on_watch_stop, &wt);
        sd_event_add_signal(event, NULL, SIGTERM, on_watch_stop, &wt);
        if (c->timeout > 0)
                sd_event_add_time_relative(event, NULL, CLOCK_MONOTONIC, (uint64_t) (c->timeout * 1e6), 0, on_watch_timeout, &wt);
        r = watch_list(&wt, true);
        while (r == 0 && !wt.done)
                if (sd_event_run(event, UINT64_MAX) < 0)
                        break;
        sd_bus_detach_event(c->bus);
        sd_event_unref(event);
        g_hash_table_unref(wt.seen);
        return r;
}

/* -o jsonpath=TEMPLATE over a document (one object or a List) */
static int print_jsonpath(const char *template, const char *doc) {
        g_autoptr(JsonNode) n = parse_json(doc);
        g_autoptr(GString) s = g_string_new(NULL);
        g_autoptr(GError) e = NULL;
        if (!n)
                return fail("%s", _("the daemon sent no JSON"));
        if (jsonpath_render(template, n, s, &e) < 0)
                return fail("%s", e->message);
        fputs(s->str, stdout);
        return 0;
}

static int verb_get(Ctl *c, int argc, char **argv) {
        g_autofree char *doc = NULL;
        const char *out = c->output;
        bool yaml = streq_ptr(out, "yaml");
        const char *jsonpath = out && g_str_has_prefix(out, "jsonpath=") ? out + strlen("jsonpath=") : NULL;
        int r;

        if (argc < 2)
                return fail(_("usage: edgevirtctl get KIND [NAME] [-n NAMESPACE | -A] [-o json|yaml|name|wide|jsonpath=T] [-l SELECTOR]"));
        if (out && !streq(out, "json") && !streq(out, "yaml") && !streq(out, "name") && !streq(out, "wide") && !jsonpath)
                return fail(_("unknown output format \"%s\" (json, yaml, name, wide, jsonpath=TEMPLATE)"), out);
        if (jsonpath) {
                r = argc >= 3 ? ctl_call_document(c, "Get", argv[1], c->namespace, argv[2], "json", NULL, &doc)
                              : ctl_call_document(c, "List", argv[1], ns_of(c), NULL, "json", c->selector, &doc);
                return r ? r : print_jsonpath(jsonpath, doc);
        }
        if (argc >= 3) {
                for (int i = 2; i < argc; i++) {
                        r = ctl_call_document(c, "Get", argv[1], c->namespace, argv[i], yaml ? "yaml" : "json", NULL,
                                              &doc);
                        if (r)
                                return r;
                        if (!out || streq(out, "wide")) {
                                g_autoptr(JsonNode) n = parse_json(doc);
                                g_autoptr(JsonArray) a = json_array_new();
                                json_array_add_element(a, json_node_ref(n));
                                print_table(a, false);
                        } else if (streq(out, "name")) {
                                g_autoptr(JsonNode) n = parse_json(doc);
                                g_autofree char *k = g_ascii_strdown(json_get_string(json_node_get_object(n), "kind"), -1);
                                printf("%s/%s\n", k, argv[i]);
                        } else
                                fputs(doc, stdout), fputs(yaml ? "" : "\n", stdout);
                        g_clear_pointer(&doc, g_free);
                }
                return 0;
        }
        wide_output = streq_ptr(out, "wide");
        if (strchr(argv[1], ',') && argc == 2 && (!out || streq(out, "wide") || streq(out, "name"))) {
                /* get secrets,cm: one table per kind, as kubectl prints them */
                g_auto(GStrv) kinds = g_strsplit(argv[1], ",", -1);
                int failed = 0;
                for (char **k = kinds; *k; k++) {
                        char *sub[] = { argv[0], *k, NULL };
                        if (k != kinds && !streq_ptr(out, "name"))
                                putchar('\n');
                        failed |= verb_get(c, 2, sub);
                }
                return failed;
        }
        if (c->watch)
                return watch_get(c, argv[1]);
        r = ctl_call_document(c, "List", argv[1], ns_of(c), NULL, yaml ? "yaml" : "json", c->selector, &doc);
        if (r)
                return r;
        if (out && (streq(out, "json") || yaml)) {
                fputs(doc, stdout);
                if (!yaml)
                        fputc('\n', stdout);
                return 0;
        }
        g_autoptr(JsonNode) list = parse_json(doc);
        JsonArray *items = json_get_array(json_node_get_object(list), "items");
        if (streq_ptr(out, "name")) {
                for (guint i = 0; i < json_array_get_length(items); i++) {
                        JsonObject *it = json_array_get_object_element(items, i);
                        g_autofree char *k = g_ascii_strdown(json_get_string(it, "kind"), -1);
                        printf("%s/%s\n", k, str(it, "metadata.name"));
                }
                return 0;
        }
        if (json_array_get_length(items) == 0) {
                if (c->all_namespaces)
                        fprintf(stderr, _("No resources found\n"));
                else
                        fprintf(stderr, _("No resources found in %s namespace.\n"), c->namespace);
                return 0;
        }
        print_table(items, c->all_namespaces);
        return 0;
}

static int verb_describe(Ctl *c, int argc, char **argv) {
        g_autofree char *doc = NULL;
        if (argc != 3)
                return fail(_("usage: edgevirtctl describe KIND NAME"));
        int r = ctl_call_document(c, "Get", argv[1], c->namespace, argv[2], "yaml", NULL, &doc);
        if (r == 0)
                fputs(doc, stdout);
        return r;
}

/* The files of -f: a file, "-" (stdin), or the .yaml, .yml and .json files
 * of a directory, in name order. */
static gint compare_names(gconstpointer a, gconstpointer b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int read_inputs(Ctl *c, GPtrArray *texts, GPtrArray *names) {
        for (char **f = c->files; f && *f; f++) {
                g_autoptr(GError) e = NULL;
                char *text = NULL;
                if (streq(*f, "-")) {
                        g_autoptr(GString) s = g_string_new(NULL);
                        char buf[65536];
                        size_t n;
                        while ((n = fread(buf, 1, sizeof buf, stdin)) > 0)
                                g_string_append_len(s, buf, (gssize) n);
                        g_ptr_array_add(texts, g_string_free(g_steal_pointer(&s), FALSE));
                        g_ptr_array_add(names, g_strdup("<stdin>"));
                        continue;
                }
                if (g_file_test(*f, G_FILE_TEST_IS_DIR)) {
                        g_autoptr(GDir) d = g_dir_open(*f, 0, &e);
                        g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func(g_free);
                        const char *name;
                        if (!d)
                                return fail("%s", e->message);
                        while ((name = g_dir_read_name(d)))
                                if (g_str_has_suffix(name, ".yaml") || g_str_has_suffix(name, ".yml") || g_str_has_suffix(name, ".json"))
                                        g_ptr_array_add(entries, g_build_filename(*f, name, NULL));
                        g_ptr_array_sort(entries, compare_names);
                        /* a directory is one manifest set: one Apply, one
                         * transaction, namespaces first */
                        g_autoptr(GString) all = g_string_new(NULL);
                        for (guint i = 0; i < entries->len; i++) {
                                if (!g_file_get_contents(entries->pdata[i], &text, NULL, &e))
                                        return fail("%s", e->message);
                                g_string_append_printf(all, "%s---\n", text);
                                g_free(text);
                        }
                        g_ptr_array_add(texts, g_string_free(g_steal_pointer(&all), FALSE));
                        g_ptr_array_add(names, g_strdup(*f));
                        continue;
                }
                if (!g_file_get_contents(*f, &text, NULL, &e))
                        return fail("%s", e->message);
                g_ptr_array_add(texts, text);
                g_ptr_array_add(names, g_strdup(*f));
        }
        if (texts->len == 0)
                return fail(_("no input: give -f FILE, -f DIRECTORY or -f -"));
        return 0;
}

/* An object path as kind/name: .../<segment>/<encoded name> */
static char *describe_path(const char *path) {
        const char *slash = strrchr(path, '/');
        g_autofree char *prefix = slash ? g_strndup(path, slash - path) : NULL;
        const char *segment = prefix && strrchr(prefix, '/') ? strrchr(prefix, '/') + 1 : "";
        char *name = NULL;

        if (!prefix || sd_bus_path_decode(path, prefix, &name) <= 0)
                return g_strdup(path);
        char *r = g_strdup_printf("%s/%s", segment, name);
        free(name);
        return r;
}

static int verb_apply(Ctl *c, int argc, char **argv) {
        g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func(g_free), names = g_ptr_array_new_with_free_func(g_free);
        int r = read_inputs(c, texts, names), failed = 0;
        if (r)
                return r;
        for (guint i = 0; i < texts->len; i++) {
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                const char *path;
                r = sd_bus_call_method(c->bus, NAME, ROOT, MANAGER, "Apply", &e, &reply, "sa{sv}", texts->pdata[i], 1,
                                       c->namespace_given ? "namespace" : "default-namespace", "s", c->namespace);
                if (r < 0) {
                        fprintf(stderr, _("error: %s: %s\n"), (char *) names->pdata[i], e.message ? e.message : g_strerror(-r));
                        failed = 1;
                        continue;
                }
                r = sd_bus_message_enter_container(reply, 'a', "o");
                while (r >= 0 && sd_bus_message_read(reply, "o", &path) > 0) {
                        g_autofree char *what = describe_path(path);
                        printf(_("%s applied\n"), what);
                }
        }
        return failed;
}

static int delete_one(Ctl *c, const char *kind, const char *ns, const char *name) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = sd_bus_call_method(c->bus, NAME, ROOT, MANAGER, "Delete", &e, NULL, "sssa{sv}", kind, ns, name, 0);
        if (r < 0)
                return bus_fail(&e, r);
        g_autofree char *k = g_ascii_strdown(kind, -1);
        printf(_("%s \"%s\" deleted\n"), k, name);
        return 0;
}

static int verb_delete(Ctl *c, int argc, char **argv) {
        int failed = 0;
        if (c->files) {
                g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func(g_free), names = g_ptr_array_new_with_free_func(g_free);
                int r = read_inputs(c, texts, names);
                if (r)
                        return r;
                for (guint i = 0; i < texts->len; i++) {
                        g_autoptr(GPtrArray) docs = NULL;
                        g_autoptr(GError) e = NULL;
                        const char *t = texts->pdata[i];
                        if (manifest_parse(t, strlen(t), &docs, &e) < 0)
                                return fail("%s: %s", (char *) names->pdata[i], e->message);
                        for (guint d = 0; d < docs->len; d++) {
                                JsonObject *o = JSON_NODE_HOLDS_OBJECT((JsonNode *) docs->pdata[d]) ?
                                        json_node_get_object(docs->pdata[d]) : NULL;
                                const char *ns = str(o, "metadata.namespace");
                                if (!o || !json_get_string(o, "kind") || !str(o, "metadata.name"))
                                        continue;
                                failed |= delete_one(c, json_get_string(o, "kind"), ns ? ns : c->namespace, str(o, "metadata.name"));
                        }
                }
                return failed;
        }
        if (argc < 3)
                return fail(_("usage: edgevirtctl delete KIND NAME... | delete -f FILE"));
        for (int i = 2; i < argc; i++)
                failed |= delete_one(c, argv[1], c->namespace, argv[i]);
        return failed;
}

static int create_namespace(Ctl *c, const char *name) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(c->bus, &m, NAME, ROOT, MANAGER, "CreateNamespace");
        if (r >= 0)
                r = sd_bus_message_append(m, "s", name);
        if (r >= 0)
                r = sd_bus_message_open_container(m, 'a', "{sv}");
        if (r >= 0 && c->display_name)
                r = sd_bus_message_append(m, "{sv}", "display-name", "s", c->display_name);
        if (r >= 0 && c->description)
                r = sd_bus_message_append(m, "{sv}", "description", "s", c->description);
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        if (r < 0)
                return bus_fail(NULL, r);
        r = sd_bus_call(c->bus, m, 0, &e, NULL);
        if (r < 0)
                return bus_fail(&e, r);
        return 0;
}

/* oc new-project: create, and make it the current namespace. */
static int verb_new_project(Ctl *c, int argc, char **argv) {
        if (argc != 2)
                return fail(_("usage: edgevirtctl new-project NAME [--display-name=TEXT] [--description=TEXT]"));
        int r = create_namespace(c, argv[1]);
        if (r)
                return r;
        printf(_("Now using project \"%s\".\n"), argv[1]);
        return set_current_project(argv[1]);
}

static int verb_project(Ctl *c, int argc, char **argv) {
        g_autofree char *doc = NULL;
        if (argc == 1) {
                g_autofree char *cur = current_project();
                printf(_("Using project \"%s\".\n"), cur);
                return 0;
        }
        int r = ctl_call_document(c, "Get", "namespace", "", argv[1], NULL, NULL, &doc);
        if (r)
                return r;
        printf(_("Now using project \"%s\".\n"), argv[1]);
        return set_current_project(argv[1]);
}

/* --- following an object: wait, image-upload --- */

typedef struct Watch {
        Ctl *c;
        sd_event *event;
        const char *kind, *name;
        bool (*done)(struct Watch *w, JsonObject *obj, bool gone);
        const char *condition;
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
        int r = sd_bus_call_method(w->c->bus, NAME, ROOT, MANAGER, "Get", &e, &reply, "sssa{sv}", w->kind, w->c->namespace, w->name, 0);
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
                r = sd_bus_match_signal(w->c->bus, &changed, NAME, NULL, "org.freedesktop.DBus.Properties", "PropertiesChanged", on_signal, w);
        if (r >= 0)
                r = sd_bus_match_signal(w->c->bus, &removed, NAME, ROOT, "org.freedesktop.DBus.ObjectManager", "InterfacesRemoved", on_signal, w);
        if (r < 0)
                return bus_fail(NULL, r);
        if (w->c->timeout > 0)
                sd_event_add_time_relative(w->event, &timer, CLOCK_MONOTONIC, (uint64_t) (w->c->timeout * 1e6), 0, on_timeout, w);
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
                g_autofree char *expr = close ? g_strndup(w->condition + strlen("jsonpath={"), close - w->condition - strlen("jsonpath={"))
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

static int verb_wait(Ctl *c, int argc, char **argv) {
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
                line = g_strdup_printf("\r[%.*s%*s] %6.2f%%  %.1f MiB/s  ETA %.0fs ", bar, "##############################",
                                       30 - bar, "", pct, rate / 1048576.0, eta);
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
        if (streq_ptr(phase, "Failed") || (streq_ptr(phase, "UploadReady") && json_get_int(status, "restartCount", 0) > 0 &&
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

/* The bus path of a namespaced object: ROOT/namespace/<ns>/<segment>/<name>. */
char *ctl_object_path(const char *namespace, const char *segment, const char *name) {
        g_autofree char *prefix = NULL;
        char *ns_path = NULL, *path = NULL;
        if (sd_bus_path_encode(ROOT "/namespace", namespace, &ns_path) < 0)
                return NULL;
        prefix = g_strdup_printf("%s/%s", ns_path, segment);
        free(ns_path);
        if (sd_bus_path_encode(prefix, name, &path) < 0)
                return NULL;
        return path;
}

static int verb_image_upload(Ctl *c, int argc, char **argv) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        g_autofree char *doc = NULL, *path = NULL;
        struct stat st;
        int fd, r;

        if (argc != 3 || !streq(argv[1], "dv") || !c->image_path)
                return fail(_("usage: edgevirtctl image-upload dv NAME --image-path=FILE [--size=SIZE] [--storage-class=CLASS] [--no-create]"));
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
                g_autofree char *sc = c->storage_class ? g_strdup_printf(", storageClassName: %s", c->storage_class) : g_strdup("");
                g_autofree char *dv = g_strdup_printf("apiVersion: cdi.kubevirt.io/v1beta1\nkind: DataVolume\n"
                                                      "metadata: {name: %s, namespace: %s}\n"
                                                      "spec: {source: {upload: {}}, storage: {resources: {requests: {storage: '%s'}}%s}}\n",
                                                      name, c->namespace, c->size, sc);
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
        r = sd_bus_call_method(c->bus, NAME, path, "org.edgevirt.EdgeVirt1.DataVolume", "Upload", &e, NULL, "ha{sv}", fd, 0);
        close(fd);
        if (r < 0)
                return bus_fail(&e, r);
        Watch w = { .c = c, .kind = "datavolume", .name = name, .done = upload_done, .condition = "sent",
                    .tty = isatty(STDERR_FILENO), .started = (double) g_get_monotonic_time() / 1e6, .total = (uint64_t) st.st_size };
        r = follow(&w);
        g_free(w.last_line);
        if (r == 0)
                printf(_("Uploading %s to %s/%s completed successfully\n"), c->image_path, c->namespace, name);
        return r;
}

/* --- create --- */

/* create namespace NAME | create configmap NAME | create secret generic NAME
 * with --from-literal=KEY=VALUE and --from-file=[KEY=]PATH, as kubectl. */
static int verb_create(Ctl *c, int argc, char **argv) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        g_autoptr(JsonObject) doc = json_object_new(), data = json_object_new();
        JsonObject *meta = json_object_new();
        const char *kind, *name;
        bool secret;
        int r;

        if (argc == 3 && (streq(argv[1], "namespace") || streq(argv[1], "ns"))) {
                /* kubectl create namespace: the current namespace stays */
                r = create_namespace(c, argv[2]);
                if (r == 0)
                        printf(_("namespace/%s created\n"), argv[2]);
                return r;
        }
        if (argc == 3 && (streq(argv[1], "configmap") || streq(argv[1], "cm")))
                kind = "ConfigMap", name = argv[2], secret = false;
        else if (argc == 4 && streq(argv[1], "secret") && streq(argv[2], "generic"))
                kind = "Secret", name = argv[3], secret = true;
        else
                return fail(_("usage: edgevirtctl create namespace NAME | create configmap NAME | create secret generic NAME\n"
                              "       [--from-literal=KEY=VALUE]... [--from-file=[KEY=]PATH]... [--type=TYPE]"));

        for (guint i = 0; c->literals && i < c->literals->len; i++) {
                const char *lit = c->literals->pdata[i], *eq = strchr(lit, '=');
                if (!eq || eq == lit)
                        return fail(_("--from-literal=%s: expected KEY=VALUE"), lit);
                g_autofree char *key = g_strndup(lit, eq - lit);
                if (json_object_has_member(data, key))
                        return fail(_("key \"%s\" given twice"), key);
                if (secret) {
                        g_autofree char *b64 = g_base64_encode((const guchar *) eq + 1, strlen(eq + 1));
                        json_object_set_string_member(data, key, b64);
                } else
                        json_object_set_string_member(data, key, eq + 1);
        }
        for (guint i = 0; c->from_files && i < c->from_files->len; i++) {
                const char *spec = c->from_files->pdata[i], *eq = strchr(spec, '=');
                const char *path = eq ? eq + 1 : spec;
                g_autofree char *key = eq ? g_strndup(spec, eq - spec) : g_path_get_basename(spec);
                g_autofree char *content = NULL;
                gsize len;
                g_autoptr(GError) ge = NULL;
                if (!g_file_get_contents(path, &content, &len, &ge))
                        return fail("--from-file: %s", ge->message);
                if (json_object_has_member(data, key))
                        return fail(_("key \"%s\" given twice"), key);
                if (secret || !g_utf8_validate(content, (gssize) len, NULL) || memchr(content, 0, len)) {
                        g_autofree char *b64 = g_base64_encode((const guchar *) content, len);
                        /* ConfigMaps keep bytes that are not text in binaryData */
                        json_object_set_string_member(secret ? data : json_ensure_object(doc, "binaryData"), key, b64);
                } else
                        json_object_set_string_member(data, key, content);
        }
        json_object_set_string_member(doc, "apiVersion", "v1");
        json_object_set_string_member(doc, "kind", kind);
        json_object_set_string_member(meta, "name", name);
        json_object_set_string_member(meta, "namespace", c->namespace);
        json_object_set_object_member(doc, "metadata", meta);
        if (secret)
                json_object_set_string_member(doc, "type", c->secret_type ? c->secret_type : "Opaque");
        if (json_object_get_size(data))
                json_object_set_object_member(doc, "data", json_object_ref(data));

        /* create, not apply: an existing object is an error, as in kubectl */
        g_autofree char *existing = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error ge = SD_BUS_ERROR_NULL;
        r = sd_bus_call_method(c->bus, NAME, ROOT, MANAGER, "Get", &ge, NULL, "sssa{sv}", kind, c->namespace, name, 0);
        if (r >= 0)
                return fail(_("%s \"%s\" already exists"), kind, name);
        g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), doc);
        g_autofree char *text = manifest_to_json(node, FALSE);
        r = sd_bus_call_method(c->bus, NAME, ROOT, MANAGER, "Apply", &e, &reply, "sa{sv}", text, 0);
        if (r < 0)
                return bus_fail(&e, r);
        g_autofree char *lower = g_ascii_strdown(kind, -1);
        printf(_("%s/%s created\n"), lower, name);
        return 0;
}

/* --- export --- */

static void remove_members(JsonObject *o, const char *const *members) {
        for (const char *const *m = members; o && *m; m++)
                json_object_remove_member(o, *m);
}

static bool owned_by_kind(JsonObject *item, const char *kind) {
        JsonArray *owners = json_get_array(json_get_object(item, "metadata"), "ownerReferences");
        for (guint i = 0; owners && i < json_array_get_length(owners); i++)
                if (streq_ptr(json_get_string(json_array_get_object_element(owners, i), "kind"), kind))
                        return true;
        return false;
}

/* What a cluster would set itself goes: status, server-set metadata, the
 * finalizers and defaults edgevirt adds, claims a DataVolume makes, a VM's
 * instance and DataVolumes. */
static JsonNode *clean_for_export(JsonObject *item) {
        static const char *const server_meta[] = { "uid", "resourceVersion", "generation", "creationTimestamp",
                                                   "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields",
                                                   "selfLink", "ownerReferences", NULL };
        static const char *const system_finalizers[] = { "kubernetes.io/pvc-protection", NULL };
        JsonNode *n = json_deep_copy(json_node_init_object(json_node_alloc(), item));
        JsonObject *o = json_node_get_object(n), *meta = json_get_object(o, "metadata");
        const char *kind = json_get_string(o, "kind");
        JsonObject *ann = json_get_object(meta, "annotations");

        json_object_remove_member(o, "status");
        remove_members(meta, server_meta);
        JsonArray *f = json_get_array(meta, "finalizers");
        for (const char *const *sf = system_finalizers; f && *sf; sf++)
                json_array_remove_string(f, *sf);
        if (f && json_array_get_length(f) == 0)
                json_object_remove_member(meta, "finalizers");
        if (ann) {
                static const char *const reports[] = { "cdi.kubevirt.io/storage.pod.phase", "cdi.kubevirt.io/storage.pod.restarts",
                                                       "cdi.kubevirt.io/storage.condition.running.reason",
                                                       "cdi.kubevirt.io/storage.condition.running.message", NULL };
                remove_members(ann, reports);
                if (json_object_get_size(ann) == 0)
                        json_object_remove_member(meta, "annotations");
        }
        if (streq_ptr(kind, "PersistentVolumeClaim"))
                remove_members(json_get_object(o, "spec"), (const char *const[]) { "volumeName", NULL });
        if (streq_ptr(kind, "Namespace"))
                json_object_remove_member(o, "spec");   /* the "kubernetes" finalizer only */
        return n;
}

static int verb_export(Ctl *c, int argc, char **argv) {
        static const char *const kinds[] = { "rolebindings", "configmaps", "secrets", "persistentvolumeclaims", "datavolumes",
                                             "virtualmachineinstancetypes", "virtualmachinepreferences", "virtualmachines",
                                             "virtualmachineinstances", NULL };
        g_autofree char *ns_doc = NULL;
        bool yaml = !c->output || streq(c->output, "yaml");
        int r;

        /* -o json: a v1 List, which kubectl apply takes as well */
        if (argc != 1 || (c->output && !streq(c->output, "yaml") && !streq(c->output, "json")))
                return fail(_("usage: edgevirtctl export [-n NAMESPACE] [-o yaml|json]"));
        r = ctl_call_document(c, "Get", "namespace", "", c->namespace, "json", NULL, &ns_doc);
        if (r)
                return r;
        /* the default class's name means nothing on a cluster: its own
         * default applies where edgevirt's was filled in */
        g_autofree char *sc_doc = NULL, *default_class = NULL;
        if (ctl_call_document(c, "List", "storageclasses", "", NULL, "json", NULL, &sc_doc) == 0) {
                g_autoptr(JsonNode) scs = parse_json(sc_doc);
                JsonArray *items = json_get_array(json_node_get_object(scs), "items");
                for (guint i = 0; items && i < json_array_get_length(items); i++) {
                        JsonObject *sc = json_array_get_object_element(items, i);
                        JsonObject *ann = json_get_object(json_get_object(sc, "metadata"), "annotations");
                        if (streq_ptr(json_get_string(ann, "storageclass.kubernetes.io/is-default-class"), "true"))
                                default_class = g_strdup(str(sc, "metadata.name"));
                }
        }
        g_autoptr(JsonArray) out = json_array_new();
        g_autoptr(JsonNode) ns = parse_json(ns_doc);
        json_array_add_element(out, clean_for_export(json_node_get_object(ns)));
        for (const char *const *k = kinds; *k; k++) {
                g_autofree char *doc = NULL;
                r = ctl_call_document(c, "List", *k, c->namespace, NULL, "json", NULL, &doc);
                if (r)
                        return r;
                g_autoptr(JsonNode) list = parse_json(doc);
                JsonArray *items = json_get_array(json_node_get_object(list), "items");
                for (guint i = 0; i < json_array_get_length(items); i++) {
                        JsonObject *item = json_array_get_object_element(items, i);
                        /* made again by their owners: a DataVolume's claim, a
                         * VM's instance and the DataVolumes of its templates */
                        if (owned_by_kind(item, "DataVolume") || owned_by_kind(item, "VirtualMachine"))
                                continue;
                        JsonNode *clean = clean_for_export(item);
                        JsonObject *o = json_node_get_object(clean);
                        JsonObject *spec = json_get_object(o, "spec");
                        JsonObject *claim = json_get_object(spec, "storage") ? json_get_object(spec, "storage") :
                                            json_get_object(spec, "pvc") ? json_get_object(spec, "pvc") : spec;
                        if (default_class && streq_ptr(json_get_string(claim, "storageClassName"), default_class))
                                json_object_remove_member(claim, "storageClassName");
                        json_array_add_element(out, clean);
                }
        }
        if (!yaml) {
                g_autoptr(JsonObject) list = json_object_new();
                json_object_set_string_member(list, "apiVersion", "v1");
                json_object_set_string_member(list, "kind", "List");
                json_object_set_array_member(list, "items", json_array_ref(out));
                g_autoptr(JsonNode) n = json_node_init_object(json_node_alloc(), list);
                g_autofree char *text = manifest_to_json(n, TRUE);
                printf("%s\n", text);
                return 0;
        }
        for (guint i = 0; i < json_array_get_length(out); i++) {
                JsonNode *n = json_array_get_element(out, i);
                g_autofree char *text = yaml ? manifest_to_yaml(n) : manifest_to_json(n, TRUE);
                if (yaml)
                        printf("%s%s", i ? "---\n" : "", text);
                else
                        printf("%s\n", text);
        }
        return 0;
}

static double parse_duration(const char *s) {
        char *end;
        double v = g_ascii_strtod(s, &end);
        if (streq(end, "m"))
                v *= 60;
        else if (streq(end, "h"))
                v *= 3600;
        else if (*end && !streq(end, "s"))
                return -1;
        return v;
}

static void help(void) {
        printf(_("edgevirtctl: KubeVirt and CDI objects on one node (edgevirtd)\n\n"
                 "  new-project NAME [--display-name=T] [--description=T]   create a namespace and use it\n"
                 "  project [NAME]                                         show or choose the current namespace\n"
                 "  get KIND [NAME...] [-o json|yaml|name|wide|jsonpath=T] [-l SEL] [-A] [-w [--timeout=D]]\n"
                 "  describe KIND NAME\n"
                 "  apply -f FILE|DIR|-  (repeatable)\n"
                 "  create namespace NAME | configmap NAME | secret generic NAME\n"
                 "         [--from-literal=KEY=VALUE]... [--from-file=[KEY=]PATH]... [--type=TYPE]\n"
                 "  delete KIND NAME... | delete -f FILE|DIR|-\n"
                 "  wait KIND/NAME --for=condition=TYPE|--for=jsonpath={.status.phase}=Bound|--for=delete [--timeout=5m]\n"
                 "  image-upload dv NAME --image-path=FILE [--size=SIZE] [--storage-class=C] [--no-create]\n"
                 "  export [-n NAMESPACE] [-o yaml|json]                  the namespace as manifests for a cluster\n"
                 "  start VM | stop VM [--grace-period=S] [--force] | restart VM [--grace-period=S] [--force]\n"
                 "  pause vm|vmi NAME | unpause vm|vmi NAME | soft-reboot VM\n"
                 "  console VM                                             serial console (escape: ^])\n"
                 "  guestosinfo VM | userlist VM | fslist VM               the guest agent's facts (JSON)\n"
                 "  vnc VM [--port=PORT] [--proxy-only]                    VNC on a local port (starts a viewer)\n"
                 "  images [-o json] | pull IMAGE | rmi IMAGE|DIGEST...    the containerDisk image cache\n"
                 "  credentials add-ssh-key|remove-ssh-key --user=U --file=F|--value=KEY VM\n"
                 "  credentials set-password --user=U --password=P VM      keys and passwords through the guest agent\n"
                 "         [--secret=NAME] [--force] [--create-secret|--update-secret]\n\n"
                 "Options: -n NAMESPACE, -A (all namespaces), --bus=system|session|ADDRESS\n"
                 "         (default: $EDGEVIRT_BUS, else the system bus),\n"
                 "         --chunk-size=N (get: N objects a call, default 500; 0: all at once)\n"));
}

int main(int argc, char *argv[]) {
        enum { ARG_BUS = 0x100, ARG_FOR, ARG_TIMEOUT, ARG_IMAGE, ARG_SIZE, ARG_SC, ARG_NOCREATE, ARG_DISPLAY, ARG_DESC,
               ARG_LITERAL, ARG_FROM_FILE, ARG_TYPE, ARG_GRACE, ARG_FORCE, ARG_PORT, ARG_PROXY, ARG_USER, ARG_KEY_FILE, ARG_KEY_VALUE,
               ARG_SECRET, ARG_PASSWORD, ARG_CREATE_SECRET, ARG_UPDATE_SECRET, ARG_CHUNK };
        static const struct option options[] = {
                { "namespace", required_argument, NULL, 'n' }, { "all-namespaces", no_argument, NULL, 'A' },
                { "output", required_argument, NULL, 'o' }, { "selector", required_argument, NULL, 'l' },
                { "filename", required_argument, NULL, 'f' }, { "bus", required_argument, NULL, ARG_BUS },
                { "for", required_argument, NULL, ARG_FOR }, { "timeout", required_argument, NULL, ARG_TIMEOUT },
                { "image-path", required_argument, NULL, ARG_IMAGE }, { "size", required_argument, NULL, ARG_SIZE },
                { "storage-class", required_argument, NULL, ARG_SC }, { "no-create", no_argument, NULL, ARG_NOCREATE },
                { "display-name", required_argument, NULL, ARG_DISPLAY }, { "description", required_argument, NULL, ARG_DESC },
                { "from-literal", required_argument, NULL, ARG_LITERAL }, { "from-file", required_argument, NULL, ARG_FROM_FILE },
                { "type", required_argument, NULL, ARG_TYPE },
                { "grace-period", required_argument, NULL, ARG_GRACE }, { "force", no_argument, NULL, ARG_FORCE },
                { "port", required_argument, NULL, ARG_PORT }, { "proxy-only", no_argument, NULL, ARG_PROXY },
                { "user", required_argument, NULL, ARG_USER }, { "file", required_argument, NULL, ARG_KEY_FILE },
                { "value", required_argument, NULL, ARG_KEY_VALUE }, { "secret", required_argument, NULL, ARG_SECRET },
                { "password", required_argument, NULL, ARG_PASSWORD }, { "create-secret", no_argument, NULL, ARG_CREATE_SECRET },
                { "update-secret", no_argument, NULL, ARG_UPDATE_SECRET },
                { "chunk-size", required_argument, NULL, ARG_CHUNK },
                { "watch", no_argument, NULL, 'w' }, { "help", no_argument, NULL, 'h' }, {}
        };
        static const struct {
                const char *name;
                int (*run)(Ctl *c, int argc, char **argv);
        } verbs[] = {
                { "get", verb_get }, { "describe", verb_describe }, { "apply", verb_apply }, { "delete", verb_delete },
                { "new-project", verb_new_project }, { "project", verb_project }, { "wait", verb_wait },
                { "image-upload", verb_image_upload }, { "export", verb_export }, { "create", verb_create },
                { "start", verb_lifecycle }, { "stop", verb_lifecycle }, { "restart", verb_lifecycle },
                { "soft-reboot", verb_lifecycle }, { "pause", verb_lifecycle }, { "unpause", verb_lifecycle },
                { "console", verb_console }, { "guestosinfo", verb_guest }, { "userlist", verb_guest },
                { "fslist", verb_guest }, { "vnc", verb_vnc }, { "images", verb_images }, { "pull", verb_pull },
                { "rmi", verb_rmi }, { "credentials", verb_credentials },
        };
        Ctl c = { .timeout = 0, .grace_period = -1, .chunk_size = 500 };
        g_autoptr(GPtrArray) literals = g_ptr_array_new(), from_files = g_ptr_array_new();
        g_autoptr(GPtrArray) files = g_ptr_array_new();
        int opt;

        setlocale(LC_ALL, "");
        /* EDGEVIRT_LOCALEDIR: the build tree's catalogs (tests) */
        bindtextdomain(GETTEXT_PACKAGE, getenv("EDGEVIRT_LOCALEDIR") ?: LOCALEDIR);
        textdomain(GETTEXT_PACKAGE);
        while ((opt = getopt_long(argc, argv, "n:Ao:l:f:wh", options, NULL)) >= 0)
                switch (opt) {
                case 'n': c.namespace = optarg; c.namespace_given = true; break;
                case 'A': c.all_namespaces = true; break;
                case 'o': c.output = optarg; break;
                case 'l': c.selector = optarg; break;
                case 'w': c.watch = true; break;
                case 'f': g_ptr_array_add(files, optarg); break;
                case ARG_BUS: c.bus_spec = optarg; break;
                case ARG_FOR: c.for_condition = optarg; break;
                case ARG_TIMEOUT:
                        c.timeout = parse_duration(optarg);
                        if (c.timeout < 0)
                                return fail(_("--timeout: \"%s\" is not a duration (30s, 5m, 1h)"), optarg);
                        break;
                case ARG_IMAGE: c.image_path = optarg; break;
                case ARG_SIZE: c.size = optarg; break;
                case ARG_SC: c.storage_class = optarg; break;
                case ARG_NOCREATE: c.no_create = true; break;
                case ARG_DISPLAY: c.display_name = optarg; break;
                case ARG_DESC: c.description = optarg; break;
                case ARG_LITERAL: g_ptr_array_add(literals, optarg); break;
                case ARG_FROM_FILE: g_ptr_array_add(from_files, optarg); break;
                case ARG_TYPE: c.secret_type = optarg; break;
                case ARG_FORCE: c.force = true; break;
                case ARG_PROXY: c.proxy_only = true; break;
                case ARG_USER: c.cred_user = optarg; break;
                case ARG_KEY_FILE: c.key_file = optarg; break;
                case ARG_KEY_VALUE: c.key_value = optarg; break;
                case ARG_SECRET: c.secret_name = optarg; break;
                case ARG_PASSWORD: c.password = optarg; break;
                case ARG_CREATE_SECRET: c.create_secret = true; break;
                case ARG_UPDATE_SECRET: c.update_secret = true; break;
                case ARG_PORT: {
                        char *end;
                        long port = strtol(optarg, &end, 10);
                        if (*end || port < 0 || port > 65535)
                                return fail(_("--port: \"%s\" is not a port number"), optarg);
                        c.port = (int) port;
                        break;
                }
                case ARG_CHUNK: {
                        char *end;
                        c.chunk_size = strtoll(optarg, &end, 10);
                        if (*end || !*optarg || c.chunk_size < 0)
                                return fail(_("--chunk-size: \"%s\" is not a number of objects (0: all at once)"),
                                            optarg);
                        break;
                }
                case ARG_GRACE: {
                        char *end;
                        c.grace_period = strtoll(optarg, &end, 10);
                        if (*end || c.grace_period < 0)
                                return fail(_("--grace-period: \"%s\" is not a number of seconds"), optarg);
                        break;
                }
                case 'h': help(); return 0;
                default: return 1;
                }
        if (files->len) {
                g_ptr_array_add(files, NULL);
                c.files = (char **) files->pdata;
        }
        c.literals = literals;
        c.from_files = from_files;
        if (optind >= argc) {
                help();
                return 1;
        }
        g_autofree char *project = c.namespace ? NULL : current_project();
        if (!c.namespace)
                c.namespace = project;
        for (size_t i = 0; i < G_N_ELEMENTS(verbs); i++)
                if (streq(argv[optind], verbs[i].name)) {
                        if (connect_bus(&c))
                                return 1;
                        int r = verbs[i].run(&c, argc - optind, argv + optind);
                        sd_bus_flush_close_unref(c.bus);
                        return r ? 1 : 0;
                }
        return fail(_("unknown command \"%s\" (see --help)"), argv[optind]);
}
