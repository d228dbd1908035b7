/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a registry sends and an image holds, on arbitrary bytes: the
 * manifest parser (index, manifest list, image manifest), docker:// URLs,
 * and the tar reader that finds the disk in a layer. */
#include <sys/mman.h>
#include <unistd.h>

#include "registry.h"
#include "stream.h"
#include "tar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 256 * 1024)
                return 0;

        char *pick = NULL, *error = NULL;
        GPtrArray *layers = NULL;
        int k = registry_parse_manifest((const char *) data, size, NULL, &pick, &layers, &error);
        g_assert(k >= -1 && k <= 1);
        g_free(pick);
        g_free(error);
        if (layers)
                g_ptr_array_unref(layers);

        g_autofree char *text = g_strndup((const char *) data, MIN(size, 4096));
        g_autofree char *url = g_strdup_printf("docker://%s", text);
        Registry g = { 0 };
        error = NULL;
        if (registry_parse(url, &g, &error) == 0) {
                g_autofree char *u = registry_url(&g, "manifests", g.reference);
                g_assert(u);
        }
        g_free(error);
        registry_clear(&g);

        int fd = memfd_create("fuzz", MFD_CLOEXEC);
        if (fd < 0 || write(fd, data, size) != (ssize_t) size) {
                if (fd >= 0)
                        close(fd);
                return 0;
        }
        lseek(fd, 0, SEEK_SET);
        Reader *inner = fd_reader_new(fd, 0);
        char *name = NULL;
        error = NULL;
        Reader *t = tar_disk_reader_new(inner, &name, &error);
        if (t) {
                unsigned char buf[65536];
                while (reader_read(t, buf, sizeof buf) > 0)
                        ;
                char *e2 = NULL;
                (void) tar_disk_reader_finish(t, &e2);
                g_free(e2);
                reader_free(t);
        } else
                reader_free(inner);
        g_free(name);
        g_free(error);
        close(fd);
        return 0;
}
