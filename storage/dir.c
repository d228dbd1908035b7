/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The dir backend: a volume is a sparse raw file <path>/pvc-<uid>.img.
 * Creation goes through a temporary name and a rename, so a crash never
 * leaves a half-made volume under a volume's name.  Clones use a reflink
 * (FICLONE) where the file system has them, else a sparse copy.  Claim
 * namespace/name/uid ride along in user.edgevirt.* xattrs where the file
 * system keeps them. */
#include <dirent.h>
#include <stdio.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "storage.h"
#include "util.h"

#define SUFFIX ".img"
#define TMP_PREFIX ".tmp-"

static char *volume_path(StorageBackend *b, const char *id) {
        return g_strdup_printf("%s/%s" SUFFIX, b->config->path, id);
}

static char *tmp_path(StorageBackend *b, const char *id) {
        return g_strdup_printf("%s/" TMP_PREFIX "%s" SUFFIX, b->config->path, id);
}

static void set_xattrs(int fd, const VolumeRequest *req) {
        /* Best effort: tmpfs and some file systems refuse user xattrs. */
        if (req->namespace)
                (void) fsetxattr(fd, "user.edgevirt.namespace", req->namespace, strlen(req->namespace), 0);
        if (req->name)
                (void) fsetxattr(fd, "user.edgevirt.name", req->name, strlen(req->name), 0);
        if (req->uid)
                (void) fsetxattr(fd, "user.edgevirt.uid", req->uid, strlen(req->uid), 0);
}

static char *get_xattr(const char *path, const char *name) {
        char buf[256];
        ssize_t n = getxattr(path, name, buf, sizeof buf - 1);
        if (n < 0)
                return NULL;
        buf[n] = 0;
        return g_strdup(buf);
}

static int sync_dir(StorageBackend *b) {
        int fd = open(b->config->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = fsync(fd) < 0 ? -errno : 0;
        close(fd);
        return r;
}

static int dir_prepare(StorageBackend *b, GError **error) {
        DIR *d;
        struct dirent *de;

        /* QEMU (libvirt's own user) opens the volumes: the directory, and
         * those made on the way to it, must be traversable whatever the
         * daemon's umask */
        int r = ev_mkdir_traversable(b->config->path);
        if (r < 0)
                return ev_error_set(error, -r, "storage class %s: cannot create %s: %s", b->config->name,
                                    b->config->path, g_strerror(-r));
        /* Leftovers of creations a crash interrupted. */
        d = opendir(b->config->path);
        if (!d)
                return ev_error_set(error, errno, "storage class %s: cannot read %s: %s", b->config->name,
                                    b->config->path, g_strerror(errno));
        while ((de = readdir(d)))
                if (g_str_has_prefix(de->d_name, TMP_PREFIX))
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
        return 0;
}

/* Logical sizes of every volume, for capacity accounting. */
static int dir_capacity(StorageBackend *b, StorageCapacity *ret, GError **error) {
        struct statvfs sv;
        DIR *d;
        struct dirent *de;

        if (statvfs(b->config->path, &sv) < 0)
                return ev_error_set(error, errno, "storage class %s: cannot stat %s: %s", b->config->name,
                                    b->config->path, g_strerror(errno));
        *ret = (StorageCapacity) {
                .total = b->config->capacity ? b->config->capacity : (uint64_t) sv.f_blocks * sv.f_frsize,
                .data_percent = -1,
                .metadata_percent = -1,
        };
        d = opendir(b->config->path);
        if (!d)
                return ev_error_set(error, errno, "cannot read %s: %s", b->config->path, g_strerror(errno));
        while ((de = readdir(d))) {
                struct stat st;
                if (!g_str_has_suffix(de->d_name, SUFFIX) || de->d_name[0] == '.')
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, 0) < 0)
                        continue;
                ret->allocated += (uint64_t) st.st_size;
                ret->used += (uint64_t) st.st_blocks * 512;
        }
        closedir(d);
        return 0;
}

static int check_fits(StorageBackend *b, uint64_t more, GError **error) {
        StorageCapacity c;
        int r = dir_capacity(b, &c, error);
        if (r < 0)
                return r;
        if (c.allocated + more > c.total)
                return ev_error_set(error, ENOSPC,
                                    "storage class %s has %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                                    " bytes free, %" G_GUINT64_FORMAT " requested",
                                    b->config->name, c.total > c.allocated ? c.total - c.allocated : 0, c.total, more);
        return 0;
}

/* Open a fresh temporary file for id (O_EXCL: one creation at a time). */
static int open_tmp(StorageBackend *b, const char *id, char **ret_tmp, GError **error) {
        g_autofree char *tmp = tmp_path(b, id);
        int fd;

        (void) unlink(tmp);
        fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
                return ev_error_set(error, errno, "cannot create %s: %s", tmp, g_strerror(errno));
        *ret_tmp = g_steal_pointer(&tmp);
        return fd;
}

/* Size, sync and publish a temporary file as volume id. */
static int publish(StorageBackend *b, int fd, const char *tmp, const VolumeRequest *req, GError **error) {
        g_autofree char *final = volume_path(b, req->id);
        struct stat st;

        if (fstat(fd, &st) < 0 || ((uint64_t) st.st_size < req->size && ftruncate(fd, (off_t) req->size) < 0) ||
            fsync(fd) < 0) {
                int r = ev_error_set(error, errno, "cannot size %s: %s", tmp, g_strerror(errno));
                close(fd);
                unlink(tmp);
                return r;
        }
        set_xattrs(fd, req);
        close(fd);
        if (rename(tmp, final) < 0) {
                int r = ev_error_set(error, errno, "cannot rename %s: %s", tmp, g_strerror(errno));
                unlink(tmp);
                return r;
        }
        (void) sync_dir(b);
        return 0;
}

static int dir_create(StorageBackend *b, const VolumeRequest *req, GError **error) {
        g_autofree char *final = volume_path(b, req->id), *tmp = NULL;
        struct stat st;
        int fd, r;

        if (stat(final, &st) == 0)
                return (uint64_t) st.st_size >= req->size ? 0 :
                        ev_error_set(error, EEXIST, "volume %s exists with %jd bytes", req->id, (intmax_t) st.st_size);
        g_mutex_lock(&b->lock);
        r = check_fits(b, req->size, error);
        if (r >= 0) {
                fd = open_tmp(b, req->id, &tmp, error);
                r = fd < 0 ? fd : publish(b, fd, tmp, req, error);
        }
        g_mutex_unlock(&b->lock);
        return r;
}

static int dir_clone(StorageBackend *b, const char *src_id, const VolumeRequest *req, GError **error) {
        g_autofree char *src = volume_path(b, src_id), *final = volume_path(b, req->id), *tmp = NULL;
        struct stat st;
        int in, fd, r;

        if (stat(final, &st) == 0)
                return 0;
        in = open(src, O_RDONLY | O_CLOEXEC);
        if (in < 0)
                return ev_error_set(error, errno, "cannot open source volume %s: %s", src_id, g_strerror(errno));
        if (fstat(in, &st) < 0) {
                r = ev_error_set(error, errno, "cannot stat %s: %s", src, g_strerror(errno));
                close(in);
                return r;
        }
        g_mutex_lock(&b->lock);
        r = check_fits(b, MAX(req->size, (uint64_t) st.st_size), error);
        fd = r < 0 ? r : open_tmp(b, req->id, &tmp, error);
        g_mutex_unlock(&b->lock);
        if (fd < 0) {
                close(in);
                return fd;
        }
        if (ioctl(fd, FICLONE, in) < 0) {
                /* No reflinks here (EOPNOTSUPP, EXDEV, EINVAL): copy the data. */
                close(fd);
                close(in);
                if (truncate(tmp, st.st_size) < 0 ||
                    (r = storage_sparse_copy(src, tmp, (uint64_t) st.st_size, error)) < 0) {
                        if (r >= 0)
                                r = ev_error_set(error, errno, "cannot size %s: %s", tmp, g_strerror(errno));
                        unlink(tmp);
                        return r;
                }
                fd = open(tmp, O_RDWR | O_CLOEXEC);
                if (fd < 0) {
                        r = ev_error_set(error, errno, "cannot reopen %s: %s", tmp, g_strerror(errno));
                        unlink(tmp);
                        return r;
                }
        } else
                close(in);
        return publish(b, fd, tmp, req, error);
}

static int dir_expand(StorageBackend *b, const char *id, uint64_t size, GError **error) {
        g_autofree char *path = volume_path(b, id);
        struct stat st;
        int r = 0;

        if (stat(path, &st) < 0)
                return ev_error_set(error, errno, "volume %s: %s", id, g_strerror(errno));
        if ((uint64_t) st.st_size >= size)
                return 0;
        g_mutex_lock(&b->lock);
        r = check_fits(b, size - (uint64_t) st.st_size, error);
        if (r >= 0 && truncate(path, (off_t) size) < 0)
                r = ev_error_set(error, errno, "cannot grow %s: %s", path, g_strerror(errno));
        g_mutex_unlock(&b->lock);
        return r;
}

static int dir_remove(StorageBackend *b, const char *id, GError **error) {
        g_autofree char *path = volume_path(b, id), *tmp = tmp_path(b, id);

        (void) unlink(tmp);
        if (unlink(path) < 0 && errno != ENOENT)
                return ev_error_set(error, errno, "cannot remove %s: %s", path, g_strerror(errno));
        (void) sync_dir(b);
        return 0;
}

static int dir_list(StorageBackend *b, GPtrArray **ret, GError **error) {
        g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func((GDestroyNotify) volume_info_free);
        DIR *d = opendir(b->config->path);
        struct dirent *de;

        if (!d)
                return ev_error_set(error, errno, "cannot read %s: %s", b->config->path, g_strerror(errno));
        while ((de = readdir(d))) {
                struct stat st;
                if (!g_str_has_prefix(de->d_name, "pvc-") || !g_str_has_suffix(de->d_name, SUFFIX))
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
                        continue;
                g_autofree char *path = g_strdup_printf("%s/%s", b->config->path, de->d_name);
                VolumeInfo *v = g_new0(VolumeInfo, 1);
                v->id = g_strndup(de->d_name, strlen(de->d_name) - strlen(SUFFIX));
                v->size = (uint64_t) st.st_size;
                v->namespace = get_xattr(path, "user.edgevirt.namespace");
                v->name = get_xattr(path, "user.edgevirt.name");
                v->uid = get_xattr(path, "user.edgevirt.uid");
                if (!v->uid)
                        v->uid = g_strdup(v->id + strlen("pvc-"));
                g_ptr_array_add(out, v);
        }
        closedir(d);
        *ret = g_steal_pointer(&out);
        return 0;
}

static char *dir_path(StorageBackend *b, const char *id) {
        return volume_path(b, id);
}

const StorageBackendOps storage_dir_ops = {
        .type = "dir",
        .prepare = dir_prepare,
        .create = dir_create,
        .clone = dir_clone,
        .expand = dir_expand,
        .remove = dir_remove,
        .list = dir_list,
        .capacity = dir_capacity,
        .path = dir_path,
};
