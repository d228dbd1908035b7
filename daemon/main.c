/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* edgevirtd: KubeVirt's and CDI's objects on one node, over D-Bus. */
#include <getopt.h>
#include <libintl.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>

#include "config.h"

#include "bus.h"
#include "daemon.h"
#include "util.h"

#define _(s) gettext(s)

#define DEFAULT_CONFIG SYSCONFDIR "/edgevirt/edgevirtd.conf"
#define DEFAULT_MAX_DOCUMENT_SIZE (3u * 1024 * 1024)
#define DEFAULT_MAX_OBJECTS_PER_APPLY 1000u

typedef struct Settings {
        char *bus;              /* "system", "session" or an address */
        char *state_dir;
        char *libvirt_uri;
        char *config;
        bool config_given;
        ModelLimits limits;
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
                 "  --version                     Show the version\n"
                 "  -h --help                     Show this help\n"),
               BUS_NAME, LOCALSTATEDIR, DEFAULT_CONFIG);
}

/* The configuration file: [Daemon] StateDirectory=, LibvirtURI=;
 * [Limits] MaxDocumentSize=, MaxObjectsPerApply=.  Unknown groups and keys
 * are errors, so a typo does not pass silently. */
static int load_config(Settings *s, GError **error) {
        static const char *const known[][5] = {
                { "Daemon", "StateDirectory", "LibvirtURI", NULL },
                { "Limits", "MaxDocumentSize", "MaxObjectsPerApply", NULL },
        };
        g_autoptr(GKeyFile) kf = g_key_file_new();
        g_autoptr(GError) e = NULL;
        g_auto(GStrv) groups = NULL;

        if (!g_key_file_load_from_file(kf, s->config, G_KEY_FILE_NONE, &e)) {
                if (g_error_matches(e, G_FILE_ERROR, G_FILE_ERROR_NOENT) && !s->config_given)
                        return 0;
                return ev_error_set(error, EINVAL, "%s: %s", s->config, e->message);
        }
        groups = g_key_file_get_groups(kf, NULL);
        for (char **g = groups; *g; g++) {
                size_t gi;
                g_auto(GStrv) keys = NULL;
                for (gi = 0; gi < G_N_ELEMENTS(known); gi++)
                        if (streq(known[gi][0], *g))
                                break;
                if (gi >= G_N_ELEMENTS(known))
                        return ev_error_set(error, EINVAL, "%s: unknown section [%s]", s->config, *g);
                keys = g_key_file_get_keys(kf, *g, NULL, NULL);
                for (char **k = keys; k && *k; k++)
                        if (!g_strv_contains((const char *const *) &known[gi][1], *k))
                                return ev_error_set(error, EINVAL, "%s: [%s] has no setting %s", s->config, *g, *k);
        }

#define GET_STRING(group, key, field)                                                  \
        if (!s->field && g_key_file_has_key(kf, group, key, NULL))                      \
                s->field = g_key_file_get_string(kf, group, key, NULL);
        GET_STRING("Daemon", "StateDirectory", state_dir);
        GET_STRING("Daemon", "LibvirtURI", libvirt_uri);
#undef GET_STRING

        const char *const limits[] = { "MaxDocumentSize", "MaxObjectsPerApply" };
        for (size_t i = 0; i < G_N_ELEMENTS(limits); i++) {
                if (!g_key_file_has_key(kf, "Limits", limits[i], NULL))
                        continue;
                g_autofree char *v = g_key_file_get_string(kf, "Limits", limits[i], NULL);
                guint64 n;
                if (!g_ascii_string_to_unsigned(v, 10, 1, G_MAXUINT32, &n, NULL))
                        return ev_error_set(error, EINVAL, "%s: [Limits] %s=%s is not a positive number", s->config, limits[i], v);
                if (i == 0)
                        s->limits.max_document_size = n;
                else
                        s->limits.max_objects_per_apply = (unsigned) n;
        }
        return 0;
}

static int parse_argv(int argc, char *argv[], Settings *s) {
        enum { ARG_BUS = 0x100, ARG_STATE_DIR, ARG_CONFIG, ARG_LIBVIRT_URI, ARG_VERSION };
        static const struct option options[] = {
                { "bus", required_argument, NULL, ARG_BUS },
                { "state-dir", required_argument, NULL, ARG_STATE_DIR },
                { "config", required_argument, NULL, ARG_CONFIG },
                { "libvirt-uri", required_argument, NULL, ARG_LIBVIRT_URI },
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

int main(int argc, char *argv[]) {
        Settings s = {
                .bus = g_strdup("system"),
                .config = g_strdup(DEFAULT_CONFIG),
                .limits = { DEFAULT_MAX_DOCUMENT_SIZE, DEFAULT_MAX_OBJECTS_PER_APPLY },
        };
        Daemon d = {};
        g_autoptr(GError) e = NULL;
        sigset_t mask;
        int r;

        setlocale(LC_ALL, "");
        bindtextdomain(GETTEXT_PACKAGE, getenv("EDGEVIRT_LOCALEDIR") ?: LOCALEDIR);
        bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
        textdomain(GETTEXT_PACKAGE);
        r = parse_argv(argc, argv, &s);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        r = load_config(&s, &e);
        if (r < 0) {
                fprintf(stderr, "edgevirtd: %s\n", e->message);
                return EXIT_FAILURE;
        }

        d.system_bus = streq(s.bus, "system");
        d.config_path = s.config;
        if (s.state_dir)
                d.state_dir = s.state_dir;
        else if (d.system_bus)
                d.state_dir = g_build_filename(LOCALSTATEDIR, "lib", "edgevirt", NULL);
        else
                d.state_dir = g_build_filename(g_get_user_state_dir(), "edgevirt", NULL);
        d.libvirt_uri = s.libvirt_uri ? s.libvirt_uri : g_strdup(d.system_bus ? "qemu:///system" : "qemu:///session");

        r = sd_event_default(&d.event);
        if (r < 0) {
                fprintf(stderr, "edgevirtd: cannot create event loop: %s\n", g_strerror(-r));
                return EXIT_FAILURE;
        }
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        sd_event_add_signal(d.event, NULL, SIGTERM, on_signal, &d);
        sd_event_add_signal(d.event, NULL, SIGINT, on_signal, &d);

        r = model_new(d.event, d.state_dir, &s.limits, &d.model, &e);
        if (r < 0) {
                fprintf(stderr, "edgevirtd: %s\n", e->message);
                return EXIT_FAILURE;
        }

        r = open_bus(s.bus, &d.bus);
        if (r < 0) {
                fprintf(stderr, "edgevirtd: cannot connect to the %s bus: %s\n", s.bus,
                        r == -EINVAL ? "give system, session or a D-Bus address such as unix:path=/run/x" : g_strerror(-r));
                return EXIT_FAILURE;
        }
        r = bus_export(&d);
        if (r < 0) {
                fprintf(stderr, "edgevirtd: cannot export objects: %s\n", g_strerror(-r));
                return EXIT_FAILURE;
        }
        r = sd_bus_attach_event(d.bus, d.event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0) {
                fprintf(stderr, "edgevirtd: cannot attach the bus: %s\n", g_strerror(-r));
                return EXIT_FAILURE;
        }
        /* The name last: once it is ours, clients may call, and everything
         * they can reach is in place. */
        r = sd_bus_request_name(d.bus, BUS_NAME, 0);
        if (r < 0) {
                fprintf(stderr, "edgevirtd: cannot own %s on the %s bus: %s\n", BUS_NAME, s.bus,
                        r == -EEXIST ? "another edgevirtd runs there" : g_strerror(-r));
                return EXIT_FAILURE;
        }
        g_message("serving %s on the %s bus, state in %s", BUS_NAME, s.bus, d.state_dir);
        sd_notify(0, "READY=1\nSTATUS=Serving");

        r = sd_event_loop(d.event);

        sd_bus_flush_close_unref(d.bus);
        model_free(d.model);
        sd_event_unref(d.event);
        g_free(d.state_dir);
        g_free(d.libvirt_uri);
        g_free(s.config);
        g_free(s.bus);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
