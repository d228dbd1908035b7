/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* edgevirtctl apply, delete and create: writing objects, from manifests
 * (-f FILE|DIR|-) or from the command line. */
#include <stdio.h>
#include <string.h>
#include <json-glib/json-glib.h>

#include "ctl.h"
#include "json-util.h"
#include "manifest.h"
#include "util.h"

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
                                if (g_str_has_suffix(name, ".yaml") || g_str_has_suffix(name, ".yml") ||
                                    g_str_has_suffix(name, ".json"))
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

int verb_apply(Ctl *c, int argc, char **argv) {
        g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
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
                        fprintf(stderr, _("error: %s: %s\n"), (char *) names->pdata[i],
                                e.message ? e.message : g_strerror(-r));
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

int verb_delete(Ctl *c, int argc, char **argv) {
        int failed = 0;
        if (c->files) {
                g_autoptr(GPtrArray) texts = g_ptr_array_new_with_free_func(g_free);
                g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
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
                                failed |= delete_one(c, json_get_string(o, "kind"), ns ? ns : c->namespace,
                                                     str(o, "metadata.name"));
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

/* create namespace NAME | create configmap NAME | create secret generic NAME
 * with --from-literal=KEY=VALUE and --from-file=[KEY=]PATH, as kubectl. */
int verb_create(Ctl *c, int argc, char **argv) {
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
                return fail(_("usage: edgevirtctl create namespace NAME | create configmap NAME | "
                              "create secret generic NAME\n"
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
