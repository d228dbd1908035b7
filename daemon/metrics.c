/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The metrics endpoint's collection: the handshake between the HTTP
 * thread and the main loop, and the daemon's own figures. */
#include <dirent.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "config.h"

#include "hypervisor.h"
#include "imagecache.h"
#include "import-slots.h"
#include "metrics-consoles.h"
#include "metrics-domain.h"
#include "metrics-transitions.h"
#include "metrics-objects.h"
#include "log.h"
#include "metrics.h"
#include "services.h"
#include "util.h"

typedef struct Collection Collection;

enum { PART_MAIN, PART_HOST, PART_DOMAINS, COLLECTION_PARTS };

struct Metrics {
        sd_event *event;
        Model *model;
        CallStats *calls;
        PhaseTransitions *transitions;  /* watched from the start, rendered by collections */
        unsigned cache_seconds, timeout;
        MetricsHttp *http;
        Hypervisor *hv;                 /* a connection of its own: scrapes never queue behind VM work */
        /* shared with the HTTP thread, under lock */
        GMutex lock;
        GCond published;
        GBytes *text;
        gint64 text_at;                 /* monotonic µs */
        uint64_t generation;            /* texts published */
        bool requested;                 /* the main loop was asked for a text */
        bool closing;
        /* main loop */
        int wake_fd;                    /* eventfd: the HTTP thread wants a text */
        sd_event_source *wake_source;
        Collection *running;
        sd_event_source *deadline;      /* a collection's parts must be in by then */
        unsigned stats_out;             /* domain statistics calls of late collections, still running */
        uint64_t collections;
        double last_duration;           /* seconds the last collection took */
};

/* One collection: parts run on the main loop, a libvirt thread and a
 * worker; the text is rendered when the last part is in. */
struct Collection {
        Metrics *m;
        gint64 started;
        unsigned parts;                 /* still out */
        bool late;                      /* published without the parts still out: they are dropped */
        PromSet *sets[COLLECTION_PARTS];  /* each part's families (no family in two) */
        GHashTable *vmis;               /* domain name -> MetricsVmi: the running instances */
};

typedef struct HostJob {
        Collection *c;
        GPtrArray *backends;            /* StorageBackend (borrowed: they live as long as the daemon) */
        ConsoleSockets *consoles;       /* the running instances' console sockets */
        PromSet *set;                   /* filled on the worker, then the collection's */
} HostJob;

void metrics_settings_clear(MetricsSettings *s) {
        g_clear_pointer(&s->listen, g_free);
        g_clear_pointer(&s->token_file, g_free);
        g_clear_pointer(&s->tls_cert_file, g_free);
        g_clear_pointer(&s->tls_key_file, g_free);
        g_clear_pointer(&s->tls_client_ca_file, g_free);
}

/* --- the HTTP thread's side --- */

GBytes *metrics_text(Metrics *m) {
        GBytes *text = NULL;
        uint64_t one = 1;

        g_mutex_lock(&m->lock);
        gint64 now = g_get_monotonic_time();
        if (m->text && now - m->text_at < (gint64) m->cache_seconds * G_USEC_PER_SEC) {
                text = g_bytes_ref(m->text);
                g_mutex_unlock(&m->lock);
                return text;
        }
        if (!m->requested) {
                m->requested = true;
                if (write(m->wake_fd, &one, sizeof one) < 0)
                        g_warning("cannot ask for metrics: %s", g_strerror(errno));
        }
        uint64_t seen = m->generation;
        gint64 deadline = now + (gint64) m->timeout * G_USEC_PER_SEC;
        while (m->generation == seen && !m->closing)
                if (!g_cond_wait_until(&m->published, &m->lock, deadline))
                        break;
        if (m->generation != seen && m->text)
                text = g_bytes_ref(m->text);
        g_mutex_unlock(&m->lock);
        return text;
}

/* --- the daemon's own figures --- */

static gint compare_strings(gconstpointer a, gconstpointer b, gpointer unused) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static void collect_objects(Model *model, PromSet *set) {
        g_autoptr(GPtrArray) all = model_list(model, NULL, NULL, NULL);
        g_autoptr(GHashTable) counts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

        prom_family(set, "edgevirt_objects", PROM_GAUGE, "Stored objects, by kind and namespace.");
        for (guint i = 0; i < all->len; i++) {
                Object *o = all->pdata[i];
                char *key = g_strconcat(o->kind->kind, "\n", o->namespace, NULL);
                guint n = GPOINTER_TO_UINT(g_hash_table_lookup(counts, key));
                g_hash_table_replace(counts, key, GUINT_TO_POINTER(n + 1));
        }
        /* sorted, so that the text is stable between scrapes */
        g_autofree gpointer *keys = g_hash_table_get_keys_as_array(counts, NULL);
        guint len = g_hash_table_size(counts);
        g_qsort_with_data(keys, (gint) len, sizeof *keys, (GCompareDataFunc) compare_strings, NULL);
        for (guint i = 0; i < len; i++) {
                g_auto(GStrv) parts = g_strsplit(keys[i], "\n", 2);
                prom_sample(set, "edgevirt_objects", "edgevirt_objects",
                            (double) GPOINTER_TO_UINT(g_hash_table_lookup(counts, keys[i])),
                            "kind", parts[0], "namespace", parts[1], NULL);
        }
}

static void collect_services(Services *s, PromSet *set) {
        uint64_t bytes = 0;
        GPtrArray *entries = s->images ? imagecache_entries(s->images) : NULL;

        for (guint i = 0; entries && i < entries->len; i++)
                bytes += ((ImageCacheEntry *) entries->pdata[i])->disk_bytes;
        prom_family(set, "edgevirt_image_cache_bytes", PROM_GAUGE,
                    "Bytes the containerDisk image cache takes on disk.");
        prom_sample(set, "edgevirt_image_cache_bytes", "edgevirt_image_cache_bytes", (double) bytes, NULL);
        prom_family(set, "edgevirt_image_cache_images", PROM_GAUGE, "Images in the containerDisk image cache.");
        prom_sample(set, "edgevirt_image_cache_images", "edgevirt_image_cache_images",
                    entries ? (double) entries->len : 0, NULL);
        if (!s->slots)
                return;
        prom_family(set, "edgevirt_importers_running", PROM_GAUGE,
                    "edgevirt-importer processes running (imports, uploads, image cache pulls).");
        prom_sample(set, "edgevirt_importers_running", "edgevirt_importers_running",
                    (double) import_slots_running(s->slots, NULL), NULL);
        prom_family(set, "edgevirt_importers_waiting", PROM_GAUGE, "Imports waiting for an importer slot.");
        prom_sample(set, "edgevirt_importers_waiting", "edgevirt_importers_waiting",
                    (double) import_slots_waiting(s->slots, NULL), NULL);
        prom_family(set, "edgevirt_importers_max", PROM_GAUGE,
                    "edgevirt-importer processes allowed at once ([Imports] MaxImports=).");
        prom_sample(set, "edgevirt_importers_max", "edgevirt_importers_max",
                    (double) import_slots_max_total(s->slots), NULL);
}

static void collect_self(Metrics *m, PromSet *set) {
        prom_family(set, "edgevirt_build_info", PROM_GAUGE, "The running edgevirtd's version (value 1).");
        prom_sample(set, "edgevirt_build_info", "edgevirt_build_info", 1, "version", PACKAGE_VERSION, NULL);
        prom_family(set, "edgevirt_metrics_collections_total", PROM_COUNTER,
                    "Collections of the metrics (each one libvirt domain statistics call); scrapes within "
                    "[Metrics] CacheSeconds= of one share it.");
        prom_sample(set, "edgevirt_metrics_collections_total", "edgevirt_metrics_collections_total",
                    (double) m->collections, NULL);
        if (m->collections > 1) {
                prom_family(set, "edgevirt_metrics_collection_duration_seconds", PROM_GAUGE,
                            "Seconds the previous collection took.");
                prom_sample(set, "edgevirt_metrics_collection_duration_seconds",
                            "edgevirt_metrics_collection_duration_seconds", m->last_duration, NULL);
        }
        if (m->calls)
                callstats_render(m->calls, set);
}

/* --- the worker's part: storage capacity and the process --- */

static bool read_u64_fields(const char *path, const char *after, unsigned first, unsigned count, uint64_t *ret) {
        g_autofree char *text = NULL;
        const char *p;

        if (!g_file_get_contents(path, &text, NULL, NULL))
                return false;
        p = after ? strrchr(text, *after) : text;   /* /proc/self/stat: past the command's ")" */
        if (!p)
                return false;
        p += after ? 1 : 0;
        g_auto(GStrv) f = g_strsplit_set(g_strstrip((char *) p), " ", -1);
        if (g_strv_length(f) < first + count)
                return false;
        for (unsigned i = 0; i < count; i++)
                ret[i] = g_ascii_strtoull(f[first + i], NULL, 10);
        return true;
}

static unsigned count_fds(void) {
        g_autoptr(GDir) dir = g_dir_open("/proc/self/fd", 0, NULL);
        unsigned n = 0;

        while (dir && g_dir_read_name(dir))
                n++;
        return n > 0 ? n - 1 : 0;      /* less the directory's own */
}

static uint64_t boot_time(void) {
        g_autofree char *text = NULL;
        const char *p;

        if (!g_file_get_contents("/proc/stat", &text, NULL, NULL) || !(p = strstr(text, "\nbtime ")))
                return 0;
        return g_ascii_strtoull(p + 7, NULL, 10);
}

static void collect_process(PromSet *set) {
        double page = (double) sysconf(_SC_PAGESIZE), tick = (double) sysconf(_SC_CLK_TCK);
        uint64_t statm[2], times[2], start;
        struct rlimit rl;

        if (read_u64_fields("/proc/self/statm", NULL, 0, 2, statm)) {
                prom_family(set, "process_resident_memory_bytes", PROM_GAUGE, "Resident memory size in bytes.");
                prom_sample(set, "process_resident_memory_bytes", "process_resident_memory_bytes",
                            (double) statm[1] * page, NULL);
                prom_family(set, "process_virtual_memory_bytes", PROM_GAUGE, "Virtual memory size in bytes.");
                prom_sample(set, "process_virtual_memory_bytes", "process_virtual_memory_bytes",
                            (double) statm[0] * page, NULL);
        }
        /* /proc/self/stat past ")": state is field 0, utime 11, stime 12, starttime 19 */
        if (read_u64_fields("/proc/self/stat", ")", 11, 2, times)) {
                prom_family(set, "process_cpu_seconds_total", PROM_COUNTER,
                            "Total user and system CPU time spent in seconds.");
                prom_sample(set, "process_cpu_seconds_total", "process_cpu_seconds_total",
                            (double) (times[0] + times[1]) / tick, NULL);
        }
        if (read_u64_fields("/proc/self/stat", ")", 19, 1, &start) && boot_time() > 0) {
                prom_family(set, "process_start_time_seconds", PROM_GAUGE,
                            "Start time of the process since unix epoch in seconds.");
                prom_sample(set, "process_start_time_seconds", "process_start_time_seconds",
                            (double) boot_time() + (double) start / tick, NULL);
        }
        prom_family(set, "process_open_fds", PROM_GAUGE, "Number of open file descriptors.");
        prom_sample(set, "process_open_fds", "process_open_fds", (double) count_fds(), NULL);
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
                prom_family(set, "process_max_fds", PROM_GAUGE, "Maximum number of open file descriptors.");
                prom_sample(set, "process_max_fds", "process_max_fds", (double) rl.rlim_cur, NULL);
        }
}

static void collect_storage(GPtrArray *backends, PromSet *set) {
        static const struct { const char *name, *help; } f[] = {
                { "edgevirt_storageclass_capacity_bytes", "Bytes a storage class may hand out." },
                { "edgevirt_storageclass_allocated_bytes", "Bytes of a storage class' volumes (their sizes)." },
                { "edgevirt_storageclass_used_bytes", "Bytes a storage class' volumes take (written)." },
        };

        for (size_t i = 0; i < G_N_ELEMENTS(f); i++)
                prom_family(set, f[i].name, PROM_GAUGE, f[i].help);
        for (guint i = 0; i < backends->len; i++) {
                StorageBackend *b = backends->pdata[i];
                g_autoptr(GError) e = NULL;
                StorageCapacity cap = {};
                int r;

                g_mutex_lock(&b->lock);         /* not amid a creation's check */
                r = b->ops->capacity(b, &cap, &e);
                g_mutex_unlock(&b->lock);
                if (r < 0) {
                        log_ref(G_LOG_LEVEL_DEBUG, "StorageClass", "", b->config->name, NULL,
                                "metrics: no capacity: %s", e->message);
                        continue;
                }
                const uint64_t v[] = { cap.total, cap.allocated, cap.used };
                for (size_t k = 0; k < G_N_ELEMENTS(f); k++)
                        prom_sample(set, f[k].name, f[k].name, (double) v[k], "storageclass", b->config->name, NULL);
        }
}

static void host_work(void *data) {
        HostJob *j = data;
        collect_storage(j->backends, j->set);
        collect_process(j->set);
        console_sockets_collect(j->consoles, j->set);
}

/* --- the main loop's side --- */

static void publish(Metrics *m, GBytes *text) {
        g_mutex_lock(&m->lock);
        g_clear_pointer(&m->text, g_bytes_unref);
        m->text = text;
        m->text_at = g_get_monotonic_time();
        m->generation++;
        m->requested = false;
        g_cond_broadcast(&m->published);
        g_mutex_unlock(&m->lock);
}

static void collection_free(Collection *c) {
        for (size_t i = 0; i < COLLECTION_PARTS; i++)
                prom_set_free(c->sets[i]);
        g_hash_table_unref(c->vmis);
        g_free(c);
}

static GBytes *render(Collection *c) {
        GString *text = g_string_new(NULL);

        for (size_t i = 0; i < COLLECTION_PARTS; i++)
                if (c->sets[i]) {
                        g_autoptr(GBytes) part = prom_set_render(c->sets[i]);
                        gsize len;
                        const char *data = g_bytes_get_data(part, &len);
                        g_string_append_len(text, data, (gssize) len);
                }
        return g_string_free_to_bytes(text);
}

static PromSet *libvirt_up(bool up) {
        PromSet *set = prom_set_new();

        prom_family(set, "edgevirt_libvirt_up", PROM_GAUGE,
                    "Whether the collection's libvirt domain statistics call succeeded (1) or failed or was late (0).");
        prom_sample(set, "edgevirt_libvirt_up", "edgevirt_libvirt_up", up, NULL);
        return set;
}

static void collection_part_done(Collection *c) {
        Metrics *m = c->m;

        if (--c->parts > 0)
                return;
        if (c->late) {          /* published already */
                collection_free(c);
                return;
        }
        m->last_duration = (double) (g_get_monotonic_time() - c->started) / G_USEC_PER_SEC;
        m->running = NULL;
        (void) sd_event_source_set_enabled(m->deadline, SD_EVENT_OFF);
        g_autoptr(GBytes) text = render(c);
        collection_free(c);
        publish(m, g_bytes_ref(text));
}

/* A part not in by the deadline (libvirt hung on the statistics call — its
 * keepalive notices a dead libvirtd, not a stuck one — or the storage slow):
 * what is in is published, libvirt counted as down; the late parts are
 * dropped when they come, and while a statistics call is still out the
 * next collections do not queue another behind it. */
static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        Metrics *m = userdata;
        Collection *c = m->running;

        if (!c)
                return 0;
        g_warning("metrics: a collection is not complete after %u s (libvirt's domain statistics or the "
                  "storage figures): published without what is late", m->timeout / 2 ? m->timeout / 2 : 1);
        if (!c->sets[PART_DOMAINS]) {
                c->sets[PART_DOMAINS] = libvirt_up(false);
                m->stats_out++;
        }
        c->late = true;
        m->running = NULL;
        m->last_duration = (double) (g_get_monotonic_time() - c->started) / G_USEC_PER_SEC;
        publish(m, render(c));
        return 0;
}

static void host_done(void *data) {
        HostJob *j = data;
        j->c->sets[PART_HOST] = j->set;
        g_ptr_array_unref(j->backends);
        console_sockets_free(j->consoles);
        Collection *c = j->c;
        g_free(j);
        collection_part_done(c);
}

static void domains_done(HvOp *op) {
        Collection *c = op->userdata;
        PromSet *set;

        if (c->late && c->sets[PART_DOMAINS]) {         /* published without it */
                c->m->stats_out--;
                collection_part_done(c);
                return;
        }
        set = libvirt_up(op->r >= 0);
        if (op->r < 0)
                g_debug("metrics: domain statistics: %s", op->error);
        metrics_collect_domains(op->stats, c->vmis, set);
        c->sets[PART_DOMAINS] = set;
        collection_part_done(c);
}

static void collect(Metrics *m) {
        Services *s = model_services(m->model);
        Collection *c = g_new0(Collection, 1);
        HostJob *j = g_new0(HostJob, 1);

        c->m = m;
        c->started = g_get_monotonic_time();
        c->parts = 3;
        m->running = c;
        m->collections++;
        c->sets[PART_MAIN] = prom_set_new();
        collect_self(m, c->sets[PART_MAIN]);
        collect_objects(m->model, c->sets[PART_MAIN]);
        collect_services(s, c->sets[PART_MAIN]);
        phase_transitions_render(m->transitions, c->sets[PART_MAIN]);
        c->vmis = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify) metrics_vmi_free);
        metrics_collect_kubevirt(m->model, c->sets[PART_MAIN], c->vmis);
        metrics_collect_cdi(m->model, c->sets[PART_MAIN]);
        j->c = c;
        j->backends = g_ptr_array_new();       /* borrowed (a copy would take their free function) */
        for (guint i = 0; i < s->backends->len; i++)
                g_ptr_array_add(j->backends, s->backends->pdata[i]);
        j->consoles = console_sockets_new(m->model);
        j->set = prom_set_new();
        worker_submit(s->worker, host_work, host_done, j);
        if (m->stats_out > 0) {         /* one is stuck: none queued behind it */
                c->sets[PART_DOMAINS] = libvirt_up(false);
                c->parts--;
        } else
                hypervisor_submit(m->hv, hv_op_new(HV_OP_DOMAIN_STATS, NULL, domains_done, c));
        /* half the scrapers' wait: they get what is in before they give up */
        (void) sd_event_source_set_time_relative(m->deadline, (uint64_t) MAX(m->timeout / 2, 1u) * G_USEC_PER_SEC);
        (void) sd_event_source_set_enabled(m->deadline, SD_EVENT_ONESHOT);
        collection_part_done(c);        /* the main loop's part */
}

static int on_wake(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        Metrics *m = userdata;
        uint64_t n;

        if (read(fd, &n, sizeof n) < 0 && errno != EAGAIN)
                g_warning("metrics: cannot read the wake-up: %s", g_strerror(errno));
        if (!m->running)
                collect(m);     /* else the running one answers */
        return 0;
}

static int read_token(const char *path, char **ret, GError **error) {
        g_autofree char *text = NULL;
        g_autoptr(GError) e = NULL;

        if (!g_file_get_contents(path, &text, NULL, &e))
                return ev_error_set(error, EINVAL, "[Metrics] BearerTokenFile=%s: %s", path, e->message);
        g_strstrip(text);
        if (strlen(text) < 16 || strpbrk(text, " \t\r\n"))
                return ev_error_set(error, EINVAL, "[Metrics] BearerTokenFile=%s: the token must be one word of "
                                    "at least 16 characters", path);
        *ret = g_steal_pointer(&text);
        return 0;
}

int metrics_new(sd_event *event, Model *model, CallStats *calls, const char *libvirt_uri,
                const MetricsSettings *settings, int listen_fd, Metrics **ret, GError **error) {
        g_autoptr(Metrics) m = g_new0(Metrics, 1);
        g_autofree char *token = NULL;
        int r;

        g_mutex_init(&m->lock);
        g_cond_init(&m->published);
        m->wake_fd = -1;
        m->event = event;
        m->model = model;
        m->calls = calls;
        m->cache_seconds = settings->cache_seconds;
        m->timeout = settings->timeout;
        if (settings->token_file && read_token(settings->token_file, &token, error) < 0)
                return -EINVAL;
        m->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (m->wake_fd < 0)
                return ev_error_set(error, errno, "metrics: cannot make an eventfd: %s", g_strerror(errno));
        r = sd_event_add_io(event, &m->wake_source, m->wake_fd, EPOLLIN, on_wake, m);
        if (r < 0)
                return ev_error_set(error, -r, "metrics: cannot watch the eventfd: %s", g_strerror(-r));
        r = sd_event_add_time_relative(event, &m->deadline, CLOCK_MONOTONIC, UINT64_MAX / 2, 0, on_deadline, m);
        if (r >= 0)
                r = sd_event_source_set_enabled(m->deadline, SD_EVENT_OFF);
        if (r < 0)
                return ev_error_set(error, -r, "metrics: cannot make a timer: %s", g_strerror(-r));
        r = hypervisor_new_calls_only(event, libvirt_uri, 1, &m->hv);
        if (r < 0)
                return ev_error_set(error, -r, "metrics: cannot reach libvirt: %s", g_strerror(-r));
        m->transitions = phase_transitions_new(model);
        r = metrics_http_start(m, settings, token, listen_fd, &m->http, error);
        if (r < 0)
                return r;
        *ret = g_steal_pointer(&m);
        return 0;
}

Metrics *metrics_free(Metrics *m) {
        if (!m)
                return NULL;
        g_mutex_lock(&m->lock);
        m->closing = true;
        g_cond_broadcast(&m->published);
        g_mutex_unlock(&m->lock);
        metrics_http_stop(m->http);
        hypervisor_free(m->hv);
        phase_transitions_free(m->transitions);
        /* a collection still out stays: its parts' done functions no
         * longer run once the loop is over */
        sd_event_source_disable_unref(m->wake_source);
        sd_event_source_disable_unref(m->deadline);
        if (m->wake_fd >= 0)
                close(m->wake_fd);
        g_clear_pointer(&m->text, g_bytes_unref);
        g_mutex_clear(&m->lock);
        g_cond_clear(&m->published);
        g_free(m);
        return NULL;
}
