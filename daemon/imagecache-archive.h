/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <stdint.h>

#include "imagecache.h"

/* Image archives for air-gapped machines (docs/images.md): an archive a
 * client passes as a file descriptor is loaded into the image cache, or a
 * cached image is written to one.  Each runs edgevirt-importer in an
 * import slot (the cache's own queue, ""); done runs on the main loop. */

/* loaded: reference, digest, reference, digest... (load: what the cache
 * took; save: the image's reference and the digest of the manifest
 * written).  NULL with error on failure. */
typedef void (*ImageArchiveDone)(GPtrArray *loaded, const GError *error, void *userdata);

/* Every image of the archive read from fd (an OCI archive or layout tar,
 * or a docker-archive; gzip'd or not) into the cache under the names the
 * archive gives them, or, with name, its one image under that name; all
 * digests checked, and on any error nothing taken.  fd stays the
 * caller's. */
int imagecache_load_archive(ImageCache *c, int fd, const char *name, ImageArchiveDone done, void *userdata,
                            GError **error);
/* The cached image name (a reference or a digest) written to fd as an OCI
 * archive naming it; -ENOENT when it is not cached.  fd stays the
 * caller's. */
int imagecache_save_archive(ImageCache *c, const char *name, int fd, ImageArchiveDone done, void *userdata,
                            GError **error);
/* Bytes of blobs sent and to send, at most twice a second. */
typedef void (*ImagePushProgress)(uint64_t sent, uint64_t total, void *userdata);

/* The volume at path (a claim's raw disk) pushed as a containerDisk by
 * edgevirt-importer --push (its other arguments in args: --registry and
 * --insecure; env: NAME=value credentials, taken), progress as it goes.
 * loaded: the image
 * (docker://host/repository:tag), the manifest's digest, the disk's
 * checksum (sha256:HEX) and the bytes of blobs uploaded (decimal). */
int imagecache_push_volume(ImageCache *c, const char *path, GStrvBuilder *args, GStrv env, ImagePushProgress progress,
                           ImageArchiveDone done, void *userdata, GError **error);

/* The volume at path written to fd (the client's; NULL fd -1 with format
 * "sha256": only hashed) by edgevirt-importer --export in format (raw,
 * gzip, qcow2, sha256); checksum (sha256:HEX, or NULL): what the disk
 * must hash to.  loaded: the disk's checksum and the bytes written
 * (decimal). */
int imagecache_export_volume(ImageCache *c, const char *path, const char *format, const char *checksum, int fd,
                             ImagePushProgress progress, ImageArchiveDone done, void *userdata, GError **error);
