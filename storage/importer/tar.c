/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The disk of a containerDisk layer: a tar stream (ustar, GNU long names,
 * PAX paths) is read header by header; the first regular file under
 * disk/ becomes the stream this reader yields.  Nothing is kept: the layer
 * is never stored whole. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "stream.h"
#include "tar.h"

#define TAR_BLOCK 512

typedef struct TarReader {
        Reader base;
        uint64_t left;                  /* bytes of the disk file still to yield */
        uint64_t pad;                   /* padding after it */
        char *disk;                     /* its name */
        bool eof;                       /* the archive ended */
} TarReader;

static uint64_t octal(const char *p, size_t n) {
        /* base-256 for sizes over 8 GiB (GNU) */
        if ((unsigned char) p[0] & 0x80) {
                uint64_t v = (unsigned char) p[0] & 0x7f;
                for (size_t i = 1; i < n; i++)
                        v = (v << 8) | (unsigned char) p[i];
                return v;
        }
        char buf[32] = { 0 };
        memcpy(buf, p, MIN(n, sizeof buf - 1));
        return g_ascii_strtoull(buf, NULL, 8);
}

static int skip(Reader *inner, uint64_t n, char *error, size_t error_len) {
        unsigned char buf[65536];
        while (n > 0) {
                ssize_t k = reader_read(inner, buf, MIN(n, sizeof buf));
                if (k <= 0) {
                        g_snprintf(error, error_len, "%s",
                                   k < 0 ? reader_error(inner, NULL) : "the tar archive ends inside a file");
                        return -1;
                }
                n -= (uint64_t) k;
        }
        return 0;
}

static char *read_data(Reader *inner, uint64_t size, char *error, size_t error_len) {
        if (size > (1u << 20)) {
                g_snprintf(error, error_len, "a tar header entry of %llu bytes is not plausible",
                           (unsigned long long) size);
                return NULL;
        }
        uint64_t padded = (size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
        char *data = g_malloc0(padded + 1);
        if (reader_read_full(inner, data, padded) != (ssize_t) padded) {
                g_snprintf(error, error_len, "the tar archive ends inside a header");
                g_free(data);
                return NULL;
        }
        data[size] = 0;
        return data;
}

static char *pax_path(const char *data) {
        /* records "LEN path=VALUE\n" */
        for (const char *p = data; *p;) {
                char *end;
                unsigned long len = strtoul(p, &end, 10);
                if (len == 0 || *end != ' ')
                        return NULL;
                if (g_str_has_prefix(end + 1, "path=")) {
                        const char *v = end + 1 + strlen("path=");
                        size_t vlen = (size_t) (p + len - v - 1);
                        return g_strndup(v, vlen);
                }
                p += len;
        }
        return NULL;
}

int tar_next(Reader *inner, TarEntry *ret, char *error, size_t error_len) {
        g_autofree char *long_name = NULL;

        for (;;) {
                unsigned char h[TAR_BLOCK];
                ssize_t k = reader_read_full(inner, h, sizeof h);
                if (k == 0)
                        return 0;       /* a stream without the end blocks: done too */
                if (k != TAR_BLOCK) {
                        g_snprintf(error, error_len, "%s",
                                   k < 0 ? reader_error(inner, NULL) : "not a tar archive (truncated header)");
                        return -1;
                }
                bool zero = true;
                for (size_t i = 0; i < sizeof h && zero; i++)
                        zero = h[i] == 0;
                if (zero)
                        return 0;
                /* the checksum keeps a non-tar stream from being read as one */
                unsigned sum = 0;
                for (size_t i = 0; i < sizeof h; i++)
                        sum += (i >= 148 && i < 156) ? ' ' : h[i];
                if (sum != octal((const char *) h + 148, 8)) {
                        g_snprintf(error, error_len, "not a tar archive (bad header checksum)");
                        return -1;
                }
                uint64_t size = octal((const char *) h + 124, 12);
                char type = (char) h[156];
                if (type == 'L' || type == 'x') {
                        g_autofree char *data = read_data(inner, size, error, error_len);
                        if (!data)
                                return -1;
                        g_free(long_name);
                        long_name = type == 'L' ? g_strdup(data) : pax_path(data);
                        continue;
                }
                g_autofree char *name = NULL;
                if (long_name)
                        name = g_steal_pointer(&long_name);
                else if (memcmp(h + 257, "ustar", 5) == 0 && h[345])
                        name = g_strdup_printf("%.155s/%.100s", (const char *) h + 345, (const char *) h + 0);
                else
                        name = g_strndup((const char *) h, 100);
                const char *n = name;
                while (n[0] == '.' && n[1] == '/')
                        n += 2;
                while (n[0] == '/')
                        n++;
                ret->name = g_strdup(n);
                ret->size = size;
                ret->pad = (size + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK - size;
                ret->regular = type == '0' || type == '\0' || type == '7';
                ret->link = type == '1' || type == '2' ? g_strndup((const char *) h + 157, 100) : NULL;
                ret->symlink = type == '2';
                return 1;
        }
}

int tar_skip(Reader *inner, uint64_t n, char *error, size_t error_len) {
        return skip(inner, n, error, error_len);
}

/* The next regular file under disk/, or none (end of the archive).  Sets
 * *ret_name and *ret_size; returns 1 found, 0 end, -1 error. */
static int next_disk(TarReader *t, char **ret_name, uint64_t *ret_size) {
        Reader *inner = t->base.inner;

        for (;;) {
                TarEntry e;
                int k = tar_next(inner, &e, t->base.error, sizeof t->base.error);
                if (k <= 0)
                        return k;
                if (e.regular && g_str_has_prefix(e.name, "disk/") && e.name[5]) {
                        *ret_name = e.name;
                        *ret_size = e.size;
                        t->pad = e.pad;
                        return 1;
                }
                g_free(e.name);
                g_free(e.link);
                if (skip(inner, e.size + e.pad, t->base.error, sizeof t->base.error) < 0)
                        return -1;
        }
}

static ssize_t tar_read(Reader *r, void *buf, size_t n) {
        TarReader *t = (TarReader *) r;
        if (t->left == 0)
                return 0;
        ssize_t k = reader_read(r->inner, buf, MIN(n, t->left));
        if (k == 0) {
                g_snprintf(r->error, sizeof r->error, "the layer ends inside %s", t->disk);
                return -1;
        }
        if (k > 0)
                t->left -= (uint64_t) k;
        return k;
}

static void tar_free(Reader *r) {
        TarReader *t = (TarReader *) r;
        g_free(t->disk);
        g_free(t);
}

Reader *tar_disk_reader_new(Reader *inner, char **ret_name, char **error) {
        TarReader *t = g_new0(TarReader, 1);
        uint64_t size = 0;
        int r;

        t->base.read = tar_read;
        t->base.free = tar_free;
        t->base.inner = inner;
        r = next_disk(t, &t->disk, &size);
        if (r <= 0) {
                *error = r < 0 ? g_strdup(t->base.error) : NULL;
                t->base.inner = NULL;
                tar_free(&t->base);
                return NULL;
        }
        t->left = size;
        t->base.total = size;
        *ret_name = g_strdup(t->disk);
        return &t->base;
}

int tar_disk_reader_finish(Reader *r, char **error) {
        TarReader *t = (TarReader *) r;
        g_autofree char *other = NULL;
        uint64_t size;
        unsigned char buf[65536];

        if (t->left > 0 || skip(r->inner, t->pad, r->error, sizeof r->error) < 0) {
                *error = g_strdup(t->left > 0 ? "the disk file was not read to its end" : r->error);
                return -1;
        }
        t->pad = 0;
        int k = next_disk(t, &other, &size);
        if (k < 0) {
                *error = g_strdup(r->error);
                return -1;
        }
        if (k > 0) {
                *error = g_strdup_printf("the image has more than one disk file under /disk/: %s and %s", t->disk,
                                         other);
                return -1;
        }
        /* the rest of the layer: its digest is checked at the end */
        ssize_t n;
        while ((n = reader_read(r->inner, buf, sizeof buf)) > 0)
                ;
        if (n < 0) {
                *error = g_strdup(reader_error(r->inner, NULL));
                return -1;
        }
        return 0;
}
