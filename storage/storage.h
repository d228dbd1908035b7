/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

/* Storage backends: where a PersistentVolumeClaim's bytes live.  One
 * interface, one implementation per backend type (dir, lvm-thin).  Every
 * operation blocks (disk I/O, lvm commands): the daemon calls them on
 * worker threads, never on its main loop.  Errors are -errno with a GError
 * of EV_ERROR; -ENOSPC means "does not fit now" (the claim stays Pending). */

typedef struct StorageClassConfig {
        char *name;
        char *backend;                  /* "dir" or "lvm-thin" */
        bool is_default;
        /* dir */
        char *path;
        uint64_t capacity;              /* bytes to hand out; 0 = the file system's size */
        /* lvm-thin */
        char *volume_group;
        char *thin_pool;
        char **devices;                 /* create VG and pool on these if missing */
        char *lvm_config;               /* passed as --config to every lvm command */
        unsigned max_data_percent;      /* refuse new volumes past this pool fill */
        unsigned max_metadata_percent;
} StorageClassConfig;

StorageClassConfig *storage_class_config_free(StorageClassConfig *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(StorageClassConfig, storage_class_config_free)

typedef struct VolumeInfo {
        char *id;                       /* "pvc-<uid>" */
        uint64_t size;                  /* bytes the guest sees */
        char *namespace;                /* recorded at creation (tags, xattrs) */
        char *name;
        char *uid;
} VolumeInfo;

VolumeInfo *volume_info_free(VolumeInfo *v);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VolumeInfo, volume_info_free)

typedef struct StorageCapacity {
        uint64_t total;                 /* bytes the class may hand out */
        uint64_t allocated;             /* sum of volume sizes */
        uint64_t used;                  /* bytes actually written */
        double data_percent;            /* thin pool fill, -1 if not thin */
        double metadata_percent;
} StorageCapacity;

typedef struct StorageBackend StorageBackend;

typedef struct VolumeRequest {
        const char *id;
        uint64_t size;
        const char *namespace;
        const char *name;
        const char *uid;
} VolumeRequest;

typedef struct StorageBackendOps {
        const char *type;
        int (*init)(StorageBackend *b, GError **error);
        /* Make ready: create directories, a volume group or pool if asked,
         * remove leftovers of interrupted creations. */
        int (*prepare)(StorageBackend *b, GError **error);
        int (*create)(StorageBackend *b, const VolumeRequest *req, GError **error);
        /* A copy of src as req->id (O(1) where the backend can), at least
         * req->size bytes. */
        int (*clone)(StorageBackend *b, const char *src_id, const VolumeRequest *req, GError **error);
        int (*expand)(StorageBackend *b, const char *id, uint64_t size, GError **error);
        /* Removing an absent volume succeeds. */
        int (*remove)(StorageBackend *b, const char *id, GError **error);
        /* Claims' volumes ("pvc-<uid>") this backend created, found again
         * after a restart; other ids it was asked to make (a snapshot's
         * "snap-..." copies) are their owner's to keep track of. */
        int (*list)(StorageBackend *b, GPtrArray **ret, GError **error);
        int (*capacity)(StorageBackend *b, StorageCapacity *ret, GError **error);
        /* The file or block device a hypervisor opens. */
        char *(*path)(StorageBackend *b, const char *id);
        void (*done)(StorageBackend *b);
} StorageBackendOps;

struct StorageBackend {
        const StorageBackendOps *ops;
        StorageClassConfig *config;
        GMutex lock;                    /* serializes capacity check + create */
        void *data;
};

extern const StorageBackendOps storage_dir_ops;
extern const StorageBackendOps storage_lvm_thin_ops;

/* Takes ownership of config. */
int storage_backend_new(StorageClassConfig *config, StorageBackend **ret, GError **error);
StorageBackend *storage_backend_free(StorageBackend *b);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(StorageBackend, storage_backend_free)

/* The volume id of a claim. */
char *storage_volume_id(const char *uid);

/* Copy size bytes from one file or block device to another, writing only
 * the data (holes and all-zero blocks are skipped: the target must read as
 * zeros where nothing is written, as new files and thin volumes do). */
int storage_sparse_copy(const char *src_path, const char *dst_path, uint64_t size, GError **error);

/* The size of a file or block device. */
int storage_path_size(const char *path, uint64_t *ret, GError **error);
