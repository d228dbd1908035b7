/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A containerDisk image as the importer's source (registry.c speaks the
 * protocol): the manifest resolved and its labels passed on, the layers
 * opened from the top down until one holds the disk. */
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "format.h"
#include "importer.h"
#include "registry.h"
#include "stream.h"
#include "tar.h"

/* The disk of a containerDisk image: the layers of the resolved manifest
 * from the top down, each streamed (digest checked at its end),
 * decompressed and read as tar until a file under disk/ appears.  Returns
 * the reader of that file; *ret_tar is the tar reader to finish. */
Reader *registry_layer_open(const Options *o, Registry *g, RegistryLayer *l) {
        char *error = NULL;
        g_autofree char *url = registry_url(g, "blobs", l->digest);
        char *headers[] = { g->auth, NULL };
        HttpOptions h = http_options(o, url);
        h.headers = g->auth ? headers : NULL;
        h.checksum = l->digest;
        const unsigned char *prefix;
        size_t len;
        Reader *r = http_reader_new(&h, &error);
        if (!r)
                die(false, "layer %s: %s", l->digest, error);
        r = peek_reader_new(r, 8, &prefix, &len);
        Compression comp = detect_compression(prefix, len);
        if (comp != COMPRESSION_NONE)
                r = decompress_reader_new(r, comp, o->size * 2 + (256u << 20));
        return r;
}

Reader *registry_disk(const Options *o, Registry *g, GPtrArray *layers, Reader **ret_tar) {
        char *error = NULL;

        for (guint i = layers->len; i-- > 0;) {
                RegistryLayer *l = layers->pdata[i];
                Reader *r = registry_layer_open(o, g, l);
                g_autofree char *name = NULL;
                Reader *tar = tar_disk_reader_new(r, &name, &error);
                if (tar) {
                        printf("disk %s in layer %s\n", name, l->digest);
                        fflush(stdout);
                        *ret_tar = tar;
                        return tar;
                }
                if (error) {
                        bool retryable = false;
                        const char *why = reader_error(r, &retryable);
                        die(retryable, "layer %s: %s", l->digest, why ? why : error);
                }
                drain_layer(r);         /* no disk here: the layer must still be whole (digest) */
        }
        die(false, "no disk file: the image %s has no file under /disk/", o->registry);
}

void registry_open(const Options *o, Registry *g, char **ret_digest, GPtrArray **ret_layers) {
        char *error = NULL;

        *g = (Registry) { .ca_file = o->ca_file, .user = g_getenv("EDGEVIRT_IMPORT_USER"),
                          .password = g_getenv("EDGEVIRT_IMPORT_PASSWORD") };
        if (registry_parse(o->registry, g, &error) < 0 || registry_resolve(g, ret_digest, ret_layers, &error) < 0)
                die(false, "%s", error);
        printf("manifest %s\n", *ret_digest);
        /* the image's default instance type and preference, which CDI
         * records on the claim (only these: labels are the daemon's input) */
        g_auto(GStrv) labels = NULL;
        if (registry_config_labels(g, &labels, &error) < 0) {
                fprintf(stderr, "cannot read the image's labels: %s\n", error);
                g_free(error);
        }
        for (char **l = labels; l && *l; l++)
                if (g_str_has_prefix(*l, "instancetype.kubevirt.io/default-") && !strpbrk(*l, "\n\r"))
                        printf("label %s\n", *l);
        fflush(stdout);
}
