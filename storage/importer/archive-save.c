/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* edgevirt-importer --save: a cached image (a sparse raw file) written as
 * an OCI archive to fd 0.  The disk becomes a qcow2 (only its data: a
 * sparse disk stays small) in scratch, the one layer an uncompressed tar
 * of /disk/disk.qcow2 (owned by 107, KubeVirt's qemu user, as
 * containerDisks have it).  The tar is made twice: once for its digest,
 * once to write it, so nothing but the qcow2 is stored.  Everything is
 * fixed (times 0, key order), so one image always makes one archive.
 * The image itself (DiskImage) is what a push (push.c) sends as well. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "importer.h"
#include "util.h"

#define BLOCK 512
#define QEMU_UID 107

/* Until fd takes bytes, at most s->idle_seconds. */
static void wait_writable(Sink *s) {
        struct pollfd p = { .fd = s->fd, .events = POLLOUT };
        int k;
        if (!s->idle_seconds)
                return;
        while ((k = poll(&p, 1, (int) MIN(s->idle_seconds * 1000u, (unsigned) G_MAXINT))) < 0 && errno == EINTR)
                ;
        if (k == 0)
                die(true, "the reader of %s took nothing for %u s", s->what ? s->what : "the archive",
                    s->idle_seconds);
}

void sink_put(Sink *s, const void *data, size_t n) {
        s->bytes += n;
        if (s->sum) {
                g_checksum_update(s->sum, data, n);
                return;
        }
        for (size_t done = 0; done < n;) {
                wait_writable(s);
                /* a pipe said it has room for a page: a write of more would block */
                size_t chunk = s->idle_seconds ? MIN(n - done, (size_t) PIPE_BUF) : n - done;
                ssize_t k = write(s->fd, (const char *) data + done, chunk);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        die(false, "writing %s failed: %s", s->what ? s->what : "the archive", g_strerror(errno));
                done += (size_t) k;
        }
}

static void put_padding(Sink *s, uint64_t size) {
        static const unsigned char zeros[BLOCK];
        if (size % BLOCK)
                sink_put(s, zeros, BLOCK - size % BLOCK);
}

static void put_entry(Sink *s, const char *name, const void *data, size_t n, char type, unsigned uid) {
        unsigned char h[BLOCK];
        ev_tar_header(h, name, n, type, type == '5' ? 0755 : 0644, uid, uid);
        sink_put(s, h, sizeof h);
        if (n) {
                sink_put(s, data, n);
                put_padding(s, n);
        }
}

static void put_end(Sink *s) {
        static const unsigned char zeros[2 * BLOCK];
        sink_put(s, zeros, sizeof zeros);
}

/* The layer: disk/ and disk/disk.qcow2 from fd. */
static void put_layer(Sink *s, int fd, uint64_t size) {
        unsigned char h[BLOCK], buf[1 << 16];

        put_entry(s, "disk/", NULL, 0, '5', QEMU_UID);
        ev_tar_header(h, "disk/disk.qcow2", size, '0', 0440, QEMU_UID, QEMU_UID);
        sink_put(s, h, sizeof h);
        for (uint64_t off = 0; off < size;) {
                ssize_t k = pread(fd, buf, MIN(sizeof buf, size - off), (off_t) off);
                if (k <= 0)
                        die(false, "reading the image's qcow2 failed: %s", k < 0 ? g_strerror(errno) : "truncated");
                sink_put(s, buf, (size_t) k);
                off += (uint64_t) k;
        }
        put_padding(s, size);
        put_end(s);
}

static char *sha256_of(const char *text) {
        g_autofree char *hex = g_compute_checksum_for_string(G_CHECKSUM_SHA256, text, -1);
        return g_strdup_printf("sha256:%s", hex);
}

static void put_blob(Sink *s, const char *digest, const char *text) {
        g_autofree char *name = g_strdup_printf("blobs/sha256/%s", digest + strlen("sha256:"));
        put_entry(s, name, text, strlen(text), '0', 0);
}

/* The image of the raw disk at path: its qcow2 in scratch (compress: qcow2
 * compression), the layer's digest and the config and manifest around it;
 * annotations (a JSON object's text, or NULL) go into the manifest. */
int disk_qcow2_make(const char *path, const char *scratch, bool compress, uint64_t *ret_size) {
        g_autofree char *qcow2 = g_build_filename(scratch, "disk.qcow2", NULL);
        char *argv[] = { "qemu-img", "convert", "-f", "raw", "-O", "qcow2", compress ? "-c" : "-q", (char *) path,
                         qcow2, NULL };

        g_free(run_qemu_img(argv, false));
        int fd = open(qcow2, O_RDONLY | O_CLOEXEC);
        off_t size = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;
        if (size < 0)
                die(false, "cannot read %s: %s", qcow2, g_strerror(errno));
        *ret_size = (uint64_t) size;
        return fd;
}

void disk_image_make(DiskImage *img, const char *path, const char *scratch, bool compress, const char *annotations) {
        img->fd = disk_qcow2_make(path, scratch, compress, &img->qcow2_size);

        Sink sum = { .sum = g_checksum_new(G_CHECKSUM_SHA256) };
        put_layer(&sum, img->fd, img->qcow2_size);
        img->layer = g_strdup_printf("sha256:%s", g_checksum_get_string(sum.sum));
        img->layer_size = sum.bytes;
        g_checksum_free(sum.sum);
        img->config = g_strdup_printf("{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},"
                                      "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}", img->layer);
        img->config_digest = sha256_of(img->config);
        g_autofree char *ann = annotations ? g_strdup_printf(",\"annotations\":%s", annotations) : g_strdup("");
        img->manifest = g_strdup_printf(
                "{\"schemaVersion\":2,\"mediaType\":\"" DISK_IMAGE_MANIFEST_TYPE "\","
                "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\","
                "\"size\":%zu},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
                "\"digest\":\"%s\",\"size\":%" G_GUINT64_FORMAT "}]%s}", img->config_digest, strlen(img->config),
                img->layer, img->layer_size, ann);
        img->manifest_digest = sha256_of(img->manifest);
}

void disk_image_write_layer(const DiskImage *img, int fd, unsigned idle_seconds) {
        Sink out = { .fd = fd, .idle_seconds = idle_seconds };
        put_layer(&out, img->fd, img->qcow2_size);
}

void disk_image_clear(DiskImage *img) {
        if (img->fd >= 0)
                close(img->fd);
        g_free(img->layer);
        g_free(img->config);
        g_free(img->config_digest);
        g_free(img->manifest);
        g_free(img->manifest_digest);
        *img = (DiskImage) { .fd = -1 };
}

void save_archive(const Options *o) {
        DiskImage img = { .fd = -1 };

        signal(SIGPIPE, SIG_IGN);       /* a reader that went away: an error, not death */
        disk_image_make(&img, o->save, o->scratch, false, NULL);
        g_autoptr(JsonNode) name_node = json_node_init_string(json_node_alloc(), o->name);
        g_autofree char *ref = json_to_string(name_node, FALSE);       /* quoted, escaped */
        g_autofree char *index = g_strdup_printf(
                "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
                "\"manifests\":[{\"mediaType\":\"" DISK_IMAGE_MANIFEST_TYPE "\",\"digest\":\"%s\","
                "\"size\":%zu,\"annotations\":{\"org.opencontainers.image.ref.name\":%s}}]}",
                img.manifest_digest, strlen(img.manifest), ref);

        struct stat st;
        Sink out = { .fd = STDIN_FILENO };
        if (fstat(out.fd, &st) == 0 && !S_ISREG(st.st_mode))
                out.idle_seconds = o->idle_seconds;     /* a pipe: the client must keep reading */
        const char *oci_layout = "{\"imageLayoutVersion\":\"1.0.0\"}";
        put_entry(&out, "oci-layout", oci_layout, strlen(oci_layout), '0', 0);
        put_entry(&out, "index.json", index, strlen(index), '0', 0);
        put_entry(&out, "blobs/", NULL, 0, '5', 0);
        put_entry(&out, "blobs/sha256/", NULL, 0, '5', 0);
        put_blob(&out, img.config_digest, img.config);
        put_blob(&out, img.manifest_digest, img.manifest);
        g_autofree char *name = g_strdup_printf("blobs/sha256/%s", img.layer + strlen("sha256:"));
        unsigned char h[BLOCK];
        ev_tar_header(h, name, img.layer_size, '0', 0644, 0, 0);
        sink_put(&out, h, sizeof h);
        put_layer(&out, img.fd, img.qcow2_size);
        put_padding(&out, img.layer_size);
        put_end(&out);
        if (fsync(STDIN_FILENO) < 0 && errno != EINVAL && errno != EROFS)
                die(false, "writing the archive failed: %s", g_strerror(errno));
        printf("saved %s\n", img.manifest_digest);
        fflush(stdout);
        disk_image_clear(&img);
}
