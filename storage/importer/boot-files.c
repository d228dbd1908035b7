/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Files of a registry image for a kernel boot (KubeVirt's
 * firmware.kernelBoot.container: kernelPath, initrdPath):
 *
 *   edgevirt-importer --registry=docker://... --cache=DIR --size=BYTES
 *                     --scratch=DIR --file=/PATH [--file=/PATH]
 *
 * Each file goes to DIR/boot/HEX/NAME (HEX: the manifest's sha256, NAME:
 * the first 32 hex digits of the SHA-256 of the path without its leading
 * '/'), readable by everyone (QEMU reads them as its own user).  The
 * layers are read from the top down; the first layer naming a path
 * decides: a file (at most --size bytes) is taken, a whiteout or a link is
 * refused.  A layer's files are renamed into place only once its digest
 * was checked.  Says "manifest DIGEST", then "boot-hit DIGEST" when every
 * file was there already, else "boot DIGEST". */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "importer.h"
#include "registry.h"
#include "stream.h"
#include "tar.h"

typedef struct Wanted {
        const char *path;               /* as asked, with its '/' */
        char *final;                    /* DIR/boot/HEX/NAME */
        char *tmp;                      /* written, not yet renamed; NULL: none */
        bool found;
} Wanted;

static Wanted *wanted;
static size_t n_wanted;

static void remove_partials(void) {
        for (size_t i = 0; i < n_wanted; i++)
                if (wanted[i].tmp)
                        unlink(wanted[i].tmp);
}

static Wanted *match(const char *name) {
        size_t len = strlen(name);

        while (len > 0 && name[len - 1] == '/')
                len--;          /* a directory's "NAME/" */
        for (size_t i = 0; i < n_wanted; i++)
                if (!wanted[i].found && strlen(wanted[i].path + 1) == len && !strncmp(wanted[i].path + 1, name, len))
                        return &wanted[i];
        return NULL;
}

/* A whiteout (DIR/.wh.NAME) hides DIR/NAME of the layers below. */
static Wanted *whiteout(const char *name) {
        const char *base = strrchr(name, '/');
        base = base ? base + 1 : name;
        if (!g_str_has_prefix(base, ".wh."))
                return NULL;
        g_autofree char *hidden = g_strdup_printf("%.*s%s", (int) (base - name), name, base + strlen(".wh."));
        return match(hidden);
}

static void copy_file(Reader *r, const TarEntry *e, Wanted *w, const Options *o) {
        char error[256] = "";
        unsigned char buf[65536];
        uint64_t left = e->size;

        if (e->size > o->size)
                die(false, "%s in the image has %" G_GUINT64_FORMAT " bytes, more than the image cache takes "
                    "(%" G_GUINT64_FORMAT ")", w->path, e->size, o->size);
        w->tmp = g_strdup_printf("%s.%d.partial", w->final, (int) getpid());
        int fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                die(false, "cannot create %s: %s", w->tmp, g_strerror(errno));
        while (left > 0) {
                ssize_t k = reader_read(r, buf, MIN(left, sizeof buf));
                if (k <= 0) {
                        if (k < 0)
                                stream_failed(r);
                        die(false, "the layer ends inside %s", w->path);
                }
                if (write(fd, buf, (size_t) k) != k)
                        die(false, "cannot write %s: %s", w->tmp, g_strerror(errno));
                left -= (uint64_t) k;
        }
        if (fchmod(fd, 0644) < 0 || close(fd) < 0)
                die(false, "cannot write %s: %s", w->tmp, g_strerror(errno));
        if (tar_skip(r, e->pad, error, sizeof error) < 0)
                die(false, "%s", error);
        w->found = true;
}

/* One layer: what it holds of the wanted files, then the rest (its digest). */
static void read_layer(Reader *r, const Options *o, const char *digest) {
        char error[256] = "";
        TarEntry e;
        int k;

        while ((k = tar_next(r, &e, error, sizeof error)) > 0) {
                g_autofree char *name = e.name, *link = e.link;
                Wanted *w = match(name), *hidden = whiteout(name);
                if (hidden)
                        die(false, "the image has no file %s (a layer removes it)", hidden->path);
                if (w && link)
                        die(false, "%s in the image is a link to %s: name the file itself", w->path, link);
                if (w && !e.regular)
                        die(false, "%s in the image is not a file", w->path);
                if (w)
                        copy_file(r, &e, w, o);
                else if (tar_skip(r, e.size + e.pad, error, sizeof error) < 0)
                        die(false, "layer %s: %s", digest, error);
        }
        if (k < 0)
                die(false, "layer %s: %s", digest, error);
        drain_layer(r);
        for (size_t i = 0; i < n_wanted; i++)
                if (wanted[i].tmp) {
                        if (rename(wanted[i].tmp, wanted[i].final) < 0)
                                die(false, "cannot move %s into the cache: %s", wanted[i].path, g_strerror(errno));
                        g_clear_pointer(&wanted[i].tmp, g_free);
                }
}

void extract_boot_files(const Options *o) {
        Registry g = { 0 };
        g_autoptr(GPtrArray) layers = NULL;
        g_autofree char *digest = NULL;
        bool all = true;

        registry_open(o, &g, &digest, &layers);
        if (!g_str_has_prefix(digest, "sha256:"))
                die(false, "the registry named the manifest %s: only sha256 digests are supported", digest);
        g_autofree char *boot = g_build_filename(o->cache, "boot", NULL);
        g_autofree char *dir = g_build_filename(boot, digest + strlen("sha256:"), NULL);
        /* 0711 whatever the umask: QEMU's user opens the files by name (they
         * are 0644) but no other user may list which images' files are here */
        if ((mkdir(boot, 0711) < 0 && errno != EEXIST) || (mkdir(dir, 0711) < 0 && errno != EEXIST) ||
            chmod(boot, 0711) < 0 || chmod(dir, 0711) < 0)
                die(false, "cannot create %s: %s", dir, g_strerror(errno));
        n_wanted = g_strv_length(o->files);
        wanted = g_new0(Wanted, n_wanted);
        atexit(remove_partials);
        for (size_t i = 0; i < n_wanted; i++) {
                g_autofree char *sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, o->files[i] + 1, -1);
                if (o->files[i][0] != '/')
                        die(false, "%s: not an absolute path", o->files[i]);
                wanted[i].path = o->files[i];
                wanted[i].final = g_strdup_printf("%s/%.32s", dir, sum);
                wanted[i].found = access(wanted[i].final, R_OK) == 0;
                all = all && wanted[i].found;
        }
        if (all) {
                printf("boot-hit %s\n", digest);
                registry_clear(&g);
                return;
        }
        for (guint i = layers->len; i-- > 0 && !all;) {
                RegistryLayer *l = layers->pdata[i];
                read_layer(registry_layer_open(o, &g, l), o, l->digest);
                all = true;
                for (size_t j = 0; j < n_wanted; j++)
                        all = all && wanted[j].found;
        }
        for (size_t i = 0; i < n_wanted; i++)
                if (!wanted[i].found)
                        die(false, "the image %s has no file %s", o->registry, wanted[i].path);
        printf("boot %s\n", digest);
        registry_clear(&g);
}
