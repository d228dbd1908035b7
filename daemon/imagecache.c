/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The image cache.  On disk, under STATE/images:
 *
 *   HEX.img    the disk of the manifest sha256:HEX, a sparse raw file of
 *              the image's virtual size, written by edgevirt-importer
 *              --cache (which pulls into .HEX.PID.partial and renames)
 *   HEX.json   what the daemon knows of it: references, pulled, lastUsed
 *
 * In memory: the entries, which reference resolved to which digest (and
 * when it was last resolved against the registry, for imagePullPolicy
 * Always), the uses of each digest (instances' overlays, imports reading
 * it), the pulls running (one per reference, any number of waiters) and
 * the pulls that failed (backing off, 10 s doubling to 5 min, as the
 * kubelet's ImagePullBackOff). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "imagecache.h"
#include "import-slots.h"
#include "importer-run.h"
#include "json-read.h"
#include "json-util.h"
#include "secret.h"
#include "util.h"

#define BACKOFF_MIN_USEC (10 * G_USEC_PER_SEC)
#define BACKOFF_MAX_USEC (300 * G_USEC_PER_SEC)
#define SCHEME "docker://"

typedef struct Waiter {
        ImagePullDone done;
        void *userdata;
} Waiter;

typedef struct Pull {
        ImageCache *c;
        char *key;                      /* ref, or ref and the files asked (a kernel boot's): pulls, failures */
        char *ref;
        GStrv files;                    /* NULL, or a kernel boot's files (imagecache_want_files) */
        char *digest;                   /* held in use once the importer named it */
        char *scratch;
        char *user, *password;          /* for the registry, until the importer starts */
        ImportTicket *ticket;           /* waiting for an import slot */
        ImporterRun *run;
        GArray *waiters;                /* Waiter */
} Pull;

typedef struct Failure {
        char *message;
        gint64 retry_at;                /* monotonic µs */
        unsigned count;
} Failure;

struct ImageCache {
        Services *s;
        char *dir;
        uint64_t max_bytes, max_image_size;
        gint64 minimum_age;             /* µs */
        GHashTable *entries;            /* digest -> ImageCacheEntry */
        GHashTable *refs;               /* reference -> digest */
        GHashTable *resolved;           /* reference -> monotonic µs it was last resolved */
        GHashTable *users;              /* digest -> count */
        GHashTable *pulls;              /* reference (or pull_key's) -> Pull */
        GHashTable *failures;           /* reference (or pull_key's) -> Failure */
        sd_event_source *retry;
        sd_event_source *collect;       /* when a young entry comes of age */
        void (*changed)(void *data);
        void *changed_data;
        unsigned serial;
};

static void entry_free(ImageCacheEntry *e) {
        if (!e)
                return;
        g_free(e->digest);
        g_free(e->path);
        g_ptr_array_unref(e->references);
        g_free(e);
}

static void failure_free(Failure *f) {
        g_free(f->message);
        g_free(f);
}

static const char *hex_of(const char *digest) {
        return digest + strlen("sha256:");
}

static bool valid_digest(const char *digest) {
        if (!g_str_has_prefix(digest, "sha256:"))
                return false;
        const char *hex = hex_of(digest);
        return strlen(hex) == 64 && strspn(hex, "0123456789abcdef") == 64;
}

static void notify(ImageCache *c) {
        if (c->changed)
                c->changed(c->changed_data);
}

/* --- the metadata file, written on the worker pool --- */

typedef struct FileWrite {
        char *path;
        char *text;
} FileWrite;

static void write_work(void *data) {
        FileWrite *w = data;
        g_autoptr(GError) e = NULL;
        if (!g_file_set_contents_full(w->path, w->text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, &e))
                g_warning("image cache: %s", e->message);
}

static void write_done(void *data) {
        FileWrite *w = data;
        g_free(w->path);
        g_free(w->text);
        g_free(w);
}

static void save(ImageCache *c, ImageCacheEntry *e) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "digest");
        json_builder_add_string_value(b, e->digest);
        json_builder_set_member_name(b, "references");
        json_builder_begin_array(b);
        for (guint i = 0; i < e->references->len; i++)
                json_builder_add_string_value(b, e->references->pdata[i]);
        json_builder_end_array(b);
        json_builder_set_member_name(b, "pulled");
        json_builder_add_int_value(b, e->pulled);
        json_builder_set_member_name(b, "lastUsed");
        json_builder_add_int_value(b, e->last_used);
        json_builder_end_object(b);
        g_autoptr(JsonNode) root = json_builder_get_root(b);

        FileWrite *w = g_new0(FileWrite, 1);
        w->path = g_strdup_printf("%s/%s.json", c->dir, hex_of(e->digest));
        w->text = json_text(root, TRUE);
        worker_submit(c->s->worker, write_work, write_done, w);
}

static void remove_work(void *data) {
        char *hex_path = data;          /* DIR/HEX */
        g_autofree char *img = g_strdup_printf("%s.img", hex_path), *meta = g_strdup_printf("%s.json", hex_path);
        unlink(img);
        unlink(meta);
        /* a kernel boot's files extracted from the same image go with it */
        g_autofree char *dir = g_path_get_dirname(hex_path), *hex = g_path_get_basename(hex_path);
        g_autofree char *boot = g_build_filename(dir, "boot", hex, NULL);
        ev_remove_tree(boot);
}

/* --- entries --- */

static uint64_t disk_bytes(const char *path, uint64_t *ret_size) {
        struct stat st;
        if (stat(path, &st) < 0)
                return 0;
        if (ret_size)
                *ret_size = (uint64_t) st.st_size;
        return (uint64_t) st.st_blocks * 512;
}

static void add_reference(ImageCache *c, ImageCacheEntry *e, const char *ref) {
        if (!ref)
                return;
        for (guint i = 0; i < e->references->len; i++)
                if (streq(e->references->pdata[i], ref)) {
                        g_ptr_array_remove_index(e->references, i);
                        break;
                }
        g_ptr_array_add(e->references, g_strdup(ref));
        /* a reference names one digest: an older entry loses it */
        GHashTableIter it;
        ImageCacheEntry *other;
        g_hash_table_iter_init(&it, c->entries);
        while (g_hash_table_iter_next(&it, NULL, (void **) &other))
                if (other != e && g_ptr_array_find_with_equal_func(other->references, ref, g_str_equal, NULL)) {
                        guint idx;
                        g_ptr_array_find_with_equal_func(other->references, ref, g_str_equal, &idx);
                        g_ptr_array_remove_index(other->references, idx);
                        save(c, other);
                }
        g_hash_table_replace(c->refs, g_strdup(ref), g_strdup(e->digest));
}

static ImageCacheEntry *entry_new(ImageCache *c, const char *digest) {
        ImageCacheEntry *e = g_new0(ImageCacheEntry, 1);
        e->digest = g_strdup(digest);
        e->path = g_strdup_printf("%s/%s.img", c->dir, hex_of(digest));
        e->references = g_ptr_array_new_with_free_func(g_free);
        e->disk_bytes = disk_bytes(e->path, &e->virtual_size);
        g_hash_table_replace(c->entries, e->digest, e);
        return e;
}

static void remove_entry(ImageCache *c, ImageCacheEntry *e) {
        for (guint i = 0; i < e->references->len; i++)
                if (streq_ptr(g_hash_table_lookup(c->refs, e->references->pdata[i]), e->digest))
                        g_hash_table_remove(c->refs, e->references->pdata[i]);
        worker_submit(c->s->worker, remove_work, g_free, g_strdup_printf("%s/%s", c->dir, hex_of(e->digest)));
        g_message("image cache: removed %s", e->digest);
        g_hash_table_remove(c->entries, e->digest);
}

unsigned imagecache_users(ImageCache *c, const char *digest) {
        return GPOINTER_TO_UINT(g_hash_table_lookup(c->users, digest));
}

static GPtrArray *all_entries(ImageCache *c) {
        GPtrArray *all = g_ptr_array_new();
        GHashTableIter it;
        void *e;
        g_hash_table_iter_init(&it, c->entries);
        while (g_hash_table_iter_next(&it, NULL, &e))
                g_ptr_array_add(all, e);
        return all;
}

static gint by_last_used(gconstpointer a, gconstpointer b) {
        const ImageCacheEntry *x = *(ImageCacheEntry *const *) a, *y = *(ImageCacheEntry *const *) b;
        return x->last_used < y->last_used ? -1 : x->last_used > y->last_used;
}

/* Collect unused entries, least recently used first, while the cache
 * holds more than its size.  Entries in use stay, even past it, and so do
 * entries used within the minimum age (a timer comes back for them). */
static void collect(ImageCache *c) {
        g_autoptr(GPtrArray) all = all_entries(c);
        uint64_t total = 0;
        gint64 now = g_get_real_time(), next = G_MAXINT64;

        for (guint i = 0; i < all->len; i++)
                total += ((ImageCacheEntry *) all->pdata[i])->disk_bytes;
        g_ptr_array_sort(all, by_last_used);
        for (guint i = 0; i < all->len && total > c->max_bytes; i++) {
                ImageCacheEntry *e = all->pdata[i];
                if (imagecache_users(c, e->digest) > 0)
                        continue;
                if (e->last_used + c->minimum_age > now) {
                        next = MIN(next, e->last_used + c->minimum_age);
                        continue;
                }
                total -= MIN(total, e->disk_bytes);
                remove_entry(c, e);
        }
        if (next != G_MAXINT64) {
                sd_event_source_set_time_relative(c->collect, (uint64_t) (next - now) + 1);
                sd_event_source_set_enabled(c->collect, SD_EVENT_ONESHOT);
        }
}

static int on_collect(sd_event_source *s, uint64_t usec, void *userdata) {
        collect(userdata);
        return 0;
}

void imagecache_use(ImageCache *c, const char *digest, bool in_use) {
        unsigned n = imagecache_users(c, digest);
        ImageCacheEntry *e = g_hash_table_lookup(c->entries, digest);

        if (in_use)
                n++;
        else if (n > 0)
                n--;
        if (n)
                g_hash_table_replace(c->users, g_strdup(digest), GUINT_TO_POINTER(n));
        else
                g_hash_table_remove(c->users, digest);
        if (e) {
                e->last_used = g_get_real_time();
                save(c, e);
        }
        if (!n)
                collect(c);
}

char *imagecache_importer_line(ImageCache *c, const char *line, const char *ref) {
        char digest[80];
        guint64 size;

        if (sscanf(line, "manifest %79s", digest) == 1 && valid_digest(digest)) {
                if (ref) {
                        g_hash_table_replace(c->resolved, g_strdup(ref),
                                             g_memdup2(&(gint64) { g_get_monotonic_time() }, sizeof(gint64)));
                        g_hash_table_replace(c->refs, g_strdup(ref), g_strdup(digest));
                }
                imagecache_use(c, digest, true);
                return g_strdup(digest);
        }
        if (sscanf(line, "cached %79s %" G_GUINT64_FORMAT, digest, &size) == 2 && valid_digest(digest)) {
                ImageCacheEntry *e = entry_new(c, digest);
                e->pulled = e->last_used = g_get_real_time();
                add_reference(c, e, ref);
                save(c, e);
                g_message("image cache: pulled %s as %s (%" G_GUINT64_FORMAT " bytes)", ref ? ref : "?", digest, size);
                collect(c);
        } else if (sscanf(line, "cache-hit %79s", digest) == 1 && valid_digest(digest)) {
                ImageCacheEntry *e = g_hash_table_lookup(c->entries, digest);
                if (!e)         /* there, but not known to us (copied in?): take it */
                        e = entry_new(c, digest);
                e->last_used = g_get_real_time();
                add_reference(c, e, ref);
                save(c, e);
        }
        return NULL;
}

bool imagecache_archive_line(ImageCache *c, const char *line, GPtrArray *loaded) {
        g_auto(GStrv) w = g_strsplit(line, " ", -1);
        guint64 size;

        if (g_strv_length(w) < 4 || !streq(w[0], "loaded") || !valid_digest(w[1]) ||
            !g_ascii_string_to_unsigned(w[2], 10, 0, G_MAXUINT64, &size, NULL))
                return false;
        ImageCacheEntry *e = g_hash_table_lookup(c->entries, w[1]);
        if (!e) {
                e = entry_new(c, w[1]);
                e->pulled = g_get_real_time();
        }
        e->last_used = g_get_real_time();
        for (char **name = w + 3; *name; name++) {
                g_autofree char *ref = imagecache_reference(*name);
                add_reference(c, e, ref);
                g_hash_table_remove(c->failures, ref);
                g_ptr_array_add(loaded, g_strdup(ref));
                g_ptr_array_add(loaded, g_strdup(e->digest));
        }
        save(c, e);
        g_message("image cache: loaded %s (%" G_GUINT64_FORMAT " bytes) from an archive", e->digest, size);
        notify(c);
        return true;
}

ImageCacheEntry *imagecache_lookup(ImageCache *c, const char *name) {
        const char *digest = g_hash_table_lookup(c->refs, name);
        return g_hash_table_lookup(c->entries, digest ? digest : name);
}

Services *imagecache_services(ImageCache *c) {
        return c->s;
}

uint64_t imagecache_max_image_size(ImageCache *c) {
        return c->max_image_size;
}

/* --- pulls --- */

/* A pull's name: the reference, with a kernel boot's files after it. */
static char *pull_key(const char *ref, const char *const *files) {
        g_autofree char *joined = files ? g_strjoinv("\n", (char **) files) : NULL;
        return files ? g_strdup_printf("%s\n%s", ref, joined) : g_strdup(ref);
}

char *imagecache_file_path(ImageCache *c, const char *digest, const char *path) {
        g_autofree char *sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, path + (path[0] == '/'), -1);
        return g_strdup_printf("%s/boot/%s/%.32s", c->dir, hex_of(digest), sum);
}

static bool files_there(ImageCache *c, const char *digest, const char *const *files) {
        for (const char *const *f = files; *f; f++) {
                g_autofree char *path = imagecache_file_path(c, digest, *f);
                if (access(path, R_OK) < 0)
                        return false;
        }
        return true;
}

static void pull_free(Pull *p) {
        importer_run_free(p->run);
        import_ticket_free(p->ticket);
        g_free(p->user);
        if (p->password)
                explicit_bzero(p->password, strlen(p->password));
        g_free(p->password);
        if (p->digest)
                imagecache_use(p->c, p->digest, false);
        if (p->scratch)
                worker_submit(p->c->s->worker, ev_remove_tree, g_free, p->scratch);
        g_free(p->digest);
        g_free(p->ref);
        g_free(p->key);
        g_strfreev(p->files);
        g_array_unref(p->waiters);
        g_free(p);
}

static void pull_line(const char *line, void *userdata) {
        Pull *p = userdata;
        char *digest = imagecache_importer_line(p->c, line, p->ref);
        if (digest && !p->digest)
                p->digest = digest;
        else
                g_free(digest);
}

/* Wake at the next end of a back-off: instances waiting on it try again. */
static void arm_retry(ImageCache *c) {
        GHashTableIter it;
        Failure *f;
        gint64 now = g_get_monotonic_time(), next = G_MAXINT64;

        g_hash_table_iter_init(&it, c->failures);
        while (g_hash_table_iter_next(&it, NULL, (void **) &f))
                if (f->retry_at > now)
                        next = MIN(next, f->retry_at);
        if (next == G_MAXINT64)
                return;
        sd_event_source_set_time(c->retry, (uint64_t) next);
        sd_event_source_set_enabled(c->retry, SD_EVENT_ONESHOT);
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        ImageCache *c = userdata;
        arm_retry(c);
        notify(c);
        return 0;
}

static void pull_exit(int code, const char *errors, void *userdata) {
        Pull *p = userdata;
        ImageCache *c = p->c;
        g_autoptr(GError) e = NULL;

        g_hash_table_steal(c->pulls, p->key);
        if (code == 0 && p->digest && (p->files ? files_there(c, p->digest, (const char *const *) p->files) :
                                       g_hash_table_contains(c->entries, p->digest)))
                g_hash_table_remove(c->failures, p->key);
        else {
                Failure *old = g_hash_table_lookup(c->failures, p->key);
                Failure *f = g_new0(Failure, 1);
                f->count = old ? old->count + 1 : 1;
                gint64 backoff = MIN(BACKOFF_MAX_USEC, BACKOFF_MIN_USEC << MIN(f->count - 1, 5u));
                f->retry_at = g_get_monotonic_time() + backoff;
                const char *why = *errors ? errors : code < 0 ? "the importer crashed" : "the importer failed";
                f->message = g_strdup_printf("pulling %s failed: %s", p->ref, why);
                ev_error_set(&e, code == 0 ? EIO : EINVAL, "%s", f->message);
                g_hash_table_replace(c->failures, g_strdup(p->key), f);
                arm_retry(c);
                g_message("image cache: %s", f->message);
        }
        for (guint i = 0; i < p->waiters->len; i++) {
                Waiter *w = &g_array_index(p->waiters, Waiter, i);
                w->done(e ? NULL : p->digest, e, w->userdata);
        }
        pull_free(p);
        notify(c);
}

/* The importer for p, in the slot p holds. */
static int pull_spawn(Pull *p, GError **error) {
        ImageCache *c = p->c;
        const char *ref = p->ref, *user = p->user, *password = p->password;

        if (g_mkdir_with_parents(p->scratch, 0700) < 0)
                return ev_error_set(error, errno, "cannot create %s: %s", p->scratch, g_strerror(errno));
        g_autofree char *registry = g_strdup_printf("--registry=%s", ref);
        g_autofree char *cache = g_strdup_printf("--cache=%s", c->dir);
        g_autofree char *size = g_strdup_printf("--size=%" G_GUINT64_FORMAT, c->max_image_size);
        g_autofree char *scratch = g_strdup_printf("--scratch=%s", p->scratch);
        g_autofree char *u = g_strdup_printf("EDGEVIRT_IMPORT_USER=%s", user ? user : "");
        g_autofree char *pw = g_strdup_printf("EDGEVIRT_IMPORT_PASSWORD=%s", password ? password : "");
        g_autoptr(GStrvBuilder) b = g_strv_builder_new();
        g_strv_builder_add_many(b, registry, cache, size, scratch, NULL);
        for (char **f = p->files; f && *f; f++) {
                g_autofree char *arg = g_strdup_printf("--file=%s", *f);
                g_strv_builder_add(b, arg);
        }
        g_auto(GStrv) args = g_strv_builder_end(b);
        const char *env[] = { u, pw, NULL };
        int r = importer_run_start(c->s, (const char *const *) args, user ? env : NULL, -1, p->ticket, pull_line,
                                   pull_exit, p, &p->run, error);
        if (r < 0)
                return r;
        p->ticket = NULL;       /* the run's */
        return 0;
}

/* A slot for a pull that waited: the importer starts, or the pull fails. */
static void pull_granted(ImportTicket *t, void *userdata) {
        Pull *p = userdata;
        g_autoptr(GError) e = NULL;

        if (!g_hash_table_contains(p->c->pulls, p->key))
                return;         /* granted at once: pull_start goes on */
        if (pull_spawn(p, &e) < 0)
                pull_exit(1, e->message, p);
}

/* Pulls queue for an import slot as one namespace of their own (""): an
 * image is shared by every namespace that waits for it. */
static Pull *pull_start(ImageCache *c, const char *ref, const char *const *files, const char *user,
                        const char *password, GError **error) {
        g_autofree char *key = pull_key(ref, files);
        Pull *p = g_hash_table_lookup(c->pulls, key);
        if (p)
                return p;

        p = g_new0(Pull, 1);
        p->c = c;
        p->key = g_steal_pointer(&key);
        p->ref = g_strdup(ref);
        p->files = files ? g_strdupv((char **) files) : NULL;
        p->user = g_strdup(user);
        p->password = g_strdup(password);
        p->waiters = g_array_new(FALSE, FALSE, sizeof(Waiter));
        p->scratch = g_strdup_printf("%s/scratch/pull-%u-%u", c->s->state_dir, (unsigned) getpid(), ++c->serial);
        p->ticket = import_slots_request(c->s->slots, "", pull_granted, p);
        if (import_ticket_granted(p->ticket) && pull_spawn(p, error) < 0) {
                pull_free(p);
                return NULL;
        }
        g_hash_table_insert(c->pulls, p->key, p);
        return p;
}

int imagecache_pull(ImageCache *c, const char *ref, const char *user, const char *password, ImagePullDone done,
                    void *userdata,
                    GError **error) {
        Pull *p = pull_start(c, ref, NULL, user, password, error);
        if (!p)
                return -EIO;
        g_array_append_val(p->waiters, ((Waiter) { done, userdata }));
        return 0;
}

/* What a volume or kernel boot waits for, once the cache's answer is not
 * "ready": a pull (started now if need be), or why there is none. */
static ImageState want_pull(ImageCache *c, const char *ref, const char *const *files, const char *key,
                            const char *policy, const char *user, const char *password, const char **ret_reason,
                            char **ret_message) {
        Failure *f = g_hash_table_lookup(c->failures, key);
        g_autoptr(GError) err = NULL;

        if (streq_ptr(policy, "Never")) {
                *ret_reason = "ErrImageNeverPull";
                *ret_message = g_strdup_printf("the image %s is not in the image cache and imagePullPolicy is Never",
                                               ref);
                return IMAGE_FAILED;
        }
        if (f && g_get_monotonic_time() < f->retry_at) {
                *ret_reason = "ErrImagePull";
                *ret_message = g_strdup_printf("%s (retrying in %" G_GINT64_FORMAT " s)", f->message,
                                               (f->retry_at - g_get_monotonic_time()) / G_USEC_PER_SEC + 1);
                return IMAGE_FAILED;
        }
        if (!pull_start(c, ref, files, user, password, &err)) {
                *ret_reason = "ErrImagePull";
                *ret_message = g_strdup(err->message);
                return IMAGE_FAILED;
        }
        return IMAGE_PULLING;
}

/* policy Always: only a digest resolved since then serves. */
static bool fresh(ImageCache *c, const char *ref, const char *policy, gint64 since) {
        gint64 *resolved = g_hash_table_lookup(c->resolved, ref);
        return !streq_ptr(policy, "Always") || (resolved && *resolved >= since);
}

ImageState imagecache_want(ImageCache *c, const char *ref, const char *policy, gint64 since, const char *user,
                           const char *password,
                           char **ret_digest, char **ret_path, const char **ret_reason, char **ret_message) {
        const char *digest = g_hash_table_lookup(c->refs, ref);
        ImageCacheEntry *e = digest ? g_hash_table_lookup(c->entries, digest) : NULL;

        if (g_hash_table_contains(c->pulls, ref))
                return IMAGE_PULLING;
        if (e && fresh(c, ref, policy, since)) {
                *ret_digest = g_strdup(e->digest);
                *ret_path = g_strdup(e->path);
                return IMAGE_READY;
        }
        return want_pull(c, ref, NULL, ref, policy, user, password, ret_reason, ret_message);
}

ImageState imagecache_want_files(ImageCache *c, const char *ref, const char *const *files, const char *policy,
                                 gint64 since, const char *user, const char *password, char **ret_digest,
                                 const char **ret_reason, char **ret_message) {
        g_autofree char *key = pull_key(ref, files);
        const char *digest = g_hash_table_lookup(c->refs, ref);

        if (g_hash_table_contains(c->pulls, key))
                return IMAGE_PULLING;
        if (digest && files_there(c, digest, files) && fresh(c, ref, policy, since)) {
                *ret_digest = g_strdup(digest);
                return IMAGE_READY;
        }
        return want_pull(c, ref, files, key, policy, user, password, ret_reason, ret_message);
}

GPtrArray *imagecache_entries(ImageCache *c) {
        GPtrArray *all = all_entries(c);
        g_ptr_array_sort(all, by_last_used);
        for (guint i = 0; i < all->len / 2; i++) {
                gpointer t = all->pdata[i];
                all->pdata[i] = all->pdata[all->len - 1 - i];
                all->pdata[all->len - 1 - i] = t;
        }
        return all;
}

int imagecache_remove(ImageCache *c, const char *name, GError **error) {
        ImageCacheEntry *e = imagecache_lookup(c, name);

        if (!e)
                return ev_error_set(error, ENOENT, "no image %s in the image cache", name);
        unsigned n = imagecache_users(c, e->digest);
        if (n > 0)
                return ev_error_set(error, EBUSY, "the image %s is in use (%u user%s: running instances or imports)",
                                    e->digest, n,
                                    n == 1 ? "" : "s");
        remove_entry(c, e);
        return 0;
}

/* --- names and credentials --- */

char *imagecache_reference(const char *image) {
        return g_str_has_prefix(image, SCHEME) ? g_strdup(image) : g_strconcat(SCHEME, image, NULL);
}

const char *imagecache_default_policy(const char *image) {
        const char *slash = strrchr(image, '/');
        const char *last = slash ? slash + 1 : image;
        if (strchr(last, '@'))
                return "IfNotPresent";
        const char *colon = strrchr(last, ':');
        return !colon || streq(colon, ":latest") ? "Always" : "IfNotPresent";
}

/* "host[:port]" of a reference, or of a docker config key
 * ("https://index.docker.io/v1/", "registry:5000"). */
static char *registry_host(const char *s) {
        if (g_str_has_prefix(s, SCHEME))
                s += strlen(SCHEME);
        else if (g_str_has_prefix(s, "https://"))
                s += strlen("https://");
        else if (g_str_has_prefix(s, "http://"))
                s += strlen("http://");
        const char *end = strchr(s, '/');
        char *host = end ? g_strndup(s, (gsize) (end - s)) : g_strdup(s);
        if (streq(host, "index.docker.io") || streq(host, "registry-1.docker.io")) {
                g_free(host);
                host = g_strdup("docker.io");
        }
        return host;
}

int imagecache_docker_credentials(const char *config, size_t len, const char *ref, char **ret_user, char **ret_password,
                                  GError **error) {
        g_autofree char *want = registry_host(ref);
        g_autoptr(GError) e = NULL;

        *ret_user = *ret_password = NULL;
        g_autoptr(JsonNode) doc = json_read_object(config, len, &e);
        if (!doc)
                return ev_error_set(error, EINVAL, "not a docker config (JSON object): %s", e->message);
        JsonObject *root = json_node_get_object(doc);
        /* .dockerconfigjson: {"auths": {HOST: {...}}}; .dockercfg: {HOST: {...}} */
        JsonObject *auths = json_object_has_member(root, "auths") ? json_get_object(root, "auths") : root;
        if (!auths)
                return ev_error_set(error, EINVAL, "auths: not an object");
        JsonObjectIter it;
        const char *key;
        JsonNode *v;
        json_object_iter_init(&it, auths);
        while (json_object_iter_next(&it, &key, &v)) {
                g_autofree char *host = registry_host(key);
                if (!streq(host, want))
                        continue;
                if (!JSON_NODE_HOLDS_OBJECT(v))
                        return ev_error_set(error, EINVAL, "auths[\"%s\"]: not an object", key);
                JsonObject *a = json_node_get_object(v);
                const char *auth = json_get_string(a, "auth");
                if (auth) {
                        gsize n;
                        g_autofree guchar *raw = g_base64_decode(auth, &n);
                        g_autofree char *text = g_strndup((const char *) raw, n);
                        char *colon = strchr(text, ':');
                        if (!colon)
                                return ev_error_set(error, EINVAL, "auths[\"%s\"].auth: not base64 of user:password",
                                                    key);
                        *colon = '\0';
                        *ret_user = g_strdup(text);
                        *ret_password = g_strdup(colon + 1);
                        return 0;
                }
                if (json_get_string(a, "username")) {
                        *ret_user = g_strdup(json_get_string(a, "username"));
                        *ret_password = g_strdup(json_get_string(a, "password") ?: "");
                        return 0;
                }
                return ev_error_set(error, EINVAL, "auths[\"%s\"]: neither auth nor username", key);
        }
        return 0;
}

int imagecache_secret_credentials(Model *m, const char *namespace, const char *secret, const char *ref, char **ret_user,
                                  char **ret_password, GError **error) {
        g_autoptr(GError) e = NULL;
        GBytes *b = NULL;

        *ret_user = *ret_password = NULL;
        for (const char *const *k = (const char *const[]) { ".dockerconfigjson", ".dockercfg", NULL }; *k && !b; k++) {
                g_clear_error(&e);
                b = secret_value(m, namespace, secret, *k, &e);
        }
        if (!b)
                return ev_error_set(error, ENOENT, "imagePullSecret %s: %s", secret,
                                    e ? e->message : "has neither .dockerconfigjson nor .dockercfg");
        gsize len;
        const char *data = g_bytes_get_data(b, &len);
        int r = imagecache_docker_credentials(data, len, ref, ret_user, ret_password, &e);
        g_bytes_unref(b);
        if (r < 0)
                return ev_error_set(error, EINVAL, "imagePullSecret %s: %s", secret, e->message);
        return 0;
}

/* --- the cache --- */

static void load(ImageCache *c) {
        g_autoptr(GDir) d = g_dir_open(c->dir, 0, NULL);
        const char *name;

        while (d && (name = g_dir_read_name(d))) {
                g_autofree char *path = g_build_filename(c->dir, name, NULL);
                if (name[0] == '.' && g_str_has_suffix(name, ".partial")) {
                        unlink(path);   /* a pull the daemon's end cut short */
                        continue;
                }
                if (!g_str_has_suffix(name, ".img"))
                        continue;
                g_autofree char *digest = g_strdup_printf("sha256:%.*s", (int) (strlen(name) - 4), name);
                if (!valid_digest(digest))
                        continue;
                ImageCacheEntry *e = entry_new(c, digest);
                g_autofree char *meta = g_strdup_printf("%s/%s.json", c->dir, hex_of(digest));
                g_autofree char *text = NULL;
                g_autoptr(JsonNode) doc = NULL;
                gsize len;
                struct stat st;
                if (stat(path, &st) == 0)
                        e->pulled = e->last_used = (gint64) st.st_mtime * G_USEC_PER_SEC;
                if (g_file_get_contents(meta, &text, &len, NULL))
                        doc = json_read_object(text, len, NULL);
                if (doc) {
                        JsonObject *o = json_node_get_object(doc);
                        JsonArray *refs = json_get_array(o, "references");
                        e->pulled = json_get_int(o, "pulled", e->pulled);
                        e->last_used = json_get_int(o, "lastUsed", e->last_used);
                        for (guint i = 0; refs && i < json_array_get_length(refs); i++) {
                                const char *ref = json_array_get_string_element(refs, i);
                                if (ref) {
                                        g_ptr_array_add(e->references, g_strdup(ref));
                                        g_hash_table_replace(c->refs, g_strdup(ref), g_strdup(digest));
                                }
                        }
                }
        }
}

int imagecache_new(Services *s, uint64_t max_bytes, uint64_t max_image_size, unsigned minimum_age, ImageCache **ret,
                   GError **error) {
        ImageCache *c = g_new0(ImageCache, 1);
        int r;

        c->s = s;
        c->dir = g_build_filename(s->state_dir, "images", NULL);
        c->max_bytes = max_bytes;
        c->max_image_size = max_image_size;
        c->minimum_age = (gint64) minimum_age * G_USEC_PER_SEC;
        c->entries = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify) entry_free);
        c->refs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        c->resolved = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        c->users = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        c->pulls = g_hash_table_new(g_str_hash, g_str_equal);
        c->failures = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify) failure_free);
        /* traversable: libvirt's QEMU user reads the images through overlays */
        if (g_mkdir_with_parents(c->dir, 0711) < 0 || chmod(c->dir, 0711) < 0) {
                r = ev_error_set(error, errno, "cannot create the image cache %s: %s", c->dir, g_strerror(errno));
                imagecache_free(c);
                return r;
        }
        r = sd_event_add_time(s->event, &c->retry, CLOCK_MONOTONIC, 0, 0, on_retry, c);
        if (r < 0) {
                imagecache_free(c);
                return ev_error_set(error, -r, "cannot make a timer: %s", g_strerror(-r));
        }
        sd_event_source_set_enabled(c->retry, SD_EVENT_OFF);
        r = sd_event_add_time(s->event, &c->collect, CLOCK_MONOTONIC, 0, 0, on_collect, c);
        if (r < 0) {
                imagecache_free(c);
                return ev_error_set(error, -r, "cannot make a timer: %s", g_strerror(-r));
        }
        sd_event_source_set_enabled(c->collect, SD_EVENT_OFF);
        load(c);
        collect(c);
        *ret = c;
        return 0;
}

ImageCache *imagecache_free(ImageCache *c) {
        GHashTableIter it;
        Pull *p;

        if (!c)
                return NULL;
        g_hash_table_iter_init(&it, c->pulls);
        while (g_hash_table_iter_next(&it, NULL, (void **) &p)) {
                importer_run_kill(p->run);
                p->ticket = import_ticket_free(p->ticket);      /* a queued pull never starts */
        }
        sd_event_source_disable_unref(c->retry);
        sd_event_source_disable_unref(c->collect);
        g_hash_table_unref(c->pulls);
        g_hash_table_unref(c->failures);
        g_hash_table_unref(c->users);
        g_hash_table_unref(c->resolved);
        g_hash_table_unref(c->refs);
        g_hash_table_unref(c->entries);
        g_free(c->dir);
        g_free(c);
        return NULL;
}

const char *imagecache_dir(ImageCache *c) {
        return c->dir;
}

void imagecache_set_changed(ImageCache *c, void (*changed)(void *data), void *data) {
        c->changed = changed;
        c->changed_data = data;
}
