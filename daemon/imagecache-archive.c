/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Loading and saving image archives (a load's failure is the archive's:
 * EINVAL; a save's, EIO): one edgevirt-importer each, with the
 * client's file descriptor as its stdin (--archive reads it, --save
 * writes it), in a scratch directory of its own that goes when it ends. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "imagecache-archive.h"
#include "import-slots.h"
#include "importer-run.h"
#include "util.h"

typedef struct ArchiveJob {
        ImageCache *c;
        GStrv args;                     /* the importer's */
        int fd;                         /* our copy of the client's */
        char *scratch;
        char *digest;                   /* save: the image, held in use */
        char *ref;                      /* save: the name it is written under */
        bool push;                      /* a volume pushed to a registry */
        bool export;                    /* a volume written to fd (export.c) */
        GStrv env;                      /* the importer's extra environment (push: credentials) */
        ImagePushProgress progress;     /* push, export: "progress SENT TOTAL" lines */
        ImportTicket *ticket;           /* waiting for an import slot */
        ImporterRun *run;
        GPtrArray *loaded;
        ImageArchiveDone done;
        void *userdata;
} ArchiveJob;

static unsigned serial;

static void job_free(ArchiveJob *j) {
        importer_run_free(j->run);
        import_ticket_free(j->ticket);
        if (j->fd >= 0)
                close(j->fd);
        if (j->digest)
                imagecache_use(j->c, j->digest, false);
        worker_submit(imagecache_services(j->c)->worker, ev_remove_tree, g_free, j->scratch);
        g_strfreev(j->args);
        g_strfreev(j->env);
        g_free(j->digest);
        g_free(j->ref);
        g_ptr_array_unref(j->loaded);
        g_free(j);
}

static void job_line(const char *line, void *userdata) {
        ArchiveJob *j = userdata;

        if (j->push || j->export) {
                uint64_t sent, total;
                const char *last = j->push ? "pushed " : "exported ";
                guint words = j->push ? 5 : 3;
                if (sscanf(line, "progress %" SCNu64 " %" SCNu64, &sent, &total) == 2 && j->progress)
                        j->progress(sent, total, j->userdata);
                g_auto(GStrv) w = g_str_has_prefix(line, last) ? g_strsplit(line, " ", 0) : NULL;
                if (w && g_strv_length(w) == words && !j->loaded->len)
                        for (guint i = 1; i < words; i++)
                                g_ptr_array_add(j->loaded, g_strstrip(g_strdup(w[i])));
                return;
        }
        if (imagecache_archive_line(j->c, line, j->loaded))
                return;
        if (j->ref && g_str_has_prefix(line, "saved ") && !j->loaded->len) {
                g_ptr_array_add(j->loaded, g_strdup(j->ref));
                g_ptr_array_add(j->loaded, g_strstrip(g_strdup(line + strlen("saved "))));
        }
}

static void job_exit(int code, const char *errors, void *userdata) {
        ArchiveJob *j = userdata;
        g_autoptr(GError) e = NULL;

        if (code != 0 || !j->loaded->len)
                ev_error_set(&e, j->ref || j->push || j->export ? EIO : EINVAL, "%s", *errors ? errors :
                             code < 0 ? "the importer crashed" : "the importer failed");
        j->done(e ? NULL : j->loaded, e, j->userdata);
        job_free(j);
}

static int job_spawn(ArchiveJob *j, GError **error) {
        if (g_mkdir_with_parents(j->scratch, 0700) < 0)
                return ev_error_set(error, errno, "cannot create %s: %s", j->scratch, g_strerror(errno));
        int r = importer_run_start(imagecache_services(j->c), (const char *const *) j->args,
                                   (const char *const *) j->env, j->fd, j->ticket,
                                   job_line, job_exit, j, &j->run, error);
        if (r < 0)
                return r;
        j->ticket = NULL;       /* the run's */
        if (j->fd >= 0)
                close(j->fd);   /* the importer has it */
        j->fd = -1;
        return 0;
}

static void job_granted(ImportTicket *t, void *userdata) {
        ArchiveJob *j = userdata;
        g_autoptr(GError) e = NULL;

        if (!j->ticket)
                return;         /* granted at once: job_start goes on */
        if (job_spawn(j, &e) < 0) {
                j->done(NULL, e, j->userdata);
                job_free(j);
        }
}

static int job_start(ImageCache *c, const char *kind, int fd, GStrvBuilder *args, ArchiveJob **ret,
                     GError **error) {
        ArchiveJob *j = g_new0(ArchiveJob, 1);
        Services *s = imagecache_services(c);

        j->c = c;
        j->loaded = g_ptr_array_new_with_free_func(g_free);
        j->scratch = g_strdup_printf("%s/scratch/%s-%u-%u", s->state_dir, kind, (unsigned) getpid(), ++serial);
        j->fd = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 3) : -1;
        if (fd >= 0 && j->fd < 0) {
                int r = ev_error_set(error, errno, "cannot take the archive's file descriptor: %s", g_strerror(errno));
                job_free(j);
                return r;
        }
        g_autofree char *scratch = g_strdup_printf("--scratch=%s", j->scratch);
        g_autofree char *idle = g_strdup_printf("--idle-timeout=%u", s->upload_idle_timeout);
        g_strv_builder_add_many(args, scratch, idle, NULL);
        j->args = g_strv_builder_end(args);
        *ret = j;
        return 0;
}

/* After job_start filled in the callback: ask for a slot, start at once
 * when one is free. */
static int job_queue(ArchiveJob *j, GError **error) {
        j->ticket = import_slots_request(imagecache_services(j->c)->slots, "", job_granted, j);
        if (import_ticket_granted(j->ticket)) {
                int r = job_spawn(j, error);
                if (r < 0) {
                        job_free(j);
                        return r;
                }
        }
        return 0;
}

int imagecache_load_archive(ImageCache *c, int fd, const char *name, ImageArchiveDone done, void *userdata,
                            GError **error) {
        g_autoptr(GStrvBuilder) args = g_strv_builder_new();
        g_autofree char *cache = g_strdup_printf("--cache=%s", imagecache_dir(c));
        g_autofree char *size = g_strdup_printf("--size=%" G_GUINT64_FORMAT, imagecache_max_image_size(c));
        g_autofree char *n = name ? g_strdup_printf("--name=%s", name) : NULL;
        ArchiveJob *j;
        int r;

        g_strv_builder_add_many(args, "--archive", cache, size, NULL);
        if (n)
                g_strv_builder_add(args, n);
        if ((r = job_start(c, "load", fd, args, &j, error)) < 0)
                return r;
        j->done = done;
        j->userdata = userdata;
        return job_queue(j, error);
}

int imagecache_save_archive(ImageCache *c, const char *name, int fd, ImageArchiveDone done, void *userdata,
                            GError **error) {
        ImageCacheEntry *e = imagecache_lookup(c, name);
        g_autoptr(GStrvBuilder) args = g_strv_builder_new();
        ArchiveJob *j;
        int r;

        if (!e)
                return ev_error_set(error, ENOENT, "no image %s in the image cache", name);
        /* the archive names the image as asked, else by its latest reference */
        const char *ref = !g_str_has_prefix(name, "sha256:") ? name :
                          e->references->len ? e->references->pdata[e->references->len - 1] : NULL;
        if (!ref)
                return ev_error_set(error, EINVAL, "the image %s has no name to write into the archive: "
                                    "save it by a reference", name);
        if (g_str_has_prefix(ref, "docker://"))
                ref += strlen("docker://");
        g_autofree char *save = g_strdup_printf("--save=%s", e->path);
        g_autofree char *n = g_strdup_printf("--name=%s", ref);
        g_strv_builder_add_many(args, save, n, NULL);
        if ((r = job_start(c, "save", fd, args, &j, error)) < 0)
                return r;
        j->done = done;
        j->userdata = userdata;
        j->ref = g_strdup_printf("docker://%s", ref);
        j->digest = g_strdup(e->digest);
        imagecache_use(c, j->digest, true);
        return job_queue(j, error);
}

int imagecache_push_volume(ImageCache *c, const char *path, GStrvBuilder *args, GStrv env, ImagePushProgress progress,
                           ImageArchiveDone done, void *userdata, GError **error) {
        g_autofree char *push = g_strdup_printf("--push=%s", path);
        ArchiveJob *j;
        int r;

        g_strv_builder_add(args, push);
        if ((r = job_start(c, "push", -1, args, &j, error)) < 0) {
                g_strfreev(env);
                return r;
        }
        j->done = done;
        j->userdata = userdata;
        j->push = true;
        j->env = env;
        j->progress = progress;
        return job_queue(j, error);
}

int imagecache_export_volume(ImageCache *c, const char *path, const char *format, const char *checksum, int fd,
                             ImagePushProgress progress, ImageArchiveDone done, void *userdata, GError **error) {
        g_autoptr(GStrvBuilder) args = g_strv_builder_new();
        g_autofree char *export = g_strdup_printf("--export=%s", path);
        g_autofree char *f = g_strdup_printf("--format=%s", format);
        g_autofree char *sum = checksum ? g_strdup_printf("--checksum=%s", checksum) : NULL;
        ArchiveJob *j;
        int r;

        g_strv_builder_add_many(args, export, f, NULL);
        if (sum)
                g_strv_builder_add(args, sum);
        if ((r = job_start(c, "export", fd, args, &j, error)) < 0)
                return r;
        j->done = done;
        j->userdata = userdata;
        j->export = true;
        j->progress = progress;
        return job_queue(j, error);
}
