/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* edgevirt-importer --push=VOLUME --registry=docker://HOST/REPOSITORY
 * --scratch=DIR [--ca-file=FILE] [--insecure]: a volume's raw disk pushed
 * as a KubeVirt containerDisk (the DiskImage of archive-save.c, its qcow2
 * compressed: holes and zeros are not sent).  The tag is the disk's
 * content ("sha256-HEX" of its raw bytes), which the manifest's
 * annotations carry too (org.edgevirt.disk.checksum and .size), so the
 * same disk always lands at the same reference; blobs the registry has
 * are not sent again.  Basic credentials as for pulls.
 *
 * stdout: "progress SENT TOTAL" (bytes of blobs), "blob DIGEST present" or
 * "blob DIGEST uploaded", then "pushed IMAGE DIGEST CHECKSUM UPLOADED"
 * (IMAGE docker://host/repository:tag, DIGEST the manifest's, UPLOADED
 * the bytes of blobs sent). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "importer.h"
#include "registry.h"
#include "util.h"

#define PROGRESS_INTERVAL_US (500 * 1000)

/* The volume's size: a file's or a block device's (whose st_size is 0). */
uint64_t disk_size(const char *path) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        off_t size = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;

        if (size < 0)
                die(false, "cannot read the volume %s: %s", path, g_strerror(errno));
        close(fd);
        return (uint64_t) size;
}

/* sha256 of the raw disk, holes read as the zeros they are without
 * reading them (SEEK_DATA where the file system has it). */
char *disk_walk(const char *path, DiskChunk chunk, void *userdata, uint64_t *ret_size) {
        static const unsigned char zeros[1 << 16];
        unsigned char buf[1 << 16];
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        off_t size = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;

        if (size < 0)
                die(false, "cannot read the volume %s: %s", path, g_strerror(errno));
        g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
        for (off_t off = 0; off < size;) {
                off_t data = lseek(fd, off, SEEK_DATA);
                if (data < 0 && errno == ENXIO)
                        data = size;    /* a hole to the end */
                else if (data < 0)
                        data = off;     /* no SEEK_DATA: all of it is data */
                if (chunk && data > off)
                        chunk(NULL, (size_t) (data - off), userdata);
                for (; off < data; off += (off_t) MIN(sizeof zeros, (size_t) (data - off)))
                        g_checksum_update(sum, zeros, MIN(sizeof zeros, (size_t) (data - off)));
                off_t hole = off < size ? lseek(fd, off, SEEK_HOLE) : size;
                if (hole < 0)
                        hole = size;
                while (off < hole) {
                        ssize_t k = pread(fd, buf, MIN(sizeof buf, (size_t) (hole - off)), off);
                        if (k <= 0)
                                die(false, "reading the volume %s failed: %s", path,
                                    k < 0 ? g_strerror(errno) : "truncated");
                        g_checksum_update(sum, buf, (size_t) k);
                        if (chunk)
                                chunk(buf, (size_t) k, userdata);
                        off += k;
                }
        }
        close(fd);
        *ret_size = (uint64_t) size;
        return g_strdup_printf("sha256:%s", g_checksum_get_string(sum));
}

char *disk_checksum(const char *path, uint64_t *ret_size) {
        return disk_walk(path, NULL, NULL, ret_size);
}

typedef struct Progress {
        uint64_t done, total;
        gint64 last;
} Progress;

static void say_progress(uint64_t sent, void *userdata) {
        Progress *p = userdata;
        gint64 now = g_get_monotonic_time();
        if (now - p->last < PROGRESS_INTERVAL_US && p->done + sent < p->total)
                return;
        p->last = now;
        printf("progress %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT "\n", p->done + sent, p->total);
        fflush(stdout);
}

/* The blob, unless the registry has it; the bytes sent. */
static uint64_t push_blob(Registry *g, const char *digest, RegistryUpload *u, Progress *p) {
        char *error = NULL;
        int k = registry_blob_exists(g, digest, &error);
        if (k < 0)
                die(false, "%s", error);
        if (k == 0) {
                u->progress = say_progress;
                u->userdata = p;
                if (registry_upload_blob(g, digest, u, &error) < 0)
                        die(false, "%s", error);
        }
        p->done += u->size;
        say_progress(0, p);
        printf("blob %s %s\n", digest, k ? "present" : "uploaded");
        return k ? 0 : u->size;
}

void push_image(const Options *o) {
        DiskImage img = { .fd = -1 };
        Registry g = { .ca_file = o->ca_file, .user = g_getenv("EDGEVIRT_IMPORT_USER"),
                       .password = g_getenv("EDGEVIRT_IMPORT_PASSWORD"), .insecure = o->insecure, .push = true };
        char *error = NULL;
        uint64_t size;

        signal(SIGPIPE, SIG_IGN);
        if (registry_parse(o->registry, &g, &error) < 0)
                die(false, "%s", error);
        g_autofree char *checksum = disk_checksum(o->push, &size);
        g_autofree char *tag = g_strdup_printf("sha256-%s", checksum + strlen("sha256:"));
        g_autofree char *annotations = g_strdup_printf("{\"" REGISTRY_DISK_CHECKSUM "\":\"%s\","
                                                       "\"org.edgevirt.disk.size\":\"%" G_GUINT64_FORMAT "\"}",
                                                       checksum, size);
        disk_image_make(&img, o->push, o->scratch, true, annotations);

        g_autofree char *layer_path = g_build_filename(o->scratch, "layer.tar", NULL);
        int fd = open(layer_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                die(false, "cannot create %s: %s", layer_path, g_strerror(errno));
        disk_image_write_layer(&img, fd, 0);
        FILE *layer = fdopen(fd, "r");
        if (!layer)
                die(false, "cannot read %s: %s", layer_path, g_strerror(errno));

        Progress p = { .total = img.layer_size + strlen(img.config) };
        RegistryUpload lu = { .content_type = "application/octet-stream", .file = layer, .size = img.layer_size };
        RegistryUpload cu = { .content_type = "application/octet-stream", .data = img.config,
                              .size = strlen(img.config) };
        RegistryUpload mu = { .content_type = DISK_IMAGE_MANIFEST_TYPE, .data = img.manifest,
                              .size = strlen(img.manifest) };
        uint64_t uploaded = push_blob(&g, img.layer, &lu, &p);
        uploaded += push_blob(&g, img.config_digest, &cu, &p);
        if (registry_put_manifest(&g, tag, &mu, &error) < 0)
                die(false, "%s", error);
        printf("pushed docker://%s/%s:%s %s %s %" G_GUINT64_FORMAT "\n", g.host, g.repository, tag,
               img.manifest_digest, checksum, uploaded);
        fflush(stdout);
        fclose(layer);
        unlink(layer_path);
        disk_image_clear(&img);
        registry_clear(&g);
}
