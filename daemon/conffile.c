/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "conffile.h"

#define DEFAULT_CALLS_PER_SECOND 1000
#define DEFAULT_CALL_BURST 5000
#define DEFAULT_MAX_MESSAGE_SIZE (32u * 1024 * 1024)    /* dbus-daemon's max_message_size on the system bus */
#define MIN_MAX_MESSAGE_SIZE (2u * 1024 * 1024)
#define MESSAGE_ANNOTATIONS_ROOM (1u * 1024 * 1024)    /* an object's annotations (256 KiB) as properties, thrice */
#include "hostdev.h"
#include "hypervisor.h"
#include "quantity.h"
#include "util.h"
#include "validate.h"

#define DEFAULT_MAX_DOCUMENT_SIZE (3u * 1024 * 1024)
#define DEFAULT_MAX_OBJECTS_PER_APPLY 1000u
#define DEFAULT_MAX_OBJECTS_PER_NAMESPACE 10000u
#define DEFAULT_MAX_DATA_PERCENT 90
#define DEFAULT_MAX_METADATA_PERCENT 80
#define DEFAULT_IMAGE_CACHE_SIZE (20ull << 30)
#define DEFAULT_MAX_IMAGE_SIZE (256ull << 30)
#define DEFAULT_IMAGE_MINIMUM_AGE 120      /* seconds, as the kubelet's ImageMinimumGCAge */
#define DEFAULT_MAX_IMPORTS 4
#define DEFAULT_MAX_IMPORTS_PER_NAMESPACE 2
#define DEFAULT_UPLOAD_IDLE_TIMEOUT 60
#define DEFAULT_STALL_TIMEOUT 30
#define STORAGE_CLASS_PREFIX "StorageClass "

static const char *const daemon_keys[] = { "StateDirectory", "LibvirtURI", "LogLevel", NULL };
static const char *const limit_keys[] = { "MaxDocumentSize", "MaxObjectsPerApply", "MaxObjectsPerNamespace",
                                           "CallsPerSecond", "CallBurst", "MaxMessageSize", NULL };
static const char *const image_keys[] = { "CacheSize", "MaxImageSize", "MinimumAge", NULL };
static const char *const import_keys[] = { "MaxImports", "MaxImportsPerNamespace", "UploadIdleTimeout", "StallTimeout",
                                            NULL };
static const char *const network_keys[] = { "NatNetwork", "NatSubnet", "Bridge", NULL };
static const char *const manifest_keys[] = { "Directory", "VendorDirectory", NULL };
static const char *const event_keys[] = { "MaxPerNamespace", "TimeToLive", NULL };
static const char *const metrics_keys[] = { "Listen", "BearerTokenFile", "CacheSeconds", "MaxConnections", "Timeout",
                                            "TLSCertificateFile", "TLSKeyFile", "TLSClientCAFile", NULL };
static const char *const class_keys[] = { "Backend", "Default", "Path", "Capacity", "VolumeGroup", "ThinPool",
                                          "Devices", "LvmConfig", "MaxDataPercent", "MaxMetadataPercent", NULL };

void config_init(Config *c) {
        *c = (Config) {
                .calls_per_second = DEFAULT_CALLS_PER_SECOND,
                .image_cache_size = DEFAULT_IMAGE_CACHE_SIZE,
                .max_image_size = DEFAULT_MAX_IMAGE_SIZE,
                .image_minimum_age = DEFAULT_IMAGE_MINIMUM_AGE,
                .max_imports = DEFAULT_MAX_IMPORTS,
                .max_imports_per_namespace = DEFAULT_MAX_IMPORTS_PER_NAMESPACE,
                .upload_idle_timeout = DEFAULT_UPLOAD_IDLE_TIMEOUT,
                .stall_timeout = DEFAULT_STALL_TIMEOUT,
                .call_burst = DEFAULT_CALL_BURST,
                .max_message_size = DEFAULT_MAX_MESSAGE_SIZE,
                .limits = { DEFAULT_MAX_DOCUMENT_SIZE, DEFAULT_MAX_OBJECTS_PER_APPLY,
                            DEFAULT_MAX_OBJECTS_PER_NAMESPACE },
                .storage_classes = g_ptr_array_new_with_free_func((GDestroyNotify) storage_class_config_free),
                .host_devices = g_ptr_array_new_with_free_func((GDestroyNotify) host_device_config_free),
                .events = { EVENT_DEFAULT_MAX_PER_NAMESPACE, EVENT_DEFAULT_TIME_TO_LIVE },
                .metrics = { .cache_seconds = METRICS_DEFAULT_CACHE_SECONDS,
                             .max_connections = METRICS_DEFAULT_MAX_CONNECTIONS,
                             .timeout = METRICS_DEFAULT_TIMEOUT },
        };
}

void config_clear(Config *c) {
        g_clear_pointer(&c->state_dir, g_free);
        g_clear_pointer(&c->libvirt_uri, g_free);
        g_clear_pointer(&c->log_level, g_free);
        g_clear_pointer(&c->nat_network, g_free);
        g_clear_pointer(&c->bridge, g_free);
        g_clear_pointer(&c->nat_subnet, g_free);
        g_clear_pointer(&c->storage_classes, g_ptr_array_unref);
        g_clear_pointer(&c->host_devices, g_ptr_array_unref);
        g_clear_pointer(&c->manifests_dir, g_free);
        g_clear_pointer(&c->vendor_manifests_dir, g_free);
        metrics_settings_clear(&c->metrics);
}

char **manifests_directories(const Config *c, bool system_bus) {
        g_autoptr(GStrvBuilder) b = g_strv_builder_new();
        const char *vendor = c->vendor_manifests_dir ?: system_bus ? VENDORDIR "/manifests.d" : "";
        const char *admin = c->manifests_dir ?: system_bus ? SYSCONFDIR "/edgevirt/manifests.d" : "";

        if (*vendor)
                g_strv_builder_add(b, vendor);
        if (*admin)
                g_strv_builder_add(b, admin);
        return g_strv_builder_end(b);
}

/* [Manifests]: absolute paths, or empty for none. */
static int load_manifests(GKeyFile *kf, const char *path, Config *c, GError **error) {
        struct { const char *key; char **value; } keys[] = {
                { "Directory", &c->manifests_dir },
                { "VendorDirectory", &c->vendor_manifests_dir },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
                g_autofree char *v = g_key_file_get_string(kf, "Manifests", keys[i].key, NULL);
                if (!v)
                        continue;
                if (*v && !g_path_is_absolute(v))
                        return ev_error_set(error, EINVAL, "%s: [Manifests] %s=%s is not an absolute path (or empty, "
                                            "for none)", path, keys[i].key, v);
                g_free(*keys[i].value);
                *keys[i].value = g_steal_pointer(&v);
        }
        return 0;
}

static int check_keys(GKeyFile *kf, const char *path, const char *group, const char *const *known, GError **error) {
        g_auto(GStrv) keys = g_key_file_get_keys(kf, group, NULL, NULL);
        for (char **k = keys; k && *k; k++)
                if (!g_strv_contains(known, *k))
                        return ev_error_set(error, EINVAL, "%s: [%s] has no setting %s", path, group, *k);
        return 0;
}

static int get_uint(GKeyFile *kf, const char *path, const char *group, const char *key, guint64 max, guint64 *ret,
                    GError **error) {
        g_autofree char *v = g_key_file_get_string(kf, group, key, NULL);
        if (!v)
                return 0;
        if (!g_ascii_string_to_unsigned(v, 10, 1, max, ret, NULL))
                return ev_error_set(error, EINVAL, "%s: [%s] %s=%s is not a number from 1 to %" G_GUINT64_FORMAT,
                                    path, group, key, v, max);
        return 1;
}

/* A byte size as a quantity ("20Gi"); 0 is allowed (an empty cache). */
static int get_size(GKeyFile *kf, const char *path, const char *group, const char *key, uint64_t *ret, GError **error) {
        g_autofree char *v = g_key_file_get_string(kf, group, key, NULL);
        g_autoptr(GError) e = NULL;
        int64_t bytes;

        if (!v)
                return 0;
        if (quantity_parse_int64(v, &bytes, &e) < 0 || bytes < 0)
                return ev_error_set(error, EINVAL, "%s: [%s] %s=%s: %s", path, group, key, v,
                                    e ? e->message : "must not be negative");
        *ret = (uint64_t) bytes;
        return 1;
}

static int load_class(GKeyFile *kf, const char *path, const char *group, Config *c, GError **error) {
        g_autoptr(StorageClassConfig) sc = g_new0(StorageClassConfig, 1);
        g_autoptr(GError) e = NULL;
        guint64 n;
        int r;

        sc->name = g_strdup(group + strlen(STORAGE_CLASS_PREFIX));
        if (validate_dns1123_subdomain(sc->name, &e) < 0)
                return ev_error_set(error, EINVAL, "%s: [%s]: the class name %s", path, group, e->message);
        r = check_keys(kf, path, group, class_keys, error);
        if (r < 0)
                return r;
        sc->backend = g_key_file_get_string(kf, group, "Backend", NULL);
        if (!sc->backend)
                return ev_error_set(error, EINVAL, "%s: [%s] needs Backend= (dir or lvm-thin)", path, group);
        if (!streq(sc->backend, "dir") && !streq(sc->backend, "lvm-thin"))
                return ev_error_set(error, EINVAL, "%s: [%s] Backend=%s is not dir or lvm-thin", path, group,
                                    sc->backend);
        if (g_key_file_has_key(kf, group, "Default", NULL)) {
                sc->is_default = g_key_file_get_boolean(kf, group, "Default", &e);
                if (e)
                        return ev_error_set(error, EINVAL, "%s: [%s] Default= must be true or false", path, group);
        }
        sc->path = g_key_file_get_string(kf, group, "Path", NULL);
        if (g_key_file_has_key(kf, group, "Capacity", NULL)) {
                g_autofree char *v = g_key_file_get_string(kf, group, "Capacity", NULL);
                int64_t bytes;
                if (quantity_parse_int64(v, &bytes, &e) < 0 || bytes <= 0)
                        return ev_error_set(error, EINVAL, "%s: [%s] Capacity=%s: %s", path, group, v,
                                            e ? e->message : "must be positive");
                sc->capacity = (uint64_t) bytes;
        }
        sc->volume_group = g_key_file_get_string(kf, group, "VolumeGroup", NULL);
        sc->thin_pool = g_key_file_get_string(kf, group, "ThinPool", NULL);
        if (g_key_file_has_key(kf, group, "Devices", NULL)) {
                g_autofree char *v = g_key_file_get_string(kf, group, "Devices", NULL);
                sc->devices = g_strsplit_set(g_strstrip(v), " \t", -1);
        }
        sc->lvm_config = g_key_file_get_string(kf, group, "LvmConfig", NULL);
        sc->max_data_percent = DEFAULT_MAX_DATA_PERCENT;
        sc->max_metadata_percent = DEFAULT_MAX_METADATA_PERCENT;
        if ((r = get_uint(kf, path, group, "MaxDataPercent", 100, &n, error)) < 0)
                return r;
        if (r > 0)
                sc->max_data_percent = (unsigned) n;
        if ((r = get_uint(kf, path, group, "MaxMetadataPercent", 100, &n, error)) < 0)
                return r;
        if (r > 0)
                sc->max_metadata_percent = (unsigned) n;
        if (streq(sc->backend, "lvm-thin") && (isempty(sc->volume_group) || isempty(sc->thin_pool)))
                return ev_error_set(error, EINVAL, "%s: [%s] Backend=lvm-thin needs VolumeGroup= and ThinPool=", path,
                                    group);
        g_ptr_array_add(c->storage_classes, g_steal_pointer(&sc));
        return 0;
}

/* [Limits] MaxMessageSize=: the bus's max_message_size.  Replies are
 * checked against it, signals cannot be: an object's properties (its labels
 * twice, each entry up to about three times its bytes in the document, and
 * its annotations) must fit in one message, which the document size bounds. */
static int check_message_size(GKeyFile *kf, const char *path, Config *c, GError **error) {
        guint64 n;
        int r;

        if ((r = get_uint(kf, path, "Limits", "MaxMessageSize", G_MAXUINT32, &n, error)) < 0)
                return r;
        if (r > 0 && n < MIN_MAX_MESSAGE_SIZE)
                return ev_error_set(error, EINVAL, "%s: [Limits] MaxMessageSize=%" G_GUINT64_FORMAT " is less than %u",
                                    path, n, MIN_MAX_MESSAGE_SIZE);
        if (r > 0)
                c->max_message_size = n;
        if ((c->max_message_size - MESSAGE_ANNOTATIONS_ROOM) / 8 < c->limits.max_document_size)
                return ev_error_set(error, EINVAL, "%s: [Limits] MaxDocumentSize=%zu is more than an eighth of "
                                    "MaxMessageSize=%zu less 1 MiB: an object's properties might not fit in a message",
                                    path, c->limits.max_document_size, c->max_message_size);
        return 0;
}

/* [Imports]: how many importer processes run, and when a transfer that
 * moves nothing is given up. */
static int load_imports(GKeyFile *kf, const char *path, Config *c, GError **error) {
        struct { const char *key; guint64 max; unsigned *value; } keys[] = {
                { "MaxImports", 1024, &c->max_imports },
                { "MaxImportsPerNamespace", 1024, &c->max_imports_per_namespace },
                { "UploadIdleTimeout", 24 * 3600, &c->upload_idle_timeout },
                { "StallTimeout", 24 * 3600, &c->stall_timeout },
        };
        guint64 n;
        int r;

        for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
                if ((r = get_uint(kf, path, "Imports", keys[i].key, keys[i].max, &n, error)) < 0)
                        return r;
                if (r > 0)
                        *keys[i].value = (unsigned) n;
        }
        if (c->max_imports_per_namespace > c->max_imports &&
            !g_key_file_has_key(kf, "Imports", "MaxImportsPerNamespace", NULL))
                c->max_imports_per_namespace = c->max_imports;  /* the default, under a smaller MaxImports */
        if (c->max_imports_per_namespace > c->max_imports)
                return ev_error_set(error, EINVAL, "%s: [Imports] MaxImportsPerNamespace=%u is more than MaxImports=%u",
                                    path, c->max_imports_per_namespace, c->max_imports);
        return 0;
}

/* [Metrics]: the Prometheus endpoint (off without Listen=, unless systemd
 * passes its socket). */
static int load_metrics(GKeyFile *kf, const char *path, MetricsSettings *m, GError **error) {
        struct { const char *key; guint64 max; unsigned *value; } keys[] = {
                { "CacheSeconds", 3600, &m->cache_seconds },
                { "MaxConnections", 1024, &m->max_connections },
                { "Timeout", 3600, &m->timeout },
        };
        struct sockaddr_storage addr;
        socklen_t len;
        guint64 n;
        int r;

        for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
                if ((r = get_uint(kf, path, "Metrics", keys[i].key, keys[i].max, &n, error)) < 0)
                        return r;
                if (r > 0)
                        *keys[i].value = (unsigned) n;
        }
        if (g_key_file_has_key(kf, "Metrics", "Listen", NULL)) {
                m->listen = g_key_file_get_string(kf, "Metrics", "Listen", NULL);
                if (metrics_parse_listen(m->listen, &addr, &len) < 0)
                        return ev_error_set(error, EINVAL,
                                            "%s: [Metrics] Listen=%s: expected a numeric address and a port, such "
                                            "as 127.0.0.1:9842 or [::1]:9842", path, m->listen);
        }
        struct { const char *key; char **value; } files[] = {
                { "BearerTokenFile", &m->token_file },
                { "TLSCertificateFile", &m->tls_cert_file },
                { "TLSKeyFile", &m->tls_key_file },
                { "TLSClientCAFile", &m->tls_client_ca_file },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
                if (!g_key_file_has_key(kf, "Metrics", files[i].key, NULL))
                        continue;
                *files[i].value = g_key_file_get_string(kf, "Metrics", files[i].key, NULL);
                if (!g_path_is_absolute(*files[i].value))
                        return ev_error_set(error, EINVAL, "%s: [Metrics] %s=%s is not an absolute path", path,
                                            files[i].key, *files[i].value);
        }
        if (!m->tls_cert_file != !m->tls_key_file)
                return ev_error_set(error, EINVAL, "%s: [Metrics] TLSCertificateFile= and TLSKeyFile= go together",
                                    path);
        if (m->tls_client_ca_file && !m->tls_cert_file)
                return ev_error_set(error, EINVAL, "%s: [Metrics] TLSClientCAFile= needs TLSCertificateFile= and "
                                    "TLSKeyFile= (client certificates are a part of TLS)", path);
        return 0;
}

int config_load(Config *c, const char *path, bool must_exist, GError **error) {
        g_autoptr(GKeyFile) kf = g_key_file_new();
        g_autoptr(GError) e = NULL;
        g_auto(GStrv) groups = NULL;
        guint64 n;
        int r;

        if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &e)) {
                if (g_error_matches(e, G_FILE_ERROR, G_FILE_ERROR_NOENT) && !must_exist)
                        return 0;
                return ev_error_set(error, EINVAL, "%s: %s", path, e->message);
        }
        groups = g_key_file_get_groups(kf, NULL);
        for (char **g = groups; *g; g++) {
                if (streq(*g, "Daemon"))
                        r = check_keys(kf, path, *g, daemon_keys, error);
                else if (streq(*g, "Limits"))
                        r = check_keys(kf, path, *g, limit_keys, error);
                else if (streq(*g, "Network"))
                        r = check_keys(kf, path, *g, network_keys, error);
                else if (streq(*g, "Images"))
                        r = check_keys(kf, path, *g, image_keys, error);
                else if (streq(*g, "Imports"))
                        r = check_keys(kf, path, *g, import_keys, error);
                else if (streq(*g, "Manifests"))
                        r = check_keys(kf, path, *g, manifest_keys, error);
                else if (streq(*g, "Events"))
                        r = check_keys(kf, path, *g, event_keys, error);
                else if (streq(*g, "Metrics"))
                        r = check_keys(kf, path, *g, metrics_keys, error);
                else if (g_str_has_prefix(*g, STORAGE_CLASS_PREFIX))
                        r = load_class(kf, path, *g, c, error);
                else if (g_str_has_prefix(*g, "HostDevice "))
                        r = hostdev_config_load(kf, path, *g, c->host_devices, error);
                else
                        r = ev_error_set(error, EINVAL,
                                         "%s: unknown section [%s] (known: [Daemon], [Events], [HostDevice NAME], "
                                         "[Images], [Imports], [Limits], [Manifests], [Metrics], [Network], "
                                         "[StorageClass NAME])", path, *g);
                if (r < 0)
                        return r;
        }
        if (g_key_file_has_key(kf, "Network", "NatNetwork", NULL))
                c->nat_network = g_key_file_get_string(kf, "Network", "NatNetwork", NULL);
        if (g_key_file_has_key(kf, "Network", "NatSubnet", NULL)) {
                c->nat_subnet = g_key_file_get_string(kf, "Network", "NatSubnet", NULL);
                g_autofree char *xml = hypervisor_nat_network_xml("check", c->nat_subnet);
                if (!xml)
                        return ev_error_set(error, EINVAL,
                                            "%s: [Network] NatSubnet=%s: expected an IPv4 network with a prefix "
                                            "of 8 to 30 bits, such as 10.0.2.0/24", path, c->nat_subnet);
        }
        if ((r = get_size(kf, path, "Images", "CacheSize", &c->image_cache_size, error)) < 0 ||
            (r = get_size(kf, path, "Images", "MaxImageSize", &c->max_image_size, error)) < 0)
                return r;
        if ((r = get_uint(kf, path, "Images", "MinimumAge", 30 * 24 * 3600, &n, error)) < 0)
                return r;
        if (r > 0)
                c->image_minimum_age = (unsigned) n;
        if ((r = load_manifests(kf, path, c, error)) < 0)
                return r;
        if ((r = get_uint(kf, path, "Events", "MaxPerNamespace", 1000000, &n, error)) < 0)
                return r;
        if (r > 0)
                c->events.max_per_namespace = (unsigned) n;
        if ((r = get_uint(kf, path, "Events", "TimeToLive", 365 * 24 * 3600, &n, error)) < 0)
                return r;
        if (r > 0)
                c->events.time_to_live = (unsigned) n;
        if ((r = load_imports(kf, path, c, error)) < 0 || (r = load_metrics(kf, path, &c->metrics, error)) < 0)
                return r;
        if (g_key_file_has_key(kf, "Network", "Bridge", NULL))
                c->bridge = g_key_file_get_string(kf, "Network", "Bridge", NULL);
        if (g_key_file_has_key(kf, "Daemon", "StateDirectory", NULL))
                c->state_dir = g_key_file_get_string(kf, "Daemon", "StateDirectory", NULL);
        if (g_key_file_has_key(kf, "Daemon", "LibvirtURI", NULL))
                c->libvirt_uri = g_key_file_get_string(kf, "Daemon", "LibvirtURI", NULL);
        if (g_key_file_has_key(kf, "Daemon", "LogLevel", NULL))
                c->log_level = g_key_file_get_string(kf, "Daemon", "LogLevel", NULL);
        if ((r = get_uint(kf, path, "Limits", "MaxDocumentSize", G_MAXUINT32, &n, error)) < 0)
                return r;
        if (r > 0)
                c->limits.max_document_size = n;
        if ((r = get_uint(kf, path, "Limits", "MaxObjectsPerApply", G_MAXUINT32, &n, error)) < 0)
                return r;
        if (r > 0)
                c->limits.max_objects_per_apply = (unsigned) n;
        if ((r = get_uint(kf, path, "Limits", "MaxObjectsPerNamespace", G_MAXUINT32, &n, error)) < 0)
                return r;
        if (r > 0)
                c->limits.max_objects_per_namespace = (unsigned) n;
        if ((r = get_uint(kf, path, "Limits", "CallsPerSecond", 1000000, &n, error)) < 0)
                return r;
        if (r > 0)
                c->calls_per_second = (unsigned) n;
        if ((r = get_uint(kf, path, "Limits", "CallBurst", 1000000, &n, error)) < 0)
                return r;
        if (r > 0)
                c->call_burst = (unsigned) n;
        return check_message_size(kf, path, c, error);
}

int config_finish(Config *c, const char *state_dir, GError **error) {
        StorageClassConfig *def = NULL;
        bool have_local = false;

        for (guint i = 0; i < c->storage_classes->len; i++) {
                StorageClassConfig *sc = c->storage_classes->pdata[i];
                have_local = have_local || streq(sc->name, "local");
                if (streq(sc->backend, "dir") && !sc->path)
                        sc->path = g_build_filename(state_dir, "volumes", sc->name, NULL);
                if (sc->is_default) {
                        if (def)
                                return ev_error_set(error, EINVAL, "storage classes %s and %s are both Default=true",
                                                    def->name, sc->name);
                        def = sc;
                }
        }
        if (!have_local) {
                StorageClassConfig *local = g_new0(StorageClassConfig, 1);
                local->name = g_strdup("local");
                local->backend = g_strdup("dir");
                local->path = g_build_filename(state_dir, "volumes", "local", NULL);
                g_ptr_array_insert(c->storage_classes, 0, local);
        }
        if (!def)
                for (guint i = 0; i < c->storage_classes->len; i++) {
                        StorageClassConfig *sc = c->storage_classes->pdata[i];
                        if (streq(sc->name, "local"))
                                def = sc;
                }
        def->is_default = true;
        /* the default first */
        for (guint i = 0; i < c->storage_classes->len; i++)
                if (c->storage_classes->pdata[i] == def && i > 0) {
                        c->storage_classes->pdata[i] = c->storage_classes->pdata[0];
                        c->storage_classes->pdata[0] = def;
                }
        return 0;
}
