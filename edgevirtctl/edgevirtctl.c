/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* edgevirtctl: oc/kubectl verbs on one node, through edgevirtd's public
 * D-Bus API only (anything it does, a front end can do).  This file: main,
 * the options, the current project and the client plumbing the verbs share;
 * the verbs are in *-verbs.c and export.c, the tables in table.c. */
#include <errno.h>
#include <getopt.h>
#include <libintl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>

#include <systemd/sd-bus.h>

#include "config.h"

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
                if (r >= 0 && (r = sd_bus_set_address(c->bus, spec)) >= 0 &&
                    (r = sd_bus_set_bus_client(c->bus, true)) >= 0)
                        r = sd_bus_start(c->bus);
        }
        if (r < 0)
                return fail(_("cannot connect to the %s bus: %s"), spec, g_strerror(-r));
        return 0;
}

JsonNode *parse_json(const char *text) {
        g_autoptr(JsonParser) p = json_parser_new();
        if (!json_parser_load_from_data(p, text, -1, NULL))
                return NULL;
        return json_node_copy(json_parser_get_root(p));
}

const char *ns_of(Ctl *c) {
        return c->all_namespaces ? "" : c->namespace;
}

int create_namespace(Ctl *c, const char *name) {
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
                 "  wait KIND/NAME --for=condition=TYPE|--for=jsonpath={.status.phase}=Bound|--for=delete "
                 "[--timeout=5m]\n"
                 "  image-upload dv NAME --image-path=FILE [--size=SIZE] [--storage-class=C] [--no-create]\n"
                 "  export [-n NAMESPACE] [-o yaml|json]                  the namespace as manifests for a cluster\n"
                 "         [--push-disks=REGISTRY/PREFIX [--tls-verify=false] [--creds-secret=SECRET]]\n"
                 "                                                         with the VMs' disks as containerDisks\n"
                 "  start VM | stop VM [--grace-period=S] [--force] | restart VM [--grace-period=S] [--force]\n"
                 "  pause vm|vmi NAME | unpause vm|vmi NAME | soft-reboot VM | reset VM\n"
                 "  addvolume VM --volume-name=DV_OR_PVC [--serial=S] [--persist] [--bus=scsi]\n"
                 "  removevolume VM --volume-name=NAME [--persist]          disk hotplug (virtctl's)\n"
                 "  console VM                                             serial console (escape: ^])\n"
                 "  guestosinfo VM | userlist VM | fslist VM               the guest agent's facts (JSON)\n"
                 "  memory-dump get VM [--claim-name=C [--create-claim [--storage-class=SC]]]\n"
                 "  memory-dump remove VM | memory-dump download VM --output=FILE\n"
                 "                                                         the guest's memory in a claim\n"
                 "  vmexport create NAME --vm=VM|--snapshot=S|--pvc=C [--ttl=D] | vmexport delete NAME\n"
                 "  vmexport download NAME --output=FILE [--volume=V] [--format=gzip|raw|qcow2] [--manifest]\n"
                 "         [--vm=VM|--snapshot=S|--pvc=C [--keep-vme]]      a VM's disks and manifests\n"
                 "  scale vmpool|vmirs NAME --replicas=N                   a pool's number of VMs, a replica\n"
                 "                                                         set's number of instances\n"
                 "  vnc VM [--port=PORT] [--proxy-only]                    VNC on a local port (starts a viewer)\n"
                 "  images [-o json] | pull IMAGE | rmi IMAGE|DIGEST...    the containerDisk image cache\n"
                 "  images load -i FILE|DIR|- [IMAGE] | images save IMAGE -o FILE|-\n"
                 "                                                         image archives (no registry needed)\n"
                 "  credentials add-ssh-key|remove-ssh-key --user=U --file=F|--value=KEY VM\n"
                 "  credentials set-password --user=U --password=P VM      keys and passwords through the guest agent\n"
                 "         [--secret=NAME] [--force] [--create-secret|--update-secret]\n\n"
                 "Options: -n NAMESPACE, -A (all namespaces), --bus=system|session|ADDRESS\n"
                 "         (default: $EDGEVIRT_BUS, else the system bus),\n"
                 "         --chunk-size=N (get: N objects a call, default 500; 0: all at once)\n"));
}

/* --- main --- */

enum { ARG_BUS = 0x100, ARG_FOR, ARG_TIMEOUT, ARG_IMAGE, ARG_SIZE, ARG_SC, ARG_NOCREATE, ARG_DISPLAY, ARG_DESC,
       ARG_LITERAL, ARG_FROM_FILE, ARG_TYPE, ARG_GRACE, ARG_FORCE, ARG_PORT, ARG_PROXY, ARG_USER, ARG_KEY_FILE,
       ARG_KEY_VALUE, ARG_SECRET, ARG_PASSWORD, ARG_CREATE_SECRET, ARG_UPDATE_SECRET, ARG_CHUNK,
       ARG_REPLICAS, ARG_CLAIM_NAME, ARG_CREATE_CLAIM, ARG_PUSH_DISKS, ARG_TLS_VERIFY, ARG_CREDS_SECRET,
       ARG_VOLUME_NAME, ARG_SERIAL, ARG_PERSIST, ARG_VM, ARG_SNAPSHOT, ARG_PVC, ARG_TTL, ARG_VOLUME, ARG_FORMAT,
       ARG_KEEP_VME, ARG_MANIFEST };
static const struct option options[] = {
        { "namespace", required_argument, NULL, 'n' }, { "all-namespaces", no_argument, NULL, 'A' },
        { "output", required_argument, NULL, 'o' }, { "selector", required_argument, NULL, 'l' },
        { "filename", required_argument, NULL, 'f' },
        { "input", required_argument, NULL, 'i' }, { "bus", required_argument, NULL, ARG_BUS },
        { "for", required_argument, NULL, ARG_FOR }, { "timeout", required_argument, NULL, ARG_TIMEOUT },
        { "image-path", required_argument, NULL, ARG_IMAGE }, { "size", required_argument, NULL, ARG_SIZE },
        { "storage-class", required_argument, NULL, ARG_SC }, { "no-create", no_argument, NULL, ARG_NOCREATE },
        { "display-name", required_argument, NULL, ARG_DISPLAY }, { "description", required_argument, NULL, ARG_DESC },
        { "from-literal", required_argument, NULL, ARG_LITERAL },
        { "from-file", required_argument, NULL, ARG_FROM_FILE },
        { "type", required_argument, NULL, ARG_TYPE },
        { "grace-period", required_argument, NULL, ARG_GRACE }, { "force", no_argument, NULL, ARG_FORCE },
        { "port", required_argument, NULL, ARG_PORT }, { "proxy-only", no_argument, NULL, ARG_PROXY },
        { "user", required_argument, NULL, ARG_USER }, { "file", required_argument, NULL, ARG_KEY_FILE },
        { "value", required_argument, NULL, ARG_KEY_VALUE }, { "secret", required_argument, NULL, ARG_SECRET },
        { "password", required_argument, NULL, ARG_PASSWORD },
        { "create-secret", no_argument, NULL, ARG_CREATE_SECRET },
        { "update-secret", no_argument, NULL, ARG_UPDATE_SECRET },
        { "chunk-size", required_argument, NULL, ARG_CHUNK },
        { "replicas", required_argument, NULL, ARG_REPLICAS },
        { "claim-name", required_argument, NULL, ARG_CLAIM_NAME },
        { "create-claim", no_argument, NULL, ARG_CREATE_CLAIM },
        { "push-disks", required_argument, NULL, ARG_PUSH_DISKS },
        { "tls-verify", required_argument, NULL, ARG_TLS_VERIFY },
        { "creds-secret", required_argument, NULL, ARG_CREDS_SECRET },
        { "volume-name", required_argument, NULL, ARG_VOLUME_NAME },
        { "serial", required_argument, NULL, ARG_SERIAL }, { "persist", no_argument, NULL, ARG_PERSIST },
        { "vm", required_argument, NULL, ARG_VM }, { "snapshot", required_argument, NULL, ARG_SNAPSHOT },
        { "pvc", required_argument, NULL, ARG_PVC }, { "ttl", required_argument, NULL, ARG_TTL },
        { "volume", required_argument, NULL, ARG_VOLUME }, { "format", required_argument, NULL, ARG_FORMAT },
        { "keep-vme", no_argument, NULL, ARG_KEEP_VME }, { "manifest", no_argument, NULL, ARG_MANIFEST },
        { "watch", no_argument, NULL, 'w' }, { "help", no_argument, NULL, 'h' }, {}
};

/* Read the options into c (files, literals and from_files hold what is
 * repeated); returns -1 to go on, else the exit status (--help, a wrong
 * value). */
static int parse_options(int argc, char *argv[], Ctl *c, GPtrArray *files, GPtrArray *literals, GPtrArray *from_files) {
        int opt;

        while ((opt = getopt_long(argc, argv, "n:Ao:l:f:i:wh", options, NULL)) >= 0)
                switch (opt) {
                case 'n': c->namespace = optarg; c->namespace_given = true; break;
                case 'A': c->all_namespaces = true; break;
                case 'o': c->output = optarg; break;
                case 'i': c->input = optarg; break;
                case 'l': c->selector = optarg; break;
                case 'w': c->watch = true; break;
                case 'f': g_ptr_array_add(files, optarg); break;
                case ARG_BUS: c->bus_spec = optarg; break;
                case ARG_FOR: c->for_condition = optarg; break;
                case ARG_TIMEOUT:
                        c->timeout = parse_duration(optarg);
                        if (c->timeout < 0)
                                return fail(_("--timeout: \"%s\" is not a duration (30s, 5m, 1h)"), optarg);
                        break;
                case ARG_IMAGE: c->image_path = optarg; break;
                case ARG_SIZE: c->size = optarg; break;
                case ARG_SC: c->storage_class = optarg; break;
                case ARG_NOCREATE: c->no_create = true; break;
                case ARG_DISPLAY: c->display_name = optarg; break;
                case ARG_DESC: c->description = optarg; break;
                case ARG_LITERAL: g_ptr_array_add(literals, optarg); break;
                case ARG_FROM_FILE: g_ptr_array_add(from_files, optarg); break;
                case ARG_TYPE: c->secret_type = optarg; break;
                case ARG_FORCE: c->force = true; break;
                case ARG_PROXY: c->proxy_only = true; break;
                case ARG_USER: c->cred_user = optarg; break;
                case ARG_KEY_FILE: c->key_file = optarg; break;
                case ARG_KEY_VALUE: c->key_value = optarg; break;
                case ARG_SECRET: c->secret_name = optarg; break;
                case ARG_PASSWORD: c->password = optarg; break;
                case ARG_VOLUME_NAME: c->volume_name = optarg; break;
                case ARG_SERIAL: c->serial = optarg; break;
                case ARG_PERSIST: c->persist = true; break;
                case ARG_VM: c->export_vm = optarg; break;
                case ARG_SNAPSHOT: c->export_snapshot = optarg; break;
                case ARG_PVC: c->export_pvc = optarg; break;
                case ARG_TTL: c->ttl = optarg; break;
                case ARG_VOLUME: c->volume = optarg; break;
                case ARG_FORMAT: c->format = optarg; break;
                case ARG_KEEP_VME: c->keep_vme = true; break;
                case ARG_MANIFEST: c->manifest = true; break;
                case ARG_CREATE_SECRET: c->create_secret = true; break;
                case ARG_UPDATE_SECRET: c->update_secret = true; break;
                case ARG_PUSH_DISKS: c->push_disks = optarg; break;
                case ARG_CREDS_SECRET: c->creds_secret = optarg; break;
                case ARG_TLS_VERIFY:
                        if (!streq(optarg, "true") && !streq(optarg, "false"))
                                return fail(_("--tls-verify: \"%s\" is neither true nor false"), optarg);
                        c->tls_verify = streq(optarg, "true");
                        break;
                case ARG_PORT: {
                        char *end;
                        long port = strtol(optarg, &end, 10);
                        if (*end || port < 0 || port > 65535)
                                return fail(_("--port: \"%s\" is not a port number"), optarg);
                        c->port = (int) port;
                        break;
                }
                case ARG_CHUNK: {
                        char *end;
                        c->chunk_size = strtoll(optarg, &end, 10);
                        if (*end || !*optarg || c->chunk_size < 0)
                                return fail(_("--chunk-size: \"%s\" is not a number of objects (0: all at once)"),
                                            optarg);
                        break;
                }
                case ARG_CLAIM_NAME: c->claim_name = optarg; break;
                case ARG_CREATE_CLAIM: c->create_claim = true; break;
                case ARG_REPLICAS: {
                        char *end;
                        c->replicas = strtoll(optarg, &end, 10);
                        if (*end || !*optarg || c->replicas < 0 || c->replicas > G_MAXINT32)
                                return fail(_("--replicas: \"%s\" is not a number of replicas (0 or more)"), optarg);
                        break;
                }
                case ARG_GRACE: {
                        char *end;
                        c->grace_period = strtoll(optarg, &end, 10);
                        if (*end || c->grace_period < 0)
                                return fail(_("--grace-period: \"%s\" is not a number of seconds"), optarg);
                        break;
                }
                case 'h': help(); return 0;
                default: return 1;
                }
        return -1;
}

/* Run the verb argv[0]: connect, call, close; the exit status. */
static int run_verb(Ctl *c, int argc, char **argv) {
        static const struct {
                const char *name;
                int (*run)(Ctl *c, int argc, char **argv);
        } verbs[] = {
                { "get", verb_get }, { "describe", verb_describe }, { "apply", verb_apply }, { "delete", verb_delete },
                { "new-project", verb_new_project }, { "project", verb_project }, { "wait", verb_wait },
                { "image-upload", verb_image_upload }, { "export", verb_export }, { "create", verb_create },
                { "start", verb_lifecycle }, { "stop", verb_lifecycle }, { "restart", verb_lifecycle },
                { "soft-reboot", verb_lifecycle }, { "reset", verb_lifecycle }, { "pause", verb_lifecycle },
                { "unpause", verb_lifecycle },
                { "console", verb_console }, { "guestosinfo", verb_guest }, { "userlist", verb_guest },
                { "fslist", verb_guest }, { "vnc", verb_vnc }, { "images", verb_images }, { "pull", verb_pull },
                { "rmi", verb_rmi }, { "credentials", verb_credentials },
                { "scale", verb_scale }, { "memory-dump", verb_memory_dump }, { "vmexport", verb_vmexport },
                { "addvolume", verb_volume }, { "removevolume", verb_volume },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(verbs); i++)
                if (streq(argv[0], verbs[i].name)) {
                        if (connect_bus(c))
                                return 1;
                        int r = verbs[i].run(c, argc, argv);
                        sd_bus_flush_close_unref(c->bus);
                        return r ? 1 : 0;
                }
        return fail(_("unknown command \"%s\" (see --help)"), argv[0]);
}

int main(int argc, char *argv[]) {
        Ctl c = { .timeout = 0, .grace_period = -1, .chunk_size = 500, .replicas = -1, .tls_verify = -1 };
        g_autoptr(GPtrArray) literals = g_ptr_array_new(), from_files = g_ptr_array_new();
        g_autoptr(GPtrArray) files = g_ptr_array_new();
        int r;

        setlocale(LC_ALL, "");
        /* EDGEVIRT_LOCALEDIR: the build tree's catalogs (tests) */
        bindtextdomain(GETTEXT_PACKAGE, getenv("EDGEVIRT_LOCALEDIR") ?: LOCALEDIR);
        textdomain(GETTEXT_PACKAGE);
        r = parse_options(argc, argv, &c, files, literals, from_files);
        if (r >= 0)
                return r;
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
        if (streq(argv[optind], "addvolume")) {
                /* virtctl's --bus: the disk's (the D-Bus bus comes from EDGEVIRT_BUS then) */
                c.disk_bus = c.bus_spec;
                c.bus_spec = NULL;
        }
        g_autofree char *project = c.namespace ? NULL : current_project();
        if (!c.namespace)
                c.namespace = project;
        return run_verb(&c, argc - optind, argv + optind);
}
