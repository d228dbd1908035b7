/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* edgevirtd: KubeVirt's and CDI's objects on one node, over D-Bus. */
#include <getopt.h>
#include <libintl.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>

#include "config.h"

#include "authz.h"
#include "bus-calls.h"
#include "bus.h"
#include "conffile.h"
#include "daemon.h"
#include "dataimportcron.h"
#include "datasource.h"
#include "datavolume.h"
#include "event.h"
#include "imagecache.h"
#include "import-slots.h"
#include "log.h"
#include "manifests-dir.h"
#include "metrics.h"
#include "pvc.h"
#include "services.h"
#include "snapshot.h"
#include "vm.h"
#include "vmi.h"
#include "vmirs.h"
#include "storageclass.h"
#include "util.h"

#define _(s) gettext(s)

#define DEFAULT_CONFIG SYSCONFDIR "/edgevirt/edgevirtd.conf"
#define WORKER_THREADS 4

typedef struct Settings {
        char *bus;              /* "system", "session" or an address */
        char *state_dir;
        char *libvirt_uri;
        char *config;
        bool config_given;
        char *log_level;
} Settings;

static void help(void) {
        printf(_("Usage: edgevirtd [OPTIONS]\n\n"
                 "KubeVirt and CDI objects on one node, served on D-Bus as %s.\n\n"
                 "  --bus=system|session|ADDRESS  Bus to serve on (default: system)\n"
                 "  --state-dir=DIR               Object store and volumes (default: %s/lib/edgevirt,\n"
                 "                                or $XDG_STATE_HOME/edgevirt off the system bus)\n"
                 "  --config=FILE                 Configuration file (default: %s)\n"
                 "  --libvirt-uri=URI             libvirt connection (default: qemu:///system,\n"
                 "                                or qemu:///session off the system bus)\n"
                 "  --log-level=LEVEL             err, warning, notice (default), info or debug\n"
                 "  --version                     Show the version\n"
                 "  -h --help                     Show this help\n"),
               BUS_NAME, LOCALSTATEDIR, DEFAULT_CONFIG);
}

static int parse_argv(int argc, char *argv[], Settings *s) {
        enum { ARG_BUS = 0x100, ARG_STATE_DIR, ARG_CONFIG, ARG_LIBVIRT_URI, ARG_LOG_LEVEL, ARG_VERSION };
        static const struct option options[] = {
                { "bus", required_argument, NULL, ARG_BUS },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                { "config", required_argument, NULL, ARG_CONFIG },
                { "libvirt-uri", required_argument, NULL, ARG_LIBVIRT_URI },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "version", no_argument, NULL, ARG_VERSION },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case ARG_BUS:
                        g_free(s->bus);
                        s->bus = g_strdup(optarg);
                        break;
                case ARG_STATE_DIR:
                        g_free(s->state_dir);
                        s->state_dir = g_strdup(optarg);
                        break;
                case ARG_CONFIG:
                        g_free(s->config);
                        s->config = g_strdup(optarg);
                        s->config_given = true;
                        break;
                case ARG_LIBVIRT_URI:
                        g_free(s->libvirt_uri);
                        s->libvirt_uri = g_strdup(optarg);
                        break;
                case ARG_LOG_LEVEL:
                        g_free(s->log_level);
                        s->log_level = g_strdup(optarg);
                        break;
                case ARG_VERSION:
                        printf("edgevirtd %s\n", PACKAGE_VERSION);
                        return 0;
                case 'h':
                        help();
                        return 0;
                default:
                        return -EINVAL;
                }
        if (optind < argc) {
                fprintf(stderr, "edgevirtd: unexpected argument \"%s\" (see --help)\n", argv[optind]);
                return -EINVAL;
        }
        return 1;
}

static int open_bus(const char *spec, sd_bus **ret) {
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        int r;

        if (streq(spec, "system"))
                return sd_bus_open_system(ret);
        if (streq(spec, "session"))
                return sd_bus_open_user(ret);
        if (!strchr(spec, ':'))
                return -EINVAL;
        r = sd_bus_new(&bus);
        if (r < 0)
                return r;
        if ((r = sd_bus_set_address(bus, spec)) < 0 ||
            (r = sd_bus_set_bus_client(bus, true)) < 0 ||
            (r = sd_bus_start(bus)) < 0)
                return r;
        *ret = g_steal_pointer(&bus);
        return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Daemon *d = userdata;
        g_message("received %s, stopping", strsignal((int) si->ssi_signo));
        sd_notify(0, "STOPPING=1");
        return sd_event_exit(d->event, 0);
}

/* The bus went away (the broker stopped, or it dropped us): without it the
 * daemon serves nobody, so it stops with a failure for the service manager
 * to start it again rather than live on deaf. */
static int on_bus_disconnected(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Daemon *d = userdata;
        g_warning("lost the connection to the bus; exiting so that the service manager restarts edgevirtd");
        sd_notify(0, "STOPPING=1\nSTATUS=Lost the bus connection");
        return sd_event_exit(d->event, -ECONNRESET);
}

/* $EDGEVIRT_IMPORTER, else beside this binary (installed: both in
 * libexecdir), else the build tree's. */
static char *find_importer(void) {
        g_autofree char *self = g_file_read_link("/proc/self/exe", NULL);
        g_autofree char *dir = self ? g_path_get_dirname(self) : NULL;
        g_autofree char *beside = dir ? g_build_filename(dir, "edgevirt-importer", NULL) : NULL;

        if (getenv("EDGEVIRT_IMPORTER"))
                return g_strdup(getenv("EDGEVIRT_IMPORTER"));
        if (beside && g_file_test(beside, G_FILE_TEST_IS_EXECUTABLE))
                return g_steal_pointer(&beside);
        return g_strdup(EDGEVIRT_IMPORTER_BUILD);
}

static int fail(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static int fail(const char *fmt, ...) {
        va_list ap;
        fputs("edgevirtd: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return EXIT_FAILURE;
}

/* Where state lives and which libvirt to use: the command line, else the
 * configuration file, else the mode's default. */
static void resolve_paths(Daemon *d, const Settings *s, const Config *config) {
        d->system_bus = streq(s->bus, "system");
        d->config_path = s->config;
        if (s->state_dir)
                d->state_dir = g_strdup(s->state_dir);
        else if (config->state_dir)
                d->state_dir = g_strdup(config->state_dir);
        else if (d->system_bus)
                d->state_dir = g_build_filename(LOCALSTATEDIR, "lib", "edgevirt", NULL);
        else
                d->state_dir = g_build_filename(g_get_user_state_dir(), "edgevirt", NULL);
        d->libvirt_uri = g_strdup(s->libvirt_uri ? s->libvirt_uri : config->libvirt_uri ? config->libvirt_uri :
                                  d->system_bus ? "qemu:///system" : "qemu:///session");
}

/* One storage backend per configured class; each takes its class's
 * configuration. */
static int make_backends(Config *config, Services *services) {
        g_autoptr(GError) e = NULL;

        for (guint i = 0; i < config->storage_classes->len; i++) {
                StorageBackend *b;
                StorageClassConfig *sc = g_ptr_array_steal_index(config->storage_classes, i);
                g_ptr_array_insert(config->storage_classes, (gint) i, NULL);
                if (storage_backend_new(sc, &b, &e) < 0)
                        return fail("%s", e->message);
                g_ptr_array_add(services->backends, b);
        }
        return 0;
}

/* The event loop, with SIGTERM and SIGINT stopping it and SIGCHLD left to
 * sd_event_add_child (importers). */
static int make_event_loop(Daemon *d) {
        sigset_t mask;
        int r = sd_event_default(&d->event);

        if (r < 0)
                return fail("cannot create event loop: %s", g_strerror(-r));
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        /* A write to a peer that went away is an error, never death: libvirt's
         * client writes to libvirtd's socket with plain write(), and a
         * libvirtd killed at the wrong moment raised SIGPIPE here (the system
         * lane saw the daemon die of it).  systemd's IgnoreSIGPIPE= does this
         * for the unit only.  Programs the daemon runs get the default back
         * (ev_spawn_child_defaults). */
        signal(SIGPIPE, SIG_IGN);
        if ((r = sd_event_add_signal(d->event, NULL, SIGTERM, on_signal, d)) < 0 ||
            (r = sd_event_add_signal(d->event, NULL, SIGINT, on_signal, d)) < 0)
                return fail("cannot handle signals: %s", g_strerror(-r));
        return 0;
}

/* The model, loaded from the store, and the controllers that converge it. */
static int start_model(Daemon *d, Config *config, Services *services) {
        g_autoptr(GError) e = NULL;
        int r;

        services->event = d->event;
        r = worker_new(d->event, WORKER_THREADS, &services->worker);
        if (r < 0)
                return fail("cannot start workers: %s", g_strerror(-r));
        if (model_new(d->event, d->state_dir, &config->limits, &d->model, &e) < 0)
                return fail("%s", e->message);
        model_set_services(d->model, services);
        g_autoptr(GPtrArray) class_configs = g_ptr_array_new();
        for (guint i = 0; i < services->backends->len; i++)
                g_ptr_array_add(class_configs, ((StorageBackend *) services->backends->pdata[i])->config);
        if (storageclass_sync(d->model, class_configs, &e) < 0)
                return fail("%s", e->message);
        services->pvc_users = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        services->state_dir = d->state_dir;
        services->importer = find_importer();
        services->slots = import_slots_new(config->max_imports, config->max_imports_per_namespace);
        services->upload_idle_timeout = config->upload_idle_timeout;
        services->stall_timeout = config->stall_timeout;
        if (imagecache_new(services, config->image_cache_size, config->max_image_size, config->image_minimum_age,
                           &services->images, &e) < 0)
                return fail("%s", e->message);
        if ((r = event_recorder_new(d->model, d->event, &config->events, &services->events)) < 0)
                return fail("cannot start the event recorder: %s", g_strerror(-r));
        if ((r = pvc_controller_new(d->model, services, &services->pvc)) < 0)
                return fail("cannot start the PVC controller: %s", g_strerror(-r));
        if ((r = datavolume_controller_new(d->model, services, &services->datavolumes)) < 0)
                return fail("cannot start the DataVolume controller: %s", g_strerror(-r));
        datasource_controller_start(d->model);
        vmirs_controller_start(d->model);
        if ((r = dataimportcron_controller_new(d->model, services, &services->crons)) < 0)
                return fail("cannot start the DataImportCron controller: %s", g_strerror(-r));
        services->libvirt_uri = d->libvirt_uri;
        services->nat_network = config->nat_network ? config->nat_network : "edgevirt";
        services->bridge = config->bridge;
        services->host_devices = config->host_devices;
        services->sysfs = g_getenv("EDGEVIRT_SYSFS") ?: "/sys";
        services->nat_subnet = config->nat_subnet;
        if ((r = vmi_controller_new(d->model, services, &services->vmis)) < 0)
                return fail("cannot start the VM controller: %s", g_strerror(-r));
        if ((r = vm_controller_new(d->model, services, &services->vms)) < 0)
                return fail("cannot start the VM controller: %s", g_strerror(-r));
        services->snapshots = snapshot_controller_new();
        return 0;
}

/* The manifests directories: applied once now, followed afterwards. */
static int start_manifests(Daemon *d, const Config *config, ManifestsDir **ret) {
        g_auto(GStrv) dirs = manifests_directories(config, d->system_bus);
        int r;

        *ret = NULL;
        if (!dirs[0])
                return 0;
        r = manifests_dir_new(d->model, d->event, dirs, ret);
        if (r < 0)
                return fail("cannot follow the manifests directories: %s", g_strerror(-r));
        manifests_dir_sync(*ret);
        return 0;
}

/* The bus: filters, objects, and last the name — once it is ours, clients
 * may call, and everything they can reach is in place. */
static int serve_on_bus(Daemon *d, const Settings *s, const Config *config) {
        int r = open_bus(s->bus, &d->bus);

        if (r < 0)
                return fail("cannot connect to the %s bus: %s", s->bus,
                            r == -EINVAL ? "give system, session or a D-Bus address such as unix:path=/run/x"
                                         : g_strerror(-r));
        d->max_message_size = config->max_message_size;
        r = sd_bus_match_signal(d->bus, NULL, "org.freedesktop.DBus.Local", "/org/freedesktop/DBus/Local",
                                "org.freedesktop.DBus.Local", "Disconnected", on_bus_disconnected, d);
        if (r < 0)
                return fail("cannot follow the bus connection: %s", g_strerror(-r));
        /* Filters run last added first: the caller lookup's filter (in
         * authz_new) holds the first calls of a new caller before the rate
         * limit counts them, so they are counted once, when dispatched;
         * the reply guard runs last, knowing the caller and charging it. */
        if ((r = bus_reply_guard_install(d)) < 0)
                return fail("cannot install the reply guard: %s", g_strerror(-r));
        if ((r = bus_rate_limit_install(d, config->calls_per_second, config->call_burst)) < 0)
                return fail("cannot install the rate limits: %s", g_strerror(-r));
        if ((r = authz_new(d, &d->authz)) < 0)
                return fail("cannot follow callers on the bus: %s", g_strerror(-r));
        if ((r = bus_calls_install(d)) < 0)
                return fail("cannot count calls: %s", g_strerror(-r));
        if ((r = bus_export(d)) < 0)
                return fail("cannot export objects: %s", g_strerror(-r));
        if ((r = sd_bus_attach_event(d->bus, d->event, SD_EVENT_PRIORITY_NORMAL)) < 0)
                return fail("cannot attach the bus: %s", g_strerror(-r));
        r = sd_bus_request_name(d->bus, BUS_NAME, 0);
        if (r < 0)
                return fail("cannot own %s on the %s bus: %s", BUS_NAME, s->bus,
                            r == -EEXIST ? "another edgevirtd runs there" : g_strerror(-r));
        return 0;
}

/* The socket systemd passes for the metrics endpoint
 * (edgevirtd-metrics.socket: FileDescriptorName=metrics), or -1; any other
 * passed descriptor is closed. */
static int metrics_socket(void) {
        g_auto(GStrv) names = NULL;
        int n = sd_listen_fds_with_names(1, &names), fd = -1;

        for (int i = 0; i < n; i++) {
                if (streq_ptr(names ? names[i] : NULL, "metrics") && fd < 0 &&
                    sd_is_socket(SD_LISTEN_FDS_START + i, AF_UNSPEC, SOCK_STREAM, 1) > 0)
                        fd = SD_LISTEN_FDS_START + i;
                else {
                        g_warning("closing descriptor %d (%s) systemd passed: only a listening stream socket named "
                                  "\"metrics\" is used", SD_LISTEN_FDS_START + i, names ? names[i] : "unnamed");
                        close(SD_LISTEN_FDS_START + i);
                }
        }
        return fd;
}

/* The Prometheus endpoint, on the socket systemd passed, else where
 * [Metrics] Listen= says; neither: off. */
static int start_metrics(Daemon *d, const Config *config, int fd, Metrics **ret) {
        g_autoptr(GError) e = NULL;

        if (fd < 0 && !config->metrics.listen)
                return 0;
        if (metrics_new(d->event, d->model, d->calls, d->libvirt_uri, &config->metrics, fd, ret, &e) < 0)
                return fail("%s", e->message);
        if (fd >= 0)
                g_message("serving metrics on the socket systemd passed%s", config->metrics.listen ?
                          " ([Metrics] Listen= is not used)" : "");
        else
                g_message("serving metrics on %s://%s/metrics", config->metrics.tls_cert_file ? "https" : "http",
                          config->metrics.listen);
        return 0;
}

/* Running storage work finishes first; then what it touches goes. */
static void stop_everything(Daemon *d, Services *services, ManifestsDir *manifests, Metrics *metrics) {
        metrics_free(metrics);
        manifests_dir_free(manifests);
        authz_free(d->authz);
        d->managed_objects = bus_managed_objects_free(d->managed_objects);
        sd_bus_flush_close_unref(d->bus);
        d->bus_calls = bus_calls_free(d->bus_calls);
        callstats_free(d->calls);
        vm_controller_free(services->vms);
        vmi_controller_free(services->vmis);
        datavolume_controller_free(services->datavolumes);
        datasource_controller_stop(d->model);
        vmirs_controller_stop(d->model);
        dataimportcron_controller_free(services->crons);
        imagecache_free(services->images);
        import_slots_free(services->slots);
        worker_free(services->worker);
        pvc_controller_free(services->pvc);
        snapshot_controller_free(services->snapshots);
        event_recorder_free(services->events);
        g_hash_table_unref(services->pvc_users);
        if (services->pvc_locks)
                g_hash_table_unref(services->pvc_locks);
        g_free(services->importer);
        model_free(d->model);
        g_ptr_array_unref(services->backends);
        sd_event_unref(d->event);
        g_free(d->state_dir);
        g_free(d->libvirt_uri);
}

int main(int argc, char *argv[]) {
        Settings s = {
                .bus = g_strdup("system"),
                .config = g_strdup(DEFAULT_CONFIG),
        };
        Daemon d = {};
        Metrics *metrics = NULL;
        int metrics_fd = metrics_socket();
        Config config;
        Services services = { .backends = g_ptr_array_new_with_free_func((GDestroyNotify) storage_backend_free) };
        ManifestsDir *manifests = NULL;
        g_autoptr(GError) e = NULL;
        int r;

        /* What the daemon writes (the object store with every Secret, seeds
         * with cloud-init's passwords, volumes, images) is its own, whatever
         * umask it was started with: the unit's UMask= is not relied on.
         * Directories QEMU must traverse are opened up explicitly. */
        umask(0077);
        setlocale(LC_ALL, "");
        bindtextdomain(GETTEXT_PACKAGE, getenv("EDGEVIRT_LOCALEDIR") ?: LOCALEDIR);
        bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
        textdomain(GETTEXT_PACKAGE);
        r = parse_argv(argc, argv, &s);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        config_init(&config);
        if (config_load(&config, s.config, s.config_given, &e) < 0)
                return fail("%s", e->message);
        const char *level_name = s.log_level ?: config.log_level ?: "notice";
        GLogLevelFlags level;
        if (log_level_from_string(level_name, &level) < 0)
                return fail("%s%s: expected err, warning, notice, info or debug", s.log_level ? "--log-level=" :
                            "[Daemon] LogLevel=", level_name);
        log_setup(level, true);
        resolve_paths(&d, &s, &config);
        if (config_finish(&config, d.state_dir, &e) < 0)
                return fail("%s", e->message);
        if (config.metrics.listen || metrics_fd >= 0)
                d.calls = callstats_new();
        if ((r = make_backends(&config, &services)) != 0 || (r = make_event_loop(&d)) != 0 ||
            (r = start_model(&d, &config, &services)) != 0 || (r = start_manifests(&d, &config, &manifests)) != 0 ||
            (r = start_metrics(&d, &config, metrics_fd, &metrics)) != 0 ||     /* up once the name is ours */
            (r = serve_on_bus(&d, &s, &config)) != 0)
                return r;
        g_message("serving %s on the %s bus, state in %s", BUS_NAME, s.bus, d.state_dir);
        sd_notify(0, "READY=1\nSTATUS=Serving");

        r = sd_event_loop(d.event);

        stop_everything(&d, &services, manifests, metrics);
        config_clear(&config);
        g_free(s.config);
        g_free(s.bus);
        g_free(s.state_dir);
        g_free(s.libvirt_uri);
        g_free(s.log_level);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
