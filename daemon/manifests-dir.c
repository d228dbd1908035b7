/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "event.h"
#include "json-util.h"
#include "log.h"
#include "manifest.h"
#include "manifests-dir.h"
#include "services.h"
#include "util.h"

#define DEBOUNCE_USEC (300 * 1000)      /* an editor's save is several events */
#define MAX_FILE_SIZE (8u << 20)        /* a manifest file is configuration, not data */
#define MAX_FILES 512u                  /* files applied, all directories together (by name) */

struct ManifestsDir {
        Model *model;
        sd_event *event;
        char **dirs;                    /* lowest precedence first */
        GPtrArray *watches;             /* sd_event_source, inotify: the directories or their parents */
        GHashTable *watched;            /* path -> 1 */
        sd_event_source *debounce;
};

/* One file to apply: its base name and where the winning copy is. */
typedef struct ManifestFile {
        char *name;
        char *path;
        GPtrArray *docs;                /* JsonNode, Lists flattened, annotated */
        GArray *doc_lines;              /* unsigned: the line of each flattened document's source */
        char *text;
        bool applied;
} ManifestFile;

static void manifest_file_free(ManifestFile *f) {
        if (!f)
                return;
        g_free(f->name);
        g_free(f->path);
        if (f->docs)
                g_ptr_array_unref(f->docs);
        if (f->doc_lines)
                g_array_unref(f->doc_lines);
        g_free(f->text);
        g_free(f);
}

unsigned manifest_document_line(const char *text, unsigned index) {
        unsigned line = 1, doc = 0, separator = 0;      /* separator: the last "---" line before content */
        bool content = false;           /* the current document has had a line of its own */

        for (const char *p = text; *p; line++) {
                const char *end = strchrnul(p, '\n');
                if (g_str_has_prefix(p, "---") && (end - p == 3 || strchr(" \t\r", p[3]))) {
                        if (content)
                                doc++;
                        content = false;
                        separator = line;
                } else if (strspn(p, " \t\r") < (size_t) (end - p) && *p != '#' && !content) {
                        /* empty documents are skipped, as manifest_parse skips them */
                        if (doc == index)
                                return separator ? separator : line;
                        content = true;
                        separator = 0;
                }
                p = *end ? end + 1 : end;
        }
        return line;
}

static bool is_manifest_name(const char *name) {
        return name[0] != '.' &&
               (g_str_has_suffix(name, ".yaml") || g_str_has_suffix(name, ".yml") || g_str_has_suffix(name, ".json"));
}

static int compare_names(const void *a, const void *b) {
        return strcmp(*(const char * const *) a, *(const char * const *) b);
}

/* The files to apply, by name: later directories replace earlier ones'
 * files of the same name; an empty file or a link to /dev/null masks. */
static GHashTable *collect_files(ManifestsDir *md, bool *ret_complete) {
        GHashTable *files = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

        *ret_complete = true;
        for (char **d = md->dirs; *d; d++) {
                g_autoptr(GError) e = NULL;
                g_autoptr(GDir) dir = g_dir_open(*d, 0, &e);
                const char *name;
                if (!dir) {
                        /* a directory that is not there holds nothing; one that
                         * cannot be read may: nothing is pruned this time */
                        if (!g_error_matches(e, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
                                g_warning("manifests: %s (nothing is pruned until it can be read)", e->message);
                                *ret_complete = false;
                        }
                        continue;
                }
                while ((name = g_dir_read_name(dir)))
                        if (is_manifest_name(name))
                                g_hash_table_replace(files, g_strdup(name), g_build_filename(*d, name, NULL));
        }
        if (g_hash_table_size(files) > MAX_FILES) {
                /* read on the main loop: bounded; the first by name are kept */
                g_autofree const char **names = (const char **) g_hash_table_get_keys_as_array(files, NULL);
                guint n = g_hash_table_size(files);
                qsort(names, n, sizeof *names, compare_names);
                g_warning("manifests: %u files, more than %u: those after %s are left out (nothing is pruned "
                          "while they are)", n, MAX_FILES, names[MAX_FILES - 1]);
                for (guint i = MAX_FILES; i < n; i++)
                        g_hash_table_remove(files, names[i]);
                *ret_complete = false;
        }
        return files;
}

/* Every object document of node (Lists flattened) gets the annotation. */
static void flatten_and_mark(JsonNode *node, const char *file, unsigned line, ManifestFile *f) {
        JsonObject *o = JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
        const char *kind = json_get_string(o, "kind");
        JsonArray *items = json_get_array(o, "items");

        if (kind && g_str_has_suffix(kind, "List") && items) {
                for (guint i = 0; i < json_array_get_length(items); i++)
                        flatten_and_mark(json_array_get_element(items, i), file, line, f);
                return;
        }
        if (o) {
                JsonObject *meta = json_get_object(o, "metadata");
                if (!meta) {
                        meta = json_object_new();
                        json_object_set_object_member(o, "metadata", meta);
                }
                JsonObject *annotations = json_get_object(meta, "annotations");
                if (!annotations) {
                        annotations = json_object_new();
                        json_object_set_object_member(meta, "annotations", annotations);
                }
                json_object_set_string_member(annotations, MANIFEST_FILE_ANNOTATION, file);
        }
        g_ptr_array_add(f->docs, json_node_ref(node));
        g_array_append_val(f->doc_lines, line);
}

/* Reads and parses one file; a masked (empty) file has no documents. */
static int load_file(ManifestFile *f, GError **error) {
        g_autoptr(GPtrArray) parsed = NULL;
        gsize len = 0;
        struct stat st;

        f->docs = g_ptr_array_new_with_free_func((GDestroyNotify) json_node_unref);
        f->doc_lines = g_array_new(false, false, sizeof(unsigned));
        if (stat(f->path, &st) < 0)
                return ev_error_set(error, errno, "%s: %s", f->path, g_strerror(errno));
        if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))
                return 0;       /* a link to /dev/null masks: no documents */
        if (!S_ISREG(st.st_mode))
                return ev_error_set(error, EINVAL, "%s: not a regular file (nor a link to /dev/null)", f->path);
        if (st.st_size > MAX_FILE_SIZE)
                return ev_error_set(error, E2BIG, "%s: %jd bytes, more than a manifest file may have (%u)", f->path,
                                    (intmax_t) st.st_size, MAX_FILE_SIZE);
        if (!g_file_get_contents(f->path, &f->text, &len, error))
                return -EIO;
        int r = manifest_parse(f->text, len, &parsed, error);
        if (r < 0) {
                ev_error_prefix(error, "%s", f->path);
                return r;
        }
        for (guint i = 0; i < parsed->len; i++)
                flatten_and_mark(parsed->pdata[i], f->name, manifest_document_line(f->text, i), f);
        return 0;
}

/* "document N (...)" in the model's message: the line of document N. */
static unsigned error_line(ManifestFile *f, const char *message) {
        unsigned n;
        if (f->docs->len == 1)
                return g_array_index(f->doc_lines, unsigned, 0);
        if (sscanf(message, "document %u", &n) == 1 && n >= 1 && n <= f->doc_lines->len)
                return g_array_index(f->doc_lines, unsigned, n - 1);
        return 0;
}

/* One file, one transaction.  Adds the keys of the objects it holds now to kept. */
static int apply_file(ManifestsDir *md, ManifestFile *f, GHashTable *kept, GError **error) {
        g_autoptr(JsonArray) items = json_array_new();
        g_autoptr(GPtrArray) names = NULL;
        g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
        ApplyOptions opts = { .field_validation = FIELD_VALIDATION_STRICT };

        for (guint i = 0; i < f->docs->len; i++)
                json_array_add_element(items, json_node_ref(f->docs->pdata[i]));
        g_autoptr(JsonObject) list = json_object_new();
        json_object_set_string_member(list, "apiVersion", "v1");
        json_object_set_string_member(list, "kind", "List");
        json_object_set_array_member(list, "items", g_steal_pointer(&items));
        g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), list);
        g_autofree char *text = manifest_to_json(node, false);

        int r = model_apply(md->model, text, strlen(text), &opts, &names, warnings, error);
        if (r < 0) {
                unsigned line = error_line(f, (*error)->message);
                if (line)
                        ev_error_prefix(error, "%s, line %u", f->path, line);
                else
                        ev_error_prefix(error, "%s", f->path);
                return r;
        }
        for (guint i = 0; i < names->len; i++) {
                ObjectName *n = names->pdata[i];
                g_hash_table_add(kept, object_key(n->kind, n->namespace, n->name));
        }
        return 0;
}

/* Objects from a file that were not just applied from it go, and so do
 * those of files that are gone.  failed: files that could not be applied
 * keep their objects. */
static void prune(ManifestsDir *md, GHashTable *failed, GHashTable *kept) {
        g_autoptr(GPtrArray) objects = model_list(md->model, NULL, NULL, NULL);

        /* a delete may take dependents with it in its transaction: hold a
         * reference to each, and skip those gone meanwhile (o->model NULL) */
        g_ptr_array_foreach(objects, (GFunc) (void (*)(void)) object_ref, NULL);
        g_ptr_array_set_free_func(objects, (GDestroyNotify) object_unref);
        for (guint i = objects->len; i-- > 0;) {
                Object *o = objects->pdata[i];
                const char *file = json_get_string(json_get_object(object_metadata(o), "annotations"),
                                                   MANIFEST_FILE_ANNOTATION);
                g_autoptr(GError) e = NULL;
                if (!file || g_hash_table_contains(failed, file) || g_hash_table_contains(kept, o->key) ||
                    object_is_deleting(o) || o->model == NULL)
                        continue;
                DeleteOptions opts = { .propagation = PROPAGATION_BACKGROUND, .uid = o->uid };
                log_object(G_LOG_LEVEL_MESSAGE, o, "manifests: left %s: deleting it", file);
                if (model_delete(md->model, o->kind, o->namespace, o->name, &opts, &e) < 0 && e->code != ENOENT)
                        log_object(G_LOG_LEVEL_WARNING, o, "manifests: cannot delete it: %s", e->message);
        }
}

static void watch_directories(ManifestsDir *md);

/* A file that changes nothing: said in the log and as a Warning Event
 * (`edgevirtctl get events -n default`), with its line and field. */
static void rejected(ManifestsDir *md, ManifestFile *f, const char *message) {
        g_warning("manifests: %s (nothing of it changed)", message);
        event_record_file(model_services(md->model)->events, f->path, true, "ManifestRejected",
                          "%s (nothing of it changed)", message);
}

static int compare_files(const void *a, const void *b) {
        return strcmp((*(ManifestFile *const *) a)->name, (*(ManifestFile *const *) b)->name);
}

void manifests_dir_sync(ManifestsDir *md) {
        bool complete;
        g_autoptr(GHashTable) paths = collect_files(md, &complete);
        g_autoptr(GHashTable) files = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                                            (GDestroyNotify) manifest_file_free);
        g_autoptr(GHashTable) failed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_autoptr(GHashTable) kept = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        g_autoptr(GHashTable) errors = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
        g_autoptr(GPtrArray) pending = g_ptr_array_new();
        GHashTableIter it;
        const char *name, *path;

        watch_directories(md);
        g_hash_table_iter_init(&it, paths);
        while (g_hash_table_iter_next(&it, (void **) &name, (void **) &path)) {
                ManifestFile *f = g_new0(ManifestFile, 1);
                g_autoptr(GError) e = NULL;
                f->name = g_strdup(name);
                f->path = g_strdup(path);
                g_hash_table_insert(files, f->name, f);
                if (load_file(f, &e) < 0) {
                        rejected(md, f, e->message);
                        g_hash_table_add(failed, g_strdup(f->name));
                } else if (f->docs->len == 0)
                        f->applied = true;      /* empty or masked: its objects go */
                else
                        g_ptr_array_add(pending, f);
        }
        g_ptr_array_sort(pending, compare_files);
        /* A file may need a namespace another file makes: apply what can
         * be, then the rest again, until a round changes nothing. */
        for (bool progress = true; pending->len && progress;) {
                progress = false;
                for (guint i = 0; i < pending->len;) {
                        ManifestFile *f = pending->pdata[i];
                        g_autoptr(GError) e = NULL;
                        if (apply_file(md, f, kept, &e) < 0) {
                                g_hash_table_replace(errors, f->name, g_strdup(e->message));
                                i++;
                                continue;
                        }
                        f->applied = progress = true;
                        g_hash_table_remove(errors, f->name);
                        g_ptr_array_remove_index(pending, i);
                }
        }
        for (guint i = 0; i < pending->len; i++) {
                ManifestFile *f = pending->pdata[i];
                rejected(md, f, g_hash_table_lookup(errors, f->name));
                g_hash_table_add(failed, g_strdup(f->name));
        }
        if (complete)
                prune(md, failed, kept);
}

static int on_debounce(sd_event_source *s, uint64_t usec, void *userdata) {
        manifests_dir_sync(userdata);
        return 0;
}

/* What a watch's callback knows: the directory it watches. */
typedef struct Watch {
        ManifestsDir *md;
        char *path;
} Watch;

static void watch_free(void *userdata) {
        Watch *w = userdata;
        g_free(w->path);
        g_free(w);
}

static int on_inotify(sd_event_source *s, const struct inotify_event *ev, void *userdata) {
        Watch *w = userdata;
        ManifestsDir *md = w->md;
        int r;

        if (ev->len && !(ev->mask & IN_ISDIR)) {
                if (!is_manifest_name(ev->name))
                        return 0;
                /* a file being written is read once it is closed
                 * (IN_CLOSE_WRITE), never half-written; a new symlink
                 * (a mask) is complete when it appears */
                if (ev->mask & IN_CREATE) {
                        g_autofree char *path = g_build_filename(w->path, ev->name, NULL);
                        struct stat st;
                        if (lstat(path, &st) < 0 || !S_ISLNK(st.st_mode))
                                return 0;
                }
        }
        if (!md->debounce) {
                r = sd_event_add_time_relative(md->event, &md->debounce, CLOCK_MONOTONIC, DEBOUNCE_USEC, 0,
                                               on_debounce, md);
                if (r < 0) {
                        g_warning("manifests: cannot arm a timer (%s): applying now", g_strerror(-r));
                        manifests_dir_sync(md);
                        return 0;
                }
                return 0;
        }
        r = sd_event_source_set_time_relative(md->debounce, DEBOUNCE_USEC);
        if (r >= 0)
                r = sd_event_source_set_enabled(md->debounce, SD_EVENT_ONESHOT);
        if (r < 0)
                g_warning("manifests: cannot re-arm the timer: %s", g_strerror(-r));
        return 0;
}

static void watch(ManifestsDir *md, const char *path, uint32_t mask) {
        sd_event_source *s = NULL;
        int r;

        if (g_hash_table_contains(md->watched, path))
                return;
        Watch *w = g_new0(Watch, 1);
        w->md = md;
        w->path = g_strdup(path);
        r = sd_event_add_inotify(md->event, &s, path, mask, on_inotify, w);
        if (r >= 0) {
                r = sd_event_source_set_destroy_callback(s, watch_free);
                if (r < 0)
                        s = sd_event_source_disable_unref(s);
        }
        if (r < 0) {
                watch_free(w);
                if (r != -ENOENT)
                        g_warning("manifests: cannot watch %s: %s", path, g_strerror(-r));
                return;
        }
        g_ptr_array_add(md->watches, s);
        g_hash_table_add(md->watched, g_strdup(path));
}

/* Each directory, or, while it does not exist, its parent (for its
 * creation).  Made again on every sync, before the directories are read,
 * so a directory made, removed or replaced later is followed from then on
 * and nothing between the two is missed. */
static void watch_directories(ManifestsDir *md) {
        g_ptr_array_set_size(md->watches, 0);
        g_hash_table_remove_all(md->watched);
        for (char **d = md->dirs; *d; d++) {
                if (g_file_test(*d, G_FILE_TEST_IS_DIR))
                        watch(md, *d, IN_CREATE | IN_DELETE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
                                      IN_ATTRIB | IN_ONLYDIR);
                else {
                        g_autofree char *parent = g_path_get_dirname(*d);
                        watch(md, parent, IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);
                }
        }
}

int manifests_dir_new(Model *model, sd_event *event, char **dirs, ManifestsDir **ret) {
        g_autoptr(ManifestsDir) md = g_new0(ManifestsDir, 1);

        md->model = model;
        md->event = sd_event_ref(event);
        md->dirs = g_strdupv(dirs);
        md->watches = g_ptr_array_new_with_free_func((GDestroyNotify) sd_event_source_disable_unref);
        md->watched = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        *ret = g_steal_pointer(&md);
        return 0;
}

ManifestsDir *manifests_dir_free(ManifestsDir *md) {
        if (!md)
                return NULL;
        if (md->watches)
                g_ptr_array_unref(md->watches);
        if (md->watched)
                g_hash_table_unref(md->watched);
        sd_event_source_disable_unref(md->debounce);
        sd_event_unref(md->event);
        g_strfreev(md->dirs);
        g_free(md);
        return NULL;
}
