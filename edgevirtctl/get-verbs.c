/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* edgevirtctl get (tables, -o json|yaml|name|wide|jsonpath=, -w) and
 * describe: reading objects. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <json-glib/json-glib.h>
#include <systemd/sd-event.h>

#include "ctl.h"
#include "json-util.h"
#include "jsonpath.h"
#include "util.h"

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
                g_autofree char *key = g_strdup_printf("%s/%s", str(it, "metadata.namespace") ?: "",
                                                       str(it, "metadata.name"));
                const char *rv = str(it, "metadata.resourceVersion");
                if (streq_ptr(g_hash_table_lookup(wt->seen, key), rv))
                        continue;
                g_hash_table_replace(wt->seen, g_steal_pointer(&key), g_strdup(rv));
                json_array_add_element(changed, json_node_ref(json_array_get_element(items, i)));
        }
        if (json_array_get_length(changed) > 0)
                print_table_rows(changed, wt->c->all_namespaces, header, streq_ptr(wt->c->output, "wide"));
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
                r = sd_bus_match_signal(c->bus, &a, NAME, NULL, "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                        on_watch_signal, &wt);
        /* from every object manager: the root's, and each namespace's Events' */
        if (r >= 0)
                r = sd_bus_match_signal(c->bus, &b, NAME, NULL, "org.freedesktop.DBus.ObjectManager", "InterfacesAdded",
                                        on_watch_signal, &wt);
        if (r >= 0)
                r = sd_bus_match_signal(c->bus, &d, NAME, NULL, "org.freedesktop.DBus.ObjectManager",
                                        "InterfacesRemoved", on_watch_signal, &wt);
        if (r < 0)
                return bus_fail(NULL, r);
        sigemptyset(&mask);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGTERM);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        sd_event_add_signal(event, NULL, SIGINT, on_watch_stop, &wt);
        sd_event_add_signal(event, NULL, SIGTERM, on_watch_stop, &wt);
        if (c->timeout > 0)
                sd_event_add_time_relative(event, NULL, CLOCK_MONOTONIC, (uint64_t) (c->timeout * 1e6), 0,
                                           on_watch_timeout, &wt);
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

int verb_get(Ctl *c, int argc, char **argv) {
        g_autofree char *doc = NULL;
        const char *out = c->output;
        bool yaml = streq_ptr(out, "yaml");
        const char *jsonpath = out && g_str_has_prefix(out, "jsonpath=") ? out + strlen("jsonpath=") : NULL;
        int r;

        if (argc < 2)
                return fail(_("usage: edgevirtctl get KIND [NAME] [-n NAMESPACE | -A] "
                              "[-o json|yaml|name|wide|jsonpath=T] [-l SELECTOR]"));
        if (out && !streq(out, "json") && !streq(out, "yaml") && !streq(out, "name") &&
            !streq(out, "wide") && !jsonpath)
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
                                print_table_rows(a, false, true, streq_ptr(out, "wide"));
                        } else if (streq(out, "name")) {
                                g_autoptr(JsonNode) n = parse_json(doc);
                                const char *kind = json_get_string(json_node_get_object(n), "kind");
                                g_autofree char *k = g_ascii_strdown(kind, -1);
                                printf("%s/%s\n", k, argv[i]);
                        } else
                                fputs(doc, stdout), fputs(yaml ? "" : "\n", stdout);
                        g_clear_pointer(&doc, g_free);
                }
                return 0;
        }
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
        print_table_rows(items, c->all_namespaces, true, streq_ptr(out, "wide"));
        return 0;
}

/* describe's tail: the object's recent events, as YAML comments.  A
 * caller who may not read events sees none, not an error. */
static void print_events(Ctl *c, const char *ns, const char *uid) {
        g_autofree char *text = NULL;
        bool quiet = c->quiet_errors;

        c->quiet_errors = true;
        int r = uid ? ctl_call_document(c, "List", "event", ns, NULL, "json", NULL, &text) : -ENOENT;
        c->quiet_errors = quiet;
        if (r)
                return;
        g_autoptr(JsonNode) list = parse_json(text);
        JsonArray *items = list ? json_get_array(json_node_get_object(list), "items") : NULL;
        bool header = false;
        for (guint i = 0; items && i < json_array_get_length(items); i++) {
                JsonObject *e = json_array_get_object_element(items, i);
                if (!streq_ptr(json_get_string(json_get_object(e, "involvedObject"), "uid"), uid))
                        continue;
                if (!header)
                        printf(_("# Events:\n#   %-8s %-24s %-6s %-6s %s\n"), _("Type"), _("Reason"), _("Age"),
                               _("Count"), _("Message"));
                header = true;
                g_autofree char *when = age(json_get_string(e, "lastTimestamp"));
                printf("#   %-8s %-24s %-6s %-6" G_GINT64_FORMAT " %s\n", json_get_string(e, "type") ?: "",
                       json_get_string(e, "reason") ?: "", when, json_get_int(e, "count", 1),
                       json_get_string(e, "message") ?: "");
        }
}

int verb_describe(Ctl *c, int argc, char **argv) {
        g_autofree char *doc = NULL, *json = NULL;
        if (argc != 3)
                return fail(_("usage: edgevirtctl describe KIND NAME"));
        int r = ctl_call_document(c, "Get", argv[1], c->namespace, argv[2], "json", NULL, &json);
        if (r)
                return r;
        /* where it came from: a file of the host's manifests directories
         * (docs/fleet.md), as a comment so the output stays YAML */
        g_autoptr(JsonNode) n = parse_json(json);
        const char *file = n ? json_get_string(json_get_object(json_get_object(json_node_get_object(n), "metadata"),
                                                               "annotations"), "edgevirt.io/manifest-file") : NULL;
        if (file)
                printf(_("# Source: the manifests file %s of the host (edits there replace edits here)\n"), file);
        r = ctl_call_document(c, "Get", argv[1], c->namespace, argv[2], "yaml", NULL, &doc);
        if (r)
                return r;
        fputs(doc, stdout);
        JsonObject *meta = n ? json_get_object(json_node_get_object(n), "metadata") : NULL;
        print_events(c, json_get_string(meta, "namespace") ?: "default", json_get_string(meta, "uid"));
        return 0;
}
