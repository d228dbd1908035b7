/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "model.h"
#include "services.h"

/* The image cache (docs/images.md): containerDisk images pulled from
 * registries, one sparse raw file per manifest digest under STATE/images,
 * shared by every DataVolume and VM that names the image.  Entries nobody
 * uses, unused for a minimum age, are collected, least recently used
 * first, when the cache holds more than its size.  Main loop only. */
typedef struct ImageCache ImageCache;

typedef struct ImageCacheEntry {
        char *digest;                   /* "sha256:HEX" of the linux/amd64 manifest */
        char *path;                     /* DIR/HEX.img */
        GPtrArray *references;          /* the docker:// references that resolved to it */
        uint64_t virtual_size;          /* the disk's size */
        uint64_t disk_bytes;            /* what it takes on disk (sparse) */
        gint64 pulled, last_used;       /* µs since the epoch */
} ImageCacheEntry;

typedef enum ImageState {
        IMAGE_READY,
        IMAGE_PULLING,
        IMAGE_FAILED,
} ImageState;

/* A pull's end: digest on success, else error. */
typedef void (*ImagePullDone)(const char *digest, const GError *error, void *userdata);

/* max_bytes: what the cache keeps on disk; max_image_size: the largest
 * virtual size it pulls; minimum_age: seconds an image stays after its
 * last use however full the cache is (a pull's waiter takes it first). */
int imagecache_new(Services *s, uint64_t max_bytes, uint64_t max_image_size, unsigned minimum_age, ImageCache **ret,
                   GError **error);
ImageCache *imagecache_free(ImageCache *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ImageCache, imagecache_free)
const char *imagecache_dir(ImageCache *c);
/* Called when pulls end, and when a pull's back-off ends (VMs wait on it). */
void imagecache_set_changed(ImageCache *c, void (*changed)(void *data), void *data);

/* A digest in use (an instance's overlay, an import reading it) is never
 * collected; releasing the last use marks it used now. */
void imagecache_use(ImageCache *c, const char *digest, bool in_use);

/* An importer run with --cache said line about reference ref: the cache
 * learns from it.  Returns the digest, held in use, for "manifest D"
 * lines (the caller releases it); NULL for other lines. */
char *imagecache_importer_line(ImageCache *c, const char *line, const char *ref);

/* An importer run with --archive said line: for "loaded DIGEST VSIZE
 * NAME...", the cache takes the image (it is in DIR/HEX.img) under the
 * references docker://NAME, and appends each reference and the digest to
 * loaded.  False for other lines. */
bool imagecache_archive_line(ImageCache *c, const char *line, GPtrArray *loaded);
Services *imagecache_services(ImageCache *c);
uint64_t imagecache_max_image_size(ImageCache *c);

/* What a VM volume needs: the image for ref ("docker://..."), by pull
 * policy (Always, IfNotPresent, Never; Always counts a pull that resolved
 * ref after the monotonic time since).  READY: *ret_digest and *ret_path.
 * PULLING: a pull runs; changed() follows.  FAILED: *ret_reason
 * (ErrImagePull, ErrImageNeverPull) and *ret_message. */
ImageState imagecache_want(ImageCache *c, const char *ref, const char *policy, gint64 since, const char *user,
                           const char *password,
                           char **ret_digest, char **ret_path, const char **ret_reason, char **ret_message);

/* A kernel boot's files (absolute paths in the image ref: kernelPath,
 * initrdPath), by pull policy as imagecache_want.  READY: *ret_digest;
 * imagecache_file_path names each file then.  The files live under
 * DIR/boot/HEX/, outside the cache's accounting and collection. */
ImageState imagecache_want_files(ImageCache *c, const char *ref, const char *const *files, const char *policy,
                                 gint64 since, const char *user, const char *password, char **ret_digest,
                                 const char **ret_reason, char **ret_message);
/* Where the file path of the image digest is, once pulled (readable by QEMU). */
char *imagecache_file_path(ImageCache *c, const char *digest, const char *path);

/* Resolve ref against its registry and download it if the cache lacks it
 * (PullImage); done runs on the main loop. */
int imagecache_pull(ImageCache *c, const char *ref, const char *user, const char *password, ImagePullDone done,
                    void *userdata,
                    GError **error);

/* The entries, most recently used first (borrowed). */
GPtrArray *imagecache_entries(ImageCache *c);
unsigned imagecache_users(ImageCache *c, const char *digest);
/* An entry by digest or reference (borrowed), NULL when there is none. */
ImageCacheEntry *imagecache_lookup(ImageCache *c, const char *name);
/* Remove an entry by digest or reference: EBUSY while in use. */
int imagecache_remove(ImageCache *c, const char *name, GError **error);

/* Credentials for ref's registry from a Secret of namespace holding a
 * docker config (.dockerconfigjson, else .dockercfg): a containerDisk's
 * imagePullSecret, PullImage's pull-secret.  Errors name the Secret. */
int imagecache_secret_credentials(Model *m, const char *namespace, const char *secret, const char *ref, char **ret_user,
                                  char **ret_password, GError **error);

/* "docker://" + a containerDisk's image (which has no scheme). */
char *imagecache_reference(const char *image);
/* KubeVirt's default pull policy: Always for :latest or no tag, else IfNotPresent. */
const char *imagecache_default_policy(const char *image);
/* Credentials for ref's registry from a docker config (a Secret's
 * .dockerconfigjson or .dockercfg).  0 and user/password, 0 and NULLs when
 * the config names another registry, -EINVAL when it is not one.  Pure. */
int imagecache_docker_credentials(const char *config, size_t len, const char *ref, char **ret_user, char **ret_password,
                                  GError **error);
