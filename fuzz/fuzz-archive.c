/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* An image archive a client hands over (edgevirtctl images load), on
 * arbitrary bytes: the tar's member list (read in place), index.json or
 * manifest.json with the manifests and configs they name, and every
 * layer read to its end under its digest check. */
#include <sys/mman.h>
#include <unistd.h>

#include "archive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 1024 * 1024)
                return 0;
        int fd = memfd_create("fuzz", MFD_CLOEXEC);
        if (fd < 0 || write(fd, data, size) != (ssize_t) size) {
                if (fd >= 0)
                        close(fd);
                return 0;
        }
        char *error = NULL;
        Archive *a = archive_open(fd, "/nonexistent", 0, 1 << 20, &error);
        GPtrArray *images = a ? archive_images(a, &error) : NULL;
        for (guint i = 0; images && i < images->len; i++) {
                ArchiveImage *img = images->pdata[i];
                g_assert(g_str_has_prefix(img->digest, "sha256:"));
                for (guint j = 0; j < img->layers->len; j++) {
                        char *why = NULL;
                        Reader *r = archive_layer_reader(a, img->layers->pdata[j], 1 << 24, &why);
                        unsigned char buf[65536];
                        while (r && reader_read(r, buf, sizeof buf) > 0)
                                ;
                        reader_free(r);
                        g_free(why);
                }
        }
        g_assert(a || error);
        if (images)
                g_ptr_array_unref(images);
        archive_free(a);
        g_free(error);
        close(fd);
        return 0;
}
