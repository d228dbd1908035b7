/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.edgevirt.EdgeVirt1.Manager: the kubectl-like verbs. */
#include "config.h"

#include <fcntl.h>
#include <unistd.h>

#include "authz.h"
#include "bus-calls.h"
#include "bus-error.h"
#include "bus-util.h"
#include "bus.h"
#include "imagecache.h"
#include "imagecache-archive.h"
#include "json-util.h"
#include "listpage.h"
#include "log.h"
#include "manifest.h"
#include "object-path.h"
#include "references.h"
#include "util.h"
#include "validate.h"

/* Apply's reply: the objects' paths (names: ObjectName). */
static int reply_paths(sd_bus_message *m, GPtrArray *names) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r;

        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "o");
        if (r < 0)
                return r;
        for (guint i = 0; names && i < names->len; i++) {
                ObjectName *n = names->pdata[i];
                g_autofree char *path = object_path_make(n->kind, n->namespace, n->name);
                r = sd_bus_message_append(reply, "o", path);
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* Warnings go to the caller alone, before the reply, as a signal
 * (Kubernetes sends them as HTTP Warning headers). */
static int send_warnings(sd_bus_message *m, GPtrArray *warnings) {
        sd_bus *bus = sd_bus_message_get_bus(m);
        const char *sender = sd_bus_message_get_sender(m);

        for (guint i = 0; i < warnings->len; i++) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *sig = NULL;
                int r = sd_bus_message_new_signal(bus, &sig, BUS_MANAGER_PATH, BUS_MANAGER_INTERFACE, "Warning");
                if (r < 0)
                        return r;
                if (sender && (r = sd_bus_message_set_destination(sig, sender)) < 0)
                        return r;
                if ((r = sd_bus_message_append(sig, "s", warnings->pdata[i])) < 0)
                        return r;
                if ((r = sd_bus_send(bus, sig, NULL)) < 0)
                        return r;
        }
        return 0;
}

/* A Secret's data needs polkit's secret.read (1: go on; see authz.h). */
static int check_secret_read(Daemon *d, sd_bus_message *m, const KindInfo *kind, const char *namespace,
                             const char *name, sd_bus_error *error) {
        if (kind != &kind_secret)
                return 1;
        return authz_check(d->authz, m, "secret.read", namespace, kind->kind, name, error);
}

/* What an Apply would create or change (targets: ObjectName):
 * namespaces need namespace.manage, everything else object.apply in its
 * namespace (cluster-scoped kinds: no namespace); and what the documents
 * make the daemon read for the caller — a claim of another namespace to
 * clone, a Secret, a ConfigMap (references.h) — the right to read it
 * there.  1: all authorized. */
static int authorize_apply(Daemon *d, sd_bus_message *m, GPtrArray *targets, GPtrArray *references,
                           sd_bus_error *error) {
        g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        int r;

        for (guint i = 0; targets && i < targets->len; i++) {
                ObjectName *n = targets->pdata[i];
                const char *ns = n->namespace;
                if (n->kind == &kind_namespace)
                        ns = n->name;   /* its admins may change it */
                else if (!n->kind->namespaced)
                        continue;       /* cluster-scoped objects of the daemon's kinds: polkit alone */
                g_autofree char *key = g_strdup_printf("%s %s", n->kind->kind, ns);
                if (!g_hash_table_add(seen, g_steal_pointer(&key)))
                        continue;
                if (n->kind == &kind_namespace)
                        r = authz_check(d->authz, m, "namespace.manage", ns, n->kind->kind, n->name, error);
                else
                        r = authz_check(d->authz, m, "object.apply", ns, n->kind->kind, NULL, error);
                if (r <= 0)
                        return r;
        }
        for (guint i = 0; references && i < references->len; i++) {
                ObjectReference *ref = references->pdata[i];
                g_autofree char *key = g_strdup_printf("%s\n%s\n%s\n%s", ref->action, ref->kind, ref->namespace,
                                                       ref->name ?: "");
                if (!g_hash_table_add(seen, g_steal_pointer(&key)))
                        continue;
                r = authz_check(d->authz, m, ref->action, ref->namespace, ref->kind, ref->name, error);
                if (r < 0) {
                        _cleanup_(sd_bus_error_free) sd_bus_error denied = SD_BUS_ERROR_NULL;
                        sd_bus_error_move(&denied, error);
                        return sd_bus_error_setf(error, denied.name, "%s: %s", ref->field, denied.message);
                }
                if (r == 0)
                        return r;
        }
        return 1;
}

static int method_apply(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Daemon *d = userdata;
        g_autofree char *namespace = NULL, *default_namespace = NULL, *validation = NULL;
        bool dry_run = false;
        BusOption options[] = {
                { "namespace", BUS_OPTION_STRING, &namespace },
                { "default-namespace", BUS_OPTION_STRING, &default_namespace },
                { "dry-run", BUS_OPTION_BOOL, &dry_run },
                { "field-validation", BUS_OPTION_STRING, &validation },
        };
        g_autoptr(GPtrArray) names = NULL;
        g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GError) e = NULL;
        ApplyOptions opts = { .field_validation = FIELD_VALIDATION_STRICT };
        const char *document;
        int r;

        r = sd_bus_message_read(m, "s", &document);
        if (r < 0)
                return r;
        r = bus_read_options(m, options, G_N_ELEMENTS(options), error);
        if (r < 0)
                return r;
        if (validation && field_validation_from_string(validation, &opts.field_validation) < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "option \"field-validation\": \"%s\" is not one of Strict, Warn, Ignore",
                                         validation);
        if (namespace && default_namespace)
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS,
                                        "options \"namespace\" and \"default-namespace\" exclude each other");
        if (default_namespace) {
                opts.namespace_is_default = true;
                namespace = g_steal_pointer(&default_namespace);
        }
        if (namespace && !isempty(namespace) && validate_dns1123_label(namespace, &e) < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "option \"namespace\": %s", e->message);
        opts.namespace = namespace;
        if (!authz_privileged(d->authz, m)) {
                /* where it would write decides who may, before anything
                 * stored answers (an admission error would tell what is
                 * there); then what it would read for the caller, which a
                 * dry run lists */
                g_autoptr(GPtrArray) targets = NULL;
                g_autoptr(GPtrArray) references =
                        g_ptr_array_new_with_free_func((GDestroyNotify) object_reference_free);
                r = model_apply_targets(d->model, document, strlen(document), &opts, &targets, &e);
                if (r < 0)
                        return bus_error_set(error, r, e);
                r = authorize_apply(d, m, targets, NULL, error);
                if (r < 0)
                        return r;
                if (r == 0)
                        return 1;       /* polkit asked: the call comes again */
                opts.dry_run = true;
                opts.references = references;
                r = model_apply(d->model, document, strlen(document), &opts, NULL, NULL, &e);
                if (r < 0)
                        return bus_error_set(error, r, e);
                opts.references = NULL;
                r = authorize_apply(d, m, NULL, references, error);
                if (r < 0)
                        return r;
                if (r == 0)
                        return 1;       /* polkit asked: the call comes again */
        }
        opts.dry_run = dry_run;

        r = model_apply(d->model, document, strlen(document), &opts, &names, warnings, &e);
        if (r < 0)
                return bus_error_set(error, r, e);
        r = send_warnings(m, warnings);
        if (r < 0)
                return r;
        return reply_paths(m, names);
}

/* What Get and List write: JSON laid out for people (kubectl's -o json),
 * JSON without layout for programs (what the API server sends: nothing to
 * lay out, and for VMs less than half the bytes), or YAML. */
typedef enum Output {
        OUTPUT_JSON,
        OUTPUT_JSON_COMPACT,
        OUTPUT_YAML,
} Output;

static const char *const output_names[] = {
        [OUTPUT_JSON] = "json",
        [OUTPUT_JSON_COMPACT] = "json-compact",
        [OUTPUT_YAML] = "yaml",
};

static int read_output_option(const char *output, Output *ret, sd_bus_error *error) {
        for (Output o = 0; o < G_N_ELEMENTS(output_names); o++)
                if (streq(output ?: "json", output_names[o])) {
                        *ret = o;
                        return 0;
                }
        return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                 "option \"output\": \"%s\" is not one of json, json-compact, yaml", output);
}

/* An object as Get and List write it: JSON from its remembered compact
 * text, as it is or laid out; YAML from its document. */
static char *object_text(Object *o, Output output) {
        if (output == OUTPUT_YAML)
                return manifest_to_yaml(object_doc(o));
        if (output == OUTPUT_JSON_COMPACT)
                return g_strdup(object_json(o));
        GString *out = g_string_new(NULL);
        json_pretty_append(out, object_json(o), 0);
        return g_string_free(out, FALSE);
}

/* The (s kind, s namespace, s name, a{sv} options) arguments of Get and
 * Delete: reads them, resolves the kind and requires a name. */
static int read_object_args(sd_bus_message *m, BusOption *options, size_t n_options, const KindInfo **ret_kind,
                            const char **ret_namespace, const char **ret_name, sd_bus_error *error) {
        g_autoptr(GError) e = NULL;
        const char *kind_name;
        int r;

        r = sd_bus_message_read(m, "sss", &kind_name, ret_namespace, ret_name);
        if (r < 0)
                return r;
        r = bus_read_options(m, options, n_options, error);
        if (r < 0)
                return r;
        r = kind_from_name(kind_name, ret_kind, &e);
        if (r < 0)
                return bus_error_set(error, r, e);
        if (isempty(*ret_name))
                return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "name: required value");
        return 0;
}

static int method_get(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Daemon *d = userdata;
        g_autofree char *output = NULL;
        BusOption options[] = { { "output", BUS_OPTION_STRING, &output } };
        g_autoptr(GError) e = NULL;
        const char *namespace, *name;
        const KindInfo *kind;
        Object *o;
        Output format;
        int r;

        r = read_object_args(m, options, G_N_ELEMENTS(options), &kind, &namespace, &name, error);
        if (r < 0)
                return r;
        r = read_output_option(output, &format, error);
        if (r < 0)
                return r;
        /* a Secret's data needs secret.read (which implies seeing it);
         * without a role in the namespace, anything else needs object.read */
        if (kind == &kind_secret)
                r = check_secret_read(d, m, kind, namespace, name, error);
        else if (!authz_can_see(d->authz, m, kind, namespace, name))
                r = authz_check(d->authz, m, "object.read", namespace, kind->kind, name, error);
        else
                r = 1;          /* seen through a role: go on */
        if (r < 0)
                return r;
        if (r == 0)
                return 1;       /* polkit asked: the call comes again */
        r = model_get(d->model, kind, namespace, name, &o, &e);
        if (r < 0)
                return bus_error_set(error, r, e);
        g_autofree char *text = object_text(o, format);
        g_autofree char *what = g_strdup_printf("%s %s%s%s as %s", kind->kind, o->namespace, *o->namespace ? "/" : "",
                                                o->name, output_names[format]);
        return bus_reply_text(d, m, text, what, error);
}

/* One page of a List: items[start, start + n) of objects, the token of
 * the next page when more remain. */
typedef struct ListPage {
        int64_t limit;                  /* 0: everything at once */
        guint start, n;
} ListPage;

static char *list_text(Daemon *d, const KindInfo *kind, const char *namespace, const char *selector, GPtrArray *objects,
                       const ListPage *p, Output output) {
        g_autoptr(JsonObject) list = json_object_new();
        JsonObject *meta = json_object_new();
        g_autofree char *api_version = kind_api_version(kind), *list_kind = g_strdup_printf("%sList", kind->kind);
        char rv[32];

        json_object_set_string_member(list, "apiVersion", api_version);
        json_object_set_string_member(list, "kind", list_kind);
        g_snprintf(rv, sizeof rv, "%" G_GUINT64_FORMAT, model_resource_version(d->model));
        json_object_set_string_member(meta, "resourceVersion", rv);
        if (p->start + p->n < objects->len) {
                Object *last = objects->pdata[p->start + p->n - 1];
                g_autofree char *token = list_continue_token(kind->kind, namespace, selector, last->namespace,
                                                             last->name);
                json_object_set_string_member(meta, "continue", token);
                json_object_set_int_member(meta, "remainingItemCount", objects->len - p->start - p->n);
        }
        json_object_set_object_member(list, "metadata", meta);
        if (output == OUTPUT_YAML) {
                JsonArray *items = json_array_new();
                for (guint i = p->start; i < p->start + p->n; i++)
                        json_array_add_element(items, json_node_ref(object_doc(objects->pdata[i])));
                json_object_set_array_member(list, "items", items);
                g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), list);
                return manifest_to_yaml(node);
        }
        /* JSON: the list without its items, then each item's remembered
         * text as it is, or both laid out (the items where they stand: level 2) */
        g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), list);
        g_autofree char *head = json_text(node, false);
        size_t size = strlen(head) + 64;        /* room to lay out: pages never written cost nothing */
        for (guint i = p->start; i < p->start + p->n; i++)
                size += (output == OUTPUT_JSON ? 2 : 1) * (strlen(object_json(objects->pdata[i])) + 1);
        GString *out = g_string_sized_new(size);
        head[strlen(head) - 1] = '\0';         /* less the closing '}': "items" comes last */
        if (output == OUTPUT_JSON_COMPACT) {
                g_string_append(out, head);
                g_string_append(out, ",\"items\":[");
                for (guint i = p->start; i < p->start + p->n; i++) {
                        if (i > p->start)
                                g_string_append_c(out, ',');
                        g_string_append(out, object_json(objects->pdata[i]));
                }
                g_string_append(out, "]}");
                return g_string_free(out, FALSE);
        }
        json_pretty_append(out, head, 0);
        g_string_append(out, p->n > 0 ? ",\n  \"items\" : [" : ",\n  \"items\" : []\n}");
        for (guint i = p->start; i < p->start + p->n; i++) {
                g_string_append(out, i > p->start ? ",\n    " : "\n    ");
                json_pretty_append(out, object_json(objects->pdata[i]), 2);
        }
        if (p->n > 0)
                g_string_append(out, "\n  ]\n}");
        return g_string_free(out, FALSE);
}

/* The page that fits in a message: at most limit items, fewer when their
 * bytes would not fit (Kubernetes allows short pages); without a limit,
 * everything or an error that says to page. */
static int reply_list(Daemon *d, sd_bus_message *m, const KindInfo *kind, const char *namespace, const char *selector,
                      GPtrArray *objects, ListPage *p, Output output, sd_bus_error *error) {
        size_t max = bus_reply_max_text(d), produced = 0;
        g_autofree char *text = NULL;

        p->n = objects->len - p->start;
        if (p->limit > 0 && (uint64_t) p->limit < p->n)
                p->n = (guint) p->limit;
        for (;;) {
                g_free(text);
                text = list_text(d, kind, namespace, selector, objects, p, output);
                size_t len = strlen(text);
                produced += len;
                if (len <= max)
                        break;
                bus_rate_limit_charge(d->ratelimit, m, produced);
                if (p->limit == 0)
                        return sd_bus_error_setf(error, BUS_ERROR_REPLY_TOO_LARGE,
                                                 "List of %s: the reply would be %zu bytes, more than one message on "
                                                 "the bus carries (%zu); ask for pages with the option \"limit\" "
                                                 "(and \"continue\")", kind->kind, len, max);
                if (p->n == 1) {
                        Object *o = objects->pdata[p->start];
                        return sd_bus_error_setf(error, BUS_ERROR_REPLY_TOO_LARGE,
                                                 "List of %s: %s%s%s alone is %zu bytes as %s, more than one message "
                                                 "on the bus carries (%zu)", kind->kind, o->namespace,
                                                 *o->namespace ? "/" : "", o->name, len, output_names[output], max);
                }
                /* fewer items, in proportion (a little less), at least one fewer */
                p->n = MAX(1u, MIN(p->n - 1, (guint) ((double) p->n * (double) max / (double) len * 0.95)));
                produced = 0;
        }
        bus_rate_limit_charge(d->ratelimit, m, produced - strlen(text));      /* bus_reply_text charges the rest */
        return bus_reply_text(d, m, text, "the List", error);
}

static int method_list(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Daemon *d = userdata;
        g_autofree char *output = NULL, *selector = NULL;
        g_autofree char *token = NULL, *after_namespace = NULL, *after_name = NULL;
        ListPage page = {};
        BusOption options[] = {
                { "output", BUS_OPTION_STRING, &output },
                { "label-selector", BUS_OPTION_STRING, &selector },
                { "limit", BUS_OPTION_INT64, &page.limit },
                { "continue", BUS_OPTION_STRING, &token },
        };
        g_autoptr(LabelSelector) sel = NULL;
        g_autoptr(GError) e = NULL;
        g_autoptr(GPtrArray) objects = NULL;
        const char *kind_name, *namespace;
        const KindInfo *kind;
        Output format;
        int r;

        r = sd_bus_message_read(m, "ss", &kind_name, &namespace);
        if (r < 0)
                return r;
        r = bus_read_options(m, options, G_N_ELEMENTS(options), error);
        if (r < 0)
                return r;
        r = read_output_option(output, &format, error);
        if (r < 0)
                return r;
        if (selector && label_selector_parse(selector, &sel, &e) < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "option \"label-selector\": %s", e->message);
        r = kind_from_name(kind_name, &kind, &e);
        if (r < 0)
                return bus_error_set(error, r, e);
        if (options[2].seen && page.limit <= 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "option \"limit\": %" PRIi64 " is not greater than zero", page.limit);
        if (token && list_continue_parse(token, kind->kind, namespace, selector, &after_namespace, &after_name, &e) < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS, "option \"continue\": %s", e->message);
        /* in one namespace: as Get; across namespaces: what the caller's
         * roles show (Secrets where the role reads them) */
        bool across = isempty(namespace) && kind->namespaced;
        if (!across && kind == &kind_secret)
                r = check_secret_read(d, m, kind, namespace, NULL, error);
        else if (!across && kind->namespaced && !authz_can_see(d->authz, m, kind, namespace, NULL))
                r = authz_check(d->authz, m, "object.read", namespace, kind->kind, NULL, error);
        else
                r = 1;          /* visible, or filtered below: go on */
        if (r < 0)
                return r;
        if (r == 0)
                return 1;       /* polkit asked: the call comes again */

        objects = model_list(d->model, kind, isempty(namespace) ? NULL : namespace, sel);
        for (guint i = objects->len; across && i-- > 0;) {
                Object *o = objects->pdata[i];
                if (authz_role(d->authz, m, o->namespace) < (kind == &kind_secret ? ROLE_EDIT : ROLE_VIEW))
                        g_ptr_array_remove_index(objects, i);
        }
        for (guint i = objects->len; kind == &kind_namespace && i-- > 0;)
                if (!authz_can_see(d->authz, m, kind, NULL, ((Object *) objects->pdata[i])->name))
                        g_ptr_array_remove_index(objects, i);
        if (after_name)
                page.start = list_continue_start(objects, after_namespace, after_name);

        return reply_list(d, m, kind, namespace, selector, objects, &page, format, error);
}

static int method_delete(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Daemon *d = userdata;
        g_autofree char *propagation = NULL, *rv = NULL, *uid = NULL;
        bool dry_run = false;
        BusOption options[] = {
                { "propagation-policy", BUS_OPTION_STRING, &propagation },
                { "dry-run", BUS_OPTION_BOOL, &dry_run },
                { "resource-version", BUS_OPTION_STRING, &rv },
                { "uid", BUS_OPTION_STRING, &uid },
        };
        DeleteOptions opts = { .propagation = PROPAGATION_BACKGROUND };
        g_autoptr(GError) e = NULL;
        const char *namespace, *name;
        const KindInfo *kind;
        int r;

        r = read_object_args(m, options, G_N_ELEMENTS(options), &kind, &namespace, &name, error);
        if (r < 0)
                return r;
        if (propagation && propagation_from_string(propagation, &opts.propagation) < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "option \"propagation-policy\": \"%s\" "
                                         "is not one of Background, Foreground, Orphan", propagation);
        opts.dry_run = dry_run;
        opts.resource_version = rv;
        opts.uid = uid;
        if (kind == &kind_namespace)
                r = authz_check(d->authz, m, "namespace.manage", name, kind->kind, name, error);
        else
                r = authz_check(d->authz, m, "object.delete", namespace, kind->kind, name, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1;       /* polkit asked: the call comes again */

        r = model_delete(d->model, kind, namespace, name, &opts, &e);
        if (r < 0)
                return bus_error_set(error, r, e);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_create_namespace(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Daemon *d = userdata;
        g_autoptr(JsonObject) labels = NULL, annotations = NULL;
        g_autofree char *display_name = NULL, *description = NULL, *path = NULL;
        bool dry_run = false;
        BusOption options[] = {
                { "labels", BUS_OPTION_STRING_MAP, &labels },
                { "annotations", BUS_OPTION_STRING_MAP, &annotations },
                { "display-name", BUS_OPTION_STRING, &display_name },
                { "description", BUS_OPTION_STRING, &description },
                { "dry-run", BUS_OPTION_BOOL, &dry_run },
        };
        g_autoptr(GError) e = NULL;
        const char *name;
        int r;

        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        r = bus_read_options(m, options, G_N_ELEMENTS(options), error);
        if (r < 0)
                return r;
        if (display_name || description) {
                if (!annotations)
                        annotations = json_object_new();
                if (display_name)
                        json_object_set_string_member(annotations, "openshift.io/display-name", display_name);
                if (description)
                        json_object_set_string_member(annotations, "openshift.io/description", description);
        }
        r = authz_check(d->authz, m, "namespace.manage", name, "Namespace", name, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1;       /* polkit asked: the call comes again */
        r = model_create_namespace(d->model, name, labels, annotations, dry_run, &e);
        if (r < 0)
                return bus_error_set(error, r, e);
        path = object_path_make(&kind_namespace, "", name);
        const char *user = authz_caller_name(d->authz, m);
        if (user && !dry_run && rbac_make_admin(d->model, name, user, &e) < 0) {
                Object *ns = NULL;
                if (model_get(d->model, &kind_namespace, "", name, &ns, NULL) < 0)
                        ns = NULL;
                log_object(G_LOG_LEVEL_WARNING, ns, "cannot make %s admin of namespace %s: %s", user, name,
                           e->message);
        }
        return sd_bus_reply_method_return(m, "o", path);
}

static int method_delete_namespace(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Daemon *d = userdata;
        DeleteOptions opts = { .propagation = PROPAGATION_BACKGROUND };
        g_autoptr(GError) e = NULL;
        const char *name;
        int r;

        r = sd_bus_message_read(m, "s", &name);
        if (r < 0)
                return r;
        r = authz_check(d->authz, m, "namespace.manage", name, "Namespace", name, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1;       /* polkit asked: the call comes again */
        r = model_delete(d->model, &kind_namespace, "", name, &opts, &e);
        if (r < 0)
                return bus_error_set(error, r, e);
        return sd_bus_reply_method_return(m, NULL);
}

/* --- the image cache --- */

static int method_list_images(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Daemon *d = userdata;
        ImageCache *cache = model_services(d->model)->images;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        g_autoptr(GPtrArray) entries = imagecache_entries(cache);
        int r;

        if ((r = sd_bus_message_new_method_return(m, &reply)) < 0 ||
            (r = sd_bus_message_open_container(reply, 'a', "(sasttttu)")) < 0)
                return r;
        for (guint i = 0; i < entries->len; i++) {
                ImageCacheEntry *e = entries->pdata[i];
                if ((r = sd_bus_message_open_container(reply, 'r', "sasttttu")) < 0 ||
                    (r = sd_bus_message_append(reply, "s", e->digest)) < 0 ||
                    (r = sd_bus_message_open_container(reply, 'a', "s")) < 0)
                        return r;
                for (guint j = e->references->len; j-- > 0;)     /* the latest first */
                        if ((r = sd_bus_message_append(reply, "s", e->references->pdata[j])) < 0)
                                return r;
                if ((r = sd_bus_message_close_container(reply)) < 0 ||
                    (r = sd_bus_message_append(reply, "ttttu", e->virtual_size, e->disk_bytes, (uint64_t) e->pulled,
                                               (uint64_t) e->last_used, imagecache_users(cache, e->digest))) < 0 ||
                    (r = sd_bus_message_close_container(reply)) < 0)
                        return r;
        }
        if ((r = sd_bus_message_close_container(reply)) < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

/* A pull's call, answered when the pull ends. */
typedef struct PullCall {
        Daemon *d;
        sd_bus_message *m;
} PullCall;

static PullCall *pull_call_free(PullCall *p) {
        if (!p)
                return NULL;
        sd_bus_message_unref(p->m);
        g_free(p);
        return NULL;
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PullCall, pull_call_free)

static void pulled(const char *digest, const GError *e, void *userdata) {
        g_autoptr(PullCall) p = userdata;
        if (digest) {
                (void) sd_bus_reply_method_return(p->m, "s", digest);
                bus_calls_finish(p->d->bus_calls, p->m, NULL);
        } else {
                _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
                bus_error_set(&error, -EIO, e);
                (void) sd_bus_reply_method_error(p->m, &error);
                bus_calls_finish(p->d->bus_calls, p->m, error.name);
        }
}

static int method_pull_image(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Daemon *d = userdata;
        g_autofree char *namespace = NULL, *secret = NULL, *user = NULL, *password = NULL;
        BusOption options[] = {
                { "namespace", BUS_OPTION_STRING, &namespace },
                { "pull-secret", BUS_OPTION_STRING, &secret },
        };
        g_autoptr(GError) e = NULL;
        const char *image;
        int r;

        if ((r = sd_bus_message_read(m, "s", &image)) < 0 ||
            (r = bus_read_options(m, options, G_N_ELEMENTS(options), error)) < 0)
                return r;
        if (isempty(image) || strchr(image, ' '))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "\"%s\" is not an image reference (host/repository:tag)", image);
        g_autofree char *ref = imagecache_reference(image);
        r = authz_check(d->authz, m, "image.manage", namespace, NULL, ref, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1;       /* polkit asked: the call comes again */
        /* the credentials of a Secret the caller names, as a containerDisk's
         * imagePullSecret: using a Secret is reading it */
        if (secret) {
                const char *ns = !isempty(namespace) ? namespace : "default";
                r = authz_check(d->authz, m, "secret.read", ns, "Secret", secret, error);
                if (r < 0)
                        return r;
                if (r == 0)
                        return 1;       /* polkit asked: the call comes again */
                r = imagecache_secret_credentials(d->model, ns, secret, ref, &user, &password, &e);
                if (r < 0)
                        return bus_error_set(error, r, e);
        }
        PullCall *p = g_new0(PullCall, 1);
        p->d = d;
        p->m = sd_bus_message_ref(m);
        r = imagecache_pull(model_services(d->model)->images, ref, user, password, pulled, p, &e);
        if (r < 0) {
                pull_call_free(p);
                return bus_error_set(error, r, e);
        }
        bus_calls_defer(d->bus_calls, m);
        return 1;       /* the reply comes when the pull ends */
}

static int method_remove_image(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Daemon *d = userdata;
        g_autoptr(GError) e = NULL;
        const char *image;
        int r;

        if ((r = sd_bus_message_read(m, "s", &image)) < 0)
                return r;
        g_autofree char *ref = g_str_has_prefix(image, "sha256:") ? g_strdup(image) : imagecache_reference(image);
        r = authz_check(d->authz, m, "image.manage", NULL, NULL, ref, error);
        if (r < 0)
                return r;
        if (r == 0)
                return 1;       /* polkit asked: the call comes again */
        r = imagecache_remove(model_services(d->model)->images, ref, &e);
        if (r < 0)
                return bus_error_set(error, r, e);
        return sd_bus_reply_method_return(m, NULL);
}

/* LoadImages and SaveImage: answered when the importer ends. */
static void archived(GPtrArray *loaded, const GError *e, void *userdata) {
        g_autoptr(PullCall) p = userdata;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        bool save = sd_bus_message_is_method_call(p->m, NULL, "SaveImage");
        int r = 0;

        if (!loaded) {
                bus_error_set(&error, -e->code, e);     /* load: EINVAL (the archive's fault); save: EIO */
                (void) sd_bus_reply_method_error(p->m, &error);
                bus_calls_finish(p->d->bus_calls, p->m, error.name);
                return;
        }
        if ((r = sd_bus_message_new_method_return(p->m, &reply)) >= 0 && save)
                r = sd_bus_message_append(reply, "s", loaded->pdata[1]);
        else if (r >= 0 && (r = sd_bus_message_open_container(reply, 'a', "(ss)")) >= 0) {
                for (guint i = 0; r >= 0 && i + 1 < loaded->len; i += 2)
                        r = sd_bus_message_append(reply, "(ss)", loaded->pdata[i], loaded->pdata[i + 1]);
                if (r >= 0)
                        r = sd_bus_message_close_container(reply);
        }
        if (r >= 0)
                r = sd_bus_send(NULL, reply, NULL);
        if (r < 0) {
                sd_bus_error_set_errno(&error, r);
                (void) sd_bus_reply_method_error(p->m, &error);
        }
        bus_calls_finish(p->d->bus_calls, p->m, error.name);
}

static int method_archive_image(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Daemon *d = userdata;
        bool save = sd_bus_message_is_method_call(m, NULL, "SaveImage");
        ImageCache *cache = model_services(d->model)->images;
        g_autoptr(GError) e = NULL;
        const char *image;
        int fd, r;

        if (save)
                r = sd_bus_message_read(m, "sh", &image, &fd);
        else
                r = sd_bus_message_read(m, "hs", &fd, &image);
        if (r < 0 || (r = bus_read_options(m, NULL, 0, error)) < 0)
                return r;
        if ((r = bus_check_fd(fd, save, "archive", error)) < 0)
                return r;
        bool plain = true;      /* no spaces or control characters: it goes on the importer's command line */
        for (const char *c = image; *c; c++)
                plain = plain && (unsigned char) *c > ' ' && *c != 0x7f;
        if ((save || !isempty(image)) && (isempty(image) || !plain || strlen(image) > 255))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "image: \"%s\" is not an image reference (host/repository:tag)", image);
        if (!save && g_str_has_prefix(image, "sha256:"))
                return sd_bus_error_setf(error, SD_BUS_ERROR_INVALID_ARGS,
                                         "image: a digest names no image to load under: give a reference "
                                         "(host/repository:tag), or \"\" for the archive's own names");
        g_autofree char *ref = isempty(image) ? g_strdup("") : g_str_has_prefix(image, "sha256:") ?
                               g_strdup(image) : imagecache_reference(image);
        r = authz_check(d->authz, m, "image.manage", NULL, NULL, ref, error);
        if (r <= 0)
                return r < 0 ? r : 1;   /* 0: polkit asked, the call comes again */
        PullCall *p = g_new0(PullCall, 1);
        p->d = d;
        p->m = sd_bus_message_ref(m);
        if (save)
                r = imagecache_save_archive(cache, ref, fd, archived, p, &e);
        else    /* the importer takes the name as written in an archive: no scheme */
                r = imagecache_load_archive(cache, fd, isempty(image) ? NULL : ref + strlen("docker://"), archived,
                                            p, &e);
        if (r < 0) {
                pull_call_free(p);
                return bus_error_set(error, r, e);
        }
        bus_calls_defer(d->bus_calls, m);
        return 1;       /* the reply comes when the importer ends */
}

static int property_get_kinds(sd_bus *bus, const char *path, const char *interface, const char *property,
                              sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        int r;

        r = sd_bus_message_open_container(reply, 'a', "s");
        if (r < 0)
                return r;
        for (const KindInfo *const *k = kind_all(); *k; k++) {
                g_autofree char *av = kind_api_version(*k);
                g_autofree char *s = g_strdup_printf("%s/%s", av, (*k)->kind);
                r = sd_bus_message_append(reply, "s", s);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

static int property_get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
                                sd_bus_message *reply, void *userdata, sd_bus_error *error) {
        return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
}

static const sd_bus_vtable manager_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Version", "s", property_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Kinds", "as", property_get_kinds, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("StateDirectory", "s", NULL, offsetof(Daemon, state_dir), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("LibvirtURI", "s", NULL, offsetof(Daemon, libvirt_uri), SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD_WITH_ARGS("Apply",
                                SD_BUS_ARGS("s", document, "a{sv}", options),
                                SD_BUS_RESULT("ao", objects),
                                method_apply, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Get",
                                SD_BUS_ARGS("s", kind, "s", namespace, "s", name, "a{sv}", options),
                                SD_BUS_RESULT("s", document),
                                method_get, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("List",
                                SD_BUS_ARGS("s", kind, "s", namespace, "a{sv}", options),
                                SD_BUS_RESULT("s", document),
                                method_list, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("Delete",
                                SD_BUS_ARGS("s", kind, "s", namespace, "s", name, "a{sv}", options),
                                SD_BUS_NO_RESULT,
                                method_delete, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("CreateNamespace",
                                SD_BUS_ARGS("s", name, "a{sv}", options),
                                SD_BUS_RESULT("o", namespace),
                                method_create_namespace, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("DeleteNamespace",
                                SD_BUS_ARGS("s", name),
                                SD_BUS_NO_RESULT,
                                method_delete_namespace, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("ListImages",
                                SD_BUS_NO_ARGS,
                                SD_BUS_RESULT("a(sasttttu)", images),
                                method_list_images, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("PullImage",
                                SD_BUS_ARGS("s", image, "a{sv}", options),
                                SD_BUS_RESULT("s", digest),
                                method_pull_image, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("RemoveImage",
                                SD_BUS_ARGS("s", image),
                                SD_BUS_NO_RESULT,
                                method_remove_image, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("LoadImages",
                                SD_BUS_ARGS("h", archive, "s", image, "a{sv}", options),
                                SD_BUS_RESULT("a(ss)", images),
                                method_archive_image, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_ARGS("SaveImage",
                                SD_BUS_ARGS("s", image, "h", archive, "a{sv}", options),
                                SD_BUS_RESULT("s", digest),
                                method_archive_image, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_SIGNAL_WITH_ARGS("Warning", SD_BUS_ARGS("s", message), 0),
        SD_BUS_VTABLE_END
};

int bus_manager_register(Daemon *d) {
        return bus_calls_add_vtable(d, BUS_MANAGER_PATH, BUS_MANAGER_INTERFACE, manager_vtable);
}
