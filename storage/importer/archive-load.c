/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* edgevirt-importer --archive: image archives (archive.c) into the image
 * cache, all of an archive's images or none. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "importer.h"
#include "tar.h"

/* What a pipe or a compressed archive may bring: four images of the
 * largest size the cache takes, and a GiB for everything else. */
#define SPOOL_LIMIT(size) ((size) * 4 + (1ull << 30))

/* One image of an archive: every layer read, top down, and checked; the
 * first file under disk/ written into o->target unless skip_disk (the
 * cache has it). */
static void archive_disk(const Options *o, Archive *a, const ArchiveImage *img, bool skip_disk) {
        bool found = skip_disk;
        char *error = NULL;

        for (guint i = img->layers->len; i-- > 0;) {
                const ArchiveLayer *l = img->layers->pdata[i];
                Reader *r = archive_layer_reader(a, l, o->size * 2 + (256u << 20), &error);
                if (!r)
                        die(false, "%s", error);
                g_autofree char *name = NULL;
                Reader *tar = found ? NULL : tar_disk_reader_new(r, &name, &error);
                if (tar) {
                        printf("disk %s in %s\n", name, l->member);
                        fflush(stdout);
                        import_stream(tar, o, tar);
                        found = true;
                        continue;
                }
                if (error) {
                        const char *why = reader_error(r, NULL);
                        die(false, "%s: %s", l->member, why && *why ? why : error);
                }
                drain_layer(r);
        }
        if (!found)
                die(false, "the image %s has no file under /disk/: not a containerDisk", img->digest);
}

/* --archive: every image of the archive on stdin checked and written to
 * the scratch directory, then all moved into the cache ("loaded DIGEST
 * VSIZE NAME..." each) — or, on any error, none. */
void load_archive(const Options *o) {
        char *error = NULL;
        g_autoptr(Archive) a = archive_open(STDIN_FILENO, o->scratch, o->idle_seconds, SPOOL_LIMIT(o->size), &error);
        g_autoptr(GPtrArray) images = a ? archive_images(a, &error) : NULL;

        if (!images)
                die(false, "%s", error);
        if (o->name && images->len != 1)
                die(false, "the archive holds %u images, and one name (%s) was given: load it without a name to "
                    "load them all under the names the archive gives them", images->len, o->name);
        for (guint i = 0; i < images->len; i++) {
                ArchiveImage *img = images->pdata[i];
                if (!o->name && img->names->len == 0)
                        die(false, "the archive does not name the image %s: give it a name to load it under",
                            img->digest);
        }
        for (guint i = 0; i < images->len; i++) {
                ArchiveImage *img = images->pdata[i];
                g_autofree char *path = g_strdup_printf("%s/%s.img", o->cache, img->digest + strlen("sha256:"));
                g_autofree char *tmp = g_strdup_printf("%s/%s.img", o->scratch, img->digest + strlen("sha256:"));
                Options c = *o;
                c.target = tmp;
                c.fit = true;
                archive_disk(&c, a, img, access(path, F_OK) == 0);
        }
        for (guint i = 0; i < images->len; i++) {
                ArchiveImage *img = images->pdata[i];
                g_autofree char *path = g_strdup_printf("%s/%s.img", o->cache, img->digest + strlen("sha256:"));
                g_autofree char *tmp = g_strdup_printf("%s/%s.img", o->scratch, img->digest + strlen("sha256:"));
                struct stat st;
                if (access(tmp, F_OK) == 0 && rename(tmp, path) < 0)
                        die(false, "cannot move the image into the cache: %s", g_strerror(errno));
                if (stat(path, &st) < 0)
                        die(false, "cannot stat %s: %s", path, g_strerror(errno));
                printf("loaded %s %" G_GUINT64_FORMAT, img->digest, (uint64_t) st.st_size);
                if (o->name)
                        printf(" %s", o->name);
                for (guint j = 0; !o->name && j < img->names->len; j++)
                        printf(" %s", (const char *) img->names->pdata[j]);
                printf("\n");
        }
        fflush(stdout);
}

