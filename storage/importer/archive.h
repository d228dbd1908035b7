/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "stream.h"

/* An image archive read from a file descriptor: an OCI archive (a tar of
 * an OCI image layout: oci-layout, index.json, blobs/ALG/HEX; also what a
 * client makes of a layout directory) or a docker-archive (docker save,
 * skopeo's docker-archive:, manifest.json and the files it names), the
 * tar gzip'd or not.  A regular file is read in place; anything else (a
 * pipe, a compressed tar) is spooled into the scratch directory first. */
typedef struct Archive Archive;

typedef struct ArchiveLayer {
        char *member;                   /* the tar member holding it */
        char *digest;                   /* what its bytes must hash to */
        bool uncompressed_digest;       /* docker-archive: digest of the decompressed tar (diff_id) */
} ArchiveLayer;

typedef struct ArchiveImage {
        char *digest;                   /* OCI: the linux/amd64 manifest; docker-archive: the image ID */
        GPtrArray *names;               /* the references the archive gives it (char *) */
        GPtrArray *layers;              /* ArchiveLayer, base first */
} ArchiveImage;

/* Reads the whole tar (its member list).  NULL and *error when it is not
 * a tar archive, is truncated or has too many members.  idle_seconds: a
 * pipe that brings nothing that long fails it (0: wait for ever);
 * spool_limit: at most that many bytes are spooled. */
Archive *archive_open(int fd, const char *scratch, unsigned idle_seconds, uint64_t spool_limit, char **error);
Archive *archive_free(Archive *a);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Archive, archive_free)
/* The images, their manifests' and configs' digests checked; an image
 * the archive names twice is one with two names.  NULL and *error when
 * the archive is not an image archive or does not add up. */
GPtrArray *archive_images(Archive *a, char **error);
/* A layer's bytes, decompressed, checked against its digest at its end
 * (the error then says which).  limit: at most that many decompressed
 * bytes. */
Reader *archive_layer_reader(Archive *a, const ArchiveLayer *l, uint64_t limit, char **error);
